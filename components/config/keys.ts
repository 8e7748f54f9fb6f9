/**
 * Every config key, declared once: its form (what errors say it must be), its default, what it is
 * for, where Pulumi.yaml stands on it, and how its raw value is read into its typed value. The
 * validator reads the keys by these declarations; Pulumi.yaml's `config:` section and the
 * README's configuration table are generated from them (`npm run docs:config`, reference.ts).
 *
 * To add a key: declare it in CONFIG_KEYS below, in the order the README shows the keys (a kind
 * from declare.ts says how it is read; an object key declares its fields and how they make its
 * typed value); give its typed value a field in types.ts (RegistrySettings for what the registry
 * itself reads, CommonSettings, or a mode's own type), where the settings carry it to the
 * component that uses it; add a rule to rules.ts if it constrains another key; test it in
 * test/unit/config.test.ts; then `npm run docs:config` regenerates Pulumi.yaml and the README.
 *
 * Pure: no `@pulumi/*` import.
 */
import { choice, custom, flag, integer, list, object, objects, port, PORT_FORM, secret, text } from "./declare";
import { DISTRIBUTION_TAG_FORM, distributionMajor } from "./distribution";
import { GC_SCHEDULE_FORM, GcTiming, parseGcSchedule } from "./gcSchedule";
import type { ArgList, Reader, Value } from "./reader";
import {
    canonicalIp,
    cidrContains,
    ipAddressProblem,
    ipInsteadOfName,
    isAcmeServer,
    isAlicloudRegion,
    isDockerHost,
    isEmail,
    isHostname,
    isHttpHeaderName,
    isHttpHeaderValue,
    isHttpsUrl,
    isIpAddress,
    isLegoDnsProvider,
    isLoginName,
    isNamePrefix,
    isNameserver,
    isPinnedImageReference,
    isRe2Pattern,
    isRepositoryGlob,
    isS3Bucket,
    isS3Endpoint,
    isS3Region,
    isS3RootDirectory,
    isSshPublicKey,
    isWebhookUrl,
    looksLikeIpAddress,
    parseIpv4Cidr,
} from "./syntax";
import type {
    AcmeServer,
    AcmeSettings,
    AlicloudSettings,
    DistributionImage,
    HostMode,
    ImageSettings,
    MirrorSettings,
    NotificationEndpoint,
    NotificationEvent,
    RetentionPolicy,
    SshConnection,
    StorageSettings,
} from "./types";
import { DEFAULT_USERS, parseUsers, USERS_FORM } from "./users";

export const CONFIG_NAMESPACE = "private-registry";

/** A key as the stack's users write it: `private-registry:httpsPort`, `private-registry:ssh.port`. */
export function keyName(key: string): string {
    return `${CONFIG_NAMESPACE}:${key}`;
}

/** Local mode without `ipAddresses`: the one name that always reaches this machine. */
export const LOCAL_MODE_HOSTNAMES: readonly string[] = ["localhost"];
/** Not a setting: the mirror's loopback port with `containerNetwork: host` (the UI has `uiPort`, the registry a socket). */
export const MIRROR_LOOPBACK_PORT = 5001;
/** A load balancer's backends; more VMs than this is a different design (an autoscaling group). */
const MAX_REPLICAS = 20;
/** Apple's limit for TLS server certificates issued after 2020-09 is 398 days; 825 is the hard limit of older clients and private CAs. */
const MAX_VALIDITY_DAYS = 825;

const OBJECT = "objects, which Pulumi.yaml cannot declare (it declares strings, integers, booleans and lists)";
const IMAGE_REFERENCE =
    "a pinned Docker image reference, NAME:TAG or NAME[:TAG]@sha256:DIGEST, e.g. registry.cn-hangzhou.aliyuncs.com/team/registry:2.8.3";

/**
 * What each container runs when `images` does not say: this release's pins on Docker Hub, by tag only (no
 * digest could be established from a machine that cannot pull; docs/mainland-china.md says how
 * to pin one).
 */
export const DEFAULT_IMAGES = {
    // Distribution 3: the newest tag the official image lists (the tests run v3.1.2, built from
    // the Go module proxy). registry:2.8.3 stays selectable; the tag tells the version.
    registry: "registry:3.1.1",
    ui: "joxit/docker-registry-ui:2.5.7",
    edge: "nginx:1.28.0-alpine",
    mirror: "registry:3.1.1",
    // regclient's alpine variant: regctl and a shell for the retention job's loop.
    retention: "regclient/regctl:v0.11.7-alpine",
} as const;

const imageField = (image: string) => text({ form: IMAGE_REFERENCE, default: image, valid: isPinnedImageReference });

