/**
 * The example stack files (docs/examples/Pulumi.<stack>.yaml, docs/pull-request-review.md) are what a
 * user copies to the repository's root: each passes the config check as it stands, and the
 * review workflow would preview and deploy it (scripts/affected-stacks.ts counts it).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { parse as parseYaml } from "yaml";
import { CONFIG_NAMESPACE } from "../../components/config/keys";
import { parseStackConfig } from "../../components/config/parse";
import { affectedStacks, ciStacks } from "../../scripts/affected-stacks";
import { makeTempDir, runCleanups } from "../../scripts/lib/processes";

const ROOT = resolve(__dirname, "../..");
const EXAMPLES = join(ROOT, "docs/examples");
const stackFiles = readdirSync(EXAMPLES).filter((file) => /^Pulumi\.[\w.-]+\.yaml$/.test(file));

/** A stack file's config as Pulumi hands it to the program: keys without the namespace, objects as JSON. */
function rawConfig(file: string): Record<string, string> {
    const config = (parseYaml(readFileSync(join(EXAMPLES, file), "utf8")) as { config: Record<string, unknown> }).config;
    return Object.fromEntries(
        Object.entries(config).map(([key, value]) => [
            key.replace(`${CONFIG_NAMESPACE}:`, ""),
            typeof value === "string" ? value : JSON.stringify(value),
        ]),
    );
}

describe("example stack files", () => {
    it("there are some, and none is in local mode", () => {
        assert.ok(stackFiles.length >= 2, stackFiles.join(", "));
        for (const file of stackFiles) assert.notEqual(rawConfig(file).mode ?? "local", "local", file);
    });

    for (const file of stackFiles) {
        it(`${file} passes the config check as written`, () => {
            const config = parseStackConfig(rawConfig(file));
            assert.notEqual(config.mode, "local");
            assert.ok(config.hostnames.length > 0, "it names the registry");
        });
    }

    it("the review workflow previews each once copied to the root, and a change to it affects only that stack", async () => {
        const dir = makeTempDir("pr-examples-");
        try {
            writeFileSync(join(dir, "Pulumi.yaml"), readFileSync(join(ROOT, "Pulumi.yaml")));
            copyFileSync(join(ROOT, "Pulumi.dev.yaml"), join(dir, "Pulumi.dev.yaml"));
            for (const file of stackFiles) copyFileSync(join(EXAMPLES, file), join(dir, file));
            const stacks = stackFiles.map((file) => file.replace(/^Pulumi\.(.*)\.yaml$/, "$1")).sort();
            assert.deepEqual(ciStacks(dir), stacks);
            for (const stack of stacks) assert.deepEqual(affectedStacks(ciStacks(dir), [`Pulumi.${stack}.yaml`]), [stack]);
        } finally {
            await runCleanups();
        }
    });
});
