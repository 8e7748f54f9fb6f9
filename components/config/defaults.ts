/**
 * What the components fall back to when an arg is left out. The stack's defaults are declared
 * with their keys in keys.ts, which the validator applies; test/unit/config.test.ts holds the
 * scalars here to the ones declared in Pulumi.yaml, which is generated from keys.ts. (To go: the
 * components are to receive every value typed and defaulted by the validator.)
 *
 * Pure: no `@pulumi/*` import.
 */
export const DEFAULTS = {
    mode: "local",
    /** Local mode without `ipAddresses` only: the one name that always reaches this machine. */
    hostnames: ["localhost"],
    ipAddresses: [],
    httpsPort: 443,
    httpPort: 80,
    /** One account for builders, one for nodes (components/config/users.ts). */
    users: [
        { name: "admin", role: "push" },
        { name: "node", role: "pull" },
    ],
    deleteEnabled: false,
    retainDataOnDestroy: true,
    containerNetwork: "bridge",
    uiPort: 5080,
    /** The registry's Prometheus metrics (`/metrics`), reachable from the host only. */
    metricsPort: 5002,
    /** Off: nginx does not start on a host whose kernel has IPv6 off. An IPv6 entry in ipAddresses turns it on. */
    listenIpv6: false,
    namePrefix: "private-registry",
    certificateValidityDays: 365,
    certificateRenewBeforeDays: 30,
    /**
     * What each container runs: today's pins on Docker Hub, by tag only (no digest could be
     * established from a machine that cannot pull; docs/mainland-china.md says how to pin one).
     */
    images: {
        // Distribution 3: the newest tag the official image lists (the tests run v3.1.2, built
        // from the Go module proxy). registry:2.8.3 stays selectable; the tag tells the version.
        registry: "registry:3.1.1",
        ui: "joxit/docker-registry-ui:2.5.7",
        edge: "nginx:1.28.0-alpine",
        mirror: "registry:3.1.1",
    },
    /** `gc` unset: no scheduled collection (`npm run gc` by hand); `schedule` has no default. */
    gc: { deleteUntagged: false },
    /** ssh and alicloud modes: the host daemon's own `registry-mirrors`; none by default. */
    hostRegistryMirrors: [],
    /** `loopbackPort`: where the mirror listens with `containerNetwork: host` (not a setting). */
    mirror: { upstream: "https://registry-1.docker.io", httpsPort: 5443, loopbackPort: 5001 },
    ssh: { port: 22, user: "root" },
    /** alicloud mode: VMs running the registry and edge; more than one stand behind a load balancer. */
    replicas: 1,
    alicloud: {
        // instanceType: none; the cheapest non-burstable type sold with ESSD disks is looked up
        // once and kept (components/hosts/alicloudHost.ts).
        dataDiskGiB: 100,
        /** Daily automatic snapshots of the data disk, kept this many days; 0: no snapshot policy. */
        snapshotRetentionDays: 7,
        vpcCidr: "172.31.0.0/16",
        vswitchCidr: "172.31.1.0/24",
    },
    acme: { server: "staging", dnsProvider: "alidns", recursiveNameservers: [], disableCompletePropagation: false },
    /**
     * Blobs on the host's data volume. With `kind: s3`, `forcePathStyle` is true when an `endpoint`
     * is given (self-hosted servers seldom have a DNS name per bucket; Distribution 2.8 forces it
     * there anyway) and false for AWS itself; `redirect` is off: clients reach the edge, not always
     * the bucket (docs/scale.md).
     */
    storage: { kind: "filesystem", redirect: false },
} as const;
