/**
 * The rendered nginx.conf, config.yml and htpasswd, run by the real software: Debian's nginx in
 * front of Debian's Distribution registry on loopback, spoken to by curl over TLS with the CA.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createServer, Server } from "http";
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { EdgeConfigInput, renderEdgeConfig } from "../../components/render/edgeConfig";
import { bcryptWithSalt, renderHtpasswd } from "../../components/render/htpasswd";
import { renderRegistryConfig } from "../../components/render/registryConfig";
import { makeTempDir, run, runCleanups, startDaemon, waitFor } from "../../scripts/lib/processes";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import { BRIDGE_EDGE } from "../support/fixtures";
import {
    checkNginxConfig,
    freePort,
    freePorts,
    NGINX,
    loopbackEdgeInput,
    startNginx,
    startRegistry,
} from "../../scripts/lib/loopbackServers";

const HOST = "registry.test";
const UI_HOST = "ui.registry.test";
const PASSWORD = "s3cret-Passw0rd";
const TOOL_PASSWORD = "made-by-htpasswd";

interface Edge {
    dir: string;
    httpsPort: number;
    httpPort: number;
    caPath: string;
}

async function curl(edge: Edge, args: string[], host = HOST): Promise<{ code: number; status: number; headers: string; body: string }> {
    const result = await run(
        "curl",
        [
            "-sS",
            "-D",
            "-",
            "--max-time",
            "30",
            "--resolve",
            `${host}:${edge.httpsPort}:127.0.0.1`,
            "--resolve",
            `${host}:${edge.httpPort}:127.0.0.1`,
            ...args,
        ],
        { allowFailure: true },
    );
    const [headers, ...body] = result.stdout.replace(/^(HTTP\/[\d.]+ 100 [^\r]*\r\n\r\n)+/, "").split(/\r\n\r\n/);
    const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)?.[1] ?? 0);
    return { code: result.code, status, headers, body: body.join("\r\n\r\n") + result.stderr };
}

const https = (edge: Edge, path: string, host = HOST) => `https://${host}:${edge.httpsPort}${path}`;
const withCa = (edge: Edge) => ["--cacert", edge.caPath];

/** The UI stand-in: a page at `/`, and at `/request-headers` the headers the edge sent it, as JSON. */
function serveUiPage(port: number): Promise<Server> {
    const server = createServer((request, response) => {
        if (request.url === "/request-headers")
            response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(request.headers));
        else response.writeHead(200, { "content-type": "text/html" }).end("<title>registry ui</title>");
    });
    return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

/** What a client may claim about where it connected; none of it may reach the registry or UI. */
const SPOOFED_FORWARDING = [
    "-H",
    "Forwarded: for=198.51.100.1;host=evil.example;proto=http",
    "-H",
    "X-Forwarded-Host: evil.example",
    "-H",
    "X-Forwarded-Port: 1",
    "-H",
    "X-Forwarded-For: 198.51.100.1",
];

/** Headers the UI must carry, so no other site can frame it while the browser holds credentials. */
const UI_SECURITY_HEADERS = [
    /x-frame-options: DENY/i,
    /content-security-policy: frame-ancestors 'none'/i,
    /x-content-type-options: nosniff/i,
    /referrer-policy: same-origin/i,
    /strict-transport-security: max-age=31536000/i,
];

/** Registry, UI page and nginx, all from the renderers; `uiHost` set: the UI on its own name. */
async function startEdge(uiHost?: string): Promise<Edge & { ui: Server }> {
    const dir = makeTempDir("pr-edge-");
    const [registryPort, uiPort, httpsPort, httpPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const pki = issueTestCertificates([HOST, UI_HOST], ["127.0.0.1", "::1"]);
    writeFileSync(join(dir, "server.crt"), pki.certificatePem);
    writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, "ca.crt"), pki.caPem);

    // One entry hashed as the stack does (bcryptWithSalt), one by Apache's own htpasswd tool.
    const tool = await run("htpasswd", ["-nbB", "tool", TOOL_PASSWORD]);
    const toolHash = tool.stdout.trim().split(":")[1];
    writeFileSync(
        join(dir, "htpasswd"),
        renderHtpasswd([
            { username: "admin", bcryptHash: bcryptWithSalt(PASSWORD, "abcdefghijklmnopqrstuv") },
            { username: "tool", bcryptHash: toolHash },
        ]),
    );

    const uiOrigin = uiHost === undefined ? undefined : `https://${uiHost}:${httpsPort}`;
    await startRegistry(
        dir,
        renderRegistryConfig({
            listenAddress: `127.0.0.1:${registryPort}`,
            htpasswdPath: join(dir, "htpasswd"),
            realm: "private-registry",
            deleteEnabled: false,
            uiOrigin,
        }),
        registryPort,
    );
    const ui = await serveUiPage(uiPort);
    mkdirSync(join(dir, "temp"));
    await startNginx(
        dir,
        renderEdgeConfig(
            loopbackEdgeInput(dir, {
                serverNames: [HOST, "127.0.0.1", "::1"],
                uiServerName: uiHost,
                httpsPort,
                httpPort,
                listenIpv6: true,
                registryPort,
                uiPort,
            }),
        ),
        httpPort,
    );
    return { dir, httpsPort, httpPort, caPath: join(dir, "ca.crt"), ui };
}

