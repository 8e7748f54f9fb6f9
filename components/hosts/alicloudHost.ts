import * as alicloud from "@pulumi/alicloud";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { AlicloudSettings } from "../config/types";
import { RegistryHost } from "../contracts";
import { DIAL_ATTEMPTS, dockerOverSsh, refuseRedirectingDockerEnvironment, sshConnection } from "./dockerOverSsh";
import { alicloudDiskSerial, renderCloudInit } from "../render/cloudInit";
import { renderReleaseDataDiskScript, renderWaitUntilReadyScript } from "../render/hostScripts";
import { ingressRules } from "../render/securityRules";
import { AlicloudLoadBalancer } from "./alicloudLoadBalancer";

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

const DEBIAN_12_X64 = "^debian_12_\\d+_x64_";
const DATA_DISK_CATEGORY = "cloud_essd";
const SYSTEM_DISK_CATEGORY = "cloud_essd";
/** The size the default instance type is chosen by: enough for Distribution, nginx and the UI. */
const DEFAULT_SHAPE = { cpuCoreCount: 2, memorySize: 4 };
/** The stack output the chosen placement is exported as, and read back from on the next run. */
export const PLACEMENT_OUTPUT = "alicloudPlacement";

/** Where the VM runs: each value configured, or looked up on the stack's first deployment. */
export interface AlicloudPlacement {
    instanceType: string;
    zoneId: string;
    imageId: string;
}

/** One candidate of `ecs.getInstanceTypes`, the fields the choice reads. */
export interface InstanceTypeOffer {
    id: string;
    family: string;
    availabilityZones: string[];
    burstableInstance?: { initialCredit?: string; baselineCredit?: string };
}

/**
 * Burstable (credit-based) types: the `ecs.t*` families, or any type reporting CPU credits. A
 * registry busy for an hour (a CI pushing layers) would run out of credits and crawl.
 */
export function isBurstable(offer: InstanceTypeOffer): boolean {
    const credit = (value: string | undefined) => value !== undefined && value !== "" && value !== "0";
    return (
        /^ecs\.t\d/.test(offer.family) || credit(offer.burstableInstance?.initialCredit) || credit(offer.burstableInstance?.baselineCredit)
    );
}

/** The first offer (they come sorted by price) that is not burstable and is sold in some zone. */
export function chooseInstanceType(offers: InstanceTypeOffer[], region: string): string {
    const chosen = offers.find((offer) => !isBurstable(offer) && offer.availabilityZones.length > 0);
    if (chosen === undefined) {
        throw new Error(
            `no non-burstable instance type with ${DEFAULT_SHAPE.cpuCoreCount} vCPUs, ${DEFAULT_SHAPE.memorySize} GiB and an ESSD system disk is sold in ${region}; set alicloud.instanceType`,
        );
    }
    return chosen.id;
}

/** A placement read back from the previous deployment's outputs, if it holds all three values. */
export function previousPlacement(value: unknown): Partial<AlicloudPlacement> {
    if (typeof value !== "object" || value === null) return {};
    const record = value as Record<string, unknown>;
    const text = (key: keyof AlicloudPlacement) =>
        typeof record[key] === "string" && record[key] !== "" ? { [key]: record[key] as string } : {};
    return { ...text("instanceType"), ...text("zoneId"), ...text("imageId") };
}

