/**
 * The ContainerRegistry component's args, generated from the config key declarations
 * (components/config/keys.ts) by `npm run docs:config`: edit those, not this file;
 * test/unit/containerRegistry.test.ts fails when it is stale.
 */
import type * as pulumi from "@pulumi/pulumi";

/** What the registry is and where it runs: one arg per key of the stack's configuration, checked the same way (every error at once, each naming the arg, e.g. `args.ssh.port`), with the same defaults. */
export interface ContainerRegistryArgs {
    /**
     * where the registry runs: `local` (the Docker daemon `dockerHost` names, by default the one on the machine that runs `pulumi up`), `ssh` (your server), `alicloud` (a new ECS VM)
     *
     * Must be one of "local", "ssh", "alicloud". Default: `local`.
     */
    mode?: string;
    /**
     * DNS names clients use, lowercase; the first names the endpoint. An IP address or an all-numeric name (`123`) is refused: it goes in `ipAddresses`
     *
     * Must be a list of DNS names, e.g. [registry.example.com]. Default: `[localhost]` in local mode without `ipAddresses`.
     */
    hostnames?: string[];
    /**
     * IPs in the certificate, e.g. a LAN IP boards pull from; IPv4 without leading zeros (`10.0.0.1`, not `010.0.0.1`: Go's parser, which the tls provider uses, rejects it)
     *
     * Must be a list of IPv4/IPv6 addresses, e.g. [192.168.1.10]. Default: `[]`.
     */
    ipAddresses?: string[];
    /**
     * serve the UI on its own DNS name (the registry then sends CORS headers for it); it must differ from every registry name, including the `localhost` local mode implies
     *
     * Must be a DNS name of its own, e.g. registry-ui.example.com.
     */
    uiHostname?: string;
    /**
     * the edge's public HTTPS port
     *
     * Must be an integer port 1-65535. Default: `443`.
     */
    httpsPort?: number;
    /**
     * the edge's public HTTP port; it only redirects to HTTPS
     *
     * Must be an integer port 1-65535. Default: `80`.
     */
    httpPort?: number;
    /**
     * who may log in, each with a random password; builders get the first push user, nodes the first pull user (docs/roles.md)
     *
     * Default: `[{name: admin, role: push}, {name: node, role: pull}]`.
     */
    users?: User[];
    /**
     * per user a keeper: a new value gives that user a new password, nobody else (docs/operations.md)
     *
     * Must be an object {USERNAME: KEEPER}, each USERNAME one of users, each KEEPER 1-64 printable characters, e.g. {"admin": "2026-11-29"}.
     */
    passwordRotation?: Record<string, string>;
    /**
     * allow deleting images (API and UI)
     *
     * Must be true or false. Default: `false`.
     */
    deleteEnabled?: boolean;
    /**
     * keep the registry's data (the data volume, all images) on `pulumi destroy`; in alicloud mode the data disk or bucket is also protected
     *
     * Must be true or false. Default: `true`.
     */
    retainDataOnDestroy?: boolean;
    /**
     * `bridge`: a private network, only the edge publishes ports; `host`: for daemons without a bridge, the UI on a loopback port. Either way the registry's API listens only on a Unix socket that the edge alone mounts (docs/roles.md)
     *
     * Must be one of "bridge", "host". Default: `bridge`.
     */
    containerNetwork?: string;
    /**
     * the UI's loopback port with `containerNetwork: host`
     *
     * Must be an integer port 1-65535. Default: `5080`.
     */
    uiPort?: number;
    /**
     * the registry's Prometheus `/metrics`: on loopback with `containerNetwork: host`, on the container's unpublished address in bridge networking; never through the edge (docs/operations.md)
     *
     * Must be an integer port 1-65535. Default: `5002`.
     */
    metricsPort?: number;
    /**
     * with `containerNetwork: host`, the edge also listens on IPv6 (`[::]`); always on when an `ipAddresses` entry is IPv6. Off by default: nginx does not start on a host whose kernel has IPv6 off (in a bridge network Docker publishes the ports itself)
     *
     * Must be true or false. Default: `false`.
     */
    listenIpv6?: boolean;
    /**
     * prefix of every Docker container, volume and network name (and cloud resource), so two stacks can share a daemon
     *
     * Must be 2-40 of a-z 0-9 -, starting with a letter (ECS names need 2). Default: `private-registry`.
     */
    namePrefix?: string;
    /**
     * the self-signed server certificate's lifetime (Let's Encrypt sets its own)
     *
     * Must be an integer number of days, 1-825 (Apple clients refuse TLS server certificates valid longer). Default: `365`.
     */
    certificateValidityDays?: number;
    /**
     * the server certificate is re-issued on the first `pulumi up` this many days before it expires (the CA stays, so clients notice nothing); with `acme` 7-30
     *
     * Must be an integer number of days, smaller than certificateValidityDays. Default: `30`.
     */
    certificateRenewBeforeDays?: number;
    /**
     * local mode only: the Docker daemon to deploy to; unset, `DOCKER_HOST` or else the default socket
     *
     * Must be a Docker host URL, unix:// tcp:// ssh:// or npipe://, e.g. unix:///var/run/docker.sock or ssh://user@host. Default: `DOCKER_HOST`.
     */
    dockerHost?: string;
    /** what each container runs, e.g. copies in Alibaba Cloud Container Registry (docs/mainland-china.md); the `registry` and `mirror` tags must start with the Distribution version (`3…`, or `2.8…` to stay on 2.8; `NAME:TAG@sha256:…` for a digest pin), which decides the config rendered (docs/operations.md) */
    images?: Images;
    /** the registry collects its garbage on `schedule` (a 5-field cron expression in UTC, `@hourly`, `@daily`, `@weekly`, or `@every 12h`), read-only meanwhile; `deleteUntagged` also drops manifests no tag names, Distribution 3 only (docs/operations.md) */
    gc?: Gc;
    /**
     * tags to delete right before each garbage collection (needs `gc` and `deleteEnabled`): in the repositories `repositories` matches (the first policy that matches applies), a tag stays if it is among the `keepLast` newest, its image is younger than `keepWithinDays`, or `keepTags` matches it; the rest, with their signatures, go (docs/operations.md (docs/operations.md#retention-keep-the-newest-tags-gc-and-retention))
     *
     * Default: `[]`.
     */
    retention?: Retention[];
    /**
     * webhooks the registry POSTs its events to (Distribution's `notifications`), one per entry: pushes and deletes of images by default, pulls when asked; best effort, a missed event is not sent again (docs/webhooks.md)
     *
     * Default: `[]`.
     */
    notifications?: Notification[];
    /**
     * ssh and alicloud modes: `registry-mirrors` merged into the host daemon's `daemon.json` before the first pull (e.g. an Alibaba Cloud accelerator URL)
     *
     * Must be a list of https:// URLs of registry mirrors, e.g. [https://xxxx.mirror.aliyuncs.com]. Default: `[]`.
     */
    hostRegistryMirrors?: string[];
    /** a pull-through mirror behind the same edge (docs/mirror.md) */
    mirror?: Mirror;
    /**
     * where blobs live: the data volume, an S3-compatible bucket you provide (`kind: s3`; its keys set with `--secret --path`; `forcePathStyle` defaults to true with an `endpoint`), or in alicloud mode a bucket the stack creates (`kind: oss`); replicas share a bucket (docs/scale.md)
     *
     * Default: `{kind: filesystem}`.
     */
    storage?: Storage;
    /** ssh mode: the server to deploy to, reached as `user` (a login name, never starting with `-`) */
    ssh?: Ssh;
    /**
     * ssh mode: the key `ssh.user` logs in with (`pulumi config set --secret sshPrivateKey < KEYFILE`)
     *
     * Must be an OpenSSH or PEM private key. Secret: pass it as one (Pulumi stores a component's args in the state as given); the component keeps secret all it makes from it.
     */
    sshPrivateKey?: pulumi.Input<string>;
    /** alicloud mode: `region` an ID such as `cn-hongkong`; `adminCidr` the IPv4 network SSH is open to (not `/0`); `snapshotRetentionDays` keeps the data disk's daily snapshots, 0 for none (docs/operations.md); `vswitchCidr` inside `vpcCidr` */
    alicloud?: Alicloud;
    /**
     * alicloud mode: VMs running the registry and edge, all alike; more than 1 stand behind an Alibaba Cloud load balancer (TCP passthrough, TLS at each edge) and need `storage.kind` `oss` or `s3` (docs/scale.md)
     *
     * Must be an integer 1-20, alicloud mode only (VMs behind a load balancer, sharing object storage). Default: `1`.
     */
    replicas?: number;
    /** a certificate by ACME DNS-01 instead of the private CA, in any mode (required in alicloud mode): `server` `staging`, `production` or a directory URL; `dnsProvider` any lego DNS provider (`tencentcloud` for DNSPod, `cloudflare`, `route53`, `rfc2136`, `exec`, …), its credentials from the environment under lego's names */
    acme?: Acme;
}