const IMAGE_FIELDS = {
    registry: imageField(DEFAULT_IMAGES.registry),
    ui: imageField(DEFAULT_IMAGES.ui),
    edge: imageField(DEFAULT_IMAGES.edge),
    mirror: imageField(DEFAULT_IMAGES.mirror),
    retention: imageField(DEFAULT_IMAGES.retention),
};

/** `images` as read: the major version is undefined where the tag does not tell it (a problem names the key). */
export type ImagesValue = Omit<ImageSettings, "registry" | "mirror"> &
    Record<"registry" | "mirror", Partial<DistributionImage> & { reference: string }>;

/** The registry's and the mirror's config.yml (its path, what it may say) depend on the Distribution major version, which the tag must tell. */
function readImages(images: Reader<typeof IMAGE_FIELDS>): ImagesValue {
    const distribution = (key: "registry" | "mirror") => {
        const reference = images.read(key);
        const major = distributionMajor(reference);
        if (major === undefined)
            images.fail(
                key,
                `must be ${DISTRIBUTION_TAG_FORM}, so the stack knows which config.yml to render; got ${JSON.stringify(reference)}`,
            );
        return { reference, ...(major === undefined ? {} : { major }) };
    };
    return {
        registry: distribution("registry"),
        ui: images.read("ui"),
        edge: images.read("edge"),
        mirror: distribution("mirror"),
        retention: images.read("retention"),
    };
}

const GC_FIELDS = {
    schedule: custom({
        arg: "string",
        form: GC_SCHEDULE_FORM,
        required: true,
        read: (value): GcTiming | undefined => {
            const text = value.text();
            return text === undefined ? undefined : (parseGcSchedule(text) ?? value.invalid(text));
        },
    }),
    deleteUntagged: flag({ default: false }),
};

/** What `gc` reads before the rules: `deleteUntagged` is checked against the registry's version even when the schedule is bad. */
export type GcValue = { schedule?: GcTiming; deleteUntagged: boolean };

const RETENTION_FIELDS = {
    repositories: text({
        form: "a glob over repository names: a-z 0-9 . _ - / with * and ? within a path segment and ** for any number of segments, e.g. team/* or **",
        required: true,
        valid: isRepositoryGlob,
    }),
    keepLast: integer({ form: "an integer number of tags, 0-100000: the newest, by their image's creation time", range: [0, 100000] }),
    keepWithinDays: integer({ form: "an integer number of days, 0-36500: tags whose image was created since", range: [0, 36500] }),
    keepTags: custom({
        arg: "string",
        form: 'a Go regular expression matched against the whole tag, e.g. "v[0-9]+(\\.[0-9]+)*|latest"',
        read: (value) => value.matching(isRe2Pattern),
    }),
};

/** One `retention` entry: a policy must say what it keeps (`keepLast: 0` alone deletes every tag, explicitly). */
function readRetentionPolicy(policy: Reader<typeof RETENTION_FIELDS>): RetentionPolicy | undefined {
    const repositories = policy.read("repositories");
    const keepLast = policy.read("keepLast");
    const keepWithinDays = policy.read("keepWithinDays");
    const keepTags = policy.read("keepTags");
    const said = ["keepLast", "keepWithinDays", "keepTags"].some((field) => policy.value(field).text() !== undefined);
    if (!said)
        policy.fail(
            "repositories",
            `needs at least one of ${policy.name("keepLast")}, ${policy.name("keepWithinDays")}, ${policy.name("keepTags")}: without them every tag would be deleted (say keepLast: 0 to mean that)`,
        );
    if (repositories === undefined || !said) return undefined;
    return {
        repositories,
        ...(keepLast === undefined ? {} : { keepLast }),
        ...(keepWithinDays === undefined ? {} : { keepWithinDays }),
        ...(keepTags === undefined ? {} : { keepTags }),
    };
}

const NOTIFICATION_EVENTS: readonly NotificationEvent[] = ["push", "delete", "pull"];

const NOTIFICATION_FIELDS = {
    url: text({
        form: "an http:// or https:// URL without credentials, query or fragment (secrets go in headers), e.g. http://deployer.lan:8080/registry-events",
        required: true,
        valid: isWebhookUrl,
    }),
    headers: custom({
        arg: "secret map",
        argForm: 'an object {NAME: VALUE} of HTTP headers sent with each event, e.g. {"Authorization": "Bearer ..."}',
        form: 'an object {NAME: VALUE} of HTTP headers sent with each event, e.g. {"Authorization": "Bearer ..."}, set as a secret: pulumi config set --secret --path \'notifications[0].headers.Authorization\' ...',
        read: readHeaderNames,
    }),
    events: list({
        form: 'a list of "push", "delete", "pull"',
        default: ["push", "delete"],
        valid: (event) => (NOTIFICATION_EVENTS as readonly string[]).includes(event),
    }),
};

