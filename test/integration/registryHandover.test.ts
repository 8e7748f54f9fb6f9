/**
 * The registry's supervisor (render/registrySupervisor.ts) behind the edge, run by the real
 * software: the rendered script (busybox's sh, as in the official image and the stand-ins)
 * serving Debian's Distribution 2.8 on the socket the stack uses, taking sets of files written
 * the way a holder container writes them (each file in place, the manifest last), and Debian's
 * nginx rendered from edgeConfig.ts in front of it (the upstream that hands over), under
 * continuous requests: GETs and HEADs (every registry answers them), upload POSTs (202, or 405
 * while read-only) and DELETEs of an unknown manifest (404 with deletes on, 405 with them off).
 *
 * - new config.yml files (deletes on and off) reach the registry by handovers while the load
 *   runs, and collections (every 5 s) switch to read-only and back: every request is answered by
 *   a registry, never dropped, and both configs and the read-only one answered some;
 * - a half-written set (files not matching the manifest) is never taken;
 * - the same load does see a gap when the registry is killed and started again (what a handover
 *   avoids): it reaches the registry; the supervisor starts over the stale sockets and symlink,
 *   and the next handovers are as seamless.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chmodSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from "fs";
import { join } from "path";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { HANDOVER_DRAIN_SECONDS } from "../../components/render/edgeUpstreams";
import { fileSetId, SetFile } from "../../components/render/fileSet";
import { RegistryConfigInput, renderRegistryConfig } from "../../components/render/registryConfig";
import {
    GC_LOG_PREFIX,
    REGISTRY_SET_FILES,
    renderCollectionSchedule,
    renderRegistrySupervisor,
    supervisorLogPrefix,
} from "../../components/render/registrySupervisor";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import { freePorts, loopbackEdgeInput, REGISTRY, startNginx, writeEdgeAccess, writeFileSet } from "../../scripts/lib/loopbackServers";
import { writeOciLayout } from "../support/ociLayout";
import { Daemon, killGroup, makeTempDir, run, runCleanups, sleep, startDaemon, waitFor } from "../../scripts/lib/processes";

const PASSWORD = "handover-password";
const CREDS = `admin:${PASSWORD}`;
const COLLECTION_EVERY_SECONDS = 5;

/** Answers seen per kind of request, e.g. `{ "GET": {"200": 812}, "DELETE": {"404": 40, "405": 12} }`. */
type Tally = Record<string, Record<string, number>>;

