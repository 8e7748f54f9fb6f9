/**
 * Stack configuration: read once, validated once, defaults applied.
 *
 * Pure: takes the raw strings Pulumi hands us (`key -> string`, arrays and objects as JSON text)
 * and returns a typed `StackConfig`, or throws a `ConfigError` listing every bad key with the
 * form it expects. Kept free of `@pulumi/*` imports so the tests can call it directly.
 */

export const CONFIG_NAMESPACE = "private-registry";

export type HostMode = "local" | "ssh" | "alicloud";
export type ContainerNetwork = "bridge" | "host";
export type AcmeServer = "staging" | "production";

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
    instanceType: string;
    /** An image ID; unset looks up the newest Debian 12 image. */
    imageId?: string;
    /** Empty means: the first zone that offers the instance type. */
    zoneId?: string;
    dataDiskGiB: number;
    vpcCidr: string;
    vswitchCidr: string;
}

export interface AcmeSettings {
    email: string;
    server: AcmeServer;
}

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
    users: string[];
    deleteEnabled: boolean;
    retainDataOnDestroy: boolean;
    containerNetwork: ContainerNetwork;
    /** Host networking only: loopback ports the registry and the UI listen on, behind the edge. */
    registryPort: number;
    uiPort: number;
    /** Prefix of every Docker object name, so two stacks can share one daemon. */
    namePrefix: string;
    certificateValidityDays: number;
    certificateRenewBeforeDays: number;
    /** Local mode: the Docker daemon to deploy to; unset uses DOCKER_HOST or the default socket. */
    dockerHost?: string;
    ssh?: SshConnection;
    alicloud?: AlicloudSettings;
    /** Set: certificates come from Let's Encrypt (DNS-01 on Alidns) instead of the private CA. */
    acme?: AcmeSettings;
}

/** Every key this project reads, with the form it expects (used in errors and for typo hints). */
export const CONFIG_KEYS: Record<string, string> = {
    mode: 'one of "local", "ssh", "alicloud"',
    hostnames: "a list of DNS names, e.g. [registry.example.com]",
    ipAddresses: "a list of IPv4/IPv6 addresses, e.g. [192.168.1.10]",
    uiHostname: "a DNS name, e.g. registry-ui.example.com",
    httpsPort: "an integer port 1-65535",
    httpPort: "an integer port 1-65535",
    users: "a list of usernames: 1-64 of a-z A-Z 0-9 . _ -, starting with a letter or digit",
    deleteEnabled: "true or false",
    retainDataOnDestroy: "true or false",
    containerNetwork: 'one of "bridge", "host"',
    registryPort: "an integer port 1-65535",
    uiPort: "an integer port 1-65535",
    namePrefix: "1-40 of a-z 0-9 -, starting with a letter",
    certificateValidityDays: "an integer number of days, 1-3650",
    certificateRenewBeforeDays: "an integer number of days, smaller than certificateValidityDays",
    dockerHost: "a Docker host URL, e.g. unix:///var/run/docker.sock or ssh://user@host",
    ssh: "an object {host, port?, user?, hostKey?}",
    sshPrivateKey: "an OpenSSH or PEM private key (set with --secret)",
    alicloud: "an object {region, dnsZone, adminCidr, instanceType?, imageId?, zoneId?, dataDiskGiB?, vpcCidr?, vswitchCidr?}",
    acme: 'an object {email, server?: "staging" | "production"}',
};

export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

const HOSTNAME = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/;
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NAME_PREFIX = /^[a-z][a-z0-9-]{0,39}$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const SSH_PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( \S.*)?$/;
/** Let's Encrypt certificates live 90 days, falling to 45: more than 30 would soon renew on every run (and hit rate limits), fewer than 7 can miss a weekly renewal job. */
const ACME_RENEW_BEFORE_DAYS = { min: 7, max: 30 };

/** Collects problems instead of stopping at the first, so one preview shows every bad key. */
class Reader {
    readonly problems: string[] = [];

    constructor(private readonly raw: Record<string, string | undefined>, private readonly prefix: string) {}

    private fail(key: string, got: unknown): undefined {
        this.problems.push(`${this.prefix}${key} must be ${CONFIG_KEYS[key] ?? "valid"}; got ${JSON.stringify(got)}`);
        return undefined;
    }

    has(key: string): boolean {
        return this.raw[key] !== undefined && this.raw[key] !== "";
    }

    string(key: string): string | undefined {
        return this.has(key) ? this.raw[key] : undefined;
    }