/** The headers' names; their values are secrets, read apart (components/config/index.ts), never copied here. */
function readHeaderNames(value: Value): string[] | undefined {
    const headers = value.json();
    if (headers === undefined) return undefined;
    const entries = typeof headers === "object" && headers !== null && !Array.isArray(headers) ? Object.entries(headers) : undefined;
    // The value is not repeated in the error: it is a secret.
    if (entries === undefined) return value.fail(`must be ${value.form}`);
    const badName = entries.find(([name]) => !isHttpHeaderName(name));
    if (badName !== undefined) return value.fail(`has ${JSON.stringify(badName[0])}, which is not an HTTP header name`);
    const badValue = entries.find(([, v]) => typeof v !== "string" || !isHttpHeaderValue(v));
    if (badValue !== undefined)
        return value.fail(
            `has a value for ${JSON.stringify(badValue[0])} that is not 1-4096 printable characters on one line (not shown: it is a secret)`,
        );
    return entries.map(([name]) => name);
}

/** One `notifications` entry; headers must be secret, so that no plain copy of them is in Pulumi.<stack>.yaml. */
function readNotification(endpoint: Reader<typeof NOTIFICATION_FIELDS>): NotificationEndpoint | undefined {
    const url = endpoint.read("url");
    const headerNames = endpoint.read("headers") ?? [];
    if (headerNames.length > 0 && !endpoint.secret)
        endpoint.fail(
            "headers",
            `must be a secret config value, not plain text in Pulumi.<stack>.yaml: pulumi config set --secret --path '${endpoint.name("headers")}.${headerNames[0]}' ...`,
        );
    const events = endpoint.read("events") as NotificationEvent[];
    if (events.length === 0) endpoint.fail("events", `must name at least one event: ${endpoint.form("events")}`);
    return url === undefined ? undefined : { url, events, headerNames };
}

const MIRROR_FIELDS = {
    upstream: text({
        form: "an https:// URL of a registry, e.g. https://registry-1.docker.io",
        default: "https://registry-1.docker.io",
        valid: isHttpsUrl,
    }),
    username: text({ form: "the upstream account's username" }),
    password: secret({ form: "the upstream account's password or token", set: "pulumi config set --secret --path mirror.password ..." }),
    hostname: text({ form: "a DNS name for the mirror, e.g. mirror.example.com (added to the certificate)", valid: isHostname }),
    httpsPort: port({ form: `${PORT_FORM}, the edge port the mirror answers on when it has no hostname`, default: 5443 }),
    k3sRewrites: custom({
        arg: "map",
        form: 'an object of Go regular expression -> replacement, e.g. {"^rancher/mirrored-(.*)": "riscv64/mirrored-$1"}',
        default: {},
        read: readRewrites,
    }),
};

function readMirror(mirror: Reader<typeof MIRROR_FIELDS>): MirrorSettings {
    const upstream = mirror.read("upstream").replace(/\/+$/, "");
    const username = mirror.read("username");
    const hasPassword = mirror.read("password");
    if (hasPassword && username === undefined)
        mirror.fail("username", `is required with ${mirror.name("password")}: ${mirror.form("username")}`);
    if (username !== undefined && !hasPassword)
        mirror.fail("password", `is required with ${mirror.name("username")}: ${mirror.form("password")}`);
    const hostname = mirror.read("hostname");
    const httpsPort = mirror.read("httpsPort");
    return { upstream, username, hasPassword, hostname, httpsPort, k3sRewrites: mirror.read("k3sRewrites") };
}

/** k3s compiles each pattern with Go's regexp (RE2): no lookaround, no backreferences. */
function readRewrites(value: Value): Record<string, string> | undefined {
    const rewrites = value.json();
    if (rewrites === undefined) return undefined;
    const entries = typeof rewrites === "object" && rewrites !== null && !Array.isArray(rewrites) ? Object.entries(rewrites) : undefined;
    const valid = entries?.every(
        ([pattern, replacement]) => typeof replacement === "string" && replacement !== "" && isRe2Pattern(pattern),
    );
    if (entries === undefined || !valid) return value.invalid(rewrites);
    return Object.fromEntries(entries) as Record<string, string>;
}

const WITH_S3 = ' with kind "s3"';

