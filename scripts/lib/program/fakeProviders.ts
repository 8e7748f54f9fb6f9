/**
 * Mocks that behave like the real providers where it matters: certificates are really issued by
 * openssl from the inputs the program gives `@pulumi/tls` (CA flag, SANs, key usages), passwords
 * are really random with a real bcrypt hash, and outputs the engine would mark secret are secret.
 *
 * A previous run's state can be handed in: a resource whose inputs did not change gets its old
 * outputs back, as the engine does on a second `pulumi up`.
 */
import * as pulumi from "@pulumi/pulumi";
import { hashSync } from "bcryptjs";
import { execFileSync } from "child_process";
import { createHash, generateKeyPairSync, randomInt } from "crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";

export const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** Outputs the providers list as `additionalSecretOutputs`; the mock monitor does not apply them. */
const SECRET_OUTPUTS: Record<string, string[]> = {
    "random:index/randomPassword:RandomPassword": ["result", "bcryptHash"],
    "tls:index/privateKey:PrivateKey": ["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"],
    "alicloud:ram/accessKey:AccessKey": ["secret"],
};

export interface RecordedResource {
    type: string;
    name: string;
    id: string;
    /** Inputs with secrets unwrapped. */
    inputs: Record<string, unknown>;
    /** JSON paths (e.g. `uploads.2.content`) of inputs that arrived as secrets. */
    secretInputPaths: string[];
    state: Record<string, unknown>;
}

export type ProviderState = Record<string, RecordedResource>;

const key = (type: string, name: string) => `${type}::${name}`;

/** Splits secret markers off: plain values plus the paths where secrets were. */
export function unwrapSecrets(value: unknown, path: string[] = [], paths: string[] = []): { value: unknown; paths: string[] } {
    if (Array.isArray(value)) return { value: value.map((v, i) => unwrapSecrets(v, [...path, String(i)], paths).value), paths };
    if (value && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (record[SECRET_SIG] === SECRET_VALUE) {
            paths.push(path.join("."));
            return { value: unwrapSecrets(record.value, path, []).value, paths };
        }
        return {
            value: Object.fromEntries(Object.entries(record).map(([k, v]) => [k, unwrapSecrets(v, [...path, k], paths).value])),
            paths,
        };
    }
    return { value, paths };
}

