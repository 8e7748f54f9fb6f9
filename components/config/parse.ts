/**
 * Stack configuration: read once, validated once, defaults applied.
 *
 * Pure: takes the raw strings Pulumi hands us (`key -> string`, arrays and objects as JSON text)
 * and returns a typed `StackConfig`, or throws a `ConfigError` listing every bad key with the
 * form it expects. Kept free of `@pulumi/*` imports (types aside) so the tests can call it directly.
 */
import { isIP } from "net";
import type { AcmeServer } from "../certificates/acmeCertificate";
import type { StorageConfigInput } from "../render/registryConfig";
import { DEFAULTS } from "./defaults";
import { DISTRIBUTION_TAG_FORM, distributionMajor } from "./distribution";
import { GC_SCHEDULE_FORM, isGcSchedule } from "./gcSchedule";
import { parseUsers, RegistryUser, USERS_FORM } from "./users";

export const CONFIG_NAMESPACE = "private-registry";

/** A key as the user writes it: `private-registry:httpsPort`, `private-registry:ssh.port`. */
export function keyName(key: string): string {
    return `${CONFIG_NAMESPACE}:${key}`;
}

export type HostMode = "local" | "ssh" | "alicloud";
export type ContainerNetwork = "bridge" | "host";

export interface SshConnection {
    host: string;
    port: number;
    user: string;
    /** The server's host key (`ssh-ed25519 AAAA...`); unset: the first key seen is pinned. */
    hostKey?: string;
}

export interface AlicloudSettings {
    region: string;
    /** The Alidns zone the registry names live under, e.g. `example.com`. */
    dnsZone: string;
    /** Who may reach the VM's SSH port, e.g. `203.0.113.7/32`. Required: no open default. */
    adminCidr: string;
    /** Unset: the cheapest non-burstable type with 2 vCPUs and 4 GiB, looked up once and kept. */
    instanceType?: string;
    /** An image ID; unset looks up the newest Debian 12 image. */
    imageId?: string;
    /** Empty means: the first zone that offers the instance type. */
    zoneId?: string;
    dataDiskGiB: number;
    /** Daily snapshots of the data disk kept this many days; 0: none. */
    snapshotRetentionDays: number;
    vpcCidr: string;
    vswitchCidr: string;
}

export interface AcmeSettings {
    email: string;
    server: AcmeServer;
    /** The lego DNS provider publishing the DNS-01 TXT records; its credentials come from the environment. */
    dnsProvider: string;
    /** Resolvers (`host[:port]`) lego uses instead of the system's; empty: the system's. */
    recursiveNameservers: string[];
    /** Do not query the zone's authoritative nameservers for the TXT record before validation. */
    disableCompletePropagation: boolean;
}

/** What each container runs: any pinned reference a host's daemon can pull (a copy in ACR, say). */
export interface ImageSettings {
    registry: string;
    ui: string;
    edge: string;
    mirror: string;
}

/** Scheduled garbage collection of the registry's blobs (docs/operations.md). */
export interface GcSettings {
    /** A 5-field cron expression in UTC, `@hourly`/`@daily`/`@weekly`, or `@every DURATION`. */
    schedule: string;
    /** Also delete manifests no tag points at (Distribution 3 only: 2.8 deletes multi-arch images' platform manifests). */
    deleteUntagged: boolean;
}

/** The opt-in pull-through mirror: a second Distribution in proxy mode behind the same edge. */
export interface MirrorSettings {
    /** The registry it pulls through, `https://HOST[:PORT]`; default Docker Hub. */
    upstream: string;
    /** The upstream account (Docker Hub: raises the anonymous pull limit). */
    username?: string;
    /** A password is set (`mirror.password`, a secret): read it with readMirrorPassword, never from here. */
    hasPassword: boolean;
    /** The mirror's own name at the edge (in the certificate); unset: its own port, `httpsPort`. */
    hostname?: string;
    /** The edge port the mirror answers on when it has no name of its own. */
    httpsPort: number;
    /** k3s `rewrite` rules for docker.io: a Go regular expression → its replacement. */
    k3sRewrites: Record<string, string>;
}

/**
 * Where the registry keeps blobs (`storage`). The S3 credentials are not here: they are secrets,
 * read apart by readRegistryStorage (components/config/index.ts), so no plain copy exists.
 */
export type StorageSettings =
    | StorageConfigInput
    /** alicloud mode: an OSS bucket and a RAM user limited to it, both created by the stack. */
    | { kind: "oss" };

export interface StackConfig {
    mode: HostMode;
    /** DNS names the registry answers to; the first one names the endpoint. */
    hostnames: string[];
    /** IP addresses clients may use instead (a LAN IP for boards on the LAN). */
    ipAddresses: string[];
    /** Serve the UI on its own name instead of `https://HOST/`; the registry then sends CORS headers for it. */
    uiHostname?: string;
    httpsPort: number;
    httpPort: number;
    /** Each with a role: `push` for builders, `pull` for nodes (components/config/users.ts). */
    users: RegistryUser[];
    /** Per user, a keeper: changing it (or setting it the first time) gives that user a new password. */
    passwordRotation: Record<string, string>;
    deleteEnabled: boolean;
    retainDataOnDestroy: boolean;
    containerNetwork: ContainerNetwork;
    /** Host networking only: the loopback port the UI listens on, behind the edge. */
    uiPort: number;
    /** The registry's metrics listener: loopback in host networking, unpublished in bridge networking. */
    metricsPort: number;
    /** Host networking only: the edge also listens on IPv6 (always, when an ipAddresses entry is IPv6). */
    listenIpv6: boolean;
    /** Prefix of every Docker object name, so two stacks can share one daemon. */
    namePrefix: string;
    certificateValidityDays: number;
    certificateRenewBeforeDays: number;
    /** Local mode: the Docker daemon to deploy to; unset uses DOCKER_HOST or the default socket. */
    dockerHost?: string;
    ssh?: SshConnection;
    alicloud?: AlicloudSettings;
    /** alicloud mode: how many VMs run the registry and edge; more than one stand behind a load balancer and share object storage. */
    replicas: number;
    /** Set: certificates come from Let's Encrypt (or another ACME CA) by DNS-01 instead of the private CA. */
    acme?: AcmeSettings;
    images: ImageSettings;
    /** ssh and alicloud modes: `registry-mirrors` for the host's own Docker daemon, set before the first pull. */
    hostRegistryMirrors: string[];
    mirror?: MirrorSettings;
    storage: StorageSettings;
    /** Set: the registry collects its garbage on this schedule, read-only meanwhile. */
    gc?: GcSettings;
}

