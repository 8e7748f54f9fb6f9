/**
 * The ContainerRegistry component (components/containerRegistry.ts), what other Pulumi programs
 * use: its args are generated from the config declarations and stay current, Pulumi's component
 * analyzer (what `pulumi package get-schema` runs) accepts them, it validates them as the stack
 * validates its config, keeps their secrets secret, and deploys what the stack deploys, under
 * itself. The real engine runs it in test/engine/component*.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateKeyPairSync } from "crypto";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import * as pulumi from "@pulumi/pulumi";
import { Analyzer } from "@pulumi/pulumi/provider/experimental/analyzer";
import { parse as parseYaml } from "yaml";
import { ConfigError, parseStackConfig } from "../../components/config/parse";
import { CONFIG_KEYS } from "../../components/config/keys";
import { componentArgsSource } from "../../components/config/reference";
import { readArgs } from "../../components/containerRegistry";
import type { ContainerRegistryArgs } from "../../components/containerRegistryArgs";
import { STACK_OUTPUTS } from "../../components/outputs";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { assertSecretsStayHidden } from "../harness/inspect";

const ROOT = resolve(__dirname, "../..");
const COMPONENT_PROGRAM = "test/harness/componentProgram.ts";
const COMPONENT = "private-registry:index:ContainerRegistry";
const SSH_PRIVATE_KEY = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string;

/** What the analyzer makes of the package at `dir` (the package.json there names its entry module). */
function analyze(dir: string) {
    const packageJson = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    return new Analyzer(dir, "private-registry", packageJson, new Set(["ContainerRegistry"])).analyze();
}

/** The problems readArgs reports for `args`. */
function problemsOf(args: Record<string, unknown>): string[] {
    try {
        readArgs(args as ContainerRegistryArgs);
    } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
    }
    assert.fail(`accepted ${JSON.stringify(args)}`);
}

describe("the ContainerRegistry component's args", () => {
    it("are generated from the config key declarations, one per key, and the file is current (npm run docs:config)", () => {
        assert.equal(
            readFileSync(join(ROOT, "components/containerRegistryArgs.ts"), "utf8"),
            componentArgsSource(),
            "components/containerRegistryArgs.ts is stale: run npm run docs:config",
        );
    });

    it("fit Pulumi's component analyzer (pulumi package get-schema): one input per config key, secrets as Inputs, the stack's outputs", () => {
        const { components } = analyze(ROOT);
        const component = components.ContainerRegistry;
        assert.deepEqual(Object.keys(component.inputs).sort(), Object.keys(CONFIG_KEYS).sort());
        const secretInputs = Object.entries(CONFIG_KEYS)
            .filter(([, declaration]) => declaration.secret)
            .map(([key]) => key);
        for (const key of secretInputs) assert.equal(component.inputs[key].plain, undefined, `${key} takes an Output (a secret)`);
        assert.equal(component.inputs.httpsPort.plain, true, "settings are plain: the registry's layout is known at preview");
        const stackOutputs = [...new Set(STACK_OUTPUTS.map((output) => output.name.split(".")[0]))].sort();
        assert.deepEqual(Object.keys(component.outputs).sort(), stackOutputs);
    });

    it("a union type in the args fails the analyzer, as it fails pulumi package get-schema", () => {
        const dir = join(tmpdir(), `pr-union-${process.pid}`);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        try {
            symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
            writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "private-registry", main: "index.ts" }));
            writeFileSync(
                join(dir, "tsconfig.json"),
                JSON.stringify({ compilerOptions: { strict: true, types: [] }, include: ["index.ts"] }),
            );
            writeFileSync(
                join(dir, "index.ts"),
                [
                    'import * as pulumi from "@pulumi/pulumi";',
                    "export interface ContainerRegistryArgs { mode?: string | number }",
                    "export class ContainerRegistry extends pulumi.ComponentResource {",
                    '    constructor(name: string, args: ContainerRegistryArgs) { super("private-registry:index:ContainerRegistry", name, {}); }',
                    "}",
                ].join("\n"),
            );
            assert.throws(
                () => analyze(dir),
                /Union types are not supported for component 'ContainerRegistry' property 'ContainerRegistryArgs.mode'/,
            );
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("are validated as the stack's config is: every problem at once, each naming the arg", () => {
        assert.deepEqual(problemsOf({ mode: "ssh", httpsPort: 99999, ssh: { port: 0 }, hostname: "registry.lan" }), [
            "args.hostname is not a known key (did you mean hostnames?)",
            'args.httpsPort must be an integer port 1-65535; got "99999"',
            "args.ssh.host is required: a DNS name or IP address of the server",
            'args.ssh.port must be an integer port 1-65535; got "0"',
            "args.hostnames or args.ipAddresses must name at least one address clients use",
            "args.sshPrivateKey is required in ssh mode: an OpenSSH or PEM private key",
        ]);
        assert.deepEqual(problemsOf({ storage: { kind: "s3", region: "us-east-1", bucket: "images", accessKeyId: "AKIA" } }), [
            'args.storage.secretAccessKey is required with kind "s3": the secret access key (pulumi config set --secret --path storage.secretAccessKey ...)',
        ]);
    });

    it("refuse a value another resource computes where the registry's layout is decided (known at preview)", () => {
        assert.deepEqual(problemsOf({ hostnames: [pulumi.output("registry.lan")] }), [
            "args.hostnames must be a plain value known at preview, not another resource's output",
        ]);
    });

    it("hand the validator only whether a secret is set, and keep the secret itself apart", () => {
        const { settings, secrets } = readArgs({
            mode: "ssh",
            hostnames: ["registry.lan"],
            ssh: { host: "registry.lan" },
            sshPrivateKey: SSH_PRIVATE_KEY,
            mirror: { username: "team", password: "hub-token" },
            storage: { kind: "s3", region: "us-east-1", bucket: "images", accessKeyId: "AKIA", secretAccessKey: "s3-key" },
        });
        assert.deepEqual(secrets, {
            sshPrivateKey: SSH_PRIVATE_KEY,
            mirrorPassword: "hub-token",
            s3Keys: { accessKeyId: "AKIA", secretAccessKey: "s3-key" },
            notificationHeaders: undefined,
        });
        assert.equal(settings.mirror?.hasPassword, true);
        assert.ok(!JSON.stringify(settings).includes("hub-token") && !JSON.stringify(settings).includes("s3-key"));
    });

    it("take webhook headers as secrets, checked where plain, and hand them over index by index", async () => {
        const token = pulumi.secret("Bearer 7c2e");
        const { settings, secrets } = readArgs({
            notifications: [
                { url: "http://deployer.lan:8080/events", headers: { Authorization: token, "X-Team": "infra" } },
                { url: "http://audit.lan/events", events: ["pull"] },
            ],
        });
        assert.deepEqual(
            settings.notifications.map((n) => n.headerNames),
            [["Authorization", "X-Team"], []],
        );
        assert.ok(!JSON.stringify(settings).includes("infra"), "a header's value stays out of the settings");
        const handed = await new Promise((resolve) => pulumi.output(secrets.notificationHeaders).apply(resolve));
        assert.deepEqual(handed, [{ Authorization: "Bearer 7c2e", "X-Team": "infra" }, {}]);
        assert.deepEqual(problemsOf({ notifications: [{ url: "http://deployer.lan/events", headers: { "Bad Name": "x" } }] }), [
            'args.notifications[0].headers has "Bad Name", which is not an HTTP header name',
        ]);
    });
});