const STORAGE_FIELDS = {
    kind: choice({
        choices: ["filesystem", "s3", "oss"],
        default: "filesystem",
        form: '"filesystem" (the host\'s data volume), "s3" (an S3-compatible bucket you provide) or "oss" (alicloud mode: an OSS bucket the stack creates)',
    }),
    endpoint: custom({
        arg: "string",
        form: "the S3 API's URL, http:// or https:// with a host and optional port, no path, e.g. https://minio.example.com:9000 (leave it out for AWS itself)",
        read: (value) => value.matching(isS3Endpoint)?.replace(/\/+$/, ""),
    }),
    region: text({ form: "the bucket's region, e.g. us-east-1: 1-64 of a-z 0-9 -", required: WITH_S3, valid: isS3Region }),
    bucket: text({
        form: "an existing bucket's name: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit",
        required: WITH_S3,
        valid: isS3Bucket,
    }),
    accessKeyId: secret({ form: "the access key ID", set: "pulumi config set --secret --path storage.accessKeyId ...", required: WITH_S3 }),
    secretAccessKey: secret({
        form: "the secret access key",
        set: "pulumi config set --secret --path storage.secretAccessKey ...",
        required: WITH_S3,
    }),
    forcePathStyle: flag({
        form: "true or false: address the bucket as ENDPOINT/BUCKET rather than BUCKET.ENDPOINT (default: true with an endpoint)",
    }),
    redirect: flag({
        form: "true or false: pulls fetch blobs from the bucket itself by a presigned URL, so clients must reach the endpoint (default false)",
        default: false,
    }),
    rootDirectory: text({
        form: "a key prefix inside the bucket, e.g. /registry: a-z A-Z 0-9 . _ - and /, no ..",
        valid: isS3RootDirectory,
    }),
};
/** The fields only an S3 bucket the user provides has; the others are fixed by their kind. */
const S3_FIELDS = [
    "endpoint",
    "region",
    "bucket",
    "accessKeyId",
    "secretAccessKey",
    "forcePathStyle",
    "redirect",
    "rootDirectory",
] as const;

/**
 * `storage`: the data volume by default; an S3-compatible bucket in any mode (its secret key must
 * be a secret config value, never plain text in Pulumi.<stack>.yaml); an OSS bucket of the stack's
 * own in alicloud mode only (rules.ts).
 */
function readStorage(storage: Reader<typeof STORAGE_FIELDS>): StorageSettings {
    const kind = storage.read("kind");
    if (kind !== "s3") {
        const why =
            kind === "oss" ? "the stack creates the OSS bucket and its keys itself" : "the registry keeps blobs on the host's data volume";
        for (const field of S3_FIELDS.filter((f) => storage.value(f).text() !== undefined))
            storage.fail(field, `applies to kind "s3" only; with kind "${kind}" ${why}`);
        return { kind };
    }
    const endpoint = storage.read("endpoint");
    const region = storage.readRequired("region");
    const bucket = storage.readRequired("bucket");
    storage.readRequired("accessKeyId");
    // The value is not repeated: it would land in the error, a log, the terminal.
    if (storage.readRequired("secretAccessKey") && !storage.secret) {
        storage.fail(
            "secretAccessKey",
            `must be a secret config value, not plain text in Pulumi.<stack>.yaml: pulumi config set --secret --path storage.secretAccessKey ...`,
        );
    }
    const rootDirectory = storage.read("rootDirectory");
    return {
        kind,
        ...(endpoint === undefined ? {} : { endpoint }),
        region: region ?? "",
        bucket: bucket ?? "",
        forcePathStyle: storage.read("forcePathStyle") ?? endpoint !== undefined,
        redirect: storage.read("redirect"),
        ...(rootDirectory === undefined ? {} : { rootDirectory }),
    };
}

const SSH_FIELDS = {
    host: text({ form: "a DNS name or IP address of the server", required: true, valid: (host) => isHostname(host) || isIpAddress(host) }),
    port: port({ default: 22 }),
    user: text({ form: "a login name: 1-32 of a-z A-Z 0-9 . _ -, not starting with - or .", default: "root", valid: isLoginName }),
    hostKey: custom({
        arg: "string",
        form: 'a public key such as "ssh-ed25519 AAAA..." (what ssh-keyscan -t ed25519 HOST prints after the host name)',
        read: (value) => {
            const key = value.text()?.trim();
            return key === undefined || isSshPublicKey(key) ? key : value.invalid(key);
        },
    }),
};