function bytesUnder(dir: string): number {
    let total = 0;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        total += entry.isDirectory() ? bytesUnder(path) : statSync(path).size;
    }
    return total;
}

describe("edge + registry, same-origin UI (the default)", () => {
    let edge: Edge & { ui: Server };
    before(async () => {
        edge = await startEdge();
    });
    after(async () => {
        edge?.ui.close();
        await runCleanups();
    });

    it("answers /v2/ with 401 and the registry's headers when no credentials are sent", async () => {
        const response = await curl(edge, [...withCa(edge), https(edge, "/v2/")]);
        assert.equal(response.status, 401);
        assert.match(response.headers, /www-authenticate: Basic realm="private-registry"/i);
        assert.match(response.headers, /docker-distribution-api-version: registry\/2\.0/i);
    });

    it("rejects a wrong password and accepts both bcrypt flavours", async () => {
        assert.equal((await curl(edge, [...withCa(edge), "-u", "admin:wrong", https(edge, "/v2/")])).status, 401);
        assert.equal((await curl(edge, [...withCa(edge), "-u", `admin:${PASSWORD}`, https(edge, "/v2/")])).status, 200);
        assert.equal((await curl(edge, [...withCa(edge), "-u", `tool:${TOOL_PASSWORD}`, https(edge, "/v2/")])).status, 200);
    });

    it("the rendered htpasswd verifies with Apache's htpasswd", async () => {
        await run("htpasswd", ["-vb", join(edge.dir, "htpasswd"), "admin", PASSWORD]);
        const wrong = await run("htpasswd", ["-vb", join(edge.dir, "htpasswd"), "admin", "nope"], { allowFailure: true });
        assert.notEqual(wrong.code, 0);
    });

    it("fails certificate verification for a client without the CA", async () => {
        const response = await curl(edge, [https(edge, "/v2/")]);
        assert.equal(response.code, 60, response.body);
        assert.match(response.body, /certificate/i);
    });

    it("speaks TLS 1.2 and 1.3 only", async () => {
        assert.equal((await curl(edge, [...withCa(edge), "--tlsv1.2", "--tls-max", "1.2", https(edge, "/v2/")])).status, 401);
        assert.equal((await curl(edge, [...withCa(edge), "--tlsv1.3", https(edge, "/v2/")])).status, 401);
        const old = await curl(edge, [...withCa(edge), "--tlsv1.1", "--tls-max", "1.1", https(edge, "/v2/")]);
        assert.notEqual(old.code, 0, "TLS 1.1 must be refused");
    });

    it("redirects plain HTTP to HTTPS and never serves the registry over it", async () => {
        const response = await curl(edge, [`http://${HOST}:${edge.httpPort}/v2/_catalog`]);
        assert.equal(response.status, 301);
        assert.match(response.headers, new RegExp(`location: https://${HOST}:${edge.httpsPort}/v2/_catalog`, "i"));
        assert.doesNotMatch(response.body, /repositories/);
    });

    it("writes upload Location URLs with https and the public port", async () => {
        const response = await curl(edge, [
            ...withCa(edge),
            "-u",
            `admin:${PASSWORD}`,
            "-X",
            "POST",
            https(edge, "/v2/smoke/blobs/uploads/"),
        ]);
        assert.equal(response.status, 202);
        assert.match(response.headers, new RegExp(`location: https://${HOST}:${edge.httpsPort}/v2/smoke/blobs/uploads/`, "i"));
    });

    it("streams a 96 MiB blob through without a 413 and without spooling to disk", async () => {
        const blob = join(edge.dir, "blob.bin");
        await run("sh", ["-c", `head -c ${96 * 1024 * 1024} /dev/urandom > ${blob}`], { timeoutMs: 60_000 });
        const digest = `sha256:${(await run("sha256sum", [blob])).stdout.split(" ")[0]}`;
        const start = await curl(edge, [...withCa(edge), "-u", `admin:${PASSWORD}`, "-X", "POST", https(edge, "/v2/big/blobs/uploads/")]);
        const location = /location: (\S+)/i.exec(start.headers)?.[1];
        assert.ok(location, start.headers);
        const put = await curl(edge, [
            ...withCa(edge),
            "-u",
            `admin:${PASSWORD}`,
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            `@${blob}`,
            `${location}&digest=${digest}`,
        ]);
        assert.equal(put.status, 201, put.headers + put.body);
        const head = await curl(edge, [...withCa(edge), "-u", `admin:${PASSWORD}`, "-I", https(edge, `/v2/big/blobs/${digest}`)]);
        assert.equal(head.status, 200);
        assert.match(head.headers, new RegExp(`content-length: ${96 * 1024 * 1024}`, "i"));
        assert.equal(bytesUnder(join(edge.dir, "temp")), 0, "nginx spooled request or response bodies to its temp dirs");
    });

    it("serves the UI at / on the same origin, with headers that forbid framing it", async () => {
        const response = await curl(edge, [...withCa(edge), https(edge, "/")]);
        assert.equal(response.status, 200);
        assert.match(response.body, /registry ui/);
        for (const header of UI_SECURITY_HEADERS) assert.match(response.headers, header);
    });

    it("writes upload URLs from what nginx knows, whatever Forwarded or X-Forwarded-* the client sends", async () => {
        const response = await curl(edge, [
            ...withCa(edge),
            "-u",
            `admin:${PASSWORD}`,
            ...SPOOFED_FORWARDING,
            "-X",
            "POST",
            https(edge, "/v2/spoof/blobs/uploads/"),
        ]);
        assert.equal(response.status, 202);
        assert.match(response.headers, new RegExp(`location: https://${HOST}:${edge.httpsPort}/v2/spoof/blobs/uploads/`, "i"));
        assert.doesNotMatch(response.headers, /evil\.example/);
    });

    it("hands the upstream the host, port, scheme and client address nginx saw, never the client's claims", async () => {
        const response = await curl(edge, [...withCa(edge), ...SPOOFED_FORWARDING, https(edge, "/request-headers")]);
        assert.equal(response.status, 200);
        const seen = JSON.parse(response.body) as Record<string, string>;
        assert.equal(seen.forwarded, undefined);
        assert.equal(seen["x-forwarded-host"], `${HOST}:${edge.httpsPort}`);
        assert.equal(seen["x-forwarded-port"], String(edge.httpsPort));
        assert.equal(seen["x-forwarded-proto"], "https");
        assert.equal(seen["x-forwarded-for"], "127.0.0.1");
    });

    it("answers on IPv6 too when listenIpv6 is on", async () => {
        const response = await run(
            "curl",
            ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", edge.caPath, `https://[::1]:${edge.httpsPort}/v2/`],
            { allowFailure: true },
        );
        assert.equal(response.stdout, "401", response.stderr);
    });

    it("answers the health check the registry container uses, without credentials", async () => {
        const registryUrl = /server (127\.0\.0\.1:\d+);/.exec(readFileSync(join(edge.dir, "nginx.conf"), "utf8"))?.[1];
        const response = await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://${registryUrl}/`]);
        assert.equal(response.stdout, "200");
    });
});

