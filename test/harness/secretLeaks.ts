/**
 * The secret-leak check: does a text (a preview, a generated doc, a log) show any part of a
 * stack's secrets?
 *
 * A password, a bcrypt hash or `http.secret` is secret as a whole: every window of it counts. A
 * private key is not: its PEM is mostly fixed framing (ASN.1 lengths, the version, the curve's
 * OID, which every key and certificate of that curve carries) and the public key (which its
 * certificate shows). Only its private components are secret (the EC or Ed25519 scalar `d`; for
 * RSA `d`, `p`, `q`, `dp`, `dq`, `qi`), so the check looks for those, in every encoding a leak
 * could take: hex (either case), and base64 and base64url at each of the three byte alignments
 * the component can have inside a longer encoding (its PEM's DER, or any other framing). A window
 * of framing, such as `AoGCCqGSM4` (the P-256 OID as it lines up after a SEC1 key's scalar), is
 * not a leak; it can line up the same way in a certificate by chance.
 */
import { createPrivateKey } from "crypto";

export interface NamedSecret {
    /** What it is, for the report: `password registry-admin`, `private key tls-ca-key`. */
    what: string;
    value: string;
}

export interface StackSecrets {
    /** Named secret values of a deployed stack, each checked in full and in part. */
    values: NamedSecret[];
}

/** Characters of the shortest piece that counts as a leak: 60 bits of base64, 40 of hex. */
export const LEAK_WIDTH = 10;

const PRIVATE_KEY_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
/** The JWK members that hold private key material (RFC 7518 6.2.2, 6.3.2; RFC 8037 2). */
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi"] as const;

/** The private components of a PEM private key (EC, RSA, Ed25519, X25519), as bytes. */
export function privateKeyComponents(pem: string): Buffer[] {
    const jwk = createPrivateKey(pem).export({ format: "jwk" }) as Record<string, unknown>;
    const components = PRIVATE_JWK_MEMBERS.map((member) => jwk[member])
        .filter((value): value is string => typeof value === "string")
        .map((value) => Buffer.from(value, "base64url"));
    if (components.length === 0) throw new Error(`a private key (${String(jwk.kty)}) without private components`);
    return components;
}

/**
 * The base64 characters that only `bytes` determine when `offset` (0, 1 or 2) bytes of something
 * else come first in their 3-byte group: what any base64 text holding `bytes` at that alignment
 * shows of them, whatever surrounds them.
 */
export function base64Aligned(bytes: Buffer, offset: 0 | 1 | 2): string {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    const first = Math.ceil((8 * offset) / 6);
    const end = Math.floor((8 * (offset + bytes.length)) / 6);
    return encoded.slice(first, end);
}

/** Every encoding in which `bytes` could leak into a text, each only as far as `bytes` alone determine it. */
export function leakableEncodings(bytes: Buffer): string[] {
    const hex = bytes.toString("hex");
    const base64 = ([0, 1, 2] as const).map((offset) => base64Aligned(bytes, offset));
    return [hex, hex.toUpperCase(), ...base64, ...base64.map((text) => text.replace(/\+/g, "-").replace(/\//g, "_"))];
}

/** The secret part of a value: a private key's components in every encoding, anything else as it is. */
export function secretParts(secret: string): string[] {
    if (PRIVATE_KEY_PEM.test(secret)) return privateKeyComponents(secret).flatMap(leakableEncodings);
    return [secret.trim()];
}

/** The pieces of a secret that must never appear: every `width`-character window of its secret parts. */
export function secretPieces(secret: string, width = LEAK_WIDTH): string[] {
    const pieces = new Set<string>();
    for (const part of secretParts(secret)) for (let i = 0; i + width <= part.length; i++) pieces.add(part.slice(i, i + width));
    return [...pieces];
}

/** Secret values (or pieces of them) found in a text, named with the piece found; empty when none. */
export function leakedSecrets(text: string, secrets: StackSecrets): string[] {
    const found: string[] = [];
    for (const { what, value } of secrets.values) {
        const piece = secretPieces(value).find((p) => text.includes(p));
        if (piece) found.push(`${what} (${JSON.stringify(piece)})`);
    }
    if (/PRIVATE KEY/.test(text)) found.push("a PEM private key header");
    if (/\$2[aby]\$\d\d\$/.test(text)) found.push("a bcrypt hash prefix");
    if (/REGISTRY_HTTP_SECRET=/.test(text)) found.push("the REGISTRY_HTTP_SECRET variable");
    return found;
}
