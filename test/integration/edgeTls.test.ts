/**
 * The edge's TLS judged by an independent scanner: sslyze (test/support/sslyze.ts) checks the
 * rendered nginx.conf, served by Debian's nginx on loopback, against Mozilla's "intermediate"
 * profile (TLS 1.2/1.3 only, its cipher suites and key exchange groups, certificate key and
 * lifetime, no compression, fallback SCSV, secure renegotiation, extended master secret, not
 * vulnerable to Heartbleed, CCS injection or ROBOT), with both certificates the stack can serve:
 *
 * - the private CA's, as the program declares it in local mode (the dev stack's settings: the
 *   certificate file the edge container gets, the key its secrets holder carries), trusted
 *   through the CA the stack outputs;
 * - an ACME certificate: Pebble (Let's Encrypt's test CA) issues it by DNS-01 to lego (Debian's,
 *   the ACME library inside the stack's acme provider) with the key type the stack asks for
 *   (P-256), valid 90 days as Let's Encrypt's are; the edge serves leaf and issuer, as the stack
 *   concatenates them.
 *
 * The scan also reports the chain, OCSP stapling and HSTS, which docs/reliability.md records.
 * Without the rendered curve list (nginx's own default), the same scan fails on X448 and
 * secp521r1: the check can fail.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createServer, Server } from "http";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { devStackConfig, evaluateProgram, findResource } from "../../scripts/lib/program/evaluate";
import { freePorts, loopbackEdgeInput, startNginx } from "../../scripts/lib/loopbackServers";
import { startPebble } from "../support/pebble";
import { makeTempDir, run, runCleanups } from "../../scripts/lib/processes";
import { scanTls, TlsScan } from "../support/sslyze";
import { plainFile } from "../harness/inspect";

const HOST = "registry-tls.test";
const CONTAINER = "docker:index/container:Container";
const DAY_SECONDS = 86_400;

interface Served {
    dir: string;
    httpsPort: number;
}

/** The rendered edge on loopback with this certificate chain and key; a UI page behind it. */
async function serveEdge(name: string, chainPem: string, keyPem: string, edit: (conf: string) => string = (conf) => conf): Promise<Served> {
    const dir = makeTempDir(`pr-tls-${name}-`);
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, "temp"));
    writeFileSync(join(dir, "server.crt"), chainPem);
    writeFileSync(join(dir, "server.key"), keyPem, { mode: 0o600 });
    const [httpsPort, httpPort, uiPort, registryPort] = await freePorts(4);
    const ui = await new Promise<Server>((resolve) => {
        const server = createServer((_, response) => response.writeHead(200, { "content-type": "text/html" }).end("<title>ui</title>"));
        server.listen(uiPort, "127.0.0.1", () => resolve(server));
    });
    after(() => ui.close());
    const conf = renderEdgeConfig(loopbackEdgeInput(dir, { httpsPort, httpPort, uiPort, registryPort }));
    await startNginx(dir, edit(conf), httpPort);
    return { dir, httpsPort };
}

const scan = (served: Served, caFile: string, label: string) =>
    scanTls({ host: HOST, port: served.httpsPort, address: "127.0.0.1", caFile, jsonFile: join(served.dir, `sslyze-${label}.json`) });

/** The items docs/reliability.md records, from sslyze's JSON. */
function reported(result: Record<string, any>) {
    const deployment = result.certificate_info.result.certificate_deployments[0];
    const chain = (
        deployment.received_certificate_chain as {
            subject: { rfc4514_string: string };
            not_valid_before: string;
            not_valid_after: string;
            public_key: { algorithm: string; ec_curve_name?: string };
        }[]
    ).map((certificate) => ({
        subject: certificate.subject.rfc4514_string,
        days: Math.round((Date.parse(certificate.not_valid_after) - Date.parse(certificate.not_valid_before)) / 86_400_000),
        key: `${certificate.public_key.algorithm}${certificate.public_key.ec_curve_name ? ` ${certificate.public_key.ec_curve_name}` : ""}`,
    }));
    const suites = (["tls_1_2", "tls_1_3"] as const).flatMap((version) =>
        (result[`${version}_cipher_suites`].result.accepted_cipher_suites as { cipher_suite: { name: string } }[]).map(
            (accepted) => accepted.cipher_suite.name,
        ),
    );
    const curves = (result.elliptic_curves.result.supported_curves as { name: string }[]).map((curve) => curve.name).sort();
    const hsts = result.http_headers.result.strict_transport_security_header;
    return {
        chain,
        verified: (deployment.verified_certificate_chain ?? []).length,
        /** Trust store name -> whether the chain validates against it. */
        trustedBy: Object.fromEntries(
            (deployment.path_validation_results as { trust_store: { name: string }; was_validation_successful: boolean }[]).map(
                (validation) => [validation.trust_store.name, validation.was_validation_successful],
            ),
        ),
        names: deployment.received_certificate_chain[0].subject_alternative_name.dns_names as string[],
        validOrder: deployment.received_chain_has_valid_order,
        anchorSent: deployment.received_chain_contains_anchor_certificate,
        ocspStapled: deployment.ocsp_response !== null,
        mustStaple: deployment.leaf_certificate_has_must_staple_extension,
        suites,
        curves,
        hsts,
    };
}