describe("readiness: /readyz follows the registry behind the edge, /healthz only nginx", () => {
    let dir: string;
    let httpPort: number;
    let registrySocket: string;
    const configYaml = () =>
        renderRegistryConfig({
            listenAddress: `unix:${registrySocket}`,
            htpasswdPath: join(dir, "htpasswd"),
            realm: "private-registry",
            deleteEnabled: false,
        });
    const get = async (path: string) => {
        const result = await run("curl", ["-sS", "-D", "-", "--max-time", "10", `http://127.0.0.1:${httpPort}${path}`], {
            allowFailure: true,
        });
        const [headers, body = ""] = result.stdout.split(/\r\n\r\n/);
        return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)?.[1] ?? 0), headers, body };
    };
    let registry: Awaited<ReturnType<typeof startRegistry>>;

    before(async () => {
        dir = makeTempDir("pr-readyz-");
        chmodSync(dir, 0o755);
        // As the stack deploys it: the registry's API on a Unix socket only.
        mkdirSync(join(dir, "run"), { mode: 0o755 });
        registrySocket = join(dir, "run", "registry.sock");
        const [httpsPort, uiPort] = await freePorts(2);
        httpPort = await freePort();
        const pki = issueTestCertificates([HOST], ["127.0.0.1"]);
        writeFileSync(join(dir, "server.crt"), pki.certificatePem);
        writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
        writeFileSync(
            join(dir, "htpasswd"),
            renderHtpasswd([{ username: "admin", bcryptHash: bcryptWithSalt(PASSWORD, "abcdefghijklmnopqrstuv") }]),
        );
        registry = await startRegistry(dir, configYaml(), registrySocket);
        mkdirSync(join(dir, "temp"));
        await startNginx(
            dir,
            renderEdgeConfig(loopbackEdgeInput(dir, { serverNames: [HOST], httpsPort, httpPort, registrySocket, uiPort })),
            httpPort,
        );
    });
    after(runCleanups);

    it("answers 200 while the registry answers, with nothing of the registry's answer", async () => {
        const ready = await get("/readyz");
        assert.equal(ready.status, 200, ready.headers);
        assert.doesNotMatch(ready.headers, /docker-distribution-api-version/i);
        assert.equal((await get("/healthz")).body, "ok");
    });

    it("answers 503 once the registry is down (the load balancer's cue), while /healthz stays 200", async () => {
        await registry.daemon.stop();
        const down = await get("/readyz");
        assert.equal(down.status, 503, down.headers);
        assert.equal(down.body, "registry not ready");
        assert.equal((await get("/healthz")).status, 200, "nginx itself is alive: its container must not be restarted for this");
        // The same registry back on the same socket: ready again, with nothing restarted at the edge.
        registry = await startRegistry(dir, configYaml(), registrySocket);
        assert.equal((await get("/readyz")).status, 200);
    });
});