function readSsh(ssh: Reader<typeof SSH_FIELDS>): SshConnection | undefined {
    const host = ssh.read("host");
    const port = ssh.read("port");
    const user = ssh.read("user");
    const hostKey = ssh.read("hostKey");
    return host === undefined ? undefined : { host, port, user, ...(hostKey === undefined ? {} : { hostKey }) };
}

const isIpv4Cidr = (cidr: string) => parseIpv4Cidr(cidr) !== undefined;

const ALICLOUD_FIELDS = {
    region: text({ form: 'an Alibaba Cloud region ID, e.g. "cn-hongkong" or "ap-southeast-1"', required: true, valid: isAlicloudRegion }),
    dnsZone: custom({
        arg: "string",
        form: "the Alidns domain the registry names live under, e.g. example.com",
        required: true,
        read: (value) => {
            const zone = value.text();
            if (zone !== undefined && !isHostname(zone)) value.fail(`must be a DNS name; got ${JSON.stringify(zone)}`);
            return zone;
        },
    }),
    adminCidr: text({
        form: "an IPv4 CIDR such as 203.0.113.7/32, the network allowed to reach SSH (no open default; the security group rule takes IPv4 only)",
        required: true,
        valid: isIpv4Cidr,
    }),
    instanceType: text({ form: "an ECS instance type, e.g. ecs.g7.large" }),
    imageId: text({ form: "an ECS image ID" }),
    zoneId: text({ form: 'a zone ID of the region, e.g. "cn-hongkong-b"' }),
    dataDiskGiB: integer({ form: "an integer size in GiB, 20-32768", range: [20, 32768], default: 100 }),
    snapshotRetentionDays: integer({
        form: "an integer number of days, 0-65536 (0: no automatic snapshots)",
        range: [0, 65536],
        default: 7,
    }),
    vpcCidr: text({ form: "an IPv4 CIDR such as 172.31.0.0/16", default: "172.31.0.0/16", valid: isIpv4Cidr }),
    vswitchCidr: text({ form: "an IPv4 CIDR inside vpcCidr, such as 172.31.1.0/24", default: "172.31.1.0/24", valid: isIpv4Cidr }),
};

function readAlicloud(ali: Reader<typeof ALICLOUD_FIELDS>): AlicloudSettings {
    const region = ali.read("region");
    const dnsZone = ali.read("dnsZone");
    const adminCidr = ali.read("adminCidr");
    if (adminCidr !== undefined && parseIpv4Cidr(adminCidr)?.prefix === 0)
        ali.fail("adminCidr", `must not open SSH to the whole internet (prefix length 0); got ${JSON.stringify(adminCidr)}`);
    const vpcCidr = ali.read("vpcCidr");
    const vswitchCidr = ali.read("vswitchCidr");
    const [vpcRange, vswitchRange] = [parseIpv4Cidr(vpcCidr), parseIpv4Cidr(vswitchCidr)];
    if (vpcRange && vswitchRange && !cidrContains(vpcRange, vswitchRange)) {
        ali.fail("vswitchCidr", `must lie inside ${ali.name("vpcCidr")} ${JSON.stringify(vpcCidr)}; got ${JSON.stringify(vswitchCidr)}`);
    }
    return {
        region: region ?? "",
        dnsZone: dnsZone ?? "",
        adminCidr: adminCidr ?? "",
        instanceType: ali.read("instanceType"),
        imageId: ali.read("imageId"),
        zoneId: ali.read("zoneId"),
        dataDiskGiB: ali.read("dataDiskGiB"),
        snapshotRetentionDays: ali.read("snapshotRetentionDays"),
        vpcCidr,
        vswitchCidr,
    };
}

const ACME_FIELDS = {
    email: text({ form: "an email address, the ACME account's contact, e.g. ops@example.com", required: true, valid: isEmail }),
    server: custom<AcmeServer>({
        arg: "string",
        form: '"staging", "production" or an ACME directory URL starting with https://',
        default: "staging",
        read: (value) => value.matching(isAcmeServer) as AcmeServer | undefined,
    }),
    dnsProvider: text({
        form: 'a lego DNS provider name such as "alidns", "tencentcloud", "cloudflare", "route53" or "exec" (not "manual": nobody is there to type)',
        default: "alidns",
        valid: isLegoDnsProvider,
    }),
    recursiveNameservers: list({ form: "a list of resolvers, host or host:port, e.g. [1.1.1.1:53]", default: [], valid: isNameserver }),
    disableCompletePropagation: flag({ default: false }),
};

