/**
 * The one client used on every side: curl against the registry's HTTP API (POST an upload, PUT
 * it monolithically with its digest, GET the blob), HTTP/1.1 everywhere (the edge's protocol; a
 * registry alone over TLS would offer HTTP/2 to a client that asks). One curl process per batch,
 * transfers chained with `--next`, so a batch reuses one connection (and one TLS handshake) the
 * way docker and containerd do. Times are curl's own (`time_total` of each transfer, summed):
 * what starting curl costs, or when the bench's own process gets to run, is not in them.
 */
import { run } from "../lib/processes";
import type { BlobFile } from "../lib/randomBlob";

export interface Endpoint {
    /** `https://registry.test:8443` or `http://127.0.0.1:5000`. */
    baseUrl: string;
    /** What every request needs: the CA, credentials, `--resolve` for the test name. */
    curlOptions: string[];
    /** The argv prefix curl runs under (the clients' namespace, core and priority); empty: as the bench runs. */
    client: string[];
}

export type Outcome = { ok: true; seconds: number } | { ok: false; reason: string };

/** Long enough for a 1 GiB layer on a slow run; a hang still fails. */
const TRANSFER_TIMEOUT_MS = 600_000;

interface TransferLine {
    status: number;
    seconds: number;
    rest: string;
}

/**
 * Runs chained transfers; each section's `-w` prints `<status> <time_total> <rest>` on its own
 * line. `parallel`: all at once, each on a connection of its own (curl's `--parallel`), and the
 * batch takes as long as its longest transfer; otherwise one after the other, their times summed.
 */
async function curlBatch(
    endpoint: Endpoint,
    sections: string[][],
    parallel = false,
): Promise<{ lines: TransferLine[]; seconds: number; stderr: string }> {
    const together = parallel
        ? ["--parallel", "--parallel-immediate", "--parallel-max", String(sections.length), "--no-progress-meter"]
        : [];
    const args = sections.flatMap((section, i) => [
        ...(i === 0 ? [] : ["--next"]),
        "--http1.1",
        ...endpoint.curlOptions,
        "-sS",
        "-o",
        "/dev/null",
        ...section,
    ]);
    const [command, ...prefix] = [...endpoint.client, "curl"];
    const result = await run(command, [...prefix, ...together, ...args], {
        allowFailure: true,
        timeoutMs: TRANSFER_TIMEOUT_MS,
    });
    const lines = result.stdout
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => {
            const [status, seconds, ...rest] = line.split(" ");
            return { status: Number(status), seconds: Number(seconds), rest: rest.join(" ") };
        });
    const seconds = parallel ? Math.max(0, ...lines.map((line) => line.seconds)) : lines.reduce((sum, line) => sum + line.seconds, 0);
    return { lines, seconds, stderr: result.stderr.trim() };
}

/** The first transfer that did not answer `expected`, described for the table. */
function failure(lines: TransferLine[], count: number, expected: number, stderr: string): string | undefined {
    const bad = lines.find((line) => line.status !== expected);
    if (bad !== undefined) return bad.status === 0 ? `no response (${lastLine(stderr)})` : `HTTP ${bad.status}`;
    if (lines.length < count) return `curl stopped after ${lines.length}/${count} (${lastLine(stderr)})`;
    return undefined;
}

function lastLine(text: string): string {
    return (
        text
            .split("\n")
            .filter(Boolean)
            .pop()
            ?.replace(/^curl: \(\d+\) /, "") ?? "no output"
    );
}

/**
 * Pushes blobs as a client pushes layers: one POST per layer for an upload URL, then one PUT per
 * layer with the bytes and the digest. Timed from the first POST to the last PUT's 201.
 */
export async function pushBlobs(endpoint: Endpoint, repository: string, blobs: BlobFile[]): Promise<Outcome> {
    const start = await curlBatch(
        endpoint,
        blobs.map(() => [
            "-X",
            "POST",
            "-w",
            "%{http_code} %{time_total} %header{location}\n",
            `${endpoint.baseUrl}/v2/${repository}/blobs/uploads/`,
        ]),
    );
    const startFailure = failure(start.lines, blobs.length, 202, start.stderr);
    if (startFailure !== undefined) return { ok: false, reason: `upload start: ${startFailure}` };
    const upload = await curlBatch(
        endpoint,
        blobs.map((blob, i) => {
            const location = start.lines[i].rest;
            // Expect: 100-continue off: docker and containerd never send it; a 413 then still arrives.
            return [
                "-H",
                "Expect:",
                "-H",
                "Content-Type: application/octet-stream",
                "-T",
                blob.path,
                "-w",
                "%{http_code} %{time_total}\n",
                `${location}${location.includes("?") ? "&" : "?"}digest=${blob.digest}`,
            ];
        }),
    );
    const uploadFailure = failure(upload.lines, blobs.length, 201, upload.stderr);
    if (uploadFailure !== undefined) return { ok: false, reason: uploadFailure };
    return { ok: true, seconds: start.seconds + upload.seconds };
}

/** GETs of `urls`, each checked to arrive whole (`sizes[i]` bytes): one after the other on one connection, or all at once. */
async function fetchAll(endpoint: Endpoint, urls: string[], sizes: number[], parallel: boolean): Promise<Outcome> {
    const fetched = await curlBatch(
        endpoint,
        urls.map((url) => ["-w", "%{http_code} %{time_total} %{size_download}\n", url]),
        parallel,
    );
    const fetchFailure = failure(fetched.lines, urls.length, 200, fetched.stderr);
    if (fetchFailure !== undefined) return { ok: false, reason: fetchFailure };
    const short = fetched.lines.findIndex((line, i) => Number(line.rest) !== sizes[i]);
    if (short >= 0) return { ok: false, reason: `short read: ${fetched.lines[short].rest} of ${sizes[short]} bytes` };
    return { ok: true, seconds: fetched.seconds };
}

const blobUrl = (endpoint: Endpoint, repository: string, blob: BlobFile) => `${endpoint.baseUrl}/v2/${repository}/blobs/${blob.digest}`;

/** GETs every blob in turn over one connection. */
export function pullBlobs(endpoint: Endpoint, repository: string, blobs: BlobFile[]): Promise<Outcome> {
    return fetchAll(
        endpoint,
        blobs.map((blob) => blobUrl(endpoint, repository, blob)),
        blobs.map((blob) => blob.size),
        false,
    );
}

/** `clients` pulls of the same blob at once, each on its own connection, as many nodes pulling one layer. */
export function pullConcurrently(endpoint: Endpoint, repository: string, blob: BlobFile, clients: number): Promise<Outcome> {
    return fetchAll(endpoint, Array(clients).fill(blobUrl(endpoint, repository, blob)), Array(clients).fill(blob.size), true);
}

/** A static file: once, or by `clients` at once. */
export function fetchFile(endpoint: Endpoint, url: string, size: number, clients = 1): Promise<Outcome> {
    return fetchAll(endpoint, Array(clients).fill(url), Array(clients).fill(size), clients > 1);
}

/** `count` GETs of `path` over one connection: the fixed cost of a request (auth included). */
export async function repeatRequest(endpoint: Endpoint, path: string, count: number): Promise<Outcome> {
    const batch = await curlBatch(
        endpoint,
        Array.from({ length: count }, () => ["-w", "%{http_code} %{time_total}\n", `${endpoint.baseUrl}${path}`]),
    );
    const batchFailure = failure(batch.lines, count, 200, batch.stderr);
    return batchFailure === undefined ? { ok: true, seconds: batch.seconds } : { ok: false, reason: batchFailure };
}
