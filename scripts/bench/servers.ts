/**
 * The servers under test, all on loopback: two Distribution registries (one configured as the
 * stack deploys it, one without auth for the "direct" baseline) and nginx instances in front of
 * them, each in its own directory with its own temp dirs so spooling can be attributed.
 */
import { hashSync } from "bcryptjs";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { createServer } from "net";
import { join } from "path";
import { parse, stringify } from "yaml";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { EdgeTuning } from "../../components/render/edgeTuning";
import { bcryptWithSalt, renderHtpasswd } from "../../components/render/htpasswd";
import { renderRegistryConfig } from "../../components/render/registryConfig";
import { issueTestCertificates } from "../lib/program/fakeProviders";
import { checkNginxConfig, freePort, NGINX, startRegistry } from "../lib/loopbackServers";
import { Daemon, run, startDaemon, waitFor } from "../lib/processes";
import type { Endpoint } from "./registryClient";

/** The name every TLS endpoint answers to; curl maps it to loopback with `--resolve`. */
export const HOST = "registry.test";

export interface Pki {
    certificatePath: string;
    privateKeyPath: string;
    caPath: string;
}

/** One CA and server certificate (ECDSA P-256, as the stack issues) shared by every TLS endpoint. */
export function writeCertificates(dir: string): Pki {
    const pki = issueTestCertificates([HOST], ["127.0.0.1"]);
    const paths = { certificatePath: join(dir, "server.crt"), privateKeyPath: join(dir, "server.key"), caPath: join(dir, "ca.crt") };
    writeFileSync(paths.certificatePath, pki.certificatePem);
    writeFileSync(paths.privateKeyPath, pki.privateKeyPem, { mode: 0o600 });
    writeFileSync(paths.caPath, pki.caPem);
    return paths;
}

export interface User {
    username: string;
    password: string;
}

/**
 * Who logs in where, each hashed the way its recipe hashes: the stack's user as the stack does
 * (`bcryptWithSalt`, cost 5), the recipes' user by `htpasswd -Bbn`, as seed 000 and the
 * Distribution recipe do (Apache's default cost, 5), and `former` as `RandomPassword.bcryptHash`
 * does (cost 10, what the stack used before). bcrypt is verified on every request, so the cost
 * shows in the small-layer figures.
 */
export interface Users {
    stack: User;
    recipe: User;
    former: User;
}

export interface RegistryServer {
    name: string;
    port: number;
    daemon: Daemon;
    /** Plain HTTP straight to the registry; with credentials where the registry wants them. */
    endpoint: Endpoint;
    /** Its filesystem storage root: what an edge with blob files reads. */
    dataDir: string;
    /** A second process of the same registry (same config, htpasswd and storage) on a Unix socket. */
    unixSocket?: { path: string; daemon: Daemon };
}

export interface Registries {
    /** The recipes' user for nginx's own `auth_basic` (the Distribution recipe). */
    nginxHtpasswdPath: string;
    /** The stack's rendered config.yml: htpasswd auth, behind the stack's edge and seed 000's block. */
    withAuth: RegistryServer;
    /** The same config without `auth`: the direct baseline, and what the Distribution recipe proxies to. */
    open: RegistryServer;
}

export async function startRegistries(dir: string, users: Users): Promise<Registries> {
    const toolHash = (await run("htpasswd", ["-nbB", users.recipe.username, users.recipe.password])).stdout.trim().split(":")[1];
    const htpasswdPath = join(dir, "registry.htpasswd");
    writeFileSync(
        htpasswdPath,
        renderHtpasswd([
            { username: users.stack.username, bcryptHash: bcryptWithSalt(users.stack.password, "benchSaltKeptInState01") },
            { username: users.recipe.username, bcryptHash: toolHash },
            { username: users.former.username, bcryptHash: hashSync(users.former.password, 10) },
        ]),
    );
    // nginx workers run as nobody and read the recipe's htpasswd per request.
    const nginxHtpasswdPath = join(dir, "nginx.htpasswd");
    writeFileSync(nginxHtpasswdPath, `${users.recipe.username}:${toolHash}\n`, { mode: 0o644 });

    const [authPort, openPort] = await Promise.all([freePort(), freePort()]);
    const stackConfig = (listen: number | string) =>
        renderRegistryConfig({
            listenAddress: typeof listen === "number" ? `127.0.0.1:${listen}` : `unix:${listen}`,
            htpasswdPath,
            realm: "private-registry",
            deleteEnabled: false,
        });
    const openConfig = parse(stackConfig(openPort)) as Record<string, unknown>;
    delete openConfig.auth;

    const start = async (name: string, port: number, configYaml: string, endpoint: Endpoint): Promise<RegistryServer> => {
        const registryDir = join(dir, name);
        mkdirSync(registryDir, { recursive: true });
        const { daemon, dataDir } = await startRegistry(registryDir, configYaml, port);
        return { name, port, daemon, endpoint, dataDir };
    };
    const plain = (port: number) => `http://127.0.0.1:${port}`;
    const withAuth = await start("registry-auth", authPort, stackConfig(authPort), {
        baseUrl: plain(authPort),
        curlOptions: ["-u", `${users.stack.username}:${users.stack.password}`],
    });
    // The same registry on a Unix socket, on the same storage: how the edge reaches it in the stack.
    const socketDir = join(dir, "registry-auth-unix");
    mkdirSync(socketDir, { recursive: true, mode: 0o755 });
    const socketPath = join(socketDir, "registry.sock");
    const onSocket = await startRegistry(socketDir, stackConfig(socketPath), socketPath, {
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: withAuth.dataDir,
    });
    withAuth.unixSocket = { path: socketPath, daemon: onSocket.daemon };
    return {
        nginxHtpasswdPath,
        withAuth,
        open: await start("registry-open", openPort, `# The stack's config without auth.\n${stringify(openConfig)}`, {
            baseUrl: plain(openPort),
            curlOptions: [],
        }),
    };
}

