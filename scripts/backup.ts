/**
 * Backup and restore of the registry's data volume, for the local and ssh modes.
 *
 *   npm run backup -- --to FILE [--stack NAME] [--name-prefix P] [--docker-host URL]
 *   npm run restore -- --from FILE [--stack NAME] [--name-prefix P] [--docker-host URL] [--replace]
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
 * Pulls and pushes fail (502 from the edge) for the few seconds the copy takes.
 *
 * Restore refuses a volume that already holds repositories unless --replace is given.
 * alicloud mode is refused: its data disk has an automatic snapshot policy instead.
 */
import { spawn } from "child_process";
import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from "fs";
import { parseStackConfig } from "../components/config/parse";
import { dockerSshUrl } from "../components/render/sshAccess";

const DOCKER = "/usr/bin/docker";
const DATA_DIR = "/var/lib/registry";

export interface Target {
    namePrefix: string;
    /** DOCKER_HOST for the client; undefined: the client's own default. */
    dockerHost?: string;
}

/** Runs the docker CLI; stdin from `input`, stdout to `output` when given, else captured. */
export function docker(
    target: Target,
    args: string[],
    io: { input?: NodeJS.ReadableStream; output?: NodeJS.WritableStream } = {},
): Promise<string> {
    const env = { ...process.env };
    if (target.dockerHost !== undefined) env.DOCKER_HOST = target.dockerHost;
    return new Promise((resolve, reject) => {
        const child = spawn(DOCKER, args, { env, stdio: [io.input ? "pipe" : "ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        if (io.output) child.stdout!.pipe(io.output, { end: false });
        else child.stdout!.on("data", (chunk) => (stdout += chunk));
        child.stderr!.on("data", (chunk) => (stderr += chunk));
        if (io.input) {
            // A container that refuses (exit 3) stops reading: its exit code tells, not the EPIPE.
            child.stdin!.on("error", () => undefined);
            io.input.pipe(child.stdin!);
        }
        child.on("error", reject);
        child.on("close", (code) =>
            code === 0 ? resolve(stdout.trim()) : reject(new Error(`docker ${args.join(" ")} exited ${code}: ${stderr.trim()}`)),
        );
    });
}

export const names = (target: Target) => ({ container: `${target.namePrefix}-registry`, volume: `${target.namePrefix}-data` });

/** Runs `work` with the registry container stopped, and starts it again if it was running. */
export async function withRegistryStopped<T>(target: Target, work: (image: string) => Promise<T>): Promise<T> {
    const { container } = names(target);
    const [image, running] = (await docker(target, ["inspect", "-f", "{{.Image}} {{.State.Running}}", container])).split(" ");
    if (running === "true") await docker(target, ["stop", "-t", "30", container]);
    try {
        return await work(image);
    } finally {
        if (running === "true") await docker(target, ["start", container]);
    }
}

/** Writes a tar of the data volume to `file` (via a temp file, so a failed run leaves no half backup). */
export async function backup(target: Target, file: string): Promise<{ bytes: number }> {
    const { volume } = names(target);
    const partial = `${file}.partial`;
    await withRegistryStopped(target, async (image) => {
        const out = createWriteStream(partial);
        try {
            await docker(
                target,
                [
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    "--entrypoint",
                    "tar",
                    "-v",
                    `${volume}:${DATA_DIR}:ro`,
                    image,
                    "-C",
                    DATA_DIR,
                    "-cf",
                    "-",
                    ".",
                ],
                { output: out },
            );
        } catch (error) {
            out.destroy();
            rmSync(partial, { force: true });
            throw error;
        }
        await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    });
    renameSync(partial, file);
    return { bytes: statSync(file).size };
}

/** Unpacks `file` into the data volume; `replace` first empties a volume that holds repositories. */
export async function restore(target: Target, file: string, replace: boolean): Promise<void> {
    statSync(file); // a missing file fails before the registry is stopped
    const { volume } = names(target);
    await withRegistryStopped(target, async (image) => {
        const script = [
            "set -e",
            `if [ -n "$(ls -A ${DATA_DIR})" ]; then`,
            `  if [ "$1" != replace ]; then echo "volume ${volume} is not empty; pass --replace to overwrite it" >&2; exit 3; fi`,
            `  find ${DATA_DIR} -mindepth 1 -maxdepth 1 -exec rm -rf {} +`,
            "fi",
            `tar -C ${DATA_DIR} -xf -`,
        ].join("\n");
        await docker(
            target,
            [
                "run",
                "--rm",
                "-i",
                "--network",
                "none",
                "--entrypoint",
                "sh",
                "-v",
                `${volume}:${DATA_DIR}`,
                image,
                "-c",
                script,
                "restore",
                replace ? "replace" : "keep",
            ],
            { input: createReadStream(file) },
        );
    });
}

/** The target from the stack's config, read with `pulumi config --json`. */
export async function targetFromStack(stack: string | undefined): Promise<Target> {
    const json = await new Promise<string>((resolve, reject) => {
        const child = spawn("pulumi", ["config", "--json", ...(stack ? ["--stack", stack] : [])], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.on("data", (chunk) => (out += chunk));
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`pulumi config --json exited ${code}`))));
    });
    const entries = JSON.parse(json) as Record<string, { value?: string; objectValue?: unknown }>;
    const raw = Object.fromEntries(
        Object.entries(entries)
            .filter(([key]) => key.startsWith("private-registry:"))
            .map(([key, entry]) => [key.slice("private-registry:".length), entry.value]),
    );
    const config = parseStackConfig(raw);
    switch (config.mode) {
        case "local":
            return { namePrefix: config.namePrefix, dockerHost: config.dockerHost };
        case "ssh":
            return { namePrefix: config.namePrefix, dockerHost: dockerSshUrl(config.ssh.user, config.ssh.host, config.ssh.port) };
        default:
            throw new Error(
                "alicloud mode: the data disk is backed up by its automatic snapshot policy (alicloud.snapshotRetentionDays), not by this script",
            );
    }
}

/** `--name-prefix` and `--docker-host` when both are given, else the stack's config with them on top. */
export async function targetFromArgs(args: string[]): Promise<Target> {
    const namePrefix = flag(args, "--name-prefix");
    const dockerHost = flag(args, "--docker-host");
    if (namePrefix !== undefined && dockerHost !== undefined) return { namePrefix, dockerHost };
    return {
        ...(await targetFromStack(flag(args, "--stack"))),
        ...(namePrefix === undefined ? {} : { namePrefix }),
        ...(dockerHost === undefined ? {} : { dockerHost }),
    };
}

export function flag(args: string[], name: string): string | undefined {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const value = args[i + 1];
    if (value === undefined || value.startsWith("--")) throw new Error(`${name} needs a value`);
    return value;
}

async function main(): Promise<void> {
    const [command, ...args] = process.argv.slice(2);
    const target = await targetFromArgs(args);
    if (command === "backup") {
        const file = flag(args, "--to");
        if (file === undefined) throw new Error("usage: npm run backup -- --to FILE");
        const { bytes } = await backup(target, file);
        console.log(`backed up volume ${names(target).volume} to ${file} (${bytes} bytes)`);
    } else if (command === "restore") {
        const file = flag(args, "--from");
        if (file === undefined) throw new Error("usage: npm run restore -- --from FILE [--replace]");
        await restore(target, file, args.includes("--replace"));
        console.log(`restored ${file} into volume ${names(target).volume}`);
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
