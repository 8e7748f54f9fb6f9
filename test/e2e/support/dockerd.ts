/**
 * A private Docker daemon for the end-to-end tests.
 *
 * The tests must neither need nor disturb a system dockerd, so this daemon
 * gets its own socket, data root, exec root, config file and trust key.
 * Tests may not send traffic on the machine's real network, so it runs in one
 * of two ways:
 * - On the host's network, with no bridge and no iptables rules: containers
 *   must run with `--network host`.
 * - Inside a network namespace of the test's own (scripts/lib/netns.ts):
 *   with Docker's bridge, iptables rules and published ports, all inside the
 *   namespace. Clients that reach containers or published ports must run in
 *   it too (`runClient`); the API socket is reachable from anywhere.
 *
 * What stays global, checked on Debian 12's docker.io 20.10.24 / containerd 1.6.20:
 * - Registry CA files: dockerd reads /etc/docker/certs.d/<host:port>/ca.crt,
 *   a path compiled into the binary (only rootless mode uses
 *   $XDG_CONFIG_HOME/docker/certs.d). A test that needs dockerd to trust a CA
 *   must write there and register the removal with registerCleanup().
 * - Registry insecurity: dockerd always counts 127.0.0.0/8 as an insecure
 *   registry range, and decides by *resolving* the registry host name. A name
 *   that /etc/hosts or --add-host maps to a loopback address is therefore
 *   pushed to without certificate verification (and with plain-HTTP fallback),
 *   whatever certs.d holds. A push through dockerd does not prove TLS trust.
 * - /run/docker/plugins (plugin socket dir) and /run/containerd/s (the
 *   containerd shims' sockets) are fixed paths; they are removed again at
 *   stop() if they did not exist before and are empty.
 * - Container cgroups go under /docker/<id>, shared with any other dockerd.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
    RunOptions,
    RunResult,
    isAlive,
    killGroup,
    registerCleanup,
    run,
    runCleanups,
    runSync,
    sleep,
    sleepSync,
    startDaemon,
    waitFor,
} from "../../../scripts/lib/processes";
import type { NetworkNamespace } from "../../../scripts/lib/netns";

/** The Debian client matches the Debian daemon (API 1.41); /usr/local/bin/docker is a newer, unrelated build. */
export const DOCKER_CLI = "/usr/bin/docker";
export const DOCKERD = "/usr/sbin/dockerd";

export interface PrivateDockerd {
    /** For DOCKER_HOST or the Pulumi docker provider's `host`, e.g. unix:///tmp/x/docker.sock. */
    host: string;
    socket: string;
    /** The containerd that dockerd starts for itself: <exec-root>/containerd/containerd.sock, namespace "moby". */
    containerdSocket: string;
    pid: number;
    workDir: string;
    /** Private client config dir (auths from `docker login` land here, not in ~/.docker). */
    dockerConfig: string;
    /** Environment for any docker client that should talk to this daemon. */
    env: NodeJS.ProcessEnv;
    logFile: string;
    /** The namespace the daemon runs in, or undefined on the host's network (no bridge). */
    networkNamespace?: NetworkNamespace;
    /**
     * Runs a client where this daemon's network is: inside its namespace, or directly. Only
     * from there are its containers and published ports reachable.
     */
    runClient(command: string, args: string[], options?: RunOptions): Promise<RunResult>;
    /** Runs the docker CLI against this daemon. */
    docker(args: string[], options?: RunOptions): Promise<RunResult>;
    /** Removes all containers, stops dockerd and its containerd, and undoes the mounts it leaves behind. */
    stop(): Promise<void>;
    /**
     * Ends dockerd as the host would, removing nothing, so that the next startDockerd on the same
     * workDir finds its data root as a restarted daemon or a rebooted host does:
     * - "stop": SIGTERM to dockerd alone, what `systemctl stop docker` sends: it stops its
     *   containers itself (a daemon shutdown is not a user's stop: their restart policy starts
     *   them again at its next start), then exits.
     * - "kill": SIGKILL to dockerd alone (a crash, the OOM killer): its containers keep running
     *   in their shims.
     * - "power-cut": SIGKILL at once to dockerd, its containerd, the shims, every container
     *   process and whatever else runs in its namespace (docker-proxy); then what a reboot clears:
     *   the mounts under workDir and the exec root (under /run, a tmpfs, on a host).
     * Resolves once dockerd is gone. The handle is dead then; until the next start on workDir,
     * the registered cleanup sweeps whatever the daemon left running.
     */
    end(how: DockerdEnd): Promise<void>;
}

