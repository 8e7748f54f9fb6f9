/**
 * Webhooks as the stack renders them (components/render/notifications.ts), proved by the real
 * registries: Distribution v3.1.2 (scripts/build-tools.sh registry3) reads `notifications.endpoints`
 * from the rendered config.yml and each endpoint's headers from the secret environment variable,
 * and POSTs to receivers on loopback what a push, a pull and deletes (of a manifest, of a tag)
 * do: one event per manifest, with repository, tag and digest, no event per layer, pulls only
 * to the endpoint that asked. Debian's 2.8 takes the same section without headers.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createServer, IncomingHttpHeaders, Server } from "http";
import { AddressInfo } from "net";
import { existsSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { bcryptWithSalt, renderHtpasswd } from "../../components/render/htpasswd";
import { RegistryConfigInput, renderRegistryConfig } from "../../components/render/registryConfig";
import { BLOB_MEDIA_TYPE, webhookHeadersEnv } from "../../components/render/notifications";
import { freePort } from "../../scripts/lib/loopbackServers";
import { makeTempDir, registerCleanup, run, runCleanups, startDaemon, waitFor } from "../../scripts/lib/processes";
import { writeOciLayout } from "../support/ociLayout";
import { registry3Binary } from "../../scripts/lib/builtTools";

const PASSWORD = "notifications-test-password";
const CREDS = `admin:${PASSWORD}`;
const TOKEN = "Bearer notifications-test-token";
const DEBIAN_REGISTRY = "/usr/bin/docker-registry";

interface Delivery {
    headers: IncomingHttpHeaders;
    events: {
        action: string;
        target: { mediaType?: string; repository?: string; tag?: string; digest?: string };
        request?: { method?: string };
    }[];
}

/** An HTTP server on loopback that records every POST and answers 200. */
async function receiver(name: string): Promise<{ url: string; deliveries: Delivery[] }> {
    const deliveries: Delivery[] = [];
    const server: Server = createServer((request, response) => {
        let body = "";
        request.on("data", (chunk) => (body += chunk));
        request.on("end", () => {
            deliveries.push({ headers: request.headers, events: JSON.parse(body).events });
            response.end();
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    registerCleanup(`receiver ${name}`, () => new Promise<void>((resolve) => server.close(() => resolve())));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/${name}`, deliveries };
}

describe("webhooks: the rendered notifications section and header variables, read by the real registries", () => {
    let dir: string;

    const curl = async (args: string[]) =>
        (await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", CREDS, ...args], { allowFailure: true })).stdout;
    const push = (layout: string, port: number, reference: string) =>
        run(
            "skopeo",
            [
                "copy",
                "--quiet",
                "--dest-tls-verify=false",
                "--dest-creds",
                CREDS,
                `oci:${layout}:1`,
                `docker://127.0.0.1:${port}/${reference}`,
            ],
            { allowFailure: true, timeoutMs: 60_000 },
        );
    const events = (deliveries: Delivery[]) => deliveries.flatMap((d) => d.events);
    /** The rendered config.yml of a registry on loopback `port` telling `notifications`. */
    const configFor = (port: number, major: 2 | 3, notifications: RegistryConfigInput["notifications"]) =>
        renderRegistryConfig({
            listenAddress: `127.0.0.1:${port}`,
            htpasswdPath: join(dir, "htpasswd"),
            realm: "private-registry",
            deleteEnabled: true,
            distributionMajor: major,
            notifications,
        });
    const serve = async (name: string, binary: string, config: string, env: Record<string, string>, port: number) => {
        const configPath = join(dir, `${name}.yml`);
        writeFileSync(configPath, config);
        const daemon = startDaemon(name, binary, ["serve", configPath], {
            logFile: join(dir, `${name}.log`),
            env: {
                ...process.env,
                REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, `${name}-data`),
                REGISTRY_HTTP_SECRET: "notifications-test-secret",
                OTEL_TRACES_EXPORTER: "none",
                ...env,
            },
        });
        await waitFor(`${name} on ${port}`, async () => (await curl([`http://127.0.0.1:${port}/v2/`])) === "200", 30_000);
        return daemon;
    };

    before(() => {
        dir = makeTempDir("pr-notify-");
        writeFileSync(
            join(dir, "htpasswd"),
            renderHtpasswd([{ username: "admin", hash: bcryptWithSalt(PASSWORD, "abcdefghijklmnopqrstuv") }]),
        );
    });
    after(runCleanups);

    it("3.x: push, pull and deletes reach each webhook as asked, with repository, tag and digest and the secret header", async () => {
        const [deploys, audit] = [await receiver("deploys"), await receiver("audit")];
        const port = await freePort();
        const config = configFor(port, 3, [
            { url: deploys.url, events: ["push", "delete"], headerNames: ["Authorization"] },
            { url: audit.url, events: ["push", "delete", "pull"] },
        ]);
        assert.ok(!config.includes(TOKEN), "the header's value is not in config.yml");
        assert.match(config, /webhook-1's headers \(Authorization\): REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS, a secret/);
        const [name, value] = webhookHeadersEnv(0, { Authorization: TOKEN }).split(/=(.*)/s);
        const registry = await serve("registry3", await registry3Binary(), config, { [name]: value }, port);

        const layout = join(dir, "layout");
        const digest = writeOciLayout(layout, "told to the webhooks\n");
        const pushed = await push(layout, port, "team/app:1");
        assert.equal(pushed.code, 0, pushed.stderr);
        const manifest = `http://127.0.0.1:${port}/v2/team/app/manifests`;
        const accept = ["-H", "Accept: application/vnd.oci.image.manifest.v1+json"];
        assert.equal(await curl([...accept, `${manifest}/1`]), "200", "a pull");
        // A second tag, deleted as a tag; then the image, deleted by digest.
        assert.equal((await push(layout, port, "team/app:2")).code, 0);
        assert.equal(await curl(["-X", "DELETE", `${manifest}/2`]), "202");
        assert.equal(await curl(["-X", "DELETE", `${manifest}/${digest}`]), "202");

        await waitFor(
            "the deletes at both webhooks",
            () => [deploys, audit].every((r) => events(r.deliveries).filter((e) => e.action === "delete").length >= 3),
            30_000,
            200,
        );
        const told = (r: { deliveries: Delivery[] }) =>
            events(r.deliveries).map((e) => ({
                action: e.action,
                repository: e.target.repository,
                tag: e.target.tag || undefined,
                digest: e.target.digest || undefined,
            }));
        // Deleting the image by digest also tells of each tag that named it.
        assert.deepEqual(told(deploys), [
            { action: "push", repository: "team/app", tag: "1", digest },
            { action: "push", repository: "team/app", tag: "2", digest },
            { action: "delete", repository: "team/app", tag: "2", digest: undefined },
            { action: "delete", repository: "team/app", tag: undefined, digest },
            { action: "delete", repository: "team/app", tag: "1", digest: undefined },
        ]);
        assert.deepEqual(
            told(audit).filter((e) => e.action === "pull"),
            [{ action: "pull", repository: "team/app", tag: "1", digest }],
            "pulls go to the webhook that asked for them",
        );
        assert.ok(
            !events([...deploys.deliveries, ...audit.deliveries]).some((e) => e.target.mediaType === BLOB_MEDIA_TYPE),
            "no event per layer or config blob",
        );
        assert.ok(
            deploys.deliveries.every((d) => d.headers.authorization === TOKEN),
            "the secret header reached its webhook",
        );
        assert.ok(
            audit.deliveries.every((d) => d.headers.authorization === undefined),
            "and only its own",
        );
        assert.ok(deploys.deliveries.every((d) => d.headers["content-type"] === "application/vnd.docker.distribution.events.v2+json"));
        // Distribution logs each endpoint with its headers when it starts (docs/operations.md says so).
        assert.match(readFileSync(join(dir, "registry3.log"), "utf8"), /configuring endpoint webhook-1 .*notifications-test-token/);
        await registry.stop();
    });

    it(
        "2.8 reads the same section (webhooks without headers)",
        { skip: !existsSync(DEBIAN_REGISTRY) && "Debian's docker-registry is not installed" },
        async () => {
            const hook = await receiver("v2");
            const port = await freePort();
            const config = configFor(port, 2, [{ url: hook.url, events: ["push", "delete"] }]);
            const registry = await serve("registry2", DEBIAN_REGISTRY, config, {}, port);
            const layout = join(dir, "layout-v2");
            const digest = writeOciLayout(layout, "told by 2.8\n");
            assert.equal((await push(layout, port, "team/v2:1")).code, 0);
            await waitFor("the push event", () => events(hook.deliveries).some((e) => e.action === "push"), 30_000, 200);
            assert.deepEqual(
                events(hook.deliveries).map((e) => [e.action, e.target.repository, e.target.tag, e.target.digest]),
                [["push", "team/v2", "1", digest]],
            );
            await registry.stop();
        },
    );
});
