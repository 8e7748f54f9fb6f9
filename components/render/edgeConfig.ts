/**
 * The edge's nginx.conf: TLS in front of the registry and the UI (and the mirror), roles, CORS,
 * health. Its parts: edgeTuning.ts (the knobs the bench measures), edgeUpstreams.ts (what it
 * forwards to, and how), edgeBlobFiles.ts (blob GETs served from the registry's files),
 * edgeHeaders.ts (the headers it adds itself). Pure: text in, text out.
 */
import { blobFileLocations, blobFileMap, BLOB_FILES_PREFIX } from "./edgeBlobFiles";
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
                    ...proxyDirectives(input.publicHttpsPort, tuning),
                    ...registryUnreachable(),
                    ...proxyTarget("registry_backend", input.registry),
                ],
            ),
            registryUnreachableLocation(),
            ...(blobRoot === undefined
                ? []
                : blobFileLocations({
                      blobRoot,
                      registry: input.registry,
                      publicHttpsPort: input.publicHttpsPort,
                      uiOrigin,
                      tuning,
                  })),
            uiOrigin !== undefined
                ? block("location", ["/"], [directive("return", 302, `${uiOrigin}/`)])
                : block(
                      "location",
                      ["/"],
                      [...UI_HEADERS, ...proxyDirectives(input.publicHttpsPort, tuning), ...proxyTarget("ui_backend", input.ui)],
                  ),
        ],
    );
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
                    ...proxyDirectives(ownName ? input.publicHttpsPort : mirror.listenHttpsPort, tuning),
                    ...proxyTarget("mirror_backend", mirror.upstream),
                ],
            ),
            block("location", ["/"], [directive("return", 404)]),
        ],
    );
}