const PORT = "an integer port 1-65535";
const IMAGE_REFERENCE =
    "a pinned Docker image reference, NAME:TAG or NAME[:TAG]@sha256:DIGEST, e.g. registry.cn-hangzhou.aliyuncs.com/team/registry:2.8.3";

/** Every top-level key this project reads, with the form it expects (used in errors and for typo hints). */
export const CONFIG_KEYS: Record<string, string> = {
    mode: 'one of "local", "ssh", "alicloud"',
    hostnames: "a list of DNS names, e.g. [registry.example.com]",
    ipAddresses: "a list of IPv4/IPv6 addresses, e.g. [192.168.1.10]",
    uiHostname: "a DNS name of its own, e.g. registry-ui.example.com",
    httpsPort: PORT,
    httpPort: PORT,
    users: USERS_FORM,
    passwordRotation:
        'an object {USERNAME: KEEPER}, each USERNAME one of users, each KEEPER 1-64 printable characters, e.g. {"admin": "2026-11-29"}',
    deleteEnabled: "true or false",
    retainDataOnDestroy: "true or false",
    containerNetwork: 'one of "bridge", "host"',
    metricsPort: PORT,
    uiPort: PORT,
    listenIpv6: "true or false",
    namePrefix: "2-40 of a-z 0-9 -, starting with a letter (ECS names need 2)",
    certificateValidityDays: "an integer number of days, 1-825 (Apple clients refuse TLS server certificates valid longer)",
    certificateRenewBeforeDays: "an integer number of days, smaller than certificateValidityDays",
    images: "an object {registry?, ui?, edge?, mirror?}, each a pinned image reference",
    hostRegistryMirrors: "a list of https:// URLs of registry mirrors, e.g. [https://xxxx.mirror.aliyuncs.com]",
    mirror: "an object {upstream?, username?, password? (--secret), hostname?, httpsPort?, k3sRewrites?}",
    dockerHost: "a Docker host URL, unix:// tcp:// ssh:// or npipe://, e.g. unix:///var/run/docker.sock or ssh://user@host",
    ssh: "an object {host, port?, user?, hostKey?}",
    sshPrivateKey: "an OpenSSH or PEM private key (set with --secret)",
    alicloud:
        "an object {region, dnsZone, adminCidr, instanceType?, imageId?, zoneId?, dataDiskGiB?, snapshotRetentionDays?, vpcCidr?, vswitchCidr?}",
    replicas: "an integer 1-20, alicloud mode only (VMs behind a load balancer, sharing object storage)",
    gc: "an object {schedule, deleteUntagged?}",
    acme: 'an object {email, server?: "staging" | "production" | an https:// ACME directory URL, dnsProvider?, recursiveNameservers?, disableCompletePropagation?}',
    storage:
        'an object {kind: "filesystem" | "s3" | "oss", ...}; s3 takes {endpoint?, region, bucket, accessKeyId, secretAccessKey (--secret), forcePathStyle?, redirect?, rootDirectory?}',
};

/** The fields of each object key, with their forms: errors name them as `ssh.port`. */
export const CONFIG_FIELDS: Record<string, Record<string, string>> = {
    images: {
        registry: IMAGE_REFERENCE,
        ui: IMAGE_REFERENCE,
        edge: IMAGE_REFERENCE,
        mirror: IMAGE_REFERENCE,
    },
    gc: {
        schedule: GC_SCHEDULE_FORM,
        deleteUntagged: "true or false",
    },
    mirror: {
        upstream: "an https:// URL of a registry, e.g. https://registry-1.docker.io",
        username: "the upstream account's username",
        password: "the upstream account's password or token (pulumi config set --secret --path mirror.password ...)",
        hostname: "a DNS name for the mirror, e.g. mirror.example.com (added to the certificate)",
        httpsPort: `${PORT}, the edge port the mirror answers on when it has no hostname`,
        k3sRewrites: 'an object of Go regular expression -> replacement, e.g. {"^rancher/mirrored-(.*)": "riscv64/mirrored-$1"}',
    },
    ssh: {
        host: "a DNS name or IP address of the server",
        port: PORT,
        user: "a login name: 1-32 of a-z A-Z 0-9 . _ -, not starting with - or .",
        hostKey: 'a public key such as "ssh-ed25519 AAAA..." (what ssh-keyscan -t ed25519 HOST prints after the host name)',
    },
    alicloud: {
        region: 'an Alibaba Cloud region ID, e.g. "cn-hongkong" or "ap-southeast-1"',
        dnsZone: "the Alidns domain the registry names live under, e.g. example.com",
        adminCidr:
            "an IPv4 CIDR such as 203.0.113.7/32, the network allowed to reach SSH (no open default; the security group rule takes IPv4 only)",
        instanceType: "an ECS instance type, e.g. ecs.g7.large",
        imageId: "an ECS image ID",
        zoneId: 'a zone ID of the region, e.g. "cn-hongkong-b"',
        dataDiskGiB: "an integer size in GiB, 20-32768",
        snapshotRetentionDays: "an integer number of days, 0-65536 (0: no automatic snapshots)",
        vpcCidr: "an IPv4 CIDR such as 172.31.0.0/16",
        vswitchCidr: "an IPv4 CIDR inside vpcCidr, such as 172.31.1.0/24",
    },
    acme: {
        email: "an email address, the ACME account's contact, e.g. ops@example.com",
        server: '"staging", "production" or an ACME directory URL starting with https://',
        dnsProvider:
            'a lego DNS provider name such as "alidns", "tencentcloud", "cloudflare", "route53" or "exec" (not "manual": nobody is there to type)',
        recursiveNameservers: "a list of resolvers, host or host:port, e.g. [1.1.1.1:53]",
        disableCompletePropagation: "true or false",
    },
    storage: {
        kind: '"filesystem" (the host\'s data volume), "s3" (an S3-compatible bucket you provide) or "oss" (alicloud mode: an OSS bucket the stack creates)',
        endpoint:
            "the S3 API's URL, http:// or https:// with a host and optional port, no path, e.g. https://minio.example.com:9000 (leave it out for AWS itself)",
        region: "the bucket's region, e.g. us-east-1: 1-64 of a-z 0-9 -",
        bucket: "an existing bucket's name: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit",
        accessKeyId: "the access key ID (pulumi config set --secret --path storage.accessKeyId ...)",
        secretAccessKey: "the secret access key, set as a secret: pulumi config set --secret --path storage.secretAccessKey ...",
        forcePathStyle: "true or false: address the bucket as ENDPOINT/BUCKET rather than BUCKET.ENDPOINT (default: true with an endpoint)",
        redirect:
            "true or false: pulls fetch blobs from the bucket itself by a presigned URL, so clients must reach the endpoint (default false)",
        rootDirectory: "a key prefix inside the bucket, e.g. /registry: a-z A-Z 0-9 . _ - and /, no ..",
    },
};

