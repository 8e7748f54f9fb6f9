/**
 * Debian's nginx and Distribution registry, started directly on loopback ports with what the
 * stack renders. Shared by the integration tests and the benchmark.
 */
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import { createServer } from "net";
import { join } from "path";
import { EdgeConfigInput } from "../../components/render/edgeConfig";
import { Daemon, run, startDaemon, waitFor } from "./processes";

export const NGINX = "/usr/sbin/nginx";
export const REGISTRY = "/usr/bin/docker-registry";

/** A port nobody listens on right now (the kernel's pick). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
        });
    });
}

/**
 * `count` different free ports. The kernel may hand out a port it just handed out (each probe
 * closes its socket again), so consecutive freePort() calls can collide.
 */
export async function freePorts(count: number): Promise<number[]> {
    const ports = new Set<number>();
    while (ports.size < count) ports.add(await freePort());
    return [...ports];
}

/** `port`: a loopback TCP port, or a Unix socket's path. */
async function waitForPort(description: string, port: number | string, daemon: Daemon): Promise<void> {
    await waitFor(
        `${description} on ${port}`,
        async () => {
            const code = await Promise.race([daemon.exited.then((c) => `exited with ${c}`), Promise.resolve(undefined)]);
            if (code) throw new Error(`${description} ${code}; see ${daemon.logFile}`);
            const target = typeof port === "number" ? [`http://127.0.0.1:${port}/`] : ["--unix-socket", port, "http://registry/"];
            const result = await run("curl", ["-s", "-o", "/dev/null", "-k", ...target], { allowFailure: true, timeoutMs: 5_000 });
            return result.code === 0;
        },
        20_000,
    );
}

export interface RegistryProcess {
    daemon: Daemon;
    dataDir: string;
}

/**
 * Runs the registry with a rendered config.yml. The storage root and the secret are set through
 * Distribution's environment overrides, as the container gets its secret. `listen`: the loopback
 * port of `http.addr`, or the Unix socket's path (`http.net: unix`); the registry then serves with
 * umask 000, as the stack's container command does, so nginx's unprivileged workers may connect.
 */
export async function startRegistry(
    dir: string,
    configYaml: string,
    listen: number | string,
    env: Record<string, string> = {},
    binary = REGISTRY,
): Promise<RegistryProcess> {
    const dataDir = join(dir, "data");
    mkdirSync(dataDir, { recursive: true });
    const configPath = join(dir, "config.yml");
    writeFileSync(configPath, configYaml);
    const [command, args] =
        typeof listen === "number"
            ? [binary, ["serve", configPath]]
            : ["sh", ["-c", 'umask 000 && exec "$0" serve "$1"', binary, configPath]];
    const daemon = startDaemon("registry", command, args, {
        logFile: join(dir, "registry.log"),
        env: {
            ...process.env,
            REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: dataDir,
            REGISTRY_HTTP_SECRET: "integration-test-secret",
            ...env,
        },
    });
    await waitForPort("registry", listen, daemon);
    return { daemon, dataDir };
}

/** `nginx -t` on a rendered config; returns its path. */
export async function checkNginxConfig(dir: string, conf: string): Promise<string> {
    const confPath = join(dir, "nginx.conf");
    writeFileSync(confPath, conf);
    // Through a file, not a pipe: Node's pipes are sockets, which /dev/stdout cannot reopen
    // (a container's stdout is a FIFO, which can).
    const check = await run("sh", ["-c", `exec ${NGINX} -t -p "$1" -c "$2" >"$1/nginx-t.log" 2>&1`, "sh", dir, confPath], {
        allowFailure: true,
    });
    if (check.code !== 0) throw new Error(`nginx -t rejected ${confPath}:\n${readFileSync(join(dir, "nginx-t.log"), "utf8")}`);
    return confPath;
}

/** Runs nginx in the foreground with a rendered nginx.conf, after `nginx -t` accepts it. */
/** A test's edge on loopback: the ports it listens on and forwards to; anything else as rendered. */
export interface LoopbackEdge extends Partial<EdgeConfigInput> {
    serverNames: string[];
    httpsPort: number;
    httpPort: number;
    /** The registry's loopback port; or, as the stack runs it, `registrySocket`. */
    registryPort?: number;
    /** The registry's Unix socket path, instead of `registryPort`. */
    registrySocket?: string;
    uiPort: number;
}

/**
 * The edge's nginx.conf input for a test on loopback, as in host networking: nginx listens on the
 * public ports itself (IPv4 unless `listenIpv6`), forwards to the registry and UI ports on
 * 127.0.0.1, and keeps its certificate, key, pid file and spool dir under `dir` (server.crt,
 * server.key, nginx.pid, temp/).
 */
export function loopbackEdgeInput(dir: string, edge: LoopbackEdge): EdgeConfigInput {
    const { httpsPort, httpPort, registryPort, registrySocket, uiPort, ...rendered } = edge;
    return {
        listenHttpsPort: httpsPort,
        listenHttpPort: httpPort,
        publicHttpsPort: httpsPort,
        listenIpv6: false,
        registry: { address: registrySocket === undefined ? `127.0.0.1:${registryPort}` : `unix:${registrySocket}` },
        ui: { address: `127.0.0.1:${uiPort}` },
        certificatePath: join(dir, "server.crt"),
        privateKeyPath: join(dir, "server.key"),
        pidPath: join(dir, "nginx.pid"),
        tempDir: join(dir, "temp"),
        ...rendered,
    };
}

export async function startNginx(dir: string, conf: string, httpPort: number): Promise<Daemon> {
    const confPath = await checkNginxConfig(dir, conf);
    const daemon = startDaemon("nginx", NGINX, ["-p", dir, "-c", confPath, "-g", "daemon off;"], { logFile: join(dir, "nginx.log") });
    await waitForPort("nginx", httpPort, daemon);
    return daemon;
}