/** One VM running Docker for a replica of the registry and edge. */
export interface AlicloudReplica extends RegistryHost {
    /** 1 for the first VM (the one a single-VM stack has), then 2, 3, ... */
    index: number;
    instance: alicloud.ecs.Instance;
    /** The VM's public IPv4 address (SSH from the admin network, Docker over SSH). */
    publicIp: pulumi.Output<string>;
    /** The bind to the data disk's mount point (the first VM, blobs on disk); unset: a plain Docker volume. */
    dataVolumeDriverOpts?: Record<string, string>;
}

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
        const keepData = args.retainDataOnDestroy;
        const dataDiskCategory = args.dataDiskCategory ?? DATA_DISK_CATEGORY;
        const replicaCount = args.replicas;
        const withDataDisk = !(args.objectStorage ?? false);
        // A cloud disk attaches to one VM: replicas can only share a bucket.
        if (replicaCount > 1 && withDataDisk)
            throw new Error(`AlicloudHost: ${replicaCount} replicas need objectStorage (a data disk attaches to one VM)`);
        const { httpsPort, httpPort } = args;

        this.alicloudProvider = new alicloud.Provider(`${name}-provider`, { region: args.region }, { parent: this });
        const cloudOpts = { parent: this, provider: this.alicloudProvider };

        // Looked-up values change when a type sells out, a zone fills up or Alibaba publishes an
        // image; a running registry must not follow them (a new zone means a new, empty data disk).
        // The first deployment looks them up and exports what it chose; every later run reads
        // that export back and looks nothing up, so a type sold out since cannot fail the preview
        // of a stack already running on it. ignoreChanges below keeps them even without the export.
        const previous = new pulumi.StackReference(
            `${name}-previous-placement`,
            {
                name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
            },
            { parent: this },
        );
        const placement = previous
            .getOutput(PLACEMENT_OUTPUT)
            .apply((value) => choosePlacement(args, previousPlacement(value), dataDiskCategory, cloudOpts));
        const instanceType = placement.instanceType;
        const zoneId = placement.zoneId;
        const imageId = placement.imageId;
        const keepLookedUpZone = args.zoneId === undefined ? ["zoneId"] : [];

        const vpc = new alicloud.vpc.Network(`${name}-vpc`, { vpcName: namePrefix, cidrBlock: args.vpcCidr, tags }, cloudOpts);
        const vswitch = new alicloud.vpc.Switch(
            `${name}-vswitch`,
            {
                vswitchName: namePrefix,
                vpcId: vpc.id,
                cidrBlock: args.vswitchCidr,
                zoneId,
                tags,
            },
            { ...cloudOpts, ignoreChanges: keepLookedUpZone },
        );

        const securityGroup = new alicloud.ecs.SecurityGroup(
            `${name}-security-group`,
            {
                securityGroupName: namePrefix,
                description: "private-registry: HTTPS and the HTTP redirect from anywhere, SSH from the admin network",
                vpcId: vpc.id,
                // Nothing but the rules below, not even from other members of the group.
                innerAccessPolicy: "Drop",
                tags,
            },
            cloudOpts,
        );
        // A layer-4 CLB listener keeps the client's address: the same rules serve one VM or a load
        // balancer's backends (its health checks, from 100.64.0.0/10, come in on httpPort).
        for (const rule of ingressRules({ httpsPort, httpPort, adminCidr: args.adminCidr, mirrorHttpsPort: args.mirrorHttpsPort })) {
            new alicloud.ecs.SecurityGroupRule(
                `${name}-allow-${rule.name}`,
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
                cloudOpts,
            );
        }

        // Alibaba Cloud imports RSA and ECDSA key pairs, not ED25519.
        const loginKey = new tls.PrivateKey(`${name}-login-key`, { algorithm: "RSA", rsaBits: 4096 }, { parent: this });
        const keyPair = new alicloud.ecs.EcsKeyPair(
            `${name}-key-pair`,
            { keyNamePrefix: `${namePrefix}-`, publicKey: loginKey.publicKeyOpenssh, tags },
            cloudOpts,
        );

        if (withDataDisk) {
            this.dataDisk = new alicloud.ecs.EcsDisk(
                `${name}-data`,
                {
                    diskName: `${namePrefix}-data`,
                    description: "private-registry: the registry's images; kept when the VM is replaced or destroyed",
                    zoneId,
                    size: args.dataDiskGiB,
                    category: dataDiskCategory,
                    performanceLevel: dataDiskCategory === "cloud_essd" ? "PL0" : undefined,
                    deleteWithInstance: false,
                    deleteAutoSnapshot: false,
                    // Grow the disk while the VM runs: an offline resize only takes effect after a restart
                    // from the console, so the documented `resize2fs` would find no new space.
                    type: "online",
                    tags,
                },
                { ...cloudOpts, protect: keepData, retainOnDelete: keepData, ignoreChanges: keepLookedUpZone },
            );

            const snapshotRetentionDays = args.snapshotRetentionDays;
            if (snapshotRetentionDays > 0) {
                const policy = new alicloud.ecs.AutoSnapshotPolicy(
                    `${name}-snapshots`,
                    {
                        autoSnapshotPolicyName: `${namePrefix}-data`,
                        repeatWeekdays: ["1", "2", "3", "4", "5", "6", "7"],
                        timePoints: ["3"],
                        retentionDays: snapshotRetentionDays,
                        tags,
                    },
                    cloudOpts,
                );
                new alicloud.ecs.EcsAutoSnapshotPolicyAttachment(
                    `${name}-data-snapshots`,
                    { autoSnapshotPolicyId: policy.id, diskId: this.dataDisk.id },
                    cloudOpts,
                );
            }
        }

        const vm = (index: number): AlicloudReplica => {
            // The first VM keeps a single-VM stack's names (no diff when replicas are introduced);
            // the others are numbered, so each keeps its name as the count grows or shrinks.
            const named = (part: string) => (index === 1 ? `${name}-${part}` : `${name}-${index}-${part}`);
            const vmName = index === 1 ? namePrefix : `${namePrefix}-${index}`;
            const dataDisk = index === 1 ? this.dataDisk : undefined;
            const hostKey = new tls.PrivateKey(named("host-key"), { algorithm: "ED25519" }, { parent: this });
            // Secret: it carries the VM's SSH host private key.
            const userData = pulumi.secret(
                pulumi
                    .all([dataDisk?.id, hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh])
                    .apply(([diskId, privateKeyOpenssh, publicKeyOpenssh]) =>
                        Buffer.from(
                            renderCloudInit({
                                ...(diskId === undefined ? {} : { dataDiskSerial: alicloudDiskSerial(diskId), dataMountPath }),
                                hostKey: { privateKeyOpenssh, publicKeyOpenssh },
                                registryMirrors: args.registryMirrors,
                            }),
                        ).toString("base64"),
                    ),
            );
            const instance = new alicloud.ecs.Instance(
                named("vm"),
                {
                    instanceName: vmName,
                    hostName: vmName,
                    instanceType,
                    imageId,
                    vswitchId: vswitch.id,
                    securityGroups: [securityGroup.id],
                    keyName: keyPair.keyPairName,
                    userData,
                    internetChargeType: "PayByTraffic",
                    internetMaxBandwidthOut: args.internetMaxBandwidthOut ?? 100,
                    systemDiskCategory: "cloud_essd",
                    systemDiskSize: 40,
                    tags,
                },
                {
                    ...cloudOpts,
                    // cloud-init runs once per instance, and an in-place image change wipes the system
                    // disk under Pulumi's feet: both mean a new VM, so say so (the data disk stays).
                    replaceOnChanges: ["userData", ...(args.imageId === undefined ? [] : ["imageId"])],
                    // A looked-up type is kept too: changing it stops the VM.
                    ignoreChanges: [
                        ...(args.imageId === undefined ? ["imageId"] : []),
                        ...(args.instanceType === undefined ? ["instanceType"] : []),
                    ],
                },
            );

            const endpoint = {
                host: instance.publicIp,
                user: "root",
                privateKey: loginKey.privateKeyOpenssh,
                hostPublicKey: hostKey.publicKeyOpenssh,
            };
            let ready: command.remote.Command;
            if (dataDisk !== undefined) {
                // Detaching must wait for the old VM's disk to be released: delete before replace.
                const attachment = new alicloud.ecs.EcsDiskAttachment(
                    `${name}-data-attachment`,
                    {
                        diskId: dataDisk.id,
                        instanceId: instance.id,
                    },
                    { ...cloudOpts, deleteBeforeReplace: true },
                );
                // Replaced with the VM; its delete (on the old VM, before the disk is detached) stops
                // Docker and unmounts the disk, so the filesystem leaves clean. The attachment's ID is an
                // input, not only a `dependsOn`: a property dependency is what makes the engine replace
                // this command together with the attachment and delete it first (deleteBeforeReplace on
                // both), so the release runs while the disk is still attached to the old VM.
                ready = new command.remote.Command(
                    named("ready"),
                    {
                        connection: sshConnection(endpoint, DIAL_ATTEMPTS.newVm),
                        create: renderWaitUntilReadyScript({ dataMountPath }),
                        delete: renderReleaseDataDiskScript({ dataMountPath }),
                        triggers: [instance.id, dataDisk.id, attachment.id],
                    },
                    { parent: this, dependsOn: [attachment], deleteBeforeReplace: true },
                );
            } else {
                // No disk to release: the VM only has to finish its first boot.
                ready = new command.remote.Command(
                    named("ready"),
                    {
                        connection: sshConnection(endpoint, DIAL_ATTEMPTS.newVm),
                        create: renderWaitUntilReadyScript({}),
                        triggers: [instance.id],
                    },
                    { parent: this },
                );
            }
            return {
                index,
                instance,
                publicIp: instance.publicIp,
                provider: dockerOverSsh(named("docker"), { ...endpoint, readyWhen: ready.stdout }, this),
                ready: [ready],
                dataVolumeDriverOpts: dataDisk === undefined ? undefined : { type: "none", o: "bind", device: dataMountPath },
            };
        };
        this.replicas = Array.from({ length: replicaCount }, (_, i) => vm(i + 1));

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

