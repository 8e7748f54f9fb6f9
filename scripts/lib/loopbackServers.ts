/**
 * Debian's nginx and Distribution registry, started directly on loopback ports with what the
 * stack renders. Shared by the integration tests and the benchmark.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "fs";
import { createServer } from "net";
import { join } from "path";
import type { EdgeAccess } from "../../components/render/edgeAccess";
import { EdgeConfigInput } from "../../components/render/edgeConfig";
import { fileSetId, MANIFEST, renderManifest, SetFile } from "../../components/render/fileSet";
import { renderHtpasswd, sshaWithSalt } from "../../components/render/htpasswd";
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

/**
 * Writes a set of files into `dir` as a holder container does (components/render/fileSet.ts):
 * each file in place, the manifest last. `manifestFiles` (default: `files`) is what the manifest
 * names, to write one that the files do not match. Returns the set's name.
 */
export function writeFileSet(dir: string, files: SetFile[], manifestFiles = files): string {
    for (const file of files) writeFileSync(join(dir, file.name), file.content);
    const id = fileSetId(manifestFiles);
    writeFileSync(join(dir, MANIFEST), renderManifest(id, manifestFiles));
    return id;
}

/** One holder's part of a set, for `writeFileSets`. */
export interface HolderFiles {
    dir: string;
    /** The holder's files of the set: what its manifest names. */
    files: SetFile[];
    /**
     * What is written instead, to stage a holder caught mid-way: `"nothing"` leaves the holder's
     * directory as it is (manifest included); a list is written in place of `files`, before the
     * manifest that names `files`. Default: `files`.
     */
    written?: SetFile[] | "nothing";
}

/**
 * Writes one set across holders as a service's holders do (a plain one and a secret one): each
 * holder's files in place, then its manifest, all naming the set by an HMAC under `key` over
 * every holder's files. Returns the set's name.
 */
export function writeFileSets(holders: HolderFiles[], key: string): string {
    const id = fileSetId(
        holders.flatMap((h) => h.files),
        key,
    );
    for (const holder of holders) {
        if (holder.written === "nothing") continue;
        for (const file of holder.written ?? holder.files) writeFileSync(join(holder.dir, file.name), file.content);
        writeFileSync(join(holder.dir, MANIFEST), renderManifest(id, holder.files));
    }
    return id;
}

/** A user the edge lets in: a push user writes, a pull user only reads. */
export interface EdgeUser {
    name: string;
    password: string;
    role: "push" | "pull";
}

/**
 * The files the edge checks users against, as the stack's edge has them (edgeApplier.ts): every
 * user's `{SSHA}` hash in `<dir>/users`, an empty `<dir>/push-users.d/<name>` per push user,
 * readable by nginx's workers (not root: `dir`'s parents must let them through). Returns the
 * `access` naming them; called again, it rewrites both (a new user, password or role applies to
 * the next request).
 */
export function writeEdgeAccess(dir: string, realm: string, users: EdgeUser[]): EdgeAccess {
    const htpasswd = renderHtpasswd(users.map((u) => ({ username: u.name, hash: sshaWithSalt(u.password, `salt-of-${u.name}`) })));
    const pushUsers = users.filter((u) => u.role === "push").map((u) => u.name);
    return installEdgeAccess(dir, realm, htpasswd, pushUsers);
}

/** writeEdgeAccess with the files as rendered elsewhere: the htpasswd text and the push users' names. */
export function installEdgeAccess(dir: string, realm: string, htpasswd: string, pushUsers: string[]): EdgeAccess {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const usersFile = join(dir, "users");
    const pushUsersDir = join(dir, "push-users.d");
    writeFileSync(`${usersFile}.new`, htpasswd, { mode: 0o644 });
    const freshDir = `${pushUsersDir}.new`;
    mkdirSync(freshDir, { recursive: true, mode: 0o755 });
    for (const user of pushUsers) writeFileSync(join(freshDir, user), "", { mode: 0o644 });
    chmodSync(freshDir, 0o755);
    // Each in one rename, as the edge's `live` symlink switches.
    renameSync(`${usersFile}.new`, usersFile);
    renameDirectory(freshDir, pushUsersDir);
    return { realm, usersFile, pushUsersDir };
}

/** Replaces a directory (not atomically: the old one is moved aside first); fine for a test's setup. */
function renameDirectory(from: string, to: string): void {
    rmSync(`${to}.old`, { recursive: true, force: true });
    if (existsSync(to)) renameSync(to, `${to}.old`);
    renameSync(from, to);
    rmSync(`${to}.old`, { recursive: true, force: true });
}

/** A test's edge on loopback: the ports it listens on and forwards to; anything else as rendered. */
export interface LoopbackEdge extends Partial<EdgeConfigInput> {
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

/** Runs nginx in the foreground with a rendered nginx.conf, after `nginx -t` accepts it. */
export async function startNginx(dir: string, conf: string, httpPort: number): Promise<Daemon> {
    const confPath = await checkNginxConfig(dir, conf);
    const daemon = startDaemon("nginx", NGINX, ["-p", dir, "-c", confPath, "-g", "daemon off;"], { logFile: join(dir, "nginx.log") });
    await waitForPort("nginx", httpPort, daemon);
    return daemon;
}
