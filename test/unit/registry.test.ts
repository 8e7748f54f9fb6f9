/**
 * The registry service under mocks (services/registry.ts): which config path, env and command
 * its container gets for Distribution 3.x and 2.8, with and without `gc` (the supervisor script
 * itself: gcSupervisor.test.ts); where its metrics listener goes (loopback in host networking, the
 * container's unpublished address in bridge networking), that nothing publishes or routes it, and
 * that every container carries the health check `docker ps` shows.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { CONTAINER, envOf, Inputs, inputsOf, isolateHome, upload } from "../harness/inspect";

isolateHome("pr-registry-");

const registry = (result: EvaluationResult) => inputsOf(result, CONTAINER, "registry-registry");
const files = (container: Inputs) => (container.uploads as Inputs[]).map((u) => u.file).sort();

describe("the registry's Distribution version and scheduled garbage collection, under mocks", () => {
    let v3: EvaluationResult;
    let v3gc: EvaluationResult;
    let v2gc: EvaluationResult;
    before(async () => {
        [v3, v3gc, v2gc] = await Promise.all([
            evaluateProgram({ config: devStackConfig() }),
            evaluateProgram({ config: { ...devStackConfig(), gc: { schedule: "@every 30s", deleteUntagged: true } } }),
            evaluateProgram({ config: { ...devStackConfig(), images: { registry: "registry:2.8.3" }, gc: { schedule: "30 3 * * 0" } } }),
        ]);
        for (const result of [v3, v3gc, v2gc]) assert.equal(result.error, undefined);
    });

    it("3.x by default: config.yml at /etc/distribution, OpenTelemetry export off", () => {
        assert.equal(inputsOf(v3, "docker:index/remoteImage:RemoteImage", "registry-registry-image").name, "registry:3.1.1");
        assert.deepEqual(files(registry(v3)), ["/etc/distribution/config.yml"]);
        assert.equal(envOf(registry(v3)).OTEL_TRACES_EXPORTER, "none");
        assert.match(
            upload(registry(v3), "/etc/distribution/config.yml"),
            /^# Rendered by private-registry .* for Distribution 3\.x \(\/etc\/distribution\/config\.yml\)\./,
        );
    });

    it("with gc: the supervisor is the command, with a read-only copy of config.yml that differs in read-only, its socket and no debug listener", () => {
        const container = registry(v3gc);
        assert.deepEqual(container.command, ["sh", "/etc/distribution/gc-supervisor.sh"]);
        assert.deepEqual(files(container), [
            "/etc/distribution/config-readonly.yml",
            "/etc/distribution/config.yml",
            "/etc/distribution/gc-supervisor.sh",
        ]);
        const normal = parseYaml(upload(container, "/etc/distribution/config.yml"));
        const readOnly = parseYaml(upload(container, "/etc/distribution/config-readonly.yml"));
        assert.equal(normal.storage.maintenance.readonly, undefined);
        assert.deepEqual(readOnly.storage.maintenance.readonly, { enabled: true });
        assert.deepEqual(
            [readOnly.http.net, readOnly.http.addr],
            ["unix", "/run/registry/registry-readonly.sock"],
            "its own socket, beside the normal one in the same volume",
        );
        assert.equal(readOnly.http.debug, undefined, "no debug listener: the normal registry holds that address while both run");
        assert.ok(normal.http.debug.addr, "the normal one keeps its metrics and health listener");
        delete readOnly.storage.maintenance.readonly;
        readOnly.http.addr = normal.http.addr;
        readOnly.http.debug = normal.http.debug;
        assert.deepEqual(readOnly, normal, "nothing else differs");
        assert.equal(normal.http.draintimeout, "60s", "a registry stopping for the switch lets requests in flight finish");
        const script = upload(container, "/etc/distribution/gc-supervisor.sh");
        assert.match(script, /^GC_FLAGS='--delete-untagged'$/m);
        assert.match(script, /^umask 000$/m, "the socket stays connectable for the edge's workers, as without gc");
        assert.deepEqual(
            [normal.http.net, normal.http.addr],
            ["unix", "/run/registry/registry.sock"],
            "both configs listen on a socket only",
        );
        assert.match(script, /^EVERY_SECONDS=30$/m);
        assert.match(script, /^CONFIG='\/etc\/distribution\/config\.yml'$/m);
        assert.match(script, /^READONLY_CONFIG='\/etc\/distribution\/config-readonly\.yml'$/m);
        assert.match(script, /^SOCKET='\/run\/registry\/registry\.sock'$/m);
        assert.match(script, /^READONLY_SOCKET='\/run\/registry\/registry-readonly\.sock'$/m);
        assert.match(script, /^DRAIN_SECONDS=2$/m, "the edge's keepalive_time (1 s) and a second");
    });

    it("with gc only: the edge has the read-only socket as its registry upstream's backup, and never counts either server down", () => {
        const nginx = (result: EvaluationResult) => upload(inputsOf(result, CONTAINER, "registry-edge"), "/etc/nginx/nginx.conf");
        assert.match(
            nginx(v3gc),
            /upstream registry_backend \{\n\s+server unix:\/run\/registry\/registry\.sock max_fails=0;\n\s+server unix:\/run\/registry\/registry-readonly\.sock backup max_fails=0;\n\s+keepalive 32;\n\s+keepalive_time 1s;\n\s+\}/,
        );
        assert.match(
            nginx(v3),
            /upstream registry_backend \{\n\s+server unix:\/run\/registry\/registry\.sock;\n\s+keepalive 32;\n\s+\}/,
            "without gc: one server, as before",
        );
        assert.doesNotMatch(nginx(v3), /max_fails|backup|readonly|keepalive_time/);
        assert.equal(nginx(v3gc).match(/max_fails/g)?.length, 2, "the registry's two servers alone");
    });

    it("2.8 selected: its config path, no OpenTelemetry env, a collection without --delete-untagged", () => {
        const container = registry(v2gc);
        assert.equal(inputsOf(v2gc, "docker:index/remoteImage:RemoteImage", "registry-registry-image").name, "registry:2.8.3");
        assert.deepEqual(files(container), [
            "/etc/docker/registry/config-readonly.yml",
            "/etc/docker/registry/config.yml",
            "/etc/docker/registry/gc-supervisor.sh",
        ]);
        assert.deepEqual(container.command, ["sh", "/etc/docker/registry/gc-supervisor.sh"]);
        assert.equal(envOf(container).OTEL_TRACES_EXPORTER, undefined);
        const script = upload(container, "/etc/docker/registry/gc-supervisor.sh");
        assert.match(script, /^GC_FLAGS=''$/m);
        assert.match(script, /^CRON='30 3 \* \* 0'$/m);
    });

    it("the mirror follows its own image's version: 3.x by default, 2.8 when pinned", async () => {
        const [mirror3, mirror2] = await Promise.all([
            evaluateProgram({ config: { ...devStackConfig(), mirror: {} } }),
            evaluateProgram({
                config: { ...devStackConfig(), mirror: {}, images: { mirror: "registry:2.8.3", registry: "registry:2.8.3" } },
            }),
        ]);
        const container3 = inputsOf(mirror3, CONTAINER, "registry-mirror");
        assert.deepEqual(files(container3), ["/etc/distribution/config.yml"]);
        assert.equal(envOf(container3).OTEL_TRACES_EXPORTER, "none");
        assert.equal(parseYaml(upload(container3, "/etc/distribution/config.yml")).proxy.remoteurl, "https://registry-1.docker.io");
        const container2 = inputsOf(mirror2, CONTAINER, "registry-mirror");
        assert.deepEqual(files(container2), ["/etc/docker/registry/config.yml"]);
        assert.equal(envOf(container2).OTEL_TRACES_EXPORTER, undefined);
        assert.deepEqual(
            registry(mirror2).command,
            ["sh", "-c", "umask 000 && exec registry serve /etc/docker/registry/config.yml"],
            "no gc: registry serve on 2.8's config path",
        );
        assert.deepEqual(
            registry(mirror3).command,
            ["sh", "-c", "umask 000 && exec registry serve /etc/distribution/config.yml"],
            "no gc: registry serve on 3.x's config path",
        );
    });

    it("the config errors reach the preview: deleteUntagged with 2.8, a tag that says no version", async () => {
        const refused = await evaluateProgram({
            config: { ...devStackConfig(), images: { registry: "registry:2.8.3" }, gc: { schedule: "@daily", deleteUntagged: true } },
        });
        assert.match(String(refused.error), /private-registry:gc\.deleteUntagged needs Distribution 3/);
        const unknown = await evaluateProgram({ config: { ...devStackConfig(), images: { registry: "registry:latest" } } });
        assert.match(String(unknown.error), /private-registry:images\.registry must be a tag that starts with the Distribution version/);
    });
});

const registryConfig = (result: EvaluationResult) =>
    parseYaml(upload(inputsOf(result, CONTAINER, "registry-registry"), "/etc/distribution/config.yml"));

describe("registry metrics and health", () => {
    let bridge: EvaluationResult;
    let host: EvaluationResult;
    before(async () => {
        [bridge, host] = await Promise.all([
            evaluateProgram({ config: devStackConfig() }),
            evaluateProgram({ config: { ...devStackConfig(), containerNetwork: "host", uiPort: 15080, metricsPort: 15001 } }),
        ]);
        assert.equal(bridge.error, undefined);
        assert.equal(host.error, undefined);
    });

    it("host networking: Prometheus metrics on a loopback port", () => {
        assert.deepEqual(registryConfig(host).http.debug, { addr: "127.0.0.1:15001", prometheus: { enabled: true, path: "/metrics" } });
    });

    it("bridge networking: metrics on the container's own address, published by no container, routed by no edge", () => {
        assert.deepEqual(registryConfig(bridge).http.debug, { addr: ":5002", prometheus: { enabled: true, path: "/metrics" } });
        for (const result of [bridge, host]) {
            for (const container of result.resources.filter((r) => r.type === CONTAINER)) {
                const published = (container.inputs as { ports?: { internal: number; external: number }[] }).ports ?? [];
                assert.ok(
                    !published.some((p) => [5002, 15001].includes(p.internal) || [5002, 15001].includes(p.external)),
                    `${container.name} publishes no metrics port`,
                );
            }
            const nginx = upload(inputsOf(result, CONTAINER, "registry-edge"), "/etc/nginx/nginx.conf");
            assert.doesNotMatch(nginx, /5002|metrics|debug/, "the edge has no route to the metrics listener");
        }
    });

    it("every container has a health check, so `docker ps` shows (healthy) or (unhealthy)", () => {
        for (const result of [bridge, host]) {
            for (const name of ["registry-registry", "registry-ui", "registry-edge"]) {
                const check = inputsOf(result, CONTAINER, name).healthcheck;
                assert.equal(check.tests[0], "CMD", name);
                assert.ok(check.retries >= 1, name);
            }
            assert.match(
                inputsOf(result, CONTAINER, "registry-registry").healthcheck.tests.join(" "),
                /wget .*http:\/\/127\.0\.0\.1:(5002|15001)\/debug\/health$/,
            );
        }
    });

    it("refuses a metrics port that collides with another in host networking", async () => {
        const result = await evaluateProgram({ config: { ...devStackConfig(), containerNetwork: "host", metricsPort: 5080 } });
        assert.match(String(result.error), /metricsPort \(5080\) collides with another port/);
    });
});