export type DockerdEnd = "stop" | "kill" | "power-cut";

/** Unix socket paths are limited to 107 bytes, and containerd's sits deepest. */
const MAX_SOCKET_PATH = 107;

export interface DockerdOptions {
    extraArgs?: string[];
    /**
     * Run inside this namespace with a bridge and iptables on (the rules land in the namespace's
     * own tables). Default: the host's network, no bridge, no iptables.
     */
    networkNamespace?: NetworkNamespace;
    /** dockerd's environment (e.g. HTTPS_PROXY, which its image pulls honour). Default: the test's. */
    env?: NodeJS.ProcessEnv;
}

/**
 * Starts dockerd with every piece of its state under workDir and waits until
 * the API answers. Registers its own cleanup; stop() may also be called directly.
 */
export async function startDockerd(workDir: string, options: DockerdOptions = {}): Promise<PrivateDockerd> {
    workDir = path.resolve(workDir);
    const socket = path.join(workDir, "docker.sock");
    const dataRoot = path.join(workDir, "data");
    const execRoot = path.join(workDir, "exec");
    const containerdSocket = path.join(execRoot, "containerd", "containerd.sock");
    const dockerConfig = path.join(workDir, "client-config");
    const configFile = path.join(workDir, "daemon.json");
    const logFile = path.join(workDir, "dockerd.log");
    const pidFile = path.join(workDir, "docker.pid");
    if (Buffer.byteLength(containerdSocket) > MAX_SOCKET_PATH) {
        throw new Error(`work dir ${workDir} is too deep: ${containerdSocket} exceeds the unix socket path limit`);
    }
    for (const dir of [dataRoot, execRoot, dockerConfig]) fs.mkdirSync(dir, { recursive: true });
    // Without a config file of its own, dockerd would read /etc/docker/daemon.json and write /etc/docker/key.json.
    fs.writeFileSync(configFile, JSON.stringify({ "deprecated-key-path": path.join(workDir, "key.json") }, null, 2));
    // Kept when there: a daemon started again on the same workDir keeps its client's logins.
    if (!fs.existsSync(path.join(dockerConfig, "config.json"))) fs.writeFileSync(path.join(dockerConfig, "config.json"), "{}\n");
    // A dockerd's containerd dies with it (it gets SIGKILL when its parent dies) and, orphaned,
    // stays a zombie where PID 1 does not reap orphans (systemd does; this machine's init does
    // not). Its pid file would make the next dockerd wait for it forever ("containerd is still
    // running"): a dead PID's file goes, as it would after a reap.
    const staleContainerd = containerdPid(execRoot);
    if (staleContainerd !== undefined && !isAlive(staleContainerd)) fs.rmSync(path.join(execRoot, CONTAINERD_PID_FILE));
    // This start takes over from a daemon ended on workDir (end()): its stop() sweeps from now on.
    sweepsAfterEnd.get(workDir)?.();
    sweepsAfterEnd.delete(workDir);

    const globalDirs = ["/run/docker/plugins", "/run/docker", "/run/containerd/s", "/run/containerd"].filter((dir) => !fs.existsSync(dir));

    const namespace = options.networkNamespace;
    const args = [
        `--config-file=${configFile}`,
        ...(namespace ? [] : ["--iptables=false", "--ip6tables=false", "--bridge=none"]),
        "--storage-driver=vfs",
        `--host=unix://${socket}`,
        `--data-root=${dataRoot}`,
        `--exec-root=${execRoot}`,
        `--pidfile=${pidFile}`,
        ...(options.extraArgs ?? []),
    ];
    // nsenter execs dockerd in place: the PID (and process group) stays dockerd's.
    const line = namespace ? namespace.command(DOCKERD, args) : { command: DOCKERD, args };
    const daemon = startDaemon("dockerd", line.command, line.args, { logFile, stopTimeoutMs: 30_000, env: options.env });

    const host = `unix://${socket}`;
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: dockerConfig };
    delete env.DOCKER_CONTEXT;
    delete env.DOCKER_TLS_VERIFY;
    delete env.DOCKER_CERT_PATH;
    const docker = (dockerArgs: string[], runOptions: RunOptions = {}) =>
        run(DOCKER_CLI, dockerArgs, { ...runOptions, env: { ...env, ...runOptions.env } });
    const runClient = (command: string, clientArgs: string[], runOptions?: RunOptions) =>
        namespace ? namespace.run(command, clientArgs, runOptions) : run(command, clientArgs, runOptions);

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
        stopping ??= (async () => {
            unregister();
            if (isAlive(daemon.pid)) {
                // Removing containers first keeps shutdown fast: on SIGTERM dockerd would give each one its full stop timeout.
                const listed = await docker(["ps", "-aq"], { allowFailure: true, timeoutMs: 30_000 }).catch(() => undefined);
                const ids = listed?.stdout.split(/\s+/).filter(Boolean) ?? [];
                if (ids.length > 0) {
                    await docker(["rm", "-f", "-v", ...ids], { allowFailure: true, timeoutMs: 60_000 }).catch(() => undefined);
                }
            }
            await daemon.stop();
            sweep(workDir, containerdSocket, globalDirs);
        })();
        return stopping;
    };
    const unregister = registerCleanup(`stop private dockerd in ${workDir}`, stop, () => {
        if (isAlive(daemon.pid)) {
            const ids = listContainerIdsSync(socket);
            if (ids.length > 0) runSync(DOCKER_CLI, ["-H", host, "rm", "-f", "-v", ...ids], 30_000);
            killGroup(daemon.pid, "SIGTERM");
            for (let waited = 0; waited < 30_000 && isAlive(daemon.pid); waited += 100) sleepSync(100);
            killGroup(daemon.pid, "SIGKILL");
        }
        sweep(workDir, containerdSocket, globalDirs);
    });

    const end = async (how: DockerdEnd): Promise<void> => {
        if (stopping) throw new Error(`dockerd in ${workDir} was already stopped`);
        stopping = Promise.resolve();
        unregister();
        const sweepLeftovers = () => sweep(workDir, containerdSocket, globalDirs);
        sweepsAfterEnd.set(workDir, registerCleanup(`sweep what the ended dockerd in ${workDir} left`, sweepLeftovers, sweepLeftovers));
        if (how === "power-cut") {
            // Every PID first, then the signals in one loop: nothing gets to react to another's end.
            const victims = [daemon.pid, ...daemonProcesses(containerdSocket), ...(namespace?.processesInside() ?? [])];
            for (const pid of new Set(victims)) signal(pid, "SIGKILL");
        } else {
            signal(daemon.pid, how === "stop" ? "SIGTERM" : "SIGKILL");
        }
        // dockerd waits up to its shutdown timeout (15 s) for the containers' own stop timeouts.
        const exited = await Promise.race([daemon.exited.then(() => true), sleep(60_000).then(() => false)]);
        if (!exited) throw new Error(`dockerd (pid ${daemon.pid}) did not exit within 60 s of ${how}; log: ${logFile}`);
        await daemon.stop();
        // Its containerd ends with it (on "kill", by the SIGKILL it gets when its parent dies).
        const containerd = containerdPid(execRoot);
        if (containerd !== undefined)
            await waitFor(`dockerd's containerd (pid ${containerd}) to end`, () => !isAlive(containerd), 30_000, 20);
        if (how === "power-cut") {
            sweepLeftovers();
            // On a host these are under /run, a tmpfs: a boot starts without them.
            fs.rmSync(execRoot, { recursive: true, force: true });
            fs.rmSync(pidFile, { force: true });
        }
    };

    try {
        await waitFor(
            `dockerd to answer on ${socket} (log: ${logFile})`,
            async () => {
                if (!isAlive(daemon.pid)) throw new Error(`dockerd exited; last log lines:\n${lastLines(logFile, 15)}`);
                return (await docker(["version", "--format", "{{.Server.Version}}"], { timeoutMs: 10_000 })).stdout.trim();
            },
            60_000,
            250,
        );
    } catch (error) {
        await stop().catch(() => undefined);
        throw error;
    }

    return {
        host,
        socket,
        containerdSocket,
        pid: daemon.pid,
        workDir,
        dockerConfig,
        env,
        logFile,
        networkNamespace: namespace,
        runClient,
        docker,
        stop,
        end,
    };
}