function assertCompliant(result: TlsScan, label: string): void {
    assert.ok(result.compliant, `${label}: sslyze's Mozilla intermediate check failed:\n${result.output}`);
    assert.match(result.output, /OK - Compliant/);
    const items = reported(result.result);
    assert.deepEqual(items.curves, ["X25519", "secp256r1", "secp384r1"]);
    assert.ok(items.verified >= 2, `${label}: the chain verifies to the trusted root`);
    assert.deepEqual(
        Object.entries(items.trustedBy)
            .filter(([, ok]) => ok)
            .map(([store]) => store),
        ["Supplied CA file"],
        `${label}: trusted through the given root only`,
    );
    assert.equal(items.validOrder, true);
    assert.equal(items.anchorSent, false, "the root is not sent");
    assert.deepEqual(items.names, [HOST], `${label}: the leaf names the host`);
    assert.equal(items.hsts?.max_age, 31_536_000);
    for (const version of ["ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"])
        assert.equal(result.result[`${version}_cipher_suites`].result.accepted_cipher_suites.length, 0, `${version} refused`);
    console.log(`${label}: ${JSON.stringify(items)}`);
}

describe("the edge's TLS against Mozilla's intermediate profile (sslyze)", () => {
    after(runCleanups);

    describe("with the private CA's certificate, as the stack declares it", () => {
        let served: Served;
        let caFile: string;
        let chainPem: string;
        let keyPem: string;

        before(async () => {
            const declared = await evaluateProgram({ config: { ...devStackConfig(), hostnames: [HOST] } });
            assert.equal(declared.error, undefined, declared.error);
            const uploads = (name: string) => findResource(declared, CONTAINER, name).inputs.uploads as { file: string; content: string }[];
            chainPem = plainFile(declared, "registry-edge", "/etc/nginx/files/server.crt");
            keyPem = uploads("registry-edge-secrets").find((upload) => upload.file.endsWith("/server.key"))!.content;
            served = await serveEdge("private", chainPem, keyPem);
            caFile = join(served.dir, "ca.crt");
            writeFileSync(caFile, declared.outputs.caCertificate.value as string);
        });

        it("passes: TLS 1.2 and 1.3 only, the profile's suites and groups, a P-256 certificate of 365 days", async () => {
            const result = await scan(served, caFile, "private");
            assertCompliant(result, "private CA");
            const { chain } = reported(result.result);
            assert.equal(chain.length, 1, "the server certificate alone: clients hold the CA");
            assert.deepEqual(chain[0], { subject: `O=private-registry,CN=${HOST}`, days: 365, key: "ECPublicKey secp256r1" });
        });

        it("fails the same scan without the rendered curve list: nginx's default offers X448 and secp521r1", async () => {
            const loose = await serveEdge("loose", chainPem, keyPem, (conf) => conf.replace(/^\s*ssl_ecdh_curve [^;]+;\n/gm, ""));
            const result = await scan(loose, caFile, "loose");
            assert.equal(result.compliant, false, result.output);
            assert.match(result.output, /tls_curves.*(X448|secp521r1)/);
        });
    });

    describe("with an ACME certificate (Pebble, DNS-01, lego)", () => {
        let served: Served;
        let rootFile: string;

        before(async () => {
            const work = makeTempDir("pr-tls-acme-");
            const pebble = await startPebble({ workDir: work, certificateValiditySeconds: 90 * DAY_SECONDS });
            // lego's exec DNS provider: publish the TXT record on Pebble's DNS test server.
            const hook = join(work, "dns-hook.sh");
            writeFileSync(
                hook,
                `#!/bin/sh\ncase "$1" in\n  present) path=set-txt body="{\\"host\\":\\"$2\\",\\"value\\":\\"$3\\"}" ;;\n  cleanup) path=clear-txt body="{\\"host\\":\\"$2\\"}" ;;\n  *) exit 0 ;;\nesac\nexec curl -fsS -X POST -d "$body" "${pebble.challengeServerUrl}/$path"\n`,
                { mode: 0o755 },
            );
            const lego = await run(
                "lego",
                [
                    "--server",
                    pebble.directoryUrl,
                    "--email",
                    "ops@example.com",
                    "--accept-tos",
                    "--key-type",
                    "ec256",
                    "--dns",
                    "exec",
                    "--dns.resolvers",
                    pebble.dnsServer,
                    "--dns.disable-cp",
                    "--domains",
                    HOST,
                    "--path",
                    join(work, "lego"),
                    "run",
                ],
                {
                    env: { ...process.env, EXEC_PATH: hook, LEGO_CA_CERTIFICATES: pebble.httpsCaFile },
                    allowFailure: true,
                    timeoutMs: 120_000,
                },
            );
            assert.equal(lego.code, 0, lego.stdout + lego.stderr);
            const files = join(work, "lego/certificates");
            const leafAndIssuer = readFileSync(join(files, `${HOST}.crt`), "utf8");
            served = await serveEdge("acme", leafAndIssuer, readFileSync(join(files, `${HOST}.key`), "utf8"));
            rootFile = join(served.dir, "pebble-root.crt");
            writeFileSync(rootFile, await pebble.rootCertificatePem());
        });

        it("passes: the same profile with the CA's leaf and intermediate, no OCSP staple (the CA has no responder)", async () => {
            const result = await scan(served, rootFile, "acme");
            assertCompliant(result, "ACME");
            const items = reported(result.result);
            assert.equal(items.chain.length, 2, "leaf and intermediate, as the stack serves them");
            assert.equal(items.chain[0].key, "ECPublicKey secp256r1");
            assert.equal(items.chain[0].days, 90);
            assert.equal(items.ocspStapled, false);
        });
    });
});
