import { hostPort } from "./endpoint";
import { registryResponseHeaders } from "./registryConfig";
import { block, comment, directive, NginxDirective, NginxNodes, renderNginx, verbatim } from "./nginxSyntax";

/** Where the edge forwards to. `resolver` set: the name is looked up again at request time. */
export interface Upstream {
    /** `host:port`, e.g. `127.0.0.1:5080` or `ui:80`, or a Unix socket, `unix:/run/registry/registry.sock`. */
    address: string;
    /**
     * A DNS server to re-resolve `address` with (Docker's embedded DNS is `127.0.0.11`). A
     * container's address changes when it is replaced or restarted; nginx resolves names in an
     * `upstream` block only once at start, so a named upstream needs this to never go stale.
     */
    resolver?: string;
    /**
     * More servers for the same service (registry replicas sharing a bucket), static upstreams
     * only: requests go round robin, and one a server refuses or drops before answering goes to
     * the next (nginx's `proxy_next_upstream error timeout`, never for a POST, PATCH or PUT
     * already sent). Default: none.
     */
    moreAddresses?: string[];
    /**
     * A server for the moments every other one refuses (nginx's `backup`), static upstreams only:
     * the registry's read-only socket while a scheduled collection runs. Set, every server gets
     * `max_fails=0` (a socket that is gone fails at once, and nginx must try the primary again on
     * the next request rather than count it down for `fail_timeout`), and kept-alive connections
     * are retired after BACKUP_UPSTREAM_KEEPALIVE_SECONDS (`keepalive_time`), so that once a
     * server's socket is removed nginx stops sending it requests within that time. Default: none.
     */
    backupAddress?: string;
}

/**
 * `keepalive_time` of an upstream with a backup server: nginx closes a kept-alive connection
 * after the first response once it is this old. The gc supervisor removes the normal registry's
 * socket, waits this long and a second more, and only then stops the registry: by then nginx has
 * closed (from its side) every connection to it that it used meanwhile, so none is idle when the
 * stopping registry closes its idle ones, which would fail (502) a request nginx sent on one at
 * that instant. A new connection costs a Unix socket connect, once a second per connection.
 */
export const BACKUP_UPSTREAM_KEEPALIVE_SECONDS = 1;

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
     * client before relaying it to the registry. nginx's default is 16k; default `256k`: fewer,
     * larger writes to the registry, ~10% less nginx CPU per pushed GiB. Allocated only while a
     * request has a body.
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
    clientBodyBufferSize: "256k",
    sslBufferSize: "16k",
    tlsCipherOrder: "client",
    kernelTls: false,
    upstreamKeepalive: 32,
    serveBlobFiles: true,
};

export interface EdgeConfigInput {
    /** Names and IP addresses the registry answers to (`server_name`). */
    serverNames: string[];
    /** If set, the UI answers on this name only and the registry's `/` redirects there. */
    uiServerName?: string;
    /** Ports nginx listens on (inside the container in bridge mode). */
    listenHttpsPort: number;
    listenHttpPort: number;
    /** The HTTPS port clients use (differs from the listen port when Docker publishes it). */
    publicHttpsPort: number;
    /**
     * Also listen on IPv6 (`[::]`). nginx does not start where the kernel has IPv6 off, so this is
     * a choice; inside a bridge network it stays off (Docker publishes the ports on both families).
     */
    listenIpv6: boolean;
    registry: Upstream;
    ui: Upstream;
    certificatePath: string;
    privateKeyPath: string;
    pidPath: string;
    /** Where nginx may spool bodies. Default: the build's own paths. Tests point it at a temp dir. */
    tempDir?: string;
    /** The pull-through mirror, if any: its own server, same certificate, pulls only. */
    mirror?: EdgeMirror;
    tuning?: Partial<EdgeTuning>;
    /** Roles: only these users may write (push, delete); everyone else GET/HEAD only. Default: no roles. */
    roles?: EdgeRoles;
    /**
     * The registry's filesystem storage root (its `rootdirectory`) as the edge sees it, mounted
     * read-only: with `tuning.serveBlobFiles`, nginx serves authorized blob GETs from it. Unset
     * (other storage, or not mounted): every request is proxied.
     */
    registryBlobRoot?: string;
}

