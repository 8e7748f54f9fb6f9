/**
 * scripts/select-engine.sh, which picks the engine the engine tests run: a Pulumi CLI on PATH at a
 * version in package.json's engines.pulumi range, else the from-source build; PRIVATE_REGISTRY_ENGINE
 * forces either. Each case puts a stand-in `pulumi` (a script printing a version, as `pulumi version`
 * does) alone on a PATH of the few tools the script uses. And `npm test` (scripts/test.sh) stops
 * before any phase when the engine asked for is not there. test/engine/installedCli.test.ts runs
 * the engine tests against a real CLI found this way.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { makeTempDir, run, runCleanups } from "../../scripts/lib/processes";

const ROOT = resolve(__dirname, "../..");
const RANGE: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).engines.pulumi;

describe("the engine the engine tests use: an installed Pulumi CLI in engines.pulumi, else the build", () => {
    let work: string;
    let tools: string;

    before(async () => {
        work = makeTempDir("pr-select-");
        tools = join(work, "tools");
        mkdirSync(tools);
        for (const tool of ["node", "sort", "head", "sed", "timeout", "dirname"]) {
            symlinkSync((await run("sh", ["-c", `command -v ${tool}`])).stdout.trim(), join(tools, tool));
        }
    });

    after(async () => {
        await runCleanups();
    });

    /** A directory holding a `pulumi` whose `pulumi version` prints `output` and exits with `code`. */
    function fakeCli(name: string, output: string, code = 0): string {
        const dir = join(work, name);
        mkdirSync(dir);
        writeFileSync(join(dir, "pulumi"), `#!/bin/sh\n[ "$1" = version ] || exit 3\necho '${output}'\nexit ${code}\n`);
        chmodSync(join(dir, "pulumi"), 0o755);
        return dir;
    }

    const select = (cliDir: string | undefined, choice?: string) =>
        run("/bin/bash", [join(ROOT, "scripts/select-engine.sh")], {
            allowFailure: true,
            env: {
                PATH: cliDir ? `${cliDir}:${tools}` : tools,
                ...(choice === undefined ? {} : { PRIVATE_REGISTRY_ENGINE: choice }),
            },
        });

    it("package.json states the supported range once, as >=MIN <MAX", () => {
        assert.match(RANGE, /^>=\d+\.\d+\.\d+ <\d+\.\d+\.\d+$/);
    });

    const [min, max] = RANGE.replace(/[<>=]/g, "").split(" ");
    const below = min.replace(/^(\d+)\.(\d+)\.\d+$/, (_, a, b) => `${a}.${Number(b) - 1}.9`);
    const newer = min.replace(/^(\d+)\.(\d+)\.\d+$/, (_, a, b) => `${a}.${Number(b) + 15}.2`);

    for (const version of [min, newer]) {
        it(`a CLI printing v${version} is used (installed, its directory)`, async () => {
            const dir = fakeCli(`ok-${version}`, `v${version}`);
            const chosen = await select(dir);
            assert.equal(chosen.code, 0, chosen.stderr);
            assert.equal(chosen.stdout, `installed ${dir}\n`);
            assert.match(chosen.stderr, new RegExp(`using the Pulumi CLI ${dir}/pulumi \\(v${version.replace(/\./g, "\\.")}`));
            // PRIVATE_REGISTRY_ENGINE=installed accepts it too; =build ignores it.
            assert.equal((await select(dir, "installed")).stdout, `installed ${dir}\n`);
            assert.equal((await select(dir, "build")).stdout, "build\n");
        });
    }

    for (const version of [below, max]) {
        it(`a CLI printing v${version} is not: the engine is built, and PRIVATE_REGISTRY_ENGINE=installed stops with why`, async () => {
            const dir = fakeCli(`old-${version}`, `v${version}`);
            const chosen = await select(dir);
            assert.equal(chosen.code, 0, chosen.stderr);
            assert.equal(chosen.stdout, "build\n");
            assert.match(chosen.stderr, new RegExp(`is v${version.replace(/\./g, "\\.")}, outside the supported range ${RANGE}`));
            const refused = await select(dir, "installed");
            assert.equal(refused.code, 1);
            assert.equal(refused.stdout, "");
            assert.match(refused.stderr, /PRIVATE_REGISTRY_ENGINE=installed, but .* install a Pulumi CLI in/);
        });
    }

    it("no pulumi on PATH, or one that prints no version: the engine is built", async () => {
        const none = await select(undefined);
        assert.equal(none.stdout, "build\n");
        assert.match(none.stderr, /no pulumi on PATH/);
        const broken = await select(fakeCli("broken", "segmentation fault", 139));
        assert.equal(broken.stdout, "build\n");
        assert.match(broken.stderr, /printed '\(failed: segmentation fault\)', not a version/);
    });

    it("an unknown PRIVATE_REGISTRY_ENGINE is an error", async () => {
        const chosen = await select(undefined, "cloud");
        assert.equal(chosen.code, 2);
        assert.match(chosen.stderr, /PRIVATE_REGISTRY_ENGINE must be auto, installed or build; got 'cloud'/);
    });

    it("npm test stops before any phase when PRIVATE_REGISTRY_ENGINE=installed finds no supported CLI", async () => {
        const dir = fakeCli("old-for-test-sh", `v${below}`);
        const result = await run("bash", [join(ROOT, "scripts/test.sh"), "unit", "engine"], {
            allowFailure: true,
            env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, PRIVATE_REGISTRY_ENGINE: "installed" },
        });
        assert.equal(result.code, 2, result.stdout + result.stderr);
        assert.match(result.stderr, /outside the supported range/);
        assert.match(result.stderr, /test\.sh: no phase was run/);
        assert.doesNotMatch(result.stdout, /=== unit/);
    });
});
