/**
 * End to end: what the program declares for local mode, replayed on a real dockerd, then used by
 * real clients (Docker, containerd's ctr, skopeo, curl, headless Chromium) configured only from
 * the stack's own `clientSnippets` output. One body, run once per container network:
 *
 * - `host`: the dockerd runs on the machine's network without a bridge; the registry's name
 *   resolves to ::1 only, because dockerd counts every 127.0.0.0/8 registry as insecure and would
 *   skip certificate checks, so the CA tests would prove nothing there.
 * - `bridge` (the default every user gets): the dockerd runs in a network namespace the test
 *   creates, with a real bridge, iptables and published ports; every client runs in that
 *   namespace too. The name resolves to NAMESPACE_SERVICE_ADDRESS, which the test puts on the
 *   namespace's `lo` (see scripts/lib/netns.ts for why that address).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { dirname, join, resolve } from "path";
import { parse as parseYaml } from "yaml";
import type { ClientSnippet, ContainerdSnippet } from "../../../components/render/snippets/clientSnippets";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../../../scripts/lib/program/evaluate";
import { freeStackPorts, StackPorts } from "./hostStack";
import { createNetworkNamespace, NAMESPACE_SERVICE_ADDRESS, NetworkNamespace } from "../../../scripts/lib/netns";
import { makeTempDir, registerCleanup, RunOptions, runCleanups, waitFor } from "../../../scripts/lib/processes";
import { PrivateDockerd, startDockerd, stopAndAssertNothingLeft } from "./dockerd";
import { addHostsEntry } from "./hostsFile";
import { containerInputs, containers, imageNames, replaceContainer, replaceHolder, replay } from "./replay";
import { buildStandInImages, buildTestImage } from "./standins";

const OUTPUT_DIR = resolve(__dirname, "../../../test-output");
const REQUIRED = [
    "/usr/sbin/dockerd",
    "/usr/bin/docker",
    "/usr/bin/ctr",
    "/usr/bin/skopeo",
    "/usr/sbin/nginx",
    "/usr/bin/docker-registry",
    "/bin/busybox",
    "/usr/bin/chromium",
    "/usr/bin/certutil",
    "/usr/bin/curl",
    "/usr/bin/nsenter",
    "/usr/sbin/ip",
];

export interface Credential {
    username: string;
    password: string;
}

interface Snippets {
    docker: ClientSnippet;
    containerd: ContainerdSnippet;
    k3s: ClientSnippet;
    imagePullSecret: string;
    nodeSetup: string;
}

export interface StackSuiteOptions {
    network: "host" | "bridge";
    /** Sizes of the images pushed and pulled by docker, by repository name. */
    images: Record<string, number>;
}