describe("edge + registry, UI on its own name (CORS)", () => {
    let edge: Edge & { ui: Server };
    before(async () => {
        edge = await startEdge(UI_HOST);
    });
    after(async () => {
        edge?.ui.close();
        await runCleanups();
    });

    it("answers the browser's preflight itself, for the UI origin only", async () => {
        const origin = `https://${UI_HOST}:${edge.httpsPort}`;
        const response = await curl(edge, [
            ...withCa(edge),
            "-X",
            "OPTIONS",
            "-H",
            `Origin: ${origin}`,
            "-H",
            "Access-Control-Request-Method: GET",
            https(edge, "/v2/_catalog"),
        ]);
        assert.equal(response.status, 204);
        assert.match(response.headers, new RegExp(`access-control-allow-origin: ${origin}`, "i"));
        assert.match(response.headers, /access-control-allow-credentials: true/i);
        assert.match(response.headers, /access-control-allow-headers: Authorization/i);
        assert.match(response.headers, /strict-transport-security: max-age=31536000/i, "HSTS on the preflight reply too");
    });

    it("has the registry send the CORS headers on real responses", async () => {
        const origin = `https://${UI_HOST}:${edge.httpsPort}`;
        const response = await curl(edge, [
            ...withCa(edge),
            "-u",
            `admin:${PASSWORD}`,
            "-H",
            `Origin: ${origin}`,
            https(edge, "/v2/_catalog"),
        ]);
        assert.equal(response.status, 200);
        assert.match(response.headers, new RegExp(`access-control-allow-origin: ${origin}`, "i"));
        assert.match(response.headers, /access-control-expose-headers: Docker-Content-Digest/i);
    });

    it("serves the UI on its name and sends the registry's / there", async () => {
        const ui = await curl(edge, [...withCa(edge), https(edge, "/", UI_HOST)], UI_HOST);
        assert.equal(ui.status, 200);
        assert.match(ui.body, /registry ui/);
        for (const header of UI_SECURITY_HEADERS) assert.match(ui.headers, header);
        const root = await curl(edge, [...withCa(edge), https(edge, "/")]);
        assert.equal(root.status, 302);
        assert.match(root.headers, new RegExp(`location: https://${UI_HOST}:${edge.httpsPort}/`, "i"));
    });
});

