/**
 * The whole deployment from validated settings: the host for the chosen mode (and its DNS
 * records) → the certificate → one PrivateRegistry per host → what clients need. Every mode
 * composes the same PrivateRegistry; only the host and the certificate differ. The stack
 * (index.ts) deploys it at its root; the ContainerRegistry component deploys it under itself.
 */
import * as pulumi from "@pulumi/pulumi";
import { AcmeCertificate } from "./certificates/acmeCertificate";
import { SelfSignedCertificate } from "./certificates/selfSignedCertificate";
import { AlicloudStackConfig, RegistryStorage, registryStorage, StackConfig, StackSecrets } from "./config";
import { RegistryHost, ServerCertificate } from "./contracts";
import { UserCredential } from "./credentials/registryCredentials";
import { AlidnsRecords } from "./dns/alidnsRecords";
import { AlicloudHost } from "./hosts/alicloudHost";
import { AlicloudPlacement } from "./hosts/alicloudPlacement";
import { followingDaemon } from "./hosts/daemonReplacement";
import { LocalDockerHost } from "./hosts/localHost";
import { SshHost } from "./hosts/sshHost";
import { ClientSnippets, PrivateRegistry, PrivateRegistryArgs } from "./privateRegistry";
import { registryBucketName } from "./render/ossPolicy";
import { OssRegistryStorage } from "./storage/ossStorage";

/**
 * Where the resources go: `parent` (a component), or the stack's root when unset; `name` makes
 * each resource's name from its part (`tls`, `registry`): the stack's are the parts themselves,
 * so its resources keep the names (and URNs) they always had.
 */
export interface DeploymentScope {
    parent?: pulumi.Resource;
    name: (part: string) => string;
}

/** What the deployment hands its clients: the stack's outputs (components/outputs.ts describes each). */
export interface RegistryDeployment {
    registryEndpoint: string;
    uiEndpoint: string;
    caCertificate: pulumi.Output<string | undefined>;
    /** Secret. */
    credentials: pulumi.Output<UserCredential[]>;
    clientSnippets: ClientSnippets;
    mirrorEndpoint?: string;
    /** alicloud mode: the instance type, zone and image the VM runs on, read back by the next run (PLACEMENT_OUTPUT). */
    alicloudPlacement?: pulumi.Output<AlicloudPlacement>;
}

/**
 * Where the registry runs: the Docker host of the chosen mode, where its blobs live, and the
 * resources whose replacement brings up a new, empty daemon (a new VM): every Docker resource is
 * replaced with them.
 */
interface DeployTarget {
    host: RegistryHost;
    replacesDaemon: pulumi.Resource[];
    storage: RegistryStorage;
    placement?: pulumi.Output<AlicloudPlacement>;
    /** alicloud replicas after the first: one more registry and edge each, behind the load balancer. */
    moreReplicas?: { host: RegistryHost; replacesDaemon: pulumi.Resource[] }[];
}

/** Every name the certificate and the DNS records cover. */
function servedNames(config: StackConfig): string[] {
    return [
        ...config.hostnames,
        ...(config.uiHostname ? [config.uiHostname] : []),
        ...(config.mirror?.hostname ? [config.mirror.hostname] : []),
    ];
}

function deployTarget(scope: DeploymentScope, config: StackConfig, secrets: StackSecrets): DeployTarget {
    const opts = { parent: scope.parent };
    switch (config.mode) {
        case "local":
            return {
                host: new LocalDockerHost(scope.name("local"), { dockerHost: config.dockerHost }, opts),
                replacesDaemon: [],
                storage: registryStorage(config.storage, secrets.s3Keys),
            };
        case "ssh": {
            if (secrets.sshPrivateKey === undefined) throw new Error("ssh mode without sshPrivateKey: the validator requires it");
            const host = new SshHost(
                scope.name("ssh"),
                {
                    host: config.ssh.host,
                    port: config.ssh.port,
                    user: config.ssh.user,
                    privateKey: secrets.sshPrivateKey,
                    hostPublicKey: config.ssh.hostKey,
                    registryMirrors: config.hostRegistryMirrors,
                },
                opts,
            );
            return { host, replacesDaemon: [], storage: registryStorage(config.storage, secrets.s3Keys) };
        }
        case "alicloud":
            return alicloudTarget(scope, config, secrets);
    }
}