    choice<T extends string>(key: string, choices: readonly T[], fallback: T): T {
        const value = this.string(key) ?? fallback;
        return (choices as readonly string[]).includes(value) ? (value as T) : (this.fail(key, value), fallback);
    }

    integer(key: string, fallback: number, min: number, max: number): number {
        const text = this.string(key);
        if (text === undefined) return fallback;
        const value = Number(text);
        return /^\d+$/.test(text.trim()) && value >= min && value <= max ? value : (this.fail(key, text), fallback);
    }

    port(key: string, fallback: number): number {
        return this.integer(key, fallback, 1, 65535);
    }

    boolean(key: string, fallback: boolean): boolean {
        const text = this.string(key);
        if (text === undefined) return fallback;
        if (text === "true" || text === "false") return text === "true";
        this.fail(key, text);
        return fallback;
    }

    /** A list of strings, each checked with `valid`. Pulumi stores YAML lists as JSON text. */
    list(key: string, fallback: string[], valid: (item: string) => boolean): string[] {
        const value = this.json(key);
        if (value === undefined) return fallback;
        if (!Array.isArray(value) || !value.every((item) => typeof item === "string" && valid(item))) {
            this.fail(key, value);
            return fallback;
        }
        return value as string[];
    }

    /** An object whose own keys are then read by a nested Reader (errors name `key.field`). */
    object(key: string): Reader | undefined {
        const value = this.json(key);
        if (value === undefined) return undefined;
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
            this.fail(key, value);
            return undefined;
        }
        const fields = Object.fromEntries(
            Object.entries(value).map(([k, v]) => [k, v === null || v === undefined ? undefined : String(v)]),
        );
        return new Reader(fields, `${this.prefix}${key}.`);
    }

    require(key: string, form: string): string | undefined {
        const value = this.string(key);
        if (value === undefined) this.problems.push(`${this.prefix}${key} is required: ${form}`);
        return value;
    }

    check(ok: boolean, message: string): void {
        if (!ok) this.problems.push(message);
    }

    private json(key: string): unknown {
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

export function isHostname(value: string): boolean {
    return HOSTNAME.test(value);
}

export function isIpAddress(value: string): boolean {
    return isIPv4(value) || isIPv6(value);
}

function isIPv4(value: string): boolean {
    const parts = value.split(".");
    return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isIPv6(value: string): boolean {
    if (!/^[0-9a-fA-F:.]+$/.test(value) || !value.includes(":")) return false;
    const halves = value.split("::");
    if (halves.length > 2) return false;
    const groups = halves.flatMap((half) => (half === "" ? [] : half.split(":")));
    const last = groups[groups.length - 1];
    const embeddedV4 = last !== undefined && last.includes(".");
    if (embeddedV4 && !isIPv4(last)) return false;
    const hexGroups = embeddedV4 ? groups.slice(0, -1) : groups;
    if (!hexGroups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
    const width = hexGroups.length + (embeddedV4 ? 2 : 0);
    return halves.length === 2 ? width < 8 : width === 8;
}

export function isCidr(value: string): boolean {
    const [address, bits, ...rest] = value.split("/");
    if (rest.length > 0 || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
    if (isIPv4(address)) return Number(bits) <= 32;
    return isIPv6(address) && Number(bits) <= 128;
}

/** `keys` are the config keys present in our namespace, to catch typos such as `hostname`. */
export function parseStackConfig(raw: Record<string, string | undefined>, keys: string[] = Object.keys(raw)): StackConfig {
    const read = new Reader(raw, `${CONFIG_NAMESPACE}:`);
    for (const key of keys.filter((k) => !(k in CONFIG_KEYS))) {
        const near = Object.keys(CONFIG_KEYS).find((k) => k.toLowerCase().startsWith(key.toLowerCase().slice(0, 4)));
        read.check(false, `${CONFIG_NAMESPACE}:${key} is not a known key${near ? ` (did you mean ${near}?)` : ""}`);
    }

    const mode = read.choice<HostMode>("mode", ["local", "ssh", "alicloud"], "local");
    const ipAddresses = read.list("ipAddresses", [], isIpAddress);
    // Only a registry on this machine may go without a name: "localhost" reaches it. An empty
    // list counts as unset: it is the default Pulumi.yaml declares.
    const defaultNames = mode === "local" && ipAddresses.length === 0 ? ["localhost"] : [];
    const listedNames = read.list("hostnames", [], isHostname);
    const hostnames = listedNames.length > 0 ? listedNames : defaultNames;
    read.check(
        hostnames.length + ipAddresses.length > 0,
        `${CONFIG_NAMESPACE}:hostnames or ${CONFIG_NAMESPACE}:ipAddresses must name at least one address clients use`,
    );
    const uiHostname = read.string("uiHostname");
    if (uiHostname !== undefined && !isHostname(uiHostname)) read.check(false, `${CONFIG_NAMESPACE}:uiHostname must be ${CONFIG_KEYS.uiHostname}; got ${JSON.stringify(uiHostname)}`);

    const containerNetwork = read.choice<ContainerNetwork>("containerNetwork", ["bridge", "host"], "bridge");
    const httpsPort = read.port("httpsPort", 443);
    const httpPort = read.port("httpPort", 80);
    const registryPort = read.port("registryPort", 5000);
    const uiPort = read.port("uiPort", 5080);
    if (containerNetwork === "host") {
        const ports = { httpsPort, httpPort, registryPort, uiPort };
        const taken = Object.entries(ports).filter(([, p], i, all) => all.findIndex(([, q]) => q === p) !== i);
        for (const [key, port] of taken) read.check(false, `${CONFIG_NAMESPACE}:${key} (${port}) collides with another port; with containerNetwork "host" all four ports must differ`);
    } else {
        read.check(httpsPort !== httpPort, `${CONFIG_NAMESPACE}:httpsPort and ${CONFIG_NAMESPACE}:httpPort must differ; both are ${httpsPort}`);
    }

    const users = read.list("users", ["admin"], (u) => USERNAME.test(u));
    read.check(users.length > 0, `${CONFIG_NAMESPACE}:users must name at least one user`);
    read.check(new Set(users).size === users.length, `${CONFIG_NAMESPACE}:users must not repeat a name; got ${JSON.stringify(users)}`);

    const validityDays = read.integer("certificateValidityDays", 365, 1, 3650);
    const renewBeforeDays = read.integer("certificateRenewBeforeDays", 30, 0, 3650);
    read.check(
        renewBeforeDays < validityDays,
        `${CONFIG_NAMESPACE}:certificateRenewBeforeDays must be ${CONFIG_KEYS.certificateRenewBeforeDays}; got ${renewBeforeDays} with validity ${validityDays}`,
    );

    const namePrefix = read.string("namePrefix") ?? "private-registry";
    if (!NAME_PREFIX.test(namePrefix)) read.check(false, `${CONFIG_NAMESPACE}:namePrefix must be ${CONFIG_KEYS.namePrefix}; got ${JSON.stringify(namePrefix)}`);

    const config: StackConfig = {
        mode,
        hostnames,
        ipAddresses,
        uiHostname,
        httpsPort,
        httpPort,
        users,
        deleteEnabled: read.boolean("deleteEnabled", false),
        retainDataOnDestroy: read.boolean("retainDataOnDestroy", true),
        containerNetwork,
        registryPort,
        uiPort,
        namePrefix,
        certificateValidityDays: validityDays,
        certificateRenewBeforeDays: renewBeforeDays,
        dockerHost: read.string("dockerHost"),
        ssh: mode === "ssh" ? readSsh(read) : undefined,
        alicloud: mode === "alicloud" ? readAlicloud(read, hostnames, uiHostname) : undefined,
        acme: readAcme(read, mode),
    };
    if (config.acme) {
        read.check(ipAddresses.length === 0, `${CONFIG_NAMESPACE}:ipAddresses must be empty with acme: Let's Encrypt does not certify IP addresses`);
        read.check(hostnames.length > 0, `${CONFIG_NAMESPACE}:hostnames is required with acme: ${CONFIG_KEYS.hostnames}`);
        const { min, max } = ACME_RENEW_BEFORE_DAYS;
        read.check(
            renewBeforeDays >= min && renewBeforeDays <= max,
            `${CONFIG_NAMESPACE}:certificateRenewBeforeDays must be ${min}-${max} with acme (Let's Encrypt certificates live 90 days, soon 45; renewal runs on pulumi up); got ${renewBeforeDays}`,
        );
    }
    if (read.problems.length > 0) throw new ConfigError(read.problems);
    return config;
}

function readSsh(read: Reader): SshConnection | undefined {
    const ssh = read.object("ssh");
    if (ssh === undefined) {
        read.require("ssh", CONFIG_KEYS.ssh);
        return undefined;
    }
    const host = ssh.require("host", "a DNS name or IP address of the server");
    if (host !== undefined) ssh.check(isHostname(host) || isIpAddress(host), `${CONFIG_NAMESPACE}:ssh.host must be a DNS name or IP address; got ${JSON.stringify(host)}`);
    const port = ssh.port("port", 22);
    const user = ssh.string("user") ?? "root";
    const hostKey = ssh.string("hostKey")?.trim();
    if (hostKey !== undefined) {
        ssh.check(SSH_PUBLIC_KEY.test(hostKey), `${CONFIG_NAMESPACE}:ssh.hostKey must be a public key such as "ssh-ed25519 AAAA..." (what ssh-keyscan -t ed25519 HOST prints after the host name); got ${JSON.stringify(hostKey)}`);
    }
    read.problems.push(...ssh.problems);
    return host === undefined ? undefined : { host, port, user, ...(hostKey === undefined ? {} : { hostKey }) };
}

function readAlicloud(read: Reader, hostnames: string[], uiHostname: string | undefined): AlicloudSettings | undefined {
    const ali = read.object("alicloud");
    if (ali === undefined) {
        read.require("alicloud", CONFIG_KEYS.alicloud);
        return undefined;
    }
    const field = `${CONFIG_NAMESPACE}:alicloud.`;
    const region = ali.require("region", 'an Alibaba Cloud region ID, e.g. "cn-hongkong"');
    const dnsZone = ali.require("dnsZone", "the Alidns domain the registry names live under, e.g. example.com");
    const adminCidr = ali.require("adminCidr", "the CIDR allowed to reach SSH, e.g. 203.0.113.7/32 (no open default)");
    if (adminCidr !== undefined) {
        ali.check(isCidr(adminCidr), `${field}adminCidr must be a CIDR such as 203.0.113.7/32; got ${JSON.stringify(adminCidr)}`);
        ali.check(!/\/0$/.test(adminCidr), `${field}adminCidr must not open SSH to the whole internet; got ${JSON.stringify(adminCidr)}`);
    }
    if (dnsZone !== undefined) {
        ali.check(isHostname(dnsZone), `${field}dnsZone must be a DNS name; got ${JSON.stringify(dnsZone)}`);
        for (const name of [...hostnames, ...(uiHostname ? [uiHostname] : [])]) {
            ali.check(
                name === dnsZone || name.endsWith(`.${dnsZone}`),
                `${CONFIG_NAMESPACE}:hostnames entry ${JSON.stringify(name)} is not under ${field}dnsZone ${JSON.stringify(dnsZone)}`,
            );
        }
    }
    const vpcCidr = ali.string("vpcCidr") ?? "172.31.0.0/16";
    const vswitchCidr = ali.string("vswitchCidr") ?? "172.31.1.0/24";
    for (const [key, value] of [["vpcCidr", vpcCidr], ["vswitchCidr", vswitchCidr]]) {
        ali.check(isCidr(value), `${field}${key} must be a CIDR such as 172.31.0.0/16; got ${JSON.stringify(value)}`);
    }
    const settings = {
        region: region ?? "",
        dnsZone: dnsZone ?? "",
        adminCidr: adminCidr ?? "",
        instanceType: ali.string("instanceType") ?? "ecs.t6-c1m2.large",
        imageId: ali.string("imageId"),
        zoneId: ali.string("zoneId"),
        dataDiskGiB: ali.integer("dataDiskGiB", 100, 20, 32768),
        vpcCidr,
        vswitchCidr,
    };
    read.problems.push(...ali.problems);
    read.check(hostnames.length > 0, `${CONFIG_NAMESPACE}:hostnames is required in alicloud mode: ${CONFIG_KEYS.hostnames}`);
    return settings;
}

function readAcme(read: Reader, mode: HostMode): AcmeSettings | undefined {
    const acme = read.object("acme");
    if (acme === undefined) {
        if (mode === "alicloud") read.require("acme", `${CONFIG_KEYS.acme}; alicloud mode uses Let's Encrypt`);
        return undefined;
    }
    const email = acme.require("email", "the ACME account email, e.g. ops@example.com");
    if (email !== undefined) acme.check(EMAIL.test(email), `${CONFIG_NAMESPACE}:acme.email must be an email address; got ${JSON.stringify(email)}`);
    const server = acme.string("server") ?? "staging";
    acme.check(server === "staging" || server === "production", `${CONFIG_NAMESPACE}:acme.server must be "staging" or "production"; got ${JSON.stringify(server)}`);
    read.check(mode !== "local", `${CONFIG_NAMESPACE}:acme needs a public host (mode "ssh" or "alicloud"); local mode uses the private CA`);
    read.problems.push(...acme.problems);
    return email === undefined ? undefined : { email, server: server as AcmeServer };
}
