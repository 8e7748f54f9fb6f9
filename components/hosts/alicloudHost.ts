import * as alicloud from "@pulumi/alicloud";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { AlicloudSettings } from "../config/types";
import { RegistryHost } from "../contracts";
import { ingressRules } from "../render/securityRules";
import { AlicloudLoadBalancer } from "./alicloudLoadBalancer";
import { AlicloudPlacement, keptPlacement } from "./alicloudPlacement";
import { AlicloudReplica, alicloudVm } from "./alicloudVm";
import { refuseRedirectingDockerEnvironment } from "./dockerOverSsh";

/** The `alicloud` settings (region, admin CIDR, placement, data disk, network: AlicloudSettings says what each is), and: */
export interface AlicloudHostArgs extends Omit<AlicloudSettings, "dnsZone"> {
    /** Disk category of the data disk. Default: `cloud_essd` (performance level PL0). */
    dataDiskCategory?: string;
    /** Public ports the security group opens to everyone. */
    httpsPort: number;
    httpPort: number;
    /** Outbound bandwidth cap in Mbit/s of the VM's public IP, billed by traffic. Default: 100. */
    internetMaxBandwidthOut?: number;
    /**
     * Keep the data disk whatever happens to the stack: `protect` (an update that would replace
     * or delete it fails instead) and `retainOnDelete` (`pulumi destroy` leaves it). False: the
     * disk is deleted with the stack.
     */
    retainDataOnDestroy: boolean;
    /** Where the data disk is mounted on the VM. Default: `/srv/registry-data`. */
    dataMountPath?: string;
    /** Docker's `registry-mirrors` on the VM (e.g. the region's accelerator URL), set before the first pull; may be empty. */
    registryMirrors: string[];
    /** The mirror's own public HTTPS port, opened like httpsPort. Default: none. */
    mirrorHttpsPort?: number;
    /** Prefix of every cloud resource name. */
    namePrefix: string;
    /**
     * The registry keeps blobs in a bucket: no data disk, snapshot policy or mount, and every VM
     * is alike. Default: false (a data disk).
     */
    objectStorage?: boolean;
    /** VMs running the registry and edge; more than 1 need `objectStorage` and get a load balancer. */
    replicas: number;
}

const DATA_DISK_CATEGORY = "cloud_essd";

/**
 * ECS VMs running Docker for the registry: their own VPC, a security group that opens only the
 * edge's ports (and SSH to the admin network), and, when the registry keeps blobs on disk, a
 * separate data disk that outlives the VM.
 *
 * The data disk is protected and retained (unless `retainDataOnDestroy` is false): replacing or
 * destroying the VM never deletes it (the new VM mounts the same filesystem), and a change that
 * would replace the disk itself stops the update instead (docs/cloud.md says how to really delete
 * it). The registry's Docker volume binds the disk's mount point. With `objectStorage` there is
 * no disk: every VM is alike and stateless, and `replicas` of them stand behind a load balancer
 * (docs/scale.md); the first VM's resources keep the names a single-VM stack gives them.
 *
 * Docker is driven over SSH as root with a key pair generated here; each VM's SSH host key is
 * generated here too and handed to cloud-init, so even the first connection is verified.
 */
export class AlicloudHost extends pulumi.ComponentResource implements RegistryHost {
    /** The first VM's Docker (the RegistryHost a single-VM stack deploys to). */
    readonly provider: docker.Provider;
    readonly ready: pulumi.Resource[];
    readonly dataVolumeDriverOpts?: Record<string, string>;
    /** Where the DNS records point: the load balancer's IPv4 address with replicas, else the VM's public one. */
    readonly address: pulumi.Output<string>;
    /** The Alibaba Cloud provider of this host's region, for resources beside it (DNS records, the bucket). */
    readonly alicloudProvider: alicloud.Provider;
    /** The first VM. Replacing it means a new, empty Docker daemon: everything deployed to it must follow. */
    readonly instance: alicloud.ecs.Instance;
    /** The registry's data disk; none with `objectStorage`. */
    readonly dataDisk?: alicloud.ecs.EcsDisk;
    /** Every VM, the first one first. */
    readonly replicas: AlicloudReplica[];
    /** In front of the VMs when there are more than one. */
    readonly loadBalancer?: AlicloudLoadBalancer;
    /**
     * Where the VM runs, as deployed (the kept values, not a fresh lookup). Exported by the stack
     * as `alicloudPlacement`, which the next run reads back instead of looking up again.
     */
    readonly placement: pulumi.Output<AlicloudPlacement>;

