/**
 * An S3-compatible server on loopback for the object-storage tests and bench: versitygw (built
 * from the Go module proxy by scripts/build-tools.sh) on a free port, objects as plain files
 * under a temp dir (its posix backend: object key = file path under the bucket's directory). curl
 * speaks to it with its own SigV4 signing (`--aws-sigv4`).
 */
import { mkdirSync, readdirSync } from "fs";
import { join, resolve } from "path";
import { Daemon, run, startDaemon, waitFor } from "./processes";
import { freePort } from "./loopbackServers";

const ROOT = resolve(__dirname, "../..");

export interface S3Server {
    daemon: Daemon;
    /** `http(s)://127.0.0.1:PORT`: what the registry's `regionendpoint` and curl use. */
    endpoint: string;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    /** The directory holding one subdirectory per bucket (versitygw's posix backend). */
    dataDir: string;
    /** With TLS: the CA file a client (curl --cacert, Go's SSL_CERT_FILE) must trust. */
    caPath?: string;
    /** PUT /BUCKET, signed: creates the bucket. */
    createBucket(bucket: string): Promise<void>;
    /** Every object key in the bucket under `prefix`: the files under the bucket's directory. */
    listKeys(bucket: string, prefix: string): string[];
}

/** The bin dir with `versitygw` (VERSITYGW_BIN_DIR, else built or cached by scripts/build-tools.sh). */
export async function versitygwBinDir(): Promise<string> {
    if (process.env.VERSITYGW_BIN_DIR) return process.env.VERSITYGW_BIN_DIR;
    const built = await run("bash", [join(ROOT, "scripts/build-tools.sh"), "versitygw"], { timeoutMs: 1_800_000 });
    return built.stdout.trim().split("\n").pop() ?? "";
}

/** curl arguments that sign a request for this server (SigV4, service s3), and trust its CA. */
export function s3Signing(server: Pick<S3Server, "region" | "accessKeyId" | "secretAccessKey" | "caPath">): string[] {
    return [
        "--aws-sigv4",
        `aws:amz:${server.region}:s3`,
        "--user",
        `${server.accessKeyId}:${server.secretAccessKey}`,
        // curl 7.88 does not send it itself; versitygw requires it.
        "-H",
        "x-amz-content-sha256: UNSIGNED-PAYLOAD",
        ...(server.caPath ? ["--cacert", server.caPath] : []),
    ];
}

/** TLS files for the server (its certificate must name 127.0.0.1). Unset: plain HTTP. */
export interface S3Tls {
    certificatePath: string;
    privateKeyPath: string;
    caPath: string;
}

export async function startS3Server(dir: string, tls?: S3Tls): Promise<S3Server> {
    const bin = await versitygwBinDir();
    const dataDir = join(dir, "buckets");
    mkdirSync(dataDir, { recursive: true });
    const port = await freePort();
    const server = {
        endpoint: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
        region: "us-east-1",
        accessKeyId: "registry-test",
        secretAccessKey: "registry-test-Secret-key-1",
        dataDir,
        caPath: tls?.caPath,
    };
    // Metadata (content types, ETags) in a sidecar dir: no dependence on the filesystem's xattrs.
    mkdirSync(join(dir, "sidecar"));
    const daemon = startDaemon(
        "versitygw",
        join(bin, "versitygw"),
        [
            "--port",
            `127.0.0.1:${port}`,
            "--region",
            server.region,
            "--quiet",
            ...(tls ? ["--cert", tls.certificatePath, "--key", tls.privateKeyPath] : []),
            "posix",
            "--sidecar",
            join(dir, "sidecar"),
            dataDir,
        ],
        {
            logFile: join(dir, "versitygw.log"),
            env: { ...process.env, ROOT_ACCESS_KEY_ID: server.accessKeyId, ROOT_SECRET_ACCESS_KEY: server.secretAccessKey },
        },
    );
    const signed = s3Signing(server);
    await waitFor(
        `versitygw on ${server.endpoint}`,
        async () => {
            const exited = await Promise.race([daemon.exited.then((code) => `exited with ${code}`), Promise.resolve(undefined)]);
            if (exited) throw new Error(`versitygw ${exited}; see ${daemon.logFile}`);
            const list = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", ...signed, `${server.endpoint}/`], {
                allowFailure: true,
                timeoutMs: 5_000,
            });
            return list.stdout === "200";
        },
        20_000,
    );
    return {
        ...server,
        daemon,
        async createBucket(bucket) {
            const created = await run("curl", ["-sS", "-X", "PUT", "-w", "\n%{http_code}", ...signed, `${server.endpoint}/${bucket}`], {
                allowFailure: true,
            });
            if (!created.stdout.endsWith("\n200")) throw new Error(`creating bucket ${bucket}: ${created.stdout} ${created.stderr}`);
        },
        listKeys(bucket, prefix) {
            // Files only, and not versitygw's own `.sgwtmp` (uploads in progress).
            return readdirSync(join(dataDir, bucket), { recursive: true, withFileTypes: true })
                .filter((entry) => entry.isFile())
                .map((entry) => join(entry.parentPath, entry.name).slice(join(dataDir, bucket).length + 1))
                .filter((key) => !key.startsWith(".sgwtmp/") && key.startsWith(prefix));
        },
    };
}