export interface NginxServer {
    name: string;
    daemon: Daemon;
    /** Where this nginx spools bodies: `client_body`, `proxy` and friends live under it. */
    tempDir: string;
    dir: string;
}

/**
 * Fails unless `address:port` can be bound right now. Without this, a port held by someone else
 * (a second bench run holding seed 000's 443) answers the readiness probe while our nginx is
 * still retrying its bind, and every request then reaches the wrong server.
 */
function assertPortFree(address: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", (error: NodeJS.ErrnoException) =>
            reject(new Error(`${address}:${port} is in use (${error.code}): is another bench running?`)),
        );
        server.listen(port, address, () => server.close(() => resolve()));
    });
}

/**
 * `nginx -t`, then nginx in the foreground, waiting until `address:port` answers (any HTTP
 * answer, even a 400 for plain HTTP on a TLS port, means it listens).
 */
export async function startNginxAt(name: string, dir: string, conf: string, address: string, port: number): Promise<NginxServer> {
    await assertPortFree(address, port);
    const confPath = await checkNginxConfig(dir, conf);
    const daemon = startDaemon(name, NGINX, ["-p", dir, "-c", confPath, "-g", "daemon off;"], { logFile: join(dir, "nginx.log") });
    await waitFor(
        `${name} on ${address}:${port}`,
        async () => {
            const exited = await Promise.race([daemon.exited.then((code) => `exited with ${code}`), Promise.resolve(undefined)]);
            if (exited) throw new Error(`${name} ${exited}: ${readFileSync(join(dir, "nginx.log"), "utf8").trim().split("\n").pop()}`);
            const probe = await run("curl", ["-s", "-o", "/dev/null", `http://${address}:${port}/`], {
                allowFailure: true,
                timeoutMs: 5_000,
            });
            return probe.code === 0;
        },
        20_000,
    );
    return { name, daemon, tempDir: join(dir, "temp"), dir };
}

/** A directory nginx's workers (user nobody) can traverse, with its temp dir. */
export function nginxDir(parent: string, name: string): string {
    const dir = join(parent, name);
    mkdirSync(join(dir, "temp"), { recursive: true });
    chmodSync(parent, 0o755);
    chmodSync(dir, 0o755);
    return dir;
}

export interface ProxyUnderTest {
    nginx: NginxServer;
    endpoint: Endpoint;
    registry: RegistryServer;
    /** The registry process this edge talks to (the Unix socket's, or the TCP one's). */
    registryPid: number;
}

/** How the edge reaches the registry: TCP on loopback, or the registry's Unix socket. */
export type UpstreamTransport = "tcp" | "unix";

export function tlsEndpoint(address: string, port: number, pki: Pki, user: User | undefined): Endpoint {
    const portSuffix = port === 443 ? "" : `:${port}`;
    return {
        baseUrl: `https://${HOST}${portSuffix}`,
        curlOptions: [
            "--cacert",
            pki.caPath,
            "--resolve",
            `${HOST}:${port}:${address}`,
            ...(user ? ["-u", `${user.username}:${user.password}`] : []),
        ],
    };
}

/**
 * The stack's own edge, rendered by renderEdgeConfig with `tuning` over the defaults, with the
 * registry's storage as its blob root (used where `serveBlobFiles` is on).
 */
export async function startStackEdge(
    parent: string,
    name: string,
    pki: Pki,
    registry: RegistryServer,
    user: User,
    tuning: Partial<EdgeTuning> = {},
    transport: UpstreamTransport = "tcp",
): Promise<ProxyUnderTest> {
    if (transport === "unix" && registry.unixSocket === undefined) throw new Error(`${registry.name} has no Unix socket`);
    const dir = nginxDir(parent, name);
    const [httpsPort, httpPort, unusedUiPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const conf = renderEdgeConfig({
        serverNames: [HOST],
        listenHttpsPort: httpsPort,
        listenHttpPort: httpPort,
        publicHttpsPort: httpsPort,
        listenIpv6: false,
        registry: { address: transport === "unix" ? `unix:${registry.unixSocket!.path}` : `127.0.0.1:${registry.port}` },
        ui: { address: `127.0.0.1:${unusedUiPort}` },
        registryBlobRoot: registry.dataDir,
        certificatePath: pki.certificatePath,
        privateKeyPath: pki.privateKeyPath,
        pidPath: join(dir, "nginx.pid"),
        tempDir: join(dir, "temp"),
        tuning,
    });
    const nginx = await startNginxAt(name, dir, conf, "127.0.0.1", httpPort);
    const registryPid = transport === "unix" ? registry.unixSocket!.daemon.pid : registry.daemon.pid;
    return { nginx, endpoint: tlsEndpoint("127.0.0.1", httpsPort, pki, user), registry, registryPid };
}