describe("listenIpv6 with real nginx", () => {
    after(runCleanups);
    const WITHOUT_IPV6 = resolve(__dirname, "../support/withoutIpv6.py");

    /** The edge with only loopback upstreams nobody serves: reachability is all these tests ask. */
    async function renderedEdge(listenIpv6: boolean): Promise<{ dir: string; conf: string; httpsPort: number; httpPort: number }> {
        const dir = makeTempDir("pr-edge-v6-");
        const [httpsPort, httpPort, registryPort, uiPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
        const pki = issueTestCertificates([HOST], ["127.0.0.1"]);
        writeFileSync(join(dir, "server.crt"), pki.certificatePem);
        writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
        const input: EdgeConfigInput = {
            serverNames: [HOST, "127.0.0.1"],
            listenHttpsPort: httpsPort,
            listenHttpPort: httpPort,
            publicHttpsPort: httpsPort,
            listenIpv6,
            registry: { address: `127.0.0.1:${registryPort}` },
            ui: { address: `127.0.0.1:${uiPort}` },
            certificatePath: join(dir, "server.crt"),
            privateKeyPath: join(dir, "server.key"),
            pidPath: join(dir, "nginx.pid"),
        };
        return { dir, conf: renderEdgeConfig(input), httpsPort, httpPort };
    }

    const healthz = (address: string, port: number) =>
        run("curl", ["-sS", "--max-time", "5", `http://${address}:${port}/healthz`], { allowFailure: true });

    it("off (the default): nginx listens on IPv4 only", async () => {
        const edge = await renderedEdge(false);
        await startNginx(edge.dir, edge.conf, edge.httpPort);
        assert.equal((await healthz("127.0.0.1", edge.httpPort)).stdout, "ok");
        const v6 = await healthz("[::1]", edge.httpPort);
        assert.equal(v6.code, 7, `nothing may answer on [::1]: ${v6.stdout}${v6.stderr}`);
    });

    it("on a host whose kernel has IPv6 off: nginx refuses to start with it on, and starts with it off", async () => {
        const on = await renderedEdge(true);
        writeFileSync(join(on.dir, "nginx.conf"), on.conf);
        // Output through a file: nginx reopens /dev/stdout, which a Node pipe (a socket) cannot be.
        const refused = await run(
            "sh",
            ["-c", `exec python3 "$2" ${NGINX} -t -p "$1" -c "$1/nginx.conf" >"$1/nginx-t.log" 2>&1`, "sh", on.dir, WITHOUT_IPV6],
            { allowFailure: true },
        );
        assert.notEqual(refused.code, 0);
        assert.match(
            readFileSync(join(on.dir, "nginx-t.log"), "utf8"),
            /socket\(\) \[::\]:\d+ failed \(97: Address family not supported by protocol\)/,
        );

        const off = await renderedEdge(false);
        writeFileSync(join(off.dir, "nginx.conf"), off.conf);
        const daemon = startDaemon(
            "nginx without IPv6",
            "python3",
            [WITHOUT_IPV6, NGINX, "-p", off.dir, "-c", join(off.dir, "nginx.conf"), "-g", "daemon off;"],
            { logFile: join(off.dir, "nginx.log") },
        );
        await waitFor(
            "nginx without IPv6 on its HTTP port",
            async () => {
                const exited = await Promise.race([
                    daemon.exited.then((code) => `exited with ${code}: ${readFileSync(daemon.logFile, "utf8")}`),
                    Promise.resolve(undefined),
                ]);
                if (exited) throw new Error(`nginx ${exited}`);
                return (await healthz("127.0.0.1", off.httpPort)).stdout === "ok";
            },
            20_000,
        );
        const tls = await run("curl", ["-sS", "-k", "-o", "/dev/null", "-w", "%{http_code}", `https://127.0.0.1:${off.httpsPort}/v2/`], {
            allowFailure: true,
        });
        // TLS served; the upstream is deliberately absent, so the edge drops the request (444) for the client to retry.
        assert.equal(tls.stdout, "000");
        assert.match(tls.stderr, /Empty reply from server/);
    });
});

describe("nginx -t", () => {
    after(runCleanups);

    it("accepts the bridge-network variant (upstreams re-resolved through Docker's DNS)", async () => {
        const dir = makeTempDir("pr-nginx-t-");
        const pki = issueTestCertificates(["registry.lan"], ["192.168.1.10"]);
        writeFileSync(join(dir, "server.crt"), pki.certificatePem);
        writeFileSync(join(dir, "server.key"), pki.privateKeyPem);
        const conf = renderEdgeConfig({
            ...BRIDGE_EDGE,
            certificatePath: join(dir, "server.crt"),
            privateKeyPath: join(dir, "server.key"),
            pidPath: join(dir, "nginx.pid"),
        });
        await checkNginxConfig(dir, conf);
    });

    it("rejects a broken certificate path, so the check above proves something", async () => {
        const dir = makeTempDir("pr-nginx-t-");
        const conf = renderEdgeConfig({
            ...BRIDGE_EDGE,
            certificatePath: join(dir, "missing.crt"),
            privateKeyPath: join(dir, "missing.key"),
            pidPath: join(dir, "nginx.pid"),
        });
        await assert.rejects(checkNginxConfig(dir, conf), /nginx -t rejected/);
    });
});
