/**
 * One ECS VM running Docker for a replica of the registry and edge: its SSH host key (generated
 * here and handed to cloud-init, so even the first connection is verified), the instance, its
 * data disk's attachment when it has one, the command that waits for its first boot (and, with a
 * disk, releases it cleanly before the VM is replaced), and Docker over SSH to it.
 */
import * as alicloud from "@pulumi/alicloud";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { RegistryHost } from "../contracts";
import { alicloudDiskSerial, renderCloudInit } from "../render/cloudInit";
import { renderReleaseDataDiskScript, renderWaitUntilReadyScript } from "../render/hostScripts";
import type { AlicloudPlacement } from "./alicloudPlacement";
import { DIAL_ATTEMPTS, dockerOverSsh, sshConnection } from "./dockerOverSsh";

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

export interface AlicloudVmArgs {
    /** The configured image (`alicloud.imageId`): a change replaces the VM. Unset: the looked-up one, kept. */
    imageId?: string;
    /** The configured instance type (`alicloud.instanceType`). Unset: the looked-up one, kept. */
    instanceType?: string;
    /** The instance type and image the VM runs, as chosen (alicloudPlacement.ts). */
    placement: pulumi.Output<AlicloudPlacement>;
    /** The Alibaba Cloud provider of the host's region. */
    provider: alicloud.Provider;
    /** Prefix of the VM's name (and host name). */
    namePrefix: string;
    /** Tags of every cloud resource of the host. */
    tags: Record<string, string>;
    /** The vSwitch the VM's network interface is in (the host's VPC, the placement's zone). */
    vswitchId: pulumi.Input<string>;
    /** The security group that opens only the edge's ports, and SSH to the admin network. */
    securityGroupId: pulumi.Input<string>;
    /** The key pair root logs in with, and its private key (secret), for Docker over SSH. */
    keyName: pulumi.Input<string>;
    loginPrivateKey: pulumi.Input<string>;
    /** The data disk this VM attaches and mounts at `dataMountPath` (the first VM, blobs on disk). Unset: none. */
    dataDisk?: alicloud.ecs.EcsDisk;
    /** Where cloud-init mounts the data disk, and what the registry's volume binds. */
    dataMountPath: string;
    /** Docker's `registry-mirrors` on the VM, set before the first pull. Default: none. */
    registryMirrors?: string[];
    /** Outbound bandwidth cap in Mbit/s of the VM's public IP. Default: 100. */
    internetMaxBandwidthOut?: number;
}

/**
 * VM number `index` of the host `name`, its resources parented to `parent` (the host). The first
 * VM keeps a single-VM stack's names (no diff when replicas are introduced); the others are
 * numbered, so each keeps its name as the count grows or shrinks.
 */
export function alicloudVm(parent: pulumi.Resource, name: string, index: number, args: AlicloudVmArgs): AlicloudReplica {
    const cloudOpts = { parent, provider: args.provider };
    const named = (part: string) => (index === 1 ? `${name}-${part}` : `${name}-${index}-${part}`);
    const vmName = index === 1 ? args.namePrefix : `${args.namePrefix}-${index}`;
    const hostKey = new tls.PrivateKey(named("host-key"), { algorithm: "ED25519" }, { parent });
    // Secret: it carries the VM's SSH host private key.
    const userData = pulumi.secret(
        pulumi
            .all([args.dataDisk?.id, hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh])
            .apply(([diskId, privateKeyOpenssh, publicKeyOpenssh]) =>
                Buffer.from(
                    renderCloudInit({
                        ...(diskId === undefined ? {} : { dataDiskSerial: alicloudDiskSerial(diskId), dataMountPath: args.dataMountPath }),
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
            instanceType: args.placement.instanceType,
            imageId: args.placement.imageId,
            vswitchId: args.vswitchId,
            securityGroups: [args.securityGroupId],
            keyName: args.keyName,
            userData,
            internetChargeType: "PayByTraffic",
            internetMaxBandwidthOut: args.internetMaxBandwidthOut ?? 100,
            systemDiskCategory: "cloud_essd",
            systemDiskSize: 40,
            tags: args.tags,
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
        privateKey: args.loginPrivateKey,
        hostPublicKey: hostKey.publicKeyOpenssh,
    };
    let ready: command.remote.Command;
    if (args.dataDisk !== undefined) {
        // Detaching must wait for the old VM's disk to be released: delete before replace.
        const attachment = new alicloud.ecs.EcsDiskAttachment(
            `${name}-data-attachment`,
            {
                diskId: args.dataDisk.id,
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
                create: renderWaitUntilReadyScript({ dataMountPath: args.dataMountPath }),
                delete: renderReleaseDataDiskScript({ dataMountPath: args.dataMountPath }),
                triggers: [instance.id, args.dataDisk.id, attachment.id],
            },
            { parent, dependsOn: [attachment], deleteBeforeReplace: true },
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
            { parent },
        );
    }
    return {
        index,
        instance,
        publicIp: instance.publicIp,
        provider: dockerOverSsh(named("docker"), { ...endpoint, readyWhen: ready.stdout }, parent),
        ready: [ready],
        dataVolumeDriverOpts: args.dataDisk === undefined ? undefined : { type: "none", o: "bind", device: args.dataMountPath },
    };
}
