/**
 * Roles, run by the real software: Debian's nginx with the rendered roles in front of Debian's
 * Distribution registry with the rendered htpasswd, curl speaking the registry API over TLS.
 * A pull user may GET and HEAD; every write is its to lose (403 at the edge); a push user's
 * writes reach the registry, which still checks the password of every request.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createHash } from "crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { bcryptWithSalt, renderHtpasswd } from "../../components/render/htpasswd";
import { renderRegistryConfig } from "../../components/render/registryConfig";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import { checkNginxConfig, freePort, loopbackEdgeInput, startNginx, startRegistry } from "../../scripts/lib/loopbackServers";
import { makeTempDir, run, runCleanups } from "../../scripts/lib/processes";

const HOST = "registry.test";
const USERS = {
    "ci.bot": { password: "push-Passw0rd", role: "push" },
    node: { password: "pull-Passw0rd", role: "pull" },
} as const;

describe("roles at the edge: pull users read, push users write", () => {
    let dir: string;
    let httpsPort: number;

    async function api(method: string, path: string, user?: string, password?: string, extra: string[] = []) {
        const auth = user === undefined ? [] : ["-u", `${user}:${password ?? USERS[user as keyof typeof USERS].password}`];
        const result = await run(
            "curl",
            [
                "-sS",
                "-D",
                "-",
                "--max-time",
                "30",
                "--cacert",
                join(dir, "ca.crt"),
                "--resolve",
                `${HOST}:${httpsPort}:127.0.0.1`,
                "-X",
                method,
                ...auth,
                ...extra,
                `https://${HOST}:${httpsPort}${path}`,
            ],
            { allowFailure: true },
        );
        const [headers, ...body] = result.stdout.replace(/^(HTTP\/[\d.]+ 100 [^\r]*\r\n\r\n)+/, "").split(/\r\n\r\n/);
        return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)?.[1] ?? 0), headers, body: body.join("\r\n\r\n") };
    }

    before(async () => {
        dir = makeTempDir("pr-roles-");
        const [uiPort, httpPort] = await Promise.all([freePort(), freePort()]);
        // As the stack runs it: the API on a Unix socket only, nginx's workers not root.
        // (The temp dir is the test's; nginx's workers, not root, must pass through it as they pass
        // through the socket volume's directory in the edge container.)
        const registrySocket = join(dir, "run", "registry.sock");
        chmodSync(dir, 0o711);
        mkdirSync(join(dir, "run"), { mode: 0o755 });
        httpsPort = await freePort();
        const pki = issueTestCertificates([HOST], ["127.0.0.1"]);
        writeFileSync(join(dir, "server.crt"), pki.certificatePem);
        writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
        writeFileSync(join(dir, "ca.crt"), pki.caPem);
        writeFileSync(
            join(dir, "htpasswd"),
            renderHtpasswd(
                Object.entries(USERS).map(([username, { password }]) => ({
                    username,
                    bcryptHash: bcryptWithSalt(password, "abcdefghijklmnopqrstuv"),
                })),
            ),
        );
        await startRegistry(
            dir,
            renderRegistryConfig({
                listenAddress: `unix:${registrySocket}`,
                htpasswdPath: join(dir, "htpasswd"),
                realm: "roles-test",
                deleteEnabled: true,
            }),
            registrySocket,
        );
        mkdirSync(join(dir, "temp"));
        await startNginx(
            dir,
            renderEdgeConfig(
                loopbackEdgeInput(dir, {
                    serverNames: [HOST],
                    httpsPort,
                    httpPort,
                    registrySocket,
                    uiPort,
                    roles: {
                        pushUsers: Object.entries(USERS)
                            .filter(([, u]) => u.role === "push")
                            .map(([name]) => name),
                        realm: "roles-test",
                    },
                }),
            ),
            httpPort,
        );
    });

    after(async () => {
        await runCleanups();
    });

    it("a push user uploads a blob and tags a manifest", async () => {
        const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
        const digest = `sha256:${createHash("sha256").update(config).digest("hex")}`;
        const started = await api("POST", "/v2/roles/app/blobs/uploads/", "ci.bot");
        assert.equal(started.status, 202, started.headers + started.body);
        const location = /^location: (\S+)/im.exec(started.headers)![1];
        writeFileSync(join(dir, "config.json"), config);
        const put = await api("PUT", `${new URL(location).pathname}${new URL(location).search}&digest=${digest}`, "ci.bot", undefined, [
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            `@${join(dir, "config.json")}`,
        ]);
        assert.equal(put.status, 201, put.headers + put.body);
        const manifest = JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.oci.image.config.v1+json", digest, size: config.length },
            layers: [],
        });
        writeFileSync(join(dir, "manifest.json"), manifest);
        const tagged = await api("PUT", "/v2/roles/app/manifests/1", "ci.bot", undefined, [
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
            "--data-binary",
            `@${join(dir, "manifest.json")}`,
        ]);
        assert.equal(tagged.status, 201, tagged.headers + tagged.body);
        writeFileSync(join(dir, "manifest.digest"), /^docker-content-digest: (\S+)/im.exec(tagged.headers)![1]);
    });

    it("a pull user lists, reads and HEADs what the push user wrote", async () => {
        assert.equal((await api("GET", "/v2/", "node")).status, 200);
        const catalog = await api("GET", "/v2/_catalog", "node");
        assert.deepEqual(JSON.parse(catalog.body).repositories, ["roles/app"]);
        const head = await api("HEAD", "/v2/roles/app/manifests/1", "node", undefined, [
            "-I",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
        ]);
        assert.equal(head.status, 200, head.headers);
    });

    it("refuses a pull user's every write with 403 DENIED, before the registry sees it", async () => {
        for (const [method, path] of [
            ["POST", "/v2/roles/app/blobs/uploads/"],
            ["PUT", "/v2/roles/app/manifests/2"],
            ["PATCH", "/v2/roles/app/blobs/uploads/x"],
            ["DELETE", "/v2/roles/app/manifests/1"],
        ]) {
            const refused = await api(method, path, "node");
            assert.equal(refused.status, 403, `${method} ${path}: ${refused.headers}`);
            assert.equal(JSON.parse(refused.body).errors[0].code, "DENIED");
            assert.match(refused.headers, /^docker-distribution-api-version: registry\/2\.0/im);
            assert.match(refused.headers, /^strict-transport-security:/im);
        }
        // Only the pull user ever sent a PATCH: the registry's access log must not have it.
        assert.doesNotMatch(readFileSync(join(dir, "registry.log"), "utf8"), /PATCH \/v2\/roles\/app\/blobs\/uploads\/x/);
        assert.match(readFileSync(join(dir, "registry.log"), "utf8"), /GET \/v2\/_catalog/, "the registry logs requests it sees");
    });

    it("challenges a write without credentials (401 Basic, so clients retry with theirs) and sends wrong passwords to the registry's 401", async () => {
        const anonymous = await api("POST", "/v2/roles/app/blobs/uploads/");
        assert.equal(anonymous.status, 401);
        assert.match(anonymous.headers, /^www-authenticate: Basic realm="roles-test"/im);
        const wrongPush = await api("POST", "/v2/roles/app/blobs/uploads/", "ci.bot", "wrong");
        assert.equal(wrongPush.status, 401, "a push user's name without its password writes nothing");
        assert.equal((await api("GET", "/v2/_catalog", "node", "wrong")).status, 401);
        assert.equal((await api("GET", "/v2/_catalog")).status, 401);
    });

    it("a second Authorization header is refused outright, so nginx and the registry never read different ones", async () => {
        const basic = (user: string, password: string) => `Authorization: Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
        const twice = await api("POST", "/v2/roles/app/blobs/uploads/", undefined, undefined, [
            "-H",
            basic("ci.bot", "wrong"),
            "-H",
            basic("node", USERS.node.password),
        ]);
        assert.equal(twice.status, 400);
    });

    it("a name that only resembles a push user's (regex metacharacters, case) is no push user", async () => {
        // "ci.bot" is escaped in the map: "ciXbot" must not match it.
        assert.equal((await api("POST", "/v2/roles/app/blobs/uploads/", "ciXbot", "x")).status, 403);
        assert.equal((await api("POST", "/v2/roles/app/blobs/uploads/", "CI.BOT", "x")).status, 403);
        assert.equal((await api("POST", "/v2/roles/app/blobs/uploads/", "ci.bot.evil", "x")).status, 403);
    });

    it("the push user deletes; the tag is gone for everyone", async () => {
        const digest = readFileSync(join(dir, "manifest.digest"), "utf8");
        assert.equal((await api("DELETE", `/v2/roles/app/manifests/${digest}`, "ci.bot")).status, 202);
        assert.equal(
            (await api("GET", "/v2/roles/app/manifests/1", "node", undefined, ["-H", "Accept: application/vnd.oci.image.manifest.v1+json"]))
                .status,
            404,
        );
    });

    it("with the UI on its own name, nginx accepts the roles and a refusal carries the UI's CORS headers", async () => {
        const conf = renderEdgeConfig({
            serverNames: [HOST],
            uiServerName: "ui.registry.test",
            listenHttpsPort: 8443,
            listenHttpPort: 8080,
            publicHttpsPort: 8443,
            listenIpv6: false,
            registry: { address: "127.0.0.1:5000" },
            ui: { address: "127.0.0.1:5080" },
            certificatePath: join(dir, "server.crt"),
            privateKeyPath: join(dir, "server.key"),
            pidPath: join(dir, "nginx-cors.pid"),
            tempDir: join(dir, "temp"),
            roles: { pushUsers: ["ci.bot"], realm: "roles-test" },
        });
        const checkDir = join(dir, "cors-check");
        mkdirSync(checkDir);
        await checkNginxConfig(checkDir, conf);
        const refusal = /if \(\$registry_write_refusal = 403\) \{[^}]*\}/.exec(conf)?.[0] ?? assert.fail("no 403 refusal block");
        assert.match(refusal, /add_header Access-Control-Allow-Origin "?https:\/\/ui\.registry\.test:8443"? always;/);
        assert.match(refusal, /add_header Access-Control-Allow-Credentials "?true"? always;/);
    });
});
