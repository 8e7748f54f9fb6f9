/**
 * What TLS alone allows on this CPU: raw cipher speed (`openssl speed`, one core, encryption
 * only) and a transfer through nginx with the edge's own TLS settings but no proxy and no
 * registry: a static file from the page cache to curl. Both ends share the same cores, as the
 * edge and its clients do in the benchmark.
 */
import { readFileSync } from "fs";
import { basename, dirname, join } from "path";
import { freePort } from "../lib/loopbackServers";
import { run } from "../lib/processes";
import { clientCpuSeconds, treeCpuSeconds, watchWhile } from "../lib/procStats";
import { Endpoint, pullBlobs, pullConcurrently, pushBlobs } from "./registryClient";
import { HOST, NginxServer, nginxDir, Pki, ProxyUnderTest, startNginxAt, tlsEndpoint } from "./servers";
import { MIB, mibPerSecond, spread, Spread } from "./stats";
import type { BlobFile } from "./workload";

export interface CipherSpeed {
    cipher: string;
    /** MiB/s for 16 KiB blocks (a full TLS record), one core. */
    mibPerSecond: number;
}

export async function cipherSpeeds(ciphers: string[]): Promise<CipherSpeed[]> {
    const speeds: CipherSpeed[] = [];
    for (const cipher of ciphers) {
        const result = await run("openssl", ["speed", "-evp", cipher, "-bytes", "16384", "-seconds", "2"], { timeoutMs: 60_000 });
        // Last line: "<NAME>  <n>k" in units of 1000 bytes per second.
        const kilobytes = Number(/([\d.]+)k\s*$/.exec(result.stdout.trim())?.[1]);
        speeds.push({ cipher, mibPerSecond: (kilobytes * 1000) / MIB });
    }
    return speeds;
}

/** The `ssl_*` directives of a rendered edge config: the TLS-only server copies them verbatim. */
function tlsLinesOf(edgeConf: string): string[] {
    const lines = edgeConf
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => /^ssl_\w+ /.test(line));
    return [...new Set(lines)];
}

function workerProcessesOf(edgeConf: string): string {
    return /^worker_processes (\S+);/m.exec(edgeConf)?.[1] ?? "auto";
}

/**
 * nginx serving `file` over TLS with exactly the TLS settings of the edge whose config is in
 * `edgeDir` (certificate, protocols, ciphers and their order, buffer size, KTLS if set).
 * `debugLog` sends the error log to a file at debug level, to see whether KTLS engaged.
 */
export async function startTlsOnlyServer(
    parent: string,
    name: string,
    edgeDir: string,
    file: string,
    pki: Pki,
    debugLog = false,
): Promise<{ nginx: NginxServer; endpoint: Endpoint; url: string; errorLog: string }> {
    const dir = nginxDir(parent, name);
    const port = await freePort();
    const edgeConf = readFileSync(join(edgeDir, "nginx.conf"), "utf8");
    const errorLog = join(dir, "error.log");
    const conf = `# TLS only: the edge's TLS settings, a static file, nothing proxied.
worker_processes ${workerProcessesOf(edgeConf)};
pid ${join(dir, "nginx.pid")};
error_log ${debugLog ? `${errorLog} debug` : "stderr warn"};
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
        listen 127.0.0.1:${port} ssl;
        server_name ${HOST};
${tlsLinesOf(edgeConf)
    .map((line) => `        ${line}`)
    .join("\n")}
        root ${dirname(file)};
    }
}
`;
    const nginx = await startNginxAt(name, dir, conf, "127.0.0.1", port);
    const endpoint = tlsEndpoint("127.0.0.1", port, pki, undefined);
    return { nginx, endpoint, url: `${endpoint.baseUrl}/${basename(file)}`, errorLog };
}

