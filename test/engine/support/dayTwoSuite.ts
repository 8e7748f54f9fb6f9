/**
 * Day-two changes under the real engine, with clients that never notice: the dev stack (local
 * mode, with the pull-through mirror) deployed once per container network to a private dockerd,
 * then each change a user makes, one `pulumi up` each, while a continuous load of pulls and pushes
 * as both roles runs against it (scripts/lib/registryLoad.ts, in the clients' network): a new
 * user, a rotated password, a removed user, a renewed certificate (inside its window), a new
 * hostname, `deleteEnabled`, the collection schedule, the mirror's upstream. At each `pulumi up`
 * a big blob pull (256 MiB, read slowly) and a chunked push are in flight, and must complete
 * whole; not one registry or mirror request of the load may fail (each step says how many were
 * made, and fails on one); a removed user or an old password is refused within seconds of `pulumi
 * up` ending. The UI's page is loaded too and counted apart: `deleteEnabled` restarts the UI
 * container (docs/operations.md). Last (host networking), what still restarts a service is
 * measured: a new image for the registry and for the edge.
 *
 * The mirror's upstreams are two test registries over TLS (their CA baked into the registry
 * stand-in, as an operator's image trusts its upstream), each holding `library/seed:1`; the
 * mirror's settings change from one to the other.
 *
 * The table of every step (change, `pulumi up` time, requests, failures, longest time without a
 * successful request) is printed at the end, for docs/operations.md.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { X509Certificate } from "crypto";
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { stringify } from "yaml";
import { freePorts, REGISTRY } from "../../../scripts/lib/loopbackServers";
import { issueTestCertificates } from "../../../scripts/lib/program/fakeProviders";
import { Daemon, makeTempDir, runCleanups, startDaemon, waitFor } from "../../../scripts/lib/processes";
import { LoadConfig, readLoadLog, windowStats } from "../../../scripts/lib/registryLoad";
import { createNetworkNamespace, NAMESPACE_SERVICE_ADDRESS, NetworkNamespace } from "../../../scripts/lib/netns";
import { writeOciLayout } from "../../support/ociLayout";
import { PrivateDockerd, stopAndAssertNothingLeft } from "../../e2e/support/dockerd";
import { addHostsEntry } from "../../e2e/support/hostsFile";
import { DEFAULT_IMAGES } from "../../../components/config/keys";
import { createEngineProject, EngineProject, startDockerdWithStandIns, updateRecord, devStackConfig } from "./engineProject";

const ROOT = resolve(__dirname, "../../..");
/** The services' containers: a step that replaces one restarts it. */
const SERVICES = ["registry-registry", "registry-edge", "registry-ui", "registry-mirror"];
/** What the load's log counts for the registry and the mirror (the UI's page apart). */
const API = (kind: string) => kind !== "ui";

export interface DayTwoRow {
    change: string;
    upSeconds: number;
    requests: number;
    failures: number;
    longestGapSeconds: number;
    uiRequests: number;
    uiFailures: number;
    /** Service containers the `pulumi up` replaced: a restart. */
    restarted: string[];
    /** Seconds from `pulumi up`'s end until the change was seen by a client (a refused password, a new certificate...). */
    seenAfterSeconds: number;
    /** The big pull and the chunked push in flight when `pulumi up` started: `whole` or `cut`. */
    transfers: string[];
}

interface Outputs {
    registryEndpoint: string;
    mirrorEndpoint: string;
    caCertificate: string;
    credentials: { username: string; password: string; role: string }[];
}