/** The VMs (behind a load balancer with replicas), their DNS records, and an OSS bucket beside them with `storage.kind: oss`. */
function alicloudTarget(scope: DeploymentScope, config: AlicloudStackConfig, secrets: StackSecrets): DeployTarget {
    const opts = { parent: scope.parent };
    const cloud = config.alicloud;
    const host = new AlicloudHost(
        scope.name("alicloud"),
        {
            ...cloud,
            httpsPort: config.httpsPort,
            httpPort: config.httpPort,
            namePrefix: config.namePrefix,
            retainDataOnDestroy: config.retainDataOnDestroy,
            registryMirrors: config.hostRegistryMirrors,
            mirrorHttpsPort: config.mirror && config.mirror.hostname === undefined ? config.mirror.httpsPort : undefined,
            replicas: config.replicas,
            objectStorage: config.storage.kind !== "filesystem",
        },
        opts,
    );
    new AlidnsRecords(
        scope.name("dns"),
        { zone: cloud.dnsZone, hostnames: servedNames(config), address: host.address, provider: host.alicloudProvider },
        opts,
    );
    const storage =
        config.storage.kind !== "oss"
            ? registryStorage(config.storage, secrets.s3Keys)
            : new OssRegistryStorage(
                  scope.name("storage"),
                  {
                      bucketName: registryBucketName({
                          namePrefix: config.namePrefix,
                          project: pulumi.getProject(),
                          stack: pulumi.getStack(),
                          hostname: config.hostnames[0],
                      }),
                      region: cloud.region,
                      provider: host.alicloudProvider,
                      namePrefix: config.namePrefix,
                      retainDataOnDestroy: config.retainDataOnDestroy,
                  },
                  opts,
              ).storage;
    const moreReplicas = host.replicas.slice(1).map((replica) => ({ host: replica, replacesDaemon: [replica.instance] }));
    return { host, replacesDaemon: [host.instance], storage, placement: host.placement, moreReplicas };
}

function serverCertificate(scope: DeploymentScope, config: StackConfig): ServerCertificate {
    const opts = { parent: scope.parent };
    if (config.acme !== undefined) {
        return new AcmeCertificate(
            scope.name("tls"),
            {
                ...config.acme,
                dnsNames: servedNames(config),
                renewBeforeDays: config.certificateRenewBeforeDays,
                dnsRegion: config.mode === "alicloud" ? config.alicloud.region : undefined,
            },
            opts,
        );
    }
    return new SelfSignedCertificate(
        scope.name("tls"),
        {
            dnsNames: servedNames(config),
            ipAddresses: config.ipAddresses,
            validityDays: config.certificateValidityDays,
            renewBeforeDays: config.certificateRenewBeforeDays,
        },
        opts,
    );
}

/** Every secret a Pulumi secret, however it was handed over (a component's caller may pass plain text). */
function keptSecret({ sshPrivateKey, mirrorPassword, s3Keys, notificationHeaders }: StackSecrets): StackSecrets {
    const secret = <T>(value: pulumi.Input<T> | undefined) => (value === undefined ? undefined : pulumi.secret(value));
    return {
        sshPrivateKey: secret(sshPrivateKey),
        mirrorPassword: secret(mirrorPassword),
        s3Keys: s3Keys && { accessKeyId: pulumi.secret(s3Keys.accessKeyId), secretAccessKey: pulumi.secret(s3Keys.secretAccessKey) },
        notificationHeaders: secret(notificationHeaders),
    };
}

/** Deploys the registry `config` describes, with the secrets it says it needs, in `scope`. */
export function deployRegistry(scope: DeploymentScope, config: StackConfig, given: StackSecrets): RegistryDeployment {
    const secrets = keptSecret(given);
    const target = deployTarget(scope, config, secrets);
    const registryArgs: Omit<PrivateRegistryArgs, "host"> = {
        settings: config,
        certificate: serverCertificate(scope, config),
        storage: target.storage,
        mirrorPassword: config.mirror?.hasPassword ? secrets.mirrorPassword : undefined,
        notificationHeaders: secrets.notificationHeaders,
    };
    const registry = new PrivateRegistry(
        scope.name("registry"),
        { ...registryArgs, host: target.host },
        { ...followingDaemon(target.replacesDaemon), parent: scope.parent },
    );
    // Replicas 2..N: the same registry and edge on each VM, with the first one's users and http.secret.
    for (const [i, replica] of (target.moreReplicas ?? []).entries()) {
        new PrivateRegistry(
            scope.name(`registry-${i + 2}`),
            { ...registryArgs, host: replica.host, sharedCredentials: registry.registryCredentials },
            { ...followingDaemon(replica.replacesDaemon), parent: scope.parent },
        );
    }
    return {
        registryEndpoint: registry.registryEndpoint,
        uiEndpoint: registry.uiEndpoint,
        caCertificate: registry.caCertificate,
        credentials: registry.credentials,
        clientSnippets: registry.clientSnippets,
        mirrorEndpoint: registry.mirrorEndpoint,
        alicloudPlacement: target.placement,
    };
}