/** GET of a static file to /dev/null; seconds, or undefined if it did not arrive whole. */
export async function fetchStatic(endpoint: Endpoint, url: string, size: number): Promise<number | undefined> {
    const started = process.hrtime.bigint();
    const result = await run("curl", [...endpoint.curlOptions, "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url], {
        allowFailure: true,
        timeoutMs: 300_000,
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return result.stdout === `200 ${size}` ? seconds : undefined;
}

/** The protocol and cipher curl ends up with against `endpoint`, from its verbose output. */
export async function negotiatedCipher(endpoint: Endpoint): Promise<string> {
    const result = await run("curl", [...endpoint.curlOptions, "-sS", "-v", "-o", "/dev/null", `${endpoint.baseUrl}/`], {
        allowFailure: true,
    });
    return /SSL connection using (\S+) \/ (\S+)/.exec(result.stderr)?.slice(1).join(" ") ?? "unknown";
}

export interface KernelTlsStatus {
    /** The kernel offers the `tls` upper-layer protocol (CONFIG_TLS). */
    kernelModule: boolean;
    /** nginx logged `BIO_get_ktls_send(): 1` for a connection with `Options KTLS`. */
    engagedInNginx: boolean;
}

/** Reads the kernel's ULP list and the debug log of a TLS-only server started with KTLS on. */
export async function kernelTlsStatus(server: { endpoint: Endpoint; url: string; errorLog: string }): Promise<KernelTlsStatus> {
    const ulps = (() => {
        try {
            return readFileSync("/proc/sys/net/ipv4/tcp_available_ulp", "utf8");
        } catch {
            return "";
        }
    })();
    await run("curl", [...server.endpoint.curlOptions, "-sS", "-o", "/dev/null", "-r", "0-1048575", server.url], { allowFailure: true });
    const log = readFileSync(server.errorLog, "utf8");
    return { kernelModule: /\btls\b/.test(ulps), engagedInNginx: log.includes("BIO_get_ktls_send(): 1") };
}

/** Where the TLS table's pulls find their blob (one repository per pair, all on the same storage). */
export const tlsPairRepository = (index: number) => `bench/tls-pair-${index}/big`;

export interface TlsLimit {
    speeds: CipherSpeed[];
    /** Per edge: TLS-only transfers with its TLS settings and its own pulls, measured alternately. */
    pairs: {
        label: string;
        cipher: string;
        tlsOnly?: Spread;
        edgePull?: Spread;
        /** Median CPU-seconds per GiB: nginx serving the file, nginx proxying, the registry behind it. */
        tlsOnlyNginxCpu?: number;
        edgeNginxCpu?: number;
        edgeRegistryCpu?: number;
        /** Median CPU-seconds per GiB of curl: decrypting the TLS-only transfer, and the edge's pull. */
        tlsOnlyClientCpu?: number;
        edgeClientCpu?: number;
        /** Aggregate MiB/s of `concurrent.clients` TLS-only fetches at once, and as many edge pulls, same rounds. */
        tlsOnlyConcurrent?: Spread;
        edgeConcurrent?: Spread;
    }[];
    /** The concurrent rounds: how many clients, each fetching which size. */
    concurrent: { clients: number; bytes: number };
    kernelTls: KernelTlsStatus;
    /** The OpenSSL build has KTLS compiled in (3.0 offers `s_server -sendfile` only then). */
    opensslKtls: boolean;
}

/**
 * Cipher speed, then per edge a TLS-only server with that edge's exact TLS settings serving
 * `blob` as a file. Each round fetches from every TLS-only server and pulls through every edge,
 * so each pair saw the same neighbours. `ktlsEdge` (an edge with KTLS on) tells whether kTLS engages.
 */
export async function measureTlsLimit(
    dir: string,
    blob: BlobFile,
    pki: Pki,
    edges: { label: string; proxy: ProxyUnderTest }[],
    ktlsEdge: ProxyUnderTest,
    runs: number,
    progress: (text: string) => void,
    concurrent: { blob: BlobFile; clients: number },
): Promise<TlsLimit> {
    if (dirname(concurrent.blob.path) !== dirname(blob.path))
        throw new Error("the TLS-only server serves one directory: both blobs must be in it");
    const speeds = await cipherSpeeds(["aes-128-gcm", "aes-256-gcm", "chacha20-poly1305"]);
    const gib = blob.size / 2 ** 30;
    const pairs = [];
    for (const [index, { label, proxy }] of edges.entries()) {
        const tlsOnly = await startTlsOnlyServer(dir, `tls-only-${index}`, proxy.nginx.dir, blob.path, pki);
        const repository = tlsPairRepository(index);
        const pushed = await pushBlobs(proxy.endpoint, repository, [blob, concurrent.blob]);
        if (!pushed.ok) throw new Error(`could not push the TLS comparison blobs through ${label}: ${pushed.reason}`);
        pairs.push({
            label,
            proxy,
            tlsOnly,
            repository,
            tlsRates: [] as number[],
            edgeRates: [] as number[],
            tlsCpu: [] as number[],
            edgeCpu: [] as number[],
            registryCpu: [] as number[],
            tlsClientCpu: [] as number[],
            edgeClientCpu: [] as number[],
            tlsConcurrentRates: [] as number[],
            edgeConcurrentRates: [] as number[],
        });
    }
    for (let round = 0; round < runs; round++) {
        progress(`TLS-only vs edge pull, round ${round + 1}/${runs}`);
        for (const pair of pairs) {
            const cpuBefore = treeCpuSeconds(pair.tlsOnly.nginx.daemon.pid);
            const clientBefore = clientCpuSeconds();
            const seconds = await fetchStatic(pair.tlsOnly.endpoint, pair.tlsOnly.url, blob.size);
            pair.tlsCpu.push((treeCpuSeconds(pair.tlsOnly.nginx.daemon.pid) - cpuBefore) / gib);
            pair.tlsClientCpu.push((clientCpuSeconds() - clientBefore) / gib);
            if (seconds !== undefined) pair.tlsRates.push(mibPerSecond(blob.size, seconds));
            const pulled = await watchWhile({ nginxPid: pair.proxy.nginx.daemon.pid, registryPid: pair.proxy.registryPid }, () =>
                pullBlobs(pair.proxy.endpoint, pair.repository, [blob]),
            );
            if (pulled.result.ok) pair.edgeRates.push(mibPerSecond(blob.size, pulled.result.seconds));
            pair.edgeCpu.push((pulled.use.nginxCpuSeconds ?? 0) / gib);
            pair.registryCpu.push(pulled.use.registryCpuSeconds / gib);
            pair.edgeClientCpu.push((pulled.use.clientCpuSeconds ?? 0) / gib);
            // The same pair with many clients at once: what two cores give when each byte is
            // encrypted once and decrypted once, with and without the edge's work around it.
            const concurrentBytes = concurrent.blob.size * concurrent.clients;
            const concurrentUrl = `${pair.tlsOnly.endpoint.baseUrl}/${basename(concurrent.blob.path)}`;
            const started = process.hrtime.bigint();
            const fetched = await Promise.all(
                Array.from({ length: concurrent.clients }, () => fetchStatic(pair.tlsOnly.endpoint, concurrentUrl, concurrent.blob.size)),
            );
            if (fetched.every((seconds) => seconds !== undefined))
                pair.tlsConcurrentRates.push(mibPerSecond(concurrentBytes, Number(process.hrtime.bigint() - started) / 1e9));
            const edgeConcurrent = await pullConcurrently(pair.proxy.endpoint, pair.repository, concurrent.blob, concurrent.clients);
            if (edgeConcurrent.ok) pair.edgeConcurrentRates.push(mibPerSecond(concurrentBytes, edgeConcurrent.seconds));
        }
    }
    const results: TlsLimit["pairs"] = [];
    for (const pair of pairs) {
        results.push({
            label: pair.label,
            cipher: await negotiatedCipher(pair.tlsOnly.endpoint),
            tlsOnly: spread(pair.tlsRates),
            edgePull: spread(pair.edgeRates),
            tlsOnlyNginxCpu: spread(pair.tlsCpu)?.median,
            edgeNginxCpu: spread(pair.edgeCpu)?.median,
            edgeRegistryCpu: spread(pair.registryCpu)?.median,
            tlsOnlyClientCpu: spread(pair.tlsClientCpu)?.median,
            edgeClientCpu: spread(pair.edgeClientCpu)?.median,
            tlsOnlyConcurrent: spread(pair.tlsConcurrentRates),
            edgeConcurrent: spread(pair.edgeConcurrentRates),
        });
        await pair.tlsOnly.nginx.daemon.stop();
    }
    const ktlsServer = await startTlsOnlyServer(dir, "tls-only-ktls", ktlsEdge.nginx.dir, blob.path, pki, true);
    const opensslHelp = await run("openssl", ["s_server", "-help"], { allowFailure: true });
    const kernelTls = await kernelTlsStatus(ktlsServer);
    await ktlsServer.nginx.daemon.stop();
    return {
        speeds,
        pairs: results,
        concurrent: { clients: concurrent.clients, bytes: concurrent.blob.size },
        kernelTls,
        opensslKtls: /-sendfile/.test(opensslHelp.stdout + opensslHelp.stderr),
    };
}
