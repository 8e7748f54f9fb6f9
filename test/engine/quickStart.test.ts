/**
 * The README's quick start, run as written: its shell blocks are read from README.md by their
 * markers (`<!-- quick-start:NAME -->` before a fenced block) and run one after the other, so a
 * changed README is what the next run executes. Under the real engine (scripts/build-engine.sh),
 * against a private dockerd with a real bridge.
 *
 * The user's computer is modelled by ownComputer.ts: `/root` (the user's home: ~/.pulumi, the
 * local state backend `pulumi login --local` picks, ~/.docker) and `/etc` are overlays that
 * vanish with the test; a network namespace holds the registry's published ports (the dev
 * stack's fixed 8443 and 8080) and the LAN address the README's node block names. The node is a
 * second dockerd on that computer, reading the same overlaid /etc (its /etc/hosts and certs.d
 * entries are what the README's lines write).
 *
 * What the environment supplies, and a user's shell would too: the engine as engineProject.ts
 * sets it up for every engine test (first on PATH, its PULUMI_HOME and settings; not its file
 * backend: the README's `npm run dev` logs in to `~/.pulumi`, which lands in the overlay),
 * DOCKER_HOST naming the private dockerd (the user's Docker), PULUMI_CONFIG_PASSPHRASE (the
 * README's way to not be asked), and on the node DOCKER_HOST and DOCKER_CONFIG of its Docker. Images cannot be pulled: the stack's are
 * pre-tagged stand-ins (engineProject.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from "fs";
import { dirname, join, resolve } from "path";
import { execFileSync } from "child_process";
import { createNetworkNamespace, NetworkNamespace } from "../../scripts/lib/netns";
import { makeTempDir, RunResult, runCleanups } from "../../scripts/lib/processes";
import { DOCKER_CLI, PrivateDockerd, startDockerd, stopAndAssertNothingLeft } from "../e2e/support/dockerd";
import { engineEnvironment, startDockerdWithStandIns } from "./support/engineProject";
import { OwnComputer, startOwnComputer } from "./support/ownComputer";

const ROOT = resolve(__dirname, "../..");
const PREFIX = "private-registry";

/** The fenced block after `<!-- quick-start:NAME -->` in README.md. */
function readmeBlock(readme: string, name: string): string {
    const marker = `<!-- quick-start:${name} -->`;
    const at = readme.indexOf(marker);
    assert.ok(at >= 0, `README.md has no ${marker}`);
    const block = /^\s*```(?:sh|bash)\n([\s\S]*?)\n```/.exec(readme.slice(at + marker.length));
    assert.ok(block, `README.md: ${marker} is not followed by a sh block`);
    return block[1];
}

