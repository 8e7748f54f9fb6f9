/**
 * The composition root: stack config → the host for the chosen mode (and its DNS records) →
 * the certificate → one PrivateRegistry → the stack outputs. Every mode composes the same
 * PrivateRegistry; only the host and the certificate differ.
 */
import * as pulumi from "@pulumi/pulumi";
import { AcmeCertificate } from "./components/certificates/acmeCertificate";
import { SelfSignedCertificate } from "./components/certificates/selfSignedCertificate";
import {
    AlicloudStackConfig,
    readMirrorPassword,
    readNotificationHeaders,
    readRegistryStorage,
    readSshPrivateKey,
    readStackConfig,
    RegistryStorage,
    StackConfig,
} from "./components/config";
import { RegistryHost, ServerCertificate } from "./components/contracts";
import { AlidnsRecords } from "./components/dns/alidnsRecords";
import { AlicloudHost } from "./components/hosts/alicloudHost";
import { AlicloudPlacement } from "./components/hosts/alicloudPlacement";
import { followingDaemon } from "./components/hosts/daemonReplacement";
import { LocalDockerHost } from "./components/hosts/localHost";
import { SshHost } from "./components/hosts/sshHost";
import { PrivateRegistry, PrivateRegistryArgs } from "./components/privateRegistry";
import { registryBucketName } from "./components/render/ossPolicy";
import { OssRegistryStorage } from "./components/storage/ossStorage";

const config = readStackConfig();
/** Every name the certificate and the DNS records cover. */
const servedNames = [
    ...config.hostnames,
    ...(config.uiHostname ? [config.uiHostname] : []),
    ...(config.mirror?.hostname ? [config.mirror.hostname] : []),
];

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

function deployTarget(config: StackConfig): DeployTarget {
    switch (config.mode) {
        case "local":
            return {
                host: new LocalDockerHost("local", { dockerHost: config.dockerHost }),
                replacesDaemon: [],
                storage: readRegistryStorage(config.storage),
            };
        case "ssh": {
            const host = new SshHost("ssh", {
                host: config.ssh.host,
                port: config.ssh.port,
                user: config.ssh.user,
                privateKey: readSshPrivateKey(),
                hostPublicKey: config.ssh.hostKey,
                registryMirrors: config.hostRegistryMirrors,
            });
            return { host, replacesDaemon: [], storage: readRegistryStorage(config.storage) };
        }
        case "alicloud":
            return alicloudTarget(config);
    }
}

/** The VMs (behind a load balancer with replicas), their DNS records, and an OSS bucket beside them with `storage.kind: oss`. */
function alicloudTarget(config: AlicloudStackConfig): DeployTarget {
    const cloud = config.alicloud;
    const host = new AlicloudHost("alicloud", {
        ...cloud,
        httpsPort: config.httpsPort,
        httpPort: config.httpPort,
        namePrefix: config.namePrefix,
        retainDataOnDestroy: config.retainDataOnDestroy,
        registryMirrors: config.hostRegistryMirrors,
        mirrorHttpsPort: config.mirror && config.mirror.hostname === undefined ? config.mirror.httpsPort : undefined,
        replicas: config.replicas,
        objectStorage: config.storage.kind !== "filesystem",
    });
    new AlidnsRecords("dns", {
        zone: cloud.dnsZone,
        hostnames: servedNames,
        address: host.address,
        provider: host.alicloudProvider,
    });
    const storage =
        config.storage.kind !== "oss"
            ? readRegistryStorage(config.storage)
            : new OssRegistryStorage("storage", {
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
              }).storage;
    const moreReplicas = host.replicas.slice(1).map((replica) => ({ host: replica, replacesDaemon: [replica.instance] }));
    return { host, replacesDaemon: [host.instance], storage, placement: host.placement, moreReplicas };
}

function serverCertificate(config: StackConfig): ServerCertificate {
    if (config.acme !== undefined) {
        return new AcmeCertificate("tls", {
            ...config.acme,
            dnsNames: servedNames,
            renewBeforeDays: config.certificateRenewBeforeDays,
            dnsRegion: config.mode === "alicloud" ? config.alicloud.region : undefined,
        });
    }
    return new SelfSignedCertificate("tls", {
        dnsNames: servedNames,
        ipAddresses: config.ipAddresses,
        validityDays: config.certificateValidityDays,
        renewBeforeDays: config.certificateRenewBeforeDays,
    });
}

const target = deployTarget(config);
const registryArgs: Omit<PrivateRegistryArgs, "host"> = {
    settings: config,
    certificate: serverCertificate(config),
    storage: target.storage,
    mirrorPassword: config.mirror?.hasPassword ? readMirrorPassword() : undefined,
    notificationHeaders: readNotificationHeaders(config.notifications),
};
const registry = new PrivateRegistry("registry", { ...registryArgs, host: target.host }, followingDaemon(target.replacesDaemon));
// Replicas 2..N: the same registry and edge on each VM, with the first one's users and http.secret.
for (const [i, replica] of (target.moreReplicas ?? []).entries()) {
    new PrivateRegistry(
        `registry-${i + 2}`,
        { ...registryArgs, host: replica.host, sharedCredentials: registry.registryCredentials },
        followingDaemon(replica.replacesDaemon),
    );
}

export const registryEndpoint = registry.registryEndpoint;
export const uiEndpoint = registry.uiEndpoint;
export const caCertificate = registry.caCertificate;
export const credentials = registry.credentials;
export const clientSnippets = registry.clientSnippets;
/** alicloud mode: the instance type, zone and image the VM runs on, read back by the next run (PLACEMENT_OUTPUT). */
export const alicloudPlacement = target.placement;
export const mirrorEndpoint = registry.mirrorEndpoint;
