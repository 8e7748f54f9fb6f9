/**
 * The servers under test: Distribution 3 registries configured by the stack's renderer (alone in
 * plain HTTP, alone over TLS with the stack's htpasswd, or behind the edge on a Unix socket as the
 * stack deploys it) and nginx (the stack's edge, rendered as the tests render it). Each starts at
 * a site of the network mode (network.ts) on its role's core (placement.ts), in a directory of
 * its own with its own temp dirs, so spooling can be attributed.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { parse, stringify } from "yaml";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import type { EdgeTuning } from "../../components/render/edgeTuning";
import { bcryptWithSalt, renderHtpasswd } from "../../components/render/htpasswd";
import { renderRegistryConfig } from "../../components/render/registryConfig";
import { distributionEnv } from "../../components/services/registry";
import { checkNginxConfig, loopbackEdgeInput, NGINX, writeEdgeAccess } from "../lib/loopbackServers";
import { issueTestCertificates } from "../lib/program/fakeProviders";
import { Daemon, run, startDaemon, waitFor } from "../lib/processes";
import { registry3Binary } from "../lib/builtTools";
import type { Site } from "./network";
import { launcher, Placement, Role } from "./placement";
import type { Endpoint } from "./registryClient";

/** The name every TLS endpoint answers to; curl maps it to the server's address with `--resolve`. */
export const HOST = "registry.test";
const REALM = "private-registry";

export interface Pki {
    certificatePem: string;
    privateKeyPem: string;
    caPath: string;
}

/** One CA and server certificate (ECDSA P-256, as the stack issues) shared by every TLS endpoint. */
export function writeCertificates(dir: string): Pki {
    const pki = issueTestCertificates([HOST], ["127.0.0.1"]);
    const caPath = join(dir, "ca.crt");
    writeFileSync(caPath, pki.caPem);
    return { certificatePem: pki.certificatePem, privateKeyPem: pki.privateKeyPem, caPath };
}

/** The certificate and key in `dir` (server.crt, server.key), where loopbackEdgeInput looks. */
function placeCertificate(dir: string, pki: Pki): { certificate: string; key: string } {
    const paths = { certificate: join(dir, "server.crt"), key: join(dir, "server.key") };
    writeFileSync(paths.certificate, pki.certificatePem);
    writeFileSync(paths.key, pki.privateKeyPem, { mode: 0o600 });
    return paths;
}

export interface User {
    username: string;
    password: string;
}

/**
 * Who logs in: the stack's push and pull users, hashed as the stack hashes them (bcrypt cost 5,
 * salt kept in state), and the published recipes' user, hashed by `htpasswd -Bbn` as they do.
 */
export interface Users {
    push: User;
    pull: User;
    recipe: User;
}

export const USERS: Users = {
    push: { username: "admin", password: "bench-Push-passw0rd" },
    pull: { username: "node", password: "bench-Pull-passw0rd" },
    // The Distribution recipe's own example user.
    recipe: { username: "testuser", password: "testpassword" },
};

/** Where the bench keeps what every server shares, and how it places processes. */
export interface Bench {
    dir: string;
    pki: Pki;
    placement: Placement;
    /** The stack's htpasswd (every user), and the recipe's user alone for nginx's own auth_basic. */
    htpasswdPath: string;
    nginxHtpasswdPath: string;
    /** Enters the namespace clients run in: readiness probes come from there. */
    clientNamespace: string[];
    /** What curl runs under: the clients' namespace, core and priority. */
    client: string[];
}

export async function prepareBench(dir: string, pki: Pki, placement: Placement, clientNamespace: string[]): Promise<Bench> {
    chmodSync(dir, 0o755);
    const recipeHash = (await run("htpasswd", ["-nbB", USERS.recipe.username, USERS.recipe.password])).stdout.trim().split(":")[1];
    const htpasswdPath = join(dir, "registry.htpasswd");
    writeFileSync(
        htpasswdPath,
        renderHtpasswd([
            { username: USERS.push.username, hash: bcryptWithSalt(USERS.push.password, "benchSaltKeptInState01") },
            { username: USERS.pull.username, hash: bcryptWithSalt(USERS.pull.password, "benchSaltKeptInState02") },
            { username: USERS.recipe.username, hash: recipeHash },
        ]),
    );
    // nginx workers run as nobody and read the recipe's htpasswd per request.
    const nginxHtpasswdPath = join(dir, "nginx.htpasswd");
    writeFileSync(nginxHtpasswdPath, `${USERS.recipe.username}:${recipeHash}\n`, { mode: 0o644 });
    const client = [...clientNamespace, ...launcher(placement, "client")];
    return { dir, pki, placement, htpasswdPath, nginxHtpasswdPath, clientNamespace, client };
}

