/**
 * A Debian 12 virtual machine for the tests that need a real server: QEMU with KVM, booting
 * Debian's own kernel, systemd, udev, sshd and cloud-init 22.4 from an image that
 * test/support/vm/build-debian-image.sh builds once and caches outside the repo.
 *
 * Why a VM and not a container or a namespace on this machine: what is tested is a first boot
 * (cloud-init's stages under systemd, SSH host keys written before sshd starts, a data disk found
 * by its serial under /dev/disk/by-id, formatted once and mounted by UUID from /etc/fstab before
 * Docker starts, Docker installed with apt and started by systemd), and then a deploy over SSH
 * whose install step runs apt. A namespace shares this machine's kernel, udev and cgroup v1
 * hierarchy: systemd cannot boot there (`systemd-nspawn --boot`: "Failed to open system bus"),
 * and without udev neither the by-id link nor an fstab mount by UUID exists.
 *
 * Networking is QEMU's user mode with `restrict=on`: the guest reaches nothing outside the VM,
 * and the tests reach the guest only through ports forwarded from 127.0.0.1. Each VM gets a
 * copy-on-write overlay of the cached image, so the cache is never written to.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Daemon, registerCleanup, run, RunOptions, RunResult, sleep, startDaemon, waitFor } from "../../scripts/lib/processes";

const ROOT = path.resolve(__dirname, "../..");
const BUILD_SCRIPT = path.join(ROOT, "test/support/vm/build-debian-image.sh");

export interface DebianImage {
    dir: string;
    kernel: string;
    initrd: string;
    /** Raw ext4 image of the root filesystem; only ever a backing file. */
    rootImage: string;
    /** What the image's `cloud-init --version` printed. */
    cloudInitVersion: string;
}

/** Builds the image on first use (about 6 minutes; later calls return at once). */
export async function debianImage(): Promise<DebianImage> {
    const built = await run("bash", [BUILD_SCRIPT], { timeoutMs: 30 * 60_000 });
    const dir = built.stdout.trim().split("\n").pop() ?? "";
    const image = {
        dir,
        kernel: path.join(dir, "vmlinuz"),
        initrd: path.join(dir, "initrd.img"),
        rootImage: path.join(dir, "root.img"),
        cloudInitVersion: fs.readFileSync(path.join(dir, "cloud-init-version"), "utf8").trim(),
    };
    for (const file of [image.kernel, image.initrd, image.rootImage]) {
        if (!fs.existsSync(file)) throw new Error(`the VM image in ${dir} has no ${path.basename(file)}: remove ${dir} and build it again`);
    }
    return image;
}

/** Why this machine cannot run the VM with KVM, or undefined when it can. */
export function kvmProblem(): string | undefined {
    try {
        fs.accessSync("/dev/kvm", fs.constants.R_OK | fs.constants.W_OK);
    } catch (error) {
        return `/dev/kvm is not usable (${(error as Error).message}): the VM tests need KVM`;
    }
    return undefined;
}

/** A copy-on-write root disk on top of the cached image: what one VM (one "instance") boots from. */
export async function createRootDisk(image: DebianImage, file: string): Promise<string> {
    await run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", image.rootImage, file]);
    return file;
}

/** A blank disk of `sizeMiB`, sparse: what a new ECS data disk is. */
export function createBlankDisk(file: string, sizeMiB: number): string {
    const fd = fs.openSync(file, "w");
    fs.ftruncateSync(fd, sizeMiB * 1024 * 1024);
    fs.closeSync(fd);
    return file;
}

export interface NoCloudSeed {
    /** The user data, as the instance would get it (`#cloud-config ...`). */
    userData: string;
    /** A new ID means a new instance to cloud-init: its per-instance modules run again. */
    instanceId: string;
    hostname: string;
    /** Authorized for the image's default user, and for root unless the user data disables it: what the ECS key pair is. */
    publicKeys: string[];
}

/**
 * The NoCloud seed on a small FAT disk labelled `cidata`, as `cloud-localds` makes it. It must be
 * FAT or ISO 9660: cloud-init 22.4's NoCloud only looks at those (an ext4 `cidata` disk was tried
 * and ignored: "no local data found from DataSourceNoCloud").
 */
