/**
 * The Pulumi YAML language host runs a YAML program under the engine (scripts/build-engine.sh
 * builds it beside the CLI; an installed CLI bundles its own): `pulumi up` creates a
 * random.RandomString and a tls.PrivateKey with the engine's providers at the versions the npm SDKs
 * pin, the outputs carry their values, `preview --expect-no-changes` passes, `destroy` removes both.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { stringify as toYaml } from "yaml";
import { makeTempDir, registerCleanup, run, RunResult, runCleanups } from "../../scripts/lib/processes";
import { engineEnvironment, selectedEngine } from "./support/engineProject";

const ROOT = resolve(__dirname, "../..");
const STACK = "yaml";
/** The plugin versions the npm SDKs ask for (the versions scripts/build-engine.sh builds). */
const versionOf = (sdk: string): string => JSON.parse(readFileSync(join(ROOT, "node_modules", sdk, "package.json"), "utf8")).version;

describe("the real Pulumi engine runs a YAML program (the YAML language host)", () => {
    let project: string;
    let env: NodeJS.ProcessEnv;
    const pulumi = (args: string[], options: { allowFailure?: boolean } = {}): Promise<RunResult> =>
        run("pulumi", [...args, "--non-interactive", "--stack", STACK], { env, cwd: project, timeoutMs: 600_000, ...options });

    before(async () => {
        const engine = selectedEngine();
        if (engine.kind === "built") {
            assert.ok(existsSync(join(engine.bin, "pulumi-language-yaml")), `${engine.bin} has no pulumi-language-yaml`);
        }
        const work = makeTempDir("pr-yaml-");
        env = await engineEnvironment(work);
        project = join(work, "project");
        mkdirSync(project);
        writeFileSync(
            join(project, "Pulumi.yaml"),
            toYaml({
                name: "yaml-smoke",
                runtime: "yaml",
                resources: {
                    suffix: {
                        type: "random:RandomString",
                        properties: { length: 12, special: false },
                        options: { version: versionOf("@pulumi/random") },
                    },
                    key: {
                        type: "tls:PrivateKey",
                        properties: { algorithm: "ED25519" },
                        options: { version: versionOf("@pulumi/tls") },
                    },
                },
                outputs: { suffix: "${suffix.result}", publicKey: "${key.publicKeyOpenssh}" },
            }),
        );
        await pulumi(["stack", "init"]);
        registerCleanup("destroy the YAML stack if a test left it up", async () => {
            await pulumi(["destroy", "--yes"], { allowFailure: true });
        });
    });

    after(async () => {
        await runCleanups();
    });

    it("pulumi up creates the resources; the outputs carry their values", async () => {
        const up = await pulumi(["up", "--yes", "--skip-preview"]);
        assert.match(up.stdout, /\+ 3 created/, up.stdout);
        const outputs = JSON.parse((await pulumi(["stack", "output", "--json"])).stdout);
        assert.match(outputs.suffix, /^[A-Za-z0-9]{12}$/);
        assert.match(outputs.publicKey, /^ssh-ed25519 AAAA[0-9A-Za-z+/]+=*\n?$/);
    });

    it("pulumi preview --expect-no-changes passes right after up", async () => {
        const preview = await pulumi(["preview", "--expect-no-changes", "--diff"], { allowFailure: true });
        assert.equal(preview.code, 0, `a second run would change something:\n${preview.stdout}${preview.stderr}`);
    });

    it("pulumi destroy removes them", async () => {
        const destroy = await pulumi(["destroy", "--yes"]);
        assert.match(destroy.stdout, /- 3 deleted/, destroy.stdout);
        const state = JSON.parse((await pulumi(["stack", "export"])).stdout);
        assert.deepEqual(state.deployment.resources ?? [], []);
    });
});
