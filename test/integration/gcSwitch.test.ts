/**
 * The gc supervisor's switches, behind the edge: the rendered supervisor (run by busybox's sh, as
 * in the official image and the stand-ins) serving Debian's Distribution 2.8 on the Unix sockets
 * the stack uses, and two Debian nginx edges rendered from edgeConfig.ts in front of them, both
 * under continuous requests (GET and HEAD, which the read-only registry answers, and upload
 * POSTs, which it refuses with 405) across several collections:
 *
 * - the edge as rendered with `gc` (the read-only socket its `backup` server, `max_fails=0`)
 *   answers every request from one registry or the other: never a 502, never a dropped request;
 * - the same edge without the backup line, under the same load, does drop requests (the edge's
 *   444 for an unreachable registry: no status, curl's 000) while the normal registry is
 *   stopped: the load reaches the switch, so the first edge's zero means something;
 * - a registry killed with SIGKILL (no unlink) leaves its socket file behind: the supervisor
 *   starts again over it, and the next collection is as seamless.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { BACKUP_UPSTREAM_KEEPALIVE_SECONDS } from "../../components/render/edgeUpstreams";
import { GC_LOG_PREFIX, renderGcSupervisor } from "../../components/render/gcSupervisor";
import { bcryptWithSalt, renderHtpasswd } from "../../components/render/htpasswd";
import { renderRegistryConfig } from "../../components/render/registryConfig";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import { freePorts, loopbackEdgeInput, REGISTRY, startNginx } from "../../scripts/lib/loopbackServers";
import { writeOciLayout } from "../support/ociLayout";
import { Daemon, killGroup, makeTempDir, run, runCleanups, sleep, startDaemon, waitFor } from "../../scripts/lib/processes";

const PASSWORD = "gc-switch-password";
const CREDS = `admin:${PASSWORD}`;
const COLLECTION_EVERY_SECONDS = 5;

interface Edge {
    name: string;
    dir: string;
    httpsPort: number;
}

/** Statuses seen per kind of request, e.g. `{ "GET": {"200": 812}, "POST": {"202": 40, "405": 12} }`. */
type Tally = Record<string, Record<string, number>>;

