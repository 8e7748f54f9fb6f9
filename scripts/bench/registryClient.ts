/**
 * The one client used on every side: curl against the registry's HTTP API (POST an upload, PUT
 * it monolithically with its digest, GET the blob). One curl process per batch, transfers chained
 * with `--next`, so a batch reuses one connection (and one TLS handshake) the way docker and
 * containerd do.
 */
import { run } from "../lib/processes";
import type { BlobFile } from "./workload";

export interface Endpoint {
    /** `https://registry.test:8443` or `http://127.0.0.1:5000`. */
    baseUrl: string;
    /** What every request needs: the CA, credentials, `--resolve` for the test name. */
    curlOptions: string[];
}

export type Outcome = { ok: true; seconds: number } | { ok: false; reason: string };

/** Long enough for a 1 GiB layer spooled to disk on a busy machine; a hang still fails. */
const TRANSFER_TIMEOUT_MS = 600_000;

interface TransferLine {
    status: number;
    rest: string;
}

/** Runs chained transfers; each section's `-w` prints `<status> <rest>` on its own line. */
async function curlBatch(sections: string[][]): Promise<{ lines: TransferLine[]; seconds: number; stderr: string }> {
    const args = sections.flatMap((section, i) => (i === 0 ? section : ["--next", ...section]));
    const started = process.hrtime.bigint();
    const result = await run("curl", args, { allowFailure: true, timeoutMs: TRANSFER_TIMEOUT_MS });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const lines = result.stdout
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => {
            const [status, ...rest] = line.split(" ");
            return { status: Number(status), rest: rest.join(" ") };
        });
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

const quiet = ["-sS", "-o", "/dev/null"];

/**
 * Pushes blobs as a client pushes layers: one POST per layer for an upload URL, then one PUT per
 * layer with the bytes and the digest. Timed from the first POST to the last PUT's 201.
 */
export async function pushBlobs(endpoint: Endpoint, repository: string, blobs: BlobFile[]): Promise<Outcome> {
    const start = await curlBatch(
        blobs.map(() => [
            ...endpoint.curlOptions,
            ...quiet,
            "-X",
            "POST",
            "-w",
            "%{http_code} %header{location}\n",
            `${endpoint.baseUrl}/v2/${repository}/blobs/uploads/`,
        ]),
    );
    const startFailure = failure(start.lines, blobs.length, 202, start.stderr);
    if (startFailure !== undefined) return { ok: false, reason: `upload start: ${startFailure}` };
    const upload = await curlBatch(
        blobs.map((blob, i) => {
            const location = start.lines[i].rest;
            // Expect: 100-continue off: docker and containerd never send it; a 413 then still arrives.
            return [
                ...endpoint.curlOptions,
                ...quiet,
                "-H",
                "Expect:",
                "-H",
                "Content-Type: application/octet-stream",
                "-T",
                blob.path,
                "-w",
                "%{http_code}\n",
                `${location}${location.includes("?") ? "&" : "?"}digest=${blob.digest}`,
            ];
        }),
    );
    const uploadFailure = failure(upload.lines, blobs.length, 201, upload.stderr);
    if (uploadFailure !== undefined) return { ok: false, reason: uploadFailure };
    return { ok: true, seconds: start.seconds + upload.seconds };
}

/** GETs every blob in turn over one connection and checks each arrived whole. */
export async function pullBlobs(endpoint: Endpoint, repository: string, blobs: BlobFile[]): Promise<Outcome> {
    const pull = await curlBatch(
        blobs.map((blob) => [
            ...endpoint.curlOptions,
            ...quiet,
            "-w",
            "%{http_code} %{size_download}\n",
            `${endpoint.baseUrl}/v2/${repository}/blobs/${blob.digest}`,
        ]),
    );
    const pullFailure = failure(pull.lines, blobs.length, 200, pull.stderr);
    if (pullFailure !== undefined) return { ok: false, reason: pullFailure };
    const short = pull.lines.findIndex((line, i) => Number(line.rest) !== blobs[i].size);
    if (short >= 0) return { ok: false, reason: `short read: ${pull.lines[short].rest} of ${blobs[short].size} bytes` };
    return { ok: true, seconds: pull.seconds };
}

/** `clients` curl processes pulling the same blob at once; timed until the last one finishes. */
export async function pullConcurrently(endpoint: Endpoint, repository: string, blob: BlobFile, clients: number): Promise<Outcome> {
    const started = process.hrtime.bigint();
    const outcomes = await Promise.all(Array.from({ length: clients }, () => pullBlobs(endpoint, repository, [blob])));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const failed = outcomes.find((outcome): outcome is { ok: false; reason: string } => !outcome.ok);
    return failed ?? { ok: true, seconds };
}

/** `count` GETs of `path` over one connection: the fixed cost of a request (auth included). */
export async function repeatRequest(endpoint: Endpoint, path: string, count: number): Promise<Outcome> {
    const batch = await curlBatch(
        Array.from({ length: count }, () => [...endpoint.curlOptions, ...quiet, "-w", "%{http_code}\n", `${endpoint.baseUrl}${path}`]),
    );
    const batchFailure = failure(batch.lines, count, 200, batch.stderr);
    return batchFailure === undefined ? { ok: true, seconds: batch.seconds } : { ok: false, reason: batchFailure };
}