    constructor(name: string, args: AlicloudHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:host:Alicloud", name, {}, opts);
        refuseRedirectingDockerEnvironment("the VM's Docker daemon over SSH");
        const namePrefix = args.namePrefix;
        const dataMountPath = args.dataMountPath ?? "/srv/registry-data";
        const tags = { "managed-by": "pulumi", "private-registry": namePrefix };
        const dataDiskCategory = args.dataDiskCategory ?? DATA_DISK_CATEGORY;
        const replicaCount = args.replicas;
        const withDataDisk = !(args.objectStorage ?? false);
        // A cloud disk attaches to one VM: replicas can only share a bucket.
        if (replicaCount > 1 && withDataDisk)
            throw new Error(`AlicloudHost: ${replicaCount} replicas need objectStorage (a data disk attaches to one VM)`);
        const { httpsPort, httpPort } = args;

        this.alicloudProvider = new alicloud.Provider(`${name}-provider`, { region: args.region }, { parent: this });
        const cloudOpts = { parent: this, provider: this.alicloudProvider };

        const placement = keptPlacement(name, args, dataDiskCategory, this, cloudOpts);
        const keepLookedUpZone = args.zoneId === undefined ? ["zoneId"] : [];

        const shared: SharedSettings = { name, namePrefix, tags, zoneId: placement.zoneId, keepLookedUpZone, opts: cloudOpts };
        const { vswitch, securityGroup } = alicloudNetwork(shared, {
            vpcCidr: args.vpcCidr,
            vswitchCidr: args.vswitchCidr,
            httpsPort,
            httpPort,
            adminCidr: args.adminCidr,
            mirrorHttpsPort: args.mirrorHttpsPort,
        });

        // Alibaba Cloud imports RSA and ECDSA key pairs, not ED25519.
        const loginKey = new tls.PrivateKey(`${name}-login-key`, { algorithm: "RSA", rsaBits: 4096 }, { parent: this });
        const keyPair = new alicloud.ecs.EcsKeyPair(
            `${name}-key-pair`,
            { keyNamePrefix: `${namePrefix}-`, publicKey: loginKey.publicKeyOpenssh, tags },
            cloudOpts,
        );

        if (withDataDisk) {
            this.dataDisk = alicloudDataDisk(shared, {
                sizeGiB: args.dataDiskGiB,
                category: dataDiskCategory,
                keep: args.retainDataOnDestroy,
                snapshotRetentionDays: args.snapshotRetentionDays,
            });
        }

        this.replicas = Array.from({ length: replicaCount }, (_, i) =>
            alicloudVm(this, name, i + 1, {
                imageId: args.imageId,
                instanceType: args.instanceType,
                placement,
                provider: this.alicloudProvider,
                namePrefix,
                tags,
                vswitchId: vswitch.id,
                securityGroupId: securityGroup.id,
                keyName: keyPair.keyPairName,
                loginPrivateKey: loginKey.privateKeyOpenssh,
                // The data disk attaches to the first VM only (replicas need object storage).
                dataDisk: i === 0 ? this.dataDisk : undefined,
                dataMountPath,
                registryMirrors: args.registryMirrors,
                internetMaxBandwidthOut: args.internetMaxBandwidthOut,
            }),
        );

        const first = this.replicas[0];
        this.provider = first.provider;
        this.ready = first.ready;
        this.dataVolumeDriverOpts = first.dataVolumeDriverOpts;
        this.instance = first.instance;
        if (replicaCount > 1) {
            this.loadBalancer = new AlicloudLoadBalancer(
                `${name}-lb`,
                {
                    provider: this.alicloudProvider,
                    namePrefix,
                    ports: [
                        { label: "https", port: httpsPort },
                        { label: "http", port: httpPort },
                        ...(args.mirrorHttpsPort === undefined ? [] : [{ label: "mirror", port: args.mirrorHttpsPort }]),
                    ],
                    backends: this.replicas.map((replica) => ({ label: `vm-${replica.index}`, instanceId: replica.instance.id })),
                    healthCheckPort: httpPort,
                    tags,
                },
                { parent: this },
            );
            this.address = this.loadBalancer.address;
        } else {
            this.address = first.publicIp;
        }
        this.placement = pulumi
            .all([this.instance.instanceType, this.dataDisk?.zoneId ?? vswitch.zoneId, this.instance.imageId])
            .apply(([type, zone, image]) => ({ instanceType: type, zoneId: zone, imageId: image }));
        this.registerOutputs({ address: this.address, dataDiskId: this.dataDisk?.id, placement: this.placement });
    }
}

/** What every cloud resource of the host shares. */
interface SharedSettings {
    /** The host's name: its resources are named after it. */
    name: string;
    /** Prefix of every cloud resource's own name. */
    namePrefix: string;
    tags: Record<string, string>;
    /** The VMs' zone (alicloudPlacement.ts). */
    zoneId: pulumi.Output<string>;
    /** `["zoneId"]` when the zone was looked up: kept, never followed (ignoreChanges). */
    keepLookedUpZone: string[];
    /** The host as parent, and its region's provider. */
    opts: pulumi.CustomResourceOptions;
}

