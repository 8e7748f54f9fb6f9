/**
 * hostRegistryMirrors: the ssh and alicloud install script merges `registry-mirrors` into the
 * host's /etc/docker/daemon.json and reloads dockerd, before anything is pulled. Run as rendered
 * (root, no sudo) in a private mount namespace whose /etc/docker is a scratch directory, with
 * `systemctl` and `docker` replaced by stubs that log their arguments: nothing on this machine
 * changes.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { renderInstallDockerScript } from "../../components/render/hostScripts";
import { makeTempDir, run, runCleanups } from "../../scripts/lib/processes";

const EXISTING = '{\n  "log-opts": {"max-size": "10m"},\n  "data-root": "/srv/docker"\n}\n';
const MIRRORS = ["https://abc123.mirror.aliyuncs.com", "https://hub.example.com"];

function sandbox(daemonJson: string | undefined): {
    etcDocker: string;
    calls: string;
    runScript: (script: string) => Promise<{ code: number; stderr: string }>;
} {
    const dir = makeTempDir("pr-host-mirrors-");
    const etcDocker = join(dir, "etc-docker");
    const bin = join(dir, "bin");
    mkdirSync(etcDocker);
    mkdirSync(bin);
    if (daemonJson !== undefined) writeFileSync(join(etcDocker, "daemon.json"), daemonJson);
    const calls = join(dir, "calls");
    for (const stub of ["systemctl", "docker"]) {
        writeFileSync(join(bin, stub), `#!/bin/sh\necho "${stub} $*" >>"${calls}"\n`);
        chmodSync(join(bin, stub), 0o755);
    }
    const runScript = async (script: string) => {
        writeFileSync(join(dir, "install.sh"), script);
        const result = await run(
            "unshare",
            [
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                'mount --bind "$1" /etc/docker && exec sh "$2"',
                "sh",
                etcDocker,
                join(dir, "install.sh"),
            ],
            {
                env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
                allowFailure: true,
            },
        );
        return { code: result.code, stderr: result.stderr };
    };
    return { etcDocker, calls, runScript };
}

describe("hostRegistryMirrors: the install script's daemon.json merge", () => {
    after(runCleanups);

    it("appends the mirrors to a daemon.json with other settings, reloads dockerd once, and a second run changes nothing", async () => {
        const box = sandbox(EXISTING);
        const script = renderInstallDockerScript({ sudo: false, registryMirrors: MIRRORS });
        const first = await box.runScript(script);
        assert.equal(first.code, 0, first.stderr);
        const merged = JSON.parse(readFileSync(join(box.etcDocker, "daemon.json"), "utf8"));
        assert.deepEqual(merged, { ...JSON.parse(EXISTING), "registry-mirrors": MIRRORS });
        assert.equal(readFileSync(box.calls, "utf8").match(/^systemctl reload docker\.service$/gm)?.length, 1);
        const second = await box.runScript(script);
        assert.equal(second.code, 0, second.stderr);
        assert.equal(
            readFileSync(box.calls, "utf8").match(/^systemctl reload docker\.service$/gm)?.length,
            1,
            "reloaded although nothing changed",
        );
    });

    it("writes a daemon.json when there is none; without mirrors it never touches the file", async () => {
        const box = sandbox(undefined);
        assert.equal((await box.runScript(renderInstallDockerScript({ sudo: false }))).code, 0);
        assert.ok(!existsSync(join(box.etcDocker, "daemon.json")));
        assert.equal((await box.runScript(renderInstallDockerScript({ sudo: false, registryMirrors: MIRRORS.slice(0, 1) }))).code, 0);
        assert.deepEqual(JSON.parse(readFileSync(join(box.etcDocker, "daemon.json"), "utf8")), { "registry-mirrors": MIRRORS.slice(0, 1) });
    });

    it("stops the deploy on a daemon.json it cannot merge, changing nothing and printing what to add", async () => {
        const box = sandbox('{"registry-mirrors": "https://x.example"}\n');
        const result = await box.runScript(renderInstallDockerScript({ sudo: false, registryMirrors: MIRRORS }));
        assert.equal(result.code, 1);
        assert.match(result.stderr, /its registry-mirrors is not a list of strings; nothing was changed/);
        assert.match(result.stderr, /"registry-mirrors": \["https:\/\/abc123\.mirror\.aliyuncs\.com", "https:\/\/hub\.example\.com"\]/);
        assert.equal(readFileSync(join(box.etcDocker, "daemon.json"), "utf8"), '{"registry-mirrors": "https://x.example"}\n');
        assert.doesNotMatch(readFileSync(box.calls, "utf8"), /reload/);
    });
});
