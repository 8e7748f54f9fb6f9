/**
 * Object storage and replicas, for real: an S3 server on loopback (versitygw), two registry
 * processes sharing its bucket and `http.secret`, each running the `config.yml` the stack renders
 * for `storage: {kind: s3}`, behind the nginx edge the stack renders with both as servers of one
 * upstream. Run with Debian's Distribution 2.8 and with Distribution 3.1.2. Real clients (skopeo,
 * curl): push through one replica and pull through the other; a chunked upload whose PATCHes land
 * on both replicas; a replica killed mid-pull, the client's retry completing through the other;
 * `redirect` sending a pull to the bucket itself.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createHash } from "crypto";
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { writeRandomBlob } from "../../scripts/lib/randomBlob";
import { writeOciLayout } from "../support/ociLayout";
import { killGroup, makeTempDir, run, runCleanups, waitFor } from "../../scripts/lib/processes";
import { cachedRegistry3, registry3Binary } from "../../scripts/lib/builtTools";
import { REGISTRY, Replica, ReplicaSet, startReplica, startReplicaSet, USER } from "../../scripts/lib/s3Replicas";
import { S3Server, startS3Server } from "../../scripts/lib/s3Server";

const MIB = 1024 * 1024;
const BUCKET = "registry";
const sha256File = (path: string) => `sha256:${createHash("sha256").update(readFileSync(path)).digest("hex")}`;

/** The requests a replica answered, from Distribution's "response completed" log lines. */
function requestsServed(replica: Replica): { method: string; uri: string; status: number }[] {
    return readFileSync(replica.daemon.logFile, "utf8")
        .split("\n")
        .filter((line) => line.includes("response completed"))
        .map((line) => ({
            method: /http\.request\.method=(\S+)/.exec(line)?.[1] ?? "",
            uri: /http\.request\.uri="([^"]*)"/.exec(line)?.[1] ?? "",
            status: Number(/http\.response\.status=(\d+)/.exec(line)?.[1] ?? 0),
        }));
}

/** curl through the edge: status line, headers and body apart. */
async function edgeCurl(
    set: ReplicaSet,
    args: string[],
): Promise<{ status: number; headers: string; stdout: string; stderr: string; code: number }> {
    const result = await run("curl", ["-sS", "-D", join(set.edgeDir, "headers.txt"), "--max-time", "120", ...set.curlOptions, ...args], {
        allowFailure: true,
        timeoutMs: 180_000,
    });
    const headers = readFileSync(join(set.edgeDir, "headers.txt"), "utf8");
    const status = Number([...headers.matchAll(/^HTTP\/[\d.]+ (\d+)/gm)].pop()?.[1] ?? 0);
    return { status, headers, stdout: result.stdout, stderr: result.stderr, code: result.code };
}

const header = (headers: string, name: string) => new RegExp(`^${name}: *(.*?)\\r?$`, "im").exec(headers)?.[1];

/** POST, then a PUT with the whole blob and its digest: a monolithic upload through the edge. */
async function pushBlob(set: ReplicaSet, repository: string, path: string, digest: string): Promise<void> {
    const started = await edgeCurl(set, ["-X", "POST", "-o", "/dev/null", `${set.edgeUrl}/v2/${repository}/blobs/uploads/`]);
    assert.equal(started.status, 202, started.stderr);
    const location = header(started.headers, "location")!;
    const put = await edgeCurl(set, [
        "-X",
        "PUT",
        "-o",
        "/dev/null",
        "-H",
        "Content-Type: application/octet-stream",
        "-H",
        "Expect:",
        "--data-binary",
        `@${path}`,
        `${location}&digest=${digest}`,
    ]);
    assert.equal(put.status, 201, `${put.headers}${put.stderr}`);
}

/**
 * Distribution 3 when its build is at hand (cached, REGISTRY3_BIN) or asked for
 * (OBJECT_STORAGE_REGISTRY3=build): a cold build would add 4 to 7 minutes to a cold CI run.
 */
