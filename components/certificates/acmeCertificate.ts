import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import * as acme from "@pulumiverse/acme";
import type { AcmeServer, AcmeSettings } from "../config/types";
import { ServerCertificate } from "../contracts";

/** Let's Encrypt's ACME directories. Staging certificates are not trusted by clients. */
export const ACME_DIRECTORIES = {
    staging: "https://acme-staging-v02.api.letsencrypt.org/directory",
    production: "https://acme-v02.api.letsencrypt.org/directory",
} as const satisfies Record<Exclude<AcmeServer, `https://${string}`>, string>;

/** The directory URL of a server given by name or URL. */
export function acmeDirectoryUrl(server: AcmeServer): string {
    return server === "staging" || server === "production" ? ACME_DIRECTORIES[server] : server;
}

/**
 * The part of the ACME resources' names that says which CA they belong to: the Let's Encrypt
 * server's name, or for a URL its host and a digest of the whole URL (two directories on one
 * host are two CAs).
 */
export function acmeServerLabel(server: AcmeServer): string {
    if (server === "staging" || server === "production") return server;
    const host = new URL(server).hostname.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "");
    return `${host}-${createHash("sha256").update(server).digest("hex").slice(0, 8)}`;
}

/** The `acme` settings (email, server, DNS provider, resolvers: AcmeSettings says what each is), and: */
export interface AcmeCertificateArgs extends AcmeSettings {
    /** Names the certificate covers; the first is its common name. Required. */
    dnsNames: string[];
    /**
     * Renew on the first `pulumi up` with this many whole days or fewer left (the acme provider's
     * `minDaysRemaining`).
     */
    renewBeforeDays: number;
    /** alidns only: the region of the Alidns API calls (lego's ALICLOUD_REGION_ID). Default: lego's, `cn-hangzhou`. */
    dnsRegion?: string;
    /** alidns only: how long to wait for the TXT records to be visible, in seconds. Default: 600. */
    propagationTimeoutSeconds?: number;
}

/**
 * A certificate from an ACME CA (Let's Encrypt by default), proved with the DNS-01 challenge: it
 * needs no open port and no running host, so it is issued in parallel with the host and works for
 * a LAN registry with a public name too. The TXT records are published by the lego DNS provider
 * `dnsProvider`, whose credentials come from the environment (ALICLOUD_ACCESS_KEY and
 * ALICLOUD_SECRET_KEY for alidns, CLOUDFLARE_DNS_API_TOKEN, TENCENTCLOUD_SECRET_ID, ...): the
 * acme provider's DNS plugin inherits the environment of `pulumi`, so nothing secret is an input.
 *
 * Renewal: a `pulumi up` inside the renew window updates the certificate in place (same
 * resource, new serial); the edge gets it as an uploaded file, which replaces the edge
 * container, and nginx starts with it.
 */
export class AcmeCertificate extends pulumi.ComponentResource implements ServerCertificate {
    readonly certificateChainPem: pulumi.Output<string>;
    readonly privateKeyPem: pulumi.Output<string>;
    /** Public CA: clients trust it already (a private ACME CA's root is the clients' business). */
    readonly caCertificatePem: undefined = undefined;

    constructor(name: string, args: AcmeCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:AcmeCertificate", name, {}, opts);
        const [commonName, ...alternativeNames] = args.dnsNames;
        if (commonName === undefined) throw new Error("AcmeCertificate needs at least one DNS name");
        const { server, dnsProvider } = args;

        const accountKey = new tls.PrivateKey(`${name}-account-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        // The server is in the names: an account and its certificates belong to one CA, so
        // moving from staging to production creates new ones (and removes the old ones from the
        // old CA) instead of asking production about a staging account.
        const label = acmeServerLabel(server);
        const provider = new acme.Provider(`${name}-${label}`, { serverUrl: acmeDirectoryUrl(server) }, { parent: this });
        const acmeOpts = { parent: this, provider };
        const account = new acme.Registration(
            `${name}-${label}-account`,
            {
                accountKeyPem: accountKey.privateKeyPem,
                emailAddress: args.email,
            },
            acmeOpts,
        );

        // Settings only, never credentials: this map is stored in the state (as a secret).
        const dnsConfig: Record<string, string> =
            dnsProvider === "alidns"
                ? {
                      ALICLOUD_PROPAGATION_TIMEOUT: String(args.propagationTimeoutSeconds ?? 600),
                      ALICLOUD_POLLING_INTERVAL: "10",
                      ...(args.dnsRegion === undefined ? {} : { ALICLOUD_REGION_ID: args.dnsRegion }),
                  }
                : {};
        const certificate = new acme.Certificate(
            `${name}-${label}-certificate`,
            {
                accountKeyPem: account.accountKeyPem,
                commonName,
                subjectAlternativeNames: alternativeNames,
                keyType: "P256",
                minDaysRemaining: args.renewBeforeDays,
                dnsChallenges: [{ provider: dnsProvider, ...(Object.keys(dnsConfig).length > 0 ? { config: dnsConfig } : {}) }],
                ...(args.recursiveNameservers.length > 0 ? { recursiveNameservers: args.recursiveNameservers } : {}),
                ...(args.disableCompletePropagation ? { disableCompletePropagation: true } : {}),
            },
            acmeOpts,
        );

        this.certificateChainPem = pulumi
            .all([certificate.certificatePem, certificate.issuerPem])
            .apply(([leaf, issuer]) => `${leaf.trimEnd()}\n${issuer.trimEnd()}\n`);
        this.privateKeyPem = pulumi.secret(certificate.privateKeyPem);
        this.registerOutputs({ certificateChainPem: this.certificateChainPem });
    }
}