export interface EdgeRoles {
    /** Usernames allowed every method; any other authenticated user is refused with 403. */
    pushUsers: string[];
    /** The registry's Basic auth realm, for the challenge to a write without credentials. */
    realm: string;
}

/** Mozilla "intermediate" ciphers for TLS 1.2 (TLS 1.3 suites are not configurable here). */
const TLS12_CIPHERS = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/**
 * Mozilla "intermediate" key exchange groups. Left to OpenSSL (nginx's `auto`), the edge also
 * offers X448 and secp521r1, which that profile rejects (and no registry client needs).
 */
const TLS_CURVES = ["X25519", "prime256v1", "secp384r1"].join(":");

/** Repeated wherever a location adds headers: nginx drops inherited `add_header`s there. */
const HSTS = directive("add_header", "Strict-Transport-Security", "max-age=31536000", "always");

/**
 * The UI can delete images while the browser holds Basic credentials for the registry: no other
 * site may frame it (clickjacking), guess its content types, or learn its URLs from a Referer.
 */
const UI_HEADERS: NginxNodes = [
    HSTS,
    directive("add_header", "X-Frame-Options", "DENY", "always"),
    directive("add_header", "Content-Security-Policy", "frame-ancestors 'none'", "always"),
    directive("add_header", "X-Content-Type-Options", "nosniff", "always"),
    directive("add_header", "Referrer-Policy", "same-origin", "always"),
];

/** How long a client may take to send a request's header (docs/reliability.md). */
export const CLIENT_HEADER_TIMEOUT = "10s";

/** Registry clients may hold a connection for a whole multi-GiB layer. */
const LONG_TIMEOUT = "900s";

