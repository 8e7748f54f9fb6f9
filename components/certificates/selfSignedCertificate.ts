import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { ServerCertificate } from "../contracts";

export interface SelfSignedCertificateArgs {
    /** DNS names the server certificate covers (subjectAltName). */
    dnsNames: string[];
    /** IP addresses it covers, e.g. a LAN IP that boards pull from. */
    ipAddresses: string[];
    /** Server certificate lifetime in days. */
    validityDays: number;
    /** Re-issue on the first `pulumi up` this many days before expiry. */
    renewBeforeDays: number;
    /** CA lifetime in years; clients must re-trust a new CA, so it is long. Default: 10. */
    caValidityYears?: number;
    /** Organization in both subjects. Default: `private-registry`. */
    organization?: string;
}

const HOURS_PER_DAY = 24;

/**
 * A private CA and a server certificate signed by it. Clients trust the CA once (the client
 * snippets install it); the server certificate renews on `pulumi up` inside its renewal window
 * without clients noticing, because the CA stays the same.
 */
export class SelfSignedCertificate extends pulumi.ComponentResource implements ServerCertificate {
    readonly certificateChainPem: pulumi.Output<string>;
    readonly privateKeyPem: pulumi.Output<string>;
    readonly caCertificatePem: pulumi.Output<string>;

    constructor(name: string, args: SelfSignedCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:SelfSignedCertificate", name, {}, opts);
        const organization = args.organization ?? "private-registry";
        const caValidityDays = (args.caValidityYears ?? 10) * 365;

        const caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        const ca = new tls.SelfSignedCert(
            `${name}-ca`,
            {
                privateKeyPem: caKey.privateKeyPem,
                isCaCertificate: true,
                subject: { commonName: `${organization} CA`, organization },
                validityPeriodHours: caValidityDays * HOURS_PER_DAY,
                earlyRenewalHours: 365 * HOURS_PER_DAY,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
            },
            { parent: this },
        );

        const serverKey = new tls.PrivateKey(`${name}-server-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        const request = new tls.CertRequest(
            `${name}-server-csr`,
            {
                privateKeyPem: serverKey.privateKeyPem,
                subject: { commonName: args.dnsNames[0] ?? args.ipAddresses[0], organization },
                dnsNames: args.dnsNames,
                ipAddresses: args.ipAddresses,
            },
            { parent: this },
        );
        const server = new tls.LocallySignedCert(
            `${name}-server`,
            {
                certRequestPem: request.certRequestPem,
                caPrivateKeyPem: caKey.privateKeyPem,
                caCertPem: ca.certPem,
                validityPeriodHours: args.validityDays * HOURS_PER_DAY,
                earlyRenewalHours: args.renewBeforeDays * HOURS_PER_DAY,
                allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
            },
            { parent: this },
        );

        this.certificateChainPem = server.certPem;
        this.privateKeyPem = pulumi.secret(serverKey.privateKeyPem);
        this.caCertificatePem = ca.certPem;
        this.registerOutputs({ certificateChainPem: this.certificateChainPem, caCertificatePem: this.caCertificatePem });
    }
}
