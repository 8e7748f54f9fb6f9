/** Knobs measured by `npm run bench` (docs/benchmarks.md); the defaults are the measured best. */
export interface EdgeTuning {
    /** `worker_processes`; default `auto` (one per core). */
    workerProcesses: number | "auto";
    /**
     * How nginx buffers registry responses (the pull side). `off`: one `proxy_buffer_size` read
     * at a time, relayed before the next read. `memory` (default): up to 8 × `proxy_buffer_size`
     * per response in RAM (2 MiB at 256k), so nginx reads the registry while TLS drains earlier
     * buffers, and never a temp file (`proxy_max_temp_file_size 0`); against `off` it took ~15%
     * off nginx's CPU per pulled GiB and added ~20% to concurrent pulls. `disk`: nginx's own
     * default, which also spools what a slow client has not taken yet to temp files, up to 1 GiB
     * per response.
     */
    proxyBuffering: "off" | "memory" | "disk";
    /**
     * `proxy_buffer_size`: the most nginx reads from the registry at once (with buffering `off`,
     * also what it hands TLS per write). nginx's default, one page (4k), turns a 1 GiB pull into
     * 262,144 reads and writes; default `256k` more than halves nginx's CPU per pulled GiB. One is
     * allocated per proxied request.
     */
    proxyBufferSize: string;
    /**
     * `client_body_buffer_size`: with request buffering off, the most nginx reads from a pushing
     * client before writing it on to the registry. The registry's Unix socket queues at most the
     * kernel's default send buffer (`net.core.wmem_default`, 208 KiB) and wakes nginx to refill it
     * only once it is down to a quarter; nginx then first writes what is left of its buffer, and
     * reads (and decrypts) the next one before writing again. Default `32k`: one piece of the
     * socket's queue, so a wake-up refills it at once and keeps it topped up in small steps, where
     * with 256k (the default before) the registry waited while nginx decrypted its next 256 KiB
     * (docs/benchmarks.md, "Pushes when the edge's core is busy"). nginx's own default is 16k.
     * Allocated only while a request has a body.
     */
    clientBodyBufferSize: string;
    /** `ssl_buffer_size`; default `16k`, fewer TLS records for big blobs. */
    sslBufferSize: string;
    /**
     * Which cipher a TLS connection ends up with. `client`: the client's preference (curl and
     * OpenSSL pick AES-256-GCM, Go picks AES-128-GCM on CPUs with AES instructions).
     * `aes-128-gcm-first`: the server's order, AES-128-GCM first, but ChaCha20 for a client that
     * lists it first (OpenSSL's PrioritizeChaCha: boards without AES instructions, e.g. RISC-V).
     * `chacha20-first`: ChaCha20-Poly1305 for everyone, to measure it. Default `client`: the
     * server's order measured no faster, and clients know best what their CPU does fast.
     */
    tlsCipherOrder: "client" | "aes-128-gcm-first" | "chacha20-first";
    /**
     * `ssl_conf_command Options KTLS`: let the kernel encrypt (`sendfile` is already on). Needs
     * OpenSSL 3 built with KTLS and the kernel's `tls` module; without them nginx silently keeps
     * encrypting in user space. Default off: not measured yet (the bench machine's kernel has no
     * `tls` module).
     */
    kernelTls: boolean;
    /** Idle keepalive connections to each static upstream; 0 opens a connection per request. Default 32. */
    upstreamKeepalive: number;
    /**
     * Blob downloads (`GET /v2/<name>/blobs/sha256:<hex>`) served by nginx from the registry's
     * filesystem volume, mounted read-only in the edge, once the registry has answered 200 to a
     * HEAD of the same URL with the same credentials (`auth_request`): the registry still checks
     * the password and the blob's link to the repository, but no longer copies the bytes into a
     * socket for nginx to read again. Headers come from that HEAD; anything else (another status,
     * a missing file, a conditional or multi-range request, another method) is proxied as
     * before, so the registry answers it itself. Applies only where `registryBlobRoot` is set
     * (filesystem storage). Default on: docs/benchmarks.md.
     */
    serveBlobFiles: boolean;
}

export const DEFAULT_EDGE_TUNING: EdgeTuning = {
    workerProcesses: "auto",
    proxyBuffering: "memory",
    proxyBufferSize: "256k",
    clientBodyBufferSize: "32k",
    sslBufferSize: "16k",
    tlsCipherOrder: "client",
    kernelTls: false,
    upstreamKeepalive: 32,
    serveBlobFiles: true,
};