export function renderEdgeConfig(input: EdgeConfigInput): string {
    const tuning = { ...DEFAULT_EDGE_TUNING, ...input.tuning };
    const blobRoot = tuning.serveBlobFiles ? input.registryBlobRoot : undefined;
    const resolvers = [
        ...new Set([input.registry.resolver, input.ui.resolver, input.mirror?.upstream.resolver].filter((r): r is string => !!r)),
    ];
    return renderNginx([
        comment("Rendered by private-registry (components/render/edgeConfig.ts); edit the stack, not this file."),
        directive("worker_processes", tuning.workerProcesses),
        directive("pid", input.pidPath),
        directive("error_log", "stderr", "warn"),
        block("events", [], [directive("worker_connections", 1024)]),
        block(
            "http",
            [],
            [
                directive("access_log", "/dev/stdout"),
                directive("server_tokens", "off"),
                directive("sendfile", "on"),
                directive("tcp_nodelay", "on"),
                // nginx's own redirects (`/v2` -> `/v2/`) would name the port it listens on (443 in a
                // container), not the published one; a relative Location keeps the client's.
                directive("absolute_redirect", "off"),
                // A client has this long to send a request's whole header, however slowly it
                // trickles it (nginx's default is 60 s): a slow or hostile client holds a
                // connection a sixth as long. Clients send their few hundred bytes at once.
                directive("client_header_timeout", CLIENT_HEADER_TIMEOUT),
                ...(input.tempDir === undefined
                    ? []
                    : (["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] as const).map((kind) =>
                          directive(`${kind}_temp_path`, `${input.tempDir}/${kind}`),
                      )),
                ...resolvers.map((address) => directive("resolver", address, "valid=10s", "ipv6=off")),
                comment("Distribution answers 401 itself; this fills the header in on the edge's own errors."),
                block(
                    "map",
                    ["$upstream_http_docker_distribution_api_version", "$docker_distribution_api_version"],
                    [directive("''", "registry/2.0")],
                ),
                input.roles !== undefined && writeRefusalMap(input.roles),
                ...(blobRoot === undefined ? [] : blobFileMap()),
                staticUpstream("registry_backend", input.registry, tuning),
                staticUpstream("ui_backend", input.ui, tuning),
                redirectServer(input),
                registryServer(input, tuning, blobRoot),
                input.uiServerName !== undefined && uiServer(input, tuning),
                ...(input.mirror === undefined
                    ? []
                    : [staticUpstream("mirror_backend", input.mirror.upstream, tuning), mirrorServer(input, input.mirror, tuning)]),
            ],
        ),
    ]);
}

function listen(port: number, ipv6: boolean, ...flags: string[]): NginxNodes {
    return [directive("listen", port, ...flags), ipv6 && directive("listen", `[::]:${port}`, ...flags)];
}

function staticUpstream(name: string, upstream: Upstream, tuning: EdgeTuning): NginxDirective | undefined {
    if (upstream.resolver !== undefined) {
        if ((upstream.moreAddresses ?? []).length > 0) throw new Error(`${name}: moreAddresses needs a static upstream (no resolver)`);
        if (upstream.backupAddress !== undefined) throw new Error(`${name}: backupAddress needs a static upstream (no resolver)`);
        return undefined;
    }
    const never = upstream.backupAddress === undefined ? [] : ["max_fails=0"];
    return block(
        "upstream",
        [name],
        [
            ...[upstream.address, ...(upstream.moreAddresses ?? [])].map((address) => directive("server", address, ...never)),
            upstream.backupAddress !== undefined && directive("server", upstream.backupAddress, "backup", ...never),
            tuning.upstreamKeepalive > 0 && directive("keepalive", tuning.upstreamKeepalive),
            tuning.upstreamKeepalive > 0 &&
                upstream.backupAddress !== undefined &&
                directive("keepalive_time", `${BACKUP_UPSTREAM_KEEPALIVE_SECONDS}s`),
        ],
    );
}

/**
 * `proxy_pass` target: the keepalive pool, or a variable so nginx re-resolves the name. `uri`:
 * what to request instead of the current URI (a rewritten request passes `$request_uri`).
 */
function proxyTarget(name: string, upstream: Upstream, uri = ""): NginxNodes {
    if (upstream.resolver === undefined) return [directive("proxy_pass", `http://${name}${uri}`)];
    const variable = `$${name}`;
    return [directive("set", variable, `http://${upstream.address}`), directive("proxy_pass", `${variable}${uri}`)];
}

function redirectServer(input: EdgeConfigInput): NginxDirective {
    const httpsHost = input.publicHttpsPort === 443 ? "$host" : `$host:${input.publicHttpsPort}`;
    return block(
        "server",
        [],
        [
            ...listen(input.listenHttpPort, input.listenIpv6, "default_server"),
            directive("server_name", "_"),
            comment("Liveness: nginx answers. The container's own health check."),
            block("location", ["=", EDGE_PROBE_PATHS.liveness], [directive("access_log", "off"), directive("return", 200, "ok")]),
            comment("Readiness: the registry behind answers too. What a load balancer checks."),
            ...readinessLocations(input),
            comment("Plain HTTP never serves the registry: every request goes to HTTPS."),
            block("location", ["/"], [directive("return", 301, `https://${httpsHost}$request_uri`)]),
        ],
    );
}

/**
 * The edge's plain-HTTP probes: `liveness` answers while nginx runs (the container's health check),
 * `readiness` only while the registry behind it answers too (a load balancer's check, and what
 * `npm run backup`, `restore` and `gc` wait for after starting the registry again).
 */
export const EDGE_PROBE_PATHS = { liveness: "/healthz", readiness: "/readyz" } as const;

/**
 * `GET /readyz`: 200 only while the registry answers. Distribution serves `/` with 200 while its
 * storage driver's health check passes and 503 once it fails (`health.storagedriver`), and nginx
 * gets no answer at all from a registry that is down or restarting: either way the load balancer
 * sees 503 and sends the next client to another replica. Nothing of the registry's answer (no
 * header, no body) leaves the edge.
 */
function readinessLocations(input: EdgeConfigInput): NginxNodes {
    return [
        block(
            "location",
            ["=", EDGE_PROBE_PATHS.readiness],
            [
                directive("access_log", "off"),
                directive("proxy_http_version", "1.1"),
                directive("proxy_set_header", "Connection", ""),
                directive("proxy_connect_timeout", "2s"),
                directive("proxy_read_timeout", "4s"),
                directive("proxy_intercept_errors", "on"),
                directive("error_page", 404, 500, 502, 503, 504, "=", "@registry_not_ready"),
                ...proxyTarget("registry_backend", input.registry, "/"),
            ],
        ),
        block("location", ["@registry_not_ready"], [directive("access_log", "off"), directive("return", 503, "registry not ready")]),
    ];
}

function tlsDirectives(input: EdgeConfigInput, tuning: EdgeTuning): NginxNodes {
    return [
        directive("ssl_certificate", input.certificatePath),
        directive("ssl_certificate_key", input.privateKeyPath),
        directive("ssl_protocols", "TLSv1.2", "TLSv1.3"),
        directive("ssl_ciphers", TLS12_CIPHERS),
        directive("ssl_ecdh_curve", TLS_CURVES),
        directive("ssl_prefer_server_ciphers", tuning.tlsCipherOrder === "client" ? "off" : "on"),
        directive("ssl_session_cache", "shared:TLS:10m"),
        directive("ssl_session_timeout", "1d"),
        directive("ssl_session_tickets", "off"),
        directive("ssl_buffer_size", tuning.sslBufferSize),
        ...cipherOrder(tuning.tlsCipherOrder),
        tuning.kernelTls && directive("ssl_conf_command", "Options", "KTLS"),
        HSTS,
    ];
}

/** TLS 1.3 suites in the server's order of choice (TLS 1.2 already lists AES-128 first). */
const TLS13_SUITES = {
    "aes-128-gcm-first": "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
    "chacha20-first": "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384",
} as const;

function cipherOrder(order: EdgeTuning["tlsCipherOrder"]): NginxNodes {
    if (order === "client") return [];
    return [
        directive("ssl_conf_command", "Ciphersuites", TLS13_SUITES[order]),
        order === "aes-128-gcm-first" && directive("ssl_conf_command", "Options", "PrioritizeChaCha"),
    ];
}

/** Everything a registry behind a proxy needs, learned from 413s and broken upload URLs. */
function proxyDirectives(input: EdgeConfigInput, tuning: EdgeTuning): NginxNodes {
    return [
        directive("proxy_http_version", "1.1"),
        directive("proxy_set_header", "Connection", ""),
        // The registry writes upload Location URLs from these: host with port, and https. It
        // believes a `Forwarded` header first, then X-Forwarded-Host: what a client sends there
        // must never reach it. The edge is the only way in, so it says itself what it knows, and
        // drops `Forwarded` (an empty value removes the header).
        directive("proxy_set_header", "Host", "$http_host"),
        directive("proxy_set_header", "Forwarded", ""),
        directive("proxy_set_header", "X-Forwarded-Host", "$http_host"),
        directive("proxy_set_header", "X-Forwarded-Port", input.publicHttpsPort),
        directive("proxy_set_header", "X-Forwarded-Proto", "$scheme"),
        directive("proxy_set_header", "X-Forwarded-For", "$remote_addr"),
        directive("proxy_set_header", "X-Real-IP", "$remote_addr"),
        directive("proxy_buffering", tuning.proxyBuffering === "off" ? "off" : "on"),
        tuning.proxyBuffering === "memory" && directive("proxy_max_temp_file_size", 0),
        directive("proxy_buffer_size", tuning.proxyBufferSize),
        // nginx's default shape (8 buffers of the same size): `nginx -t` wants the busy buffers
        // (twice proxy_buffer_size) to fit in all but one of them. Unused with buffering off.
        directive("proxy_buffers", 8, tuning.proxyBufferSize),
        directive("proxy_read_timeout", LONG_TIMEOUT),
        directive("proxy_send_timeout", LONG_TIMEOUT),
    ];
}

/** The UI's origin when it has its own name (the registry's CORS origin), else undefined. */
function uiOriginOf(input: EdgeConfigInput): string | undefined {
    return input.uiServerName && `https://${hostPort(input.uiServerName, input.publicHttpsPort)}`;
}

function registryServer(input: EdgeConfigInput, tuning: EdgeTuning, blobRoot: string | undefined): NginxDirective {
    const uiOrigin = uiOriginOf(input);
    return block(
        "server",
        [],
        [
            ...listen(input.listenHttpsPort, input.listenIpv6, "ssl", "default_server"),
            directive("server_name", ...input.serverNames),
            ...tlsDirectives(input, tuning),
            comment("Layers are GiBs: no size limit, stream uploads instead of spooling them to disk."),
            directive("client_max_body_size", 0),
            directive("client_body_timeout", LONG_TIMEOUT),
            directive("send_timeout", LONG_TIMEOUT),
            directive("proxy_request_buffering", "off"),
            directive("client_body_buffer_size", tuning.clientBodyBufferSize),
            directive("chunked_transfer_encoding", "on"),
            block(
                "location",
                ["/v2/"],
                [
                    uiOrigin !== undefined && corsPreflight(uiOrigin),
                    ...(input.roles === undefined ? [] : writeRefusals(input.roles, uiOrigin)),
                    blobRoot !== undefined &&
                        block(
                            "if",
                            [verbatim('($registry_blob_file != "")')],
                            [directive("rewrite", "^", `${BLOB_FILES_PREFIX}$registry_blob_file`, "last")],
                        ),
                    directive("add_header", "Docker-Distribution-Api-Version", "$docker_distribution_api_version", "always"),
                    HSTS,
                    ...proxyDirectives(input, tuning),
                    ...registryUnreachable(),
                    ...proxyTarget("registry_backend", input.registry),
                ],
            ),
            registryUnreachableLocation(),
            ...(blobRoot === undefined ? [] : blobFileLocations(input, tuning, blobRoot)),
            uiOrigin !== undefined
                ? block("location", ["/"], [directive("return", 302, `${uiOrigin}/`)])
                : block("location", ["/"], [...UI_HEADERS, ...proxyDirectives(input, tuning), ...proxyTarget("ui_backend", input.ui)]),
        ],
    );
}

/**
 * When the registry cannot be reached or drops a request (killed, restarting: nginx's own 502,
 * or 504 after proxy_read_timeout), the edge closes the client's connection without an answer
 * (nginx's 444; logged as 444). Clients retry a dropped connection by themselves (docker's
 * per-layer retries, containers/image's `--retry-times`) but give up at once on a 502 status, so
 * a push or pull in flight completes once the registry is back instead of failing.
 */
const REGISTRY_UNREACHABLE = "@registry_unreachable";
const registryUnreachable = (): NginxNodes => [directive("error_page", 502, 504, "=", REGISTRY_UNREACHABLE)];
const registryUnreachableLocation = (): NginxDirective => block("location", [REGISTRY_UNREACHABLE], [directive("return", 444)]);

/** Internal URI prefix of blob files; `internal`, so no client reaches it directly. */
const BLOB_FILES_PREFIX = "/_registry_blob_files/";
const BLOB_CHECK_URI = "/_registry_blob_check";

/** Distribution's repository name (lower case only: anything else is simply proxied). */
const NAME_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const REPOSITORY_NAME = `${NAME_COMPONENT}(?:/${NAME_COMPONENT})*`;

/**
 * Which requests nginx may answer from a blob file: its path under the storage root's `blobs/`
 * (Distribution's layout: `sha256/<first 2 hex>/<hex>/data`), or "" to proxy. Only a GET of a
 * sha256 blob, no query string, at most one plain `bytes=N-[M]` range, and no conditional headers
 * (nginx would check them against its own validators, not the registry's ETag). The key is the
 * raw `$request_uri`, the very string the registry's HEAD is asked about.
 */
function blobFileMap(): NginxNodes {
    const key =
        '"$request_method:$http_range:$http_if_match$http_if_none_match$http_if_modified_since$http_if_unmodified_since$http_if_range:$request_uri"';
    const pattern = `~^GET:(?:bytes=[0-9]+-[0-9]*)?::/v2/${REPOSITORY_NAME}/blobs/sha256:(?<registry_blob_prefix>[0-9a-f]{2})(?<registry_blob_rest>[0-9a-f]{62})$`;
    return [
        block(
            "map",
            [verbatim(key), "$registry_blob_file"],
            [
                // Quoted: the name is printed as is, and the regex has braces.
                directive(`"${pattern}"`, "sha256/$registry_blob_prefix/$registry_blob_prefix$registry_blob_rest/data"),
                directive("default", ""),
            ],
        ),
        // nginx adds `Accept-Ranges` to a whole file itself, but not to a part (206); the registry to both.
        block(
            "map",
            ["$http_range", "$registry_blob_part_accept_ranges"],
            [directive("''", ""), directive("default", headerVariable("Accept-Ranges"))],
        ),
    ];
}

/**
 * What the registry's blob responses carry besides Content-Length/Type, Date and its configured
 * `http.headers` (registryResponseHeaders): a blob file's response copies each from the
 * registry's HEAD, so an absent one stays absent.
 */
const REGISTRY_BLOB_HEADERS = ["Cache-Control", "Docker-Content-Digest", "Docker-Distribution-Api-Version", "Etag"];
/**
 * Every answer of the registry's HEAD besides 2xx and 403 that a registry or nginx gives. A 401
 * too: auth_request would copy its WWW-Authenticate into the answer, beside the registry's own.
 */
const CHECK_REFUSALS = [301, 302, 303, 307, 308, 400, 401, 404, 405, 416, 429, 500, 502, 503, 504];
const headerVariable = (name: string) => `$registry_blob_${name.toLowerCase().replace(/-/g, "_")}`;

/**
 * Blob GETs from the files: the registry authorizes a HEAD of the same raw URL with the same
 * credentials (password and the blob's link to this repository, i.e. a deleted blob is refused);
 * only its 200 lets nginx send the file. Any other answer (401, 404, a redirect: `auth_request`
 * turns those into 401/403/500), a file that is gone, or a range nginx will not serve falls back
 * to proxying the original request, so the registry answers it exactly as without this.
 */
function blobFileLocations(input: EdgeConfigInput, tuning: EdgeTuning, blobRoot: string): NginxNodes {
    const registryRequest = (extra: NginxNodes) => [
        ...proxyDirectives(input, tuning),
        ...extra,
        ...proxyTarget("registry_backend", input.registry, "$request_uri"),
    ];
    return [
        block(
            "location",
            ["^~", BLOB_FILES_PREFIX],
            [
                directive("internal"),
                directive("auth_request", BLOB_CHECK_URI),
                ...["Accept-Ranges", ...REGISTRY_BLOB_HEADERS].map((name) =>
                    directive("auth_request_set", headerVariable(name), `$upstream_http_${name.toLowerCase().replace(/-/g, "_")}`),
                ),
                directive("alias", `${blobRoot.replace(/\/+$/, "")}/docker/registry/v2/blobs/`),
                block("types", [], []),
                directive("default_type", "application/octet-stream"),
                // The registry's validators only: its ETag, no Last-Modified (an empty value removes it).
                directive("etag", "off"),
                directive("add_header", "Last-Modified", ""),
                directive("add_header", "Accept-Ranges", "$registry_blob_part_accept_ranges"),
                ...REGISTRY_BLOB_HEADERS.map((name) => directive("add_header", name, headerVariable(name))),
                // The registry's `http.headers`, one line per value as it sends them (nginx 1.22's
                // $upstream_http_* would keep only the first line of a repeated header).
                ...Object.entries(registryResponseHeaders(uiOriginOf(input))).flatMap(([name, values]) =>
                    values.map((value) => directive("add_header", name, value)),
                ),
                HSTS,
                directive("error_page", 401, 403, 404, 416, 500, 502, 503, 504, "=", "@registry_blob_proxied"),
            ],
        ),
        block(
            "location",
            ["=", BLOB_CHECK_URI],
            [
                directive("internal"),
                ...registryRequest([
                    directive("proxy_method", "HEAD"),
                    directive("proxy_pass_request_body", "off"),
                    directive("proxy_set_header", "Content-Length", ""),
                    // auth_request turns any status but 2xx/401/403 into a 500, and nginx closes the
                    // client's connection after a 500: a refusal becomes a plain 403 (then proxied).
                    directive("proxy_intercept_errors", "on"),
                    directive("error_page", ...CHECK_REFUSALS, "=", "@registry_blob_refused"),
                ]),
            ],
        ),
        block("location", ["@registry_blob_refused"], [directive("return", 403)]),
        block(
            "location",
            ["@registry_blob_proxied"],
            [
                // Only what /v2/ sent to the files: a client asking for the internal path is not proxied.
                block("if", [verbatim('($registry_blob_file = "")')], [directive("return", 404)]),
                directive("add_header", "Docker-Distribution-Api-Version", "$docker_distribution_api_version", "always"),
                HSTS,
                // Already an error page's target: a second one needs recursive_error_pages.
                directive("recursive_error_pages", "on"),
                ...registryUnreachable(),
                ...registryRequest([]),
            ],
        ),
    ];
}

/**
 * Roles at the edge, password at the registry. Distribution's htpasswd auth lets any valid user
 * do anything, so the edge decides who may write from the Basic auth username ($remote_user,
 * decoded from the same single Authorization header the registry then checks, bcrypt and all):
 * GET, HEAD and OPTIONS pass for everyone; any other method passes only for a push user; a write
 * without a username is challenged (401) before it reaches the registry, a pull user's is refused
 * (403). A wrong password for a push user's name still passes here and fails at the registry
 * (401), so nothing is allowed on a name alone, and nginx hashes nothing: the bcrypt cost per
 * request stays the registry's one check.
 */
function writeRefusalMap(roles: EdgeRoles): NginxDirective {
    const names = roles.pushUsers.map((name) => name.replace(/[.]/g, "\\."));
    return block(
        "map",
        [verbatim('"$request_method:$remote_user"'), "$registry_write_refusal"],
        [
            directive("~^(GET|HEAD|OPTIONS):", ""),
            directive("~^[^:]+:$", "401"),
            names.length > 0 && directive(`~^[^:]+:(${names.join("|")})$`, ""),
            directive("default", "403"),
        ],
    );
}

const DENIED_BODY = JSON.stringify({
    errors: [{ code: "DENIED", message: "this account may only pull: pushing and deleting need a push user" }],
});
const UNAUTHORIZED_BODY = JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] });

