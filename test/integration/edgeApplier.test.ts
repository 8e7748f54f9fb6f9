/**
 * The edge's applier (render/edgeApplier.ts) run by the real software: the rendered script
 * (busybox's sh) running Debian's nginx with the rendered nginx.conf, taking the sets of files a
 * test writes the way the edge's two holders do (each file in place, the manifest last), in front
 * of Distribution v3.1.2 on its Unix socket (no auth: the edge checks passwords), under a
 * continuous load of pulls and pushes as both roles (scripts/lib/registryLoad.ts) with a big
 * blob pull and a chunked push in flight at each change:
 *
 * - it starts nginx only once a whole set is there;
 * - a new push user, a rotated password, a removed user, a renewed certificate (same key), and a
 *   new key with its chain apply within seconds, without a reload of nginx, and not one request
 *   of the load fails; the transfers in flight complete whole;
 * - a set whose two halves name different sets is never taken, nor one nginx refuses (a key that
 *   does not match the chain): the previous set keeps serving;
 * - a changed nginx.conf is applied by a graceful reload: the transfers in flight complete (the
 *   requests the load makes meanwhile are counted and reported: a reload may close a kept-alive
 *   connection a client is about to reuse, docs/operations.md).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { X509Certificate } from "crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { EDGE_LOG_PREFIX, EDGE_SET_FILES, edgeLiveDir, renderEdgeApplier } from "../../components/render/edgeApplier";
import { EdgeConfigInput, renderEdgeConfig } from "../../components/render/edgeConfig";
import { renderHtpasswd, sshaWithSalt } from "../../components/render/htpasswd";
import { renderRegistryConfig } from "../../components/render/registryConfig";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import { freePorts, startRegistry, writeFileSets } from "../../scripts/lib/loopbackServers";
import { Daemon, makeTempDir, run, runCleanups, startDaemon, waitFor } from "../../scripts/lib/processes";
import { LoadConfig, readLoadLog, windowStats } from "../../scripts/lib/registryLoad";
import { registry3Binary } from "../../scripts/lib/builtTools";

const ROOT = resolve(__dirname, "../..");
const REALM = "applier-test";
const LOAD_USERS = { push: { username: "admin", password: "push-Passw0rd" }, pull: { username: "node", password: "pull-Passw0rd" } };

interface EdgeUsers {
    name: string;
    password: string;
    role: "push" | "pull";
}

describe("the edge's applier: new users, passwords and certificates under load, no reload, no request failed", () => {
    let dir: string;
    let filesDir: string;
    let secretsDir: string;
    let setsDir: string;
    let httpsPort: number;
    let httpPort: number;
    let applier: Daemon;
    let load: Daemon;
    let loadConfig: LoadConfig;
    let pki: ReturnType<typeof issueTestCertificates>;
    let edgeInput: EdgeConfigInput;
    let users: EdgeUsers[];
    const log = () => readFileSync(applier.logFile, "utf8");
    const applied = () => (log().match(new RegExp(`${EDGE_LOG_PREFIX} set [0-9a-f]+ live`, "g")) ?? []).length;
    const control = (value: { hold: boolean; stop?: boolean }) => writeFileSync(loadConfig.controlFile, JSON.stringify(value));

    /**
     * The set as the edge's holders carry it, written as they write it; returns its name.
     * `midway` stages the holders caught mid-way: the secret holder not written yet, or the plain
     * holder's chain still another one than its manifest names.
     */
    const writeSet = (
        options: { conf?: string; chain?: string; key?: string; secretsOf?: string; midway?: { secrets?: "nothing"; chain?: string } } = {},
    ) => {
        const plain = [
            { name: EDGE_SET_FILES.nginxConf, content: options.conf ?? renderEdgeConfig(edgeInput) },
            { name: EDGE_SET_FILES.chain, content: options.chain ?? pki.certificatePem },
            {
                name: EDGE_SET_FILES.pushUsers,
                content: users
                    .filter((u) => u.role === "push")
                    .map((u) => `${u.name}\n`)
                    .join(""),
            },
        ];
        const secret = [
            { name: EDGE_SET_FILES.key, content: options.key ?? pki.privateKeyPem },
            {
                name: EDGE_SET_FILES.users,
                content: renderHtpasswd(users.map((u) => ({ username: u.name, hash: sshaWithSalt(u.password, `salt-of-${u.name}`) }))),
            },
        ];
        const stale = options.midway?.chain;
        return writeFileSets(
            [
                {
                    dir: filesDir,
                    files: plain,
                    written:
                        stale === undefined
                            ? undefined
                            : plain.map((f) => (f.name === EDGE_SET_FILES.chain ? { ...f, content: stale } : f)),
                },
                { dir: secretsDir, files: secret, written: options.midway?.secrets },
            ],
            options.secretsOf ?? "the set's key",
        );
    };
    const curl = async (args: string[]) =>
        (
            await run(
                "curl",
                ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", join(dir, "ca.crt"), "--max-time", "20", ...args],
                {
                    allowFailure: true,
                },
            )
        ).stdout;
    const status = (user: string, password: string, method = "GET", path = "/v2/") =>
        curl(["-u", `${user}:${password}`, "-X", method, `https://127.0.0.1:${httpsPort}${path}`]);
    const servedSerial = async () => {
        const handshake = await run("openssl", ["s_client", "-connect", `127.0.0.1:${httpsPort}`, "-CAfile", join(dir, "ca.crt")], {
            input: "",
            timeoutMs: 20_000,
            allowFailure: true,
        });
        const pem =
            /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(handshake.stdout)?.[0] ?? assert.fail(handshake.stdout);
        return new X509Certificate(pem).serialNumber;
    };
    const nginxPid = async () => (await run("pgrep", ["-P", String(applier.pid), "-x", "nginx"], { allowFailure: true })).stdout.trim();

    /**
     * Runs `change` with a big pull and a chunked push in flight (the load holding them), waits
     * until the new set is live, releases them, and returns the load's requests in that window.
     */
    const underLoad = async (what: string, change: () => void | Promise<void>, settled: () => Promise<boolean>) => {
        const events = () => readLoadLog(loadConfig.logFile);
        const inFlight = (kind: string, since: number) =>
            events().some((e) => e.type === "transfer" && e.kind === kind && e.phase === "progress" && e.t >= since);
        const holdFrom = Date.now();
        control({ hold: true });
        await waitFor(
            `${what}: a big pull and a chunked push in flight`,
            async () => inFlight("big-pull", holdFrom) && inFlight("chunked-push", holdFrom),
            60_000,
            100,
        );
        const from = Date.now();
        await change();
        await waitFor(`${what}: applied`, settled, 30_000, 100);
        const appliedAt = Date.now();
        control({ hold: false });
        const done = (kind: string) =>
            events().some((e) => e.type === "request" && e.kind === kind && e.t0 >= holdFrom && e.t1 > appliedAt);
        await waitFor(`${what}: the transfers in flight finished`, async () => done("big-pull") && done("chunked-push"), 120_000, 200);
        const to = Date.now();
        const stats = windowStats(events(), from, to);
        const transfers = events().filter((e) => e.type === "request" && ["big-pull", "chunked-push"].includes(e.kind) && e.t0 >= holdFrom);
        process.stdout.write(
            `# ${what}: applied in ${((appliedAt - from) / 1000).toFixed(1)} s; ${stats.requests} requests, ${stats.failures} failed, longest gap ${stats.longestGapSeconds.toFixed(2)} s\n`,
        );
        return { stats, transfers };
    };

    before(async () => {
        dir = makeTempDir("pr-applier-");
        // nginx's workers (not root) read the sets and the blob files, and connect to the socket.
        chmodSync(dir, 0o711);
        filesDir = join(dir, "files");
        secretsDir = join(dir, "secrets");
        setsDir = join(dir, "sets");
        for (const d of [filesDir, secretsDir, join(dir, "run"), join(dir, "temp")]) mkdirSync(d, { mode: 0o755 });
        let uiPort: number;
        [httpsPort, httpPort, uiPort] = await freePorts(3);
        pki = issueTestCertificates(["registry.test"], ["127.0.0.1"]);
        writeFileSync(join(dir, "ca.crt"), pki.caPem);
        const socket = join(dir, "run", "registry.sock");
        const registry = await startRegistry(
            dir,
            renderRegistryConfig({ listenAddress: `unix:${socket}`, deleteEnabled: false }),
            socket,
            { OTEL_TRACES_EXPORTER: "none" },
            await registry3Binary(),
        );
        chmodSync(registry.dataDir, 0o755);
        const live = edgeLiveDir(setsDir);
        edgeInput = {
            listenHttpsPort: httpsPort,
            listenHttpPort: httpPort,
            publicHttpsPort: httpsPort,
            listenIpv6: false,
            registry: { address: `unix:${socket}`, handsOver: true },
            ui: { address: `127.0.0.1:${uiPort}` },
            certificatePath: `${live}/${EDGE_SET_FILES.tls}`,
            privateKeyPath: `${live}/${EDGE_SET_FILES.tls}`,
            tlsFilesPerHandshake: true,
            pidPath: join(dir, "nginx.pid"),
            tempDir: join(dir, "temp"),
            access: { realm: REALM, usersFile: `${live}/${EDGE_SET_FILES.users}`, pushUsersDir: `${live}/${EDGE_SET_FILES.pushUsersDir}` },
            registryBlobRoot: registry.dataDir,
        };
        users = [
            { name: LOAD_USERS.push.username, password: LOAD_USERS.push.password, role: "push" },
            { name: LOAD_USERS.pull.username, password: LOAD_USERS.pull.password, role: "pull" },
        ];
        const script = join(dir, "edge.sh");
        writeFileSync(script, renderEdgeApplier({ filesDir, secretsDir, setsDir }));
        applier = startDaemon("edge applier", "/bin/busybox", ["sh", script], {
            logFile: join(dir, "applier.log"),
            env: { ...process.env, PATH: "/usr/sbin:/usr/bin:/bin" },
        });
    });
    after(runCleanups);

    it("starts nginx once a whole set is there, not before", async () => {
        // Only the plain half: the secret half names no set yet.
        const plainOnly = writeSet({ midway: { secrets: "nothing" } });
        const seen = `set ${plainOnly} not taken yet: the secret files name set none`;
        await waitFor("the applier saw the plain half alone", async () => log().includes(seen), 20_000, 100);
        assert.equal(await nginxPid(), "", "no nginx while the set is incomplete");
        assert.match(log(), /waiting for a complete set/);
        assert.equal(writeSet(), plainOnly);
        await waitFor("the edge's /healthz", async () => (await curl([`http://127.0.0.1:${httpPort}/healthz`])) === "200", 30_000, 100);
        assert.equal(await status(LOAD_USERS.pull.username, LOAD_USERS.pull.password), "200");

        loadConfig = {
            endpoint: `127.0.0.1:${httpsPort}`,
            caFile: join(dir, "ca.crt"),
            push: LOAD_USERS.push,
            pull: LOAD_USERS.pull,
            repository: "load/app",
            bigBlobBytes: 64 * 1024 * 1024,
            controlFile: join(dir, "load-control.json"),
            logFile: join(dir, "load.jsonl"),
        };
        control({ hold: false });
        load = startDaemon(
            "registry load",
            process.execPath,
            ["--import", "tsx", join(ROOT, "scripts/lib/registryLoad.ts"), JSON.stringify(loadConfig)],
            {
                logFile: join(dir, "load.log"),
                cwd: ROOT,
            },
        );
        await waitFor("the load's seed pushed", async () => readLoadLog(loadConfig.logFile).some((e) => e.type === "ready"), 120_000, 200);
    });

    it("a new push user, a rotated password, a removed user: at the next request, no reload, no request of the load failed", async () => {
        const pid = await nginxPid();
        const steps: [string, () => void, () => Promise<boolean>][] = [
            [
                "add a push user",
                () => {
                    users = [...users, { name: "ci", password: "ci-first", role: "push" }];
                    writeSet();
                },
                async () => (await status("ci", "ci-first", "POST", "/v2/load/ci/blobs/uploads/")) === "202",
            ],
            [
                "rotate its password",
                () => {
                    users = users.map((u) => (u.name === "ci" ? { ...u, password: "ci-second" } : u));
                    writeSet();
                },
                async () => (await status("ci", "ci-first")) === "401" && (await status("ci", "ci-second")) === "200",
            ],
            [
                "remove it",
                () => {
                    users = users.filter((u) => u.name !== "ci");
                    writeSet();
                },
                async () => (await status("ci", "ci-second")) === "401",
            ],
        ];
        for (const [what, change, settled] of steps) {
            const { stats, transfers } = await underLoad(what, change, settled);
            assert.ok(stats.requests >= 10, `${what}: the load ran (${stats.requests} requests)`);
            assert.equal(stats.failures, 0, `${what}: ${JSON.stringify(stats.failed)}`);
            assert.deepEqual(
                transfers.map((t) => t.type === "request" && t.ok),
                [true, true],
                `${what}: the big pull and the chunked push in flight completed whole`,
            );
        }
        assert.equal(await nginxPid(), pid, "the same nginx master");
        assert.doesNotMatch(log(), /nginx reloaded|reconfiguring/, "never reloaded");
    });

    it("a renewed certificate (same key), then a new key with its chain: on the next connection, no reload, no request failed", async () => {
        const pid = await nginxPid();
        const before = await servedSerial();
        const renewed = issueTestCertificates(["registry.test"], ["127.0.0.1"], {
            caPem: pki.caPem,
            caKeyPem: pki.caKeyPem,
            keyPem: pki.privateKeyPem,
        });
        let { stats } = await underLoad(
            "renew the certificate",
            () => void writeSet({ chain: renewed.certificatePem }),
            async () => (await servedSerial()) !== before,
        );
        assert.equal(stats.failures, 0, JSON.stringify(stats.failed));
        assert.equal(await servedSerial(), new X509Certificate(renewed.certificatePem).serialNumber);
        const rekeyed = issueTestCertificates(["registry.test"], ["127.0.0.1"], { caPem: pki.caPem, caKeyPem: pki.caKeyPem });
        ({ stats } = await underLoad(
            "a new key and chain",
            () => void writeSet({ chain: rekeyed.certificatePem, key: rekeyed.privateKeyPem }),
            async () => (await servedSerial()) === new X509Certificate(rekeyed.certificatePem).serialNumber,
        ));
        assert.equal(stats.failures, 0, JSON.stringify(stats.failed));
        pki = { ...pki, certificatePem: rekeyed.certificatePem, privateKeyPem: rekeyed.privateKeyPem };
        assert.equal(await nginxPid(), pid, "the same nginx master");
        assert.doesNotMatch(log(), /nginx reloaded/);
    });

    it("never takes half a set, nor one nginx refuses; the previous one keeps serving", async () => {
        const taken = applied();
        const serial = await servedSerial();
        const current = readFileSync(join(secretsDir, "manifest"), "utf8").match(/^# set (\S+)$/m)![1];
        // The plain half of a new set beside the secret half of the current one: two sets named.
        const renewed = issueTestCertificates(["registry.test"], ["127.0.0.1"], {
            caPem: pki.caPem,
            caKeyPem: pki.caKeyPem,
            keyPem: pki.privateKeyPem,
        });
        const next = writeSet({ chain: renewed.certificatePem, midway: { secrets: "nothing" } });
        const halves = `set ${next} not taken yet: the secret files name set ${current}`;
        await waitFor("the applier saw the halves name two sets", async () => log().includes(halves), 20_000, 100);
        assert.equal(applied(), taken, "no set taken while the halves name different sets");
        // Both manifests name the new set, but a file is not what its manifest says (still being written).
        assert.equal(writeSet({ chain: renewed.certificatePem, midway: { chain: pki.certificatePem } }), next);
        const mismatch = `set ${next} not taken yet: a file is not (yet) what its manifest says`;
        await waitFor("the applier saw a file unlike its manifest", async () => log().includes(mismatch), 20_000, 100);
        assert.equal(applied(), taken, "no set taken while a file does not match its manifest");
        assert.equal(await servedSerial(), serial);
        const wrongKey = issueTestCertificates(["registry.test"], ["127.0.0.1"], { caPem: pki.caPem, caKeyPem: pki.caKeyPem });
        // A whole set whose key is not the chain's: refused by nginx -t.
        writeSet({ key: wrongKey.privateKeyPem });
        await waitFor("the refusal logged", async () => /refused/.test(log()), 20_000, 100);
        assert.equal(applied(), taken, "not taken");
        assert.equal(await servedSerial(), serial, "the previous certificate still served");
        assert.equal(await status(LOAD_USERS.pull.username, LOAD_USERS.pull.password), "200");
        // A good one after it is taken.
        writeSet({ chain: renewed.certificatePem });
        await waitFor("the good set taken", async () => applied() > taken, 20_000, 100);
        assert.equal(await servedSerial(), new X509Certificate(renewed.certificatePem).serialNumber);
        pki = { ...pki, certificatePem: renewed.certificatePem };
    });

    it("a changed nginx.conf: a graceful reload, the transfers in flight complete", async () => {
        const conf = renderEdgeConfig(edgeInput).replace("client_header_timeout 10s;", "client_header_timeout 11s;");
        assert.notEqual(conf, renderEdgeConfig(edgeInput));
        const reloads = () => (log().match(/nginx reloaded/g) ?? []).length;
        const before = reloads();
        const { stats, transfers } = await underLoad(
            "nginx.conf",
            () => void writeSet({ conf }),
            async () => reloads() > before,
        );
        assert.deepEqual(
            transfers.map((t) => t.type === "request" && t.ok),
            [true, true],
            "the big pull and the chunked push in flight completed whole across the reload",
        );
        process.stdout.write(
            `# a reload: ${stats.failures} of ${stats.requests} requests failed ${JSON.stringify(stats.failed.map((f) => (f.type === "request" ? (f.error ?? f.status) : "")))}\n`,
        );
        control({ hold: false, stop: true });
        let exitCode: number | null | undefined;
        void load.exited.then((code) => (exitCode = code));
        await waitFor("the load to stop", async () => exitCode !== undefined, 60_000, 100);
        assert.equal(exitCode, 0, readFileSync(load.logFile, "utf8"));
    });
});
