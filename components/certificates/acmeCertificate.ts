import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import * as acme from "@pulumiverse/acme";
import { DEFAULTS } from "../config/defaults";
import { ServerCertificate } from "../contracts";

/** Which Let's Encrypt: `staging` (untrusted certificates, generous rate limits) or `production`. */
export type AcmeServer = "staging" | "production";

/** Let's Encrypt's ACME directories. Staging certificates are not trusted by clients. */
export const ACME_DIRECTORIES: Record<AcmeServer, string> = {
    staging: "https://acme-staging-v02.api.letsencrypt.org/directory",
    production: "https://acme-v02.api.letsencrypt.org/directory",
};

export interface AcmeCertificateArgs {
    /** Names the certificate covers; the first is its common name. Required. */
    dnsNames: string[];
    /** The ACME account's contact email. Required. */
    email: string;
    /** Let's Encrypt `staging` or `production`. Default: `staging`. */
    server?: AcmeServer;
    /** Renew on the first `pulumi up` with fewer days than this left. Default: 30. */
    renewBeforeDays?: number;
    /** Region of the Alidns API calls (lego's ALICLOUD_REGION_ID). Default: lego's, `cn-hangzhou`. */
    dnsRegion?: string;
    /** How long to wait for the challenge TXT records to be visible, in seconds. Default: 600. */
    propagationTimeoutSeconds?: number;
}

/**
 * A Let's Encrypt certificate, proved with the DNS-01 challenge on Alidns: it needs no open port
 * and no running VM, so it is issued in parallel with the host. The Alidns credentials come from
 * the environment (ALICLOUD_ACCESS_KEY, ALICLOUD_SECRET_KEY, optionally ALICLOUD_SECURITY_TOKEN),
 * never from the program, so they stay out of the state.
 *
 * Renewal: a `pulumi up` with fewer than `renewBeforeDays` left re-issues the certificate; the
 * edge gets it as an uploaded file, which replaces the edge container, and nginx starts with it.
 */
export class AcmeCertificate extends pulumi.ComponentResource implements ServerCertificate {
    readonly certificateChainPem: pulumi.Output<string>;
    readonly privateKeyPem: pulumi.Output<string>;
    /** Public CA: clients trust it already. */
    readonly caCertificatePem: undefined = undefined;

    constructor(name: string, args: AcmeCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:AcmeCertificate", name, {}, opts);
        const [commonName, ...alternativeNames] = args.dnsNames;
        if (commonName === undefined) throw new Error("AcmeCertificate needs at least one DNS name");
        const server = args.server ?? DEFAULTS.acme.server;

        const accountKey = new tls.PrivateKey(`${name}-account-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        // The server is in the names: an account and its certificates belong to one CA, so
        // moving from staging to production creates new ones (and removes the old ones from the
        // old CA) instead of asking production about a staging account.
        const provider = new acme.Provider(`${name}-${server}`, { serverUrl: ACME_DIRECTORIES[server] }, { parent: this });
        const acmeOpts = { parent: this, provider };
        const account = new acme.Registration(`${name}-${server}-account`, {
            accountKeyPem: accountKey.privateKeyPem,
            emailAddress: args.email,
        }, acmeOpts);

        const dnsConfig: Record<string, string> = {
            ALICLOUD_PROPAGATION_TIMEOUT: String(args.propagationTimeoutSeconds ?? 600),
            ALICLOUD_POLLING_INTERVAL: "10",
            ...(args.dnsRegion === undefined ? {} : { ALICLOUD_REGION_ID: args.dnsRegion }),
        };
        const certificate = new acme.Certificate(`${name}-${server}-certificate`, {
            accountKeyPem: account.accountKeyPem,
            commonName,
            subjectAlternativeNames: alternativeNames,
            keyType: "P256",
            minDaysRemaining: args.renewBeforeDays ?? DEFAULTS.certificateRenewBeforeDays,
            dnsChallenges: [{ provider: "alidns", config: dnsConfig }],
        }, acmeOpts);

        this.certificateChainPem = pulumi.all([certificate.certificatePem, certificate.issuerPem]).apply(([leaf, issuer]) =>
            `${leaf.trimEnd()}\n${issuer.trimEnd()}\n`);
        this.privateKeyPem = pulumi.secret(certificate.privateKeyPem);
        this.registerOutputs({ certificateChainPem: this.certificateChainPem });
    }
}
