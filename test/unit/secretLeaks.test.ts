/**
 * The secret-leak check (test/harness/secretLeaks.ts) on real keys made here: a piece of a key's
 * private components is found in every encoding a leak could take (inside the PEM, hex, base64
 * at another alignment, base64url), down to the smallest window; the key's fixed framing and
 * public part, and a certificate openssl issues for it, are not flagged.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { execFileSync } from "child_process";
import { generateKeyPairSync, randomBytes } from "crypto";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { base64Aligned, LEAK_WIDTH, leakedSecrets, privateKeyComponents, secretPieces } from "../harness/secretLeaks";

const pemBody = (pem: string) => pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");

/** The keys the stack makes (ECDSA P-256, as SEC1, the tls provider's form, and PKCS#8) and others the check must handle. */
function keys(): { kind: string; pem: string }[] {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    return [
        { kind: "P-256 (SEC1)", pem: ec.export({ format: "pem", type: "sec1" }) as string },
        { kind: "P-256 (PKCS#8)", pem: ec.export({ format: "pem", type: "pkcs8" }) as string },
        {
            kind: "RSA 2048 (PKCS#1)",
            pem: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs1" }) as string,
        },
        { kind: "Ed25519 (PKCS#8)", pem: generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string },
    ];
}

const secretsOf = (pem: string) => ({ values: [{ what: "private key k", value: pem }] });
const found = (text: string, pem: string) => leakedSecrets(text, secretsOf(pem)).length > 0;

describe("secret-leak check: a key's private components, not its framing", () => {
    for (const { kind, pem } of keys()) {
        it(`${kind}: a piece of each private component is found in the PEM's own base64, in hex, at any base64 alignment and in base64url`, () => {
            const der = Buffer.from(pemBody(pem), "base64");
            const components = privateKeyComponents(pem);
            assert.ok(components.length >= 1);
            for (const component of components) {
                const at = der.indexOf(component);
                assert.ok(at >= 0, "the component is in the DER");
                const inPem = base64Aligned(component, (at % 3) as 0 | 1 | 2);
                assert.ok(pemBody(pem).includes(inPem), "base64Aligned gives what the PEM shows of it");
                const middle = Math.floor(inPem.length / 2);
                // The smallest leak that counts, and one spread over a PEM line break.
                assert.ok(found(`x ${inPem.slice(middle, middle + LEAK_WIDTH)} x`, pem), `${LEAK_WIDTH} characters of the PEM`);
                assert.ok(
                    !found(`x ${inPem.slice(middle, middle + LEAK_WIDTH - 1)} x`, pem),
                    `${LEAK_WIDTH - 1} characters are below the width`,
                );
                const hex = component.toString("hex");
                assert.ok(found(`x ${hex.slice(8, 20)} x`, pem), "hex");
                assert.ok(found(`x ${hex.slice(8, 20).toUpperCase()} x`, pem), "HEX");
                for (const offset of [0, 1, 2] as const) {
                    // The component inside other bytes (another DER, a JSON Web Key): what that shows of it.
                    const embedded = Buffer.concat([randomBytes(offset + 3), component, randomBytes(4)]).toString("base64");
                    const shown = base64Aligned(component, offset);
                    assert.ok(embedded.includes(shown));
                    assert.ok(found(embedded, pem), `base64 at alignment ${offset}`);
                    assert.ok(
                        found(`"d": "${shown.replace(/\+/g, "-").replace(/\//g, "_").slice(4, 16)}"`, pem),
                        `base64url at alignment ${offset}`,
                    );
                }
            }
            assert.ok(found(pem, pem), "the whole PEM");
            assert.ok(found(pem.split("\n").join("\n    "), pem), "the PEM indented, as a diff shows a multi-line value");
        });
    }

    it("P-256: the fixed framing (the curve's OID as it lines up after a SEC1 scalar, `AoGCCqGSM4`) and the public part are no leak", () => {
        for (let round = 0; round < 20; round++) {
            const pem = keys()[0].pem;
            const body = pemBody(pem);
            const der = Buffer.from(body, "base64");
            const [scalar] = privateKeyComponents(pem);
            const end = der.indexOf(scalar) + scalar.length;
            const afterScalar = body.slice(Math.ceil((8 * end) / 6));
            assert.match(afterScalar, /^oAoGCCqGSM49AwEHoUQDQgAE/, "SEC1: [0] { OID P-256 } [1] { BIT STRING 04 ... } after the scalar");
            assert.deepEqual(leakedSecrets(`x AoGCCqGSM49 x ${afterScalar}`, secretsOf(pem)), []);
        }
    });

    it("a certificate openssl issues for the key is no leak", () => {
        const dir = mkdtempSync(join(tmpdir(), "pr-leaks-"));
        try {
            for (const { kind, pem } of keys().slice(0, 2)) {
                writeFileSync(join(dir, "key.pem"), pem);
                const certificate = execFileSync(
                    "openssl",
                    ["req", "-new", "-x509", "-key", join(dir, "key.pem"), "-subj", "/O=private-registry/CN=registry.lan", "-days", "1"],
                    { encoding: "utf8" },
                );
                assert.match(certificate, /BEGIN CERTIFICATE/);
                assert.deepEqual(leakedSecrets(certificate, secretsOf(pem)), [], kind);
            }
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("a password, bcrypt hash or http.secret counts whole: every window of it", () => {
        const password = randomBytes(24).toString("base64url");
        assert.equal(secretPieces(password).length, password.length - LEAK_WIDTH + 1);
        const secrets = { values: [{ what: "password admin", value: password }] };
        assert.deepEqual(leakedSecrets(`x ${password.slice(3, 3 + LEAK_WIDTH)} x`, secrets), [
            `password admin (${JSON.stringify(password.slice(3, 3 + LEAK_WIDTH))})`,
        ]);
        assert.deepEqual(leakedSecrets(`x ${password.slice(3, 2 + LEAK_WIDTH)} x`, secrets), []);
        assert.deepEqual(leakedSecrets("$2y$10$", secrets), ["a bcrypt hash prefix"]);
        assert.deepEqual(leakedSecrets("-----BEGIN EC PRIVATE KEY-----", secrets), ["a PEM private key header"]);
    });
});