describe("the README's quick start, as written, under the real engine", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const blocks = Object.fromEntries(["deploy", "push", "lan", "node"].map((name) => [name, readmeBlock(readme, name)]));
    let work: string;
    let clone: string;
    let nodeDir: string;
    let network: NetworkNamespace;
    let computer: OwnComputer;
    let dockerd: PrivateDockerd;
    let nodeDockerd: PrivateDockerd;
    let env: NodeJS.ProcessEnv;
    let pushedDigest: string;

    /** Runs one README block with bash (-e, pipefail, traced) on the user's computer. */
    const runBlock = (name: string, options: { cwd: string; env: NodeJS.ProcessEnv; network?: NetworkNamespace; timeoutMs?: number }) =>
        // --norc: bash reads ~/.bashrc when its stdin is a socket, as node's pipes are.
        computer.run("bash", ["--norc", "-e", "-o", "pipefail", "-x", "-c", blocks[name]], { timeoutMs: 900_000, ...options });
    const show = (result: RunResult) => `${result.stdout}\n${result.stderr}`;

    before(async () => {
        work = makeTempDir("pr-quick-");
        network = await createNetworkNamespace("pr-quick");
        // The node block's LAN address (the /etc/hosts line), on the namespace's lo.
        for (const address of new Set(blocks.node.match(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g) ?? [])) {
            await network.run("ip", ["address", "add", `${address}/32`, "dev", "lo"]);
        }
        dockerd = await startDockerdWithStandIns(work, { networkNamespace: network });
        computer = await startOwnComputer(work);
        // The node: its own Docker on the same computer (no bridge needed to pull), up before the
        // README's lines run, as a node's is.
        nodeDockerd = await startDockerd(join(work, "node"), {
            networkNamespace: computer.joined(network),
            extraArgs: ["--bridge=none", "--iptables=false", "--ip6tables=false"],
        });

        // A clone: the files git would check out (tracked, and new ones not ignored), no node_modules.
        clone = join(work, "private-registry");
        const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: ROOT, encoding: "utf8" })
            .split("\0")
            .filter((file) => file && existsSync(join(ROOT, file)));
        for (const file of files) {
            mkdirSync(dirname(join(clone, file)), { recursive: true });
            cpSync(join(ROOT, file), join(clone, file));
        }

        // `docker` is the Debian CLI that matches the daemon (dockerd.ts).
        const tools = join(work, "tools");
        mkdirSync(tools);
        symlinkSync(DOCKER_CLI, join(tools, "docker"));
        // The engine as every engine test gets it (its PATH, a PULUMI_HOME holding its plugins, its
        // settings), minus the file backend they use: the README's `npm run dev` picks the backend.
        const engine = await engineEnvironment(work);
        const pulumiSettings = Object.entries(engine).filter(([key]) => key.startsWith("PULUMI_") && key !== "PULUMI_BACKEND_URL");
        env = {
            ...Object.fromEntries(pulumiSettings),
            PATH: `${tools}:${engine.PATH}`,
            HOME: "/root",
            LANG: "C.UTF-8",
            DOCKER_HOST: dockerd.host,
            PULUMI_CONFIG_PASSPHRASE: "quick-start",
        };
    });

    after(async () => {
        await runCleanups();
    });

    it("deploy: `npm ci` and `npm run dev` log in to the local backend, create the dev stack and start it on the user's Docker", async () => {
        const deployed = await runBlock("deploy", { cwd: clone, env });
        assert.match(deployed.stderr, /pulumi login --local/, `npm run dev logs in to the local backend:\n${show(deployed)}`);
        assert.match(deployed.stdout, /registryEndpoint\s*:\s*"localhost:8443"/, show(deployed));
        assert.ok(
            existsSync(join(computer.upper("/root"), ".pulumi/stacks/private-registry/dev.json")),
            "the dev stack's state is in ~/.pulumi",
        );
        const states = (await dockerd.docker(["ps", "--format", "{{.Names}} {{.Status}}"])).stdout;
        for (const role of ["registry", "ui", "edge"]) assert.match(states, new RegExp(`^${PREFIX}-${role} Up`, "m"), states);
    });

    it("push: the push user logs in, builds and pushes localhost:8443/hello:1", async () => {
        const pushed = await runBlock("push", { cwd: clone, env, network });
        assert.match(pushed.stdout, /Login Succeeded/, show(pushed));
        pushedDigest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1] ?? assert.fail(`no digest in the push:\n${show(pushed)}`);
    });

    it("lan: the LAN name goes first, a second `npm run dev` re-issues the certificate, node-setup.sh is written", async () => {
        const lan = await runBlock("lan", { cwd: clone, env, network });
        assert.match(lan.stdout, /registryEndpoint\s*:\s*"localhost:8443" => "registry\.lan:8443"/, show(lan));
        const script = readFileSync(join(clone, "node-setup.sh"), "utf8");
        assert.match(script, /registry\.lan:8443/);
        assert.match(script, /--username 'node'/, "the node script logs in as the pull user");
    });

    it("node: as root on the node, the /etc/hosts line, node-setup.sh and `docker pull` fetch the pushed image as the pull user", async () => {
        nodeDir = join(work, "board");
        mkdirSync(nodeDir);
        cpSync(join(clone, "node-setup.sh"), join(nodeDir, "node-setup.sh")); // the README's `scp`
        const nodeEnv = { ...env, DOCKER_HOST: nodeDockerd.host, DOCKER_CONFIG: nodeDockerd.dockerConfig };
        const pulled = await runBlock("node", { cwd: nodeDir, env: nodeEnv, network });
        const digests = (
            await computer.run("docker", ["image", "inspect", "--format", "{{json .RepoDigests}}", "registry.lan:8443/hello:1"], {
                env: nodeEnv,
            })
        ).stdout;
        assert.ok(digests.includes(`registry.lan:8443/hello@${pushedDigest}`), `the node pulled ${digests}, pushed ${pushedDigest}`);
        assert.ok(!existsSync("/etc/docker/certs.d/registry.lan:8443"), "the node's CA went to its own /etc, not the real one");
        assert.match(show(pulled), /Login Succeeded/, "node-setup.sh logged the node's Docker in");

        const refused = await computer.run("docker", ["push", "registry.lan:8443/hello:1"], {
            env: nodeEnv,
            network,
            allowFailure: true,
            timeoutMs: 120_000,
        });
        assert.notEqual(refused.code, 0, "the node's pull user cannot push");
        assert.match(show(refused), /denied/, show(refused));
    });

    it("leaves nothing behind: both dockerds, the namespaces and the work dir gone", async () => {
        await stopAndAssertNothingLeft(dockerd, work);
    });
});
