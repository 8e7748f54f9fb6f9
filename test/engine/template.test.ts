/**
 * This repository as a `pulumi new` template (Pulumi.yaml's `template:` section) under the real
 * engine: `pulumi new <a copy of the repository's files> --yes --config ...` makes a project and a
 * stack with the answers in its config, and that stack deploys: `pulumi up` puts the registry on
 * a dockerd in a network namespace of the test's own (the default ports, bridge networking), it
 * answers with the stack's credentials and CA, `preview --expect-no-changes` passes, `destroy`
 * leaves the retained data volume only.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { dirname, join, resolve } from "path";
import { parse as parseYaml } from "yaml";
import { PrivateDockerd, stopAndAssertNothingLeft } from "../e2e/support/dockerd";
import { registerCleanup, run, RunResult, runCleanups } from "../../scripts/lib/processes";
import { namespacedDeployTarget } from "./support/componentPackage";

const ROOT = resolve(__dirname, "../..");
const NAME = "registry-template.test";
const STACK = "lan";

describe("pulumi new with this repository as the template gives a stack that deploys (real engine)", () => {
    let work: string;
    let dockerd: PrivateDockerd;
    let env: NodeJS.ProcessEnv;
    let template: string;
    let project: string;

    const pulumi = (args: string[], options: { allowFailure?: boolean; cwd?: string } = {}): Promise<RunResult> =>
        run("pulumi", [...args, "--non-interactive"], {
            env,
            cwd: options.cwd ?? project,
            timeoutMs: 900_000,
            allowFailure: options.allowFailure,
        });

    before(async () => {
        ({ work, dockerd, env } = await namespacedDeployTarget("pr-tmpl", NAME));
        // What a clone of the repository holds: its files as git lists them (tracked, and new ones not ignored).
        template = join(work, "private-registry");
        const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" })
            .split("\0")
            .filter((file) => file !== "" && existsSync(join(ROOT, file)));
        for (const file of files) {
            mkdirSync(dirname(join(template, file)), { recursive: true });
            cpSync(join(ROOT, file), join(template, file));
        }
        project = join(work, "team-registry");
        registerCleanup("destroy the template's stack if a test left it up", async () => {
            if (existsSync(join(project, "Pulumi.yaml"))) await pulumi(["destroy", "--yes", "--stack", STACK], { allowFailure: true });
        });
    });

    after(async () => {
        await runCleanups();
    });

    it("pulumi new --yes --config: a project, its dependencies installed, a stack holding the answers", async () => {
        await pulumi(
            [
                "new",
                template,
                "--dir",
                project,
                "--stack",
                STACK,
                "--yes",
                "--config-path",
                "--config",
                "private-registry:mode=local",
                "--config",
                `private-registry:hostnames[0]=${NAME}`,
            ],
            { cwd: work },
        );
        const manifest = parseYaml(readFileSync(join(project, "Pulumi.yaml"), "utf8"));
        // The template's own name, which pulumi new proposes: the config keys live under it (private-registry:mode).
        assert.equal(manifest.name, "private-registry");
        assert.equal(manifest.template, undefined, "the template section stays in the template");
        assert.ok(existsSync(join(project, "node_modules/@pulumi/pulumi/package.json")), "dependencies installed");
        const config = parseYaml(readFileSync(join(project, `Pulumi.${STACK}.yaml`), "utf8")).config;
        assert.equal(config["private-registry:mode"], "local");
        assert.deepEqual(config["private-registry:hostnames"], [NAME]);
    });

    it("pulumi up deploys the registry: /v2/ answers 401 without and 200 with the stack's credentials, over its CA", async () => {
        const up = await pulumi(["up", "--yes", "--skip-preview", "--stack", STACK]);
        assert.match(up.stdout, /\+ \d+ created/, up.stdout);
        const outputs = JSON.parse((await pulumi(["stack", "output", "--json", "--show-secrets", "--stack", STACK])).stdout);
        assert.equal(outputs.registryEndpoint, NAME);
        writeFileSync(join(work, "ca.crt"), outputs.caCertificate);
        const [admin] = outputs.credentials as { username: string; password: string }[];
        const status = async (auth: string[]) =>
            (
                await dockerd.runClient("curl", [
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--cacert",
                    join(work, "ca.crt"),
                    ...auth,
                    `https://${NAME}/v2/`,
                ])
            ).stdout;
        assert.equal(await status([]), "401");
        assert.equal(await status(["-u", `${admin.username}:${admin.password}`]), "200");
    });

    it("pulumi preview --expect-no-changes passes right after up", async () => {
        const preview = await pulumi(["preview", "--expect-no-changes", "--diff", "--stack", STACK], { allowFailure: true });
        assert.equal(preview.code, 0, `a second run would change something:\n${preview.stdout}${preview.stderr}`);
    });

    it("pulumi destroy removes everything but the retained data volume", async () => {
        await pulumi(["destroy", "--yes", "--stack", STACK]);
        assert.equal((await dockerd.docker(["ps", "-a", "--format", "{{.Names}}"])).stdout.trim(), "");
        const volumes = (await dockerd.docker(["volume", "ls", "--format", "{{.Name}}"])).stdout.trim();
        assert.equal(volumes, "private-registry-data");
    });

    it("leaves nothing behind: dockerd and its containers stopped, the namespace deleted", async () => {
        await stopAndAssertNothingLeft(dockerd, work);
    });
});
