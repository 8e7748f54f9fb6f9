import * as pulumi from "@pulumi/pulumi";
import { CONFIG_KEYS, CONFIG_NAMESPACE, keyName } from "./keys";
import { ConfigError, parseStackConfig } from "./parse";
import type { NotificationEndpoint, RegistryStorage, StackConfig, StorageSettings } from "./types";

export * from "./parse";
export * from "./types";

/**
 * Reads this project's keys from the stack configuration and validates them all at once, so a
 * bad value stops `pulumi preview` before any resource is planned, with the key named.
 */
export function readStackConfig(): StackConfig {
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    const present = Object.keys(pulumi.runtime.allConfig())
        .filter((key) => key.startsWith(keyName("")))
        .map((key) => key.slice(keyName("").length));
    // Secrets are read apart (readSshPrivateKey), so a raw key never lands in a plain value.
    const readApart = (key: string) => (CONFIG_KEYS as Record<string, { secret?: boolean }>)[key]?.secret === true;
    const raw = Object.fromEntries(
        [...new Set([...Object.keys(CONFIG_KEYS), ...present])].filter((key) => !readApart(key)).map((key) => [key, config.get(key)]),
    );
    try {
        return parseStackConfig(
            raw,
            present.filter((key) => !readApart(key)),
            present.filter((key) => isConfigSecret(keyName(key))),
        );
    } catch (error) {
        if (error instanceof ConfigError) throw new pulumi.RunError(error.message);
        throw error;
    }
}

/** The SSH key for `ssh` mode, kept secret from the moment it is read. */
export function readSshPrivateKey(): pulumi.Output<string> {
    const key = new pulumi.Config(CONFIG_NAMESPACE).getSecret("sshPrivateKey");
    if (key === undefined) {
        throw new pulumi.RunError(
            `${keyName("sshPrivateKey")} is required in ssh mode: ${CONFIG_KEYS.sshPrivateKey.form}, e.g. ` +
                `pulumi config set --secret ${keyName("sshPrivateKey")} < ~/.ssh/id_ed25519`,
        );
    }
    return key;
}

/**
 * The mirror's upstream password (`mirror.password`), kept secret from the moment it is read:
 * set with `--secret --path`, it makes the whole `mirror` object secret in the stack's config.
 */
export function readMirrorPassword(): pulumi.Output<string> | undefined {
    const mirror = new pulumi.Config(CONFIG_NAMESPACE).getSecretObject<{ password?: unknown }>("mirror");
    return mirror?.apply((value) => (typeof value.password === "string" ? value.password : ""));
}

/**
 * Each webhook's headers (`notifications[i].headers`), index by index, kept secret from the moment
 * they are read: the validator has refused headers that are not a secret config value.
 * Undefined when no webhook has any.
 */
export function readNotificationHeaders(endpoints: NotificationEndpoint[]): pulumi.Output<Record<string, string>[]> | undefined {
    if (!endpoints.some((endpoint) => endpoint.headerNames.length > 0)) return undefined;
    const notifications = new pulumi.Config(CONFIG_NAMESPACE).requireSecretObject<{ headers?: Record<string, unknown> }[]>("notifications");
    return notifications.apply((list) =>
        endpoints.map((endpoint, i) =>
            Object.fromEntries(endpoint.headerNames.map((name) => [name, String(list[i]?.headers?.[name] ?? "")])),
        ),
    );
}

/**
 * Whether a key was set with `--secret`. The SDK's own check: its public API returns a secret's
 * value either way and has no other way to ask. Internal to @pulumi/pulumi (no type declaration),
 * so a pin bump that drops it fails every program test at once (the S3 one checks the refusal).
 */
function isConfigSecret(key: string): boolean {
    const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (key: string) => boolean };
    if (typeof runtimeConfig.isConfigSecret !== "function")
        throw new Error("@pulumi/pulumi no longer exports runtime/config.isConfigSecret; see components/config/index.ts");
    return runtimeConfig.isConfigSecret(key);
}

/**
 * The registry's storage with its S3 credentials, secret from the moment they are read (the validator
 * has refused a `storage` object that is not a secret). `oss` is the alicloud host's to resolve
 * into an S3 bucket of its own; it has no value here.
 */
export function readRegistryStorage(settings: Exclude<StorageSettings, { kind: "oss" }>): RegistryStorage {
    if (settings.kind === "filesystem") return settings;
    const storage = new pulumi.Config(CONFIG_NAMESPACE).requireSecretObject<{ accessKeyId?: unknown; secretAccessKey?: unknown }>(
        "storage",
    );
    const field = (name: "accessKeyId" | "secretAccessKey") => storage.apply((value) => String(value[name] ?? ""));
    return { ...settings, accessKeyId: field("accessKeyId"), secretAccessKey: field("secretAccessKey") };
}