function writeRefusals(roles: EdgeRoles, uiOrigin: string | undefined): NginxNodes {
    // `add_header` in an `if` replaces the location's, so each refusal repeats what clients need:
    // a UI on its own name reads the refusal only with the CORS headers the registry would send.
    const headers = [
        directive("add_header", "Docker-Distribution-Api-Version", "registry/2.0", "always"),
        HSTS,
        uiOrigin !== undefined && directive("add_header", "Access-Control-Allow-Origin", uiOrigin, "always"),
        uiOrigin !== undefined && directive("add_header", "Access-Control-Allow-Credentials", "true", "always"),
    ];
    return [
        block(
            "if",
            [verbatim("($registry_write_refusal = 401)")],
            [
                ...headers,
                directive("add_header", "WWW-Authenticate", `Basic realm="${roles.realm}"`, "always"),
                directive("return", 401, UNAUTHORIZED_BODY),
            ],
        ),
        block("if", [verbatim("($registry_write_refusal = 403)")], [...headers, directive("return", 403, DENIED_BODY)]),
    ];
}

/**
 * The registry answers an unauthenticated preflight with 401, which browsers reject; the edge
 * answers it instead. The registry itself adds the CORS headers to real responses. HSTS again:
 * `add_header` inside the `if` replaces every inherited one.
 */