export function describeStackEndToEnd(options: StackSuiteOptions): void {
    const bridge = options.network === "bridge";
    const NAME = `registry-e2e-${options.network}.test`;
    const PREFIX = `pr-e2e-${options.network}`;

    describe(`end to end: the declared local stack on a real Docker engine (${options.network} networking)`, () => {
        let work: string;
        let namespace: NetworkNamespace | undefined;
        let dockerd: PrivateDockerd;
        let declared: EvaluationResult;
        let config: Record<string, unknown>;
        let endpoint: string;
        let ports: StackPorts;
        let snippets: Snippets;
        let admin: Credential;
        let ca: string;
        const pushedDigests: Record<string, string> = {};

        /** A client, run where the dockerd's network is (its namespace in bridge mode). */
        const client = (command: string, args: string[], runOptions?: RunOptions) => dockerd.runClient(command, args, runOptions);
        // Longer than nginx's resolver_timeout (30 s): an upstream name Docker's DNS does not know shows as the edge's drop (444).
        const curl = (args: string[], allowFailure = true) => client("curl", ["-sS", "--max-time", "45", ...args], { allowFailure });
        const docker = (args: string[], timeoutMs = 120_000) => dockerd.docker(args, { timeoutMs });
        const status = async (url: string, args: string[] = []) =>
            (await curl(["-o", "/dev/null", "-w", "%{http_code}", "--cacert", join(work, "ca.crt"), ...args, url])).stdout;
        const adminCreds = () => `${admin.username}:${admin.password}`;

        /** Writes a snippet's script and runs it with `sh`, as a person pasting it would, where the clients run. */
        async function runSnippet(name: string, script: string, snippetOptions: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
            const path = join(work, `${name}.sh`);
            writeFileSync(path, script);
            return client("sh", [path], { env: { ...process.env, ...snippetOptions.env }, input: snippetOptions.input });
        }

        before(async () => {
            const missing = REQUIRED.filter((path) => !existsSync(path));
            assert.deepEqual(missing, [], `missing prerequisites (install them as .ci/run does): ${missing.join(", ")}`);
            mkdirSync(OUTPUT_DIR, { recursive: true });
            // Short: containerd's socket path under it must stay within the unix socket limit.
            work = makeTempDir("pr-e2e-");
            ports = await freeStackPorts();
            const address = bridge ? NAMESPACE_SERVICE_ADDRESS : "::1";
            config = {
                ...devStackConfig(),
                hostnames: [NAME],
                ipAddresses: [address],
                containerNetwork: options.network,
                httpsPort: ports.https,
                httpPort: ports.http,
                ...(bridge ? {} : { uiPort: ports.ui, metricsPort: ports.metrics }),
                namePrefix: PREFIX,
                users: ["admin", "ci"],
            };
            declared = await evaluateProgram({ config });
            assert.equal(declared.error, undefined, declared.error);
            snippets = declared.outputs.clientSnippets.value as Snippets;
            endpoint = declared.outputs.registryEndpoint.value as string;
            [admin] = declared.outputs.credentials.value as Credential[];
            ca = declared.outputs.caCertificate.value as string;
            writeFileSync(join(work, "ca.crt"), ca);
            addHostsEntry(address, NAME);
            if (bridge) {
                namespace = await createNetworkNamespace("pr-e2e");
                await namespace.run("ip", ["address", "add", `${NAMESPACE_SERVICE_ADDRESS}/32`, "dev", "lo"]);
                await namespace.assertNoRouteOut();
            }
            dockerd = await startDockerd(join(work, "d"), { networkNamespace: namespace });
        });

        after(async () => {
            await runCleanups();
        });

        it("declares the endpoint clients use: the name, the HTTPS port", () => {
            assert.equal(endpoint, `${NAME}:${ports.https}`);
        });

        it("builds stand-in images under the image names the stack declares", async () => {
            const names = imageNames(declared);
            await buildStandInImages(
                dockerd,
                { registry: names["registry-registry-image"], ui: names["registry-ui-image"], edge: names["registry-edge-image"] },
                work,
            );
            const listed = (await docker(["images", "--format", "{{.Repository}}:{{.Tag}}"])).stdout;
            for (const name of Object.values(names))
                assert.match(listed, new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`, "m"));
        });

        it("runs the declared registry, UI and edge containers, and each turns healthy", async () => {
            await replay(dockerd, declared, work);
            const states = (await docker(["ps", "--format", "{{.Names}} {{.Status}}"])).stdout;
            for (const role of ["registry", "ui", "edge"]) assert.match(states, new RegExp(`^${PREFIX}-${role} Up .*\\(healthy\\)`, "m"));
            const volumes = (await docker(["volume", "ls", "--format", "{{.Name}}"])).stdout;
            assert.match(volumes, new RegExp(`^${PREFIX}-data$`, "m"));
        });

        it("hands each service its files through the holders' volumes, read-only, never running a holder", async () => {
            // A holder per plain file, one for the secret files.
            for (const [role, holder, path] of [
                ["registry", "files-config.yml", "/etc/private-registry/files/config.yml"],
                ["edge", "files-nginx.conf", "/etc/nginx/files/nginx.conf"],
                ["edge", "secrets", "/etc/nginx/secrets/server.key"],
                ["edge", "secrets", "/etc/nginx/secrets/users"],
            ]) {
                const name = `${PREFIX}-${role}-${holder}`;
                assert.equal((await docker(["inspect", "-f", "{{.State.Status}}", name])).stdout.trim(), "created", `${name} never ran`);
                const declaredContent = (containerInputs(declared, name).uploads as { file: string; content: string }[]).find(
                    (u) => u.file === path,
                )!.content;
                assert.equal(
                    (await docker(["exec", `${PREFIX}-${role}`, "cat", path])).stdout,
                    declaredContent,
                    `${role} reads the holder's ${path}`,
                );
                const write = await dockerd.docker(["exec", `${PREFIX}-${role}`, "sh", "-c", `echo x > ${path}`], { allowFailure: true });
                assert.notEqual(write.code, 0, `${role} cannot write ${path}`);
            }
        });

        if (bridge) {
            it("bridge: each container is on the stack's network under its role's alias", async () => {
                for (const role of ["registry", "ui", "edge"]) {
                    const networks = JSON.parse(
                        (await docker(["inspect", "-f", "{{json .NetworkSettings.Networks}}", `${PREFIX}-${role}`])).stdout,
                    );
                    assert.deepEqual(Object.keys(networks), [PREFIX], `${role} is on ${Object.keys(networks).join(", ")}`);
                    assert.ok(
                        (networks[PREFIX].Aliases as string[] | null)?.includes(role),
                        `${role}'s aliases: ${JSON.stringify(networks[PREFIX].Aliases)}`,
                    );
                }
            });

            it("bridge: only the edge publishes ports; nothing else listens in the namespace, which has no route out", async () => {
                const bindings = async (role: string) =>
                    JSON.parse((await docker(["inspect", "-f", "{{json .HostConfig.PortBindings}}", `${PREFIX}-${role}`])).stdout) ?? {};
                assert.deepEqual(await bindings("registry"), {});
                assert.deepEqual(await bindings("ui"), {});
                assert.deepEqual(Object.keys(await bindings("edge")).sort(), ["443/tcp", "80/tcp"]);
                const listening = (await client("ss", ["-ltnH"])).stdout
                    .split("\n")
                    .map((line) => line.split(/\s+/)[3])
                    .filter(Boolean);
                assert.deepEqual(
                    [...new Set(listening.map((address) => Number(address.split(":").pop())))].sort(),
                    [ports.https, ports.http].sort(),
                    listening.join(" "),
                );
                await namespace!.assertNoRouteOut();
            });
        } else {
            it("host: exposes only the edge: the UI listens on loopback, not on the registry's address", async () => {
                const listening = (await client("ss", ["-ltnH"])).stdout
                    .split("\n")
                    .map((line) => line.split(/\s+/)[3])
                    .filter(Boolean);
                const on = (port: number) => listening.filter((address) => address.endsWith(`:${port}`));
                assert.deepEqual(on(ports.ui), [`127.0.0.1:${ports.ui}`]);
                assert.deepEqual(on(ports.metrics), [`127.0.0.1:${ports.metrics}`]);
                assert.ok(on(ports.https).includes(`[::]:${ports.https}`), `edge listens on ${on(ports.https)}`);
            });
        }

        it("the registry's API has no TCP port: only a Unix socket in a volume the edge alone mounts, read-only", async () => {
            const pid = (await docker(["inspect", "-f", "{{.State.Pid}}", `${PREFIX}-registry`])).stdout.trim();
            // The container's processes: its supervisor and the registry processes it starts.
            const pids = (await docker(["top", `${PREFIX}-registry`, "-eo", "pid"])).stdout
                .split("\n")
                .slice(1)
                .map((line) => line.trim())
                .filter(Boolean);
            assert.ok(pids.length >= 2, `the supervisor and a registry process: ${pids.join(" ")}`);
            // Every TCP socket they listen on, seen from the container's network namespace.
            const listeners = (await dockerd.runClient("nsenter", [`--net=/proc/${pid}/ns/net`, "ss", "-ltnpH"])).stdout
                .split("\n")
                .filter((line) => pids.some((p) => line.includes(`pid=${p},`)))
                .map((line) => line.split(/\s+/)[3]);
            assert.deepEqual(
                listeners.map((address) => Number(address.split(":").pop())),
                [bridge ? 5002 : ports.metrics],
                `registry listens on ${listeners.join(" ")}`,
            );
            const socketVolume = `${PREFIX}-registry-socket`;
            const mounts: Record<string, { Name?: string; RW: boolean; Destination: string }[]> = {};
            for (const role of ["registry", "ui", "edge"])
                mounts[role] = JSON.parse((await docker(["inspect", "-f", "{{json .Mounts}}", `${PREFIX}-${role}`])).stdout);
            const socketMounts = Object.entries(mounts).flatMap(([role, list]) =>
                list.filter((m) => m.Name === socketVolume).map((m) => ({ role, rw: m.RW, path: m.Destination })),
            );
            assert.deepEqual(socketMounts, [
                { role: "registry", rw: true, path: "/run/registry" },
                { role: "edge", rw: false, path: "/run/registry" },
            ]);
            // On the host, the socket lies under the daemon's data root, which only root may enter.
            // The test's own temp dirs above the data root are opened to others for the check, so
            // that it is the daemon's permissions that keep a non-root process out.
            const socket = join(
                (await docker(["volume", "inspect", "-f", "{{.Mountpoint}}", socketVolume])).stdout.trim(),
                "registry.sock",
            );
            const dataRoot = (await docker(["info", "-f", "{{.DockerRootDir}}"])).stdout.trim();
            assert.equal(statSync(dataRoot).mode & 0o001, 0, `others may enter the data root ${dataRoot}`);
            for (let dir = dirname(dataRoot); dir !== "/"; dir = dirname(dir)) chmodSync(dir, statSync(dir).mode | 0o001);
            const asRoot = await curl(["-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", socket, "http://registry/v2/"]);
            // The registry checks no password (the edge does: docs/roles.md), so only root and the edge may reach it.
            assert.equal(asRoot.stdout, "200", "the socket serves the registry API");
            const asNobody = await dockerd.runClient(
                "setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-sS", "--unix-socket", socket, "http://registry/v2/"],
                { allowFailure: true },
            );
            assert.notEqual(asNobody.code, 0, "a non-root process reached the registry's socket");
            assert.match(asNobody.stderr, /Permission denied|Couldn't connect/i);
        });

        it("redirects plain HTTP to HTTPS and never serves the registry over it; answers /readyz there", async () => {
            const response = await curl(["-i", `http://${NAME}:${ports.http}/v2/_catalog`]);
            assert.match(response.stdout, /^HTTP\/1\.1 301/);
            assert.match(response.stdout, new RegExp(`Location: https://${NAME}:${ports.https}/v2/_catalog`, "i"));
            assert.doesNotMatch(response.stdout, /repositories/);
            // What a load balancer checks (alicloud replicas): 200 only while the registry behind answers.
            const ready = await curl(["-sS", "-o", "/dev/null", "-w", "%{http_code}", `http://${NAME}:${ports.http}/readyz`]);
            assert.equal(ready.stdout, "200", "the deployed edge reaches its registry's socket for /readyz");
        });

        it("answers 401 without credentials and with a wrong password, 200 with each user's; the UI 200", async () => {
            const url = `https://${endpoint}/v2/`;
            assert.equal(await status(url), "401");
            assert.equal(await status(url, ["-u", `${admin.username}:wrong-${admin.password}`]), "401");
            for (const user of declared.outputs.credentials.value as Credential[])
                assert.equal(await status(url, ["-u", `${user.username}:${user.password}`]), "200", user.username);
            assert.equal(await status(`https://${endpoint}/`), "200");
        });

        it("nginx's own redirect (GET /v2) and the registry's upload Location keep the published port", async () => {
            const redirect = await curl(["-i", "--cacert", join(work, "ca.crt"), "-u", adminCreds(), `https://${endpoint}/v2`]);
            assert.match(redirect.stdout, /^HTTP\/1\.1 301/);
            const location = /^location: (\S+)/im.exec(redirect.stdout)?.[1] ?? assert.fail(redirect.stdout);
            const target = new URL(location, `https://${endpoint}/v2`);
            assert.equal(target.href, `https://${endpoint}/v2/`, `GET /v2 redirects to ${location}`);
            assert.equal(await status(location.startsWith("/") ? `https://${endpoint}${location}` : location, ["-u", adminCreds()]), "200");

            const upload = await curl([
                "-i",
                "--cacert",
                join(work, "ca.crt"),
                "-u",
                adminCreds(),
                "-X",
                "POST",
                `https://${endpoint}/v2/e2e/location/blobs/uploads/`,
            ]);
            assert.match(upload.stdout, /^HTTP\/1\.1 202/);
            assert.match(upload.stdout, new RegExp(`^location: https://${endpoint}/v2/e2e/location/blobs/uploads/`, "im"));
        });

        it("docker: login fails with a certificate error before the CA is installed", async () => {
            const login = await dockerd.docker(["login", endpoint, "--username", admin.username, "--password-stdin"], {
                input: admin.password,
                allowFailure: true,
            });
            assert.notEqual(login.code, 0, "docker trusted the registry without its CA");
            assert.match(login.stderr, /x509|certificate/i);
        });

        it("docker: the snippet installs the CA under /etc/docker/certs.d and logs in", async () => {
            const certsDir = `/etc/docker/certs.d/${endpoint}`;
            const removeCertsDir = () => rmSync(certsDir, { recursive: true, force: true });
            registerCleanup(`remove ${certsDir}`, removeCertsDir, removeCertsDir);
            const login = await runSnippet("docker", snippets.docker.script, { env: dockerd.env, input: admin.password });
            assert.match(login.stdout + login.stderr, /Login Succeeded/);
            assert.equal(readFileSync(join(certsDir, "ca.crt"), "utf8"), ca);
        });

        it(`docker: pushes ${Object.keys(options.images).join(" and ")} images, then pulls them back`, async () => {
            for (const [repo, bytes] of Object.entries(options.images)) {
                const image = await buildTestImage(dockerd, `${endpoint}/e2e/${repo}:1`, bytes, join(work, "images"));
                const push = await docker(["push", image.name], 900_000);
                pushedDigests[repo] = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1] ?? assert.fail(`no digest in: ${push.stdout}`);
                await docker(["rmi", image.name]);
                await docker(["pull", image.name], 900_000);
                assert.equal((await docker(["image", "inspect", "-f", "{{.Id}}", image.name])).stdout.trim(), image.id);
            }
        });

        it("skopeo: refuses the registry without the CA, copies out and in with it", async () => {
            const cleanCertDir = join(work, "no-ca");
            const caDir = join(work, "skopeo-ca");
            mkdirSync(cleanCertDir);
            mkdirSync(caDir);
            writeFileSync(join(caDir, "ca.crt"), ca);
            const creds = adminCreds();
            const refused = await client(
                "skopeo",
                ["inspect", "--cert-dir", cleanCertDir, "--creds", creds, `docker://${endpoint}/e2e/small:1`],
                { allowFailure: true, timeoutMs: 60_000 },
            );
            assert.notEqual(refused.code, 0);
            assert.match(refused.stderr, /x509|certificate/i);
            const layout = `oci:${join(work, "oci")}:small`;
            await client("skopeo", ["copy", "--src-cert-dir", caDir, "--src-creds", creds, `docker://${endpoint}/e2e/small:1`, layout], {
                timeoutMs: 120_000,
            });
            await client("skopeo", ["copy", "--dest-cert-dir", caDir, "--dest-creds", creds, layout, `docker://${endpoint}/e2e/skopeo:1`], {
                timeoutMs: 120_000,
            });
            const inspected = await client(
                "skopeo",
                ["inspect", "--cert-dir", caDir, "--creds", creds, `docker://${endpoint}/e2e/skopeo:1`],
                { timeoutMs: 60_000 },
            );
            assert.equal(JSON.parse(inspected.stdout).Name, `${endpoint}/e2e/skopeo`);
        });

        it("containerd: ctr pulls and pushes with the rendered hosts.toml", async () => {
            const root = join(work, "containerd-root");
            await runSnippet("containerd", snippets.containerd.script, { env: { ROOT: root } });
            const hostsDir = join(root, "etc/containerd/certs.d");
            const ctr = (args: string[], runOptions: RunOptions = { timeoutMs: 180_000 }) =>
                client("ctr", ["--address", dockerd.containerdSocket, "--namespace", "e2e", ...args], runOptions);
            const user = adminCreds();
            await ctr(["images", "pull", "--hosts-dir", hostsDir, "--user", user, "--snapshotter", "native", `${endpoint}/e2e/small:1`]);
            await ctr(["images", "tag", `${endpoint}/e2e/small:1`, `${endpoint}/e2e/ctr:1`]);
            await ctr(["images", "push", "--hosts-dir", hostsDir, "--user", user, `${endpoint}/e2e/ctr:1`]);
            const withoutCa = await ctr(["images", "pull", "--user", user, "--snapshotter", "native", `${endpoint}/e2e/small:1`], {
                allowFailure: true,
                timeoutMs: 60_000,
            });
            assert.notEqual(withoutCa.code, 0, "ctr trusted the registry without hosts.toml");
            const tags = await curl(["--cacert", join(work, "ca.crt"), "-u", user, `https://${endpoint}/v2/e2e/ctr/tags/list`]);
            assert.deepEqual(JSON.parse(tags.stdout).tags, ["1"]);
        });

        it("k3s registries.yaml and the imagePullSecret carry credentials and trust the registry accepts", async () => {
            const registries = parseYaml(snippets.k3s.files.find((f) => f.path.endsWith("registries.yaml"))!.content);
            const k3s = registries.configs[endpoint];
            const caFile = snippets.k3s.files.find((f) => f.path === k3s.tls.ca_file);
            assert.ok(caFile, "the CA file registries.yaml names is in the snippet");
            writeFileSync(join(work, "k3s-ca.crt"), caFile.content);
            const viaK3s = await curl([
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                join(work, "k3s-ca.crt"),
                "-u",
                `${k3s.auth.username}:${k3s.auth.password}`,
                `https://${endpoint}/v2/_catalog`,
            ]);
            assert.equal(viaK3s.stdout, "200");

            const secret = parseYaml(snippets.imagePullSecret);
            const auth = JSON.parse(Buffer.from(secret.data[".dockerconfigjson"], "base64").toString()).auths[endpoint].auth;
            const [user, ...password] = Buffer.from(auth, "base64").toString().split(":");
            const viaSecret = await curl([
                "-s",
                "--cacert",
                join(work, "ca.crt"),
                "-u",
                `${user}:${password.join(":")}`,
                `https://${endpoint}/v2/_catalog`,
            ]);
            const expected = [...Object.keys(options.images), "ctr", "skopeo"].map((repo) => `e2e/${repo}`).sort();
            assert.deepEqual(JSON.parse(viaSecret.stdout).repositories.sort(), expected);
        });

        it("a new user: no container is replaced, the edge's holders are, and the running edge lets the user in", async () => {
            const changed = await evaluateProgram({
                config: { ...config, users: ["admin", "ci", "release"] },
                previousState: declared.state,
            });
            assert.equal(changed.error, undefined, changed.error);
            for (const role of ["registry", "edge", "ui"])
                assert.deepEqual(
                    containerInputs(changed, `${PREFIX}-${role}`),
                    containerInputs(declared, `${PREFIX}-${role}`),
                    `${role} stays`,
                );
            const edgeId = (await docker(["inspect", "-f", "{{.Id}}", `${PREFIX}-edge`])).stdout.trim();
            // As pulumi up replaces them: the holders whose inputs changed, in declaration order (the plain manifest after the plain files).
            const before = new Map(containers(declared).map((c) => [c.inputs.name as string, JSON.stringify(c.inputs)]));
            const holders = containers(changed)
                .filter((c) => c.inputs.start === false && before.get(c.inputs.name as string) !== JSON.stringify(c.inputs))
                .map((c) => c.inputs.name as string);
            assert.deepEqual(
                [...holders].sort(),
                [`${PREFIX}-edge-files-manifest`, `${PREFIX}-edge-files-push-users`, `${PREFIX}-edge-secrets`],
                "the push users, the plain manifest and the secret files",
            );
            for (const holder of holders) await replaceHolder(dockerd, changed, holder, work);
            const release = (changed.outputs.credentials.value as Credential[]).find((c) => c.username === "release")!;
            await waitFor(
                "the release user let in",
                async () => (await status(`https://${endpoint}/v2/`, ["-u", `${release.username}:${release.password}`])) === "200",
                20_000,
                250,
            );
            assert.equal((await docker(["inspect", "-f", "{{.Id}}", `${PREFIX}-edge`])).stdout.trim(), edgeId, "the same edge container");
            declared = changed;
        });

        it("keeps every image and digest when a new image replaces the registry container", async () => {
            // Another tag of the same major, as a version bump: the same stand-in under the new name.
            await docker(["tag", imageNames(declared)["registry-registry-image"], "registry:3.1.2"]);
            const changed = await evaluateProgram({
                config: { ...config, users: ["admin", "ci", "release"], images: { registry: "registry:3.1.2" } },
                previousState: declared.state,
            });
            assert.equal(changed.error, undefined, changed.error);
            const before = containerInputs(declared, `${PREFIX}-registry`);
            const after = containerInputs(changed, `${PREFIX}-registry`);
            assert.notEqual(after.image, before.image, "the new image replaces the container");
            assert.deepEqual(after.volumes, before.volumes, "the data volume stays the same");
            const inspect = async () =>
                (
                    await docker([
                        "inspect",
                        "-f",
                        `{{.Id}} {{with index .NetworkSettings.Networks "${PREFIX}"}}{{.IPAddress}}{{end}}`,
                        `${PREFIX}-registry`,
                    ])
                ).stdout
                    .trim()
                    .split(" ");
            const [oldId, oldAddress] = await inspect();
            // In bridge mode another container takes the freed address before the new registry
            // starts, so the edge reaches the new one only if it looks the name up again.
            const takeOldAddress = bridge
                ? async () => {
                      await docker([
                          "run",
                          "-d",
                          "--name",
                          `${PREFIX}-address-taker`,
                          "--network",
                          PREFIX,
                          "--entrypoint",
                          "sleep",
                          imageNames(declared)["registry-ui-image"],
                          "600",
                      ]);
                      const taken = (
                          await docker([
                              "inspect",
                              "-f",
                              `{{(index .NetworkSettings.Networks "${PREFIX}").IPAddress}}`,
                              `${PREFIX}-address-taker`,
                          ])
                      ).stdout.trim();
                      assert.equal(taken, oldAddress, "the placeholder got the old registry's address");
                  }
                : undefined;
            await replaceContainer(dockerd, changed, `${PREFIX}-registry`, work, takeOldAddress);
            const [newId, newAddress] = await inspect();
            assert.notEqual(newId, oldId, "the container was replaced");
            if (bridge) assert.notEqual(newAddress, oldAddress, "the new registry has a new address");

            const release = (changed.outputs.credentials.value as Credential[]).find((c) => c.username === "release")!;
            assert.equal(
                await status(`https://${endpoint}/v2/`, ["-u", `${release.username}:${release.password}`]),
                "200",
                "the edge reaches the new registry",
            );
            assert.ok(Object.keys(pushedDigests).length > 0, "nothing was pushed before the replacement");
            for (const [repo, digest] of Object.entries(pushedDigests)) {
                const head = await curl([
                    "-I",
                    "--cacert",
                    join(work, "ca.crt"),
                    "-u",
                    `${release.username}:${release.password}`,
                    "-H",
                    "Accept: application/vnd.docker.distribution.manifest.v2+json",
                    `https://${endpoint}/v2/e2e/${repo}/manifests/1`,
                ]);
                assert.match(head.stdout, new RegExp(`Docker-Content-Digest: ${digest}`, "i"), `${repo} lost its manifest`);
                await docker(["rmi", `${endpoint}/e2e/${repo}:1`]);
                await docker(["pull", `${endpoint}/e2e/${repo}@${digest}`], 900_000);
            }
        });

        it("the UI, in headless Chromium, lists the pushed repositories from its same-origin /v2/_catalog", async () => {
            const { chromium } = await import("playwright-core");
            const home = join(work, "chromium-home");
            const nssDb = join(home, ".pki/nssdb");
            mkdirSync(nssDb, { recursive: true });
            await client("certutil", ["-d", `sql:${nssDb}`, "-N", "--empty-password"]);
            await client("certutil", ["-d", `sql:${nssDb}`, "-A", "-t", "C,,", "-n", "private-registry-ca", "-i", join(work, "ca.crt")]);
            // Chromium reads the CA from $HOME/.pki/nssdb; every name but the registry's stays unresolved.
            const context = await chromium.launchPersistentContext(join(work, "chromium-profile"), {
                executablePath: namespace ? namespace.wrapper(work, "/usr/bin/chromium") : "/usr/bin/chromium",
                env: { ...process.env, HOME: home },
                httpCredentials: { username: admin.username, password: admin.password },
                args: [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-quic",
                    `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${NAME}`,
                ],
            });
            registerCleanup("close chromium", () => context.close());
            const page = await context.newPage();
            const catalog = page.waitForResponse(
                (response) =>
                    response.url() === `https://${endpoint}/v2/_catalog` || response.url().startsWith(`https://${endpoint}/v2/_catalog?`),
            );
            await page.goto(`https://${endpoint}/`);
            const response = await catalog;
            assert.equal(response.status(), 200);
            // joxit's own page (support/uiStandin.ts): one <catalog-element> per repository.
            await page.waitForSelector("catalog-element", { timeout: 15_000 });
            const listed = await page.locator("catalog-element").allTextContents();
            assert.ok(
                listed.some((text) => text.includes("e2e/small")),
                `the UI listed: ${listed.join(", ")}`,
            );
            await page.screenshot({ path: join(OUTPUT_DIR, bridge ? "ui-bridge.png" : "ui.png"), fullPage: true });
            await context.close();
        });

        it(`leaves nothing behind: dockerd and its containers stopped, their mounts gone${bridge ? ", the namespace deleted" : ""}`, async () => {
            await stopAndAssertNothingLeft(dockerd, work);
        });
    });
}