/** One entry of `users`. */
export interface User {
    /** 1-64 of a-z A-Z 0-9 . _ -, starting with a letter or digit */
    name: string;
    /** `push` (pull and push) or `pull` (pull only) */
    role: string;
}

/** `images`: an object {registry?, ui?, edge?, mirror?, retention?}, each a pinned image reference. */
export interface Images {
    /** Must be a pinned Docker image reference, NAME:TAG or NAME[:TAG]@sha256:DIGEST, e.g. registry.cn-hangzhou.aliyuncs.com/team/registry:2.8.3. Default: `registry:3.1.1`. */
    registry?: string;
    /** Must be a pinned Docker image reference, NAME:TAG or NAME[:TAG]@sha256:DIGEST, e.g. registry.cn-hangzhou.aliyuncs.com/team/registry:2.8.3. Default: `joxit/docker-registry-ui:2.5.7`. */
    ui?: string;
    /** Must be a pinned Docker image reference, NAME:TAG or NAME[:TAG]@sha256:DIGEST, e.g. registry.cn-hangzhou.aliyuncs.com/team/registry:2.8.3. Default: `nginx:1.28.0-alpine`. */
    edge?: string;
    /** Must be a pinned Docker image reference, NAME:TAG or NAME[:TAG]@sha256:DIGEST, e.g. registry.cn-hangzhou.aliyuncs.com/team/registry:2.8.3. Default: `registry:3.1.1`. */
    mirror?: string;
    /** Must be a pinned Docker image reference, NAME:TAG or NAME[:TAG]@sha256:DIGEST, e.g. registry.cn-hangzhou.aliyuncs.com/team/registry:2.8.3. Default: `regclient/regctl:v0.11.7-alpine`. */
    retention?: string;
}