function openssl(args: string[], files: Record<string, string>): Record<string, string> {
    const dir = mkdtempSync(join(tmpdir(), "fake-tls-"));
    try {
        for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
        execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
        const out: Record<string, string> = {};
        for (const name of ["cert.pem", "csr.pem"]) {
            try {
                out[name] = readFileSync(join(dir, name), "utf8");
            } catch {
                // Only one of them is produced per call.
            }
        }
        return out;
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

function subjectArg(subject: Record<string, string> | undefined): string {
    const parts = [
        ["CN", subject?.commonName],
        ["O", subject?.organization],
    ].filter(([, v]) => v);
    return parts.length === 0 ? "/" : parts.map(([k, v]) => `/${k}=${v}`).join("");
}

function sanExtension(dnsNames: string[] = [], ipAddresses: string[] = []): string | undefined {
    const entries = [...dnsNames.map((d) => `DNS:${d}`), ...ipAddresses.map((ip) => `IP:${ip}`)];
    return entries.length === 0 ? undefined : `subjectAltName=${entries.join(",")}`;
}

/** The tls provider's `allowedUses` as X.509 extensions. */
function usageExtensions(allowedUses: string[], isCa: boolean): string[] {
    const keyUsage: Record<string, string> = {
        digital_signature: "digitalSignature",
        key_encipherment: "keyEncipherment",
        cert_signing: "keyCertSign",
        crl_signing: "cRLSign",
    };
    const extendedUsage: Record<string, string> = { server_auth: "serverAuth", client_auth: "clientAuth" };
    const ku = allowedUses.map((u) => keyUsage[u]).filter(Boolean);
    const eku = allowedUses.map((u) => extendedUsage[u]).filter(Boolean);
    return [
        `basicConstraints=critical,CA:${isCa ? "TRUE" : "FALSE"}`,
        ...(ku.length ? [`keyUsage=critical,${ku.join(",")}`] : []),
        ...(eku.length ? [`extendedKeyUsage=${eku.join(",")}`] : []),
    ];
}

const days = (hours: number) => String(Math.max(1, Math.ceil(hours / 24)));

function sshString(data: Buffer): Buffer {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    return Buffer.concat([length, data]);
}

function privateKey(inputs: Record<string, any>): Record<string, unknown> {
    const algorithm = inputs.algorithm ?? "RSA";
    if (algorithm === "ED25519") {
        const { privateKey, publicKey } = generateKeyPairSync("ed25519");
        const raw = (publicKey.export({ format: "der", type: "spki" }) as Buffer).subarray(-32);
        const openssh = `ssh-ed25519 ${Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(raw)]).toString("base64")}\n`;
        const pkcs8 = privateKey.export({ format: "pem", type: "pkcs8" }) as string;
        const seed = (privateKey.export({ format: "der", type: "pkcs8" }) as Buffer).subarray(-32);
        return {
            privateKeyPem: pkcs8,
            privateKeyPemPkcs8: pkcs8,
            privateKeyOpenssh: ed25519OpensshPrivateKey(seed, raw),
            publicKeyPem: publicKey.export({ format: "pem", type: "spki" }),
            publicKeyOpenssh: openssh,
        };
    }
    const pair =
        algorithm === "ECDSA"
            ? generateKeyPairSync("ec", { namedCurve: inputs.ecdsaCurve === "P384" ? "secp384r1" : "prime256v1" })
            : generateKeyPairSync("rsa", { modulusLength: inputs.rsaBits ?? 2048 });
    const pem = pair.privateKey.export({ format: "pem", type: algorithm === "ECDSA" ? "sec1" : "pkcs1" }) as string;
    const pkcs8 = pair.privateKey.export({ format: "pem", type: "pkcs8" }) as string;
    const publicKeyOpenssh = algorithm === "RSA" ? rsaOpenssh(pair.publicKey.export({ format: "jwk" }) as { n: string; e: string }) : "";
    return {
        privateKeyPem: pem,
        privateKeyPemPkcs8: pkcs8,
        privateKeyOpenssh: pkcs8,
        publicKeyPem: pair.publicKey.export({ format: "pem", type: "spki" }),
        publicKeyOpenssh,
    };
}

/**
 * `-----BEGIN OPENSSH PRIVATE KEY-----`, unencrypted, as the tls provider writes `privateKeyOpenssh`
 * for ED25519 (and what sshd and cloud-init's `ssh_keys` read): openssh-key-v1 with one key.
 */
function ed25519OpensshPrivateKey(seed: Buffer, publicRaw: Buffer): string {
    const uint32 = (n: number) => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(n);
        return b;
    };
    const keyType = sshString(Buffer.from("ssh-ed25519"));
    const publicBlob = Buffer.concat([keyType, sshString(publicRaw)]);
    const check = uint32(0x5eed5eed);
    let secret = Buffer.concat([
        check,
        check,
        keyType,
        sshString(publicRaw),
        sshString(Buffer.concat([seed, publicRaw])),
        sshString(Buffer.alloc(0)),
    ]);
    for (let pad = 1; secret.length % 8 !== 0; pad++) secret = Buffer.concat([secret, Buffer.from([pad])]);
    const body = Buffer.concat([
        Buffer.from("openssh-key-v1\0"),
        sshString(Buffer.from("none")),
        sshString(Buffer.from("none")),
        sshString(Buffer.alloc(0)),
        uint32(1),
        sshString(publicBlob),
        sshString(secret),
    ]);
    const lines = body.toString("base64").match(/.{1,70}/g) ?? [];
    return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

function rsaOpenssh(jwk: { n: string; e: string }): string {
    const mpint = (b64: string) => {
        const bytes = Buffer.from(b64, "base64url");
        return sshString(bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
    };
    return `ssh-rsa ${Buffer.concat([sshString(Buffer.from("ssh-rsa")), mpint(jwk.e), mpint(jwk.n)]).toString("base64")}\n`;
}

/** What random's RandomString and RandomPassword draw from their character-set inputs. */
function randomString(inputs: Record<string, any>): string {
    const sets = [
        inputs.upper !== false ? "ABCDEFGHIJKLMNOPQRSTUVWXYZ" : "",
        inputs.lower !== false ? "abcdefghijklmnopqrstuvwxyz" : "",
        inputs.numeric !== false ? "0123456789" : "",
        inputs.special !== false ? (inputs.overrideSpecial ?? "!@#$%&*()-_=+[]{}<>:?") : "",
    ].join("");
    return Array.from({ length: inputs.length }, () => sets[randomInt(sets.length)]).join("");
}

function randomPassword(inputs: Record<string, any>): Record<string, unknown> {
    const result = randomString(inputs);
    return { result, bcryptHash: hashSync(result, 10) };
}

/** What a real provider computes for the resource types this program uses. */
function computeOutputs(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
    switch (type) {
        case "random:index/randomPassword:RandomPassword":
            return randomPassword(inputs);
        case "random:index/randomString:RandomString":
            return { result: randomString(inputs) };
        case "tls:index/privateKey:PrivateKey":
            return privateKey(inputs);
        case "tls:index/selfSignedCert:SelfSignedCert": {
            const ext = [
                ...usageExtensions(inputs.allowedUses ?? [], !!inputs.isCaCertificate),
                sanExtension(inputs.dnsNames, inputs.ipAddresses),
            ]
                .filter((e): e is string => !!e)
                .flatMap((e) => ["-addext", e]);
            const out = openssl(
                [
                    "req",
                    "-x509",
                    "-new",
                    "-key",
                    "key.pem",
                    "-subj",
                    subjectArg(inputs.subject),
                    "-days",
                    days(inputs.validityPeriodHours),
                    "-out",
                    "cert.pem",
                    ...ext,
                ],
                { "key.pem": inputs.privateKeyPem },
            );
            return { certPem: out["cert.pem"], readyForRenewal: false };
        }
        case "tls:index/certRequest:CertRequest": {
            const san = sanExtension(inputs.dnsNames, inputs.ipAddresses);
            const out = openssl(
                [
                    "req",
                    "-new",
                    "-key",
                    "key.pem",
                    "-subj",
                    subjectArg(inputs.subject),
                    "-out",
                    "csr.pem",
                    ...(san ? ["-addext", san] : []),
                ],
                { "key.pem": inputs.privateKeyPem },
            );
            return { certRequestPem: out["csr.pem"] };
        }
        case "tls:index/locallySignedCert:LocallySignedCert": {
            const ext = usageExtensions(inputs.allowedUses ?? [], !!inputs.isCaCertificate).join("\n");
            const out = openssl(
                [
                    "x509",
                    "-req",
                    "-in",
                    "csr.pem",
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca-key.pem",
                    "-CAcreateserial",
                    "-days",
                    days(inputs.validityPeriodHours),
                    "-copy_extensions",
                    "copyall",
                    "-extfile",
                    "ext.cnf",
                    "-out",
                    "cert.pem",
                ],
                {
                    "csr.pem": inputs.certRequestPem,
                    "ca.pem": inputs.caCertPem,
                    "ca-key.pem": inputs.caPrivateKeyPem,
                    "ext.cnf": `${ext}\n`,
                },
            );
            return { certPem: out["cert.pem"], readyForRenewal: false };
        }
        case "docker:index/remoteImage:RemoteImage":
            return {
                imageId: `sha256:${createHash("sha256").update(inputs.name).digest("hex")}`,
                repoDigest: `${inputs.name}@sha256:${"0".repeat(64)}`,
            };
        default:
            return extraOutputs(type, name, inputs);
    }
}

/** Cloud resources: the outputs later resources read (addresses, IDs). */
function extraOutputs(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
    const digest = createHash("sha256").update(`${type}:${name}`).digest();
    switch (type) {
        case "alicloud:ecs/instance:Instance":
            return { publicIp: `203.0.113.${10 + (digest[0] % 200)}`, privateIp: `172.31.1.${10 + (digest[1] % 200)}` };
        case "alicloud:ecs/eipAddress:EipAddress":
            return { ipAddress: `198.51.100.${10 + (digest[0] % 200)}` };
        case "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer":
            return { address: `198.51.100.${10 + (digest[0] % 200)}` };
        case "alicloud:ram/accessKey:AccessKey":
            // Drawn at random, as RAM does, so a leak is found by its text.
            return { secret: randomString({ length: 30, special: false }), status: inputs.status ?? "Active" };
        case "alicloud:ecs/ecsKeyPair:EcsKeyPair":
            return { keyPairName: `${inputs.keyNamePrefix ?? ""}${digest.toString("hex").slice(0, 10)}` };
        case "acme:index/registration:Registration":
            return { registrationUrl: `https://acme.invalid/acct/${digest.readUInt32BE(0)}` };
        case "acme:index/certificate:Certificate":
            // A real key, so a leak into a plain output is found by its text.
            return {
                certificatePem: "-----BEGIN CERTIFICATE-----\nFAKE-LEAF\n-----END CERTIFICATE-----\n",
                issuerPem: "-----BEGIN CERTIFICATE-----\nFAKE-ISSUER\n-----END CERTIFICATE-----\n",
                privateKeyPem: generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ format: "pem", type: "pkcs8" }),
                certificateDomain: inputs.commonName,
                certificateUrl: `https://acme.invalid/cert/${digest.toString("hex").slice(0, 16)}`,
            };
        case "command:remote:Command":
            return { stdout: `ran ${name}`, stderr: "" };
        default:
            return {};
    }
}

function secretWrap(type: string, outputs: Record<string, unknown>): Record<string, unknown> {
    const secretNames = SECRET_OUTPUTS[type] ?? [];
    return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, secretNames.includes(k) ? pulumi.secret(v) : v]));
}

