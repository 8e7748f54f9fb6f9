/**
 * The alicloud VM's user data and the hosts' shell scripts, checked by the real tools: Debian's
 * `cloud-init schema`, `bash -n` and `sh -n` (dash, the login shell remote commands may get), and
 * the scripts' refusal paths run for real against stub commands.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "fs";
import { join } from "path";
import { parse as parseYaml } from "yaml";
import { renderCloudInit } from "../../components/render/cloudInit";
import {
    INSTALL_DOCKER_PATH,
    PREPARE_DATA_DISK_PATH,
    PREPARE_DATA_DISK_SCRIPT,
    renderInstallDockerScript,
    renderReleaseDataDiskScript,
    renderWaitUntilReadyScript,
} from "../../components/render/hostScripts";
import { makeTempDir, run, runCleanups } from "../../scripts/lib/processes";

const MOUNT = "/srv/registry-data";
const SERIAL = "bp1abcdefghijklmnopq";

interface WriteFile {
    path: string;
    permissions: string;
    content: string;
}

/** Every script the hosts run, by name. */
function scripts(): Record<string, string> {
    return {
        "prepare-data-disk": PREPARE_DATA_DISK_SCRIPT,
        "install-docker (root)": renderInstallDockerScript({ sudo: false }),
        "install-docker (sudo)": renderInstallDockerScript({ sudo: true }),
        "wait-until-ready": renderWaitUntilReadyScript({ dataMountPath: MOUNT }),
        "wait-until-ready (no data disk)": renderWaitUntilReadyScript({}),
        "release-data-disk": renderReleaseDataDiskScript({ dataMountPath: MOUNT }),
    };
}

/** A directory of stub commands; each prints its name and arguments to a log, then exits with `code`. */
function stubCommands(dir: string, codes: Record<string, number>, output: Record<string, string> = {}): string {
    const bin = join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    for (const [name, code] of Object.entries(codes)) {
        const path = join(bin, name);
        writeFileSync(
            path,
            `#!/bin/sh\necho "${name} $*" >> "${join(dir, "calls.log")}"\n${output[name] ? `printf '%s\\n' '${output[name]}'\n` : ""}exit ${code}\n`,
        );
        chmodSync(path, 0o755);
    }
    return bin;
}

describe("cloud-init user data", () => {
    let dir: string;
    let userData: string;
    let hostPublicKey: string;

    before(async () => {
        dir = makeTempDir("pr-cloud-init-");
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "host", "-f", join(dir, "host_key")]);
        hostPublicKey = readFileSync(join(dir, "host_key.pub"), "utf8");
        userData = renderCloudInit({
            dataDiskSerial: SERIAL,
            dataMountPath: MOUNT,
            hostKey: { privateKeyOpenssh: readFileSync(join(dir, "host_key"), "utf8"), publicKeyOpenssh: hostPublicKey },
        });
        writeFileSync(join(dir, "user-data.yaml"), userData);
    });
    after(runCleanups);

    it(
        "passes Debian's `cloud-init schema`, which does reject a broken config",
        { skip: !existsSync("/usr/bin/cloud-init") && "cloud-init is not installed" },
        async () => {
            const valid = await run("cloud-init", ["schema", "--config-file", join(dir, "user-data.yaml")], { allowFailure: true });
            assert.equal(valid.code, 0, valid.stderr + valid.stdout);
            assert.match(valid.stdout, /Valid cloud-config/);

            writeFileSync(join(dir, "broken.yaml"), "#cloud-config\nruncmd: 5\nwrite_files:\n  - content: no path\n");
            const broken = await run("cloud-init", ["schema", "--config-file", join(dir, "broken.yaml")], { allowFailure: true });
            assert.notEqual(broken.code, 0, "the schema check must be able to fail");
            assert.match(broken.stdout + broken.stderr, /runcmd: 5 is not of type 'array'/);
        },
    );

    it("pins the generated host key, mounts the disk by its serial, then installs Docker", () => {
        assert.ok(userData.startsWith("#cloud-config\n"), "cloud-init only reads user data with this first line");
        const config = parseYaml(userData) as Record<string, any>;
        assert.equal(config.ssh_keys.ed25519_public, hostPublicKey.trim());
        assert.match(config.ssh_keys.ed25519_private, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
        assert.equal(config.ssh_deletekeys, true, "the image's own host keys must go, or ssh may offer one we did not pin");
        assert.equal(config.ssh_pwauth, false);
        assert.equal(config.disable_root, false, "the deployer logs in as root");

        const files = config.write_files as WriteFile[];
        assert.deepEqual(
            files.map((f) => [f.path, f.permissions]),
            [
                [PREPARE_DATA_DISK_PATH, "0755"],
                [INSTALL_DOCKER_PATH, "0755"],
                ["/etc/systemd/system/docker.service.d/10-registry-data.conf", "0644"],
            ],
        );
        assert.equal(files[0].content, PREPARE_DATA_DISK_SCRIPT, "the YAML round trip keeps the script byte for byte");
        assert.equal(
            files[2].content.split("\n").find((l) => l.startsWith("RequiresMountsFor=")),
            `RequiresMountsFor=${MOUNT}`,
        );
        assert.deepEqual(config.runcmd, [`'${PREPARE_DATA_DISK_PATH}' '${SERIAL}' '${MOUNT}' 'registry-data' && '${INSTALL_DOCKER_PATH}'`]);
        assert.equal(config.packages, undefined, "Docker must not be installed before the disk is mounted");
    });
});