/** `gc`: an object {schedule, deleteUntagged?}. */
export interface Gc {
    /** Must be a 5-field cron expression in UTC ("MIN HOUR DAY MONTH WEEKDAY", e.g. "30 3 * * 0": Sundays 03:30), "@hourly", "@daily", "@weekly", or "@every DURATION" (e.g. "@every 12h"; s, m or h, at least 10s). */
    schedule: string;
    /** Must be true or false. Default: `false`. */
    deleteUntagged?: boolean;
}

/** An entry of `retention`: a list of {repositories, keepLast?, keepWithinDays?, keepTags?}. */
export interface Retention {
    /** Must be a glob over repository names: a-z 0-9 . _ - / with * and ? within a path segment and ** for any number of segments, e.g. team/* or **. */
    repositories: string;
    /** Must be an integer number of tags, 0-100000: the newest, by their image's creation time. */
    keepLast?: number;
    /** Must be an integer number of days, 0-36500: tags whose image was created since. */
    keepWithinDays?: number;
    /** Must be a Go regular expression matched against the whole tag, e.g. "v[0-9]+(\.[0-9]+)*|latest". */
    keepTags?: string;
}

/** An entry of `notifications`: a list of {url, headers? (--secret), events?: ["push", "delete", "pull"]}. */
export interface Notification {
    /** Must be an http:// or https:// URL without credentials, query or fragment (secrets go in headers), e.g. http://deployer.lan:8080/registry-events. */
    url: string;
    /** Must be an object {NAME: VALUE} of HTTP headers sent with each event, e.g. {"Authorization": "Bearer ..."}. Secret: pass it as one (Pulumi stores a component's args in the state as given); the component keeps secret all it makes from it. */
    headers?: Record<string, pulumi.Input<string>>;
    /** Must be a list of "push", "delete", "pull". Default: `[push, delete]`. */
    events?: string[];
}

/** `mirror`: an object {upstream?, username?, password? (--secret), hostname?, httpsPort?, k3sRewrites?}. */
export interface Mirror {
    /** Must be an https:// URL of a registry, e.g. https://registry-1.docker.io. Default: `https://registry-1.docker.io`. */
    upstream?: string;
    /** Must be the upstream account's username. */
    username?: string;
    /** Must be the upstream account's password or token. Secret: pass it as one (Pulumi stores a component's args in the state as given); the component keeps secret all it makes from it. */
    password?: pulumi.Input<string>;
    /** Must be a DNS name for the mirror, e.g. mirror.example.com (added to the certificate). */
    hostname?: string;
    /** Must be an integer port 1-65535, the edge port the mirror answers on when it has no hostname. Default: `5443`. */
    httpsPort?: number;
    /** Must be an object of Go regular expression -> replacement, e.g. {"^rancher/mirrored-(.*)": "riscv64/mirrored-$1"}. */
    k3sRewrites?: Record<string, string>;
}

