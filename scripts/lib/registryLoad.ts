/**
 * A continuous load of registry clients, as its own process (so it can run inside a network
 * namespace), for the tests that change a running stack: every request it makes is one line of
 * a JSONL log, with when it started and ended and whether it succeeded, so a test can count the
 * requests and failures in any window and find the longest time without a success.
 *
 *   node --import tsx scripts/lib/registryLoad.ts CONFIG_JSON
 *
 * What it does, once it has pushed its seed (a small image and one big blob) as the push user:
 * - `pull`: the pull user GETs the seed's manifest and layer (checking its digest) and HEADs its
 *   config, over and over;
 * - `push`: the push user uploads a small new blob (POST, PUT) and HEADs it, over and over;
 * - `mirror` (when configured): the pull user GETs the mirror's `/v2/` and `/v2/_catalog`, and
 *   the manifest of `mirrorImage` (which the mirror fetches from its upstream);
 * - `ui` (when configured): anyone GETs the UI's page;
 * - while the control file says `hold`: one `big-pull` (the big blob, read slowly: at most
 *   HOLD_READ_BYTES_PER_SECOND, never past 90% of it) and one `chunked-push` (an upload in 1 MiB
 *   PATCHes, two a second) stay in flight; once `hold` is cleared, both finish at full speed and
 *   are checked (the blob's size and digest; the upload's 201 and digest), each a request of
 *   its own beside its parts.
 * No request is ever retried: a failure is logged as one.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import type { IncomingMessage } from "node:http";

export interface LoadUser {
    username: string;
    password: string;
}

export interface LoadConfig {
    /** `host:port` as clients name the registry (URLs, SNI, the Host header). */
    endpoint: string;
    /** The address to connect to instead of resolving the host. Default: the host's. */
    connectTo?: string;
    /** PEM file of the CA to trust. */
    caFile: string;
    push: LoadUser;
    pull: LoadUser;
    /** Repository of the seed and the pushes. */
    repository: string;
    /** Size of the big blob, bytes. */
    bigBlobBytes: number;
    /** The mirror's `host:port` at the edge, if any. */
    mirrorEndpoint?: string;
    /** An image the mirror's upstream has, `repository:tag`, pulled (its manifest) through the mirror. Default: none. */
    mirrorImage?: string;
    /** Also GET the UI's page. */
    ui?: boolean;
    /** JSON `{ "hold": boolean, "stop": boolean }`, read ten times a second. */
    controlFile: string;
    /** Where each request's line goes. */
    logFile: string;
}

/** One line of the log. */
export type LoadEvent =
    | { type: "request"; kind: string; t0: number; t1: number; ok: boolean; status?: number; error?: string }
    | { type: "transfer"; kind: "big-pull" | "chunked-push"; phase: "start" | "progress"; t: number; bytes: number }
    | { type: "ready"; t: number }
    | { type: "stopped"; t: number };

export interface WindowStats {
    requests: number;
    failures: number;
    /** The failed requests, first ten. */
    failed: LoadEvent[];
    /** The longest time, in seconds, between two successive successes (or the window's edges). */
    longestGapSeconds: number;
    byKind: Record<string, { requests: number; failures: number }>;
}

/** Requests that ended inside [from, to] (ms since the epoch), and the longest gap between successes. */
export function windowStats(events: LoadEvent[], from: number, to: number, kinds?: (kind: string) => boolean): WindowStats {
    const requests = events.filter(
        (e): e is Extract<LoadEvent, { type: "request" }> =>
            e.type === "request" && e.t1 >= from && e.t1 <= to && (kinds?.(e.kind) ?? true),
    );
    const failed = requests.filter((e) => !e.ok);
    const byKind: WindowStats["byKind"] = {};
    for (const e of requests) {
        const entry = (byKind[e.kind] ??= { requests: 0, failures: 0 });
        entry.requests++;
        if (!e.ok) entry.failures++;
    }
    const successes = [from, ...requests.filter((e) => e.ok).map((e) => e.t1), to].sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < successes.length; i++) gap = Math.max(gap, successes[i] - successes[i - 1]);
    return { requests: requests.length, failures: failed.length, failed: failed.slice(0, 10), longestGapSeconds: gap / 1000, byKind };
}

export function readLoadLog(logFile: string): LoadEvent[] {
    if (!fs.existsSync(logFile)) return [];
    return fs
        .readFileSync(logFile, "utf8")
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as LoadEvent);
}

/** What the load reads at most while holding a big pull, bytes per second. */
export const HOLD_READ_BYTES_PER_SECOND = 2 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

