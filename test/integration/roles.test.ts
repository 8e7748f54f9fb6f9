/**
 * Passwords and roles at the edge, run by the real software: Debian's nginx with the rendered
 * nginx.conf and the users' files as the stack's edge reads them (edgeAccess.ts: `{SSHA}` hashes,
 * a file per push user) in front of Debian's Distribution registry, which checks no password (as
 * the stack's: only the edge reaches it), curl speaking the registry API over TLS. A pull user
 * may GET and HEAD; every write is its to lose (403 at the edge); a wrong or missing password is
 * the edge's 401, reads and blob files included, and the registry never sees the request; a
 * changed user applies to the next request, with no reload.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createHash } from "crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { renderRegistryConfig } from "../../components/render/registryConfig";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import {
    checkNginxConfig,
    EdgeUser,
    freePort,
    loopbackEdgeInput,
    startNginx,
    startRegistry,
    writeEdgeAccess,
} from "../../scripts/lib/loopbackServers";
import { Daemon, makeTempDir, run, runCleanups } from "../../scripts/lib/processes";

const HOST = "registry.test";
const REALM = "roles-test";
const USERS = {
    "ci.bot": { password: "push-Passw0rd", role: "push" },
    node: { password: "pull-Passw0rd", role: "pull" },
} as const;
const usersAsEdgeHasThem = (): EdgeUser[] => Object.entries(USERS).map(([name, u]) => ({ name, password: u.password, role: u.role }));

describe("roles at the edge: pull users read, push users write", () => {
    let dir: string;
    let httpsPort: number;
    let nginx: Daemon;
    let configDigest: string;
    const registryLog = () => readFileSync(join(dir, "registry.log"), "utf8");

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
        const access = writeEdgeAccess(join(dir, "access"), REALM, usersAsEdgeHasThem());
        await startRegistry(dir, renderRegistryConfig({ listenAddress: `unix:${registrySocket}`, deleteEnabled: true }), registrySocket);
        mkdirSync(join(dir, "temp"));
        nginx = await startNginx(
            dir,
            renderEdgeConfig(loopbackEdgeInput(dir, { httpsPort, httpPort, registrySocket, uiPort, access })),
            httpPort,
        );
    });

    after(async () => {
        await runCleanups();
    });

    it("a push user uploads a blob and tags a manifest", async () => {
        const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
        const digest = `sha256:${createHash("sha256").update(config).digest("hex")}`;
        configDigest = digest;
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

    it("challenges a write without credentials (401 Basic, so clients retry with theirs); a push user's name without its password writes nothing", async () => {
        const anonymous = await api("POST", "/v2/roles/app/blobs/uploads/");
        assert.equal(anonymous.status, 401);
        assert.match(anonymous.headers, /^www-authenticate: Basic realm="roles-test"/im);
        const wrongPush = await api("POST", "/v2/roles/app/blobs/uploads/", "ci.bot", "wrong");
        assert.equal(wrongPush.status, 401, "a push user's name without its password writes nothing");
        assert.match(wrongPush.headers, /^www-authenticate: Basic realm="roles-test"/im);
    });

    it("refuses every request without a valid password at the edge, as Distribution would (401, the challenge, its JSON error); the registry never sees one", async () => {
        const blob = `/v2/roles/app/blobs/${configDigest}`;
        const before = registryLog();
        for (const [method, path, user, password] of [
            ["GET", "/v2/", undefined, undefined],
            ["GET", "/v2/_catalog", undefined, undefined],
            ["GET", "/v2/_catalog", "node", "wrong"],
            ["GET", "/v2/_catalog", "nobody", "x"],
            ["HEAD", "/v2/roles/app/manifests/1", "ci.bot", "wrong"],
            // A blob: nginx would send it from the registry's files, or proxy it; neither without a password.
            ["GET", blob, undefined, undefined],
            ["GET", blob, "node", "wrong"],
            ["GET", blob, "node", USERS["ci.bot"].password],
        ] as const) {
            const refused = await api(method, path, user, password, method === "HEAD" ? ["-I"] : []);
            assert.equal(refused.status, 401, `${method} ${path} as ${user}: ${refused.headers}`);
            assert.match(refused.headers, /^www-authenticate: Basic realm="roles-test"/im, `${method} ${path}`);
            assert.match(refused.headers, /^docker-distribution-api-version: registry\/2\.0/im, `${method} ${path}`);
            if (method === "GET")
                assert.equal(JSON.parse(refused.body).errors[0].code, "UNAUTHORIZED", `${method} ${path}: ${refused.body}`);
        }
        assert.equal((await api("GET", blob, "node")).status, 200, "with the password, the pull user gets the blob");
        const seen = registryLog().slice(before.length);
        assert.doesNotMatch(seen, /GET \/v2\/_catalog/, `the registry saw a refused request:\n${seen}`);
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

    it("a name that only resembles a push user's (another character, case, a path) is no push user", async () => {
        for (const name of ["ciXbot", "CI.BOT", "ci.bot.evil", "../access/push-users.d/ci.bot", "ci.bot/", ".", "..", "-", "ci.bot%00"])
            assert.equal((await api("POST", "/v2/roles/app/blobs/uploads/", name, "x")).status, 403, name);
    });

    it("a new user, a removed one, a changed password or role applies to the next request, with no reload of nginx", async () => {
        const nginxLog = () => readFileSync(join(dir, "nginx.log"), "utf8");
        const logBefore = nginxLog().length;
        const pid = nginx.pid;
        const edgeAs = (users: EdgeUser[]) => writeEdgeAccess(join(dir, "access"), REALM, users);
        edgeAs([...usersAsEdgeHasThem(), { name: "builder", password: "builder-Passw0rd", role: "push" }]);
        assert.equal(
            (await api("POST", "/v2/roles/new/blobs/uploads/", "builder", "builder-Passw0rd")).status,
            202,
            "a new push user writes",
        );
        edgeAs(usersAsEdgeHasThem().map((u) => (u.name === "node" ? { ...u, password: "rotated-Passw0rd" } : u)));
        assert.equal((await api("GET", "/v2/_catalog", "node")).status, 401, "the old password is refused");
        assert.equal((await api("GET", "/v2/_catalog", "node", "rotated-Passw0rd")).status, 200, "the new one works");
        assert.equal((await api("GET", "/v2/_catalog", "builder", "builder-Passw0rd")).status, 401, "a removed user is refused");
        edgeAs(usersAsEdgeHasThem().map((u) => (u.name === "ci.bot" ? { ...u, role: "pull" } : u)));
        assert.equal((await api("POST", "/v2/roles/app/blobs/uploads/", "ci.bot")).status, 403, "a push user made pull writes no more");
        assert.equal((await api("GET", "/v2/_catalog", "ci.bot")).status, 200, "and still reads");
        edgeAs(usersAsEdgeHasThem());
        assert.equal(nginx.pid, pid);
        assert.doesNotMatch(nginxLog().slice(logBefore), /reconfiguring|signal 1 /, "nginx was not reloaded");
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
            access: { realm: REALM, usersFile: join(dir, "access", "users"), pushUsersDir: join(dir, "access", "push-users.d") },
        });
        const checkDir = join(dir, "cors-check");
        mkdirSync(checkDir);
        await checkNginxConfig(checkDir, conf);
        const refusal = /if \(!-e \$registry_role_file\) \{[^}]*\}/.exec(conf)?.[0] ?? assert.fail("no 403 refusal block");
        assert.match(refusal, /add_header Access-Control-Allow-Origin "?https:\/\/ui\.registry\.test:8443"? always;/);
        assert.match(refusal, /add_header Access-Control-Allow-Credentials "?true"? always;/);
    });
});