export function describeDayTwo(network: "host" | "bridge"): void {
    const bridge = network === "bridge";
    const NAME = `registry-day2-${network}.test`;
    const SECOND_NAME = `registry-day2-${network}-alt.test`;
    const PREFIX = `pr-day2-${network}`;

    describe(`day-two changes under load: no request failed, no transfer cut (real engine, ${network} networking)`, () => {
        let work: string;
        let namespace: NetworkNamespace | undefined;
        let dockerd: PrivateDockerd;
        let engine: EngineProject;
        let address: string;
        let outputs: Outputs;
        let load: Daemon;
        let loadConfig: LoadConfig;
        let hubs: string[];
        let mirrorPort: number;
        const rows: DayTwoRow[] = [];
        const pulumi = (args: string[], options?: { allowFailure?: boolean; timeoutMs?: number }) => engine.pulumi(args, options);
        const docker = (args: string[]) => dockerd.docker(args, { timeoutMs: 120_000 });
        const client = (command: string, args: string[]) => dockerd.runClient(command, args, { allowFailure: true, timeoutMs: 60_000 });
        const control = (value: { hold: boolean; stop?: boolean }) => writeFileSync(loadConfig.controlFile, JSON.stringify(value));
        const events = () => readLoadLog(loadConfig.logFile);
        const credential = (username: string) => outputs.credentials.find((c) => c.username === username) ?? assert.fail(`no ${username}`);
        const readOutputs = async () => {
            outputs = JSON.parse((await pulumi(["stack", "output", "--json", "--show-secrets"])).stdout);
        };
        /** curl's status for `path` at the registry's endpoint, as `user:password`. */
        const status = async (auth: string, method = "GET", path = "/v2/") =>
            (
                await client("curl", [
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "20",
                    "--cacert",
                    join(work, "ca.crt"),
                    "-u",
                    auth,
                    "-X",
                    method,
                    `https://${outputs.registryEndpoint}${path}`,
                ])
            ).stdout;
        /** The certificate the edge serves to a new connection for `name`. */
        const served = async (name = NAME) => {
            const handshake = await client("openssl", [
                "s_client",
                "-connect",
                `${address.includes(":") ? `[${address}]` : address}:${outputs.registryEndpoint.split(":")[1]}`,
                "-servername",
                name,
            ]);
            const pem =
                /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(handshake.stdout)?.[0] ?? assert.fail(handshake.stderr);
            return new X509Certificate(pem);
        };
        const containerId = async (role: string) => (await docker(["inspect", "-f", "{{.Id}}", `${PREFIX}-${role}`])).stdout.trim();

        /** A test registry over TLS, the mirror's upstream, holding `library/seed:1`; its URL. */
        async function startHub(name: string, port: number, pki: ReturnType<typeof issueTestCertificates>): Promise<string> {
            const dir = join(work, name);
            mkdirSync(dir);
            writeFileSync(join(dir, "server.crt"), pki.certificatePem);
            writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
            const listen = bridge ? `0.0.0.0:${port}` : `127.0.0.1:${port}`;
            writeFileSync(
                join(dir, "config.yml"),
                stringify({
                    version: 0.1,
                    storage: { filesystem: { rootdirectory: join(dir, "data") } },
                    http: { addr: listen, tls: { certificate: join(dir, "server.crt"), key: join(dir, "server.key") } },
                }),
            );
            const command = namespace
                ? namespace.command(REGISTRY, ["serve", join(dir, "config.yml")])
                : { command: REGISTRY, args: ["serve", join(dir, "config.yml")] };
            startDaemon(name, command.command, command.args, { logFile: join(dir, "registry.log") });
            const hubAddress = bridge ? NAMESPACE_SERVICE_ADDRESS : "127.0.0.1";
            const caDir = join(work, "hub-ca");
            await waitFor(
                `${name} over TLS`,
                async () =>
                    (await client("curl", ["-s", "--cacert", join(caDir, "ca.crt"), `https://${hubAddress}:${port}/v2/`])).stdout === "{}",
                30_000,
                200,
            );
            const layout = join(work, `${name}-layout`);
            writeOciLayout(layout, `served through the mirror from ${name}\n`);
            const copied = await client("skopeo", [
                "copy",
                "--quiet",
                "--dest-cert-dir",
                caDir,
                `oci:${layout}:1`,
                `docker://${hubAddress}:${port}/library/seed:1`,
            ]);
            assert.equal(copied.code, 0, copied.stderr);
            return `https://${hubAddress}:${port}`;
        }

        /**
         * One change: `apply` edits the config (or the state), then, with a big pull and a chunked
         * push in flight, `pulumi up`; `seen` says when a client sees the change; then the
         * transfers finish. Records the row and checks it.
         */
        async function step(
            change: string,
            apply: () => Promise<void> | void,
            seen: () => Promise<boolean>,
            expectRestart: string[] = [],
        ): Promise<DayTwoRow> {
            await apply();
            const holdFrom = Date.now();
            control({ hold: true });
            const inFlight = (kind: string) =>
                events().some((e) => e.type === "transfer" && e.kind === kind && e.phase === "progress" && e.t >= holdFrom);
            await waitFor(
                `${change}: a big pull and a chunked push in flight`,
                async () => inFlight("big-pull") && inFlight("chunked-push"),
                120_000,
                200,
            );
            const from = Date.now();
            const up = updateRecord((await pulumi(["up", "--yes", "--skip-preview", "--json"], { timeoutMs: 900_000 })).stdout);
            const upEnded = Date.now();
            assert.equal(up.result, "succeeded", change);
            await waitFor(`${change}: seen by a client`, seen, 60_000, 250);
            const seenAt = Date.now();
            control({ hold: false });
            // Logged once ended, whole or cut: while held, neither ends on its own.
            const done = (kind: string) => events().some((e) => e.type === "request" && e.kind === kind && e.t0 >= holdFrom);
            await waitFor(`${change}: the transfers in flight done`, async () => done("big-pull") && done("chunked-push"), 300_000, 250);
            const to = Date.now();
            const all = events();
            const api = windowStats(all, from, to, API);
            const ui = windowStats(all, from, to, (kind) => kind === "ui");
            const restarted = [...new Set(up.steps.map((s) => s.split(" ")[1]).filter((name) => SERVICES.includes(name)))].sort();
            const transfers = all
                .filter((e) => e.type === "request" && ["big-pull", "chunked-push"].includes(e.kind) && e.t0 >= holdFrom)
                .map((t) => `${t.type === "request" ? t.kind : ""} ${t.type === "request" && t.ok ? "whole" : "cut"}`)
                .sort();
            const row: DayTwoRow = {
                change,
                upSeconds: (upEnded - from) / 1000,
                requests: api.requests,
                failures: api.failures,
                longestGapSeconds: api.longestGapSeconds,
                uiRequests: ui.requests,
                uiFailures: ui.failures,
                restarted,
                seenAfterSeconds: Math.max(0, (seenAt - upEnded) / 1000),
                transfers,
            };
            rows.push(row);
            process.stdout.write(`# ${network}: ${JSON.stringify(row)}\n`);
            assert.deepEqual(restarted, expectRestart, `${change}: services replaced (${up.steps.join(", ")})`);
            // A registry or edge restart is measured, not held to this (docs/operations.md).
            if (!expectRestart.some((name) => name === "registry-registry" || name === "registry-edge"))
                assert.deepEqual(
                    transfers,
                    ["big-pull whole", "chunked-push whole"],
                    `${change}: the transfers in flight when pulumi up started`,
                );
            return row;
        }
        /** A step that must leave every registry and mirror request answered. */
        const noFailure = (row: DayTwoRow) => {
            assert.ok(row.requests >= 50, `${row.change}: the load ran (${row.requests} requests)`);
            assert.equal(row.failures, 0, `${row.change}: ${JSON.stringify(windowStats(events(), 0, Date.now(), API).failed)}`);
        };

        before(async () => {
            work = makeTempDir("pr-day2-");
            address = bridge ? NAMESPACE_SERVICE_ADDRESS : "::1";
            if (bridge) {
                namespace = await createNetworkNamespace("pr-day2");
                await namespace.run("ip", ["address", "add", `${NAMESPACE_SERVICE_ADDRESS}/32`, "dev", "lo"]);
            }
            const hubPki = issueTestCertificates(["hub.test"], [bridge ? NAMESPACE_SERVICE_ADDRESS : "127.0.0.1"]);
            mkdirSync(join(work, "hub-ca"));
            writeFileSync(join(work, "hub-ca", "ca.crt"), hubPki.caPem);
            dockerd = await startDockerdWithStandIns(work, { networkNamespace: namespace }, { extraRootsPem: hubPki.caPem });
            addHostsEntry(address, NAME);
            const [httpsPort, httpPort, uiPort, metricsPort, mirror, hubA, hubB] = await freePorts(7);
            mirrorPort = mirror;
            hubs = [await startHub("hub-a", hubA, hubPki), await startHub("hub-b", hubB, hubPki)];
            engine = await createEngineProject({ stack: "day2", work });
            engine.setConfig({
                ...devStackConfig(),
                hostnames: [NAME],
                ipAddresses: [address],
                containerNetwork: network,
                dockerHost: dockerd.host,
                namePrefix: PREFIX,
                httpsPort,
                httpPort,
                users: ["admin", { name: "node", role: "pull" }],
                mirror: { upstream: hubs[0], httpsPort: mirrorPort },
                ...(bridge ? {} : { uiPort, metricsPort }),
            });
            const up = await pulumi(["up", "--yes", "--skip-preview"], { timeoutMs: 900_000 });
            assert.match(up.stdout, /Resources:\s*\n\s*\+ \d+ created/);
            await readOutputs();
            writeFileSync(join(work, "ca.crt"), outputs.caCertificate);

            loadConfig = {
                endpoint: outputs.registryEndpoint,
                connectTo: address,
                caFile: join(work, "ca.crt"),
                push: { username: "admin", password: credential("admin").password },
                pull: { username: "node", password: credential("node").password },
                repository: "load/app",
                bigBlobBytes: 256 * 1024 * 1024,
                mirrorEndpoint: outputs.mirrorEndpoint,
                mirrorImage: "library/seed:1",
                ui: true,
                controlFile: join(work, "load-control.json"),
                logFile: join(work, "load.jsonl"),
            };
            writeFileSync(loadConfig.controlFile, JSON.stringify({ hold: false }));
            const command = [process.execPath, "--import", "tsx", join(ROOT, "scripts/lib/registryLoad.ts"), JSON.stringify(loadConfig)];
            const inNamespace = namespace
                ? namespace.command(command[0], command.slice(1))
                : { command: command[0], args: command.slice(1) };
            load = startDaemon("registry load", inNamespace.command, inNamespace.args, { logFile: join(work, "load.log"), cwd: ROOT });
            await waitFor("the load's seed pushed (256 MiB)", async () => events().some((e) => e.type === "ready"), 600_000, 500).catch(
                (error) => {
                    throw new Error(`${error}\n${readFileSync(load.logFile, "utf8")}`);
                },
            );
        });

        after(async () => {
            await runCleanups();
        });

        it("a new push user: it pushes at once; no request of the load failed", async () => {
            const users = ["admin", { name: "node", role: "pull" }, "ci"];
            const row = await step(
                "add a user",
                () => engine.setConfig({ users }),
                async () => {
                    await readOutputs();
                    return (await status(`ci:${credential("ci").password}`, "POST", "/v2/load/ci/blobs/uploads/")) === "202";
                },
            );
            noFailure(row);
        });

        it("a rotated password: the old one is refused within seconds of pulumi up ending, the new one works", async () => {
            const old = credential("ci").password;
            const row = await step(
                "rotate a password",
                () => engine.setConfig({ passwordRotation: { ci: "1" } }),
                async () => {
                    await readOutputs();
                    return (await status(`ci:${old}`)) === "401" && (await status(`ci:${credential("ci").password}`)) === "200";
                },
            );
            noFailure(row);
            assert.ok(row.seenAfterSeconds < 10, `refused ${row.seenAfterSeconds} s after pulumi up ended`);
        });

        it("a removed user: refused within seconds of pulumi up ending", async () => {
            const old = credential("ci").password;
            const row = await step(
                "remove a user",
                () => engine.setConfig({ users: ["admin", { name: "node", role: "pull" }], passwordRotation: {} }),
                async () => (await status(`ci:${old}`)) === "401",
            );
            noFailure(row);
            assert.ok(row.seenAfterSeconds < 10, `refused ${row.seenAfterSeconds} s after pulumi up ended`);
        });

        it("the certificate renewed inside its window: new connections get the new one", async () => {
            const before = (await served()).serialNumber;
            const row = await step(
                "renew the certificate",
                async () => {
                    // 10 days left, inside certificateRenewBeforeDays (30): as if time had passed.
                    const state = JSON.parse((await pulumi(["stack", "export"])).stdout);
                    const [certificate] = state.deployment.resources.filter(
                        (r: { type: string }) => r.type === "tls:index/locallySignedCert:LocallySignedCert",
                    );
                    certificate.outputs.validityEndTime = new Date(Date.now() + 10 * 86_400_000).toISOString();
                    writeFileSync(join(work, "state-renewal.json"), JSON.stringify(state));
                    await pulumi(["stack", "import", "--file", join(work, "state-renewal.json")]);
                },
                async () => (await served()).serialNumber !== before,
            );
            noFailure(row);
        });

        it("a new hostname: the certificate names it on the next connection", async () => {
            const row = await step(
                "add a hostname",
                () => engine.setConfig({ hostnames: [NAME, SECOND_NAME] }),
                async () => (await served(SECOND_NAME)).checkHost(SECOND_NAME) !== undefined,
            );
            noFailure(row);
        });

        it("deleteEnabled: the registry hands over to a process that takes deletes (the UI restarts, its page apart)", async () => {
            const unknown = `/v2/load/app/manifests/sha256:${"0".repeat(64)}`;
            const admin = `admin:${credential("admin").password}`;
            assert.equal(await status(admin, "DELETE", unknown), "405", "deletes off");
            const row = await step(
                "deleteEnabled: true",
                () => engine.setConfig({ deleteEnabled: true }),
                async () => (await status(admin, "DELETE", unknown)) === "404",
                ["registry-ui"],
            );
            noFailure(row);
        });

        it("a collection schedule: the registry takes it without a handover", async () => {
            const registryLog = async () => (await docker(["logs", `${PREFIX}-registry`])).stdout;
            const setsTaken = async () => ((await registryLog()).match(/ set \S+ taken$/gm) ?? []).length;
            const taken = await setsTaken();
            const row = await step(
                "gc schedule",
                // Sundays 04:30 UTC: set, but not due while the test runs.
                () => engine.setConfig({ gc: { schedule: "30 4 * * 0" } }),
                async () => (await setsTaken()) > taken,
            );
            noFailure(row);
        });

        it("the mirror's upstream: the mirror hands over to a process pulling from the new one", async () => {
            const mirrorLog = async () => (await docker(["logs", `${PREFIX}-mirror`])).stdout;
            const serving = (await mirrorLog()).split("serving set").length;
            const row = await step(
                "mirror upstream",
                () => engine.setConfig({ mirror: { upstream: hubs[1], httpsPort: mirrorPort } }),
                async () => (await mirrorLog()).split("serving set").length > serving,
            );
            noFailure(row);
            assert.ok((row.requests ?? 0) > 0);
            assert.ok(windowStats(events(), 0, Date.now(), (k) => k === "mirror").requests > 100, "the mirror was asked all along");
        });

        if (!bridge) {
            it("what still restarts, measured: a new registry image, then a new edge image", async () => {
                const images: Record<string, string> = {};
                for (const role of ["registry", "edge"] as const) {
                    // Another image under another tag of the same major (the registry's tag tells its version).
                    const bumped = role === "registry" ? "registry:3.1.2" : "nginx:1.28.1-alpine";
                    await docker(["create", "--name", `${PREFIX}-bump`, DEFAULT_IMAGES[role]]);
                    await docker(["commit", "--change", "LABEL private-registry.test=bumped", `${PREFIX}-bump`, bumped]);
                    await docker(["rm", `${PREFIX}-bump`]);
                    const before = await containerId(role);
                    images[role] = bumped;
                    const row = await step(
                        `${role} image`,
                        () => engine.setConfig({ images: { ...images } }),
                        async () => (await containerId(role)) !== before,
                        [`registry-${role}`],
                    );
                    // Measured, not required to be zero: what a restart costs clients (docs/operations.md).
                    assert.ok(row.requests > 0);
                }
            });
        }

        it("prints the table; no perpetual diff after all of it", async () => {
            process.stdout.write(`# ${network} table:\n`);
            for (const row of rows)
                process.stdout.write(
                    `# | ${row.change} | ${row.upSeconds.toFixed(1)} s | ${row.requests} | ${row.failures} | ${row.longestGapSeconds.toFixed(2)} s | ${row.transfers.join(", ")} | ui ${row.uiFailures}/${row.uiRequests} | ${row.restarted.join(" ") || "—"} | seen +${row.seenAfterSeconds.toFixed(1)} s |\n`,
                );
            const preview = await pulumi(["preview", "--expect-no-changes", "--diff"], { allowFailure: true });
            assert.equal(preview.code, 0, `a second run would change something:\n${preview.stdout}${preview.stderr}`);
            control({ hold: false, stop: true });
            let code: number | null | undefined;
            void load.exited.then((c) => (code = c));
            await waitFor("the load to stop", async () => code !== undefined, 120_000, 200);
            assert.equal(code, 0, readFileSync(load.logFile, "utf8"));
        });

        it("pulumi destroy, and nothing left behind", async () => {
            await pulumi(["destroy", "--yes"], { timeoutMs: 900_000 });
            await stopAndAssertNothingLeft(dockerd, work);
        });
    });
}