/** A server process at `site`, on `role`'s core; its PID is the server's own (every wrapper execs). */
function serve(bench: Bench, name: string, site: Site, role: Role, argv: string[], logFile: string, env?: NodeJS.ProcessEnv): Daemon {
    const line = [...site.prefix, ...launcher(bench.placement, role), ...argv];
    return startDaemon(name, line[0], line.slice(1), { logFile, env });
}

/** Polls `url` with curl from the clients' namespace until anything answers. */
async function probe(bench: Bench, description: string, daemon: Daemon, curlArgs: string[]): Promise<void> {
    await waitFor(
        description,
        async () => {
            const exited = await Promise.race([daemon.exited.then((code) => `exited with ${code}`), Promise.resolve(undefined)]);
            if (exited) throw new Error(`${description} ${exited}; see ${daemon.logFile}`);
            const result = await run(
                bench.clientNamespace[0],
                [...bench.clientNamespace.slice(1), "curl", "-s", "-k", "-o", "/dev/null", ...curlArgs],
                {
                    allowFailure: true,
                    timeoutMs: 5_000,
                },
            );
            return result.code === 0;
        },
        30_000,
    );
}

export interface RegistryServer {
    name: string;
    daemon: Daemon;
    /** Its filesystem storage root: what an edge with blob files reads. */
    dataDir: string;
    /** `unix:/path` or `address:port`: what an nginx in front of it proxies to. */
    listen: string;
    /** Straight to the registry (TCP listeners only), with credentials where it wants them. */
    endpoint?: Endpoint;
}

export interface RegistryOptions {
    name: string;
    site: Site;
    /** A TCP port at the site's address, or a Unix socket (as the stack deploys it). */
    listen: { port: number } | "unix";
    /** The stack's htpasswd auth (`auth` as rendered); off: the config minus `auth`. */
    auth: boolean;
    /** Serve TLS itself, with the shared certificate (`http.tls`, as a registry alone over TLS is configured). */
    tls: boolean;
    /** The metrics listener the stack renders (`http.debug`), at the site's address. */
    metricsPort: number;
}

/** The stack's config.yml for Distribution 3, with only what a baseline must change. */
function registryConfig(bench: Bench, dir: string, listen: string, options: RegistryOptions, metricsAddress: string): string {
    const rendered = renderRegistryConfig({
        listenAddress: listen,
        htpasswdPath: bench.htpasswdPath,
        realm: REALM,
        deleteEnabled: false,
        debugAddress: metricsAddress,
        distributionMajor: 3,
    });
    if (options.auth && !options.tls) return rendered;
    const config = parse(rendered) as { auth?: unknown; http: Record<string, unknown> };
    const changes: string[] = [];
    if (!options.auth) {
        delete config.auth;
        changes.push("without auth");
    }
    if (options.tls) {
        const { certificate, key } = placeCertificate(dir, bench.pki);
        config.http.tls = { certificate, key };
        changes.push("with http.tls");
    }
    return `# The stack's config.yml ${changes.join(", ")}.\n${stringify(config)}`;
}