class Load {
    private readonly agent: https.Agent;
    private readonly ca: Buffer;
    private control = { hold: false, stop: false };
    private readonly log: fs.WriteStream;
    private seed = { manifest: "", layer: "", layerDigest: "", config: "", big: "" };

    constructor(private readonly config: LoadConfig) {
        this.ca = fs.readFileSync(config.caFile);
        this.agent = new https.Agent({ keepAlive: true, maxSockets: 16 });
        this.log = fs.createWriteStream(config.logFile, { flags: "a" });
    }

    private write(event: LoadEvent): void {
        this.log.write(`${JSON.stringify(event)}\n`);
    }

    private readControl(): void {
        try {
            this.control = { hold: false, stop: false, ...JSON.parse(fs.readFileSync(this.config.controlFile, "utf8")) };
        } catch {
            // Being rewritten: the last one read stands.
        }
    }

    /** One request; resolves with the response, its body read unless `stream`. */
    private request(
        method: string,
        path: string,
        options: { user?: LoadUser; headers?: Record<string, string | number>; body?: Buffer; endpoint?: string; stream?: boolean } = {},
    ): Promise<{ status: number; headers: IncomingMessage["headers"]; body: Buffer; response: IncomingMessage }> {
        const endpoint = options.endpoint ?? this.config.endpoint;
        const [host, port] = splitHostPort(endpoint);
        const headers: Record<string, string | number> = { ...options.headers };
        if (options.user)
            headers.Authorization = `Basic ${Buffer.from(`${options.user.username}:${options.user.password}`).toString("base64")}`;
        if (options.body) headers["Content-Length"] = options.body.length;
        return new Promise((resolve, reject) => {
            const req = https.request(
                {
                    host: this.config.connectTo ?? host,
                    servername: /^[\d.:]+$/.test(host) ? undefined : host,
                    port,
                    method,
                    path,
                    headers: { Host: endpoint, ...headers },
                    ca: this.ca,
                    agent: this.agent,
                },
                (response) => {
                    if (options.stream)
                        return resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.alloc(0), response });
                    const chunks: Buffer[] = [];
                    response.on("data", (c: Buffer) => chunks.push(c));
                    response.on("end", () =>
                        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks), response }),
                    );
                    response.on("error", reject);
                },
            );
            req.on("error", reject);
            req.end(options.body);
        });
    }

    /** A request logged as one: ok when `accept` says so. */
    private async timed<T>(
        kind: string,
        work: () => Promise<{ status: number; value?: T }>,
        accept: (status: number) => boolean,
    ): Promise<T | undefined> {
        const t0 = Date.now();
        try {
            const { status, value } = await work();
            const ok = accept(status);
            this.write({ type: "request", kind, t0, t1: Date.now(), ok, status });
            return ok ? value : undefined;
        } catch (error) {
            this.write({ type: "request", kind, t0, t1: Date.now(), ok: false, error: String((error as Error).message ?? error) });
            return undefined;
        }
    }

    private async uploadBlob(kind: string, user: LoadUser, data: Buffer): Promise<string | undefined> {
        const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
        const location = await this.timed(
            `${kind}-start`,
            async () => {
                const r = await this.request("POST", `/v2/${this.config.repository}/blobs/uploads/`, { user });
                return { status: r.status, value: r.headers.location };
            },
            (s) => s === 202,
        );
        if (!location) return undefined;
        const url = new URL(location, `https://${this.config.endpoint}`);
        url.searchParams.set("digest", digest);
        const put = await this.timed(
            `${kind}-put`,
            async () => ({
                status: (
                    await this.request("PUT", `${url.pathname}${url.search}`, {
                        user,
                        body: data,
                        headers: { "Content-Type": "application/octet-stream" },
                    })
                ).status,
                value: true,
            }),
            (s) => s === 201,
        );
        return put ? digest : undefined;
    }

    /** The seed: a 1 MiB layer, a config, a manifest tagged `seed`, and the big blob. */
    async pushSeed(): Promise<void> {
        const user = this.config.push;
        const layer = randomBytes(CHUNK_BYTES);
        const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
        const layerDigest = await this.uploadBlob("seed", user, layer);
        const configDigest = await this.uploadBlob("seed", user, config);
        if (!layerDigest || !configDigest) throw new Error("could not push the seed's blobs");
        const manifest = Buffer.from(
            JSON.stringify({
                schemaVersion: 2,
                mediaType: OCI_MANIFEST,
                config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
                layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length }],
            }),
        );
        const tagged = await this.request("PUT", `/v2/${this.config.repository}/manifests/seed`, {
            user,
            body: manifest,
            headers: { "Content-Type": OCI_MANIFEST },
        });
        if (tagged.status !== 201) throw new Error(`tagging the seed: ${tagged.status} ${tagged.body.toString()}`);
        const big = randomBytes(this.config.bigBlobBytes);
        const bigDigest = await this.uploadBlob("seed", user, big);
        if (!bigDigest) throw new Error("could not push the big blob");
        this.seed = {
            manifest: `sha256:${createHash("sha256").update(manifest).digest("hex")}`,
            layer: layerDigest,
            layerDigest,
            config: configDigest,
            big: bigDigest,
        };
    }

    async pullLoop(): Promise<void> {
        const user = this.config.pull;
        const repo = this.config.repository;
        while (!this.control.stop) {
            await this.timed(
                "pull-manifest",
                async () => {
                    const r = await this.request("GET", `/v2/${repo}/manifests/seed`, { user, headers: { Accept: OCI_MANIFEST } });
                    return { status: r.status === 200 && r.headers["docker-content-digest"] !== this.seed.manifest ? -1 : r.status };
                },
                (s) => s === 200,
            );
            await this.timed(
                "pull-layer",
                async () => {
                    const r = await this.request("GET", `/v2/${repo}/blobs/${this.seed.layer}`, { user });
                    const digest = `sha256:${createHash("sha256").update(r.body).digest("hex")}`;
                    return { status: r.status === 200 && digest !== this.seed.layerDigest ? -1 : r.status };
                },
                (s) => s === 200,
            );
            await this.timed(
                "pull-config-head",
                async () => ({ status: (await this.request("HEAD", `/v2/${repo}/blobs/${this.seed.config}`, { user })).status }),
                (s) => s === 200,
            );
            await sleep(100);
        }
    }

    async pushLoop(): Promise<void> {
        while (!this.control.stop) {
            const digest = await this.uploadBlob("push", this.config.push, randomBytes(1024));
            if (digest)
                await this.timed(
                    "push-head",
                    async () => ({
                        status: (await this.request("HEAD", `/v2/${this.config.repository}/blobs/${digest}`, { user: this.config.push }))
                            .status,
                    }),
                    (s) => s === 200,
                );
            await sleep(100);
        }
    }

    async mirrorLoop(): Promise<void> {
        const endpoint = this.config.mirrorEndpoint!;
        while (!this.control.stop) {
            const [repository, tag] = (this.config.mirrorImage ?? ":").split(":");
            for (const path of ["/v2/", "/v2/_catalog", ...(repository ? [`/v2/${repository}/manifests/${tag}`] : [])])
                await this.timed(
                    "mirror",
                    async () => ({
                        status: (await this.request("GET", path, { user: this.config.pull, endpoint, headers: { Accept: OCI_MANIFEST } }))
                            .status,
                    }),
                    (s) => s === 200,
                );
            await sleep(200);
        }
    }

    async uiLoop(): Promise<void> {
        while (!this.control.stop) {
            await this.timed(
                "ui",
                async () => ({ status: (await this.request("GET", "/")).status }),
                (s) => s === 200,
            );
            await sleep(200);
        }
    }

    /** While held: one big pull in flight, read slowly; released: finished at full speed and checked. */
    async bigPullLoop(): Promise<void> {
        const size = this.config.bigBlobBytes;
        while (!this.control.stop) {
            if (!this.control.hold) {
                await sleep(100);
                continue;
            }
            await this.timed(
                "big-pull",
                async () => {
                    const r = await this.request("GET", `/v2/${this.config.repository}/blobs/${this.seed.big}`, {
                        user: this.config.pull,
                        stream: true,
                    });
                    if (r.status !== 200) {
                        r.response.resume();
                        return { status: r.status };
                    }
                    const hash = createHash("sha256");
                    let bytes = 0;
                    const started = Date.now();
                    this.write({ type: "transfer", kind: "big-pull", phase: "start", t: started, bytes });
                    await new Promise<void>((resolve, reject) => {
                        const response = r.response;
                        const pace = setInterval(() => {
                            const allowed = this.control.hold
                                ? Math.min(((Date.now() - started) / 1000) * HOLD_READ_BYTES_PER_SECOND, size * 0.9)
                                : Infinity;
                            if (bytes < allowed && response.isPaused()) response.resume();
                        }, 50);
                        response.on("data", (chunk: Buffer) => {
                            hash.update(chunk);
                            bytes += chunk.length;
                            this.write({ type: "transfer", kind: "big-pull", phase: "progress", t: Date.now(), bytes });
                            const allowed = this.control.hold
                                ? Math.min(((Date.now() - started) / 1000) * HOLD_READ_BYTES_PER_SECOND, size * 0.9)
                                : Infinity;
                            if (bytes >= allowed) response.pause();
                        });
                        response.on("end", () => {
                            clearInterval(pace);
                            resolve();
                        });
                        response.on("error", (error) => {
                            clearInterval(pace);
                            reject(error);
                        });
                        response.on("aborted", () => {
                            clearInterval(pace);
                            reject(new Error(`aborted after ${bytes} bytes`));
                        });
                    });
                    const whole = bytes === size && `sha256:${hash.digest("hex")}` === this.seed.big;
                    return { status: whole ? 200 : -2 };
                },
                (s) => s === 200,
            );
            while (this.control.hold && !this.control.stop) await sleep(100);
        }
    }

    /** While held: one upload in flight, a 1 MiB PATCH each half second; released: finished and checked. */
    async chunkedPushLoop(): Promise<void> {
        const user = this.config.push;
        while (!this.control.stop) {
            if (!this.control.hold) {
                await sleep(100);
                continue;
            }
            await this.timed(
                "chunked-push",
                async () => {
                    let location = await this.timed(
                        "chunk-start",
                        async () => {
                            const r = await this.request("POST", `/v2/${this.config.repository}/blobs/uploads/`, { user });
                            return { status: r.status, value: r.headers.location };
                        },
                        (s) => s === 202,
                    );
                    if (!location) return { status: -1 };
                    const hash = createHash("sha256");
                    let offset = 0;
                    this.write({ type: "transfer", kind: "chunked-push", phase: "start", t: Date.now(), bytes: 0 });
                    // At least two chunks, then as long as held (at most 512 MiB).
                    while ((offset < 2 * CHUNK_BYTES || this.control.hold) && !this.control.stop && offset < 512 * CHUNK_BYTES) {
                        const chunk = randomBytes(CHUNK_BYTES);
                        const url = new URL(location, `https://${this.config.endpoint}`);
                        const next: string | undefined = await this.timed(
                            "chunk-patch",
                            async () => {
                                const r = await this.request("PATCH", `${url.pathname}${url.search}`, {
                                    user,
                                    body: chunk,
                                    headers: {
                                        "Content-Type": "application/octet-stream",
                                        "Content-Range": `${offset}-${offset + chunk.length - 1}`,
                                    },
                                });
                                return { status: r.status, value: r.headers.location };
                            },
                            (s) => s === 202,
                        );
                        if (!next) return { status: -1 };
                        location = next;
                        hash.update(chunk);
                        offset += chunk.length;
                        this.write({ type: "transfer", kind: "chunked-push", phase: "progress", t: Date.now(), bytes: offset });
                        if (this.control.hold) await sleep(500);
                    }
                    const digest = `sha256:${hash.digest("hex")}`;
                    const url = new URL(location, `https://${this.config.endpoint}`);
                    url.searchParams.set("digest", digest);
                    const done = await this.timed(
                        "chunk-put",
                        async () => ({
                            status: (await this.request("PUT", `${url.pathname}${url.search}`, { user, headers: { "Content-Length": 0 } }))
                                .status,
                            value: true,
                        }),
                        (s) => s === 201,
                    );
                    if (!done) return { status: -1 };
                    const head = await this.request("HEAD", `/v2/${this.config.repository}/blobs/${digest}`, { user });
                    return { status: head.status === 200 && Number(head.headers["content-length"]) === offset ? 201 : -3 };
                },
                (s) => s === 201,
            );
            while (this.control.hold && !this.control.stop) await sleep(100);
        }
    }

    async run(): Promise<void> {
        const poll = setInterval(() => this.readControl(), 100);
        this.readControl();
        await this.pushSeed();
        this.write({ type: "ready", t: Date.now() });
        await Promise.all([
            this.pullLoop(),
            this.pushLoop(),
            this.bigPullLoop(),
            this.chunkedPushLoop(),
            ...(this.config.mirrorEndpoint ? [this.mirrorLoop()] : []),
            ...(this.config.ui ? [this.uiLoop()] : []),
        ]);
        clearInterval(poll);
        this.write({ type: "stopped", t: Date.now() });
        await new Promise<void>((resolve) => this.log.end(resolve));
        this.agent.destroy();
    }
}

function splitHostPort(endpoint: string): [string, number] {
    const match = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(endpoint);
    if (!match) throw new Error(`not host:port: ${endpoint}`);
    return [match[1], Number(match[2] ?? 443)];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (require.main === module) {
    const config = JSON.parse(process.argv[2]) as LoadConfig;
    new Load(config).run().then(
        () => process.exit(0),
        (error) => {
            console.error(error);
            process.exit(1);
        },
    );
}