/** The address ranges, and the ports the security group opens (securityRules.ts). */
interface NetworkSettings {
    vpcCidr: string;
    vswitchCidr: string;
    httpsPort: number;
    httpPort: number;
    /** The only network SSH is open to. */
    adminCidr: string;
    mirrorHttpsPort?: number;
}

/**
 * The host's own VPC, a vSwitch in the VMs' zone, and a security group that opens only the edge's
 * ports to everyone and SSH to the admin network.
 */
function alicloudNetwork(
    shared: SharedSettings,
    network: NetworkSettings,
): { vswitch: alicloud.vpc.Switch; securityGroup: alicloud.ecs.SecurityGroup } {
    const vpc = new alicloud.vpc.Network(
        `${shared.name}-vpc`,
        { vpcName: shared.namePrefix, cidrBlock: network.vpcCidr, tags: shared.tags },
        shared.opts,
    );
    const vswitch = new alicloud.vpc.Switch(
        `${shared.name}-vswitch`,
        {
            vswitchName: shared.namePrefix,
            vpcId: vpc.id,
            cidrBlock: network.vswitchCidr,
            zoneId: shared.zoneId,
            tags: shared.tags,
        },
        { ...shared.opts, ignoreChanges: shared.keepLookedUpZone },
    );

    const securityGroup = new alicloud.ecs.SecurityGroup(
        `${shared.name}-security-group`,
        {
            securityGroupName: shared.namePrefix,
            description: "private-registry: HTTPS and the HTTP redirect from anywhere, SSH from the admin network",
            vpcId: vpc.id,
            // Nothing but the rules below, not even from other members of the group.
            innerAccessPolicy: "Drop",
            tags: shared.tags,
        },
        shared.opts,
    );
    // A layer-4 CLB listener keeps the client's address: the same rules serve one VM or a load
    // balancer's backends (its health checks, from 100.64.0.0/10, come in on httpPort).
    for (const rule of ingressRules(network)) {
        new alicloud.ecs.SecurityGroupRule(
            `${shared.name}-allow-${rule.name}`,
            {
                securityGroupId: securityGroup.id,
                type: "ingress",
                ipProtocol: rule.protocol,
                portRange: `${rule.port}/${rule.port}`,
                cidrIp: rule.cidr,
                nicType: "intranet",
                policy: "accept",
                priority: 1,
                description: rule.description,
            },
            shared.opts,
        );
    }
    return { vswitch, securityGroup };
}

interface DataDiskSettings {
    sizeGiB: number;
    /** Disk category, e.g. `cloud_essd` (then performance level PL0). */
    category: string;
    /** `protect` and `retainOnDelete`: the disk outlives the VM and the stack. */
    keep: boolean;
    /** Days to keep the daily automatic snapshots; 0: no snapshot policy. */
    snapshotRetentionDays: number;
}

/** The registry's data disk, in the VMs' zone, grown online, and its daily automatic snapshots. */
function alicloudDataDisk(shared: SharedSettings, disk: DataDiskSettings): alicloud.ecs.EcsDisk {
    const created = new alicloud.ecs.EcsDisk(
        `${shared.name}-data`,
        {
            diskName: `${shared.namePrefix}-data`,
            description: "private-registry: the registry's images; kept when the VM is replaced or destroyed",
            zoneId: shared.zoneId,
            size: disk.sizeGiB,
            category: disk.category,
            performanceLevel: disk.category === "cloud_essd" ? "PL0" : undefined,
            deleteWithInstance: false,
            deleteAutoSnapshot: false,
            // Grow the disk while the VM runs: an offline resize only takes effect after a restart
            // from the console, so the documented `resize2fs` would find no new space.
            type: "online",
            tags: shared.tags,
        },
        { ...shared.opts, protect: disk.keep, retainOnDelete: disk.keep, ignoreChanges: shared.keepLookedUpZone },
    );

    if (disk.snapshotRetentionDays > 0) {
        const policy = new alicloud.ecs.AutoSnapshotPolicy(
            `${shared.name}-snapshots`,
            {
                autoSnapshotPolicyName: `${shared.namePrefix}-data`,
                repeatWeekdays: ["1", "2", "3", "4", "5", "6", "7"],
                timePoints: ["3"],
                retentionDays: disk.snapshotRetentionDays,
                tags: shared.tags,
            },
            shared.opts,
        );
        new alicloud.ecs.EcsAutoSnapshotPolicyAttachment(
            `${shared.name}-data-snapshots`,
            { autoSnapshotPolicyId: policy.id, diskId: created.id },
            shared.opts,
        );
    }
    return created;
}
