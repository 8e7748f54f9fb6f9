/**
 * `serveBlobFiles`, run by the real software: one Debian Distribution registry (htpasswd, delete
 * on, a UI origin so its CORS headers are in play, on a Unix socket as the stack runs it) behind
 * two Debian nginx edges rendered from the
 * same input, one proxying every request (serveBlobFiles off) and one sending authorized blob
 * GETs from the registry's storage directory. Every request is made to both, and the answers must
 * be the same: status, every header line byte for byte (Date aside; nginx orders them its own
 * way), and the body. The registry's access log tells which path served a request.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createHash } from "crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { join } from "path";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { bcryptWithSalt, renderHtpasswd } from "../../components/render/htpasswd";
import { renderRegistryConfig } from "../../components/render/registryConfig";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import { freePorts, loopbackEdgeInput, startNginx, startRegistry } from "../../scripts/lib/loopbackServers";
import { makeTempDir, run, runCleanups } from "../../scripts/lib/processes";

const HOST = "registry.test";
const UI_HOST = "ui.registry.test";
const UI_ORIGIN = `https://${UI_HOST}`;
const PUSH = { user: "ci.bot", password: "push-Passw0rd" };
const PULL = { user: "node", password: "pull-Passw0rd" };

interface Answer {
    status: number;
    /** Header lines as sent, without the status line and Date, sorted. */
    headers: string[];
    body: Buffer;
}