/** Where dockerd's own containerd writes its PID, under the exec root. */
const CONTAINERD_PID_FILE = "containerd/containerd.pid";

function containerdPid(execRoot: string): number | undefined {
    try {
        const pid = Number(fs.readFileSync(path.join(execRoot, CONTAINERD_PID_FILE), "utf8").trim());
        return pid > 0 ? pid : undefined;
    } catch {
        return undefined;
    }
}

/** The sweeps registered by end(), by workDir, until the next start on it takes over. */
const sweepsAfterEnd = new Map<string, () => void>();

function signal(pid: number, name: NodeJS.Signals): void {
    try {
        process.kill(pid, name);
    } catch {
        // already gone
    }
}

/**
 * Runs every registered cleanup (runCleanups), then asserts that the dockerd, whatever ran in
 * its namespace, its mounts under workDir, workDir itself and the namespace are gone.
 */
export async function stopAndAssertNothingLeft(dockerd: PrivateDockerd, workDir: string): Promise<void> {
    const namespace = dockerd.networkNamespace;
    const inside = namespace?.processesInside() ?? [];
    if (namespace && !inside.includes(dockerd.pid))
        throw new Error(`dockerd (pid ${dockerd.pid}) is not among the processes in ${namespace.name}: ${inside.join(", ")}`);
    await runCleanups();
    const left: string[] = [];
    if (isAlive(dockerd.pid)) left.push(`dockerd (pid ${dockerd.pid})`);
    left.push(...mountsUnder(workDir).map((mountPoint) => `mount ${mountPoint}`));
    if (fs.existsSync(workDir)) left.push(workDir);
    if (namespace) {
        left.push(
            ...[...new Set([...inside.filter(isAlive), ...namespace.processesInside()])].map(
                (pid) => `pid ${pid} of namespace ${namespace.name}`,
            ),
        );
        if (fs.existsSync(namespace.path)) left.push(namespace.path);
    }
    if (left.length > 0) throw new Error(`left behind: ${left.join("; ")}`);
}

