/**
 * The typed settings the validator hands the program: every value checked, every default
 * applied. Types only.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { DistributionMajor } from "./distribution";
import type { GcTiming } from "./gcSchedule";
import type { RegistryUser } from "./users";

export type HostMode = "local" | "ssh" | "alicloud";
export type ContainerNetwork = "bridge" | "host";

export interface SshConnection {
    /** The server's DNS name or IP address. */
    host: string;
    /** Its SSH port. */
    port: number;
    /** The login user; other than root, it needs passwordless sudo to install Docker. */
    user: string;
    /** The server's host key (`ssh-ed25519 AAAA...`); unset: the first key seen is pinned. */
    hostKey?: string;
}

export interface AlicloudSettings {
    /** Alibaba Cloud region ID, e.g. `cn-hongkong`. */
    region: string;
    /** The Alidns zone the registry names live under, e.g. `example.com`. */
    dnsZone: string;
    /** The only CIDR allowed to reach SSH, e.g. `203.0.113.7/32` (no open default). */
    adminCidr: string;
    /**
     * ECS instance type; checked to be sold in the region with an ESSD system disk. Unset: the
     * cheapest non-burstable type with 2 vCPUs and 4 GiB (burstable `ecs.t*` types throttle a
     * busy registry once their CPU credits run out), looked up once and then kept.
     */
    instanceType?: string;
    /** Image ID. Unset: the newest public Debian 12 x86-64 image, looked up once and then kept. */
    imageId?: string;
    /** Zone. Unset: the first zone offering the instance type with ESSD disks, looked up once and then kept. */
    zoneId?: string;
    /** Size of the registry's data disk in GiB; it can grow later, never shrink. */
    dataDiskGiB: number;
    /**
     * Days to keep the data disk's daily automatic snapshots (taken at 03:00 UTC+8, crash-consistent);
     * 0: no snapshot policy.
     */
    snapshotRetentionDays: number;
    /** The VPC's address range. */
    vpcCidr: string;
    /** The vSwitch's address range, inside `vpcCidr`. */
    vswitchCidr: string;
}

/**
 * Let's Encrypt `staging` or `production` by name, or the directory URL of any other ACME CA
 * (step-ca, Pebble, a commercial CA), which must be https.
 */
export type AcmeServer = "staging" | "production" | `https://${string}`;

export interface AcmeSettings {
    /** The ACME account's contact email. */
    email: string;
    /** Let's Encrypt `staging` or `production`, or another CA's https directory URL. */
    server: AcmeServer;
    /**
     * The lego DNS provider that publishes the `_acme-challenge` TXT records: `alidns`,
     * `tencentcloud` (DNSPod), `cloudflare`, `route53`, `exec`, `rfc2136`, ... Its credentials and
     * settings are read from the environment under lego's names, never passed here, so they stay
     * out of the state.
     */
    dnsProvider: string;
    /** Resolvers (`host[:port]`) lego asks for CNAMEs and the zone's nameservers instead of the system's (/etc/resolv.conf); empty: the system's. */
    recursiveNameservers: string[];
    /**
     * Skip querying the zone's authoritative nameservers for the TXT record before the CA is asked
     * to validate it, for networks that cannot reach them.
     */
    disableCompletePropagation: boolean;
}

/** A Distribution (registry) image, with the major version its tag tells: config.yml's path and options differ between 2.x and 3.x. */
export interface DistributionImage {
    reference: string;
    major: DistributionMajor;
}

/** What each container runs: any pinned reference a host's daemon can pull (a copy in ACR, say). */
export interface ImageSettings {
    registry: DistributionImage;
    ui: string;
    edge: string;
    mirror: DistributionImage;
    /** regctl (regclient's alpine image: a shell beside it), for `retention`. */
    retention: string;
}

/** Scheduled garbage collection of the registry's blobs (docs/operations.md). */
export interface GcSettings {
    /** When: at cron times in UTC, or every so many seconds after the last collection ended. */
    schedule: GcTiming;
    /** Also delete manifests no tag points at (Distribution 3 only: 2.8 deletes multi-arch images' platform manifests). */
    deleteUntagged: boolean;
}