describe("edge: blob GETs from the registry's files answer exactly as the proxied registry", () => {
    let dir: string;
    let dataDir: string;
    let registryLog: string;
    const ports = { proxied: 0, files: 0 };

    async function request(
        edge: keyof typeof ports,
        path: string,
        options: { method?: string; auth?: { user: string; password: string }; extra?: string[] } = {},
    ): Promise<Answer> {
        const out = join(dir, `body-${edge}`);
        // curl leaves the file alone when there is no body (a 304): never read an older one.
        rmSync(out, { force: true });
        const auth = options.auth === undefined ? [] : ["-u", `${options.auth.user}:${options.auth.password}`];
        const result = await run(
            "curl",
            [
                "-sS",
                "-D",
                "-",
                "-o",
                out,
                "--max-time",
                "30",
                "--cacert",
                join(dir, "ca.crt"),
                "--resolve",
                `${HOST}:${ports[edge]}:127.0.0.1`,
                ...(options.method === "HEAD" ? ["-I"] : ["-X", options.method ?? "GET"]),
                ...auth,
                ...(options.extra ?? []),
                `https://${HOST}:${ports[edge]}${path}`,
            ],
            { allowFailure: true },
        );
        const [statusLine, ...lines] = result.stdout.split("\r\n").filter((line) => line !== "");
        const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(statusLine ?? "")?.[1] ?? 0);
        assert.notEqual(status, 0, `no answer from the ${edge} edge: ${result.stderr}`);
        return {
            status,
            headers: lines.filter((line) => !/^date:/i.test(line)).sort(),
            body: existsSync(out) ? readFileSync(out) : Buffer.alloc(0),
        };
    }

    /** The same request to both edges; their answers must be identical. Returns the files edge's. */
    async function same(path: string, options: Parameters<typeof request>[2] = {}): Promise<Answer> {
        const proxied = await request("proxied", path, options);
        const files = await request("files", path, options);
        assert.equal(files.status, proxied.status, `status for ${path}`);
        assert.deepEqual(files.headers, proxied.headers, `headers for ${path}`);
        assert.ok(files.body.equals(proxied.body), `body for ${path}: ${files.body.length} vs ${proxied.body.length} bytes`);
        return files;
    }

    /** How many times the registry's access log shows `method path` since `from` (a log length). */
    function registrySaw(method: string, path: string, from: number): number {
        return readFileSync(registryLog, "utf8")
            .slice(from)
            .split("\n")
            .filter((line) => line.includes(`"${method} ${path} HTTP/1.1"`)).length;
    }
    const logLength = () => readFileSync(registryLog, "utf8").length;

    async function pushBlob(repository: string, content: Buffer): Promise<string> {
        const digest = `sha256:${createHash("sha256").update(content).digest("hex")}`;
        const started = await request("proxied", `/v2/${repository}/blobs/uploads/`, { method: "POST", auth: PUSH });
        assert.equal(started.status, 202);
        const location = new URL(started.headers.find((line) => /^location:/i.test(line))!.split(": ")[1]);
        const file = join(dir, "upload.bin");
        writeFileSync(file, content);
        const put = await request("proxied", `${location.pathname}${location.search}&digest=${digest}`, {
            method: "PUT",
            auth: PUSH,
            extra: ["-H", "Expect:", "-H", "Content-Type: application/octet-stream", "--data-binary", `@${file}`],
        });
        assert.equal(put.status, 201);
        return digest;
    }

    let blob: Buffer;
    let digest: string;

    before(async () => {
        dir = makeTempDir("pr-blob-files-");
        // nginx's workers (nobody) read the blob files, as the edge container's do from the volume.
        chmodSync(dir, 0o755);
        const [uiPort, proxiedHttps, proxiedHttp, filesHttps, filesHttp] = await freePorts(5);
        // As the stack runs it: the API on a Unix socket only.
        const registrySocket = join(dir, "run", "registry.sock");
        mkdirSync(join(dir, "run"), { mode: 0o755 });
        ports.proxied = proxiedHttps;
        ports.files = filesHttps;
        const pki = issueTestCertificates([HOST], ["127.0.0.1"]);
        writeFileSync(join(dir, "server.crt"), pki.certificatePem);
        writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
        writeFileSync(join(dir, "ca.crt"), pki.caPem);
        writeFileSync(
            join(dir, "htpasswd"),
            renderHtpasswd(
                [PUSH, PULL].map(({ user, password }) => ({
                    username: user,
                    bcryptHash: bcryptWithSalt(password, "abcdefghijklmnopqrstuv"),
                })),
            ),
        );
        const registry = await startRegistry(
            dir,
            renderRegistryConfig({
                listenAddress: `unix:${registrySocket}`,
                htpasswdPath: join(dir, "htpasswd"),
                realm: "blob-files-test",
                deleteEnabled: true,
                uiOrigin: UI_ORIGIN,
            }),
            registrySocket,
        );
        dataDir = registry.dataDir;
        registryLog = registry.daemon.logFile;
        for (const [name, httpsPort, httpPort, serveBlobFiles] of [
            ["proxied", proxiedHttps, proxiedHttp, false],
            ["files", filesHttps, filesHttp, true],
        ] as const) {
            const edgeDir = join(dir, name);
            mkdirSync(join(edgeDir, "temp"), { recursive: true });
            for (const file of ["server.crt", "server.key"])
                writeFileSync(join(edgeDir, file), readFileSync(join(dir, file)), { mode: 0o600 });
            await startNginx(
                edgeDir,
                renderEdgeConfig(
                    loopbackEdgeInput(edgeDir, {
                        serverNames: [HOST],
                        // The UI on its own name brings the registry's CORS headers in; both edges must
                        // name the same origin (port 443 published), as the registry has only one.
                        uiServerName: UI_HOST,
                        publicHttpsPort: 443,
                        httpsPort,
                        httpPort,
                        registrySocket,
                        uiPort,
                        roles: { pushUsers: [PUSH.user], realm: "blob-files-test" },
                        registryBlobRoot: dataDir,
                        tuning: { serveBlobFiles },
                    }),
                ),
                httpPort,
            );
        }
        blob = Buffer.alloc(3 * 1024 * 1024 + 17);
        for (let i = 0; i < blob.length; i += 4096) blob.writeUInt32LE((i * 2654435761) >>> 0, i);
        digest = await pushBlob("team/app", blob);
    });

    after(async () => {
        await runCleanups();
    });

    it("sends a linked blob from its file, with the registry's headers and bytes", async () => {
        const from = logLength();
        const answer = await same(`/v2/team/app/blobs/${digest}`, { auth: PULL });
        assert.equal(answer.status, 200);
        assert.ok(answer.body.equals(blob));
        for (const header of [
            `Docker-Content-Digest: ${digest}`,
            `Etag: "${digest}"`,
            "Content-Type: application/octet-stream",
            `Content-Length: ${blob.length}`,
            "Accept-Ranges: bytes",
            `Access-Control-Allow-Origin: ${UI_ORIGIN}`,
        ]) {
            assert.ok(answer.headers.includes(header), `${header} missing from ${answer.headers.join(" | ")}`);
        }
        // One GET came from the proxied edge; the files edge only asked the registry with a HEAD.
        assert.equal(registrySaw("GET", `/v2/team/app/blobs/${digest}`, from), 1);
        assert.equal(registrySaw("HEAD", `/v2/team/app/blobs/${digest}`, from), 1);
    });

    it("answers ranges as the registry does: parts from the file, an unsatisfiable one from the registry", async () => {
        const from = logLength();
        const part = await same(`/v2/team/app/blobs/${digest}`, { auth: PULL, extra: ["-r", "10-19"] });
        assert.equal(part.status, 206);
        assert.ok(part.body.equals(blob.subarray(10, 20)));
        assert.ok(part.headers.includes(`Content-Range: bytes 10-19/${blob.length}`));
        const tail = await same(`/v2/team/app/blobs/${digest}`, { auth: PULL, extra: ["-r", `${blob.length - 5}-`] });
        assert.equal(tail.status, 206);
        assert.ok(tail.body.equals(blob.subarray(blob.length - 5)));
        assert.equal(registrySaw("GET", `/v2/team/app/blobs/${digest}`, from), 2, "the files edge served both parts itself");
        // Beyond the end: 416 from the registry on both (its HEAD already refuses the range).
        const beyond = await request("files", `/v2/team/app/blobs/${digest}`, { auth: PULL, extra: ["-r", `${blob.length + 10}-`] });
        const beyondProxied = await request("proxied", `/v2/team/app/blobs/${digest}`, {
            auth: PULL,
            extra: ["-r", `${blob.length + 10}-`],
        });
        assert.equal(beyond.status, 416);
        assert.deepEqual(beyond.headers, beyondProxied.headers);
    });

    it("passes multi-range and conditional GETs to the registry", async () => {
        const from = logLength();
        const multi = await request("files", `/v2/team/app/blobs/${digest}`, { auth: PULL, extra: ["-r", "0-1,5-6"] });
        assert.equal(multi.status, 206);
        assert.ok(
            multi.headers.some((line) => /^Content-Type: multipart\/byteranges/.test(line)),
            multi.headers.join(" | "),
        );
        const notModified = await same(`/v2/team/app/blobs/${digest}`, { auth: PULL, extra: ["-H", `If-None-Match: "${digest}"`] });
        assert.equal(notModified.status, 304);
        // Both of the files edge's requests reached the registry as GETs, plus the proxied edge's one.
        assert.equal(registrySaw("GET", `/v2/team/app/blobs/${digest}`, from), 3);
    });

    it("answers a blob that exists but is not linked to this repository with the registry's 404", async () => {
        const answer = await same(`/v2/team/other/blobs/${digest}`, { auth: PULL });
        assert.equal(answer.status, 404);
        assert.match(answer.body.toString(), /BLOB_UNKNOWN/);
        const unknown = await same(`/v2/team/app/blobs/sha256:${"0".repeat(64)}`, { auth: PULL });
        assert.equal(unknown.status, 404);
    });

    it("asks for the password first: no, or wrong, credentials get the registry's 401", async () => {
        const anonymous = await same(`/v2/team/app/blobs/${digest}`);
        assert.equal(anonymous.status, 401);
        assert.ok(anonymous.headers.includes('Www-Authenticate: Basic realm="blob-files-test"'), anonymous.headers.join(" | "));
        assert.equal((await same(`/v2/team/app/blobs/${digest}`, { auth: { user: PULL.user, password: "wrong" } })).status, 401);
        assert.equal((await same(`/v2/team/app/blobs/${digest}`, { auth: { user: "nobody", password: PULL.password } })).status, 401);
    });

    it("HEAD stays the registry's, and roles still refuse a pull user's DELETE", async () => {
        const head = await same(`/v2/team/app/blobs/${digest}`, { method: "HEAD", auth: PULL });
        assert.equal(head.status, 200);
        const refused = await same(`/v2/team/app/blobs/${digest}`, { method: "DELETE", auth: PULL });
        assert.equal(refused.status, 403);
    });

    it("never serves the internal locations to a client", async () => {
        const hex = digest.slice("sha256:".length);
        const from = logLength();
        for (const path of [`/_registry_blob_files/sha256/${hex.slice(0, 2)}/${hex}/data`, "/_registry_blob_check"]) {
            const answer = await request("files", path, { auth: PUSH });
            // `internal`: 404, which the check's own refusal handling turns into 403.
            assert.ok([403, 404].includes(answer.status), `${path}: ${answer.status}`);
            assert.ok(!answer.body.includes(blob.subarray(0, 64)), path);
        }
        assert.equal(
            readFileSync(registryLog, "utf8")
                .slice(from)
                .match(/"(GET|HEAD) \//g),
            null,
            "the registry was asked nothing",
        );
        // Nor a path that leaves the repository's segment: the registry decides, not the file.
        const dotted = await request("files", `/v2/team/other/../app/blobs/${digest}`, { auth: PULL, extra: ["--path-as-is"] });
        assert.notEqual(dotted.status, 200, "a dotted path must not bypass the registry's check");
    });

    it("answers a deleted blob with the registry's 404 while its file is still on disk", async () => {
        const other = Buffer.from("a layer that will be deleted\n".repeat(1000));
        const otherDigest = await pushBlob("team/gone", other);
        assert.equal((await same(`/v2/team/gone/blobs/${otherDigest}`, { auth: PULL })).status, 200);
        const deleted = await request("proxied", `/v2/team/gone/blobs/${otherDigest}`, { method: "DELETE", auth: PUSH });
        assert.equal(deleted.status, 202);
        const hex = otherDigest.slice("sha256:".length);
        // Distribution deletes the repository's link, not the data (garbage collection does that).
        assert.ok(readFileSync(join(dataDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data")).equals(other));
        const answer = await same(`/v2/team/gone/blobs/${otherDigest}`, { auth: PULL });
        assert.equal(answer.status, 404);
        assert.match(answer.body.toString(), /BLOB_UNKNOWN/);
    });

    it("falls back to the registry when the file is gone after the check (garbage collection)", async () => {
        const layer = Buffer.from("collected\n".repeat(500));
        const layerDigest = await pushBlob("team/collected", layer);
        const hex = layerDigest.slice("sha256:".length);
        await run("rm", ["-r", join(dataDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex)]);
        const from = logLength();
        // Whatever the registry makes of it (Distribution 2.8 trusts its descriptor cache, sends
        // 200 and its headers, then no bytes), the files edge gives the same: the registry's.
        const answer = await same(`/v2/team/collected/blobs/${layerDigest}`, { auth: PULL });
        assert.ok(!answer.body.equals(layer));
        assert.equal(registrySaw("GET", `/v2/team/collected/blobs/${layerDigest}`, from), 2, "both edges' answers came from the registry");
    });
});
