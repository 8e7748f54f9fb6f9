/**
 * The stack's registry path on loopback, as the containers run it: Distribution 3 (v3.1.2, the
 * default image's major) serving the rendered config.yml on a Unix socket only, behind Debian's
 * nginx with the rendered nginx.conf (passwords and roles checked at the edge, as the stack's edge
 * does: one push and one pull user; blob GETs sent from the registry's files). Clients speak HTTPS to `127.0.0.1:<httpsPort>` trusting the test's CA (the
 * certificate names 127.0.0.1), as skopeo's `--cert-dir` or curl's `--cacert`.
 */
import { chmodSync, mkdirSync, writeFileSync } from "fs";
import { join } from "path";
import { EdgeConfigInput, renderEdgeConfig } from "../../components/render/edgeConfig";
import { RegistryConfigInput, renderRegistryConfig } from "../../components/render/registryConfig";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import {
    freePorts,
    loopbackEdgeInput,
    RegistryProcess,
    startNginx,
    startRegistry,
    writeEdgeAccess,
} from "../../scripts/lib/loopbackServers";
import { Daemon, makeTempDir, run, RunOptions, RunResult } from "../../scripts/lib/processes";
import { registry3Binary } from "../../scripts/lib/builtTools";

export interface Credential {
    user: string;
    password: string;
}

export const PUSH_USER: Credential = { user: "ci", password: "push-Passw0rd" };
export const PULL_USER: Credential = { user: "node", password: "pull-Passw0rd" };
const REALM = "private-registry";

export interface LoopbackStackOptions {
    /** Called with the registry's data directory before anything uses it (e.g. to mount a small file system there). */
    prepareDataDir?: (dataDir: string) => Promise<void>;
    /** Rendered into config.yml on top of what the stack sets. */
    registry?: Partial<RegistryConfigInput>;
    /** Rendered into nginx.conf on top of the loopback edge. */
    edge?: Partial<EdgeConfigInput>;
}

export interface LoopbackStack {
    dir: string;
    /** The registry's storage root (config.yml's `rootdirectory`, through the environment). */
    dataDir: string;
    /** `127.0.0.1:<https port>`: what goes in front of image names. */
    endpoint: string;
    httpsPort: number;
    httpPort: number;
    /** A directory holding `ca.crt`: skopeo's `--cert-dir`. */
    certDir: string;
    caFile: string;
    /** The running registry; replaced by `startRegistry()`. */
    registry: RegistryProcess;
    nginx: Daemon;
    /** The rendered config.yml the registry serves. */
    registryConfig: string;
    /**
     * Starts the registry again with the same data (what Docker's restart policy does), and the same
     * config unless `registry` changes some of it (as a changed stack would).
     */
    startRegistry(registry?: Partial<RegistryConfigInput>): Promise<RegistryProcess>;
    /** curl against the edge: `-sS`, the CA, `--max-time 60`, then `args`. */
    curl(args: string[], options?: RunOptions): Promise<RunResult>;
    /** `https://127.0.0.1:<port><path>` */
    url(path: string): string;
}

export async function startLoopbackStack(options: LoopbackStackOptions = {}): Promise<LoopbackStack> {
    const dir = makeTempDir("pr-stack-");
    // nginx's workers (nobody) read the blob files and connect to the socket, as in the containers.
    chmodSync(dir, 0o755);
    const dataDir = join(dir, "data");
    mkdirSync(dataDir, { recursive: true });
    await options.prepareDataDir?.(dataDir);
    chmodSync(dataDir, 0o755);
    mkdirSync(join(dir, "run"), { mode: 0o755 });
    mkdirSync(join(dir, "temp"));
    const socket = join(dir, "run", "registry.sock");
    const [httpsPort, httpPort, uiPort] = await freePorts(3);
    const pki = issueTestCertificates(["registry.test"], ["127.0.0.1"]);
    writeFileSync(join(dir, "server.crt"), pki.certificatePem);
    writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
    const certDir = join(dir, "certs");
    mkdirSync(certDir);
    const caFile = join(certDir, "ca.crt");
    writeFileSync(caFile, pki.caPem);
    const access = writeEdgeAccess(join(dir, "access"), REALM, [
        { name: PUSH_USER.user, password: PUSH_USER.password, role: "push" },
        { name: PULL_USER.user, password: PULL_USER.password, role: "pull" },
    ]);
    const configFor = (changes?: Partial<RegistryConfigInput>) =>
        renderRegistryConfig({
            listenAddress: `unix:${socket}`,
            deleteEnabled: false,
            distributionMajor: 3,
            ...options.registry,
            ...changes,
        });
    const binary = await registry3Binary();
    const start = (config: string) => startRegistry(dir, config, socket, { OTEL_TRACES_EXPORTER: "none" }, binary);
    const registryConfig = configFor();
    const stack: LoopbackStack = {
        dir,
        dataDir,
        endpoint: `127.0.0.1:${httpsPort}`,
        httpsPort,
        httpPort,
        certDir,
        caFile,
        registry: await start(registryConfig),
        nginx: await startNginx(
            dir,
            renderEdgeConfig(
                loopbackEdgeInput(dir, {
                    httpsPort,
                    httpPort,
                    registrySocket: socket,
                    uiPort,
                    access,
                    registryBlobRoot: dataDir,
                    ...options.edge,
                }),
            ),
            httpPort,
        ),
        registryConfig,
        startRegistry: async (changes) => {
            if (changes) stack.registryConfig = configFor(changes);
            stack.registry = await start(stack.registryConfig);
            return stack.registry;
        },
        curl: (args, runOptions) =>
            run("curl", ["-sS", "--cacert", caFile, "--max-time", "60", ...args], { allowFailure: true, ...runOptions }),
        url: (path) => `https://127.0.0.1:${httpsPort}${path}`,
    };
    return stack;
}

/** `user:password` for skopeo's `--creds` and curl's `-u`. */
export const creds = (credential: Credential) => `${credential.user}:${credential.password}`;
