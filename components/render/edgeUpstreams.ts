/**
 * What the edge forwards to and how: the registry, UI and mirror as upstreams, the `proxy_pass`
 * target, and the headers, buffers and timeouts every proxied location sets.
 */
import { block, directive, NginxDirective, NginxNodes } from "./nginxSyntax";
import type { EdgeTuning } from "./edgeTuning";

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
     * The service behind hands over from one process to the next on the same socket path
     * (registrySupervisor.ts): nginx retires every kept-alive connection within
     * HANDOVER_KEEPALIVE_SECONDS, so that none is left to a process being stopped. Static
     * upstreams only. Default: false.
     */
    handsOver?: boolean;
}

/**
 * `keepalive_time` and `keepalive_timeout` of an upstream that hands over: nginx closes a
 * kept-alive connection after a response once it is this old, and an idle one after this long.
 * The supervisor points the socket at the new process, waits twice this and a second more
 * (REGISTRY_HANDOVER_DRAIN_SECONDS), and only then stops the old one: by then nginx has closed
 * every connection to it except those with a request in flight, which the stopping process
 * finishes, so none is idle when it closes its idle ones (a request nginx sent on one at that
 * instant would fail). A new connection costs a Unix socket connect, at most once a second per
 * connection.
 */
export const HANDOVER_KEEPALIVE_SECONDS = 1;
/** What the supervisor waits between pointing the socket at a new process and stopping the old one. */
export const HANDOVER_DRAIN_SECONDS = 2 * HANDOVER_KEEPALIVE_SECONDS + 1;

/** Registry clients may hold a connection for a whole multi-GiB layer. */
export const LONG_TIMEOUT = "900s";

export function staticUpstream(name: string, upstream: Upstream, tuning: EdgeTuning): NginxDirective | undefined {
    if (upstream.resolver !== undefined) {
        if ((upstream.moreAddresses ?? []).length > 0) throw new Error(`${name}: moreAddresses needs a static upstream (no resolver)`);
        if (upstream.handsOver) throw new Error(`${name}: handsOver needs a static upstream (no resolver)`);
        return undefined;
    }
    const handsOver = tuning.upstreamKeepalive > 0 && upstream.handsOver === true;
    return block(
        "upstream",
        [name],
        [
            ...[upstream.address, ...(upstream.moreAddresses ?? [])].map((address) => directive("server", address)),
            tuning.upstreamKeepalive > 0 && directive("keepalive", tuning.upstreamKeepalive),
            handsOver && directive("keepalive_time", `${HANDOVER_KEEPALIVE_SECONDS}s`),
            handsOver && directive("keepalive_timeout", `${HANDOVER_KEEPALIVE_SECONDS}s`),
        ],
    );
}

/**
 * `proxy_pass` target: the keepalive pool, or a variable so nginx re-resolves the name. `uri`:
 * what to request instead of the current URI (a rewritten request passes `$request_uri`).
 */
export function proxyTarget(name: string, upstream: Upstream, uri = ""): NginxNodes {
    if (upstream.resolver === undefined) return [directive("proxy_pass", `http://${name}${uri}`)];
    const variable = `$${name}`;
    return [directive("set", variable, `http://${upstream.address}`), directive("proxy_pass", `${variable}${uri}`)];
}

/**
 * When the registry cannot be reached or drops a request (killed, restarting: nginx's own 502,
 * or 504 after proxy_read_timeout), the edge closes the client's connection without an answer
 * (nginx's 444; logged as 444). Clients retry a dropped connection by themselves (docker's
 * per-layer retries, containers/image's `--retry-times`), and containers/image (skopeo, podman,
 * buildah) gives up at once on a 502 status, so a push or pull in flight completes once the
 * registry is back instead of failing (docker retries either: test/e2e/restarts.test.ts).
 */
const REGISTRY_UNREACHABLE = "@registry_unreachable";
export const registryUnreachable = (): NginxNodes => [directive("error_page", 502, 504, "=", REGISTRY_UNREACHABLE)];
export const registryUnreachableLocation = (): NginxDirective => block("location", [REGISTRY_UNREACHABLE], [directive("return", 444)]);

/** Everything a registry behind a proxy needs, learned from 413s and broken upload URLs. */
export function proxyDirectives(publicHttpsPort: number, tuning: EdgeTuning): NginxNodes {
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
        directive("proxy_set_header", "X-Forwarded-Port", publicHttpsPort),
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