/** `storage`: an object {kind: "filesystem" | "s3" | "oss", ...}; s3 takes {endpoint?, region, bucket, accessKeyId, secretAccessKey (--secret), forcePathStyle?, redirect?, rootDirectory?}. */
export interface Storage {
    /** Must be "filesystem" (the host's data volume), "s3" (an S3-compatible bucket you provide) or "oss" (alicloud mode: an OSS bucket the stack creates). Default: `filesystem`. */
    kind?: string;
    /** Must be the S3 API's URL, http:// or https:// with a host and optional port, no path, e.g. https://minio.example.com:9000 (leave it out for AWS itself). */
    endpoint?: string;
    /** Must be the bucket's region, e.g. us-east-1: 1-64 of a-z 0-9 -. */
    region?: string;
    /** Must be an existing bucket's name: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit. */
    bucket?: string;
    /** Must be the access key ID. Secret: pass it as one (Pulumi stores a component's args in the state as given); the component keeps secret all it makes from it. */
    accessKeyId?: pulumi.Input<string>;
    /** Must be the secret access key. Secret: pass it as one (Pulumi stores a component's args in the state as given); the component keeps secret all it makes from it. */
    secretAccessKey?: pulumi.Input<string>;
    /** Must be true or false: address the bucket as ENDPOINT/BUCKET rather than BUCKET.ENDPOINT (default: true with an endpoint). */
    forcePathStyle?: boolean;
    /** Must be true or false: pulls fetch blobs from the bucket itself by a presigned URL, so clients must reach the endpoint (default false). Default: `false`. */
    redirect?: boolean;
    /** Must be a key prefix inside the bucket, e.g. /registry: a-z A-Z 0-9 . _ - and /, no ... */
    rootDirectory?: string;
}

/** `ssh`: an object {host, port?, user?, hostKey?}. */
export interface Ssh {
    /** Must be a DNS name or IP address of the server. */
    host: string;
    /** Must be an integer port 1-65535. Default: `22`. */
    port?: number;
    /** Must be a login name: 1-32 of a-z A-Z 0-9 . _ -, not starting with - or .. Default: `root`. */
    user?: string;
    /** Must be a public key such as "ssh-ed25519 AAAA..." (what ssh-keyscan -t ed25519 HOST prints after the host name). */
    hostKey?: string;
}

/** `alicloud`: an object {region, dnsZone, adminCidr, instanceType?, imageId?, zoneId?, dataDiskGiB?, snapshotRetentionDays?, vpcCidr?, vswitchCidr?}. */
export interface Alicloud {
    /** Must be an Alibaba Cloud region ID, e.g. "cn-hongkong" or "ap-southeast-1". */
    region: string;
    /** Must be the Alidns domain the registry names live under, e.g. example.com. */
    dnsZone: string;
    /** Must be an IPv4 CIDR such as 203.0.113.7/32, the network allowed to reach SSH (no open default; the security group rule takes IPv4 only). */
    adminCidr: string;
    /** Must be an ECS instance type, e.g. ecs.g7.large. */
    instanceType?: string;
    /** Must be an ECS image ID. */
    imageId?: string;
    /** Must be a zone ID of the region, e.g. "cn-hongkong-b". */
    zoneId?: string;
    /** Must be an integer size in GiB, 20-32768. Default: `100`. */
    dataDiskGiB?: number;
    /** Must be an integer number of days, 0-65536 (0: no automatic snapshots). Default: `7`. */
    snapshotRetentionDays?: number;
    /** Must be an IPv4 CIDR such as 172.31.0.0/16. Default: `172.31.0.0/16`. */
    vpcCidr?: string;
    /** Must be an IPv4 CIDR inside vpcCidr, such as 172.31.1.0/24. Default: `172.31.1.0/24`. */
    vswitchCidr?: string;
}

/** `acme`: an object {email, server?: "staging" | "production" | an https:// ACME directory URL, dnsProvider?, recursiveNameservers?, disableCompletePropagation?}. */
export interface Acme {
    /** Must be an email address, the ACME account's contact, e.g. ops@example.com. */
    email: string;
    /** Must be "staging", "production" or an ACME directory URL starting with https://. Default: `staging`. */
    server?: string;
    /** Must be a lego DNS provider name such as "alidns", "tencentcloud", "cloudflare", "route53" or "exec" (not "manual": nobody is there to type). Default: `alidns`. */
    dnsProvider?: string;
    /** Must be a list of resolvers, host or host:port, e.g. [1.1.1.1:53]. Default: `[]`. */
    recursiveNameservers?: string[];
    /** Must be true or false. Default: `false`. */
    disableCompletePropagation?: boolean;
}
