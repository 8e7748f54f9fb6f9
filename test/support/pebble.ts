/**
 * Let's Encrypt's test CA, Pebble, and its DNS test server, pebble-challtestsrv, on loopback
 * ports: a real ACME server that validates DNS-01 by querying the TXT records the DNS server
 * serves. Both are built from the Go module proxy by scripts/build-tools.sh.
 *
 * Pebble's own HTTPS gets a certificate from a throwaway CA made here (`httpsCaFile`, what an
 * ACME client must trust to talk to it, lego's LEGO_CA_CERTIFICATES). The certificates Pebble
 * issues chain to a different root it generates at every start (`rootCertificatePem()`).
 */
import { writeFileSync } from "fs";
import { join, resolve } from "path";
import { freePorts } from "../../scripts/lib/loopbackServers";
import { run, startDaemon, waitFor } from "../../scripts/lib/processes";

const ROOT = resolve(__dirname, "../..");

export interface PebbleOptions {
    /** Scratch directory for the config, the HTTPS certificate and the logs. */
    workDir: string;
    /** Lifetime of every certificate Pebble issues (its default profile's validityPeriod). */
    certificateValiditySeconds: number;
}

/** One query the DNS test server answered (its /dns-request-history). */
export interface DnsRequest {
    Question: { Name: string; Qtype: number };
}

export interface Pebble {
    /** The ACME directory, e.g. https://127.0.0.1:PORT/dir. */
    directoryUrl: `https://${string}`;
    /** The CA of Pebble's own HTTPS endpoints (not of the certificates it issues). */
    httpsCaFile: string;
    /** The DNS test server, `127.0.0.1:PORT` (UDP and TCP), for Pebble's and lego's lookups. */
    dnsServer: string;
    /** The DNS test server's management API (`/set-txt`, `/clear-txt`, ...). */
    challengeServerUrl: string;
    logFiles: string[];
    /** The root the issued certificates chain to: a client trusting only it accepts them. */
    rootCertificatePem(): Promise<string>;
    /** Every DNS query the test server answered for `name` (Pebble's validations among them). */
    dnsRequests(name: string): Promise<DnsRequest[]>;
    /** `Valid` or `Revoked`: what Pebble says of the certificate with this serial (hex). */
    certificateStatus(serialHex: string): Promise<string>;
    stop(): Promise<void>;
}

/** 16 = TXT in DNS's numbering. */
export const DNS_TYPE_TXT = 16;

/** The bin dir with `pebble` and `pebble-challtestsrv` (PEBBLE_BIN_DIR, else built or cached by scripts/build-tools.sh). */
export async function pebbleBinDir(): Promise<string> {
    if (process.env.PEBBLE_BIN_DIR) return process.env.PEBBLE_BIN_DIR;
    const built = await run("bash", [join(ROOT, "scripts/build-tools.sh"), "pebble"], { timeoutMs: 1_800_000 });
    return built.stdout.trim().split("\n").pop() ?? "";
}

