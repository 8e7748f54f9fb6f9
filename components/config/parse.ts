/**
 * Stack configuration: read once, validated once, defaults applied.
 *
 * Pure: takes the raw values Pulumi hands us (`key -> string`, arrays and objects as JSON text)
 * and returns a typed `StackConfig`, or throws a `ConfigError` listing every bad key with the
 * form it expects. Each key is read by its declaration (keys.ts), then the rules across keys run
 * (rules.ts). Kept free of `@pulumi/*` imports so the tests can call it directly.
 */
import { CONFIG_KEYS, keyName, REMOVED_KEYS } from "./keys";
import { KeyNaming, Reader } from "./reader";
import { applyRules, KeyValues } from "./rules";
import type { StackConfig } from "./types";

export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

/**
 * `keys` are the config keys present in our namespace, to catch typos such as `hostname`;
 * `secretKeys` the ones set with `--secret` (one secret field makes its whole object key secret).
 */
export function parseStackConfig(raw: Record<string, unknown>, keys: string[] = Object.keys(raw), secretKeys: string[] = []): StackConfig {
    return parseSettings(raw, { naming: keyName, keys, secretKeys });
}

/**
 * Validates raw settings, whoever hands them over: `naming` says how an error names a key (the
 * stack's `private-registry:httpsPort`), `keys` which keys are present, `secretKeys` which were
 * given as secrets.
 */
export function parseSettings(
    raw: Record<string, unknown>,
    { naming, keys = Object.keys(raw), secretKeys = [] }: { naming: KeyNaming; keys?: string[]; secretKeys?: string[] },
): StackConfig {
    const read = new Reader(raw, CONFIG_KEYS, { naming, secretKeys });
    for (const key of keys.filter((k) => k in REMOVED_KEYS)) read.fail(key, REMOVED_KEYS[key]);
    read.reportUnknown(keys.filter((k) => !(k in REMOVED_KEYS)));
    const config = applyRules(readKeys(read), read);
    if (read.problems.length > 0) throw new ConfigError(read.problems);
    if (config === undefined) throw new Error("the configuration was refused without a problem named");
    return config;
}

/** Every key by its declaration, the mode first: a mode's own keys are read in that mode only, secrets apart. */
function readKeys(read: Reader<typeof CONFIG_KEYS>): KeyValues {
    const mode = read.read("mode");
    const values: Record<string, unknown> = { mode };
    for (const [key, declaration] of Object.entries(CONFIG_KEYS)) {
        if (key === "mode" || declaration.secret || (declaration.readIn !== undefined && !declaration.readIn.includes(mode))) continue;
        values[key] = read.read(key as keyof typeof CONFIG_KEYS);
    }
    return values as KeyValues;
}
