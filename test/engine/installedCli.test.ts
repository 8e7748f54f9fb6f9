/**
 * The engine tests on a machine with a Pulumi CLI installed: scripts/build-engine.sh's CLI and
 * language hosts put on PATH as an installer would (a directory of their own, no providers beside
 * them), its providers only where an installed CLI keeps plugins ($PULUMI_HOME/plugins): random by
 * `pulumi plugin install --file`, tls by the CLI's automatic acquisition during `pulumi up`, from a
 * loopback server standing in for the plugin's release downloads (PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES).
 * test/engine/yaml.test.ts, run from here with neither PULUMI_ENGINE_BIN nor Go nor an engine cache,
 * then picks that CLI (scripts/select-engine.sh), builds nothing and passes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createHash } from "crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from "fs";
import { createServer, Server } from "http";
import { AddressInfo } from "net";
import { join, resolve } from "path";
import { makeTempDir, registerCleanup, run, runCleanups } from "../../scripts/lib/processes";
import { selectedEngine } from "./support/engineProject";

const ROOT = resolve(__dirname, "../..");
const versionOf = (sdk: string): string => JSON.parse(readFileSync(join(ROOT, "node_modules", sdk, "package.json"), "utf8")).version;
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("an installed Pulumi CLI: the engine tests use it and its plugins, and build nothing", () => {
    const engine = selectedEngine();
    const skip = engine.kind === "installed" ? "the engine under test is already an installed CLI" : false;
    let work: string;
    let cli: string;
    let pulumiHome: string;
    let server: Server;
    const requests: string[] = [];
    const tls = versionOf("@pulumi/tls");
    const random = versionOf("@pulumi/random");

    before(async () => {
        if (skip) return;
        work = makeTempDir("pr-installed-");
        // The CLI and its bundled language hosts, linked as a package manager links an installed CLI.
        cli = join(work, "pulumi", "bin");
        mkdirSync(cli, { recursive: true });
        for (const binary of ["pulumi", "pulumi-language-nodejs", "pulumi-language-yaml"]) {
            symlinkSync(join(engine.bin, binary), join(cli, binary));
        }
        // The user's PULUMI_HOME, with one plugin installed the usual way.
        pulumiHome = join(work, "pulumi-home");
        await run(
            join(cli, "pulumi"),
            ["plugin", "install", "resource", "random", random, "--file", join(engine.bin, "pulumi-resource-random")],
            {
                env: { ...process.env, PULUMI_HOME: pulumiHome, PULUMI_SKIP_UPDATE_CHECK: "true" },
            },
        );
        // A plugin release download: pulumi-resource-tls-v<version>-linux-amd64.tar.gz.
        const releases = join(work, "releases");
        mkdirSync(releases);
        // (From a copy: every build-engine.sh run relinks the engine's bin dir, which tar would notice.)
        const staging = join(work, "staging");
        mkdirSync(staging);
        copyFileSync(join(engine.bin, "pulumi-resource-tls"), join(staging, "pulumi-resource-tls"));
        await run("tar", ["-czf", join(releases, `pulumi-resource-tls-v${tls}-linux-amd64.tar.gz`), "-C", staging, "pulumi-resource-tls"]);
        server = createServer((request, response) => {
            requests.push(request.url ?? "");
            const file = join(releases, decodeURIComponent((request.url ?? "").split("?")[0]).replace(/^\/+/, ""));
            try {
                response.end(readFileSync(file));
            } catch {
                response.writeHead(404).end();
            }
        });
        await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
        registerCleanup("stop the plugin download server", () => new Promise<void>((done) => server.close(() => done())));
    });

    after(async () => {
        await runCleanups();
    });

    it("runs test/engine/yaml.test.ts against it: no build, random from the plugin directory, tls acquired", { skip }, async () => {
        const port = (server.address() as AddressInfo).port;
        const emptyCache = join(work, "engine-cache");
        mkdirSync(emptyCache);
        const env: NodeJS.ProcessEnv = {
            ...process.env,
            PATH: `${cli}:${process.env.PATH}`,
            PULUMI_HOME: pulumiHome,
            PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES: `^github://api.github.com/pulumi/pulumi-tls$=http://127.0.0.1:${port}/`,
            // Any attempt to build would fail: no Go, an empty cache.
            GO: "/nonexistent/go",
            PULUMI_ENGINE_CACHE: emptyCache,
        };
        // NODE_TEST_CONTEXT, set for this runner's children, would make the inner `node --test` skip its file.
        for (const variable of [
            "NODE_TEST_CONTEXT",
            "PULUMI_ENGINE_BIN",
            "PRIVATE_REGISTRY_ENGINE",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION",
            "PULUMI_IGNORE_AMBIENT_PLUGINS",
        ]) {
            delete env[variable];
        }
        const result = await run("node", ["--import", "tsx", "--test", "--test-reporter=spec", join(ROOT, "test/engine/yaml.test.ts")], {
            env,
            cwd: ROOT,
            allowFailure: true,
            timeoutMs: 900_000,
        });
        const output = result.stdout + result.stderr;
        assert.equal(result.code, 0, output);
        assert.match(output, /ℹ pass 3\n/);
        assert.match(output, new RegExp(`using the Pulumi CLI ${cli}/pulumi \\(v`));
        assert.deepEqual(readdirSync(emptyCache), [], "something was built");
        assert.deepEqual(requests, [`/pulumi-resource-tls-v${tls}-linux-amd64.tar.gz`]);
        const plugins = join(pulumiHome, "plugins");
        assert.equal(sha256(join(plugins, `resource-tls-v${tls}`, "pulumi-resource-tls")), sha256(join(engine.bin, "pulumi-resource-tls")));
        assert.equal(
            sha256(join(plugins, `resource-random-v${random}`, "pulumi-resource-random")),
            sha256(join(engine.bin, "pulumi-resource-random")),
        );
    });
});