export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

const HOSTNAME = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/;
const NAME_PREFIX = /^[a-z][a-z0-9-]{1,39}$/;
/** A login name as useradd takes it; never a leading `-`, which ssh would read as an option. */
const LOGIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$/;
const DOCKER_HOST = /^(unix|tcp|ssh|npipe):\/\/\S+$/;
const ALICLOUD_REGION = /^[a-z]{2}(-[a-z0-9]+)+$/;
/** Apple's limit for TLS server certificates issued after 2020-09 is 398 days; 825 is the hard limit of older clients and private CAs. */
const MAX_VALIDITY_DAYS = 825;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
/** lego's DNS provider names: lower case, digits, dots and dashes (`alidns`, `acme-dns`, `yandex360`). */
const LEGO_DNS_PROVIDER = /^[a-z0-9]+([.-][a-z0-9]+)*$/;
const SSH_PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( \S.*)?$/;
/** A load balancer's backends; more VMs than this is a different design (an autoscaling group). */
const MAX_REPLICAS = 20;
/** Let's Encrypt certificates live 90 days, falling to 45: more than 30 would soon renew on every run (and hit rate limits), fewer than 7 can miss a weekly renewal job. */
const ACME_RENEW_BEFORE_DAYS = { min: 7, max: 30 };
/** Every `AcmeServer` given by name, checked both ways by the type: parse.ts must not import the component itself. */
const ACME_SERVER_NAMES = Object.keys({ staging: true, production: true } satisfies Record<Exclude<AcmeServer, `https://${string}`>, true>);

/**
 * Reads one level of the configuration: the stack's keys, or the fields of one object key.
 * Collects problems instead of stopping at the first, so one preview shows every bad key; every
 * problem goes through `fail`, which names the key the way the user writes it.
 */
class Reader {
    constructor(
        private readonly raw: Record<string, string | undefined>,
        readonly problems: string[],
        /** `""` for the stack's keys, `"ssh."` for the fields of `ssh`. */
        private readonly path = "",
    ) {}

    /** The key as a user writes it: `private-registry:ssh.port`. */
    name(key: string): string {
        return keyName(`${this.path}${key}`);
    }

    /** Records a problem with `key`; `message` continues the sentence after the key's name. */
    fail(key: string, message: string): undefined {
        this.problems.push(`${this.name(key)} ${message}`);
        return undefined;
    }

    /** `KEY must be FORM; got VALUE`, the form taken from CONFIG_KEYS or CONFIG_FIELDS. */
    invalid(key: string, got: unknown): undefined {
        return this.fail(key, `must be ${this.form(key)}; got ${JSON.stringify(got)}`);
    }

    form(key: string): string {
        const form = this.path === "" ? CONFIG_KEYS[key] : CONFIG_FIELDS[this.path.slice(0, -1)]?.[key];
        if (form === undefined) throw new Error(`no form declared for ${this.name(key)}`);
        return form;
    }

    string(key: string): string | undefined {
        const value = this.raw[key];
        return value === undefined || value === "" ? undefined : value;
    }

    /** A string that must be set; `why` says when, e.g. "in alicloud mode". */
    required(key: string, why = ""): string | undefined {
        const value = this.string(key);
        if (value === undefined) this.fail(key, `is required${why}: ${this.form(key)}`);
        return value;
    }

    /** A string that, when set, must pass `valid`. */
    matching(key: string, valid: (value: string) => boolean): string | undefined {
        const value = this.string(key);
        return value === undefined || valid(value) ? value : this.invalid(key, value);
    }

    choice<T extends string>(key: string, choices: readonly T[], fallback: T): T {
        const value = this.string(key) ?? fallback;
        return (choices as readonly string[]).includes(value) ? (value as T) : (this.invalid(key, value), fallback);
    }

    integer(key: string, fallback: number, min: number, max: number): number {
        const text = this.string(key);
        if (text === undefined) return fallback;
        const value = Number(text);
        return /^\d+$/.test(text.trim()) && value >= min && value <= max ? value : (this.invalid(key, text), fallback);
    }

    port(key: string, fallback: number): number {
        return this.integer(key, fallback, 1, 65535);
    }

    boolean(key: string, fallback: boolean): boolean {
        const text = this.string(key);
        if (text === undefined) return fallback;
        if (text === "true" || text === "false") return text === "true";
        this.invalid(key, text);
        return fallback;
    }

