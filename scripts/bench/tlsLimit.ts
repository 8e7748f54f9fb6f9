/**
 * What TLS alone allows: nginx with exactly the edge's TLS settings, on the edge's core and in its
 * namespace, sending the same layer as a static file, nothing proxied and no registry. Rounds
 * alternate a fetch from it with a pull through the edge (one client, then many at once), so each
 * pair saw the same conditions; the edge's pull as a share of it is what the edge costs a pull.
 */
import { readFileSync } from "fs";
import { basename, dirname, join } from "path";
import type { BlobFile } from "../lib/randomBlob";
import { treeCpuSeconds, watchWhile } from "../lib/procStats";
import type { Site } from "./network";
import { run } from "../lib/processes";
import { Endpoint, fetchFile, pullBlobs, pullConcurrently } from "./registryClient";
import { alternating, ensurePresent, Measurement, Target } from "./scenarios";
import { Bench, HOST, nginxDir, startNginxAt, tlsEndpoint, tlsLinesOf } from "./servers";

export interface TlsLimit {
    /** MiB/s of one client: the static file over TLS, and the edge's pull of the same bytes. */
    tlsOnly: Measurement;
    edgePull: Measurement;
    /** Aggregate MiB/s of `clients` at once, both ways. */
    tlsOnlyConcurrent: Measurement;
    edgeConcurrent: Measurement;
    /** Median nginx CPU-seconds per GiB of the single-client transfers: TLS only, and the edge. */
    tlsOnlyNginxCpu: number[];
    edgeNginxCpu: number[];
}

function tlsOnlyConf(dir: string, edgeConfPath: string, root: string, port: number, workerProcesses: string): string {
    return `# TLS only: the edge's TLS settings, static files, nothing proxied.
worker_processes ${workerProcesses};
pid ${join(dir, "nginx.pid")};
error_log stderr warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    sendfile on;
    tcp_nodelay on;
    default_type application/octet-stream;
${["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `    ${kind}_temp_path ${join(dir, "temp", kind)};`).join("\n")}
    server {
        listen ${port} ssl;
        listen ${port + 1};
        server_name ${HOST};
${tlsLinesOf(edgeConfPath)
    .map((line) => `        ${line}`)
    .join("\n")}
        root ${root};
    }
}
`;
}

/**
 * `edge` (its nginx at `site`) against a TLS-only nginx beside it serving `blob` and
 * `concurrentBlob` (files of one directory), `rounds` alternating rounds.
 */
export async function measureTlsLimit(
    bench: Bench,
    name: string,
    site: Site,
    port: number,
    edge: Target,
    blob: BlobFile,
    concurrentBlob: BlobFile,
    clients: number,
    rounds: number,
    progress: (text: string) => void,
): Promise<TlsLimit> {
    if (dirname(concurrentBlob.path) !== dirname(blob.path))
        throw new Error("the TLS-only server serves one directory: both blobs must be in it");
    const dir = nginxDir(bench, name);
    const edgeConf = join(edge.nginx!.dir, "nginx.conf");
    const workers = /^worker_processes (\S+);/m.exec(readFileSync(edgeConf, "utf8"))?.[1] ?? "auto";
    const server = await startNginxAt(bench, name, dir, tlsOnlyConf(dir, edgeConf, dirname(blob.path), port, workers), site, port + 1);
    const endpoint = tlsEndpoint(bench, site.address, port, []);
    const url = (file: BlobFile) => `${endpoint.baseUrl}/${basename(file.path)}`;
    const repository = `bench/${edge.slug}/tls-limit`;
    await ensurePresent(edge, repository, [blob]);
    await ensurePresent(edge, repository, [concurrentBlob]);
    const limit: TlsLimit = {
        tlsOnly: new Measurement(),
        edgePull: new Measurement(),
        tlsOnlyConcurrent: new Measurement(),
        edgeConcurrent: new Measurement(),
        tlsOnlyNginxCpu: [],
        edgeNginxCpu: [],
    };
    const gib = blob.size / 2 ** 30;
    const sides = [
        {
            name: "TLS only",
            visit: async (round: number) => {
                const before = treeCpuSeconds(server.daemon.pid);
                limit.tlsOnly.record(round, await fetchFile(endpoint, url(blob), blob.size), blob.size);
                limit.tlsOnlyNginxCpu.push((treeCpuSeconds(server.daemon.pid) - before) / gib);
                limit.tlsOnlyConcurrent.record(
                    round,
                    await fetchFile(endpoint, url(concurrentBlob), concurrentBlob.size, clients),
                    concurrentBlob.size * clients,
                );
            },
        },
        {
            name: "edge",
            visit: async (round: number) => {
                const pulled = await watchWhile({ nginxPid: edge.nginx!.daemon.pid, registryPid: edge.registryPid }, () =>
                    pullBlobs(edge.endpoint, repository, [blob]),
                );
                limit.edgePull.record(round, pulled.result, blob.size);
                limit.edgeNginxCpu.push((pulled.use.nginxCpuSeconds ?? 0) / gib);
                limit.edgeConcurrent.record(
                    round,
                    await pullConcurrently(edge.endpoint, repository, concurrentBlob, clients),
                    concurrentBlob.size * clients,
                );
            },
        },
    ];
    await alternating(
        sides,
        rounds,
        (side, round) => side.visit(round),
        (text) => progress(`TLS limit, ${text}`),
    );
    await server.daemon.stop();
    return limit;
}

/** The protocol and cipher curl ends up with against `endpoint`, from its verbose output. */
export async function negotiatedCipher(endpoint: Endpoint): Promise<string> {
    const [command, ...prefix] = [...endpoint.client, "curl"];
    const result = await run(
        command,
        [...prefix, "--http1.1", ...endpoint.curlOptions, "-sS", "-v", "-o", "/dev/null", `${endpoint.baseUrl}/v2/`],
        {
            allowFailure: true,
        },
    );
    return /SSL connection using (\S+) \/ (\S+)/.exec(result.stderr)?.slice(1).join(" ") ?? "plain HTTP";
}
