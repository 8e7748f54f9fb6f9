/**
 * The registry service under mocks (services/registry.ts): its files for Distribution 3.x and 2.8,
 * with and without `gc` (config.yml, the read-only copy, the schedule: a set its supervisor takes
 * without a restart; the supervisor script itself: registrySupervisor.test.ts), its env and
 * command; where its metrics listener goes (loopback in host networking, the container's
 * unpublished address in bridge networking), that nothing publishes or routes it, and that every
 * container carries the health check `docker ps` shows.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { CONTAINER, envOf, inputsOf, isolateHome, plainFile, plainUploads, upload } from "../harness/inspect";

isolateHome("pr-registry-");

const FILES = "/etc/private-registry/files";
const registry = (result: EvaluationResult) => inputsOf(result, CONTAINER, "registry-registry");
/** The plain files of the registry's set, as its holders carry them (one holder each). */
const files = (result: EvaluationResult) => plainUploads(result, "registry-registry").map((u) => u.file);
const held = (result: EvaluationResult, file: string, service = "registry") => plainFile(result, `registry-${service}`, `${FILES}/${file}`);

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

    it("3.x by default: config.yml for 3.x, OpenTelemetry export off, the supervisor as the command, no collection scheduled", () => {
        assert.equal(inputsOf(v3, "docker:index/remoteImage:RemoteImage", "registry-registry-image").name, "registry:3.1.1");
        assert.deepEqual(files(v3), [`${FILES}/config.yml`, `${FILES}/schedule`, `${FILES}/manifest`]);
        assert.equal(envOf(registry(v3)).OTEL_TRACES_EXPORTER, "none");
        assert.match(held(v3, "config.yml"), /^# Rendered by private-registry .* for Distribution 3\.x\./);
        assert.deepEqual(registry(v3).command, ["sh", "/usr/local/bin/private-registry-supervisor"]);
        assert.match(held(v3, "schedule"), /^GC_CRON=$\n^GC_EVERY_SECONDS=$/m);
        const script = upload(registry(v3), "/usr/local/bin/private-registry-supervisor");
        assert.match(script, /^umask 000$/m, "the socket stays connectable for the edge's workers");
        assert.match(script, /^SOCKET_DIR='\/run\/registry'$/m);
        assert.match(script, /^NAME='registry'$/m);
        assert.match(script, /^DRAIN_SECONDS=3$/m, "twice the edge's keepalive_time and keepalive_timeout (1 s), and a second");
    });

    it("with gc: the read-only copy of config.yml beside it in the set, differing in read-only alone, and the schedule", async () => {
        assert.deepEqual(files(v3gc), [`${FILES}/config.yml`, `${FILES}/config-readonly.yml`, `${FILES}/schedule`, `${FILES}/manifest`]);
        const normal = parseYaml(held(v3gc, "config.yml"));
        const readOnly = parseYaml(held(v3gc, "config-readonly.yml"));
        assert.equal(normal.storage.maintenance.readonly, undefined);
        assert.deepEqual(readOnly.storage.maintenance.readonly, { enabled: true });
        delete readOnly.storage.maintenance.readonly;
        assert.deepEqual(readOnly, normal, "nothing else differs (the supervisor gives each process its socket and debug listener)");
        assert.equal(normal.http.draintimeout, "900s", "a process stopping for a handover lets requests in flight finish");
        assert.deepEqual([normal.http.net, normal.http.addr], ["unix", "/run/registry/registry.sock"], "a socket only");
        assert.match(held(v3gc, "schedule"), /^GC_EVERY_SECONDS=30$/m);
        assert.match(held(v3gc, "schedule"), /^GC_FLAGS='--delete-untagged'$/m);
        const turnedOn = await evaluateProgram({
            config: { ...devStackConfig(), gc: { schedule: "@every 30s", deleteUntagged: true } },
            previousState: v3.state,
        });
        assert.deepEqual(registry(turnedOn), registry(v3), "gc or not, the same container: turning it on is a new set, not a restart");
    });

    it("the edge's upstream for the registry: its socket, kept-alive connections retired within a second for the handovers", () => {
        for (const result of [v3, v3gc]) {
            assert.match(
                plainFile(result, "registry-edge", "/etc/nginx/files/nginx.conf"),
                /upstream registry_backend \{\n\s+server unix:\/run\/registry\/registry\.sock;\n\s+keepalive 32;\n\s+keepalive_time 1s;\n\s+keepalive_timeout 1s;\n\s+\}/,
            );
        }
    });

    it("2.8 selected: config.yml for 2.8, no OpenTelemetry env, a collection without --delete-untagged", () => {
        assert.equal(inputsOf(v2gc, "docker:index/remoteImage:RemoteImage", "registry-registry-image").name, "registry:2.8.3");
        assert.match(held(v2gc, "config.yml"), /^# Rendered by private-registry .* for Distribution 2\.x\./);
        assert.equal(envOf(registry(v2gc)).OTEL_TRACES_EXPORTER, undefined);
        assert.match(held(v2gc, "schedule"), /^GC_FLAGS=$/m);
        assert.match(held(v2gc, "schedule"), /^GC_CRON='30 3 \* \* 0'$/m);
    });

    it("the mirror follows its own image's version: 3.x by default, 2.8 when pinned", async () => {
        const [mirror3, mirror2] = await Promise.all([
            evaluateProgram({ config: { ...devStackConfig(), mirror: {} } }),
            evaluateProgram({
                config: { ...devStackConfig(), mirror: {}, images: { mirror: "registry:2.8.3", registry: "registry:2.8.3" } },
            }),
        ]);
        assert.match(held(mirror3, "config.yml", "mirror"), /for Distribution 3\.x\./);
        assert.equal(envOf(inputsOf(mirror3, CONTAINER, "registry-mirror")).OTEL_TRACES_EXPORTER, "none");
        assert.equal(parseYaml(held(mirror3, "config.yml", "mirror")).proxy.remoteurl, "https://registry-1.docker.io");
        assert.match(held(mirror2, "config.yml", "mirror"), /for Distribution 2\.x\./);
        assert.equal(envOf(inputsOf(mirror2, CONTAINER, "registry-mirror")).OTEL_TRACES_EXPORTER, undefined);
        assert.match(
            upload(inputsOf(mirror3, CONTAINER, "registry-mirror"), "/usr/local/bin/private-registry-supervisor"),
            /^NAME='mirror'$/m,
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

const registryConfig = (result: EvaluationResult) => parseYaml(held(result, "config.yml"));

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
            const nginx = plainFile(result, "registry-edge", "/etc/nginx/files/nginx.conf");
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
