/**
 * The alicloud VM's first boot, run by Debian 12's own cloud-init (22.4.2) on a Debian 12
 * userland, without a VM: the ssh-mode test's cached rootfs (test/support/sshServer/build-rootfs.sh,
 * which holds cloud-init, docker.io and e2fsprogs) under an overlay whose upper dir is the "system
 * disk", chrooted in a network, mount, PID and UTS namespace of the test's own.
 *
 * - The user data is what the program renders in alicloud mode, taken from the program evaluated
 *   under the mocks (the instance's `userData`), handed to cloud-init as a NoCloud seed in
 *   /var/lib/cloud/seed/nocloud with an instance-id. ECS gives the same user data through its
 *   AliYun datasource; only the datasource differs.
 * - The data disk is a loop device over a sparse file, shown in the chroot's own /dev (a tmpfs) as
 *   /dev/loopN with the link udev makes for an ECS disk, /dev/disk/by-id/virtio-<serial>.
 * - A "boot" runs what systemd would, in order: fstab's mounts (`mount -a`, local-fs.target),
 *   cloud-init's four stages (`init --local`, `init`, `modules --mode=config`,
 *   `modules --mode=final`), then the enabled services; a "shutdown" runs the stack's own
 *   release script (stop Docker, unmount the disk), and the namespace ends.
 *
 * What stands in for systemd (no systemd runs here, and none can: see docs/cloud.md): a test-only
 * `systemctl` in /usr/local/sbin that records every call. `daemon-reload` does nothing;
 * `enable` records the unit; starting `docker.service` first checks every `RequiresMountsFor=` of
 * the rendered drop-in and refuses when one is not a mount point (real systemd would mount it
 * first; refusing is stricter), records where the disk is mounted from, then starts dockerd
 * (vfs storage, /var/lib/docker on a per-VM directory: overlay cannot hold it); stopping it
 * SIGTERMs dockerd and waits. Docker is already installed in the rootfs, so the user data's
 * install step must find it and run no apt at all.
 *
 * Three boots: the first (instance i-first) on a blank disk; a reboot (same instance-id, same
 * system disk); a replaced VM (new instance-id, a fresh system disk) given the kept data disk.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { alicloudDiskSerial } from "../../components/render/cloudInit";
import { PREPARE_DATA_DISK_PATH, renderReleaseDataDiskScript, renderWaitUntilReadyScript } from "../../components/render/hostScripts";
import { evaluateProgram, findResource } from "../../scripts/lib/program/evaluate";
import { createNetworkNamespace, NetworkNamespace } from "../../scripts/lib/netns";
import { makeTempDir, registerCleanup, run, RunResult, runCleanups } from "../../scripts/lib/processes";
import { serverRootfs } from "../support/sshServer";
import { MINIMAL_ALICLOUD_CONFIG } from "../support/fixtures";

const MOUNT = "/srv/registry-data";
const DISK_MIB = 256;
const BOOT_TIMEOUT_MS = 240_000;

/** Test-only systemctl (see the header). */
const SYSTEMCTL_SHIM = `#!/bin/sh
# Written by test/integration/firstBoot.test.ts: a stand-in for systemctl, no systemd runs here.
state=/var/lib/test-systemctl
log=$state/calls.log
mkdir -p "$state/enabled"
echo "systemctl $*" >>"$log"

start_docker() {
    for conf in /etc/systemd/system/docker.service.d/*.conf; do
        [ -f "$conf" ] || continue
        for required in $(sed -n 's/^RequiresMountsFor=//p' "$conf"); do
            if mountpoint -q "$required"; then
                echo "  RequiresMountsFor=$required: mounted from $(findmnt -n -o SOURCE,FSTYPE "$required")" >>"$log"
            else
                echo "  RequiresMountsFor=$required: not a mount point, docker.service refused" >>"$log"
                echo "docker.service: $required is not mounted" >&2
                return 1
            fi
        done
    done
    if docker version >/dev/null 2>&1; then return 0; fi
    setsid dockerd --storage-driver=vfs >>/var/log/dockerd.log 2>&1 </dev/null &
    tries=0
    until docker version >/dev/null 2>&1; do
        tries=$((tries + 1))
        if [ "$tries" -gt 240 ]; then echo "dockerd did not answer" >&2; return 1; fi
        sleep 0.25
    done
    echo "  dockerd started" >>"$log"
}

stop_docker() {
    [ -f /run/docker.pid ] || return 0
    pid=$(cat /run/docker.pid)
    kill "$pid" 2>/dev/null || return 0
    tries=0
    while kill -0 "$pid" 2>/dev/null && [ "$tries" -lt 120 ]; do tries=$((tries + 1)); sleep 0.25; done
    echo "  dockerd stopped" >>"$log"
}

is_docker() { case "$1" in docker|docker.service) return 0 ;; *) return 1 ;; esac; }

action=$1
shift
now=""
status=0
for unit in "$@"; do
    case "$unit" in
        --now) now=1; continue ;;
        -*) continue ;;
    esac
    case "$action" in
        enable)
            touch "$state/enabled/$unit"
            if [ -n "$now" ] && is_docker "$unit"; then start_docker || status=1; fi ;;
        start|restart) if is_docker "$unit"; then start_docker || status=1; fi ;;
        stop) if is_docker "$unit"; then stop_docker; fi ;;
        reload) if is_docker "$unit" && [ -f /run/docker.pid ]; then kill -HUP "$(cat /run/docker.pid)"; fi ;;
    esac
done
exit $status
`;

