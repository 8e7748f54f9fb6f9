/**
 * Backup and restore of the registry's data volume, for the local and ssh modes.
 *
 *   npm run backup -- --to FILE [--stack NAME] [--name-prefix P] [--docker-host URL] [--ready-timeout SECONDS]
 *   npm run restore -- --from FILE [--stack NAME] [--name-prefix P] [--docker-host URL] [--ready-timeout SECONDS] [--replace]
 *
 * The stack's namePrefix and Docker host come from `pulumi config --json` (validated by
 * components/config/parse.ts) unless both flags are given. A backup is a plain tar of the volume
 * `<namePrefix>-data`, made by a throwaway container of the registry's own image (no pull) with
 * the volume mounted read-only and streamed to FILE through the Docker API, so an ssh:// daemon
 * works the same as the local socket. The registry container `<namePrefix>-registry` is stopped
 * for the copy and started again afterwards, also on failure: Distribution writes blobs, then
 * links, then tags, and a copy taken while it writes can hold a tag whose blobs are missing.
 * Stopped rather than read-only maintenance mode, because that mode is a config change, which
 * replaces the container Pulumi manages; `docker stop`/`docker start` keeps that very container.
 * Pulls and pushes fail (502 from the edge) for the few seconds the copy takes. The script returns
 * only once the registry answers again through the edge (`waitUntilServing`), or fails saying so
 * after `--ready-timeout` seconds (default 120).
 *
 * `docker` is the Docker CLI found on PATH; it honours DOCKER_HOST unless the stack or
 * `--docker-host` names the daemon. Container and volume names come from components/services/dockerNames.ts,
 * where the components take them from.
 *
 * Restore refuses a volume that already holds repositories unless --replace is given.
 * alicloud mode is refused: its data disk has an automatic snapshot policy instead.
 */
import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from "fs";
import {
    DATA_DIR,
    flag,
    names,
    RegistryStopOptions,
    runOnDataVolume,
    stopOptionsFromArgs,
    Target,
    targetFromArgs,
    withRegistryStopped,
} from "./lib/registryTarget";

/** Writes a tar of the data volume to `file` (via a temp file, so a failed run leaves no half backup). */
export async function backup(target: Target, file: string, options: RegistryStopOptions = {}): Promise<{ bytes: number }> {
    const partial = `${file}.partial`;
    await withRegistryStopped(
        target,
        async (image) => {
            const out = createWriteStream(partial);
            try {
                await runOnDataVolume(
                    target,
                    image,
                    { entrypoint: "tar", args: ["-C", DATA_DIR, "-cf", "-", "."], readOnly: true },
                    { output: out },
                );
            } catch (error) {
                out.destroy();
                rmSync(partial, { force: true });
                throw error;
            }
            await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
        },
        options,
    );
    renameSync(partial, file);
    return { bytes: statSync(file).size };
}

/** Unpacks `file` into the data volume; `replace` first empties a volume that holds repositories. */
export async function restore(target: Target, file: string, replace: boolean, options: RegistryStopOptions = {}): Promise<void> {
    statSync(file); // a missing file fails before the registry is stopped
    const volume = names(target).registryData;
    await withRegistryStopped(
        target,
        async (image) => {
            const script = [
                "set -e",
                `if [ -n "$(ls -A ${DATA_DIR})" ]; then`,
                `  if [ "$1" != replace ]; then echo "volume ${volume} is not empty; pass --replace to overwrite it" >&2; exit 3; fi`,
                `  find ${DATA_DIR} -mindepth 1 -maxdepth 1 -exec rm -rf {} +`,
                "fi",
                `tar -C ${DATA_DIR} -xf -`,
            ].join("\n");
            await runOnDataVolume(
                target,
                image,
                { entrypoint: "sh", args: ["-c", script, "restore", replace ? "replace" : "keep"] },
                { input: createReadStream(file) },
            );
        },
        options,
    );
}

async function main(): Promise<void> {
    const [command, ...args] = process.argv.slice(2);
    const options = stopOptionsFromArgs(args);
    const target = await targetFromArgs(args);
    const volume = names(target).registryData;
    if (command === "backup") {
        const file = flag(args, "--to");
        if (file === undefined) throw new Error("usage: npm run backup -- --to FILE");
        const { bytes } = await backup(target, file, options);
        console.log(`backed up volume ${volume} to ${file} (${bytes} bytes)`);
    } else if (command === "restore") {
        const file = flag(args, "--from");
        if (file === undefined) throw new Error("usage: npm run restore -- --from FILE [--replace]");
        await restore(target, file, args.includes("--replace"), options);
        console.log(`restored ${file} into volume ${volume}`);
    } else {
        throw new Error("usage: backup.ts backup --to FILE | restore --from FILE [--replace]");
    }
}

if (require.main === module) {
    main().catch((error: Error) => {
        console.error(error.message);
        process.exit(1);
    });
}
