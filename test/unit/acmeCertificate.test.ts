/**
 * The ACME certificate under mocks, outside alicloud mode: a LAN registry in local mode with a
 * public name, its certificate from a CA given by URL and a DNS provider other than Alidns. What
 * the engine does with these inputs against a real CA is test/engine/acme.test.ts.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { ACME_DIRECTORIES, acmeDirectoryUrl, acmeServerLabel } from "../../components/certificates/acmeCertificate";
import { evaluateProgram, EvaluationResult, findResource } from "../../scripts/lib/program/evaluate";
import { plainFile } from "../harness/inspect";

type Inputs = Record<string, any>;

const CA = "https://ca.internal.example:9000/acme/acme/directory";
const inputsOf = (result: EvaluationResult, type: string): Inputs => findResource(result, type).inputs as Inputs;

describe("acme in local mode: another CA by URL, a lego DNS provider by name", () => {
    let result: EvaluationResult;

    before(async () => {
        result = await evaluateProgram({
            config: {
                hostnames: ["registry.lan.example.com"],
                certificateRenewBeforeDays: 10,
                acme: {
                    email: "ops@example.com",
                    server: CA,
                    dnsProvider: "cloudflare",
                    recursiveNameservers: ["10.0.0.53"],
                    disableCompletePropagation: true,
                },
            },
        });
        assert.equal(result.error, undefined);
    });

    it("talks to the CA at its URL, with the accounts and certificates named after its host and URL", () => {
        const label = acmeServerLabel(CA);
        assert.match(label, /^ca-internal-example-[0-9a-f]{8}$/);
        assert.notEqual(
            label,
            acmeServerLabel("https://ca.internal.example:9000/acme/other/directory"),
            "two directories on one host are two CAs",
        );
        assert.equal(inputsOf(result, "pulumi:providers:acme").serverUrl, CA);
        const names = result.resources
            .filter((r) => r.type.startsWith("acme:") || r.type === "pulumi:providers:acme")
            .map((r) => r.name)
            .sort();
        assert.deepEqual(names, [`tls-${label}`, `tls-${label}-account`, `tls-${label}-certificate`]);
    });

    it("asks lego's cloudflare provider for the TXT records with no settings in the state, and lego's resolvers as configured", () => {
        const certificate = inputsOf(result, "acme:index/certificate:Certificate");
        assert.deepEqual(certificate.dnsChallenges, [{ provider: "cloudflare" }], "credentials and settings come from the environment");
        assert.deepEqual(certificate.recursiveNameservers, ["10.0.0.53"]);
        assert.equal(certificate.disableCompletePropagation, true);
        assert.equal(certificate.minDaysRemaining, 10);
        assert.equal(certificate.commonName, "registry.lan.example.com");
    });

    it("serves the ACME chain from the local edge, with no private CA and no CA in the outputs", () => {
        assert.ok(!result.resources.some((r) => r.type === "tls:index/selfSignedCert:SelfSignedCert"), "no private CA");
        assert.ok(!result.resources.some((r) => r.type.startsWith("alicloud:")));
        assert.equal(result.outputs.caCertificate.value ?? null, null);
        const issued = findResource(result, "acme:index/certificate:Certificate").state as Inputs;
        const chain = plainFile(result, "registry-edge", "/etc/nginx/files/server.crt");
        assert.equal(chain, `${issued.certificatePem.trimEnd()}\n${issued.issuerPem.trimEnd()}\n`);
    });

    it("names Let's Encrypt's servers as before, so existing stacks keep their resources", () => {
        assert.equal(acmeServerLabel("staging"), "staging");
        assert.equal(acmeServerLabel("production"), "production");
        assert.equal(acmeDirectoryUrl("production"), ACME_DIRECTORIES.production);
        assert.equal(acmeDirectoryUrl(CA), CA);
    });
});