function readAcme(acme: Reader<typeof ACME_FIELDS>): AcmeSettings | undefined {
    // A bad email is reported, and the stack still asks for ACME: the rules for it apply too.
    const email = acme.read("email") ?? acme.value("email").text();
    const server = acme.read("server");
    const dnsProvider = acme.read("dnsProvider");
    const recursiveNameservers = acme.read("recursiveNameservers");
    const disableCompletePropagation = acme.read("disableCompletePropagation");
    return email === undefined ? undefined : { email, server, dnsProvider, recursiveNameservers, disableCompletePropagation };
}

/**
 * `users` as a component's arg: a list of {name, role} objects (a bare name, which the stack's
 * config takes too, would make each entry a union, which Pulumi's component schemas cannot say).
 */
const USERS_ARG: ArgList = {
    items: "User",
    fields: {
        name: { type: "string", required: true, doc: "1-64 of a-z A-Z 0-9 . _ -, starting with a letter or digit" },
        role: { type: "string", required: true, doc: "`push` (pull and push) or `pull` (pull only)" },
    },
};

/** `passwordRotation` as written; that each user it names exists is checked against `users` (rules.ts). */
function readPasswordRotation(value: Value): Record<string, string> | undefined {
    const rotation = value.json();
    if (rotation === undefined) return undefined;
    if (typeof rotation !== "object" || rotation === null || Array.isArray(rotation)) return value.invalid(rotation);
    const entries = Object.entries(rotation);
    const badKeepers = entries.filter(([, keeper]) => typeof keeper !== "string" || !/^[\x21-\x7e][\x20-\x7e]{0,63}$/.test(keeper));
    if (badKeepers.length > 0) return value.invalid(rotation);
    return Object.fromEntries(entries) as Record<string, string>;
}