export async function createSeedDisk(seed: NoCloudSeed, workDir: string): Promise<string> {
    const dir = path.join(workDir, `seed-${seed.instanceId}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "user-data"), seed.userData);
    const keys = seed.publicKeys.map((key) => `  - ${JSON.stringify(key.trim())}`).join("\n");
    fs.writeFileSync(
        path.join(dir, "meta-data"),
        `instance-id: ${seed.instanceId}\nlocal-hostname: ${seed.hostname}\npublic-keys:\n${keys}\n`,
    );
    const file = path.join(workDir, `seed-${seed.instanceId}.img`);
    fs.rmSync(file, { force: true });
    await run("mkfs.vfat", ["-n", "CIDATA", "-C", file, "2048"]);
    await run("mcopy", ["-i", file, path.join(dir, "user-data"), path.join(dir, "meta-data"), "::"]);
    return file;
}

export interface VmDisk {
    file: string;
    format: "raw" | "qcow2";
    /** The virtio serial the guest sees (/dev/disk/by-id/virtio-SERIAL); at most 20 characters. */
    serial?: string;
}

export interface PortForward {
    /** Port on 127.0.0.1. */
    hostPort: number;
    guestPort: number;
}

export interface VmOptions {
    name: string;
    image: DebianImage;
    workDir: string;
    rootDisk: string;
    seedDisk: string;
    dataDisks?: VmDisk[];
    /** 127.0.0.1:sshPort reaches the guest's port 22. */
    sshPort: number;
    forwards?: PortForward[];
    memoryMiB?: number;
}

export interface RunningVm {
    name: string;
    sshPort: number;
    /** The serial console: kernel, systemd and cloud-init messages. */
    consoleLog: string;
    daemon: Daemon;
    /** The last lines of the console, for error messages. */
    consoleTail(lines?: number): string;
    /** False once QEMU has exited. */
    isRunning(): boolean;
    /** Waits for QEMU to exit (after a poweroff inside the guest). */
    waitForExit(timeoutMs?: number): Promise<void>;
    /** Ends QEMU (the power cord: for cleanup, not for a clean shutdown). */
    stop(): Promise<void>;
}

/**
 * KVM when PRIVATE_REGISTRY_VM_ACCEL=kvm, else QEMU's own emulation (TCG). On this machine kind
 * (itself a VM) /dev/kvm exists but a nested guest hangs right after the kernel's real-mode setup
 * ("Probing EDD ... ok", then nothing, with every CPU model tried), so TCG is the default.
 */
function accelerator(): string[] {
    if (process.env.PRIVATE_REGISTRY_VM_ACCEL === "kvm") {
        // arch-capabilities: this host's KVM refuses to set that MSR ("failed to set MSR 0x10a").
        return ["-accel", "kvm", "-cpu", "host,-arch-capabilities"];
    }
    return ["-accel", "tcg,thread=multi", "-cpu", "max"];
}

/** Boots the VM; returns once QEMU runs (the guest then needs some seconds before sshd answers). */
export function bootVm(options: VmOptions): RunningVm {
    if (process.env.PRIVATE_REGISTRY_VM_ACCEL === "kvm") {
        const problem = kvmProblem();
        if (problem !== undefined) throw new Error(problem);
    }
    const consoleLog = path.join(options.workDir, `${options.name}-console.log`);
    const forwards = [{ hostPort: options.sshPort, guestPort: 22 }, ...(options.forwards ?? [])].map(
        (f) => `hostfwd=tcp:127.0.0.1:${f.hostPort}-:${f.guestPort}`,
    );
    let drives = 0;
    const drive = (file: string, format: string, options: { readonly?: boolean; serial?: string } = {}) => {
        const id = `disk${drives++}`;
        return [
            "-drive",
            `file=${file},format=${format},if=none,id=${id},cache=unsafe${options.readonly ? ",readonly=on" : ""}`,
            "-device",
            `virtio-blk-pci,drive=${id}${options.serial ? `,serial=${options.serial}` : ""}`,
        ];
    };
    const args = [
        "-name",
        options.name,
        ...accelerator(),
        "-smp",
        "2",
        "-m",
        String(options.memoryMiB ?? 2048),
        "-nodefaults",
        "-display",
        "none",
        "-serial",
        `file:${consoleLog}`,
        "-kernel",
        options.image.kernel,
        "-initrd",
        options.image.initrd,
        "-append",
        "root=/dev/vda rw console=ttyS0 net.ifnames=0 systemd.journald.forward_to_console=0",
        ...drive(options.rootDisk, "qcow2"),
        ...drive(options.seedDisk, "raw", { readonly: true }),
        ...(options.dataDisks ?? []).flatMap((disk) => drive(disk.file, disk.format, { serial: disk.serial })),
        "-netdev",
        `user,id=net0,restrict=on,${forwards.join(",")}`,
        "-device",
        "virtio-net-pci,netdev=net0",
        "-device",
        "virtio-rng-pci",
    ];
    const daemon = startDaemon(`qemu ${options.name}`, "qemu-system-x86_64", args, {
        logFile: path.join(options.workDir, `${options.name}-qemu.log`),
        stopTimeoutMs: 5_000,
    });
    let running = true;
    void daemon.exited.then(() => {
        running = false;
    });
    const consoleTail = (lines = 40) => {
        try {
            return fs.readFileSync(consoleLog, "utf8").replace(/\r/g, "").trimEnd().split("\n").slice(-lines).join("\n");
        } catch {
            return "(no console output)";
        }
    };
    return {
        name: options.name,
        sshPort: options.sshPort,
        consoleLog,
        daemon,
        consoleTail,
        isRunning: () => running,
        async waitForExit(timeoutMs = 120_000) {
            const exited = await Promise.race([daemon.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
            if (!exited) throw new Error(`${options.name} did not power off within ${timeoutMs} ms; console:\n${consoleTail()}`);
            await daemon.stop();
        },
        stop: () => daemon.stop(),
    };
}

export interface SshLogin {
    user: string;
    /** Private key file, mode 0600. */
    identityFile: string;
    /** known_hosts holding the one key the guest must present. */
    knownHostsFile: string;
}

/** `ssh` arguments that log in to the VM verifying its host key, with no user config involved. */
export function sshArgs(vm: Pick<RunningVm, "sshPort">, login: SshLogin): string[] {
    return [
        "-F",
        "/dev/null",
        "-i",
        login.identityFile,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        `UserKnownHostsFile=${login.knownHostsFile}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "LogLevel=ERROR",
        "-p",
        String(vm.sshPort),
        `${login.user}@127.0.0.1`,
    ];
}