describe("cloud-init user data without a data disk (blobs in a bucket: alicloud replicas)", () => {
    let dir: string;
    let userData: string;

    before(async () => {
        dir = makeTempDir("pr-cloud-init-diskless-");
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "host", "-f", join(dir, "host_key")]);
        userData = renderCloudInit({
            hostKey: {
                privateKeyOpenssh: readFileSync(join(dir, "host_key"), "utf8"),
                publicKeyOpenssh: readFileSync(join(dir, "host_key.pub"), "utf8"),
            },
            registryMirrors: ["https://mirror.example.com"],
        });
        writeFileSync(join(dir, "user-data.yaml"), userData);
    });
    after(runCleanups);

    it("passes Debian's `cloud-init schema`", { skip: !existsSync("/usr/bin/cloud-init") && "cloud-init is not installed" }, async () => {
        const valid = await run("cloud-init", ["schema", "--config-file", join(dir, "user-data.yaml")], { allowFailure: true });
        assert.equal(valid.code, 0, valid.stderr + valid.stdout);
        assert.match(valid.stdout, /Valid cloud-config/);
    });

    it("pins the host key and installs Docker, with nothing to mount and nothing for Docker to wait for", () => {
        const config = parseYaml(userData) as Record<string, any>;
        assert.match(config.ssh_keys.ed25519_private, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
        assert.deepEqual(
            (config.write_files as WriteFile[]).map((f) => f.path),
            [INSTALL_DOCKER_PATH],
        );
        assert.match(
            (config.write_files as WriteFile[])[0].content,
            /https:\/\/mirror\.example\.com/,
            "registry-mirrors still set before the first pull",
        );
        assert.deepEqual(config.runcmd, [`'${INSTALL_DOCKER_PATH}'`]);
        assert.throws(() => renderCloudInit({ dataDiskSerial: SERIAL }), /dataMountPath is required with dataDiskSerial/);
    });
});

