/**
 * Scheduled garbage collection and the Distribution version, under mocks and as rendered text:
 * which config path, env and command the registry container gets for 3.x and 2.8, with and
 * without `gc`; the supervisor script's syntax, and its cron matcher run by busybox's sh and awk
 * (what the official Alpine image and the stand-ins run it with).
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parse as parseYaml } from "yaml";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { CONTAINER, envOf, Inputs, inputsOf, isolateHome, upload } from "../harness/inspect";
import { renderGcSupervisor } from "../../components/render/gcSupervisor";
import { run } from "../../scripts/lib/processes";

isolateHome("pr-gc-");

const BUSYBOX = "/bin/busybox";
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

describe("the supervisor script", () => {
    const dir = mkdtempSync(join(tmpdir(), "pr-gc-script-"));
    const scriptFor = (fields: string) => {
        const path = join(dir, `cron-${fields.replace(/\W/g, "_")}.sh`);
        writeFileSync(
            path,
            renderGcSupervisor({
                configPath: "/etc/distribution/config.yml",
                socketPath: "/run/registry/registry.sock",
                readOnlyConfigPath: "/etc/distribution/config-readonly.yml",
                readOnlySocketPath: "/run/registry/registry-readonly.sock",
                drainSeconds: 2,
                dataDir: "/var/lib/registry",
                timing: { kind: "cron", fields: fields.split(" ") },
                deleteUntagged: false,
            }),
        );
        return path;
    };
    /** Whether busybox's sh says the minute "MIN HOUR DAY MONTH WEEKDAY" is due. */
    const due = async (fields: string, minute: string) => {
        const result = await run(BUSYBOX, ["sh", scriptFor(fields), "--due", minute], { allowFailure: true, timeoutMs: 10_000 });
        assert.ok(result.code === 0 || result.code === 1, `exit ${result.code}: ${result.stderr}`);
        return result.code === 0;
    };

    it("passes sh -n (busybox and dash)", async () => {
        const path = scriptFor("*/5 * * * *");
        await run(BUSYBOX, ["sh", "-n", path]);
        await run("sh", ["-n", path]);
    });

    it("matches cron times as cron does (UTC fields given)", async () => {
        const cases: [string, string, boolean][] = [
            ["30 3 * * 0", "30 03 29 11 0", true],
            ["30 3 * * 0", "30 03 30 11 1", false],
            ["30 3 * * 0", "31 03 29 11 0", false],
            ["30 3 * * 7", "30 03 29 11 0", true],
            ["*/15 * * * *", "45 17 01 01 3", true],
            ["*/15 * * * *", "44 17 01 01 3", false],
            ["0 2-4 * * *", "00 04 10 06 2", true],
            ["0 2-4 * * *", "00 05 10 06 2", false],
            ["0 0 1,15 * *", "00 00 15 02 4", true],
            ["0 0 1,15 * *", "00 00 14 02 4", false],
            // Both day fields restricted: either matches (the 1st, or any Monday).
            ["0 0 1 * 1", "00 00 09 03 1", true],
            ["0 0 1 * 1", "00 00 01 03 5", true],
            ["0 0 1 * 1", "00 00 02 03 5", false],
            ["5/20 * * * *", "45 08 08 08 0", true],
            ["5/20 * * * *", "15 08 08 08 0", false],
            ["0 0 * 2-3/1 *", "00 00 08 04 0", false],
            ["* * * * *", "07 09 08 09 6", true],
        ];
        for (const [fields, minute, expected] of cases) assert.equal(await due(fields, minute), expected, `${fields} at ${minute}`);
    });
});
