/**
 * A Debian 12 "server" for ssh mode without a VM: the cached userland of
 * test/support/sshServer/build-rootfs.sh (openssh-server, docker.io, sudo, iproute2), run in a
 * network namespace the test made (scripts/lib/netns.ts) and in a mount and PID namespace of
 * its own, chrooted.
 *
 * - Files: an overlay of the cached rootfs (read-only lower) with a per-server upper dir, so the
 *   cache stays pristine and what the server wrote is readable from the host under `upperDir`.
 *   /var/lib/docker and /var/lib/containerd are bind mounts of per-server directories (dockerd's
 *   storage cannot sit on an overlay). /proc, /sys, cgroup2, /dev (bind), /run and /tmp (tmpfs)
 *   are mounted inside; the mount namespace is private, so none of it shows on the host, and it
 *   all goes when the namespace's last process exits.
 * - Processes: the namespace's PID 1 is the server's own sshd (a fresh ed25519 host key made on
 *   the server at start, root login by key only, 127.0.0.1:port of the network namespace). Its
 *   dockerd is started by the same init script: there is no systemd, so the stack's
 *   `systemctl enable --now docker` fails there and is ignored by design, and Docker is already
 *   installed, so the install step finds it and only talks to it.
 * - Stopping: SIGTERM to sshd (PID 1) ends the PID namespace, which SIGKILLs everything in it.
 *   Registered as a cleanup (also on exit and signals), after a graceful `docker rm -f`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { resolve } from "node:path";
import type { NetworkNamespace } from "../../scripts/lib/netns";
import { registerCleanup, run, RunOptions, RunResult, startDaemon, waitFor } from "../../scripts/lib/processes";

const BUILD_SCRIPT = resolve(__dirname, "sshServer/build-rootfs.sh");
const DOCKER_CLI = "/usr/bin/docker";

export interface SshServer {
    /** sshd's port on 127.0.0.1 inside the network namespace. */
    port: number;
    /** The host key the server generated, `ssh-ed25519 AAAA...` (no comment). */
    hostPublicKey: string;
    /** The namespace's PID 1 (sshd), as the host numbers it. */
    initPid: number;
    /** The overlay's upper dir: every file the server created or changed, seen from the host. */
    upperDir: string;
    /** The host's docker CLI on the server's own socket, through /proc/<initPid>/root. */
    docker(args: string[], options?: RunOptions): Promise<RunResult>;
    /** Log lines sshd wrote (its stderr, kept in the server's /var/log/sshd.log). */
    sshdLog(): string;
    /** docker rm -f, then SIGTERM to PID 1 (the namespace dies with it). Safe to call twice. */
    stop(): Promise<void>;
}

export interface SshServerOptions {
    /** The `authorized_keys` line for root. */
    authorizedKey: string;
    port: number;
}

/** Builds (once, cached) the server's rootfs and returns its directory. */
export async function serverRootfs(): Promise<string> {
    const built = await run("bash", [BUILD_SCRIPT], { timeoutMs: 1_800_000 });
    return built.stdout.trim().split("\n").pop()!;
}

/** What PID 1 of the new mount+PID namespace runs, with the host's sh, before it chroots. */
const MOUNT_AND_CHROOT = `set -eu
root=$1 lower=$2 upper=$3 overlaywork=$4 state=$5
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$overlaywork" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount -t cgroup2 cgroup2 "$root/sys/fs/cgroup"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mkdir -p "$state/docker" "$state/containerd" "$root/var/lib/docker" "$root/var/lib/containerd"
mount --bind "$state/docker" "$root/var/lib/docker"
mount --bind "$state/containerd" "$root/var/lib/containerd"
exec chroot "$root" /bin/sh /srv/test-init.sh
`;

/** Runs on the server (chrooted): its own host key, root's key, dockerd, then sshd as PID 1. */
function serverInit(port: number): string {
    return `#!/bin/sh
# Written by test/support/sshServer.ts: the server's "boot", without systemd.
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p /run/sshd /var/log
ssh-keygen -q -t ed25519 -N "" -C "" -f /etc/ssh/ssh_host_ed25519_key
install -d -m 0700 /root/.ssh
install -m 0600 /srv/test-authorized_keys /root/.ssh/authorized_keys
dockerd --storage-driver=vfs >/var/log/dockerd.log 2>&1 &
exec /usr/sbin/sshd -D -e -p ${port} -o ListenAddress=127.0.0.1 -o HostKey=/etc/ssh/ssh_host_ed25519_key -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no 2>>/var/log/sshd.log
`;
}

/** The host PID of the process `unshare --fork` started: PID 1 of the new PID namespace. */
function forkedChild(unsharePid: number): number | undefined {
    try {
        const children = fs.readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
        return children.length > 0 ? Number(children[0]) : undefined;
    } catch {
        return undefined;
    }
}

