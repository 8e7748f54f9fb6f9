/**
 * Blob downloads served by nginx from the registry's filesystem volume (`tuning.serveBlobFiles`,
 * docs/benchmarks.md): which requests qualify, the registry's HEAD that authorizes each, and the
 * fallback that proxies everything else as before.
 */
import { block, directive, NginxNodes, verbatim } from "./nginxSyntax";
import { HSTS } from "./edgeHeaders";
import type { EdgeTuning } from "./edgeTuning";
import { proxyDirectives, proxyTarget, registryUnreachable, Upstream } from "./edgeUpstreams";
import { registryResponseHeaders } from "./registryConfig";

export interface BlobFileInput {
    /** The registry's filesystem storage root (its `rootdirectory`) as the edge mounts it, read-only. */
    blobRoot: string;
    /** The registry, asked with a HEAD of the same URL whether the client may have the blob. */
    registry: Upstream;
    /** The HTTPS port clients use (what the registry builds its URLs with). */
    publicHttpsPort: number;
    /** The UI's origin when it has its own name: the registry's CORS headers, copied onto a blob file's answer. */
    uiOrigin?: string;
    /** The buffers and timeouts of the registry's HEAD and of the proxied fallback. */
    tuning: EdgeTuning;
}

/** Internal URI prefix of blob files; `internal`, so no client reaches it directly. */
export const BLOB_FILES_PREFIX = "/_registry_blob_files/";
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
export function blobFileMap(): NginxNodes {
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
export function blobFileLocations(input: BlobFileInput): NginxNodes {
    const { blobRoot, tuning } = input;
    const registryRequest = (extra: NginxNodes) => [
        ...proxyDirectives(input.publicHttpsPort, tuning),
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
                ...Object.entries(registryResponseHeaders(input.uiOrigin)).flatMap(([name, values]) =>
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
