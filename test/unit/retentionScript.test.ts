/**
 * The retention script (render/retentionScript.ts) as rendered text: its syntax under busybox's
 * sh (what regclient's alpine image runs it with) and dash, and each repository glob as the
 * expression busybox's `grep -E` matches names with. The script's runs against a registry are
 * proved end to end: test/e2e/lifecycle.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { isRepositoryGlob } from "../../components/config/syntax";
import { renderRetentionScript, repositoryGlobPattern } from "../../components/render/retentionScript";
import { run } from "../../scripts/lib/processes";

const BUSYBOX = "/bin/busybox";

describe("the retention script", () => {
    const dir = mkdtempSync(join(tmpdir(), "pr-retention-script-"));

    it("passes sh -n (busybox and dash), every policy quoted as one word", async () => {
        const path = join(dir, "retention.sh");
        const script = renderRetentionScript({
            registry: "registry.lan:8443",
            caFile: "/etc/retention/ca.crt",
            userEnv: "RETENTION_USER",
            passwordEnv: "RETENTION_PASSWORD",
            handshakeDir: "/run/retention",
            policies: [
                { repositories: "team/*", keepLast: 3, keepTags: "v[0-9]+(\\.[0-9]+)*|it's" },
                { repositories: "**", keepWithinDays: 30 },
            ],
        });
        writeFileSync(path, script);
        await run(BUSYBOX, ["sh", "-n", path]);
        await run("sh", ["-n", path]);
        assert.match(script, /KEEP_TAGS='v\[0-9\]\+\(\\\.\[0-9\]\+\)\*\|it'\\''s'; return 0; fi/);
        assert.throws(() => renderRetentionScript({ registry: "r", userEnv: "U", passwordEnv: "P", handshakeDir: "/d", policies: [] }));
    });

    it("matches repository names as its glob says: * and ? within a segment, ** across any number of them", async () => {
        const cases: [string, string, boolean][] = [
            ["team/*", "team/app", true],
            ["team/*", "team/app/arm", false],
            ["team/*", "team", false],
            ["team/*", "other/app", false],
            ["team/**", "team/app", true],
            ["team/**", "team/app/arm", true],
            ["team/**", "team", true],
            ["team/**", "teams/app", false],
            ["**/app", "app", true],
            ["**/app", "a/b/app", true],
            ["**/app", "a/b/apps", false],
            ["a/**/z", "a/z", true],
            ["a/**/z", "a/b/c/z", true],
            ["a/**/z", "az", false],
            ["**", "anything/at/all", true],
            ["app-?", "app-1", true],
            ["app-?", "app-10", false],
            ["app.v1", "app.v1", true],
            ["app.v1", "appxv1", false],
            ["*-ci", "web-ci", true],
            ["*-ci", "team/web-ci", false],
        ];
        for (const [glob, name, expected] of cases) {
            assert.ok(isRepositoryGlob(glob), glob);
            const grep = await run(BUSYBOX, ["grep", "-Eq", "--", repositoryGlobPattern(glob)], {
                input: `${name}\n`,
                allowFailure: true,
            });
            assert.equal(grep.code, expected ? 0 : 1, `${glob} against ${name} (${repositoryGlobPattern(glob)})`);
        }
    });
});
