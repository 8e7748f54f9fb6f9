import * as pulumi from "@pulumi/pulumi";
import { CONFIG_KEYS, CONFIG_NAMESPACE, ConfigError, keyName, parseStackConfig, StackConfig } from "./parse";

export * from "./parse";

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
    const raw = Object.fromEntries(
        [...new Set([...Object.keys(CONFIG_KEYS), ...present])]
            .filter((key) => key !== "sshPrivateKey")
            .map((key) => [key, config.get(key)]),
    );
    try {
        return parseStackConfig(raw, present.filter((key) => key !== "sshPrivateKey"));
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
            `${keyName("sshPrivateKey")} is required in ssh mode: ${CONFIG_KEYS.sshPrivateKey}, e.g. ` +
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
