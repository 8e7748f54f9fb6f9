/**
 * The registry as a component any Pulumi program can use, in any language: its args are the
 * stack's config keys (containerRegistryArgs.ts, generated from their declarations), checked by
 * the same validator, and it deploys what the stack deploys (registryDeployment.ts), under itself.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseSettings, StackConfig, StackSecrets } from "./config";
import { CONFIG_KEYS } from "./config/keys";
import { ConfigError } from "./config/parse";
import type { Declaration, Declarations } from "./config/reader";
import { ContainerRegistryArgs } from "./containerRegistryArgs";
import { UserCredential } from "./credentials/registryCredentials";
import { AlicloudPlacement } from "./hosts/alicloudPlacement";
import { ClientSnippets } from "./privateRegistry";
import { deployRegistry } from "./registryDeployment";

/** How an error names an arg: `args.ssh.port`. */
const argName = (path: string) => `args.${path}`;

/**
 * A private container registry (Distribution, the joxit UI and an nginx TLS edge), its users,
 * and the setup every client needs, on the Docker host `mode` names: this Docker daemon, a server
 * over SSH, or a new Alibaba Cloud VM.
 */
export class ContainerRegistry extends pulumi.ComponentResource {
    /** `host[:port]`, what goes in front of image names. */
    readonly registryEndpoint: pulumi.Output<string>;
    /** The UI, `https://HOST[:port]/`. */
    readonly uiEndpoint: pulumi.Output<string>;
    /** The private CA clients must trust; unset with `acme` (a public CA). */
    readonly caCertificate: pulumi.Output<string | undefined>;
    /** Secret: every user, password and role. */
    readonly credentials: pulumi.Output<UserCredential[]>;
    /** Each client's setup: files, commands, and both as one script. */
    readonly clientSnippets: ClientSnippets;
    /** `host:port` of the pull-through mirror, with `mirror`. */
    readonly mirrorEndpoint: pulumi.Output<string | undefined>;
    /** alicloud mode: the instance type, zone and image the VM runs on. */
    readonly alicloudPlacement: pulumi.Output<AlicloudPlacement | undefined>;

    constructor(name: string, args: ContainerRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:ContainerRegistry", name, {}, opts);
        let valid: ReturnType<typeof readArgs>;
        try {
            valid = readArgs(args);
        } catch (error) {
            if (!(error instanceof ConfigError)) throw error;
            throw new pulumi.ResourceError(`invalid args:\n  - ${error.problems.join("\n  - ")}`, this, true);
        }
        const { settings, secrets } = valid;
        const registry = deployRegistry({ parent: this, name: (part) => `${name}-${part}` }, settings, secrets);
        this.registryEndpoint = pulumi.output(registry.registryEndpoint);
        this.uiEndpoint = pulumi.output(registry.uiEndpoint);
        this.caCertificate = registry.caCertificate;
        this.credentials = registry.credentials;
        this.clientSnippets = registry.clientSnippets;
        this.mirrorEndpoint = pulumi.output(registry.mirrorEndpoint);
        this.alicloudPlacement = pulumi.output(registry.alicloudPlacement);
        this.registerOutputs({ ...registry });
    }
}

/** Set, for a secret: anything but nothing (an Output counts, its value is not known yet). */
const isSet = (value: unknown) => value !== undefined && value !== null && value !== "";

/** What the validator reads for a secret map's value not known yet (a secret Output): any valid value. */
const SECRET_VALUE = "(secret)";

/**
 * The args as the validator reads them: a secret as whether it is set, a secret map's values as
 * they are only when plain text (the secrets themselves go to `secrets`, never into a plain
 * value), and a value another resource computes refused, since what the registry is made of must
 * be known at preview.
 */
function validatorInput(
    args: Record<string, unknown>,
    declarations: Declarations,
    path: string,
    found: { problems: string[]; secrets: Map<string, unknown> },
): Record<string, unknown> {
    return Object.fromEntries(
        Object.entries(args).map(([key, value]) => {
            const declaration: Declaration | undefined = declarations[key];
            const at = `${path}${key}`;
            if (declaration?.secret) {
                if (isSet(value)) found.secrets.set(at, value);
                return [key, isSet(value) ? true : undefined];
            }
            if (declaration?.arg === "secret map" && isPlainObject(value)) {
                if (Object.keys(value).length > 0) found.secrets.set(at, value);
                const known = Object.entries(value).map(([name, v]) => [name, typeof v === "string" ? v : SECRET_VALUE]);
                return [key, Object.fromEntries(known)];
            }
            if (declaration?.fields !== undefined && isPlainObject(value))
                return [key, validatorInput(value, declaration.fields, `${at}.`, found)];
            if (declaration?.fields !== undefined && Array.isArray(value))
                return [
                    key,
                    value.map((entry, i) =>
                        isPlainObject(entry) ? validatorInput(entry, declaration.fields!, `${at}[${i}].`, found) : entry,
                    ),
                ];
            if (containsOutput(value)) {
                found.problems.push(`${argName(at)} must be a plain value known at preview, not another resource's output`);
                return [key, undefined];
            }
            return [key, value];
        }),
    );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value) && !pulumi.Output.isInstance(value);
}

function containsOutput(value: unknown): boolean {
    if (pulumi.Output.isInstance(value) || value instanceof Promise) return true;
    if (Array.isArray(value)) return value.some(containsOutput);
    if (isPlainObject(value)) return Object.values(value).some(containsOutput);
    return false;
}

/**
 * The settings the args describe, validated as the stack's config is, and the secrets they carry;
 * a ConfigError lists every problem, each naming the arg (`args.ssh.port`).
 */
export function readArgs(args: ContainerRegistryArgs): { settings: StackConfig; secrets: StackSecrets } {
    const found = { problems: [] as string[], secrets: new Map<string, unknown>() };
    const raw = validatorInput({ ...args }, CONFIG_KEYS, "", found);
    // Every secret is kept secret (registryDeployment.ts), so each counts as given as one.
    const secretKeys = Object.keys(CONFIG_KEYS).filter((key) => [...found.secrets.keys()].some((at) => at.split(/[.[]/)[0] === key));
    let settings: StackConfig | undefined;
    try {
        settings = parseSettings(raw, { naming: argName, secretKeys });
    } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        found.problems.push(...error.problems);
    }
    const secret = (at: string) => found.secrets.get(at) as pulumi.Input<string> | undefined;
    if ((args.mode ?? CONFIG_KEYS.mode.default) === "ssh" && secret("sshPrivateKey") === undefined)
        found.problems.push(`${argName("sshPrivateKey")} is required in ssh mode: ${CONFIG_KEYS.sshPrivateKey.argForm}`);
    if (found.problems.length > 0 || settings === undefined) throw new ConfigError(found.problems);
    const [accessKeyId, secretAccessKey] = [secret("storage.accessKeyId"), secret("storage.secretAccessKey")];
    // Index by index, as the stack reads them: each webhook's headers, {} for one without.
    const headers = settings.notifications.map(
        (_, i) => found.secrets.get(`notifications[${i}].headers`) as Record<string, pulumi.Input<string>>,
    );
    return {
        settings,
        secrets: {
            sshPrivateKey: secret("sshPrivateKey"),
            mirrorPassword: secret("mirror.password"),
            s3Keys: accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId, secretAccessKey } : undefined,
            notificationHeaders: headers.some((h) => h !== undefined) ? pulumi.output(headers.map((h) => h ?? {})) : undefined,
        },
    };
}
