/**
 * A Pulumi program in another language uses this repository as a component package under the
 * real engine: `pulumi package add` takes the repository's path (a copy of its files,
 * componentPackage.ts), `pulumi up` deploys the registry and its mirror to a dockerd in a network
 * namespace of the test's own (bridge networking, the default ports), Docker pushes and pulls
 * through it with the outputs' setup script, credentials and CA, the mirror's password stays
 * secret, `preview --expect-no-changes` passes, `destroy` leaves only the retained volumes. One
 * body, run for each example program under test/engine/consumers/ (the ones docs/component.md
 * shows): every one takes the config `registryName`, `dockerHubUser` and the secret
 * `dockerHubToken`, and exports `registryEndpoint`, `mirrorEndpoint`, `caCertificate`,
 * `credentials` and `dockerSetup`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cpSync, readFileSync, rmSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { parse as parseYaml } from "yaml";
import { CONFIG_KEYS } from "../../../components/config/keys";
import { PrivateDockerd, stopAndAssertNothingLeft } from "../../e2e/support/dockerd";
import { buildTestImage } from "../../e2e/support/standins";
import { registerCleanup, run, RunResult, runCleanups } from "../../../scripts/lib/processes";
import { copyPackage, namespacedDeployTarget } from "./componentPackage";

/** The example programs, each a directory the test copies as the consumer's project. */
export const CONSUMERS = resolve(__dirname, "../consumers");

export interface Consumer {
    /** Its directory under test/engine/consumers/: `yaml`, `typescript`. */
    language: string;
    /** Also check `pulumi package get-schema` (once is enough: every consumer adds the same package). */
    schema?: boolean;
}

interface Outputs {
    registryEndpoint: string;
    mirrorEndpoint: string;
    caCertificate: string;
    dockerSetup: string;
}