describe("host scripts", () => {
    after(runCleanups);

    for (const [name, script] of Object.entries(scripts())) {
        it(`${name}: bash -n and sh -n accept it`, async () => {
            const dir = makeTempDir("pr-script-");
            const path = join(dir, "script");
            writeFileSync(path, script);
            for (const shell of ["bash", "sh"]) {
                // The data-disk script is bash by its shebang; only bash must read it.
                if (shell === "sh" && script.startsWith("#!/bin/bash")) continue;
                const result = await run(shell, ["-n", path], { allowFailure: true });
                assert.equal(result.code, 0, `${shell} -n ${name}: ${result.stderr}`);
            }
        });
    }

    it("a syntax error is caught by the same check", async () => {
        const path = join(makeTempDir("pr-script-"), "broken");
        writeFileSync(path, `${renderInstallDockerScript({ sudo: false })}\nif true; then\n`);
        const result = await run("bash", ["-n", path], { allowFailure: true });
        assert.notEqual(result.code, 0);
    });

    it("prepare-data-disk gives up when the disk never appears, rather than guess another one", async () => {
        const dir = makeTempDir("pr-disk-");
        const path = join(dir, "prepare");
        writeFileSync(path, PREPARE_DATA_DISK_SCRIPT, { mode: 0o755 });
        const result = await run(path, ["no-such-serial-0000", join(dir, "mnt"), "registry-data", "0"], { allowFailure: true });
        assert.equal(result.code, 1);
        assert.match(result.stderr, /no disk with serial no-such-serial-0000 appeared under \/dev\/disk\/by-id within 0s/);
        assert.ok(!existsSync(join(dir, "mnt")), "nothing was created");
    });

    it("prepare-data-disk formats a new disk once, never a disk that has a filesystem, and mounts it by UUID with nofail", async () => {
        const dir = makeTempDir("pr-disk-");
        const device = join(dir, "vdb");
        writeFileSync(device, "");
        mkdirSync(join(dir, "by-id"));
        symlinkSync(device, join(dir, "by-id", `virtio-${SERIAL}`));
        symlinkSync(device, join(dir, "by-id", `virtio-${SERIAL}-part1`));
        writeFileSync(join(dir, "fstab"), "UUID=1111-2222 / ext4 defaults 0 1\n");
        const bin = stubCommands(dir, { systemctl: 0, mountpoint: 1, mount: 0 });
        // A stand-in blkid: no signature until mkfs has run, then an ext4 filesystem with a UUID.
        writeFileSync(
            join(bin, "blkid"),
            [
                "#!/bin/sh",
                `formatted="${join(dir, "formatted")}"`,
                'if [ "$1" = "-p" ]; then [ -f "$formatted" ] && exit 0; exit 2; fi',
                '[ -f "$formatted" ] || exit 2',
                '[ "$2" = "UUID" ] && echo 0a1b2c3d-aaaa-bbbb-cccc-0123456789ab || echo ext4',
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
        writeFileSync(
            join(bin, "mkfs.ext4"),
            `#!/bin/sh\necho "mkfs.ext4 $*" >> "${join(dir, "calls.log")}"\ntouch "${join(dir, "formatted")}"\n`,
            { mode: 0o755 },
        );
        const script = join(dir, "prepare");
        writeFileSync(script, PREPARE_DATA_DISK_SCRIPT, { mode: 0o755 });
        const env = { PATH: `${bin}:/usr/bin:/bin`, DISK_BY_ID_DIR: join(dir, "by-id"), FSTAB: join(dir, "fstab") };
        const mountPath = join(dir, "srv", "registry-data");

        // First boot, then the same disk on a replacement VM (and a rerun on the same VM).
        for (let boot = 1; boot <= 2; boot++) {
            const result = await run(script, [SERIAL, mountPath, "registry-data", "0"], { allowFailure: true, env });
            assert.equal(result.code, 0, `boot ${boot}: ${result.stderr}`);
            assert.match(result.stdout, new RegExp(`${device} \\(UUID 0a1b2c3d-aaaa-bbbb-cccc-0123456789ab\\) is mounted at ${mountPath}`));
        }
        const calls = readFileSync(join(dir, "calls.log"), "utf8");
        assert.equal(calls.match(/^mkfs\.ext4 /gm)?.length, 1, "formatted exactly once");
        assert.match(calls, new RegExp(`^mkfs\\.ext4 -q -L registry-data ${device}$`, "m"), "the whole disk, not its partition link");
        assert.equal(calls.match(new RegExp(`^mount ${mountPath}$`, "gm"))?.length, 2);
        assert.equal(
            readFileSync(join(dir, "fstab"), "utf8"),
            `UUID=1111-2222 / ext4 defaults 0 1\nUUID=0a1b2c3d-aaaa-bbbb-cccc-0123456789ab ${mountPath} ext4 defaults,nofail,x-systemd.device-timeout=30s 0 2\n`,
        );
    });

    it("prepare-data-disk leaves a disk with a partition table alone", async () => {
        const dir = makeTempDir("pr-disk-");
        writeFileSync(join(dir, "vdb"), "");
        mkdirSync(join(dir, "by-id"));
        symlinkSync(join(dir, "vdb"), join(dir, "by-id", `nvme-Alibaba_Cloud_Elastic_Block_Storage_${SERIAL}`));
        writeFileSync(join(dir, "fstab"), "");
        const bin = stubCommands(dir, { systemctl: 0, mountpoint: 1, mount: 0, "mkfs.ext4": 0 });
        // A partition table is a signature (blkid -p finds it) but carries no filesystem UUID.
        writeFileSync(join(bin, "blkid"), '#!/bin/sh\n[ "$1" = "-p" ] && exit 0\nexit 2\n', { mode: 0o755 });
        writeFileSync(join(dir, "prepare"), PREPARE_DATA_DISK_SCRIPT, { mode: 0o755 });
        const result = await run(join(dir, "prepare"), [SERIAL, join(dir, "mnt"), "registry-data", "0"], {
            allowFailure: true,
            env: { PATH: `${bin}:/usr/bin:/bin`, DISK_BY_ID_DIR: join(dir, "by-id"), FSTAB: join(dir, "fstab") },
        });
        assert.equal(result.code, 1);
        assert.match(result.stderr, /holds no filesystem with a UUID \(a partition table\?\); leaving it alone/);
        assert.ok(!existsSync(join(dir, "calls.log")), "no mkfs, no mount");
        assert.equal(readFileSync(join(dir, "fstab"), "utf8"), "");
    });

    it("install-docker stops with a clear message where there is neither Docker nor apt-get", async () => {
        const dir = makeTempDir("pr-install-");
        writeFileSync(join(dir, "install"), renderInstallDockerScript({ sudo: false }));
        const result = await run("/bin/sh", [join(dir, "install")], { allowFailure: true, env: { PATH: join(dir, "empty") } });
        assert.equal(result.code, 1);
        assert.match(result.stderr, /Docker is missing and there is no apt-get here/);
    });

    it("install-docker as a non-root user installs through sudo and joins the docker group", async () => {
        const dir = makeTempDir("pr-install-");
        // docker is "missing" until apt-get runs; id reports a user outside the docker group.
        const bin = stubCommands(dir, { "apt-get": 0, systemctl: 0, usermod: 0 }, {});
        writeFileSync(
            join(bin, "sudo"),
            `#!/bin/sh\n[ "$1" = "-n" ] && shift\necho "sudo $*" >> "${join(dir, "calls.log")}"\nexec "$@"\n`,
            { mode: 0o755 },
        );
        writeFileSync(join(bin, "env"), `#!/bin/sh\nwhile [ "\${1#*=}" != "$1" ]; do shift; done\nexec "$@"\n`, { mode: 0o755 });
        writeFileSync(join(bin, "id"), `#!/bin/sh\n[ "$1" = "-un" ] && echo alice || echo "alice adm"\n`, { mode: 0o755 });
        writeFileSync(
            join(bin, "apt-get"),
            `#!/bin/sh\necho "apt-get $*" >> "${join(dir, "calls.log")}"\nprintf '#!/bin/sh\\necho "docker $*" >> "${join(dir, "calls.log")}"\\necho docker 24.0\\n' > "${join(bin, "docker")}"\n/bin/chmod 755 "${join(bin, "docker")}"\n`,
            { mode: 0o755 },
        );
        for (const tool of ["tr", "grep"]) writeFileSync(join(bin, tool), `#!/bin/sh\nexec /usr/bin/${tool} "$@"\n`, { mode: 0o755 });
        writeFileSync(join(dir, "install"), renderInstallDockerScript({ sudo: true }));
        const result = await run("/bin/sh", [join(dir, "install")], { allowFailure: true, env: { PATH: bin } });
        assert.equal(result.code, 0, result.stderr);
        const calls = readFileSync(join(dir, "calls.log"), "utf8");
        assert.match(
            calls,
            /sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q\n/,
            "apt waits for the dpkg lock",
        );
        assert.match(calls, /sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q docker\.io\n/);
        assert.match(calls, /sudo usermod -aG docker alice\n/);
        assert.match(result.stdout, /docker 24\.0/);
    });

    it("wait-until-ready fails loudly when the disk is not mounted, and succeeds when it is", async () => {
        const script = renderWaitUntilReadyScript({ dataMountPath: MOUNT, timeoutSeconds: 0 });
        const notMounted = makeTempDir("pr-wait-");
        writeFileSync(join(notMounted, "wait"), script);
        const failing = await run("/bin/sh", [join(notMounted, "wait")], {
            allowFailure: true,
            env: { PATH: `${stubCommands(notMounted, { "cloud-init": 0, mountpoint: 1, docker: 0, tail: 0, sleep: 0 })}` },
        });
        assert.equal(failing.code, 1);
        assert.match(failing.stderr, /the VM is not ready: the data disk must be mounted at \/srv\/registry-data and Docker must answer/);
        assert.match(readFileSync(join(notMounted, "calls.log"), "utf8"), /cloud-init status --long/, "it shows cloud-init's own account");

        const mounted = makeTempDir("pr-wait-");
        writeFileSync(join(mounted, "wait"), script);
        const passing = await run("/bin/sh", [join(mounted, "wait")], {
            allowFailure: true,
            env: {
                PATH: stubCommands(
                    mounted,
                    { "cloud-init": 0, mountpoint: 0, docker: 0, findmnt: 0, sleep: 0 },
                    { docker: "docker 24.0", findmnt: `/dev/vdb ${MOUNT} ext4` },
                ),
            },
        });
        assert.equal(passing.code, 0, passing.stderr);
        assert.match(passing.stdout, /\/dev\/vdb \/srv\/registry-data ext4/);
        assert.match(readFileSync(join(mounted, "calls.log"), "utf8"), /^cloud-init status --wait$/m);
    });

    it("wait-until-ready without a data disk asks only for Docker", async () => {
        const script = renderWaitUntilReadyScript({ timeoutSeconds: 0 });
        const down = makeTempDir("pr-wait-");
        writeFileSync(join(down, "wait"), script);
        const failing = await run("/bin/sh", [join(down, "wait")], {
            allowFailure: true,
            env: { PATH: stubCommands(down, { "cloud-init": 0, mountpoint: 0, docker: 1, tail: 0, sleep: 0 }) },
        });
        assert.equal(failing.code, 1);
        assert.match(failing.stderr, /the VM is not ready: Docker must answer/);

        const up = makeTempDir("pr-wait-");
        writeFileSync(join(up, "wait"), script);
        const passing = await run("/bin/sh", [join(up, "wait")], {
            allowFailure: true,
            env: { PATH: stubCommands(up, { "cloud-init": 0, mountpoint: 1, docker: 0, sleep: 0 }, { docker: "docker 24.0" }) },
        });
        assert.equal(passing.code, 0, passing.stderr);
        assert.doesNotMatch(readFileSync(join(up, "calls.log"), "utf8"), /mountpoint/, "no mount is asked for");
    });

    it("release-data-disk stops Docker, unmounts, and never blocks the replacement", async () => {
        const dir = makeTempDir("pr-release-");
        writeFileSync(join(dir, "release"), renderReleaseDataDiskScript({ dataMountPath: MOUNT }));
        const result = await run("/bin/sh", [join(dir, "release")], {
            allowFailure: true,
            env: { PATH: stubCommands(dir, { systemctl: 0, sync: 0, mountpoint: 0, umount: 32 }) },
        });
        assert.equal(result.code, 0);
        assert.match(result.stderr, /warning: \/srv\/registry-data is still busy/);
        const calls = readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n");
        assert.deepEqual(calls, ["systemctl stop docker.socket docker.service", "sync ", `mountpoint -q ${MOUNT}`, `umount ${MOUNT}`]);
    });
});