    /**
     * A list of distinct strings, each checked with `valid`; `explain` may say what is wrong with
     * an entry more precisely than the form does. Pulumi stores YAML lists as JSON text.
     * `same` says which entries count as one (e.g. two spellings of an IPv6 address).
     */
    list(
        key: string,
        fallback: readonly string[],
        valid: (item: string) => boolean,
        explain: (item: string) => string | undefined = () => undefined,
        same: (item: string) => string = (item) => item,
    ): string[] {
        const value = this.json(key);
        if (value === undefined) return [...fallback];
        if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) return (this.invalid(key, value), [...fallback]);
        const items = value as string[];
        const bad = items.filter((item) => !valid(item));
        const unexplained = bad.filter((item) => explain(item) === undefined);
        for (const item of bad.filter((i) => !unexplained.includes(i))) this.fail(key, `entry ${JSON.stringify(item)} ${explain(item)}`);
        if (unexplained.length > 0) this.invalid(key, value);
        const repeated = items.filter((item, i) => items.findIndex((other) => same(other) === same(item)) !== i);
        if (repeated.length > 0)
            this.fail(key, `must not repeat an entry; ${repeated.map((r) => JSON.stringify(r)).join(", ")} is listed twice`);
        return bad.length > 0 || repeated.length > 0 ? [...fallback] : items;
    }

    /**
     * An object key, whose fields are then read by the Reader returned (errors name `key.field`).
     * A field CONFIG_FIELDS does not declare is reported, as a top-level typo is.
     */
    object(key: string): Reader | undefined {
        const value = this.json(key);
        if (value === undefined) return undefined;
        if (typeof value !== "object" || value === null || Array.isArray(value)) return this.invalid(key, value);
        const fields = Object.fromEntries(
            Object.entries(value).map(([k, v]) => [
                k,
                v === null || v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v),
            ]),
        );
        const nested = new Reader(fields, this.problems, `${this.path}${key}.`);
        nested.reportUnknown(Object.keys(fields), CONFIG_FIELDS[key] ?? {});
        return nested;
    }

    /** Names each key that `known` does not list, with the nearest known one as a hint. */
    reportUnknown(keys: string[], known: Record<string, string>): void {
        for (const key of keys.filter((k) => !(k in known))) {
            const near = nearestKey(key, Object.keys(known));
            this.fail(key, `is not a known key${near ? ` (did you mean ${near}?)` : ""}`);
        }
    }

    /** The key's value parsed as JSON (lists and objects arrive as JSON text); a bare scalar as text. */
    json(key: string): unknown {
        const text = this.string(key);
        if (text === undefined) return undefined;
        try {
            return JSON.parse(text);
        } catch {
            // A bare scalar where a list or object was expected.
            return text;
        }
    }
}

/** The known key a typo most likely meant: same first four letters, or two edits away at most. */
function nearestKey(typo: string, known: string[]): string | undefined {
    const lower = typo.toLowerCase();
    return known.find((k) => k.toLowerCase().startsWith(lower.slice(0, 4))) ?? known.find((k) => editDistance(lower, k.toLowerCase()) <= 2);
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swapped neighbours. */
function editDistance(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) =>
        Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
    );
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.length][b.length];
}

/** A DNS name; one whose last label is all digits (`123`, `10.0.0.1`) is an IP address to clients. */
export function isHostname(value: string): boolean {
    return HOSTNAME.test(value) && !/(^|\.)\d+$/.test(value);
}

/** What a client would read as an IP address rather than a name: a certificate cannot name it as DNS. */
function looksLikeIpAddress(value: string): boolean {
    return isIP(value) !== 0 || (value.includes(":") && /^[0-9a-fA-F:.%]+$/.test(value)) || /(^|\.)\d+$/.test(value);
}

/** Why a hostname entry is refused, where the form alone does not say. */
function ipInsteadOfName(value: string): string | undefined {
    if (looksLikeIpAddress(value))
        return "is an IP address, not a DNS name: list it in ipAddresses (a certificate's DNS names never match an IP)";
    if (/[:/]/.test(value)) return "must be a bare DNS name, no scheme, port or path (the port is httpsPort)";
    if (isHostname(value.toLowerCase())) return `must be lowercase: write ${value.toLowerCase()}`;
    return undefined;
}

/** Why an ipAddresses entry is refused, where the form alone does not say. */
function ipAddressProblem(value: string): string | undefined {
    if (/^\d+(\.\d+){3}$/.test(value) && value.split(".").some((part) => /^0\d/.test(part))) {
        return `has a leading zero, which Go's address parser (the tls provider's) rejects: write ${value.split(".").map(Number).join(".")}`;
    }
    if (value.includes("%")) return "has a zone (%...), which a certificate cannot name";
    return undefined;
}

/** One spelling per address: `fd00:0::10` and `fd00::10` are the same IPv6 address. */
function canonicalIp(value: string): string {
    return isIP(value) === 6 ? new URL(`http://[${value}]/`).hostname : value;
}

/** An IPv4 CIDR, its prefix read as a number, or undefined if it is not one. */
function parseIpv4Cidr(value: string): { network: number; prefix: number } | undefined {
    const match = /^([\d.]+)\/(0|[1-9]\d?|0\d)$/.exec(value);
    if (match === null || isIP(match[1]) !== 4) return undefined;
    const prefix = Number(match[2]);
    if (prefix > 32) return undefined;
    const address = match[1].split(".").reduce((sum, octet) => sum * 256 + Number(octet), 0);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return { network: (address & mask) >>> 0, prefix };
}

