/**
 * What the operator tools (scripts/backup.ts, scripts/gc.ts) share: the Docker daemon a stack's
 * registry runs on and its names (from the stack's config or flags), the Docker CLI on PATH, and
 * stopping the registry container for a job on its data volume, then waiting until the registry
 * answers through the edge again.
 */
import { ChildProcess, spawn, StdioOptions } from "child_process";
import { parseStackConfig } from "../../components/config/parse";
import { EDGE_PROBE_PATHS } from "../../components/render/edgeConfig";
import { REGISTRY_DATA_DIR } from "../../components/render/registryConfig";
import { dockerSshUrl } from "../../components/render/sshAccess";
import { DockerNames, dockerNames } from "../../components/services/dockerNames";
import { httpProbe } from "../../components/services/networking";

/** The Docker CLI, found on PATH as a shell would (Debian's, Homebrew's, a snap, rootless Docker's). */
const DOCKER = "docker";
export const DATA_DIR = REGISTRY_DATA_DIR;
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
