/**
 * The composition root: stack config → the host for the chosen mode (and its DNS records) →
 * the certificate → one PrivateRegistry → the stack outputs. Every mode composes the same
 * PrivateRegistry; only the host and the certificate differ.
 */
import * as pulumi from "@pulumi/pulumi";
import { AcmeCertificate } from "./components/certificates/acmeCertificate";
import { SelfSignedCertificate } from "./components/certificates/selfSignedCertificate";
import { readMirrorPassword, readRegistryStorage, readSshPrivateKey, readStackConfig } from "./components/config";
import { RegistryHost, RegistryStorage, ServerCertificate } from "./components/contracts";
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
 * The Docker host of the chosen mode, and the resources whose replacement brings up a new, empty
 * daemon (a new VM): every Docker resource is replaced with them.
 */
function deployTarget(): {
    host: RegistryHost;
    replacesDaemon: pulumi.Resource[];
    placement?: pulumi.Output<AlicloudPlacement>;
    /** alicloud replicas after the first: one more registry and edge each, behind the load balancer. */
    moreReplicas?: { host: RegistryHost; replacesDaemon: pulumi.Resource[] }[];
    alicloudHost?: AlicloudHost;
} {
    switch (config.mode) {
        case "local":
            return { host: new LocalDockerHost("local", { dockerHost: config.dockerHost }), replacesDaemon: [] };
        case "ssh": {
            const ssh = config.ssh!; // parseStackConfig guarantees it in ssh mode
            const host = new SshHost("ssh", {
                host: ssh.host,
                port: ssh.port,
                user: ssh.user,
                privateKey: readSshPrivateKey(),
                hostPublicKey: ssh.hostKey,
                registryMirrors: config.hostRegistryMirrors,
            });
            return { host, replacesDaemon: [] };
        }
        case "alicloud": {
            const cloud = config.alicloud!; // parseStackConfig guarantees it in alicloud mode
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
            const moreReplicas = host.replicas.slice(1).map((replica) => ({ host: replica, replacesDaemon: [replica.instance] }));
            return { host, replacesDaemon: [host.instance], placement: host.placement, moreReplicas, alicloudHost: host };
        }
    }
}

function serverCertificate(): ServerCertificate {
    if (config.acme !== undefined) {
        return new AcmeCertificate("tls", {
            dnsNames: servedNames,
            email: config.acme.email,
            server: config.acme.server,
            renewBeforeDays: config.certificateRenewBeforeDays,
            dnsProvider: config.acme.dnsProvider,
            recursiveNameservers: config.acme.recursiveNameservers,
            disableCompletePropagation: config.acme.disableCompletePropagation,
            dnsRegion: config.alicloud?.region,
        });
    }
    return new SelfSignedCertificate("tls", {
        dnsNames: servedNames,
        ipAddresses: config.ipAddresses,
        validityDays: config.certificateValidityDays,
        renewBeforeDays: config.certificateRenewBeforeDays,
    });
}

/** The bucket or the data volume; an `oss` bucket is created beside the alicloud host, in its region. */
function registryStorage(): RegistryStorage {
    if (config.storage.kind !== "oss") return readRegistryStorage(config.storage);
    const alicloudHost = target.alicloudHost!; // parseStackConfig allows kind "oss" in alicloud mode only
    return new OssRegistryStorage("storage", {
        bucketName: registryBucketName({
            namePrefix: config.namePrefix,
            project: pulumi.getProject(),
            stack: pulumi.getStack(),
            hostname: config.hostnames[0],
        }),
        region: config.alicloud!.region,
        provider: alicloudHost.alicloudProvider,
        namePrefix: config.namePrefix,
        retainDataOnDestroy: config.retainDataOnDestroy,
    }).storage;
}

const target = deployTarget();
const registryArgs: Omit<PrivateRegistryArgs, "host"> = {
    certificate: serverCertificate(),
    hostnames: config.hostnames,
    ipAddresses: config.ipAddresses,
    uiHostname: config.uiHostname,
    httpsPort: config.httpsPort,
    httpPort: config.httpPort,
    users: config.users,
    passwordRotation: config.passwordRotation,
    deleteEnabled: config.deleteEnabled,
    retainDataOnDestroy: config.retainDataOnDestroy,
    storage: registryStorage(),
    containerNetwork: config.containerNetwork,
    metricsPort: config.metricsPort,
    uiPort: config.uiPort,
    listenIpv6: config.listenIpv6,
    namePrefix: config.namePrefix,
    images: config.images,
    gc: config.gc,
    mirror: config.mirror && {
        upstream: config.mirror.upstream,
        username: config.mirror.username,
        password: config.mirror.hasPassword ? readMirrorPassword() : undefined,
        hostname: config.mirror.hostname,
        httpsPort: config.mirror.httpsPort,
        k3sRewrites: config.mirror.k3sRewrites,
    },
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
