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
import { ChildProcess, spawn, StdioOptions } from "child_process";
import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from "fs";
import { parseStackConfig } from "../components/config/parse";
import { EDGE_PROBE_PATHS } from "../components/render/edgeConfig";
import { REGISTRY_DATA_DIR } from "../components/render/registryConfig";
import { dockerSshUrl } from "../components/render/sshAccess";
import { DockerNames, dockerNames } from "../components/services/dockerNames";
import { httpProbe } from "../components/services/networking";

/** The Docker CLI, found on PATH as a shell would (Debian's, Homebrew's, a snap, rootless Docker's). */
const DOCKER = "docker";
const DATA_DIR = REGISTRY_DATA_DIR;
/** How long the scripts wait for the registry to answer again after starting it, unless `--ready-timeout` says. */
export const READY_TIMEOUT_SECONDS = 120;

export interface Target {
    namePrefix: string;
    /** DOCKER_HOST for the client; undefined: the client's own default. */
    dockerHost?: string;
}

/** The docker CLI's process for `target`: the CLI on PATH, DOCKER_HOST set when the target names a daemon. */
export function spawnDocker(target: Target, args: string[], stdio: StdioOptions): ChildProcess {
    const env = { ...process.env };
    if (target.dockerHost !== undefined) env.DOCKER_HOST = target.dockerHost;
    return spawn(DOCKER, args, { env, stdio });
}

/** Why the docker CLI could not be started, in words: ENOENT is a missing CLI. */
function dockerSpawnError(error: NodeJS.ErrnoException): Error {
    if (error.code === "ENOENT")
        return new Error(`the Docker CLI (\`${DOCKER}\`) is not on PATH: install it, or add its directory to PATH`);
    return error;
}

/**
 * Runs the docker CLI; stdin from `input`, stdout to `output` when given, else captured. A run that
 * outlasts `timeoutMs` is killed and fails.
 */
export function docker(
    target: Target,
    args: string[],
    io: { input?: NodeJS.ReadableStream; output?: NodeJS.WritableStream; timeoutMs?: number } = {},
): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawnDocker(target, args, [io.input ? "pipe" : "ignore", "pipe", "pipe"]);
        const timer =
            io.timeoutMs === undefined
                ? undefined
                : setTimeout(() => {
                      child.kill("SIGKILL");
                      stderr += `(killed after ${io.timeoutMs} ms)`;
                  }, io.timeoutMs);
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
        child.on("error", (error) => {
            clearTimeout(timer);
            reject(dockerSpawnError(error));
        });
        child.on("close", (code) => {
            clearTimeout(timer);
            if (code === 0) resolve(stdout.trim());
            else reject(new Error(`docker ${args.join(" ")} exited ${code}: ${stderr.trim()}`));
        });
    });
}

/** The target stack's Docker object names. */
export const names = (target: Target): DockerNames => dockerNames(target.namePrefix);

/** What the scripts do around their work on the data volume. */
export interface RegistryStopOptions {
    /** Seconds to wait for the registry to answer again after starting it. Default: READY_TIMEOUT_SECONDS. */
    readyTimeoutSeconds?: number;
}

/**
 * Runs `work` with the registry container stopped; if it was running, starts it again (also when
 * `work` failed) and returns only once it answers again (`waitUntilServing`).
 */
export async function withRegistryStopped<T>(
    target: Target,
    work: (image: string) => Promise<T>,
    options: RegistryStopOptions = {},
): Promise<T> {
    const container = names(target).container("registry");
    const [image, running] = (await docker(target, ["inspect", "-f", "{{.Image}} {{.State.Running}}", container])).split(" ");
    if (running !== "true") return work(image);
    await docker(target, ["stop", "-t", "30", container]);
    let outcome: { value: T } | { error: unknown };
    try {
        outcome = { value: await work(image) };
    } catch (error) {
        outcome = { error };
    }
    try {
        await docker(target, ["start", container]);
        const asked = await waitUntilServing(target, options.readyTimeoutSeconds ?? READY_TIMEOUT_SECONDS);
        console.log(`${container} started again; the registry answers (${asked})`);
    } catch (restartError) {
        if (!("error" in outcome)) throw restartError;
        const first = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
        throw new Error(`${first}\nand then: ${(restartError as Error).message}`);
    }
    if ("error" in outcome) throw outcome.error;
    return outcome.value;
}

/** A command run inside a container that succeeds once the registry answers, and what it asks. */
interface ReadinessProbe {
    container: string;
    command: string[];
    what: string;
}

