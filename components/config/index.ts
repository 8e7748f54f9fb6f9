import * as pulumi from "@pulumi/pulumi";
import { CONFIG_KEYS, CONFIG_NAMESPACE, keyName } from "./keys";
import { ConfigError, parseStackConfig } from "./parse";
import type { NotificationEndpoint, RegistryStorage, StackConfig, StackSecrets, StorageSettings } from "./types";

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
    // Secrets are read apart (readStackSecrets), so a raw key never lands in a plain value.
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

/**
 * The stack's secrets the settings say it needs, each secret from the moment it is read: the SSH
 * key in ssh mode, the mirror's upstream password, the S3 bucket's keys, the webhooks' headers.
 */
export function readStackSecrets(settings: StackConfig): StackSecrets {
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    // Set with `--secret --path`, a field makes its whole object key secret.
    const secretField = (key: string, field: string) =>
        config.requireSecretObject<Record<string, unknown>>(key).apply((value) => (typeof value[field] === "string" ? value[field] : ""));
    return {
        sshPrivateKey: settings.mode === "ssh" ? readSshPrivateKey(config) : undefined,
        mirrorPassword: settings.mirror?.hasPassword ? secretField("mirror", "password") : undefined,
        s3Keys:
            settings.storage.kind === "s3"
                ? { accessKeyId: secretField("storage", "accessKeyId"), secretAccessKey: secretField("storage", "secretAccessKey") }
                : undefined,
        notificationHeaders: readNotificationHeaders(settings.notifications),
    };
}

function readSshPrivateKey(config: pulumi.Config): pulumi.Output<string> {
    const key = config.getSecret("sshPrivateKey");
    if (key === undefined) {
        throw new pulumi.RunError(
            `${keyName("sshPrivateKey")} is required in ssh mode: ${CONFIG_KEYS.sshPrivateKey.form}, e.g. ` +
                `pulumi config set --secret ${keyName("sshPrivateKey")} < ~/.ssh/id_ed25519`,
        );
    }
    return key;
}

/**
/**
 * Each webhook's headers (`notifications[i].headers`), index by index, kept secret from the moment
 * they are read: the validator has refused headers that are not a secret config value.
 * Undefined when no webhook has any.
 */
function readNotificationHeaders(endpoints: NotificationEndpoint[]): pulumi.Output<Record<string, string>[]> | undefined {
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
 * The registry's storage with the S3 bucket's keys (`oss` is the alicloud host's to resolve into
 * a bucket of its own; it has no value here).
 */
export function registryStorage(settings: Exclude<StorageSettings, { kind: "oss" }>, keys: StackSecrets["s3Keys"]): RegistryStorage {
    if (settings.kind === "filesystem") return settings;
    if (keys === undefined) throw new Error("storage kind s3 without its keys: the validator requires them");
    return { ...settings, ...keys };
}