function cidrContains(outer: { network: number; prefix: number }, inner: { network: number; prefix: number }): boolean {
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

function readImages(read: Reader): ImageSettings {
    const images = read.object("images");
    const image = (key: keyof ImageSettings) => images?.matching(key, isPinnedImageReference) ?? DEFAULTS.images[key];
    const settings = { registry: image("registry"), ui: image("ui"), edge: image("edge"), mirror: image("mirror") };
    // The registry's and the mirror's config.yml (its path, what it may say) depend on the
    // Distribution major version, which the tag must tell.
    for (const key of ["registry", "mirror"] as const) {
        if (images !== undefined && distributionMajor(settings[key]) === undefined) {
            images.fail(
                key,
                `must be ${DISTRIBUTION_TAG_FORM}, so the stack knows which config.yml to render; got ${JSON.stringify(settings[key])}`,
            );
        }
    }
    return settings;
}

/** `gc`: a schedule, and `deleteUntagged` only where Distribution keeps multi-arch images whole. */
function readGc(read: Reader, registryImage: string): GcSettings | undefined {
    const gc = read.object("gc");
    if (gc === undefined) return undefined;
    const schedule = gc.required("schedule");
    if (schedule !== undefined && !isGcSchedule(schedule)) gc.invalid("schedule", schedule);
    const deleteUntagged = gc.boolean("deleteUntagged", DEFAULTS.gc.deleteUntagged);
    if (deleteUntagged && distributionMajor(registryImage) !== 3) {
        gc.fail(
            "deleteUntagged",
            `needs Distribution 3 (${read.name("images")}.registry ${JSON.stringify(registryImage)} is 2.x, whose --delete-untagged deletes the platform manifests of every multi-arch image: distribution issues 3004, 3178); use a registry:3 image or leave it false`,
        );
    }
    return schedule === undefined || !isGcSchedule(schedule) ? undefined : { schedule: schedule.trim(), deleteUntagged };
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

function readHostRegistryMirrors(read: Reader, mode: HostMode): string[] {
    const mirrors = read.list("hostRegistryMirrors", DEFAULTS.hostRegistryMirrors, isHttpsUrl);
    if (mirrors.length > 0 && mode === "local") {
        read.fail(
            "hostRegistryMirrors",
            "applies to the daemon this stack installs (ssh and alicloud modes); in local mode set registry-mirrors in your own daemon.json",
        );
    }
    return mirrors;
}

function readMirror(read: Reader, mode: HostMode, hostnames: string[], takenPorts: number[]): MirrorSettings | undefined {
    const mirror = read.object("mirror");
    if (mirror === undefined) return undefined;
    const upstream = (mirror.matching("upstream", isHttpsUrl) ?? DEFAULTS.mirror.upstream).replace(/\/+$/, "");
    const username = mirror.string("username");
    const hasPassword = mirror.string("password") !== undefined;
    if (hasPassword && username === undefined)
        mirror.fail("username", `is required with ${mirror.name("password")}: ${mirror.form("username")}`);
    if (username !== undefined && !hasPassword)
        mirror.fail("password", `is required with ${mirror.name("username")}: ${mirror.form("password")}`);
    const hostname = mirror.matching("hostname", isHostname);
    if (hostname !== undefined && hostnames.includes(hostname))
        mirror.fail("hostname", `must differ from the registry's own names; got ${JSON.stringify(hostname)}`);
    if (hostname !== undefined && mode === "alicloud")
        mirror.fail(
            "hostname",
            "is not supported in alicloud mode yet (its DNS records and certificate cover hostnames and uiHostname); use mirror.httpsPort",
        );
    const httpsPort = mirror.port("httpsPort", DEFAULTS.mirror.httpsPort);
    if (hostname === undefined && takenPorts.includes(httpsPort))
        mirror.fail("httpsPort", `(${httpsPort}) must differ from httpsPort and httpPort, or give the mirror a hostname`);
    return { upstream, username, hasPassword, hostname, httpsPort, k3sRewrites: readRewrites(mirror) };
}

/** k3s compiles each pattern with Go's regexp (RE2): no lookaround, no backreferences. */
function readRewrites(mirror: Reader): Record<string, string> {
    const value = mirror.json("k3sRewrites");
    if (value === undefined) return {};
    const entries = typeof value === "object" && value !== null && !Array.isArray(value) ? Object.entries(value) : undefined;
    const valid = entries?.every(
        ([pattern, replacement]) => typeof replacement === "string" && replacement !== "" && isRe2Pattern(pattern),
    );
    if (entries === undefined || !valid) {
        mirror.invalid("k3sRewrites", value);
        return {};
    }
    return Object.fromEntries(entries) as Record<string, string>;
}

function isRe2Pattern(pattern: string): boolean {
    if (pattern === "" || /\(\?[=!<]|\\[1-9]/.test(pattern)) return false;
    try {
        new RegExp(pattern);
        return true;
    } catch {
        return false;
    }
}

/** Keys earlier versions read, and why they are gone: a stack that sets one learns what changed. */
const REMOVED_KEYS: Record<string, string> = {
    registryPort:
        "is no longer used: the registry has no TCP port, only a Unix socket the edge alone reaches (docs/roles.md); remove the key",
};

/**
 * `keys` are the config keys present in our namespace, to catch typos such as `hostname`;
 * `secretKeys` the ones set with `--secret` (one secret field makes its whole object key secret).
 */
export function parseStackConfig(
    raw: Record<string, string | undefined>,
    keys: string[] = Object.keys(raw),
    secretKeys: string[] = [],
): StackConfig {
    const read = new Reader(raw, []);
    for (const key of keys.filter((k) => k in REMOVED_KEYS)) read.fail(key, REMOVED_KEYS[key]);
    read.reportUnknown(
        keys.filter((k) => !(k in REMOVED_KEYS)),
        CONFIG_KEYS,
    );

    const mode = read.choice<HostMode>("mode", ["local", "ssh", "alicloud"], DEFAULTS.mode);
    const ipAddresses = read.list("ipAddresses", DEFAULTS.ipAddresses, isIpAddress, ipAddressProblem, canonicalIp);
    // Only a registry on this machine may go without a name: "localhost" reaches it. An empty
    // list counts as unset: it is the default Pulumi.yaml declares.
    const defaultNames = mode === "local" && ipAddresses.length === 0 ? DEFAULTS.hostnames : [];
    const listedNames = read.list("hostnames", [], isHostname, ipInsteadOfName);
    const hostnames = listedNames.length > 0 ? listedNames : [...defaultNames];
    if (hostnames.length + ipAddresses.length === 0)
        read.fail("hostnames", `or ${read.name("ipAddresses")} must name at least one address clients use`);
    const uiHostname = readUiHostname(read, hostnames, ipAddresses, listedNames.length === 0);

    const containerNetwork = read.choice<ContainerNetwork>("containerNetwork", ["bridge", "host"], DEFAULTS.containerNetwork);
    const httpsPort = read.port("httpsPort", DEFAULTS.httpsPort);
    const httpPort = read.port("httpPort", DEFAULTS.httpPort);
    const metricsPort = read.port("metricsPort", DEFAULTS.metricsPort);
    const uiPort = read.port("uiPort", DEFAULTS.uiPort);
    if (containerNetwork === "host") {
        const ports = { httpsPort, httpPort, uiPort, metricsPort };
        const taken = Object.entries(ports).filter(([, p], i, all) => all.findIndex(([, q]) => q === p) !== i);
        for (const [key, port] of taken)
            read.fail(key, `(${port}) collides with another port; with containerNetwork "host" these ports must all differ`);
    } else if (httpsPort === httpPort) {
        read.fail("httpsPort", `and ${read.name("httpPort")} must differ; both are ${httpsPort}`);
    }

    const { users, problems: userProblems } = parseUsers(read.string("users"), read.name("users"));
    read.problems.push(...userProblems);
    const passwordRotation = parsePasswordRotation(
        read,
        users.map((u) => u.name),
    );

    const validityDays = read.integer("certificateValidityDays", DEFAULTS.certificateValidityDays, 1, MAX_VALIDITY_DAYS);
    const renewBeforeDays = read.integer("certificateRenewBeforeDays", DEFAULTS.certificateRenewBeforeDays, 0, 3650);
    if (renewBeforeDays >= validityDays) {
        read.fail(
            "certificateRenewBeforeDays",
            `must be ${read.form("certificateRenewBeforeDays")}; got ${renewBeforeDays} with validity ${validityDays}`,
        );
    }

    const config: StackConfig = {
        mode,
        hostnames,
        ipAddresses,
        uiHostname,
        httpsPort,
        httpPort,
        users,
        passwordRotation,
        deleteEnabled: read.boolean("deleteEnabled", DEFAULTS.deleteEnabled),
        retainDataOnDestroy: read.boolean("retainDataOnDestroy", DEFAULTS.retainDataOnDestroy),
        containerNetwork,
        uiPort,
        metricsPort,
        // Clients told to use an IPv6 address must find the edge there.
        listenIpv6: read.boolean("listenIpv6", DEFAULTS.listenIpv6) || ipAddresses.some((ip) => isIP(ip) === 6),
        namePrefix: read.matching("namePrefix", (p) => NAME_PREFIX.test(p)) ?? DEFAULTS.namePrefix,
        certificateValidityDays: validityDays,
        certificateRenewBeforeDays: renewBeforeDays,
        dockerHost: readDockerHost(read, mode),
        ssh: mode === "ssh" ? readSsh(read) : undefined,
        alicloud: mode === "alicloud" ? readAlicloud(read, hostnames, uiHostname) : undefined,
        replicas: readReplicas(read, mode),
        acme: readAcme(read, mode),
        images: readImages(read),
        hostRegistryMirrors: readHostRegistryMirrors(read, mode),
        mirror: readMirror(read, mode, hostnames, [httpsPort, httpPort]),
        storage: readStorage(read, mode, secretKeys.includes("storage")),
    };
    config.gc = readGc(read, config.images.registry);
    if (config.storage.kind === "oss" && distributionMajor(config.images.registry) === 2) {
        // 2.8's s3 driver forces path-style requests once an endpoint is set; OSS answers only
        // virtual-hosted ones (docs/scale.md). 3.x reaches OSS through s3 without path style.
        read.fail(
            "storage.kind",
            `"oss" needs Distribution 3: ${read.name("images")}.registry ${JSON.stringify(config.images.registry)} is 2.x, whose s3 driver OSS refuses; use a registry:3 image`,
        );
    }
    if (config.mirror && containerNetwork === "host") {
        // On the host's network the mirror also takes a loopback port of its own.
        const ports = { httpsPort, httpPort, uiPort, metricsPort };
        for (const [key, port] of Object.entries(ports).filter(([, p]) => p === DEFAULTS.mirror.loopbackPort)) {
            read.fail(key, `(${port}) is the mirror's loopback port with containerNetwork "host"; choose another`);
        }
        if (config.mirror.hostname === undefined && [uiPort, metricsPort, DEFAULTS.mirror.loopbackPort].includes(config.mirror.httpsPort)) {
            read.fail(
                "mirror.httpsPort",
                `(${config.mirror.httpsPort}) collides with a loopback port; with containerNetwork "host" all ports must differ`,
            );
        }
    }
    if (config.acme) {
        if (ipAddresses.length > 0) read.fail("ipAddresses", "must be empty with acme: Let's Encrypt does not certify IP addresses");
        // Not the local default "localhost": no public CA certifies it.
        if (listedNames.length === 0) read.fail("hostnames", `is required with acme: ${read.form("hostnames")}`);
        const { min, max } = ACME_RENEW_BEFORE_DAYS;
        if (renewBeforeDays < min || renewBeforeDays > max) {
            read.fail(
                "certificateRenewBeforeDays",
                `must be ${min}-${max} with acme (Let's Encrypt certificates live 90 days, soon 45; renewal runs on pulumi up); got ${renewBeforeDays}`,
            );
        }
    }
    if (read.problems.length > 0) throw new ConfigError(read.problems);
    return config;
}

/** The UI's own name: a DNS name no other server block already answers to. */
function readUiHostname(read: Reader, hostnames: string[], ipAddresses: string[], namesImplied: boolean): string | undefined {
    const uiHostname = read.string("uiHostname");
    if (uiHostname === undefined) return undefined;
    if (looksLikeIpAddress(uiHostname))
        return read.fail(
            "uiHostname",
            `${JSON.stringify(uiHostname)} is an IP address, not a DNS name: the UI needs a DNS name of its own`,
        );
    if (!isHostname(uiHostname)) {
        const why = ipInsteadOfName(uiHostname);
        return why === undefined ? read.invalid("uiHostname", uiHostname) : read.fail("uiHostname", `${JSON.stringify(uiHostname)} ${why}`);
    }
    if (hostnames.includes(uiHostname) || ipAddresses.includes(uiHostname)) {
        const where = namesImplied
            ? `the name local mode implies when ${read.name("hostnames")} is unset`
            : `a ${read.name("hostnames")} entry`;
        return read.fail(
            "uiHostname",
            `must differ from every registry name (the UI redirects from those to its own): ${JSON.stringify(uiHostname)} is ${where}`,
        );
    }
    return uiHostname;
}

/** Local mode's daemon; the other modes reach their host's daemon themselves. */
function readDockerHost(read: Reader, mode: HostMode): string | undefined {
    const dockerHost = read.matching("dockerHost", (h) => DOCKER_HOST.test(h));
    if (dockerHost !== undefined && mode !== "local")
        return read.fail("dockerHost", `applies to local mode only; mode "${mode}" reaches its host's daemon over SSH`);
    return dockerHost;
}

function readSsh(read: Reader): SshConnection | undefined {
    const ssh = read.object("ssh");
    if (ssh === undefined) {
        read.required("ssh");
        return undefined;
    }
    const host = ssh.required("host");
    if (host !== undefined && !isHostname(host) && !isIpAddress(host)) ssh.invalid("host", host);
    const port = ssh.port("port", DEFAULTS.ssh.port);
    const user = ssh.matching("user", (u) => LOGIN_NAME.test(u)) ?? DEFAULTS.ssh.user;
    const hostKey = ssh.string("hostKey")?.trim();
    if (hostKey !== undefined && !SSH_PUBLIC_KEY.test(hostKey)) ssh.invalid("hostKey", hostKey);
    return host === undefined ? undefined : { host, port, user, ...(hostKey === undefined ? {} : { hostKey }) };
}

function readAlicloud(read: Reader, hostnames: string[], uiHostname: string | undefined): AlicloudSettings | undefined {
    const ali = read.object("alicloud");
    if (ali === undefined) {
        read.required("alicloud");
        return undefined;
    }
    const region = ali.required("region");
    if (region !== undefined && !ALICLOUD_REGION.test(region)) ali.invalid("region", region);
    const dnsZone = ali.required("dnsZone");
    const adminCidr = ali.required("adminCidr");
    const adminRange = adminCidr === undefined ? undefined : parseIpv4Cidr(adminCidr);
    if (adminCidr !== undefined && adminRange === undefined) ali.invalid("adminCidr", adminCidr);
    if (adminRange?.prefix === 0)
        ali.fail("adminCidr", `must not open SSH to the whole internet (prefix length 0); got ${JSON.stringify(adminCidr)}`);
    if (dnsZone !== undefined) {
        if (!isHostname(dnsZone)) ali.fail("dnsZone", `must be a DNS name; got ${JSON.stringify(dnsZone)}`);
        const served: [string, string][] = [
            ...hostnames.map((name) => ["hostnames", name] as [string, string]),
            ...(uiHostname ? [["uiHostname", uiHostname] as [string, string]] : []),
        ];
        for (const [key, name] of served) {
            if (name !== dnsZone && !name.endsWith(`.${dnsZone}`))
                read.fail(key, `entry ${JSON.stringify(name)} is not under ${ali.name("dnsZone")} ${JSON.stringify(dnsZone)}`);
        }
    }
    const vpcCidr = ali.matching("vpcCidr", (c) => parseIpv4Cidr(c) !== undefined) ?? DEFAULTS.alicloud.vpcCidr;
    const vswitchCidr = ali.matching("vswitchCidr", (c) => parseIpv4Cidr(c) !== undefined) ?? DEFAULTS.alicloud.vswitchCidr;
    const [vpcRange, vswitchRange] = [parseIpv4Cidr(vpcCidr), parseIpv4Cidr(vswitchCidr)];
    if (vpcRange && vswitchRange && !cidrContains(vpcRange, vswitchRange)) {
        ali.fail("vswitchCidr", `must lie inside ${ali.name("vpcCidr")} ${JSON.stringify(vpcCidr)}; got ${JSON.stringify(vswitchCidr)}`);
    }
    if (hostnames.length === 0) read.fail("hostnames", `is required in alicloud mode: ${read.form("hostnames")}`);
    return {
        region: region ?? "",
        dnsZone: dnsZone ?? "",
        adminCidr: adminCidr ?? "",
        instanceType: ali.string("instanceType"),
        imageId: ali.string("imageId"),
        zoneId: ali.string("zoneId"),
        dataDiskGiB: ali.integer("dataDiskGiB", DEFAULTS.alicloud.dataDiskGiB, 20, 32768),
        snapshotRetentionDays: ali.integer("snapshotRetentionDays", DEFAULTS.alicloud.snapshotRetentionDays, 0, 65536),
        vpcCidr,
        vswitchCidr,
    };
}

/** Replicas need the alicloud load balancer and blobs every replica sees: a bucket, not one VM's disk. */
function readReplicas(read: Reader, mode: HostMode): number {
    const replicas = read.integer("replicas", DEFAULTS.replicas, 1, MAX_REPLICAS);
    if (replicas === DEFAULTS.replicas) return replicas;
    if (mode !== "alicloud")
        return (
            read.fail(
                "replicas",
                `applies to alicloud mode only (the stack creates the VMs and their load balancer there); mode "${mode}" runs one host`,
            ),
            DEFAULTS.replicas
        );
    const storageKind = (read.json("storage") as { kind?: unknown } | undefined)?.kind ?? DEFAULTS.storage.kind;
    if (storageKind === "filesystem") {
        read.fail(
            "replicas",
            `(${replicas}) needs ${read.name("storage.kind")} "oss" or "s3": every replica must see the same blobs, and "filesystem" keeps them on one VM's disk`,
        );
    }
    return replicas;
}

function readAcme(read: Reader, mode: HostMode): AcmeSettings | undefined {
    const acme = read.object("acme");
    if (acme === undefined) {
        if (mode === "alicloud") read.required("acme", " in alicloud mode, which uses Let's Encrypt");
        return undefined;
    }
    const email = acme.required("email");
    if (email !== undefined && !EMAIL.test(email)) acme.invalid("email", email);
    const server = acme.matching("server", isAcmeServer) ?? DEFAULTS.acme.server;
    const dnsProvider = acme.matching("dnsProvider", (p) => LEGO_DNS_PROVIDER.test(p) && p !== "manual") ?? DEFAULTS.acme.dnsProvider;
    const recursiveNameservers = acme.list("recursiveNameservers", DEFAULTS.acme.recursiveNameservers, isNameserver);
    const disableCompletePropagation = acme.boolean("disableCompletePropagation", DEFAULTS.acme.disableCompletePropagation);
    return email === undefined || !isAcmeServer(server)
        ? undefined
        : { email, server, dnsProvider, recursiveNameservers, disableCompletePropagation };
}

/** A Let's Encrypt server by name, or any ACME directory URL over https (no credentials in it). */
function isAcmeServer(value: string): value is AcmeServer {
    if (ACME_SERVER_NAMES.includes(value)) return true;
    try {
        const url = new URL(value);
        return url.protocol === "https:" && url.hostname !== "" && url.username === "" && url.password === "";
    } catch {
        return false;
    }
}

const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const S3_REGION = /^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$/;
const S3_ROOT_DIRECTORY = /^[A-Za-z0-9._/-]{1,255}$/;
/** The fields only an S3 bucket the user provides has; the others are fixed by their kind. */
const S3_FIELDS = ["endpoint", "region", "bucket", "accessKeyId", "secretAccessKey", "forcePathStyle", "redirect", "rootDirectory"];

/**
 * `storage`: the data volume by default; an S3-compatible bucket in any mode (its secret key must
 * be a secret config value, never plain text in Pulumi.<stack>.yaml); an OSS bucket of the stack's
 * own in alicloud mode only.
 */
function readStorage(read: Reader, mode: HostMode, isSecret: boolean): StorageSettings {
    const storage = read.object("storage");
    if (storage === undefined) return { kind: DEFAULTS.storage.kind };
    const kind = storage.choice<StorageSettings["kind"]>("kind", ["filesystem", "s3", "oss"], DEFAULTS.storage.kind);
    if (kind !== "s3") {
        const why =
            kind === "oss" ? "the stack creates the OSS bucket and its keys itself" : "the registry keeps blobs on the host's data volume";
        for (const field of S3_FIELDS.filter((f) => storage.string(f) !== undefined))
            storage.fail(field, `applies to kind "s3" only; with kind "${kind}" ${why}`);
        if (kind === "oss" && mode !== "alicloud") {
            storage.fail(
                "kind",
                `"oss" applies to alicloud mode only (the stack creates the bucket there); mode "${mode}" can use kind "s3" with OSS's S3-compatible endpoint`,
            );
        }
        return { kind };
    }
    const endpoint = storage.matching("endpoint", isS3Endpoint)?.replace(/\/+$/, "");
    const region = storage.required("region", ' with kind "s3"');
    if (region !== undefined && !S3_REGION.test(region)) storage.invalid("region", region);
    const bucket = storage.required("bucket", ' with kind "s3"');
    if (bucket !== undefined && !S3_BUCKET.test(bucket)) storage.invalid("bucket", bucket);
    storage.required("accessKeyId", ' with kind "s3"');
    const secretAccessKey = storage.required("secretAccessKey", ' with kind "s3"');
    // The value is not repeated: it would land in the error, a log, the terminal.
    if (secretAccessKey !== undefined && !isSecret) {
        storage.fail(
            "secretAccessKey",
            `must be a secret config value, not plain text in Pulumi.<stack>.yaml: pulumi config set --secret --path storage.secretAccessKey ...`,
        );
    }
    const rootDirectory = storage.matching("rootDirectory", (d) => S3_ROOT_DIRECTORY.test(d) && !d.split("/").includes(".."));
    return {
        kind,
        ...(endpoint === undefined ? {} : { endpoint }),
        region: region ?? "",
        bucket: bucket ?? "",
        forcePathStyle: storage.boolean("forcePathStyle", endpoint !== undefined),
        redirect: storage.boolean("redirect", DEFAULTS.storage.redirect),
        ...(rootDirectory === undefined ? {} : { rootDirectory }),
    };
}

/** `http(s)://host[:port]`: where the registry (and, with redirect, clients) reach the S3 API. */
function isS3Endpoint(value: string): boolean {
    return plainUrl(value, ["https:", "http:"])?.pathname === "/";
}

/** `host`, `host:port` or `[IPv6]:port`, as lego takes resolvers (port 53 when left out). */
function isNameserver(value: string): boolean {
    const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(value);
    const [host, port] = bracketed ? [bracketed[1], bracketed[2]] : isIP(value) === 6 ? [value, undefined] : value.split(/:(?=\d+$)/);
    const portOk = port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
    return portOk && (bracketed ? isIP(host) === 6 : isIpAddress(host) || isHostname(host));
}

/**
 * `passwordRotation`: a keeper per user. The password and salt resources carry it as a keeper, so
 * a new value replaces exactly that user's password and hash; a user not named keeps theirs.
 */
function parsePasswordRotation(read: Reader, users: string[]): Record<string, string> {
    const value = read.json("passwordRotation");
    if (value === undefined) return {};
    if (typeof value !== "object" || value === null || Array.isArray(value)) return (read.invalid("passwordRotation", value), {});
    const entries = Object.entries(value);
    const badKeepers = entries.filter(([, keeper]) => typeof keeper !== "string" || !/^[\x21-\x7e][\x20-\x7e]{0,63}$/.test(keeper));
    if (badKeepers.length > 0) return (read.invalid("passwordRotation", value), {});
    const strangers = entries.map(([username]) => username).filter((username) => !users.includes(username));
    if (strangers.length > 0)
        return (
            read.fail("passwordRotation", `names ${strangers.map((s) => JSON.stringify(s)).join(", ")}, not in ${read.name("users")}`),
            {}
        );
    return Object.fromEntries(entries) as Record<string, string>;
}