/**
 * One retention policy: in the repositories its glob matches (the first policy that matches a
 * repository applies), which tags stay; every other tag is deleted before a garbage collection
 * (docs/operations.md). A tag stays when any of the set rules keeps it.
 */
export interface RetentionPolicy {
    /** A glob over repository names: `*` and `?` within a path segment, `**` for any number of segments. */
    repositories: string;
    /** Keep the newest this many tags, by their image's creation time (`created`). */
    keepLast?: number;
    /** Keep tags whose image was created within this many days. */
    keepWithinDays?: number;
    /** Keep tags this Go regular expression matches (the whole tag). */
    keepTags?: string;
}

/** What the registry tells a webhook about: pushes, deletes, pulls (of manifests: images, indexes, signatures). */
export type NotificationEvent = "push" | "delete" | "pull";

/**
 * One webhook the registry POSTs its events to (Distribution's `notifications.endpoints`). The
 * headers' values are secrets, read apart (readNotificationHeaders); only their names are here.
 */
export interface NotificationEndpoint {
    /** `http(s)://host[:port][/path]`. */
    url: string;
    /** The events sent; the others are ignored. */
    events: NotificationEvent[];
    /** Names of the headers sent with each POST (their values are secret). */
    headerNames: string[];
}

/** The opt-in pull-through mirror: a second Distribution in proxy mode behind the same edge. */
export interface MirrorSettings {
    /** The registry it pulls through, `https://HOST[:PORT]`; default Docker Hub. */
    upstream: string;
    /** The upstream account (Docker Hub: raises the anonymous pull limit). */
    username?: string;
    /** A password is set (`mirror.password`, a secret): readStackSecrets reads it, never from here. */
    hasPassword: boolean;
    /** The mirror's own name at the edge (in the certificate); unset: its own port, `httpsPort`. */
    hostname?: string;
    /** The edge port the mirror answers on when it has no name of its own. */
    httpsPort: number;
    /** k3s `rewrite` rules for docker.io: a Go regular expression → its replacement. */
    k3sRewrites: Record<string, string>;
}

/**
 * Where blobs live, as the registry's config.yml says it. An S3 bucket's keys are not here: they
 * reach the registry as environment variables, like `http.secret`, so the file stays readable in
 * a preview.
 *
 * Against Alibaba Cloud OSS: Distribution 2.8's `s3` driver forces path-style requests whenever
 * `regionendpoint` is set, which OSS refuses (virtual-hosted style only), so 2.8 needs its own
 * `oss` driver (in the official image, built with `include_oss`; Debian's build lacks it).
 * Distribution 3 removed `oss` and reaches OSS through `s3` with `forcepathstyle: false`
 * (docs/scale.md).
 */
export type BlobStorage = { kind: "filesystem" } | ({ kind: "s3" } & S3Bucket);

/** An S3 bucket as the registry reaches it, without its keys (the settings, the registry and its config.yml renderer share it). */
export interface S3Bucket {
    /** The S3 API's URL, `http(s)://host[:port]` (`regionendpoint`); unset: AWS's own for the region. */
    endpoint?: string;
    region: string;
    bucket: string;
    forcePathStyle: boolean;
    /** Let clients fetch blobs from the bucket directly by a presigned URL; false sets `redirect.disable`. */
    redirect: boolean;
    rootDirectory?: string;
}

/**
 * The secrets a deployment needs, apart from the settings (which say only whether each is set):
 * read from the stack's config (readStackSecrets) or taken from a component's args.
 */
export interface StackSecrets {
    /** ssh mode: the key `ssh.user` logs in with. */
    sshPrivateKey?: pulumi.Input<string>;
    /** With `mirror.password`: the mirror's upstream password. */
    mirrorPassword?: pulumi.Input<string>;
    /** With `storage.kind: s3`: the bucket's keys. */
    s3Keys?: { accessKeyId: pulumi.Input<string>; secretAccessKey: pulumi.Input<string> };
    /** With `notifications` that have headers: each webhook's, index by index (`notifications[i].headers`). */
    notificationHeaders?: pulumi.Input<Record<string, string>[]>;
}

