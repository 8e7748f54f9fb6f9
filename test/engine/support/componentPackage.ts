/**
 * This repository as a Pulumi component package, for the engine tests that consume it
 * (component*.test.ts, template.test.ts): a copy of the package's files, and what `pulumi package add` needs from
 * the engine's plugin directory.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { selectedEngine } from "./engineProject";

const ROOT = resolve(__dirname, "../../..");
/** What the package is made of: the stack's files, the plugin manifest and the lock npm installs from. */
const PACKAGE_FILES = ["PulumiPlugin.yaml", "Pulumi.yaml", "index.ts", "components", "package.json", "package-lock.json", "tsconfig.json"];

/**
 * A copy of the package at `work/private-registry`, as a clone with its dependencies installed
 * would be. node_modules is copied as hard links: `pulumi package add` runs `npm install` in the
 * package, which finds it up to date (a symlink it would replace with a fresh install).
 */
export function copyPackage(work: string): string {
    const dir = join(work, "private-registry");
    mkdirSync(dir);
    for (const file of PACKAGE_FILES) cpSync(join(ROOT, file), join(dir, file), { recursive: true });
    execFileSync("cp", ["-al", join(ROOT, "node_modules"), join(dir, "node_modules")]);
    return dir;
}

/**
 * With the built engine, `pulumi package add` installs the plugin of every provider SDK the
 * package depends on before it runs the package, and the engine has no alicloud provider (its
 * source is not served here; docs/testing.md): each missing one gets a placeholder in the test's
 * plugin directory that fails whenever it is started, so only a program that never uses it (local
 * mode) can pass. An installed CLI acquires the real plugins as usual.
 */
export function placeholdersForUnbuiltPlugins(env: NodeJS.ProcessEnv): string[] {
    if (selectedEngine().kind !== "built") return [];
    const dependencies = Object.keys(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).dependencies as Record<string, string>);
    const placed: string[] = [];
    for (const dependency of dependencies) {
        const manifest = JSON.parse(readFileSync(join(ROOT, "node_modules", dependency, "package.json"), "utf8"));
        const plugin = manifest.pulumi as { resource?: boolean; name?: string; version?: string } | undefined;
        if (!plugin?.resource || plugin.name === undefined) continue;
        const dir = join(env.PULUMI_HOME!, "plugins", `resource-${plugin.name}-v${plugin.version ?? manifest.version}`);
        if (existsSync(dir)) continue;
        mkdirSync(dir, { recursive: true });
        const binary = join(dir, `pulumi-resource-${plugin.name}`);
        writeFileSync(binary, `#!/bin/sh\necho "placeholder: the engine built for the tests has no ${plugin.name} provider" >&2\nexit 1\n`);
        chmodSync(binary, 0o755);
        placed.push(plugin.name);
    }
    return placed;
}