/** `docker ps -aq` for exit paths, where only synchronous calls still run. */
function listContainerIdsSync(socket: string): string[] {
    const result = spawnSync(DOCKER_CLI, ["-H", `unix://${socket}`, "ps", "-aq"], {
        encoding: "utf8",
        timeout: 10_000,
        killSignal: "SIGKILL",
    });
    return result.status === 0 ? result.stdout.split(/\s+/).filter(Boolean) : [];
}

/**
 * Removes what a dead or killed dockerd can leave behind: containerd shims
 * (they run in their own sessions by design, so that containers survive a
 * daemon restart) with their containers, and the mounts under workDir
 * (dockerd bind-mounts its data root and an nsfs file under exec/netns that
 * it does not always unmount). Without this, removing workDir fails with EBUSY.
 */
function sweep(workDir: string, containerdSocket: string, globalDirs: string[]): void {
    const ours = daemonProcesses(containerdSocket);
    for (const pid of ours) signal(pid, "SIGKILL");
    for (let waited = 0; waited < 5_000 && ours.some(isAlive); waited += 100) sleepSync(100);

    for (const mountPoint of mountsUnder(workDir)) runSync("umount", ["-l", mountPoint], 10_000);

    for (const dir of globalDirs) {
        try {
            fs.rmdirSync(dir);
        } catch {
            // not empty (someone else uses it) or already gone: leave it
        }
    }
}

/**
 * The processes a dockerd's containers live in, container processes first: its containerd, the
 * shims (they name our containerd's socket in -address; our containerd names its config) and each
 * shim's child, a container's init (SIGKILL to it ends the container's whole PID namespace).
 */
function daemonProcesses(containerdSocket: string): number[] {
    const processes = listProcesses();
    const containerdConfig = path.join(path.dirname(containerdSocket), "containerd.toml");
    const ours = processes.filter((p) => p.cmdline.includes(containerdSocket) || p.cmdline.includes(containerdConfig));
    const ourPids = new Set(ours.map((p) => p.pid));
    const containerInits = processes.filter((p) => ourPids.has(p.ppid) && !ourPids.has(p.pid));
    return [...containerInits, ...ours].map((p) => p.pid);
}

interface ProcessInfo {
    pid: number;
    ppid: number;
    cmdline: string;
}

function listProcesses(): ProcessInfo[] {
    const result: ProcessInfo[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            // The command name in parentheses may itself contain spaces and parentheses.
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
            result.push({ pid: Number(entry), ppid, cmdline });
        } catch {
            // exited while we looked
        }
    }
    return result;
}

/** Mount points at or below dir, deepest first so that nested ones go before their parents. */
function mountsUnder(dir: string): string[] {
    const decode = (field: string) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    return fs
        .readFileSync("/proc/self/mounts", "utf8")
        .split("\n")
        .map((line) => decode(line.split(" ")[1] ?? ""))
        .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`))
        .sort((a, b) => b.length - a.length);
}

function lastLines(file: string, count: number): string {
    try {
        return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-count).join("\n");
    } catch {
        return "(no log)";
    }
}