describe("the ContainerRegistry component deploys what the stack deploys, under itself", () => {
    let stack: EvaluationResult;
    let component: EvaluationResult;
    /** The component's resources by the stack's names: its own prefix (`team-`) off. */
    const asStackName = (name: string) => name.replace(/^team-/, "");
    const key = (type: string, name: string) => `${type}::${name}`;

    it("the same resources, options and secret inputs as the dev stack, the same endpoints", async () => {
        const config = devStackConfig();
        [stack, component] = await Promise.all([
            evaluateProgram({ config }),
            evaluateProgram({ program: COMPONENT_PROGRAM, config: { componentArgs: config } }),
        ]);
        assert.equal(stack.error, undefined);
        assert.equal(component.error, undefined);
        const own = component.resources.filter((r) => r.type !== COMPONENT);
        assert.deepEqual(own.map((r) => key(r.type, asStackName(r.name))).sort(), stack.resources.map((r) => key(r.type, r.name)).sort());
        const stackByKey = new Map(stack.resources.map((r) => [key(r.type, r.name), r]));
        for (const resource of own) {
            const twin = stackByKey.get(key(resource.type, asStackName(resource.name)))!;
            assert.deepEqual(resource.secretInputPaths, twin.secretInputPaths, `${resource.type} ${resource.name}: secret inputs`);
            assert.deepEqual(Object.keys(resource.inputs).sort(), Object.keys(twin.inputs).sort(), `${resource.type} ${resource.name}`);
            assert.deepEqual(
                component.options[key(resource.type, resource.name)],
                stack.options[key(twin.type, twin.name)],
                `${resource.type} ${resource.name}: options`,
            );
            // Random passwords, keys and what embeds them differ by run; the Docker daemon's objects do not.
            if (
                ["docker:index/network:Network", "docker:index/volume:Volume", "docker:index/remoteImage:RemoteImage"].includes(
                    resource.type,
                )
            )
                assert.deepEqual(resource.inputs, twin.inputs, `${resource.type} ${resource.name}`);
        }
        for (const output of ["registryEndpoint", "uiEndpoint"]) assert.deepEqual(component.outputs[output], stack.outputs[output]);
        assert.equal(component.outputs.credentials.secret, true);
    });

    it("the stack's resources stay at its root, named as before; the component's are its children", () => {
        const topLevel = (result: EvaluationResult, parent: (urn: string | null) => boolean) =>
            Object.entries(result.parents)
                .filter(([, urn]) => parent(urn))
                .map(([child]) => child)
                .sort();
        const stackTop = [
            "private-registry:host:LocalDocker::local",
            "private-registry:index:PrivateRegistry::registry",
            "private-registry:index:SelfSignedCertificate::tls",
        ];
        assert.deepEqual(
            topLevel(stack, (urn) => urn === null),
            stackTop,
        );
        assert.deepEqual(
            topLevel(component, (urn) => urn === null),
            [key(COMPONENT, "team")],
        );
        assert.deepEqual(
            topLevel(component, (urn) => urn?.endsWith(`${COMPONENT}::team`) ?? false),
            stackTop.map((child) => child.replace("::", "::team-")),
        );
    });
});