/** Every top-level key the stack reads, in the order the README shows them. */
export const CONFIG_KEYS = {
    mode: choice<HostMode>({
        choices: ["local", "ssh", "alicloud"],
        default: "local",
        description:
            "where the registry runs: `local` (the Docker daemon `dockerHost` names, by default the one on the machine that runs `pulumi up`), `ssh` (your server), `alicloud` (a new ECS VM)",
    }),
    hostnames: list({
        form: "a list of DNS names, e.g. [registry.example.com]",
        default: [],
        shownDefault: "`[localhost]` in local mode without `ipAddresses`",
        description:
            "DNS names clients use, lowercase; the first names the endpoint. An IP address or an all-numeric name (`123`) is refused: it goes in `ipAddresses`",
        valid: isHostname,
        explain: ipInsteadOfName,
    }),
    ipAddresses: list({
        form: "a list of IPv4/IPv6 addresses, e.g. [192.168.1.10]",
        default: [],
        description:
            "IPs in the certificate, e.g. a LAN IP boards pull from; IPv4 without leading zeros (`10.0.0.1`, not `010.0.0.1`: Go's parser, which the tls provider uses, rejects it)",
        valid: isIpAddress,
        explain: ipAddressProblem,
        same: canonicalIp,
    }),
    uiHostname: custom({
        arg: "string",
        form: "a DNS name of its own, e.g. registry-ui.example.com",
        type: "string",
        description:
            "serve the UI on its own DNS name (the registry then sends CORS headers for it); it must differ from every registry name, including the `localhost` local mode implies",
        read: (value) => {
            const name = value.text();
            if (name === undefined) return undefined;
            if (looksLikeIpAddress(name))
                return value.fail(`${JSON.stringify(name)} is an IP address, not a DNS name: the UI needs a DNS name of its own`);
            if (isHostname(name)) return name;
            const why = ipInsteadOfName(name);
            return why === undefined ? value.invalid(name) : value.fail(`${JSON.stringify(name)} ${why}`);
        },
    }),
    httpsPort: port({ default: 443, description: "the edge's public HTTPS port" }),
    httpPort: port({ default: 80, description: "the edge's public HTTP port; it only redirects to HTTPS" }),
    users: custom({
        form: USERS_FORM,
        arg: USERS_ARG,
        default: DEFAULT_USERS,
        undeclared: "names and {name, role} objects, which a declared list type cannot say",
        description:
            "who may log in, each with a random password; builders get the first push user, nodes the first pull user ([docs/roles.md](docs/roles.md))",
        read: (value) => {
            const { users, problems } = parseUsers(value.json(), value.name);
            value.report(problems);
            return users;
        },
    }),
    passwordRotation: custom({
        arg: "map",
        form: 'an object {USERNAME: KEEPER}, each USERNAME one of users, each KEEPER 1-64 printable characters, e.g. {"admin": "2026-11-29"}',
        default: {},
        undeclared: OBJECT,
        description:
            "per user a keeper: a new value gives that user a new password, nobody else ([docs/operations.md](docs/operations.md))",
        read: readPasswordRotation,
    }),
    deleteEnabled: flag({ default: false, description: "allow deleting images (API and UI)" }),
    retainDataOnDestroy: flag({
        default: true,
        description:
            "keep the registry's data (the data volume, all images) on `pulumi destroy`; in alicloud mode the data disk or bucket is also protected",
    }),
    containerNetwork: choice({
        choices: ["bridge", "host"],
        default: "bridge",
        description:
            "`bridge`: a private network, only the edge publishes ports; `host`: for daemons without a bridge, the UI on a loopback port. Either way the registry's API listens only on a Unix socket that the edge alone mounts ([docs/roles.md](docs/roles.md))",
    }),
    uiPort: port({ default: 5080, description: "the UI's loopback port with `containerNetwork: host`" }),
    metricsPort: port({
        default: 5002,
        description:
            "the registry's Prometheus `/metrics`: on loopback with `containerNetwork: host`, on the container's unpublished address in bridge networking; never through the edge ([docs/operations.md](docs/operations.md))",
    }),
    listenIpv6: flag({
        default: false,
        description:
            "with `containerNetwork: host`, the edge also listens on IPv6 (`[::]`); always on when an `ipAddresses` entry is IPv6. Off by default: nginx does not start on a host whose kernel has IPv6 off (in a bridge network Docker publishes the ports itself)",
    }),
    namePrefix: text({
        form: "2-40 of a-z 0-9 -, starting with a letter (ECS names need 2)",
        default: "private-registry",
        description: "prefix of every Docker container, volume and network name (and cloud resource), so two stacks can share a daemon",
        valid: isNamePrefix,
    }),
    certificateValidityDays: integer({
        form: "an integer number of days, 1-825 (Apple clients refuse TLS server certificates valid longer)",
        range: [1, MAX_VALIDITY_DAYS],
        default: 365,
        description: "the self-signed server certificate's lifetime (Let's Encrypt sets its own)",
    }),
    certificateRenewBeforeDays: integer({
        form: "an integer number of days, smaller than certificateValidityDays",
        range: [0, 3650],
        default: 30,
        description:
            "the server certificate is re-issued on the first `pulumi up` this many days before it expires (the CA stays, so clients notice nothing); with `acme` 7-30",
    }),
    dockerHost: text({
        form: "a Docker host URL, unix:// tcp:// ssh:// or npipe://, e.g. unix:///var/run/docker.sock or ssh://user@host",
        shownDefault: "`DOCKER_HOST`",
        description: "local mode only: the Docker daemon to deploy to; unset, `DOCKER_HOST` or else the default socket",
        valid: isDockerHost,
    }),
    images: object({
        form: "an object {registry?, ui?, edge?, mirror?, retention?}, each a pinned image reference",
        fields: IMAGE_FIELDS,
        default: {},
        undeclared: OBJECT,
        description:
            "what each container runs, e.g. copies in Alibaba Cloud Container Registry ([docs/mainland-china.md](docs/mainland-china.md)); the `registry` and `mirror` tags must start with the Distribution version (`3…`, or `2.8…` to stay on 2.8; `NAME:TAG@sha256:…` for a digest pin), which decides the config rendered ([docs/operations.md](docs/operations.md))",
        read: readImages,
    }),
    gc: object({
        form: "an object {schedule, deleteUntagged?}",
        fields: GC_FIELDS,
        undeclared: OBJECT,
        description:
            "the registry collects its garbage on `schedule` (a 5-field cron expression in UTC, `@hourly`, `@daily`, `@weekly`, or `@every 12h`), read-only meanwhile; `deleteUntagged` also drops manifests no tag names, Distribution 3 only ([docs/operations.md](docs/operations.md))",
        read: (gc): GcValue => {
            const schedule = gc.read("schedule");
            return { ...(schedule === undefined ? {} : { schedule }), deleteUntagged: gc.read("deleteUntagged") };
        },
    }),
    retention: objects({
        form: "a list of {repositories, keepLast?, keepWithinDays?, keepTags?}",
        fields: RETENTION_FIELDS,
        undeclared: OBJECT,
        description:
            "tags to delete right before each garbage collection (needs `gc` and `deleteEnabled`): in the repositories `repositories` matches (the first policy that matches applies), a tag stays if it is among the `keepLast` newest, its image is younger than `keepWithinDays`, or `keepTags` matches it; the rest, with their signatures, go ([docs/operations.md](docs/operations.md#retention-keep-the-newest-tags-gc-and-retention))",
        read: readRetentionPolicy,
    }),
    notifications: objects({
        form: 'a list of {url, headers? (--secret), events?: ["push", "delete", "pull"]}',
        fields: NOTIFICATION_FIELDS,
        undeclared: OBJECT,
        description:
            "webhooks the registry POSTs its events to (Distribution's `notifications`), one per entry: pushes and deletes of images by default, pulls when asked; best effort, a missed event is not sent again ([docs/webhooks.md](docs/webhooks.md))",
        read: readNotification,
    }),
    hostRegistryMirrors: list({
        form: "a list of https:// URLs of registry mirrors, e.g. [https://xxxx.mirror.aliyuncs.com]",
        default: [],
        description:
            "ssh and alicloud modes: `registry-mirrors` merged into the host daemon's `daemon.json` before the first pull (e.g. an Alibaba Cloud accelerator URL)",
        valid: isHttpsUrl,
    }),
    mirror: object({
        form: "an object {upstream?, username?, password? (--secret), hostname?, httpsPort?, k3sRewrites?}",
        fields: MIRROR_FIELDS,
        undeclared: OBJECT,
        description: "a pull-through mirror behind the same edge ([docs/mirror.md](docs/mirror.md))",
        read: readMirror,
    }),
    storage: object({
        form: 'an object {kind: "filesystem" | "s3" | "oss", ...}; s3 takes {endpoint?, region, bucket, accessKeyId, secretAccessKey (--secret), forcePathStyle?, redirect?, rootDirectory?}',
        fields: STORAGE_FIELDS,
        default: { kind: "filesystem" },
        undeclared: OBJECT,
        description:
            "where blobs live: the data volume, an S3-compatible bucket you provide (`kind: s3`; its keys set with `--secret --path`; `forcePathStyle` defaults to true with an `endpoint`), or in alicloud mode a bucket the stack creates (`kind: oss`); replicas share a bucket ([docs/scale.md](docs/scale.md))",
        read: readStorage,
    }),
    ssh: object({
        form: "an object {host, port?, user?, hostKey?}",
        fields: SSH_FIELDS,
        required: true,
        readIn: ["ssh"],
        undeclared: OBJECT,
        description: "ssh mode: the server to deploy to, reached as `user` (a login name, never starting with `-`)",
        read: readSsh,
    }),
    sshPrivateKey: secret({
        form: "an OpenSSH or PEM private key",
        set: "set with --secret",
        undeclared: "a secret, needed in ssh mode only (a declared key needs a default)",
        description: "ssh mode: the key `ssh.user` logs in with (`pulumi config set --secret sshPrivateKey < KEYFILE`)",
    }),
    alicloud: object({
        form: "an object {region, dnsZone, adminCidr, instanceType?, imageId?, zoneId?, dataDiskGiB?, snapshotRetentionDays?, vpcCidr?, vswitchCidr?}",
        fields: ALICLOUD_FIELDS,
        required: true,
        readIn: ["alicloud"],
        undeclared: OBJECT,
        description:
            "alicloud mode: `region` an ID such as `cn-hongkong`; `adminCidr` the IPv4 network SSH is open to (not `/0`); `snapshotRetentionDays` keeps the data disk's daily snapshots, 0 for none ([docs/operations.md](docs/operations.md)); `vswitchCidr` inside `vpcCidr`",
        read: readAlicloud,
    }),
    replicas: integer({
        form: "an integer 1-20, alicloud mode only (VMs behind a load balancer, sharing object storage)",
        range: [1, MAX_REPLICAS],
        default: 1,
        description:
            "alicloud mode: VMs running the registry and edge, all alike; more than 1 stand behind an Alibaba Cloud load balancer (TCP passthrough, TLS at each edge) and need `storage.kind` `oss` or `s3` ([docs/scale.md](docs/scale.md))",
    }),
    acme: object({
        form: 'an object {email, server?: "staging" | "production" | an https:// ACME directory URL, dnsProvider?, recursiveNameservers?, disableCompletePropagation?}',
        fields: ACME_FIELDS,
        undeclared: OBJECT,
        description:
            "a certificate by ACME DNS-01 instead of the private CA, in any mode (required in alicloud mode): `server` `staging`, `production` or a directory URL; `dnsProvider` any lego DNS provider (`tencentcloud` for DNSPod, `cloudflare`, `route53`, `rfc2136`, `exec`, …), its credentials from the environment under lego's names",
        read: readAcme,
    }),
};

/** Keys earlier versions read, and why they are gone: a stack that sets one learns what changed. */
export const REMOVED_KEYS: Record<string, string> = {
    registryPort:
        "is no longer used: the registry has no TCP port, only a Unix socket the edge alone reaches (docs/roles.md); remove the key",
};
