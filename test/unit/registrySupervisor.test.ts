/**
 * The commands that take sets of files, as rendered text: the registry's supervisor
 * (render/registrySupervisor.ts: its syntax, its cron matcher run by busybox's sh and awk, what
 * the official Alpine image and the stand-ins run it with, and the schedule file it reads) and the
 * edge's applier (render/edgeApplier.ts: its syntax). Their behavior is proved by running them:
 * test/integration/registryHandover.test.ts and edgeApplier.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { renderEdgeApplier } from "../../components/render/edgeApplier";
import { renderCollectionSchedule, renderRegistrySupervisor, renderSecretEnvironment } from "../../components/render/registrySupervisor";
import { run } from "../../scripts/lib/processes";

const BUSYBOX = "/bin/busybox";

describe("the registry's supervisor and the edge's applier", () => {
    const dir = mkdtempSync(join(tmpdir(), "pr-supervisor-script-"));
    const supervisor = join(dir, "supervisor.sh");
    writeFileSync(
        supervisor,
        renderRegistrySupervisor({
            service: "registry",
            filesDir: "/etc/private-registry/files",
            setsDir: "/run/private-registry",
            socketDir: "/run/registry",
            socketName: "registry",
            drainSeconds: 3,
            dataDir: "/var/lib/registry",
        }),
    );
    /** Whether busybox's sh says the minute "MIN HOUR DAY MONTH WEEKDAY" is due. */
    const due = async (fields: string, minute: string) => {
        const result = await run(BUSYBOX, ["sh", supervisor, "--due", minute, fields], { allowFailure: true, timeoutMs: 10_000 });
        assert.ok(result.code === 0 || result.code === 1, `exit ${result.code}: ${result.stderr}`);
        return result.code === 0;
    };

    it("both pass sh -n (busybox and dash), the mirror's supervisor (with secrets) too", async () => {
        const mirror = join(dir, "mirror.sh");
        writeFileSync(
            mirror,
            renderRegistrySupervisor({
                service: "mirror",
                filesDir: "/etc/private-registry/files",
                secretsDir: "/etc/private-registry/secrets",
                setsDir: "/run/private-registry",
                socketDir: "/run/mirror",
                socketName: "mirror",
                drainSeconds: 3,
                dataDir: "/var/lib/registry",
            }),
        );
        const applier = join(dir, "edge.sh");
        writeFileSync(applier, renderEdgeApplier({ filesDir: "/etc/nginx/files", secretsDir: "/etc/nginx/secrets", setsDir: "/run/edge" }));
        for (const path of [supervisor, mirror, applier]) {
            await run(BUSYBOX, ["sh", "-n", path]);
            await run("sh", ["-n", path]);
        }
    });

    it("with retention, asks the retention job before each collection and waits for it within limits (passes sh -n)", async () => {
        const path = join(dir, "with-retention.sh");
        const script = renderRegistrySupervisor({
            service: "registry",
            filesDir: "/etc/private-registry/files",
            setsDir: "/run/private-registry",
            socketDir: "/run/registry",
            socketName: "registry",
            drainSeconds: 3,
            dataDir: "/var/lib/registry",
            retention: { handshakeDir: "/run/retention", startSeconds: 60, runSeconds: 3600 },
        });
        writeFileSync(path, script);
        await run(BUSYBOX, ["sh", "-n", path]);
        await run("sh", ["-n", path]);
        assert.match(script, /^RETENTION_DIR='\/run\/retention'\nRETENTION_START_SECONDS=60\nRETENTION_RUN_SECONDS=3600$/m);
        // Asked first, while the registry still takes deletes: before the handover to the read-only registry.
        const collect = script.slice(script.indexOf("collect() {"));
        assert.ok(collect.indexOf("    retain\n") < collect.indexOf("handover "));
        // Without retention the step does nothing.
        assert.match(readFileSync(supervisor, "utf8"), /^RETENTION_DIR=''$/m);
    });

    it("the secret environment: one quoted word per variable, as sh reads it back", async () => {
        const text = renderSecretEnvironment([
            "REGISTRY_PROXY_PASSWORD=it's $secret",
            'REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS={"A":["b c"]}',
        ]);
        const read = await run(BUSYBOX, ["sh", "-c", `set -a; ${text}\nenv | grep ^REGISTRY_ | sort`]);
        assert.equal(read.stdout, 'REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS={"A":["b c"]}\nREGISTRY_PROXY_PASSWORD=it\'s $secret\n');
        assert.throws(() => renderSecretEnvironment(["lower=x"]), /not an environment variable/);
    });

    it("the schedule file: shell assignments the supervisor sources, a bad timing refused", async () => {
        assert.match(renderCollectionSchedule({ kind: "cron", fields: ["30", "3", "*", "*", "0"] }, true), /^GC_CRON='30 3 \* \* 0'$/m);
        assert.match(renderCollectionSchedule({ kind: "every", seconds: 15 }), /^GC_EVERY_SECONDS=15$\n^GC_FLAGS=$/m);
        assert.match(renderCollectionSchedule(undefined), /^GC_CRON=$\n^GC_EVERY_SECONDS=$/m);
        const sourced = await run(BUSYBOX, [
            "sh",
            "-c",
            `${renderCollectionSchedule({ kind: "cron", fields: ["*/5", "*", "*", "*", "*"] }, true)}\necho "$GC_CRON|$GC_FLAGS"`,
        ]);
        assert.equal(sourced.stdout.trim(), "*/5 * * * *|--delete-untagged");
        assert.throws(() => renderCollectionSchedule({ kind: "cron", fields: ["*", "*"] }), /5 fields/);
        assert.throws(() => renderCollectionSchedule({ kind: "every", seconds: 0.5 }), /whole number/);
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