describe("the ContainerRegistry component keeps the secrets in its args secret, however they are handed over", () => {
    it("ssh mode: a private key, a mirror password, S3 keys and a webhook header given in plain text stay out of every plain input and output", async () => {
        const result = await evaluateProgram({
            program: COMPONENT_PROGRAM,
            config: {
                componentArgs: {
                    mode: "ssh",
                    hostnames: ["registry.lan"],
                    ssh: { host: "registry.lan" },
                    sshPrivateKey: SSH_PRIVATE_KEY,
                    mirror: { username: "team", password: "hub-token-5c1f0a" },
                    storage: {
                        kind: "s3",
                        region: "us-east-1",
                        bucket: "images",
                        accessKeyId: "AKIA7EXAMPLE",
                        secretAccessKey: "s3-secret-9d2b",
                    },
                    notifications: [{ url: "http://deployer.lan:8080/events", headers: { Authorization: "Bearer hook-3e8a1f" } }],
                },
            },
        });
        assert.equal(result.error, undefined);
        assert.ok(
            assertSecretsStayHidden(result, {
                sshPrivateKey: SSH_PRIVATE_KEY,
                mirrorPassword: "hub-token-5c1f0a",
                s3AccessKeyId: "AKIA7EXAMPLE",
                s3SecretAccessKey: "s3-secret-9d2b",
                webhookHeader: "Bearer hook-3e8a1f",
            }) >= 5,
        );
    });

    it("a bad arg stops the program with every problem, naming the component", async () => {
        const result = await evaluateProgram({ program: COMPONENT_PROGRAM, config: { componentArgs: { mode: "cloud", httpPort: 0 } } });
        assert.match(
            result.error ?? "",
            /invalid args:\n {2}- args\.mode must be one of "local", "ssh", "alicloud"; got "cloud"\n {2}- args\.httpPort must be/,
        );
    });
});

describe("docs/component.md", () => {
    it("shows the examples the engine tests deploy (test/engine/consumers/), verbatim", () => {
        const doc = readFileSync(join(ROOT, "docs/component.md"), "utf8");
        const blocks = [...doc.matchAll(/<!-- component-example:(\S+) -->\n```\w+\n([\s\S]*?)```\n/g)];
        assert.deepEqual(
            blocks.map(([, file]) => file),
            ["yaml/Pulumi.yaml", "typescript/index.ts"],
        );
        for (const [, file, shown] of blocks)
            assert.equal(shown, readFileSync(join(ROOT, "test/engine/consumers", file), "utf8"), `docs/component.md's copy of ${file}`);
    });
});

describe("the pulumi new template (Pulumi.yaml's template: section)", () => {
    const template = parseYaml(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")).template as {
        config: Record<string, { description: string; default?: string; secret?: boolean }>;
    };

    it("asks for the mode (local by default) and each mode's own settings, a secret's answer kept secret", () => {
        const asked = Object.keys(template.config).map((key) => key.replace(/^private-registry:/, ""));
        assert.deepEqual(asked, ["mode", "ssh", "sshPrivateKey", "alicloud", "acme"]);
        assert.equal(template.config["private-registry:mode"].default, "local");
        for (const key of asked) {
            const declaration = (CONFIG_KEYS as Record<string, { secret?: boolean; pulumi?: object }>)[key];
            assert.equal(template.config[`private-registry:${key}`].secret ?? false, declaration.secret ?? false, `${key}: secret`);
            // An answer is a string: a key Pulumi.yaml declares as a list, integer or boolean would refuse it.
            assert.ok(!("type" in (declaration.pulumi ?? {})) || (declaration.pulumi as { type: string }).type === "string", key);
        }
    });

    it("stores each answer as a string, which the validator reads: an object as JSON", () => {
        const ssh = parseStackConfig({ mode: "ssh", hostnames: '["registry.lan"]', ssh: '{"host": "192.168.1.10", "user": "debian"}' });
        assert.equal(ssh.mode, "ssh");
        assert.deepEqual(ssh.mode === "ssh" && ssh.ssh, { host: "192.168.1.10", port: 22, user: "debian" });
        const cloud = parseStackConfig({
            mode: "alicloud",
            hostnames: '["registry.example.com"]',
            alicloud: '{"region": "cn-hongkong", "dnsZone": "example.com", "adminCidr": "203.0.113.7/32"}',
            acme: '{"email": "ops@example.com"}',
        });
        assert.equal(cloud.mode === "alicloud" && cloud.alicloud.region, "cn-hongkong");
        assert.equal(cloud.acme?.email, "ops@example.com");
    });
});