/** Mount points under `dir` this machine's mount namespace can see (there should be none). */
export function hostMountsUnder(dir: string): string[] {
    return fs
        .readFileSync("/proc/mounts", "utf8")
        .split("\n")
        .map((line) => line.split(" ")[1] ?? "")
        .map((field) => field.replace(/\\040/g, " "))
        .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`));
}

/**
 * Starts the server in `namespace`, under `workDir` (which the caller owns), and waits until
 * its sshd listens and its dockerd answers.
 */
export async function startSshServer(workDir: string, namespace: NetworkNamespace, options: SshServerOptions): Promise<SshServer> {
    const lower = await serverRootfs();
    const dirs = {
        root: path.join(workDir, "root"),
        upper: path.join(workDir, "upper"),
        overlayWork: path.join(workDir, "overlay-work"),
        state: path.join(workDir, "state"),
    };
    for (const dir of Object.values(dirs)) fs.mkdirSync(dir, { recursive: true });
    // Files the server starts with: written into the upper dir, they appear in its /srv.
    fs.mkdirSync(path.join(dirs.upper, "srv"), { recursive: true });
    fs.writeFileSync(path.join(dirs.upper, "srv/test-init.sh"), serverInit(options.port), { mode: 0o755 });
    fs.writeFileSync(path.join(dirs.upper, "srv/test-authorized_keys"), `${options.authorizedKey.trim()}\n`, { mode: 0o600 });

    const line = namespace.command("/usr/bin/unshare", [
        "--mount",
        "--pid",
        "--fork",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        MOUNT_AND_CHROOT,
        "sh",
        dirs.root,
        lower,
        dirs.upper,
        dirs.overlayWork,
        dirs.state,
    ]);
    const daemon = startDaemon("ssh server namespace", line.command, line.args, {
        logFile: path.join(workDir, "namespace.log"),
        stopTimeoutMs: 15_000,
    });

    const sshdLogFile = path.join(dirs.upper, "var/log/sshd.log");
    const sshdLog = () => (fs.existsSync(sshdLogFile) ? fs.readFileSync(sshdLogFile, "utf8") : "");
    const lastWords = () => {
        const namespaceLog = fs.existsSync(daemon.logFile) ? fs.readFileSync(daemon.logFile, "utf8") : "";
        const dockerdLog = path.join(dirs.upper, "var/log/dockerd.log");
        return `namespace: ${namespaceLog.slice(-1500)}\nsshd: ${sshdLog().slice(-1500)}\ndockerd: ${fs.existsSync(dockerdLog) ? fs.readFileSync(dockerdLog, "utf8").slice(-1500) : ""}`;
    };

    let initPid = 0;
    const docker = (args: string[], runOptions: RunOptions = {}) => {
        const env: NodeJS.ProcessEnv = {
            ...process.env,
            DOCKER_HOST: `unix:///proc/${initPid}/root/run/docker.sock`,
            DOCKER_CONFIG: path.join(workDir, "docker-client"),
        };
        delete env.DOCKER_CONTEXT;
        return run(DOCKER_CLI, args, { ...runOptions, env });
    };
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
        stopping ??= (async () => {
            unregister();
            if (initPid !== 0) {
                const ids =
                    (await docker(["ps", "-aq"], { allowFailure: true, timeoutMs: 30_000 }).catch(() => undefined))?.stdout
                        .split(/\s+/)
                        .filter(Boolean) ?? [];
                if (ids.length > 0) await docker(["rm", "-f", ...ids], { allowFailure: true, timeoutMs: 60_000 }).catch(() => undefined);
            }
            await daemon.stop();
        })();
        return stopping;
    };
    // daemon's own cleanup (registered by startDaemon) covers exit paths; this one adds the docker rm.
    const unregister = registerCleanup("stop the ssh server's containers and namespace", stop);

    try {
        initPid = await waitFor(
            "the ssh server namespace's PID 1",
            () => {
                if (!fs.existsSync(`/proc/${daemon.pid}`)) throw new Error(`unshare exited:\n${lastWords()}`);
                return forkedChild(daemon.pid);
            },
            10_000,
            50,
        );
        await waitFor(
            `the server's sshd on 127.0.0.1:${options.port}`,
            () => {
                if (!fs.existsSync(`/proc/${initPid}`)) throw new Error(`the server's PID 1 exited:\n${lastWords()}`);
                return sshdLog().includes(`Server listening on 127.0.0.1 port ${options.port}`);
            },
            30_000,
            100,
        );
        await waitFor(
            "the server's dockerd",
            async () => (await docker(["version", "--format", "{{.Server.Version}}"], { timeoutMs: 10_000 })).stdout.trim(),
            60_000,
            250,
        ).catch((error) => {
            throw new Error(`${(error as Error).message}\n${lastWords()}`);
        });
    } catch (error) {
        await stop().catch(() => undefined);
        throw error;
    }
    const publicKey = fs
        .readFileSync(path.join(dirs.upper, "etc/ssh/ssh_host_ed25519_key.pub"), "utf8")
        .trim()
        .split(" ")
        .slice(0, 2)
        .join(" ");
    return { port: options.port, hostPublicKey: publicKey, initPid, upperDir: dirs.upper, docker, sshdLog, stop };
}