export function describeComponentConsumer({ language, schema = false }: Consumer): void {
    const NAME = `registry-component-${language}.test`;
    const STACK = language;
    /** Stands in for a Docker Hub token: what must never show in plain text. */
    const TOKEN = `dckr_pat_component_${language}_7f3e9a1c`;

    describe(`a ${language} program deploys the registry from this repository as a component package (real engine)`, () => {
        let work: string;
        let dockerd: PrivateDockerd;
        let env: NodeJS.ProcessEnv;
        let packageDir: string;
        let project: string;
        let outputs: Outputs;
        const printed: string[] = [];

        const pulumi = async (args: string[], options: { allowFailure?: boolean; stack?: boolean } = {}): Promise<RunResult> => {
            const stack = options.stack === false ? [] : ["--stack", STACK];
            const result = await run("pulumi", [...args, "--non-interactive", ...stack], {
                env,
                cwd: project,
                timeoutMs: 900_000,
                allowFailure: options.allowFailure,
            });
            printed.push(result.stdout, result.stderr);
            return result;
        };

        before(async () => {
            ({ work, dockerd, env } = await namespacedDeployTarget(`pr-c${language.slice(0, 4)}`, NAME));
            packageDir = copyPackage(work);
            project = join(work, "consumer");
            cpSync(join(CONSUMERS, language), project, { recursive: true });
            await pulumi(["stack", "init", STACK], { stack: false });
            registerCleanup(`destroy the ${language} consumer's stack if a test left it up`, async () => {
                await pulumi(["destroy", "--yes"], { allowFailure: true });
            });
        });

        after(async () => {
            await runCleanups();
        });

        if (schema) {
            it("pulumi package get-schema: ContainerRegistry, one input per config key (plain, the secrets Inputs), the outputs", async () => {
                const described = JSON.parse((await pulumi(["package", "get-schema", packageDir], { stack: false })).stdout);
                const component = described.resources["private-registry:index:ContainerRegistry"];
                assert.equal(component?.isComponent, true, Object.keys(described.resources ?? {}).join(", "));
                assert.deepEqual(Object.keys(component.inputProperties).sort(), Object.keys(CONFIG_KEYS).sort());
                for (const [key, declaration] of Object.entries(CONFIG_KEYS))
                    assert.equal(component.inputProperties[key].plain, declaration.secret ? undefined : true, key);
                for (const output of ["registryEndpoint", "uiEndpoint", "caCertificate", "credentials", "clientSnippets", "mirrorEndpoint"])
                    assert.ok(component.properties[output], `output ${output}`);
            });
        }

        it("pulumi package add takes the repository's path", async () => {
            await pulumi(["package", "add", packageDir], { stack: false });
            const manifest = parseYaml(readFileSync(join(project, "Pulumi.yaml"), "utf8"));
            assert.equal(manifest.packages?.["private-registry"], packageDir, JSON.stringify(manifest.packages));
        });

        it("pulumi up deploys the registry, its UI, edge and mirror", async () => {
            await pulumi(["config", "set", "registryName", NAME]);
            await pulumi(["config", "set", "dockerHubUser", "team"]);
            await pulumi(["config", "set", "--secret", "dockerHubToken", TOKEN]);
            const up = await pulumi(["up", "--yes", "--skip-preview"]);
            assert.match(up.stdout, /\+ \d+ created/, up.stdout);
            outputs = JSON.parse((await pulumi(["stack", "output", "--json", "--show-secrets"])).stdout);
            assert.equal(outputs.registryEndpoint, NAME, "the default port 443 is left out");
            assert.equal(outputs.mirrorEndpoint, `${NAME}:5443`);
            const names = (await dockerd.docker(["ps", "--format", "{{.Names}}"])).stdout.split("\n").filter(Boolean).sort();
            assert.deepEqual(names, [
                "private-registry-edge",
                "private-registry-mirror",
                "private-registry-registry",
                "private-registry-ui",
            ]);
        });

        it("Docker pushes and pulls through it with the outputs: the setup script, the push user's password", async () => {
            const credentials = JSON.parse((await pulumi(["stack", "output", "credentials", "--json", "--show-secrets"])).stdout) as {
                username: string;
                password: string;
                role: string;
            }[];
            const ci = credentials.find((c) => c.username === "ci" && c.role === "push");
            assert.ok(ci, JSON.stringify(credentials.map((c) => [c.username, c.role])));
            const certsDir = `/etc/docker/certs.d/${outputs.registryEndpoint}`;
            const removeCertsDir = () => rmSync(certsDir, { recursive: true, force: true });
            registerCleanup(`remove ${certsDir}`, removeCertsDir, removeCertsDir);
            writeFileSync(join(work, "docker-setup.sh"), outputs.dockerSetup);
            await dockerd.runClient("sh", [join(work, "docker-setup.sh")], { env: dockerd.env, input: ci.password, timeoutMs: 60_000 });
            const image = await buildTestImage(dockerd, `${outputs.registryEndpoint}/team/app:1`, 1024 * 1024, join(work, "images"));
            const push = await dockerd.docker(["push", image.name], { timeoutMs: 300_000 });
            const digest = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1] ?? assert.fail(push.stdout);
            await dockerd.docker(["rmi", image.name]);
            const pull = await dockerd.docker(["pull", image.name], { timeoutMs: 300_000 });
            assert.ok(pull.stdout.includes(`Digest: ${digest}`), pull.stdout);
        });

        it("the mirror's password stays secret: in the state, in the outputs, in what pulumi printed", async () => {
            assert.ok(!(await pulumi(["stack", "export"])).stdout.includes(TOKEN), "the token is in the state in plain text");
            assert.ok(!(await pulumi(["stack", "output", "--json"])).stdout.includes(TOKEN));
            assert.ok(!printed.join("\n").includes(TOKEN), "pulumi printed the token");
            // From its set's secret environment file (a new token is a handover, not a restart).
            const environment = (
                await dockerd.docker(["exec", "private-registry-mirror", "cat", "/etc/private-registry/secrets/environment"])
            ).stdout;
            assert.ok(environment.includes(`REGISTRY_PROXY_PASSWORD='${TOKEN}'`), "the mirror got the token");
        });

        it("pulumi preview --expect-no-changes passes right after up", async () => {
            const preview = await pulumi(["preview", "--expect-no-changes", "--diff"], { allowFailure: true });
            assert.equal(preview.code, 0, `a second run would change something:\n${preview.stdout}${preview.stderr}`);
        });

        it("pulumi destroy removes everything but the retained data volumes", async () => {
            await pulumi(["destroy", "--yes"]);
            assert.equal((await dockerd.docker(["ps", "-a", "--format", "{{.Names}}"])).stdout.trim(), "");
            const volumes = (await dockerd.docker(["volume", "ls", "--format", "{{.Name}}"])).stdout.split("\n").filter(Boolean).sort();
            assert.deepEqual(volumes, ["private-registry-data", "private-registry-mirror-data"]);
        });

        it("leaves nothing behind: dockerd and its containers stopped, the namespace deleted", async () => {
            await stopAndAssertNothingLeft(dockerd, work);
        });
    });
}
