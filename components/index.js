/**
 * The package's entry for Pulumi's component host (package.json `main`; PulumiPlugin.yaml runs it
 * with plain Node.js). The host runs a package in the consuming program's directory, whose
 * tsconfig.json (or none) would compile this repository's TypeScript; so this file loads the
 * TypeScript entry (index.ts) with tsx and the repository's own tsconfig.json instead.
 */
const { join } = require("path");
const { register } = require("tsx/cjs/api");

process.env.TSX_TSCONFIG_PATH = join(__dirname, "..", "tsconfig.json");
module.exports = register({ namespace: "private-registry" }).require("./index.ts", __filename);
