/**
 * Registry replicas sharing one bucket behind one edge, all from the stack's own renderers: the
 * S3 server on loopback, N registry processes (Debian's Distribution 2.8, or Distribution 3 built
 * by scripts/build-tools.sh) with the same `storage.s3`, `http.secret` and htpasswd, and nginx
 * with every replica as a server of its registry upstream. Shared by the integration test and the
 * storage bench. Everything started here is stopped by PID at cleanup.
 */
import { mkdirSync, writeFileSync } from "fs";
import { join } from "path";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { EdgeTuning } from "../../components/render/edgeTuning";
import { bcryptWithSalt, renderHtpasswd } from "../../components/render/htpasswd";
import { renderRegistryConfig, S3_CREDENTIAL_ENV } from "../../components/render/registryConfig";
import { issueTestCertificates } from "./program/fakeProviders";
import { freePort, freePorts, loopbackEdgeInput, REGISTRY, startNginx } from "./loopbackServers";
import { Daemon, run, startDaemon, waitFor } from "./processes";
import { S3Server } from "./s3Server";

export const EDGE_HOST = "registry.test";
export const USER = { username: "admin", password: "s3-replicas-Passw0rd" };
/** What every replica shares with the others, as the stack's `http.secret` is shared. */
const HTTP_SECRET = "shared-http-secret-for-every-replica";

export interface Replica {
    name: string;
    port: number;
    daemon: Daemon;
    /** `http://127.0.0.1:PORT` */
    url: string;
}

export interface ReplicaSet {
    replicas: Replica[];
    /** `https://registry.test:PORT` through the edge. */
    edgeUrl: string;
    edgeDir: string;
    nginx: Daemon;
    /** curl options for the edge: the CA, `--resolve` for the test name, the user. */
    curlOptions: string[];
    caPath: string;
}

export interface ReplicaSetOptions {
    dir: string;
    s3: S3Server;
    bucket: string;
    /** The registry binary of each replica: REGISTRY (Debian's 2.8) or registry3Binary() (registry3.ts). */
    binaries: string[];
    redirect: boolean;
    tuning?: Partial<EdgeTuning>;
    /** The edge's certificate and CA; default: issued here for registry.test and 127.0.0.1. */
    certificates?: { certificatePem: string; privateKeyPem: string; caPem: string };
}

/** One registry process: the rendered config.yml, the shared secret and the bucket's keys as env. */
export async function startReplica(options: ReplicaSetOptions, name: string, binary: string): Promise<Replica> {
    const dir = join(options.dir, name);
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const configPath = join(dir, "config.yml");
    writeFileSync(
        configPath,
        renderRegistryConfig({
            listenAddress: `127.0.0.1:${port}`,
            htpasswdPath: join(options.dir, "htpasswd"),
            realm: "private-registry",
            deleteEnabled: false,
            storage: {
                kind: "s3",
                endpoint: options.s3.endpoint,
                region: options.s3.region,
                bucket: options.bucket,
                forcePathStyle: true,
                redirect: options.redirect,
            },
        }),
    );
    const daemon = startDaemon(`registry ${name}`, binary, ["serve", configPath], {
        logFile: join(dir, "registry.log"),
        // Only what the container would have: an AWS_CA_BUNDLE or AWS_PROFILE from this machine's
        // environment would reach the S3 driver's SDK (2.8's panics on AWS_CA_BUNDLE).
        env: {
            PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
            REGISTRY_HTTP_SECRET: HTTP_SECRET,
            [S3_CREDENTIAL_ENV.accessKeyId]: options.s3.accessKeyId,
            [S3_CREDENTIAL_ENV.secretAccessKey]: options.s3.secretAccessKey,
            // An S3 server with a test CA: Go reads its roots from this file.
            ...(options.s3.caPath ? { SSL_CERT_FILE: options.s3.caPath } : {}),
        },
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(
        `registry ${name} on ${url}`,
        async () => {
            const exited = await Promise.race([daemon.exited.then((code) => `exited with ${code}`), Promise.resolve(undefined)]);
            if (exited) throw new Error(`registry ${name} ${exited}; see ${daemon.logFile}`);
            const probe = await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `${url}/v2/`], {
                allowFailure: true,
                timeoutMs: 5_000,
            });
            return probe.stdout === "401";
        },
        30_000,
    );
    return { name, port, daemon, url };
}

export async function startReplicaSet(options: ReplicaSetOptions): Promise<ReplicaSet> {
    const { dir } = options;
    mkdirSync(join(dir, "temp"), { recursive: true });
    writeFileSync(
        join(dir, "htpasswd"),
        renderHtpasswd([{ username: USER.username, hash: bcryptWithSalt(USER.password, "abcdefghijklmnopqrstuv") }]),
    );
    const pki = options.certificates ?? issueTestCertificates([EDGE_HOST], ["127.0.0.1"]);
    writeFileSync(join(dir, "server.crt"), pki.certificatePem);
    writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, "ca.crt"), pki.caPem);

    const replicas: Replica[] = [];
    for (const [i, binary] of options.binaries.entries()) replicas.push(await startReplica(options, `replica-${"abcdefgh"[i]}`, binary));
    const [httpsPort, httpPort, uiPort] = await freePorts(3);
    const [first, ...others] = replicas;
    const nginx = await startNginx(
        dir,
        renderEdgeConfig(
            loopbackEdgeInput(dir, {
                httpsPort,
                httpPort,
                registryPort: first.port,
                uiPort,
                registry: { address: `127.0.0.1:${first.port}`, moreAddresses: others.map((r) => `127.0.0.1:${r.port}`) },
                tuning: options.tuning,
            }),
        ),
        httpPort,
    );
    const caPath = join(dir, "ca.crt");
    return {
        replicas,
        edgeUrl: `https://${EDGE_HOST}:${httpsPort}`,
        edgeDir: dir,
        nginx,
        caPath,
        curlOptions: [
            "--cacert",
            caPath,
            "--resolve",
            `${EDGE_HOST}:${httpsPort}:127.0.0.1`,
            "--user",
            `${USER.username}:${USER.password}`,
        ],
    };
}

export { REGISTRY };