describe("gc supervisor behind the rendered edge: no 502 across a switch", () => {
    let dir: string;
    let runDir: string;
    let dataDir: string;
    let script: string;
    let binDir: string;
    let supervisor: Daemon;
    let withBackup: Edge;
    let withoutBackup: Edge;
    const socket = () => join(runDir, "registry.sock");
    const readOnlySocket = () => join(runDir, "registry-readonly.sock");
    const logFile = () => join(dir, "supervisor.log");
    const log = () => readFileSync(logFile(), "utf8");
    const count = (what: string) =>
        log()
            .split("\n")
            .filter((line) => line.includes(`${GC_LOG_PREFIX} ${what}`)).length;

    const startSupervisor = () => {
        supervisor = startDaemon("gc-supervisor", "/bin/busybox", ["sh", script], {
            logFile: logFile(),
            env: {
                ...process.env,
                PATH: `${binDir}:/usr/bin:/bin`,
                REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: dataDir,
                REGISTRY_HTTP_SECRET: "gc-switch-secret",
            },
        });
    };
    /** Every process of the killed supervisor's group gone (the registries' sockets and ports closed), as when Docker restarts a container. */
    const killedGroupGone = () =>
        waitFor(
            "the killed supervisor and its registries gone",
            async () => {
                try {
                    process.kill(-supervisor.pid, 0);
                    return false;
                } catch {
                    return true;
                }
            },
            10_000,
            50,
        );
    const url = (edge: Edge, path: string) => `https://127.0.0.1:${edge.httpsPort}${path}`;
    const curlStatuses = async (args: string[], urls: string[]) => {
        const result = await run(
            "curl",
            [
                "-s",
                "--cacert",
                join(dir, "ca.crt"),
                "-u",
                CREDS,
                "--max-time",
                "30",
                "-w",
                "%{http_code}\n",
                ...args,
                ...urls.flatMap((u) => ["-o", "/dev/null", u]),
            ],
            { allowFailure: true, timeoutMs: 60_000 },
        );
        return result.stdout.trim().split("\n").filter(Boolean);
    };
    const registryAnswers = (edge: Edge) =>
        waitFor(`the registry through ${edge.name}`, async () => (await curlStatuses([], [url(edge, "/v2/")]))[0] === "200", 20_000);

    /**
     * Requests through `edge` until stop() resolves its tally: GETs of /v2/ and a manifest, HEADs
     * of a blob (the read-only registry answers both), and upload POSTs (202, or 405 while read-only).
     */
    const startLoad = (edge: Edge, manifest: string, blob: string) => {
        const tally: Tally = {};
        let stopping = false;
        const record = (kind: string, statuses: string[]) => {
            for (const status of statuses) (tally[kind] ??= {})[status] = ((tally[kind] ??= {})[status] ?? 0) + 1;
        };
        const loop = async (kind: string, args: string[], urls: string[]) => {
            while (!stopping) record(kind, await curlStatuses(args, urls));
        };
        const accept = ["-H", "Accept: application/vnd.oci.image.manifest.v1+json"];
        const loops = [
            loop(
                "GET",
                accept,
                Array.from({ length: 10 }, (_, i) => url(edge, i % 2 === 0 ? "/v2/" : `/v2/team/keep/manifests/${manifest}`)),
            ),
            loop(
                "HEAD",
                ["-I"],
                Array.from({ length: 10 }, () => url(edge, `/v2/team/keep/blobs/${blob}`)),
            ),
            loop(
                "POST",
                ["-X", "POST"],
                Array.from({ length: 5 }, () => url(edge, "/v2/team/uploads/blobs/uploads/")),
            ),
        ];
        return {
            stop: async () => {
                stopping = true;
                await Promise.all(loops);
                return tally;
            },
        };
    };
    /** Both edges under load until `collections` more collections have ended; their tallies. */
    const acrossCollections = async (collections: number, manifest: string, blob: string) => {
        const doneBefore = count("done:");
        const loads = [startLoad(withBackup, manifest, blob), startLoad(withoutBackup, manifest, blob)];
        const stopped = () => Promise.all(loads.map((load) => load.stop()));
        try {
            await waitFor(`${collections} collections`, async () => count("done:") >= doneBefore + collections, 30_000 * collections, 200);
            await sleep(500);
        } catch (error) {
            await stopped();
            throw error;
        }
        const [backed, unbacked] = await stopped();
        return { backed, unbacked };
    };
    const statuses = (tally: Tally) =>
        Object.entries(tally)
            .flatMap(([kind, counts]) => Object.keys(counts).map((status) => `${kind} ${status}`))
            .sort();
    const total = (tally: Tally) =>
        Object.values(tally)
            .flatMap((counts) => Object.values(counts))
            .reduce((a, b) => a + b, 0);

    let manifest: string;
    let blob: string;

    before(async () => {
        dir = makeTempDir("pr-gc-switch-");
        chmodSync(dir, 0o755);
        runDir = join(dir, "run");
        mkdirSync(runDir, { mode: 0o755 });
        dataDir = join(dir, "data");
        mkdirSync(dataDir);
        const pki = issueTestCertificates(["registry.test"], ["127.0.0.1"]);
        writeFileSync(join(dir, "ca.crt"), pki.caPem);
        writeFileSync(
            join(dir, "htpasswd"),
            renderHtpasswd([{ username: "admin", bcryptHash: bcryptWithSalt(PASSWORD, "abcdefghijklmnopqrstuv") }]),
        );

        // As components/services/registry.ts renders them: the normal config with its debug
        // listener, the read-only one on its own socket without.
        const [metricsPort, ...edgePorts] = await freePorts(7);
        const configInput = {
            listenAddress: `unix:${socket()}`,
            htpasswdPath: join(dir, "htpasswd"),
            realm: "private-registry",
            deleteEnabled: true,
            debugAddress: `127.0.0.1:${metricsPort}`,
            distributionMajor: 2 as const,
        };
        writeFileSync(join(dir, "config.yml"), renderRegistryConfig(configInput));
        writeFileSync(
            join(dir, "config-readonly.yml"),
            renderRegistryConfig({ ...configInput, listenAddress: `unix:${readOnlySocket()}`, debugAddress: undefined, readOnly: true }),
        );
        script = join(dir, "gc-supervisor.sh");
        writeFileSync(
            script,
            renderGcSupervisor({
                configPath: join(dir, "config.yml"),
                socketPath: socket(),
                readOnlyConfigPath: join(dir, "config-readonly.yml"),
                readOnlySocketPath: readOnlySocket(),
                drainSeconds: BACKUP_UPSTREAM_KEEPALIVE_SECONDS + 1,
                dataDir,
                timing: { kind: "every", seconds: COLLECTION_EVERY_SECONDS },
                deleteUntagged: false,
            }),
        );
        // `registry` as the script finds it on PATH: Debian's 2.8, its collection slowed by 2 s so
        // the read-only window spans many requests (collecting one image takes milliseconds).
        binDir = join(dir, "bin");
        mkdirSync(binDir);
        writeFileSync(join(binDir, "registry"), `#!/bin/sh\n[ "$1" != garbage-collect ] || sleep 2\nexec ${REGISTRY} "$@"\n`);
        chmodSync(join(binDir, "registry"), 0o755);
        startSupervisor();

        const startEdge = async (name: string, ports: number[], backup: boolean): Promise<Edge> => {
            const edgeDir = join(dir, name);
            mkdirSync(join(edgeDir, "temp"), { recursive: true });
            writeFileSync(join(edgeDir, "server.crt"), pki.certificatePem);
            writeFileSync(join(edgeDir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
            const [httpsPort, httpPort, uiPort] = ports;
            const registry = { address: `unix:${socket()}`, ...(backup ? { backupAddress: `unix:${readOnlySocket()}` } : {}) };
            await startNginx(
                edgeDir,
                renderEdgeConfig(
                    loopbackEdgeInput(edgeDir, { serverNames: ["registry.test", "127.0.0.1"], httpsPort, httpPort, uiPort, registry }),
                ),
                httpPort,
            );
            return { name, dir: edgeDir, httpsPort };
        };
        withBackup = await startEdge("edge-with-backup", edgePorts.slice(0, 3), true);
        withoutBackup = await startEdge("edge-without-backup", edgePorts.slice(3, 6), false);
        assert.match(
            readFileSync(join(withBackup.dir, "nginx.conf"), "utf8"),
            /server unix:\S+\/registry-readonly\.sock backup max_fails=0;/,
        );
        await registryAnswers(withBackup);

        // One image, pushed through the edge, for the GETs and HEADs; its layer is the blob.
        const layout = join(dir, "keep");
        manifest = writeOciLayout(layout, "kept through every switch\n");
        let pushed = { code: -1, stderr: "" };
        for (let attempt = 0; attempt < 5 && pushed.code !== 0; attempt++) {
            // A collection may be under way (read-only): then the next attempt.
            if (attempt > 0) await sleep(2_000);
            pushed = await run(
                "skopeo",
                [
                    "copy",
                    "--quiet",
                    "--dest-cert-dir",
                    dir,
                    "--dest-creds",
                    CREDS,
                    `oci:${layout}:1`,
                    `docker://127.0.0.1:${withBackup.httpsPort}/team/keep:1`,
                ],
                { allowFailure: true, timeoutMs: 60_000 },
            );
        }
        assert.equal(pushed.code, 0, pushed.stderr);
        const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")).manifests[0].digest as string;
        assert.equal(index, manifest);
        blob = JSON.parse(readFileSync(join(layout, "blobs/sha256", manifest.slice(7)), "utf8")).layers[0].digest as string;
    });
    after(runCleanups);

    it("collects on schedule with both registries on their own sockets, the debug listener the normal one's alone", async () => {
        await waitFor("a collection", async () => count("done:") >= 1, 30_000);
        assert.equal(count("failed"), 0, log());
        assert.doesNotMatch(log(), /error listening on debug interface|address already in use/i);
        assert.ok(statSync(socket()).isSocket(), "the normal registry's socket is back");
        assert.ok(!existsSync(readOnlySocket()), "the read-only registry unlinked its socket on the way out");
    });

    it("across collections: the edge with the backup server never answers 502; the same edge without it does", async () => {
        const { backed, unbacked } = await acrossCollections(3, manifest, blob);
        process.stdout.write(`# with backup: ${JSON.stringify(backed)}\n# without: ${JSON.stringify(unbacked)}\n`);
        assert.ok(total(backed) >= 300, `enough requests to span the switches: ${total(backed)}`);
        const allowed = ["GET 200", "HEAD 200", "POST 202", "POST 405"];
        assert.deepEqual(
            statuses(backed).filter((status) => !allowed.includes(status)),
            [],
            `every request answered by a registry: ${JSON.stringify(backed)}`,
        );
        assert.ok((backed.POST?.["405"] ?? 0) > 0, "uploads were refused while read-only: the backup server answered");
        assert.ok((backed.POST?.["202"] ?? 0) > 0, "uploads were accepted around the collections");
        assert.ok(
            (unbacked.GET?.["000"] ?? 0) + (unbacked.HEAD?.["000"] ?? 0) > 0,
            `without the backup line the same switches drop requests: ${JSON.stringify(unbacked)}`,
        );
        // nginx did meet a missing primary socket and went on to the backup: the switch was seen.
        assert.match(
            readFileSync(join(withBackup.dir, "nginx.log"), "utf8"),
            /registry\.sock failed \((2: No such file or directory|111: Connection refused)\)/,
        );
    });

    it("a registry killed with SIGKILL leaves its socket behind; the supervisor starts over it, and the next collection is as seamless", async () => {
        // Outside a collection: the normal registry's socket is left.
        await waitFor(
            "the registry read-write, between collections",
            async () => count("start:") === count("done:") && !existsSync(readOnlySocket()),
            20_000,
            100,
        );
        killGroup(supervisor.pid, "SIGKILL");
        await killedGroupGone();
        assert.ok(statSync(socket()).isSocket(), "SIGKILL: nothing unlinked the socket");
        startSupervisor();
        await registryAnswers(withBackup);

        // Inside a collection: the read-only registry's socket is left.
        const startsBefore = count("start:");
        await waitFor("a read-only window", async () => count("start:") > startsBefore, 30_000, 50);
        killGroup(supervisor.pid, "SIGKILL");
        await killedGroupGone();
        assert.ok(statSync(readOnlySocket()).isSocket(), "SIGKILL in the window: the read-only socket is left");
        startSupervisor();
        await registryAnswers(withBackup);

        const { backed } = await acrossCollections(1, manifest, blob);
        const allowed = ["GET 200", "HEAD 200", "POST 202", "POST 405"];
        assert.deepEqual(
            statuses(backed).filter((status) => !allowed.includes(status)),
            [],
            `every request answered by a registry: ${JSON.stringify(backed)}`,
        );
        assert.ok((backed.POST?.["405"] ?? 0) > 0, "the read-only registry served the window, over the stale socket's path");
        assert.equal(count("failed"), 0, log());
    });
});