/** Runs `script` with `sh -s` on the VM as the login user. */
export function onVm(vm: RunningVm, login: SshLogin, script: string, options: RunOptions = {}): Promise<RunResult> {
    return run("ssh", [...sshArgs(vm, login), "sh -s"], { timeoutMs: 120_000, ...options, input: script });
}

/** Waits until the guest's sshd accepts the login with the pinned host key; returns the boot ID. */
export async function waitForSsh(vm: RunningVm, login: SshLogin, timeoutMs = 300_000): Promise<string> {
    let qemuLog = "";
    const bootId = await waitFor(
        `${vm.name} to accept SSH on 127.0.0.1:${vm.sshPort}`,
        async () => {
            if (!vm.isRunning()) {
                qemuLog = fs.readFileSync(vm.daemon.logFile, "utf8").trim();
                return "exited";
            }
            const result = await run("ssh", [...sshArgs(vm, login), "cat /proc/sys/kernel/random/boot_id"], {
                allowFailure: true,
                timeoutMs: 30_000,
            });
            if (result.code !== 0) throw new Error(`ssh: ${result.stderr.trim() || `exit ${result.code}`}; console:\n${vm.consoleTail(8)}`);
            return result.stdout.trim();
        },
        timeoutMs,
        2_000,
    );
    if (bootId === "exited") throw new Error(`QEMU exited before ${vm.name} answered on SSH: ${qemuLog}\nconsole:\n${vm.consoleTail()}`);
    return bootId;
}

/** Registers removal of a work directory's VM files, which can be gigabytes after a deploy. */
export function removeOnCleanup(file: string): void {
    const remove = () => fs.rmSync(file, { force: true, recursive: true });
    registerCleanup(`remove ${file}`, remove, remove);
}
