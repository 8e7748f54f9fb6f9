/**
 * The real Pulumi engine deploys ssh mode to a Debian 12 server, without a VM.
 *
 * The server (test/support/sshServer.ts) is a Debian 12 userland (debootstrap minbase with
 * openssh-server, docker.io, sudo, iproute2 from Debian's archive, cached) chrooted in a mount and
 * PID namespace of its own, inside a network namespace this test creates (only `lo`, no route
 * out). Its own sshd, with a host key generated on the server at start, listens on 127.0.0.1 of
 * that namespace; root logs in by key.
 *
 * Docker: docker.io is installed in the server's image, and its dockerd is started by the test
 * (the server's init script), because there is no systemd: the stack's install step runs over
 * SSH, finds `docker`, its `systemctl enable --now docker` fails and is ignored as designed, and
 * its `docker version` must reach that running daemon (asserted from the command's recorded
 * stdout). The `apt-get install docker.io` branch is not taken here.
 *
 * `pulumi` runs inside the network namespace, so the command provider's SSH and the Docker
 * provider's `ssh://` (the system ssh client, then `docker system dial-stdio` on the server) reach
 * that sshd. The clients (a second dockerd, the "workstation", with no bridge, and `ctr` on its
 * containerd) run in the namespace too and reach the edge's published ports at
 * NAMESPACE_SERVICE_ADDRESS. No image can be pulled: the stand-ins are built on the workstation's
 * dockerd and loaded into the server's (`docker save` | `docker load`) under the declared names.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { join } from "path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { DEFAULT_IMAGES } from "../../components/config/keys";
import type { ClientSnippet, ContainerdSnippet } from "../../components/render/snippets/clientSnippets";
import { freePort } from "../../scripts/lib/loopbackServers";
import { createNetworkNamespace, NAMESPACE_SERVICE_ADDRESS, NetworkNamespace } from "../../scripts/lib/netns";
import { makeTempDir, registerCleanup, run, RunResult, runCleanups } from "../../scripts/lib/processes";
import { hostMountsUnder, SshServer, startSshServer } from "../support/sshServer";
import { PrivateDockerd, startDockerd } from "../e2e/support/dockerd";
import { addHostsEntry } from "../e2e/support/hostsFile";
import { buildStandInImages, buildTestImage } from "../e2e/support/standins";
import { copyProject, engineEnvironment, selectedEngine } from "./support/engineProject";

const NAME = "registry-engine-ssh.test";
const PREFIX = "pr-engine-ssh";
const WRONG_KEY_PREFIX = "pr-engine-sshwrong";

interface StackOutputs {
    registryEndpoint: string;
    caCertificate: string;
    credentials: { username: string; password: string }[];
    clientSnippets: { docker: ClientSnippet; containerd: ContainerdSnippet };
}

describe("the real Pulumi engine deploys ssh mode to a Debian 12 server (namespaces, no VM)", () => {
    let work: string;
    let project: string;
    let env: NodeJS.ProcessEnv;
    let namespace: NetworkNamespace;
    let server: SshServer;
    let workstation: PrivateDockerd;
    let privateKey: string;
    let outputs: StackOutputs;
    let endpoint: string;

    /** `pulumi` inside the namespace, where the server's sshd is. */
    const pulumi = (
        stack: string,
        args: string[],
        options: { allowFailure?: boolean; input?: string; timeoutMs?: number } = {},
    ): Promise<RunResult> =>
        namespace.run("pulumi", [...args, "--non-interactive", "--stack", stack], {
            env,
            cwd: project,
            timeoutMs: options.timeoutMs ?? 600_000,
            allowFailure: options.allowFailure,
            input: options.input,
        });
    /** Names of the server's Docker objects of kind `list` that start with `prefix`. */
    const onServer = async (list: string[], prefix: string) =>
        (await server.docker(list)).stdout
            .split("\n")
            .filter((n) => n.startsWith(prefix))
            .sort();

    async function initStack(stack: string, values: Record<string, unknown>): Promise<void> {
        await pulumi(stack, ["stack", "init"]);
        const file = join(project, `Pulumi.${stack}.yaml`);
        const stackFile = parseYaml(existsSync(file) ? readFileSync(file, "utf8") : "") ?? {};
        stackFile.config = {
            ...stackFile.config,
            ...Object.fromEntries(Object.entries(values).map(([k, v]) => [`private-registry:${k}`, v])),
        };
        writeFileSync(file, toYaml(stackFile));
        await pulumi(stack, ["config", "set", "--secret", "sshPrivateKey"], { input: privateKey });
    }

    const sshConfig = async (stack: string, prefix: string, hostKey: string) =>
        initStack(stack, {
            mode: "ssh",
            ssh: { host: "127.0.0.1", port: server.port, user: "root", hostKey },
            hostnames: [NAME],
            ipAddresses: [NAMESPACE_SERVICE_ADDRESS],
            httpsPort: await freePort(),
            httpPort: await freePort(),
            namePrefix: prefix,
            users: ["admin"],
        });

    before(async () => {
        const engine = selectedEngine();
        assert.ok(
            engine.kind === "installed" || existsSync(join(engine.bin, "pulumi-resource-command")),
            `${engine.bin} has no pulumi-resource-command: ssh mode needs the command plugin (scripts/build-engine.sh builds it)`,
        );
        work = makeTempDir("pr-ssh-");
        project = copyProject(work);
        const home = join(work, "home");
        mkdirSync(home);
        // The Docker provider's key file and known_hosts go under ~/.private-registry: this test's.
        env = await engineEnvironment(work, { HOME: home });
        // ssh mode refuses to run with any of these set (DockerEnvironmentError).
        for (const variable of ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"]) delete env[variable];

        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "pulumi@engine-test", "-f", join(work, "id_ed25519")]);
        privateKey = readFileSync(join(work, "id_ed25519"), "utf8");

        namespace = await createNetworkNamespace("pr-ssh");
        await namespace.run("ip", ["address", "add", `${NAMESPACE_SERVICE_ADDRESS}/32`, "dev", "lo"]);
        server = await startSshServer(join(work, "server"), namespace, {
            authorizedKey: readFileSync(join(work, "id_ed25519.pub"), "utf8"),
            port: await freePort(),
        });
        // The workstation: no bridge of its own, so the server's dockerd owns the namespace's docker0.
        workstation = await startDockerd(join(work, "w"), {
            networkNamespace: namespace,
            extraArgs: ["--bridge=none", "--iptables=false", "--ip6tables=false"],
        });
        const images = { registry: DEFAULT_IMAGES.registry, ui: DEFAULT_IMAGES.ui, edge: DEFAULT_IMAGES.edge };
        await buildStandInImages(workstation, images, work);
        const tarball = join(work, "standins.tar");
        await workstation.docker(["save", "-o", tarball, ...Object.values(images)], { timeoutMs: 300_000 });
        await server.docker(["load", "-i", tarball], { timeoutMs: 300_000 });
        rmSync(tarball);
        addHostsEntry(NAMESPACE_SERVICE_ADDRESS, NAME);
        registerCleanup("destroy the ssh-mode stack if a test left it up", async () => {
            if (existsSync(join(project, "Pulumi.ssh.yaml"))) await pulumi("ssh", ["destroy", "--yes"], { allowFailure: true });
        });
    });

    after(async () => {
        await runCleanups();
    });

    it("a wrong pinned host key stops the deploy before anything reaches the server", async () => {
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", join(work, "impostor")]);
        const impostor = readFileSync(join(work, "impostor.pub"), "utf8").trim();
        assert.notEqual(impostor, server.hostPublicKey);
        await sshConfig("sshwrong", WRONG_KEY_PREFIX, impostor);
        const started = Date.now();
        const up = await pulumi("sshwrong", ["up", "--yes", "--skip-preview"], { allowFailure: true });
        process.stdout.write(`# wrong host key: pulumi up failed after ${Math.round((Date.now() - started) / 1000)} s\n`);
        const output = `${up.stdout}\n${up.stderr}`;
        assert.notEqual(up.code, 0, `pulumi up succeeded with a wrong host key:\n${output}`);
        const refusal = /^.*host key mismatch.*$/im.exec(output)?.[0] ?? assert.fail(`no host key mismatch in:\n${output.slice(-3000)}`);
        process.stdout.write(`# ${refusal.trim()}\n`);
        // Nothing logged in: the install command never ran, and no ssh:// session was opened.
        assert.doesNotMatch(server.sshdLog(), /Accepted publickey/, server.sshdLog());
        assert.deepEqual(await onServer(["ps", "-a", "--format", "{{.Names}}"], WRONG_KEY_PREFIX), []);
        assert.deepEqual(await onServer(["volume", "ls", "--format", "{{.Name}}"], WRONG_KEY_PREFIX), []);
        assert.deepEqual(await onServer(["network", "ls", "--format", "{{.Name}}"], WRONG_KEY_PREFIX), []);
        const state = JSON.parse((await pulumi("sshwrong", ["stack", "export"])).stdout) as {
            deployment: { resources?: { type: string }[] };
        };
        const remote = (state.deployment.resources ?? []).filter(
            (r) => r.type.startsWith("command:remote") || r.type.startsWith("docker:index/"),
        );
        assert.deepEqual(
            remote.map((r) => r.type),
            [],
            "no remote command or Docker resource was recorded",
        );
        await pulumi("sshwrong", ["stack", "rm", "--force", "--yes"]);
    });

    it("pulumi up over SSH with the host key pinned: the install step runs on the server, the containers land on its dockerd", async () => {
        await sshConfig("ssh", PREFIX, server.hostPublicKey);
        const up = await pulumi("ssh", ["up", "--yes", "--skip-preview"]);
        assert.match(up.stdout, /Resources:\s*\n\s*\+ \d+ created/);
        outputs = JSON.parse((await pulumi("ssh", ["stack", "output", "--json", "--show-secrets"])).stdout);
        endpoint = outputs.registryEndpoint;
        writeFileSync(join(work, "ca.crt"), outputs.caCertificate);

        const state = JSON.parse((await pulumi("ssh", ["stack", "export", "--show-secrets"])).stdout) as {
            deployment: { resources: { type: string; urn: string; outputs?: Record<string, unknown> }[] };
        };
        const install = state.deployment.resources.find((r) => r.type === "command:remote:Command" && r.urn.endsWith("install-docker"));
        assert.ok(install, "the install-docker remote command is in the state");
        const serverVersion = (await server.docker(["version", "--format", "{{.Server.Version}}"])).stdout.trim();
        assert.equal(String(install.outputs?.stdout).trim(), `docker ${serverVersion}`, "the install step talked to the server's dockerd");
        const provider = state.deployment.resources.find(
            (r) => r.type === "pulumi:providers:docker" && String(r.outputs?.host ?? "").startsWith("ssh://"),
        );
        assert.equal(provider?.outputs?.host, `ssh://root@127.0.0.1:${server.port}`);
        assert.match(server.sshdLog(), /Accepted publickey for root from 127\.0\.0\.1/);

        const states = (await server.docker(["ps", "--format", "{{.Names}} {{.Status}}"])).stdout;
        for (const role of ["registry", "ui", "edge"]) assert.match(states, new RegExp(`^${PREFIX}-${role} Up`, "m"), states);
        assert.deepEqual(await onServer(["network", "ls", "--format", "{{.Name}}"], PREFIX), [PREFIX]);
        await namespace.assertNoRouteOut();
    });

    it("through the deployed edge: docker push and pull with the docker snippet, ctr pull with the containerd snippet", async () => {
        const [admin] = outputs.credentials;
        const client = (command: string, args: string[], options = {}) => workstation.runClient(command, args, options);
        const unauthorized = await client("curl", [
            "-sS",
            "--max-time",
            "45",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            join(work, "ca.crt"),
            `https://${endpoint}/v2/`,
        ]);
        assert.equal(unauthorized.stdout, "401");

        const certsDir = `/etc/docker/certs.d/${endpoint}`;
        const removeCertsDir = () => rmSync(certsDir, { recursive: true, force: true });
        registerCleanup(`remove ${certsDir}`, removeCertsDir, removeCertsDir);
        writeFileSync(join(work, "docker.sh"), outputs.clientSnippets.docker.script);
        await client("sh", [join(work, "docker.sh")], { env: workstation.env, input: admin.password, timeoutMs: 60_000 });
        const image = await buildTestImage(workstation, `${endpoint}/engine/hello:1`, 4 * 1024 * 1024, join(work, "images"));
        const push = await workstation.docker(["push", image.name], { timeoutMs: 300_000 });
        const digest = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1] ?? assert.fail(push.stdout);
        await workstation.docker(["rmi", image.name]);
        const pull = await workstation.docker(["pull", image.name], { timeoutMs: 300_000 });
        assert.match(pull.stdout, new RegExp(digest));

        const root = join(work, "containerd-root");
        writeFileSync(join(work, "containerd.sh"), outputs.clientSnippets.containerd.script);
        await run("sh", [join(work, "containerd.sh")], { env: { ...process.env, ROOT: root } });
        await client(
            "ctr",
            [
                "--address",
                workstation.containerdSocket,
                "--namespace",
                "engine-ssh",
                "images",
                "pull",
                "--hosts-dir",
                join(root, "etc/containerd/certs.d"),
                "--user",
                `${admin.username}:${admin.password}`,
                "--snapshotter",
                "native",
                image.name,
            ],
            { timeoutMs: 180_000 },
        );
        const listed = await client("ctr", ["--address", workstation.containerdSocket, "--namespace", "engine-ssh", "images", "ls", "-q"]);
        assert.match(listed.stdout, new RegExp(`^${image.name.replace(/[.]/g, "\\.")}$`, "m"));
    });

    it("pulumi preview --expect-no-changes passes right after up", async () => {
        const preview = await pulumi("ssh", ["preview", "--expect-no-changes", "--diff"], { allowFailure: true });
        assert.equal(preview.code, 0, `a second run would change something:\n${preview.stdout}${preview.stderr}`);
    });

    it("pulumi destroy removes the stack from the server but the retained data volume", async () => {
        await pulumi("ssh", ["destroy", "--yes"]);
        assert.deepEqual(await onServer(["ps", "-a", "--format", "{{.Names}}"], PREFIX), []);
        assert.deepEqual(await onServer(["network", "ls", "--format", "{{.Name}}"], PREFIX), []);
        assert.deepEqual(await onServer(["volume", "ls", "--format", "{{.Name}}"], PREFIX), [`${PREFIX}-data`]);
    });

    it("leaves nothing behind: the server's namespace and the workstation stopped, nothing mounted, the network namespace deleted", async () => {
        const inside = namespace.processesInside();
        assert.ok(inside.includes(server.initPid), `the server's PID 1 (${server.initPid}) runs in ${namespace.name}`);
        await runCleanups();
        const left = [...new Set([...inside, ...namespace.processesInside()])].filter((pid) => existsSync(`/proc/${pid}`));
        assert.deepEqual(left, [], "processes of the namespace still run");
        assert.ok(!existsSync(namespace.path), `${namespace.path} still exists`);
        assert.deepEqual(hostMountsUnder(work), [], "mounts left under the work dir");
        assert.ok(!existsSync(work), `${work} still exists`);
    });
});