/** PID 1 of the new namespaces, with the host's sh: the machine's "firmware", then chroot. */
const MOUNT_AND_CHROOT = `set -eu
root=$1 lower=$2 upper=$3 overlaywork=$4 state=$5 loop=$6 serial=$7
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$overlaywork" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount -t cgroup2 cgroup2 "$root/sys/fs/cgroup"
# A /dev of the machine's own: a few character devices and the data disk, with udev's by-id link.
mount -t tmpfs -o mode=0755 tmpfs "$root/dev"
for node in null zero full random urandom tty; do
    touch "$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
disk=$(basename "$loop")
touch "$root/dev/$disk"
mount --bind "$loop" "$root/dev/$disk"
mkdir -p "$root/dev/disk/by-id" "$root/dev/pts" "$root/dev/shm"
ln -s "../../$disk" "$root/dev/disk/by-id/virtio-$serial"
ln -s /proc/self/fd "$root/dev/fd"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mkdir -p "$state/docker" "$state/containerd" "$root/var/lib/docker" "$root/var/lib/containerd"
mount --bind "$state/docker" "$root/var/lib/docker"
mount --bind "$state/containerd" "$root/var/lib/containerd"
shift 7
exec chroot "$root" /bin/sh /srv/test-boot.sh "$@"
`;

/** The boot, chrooted: what systemd would run, cloud-init's stages, facts for the test, shutdown. */
function bootScript(serial: string): string {
    return `#!/bin/sh
# Written by test/integration/firstBoot.test.ts: one boot of the machine, without systemd.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
marker=$1
echo "== local-fs: mount -a"
mount -a; echo "== exit $?"
for unit in /var/lib/test-systemctl/enabled/*; do
    [ -e "$unit" ] || continue
    echo "== starting enabled $(basename "$unit")"
    systemctl start "$(basename "$unit")"; echo "== exit $?"
done
for stage in "init --local" "init" "modules --mode=config" "modules --mode=final"; do
    echo "== cloud-init $stage"
    cloud-init $stage >/dev/null 2>&1; echo "== exit $?"
done
echo "== wait-until-ready"
timeout 120 sh /srv/test-wait-until-ready.sh; echo "== exit $?"
echo "FACT mount=$(findmnt -n -o SOURCE,FSTYPE ${MOUNT})"
echo "FACT uuid=$(blkid -s UUID -o value /dev/disk/by-id/virtio-${serial})"
echo "FACT marker-before=$(cat ${MOUNT}/test-marker 2>/dev/null)"
if [ -n "$marker" ]; then echo "$marker" >${MOUNT}/test-marker; fi
echo "FACT status=$(cloud-init status 2>/dev/null | sed -n 's/^status: //p')"
python3 -c 'import json; v1 = json.load(open("/run/cloud-init/status.json"))["v1"]; errors = " | ".join(e for stage in ("init-local", "init", "modules-config", "modules-final") for e in (v1.get(stage) or {}).get("errors", [])); print("FACT errors=" + errors.replace(chr(92) + "n", " ").replace(chr(10), " "))'
echo "== shutdown: release script"
sh /srv/test-release.sh; echo "== exit $?"
echo "FACT mounted-after-release=$(mountpoint -q ${MOUNT} && echo yes || echo no)"
`;
}

