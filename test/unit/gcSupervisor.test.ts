/**
 * The gc supervisor script (render/gcSupervisor.ts) as rendered text: its syntax, and its cron
 * matcher run by busybox's sh and awk (what the official Alpine image and the stand-ins run it with).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { GcSupervisorInput, renderGcSupervisor } from "../../components/render/gcSupervisor";
import { run } from "../../scripts/lib/processes";

const BUSYBOX = "/bin/busybox";

describe("the supervisor script", () => {
    const dir = mkdtempSync(join(tmpdir(), "pr-gc-script-"));
    /** The stack's paths for a 3.x registry; each test sets its timing. */
    const input = (timing: GcSupervisorInput["timing"]): GcSupervisorInput => ({
        configPath: "/etc/distribution/config.yml",
        socketPath: "/run/registry/registry.sock",
        readOnlyConfigPath: "/etc/distribution/config-readonly.yml",
        readOnlySocketPath: "/run/registry/registry-readonly.sock",
        drainSeconds: 2,
        dataDir: "/var/lib/registry",
        timing,
        deleteUntagged: false,
    });
    const scriptFor = (fields: string) => {
        const path = join(dir, `cron-${fields.replace(/\W/g, "_")}.sh`);
        writeFileSync(path, renderGcSupervisor(input({ kind: "cron", fields: fields.split(" ") })));
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

    it("with retention, asks the retention job before each collection and waits for it within limits (passes sh -n)", async () => {
        const path = join(dir, "with-retention.sh");
        const script = renderGcSupervisor({
            ...input({ kind: "every", seconds: 3600 }),
            retention: { handshakeDir: "/run/retention", startSeconds: 60, runSeconds: 3600 },
        });
        writeFileSync(path, script);
        await run(BUSYBOX, ["sh", "-n", path]);
        await run("sh", ["-n", path]);
        assert.match(script, /^RETENTION_DIR='\/run\/retention'\nRETENTION_START_SECONDS=60\nRETENTION_RUN_SECONDS=3600$/m);
        // Asked first, while the registry still takes deletes: before the read-only registry starts.
        const collect = script.slice(script.indexOf("collect() {"));
        assert.ok(collect.indexOf("    retain\n") < collect.indexOf('start_registry "$READONLY_CONFIG"'));
        // Without retention the step does nothing.
        assert.match(readFileSync(scriptFor("0 3 * * *"), "utf8"), /^RETENTION_DIR=''$/m);
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