function corsPreflight(origin: string): NginxDirective {
    return block(
        "if",
        [verbatim("($request_method = OPTIONS)")],
        [
            HSTS,
            directive("add_header", "Access-Control-Allow-Origin", origin, "always"),
            directive("add_header", "Access-Control-Allow-Credentials", "true", "always"),
            directive("add_header", "Access-Control-Allow-Methods", "HEAD, GET, OPTIONS, DELETE", "always"),
            directive("add_header", "Access-Control-Allow-Headers", "Authorization, Accept, Cache-Control", "always"),
            directive("add_header", "Access-Control-Max-Age", 600, "always"),
            directive("return", 204),
        ],
    );
}

function uiServer(input: EdgeConfigInput, tuning: EdgeTuning): NginxDirective {
    return block(
        "server",
        [],
        [
            ...listen(input.listenHttpsPort, input.listenIpv6, "ssl"),
            directive("server_name", input.uiServerName as string),
            ...tlsDirectives(input, tuning),
            block("location", ["/"], [...UI_HEADERS, ...proxyDirectives(input, tuning), ...proxyTarget("ui_backend", input.ui)]),
        ],
    );
}

export interface EdgeMirror {
    upstream: Upstream;
    /** Its own name on the registry's port; unset: every name on `listenHttpsPort` below. */
    serverName?: string;
    /** The port nginx listens on for it (the registry's, when it has a name). */
    listenHttpsPort: number;
}