/** Starts pebble-challtestsrv, then Pebble resolving through it; both stop at cleanup. */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
    const bin = await pebbleBinDir();
    const { workDir } = options;
    const httpsCaFile = await makeHttpsCertificate(workDir);
    const [acmePort, managementPort, dnsPort, challengeManagementPort, validationHttpPort, validationTlsPort] = await freePorts(6);
    const dnsServer = `127.0.0.1:${dnsPort}`;
    const challengeServerUrl = `http://127.0.0.1:${challengeManagementPort}`;

    // Only the DNS server and its API: the HTTP-01, TLS-ALPN-01 and DoH servers stay off, and no
    // name resolves to an address by default (nothing here needs one).
    const challtestsrv = startDaemon(
        "pebble-challtestsrv",
        join(bin, "pebble-challtestsrv"),
        [
            "-dnsserver",
            dnsServer,
            "-management",
            `127.0.0.1:${challengeManagementPort}`,
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-doh",
            "",
            "-defaultIPv4",
            "",
            "-defaultIPv6",
            "",
        ],
        { logFile: join(workDir, "challtestsrv.log") },
    );
    await waitFor(
        "pebble-challtestsrv's API",
        async () =>
            (await fetch(`${challengeServerUrl}/dns-request-history`, { method: "POST", body: JSON.stringify({ host: "probe." }) })).ok,
        20_000,
    );

    const configFile = join(workDir, "pebble-config.json");
    writeFileSync(
        configFile,
        JSON.stringify(
            {
                pebble: {
                    listenAddress: `127.0.0.1:${acmePort}`,
                    managementListenAddress: `127.0.0.1:${managementPort}`,
                    certificate: join(workDir, "pebble-https.crt"),
                    privateKey: join(workDir, "pebble-https.key"),
                    // Ports Pebble's validator would dial for HTTP-01 and TLS-ALPN-01; only DNS-01 is used.
                    httpPort: validationHttpPort,
                    tlsPort: validationTlsPort,
                    ocspResponderURL: "",
                    externalAccountBindingRequired: false,
                    retryAfter: { authz: 1, order: 1 },
                    keyAlgorithm: "ecdsa",
                    profiles: {
                        default: { description: "the test's certificate lifetime", validityPeriod: options.certificateValiditySeconds },
                    },
                },
            },
            null,
            2,
        ),
    );
    const pebble = startDaemon("pebble", join(bin, "pebble"), ["-config", configFile, "-dnsserver", dnsServer], {
        logFile: join(workDir, "pebble.log"),
        env: {
            ...process.env,
            // Validate at once instead of after a random sleep; never reject a good nonce; never
            // reuse an authorization, so every issuance is a DNS-01 validation.
            PEBBLE_VA_NOSLEEP: "1",
            PEBBLE_WFE_NONCEREJECT: "0",
            PEBBLE_AUTHZREUSE: "0",
        },
    });
    const managementUrl = `https://127.0.0.1:${managementPort}`;
    const directoryUrl = `https://127.0.0.1:${acmePort}/dir` as const;
    const curl = (url: string, extra: string[] = []) => run("curl", ["-fsS", "--max-time", "10", "--cacert", httpsCaFile, ...extra, url]);
    await waitFor("Pebble's ACME directory", async () => JSON.parse((await curl(directoryUrl)).stdout).newOrder !== undefined, 20_000);

    return {
        directoryUrl,
        httpsCaFile,
        dnsServer,
        challengeServerUrl,
        logFiles: [challtestsrv.logFile, pebble.logFile],
        rootCertificatePem: async () => (await curl(`${managementUrl}/roots/0`)).stdout,
        dnsRequests: async (name) => {
            const history = await curl(`${challengeServerUrl}/dns-request-history`, ["-X", "POST", "-d", JSON.stringify({ host: name })]);
            return JSON.parse(history.stdout) as DnsRequest[];
        },
        certificateStatus: async (serialHex) =>
            (JSON.parse((await curl(`${managementUrl}/cert-status-by-serial/${serialHex}`)).stdout) as { Status: string }).Status,
        stop: async () => {
            await pebble.stop();
            await challtestsrv.stop();
        },
    };
}

/** A throwaway CA and the certificate Pebble serves its HTTPS with (127.0.0.1 and localhost). */
async function makeHttpsCertificate(dir: string): Promise<string> {
    const ca = join(dir, "pebble-https-ca");
    const leaf = join(dir, "pebble-https");
    await run("openssl", [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=pebble HTTPS test CA",
        "-keyout",
        `${ca}.key`,
        "-out",
        `${ca}.crt`,
    ]);
    await run("openssl", [
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        `${leaf}.key`,
        "-out",
        `${leaf}.csr`,
    ]);
    writeFileSync(`${leaf}.ext`, "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n");
    await run("openssl", [
        "x509",
        "-req",
        "-in",
        `${leaf}.csr`,
        "-CA",
        `${ca}.crt`,
        "-CAkey",
        `${ca}.key`,
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        `${leaf}.ext`,
        "-out",
        `${leaf}.crt`,
    ]);
    return `${ca}.crt`;
}