/**
 * What `ecs.getInstanceTypes` answers in the fake region, cheapest first: a burstable type ahead
 * of two non-burstable ones, as the real price order puts them.
 */
export const FAKE_INSTANCE_TYPES = [
    {
        id: "ecs.t6-c1m2.large",
        family: "ecs.t6",
        cpuCoreCount: 2,
        memorySize: 4,
        availabilityZones: ["cn-hongkong-b", "cn-hongkong-c"],
        burstableInstance: { initialCredit: "60", baselineCredit: "20" },
    },
    {
        id: "ecs.u1-c1m2.large",
        family: "ecs.u1",
        cpuCoreCount: 2,
        memorySize: 4,
        availabilityZones: ["cn-hongkong-b", "cn-hongkong-c"],
        burstableInstance: { initialCredit: "", baselineCredit: "" },
    },
    {
        id: "ecs.c7.large",
        family: "ecs.c7",
        cpuCoreCount: 2,
        memorySize: 4,
        availabilityZones: ["cn-hongkong-b", "cn-hongkong-c"],
        burstableInstance: { initialCredit: "", baselineCredit: "" },
    },
    {
        id: "ecs.g7.large",
        family: "ecs.g7",
        cpuCoreCount: 2,
        memorySize: 8,
        availabilityZones: ["cn-hongkong-c"],
        burstableInstance: { initialCredit: "", baselineCredit: "" },
    },
];