export async function startRegistryServer(bench: Bench, options: RegistryOptions): Promise<RegistryServer> {
    const dir = join(bench.dir, options.name);
    const dataDir = join(dir, "data");
    mkdirSync(dataDir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    const socketPath = join(dir, "registry.sock");
    const listen = options.listen === "unix" ? `unix:${socketPath}` : `${options.site.address}:${options.listen.port}`;
    const configPath = join(dir, "config.yml");
    writeFileSync(configPath, registryConfig(bench, dir, listen, options, `${options.site.address}:${options.metricsPort}`));
    const binary = await registry3Binary();
    // As the stack's container command: umask 000, so nginx's workers (not root) may connect.
    const argv =
        options.listen === "unix" ? ["sh", "-c", 'umask 000 && exec "$0" serve "$1"', binary, configPath] : [binary, "serve", configPath];
    const env = {
        ...process.env,
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: dataDir,
        REGISTRY_HTTP_SECRET: "bench-http-secret",
        ...Object.fromEntries(distributionEnv(3).map((pair) => pair.split("=") as [string, string])),
    };
    const daemon = serve(bench, `registry ${options.name}`, options.site, "registry", argv, join(dir, "registry.log"), env);
    const scheme = options.tls ? "https" : "http";
    await probe(
        bench,
        `registry ${options.name} on ${listen}`,
        daemon,
        options.listen === "unix" ? ["--unix-socket", socketPath, "http://registry/"] : [`${scheme}://${listen}/`],
    );
    const user = options.auth ? ["-u", `${USERS.push.username}:${USERS.push.password}`] : [];
    const endpoint =
        options.listen === "unix"
            ? undefined
            : options.tls
              ? tlsEndpoint(bench, options.site.address, options.listen.port, user)
              : { baseUrl: `http://${listen}`, curlOptions: user, client: bench.client };
    return { name: options.name, daemon, dataDir, listen, endpoint };
}

export function tlsEndpoint(bench: Bench, address: string, port: number, user: string[]): Endpoint {
    return {
        baseUrl: `https://${HOST}${port === 443 ? "" : `:${port}`}`,
        curlOptions: ["--cacert", bench.pki.caPath, "--resolve", `${HOST}:${port}:${address}`, ...user],
        client: bench.client,
    };
}

export interface NginxServer {
    name: string;
    daemon: Daemon;
    /** Where this nginx spools bodies: `client_body`, `proxy` and friends live under it. */
    tempDir: string;
    dir: string;
}

/** A directory nginx's workers (user nobody) can traverse, with its temp dir. */
export function nginxDir(bench: Bench, name: string): string {
    const dir = join(bench.dir, name);
    mkdirSync(join(dir, "temp"), { recursive: true });
    chmodSync(dir, 0o755);
    return dir;
}

/** `nginx -t`, then nginx in the foreground at `site`, waiting until its plain-HTTP port answers. */
export async function startNginxAt(
    bench: Bench,
    name: string,
    dir: string,
    conf: string,
    site: Site,
    httpPort: number,
): Promise<NginxServer> {
    const confPath = await checkNginxConfig(dir, conf);
    const daemon = serve(bench, name, site, "edge", [NGINX, "-p", dir, "-c", confPath, "-g", "daemon off;"], join(dir, "nginx.log"));
    await probe(bench, `${name} on ${site.address}:${httpPort}`, daemon, [`http://${site.address}:${httpPort}/`]);
    return { name, daemon, tempDir: join(dir, "temp"), dir };
}

export interface ProxyUnderTest {
    nginx: NginxServer;
    endpoint: Endpoint;
    registry: RegistryServer;
}

/** Ports an edge listens on: in a container of its own, what the stack's container listens on. */
export interface EdgePorts {
    https: number;
    http: number;
}

/**
 * The stack's edge, rendered as the tests render it (loopbackEdgeInput), checking the stack's
 * users' passwords and roles itself (admin pushes, node pulls), with `tuning` over the defaults,
 * in front of `registry` (which checks none, as deployed), with its storage as the blob root. In bridge networking the UI upstream is found through Docker's DNS,
 * as the stack renders it there (nothing here asks the UI for anything).
 */
export async function startStackEdge(
    bench: Bench,
    name: string,
    site: Site,
    ports: EdgePorts,
    registry: RegistryServer,
    bridge: boolean,
    tuning: Partial<EdgeTuning> = {},
): Promise<ProxyUnderTest> {
    const dir = nginxDir(bench, name);
    placeCertificate(dir, bench.pki);
    const conf = renderEdgeConfig({
        ...loopbackEdgeInput(dir, {
            httpsPort: ports.https,
            httpPort: ports.http,
            ...(registry.listen.startsWith("unix:")
                ? { registrySocket: registry.listen.slice("unix:".length) }
                : { registry: { address: registry.listen } }),
            uiPort: 8000,
            access: writeEdgeAccess(join(dir, "access"), REALM, [
                { name: USERS.push.username, password: USERS.push.password, role: "push" },
                { name: USERS.pull.username, password: USERS.pull.password, role: "pull" },
            ]),
            registryBlobRoot: registry.dataDir,
            tuning,
        }),
        ...(bridge ? { ui: { address: "ui:80", resolver: "127.0.0.11" } } : {}),
    });
    const nginx = await startNginxAt(bench, name, dir, conf, site, ports.http);
    return {
        nginx,
        endpoint: tlsEndpoint(bench, site.address, ports.https, ["-u", `${USERS.push.username}:${USERS.push.password}`]),
        registry,
    };
}

/** The `ssl_*` lines of a rendered nginx.conf: a TLS-only server copies them verbatim. */
export function tlsLinesOf(confPath: string): string[] {
    const lines = readFileSync(confPath, "utf8")
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => /^ssl_\w+ /.test(line));
    return [...new Set(lines)];
}
