/**
 * The registry's Prometheus metrics, with the rendered config.yml run by Debian's Distribution and
 * the rendered nginx.conf by Debian's nginx: `/metrics` answers on the debug address only, and the
 * edge routes neither it nor the debug listener's pprof pages.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createServer, Server } from "http";
import { mkdirSync, writeFileSync } from "fs";
import { join } from "path";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { bcryptWithSalt, renderHtpasswd } from "../../components/render/htpasswd";
import { renderRegistryConfig } from "../../components/render/registryConfig";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import { freePort, loopbackEdgeInput, startNginx, startRegistry } from "../../scripts/lib/loopbackServers";
import { makeTempDir, run, runCleanups, waitFor } from "../../scripts/lib/processes";

const HOST = "registry.test";
const PASSWORD = "metrics-test-password";

describe("registry metrics: on the debug address, not through the edge", () => {
    let dir: string;
    let ports: { registry: number; metrics: number; https: number; http: number; ui: number };
    let ui: Server;

    const get = async (url: string, extra: string[] = []) => {
        const result = await run(
            "curl",
            [
                "-sS",
                "--max-time",
                "20",
                "-w",
                "\n%{http_code}",
                "--cacert",
                join(dir, "ca.crt"),
                "--resolve",
                `${HOST}:${ports.https}:127.0.0.1`,
                ...extra,
                url,
            ],
            { allowFailure: true },
        );
        const lines = result.stdout.split("\n");
        return { status: Number(lines.pop()), body: lines.join("\n") };
    };

    before(async () => {
        dir = makeTempDir("pr-metrics-");
        ports = {
            registry: await freePort(),
            metrics: await freePort(),
            https: await freePort(),
            http: await freePort(),
            ui: await freePort(),
        };
        const pki = issueTestCertificates([HOST], ["127.0.0.1"]);
        writeFileSync(join(dir, "server.crt"), pki.certificatePem);
        writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
        writeFileSync(join(dir, "ca.crt"), pki.caPem);
        writeFileSync(
            join(dir, "htpasswd"),
            renderHtpasswd([{ username: "admin", bcryptHash: bcryptWithSalt(PASSWORD, "abcdefghijklmnopqrstuv") }]),
        );
        await startRegistry(
            dir,
            renderRegistryConfig({
                listenAddress: `127.0.0.1:${ports.registry}`,
                htpasswdPath: join(dir, "htpasswd"),
                realm: "private-registry",
                deleteEnabled: false,
                debugAddress: `127.0.0.1:${ports.metrics}`,
            }),
            ports.registry,
        );
        // The debug listener starts in a goroutine of its own, after the main one is waited for.
        await waitFor(
            "the metrics listener",
            async () =>
                (await run("curl", ["-sf", "-o", "/dev/null", `http://127.0.0.1:${ports.metrics}/metrics`], { allowFailure: true }))
                    .code === 0,
            20_000,
        );
        ui = createServer((_, response) => response.writeHead(200, { "content-type": "text/html" }).end("<title>ui stand-in</title>"));
        await new Promise<void>((done) => ui.listen(ports.ui, "127.0.0.1", done));
        mkdirSync(join(dir, "temp"));
        await startNginx(
            dir,
            renderEdgeConfig(
                loopbackEdgeInput(dir, {
                    serverNames: [HOST],
                    httpsPort: ports.https,
                    httpPort: ports.http,
                    registryPort: ports.registry,
                    uiPort: ports.ui,
                }),
            ),
            ports.http,
        );
    });
    after(async () => {
        ui?.close();
        await runCleanups();
    });

    it("counts the registry's requests by status code on /metrics of the debug address", async () => {
        const edge = `https://${HOST}:${ports.https}`;
        assert.equal((await get(`${edge}/v2/`, ["-u", `admin:${PASSWORD}`])).status, 200);
        assert.equal((await get(`${edge}/v2/`, ["-u", "admin:wrong"])).status, 401);
        const metrics = await get(`http://127.0.0.1:${ports.metrics}/metrics`);
        assert.equal(metrics.status, 200);
        assert.match(metrics.body, /^# TYPE registry_http_requests_total counter$/m);
        assert.match(metrics.body, /^registry_http_requests_total\{[^}]*code="200"[^}]*\} [1-9]/m, "the 200 through the edge was counted");
        assert.match(metrics.body, /^registry_http_requests_total\{[^}]*code="401"[^}]*\} [1-9]/m, "and the 401");
        // What docs/operations.md tells operators to watch: 5xx by code above, latency by handler here.
        assert.match(metrics.body, /^registry_http_request_duration_seconds_bucket\{[^}]*handler="base"/m);
    });

    it("the edge routes neither /metrics nor the debug pages: the UI answers them, without any metric", async () => {
        const edge = `https://${HOST}:${ports.https}`;
        for (const path of ["/metrics", "/debug/pprof/", "/v2/../metrics"]) {
            for (const auth of [[], ["-u", `admin:${PASSWORD}`]]) {
                const response = await get(`${edge}${path}`, auth);
                assert.doesNotMatch(response.body, /registry_http|# TYPE|go_goroutines|pprof/, `${path} through the edge`);
            }
        }
        assert.match((await get(`${edge}/metrics`)).body, /ui stand-in/, "the UI's location catches it");
        // The registry's own listener has no /metrics either: only the debug address serves it.
        const direct = await get(`http://127.0.0.1:${ports.registry}/metrics`, ["-u", `admin:${PASSWORD}`]);
        assert.equal(direct.status, 404);
    });
});
