/**
 * What valid values look like: host names, addresses, CIDRs, URLs, image references and the
 * other syntaxes the config keys take. Pure predicates, shared by the key declarations (keys.ts)
 * and the rules across keys (rules.ts).
 */
import { isIP } from "net";
import type { AcmeServer } from "./types";

const HOSTNAME = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/;
const S3_ROOT_DIRECTORY = /^[A-Za-z0-9._/-]{1,255}$/;
const LEGO_DNS_PROVIDER = /^[a-z0-9]+([.-][a-z0-9]+)*$/;
/** Every `AcmeServer` given by name, checked both ways by the type. */
const ACME_SERVER_NAMES = Object.keys({ staging: true, production: true } satisfies Record<Exclude<AcmeServer, `https://${string}`>, true>);

/** The whole value matches `pattern`. */
const matching =
    (pattern: RegExp) =>
    (value: string): boolean =>
        pattern.test(value);

/** Docker objects and cloud resources are named after it: ECS names need 2 characters. */
export const isNamePrefix = matching(/^[a-z][a-z0-9-]{1,39}$/);
/** A login name as useradd takes it; never a leading `-`, which ssh would read as an option. */
export const isLoginName = matching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$/);
export const isDockerHost = matching(/^(unix|tcp|ssh|npipe):\/\/\S+$/);
export const isAlicloudRegion = matching(/^[a-z]{2}(-[a-z0-9]+)+$/);
export const isEmail = matching(/^[^@\s]+@[^@\s]+\.[^@\s]+$/);
/** One line of `ssh-keyscan` output without the host name. */
export const isSshPublicKey = matching(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( \S.*)?$/);
export const isS3Bucket = matching(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
export const isS3Region = matching(/^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$/);

/** lego's DNS provider names (lower case, digits, dots and dashes: `alidns`, `acme-dns`, `yandex360`) but `manual`, which waits for someone to type. */
export function isLegoDnsProvider(value: string): boolean {
    return LEGO_DNS_PROVIDER.test(value) && value !== "manual";
}

/** A key prefix inside a bucket, never climbing out of it. */
export function isS3RootDirectory(value: string): boolean {
    return S3_ROOT_DIRECTORY.test(value) && !value.split("/").includes("..");
}

/** A DNS name; one whose last label is all digits (`123`, `10.0.0.1`) is an IP address to clients. */
export function isHostname(value: string): boolean {
    return HOSTNAME.test(value) && !/(^|\.)\d+$/.test(value);
}

/** What a client would read as an IP address rather than a name: a certificate cannot name it as DNS. */
export function looksLikeIpAddress(value: string): boolean {
    return isIP(value) !== 0 || (value.includes(":") && /^[0-9a-fA-F:.%]+$/.test(value)) || /(^|\.)\d+$/.test(value);
}

/** Why a hostname entry is refused, where the form alone does not say. */
export function ipInsteadOfName(value: string): string | undefined {
    if (looksLikeIpAddress(value))
        return "is an IP address, not a DNS name: list it in ipAddresses (a certificate's DNS names never match an IP)";
    if (/[:/]/.test(value)) return "must be a bare DNS name, no scheme, port or path (the port is httpsPort)";
    if (isHostname(value.toLowerCase())) return `must be lowercase: write ${value.toLowerCase()}`;
    return undefined;
}

/** Why an ipAddresses entry is refused, where the form alone does not say. */
export function ipAddressProblem(value: string): string | undefined {
    if (/^\d+(\.\d+){3}$/.test(value) && value.split(".").some((part) => /^0\d/.test(part))) {
        return `has a leading zero, which Go's address parser (the tls provider's) rejects: write ${value.split(".").map(Number).join(".")}`;
    }
    if (value.includes("%")) return "has a zone (%...), which a certificate cannot name";
    return undefined;
}

/** One spelling per address: `fd00:0::10` and `fd00::10` are the same IPv6 address. */
export function canonicalIp(value: string): string {
    // Only an address the list accepts: a zone (`fe80::1%eth0`) is refused by name, and no URL holds one.
    return isIpAddress(value) && isIP(value) === 6 ? new URL(`http://[${value}]/`).hostname : value;
}

/** An IPv4 CIDR, its prefix read as a number, or undefined if it is not one. */
export function parseIpv4Cidr(value: string): { network: number; prefix: number } | undefined {
    const match = /^([\d.]+)\/(0|[1-9]\d?|0\d)$/.exec(value);
    if (match === null || isIP(match[1]) !== 4) return undefined;
    const prefix = Number(match[2]);
    if (prefix > 32) return undefined;
    const address = match[1].split(".").reduce((sum, octet) => sum * 256 + Number(octet), 0);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return { network: (address & mask) >>> 0, prefix };
}

export function cidrContains(outer: { network: number; prefix: number }, inner: { network: number; prefix: number }): boolean {
    const mask = outer.prefix === 0 ? 0 : (0xffffffff << (32 - outer.prefix)) >>> 0;
    return inner.prefix >= outer.prefix && (inner.network & mask) >>> 0 === outer.network;
}

/** An IPv4 or IPv6 address as the tls provider (Go's net.ParseIP) reads it: no zone, no leading zeros. */
export function isIpAddress(value: string): boolean {
    return isIP(value) !== 0 && !value.includes("%");
}

export function isCidr(value: string): boolean {
    const [address, bits, ...rest] = value.split("/");
    if (rest.length > 0 || bits === undefined || !/^\d{1,3}$/.test(bits) || !isIpAddress(address)) return false;
    return Number(bits) <= (isIP(address) === 4 ? 32 : 128);
}

/**
 * Docker's reference grammar (distribution/reference): an optional registry host[:port], path
 * components of lower-case letters, digits and separators, then a tag, a digest or both. A bare
 * name (an implicit `latest`) is refused: a setting must say what runs.
 */
const IMAGE_DOMAIN = String.raw`(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d{1,5})?/)`;
const IMAGE_PATH = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`;
const IMAGE_REFERENCE_PATTERN = new RegExp(
    String.raw`^(${IMAGE_DOMAIN}?${IMAGE_PATH}(?:/${IMAGE_PATH})*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$`,
);

export function isPinnedImageReference(value: string): boolean {
    const match = IMAGE_REFERENCE_PATTERN.exec(value);
    return match !== null && match[1].length <= 255 && (match[2] !== undefined || match[3] !== undefined);
}

/** A URL of one of `protocols` to a host name or IP, without credentials, query or fragment; `undefined` otherwise. */
function plainUrl(value: string, protocols: string[]): URL | undefined {
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        return undefined;
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const plain =
        protocols.includes(url.protocol) &&
        url.username === "" &&
        url.password === "" &&
        url.search === "" &&
        url.hash === "" &&
        (isHostname(host.toLowerCase()) || isIpAddress(host)) &&
        !/\s/.test(value);
    return plain ? url : undefined;
}

/** `https://host[:port][/path]`: what dockerd's `registry-mirrors` accepts (no query, no credentials). */
export function isHttpsUrl(value: string): boolean {
    return plainUrl(value, ["https:"]) !== undefined;
}

/** `http(s)://host[:port][/path]`, no credentials, query or fragment: where the registry POSTs its events. */
export function isWebhookUrl(value: string): boolean {
    return plainUrl(value, ["https:", "http:"]) !== undefined;
}

/** An HTTP header name (RFC 9110's token). */
export const isHttpHeaderName = matching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/);
/** A header value on one line: printable characters and spaces, 1-4096 of them. */
export const isHttpHeaderValue = matching(/^[\x21-\x7e]([\x20-\x7e]{0,4094}[\x21-\x7e])?$/);

/**
 * A repository glob: path segments of repository-name characters (a-z 0-9 . _ -) and wildcards,
 * `*` and `?` within a segment, `**` as a whole segment for any number of them (`team/**`, `**`).
 */
export function isRepositoryGlob(value: string): boolean {
    const segments = value.split("/");
    return (
        value.length <= 255 &&
        segments.every((segment) => segment === "**" || /^(?:[a-z0-9._-]|\*|\?)+$/.test(segment)) &&
        segments.every((segment) => segment === "**" || !segment.includes("**"))
    );
}

/** k3s compiles each pattern with Go's regexp (RE2): no lookaround, no backreferences. */
export function isRe2Pattern(pattern: string): boolean {
    if (pattern === "" || /\(\?[=!<]|\\[1-9]/.test(pattern)) return false;
    try {
        new RegExp(pattern);
        return true;
    } catch {
        return false;
    }
}

/** A Let's Encrypt server by name, or any ACME directory URL over https (no credentials in it). */
export function isAcmeServer(value: string): value is AcmeServer {
    if (ACME_SERVER_NAMES.includes(value)) return true;
    try {
        const url = new URL(value);
        return url.protocol === "https:" && url.hostname !== "" && url.username === "" && url.password === "";
    } catch {
        return false;
    }
}

/** `http(s)://host[:port]`: where the registry (and, with redirect, clients) reach the S3 API. */
export function isS3Endpoint(value: string): boolean {
    return plainUrl(value, ["https:", "http:"])?.pathname === "/";
}

/** `host`, `host:port` or `[IPv6]:port`, as lego takes resolvers (port 53 when left out). */
export function isNameserver(value: string): boolean {
    const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(value);
    const [host, port] = bracketed ? [bracketed[1], bracketed[2]] : isIP(value) === 6 ? [value, undefined] : value.split(/:(?=\d+$)/);
    const portOk = port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
    return portOk && (bracketed ? isIP(host) === 6 : isIpAddress(host) || isHostname(host));
}