/** Canned answers for data-source lookups (invokes). */
function invoke(token: string, inputs: Record<string, any>): Record<string, unknown> {
    switch (token) {
        case "alicloud:ecs/getInstanceTypes:getInstanceTypes": {
            const offered = FAKE_INSTANCE_TYPES.filter(
                (t) =>
                    (inputs.instanceType === undefined || t.id === inputs.instanceType) &&
                    (inputs.availabilityZone === undefined || t.availabilityZones.includes(inputs.availabilityZone)) &&
                    (inputs.cpuCoreCount === undefined || t.cpuCoreCount === inputs.cpuCoreCount) &&
                    (inputs.memorySize === undefined || t.memorySize === inputs.memorySize),
            );
            return { instanceTypes: offered, ids: offered.map((t) => t.id) };
        }
        case "alicloud:ecs/getImages:getImages":
            return {
                images: [{ id: "debian_12_8_x64_20G_alibase_20250101.vhd", name: "debian_12_8_x64" }],
                ids: ["debian_12_8_x64_20G_alibase_20250101.vhd"],
            };
        case "alicloud:index/getZones:getZones":
            return { zones: [{ id: `${inputs.region ?? "cn-hongkong"}-b` }], ids: ["cn-hongkong-b"] };
        default:
            return inputs;
    }
}

