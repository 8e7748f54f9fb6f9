/**
 * Process plumbing for the tests and the benchmarks.
 *
 * The e2e suite starts real daemons (dockerd, registries, nginx) and makes
 * temporary system changes (an /etc/hosts line, a CA under /etc/docker/certs.d).
 * CI has a hard time limit and no one to press Ctrl-C, so every such thing
 * registers an undo here, and every child command runs under a timeout: a
 * hung client (`ctr push` can stall for minutes) must fail the test, not the run.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { shellWord } from "../../components/render/shell/quote";

/** One registered undo. `sync` is the fallback used when the process is dying and cannot await. */
interface Cleanup {
    id: number;
    description: string;
    undo: () => Promise<void> | void;
    sync?: () => void;
}

const cleanups: Cleanup[] = [];
let nextCleanupId = 1;
let hooksInstalled = false;

/**
 * Registers an undo, run by `runCleanups()` in reverse registration order.
 * `sync` should be given whenever leaving the change behind would break the
 * machine for later runs: it is what runs on process exit or a signal, where
 * promises no longer get a chance. Returns a function that unregisters the
 * undo (for when the caller undid it itself).
 */
export function registerCleanup(description: string, undo: () => Promise<void> | void, sync?: () => void): () => void {
    installExitHooks();
    const id = nextCleanupId++;
    cleanups.push({ id, description, undo, sync });
    return () => {
        const index = cleanups.findIndex((c) => c.id === id);
        if (index >= 0) cleanups.splice(index, 1);
    };
}

/**
 * Runs every registered undo, newest first. All of them run even if some fail
 * (a half-cleaned machine is worse than a noisy one); failures are thrown
 * together at the end so the test that called this notices them.
 */