/**
 * The pull-through mirror: `/v2/` to the mirror (which checks the same users' passwords), and
 * only reads. Distribution's proxy mode refuses pushes itself; the edge refuses every other
 * method first (403), so no upload ever reaches it.
 */
function mirrorServer(input: EdgeConfigInput, mirror: EdgeMirror, tuning: EdgeTuning): NginxDirective {
    const ownName = mirror.serverName !== undefined;
    return block(
        "server",
        [],
        [
            ...listen(mirror.listenHttpsPort, input.listenIpv6, "ssl", ...(ownName ? [] : ["default_server"])),
            directive("server_name", ...(ownName ? [mirror.serverName as string] : input.serverNames)),
            ...tlsDirectives(input, tuning),
            block(
                "location",
                ["/v2/"],
                [
                    block("limit_except", ["GET"], [directive("deny", "all")]),
                    directive("add_header", "Docker-Distribution-Api-Version", "$docker_distribution_api_version", "always"),
                    HSTS,
                    // Published as itself when it has its own port; the registry's port when it has a name.
                    ...proxyDirectives({ ...input, publicHttpsPort: ownName ? input.publicHttpsPort : mirror.listenHttpsPort }, tuning),
                    ...proxyTarget("mirror_backend", mirror.upstream),
                ],
            ),
            block("location", ["/"], [directive("return", 404)]),
        ],
    );
}
