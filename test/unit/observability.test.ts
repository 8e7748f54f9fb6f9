/**
 * Under mocks: where the registry's metrics listener goes (loopback in host networking, the
 * container's unpublished address in bridge networking), that nothing publishes or routes it,
 * and that every container carries the health check `docker ps` shows.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { CONTAINER, inputsOf, isolateHome, upload } from "../harness/inspect";

isolateHome("pr-observability-");

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