export interface FakeProviderOptions {
    /** The stack's outputs from its last deployment: what a StackReference to the stack itself reads. */
    previousOutputs?: Record<string, unknown>;
    /** Lookup answers that replace the canned ones, by token (a sold-out type, a missing image). */
    invokeResults?: Record<string, Record<string, unknown>>;
}

/** The Mocks plus the record of every resource the program registered. */
export class FakeProviders implements pulumi.runtime.Mocks {
    readonly resources: RecordedResource[] = [];
    /** Every lookup the program made, in order. */
    readonly invokes: { token: string; inputs: Record<string, unknown> }[] = [];

    constructor(
        private readonly previous: ProviderState = {},
        private readonly options: FakeProviderOptions = {},
    ) {}

    async newResource(args: pulumi.runtime.MockResourceArgs): Promise<{ id: string; state: Record<string, any> }> {
        const { value, paths } = unwrapSecrets(args.inputs);
        const inputs = value as Record<string, unknown>;
        const before = this.previous[key(args.type, args.name)];
        const unchanged = before !== undefined && JSON.stringify(before.inputs) === JSON.stringify(inputs);
        const fresh = createHash("sha256").update(`${args.type}${args.name}${Math.random()}`).digest("hex");
        // Disk IDs as ECS makes them (`d-` and 20 characters): the VM sees the rest as the serial.
        // An access key's ID is the key ID (`LTAI` and 20 characters), which the registry is handed.
        const id = unchanged
            ? before.id
            : args.type === "alicloud:ecs/ecsDisk:EcsDisk"
              ? `d-${fresh.slice(0, 20)}`
              : args.type === "alicloud:ram/accessKey:AccessKey"
                ? `LTAI${fresh.slice(0, 20)}`
                : `${args.name}-${fresh.slice(0, 12)}`;
        const computed =
            args.type === "pulumi:pulumi:StackReference"
                ? { outputs: this.options.previousOutputs ?? {}, secretOutputNames: [] }
                : unchanged
                  ? before.state
                  : computeOutputs(args.type, args.name, inputs);
        this.resources.push({ type: args.type, name: args.name, id, inputs, secretInputPaths: paths, state: computed });
        return { id, state: { ...args.inputs, ...secretWrap(args.type, computed) } };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
        this.invokes.push({ token: args.token, inputs: args.inputs });
        return this.options.invokeResults?.[args.token] ?? invoke(args.token, args.inputs);
    }

    state(): ProviderState {
        return Object.fromEntries(this.resources.map((r) => [key(r.type, r.name), r]));
    }
}

/** A CA and a server certificate, issued the same way the program's TLS resources are. */
export function issueTestCertificates(
    dnsNames: string[],
    ipAddresses: string[],
): { caPem: string; certificatePem: string; privateKeyPem: string } {
    const caKey = privateKey({ algorithm: "ECDSA", ecdsaCurve: "P256" });
    const ca = computeOutputs("tls:index/selfSignedCert:SelfSignedCert", "ca", {
        privateKeyPem: caKey.privateKeyPem,
        isCaCertificate: true,
        subject: { commonName: "test CA" },
        validityPeriodHours: 48,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
    });
    const serverKey = privateKey({ algorithm: "ECDSA", ecdsaCurve: "P256" });
    const csr = computeOutputs("tls:index/certRequest:CertRequest", "csr", {
        privateKeyPem: serverKey.privateKeyPem,
        subject: { commonName: dnsNames[0] },
        dnsNames,
        ipAddresses,
    });
    const server = computeOutputs("tls:index/locallySignedCert:LocallySignedCert", "server", {
        certRequestPem: csr.certRequestPem,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: 48,
        allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
    });
    return { caPem: ca.certPem as string, certificatePem: server.certPem as string, privateKeyPem: serverKey.privateKeyPem as string };
}
