/**
 * Distribution 3 (v3.1.2, built from the Go module proxy by scripts/build-tools.sh registry3) and
 * Debian's 2.8 running what the stack renders:
 *
 * - the 3.x config.yml served by the real v3 binary: auth, a push and a pull (an image and a
 *   multi-arch OCI index) by digest, the health and metrics listener;
 * - `garbage-collect --delete-untagged`: 3.x keeps the platform manifests of a tagged index
 *   (untagged themselves) and drops a manifest no tag names; 2.8 deletes the platform manifests
 *   (distribution issues 3004, 3178), which is why `gc.deleteUntagged` needs 3.x;
 * - the supervisor script (components/render/registrySupervisor.ts) run by busybox's sh with the
 *   real v3 binary on the stack's socket, behind the rendered edge (Debian's nginx): on its
 *   schedule the registry turns read-only by a handover (a push is refused with 405 UNSUPPORTED,
 *   a pull works, no upload POST is dropped across the switches), the deleted image's space
 *   comes back, every other image pulls by digest, and writes work again afterwards.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { randomBytes } from "crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import { bcryptWithSalt, renderHtpasswd } from "../../components/render/htpasswd";
import { RegistryConfigInput, renderRegistryConfig } from "../../components/render/registryConfig";
import {
    GC_LOG_PREFIX,
    REGISTRY_SET_FILES,
    renderCollectionSchedule,
    renderRegistrySupervisor,
} from "../../components/render/registrySupervisor";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { HANDOVER_DRAIN_SECONDS } from "../../components/render/edgeUpstreams";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import {
    freePort,
    freePorts,
    loopbackEdgeInput,
    REGISTRY,
    startNginx,
    startRegistry,
    writeEdgeAccess,
    writeFileSet,
} from "../../scripts/lib/loopbackServers";
import { SEED_PLATFORMS, writeOciIndexLayout, writeOciLayout } from "../support/ociLayout";
import { Daemon, makeTempDir, run, runCleanups, sleep, startDaemon, waitFor } from "../../scripts/lib/processes";
import { registry3Binary } from "../../scripts/lib/builtTools";

const PASSWORD = "distribution3-test-password";
const CREDS = `admin:${PASSWORD}`;

describe("Distribution 3 with the rendered config; --delete-untagged on 3.x and 2.8; the gc supervisor", () => {
    let dir: string;
    let v3: string;

    /** A rendered config for a registry on loopback, its storage under `root`. */
    const renderFor = (port: number, metricsPort: number, major: 2 | 3, extra: Partial<RegistryConfigInput> = {}) =>
        renderRegistryConfig({
            listenAddress: `127.0.0.1:${port}`,
            htpasswdPath: join(dir, "htpasswd"),
            realm: "private-registry",
            deleteEnabled: true,
            debugAddress: `127.0.0.1:${metricsPort}`,
            distributionMajor: major,
            ...extra,
        });
    const env = (root: string) => ({
        ...process.env,
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: root,
        REGISTRY_HTTP_SECRET: "distribution3-test-secret",
        OTEL_TRACES_EXPORTER: "none",
    });
    const answers = (port: number) =>
        waitFor(
            `registry on ${port}`,
            async () => (await run("curl", ["-s", "-o", "/dev/null", `http://127.0.0.1:${port}/v2/`], { allowFailure: true })).code === 0,
            30_000,
        );
    const serve = async (name: string, binary: string, configPath: string, root: string, port: number): Promise<Daemon> => {
        const daemon = startDaemon(name, binary, ["serve", configPath], { logFile: join(dir, `${name}.log`), env: env(root) });
        await answers(port);
        return daemon;
    };
    const skopeo = (args: string[], timeoutMs = 60_000) => run("skopeo", args, { allowFailure: true, timeoutMs });
    const push = (layout: string, tag: string, port: number, reference: string, all = false) =>
        skopeo([
            "copy",
            "--quiet",
            ...(all ? ["--all"] : []),
            "--dest-tls-verify=false",
            "--dest-creds",
            CREDS,
            `oci:${layout}:${tag}`,
            `docker://127.0.0.1:${port}/${reference}`,
        ]);
    /** HTTP status of a manifest by digest. */
    const manifestStatus = async (port: number, repository: string, digest: string) =>
        (
            await run("curl", [
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-u",
                CREDS,
                "-H",
                "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json",
                `http://127.0.0.1:${port}/v2/${repository}/manifests/${digest}`,
            ])
        ).stdout;
    const pullByDigest = (port: number, repository: string, digest: string, into: string) =>
        skopeo([
            "copy",
            "--quiet",
            "--all",
            "--src-tls-verify=false",
            "--src-creds",
            CREDS,
            `docker://127.0.0.1:${port}/${repository}@${digest}`,
            `dir:${into}`,
        ]);
    const kib = async (root: string) => Number((await run("du", ["-sk", root])).stdout.split(/\s/)[0]);

    before(async () => {
        dir = makeTempDir("pr-dist3-");
        v3 = await registry3Binary();
        writeFileSync(
            join(dir, "htpasswd"),
            renderHtpasswd([{ username: "admin", hash: bcryptWithSalt(PASSWORD, "abcdefghijklmnopqrstuv") }]),
        );
    });
    after(runCleanups);

    it("3.x serves the rendered config: auth, push and pull by digest of an image and a multi-arch index, health and metrics", async () => {
        const version = await run(v3, ["--version"]);
        assert.match(version.stdout, /v3\.1\.2/);
        const [port, metrics] = [await freePort(), await freePort()];
        const configPath = join(dir, "serve.yml");
        writeFileSync(configPath, renderFor(port, metrics, 3));
        const registry = await serve("registry3", v3, configPath, join(dir, "serve-data"), port);
        const status = async (args: string[]) => (await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", ...args])).stdout;
        assert.equal(await status([`http://127.0.0.1:${port}/v2/`]), "401");
        assert.equal(await status(["-u", "admin:wrong", `http://127.0.0.1:${port}/v2/`]), "401");
        assert.equal(await status(["-u", CREDS, `http://127.0.0.1:${port}/v2/`]), "200");

        const single = join(dir, "layout-single");
        const singleDigest = writeOciLayout(single, "served by Distribution 3\n");
        assert.equal((await push(single, "1", port, "team/app:1")).code, 0);
        const multi = join(dir, "layout-multi");
        const { index, children } = writeOciIndexLayout(multi, SEED_PLATFORMS);
        const pushed = await push(multi, "multi", port, "team/multi:1", true);
        assert.equal(pushed.code, 0, pushed.stderr);
        for (const [repository, digest] of [
            ["team/app", singleDigest],
            ["team/multi", index],
            ...Object.values(children).map((d) => ["team/multi", d]),
        ]) {
            const pulled = await pullByDigest(port, repository, digest, join(dir, `pulled-${digest.slice(7, 19)}`));
            assert.equal(pulled.code, 0, `${repository}@${digest}: ${pulled.stderr}`);
        }
        const inspected = await skopeo([
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            CREDS,
            `docker://127.0.0.1:${port}/team/multi:1`,
        ]);
        assert.equal(JSON.parse(inspected.stdout).manifests.length, 3, "the index, whole");
        assert.equal(await status([`http://127.0.0.1:${metrics}/debug/health`]), "200");
        assert.match((await run("curl", ["-s", `http://127.0.0.1:${metrics}/metrics`])).stdout, /registry_http_requests_total/);
        const log = readFileSync(join(dir, "registry3.log"), "utf8");
        // A client's HEAD of a blob it is about to upload answers 404 "blob unknown", logged as an error.
        const problems = log
            .split("\n")
            .filter((line) => /level=(error|fatal|panic)|unrecognized|deprecated|unknown (field|option|key)/i.test(line))
            .filter((line) => !/err\.code="blob unknown".*http\.request\.method=HEAD/.test(line));
        assert.deepEqual(problems, [], "no error logged, no option of the rendered config unknown to 3.x");
        await registry.stop();
    });

    it("3.x serves the stack's own listener: the Unix socket only, connectable with umask 000, removed on a graceful stop", async () => {
        const socketDir = join(dir, "socket");
        mkdirSync(socketDir);
        const socket = join(socketDir, "registry.sock");
        const metrics = await freePort();
        const socketDirConfig = join(dir, "socket-serve");
        mkdirSync(socketDirConfig);
        const registry = await startRegistry(
            socketDirConfig,
            renderRegistryConfig({
                listenAddress: `unix:${socket}`,
                htpasswdPath: join(dir, "htpasswd"),
                realm: "private-registry",
                deleteEnabled: false,
                debugAddress: `127.0.0.1:${metrics}`,
                distributionMajor: 3,
            }),
            socket,
            { OTEL_TRACES_EXPORTER: "none" },
            v3,
        );
        assert.equal(statSync(socket).mode & 0o777, 0o777, "connectable by the edge's unprivileged workers");
        const status = (
            await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", CREDS, "--unix-socket", socket, "http://registry/v2/"])
        ).stdout;
        assert.equal(status, "200");
        await registry.daemon.stop();
        assert.ok(!existsSync(socket), "http.draintimeout makes SIGTERM a graceful stop, which removes the socket");
    });

    for (const [major, label] of [
        [3, "3.x keeps every platform manifest of a tagged index"],
        [2, "2.8 deletes the platform manifests of a tagged index (why deleteUntagged needs 3.x)"],
    ] as const) {
        it(`--delete-untagged: ${label}, and drops a manifest no tag names`, async () => {
            const binary = major === 3 ? v3 : REGISTRY;
            const [port, metrics] = [await freePort(), await freePort()];
            const root = join(dir, `untagged-${major}`);
            const configPath = join(dir, `untagged-${major}.yml`);
            writeFileSync(configPath, renderFor(port, metrics, major));
            let registry = await serve(`untagged-${major}`, binary, configPath, root, port);
            const { index, children } = writeOciIndexLayout(join(dir, `untagged-multi-${major}`), SEED_PLATFORMS, "multi", `v${major}`);
            assert.equal((await push(join(dir, `untagged-multi-${major}`), "multi", port, "team/multi:1", true)).code, 0);
            // The same tag pushed twice: the first image is then a manifest no tag names.
            const oldDigest = writeOciLayout(join(dir, `untagged-old-${major}`), `old ${major}\n`);
            const newDigest = writeOciLayout(join(dir, `untagged-new-${major}`), `new ${major}\n`);
            assert.equal((await push(join(dir, `untagged-old-${major}`), "1", port, "team/app:1")).code, 0);
            assert.equal((await push(join(dir, `untagged-new-${major}`), "1", port, "team/app:1")).code, 0);
            await registry.stop();

            const collected = await run(binary, ["garbage-collect", "--delete-untagged", configPath], {
                env: env(root),
                allowFailure: true,
                timeoutMs: 60_000,
            });
            assert.equal(collected.code, 0, collected.stdout + collected.stderr);
            registry = await serve(`untagged-${major}-after`, binary, configPath, root, port);
            assert.equal(await manifestStatus(port, "team/app", oldDigest), "404", "the manifest no tag names is deleted");
            assert.equal(await manifestStatus(port, "team/app", newDigest), "200");
            assert.equal(await manifestStatus(port, "team/multi", index), "200", "the index itself is tagged");
            const childStatuses = await Promise.all(Object.values(children).map((digest) => manifestStatus(port, "team/multi", digest)));
            if (major === 3) {
                assert.deepEqual(childStatuses, ["200", "200", "200"], "3.x keeps every platform manifest the tagged index references");
                const pulled = await pullByDigest(port, "team/multi", index, join(dir, "untagged-pulled"));
                assert.equal(pulled.code, 0, `the whole index pulls: ${pulled.stderr}`);
            } else {
                assert.deepEqual(childStatuses, ["404", "404", "404"], "2.8 deletes them: the index is left pointing at nothing");
            }
            await registry.stop();
        });
    }

    it("the gc supervisor behind the rendered edge: on schedule read-only (push 405, pull works, never a 502), space back, other images pull by digest, writes again after", async () => {
        // As the stack runs it: the registry on its Unix socket, checking no password, handed over
        // between processes; the edge in front checks the passwords; the test speaks HTTPS to it.
        const [metrics, httpsPort, httpPort, uiPort] = await freePorts(4);
        const root = join(dir, "supervised-data");
        mkdirSync(root, { recursive: true });
        const files = join(dir, "supervised-files");
        mkdirSync(files);
        chmodSync(dir, 0o755);
        const runDir = join(dir, "supervised-run");
        mkdirSync(runDir, { mode: 0o755 });
        const socket = join(runDir, "registry.sock");
        const configInput = { listenAddress: `unix:${socket}`, deleteEnabled: true, debugAddress: `127.0.0.1:${metrics}` };
        writeFileSet(files, [
            { name: REGISTRY_SET_FILES.config, content: renderRegistryConfig(configInput) },
            { name: REGISTRY_SET_FILES.readOnlyConfig, content: renderRegistryConfig({ ...configInput, readOnly: true }) },
            { name: REGISTRY_SET_FILES.schedule, content: renderCollectionSchedule({ kind: "every", seconds: 15 }, true) },
        ]);
        const script = join(dir, "supervisor.sh");
        writeFileSync(
            script,
            renderRegistrySupervisor({
                service: "registry",
                filesDir: files,
                setsDir: join(dir, "supervised-sets"),
                socketDir: runDir,
                socketName: "registry",
                drainSeconds: HANDOVER_DRAIN_SECONDS,
                dataDir: root,
            }),
        );
        // `registry` as the script finds it on PATH: the v3 binary, whose garbage-collect waits 6 s
        // first, so the test sees the read-only window (a real collection of three images takes
        // milliseconds).
        const bin = join(dir, "supervised-bin");
        mkdirSync(bin);
        writeFileSync(join(bin, "registry"), `#!/bin/sh\n[ "$1" != garbage-collect ] || sleep 6\nexec ${v3} "$@"\n`);
        chmodSync(join(bin, "registry"), 0o755);
        const logFile = join(dir, "supervisor.log");
        const supervisor = startDaemon("registry-supervisor", "/bin/busybox", ["sh", script], {
            logFile,
            env: { ...env(root), PATH: `${bin}:/usr/bin:/bin` },
        });
        const started = Date.now();
        const edgeDir = join(dir, "supervised-edge");
        mkdirSync(join(edgeDir, "temp"), { recursive: true });
        const pki = issueTestCertificates(["registry.test"], ["127.0.0.1"]);
        writeFileSync(join(edgeDir, "server.crt"), pki.certificatePem);
        writeFileSync(join(edgeDir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
        await startNginx(
            edgeDir,
            renderEdgeConfig(
                loopbackEdgeInput(edgeDir, {
                    httpsPort,
                    httpPort,
                    uiPort,
                    registry: { address: `unix:${socket}`, handsOver: true },
                    access: writeEdgeAccess(join(dir, "supervised-access"), "private-registry", [
                        { name: "admin", password: PASSWORD, role: "push" },
                    ]),
                }),
            ),
            httpPort,
        );
        // skopeo and curl over HTTPS without verifying: the edge's certificate is the test's own.
        const port = httpsPort;
        const status = async (method: string, path: string) =>
            (
                await run(
                    "curl",
                    ["-sk", "-o", "/dev/null", "-w", "%{http_code}", "-u", CREDS, "-X", method, `https://127.0.0.1:${port}${path}`],
                    { allowFailure: true },
                )
            ).stdout;
        await waitFor("the registry through the edge", async () => (await status("GET", "/v2/")) === "200", 30_000);

        const keep = writeOciLayout(join(dir, "sv-keep"), "kept\n");
        // Random text: the gzipped layer stays ~150 KiB.
        const doomed = writeOciLayout(join(dir, "sv-doomed"), `deleted ${randomBytes(150_000).toString("base64")}\n`);
        const { index } = writeOciIndexLayout(join(dir, "sv-multi"), SEED_PLATFORMS, "multi", "supervised");
        assert.equal((await push(join(dir, "sv-keep"), "1", port, "team/keep:1")).code, 0);
        assert.equal((await push(join(dir, "sv-doomed"), "1", port, "team/doomed:1")).code, 0);
        assert.equal((await push(join(dir, "sv-multi"), "multi", port, "team/multi:1", true)).code, 0);
        assert.equal(await status("DELETE", `/v2/team/doomed/manifests/${doomed}`), "202");
        // The blob store alone: the upload POSTs below each leave an upload directory beside it.
        const blobs = join(root, "docker/registry/v2/blobs");
        const before = await kib(blobs);
        assert.ok(Date.now() - started < 14_000, "set up before the first collection is due");

        // Upload POSTs through the edge all through the collection: 202, or 405 while read-only; never a 502.
        const uploads: string[] = [];
        let polling = true;
        const poller = (async () => {
            while (polling) {
                uploads.push(await status("POST", "/v2/team/late/blobs/uploads/"));
                await sleep(20);
            }
        })();
        const log = () => readFileSync(logFile, "utf8");
        try {
            await waitFor("the collection to start", async () => log().includes(`${GC_LOG_PREFIX} start:`), 30_000);
            // Read-only: the edge's backup answers at once, and refuses writes while the collector runs.
            assert.equal(
                await status("POST", "/v2/team/late/blobs/uploads/"),
                "405",
                "a push during the collection is refused (405 UNSUPPORTED), not half-written",
            );
            const refusedPush = await push(join(dir, "sv-keep"), "1", port, "team/late:1");
            assert.notEqual(refusedPush.code, 0);
            assert.match(refusedPush.stderr, /405|UNSUPPORTED|read-only|not allowed/i);
            const pulledDuring = await pullByDigest(port, "team/keep", keep, join(dir, "sv-during"));
            assert.equal(pulledDuring.code, 0, `pulls work while read-only: ${pulledDuring.stderr}`);
            assert.ok(!log().includes(`${GC_LOG_PREFIX} done:`), "the window was observed while the collector ran");
            await waitFor("the collection to end", async () => log().includes(`${GC_LOG_PREFIX} done:`), 30_000);
            await waitFor("writes accepted again", async () => uploads.at(-1) === "202", 10_000, 50);
        } finally {
            polling = false;
            await poller;
        }
        assert.deepEqual(
            [...new Set(uploads)].sort(),
            ["202", "405"],
            `uploads across the switches: accepted or refused, never a 502 (${uploads.length} sent)`,
        );
        assert.match(log(), new RegExp(`${GC_LOG_PREFIX} done: [1-9]\\d* blobs deleted, \\d+ KiB -> \\d+ KiB; registry read-write`));
        const freed = before - (await kib(blobs));
        assert.ok(freed >= 140, `the deleted image's ~150 KiB layer came back: freed ${freed} KiB`);
        assert.equal(await status("GET", `/v2/team/doomed/manifests/${doomed}`), "404");
        for (const [repository, digest] of [
            ["team/keep", keep],
            ["team/multi", index],
        ]) {
            const pulled = await pullByDigest(port, repository, digest, join(dir, `sv-after-${repository.replace("/", "-")}`));
            assert.equal(pulled.code, 0, `${repository}@${digest}: ${pulled.stderr}`);
        }
        const pushedAfter = await push(join(dir, "sv-keep"), "1", port, "team/late:1");
        assert.equal(pushedAfter.code, 0, pushedAfter.stderr);
        assert.equal(await status("GET", "/v2/"), "200");
        assert.equal(
            (await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${metrics}/debug/health`])).stdout,
            "200",
            "the normal registry's debug listener is back",
        );

        // docker stop: TERM to the supervisor, which stops the registry and exits 0.
        await supervisor.stop();
        assert.equal(await supervisor.exited, 0, log());
        assert.ok(
            ["registry-1.sock", "registry-2.sock"].every((slot) => !existsSync(join(runDir, slot))) && !existsSync(socket),
            "the sockets unlinked on the way out (the symlink to them left dangling)",
        );
    });
});