/**
 * How to tell that the registry answers where clients reach it: the edge's readiness probe
 * (`GET /readyz` on its plain-HTTP port: 200 only while the registry behind it answers), run
 * inside the edge container as the stack probes it (`httpProbe`), at the address of the edge's
 * own health check, which GETs the liveness path of that same server. A registry with no edge
 * container (not a stack's own) is asked by its own health check. Neither: an error saying so.
 */
async function readinessProbe(target: Target): Promise<ReadinessProbe> {
    const inspect = async (container: string) => {
        const format = "{{.State.Running}} {{json .Config.Healthcheck}}";
        const found = await docker(target, ["inspect", "-f", format, container]).then(
            (out) => out,
            () => undefined,
        );
        if (found === undefined) return undefined;
        const [running, ...json] = found.split(" ");
        const healthcheck = JSON.parse(json.join(" ")) as { Test?: string[] } | null;
        return { running: running === "true", test: healthcheck?.Test ?? [] };
    };
    const { container } = names(target);
    const edge = container("edge");
    const edgeState = await inspect(edge);
    if (edgeState !== undefined) {
        if (!edgeState.running)
            throw new Error(`the edge container ${edge} is not running: start it (docker start ${edge}) or run \`pulumi up\``);
        // ["CMD", "wget", ..., URL] as the stack declares it, or ["CMD-SHELL", "wget ... URL"].
        const liveness = edgeState.test
            .slice(1)
            .flatMap((arg) => arg.split(/\s+/))
            .find((word) => URL.canParse(word) && new URL(word).pathname === EDGE_PROBE_PATHS.liveness);
        if (liveness === undefined)
            throw new Error(
                `${edge}'s health check (${JSON.stringify(edgeState.test)}) GETs no ${EDGE_PROBE_PATHS.liveness}: cannot tell where to ask it whether the registry answers`,
            );
        const url = new URL(liveness);
        url.pathname = EDGE_PROBE_PATHS.readiness;
        return { container: edge, command: httpProbe(url.href), what: `GET ${url.href} in ${edge}, the edge` };
    }
    const registry = container("registry");
    const test = (await inspect(registry))?.test ?? [];
    const command = test[0] === "CMD" ? test.slice(1) : test[0] === "CMD-SHELL" ? ["sh", "-c", test[1]] : undefined;
    if (command === undefined)
        throw new Error(`there is no edge container ${edge}, and ${registry} has no health check: cannot tell when the registry answers`);
    return { container: registry, command, what: `${registry}'s own health check (${command.join(" ")})` };
}

/**
 * Waits until the registry answers again (`readinessProbe`), asking every half second; fails after
 * `timeoutSeconds`, naming what it asked and the last answer. Returns what it asked.
 */
export async function waitUntilServing(target: Target, timeoutSeconds: number): Promise<string> {
    const probe = await readinessProbe(target);
    const deadline = Date.now() + timeoutSeconds * 1000;
    let last = "";
    for (;;) {
        const remaining = deadline - Date.now();
        const answered = await docker(target, ["exec", probe.container, ...probe.command], {
            timeoutMs: Math.max(1000, Math.min(10_000, remaining)),
        }).then(
            () => true,
            (error: Error) => ((last = error.message), false),
        );
        if (answered) return probe.what;
        if (Date.now() + 500 >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error(
        `the registry did not answer within ${timeoutSeconds} s of being started again (${probe.what}; last: ${last}); ` +
            `see \`docker logs ${names(target).container("registry")}\`, and wait longer with --ready-timeout SECONDS`,
    );
}

/**
 * Runs `entrypoint args...` in a throwaway container of the registry's own `image` (already on the
 * host: no pull), with no network and the data volume at its usual path, read-only when asked;
 * stdin from `io.input`, stdout to `io.output` or returned.
 */
export function runOnDataVolume(
    target: Target,
    image: string,
    command: { entrypoint: string; args: string[]; readOnly?: boolean },
    io: { input?: NodeJS.ReadableStream; output?: NodeJS.WritableStream } = {},
): Promise<string> {
    const mount = `${names(target).registryData}:${DATA_DIR}${command.readOnly ? ":ro" : ""}`;
    const stdin = io.input === undefined ? [] : ["-i"];
    return docker(
        target,
        ["run", "--rm", ...stdin, "--network", "none", "--entrypoint", command.entrypoint, "-v", mount, image, ...command.args],
        io,
    );
}

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

/** `--ready-timeout SECONDS`, a positive number. */
export function stopOptionsFromArgs(args: string[]): RegistryStopOptions {
    const value = flag(args, "--ready-timeout");
    if (value === undefined) return {};
    const seconds = Number(value);
    if (!(seconds > 0)) throw new Error(`--ready-timeout needs a number of seconds above 0, not ${JSON.stringify(value)}`);
    return { readyTimeoutSeconds: seconds };
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
