/**
 * This repository as others use it, for the engine tests that do (component*.test.ts as a
 * component package, template.test.ts as a `pulumi new` template): a copy of the package's
 * files, what `pulumi package add` and `pulumi new` need from the engine's plugin directory, and
 * the dockerd their programs deploy to.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { makeTempDir } from "../../../scripts/lib/processes";
import { PrivateDockerd } from "../../e2e/support/dockerd";
import { addHostsEntry } from "../../e2e/support/hostsFile";
import { createNetworkNamespace, NAMESPACE_SERVICE_ADDRESS, NetworkNamespace } from "../../../scripts/lib/netns";
import { engineEnvironment, selectedEngine, startDockerdWithStandIns } from "./engineProject";

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

/** Where a consuming program deploys: the test's scratch directory, a dockerd, and the engine's environment. */
export interface DeployTarget {
    work: string;
    namespace: NetworkNamespace;
    dockerd: PrivateDockerd;
    env: NodeJS.ProcessEnv;
}

/**
 * A dockerd with the stand-in images and a bridge, in a network namespace of the test's own (its
 * default ports 443 and 80 are free there), `name` resolving to the namespace's service address,
 * and the engine's environment, whose DOCKER_HOST names that dockerd: the program sets no
 * `dockerHost`, and its Docker provider (the component's, started by the engine) finds the daemon
 * as Docker's own clients do. The plugins the engine cannot build get their placeholders.
 */
export async function namespacedDeployTarget(prefix: string, name: string): Promise<DeployTarget> {
    const work = makeTempDir(`${prefix}-`);
    const namespace = await createNetworkNamespace(prefix);
    await namespace.run("ip", ["address", "add", `${NAMESPACE_SERVICE_ADDRESS}/32`, "dev", "lo"]);
    const dockerd = await startDockerdWithStandIns(work, { networkNamespace: namespace });
    addHostsEntry(NAMESPACE_SERVICE_ADDRESS, name);
    const env = await engineEnvironment(work, { DOCKER_HOST: dockerd.host });
    placeholdersForUnbuiltPlugins(env);
    return { work, namespace, dockerd, env };
}
