/** The host scripts (render/hostScripts.ts, and the VM's cloud-init that carries one): apt waits for the dpkg lock. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { renderCloudInit } from "../../components/render/cloudInit";
import { APT_LOCK_WAIT, renderInstallDockerScript } from "../../components/render/hostScripts";

describe("apt waits for the dpkg lock", () => {
    it("in the ssh install script and in the VM's cloud-init, on every apt-get", () => {
        assert.equal(APT_LOCK_WAIT, "-o DPkg::Lock::Timeout=600");
        const userData = parseYaml(
            renderCloudInit({ dataDiskSerial: "bp1", dataMountPath: "/srv/registry-data" }).replace(/^#cloud-config\n/, ""),
        );
        const installer = (userData.write_files as { path: string; content: string }[]).find((f) => f.path.endsWith("install-docker"));
        for (const script of [
            renderInstallDockerScript({ sudo: false }),
            renderInstallDockerScript({ sudo: true }),
            installer?.content ?? "",
        ]) {
            const aptLines = script
                .split("\n")
                .filter((line) => /\bapt-get\b/.test(line) && !line.includes("command -v") && !line.includes("echo "));
            assert.equal(aptLines.length, 2, script);
            for (const line of aptLines) assert.ok(line.includes(`apt-get ${APT_LOCK_WAIT} `), line);
        }
    });
});