/**
 * Every stage ran, and no module failed but Debian's `locale`, on an instance's first boot only
 * (it is per-instance): it fails in a minbase userland (no en_US.UTF-8 generated, `update-locale`
 * exits 255) and makes the config stage exit 1 and cloud-init's status `error`. The stack's
 * readiness check ignores that overall verdict for this reason, and checks the disk and Docker.
 */
function assertCloudInitRan(booted: Boot, instanceFirstBoot: boolean): void {
    const stages = [...booted.result.stdout.matchAll(/^== (cloud-init .*)\n== exit (\d+)$/gm)].map((m) => `${m[1]}: ${m[2]}`);
    const configExit = instanceFirstBoot ? 1 : 0;
    assert.deepEqual(
        stages,
        [
            "cloud-init init --local: 0",
            "cloud-init init: 0",
            `cloud-init modules --mode=config: ${configExit}`,
            "cloud-init modules --mode=final: 0",
        ],
        booted.result.stdout,
    );
    if (instanceFirstBoot) {
        const errors = booted.facts.errors.split(" | ");
        assert.equal(errors.length, 1, booted.facts.errors);
        assert.match(
            errors[0],
            /^\('locale', ProcessExecutionError\(.*Command: \['update-locale', '--locale-file=\/etc\/default\/locale', 'LANG=en_US\.UTF-8'\] Exit code: 255/,
        );
        assert.equal(booted.facts.status, "error");
    } else {
        assert.equal(booted.facts.errors, "");
        assert.equal(booted.facts.status, "done");
    }
}

interface Boot {
    result: RunResult;
    facts: Record<string, string>;
    /** A file of the machine's system disk (the overlay's upper dir, or the cached rootfs below). */
    file(relativePath: string): string;
}

describe("the alicloud VM's first boot, by cloud-init on Debian 12", { timeout: 900_000 }, () => {
    let work: string;
    let rootfs: string;
    let namespace: NetworkNamespace;
    let loopDevice: string;
    let serial: string;
    let userData: string;
    let hostPublicKey: string;
    const boots: Boot[] = [];

    /** One boot: `systemDisk` names the overlay upper dir (kept across reboots of the same VM). */
    async function boot(systemDisk: string, instanceId: string, marker: string): Promise<Boot> {
        const dirs = {
            root: path.join(work, `${systemDisk}-root`),
            upper: path.join(work, systemDisk),
            overlayWork: path.join(work, `${systemDisk}-overlay-work`),
            state: path.join(work, `${systemDisk}-state`),
        };
        const fresh = !fs.existsSync(dirs.upper);
        for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true });
        if (fresh) {
            const write = (file: string, content: string, mode = 0o644) => {
                fs.mkdirSync(path.dirname(path.join(dirs.upper, file)), { recursive: true });
                fs.writeFileSync(path.join(dirs.upper, file), content, { mode });
            };
            write("var/lib/cloud/seed/nocloud/user-data", userData, 0o600);
            write("var/lib/cloud/seed/nocloud/meta-data", `instance-id: ${instanceId}\nlocal-hostname: registry\n`);
            // What ds-identify would decide under systemd: the seed's datasource, nothing probed.
            write("etc/cloud/cloud.cfg.d/99-test-datasource.cfg", "datasource_list: [NoCloud, None]\n");
            write("usr/local/sbin/systemctl", SYSTEMCTL_SHIM, 0o755);
            write("srv/test-boot.sh", bootScript(serial), 0o755);
            write("srv/test-wait-until-ready.sh", renderWaitUntilReadyScript({ dataMountPath: MOUNT, timeoutSeconds: 60 }), 0o755);
            write("srv/test-release.sh", renderReleaseDataDiskScript({ dataMountPath: MOUNT }), 0o755);
        } else {
            // The same VM rebooted: same seed directory, the instance-id it had.
            const metaData = fs.readFileSync(path.join(dirs.upper, "var/lib/cloud/seed/nocloud/meta-data"), "utf8");
            assert.match(metaData, new RegExp(`^instance-id: ${instanceId}$`, "m"));
        }
        const line = namespace.command("/usr/bin/unshare", [
            "--mount",
            "--pid",
            "--uts",
            "--fork",
            "--propagation",
            "private",
            "/bin/sh",
            "-c",
            MOUNT_AND_CHROOT,
            "sh",
            dirs.root,
            rootfs,
            dirs.upper,
            dirs.overlayWork,
            dirs.state,
            loopDevice,
            serial,
            marker,
        ]);
        const result = await run(line.command, line.args, { timeoutMs: BOOT_TIMEOUT_MS, allowFailure: true });
        fs.writeFileSync(path.join(work, `boot-${boots.length + 1}.log`), `${result.stdout}\n--- stderr\n${result.stderr}`);
        const facts: Record<string, string> = {};
        for (const match of result.stdout.matchAll(/^FACT ([a-z-]+)=(.*)$/gm)) facts[match[1]] = match[2].trim();
        const file = (relativePath: string) => {
            const upper = path.join(dirs.upper, relativePath);
            return fs.existsSync(upper) ? fs.readFileSync(upper, "utf8") : "";
        };
        const booted = { result, facts, file };
        boots.push(booted);
        assert.equal(result.code, 0, `boot ${boots.length} failed:\n${result.stdout}\n${result.stderr}`);
        return booted;
    }

    before(async () => {
        work = makeTempDir("pr-first-boot-");
        rootfs = await serverRootfs();
        for (const binary of ["usr/bin/cloud-init", "usr/sbin/mkfs.ext4", "usr/sbin/dockerd"]) {
            assert.ok(fs.existsSync(path.join(rootfs, binary)), `the cached rootfs ${rootfs} has no /${binary}: rebuild it`);
        }

        const evaluation = await evaluateProgram({ config: MINIMAL_ALICLOUD_CONFIG });
        if (evaluation.error) throw new Error(evaluation.error);
        userData = Buffer.from(String(findResource(evaluation, "alicloud:ecs/instance:Instance").inputs.userData), "base64").toString(
            "utf8",
        );
        serial = alicloudDiskSerial(findResource(evaluation, "alicloud:ecs/ecsDisk:EcsDisk").id);
        hostPublicKey = String(
            (findResource(evaluation, "tls:index/privateKey:PrivateKey", "alicloud-host-key").state as { publicKeyOpenssh: string })
                .publicKeyOpenssh,
        ).trim();
        assert.match(userData, /^#cloud-config\n/);
        assert.ok(userData.includes(serial), "the user data names the data disk's serial");

        const diskFile = path.join(work, "data-disk.img");
        fs.closeSync(fs.openSync(diskFile, "w"));
        fs.truncateSync(diskFile, DISK_MIB * 1024 * 1024);
        loopDevice = (await run("losetup", ["--find", "--show", diskFile])).stdout.trim();
        assert.match(loopDevice, /^\/dev\/loop\d+$/);
        registerCleanup(`losetup -d ${loopDevice}`, async () => {
            await run("losetup", ["-d", loopDevice], { allowFailure: true });
        });
        namespace = await createNetworkNamespace("pr-firstboot");
    });

    after(async () => {
        await runCleanups();
    });

    it("first boot: the pinned host key, the disk formatted and mounted by UUID, then Docker (already installed) started on it", async () => {
        const config = parseYaml(userData) as { runcmd: string[] };
        assert.ok(config.runcmd[0].startsWith(`'${PREPARE_DATA_DISK_PATH}' '${serial}' '${MOUNT}' `), config.runcmd[0]);
        const blank = await run("blkid", ["-p", loopDevice], { allowFailure: true });
        assert.equal(blank.code, 2, "the data disk starts blank");

        const first = await boot("system-disk-a", "i-first", "written after the first boot");
        const outputLog = first.file("var/log/cloud-init-output.log");
        const calls = first.file("var/lib/test-systemctl/calls.log");
        assertCloudInitRan(first, true);

        // The pinned host key, in place before any sshd could start.
        const installedKey = first.file("etc/ssh/ssh_host_ed25519_key.pub").trim().split(/\s+/).slice(0, 2).join(" ");
        assert.equal(installedKey, hostPublicKey.split(/\s+/).slice(0, 2).join(" "));
        assert.ok(first.file("etc/ssh/ssh_host_ed25519_key").includes("BEGIN OPENSSH PRIVATE KEY"));

        // The disk: ext4 made once, in fstab by UUID with nofail, mounted.
        const uuid = (await run("blkid", ["-s", "UUID", "-o", "value", loopDevice])).stdout.trim();
        assert.match(uuid, /^[0-9a-f-]{36}$/);
        assert.equal((await run("blkid", ["-s", "TYPE", "-o", "value", loopDevice])).stdout.trim(), "ext4");
        assert.equal((await run("blkid", ["-s", "LABEL", "-o", "value", loopDevice])).stdout.trim(), "registry-data");
        assert.equal(first.facts.uuid, uuid);
        const fstabLines = first
            .file("etc/fstab")
            .split("\n")
            .filter((line) => line.startsWith("UUID="));
        assert.deepEqual(fstabLines, [`UUID=${uuid} ${MOUNT} ext4 defaults,nofail,x-systemd.device-timeout=30s 0 2`]);
        assert.equal(first.facts.mount, `${loopDevice} ext4`);
        assert.equal(outputLog.match(/is empty: creating an ext4 filesystem labelled registry-data/g)?.length, 1, outputLog);
        assert.match(outputLog, new RegExp(`${loopDevice} \\(UUID ${uuid}\\) is mounted at ${MOUNT}`));

        // Docker: installed already, so no apt ran; started only once the disk was mounted.
        assert.doesNotMatch(outputLog, /Reading package lists|apt-get/);
        // The rootfs ships without apt lists: an `apt-get update` would have left some in the upper dir.
        const aptLists = path.join(work, "system-disk-a/var/lib/apt/lists");
        assert.deepEqual(fs.existsSync(aptLists) ? fs.readdirSync(aptLists).filter((file) => file.endsWith("Packages")) : [], []);
        assert.equal(
            first.file("etc/systemd/system/docker.service.d/10-registry-data.conf").match(/^RequiresMountsFor=(.*)$/m)?.[1],
            MOUNT,
        );
        const mountedAt = outputLog.indexOf(`is mounted at ${MOUNT}`);
        const dockerAnswered = outputLog.search(/^docker \d+\.\d+/m);
        assert.ok(mountedAt >= 0 && dockerAnswered > mountedAt, `the install step's docker version follows the mount:\n${outputLog}`);
        assert.match(calls, new RegExp(`^systemctl daemon-reload$`, "m"));
        assert.match(
            calls,
            new RegExp(
                `^systemctl enable --now docker.service\\n  RequiresMountsFor=${MOUNT}: mounted from ${loopDevice} ext4\\n  dockerd started$`,
                "m",
            ),
            calls,
        );

        // The stack's readiness check, as the deploy runs it over SSH.
        assert.match(
            first.result.stdout,
            new RegExp(`^== wait-until-ready\\ndocker \\d[^\\n]*\\n${loopDevice} ${MOUNT} ext4\\n== exit 0$`, "m"),
        );
        // (/var/lib/cloud/instance is an absolute link, to be read inside the root.)
        assert.ok(fs.existsSync(path.join(work, "system-disk-a/var/lib/cloud/instances/i-first/boot-finished")));
        assert.equal(first.facts["mounted-after-release"], "no");
    });

    it("a reboot of the same VM mounts the disk from fstab and formats nothing", async () => {
        assert.equal(boots.length, 1, "runs after the first boot");
        const uuid = boots[0].facts.uuid;
        const second = await boot("system-disk-a", "i-first", "");
        assertCloudInitRan(second, false);
        assert.equal(second.facts["mounted-after-release"], "no");
        assert.equal(second.facts["marker-before"], "written after the first boot");
        assert.equal(second.facts.uuid, uuid);
        assert.equal(second.facts.mount, `${loopDevice} ext4`);
        const outputLog = second.file("var/log/cloud-init-output.log");
        assert.equal(outputLog.match(/is empty: creating an ext4 filesystem/g)?.length, 1, "one mkfs over both boots");
        assert.equal(
            second
                .file("etc/fstab")
                .split("\n")
                .filter((line) => line.startsWith("UUID=")).length,
            1,
        );
        // Per-instance: runcmd did not run again; Docker came up as an enabled service, after the mount.
        assert.equal(outputLog.match(/is mounted at/g)?.length, 1, outputLog);
        const calls = second.file("var/lib/test-systemctl/calls.log");
        assert.match(
            calls,
            new RegExp(
                `^systemctl start docker.service\\n  RequiresMountsFor=${MOUNT}: mounted from ${loopDevice} ext4\\n  dockerd started$`,
                "m",
            ),
            calls,
        );
        assert.match(
            second.result.stdout,
            new RegExp(`^== wait-until-ready\\ndocker \\d[^\\n]*\\n${loopDevice} ${MOUNT} ext4\\n== exit 0$`, "m"),
        );
    });

    it("a replaced VM (new instance-id, fresh system disk) gets the kept disk untouched", async () => {
        assert.equal(boots.length, 2, "runs after the reboot");
        const uuid = boots[0].facts.uuid;
        const third = await boot("system-disk-b", "i-replacement", "");
        assertCloudInitRan(third, true);
        assert.equal(third.facts["mounted-after-release"], "no");
        const outputLog = third.file("var/log/cloud-init-output.log");
        assert.equal(third.facts["marker-before"], "written after the first boot");
        assert.equal(third.facts.uuid, uuid);
        assert.equal(third.facts.mount, `${loopDevice} ext4`);
        assert.doesNotMatch(outputLog, /creating an ext4 filesystem/);
        assert.match(outputLog, new RegExp(`${loopDevice} \\(UUID ${uuid}\\) is mounted at ${MOUNT}`));
        assert.deepEqual(
            third
                .file("etc/fstab")
                .split("\n")
                .filter((line) => line.startsWith("UUID=")),
            [`UUID=${uuid} ${MOUNT} ext4 defaults,nofail,x-systemd.device-timeout=30s 0 2`],
        );
        const installedKey = third.file("etc/ssh/ssh_host_ed25519_key.pub").trim().split(/\s+/).slice(0, 2).join(" ");
        assert.equal(installedKey, hostPublicKey.split(/\s+/).slice(0, 2).join(" "));
        assert.match(
            third.result.stdout,
            new RegExp(`^== wait-until-ready\\ndocker \\d[^\\n]*\\n${loopDevice} ${MOUNT} ext4\\n== exit 0$`, "m"),
        );
    });
});