export async function runCleanups(): Promise<void> {
    const errors: unknown[] = [];
    while (cleanups.length > 0) {
        const cleanup = cleanups.pop()!;
        try {
            await cleanup.undo();
        } catch (error) {
            errors.push(new Error(`cleanup "${cleanup.description}" failed: ${describeError(error)}`));
        }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} cleanups failed`);
}

/** Synchronous best effort, for 'exit' and signals: nothing awaited will ever resume there. */
function runCleanupsSync(): void {
    while (cleanups.length > 0) {
        const cleanup = cleanups.pop()!;
        try {
            if (cleanup.sync) cleanup.sync();
        } catch (error) {
            process.stderr.write(`cleanup "${cleanup.description}" failed on exit: ${describeError(error)}\n`);
        }
    }
    for (const child of runningChildren) killGroup(child, "SIGKILL");
    runningChildren.clear();
}

/**
 * Installed lazily so that merely importing this module changes nothing.
 * A signal handler replaces Node's default "die", so after cleaning up we
 * exit ourselves with the conventional 128+n code.
 */
function installExitHooks(): void {
    if (hooksInstalled) return;
    hooksInstalled = true;
    process.on("exit", runCleanupsSync);
    const onSignal = (signal: NodeJS.Signals, code: number) => () => {
        process.stderr.write(`\nreceived ${signal}: cleaning up e2e processes\n`);
        runCleanupsSync();
        process.exit(code);
    };
    process.once("SIGINT", onSignal("SIGINT", 130));
    process.once("SIGTERM", onSignal("SIGTERM", 143));
    process.once("SIGHUP", onSignal("SIGHUP", 129));
}

/** PIDs of process groups started by `run()` that have not ended yet. */
const runningChildren = new Set<number>();

/** Signals a whole process group (children were started detached, so pid == pgid); ESRCH means already gone. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
    try {
        process.kill(-pid, signal);
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
}

/**
 * True while a process with this PID runs. A zombie counts as dead: in exit
 * handlers Node no longer reaps its children, so a stopped daemon stays a
 * zombie and kill(pid, 0) would keep saying it is there.
 */
export function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
    } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
    }
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    } catch {
        return false;
    }
}

/** Blocking sleep, only for exit paths where the event loop is gone. */
export function sleepSync(ms: number): void {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface DaemonOptions {
    env?: NodeJS.ProcessEnv;
    /** Where stdout and stderr go; the file is what to read when the daemon misbehaves. */
    logFile: string;
    cwd?: string;
    /** Grace period between SIGTERM and SIGKILL in stop(). */
    stopTimeoutMs?: number;
}

export interface Daemon {
    name: string;
    pid: number;
    logFile: string;
    /** Resolves once the process has exited. */
    exited: Promise<number | null>;
    /** SIGTERM to the whole group, then SIGKILL after the grace period. Safe to call twice. */
    stop(): Promise<void>;
}

/**
 * Starts a long-running process in its own process group, so that stop()
 * also reaches whatever it forked (dockerd's containerd, nginx's workers)
 * and so that a Ctrl-C aimed at the test runner does not kill it before
 * the cleanup that wants to stop it in order.
 */
export function startDaemon(name: string, command: string, args: string[], options: DaemonOptions): Daemon {
    fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
    const log = fs.openSync(options.logFile, "a");
    const child = spawn(command, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        detached: true,
        stdio: ["ignore", log, log],
    });
    fs.closeSync(log);
    if (child.pid === undefined) throw new Error(`could not start ${name} (${commandLine(command, args)})`);
    const pid = child.pid;
    child.unref();

    let exitCode: number | null | undefined;
    const exited = new Promise<number | null>((resolve) => {
        child.once("exit", (code) => {
            exitCode = code;
            resolve(code);
        });
        child.once("error", () => {
            exitCode = null;
            resolve(null);
        });
    });
    const graceMs = options.stopTimeoutMs ?? 10_000;

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
        stopping ??= (async () => {
            unregister();
            if (exitCode !== undefined) return;
            killGroup(pid, "SIGTERM");
            const timedOut = await Promise.race([exited.then(() => false), sleep(graceMs).then(() => true)]);
            if (timedOut) {
                process.stderr.write(`${name} (pid ${pid}) ignored SIGTERM for ${graceMs} ms: sending SIGKILL\n`);
                killGroup(pid, "SIGKILL");
                await Promise.race([exited, sleep(5_000)]);
            }
            // The leader may be gone while forked helpers linger in its group.
            killGroup(pid, "SIGKILL");
        })();
        return stopping;
    };
    const unregister = registerCleanup(`stop ${name} (pid ${pid})`, stop, () => {
        killGroup(pid, "SIGTERM");
        for (let waited = 0; waited < graceMs && isAlive(pid); waited += 100) sleepSync(100);
        killGroup(pid, "SIGKILL");
    });

    return { name, pid, logFile: options.logFile, exited, stop };
}

export interface RunOptions {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    /** Fed to stdin; a stream lets a gigabyte of image data flow without sitting in memory. */
    input?: string | Buffer | Readable;
    /** Default 120 s. The whole process group is SIGKILLed when it runs out. */
    timeoutMs?: number;
    /** Resolve with the non-zero code instead of rejecting. */
    allowFailure?: boolean;
}

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

const DEFAULT_TIMEOUT_MS = 120_000;
/** Output kept per stream; clients like `docker push` print progress without end. */
const MAX_CAPTURE = 4 * 1024 * 1024;

/**
 * Runs a command to completion and captures its output. It never waits
 * forever: on timeout the group is killed and the promise rejects, even
 * with allowFailure, because a hang is never an expected result.
 */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const line = commandLine(command, args);
    return new Promise<RunResult>((resolve, reject) => {
        installExitHooks();
        const child = spawn(command, args, {
            cwd: options.cwd,
            env: options.env ?? process.env,
            detached: true,
            stdio: ["pipe", "pipe", "pipe"],
        });
        const pid = child.pid;
        if (pid !== undefined) runningChildren.add(pid);
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        const collect = (chunks: Buffer[]) => {
            let size = 0;
            return (chunk: Buffer) => {
                if (size < MAX_CAPTURE) chunks.push(chunk);
                size += chunk.length;
            };
        };
        child.stdout.on("data", collect(stdout));
        child.stderr.on("data", collect(stderr));

        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            if (pid !== undefined) killGroup(pid, "SIGKILL");
        }, timeoutMs);

        // EPIPE when the command exits without reading all its input is reported by the exit code instead.
        child.stdin.on("error", () => undefined);
        if (options.input instanceof Readable) {
            options.input.on("error", (error) => {
                child.stdin.destroy();
                if (pid !== undefined) killGroup(pid, "SIGKILL");
                reject(new Error(`input stream for \`${line}\` failed: ${describeError(error)}`));
            });
            options.input.pipe(child.stdin);
        } else {
            child.stdin.end(options.input);
        }

        child.once("error", (error) => {
            clearTimeout(timer);
            if (pid !== undefined) runningChildren.delete(pid);
            reject(new Error(`could not run \`${line}\`: ${describeError(error)}`));
        });
        child.once("close", (code, signal) => {
            clearTimeout(timer);
            if (pid !== undefined) runningChildren.delete(pid);
            // Stop a generator (e.g. a gigabyte of random data) that nobody reads any more.
            if (options.input instanceof Readable) options.input.destroy();
            const result: RunResult = {
                code: code ?? 128,
                stdout: Buffer.concat(stdout).toString("utf8"),
                stderr: Buffer.concat(stderr).toString("utf8"),
            };
            if (timedOut) {
                reject(new Error(`\`${line}\` timed out after ${timeoutMs} ms and was killed${tail(result)}`));
            } else if (result.code !== 0 && !options.allowFailure) {
                const how = signal ? `was killed by ${signal}` : `exited with code ${result.code}`;
                reject(new Error(`\`${line}\` ${how}${tail(result)}`));
            } else {
                resolve(result);
            }
        });
    });
}

/**
 * Polls `probe` until it returns something other than false/undefined (or
 * stops throwing), and returns that value. The timeout error names what was
 * awaited and the probe's last complaint, which is usually the useful part.
 */
export async function waitFor<T>(
    description: string,
    probe: () => Promise<T | false | undefined> | T | false | undefined,
    timeoutMs = 30_000,
    intervalMs = 200,
): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last = "the probe never succeeded";
    for (;;) {
        try {
            const value = await probe();
            if (value !== false && value !== undefined) return value;
            last = `the probe returned ${String(value)}`;
        } catch (error) {
            last = describeError(error);
        }
        if (Date.now() >= deadline) {
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}: ${last}`);
        }
        await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
    }
}

/** Makes a temporary directory whose removal is registered as a cleanup. */
export function makeTempDir(prefix: string, base = "/tmp"): string {
    const dir = fs.mkdtempSync(path.join(base, prefix));
    const remove = () => fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    registerCleanup(`remove ${dir}`, remove, remove);
    return dir;
}

/** The last part of a command's output, for error messages. */
function tail(result: RunResult): string {
    const text = (result.stderr.trim() || result.stdout.trim()).slice(-4000);
    return text ? `:\n${text}` : " (no output)";
}

function commandLine(command: string, args: string[]): string {
    return [command, ...args].map(shellWord).join(" ");
}

export function describeError(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}

/** Synchronous command for exit paths; bounded like run(). */
export function runSync(command: string, args: string[], timeoutMs = 15_000): number | null {
    const result = spawnSync(command, args, { stdio: "ignore", timeout: timeoutMs, killSignal: "SIGKILL" });
    return result.status;
}
