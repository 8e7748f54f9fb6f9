/**
 * The mode switch: which host, DNS and certificate each `mode` uses. Everything else (registry,
 * UI, edge, credentials, snippets) is the same PrivateRegistry in every mode.
 */
import * as pulumi from "@pulumi/pulumi";
import { AcmeCertificate } from "./acmeCertificate";
import { AlidnsRecords } from "./alicloudDns";
import { AlicloudHost } from "./alicloudHost";
import { readSshPrivateKey, StackConfig } from "./config";
import { RegistryHost, ServerCertificate } from "./contracts";
import { LocalDockerHost } from "./localHost";
import { SelfSignedCertificate } from "./selfSignedCertificate";
import { SshHost } from "./sshHost";

/** A host, plus what replacing it means for the resources deployed onto it. */
export interface ModeHost {
    host: RegistryHost;
    /**
     * Resources whose replacement brings up a new, empty Docker daemon (a new VM). Every Docker
     * resource is then replaced with them: otherwise Pulumi would believe the containers still
     * run on the old one. Empty: the daemon outlives every update.
     */
    replacesDaemon: pulumi.Resource[];
}

/** Every name the certificate and the DNS records must cover. */
export function servedNames(config: StackConfig): string[] {
    return [...config.hostnames, ...(config.uiHostname ? [config.uiHostname] : [])];
}

export function hostFor(config: StackConfig): ModeHost {
    switch (config.mode) {
        case "local":
            return { host: new LocalDockerHost("local", { dockerHost: config.dockerHost }), replacesDaemon: [] };
        case "ssh": {
            // parseStackConfig guarantees the ssh settings in ssh mode.
            const ssh = config.ssh!;
            const host = new SshHost("ssh", {
                host: ssh.host,
                port: ssh.port,
                user: ssh.user,
                privateKey: readSshPrivateKey(),
                hostPublicKey: ssh.hostKey,
            });
            return { host, replacesDaemon: [] };
        }
        case "alicloud": {
            // parseStackConfig guarantees the alicloud settings in alicloud mode.
            const settings = config.alicloud!;
            const host = new AlicloudHost("alicloud", {
                ...settings,
                httpsPort: config.httpsPort,
                httpPort: config.httpPort,
                namePrefix: config.namePrefix,
                retainDataOnDestroy: config.retainDataOnDestroy,
            });
            new AlidnsRecords("dns", { zone: settings.dnsZone, hostnames: servedNames(config), address: host.address, provider: host.alicloudProvider });
            return { host, replacesDaemon: [host.instance] };
        }
    }
}

export function certificateFor(config: StackConfig): ServerCertificate {
    if (config.acme !== undefined) {
        return new AcmeCertificate("tls", {
            dnsNames: servedNames(config),
            email: config.acme.email,
            server: config.acme.server,
            renewBeforeDays: config.certificateRenewBeforeDays,
            dnsRegion: config.alicloud?.region,
        });
    }
    return new SelfSignedCertificate("tls", {
        dnsNames: servedNames(config),
        ipAddresses: config.ipAddresses,
        validityDays: config.certificateValidityDays,
        renewBeforeDays: config.certificateRenewBeforeDays,
    });
}

/**
 * Adds `replaceWith` to every Docker resource below the component it is given to. Applied to
 * PrivateRegistry, so the registry's own code stays the same in every mode.
 */
export function followDaemonReplacement(replacesDaemon: pulumi.Resource[]): pulumi.ResourceTransformation {
    return (args) => {
        if (!args.type.startsWith("docker:") || replacesDaemon.length === 0) return undefined;
        const replaceWith = [...(args.opts.replaceWith ?? []), ...replacesDaemon];
        return { props: args.props, opts: { ...args.opts, replaceWith } };
    };
}

/** PrivateRegistry's resource options in this mode. */
export function registryOptionsFor(modeHost: ModeHost): pulumi.ComponentResourceOptions {
    return modeHost.replacesDaemon.length === 0 ? {} : { transformations: [followDaemonReplacement(modeHost.replacesDaemon)] };
}
