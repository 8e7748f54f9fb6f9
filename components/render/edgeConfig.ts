/**
 * The edge's nginx.conf: TLS in front of the registry and the UI (and the mirror), roles, CORS,
 * health. Its parts: edgeTuning.ts (the knobs the bench measures), edgeUpstreams.ts (what it
 * forwards to, and how), edgeBlobFiles.ts (blob GETs served from the registry's files),
 * edgeHeaders.ts (the headers it adds itself). Pure: text in, text out.
 */
import { blobFileLocations, blobFileMap, BLOB_FILES_PREFIX } from "./edgeBlobFiles";
import { EdgeAccess, passwordCheck, roleMap, unauthorizedLocation, unauthorizedPage, writeRefusals } from "./edgeAccess";
import { HSTS, UI_HEADERS } from "./edgeHeaders";
import { DEFAULT_EDGE_TUNING, EdgeTuning } from "./edgeTuning";
import {
    LONG_TIMEOUT,
    proxyDirectives,
    proxyTarget,
    registryUnreachable,
    registryUnreachableLocation,
    staticUpstream,
    Upstream,
} from "./edgeUpstreams";
import { hostPort } from "./endpoint";
import { block, comment, directive, NginxDirective, NginxNodes, renderNginx, verbatim } from "./nginxSyntax";

export interface EdgeConfigInput {
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
    /** The certificate chain, PEM. */
    certificatePath: string;
    /** Its private key, PEM (may be the same file as the chain). */
    privateKeyPath: string;
    /**
     * Read the certificate and key on every TLS handshake (their paths through a variable), so a
     * renewed certificate applies to the next connection without a reload. Default: false, read
     * when nginx starts or reloads.
     */
    tlsFilesPerHandshake?: boolean;
    pidPath: string;
    /** Where nginx may spool bodies. Default: the build's own paths. Tests point it at a temp dir. */
    tempDir?: string;
    /** The pull-through mirror, if any: its own server, same certificate, pulls only. */
    mirror?: EdgeMirror;
    tuning?: Partial<EdgeTuning>;
    /**
     * Passwords and roles checked at the edge (edgeAccess.ts): only push users write (push,
     * delete), everyone else GET/HEAD only. Default: none, every request passed on (the upstream
     * checks passwords, and every user writes).
     */
    access?: EdgeAccess;
    /**
     * The registry's filesystem storage root (its `rootdirectory`) as the edge sees it, mounted
     * read-only: with `tuning.serveBlobFiles`, nginx serves authorized blob GETs from it. Unset
     * (other storage, or not mounted): every request is proxied.
     */
    registryBlobRoot?: string;
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

/** How long a client may take to send a request's header (docs/reliability.md). */
export const CLIENT_HEADER_TIMEOUT = "10s";

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
                comment("Distribution's API version header, also on the edge's own errors."),
                block(
                    "map",
                    ["$upstream_http_docker_distribution_api_version", "$docker_distribution_api_version"],
                    [directive("''", "registry/2.0")],
                ),
                input.access !== undefined && roleMap(input.access),
                ...(input.tlsFilesPerHandshake === true ? tlsFileMaps(input) : []),
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

/**
 * With `tlsFilesPerHandshake`: the paths as variables (a constant's value), which makes nginx
 * load the files on each handshake instead of once.
 */
function tlsFileMaps(input: EdgeConfigInput): NginxNodes {
    return [
        block("map", [verbatim('""'), "$edge_certificate_file"], [directive("default", input.certificatePath)]),
        block("map", [verbatim('""'), "$edge_private_key_file"], [directive("default", input.privateKeyPath)]),
    ];
}

function tlsDirectives(input: EdgeConfigInput, tuning: EdgeTuning): NginxNodes {
    return [
        directive("ssl_certificate", input.tlsFilesPerHandshake === true ? "$edge_certificate_file" : input.certificatePath),
        directive("ssl_certificate_key", input.tlsFilesPerHandshake === true ? "$edge_private_key_file" : input.privateKeyPath),
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
            // Whatever name a client uses (the certificate decides which ones verify): the names are
            // not in nginx.conf, so a new one needs no reload.
            ...listen(input.listenHttpsPort, input.listenIpv6, "ssl", "default_server"),
            ...tlsDirectives(input, tuning),
            ...(input.access === undefined ? [] : passwordCheck(input.access)),
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
                    ...(input.access === undefined ? [] : writeRefusals(input.access, uiOrigin)),
                    blobRoot !== undefined &&
                        block(
                            "if",
                            [verbatim('($registry_blob_file != "")')],
                            [directive("rewrite", "^", `${BLOB_FILES_PREFIX}$registry_blob_file`, "last")],
                        ),
                    directive("add_header", "Docker-Distribution-Api-Version", "$docker_distribution_api_version", "always"),
                    HSTS,
                    ...proxyDirectives(input.publicHttpsPort, tuning),
                    ...registryUnreachable(),
                    input.access !== undefined && unauthorizedPage(),
                    ...proxyTarget("registry_backend", input.registry),
                ],
            ),
            registryUnreachableLocation(),
            input.access !== undefined && unauthorizedLocation(uiOrigin),
            ...(blobRoot === undefined
                ? []
                : blobFileLocations({
                      blobRoot,
                      registry: input.registry,
                      publicHttpsPort: input.publicHttpsPort,
                      uiOrigin,
                      tuning,
                      edgeChecksPasswords: input.access !== undefined,
                  })),
            uiOrigin !== undefined
                ? block("location", ["/"], [directive("return", 302, `${uiOrigin}/`)])
                : block(
                      "location",
                      ["/"],
                      [
                          // The UI's pages are public; the browser then calls /v2/ with the user's password.
                          input.access !== undefined && directive("auth_basic", "off"),
                          ...UI_HEADERS,
                          ...proxyDirectives(input.publicHttpsPort, tuning),
                          ...proxyTarget("ui_backend", input.ui),
                      ],
                  ),
        ],
    );
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
            block(
                "location",
                ["/"],
                [...UI_HEADERS, ...proxyDirectives(input.publicHttpsPort, tuning), ...proxyTarget("ui_backend", input.ui)],
            ),
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
 * The pull-through mirror: `/v2/` to the mirror, for the same users (their passwords checked
 * here, with `access`), and only reads. Distribution's proxy mode refuses pushes itself; the edge
 * refuses every other method first (403), so no upload ever reaches it.
 */
function mirrorServer(input: EdgeConfigInput, mirror: EdgeMirror, tuning: EdgeTuning): NginxDirective {
    const ownName = mirror.serverName !== undefined;
    return block(
        "server",
        [],
        [
            ...listen(mirror.listenHttpsPort, input.listenIpv6, "ssl", ...(ownName ? [] : ["default_server"])),
            ownName && directive("server_name", mirror.serverName as string),
            ...tlsDirectives(input, tuning),
            ...(input.access === undefined ? [] : passwordCheck(input.access)),
            block(
                "location",
                ["/v2/"],
                [
                    block("limit_except", ["GET"], [directive("deny", "all")]),
                    directive("add_header", "Docker-Distribution-Api-Version", "$docker_distribution_api_version", "always"),
                    HSTS,
                    // Published as itself when it has its own port; the registry's port when it has a name.
                    ...proxyDirectives(ownName ? input.publicHttpsPort : mirror.listenHttpsPort, tuning),
                    input.access !== undefined && unauthorizedPage(),
                    ...proxyTarget("mirror_backend", mirror.upstream),
                ],
            ),
            input.access !== undefined && unauthorizedLocation(undefined),
            block("location", ["/"], [directive("return", 404)]),
        ],
    );
}