/** Where the registry keeps blobs and manifests, with the S3 keys (secrets: readStackSecrets, or the OSS bucket the stack creates). */
export type RegistryStorage =
    | { kind: "filesystem" }
    | ({
          kind: "s3";
          /** Secret. */
          accessKeyId: pulumi.Input<string>;
          /** Secret. */
          secretAccessKey: pulumi.Input<string>;
      } & S3Bucket);

/**
 * Where the registry keeps blobs (`storage`). The S3 credentials are not here: they are secrets,
 * read apart by readStackSecrets (components/config/index.ts), so no plain copy exists.
 */
export type StorageSettings =
    | BlobStorage
    /** alicloud mode: an OSS bucket and a RAM user limited to it, both created by the stack. */
    | { kind: "oss" };

/** What the registry itself reads (components/privateRegistry.ts), in every mode. */
export interface RegistrySettings {
    /** DNS names the registry answers to; the first one names the endpoint. */
    hostnames: string[];
    /** IP addresses clients may use instead (a LAN IP for boards on the LAN). */
    ipAddresses: string[];
    /** Serve the UI on its own name instead of `https://HOST/`; the registry then sends CORS headers for it. */
    uiHostname?: string;
    /** The edge's public HTTPS port. */
    httpsPort: number;
    /** The edge's public HTTP port; it only redirects to HTTPS. */
    httpPort: number;
    /** Each with a role: `push` for builders, `pull` for nodes (components/config/users.ts). */
    users: RegistryUser[];
    /** Per user, a keeper: changing it (or setting it the first time) gives that user a new password. */
    passwordRotation: Record<string, string>;
    /** Allow deleting images through the API and the UI. */
    deleteEnabled: boolean;
    /** Keep the registry's data (volume, disk, bucket) on `pulumi destroy`. */
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
    images: ImageSettings;
    /** Set: a pull-through mirror behind the same edge. */
    mirror?: MirrorSettings;
    /** Set: the registry collects its garbage on this schedule, read-only meanwhile. */
    gc?: GcSettings;
    /** Tags deleted right before each garbage collection (needs `gc`); empty: none. */
    retention: RetentionPolicy[];
    /** Webhooks told of pushes and deletes (and pulls, when asked); empty: none. */
    notifications: NotificationEndpoint[];
}

/** What every mode reads. */
export interface CommonSettings extends RegistrySettings {
    certificateValidityDays: number;
    certificateRenewBeforeDays: number;
    /** Set: certificates come from Let's Encrypt (or another ACME CA) by DNS-01 instead of the private CA. */
    acme?: AcmeSettings;
    /** How many VMs run the registry and edge: more than one in alicloud mode only, behind a load balancer, sharing object storage. */
    replicas: number;
    /** `registry-mirrors` for the host's own Docker daemon, set before the first pull: ssh and alicloud modes only (empty in local mode). */
    hostRegistryMirrors: string[];
    storage: StorageSettings;
}

/** `mode: local`: this machine's Docker daemon. */
export interface LocalStackConfig extends CommonSettings {
    mode: "local";
    /** The Docker daemon to deploy to; unset uses DOCKER_HOST or the default socket. */
    dockerHost?: string;
    storage: BlobStorage;
}

/** `mode: ssh`: a server of yours, reached over SSH. */
export interface SshStackConfig extends CommonSettings {
    mode: "ssh";
    ssh: SshConnection;
    storage: BlobStorage;
}

/** `mode: alicloud`: new ECS VMs; certificates from Let's Encrypt. */
export interface AlicloudStackConfig extends CommonSettings {
    mode: "alicloud";
    alicloud: AlicloudSettings;
    acme: AcmeSettings;
}

/** The settings of one stack: each mode reads a type of its own. */
export type StackConfig = LocalStackConfig | SshStackConfig | AlicloudStackConfig;
