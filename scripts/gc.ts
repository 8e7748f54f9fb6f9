/**
 * Garbage collection of the registry's data volume, for the local and ssh modes.
 *
 *   npm run gc -- [--dry-run] [--stack NAME] [--name-prefix P] [--docker-host URL] [--ready-timeout SECONDS]
 *
 * Deleting a tag or manifest (API or UI, with `deleteEnabled`) frees no space: the blobs stay
 * until `registry garbage-collect` sweeps what no manifest references. Distribution requires that
 * nothing writes meanwhile (a blob uploaded during the mark phase would be swept), so the registry
 * container is stopped for the collection and started again afterwards, also on failure, as for a
 * backup (scripts/backup.ts says why stopped rather than read-only; scripts/lib/registryTarget.ts how it waits for the
 * registry to answer again before returning). The collector runs in a
 * throwaway container of the registry's own image with the data volume and the container's own
 * config.yml (copied out of the stopped container), so it sees the storage exactly as the registry
 * does.
 *
 * `--delete-untagged` only with Distribution 3: 2.8's collector then also deletes the platform
 * manifests of a multi-arch image (untagged, referenced only by their index), which breaks every
 * pull of it (distribution/distribution issues 3004 and 3178; 3.x keeps what an index references,
 * test/integration/distribution3.test.ts). Which version runs is told by where the container's
 * config.yml is (3.x moved it).
 */
import type { DistributionMajor } from "../components/config/distribution";
import { REGISTRY_CONFIG_PATHS } from "../components/render/registryConfig";
import {
    docker,
    names,
    runOnDataVolume,
    RegistryStopOptions,
    spawnDocker,
    stopOptionsFromArgs,
    Target,
    targetFromArgs,
    withRegistryStopped,
} from "./lib/registryTarget";

/** Where the registry container reads its config.yml, and so which Distribution it runs. */
async function containerConfig(target: Target, container: string): Promise<{ path: string; major: DistributionMajor }> {
    for (const major of [3, 2] as const) {
        const path = REGISTRY_CONFIG_PATHS[major];
        const found = await docker(target, ["cp", `${container}:${path}`, "-"]).then(
            () => true,
            () => false,
        );
        if (found) return { path, major };
    }
    throw new Error(`${container} has no config.yml at ${Object.values(REGISTRY_CONFIG_PATHS).join(" or ")}`);
}

/** Runs the collector; returns its output (what it marked and deleted). */
export async function collectGarbage(
    target: Target,
    options: { dryRun: boolean; deleteUntagged?: boolean } & RegistryStopOptions,
): Promise<string> {
    const container = names(target).container("registry");
    const { path: CONFIG_PATH, major } = await containerConfig(target, container);
    if (options.deleteUntagged && major !== 3) {
        throw new Error(
            "--delete-untagged is refused with Distribution 2.8: it would delete the platform manifests of multi-arch images (docs/operations.md)",
        );
    }
    return withRegistryStopped(
        target,
        async (image) => {
            // `docker cp CONTAINER:FILE -` writes a tar holding the file; the collector unpacks it.
            const copy = spawnDocker(target, ["cp", `${container}:${CONFIG_PATH}`, "-"], ["ignore", "pipe", "inherit"]);
            // Listened for at once: `docker cp` may be done before the collector is.
            const copyExit = new Promise<number | null>((resolve, reject) => {
                copy.on("error", reject);
                copy.on("close", resolve);
            });
            const flags = [options.dryRun ? "--dry-run" : "", options.deleteUntagged ? "--delete-untagged" : ""].join(" ");
            const collect = `set -e; mkdir -p /tmp/gc; tar -xf - -C /tmp/gc; registry garbage-collect ${flags} /tmp/gc/config.yml 2>&1`;
            const output = await runOnDataVolume(target, image, { entrypoint: "sh", args: ["-c", collect] }, { input: copy.stdout! });
            const copied = await copyExit;
            if (copied !== 0) throw new Error(`docker cp of ${container}:${CONFIG_PATH} exited ${copied}`);
            return output;
        },
        options,
    );
}

async function main(): Promise<void> {
    const args = process.argv.slice(2);
    const stopOptions = stopOptionsFromArgs(args);
    const target = await targetFromArgs(args);
    const output = await collectGarbage(target, {
        dryRun: args.includes("--dry-run"),
        deleteUntagged: args.includes("--delete-untagged"),
        ...stopOptions,
    });
    const deleted = output.split("\n").filter((line) => /blob eligible for deletion/.test(line)).length;
    console.log(
        output
            .split("\n")
            .filter((line) => !/marking (manifest|blob)/.test(line))
            .join("\n"),
    );
    console.log(
        `garbage collection of volume ${names(target).registryData}: ${deleted} blobs eligible for deletion${args.includes("--dry-run") ? " (dry run, nothing deleted)" : ""}`,
    );
}

if (require.main === module) {
    main().catch((error: Error) => {
        console.error(error.message);
        process.exit(1);
    });
}