const registry3 = cachedRegistry3();
const buildingRegistry3 = process.env.OBJECT_STORAGE_REGISTRY3 === "build";

for (const version of ["2.8", "3"] as const) {
    const skip =
        version === "3" && registry3 === undefined && !buildingRegistry3
            ? "Distribution 3 is not built (scripts/build-tools.sh registry3; OBJECT_STORAGE_REGISTRY3=build builds it here)"
            : false;
    describe(`object storage: two Distribution ${version} replicas on one bucket behind the edge`, { skip }, () => {
        let dir: string;
        let s3: S3Server;
        let set: ReplicaSet;
        let binary: string;
        let certDir: string;

        before(async () => {
            dir = makeTempDir(`pr-s3-${version}-`);
            s3 = await startS3Server(join(dir, "s3"));
            await s3.createBucket(BUCKET);
            binary = version === "2.8" ? REGISTRY : (registry3 ?? (await registry3Binary()));
            // One worker: nginx's round robin is per worker, so consecutive requests alternate.
            set = await startReplicaSet({
                dir,
                s3,
                bucket: BUCKET,
                binaries: [binary, binary],
                redirect: false,
                tuning: { workerProcesses: 1 },
            });
            certDir = join(dir, "certs");
            mkdirSync(certDir);
            writeFileSync(join(certDir, "ca.crt"), readFileSync(set.caPath));
        });

        after(runCleanups);

        it("push straight to one replica, pull from the other: the bucket holds the image", async () => {
            const [a, b] = set.replicas;
            const layout = join(dir, "layout");
            const digest = writeOciLayout(layout, `stored in a bucket by Distribution ${version}\n`);
            const creds = `${USER.username}:${USER.password}`;
            await run(
                "skopeo",
                ["copy", "--dest-tls-verify=false", "--dest-creds", creds, `oci:${layout}:1`, `docker://127.0.0.1:${a.port}/demo/app:1`],
                { timeoutMs: 120_000 },
            );
            const pulled = join(dir, "pulled");
            await run(
                "skopeo",
                ["copy", "--src-tls-verify=false", "--src-creds", creds, `docker://127.0.0.1:${b.port}/demo/app:1`, `oci:${pulled}:1`],
                { timeoutMs: 120_000 },
            );
            const index = JSON.parse(readFileSync(join(pulled, "index.json"), "utf8"));
            assert.equal(index.manifests[0].digest, digest, "the other replica serves the same manifest");
            assert.ok(
                requestsServed(b).some((r) => r.method === "GET" && r.uri.startsWith("/v2/demo/app/blobs/sha256:") && r.status === 200),
                "replica b served the blobs",
            );
            assert.ok(!requestsServed(b).some((r) => r.method === "PUT"), "replica b never received the push");
            const keys = s3.listKeys(BUCKET, "docker/registry/v2/");
            assert.ok(
                keys.some((k) => k.startsWith(`docker/registry/v2/repositories/demo/app/_manifests/revisions/sha256/${digest.slice(7)}`)),
                `manifest link in the bucket; keys: ${keys.slice(0, 20).join(" ")}`,
            );
            assert.ok(
                keys.some((k) => k.startsWith("docker/registry/v2/blobs/sha256/")),
                "blobs in the bucket",
            );
        });

        it("through the edge: skopeo pushes and pulls, and both replicas answer", async () => {
            const layout = join(dir, "layout-edge");
            const digest = writeOciLayout(layout, `through the edge, Distribution ${version}\n`);
            const creds = `${USER.username}:${USER.password}`;
            const reference = `127.0.0.1:${new URL(set.edgeUrl).port}/demo/edge:1`;
            await run("skopeo", ["copy", "--dest-cert-dir", certDir, "--dest-creds", creds, `oci:${layout}:1`, `docker://${reference}`], {
                timeoutMs: 120_000,
            });
            const pulled = join(dir, "pulled-edge");
            await run("skopeo", ["copy", "--src-cert-dir", certDir, "--src-creds", creds, `docker://${reference}`, `oci:${pulled}:1`], {
                timeoutMs: 120_000,
            });
            assert.equal(JSON.parse(readFileSync(join(pulled, "index.json"), "utf8")).manifests[0].digest, digest);
            for (const replica of set.replicas) {
                assert.ok(
                    requestsServed(replica).some((r) => r.uri.startsWith("/v2/demo/edge/")),
                    `${replica.name} answered some of the edge's requests`,
                );
            }
        });

        it("a chunked upload whose PATCHes land on both replicas completes, and either serves the blob", async () => {
            const chunks = [6 * MIB, 6 * MIB, 2 * MIB].map((size, i) => writeRandomBlob(join(dir, `chunk-${i}.bin`), size));
            const whole = join(dir, "chunked.bin");
            writeFileSync(whole, Buffer.concat(chunks.map((c) => readFileSync(c.path))));
            const digest = sha256File(whole);
            const started = await edgeCurl(set, ["-X", "POST", "-o", "/dev/null", `${set.edgeUrl}/v2/demo/chunked/blobs/uploads/`]);
            assert.equal(started.status, 202);
            let location = header(started.headers, "location")!;
            const uuid = header(started.headers, "docker-upload-uuid")!;
            let offset = 0;
            for (const chunk of chunks) {
                const patch = await edgeCurl(set, [
                    "-X",
                    "PATCH",
                    "-o",
                    "/dev/null",
                    "-H",
                    "Content-Type: application/octet-stream",
                    "-H",
                    "Expect:",
                    "-H",
                    `Content-Range: ${offset}-${offset + chunk.size - 1}`,
                    "--data-binary",
                    `@${chunk.path}`,
                    location,
                ]);
                assert.equal(patch.status, 202, `PATCH at ${offset}: ${patch.headers}${patch.stderr}`);
                offset += chunk.size;
                assert.equal(
                    header(patch.headers, "range"),
                    `0-${offset - 1}`,
                    "the replica counts every byte so far, whichever took the earlier chunks",
                );
                location = header(patch.headers, "location")!;
            }
            const put = await edgeCurl(set, ["-X", "PUT", "-o", "/dev/null", "-H", "Expect:", `${location}&digest=${digest}`]);
            assert.equal(put.status, 201, `${put.headers}${put.stderr}`);
            const patchedBy = set.replicas.filter((r) => requestsServed(r).some((q) => q.method === "PATCH" && q.uri.includes(uuid)));
            assert.deepEqual(
                patchedBy.map((r) => r.name),
                set.replicas.map((r) => r.name),
                "the chunks went to both replicas",
            );
            for (const replica of set.replicas) {
                const got = join(dir, `chunked-from-${replica.name}.bin`);
                await run("curl", [
                    "-sSf",
                    "--user",
                    `${USER.username}:${USER.password}`,
                    "-o",
                    got,
                    `${replica.url}/v2/demo/chunked/blobs/${digest}`,
                ]);
                assert.equal(sha256File(got), digest, `${replica.name} serves the whole blob`);
            }
        });

        it("with redirect on, a pull is sent to the bucket by a presigned URL, and that URL serves the blob", async () => {
            const blob = writeRandomBlob(join(dir, "redirected.bin"), 3 * MIB);
            await pushBlob(set, "demo/redirect", blob.path, blob.digest);
            const redirecting = await startReplica(
                { dir, s3, bucket: BUCKET, binaries: [binary], redirect: true },
                "replica-redirect",
                binary,
            );
            const answer = await run("curl", [
                "-sS",
                "-o",
                "/dev/null",
                "-D",
                "-",
                "--user",
                `${USER.username}:${USER.password}`,
                `${redirecting.url}/v2/demo/redirect/blobs/${blob.digest}`,
            ]);
            assert.match(answer.stdout, /^HTTP\/1\.1 307/);
            const location = header(answer.stdout, "location")!;
            assert.ok(location.startsWith(`${s3.endpoint}/${BUCKET}/docker/registry/v2/blobs/sha256/`), location);
            assert.match(location, /X-Amz-Signature=/);
            const fetched = join(dir, "redirected-fetched.bin");
            await run("curl", ["-sSf", "-o", fetched, location]);
            assert.equal(sha256File(fetched), blob.digest, "the bucket serves the blob itself, no credentials but the URL's signature");
            await redirecting.daemon.stop();
        });

        it("a replica killed mid-pull: curl's retry completes through the other (nginx skips the dead one), and skopeo still pulls", async () => {
            const blob = writeRandomBlob(join(dir, "large.bin"), 64 * MIB);
            await pushBlob(set, "demo/large", blob.path, blob.digest);
            const out = join(dir, "large-pulled.bin");
            // Slow enough to be caught mid-transfer; --retry-all-errors: a cut transfer is curl's error 18.
            const pull = run(
                "curl",
                [
                    "-sS",
                    "--max-time",
                    "120",
                    "--limit-rate",
                    "12M",
                    "--retry",
                    "3",
                    "--retry-delay",
                    "1",
                    "--retry-all-errors",
                    ...set.curlOptions,
                    "-o",
                    out,
                    "-w",
                    "%{http_code} %{size_download}",
                    `${set.edgeUrl}/v2/demo/large/blobs/${blob.digest}`,
                ],
                { allowFailure: true, timeoutMs: 180_000 },
            );
            // The serving replica is the one whose socket to nginx has bytes waiting: the client reads slowly.
            const serving = await waitFor(
                "a replica sending the blob",
                async () => {
                    for (const replica of set.replicas) {
                        const sockets = await run("ss", ["-Htn", "state", "established", `( sport = :${replica.port} )`]);
                        if (sockets.stdout.split("\n").some((line) => Number(line.trim().split(/\s+/)[1]) > 64 * 1024)) return replica;
                    }
                    return undefined;
                },
                30_000,
            );
            killGroup(serving.daemon.pid, "SIGKILL");
            await serving.daemon.exited;
            const result = await pull;
            assert.equal(result.code, 0, result.stderr);
            // -sS prints the cut transfer's error, not the retry's notice; exit 0: a retry completed.
            assert.match(result.stderr, /curl: \(18\) transfer closed with \d+ bytes remaining/, "the first transfer was cut");
            assert.equal(result.stdout, `200 ${blob.size}`);
            assert.equal(sha256File(out), blob.digest);
            const survivor = set.replicas.find((r) => r !== serving)!;
            assert.ok(
                requestsServed(survivor).some(
                    (r) => r.method === "GET" && r.uri === `/v2/demo/large/blobs/${blob.digest}` && r.status === 200,
                ),
                "the survivor served the retry",
            );

            const pulled = join(dir, "pulled-after-kill");
            const reference = `127.0.0.1:${new URL(set.edgeUrl).port}/demo/edge:1`;
            await run(
                "skopeo",
                [
                    "copy",
                    "--src-cert-dir",
                    certDir,
                    "--src-creds",
                    `${USER.username}:${USER.password}`,
                    `docker://${reference}`,
                    `oci:${pulled}:1`,
                ],
                { timeoutMs: 120_000 },
            );
            assert.equal(
                JSON.parse(readFileSync(join(pulled, "index.json"), "utf8")).manifests.length,
                1,
                "with one replica dead, pulls still work",
            );
            // Round robin sent some of those requests to the dead replica: nginx moved them on.
            const edgeLog = readFileSync(join(set.edgeDir, "nginx.log"), "utf8");
            assert.match(edgeLog, /upstream prematurely closed connection while reading upstream/, "the cut pull, as nginx saw it");
            assert.match(
                edgeLog,
                new RegExp(
                    `connect\\(\\) failed \\(111: Connection refused\\) while connecting to upstream.*upstream: "http://127\\.0\\.0\\.1:${serving.port}/`,
                ),
            );
        });
    });
}