/**
 * The instance type, zone and image: configured, else kept from the previous deployment, else
 * looked up. Only what is neither configured nor kept is looked up; a configured type is checked
 * against the ECS offer (ESSD system disk, in the zone when it is known) only when it is new.
 */
function choosePlacement(
    args: AlicloudHostArgs,
    kept: Partial<AlicloudPlacement>,
    dataDiskCategory: string,
    opts: pulumi.InvokeOutputOptions,
): pulumi.Output<AlicloudPlacement> {
    const region = args.region;
    const knownZone = args.zoneId ?? kept.zoneId;
    const offers = (filter: alicloud.ecs.GetInstanceTypesOutputArgs) =>
        alicloud.ecs
            .getInstanceTypesOutput(
                {
                    systemDiskCategory: SYSTEM_DISK_CATEGORY,
                    instanceChargeType: "PostPaid",
                    networkType: "Vpc",
                    ...filter,
                },
                opts,
            )
            .apply((found) => found.instanceTypes as InstanceTypeOffer[]);

    let instanceType: pulumi.Output<string>;
    if (args.instanceType !== undefined && args.instanceType === kept.instanceType) {
        instanceType = pulumi.output(args.instanceType);
    } else if (args.instanceType !== undefined) {
        const configured = args.instanceType;
        instanceType = offers({ instanceType: configured, availabilityZone: knownZone }).apply((found) => {
            if (!found.some((offer) => offer.id === configured)) {
                const where = knownZone === undefined ? region : `zone ${knownZone}`;
                throw new Error(
                    `alicloud.instanceType ${configured} is not sold in ${where} with an ESSD system disk; pick another type (\`aliyun ecs DescribeAvailableResource\` lists them)`,
                );
            }
            return configured;
        });
    } else if (kept.instanceType !== undefined) {
        instanceType = pulumi.output(kept.instanceType);
    } else {
        instanceType = offers({ ...DEFAULT_SHAPE, availabilityZone: knownZone, sortedBy: "Price" }).apply((found) =>
            chooseInstanceType(found, region),
        );
    }

    const zoneId =
        knownZone !== undefined
            ? pulumi.output(knownZone)
            : instanceType.apply((type) =>
                  alicloud
                      .getZonesOutput({ availableInstanceType: type, availableDiskCategory: dataDiskCategory }, opts)
                      .apply((found) =>
                          firstOf(
                              found.ids,
                              `no zone in ${region} offers ${type} with ${dataDiskCategory} disks; set alicloud.zoneId or alicloud.instanceType`,
                          ),
                      ),
              );

    const imageId =
        args.imageId ??
        kept.imageId ??
        instanceType.apply((type) =>
            alicloud.ecs
                .getImagesOutput({ owners: "system", nameRegex: DEBIAN_12_X64, mostRecent: true, instanceType: type }, opts)
                .apply((found) => firstOf(found.ids, `no public Debian 12 image in ${region} fits ${type}; set alicloud.imageId`)),
        );

    return pulumi
        .all([instanceType, zoneId, imageId])
        .apply(([type, zone, image]) => ({ instanceType: type, zoneId: zone, imageId: image }));
}

function firstOf(ids: string[], problem: string): string {
    if (ids.length === 0) throw new Error(problem);
    return ids[0];
}
