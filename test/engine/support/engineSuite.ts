/**
 * The real Pulumi engine (built from source by scripts/build-engine.sh, see docs/real-engine.md)
 * deploys the dev stack's local mode to a dockerd this test starts: `pulumi up`, real clients
 * through it, `preview --expect-no-changes`, a config change that keeps the data volume, and
 * `destroy` leaving only the retained volume. One body, run once per container network:
 *
 * - `host`: the dockerd runs on this machine's network without a bridge; the name resolves to
 *   ::1 (dockerd skips TLS checks for 127.0.0.0/8 registries).
 * - `bridge` (the default): the dockerd runs in a network namespace the test creates, with a real
 *   bridge and iptables; the clients run in that namespace and reach the edge through its
 *   published ports, at NAMESPACE_SERVICE_ADDRESS (see scripts/lib/netns.ts for why that one).
 *   Pulumi itself needs no network: it talks to the dockerd over its unix socket.
 *
 * The bridge run then turns on what runs around the registry as a day-two change: `gc`,
 * `retention` (its regctl container deployed by the real Docker provider) and a webhook whose header
 * is a secret, heard by a receiver on the stack's network.
 *
 * Differences from the dev stack, each forced by this machine: the daemon's private socket, free
 * ports, the test's name and address. Images cannot be pulled: stand-ins are pre-tagged.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { rmSync, writeFileSync } from "fs";
import { join } from "path";
import type { ClientSnippet, ContainerdSnippet } from "../../../components/render/snippets/clientSnippets";
import { freePorts } from "../../../scripts/lib/loopbackServers";
import { createNetworkNamespace, NAMESPACE_SERVICE_ADDRESS, NetworkNamespace } from "../../../scripts/lib/netns";
import { makeTempDir, registerCleanup, run, RunOptions, runCleanups, waitFor } from "../../../scripts/lib/processes";
import { PrivateDockerd, stopAndAssertNothingLeft } from "../../e2e/support/dockerd";
import { addHostsEntry } from "../../e2e/support/hostsFile";
import { buildTestImage, buildWebhookReceiver } from "../../e2e/support/standins";
import { RETENTION_LOG_PREFIX } from "../../../components/render/retentionScript";
import { changedSteps, createEngineProject, EngineProject, startDockerdWithStandIns, devStackConfig } from "./engineProject";

const STACK = "engine";

interface StackOutputs {
    registryEndpoint: string;
    caCertificate: string;
    credentials: { username: string; password: string }[];
    clientSnippets: { docker: ClientSnippet; containerd: ContainerdSnippet };
}

export function describeEngineDeploy(network: "host" | "bridge"): void {
    const bridge = network === "bridge";
    const NAME = `registry-engine-${network}.test`;
    const PREFIX = `pr-engine-${network}`;

    describe(`the real Pulumi engine deploys the dev stack (local mode, ${network} networking)`, () => {
        let work: string;
        let engine: EngineProject;
        let namespace: NetworkNamespace | undefined;
        let dockerd: PrivateDockerd;
        let outputs: StackOutputs;
        let endpoint: string;
        let digest: string;

        const pulumi = (args: string[], options?: { allowFailure?: boolean; timeoutMs?: number }) => engine.pulumi(args, options);
        const docker = (args: string[], timeoutMs = 120_000) => dockerd.docker(args, { timeoutMs });
        const ours = async (list: string[]) =>
            (await docker(list)).stdout
                .split("\n")
                .filter((n) => n.startsWith(PREFIX))
                .sort();
        /** A client, run where the dockerd's network is (its namespace in bridge mode). */
        const client = (command: string, args: string[], options?: RunOptions) => dockerd.runClient(command, args, options);
        /** curl's status code for a URL through the edge; longer than nginx's 30 s resolver timeout, so a lost alias shows as the edge's drop (444, no status). */
        const status = async (url: string, args: string[] = []) =>
            (
                await client(
                    "curl",
                    ["-sS", "--max-time", "45", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", join(work, "ca.crt"), ...args, url],
                    { allowFailure: true },
                )
            ).stdout;

        before(async () => {
            work = makeTempDir("pr-eng-");
            const address = bridge ? NAMESPACE_SERVICE_ADDRESS : "::1";
            if (bridge) {
                namespace = await createNetworkNamespace("pr-engine");
                await namespace.run("ip", ["address", "add", `${NAMESPACE_SERVICE_ADDRESS}/32`, "dev", "lo"]);
            }
            dockerd = await startDockerdWithStandIns(work, { networkNamespace: namespace });
            addHostsEntry(address, NAME);
            engine = await createEngineProject({ stack: STACK, work });
            const [httpsPort, httpPort, uiPort, metricsPort] = await freePorts(4);
            const ports = { httpsPort, httpPort, ...(bridge ? {} : { uiPort, metricsPort }) };
            engine.setConfig({
                ...devStackConfig(),
                hostnames: [NAME],
                ipAddresses: [address],
                containerNetwork: network,
                dockerHost: dockerd.host,
                namePrefix: PREFIX,
                ...ports,
            });
        });

        after(async () => {
            await runCleanups();
        });

        it("pulumi up creates the stack", async () => {
            const up = await pulumi(["up", "--yes", "--skip-preview"]);
            assert.match(up.stdout, /Resources:\s*\n\s*\+ \d+ created/);
            outputs = JSON.parse((await pulumi(["stack", "output", "--json", "--show-secrets"])).stdout);
            endpoint = outputs.registryEndpoint;
            writeFileSync(join(work, "ca.crt"), outputs.caCertificate);
            assert.equal(endpoint, `${NAME}:${JSON.parse((await pulumi(["config", "get", "httpsPort"])).stdout)}`);
            const states = (await docker(["ps", "--format", "{{.Names}} {{.Status}}"])).stdout;
            for (const role of ["registry", "ui", "edge"]) assert.match(states, new RegExp(`^${PREFIX}-${role} Up`, "m"));
        });

        if (bridge) {
            it("bridge: the containers are on the stack's network under their aliases, and only the edge publishes ports", async () => {
                for (const role of ["registry", "ui", "edge"]) {
                    const container = JSON.parse((await docker(["inspect", `${PREFIX}-${role}`])).stdout)[0];
                    const networks = container.NetworkSettings.Networks as Record<string, { Aliases: string[] | null }>;
                    assert.deepEqual(Object.keys(networks), [PREFIX], `${role} is on ${Object.keys(networks).join(", ")}`);
                    assert.ok(
                        networks[PREFIX].Aliases?.includes(role),
                        `${role}'s aliases on ${PREFIX}: ${JSON.stringify(networks[PREFIX].Aliases)}`,
                    );
                    const published = Object.keys(container.HostConfig.PortBindings ?? {}).sort();
                    assert.deepEqual(published, role === "edge" ? ["443/tcp", "80/tcp"] : [], `${role} publishes ${published.join(", ")}`);
                }
                await namespace!.assertNoRouteOut();
            });
        }

        it("through the edge: /v2/ answers 401 without and 200 with credentials, the UI 200, redirects keep the published port", async () => {
            const [admin] = outputs.credentials;
            const creds = `${admin.username}:${admin.password}`;
            assert.equal(await status(`https://${endpoint}/v2/`), "401");
            assert.equal(await status(`https://${endpoint}/v2/`, ["-u", creds]), "200");
            assert.equal(await status(`https://${endpoint}/`), "200");
            const redirect = await client("curl", ["-sS", "-i", "--cacert", join(work, "ca.crt"), "-u", creds, `https://${endpoint}/v2`]);
            const location = /^location: (\S+)/im.exec(redirect.stdout)?.[1] ?? assert.fail(redirect.stdout);
            assert.equal(new URL(location, `https://${endpoint}/v2`).href, `https://${endpoint}/v2/`, `GET /v2 redirects to ${location}`);
        });

        it("real clients use the deployed stack's snippets: docker push and pull, ctr pull", async () => {
            const [admin] = outputs.credentials;
            const certsDir = `/etc/docker/certs.d/${endpoint}`;
            const removeCertsDir = () => rmSync(certsDir, { recursive: true, force: true });
            registerCleanup(`remove ${certsDir}`, removeCertsDir, removeCertsDir);
            writeFileSync(join(work, "docker.sh"), outputs.clientSnippets.docker.script);
            await client("sh", [join(work, "docker.sh")], { env: dockerd.env, input: admin.password, timeoutMs: 60_000 });
            const image = await buildTestImage(dockerd, `${endpoint}/engine/hello:1`, 8 * 1024 * 1024, join(work, "images"));
            const push = await docker(["push", image.name], 300_000);
            digest = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1] ?? assert.fail(push.stdout);
            await docker(["rmi", image.name]);
            await docker(["pull", image.name], 300_000);

            const root = join(work, "containerd-root");
            writeFileSync(join(work, "containerd.sh"), outputs.clientSnippets.containerd.script);
            await run("sh", [join(work, "containerd.sh")], { env: { ...process.env, ROOT: root } });
            await client(
                "ctr",
                [
                    "--address",
                    dockerd.containerdSocket,
                    "--namespace",
                    "engine",
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
        });

        it("pulumi preview --expect-no-changes passes right after up", async () => {
            const preview = await pulumi(["preview", "--expect-no-changes", "--diff"], { allowFailure: true });
            assert.equal(preview.code, 0, `a second run would change something:\n${preview.stdout}${preview.stderr}`);
        });

        it("adding a user replaces only the edge's file holders: the registry and the edge keep running, the new user logs in", async () => {
            engine.setConfig({ users: ["admin", "ci"] });
            const changed = changedSteps((await pulumi(["preview", "--json"])).stdout);
            assert.ok(!changed.some((c) => c.endsWith("registry-registry-data")), `the data volume would change: ${changed.join(", ")}`);
            assert.ok(changed.includes("create registry-credentials-ci"), changed.join(", "));
            assert.deepEqual(
                changed.filter((c) => /^(replace|create-replacement) /.test(c)),
                ["replace registry-edge-files-manifest", "replace registry-edge-files-push-users", "replace registry-edge-secrets"],
                changed.join(", "),
            );
            const containerId = async (role: string) => (await docker(["inspect", "-f", "{{.Id}}", `${PREFIX}-${role}`])).stdout.trim();
            const before = { registry: await containerId("registry"), edge: await containerId("edge") };
            await pulumi(["up", "--yes", "--skip-preview"]);
            assert.deepEqual({ registry: await containerId("registry"), edge: await containerId("edge") }, before, "no service restarted");
            const ci = (
                JSON.parse(
                    (await pulumi(["stack", "output", "credentials", "--json", "--show-secrets"])).stdout,
                ) as StackOutputs["credentials"]
            ).find((c) => c.username === "ci");
            assert.ok(ci);
            // The edge takes the new set within a second or two of the holders' replacement.
            await waitFor(
                "the edge to let ci in",
                async () => (await status(`https://${endpoint}/v2/`, ["-u", `${ci.username}:${ci.password}`])) === "200",
                30_000,
                250,
            );
            const manifest = await client("curl", [
                "-sS",
                "-I",
                "--cacert",
                join(work, "ca.crt"),
                "-u",
                `${ci.username}:${ci.password}`,
                "-H",
                "Accept: application/vnd.docker.distribution.manifest.v2+json",
                `https://${endpoint}/v2/engine/hello/manifests/1`,
            ]);
            assert.match(manifest.stdout, new RegExp(`docker-content-digest: ${digest}`, "i"), "the pushed image is still there");
        });

        if (bridge) {
            it("a day-two change turns on gc, retention and a webhook with a secret header: readable in the preview without the header, deployed, heard, and no perpetual diff", async () => {
                const token = "Bearer engine-hook-Token-5";
                const receiver = `${PREFIX}-receiver`;
                await buildWebhookReceiver(dockerd, "pr-engine-receiver:1", join(work, "receiver"));
                await docker(["run", "-d", "--name", receiver, "--network", PREFIX, "--network-alias", "receiver", "pr-engine-receiver:1"]);
                registerCleanup(`remove ${receiver}`, async () => {
                    await dockerd.docker(["rm", "-f", receiver], { allowFailure: true });
                });
                engine.setConfig({
                    deleteEnabled: true,
                    gc: { schedule: "@every 1h" },
                    retention: [{ repositories: "engine/**", keepLast: 0 }],
                    notifications: [{ url: "http://receiver:8080/cgi-bin/events" }],
                });
                await pulumi(["config", "set", "--secret", "--path", "private-registry:notifications[0].headers.Authorization", token]);

                const preview = await pulumi(["preview", "--diff", "--color", "never"]);
                assert.doesNotMatch(preview.stdout + preview.stderr, /engine-hook-Token-5/, "the header's value is nowhere in the preview");
                // As a YAML diff when the engine pairs config.yml with its old self, else as its new lines (reviewingDoc.ts).
                assert.match(preview.stdout, /\+ notifications\s*: \{|^\s+\+\s+notifications:$/m, "config.yml's new section, readable");
                assert.match(preview.stdout, /url\s*: "?http:\/\/receiver:8080\/cgi-bin\/events/);
                assert.match(preview.stdout, /\+ docker:index\/container:Container: \(create\)\n\s+\[urn=[^\]]*::registry-retention\]/);
                const changed = changedSteps((await pulumi(["preview", "--json"])).stdout);
                assert.ok(
                    !changed.some((c) => c.endsWith("registry-registry-data")),
                    `the data volume would change: ${changed.join(", ")}`,
                );

                await pulumi(["up", "--yes", "--skip-preview"]);
                const job = JSON.parse((await docker(["inspect", `${PREFIX}-retention`])).stdout)[0];
                assert.equal(job.HostConfig.NetworkMode, "host");
                assert.deepEqual(job.HostConfig.ExtraHosts, [`${NAME}:127.0.0.1`], "the registry's name pinned to the host");
                assert.deepEqual(job.HostConfig.PortBindings ?? {}, {}, "it publishes nothing");
                // The header reaches the registry's processes from its set's secret environment file, not the container's.
                const environment = (await docker(["exec", `${PREFIX}-registry`, "cat", "/etc/private-registry/secrets/environment"]))
                    .stdout;
                assert.ok(
                    environment.includes(`REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS='{"Authorization":["${token}"]}'`),
                    "the header in the set's environment",
                );
                const state = (await pulumi(["stack", "export"])).stdout;
                assert.doesNotMatch(state, /engine-hook-Token-5/, "the header is encrypted in the state");

                // The retention job reaches the registry through the edge: its dry run sees the pushed image.
                const dry = await docker(["exec", `${PREFIX}-retention`, "sh", "/etc/retention/retention.sh", "--dry-run"]);
                assert.match(
                    dry.stdout,
                    new RegExp(`${RETENTION_LOG_PREFIX} would delete ${endpoint}/engine/hello@${digest} \\(tags: 1\\)`),
                );
                assert.match(dry.stdout, /dry run done: 1 tags would go, 0 kept, 0 repositories skipped/);

                // A push is heard, with the header.
                await docker(["tag", `${endpoint}/engine/hello:1`, `${endpoint}/engine/hello:2`]);
                await docker(["push", `${endpoint}/engine/hello:2`], 300_000);
                await waitFor(
                    "the push at the receiver",
                    async () =>
                        (await docker(["exec", receiver, "sh", "-c", "cat /events/*.json 2>/dev/null || true"])).stdout.match(
                            /"tag":\s*"2"/,
                        ) !== null,
                    60_000,
                    500,
                );
                const headers = (await docker(["exec", receiver, "sh", "-c", "cat /events/*.authorization"])).stdout;
                assert.ok(headers.includes(token), "the header reached the receiver");

                const again = await pulumi(["preview", "--expect-no-changes", "--diff"], { allowFailure: true });
                assert.equal(again.code, 0, `a second run would change something:\n${again.stdout}${again.stderr}`);
                await docker(["rm", "-f", receiver]);
            });
        }

        it("pulumi destroy removes everything but the retained data volume", async () => {
            await pulumi(["destroy", "--yes"]);
            assert.deepEqual(await ours(["ps", "-a", "--format", "{{.Names}}"]), []);
            assert.deepEqual(await ours(["volume", "ls", "--format", "{{.Name}}"]), [`${PREFIX}-data`]);
            if (bridge) assert.deepEqual(await ours(["network", "ls", "--format", "{{.Name}}"]), [], "the stack's network is gone");
        });

        it(`leaves nothing behind: dockerd and its containers stopped, their mounts gone${bridge ? ", the namespace deleted" : ""}`, async () => {
            await stopAndAssertNothingLeft(dockerd, work);
        });
    });
}