describe("the registry's supervisor behind the edge: new configs and collections by handovers, no request dropped", () => {
    let dir: string;
    let filesDir: string;
    let runDir: string;
    let dataDir: string;
    let script: string;
    let binDir: string;
    let supervisor: Daemon;
    let httpsPort: number;
    let configInput: RegistryConfigInput;
    const logFile = () => join(dir, "supervisor.log");
    const log = () => readFileSync(logFile(), "utf8");
    const count = (prefix: string, what: string) =>
        log()
            .split("\n")
            .filter((line) => line.includes(`${prefix} ${what}`)).length;
    const gcCount = (what: string) => count(GC_LOG_PREFIX, what);
    /** How many sets the supervisor took (its `set ID taken` lines). */
    const setsTaken = () =>
        log()
            .split("\n")
            .filter((line) => line.includes(`${supervisorLogPrefix("registry")} set `) && line.endsWith(" taken")).length;

    const writeSet = (files: SetFile[], manifestFiles = files) => writeFileSet(filesDir, files, manifestFiles);
    const setOf = (deleteEnabled: boolean, collect = true): SetFile[] => {
        const config = { ...configInput, deleteEnabled };
        return [
            { name: REGISTRY_SET_FILES.config, content: renderRegistryConfig(config) },
            { name: REGISTRY_SET_FILES.readOnlyConfig, content: renderRegistryConfig({ ...config, readOnly: true }) },
            {
                name: REGISTRY_SET_FILES.schedule,
                content: renderCollectionSchedule(collect ? { kind: "every", seconds: COLLECTION_EVERY_SECONDS } : undefined),
            },
        ];
    };

    const served = (id: string) => log().split(`serving set ${id}\n`).length - 1;
    /** Writes the set and waits until the registry serves it (its config, with its debug listener). */
    const serve = async (files: SetFile[]) => {
        const before = served(fileSetId(files));
        const id = writeSet(files);
        await waitFor(`set ${id} served`, async () => served(id) > before, 60_000, 100);
    };

    const startSupervisor = () => {
        supervisor = startDaemon("registry-supervisor", "/bin/busybox", ["sh", script], {
            logFile: logFile(),
            env: {
                ...process.env,
                PATH: `${binDir}:/usr/bin:/bin`,
                REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: dataDir,
                REGISTRY_HTTP_SECRET: "handover-secret",
            },
        });
    };
    /** Every process of the killed supervisor's group gone (the registries' sockets closed), as when Docker restarts a container. */
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
    const url = (path: string) => `https://127.0.0.1:${httpsPort}${path}`;
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
    const registryAnswers = () =>
        waitFor("the registry through the edge", async () => (await curlStatuses([], [url("/v2/")]))[0] === "200", 30_000);

    /** Requests through the edge until stop() resolves its tally. */
    const startLoad = (manifest: string, blob: string) => {
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
                Array.from({ length: 10 }, (_, i) => url(i % 2 === 0 ? "/v2/" : `/v2/team/keep/manifests/${manifest}`)),
            ),
            loop(
                "HEAD",
                ["-I"],
                Array.from({ length: 10 }, () => url(`/v2/team/keep/blobs/${blob}`)),
            ),
            loop(
                "POST",
                ["-X", "POST"],
                Array.from({ length: 5 }, () => url("/v2/team/uploads/blobs/uploads/")),
            ),
            loop(
                "DELETE",
                ["-X", "DELETE"],
                Array.from({ length: 5 }, () => url(`/v2/team/keep/manifests/sha256:${"0".repeat(64)}`)),
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
    const statuses = (tally: Tally) =>
        Object.entries(tally)
            .flatMap(([kind, counts]) => Object.keys(counts).map((status) => `${kind} ${status}`))
            .sort();
    const total = (tally: Tally) =>
        Object.values(tally)
            .flatMap((counts) => Object.values(counts))
            .reduce((a, b) => a + b, 0);
    /** What a registry answers: GET/HEAD 200; an upload 202, or 405 read-only; an unknown manifest's DELETE 404, or 405 with deletes off or read-only. */
    const ANSWERED = ["DELETE 404", "DELETE 405", "GET 200", "HEAD 200", "POST 202", "POST 405"];

    let manifest: string;
    let blob: string;

    before(async () => {
        dir = makeTempDir("pr-handover-");
        chmodSync(dir, 0o755);
        filesDir = join(dir, "files");
        runDir = join(dir, "run");
        dataDir = join(dir, "data");
        for (const d of [filesDir, runDir, dataDir]) mkdirSync(d, { mode: 0o755 });
        const pki = issueTestCertificates(["registry.test"], ["127.0.0.1"]);
        writeFileSync(join(dir, "ca.crt"), pki.caPem);

        // As components/services/registry.ts renders them: no auth (the edge checks passwords), a debug listener.
        const [metricsPort, edgeHttps, edgeHttp, uiPort] = await freePorts(4);
        httpsPort = edgeHttps;
        configInput = {
            listenAddress: `unix:${join(runDir, "registry.sock")}`,
            deleteEnabled: true,
            debugAddress: `127.0.0.1:${metricsPort}`,
            distributionMajor: 2,
        };
        writeSet(setOf(true));
        script = join(dir, "supervisor.sh");
        writeFileSync(
            script,
            renderRegistrySupervisor({
                service: "registry",
                filesDir,
                setsDir: join(dir, "sets"),
                socketDir: runDir,
                socketName: "registry",
                drainSeconds: HANDOVER_DRAIN_SECONDS,
                dataDir,
            }),
        );
        // `registry` as the script finds it on PATH: Debian's 2.8, its collection slowed by 2 s so
        // the read-only window spans many requests (collecting one image takes milliseconds).
        binDir = join(dir, "bin");
        mkdirSync(binDir);
        writeFileSync(join(binDir, "registry"), `#!/bin/sh\n[ "$1" != garbage-collect ] || sleep 2\nexec ${REGISTRY} "$@"\n`);
        chmodSync(join(binDir, "registry"), 0o755);
        startSupervisor();

        const edgeDir = join(dir, "edge");
        mkdirSync(join(edgeDir, "temp"), { recursive: true });
        writeFileSync(join(edgeDir, "server.crt"), pki.certificatePem);
        writeFileSync(join(edgeDir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
        const access = writeEdgeAccess(join(dir, "access"), "private-registry", [{ name: "admin", password: PASSWORD, role: "push" }]);
        const registry = { address: `unix:${join(runDir, "registry.sock")}`, handsOver: true };
        await startNginx(
            edgeDir,
            renderEdgeConfig(loopbackEdgeInput(edgeDir, { httpsPort, httpPort: edgeHttp, uiPort, registry, access })),
            edgeHttp,
        );
        assert.match(readFileSync(join(edgeDir, "nginx.conf"), "utf8"), /keepalive_time 1s;\s*keepalive_timeout 1s;/);
        await registryAnswers();

        // One image, pushed through the edge, for the GETs and HEADs; its layer is the blob.
        const layout = join(dir, "keep");
        manifest = writeOciLayout(layout, "kept through every handover\n");
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
                    `docker://127.0.0.1:${httpsPort}/team/keep:1`,
                ],
                { allowFailure: true, timeoutMs: 60_000 },
            );
        }
        assert.equal(pushed.code, 0, pushed.stderr);
        blob = JSON.parse(readFileSync(join(layout, "blobs/sha256", manifest.slice(7)), "utf8")).layers[0].digest as string;
    });
    after(runCleanups);

    it("serves through the symlink the edge connects to, and collects on the set's schedule", async () => {
        const link = join(runDir, "registry.sock");
        assert.ok(lstatSync(link).isSymbolicLink(), "registry.sock is a symlink");
        assert.match(readlinkSync(link), /^registry-[12]\.sock$/);
        await waitFor("a collection", async () => gcCount("done:") >= 1, 30_000);
        assert.equal(gcCount("failed"), 0, log());
        assert.doesNotMatch(log(), /error listening on debug interface|address already in use/i, "never two debug listeners");
    });

    it("new configs and collections under load: every request answered by a registry, both configs and the read-only one among them", async () => {
        const load = startLoad(manifest, blob);
        let tally: Tally;
        try {
            for (const deleteEnabled of [false, true, false, true]) await serve(setOf(deleteEnabled));
            const collectedBefore = gcCount("done:");
            await waitFor("another collection", async () => gcCount("done:") > collectedBefore, 30_000, 100);
            await sleep(500);
        } finally {
            tally = await load.stop();
        }
        process.stdout.write(`# ${JSON.stringify(tally)}\n`);
        assert.ok(total(tally) >= 300, `enough requests to span the handovers: ${total(tally)}`);
        assert.deepEqual(
            statuses(tally).filter((status) => !ANSWERED.includes(status)),
            [],
            `every request answered by a registry: ${JSON.stringify(tally)}`,
        );
        assert.ok((tally.DELETE?.["404"] ?? 0) > 0 && (tally.DELETE?.["405"] ?? 0) > 0, "both configs answered: deletes on and off");
        assert.ok((tally.POST?.["405"] ?? 0) > 0 && (tally.POST?.["202"] ?? 0) > 0, "read-only during collections, read-write around them");
        assert.equal(gcCount("failed"), 0, log());
        assert.doesNotMatch(log(), /did not listen|could not point/, log());
    });

    it("never takes a set whose files do not match its manifest (a holder still writing)", async () => {
        const taken = setsTaken();
        const complete = setOf(true, false);
        // The manifest of the next set, over files of another one: incomplete.
        const id = writeSet(setOf(false, false), complete);
        const seen = `set ${id} not taken yet: a file is not (yet) what its manifest says`;
        await waitFor("the supervisor saw a file unlike its manifest", async () => log().includes(seen), 20_000, 100);
        assert.equal(setsTaken(), taken, "nothing taken");
        assert.equal(writeSet(complete), id);
        await waitFor(`set ${id} taken`, async () => log().includes(`set ${id} taken`), 20_000, 100);
    });

    it("killed (SIGKILL: nothing unlinked) and started again, the load sees the gap a handover avoids; the next handovers are seamless", async () => {
        await serve(setOf(true));
        const load = startLoad(manifest, blob);
        let gap: Tally;
        try {
            await sleep(1_000);
            killGroup(supervisor.pid, "SIGKILL");
            await killedGroupGone();
            assert.ok(lstatSync(join(runDir, "registry.sock")).isSymbolicLink(), "the symlink is left");
            await sleep(1_000);
            startSupervisor();
            await registryAnswers();
        } finally {
            gap = await load.stop();
        }
        assert.ok(
            Object.values(gap).some((counts) => (counts["000"] ?? 0) > 0),
            `while no registry runs, requests are dropped (the edge's 444): ${JSON.stringify(gap)}`,
        );

        const again = startLoad(manifest, blob);
        let tally: Tally;
        try {
            for (const deleteEnabled of [false, true]) await serve(setOf(deleteEnabled));
        } finally {
            tally = await again.stop();
        }
        assert.deepEqual(
            statuses(tally).filter((status) => !ANSWERED.includes(status)),
            [],
            `every request answered by a registry: ${JSON.stringify(tally)}`,
        );
    });
});
