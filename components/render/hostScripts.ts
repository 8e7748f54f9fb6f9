/**
 * Shell scripts the remote hosts run: in the VM's cloud-init, and as `@pulumi/command` remote
 * commands over SSH. Plain text, so the tests can check each with `bash -n` and `sh -n`.
 *
 * Scripts run as remote commands are POSIX `sh`: they run in the login user's shell, which may
 * be dash. The data-disk script is bash (cloud-init runs it by its shebang).
 */
import { shellQuote } from "./shell/quote";
import { MERGE_DAEMON_JSON_AWK } from "./shell/mergeDaemonJson";

/** Where cloud-init installs the data-disk script on the VM. */
export const PREPARE_DATA_DISK_PATH = "/usr/local/sbin/prepare-registry-data-disk";
/** Where cloud-init installs the Docker installer on the VM. */
export const INSTALL_DOCKER_PATH = "/usr/local/sbin/install-docker";

/**
 * Finds the data disk by its serial number (Alibaba Cloud: the disk ID without `d-`), gives it a
 * filesystem only when it has none, and mounts it by UUID with `nofail`.
 *
 * Arguments: SERIAL MOUNT_PATH LABEL [WAIT_SECONDS]. DISK_BY_ID_DIR and FSTAB move the two system
 * paths it reads, for the tests only.
 *
 * - By serial, not `/dev/vdb`: device names depend on attach order and on virtio vs NVMe.
 * - It waits: the disk is attached by a separate API call after the instance is created, so it
 *   may appear after cloud-init starts. It never falls back to "some other empty disk".
 * - `blkid -p` exits 2 only when the device holds no signature at all: only then is the disk
 *   new. A disk kept from a replaced VM keeps its filesystem and every image on it.
 */
export const PREPARE_DATA_DISK_SCRIPT = `#!/bin/bash
# Rendered by private-registry (components/render/hostScripts.ts).
set -euo pipefail
serial="$1"
mount_path="$2"
label="$3"
wait_seconds="\${4:-900}"
by_id_dir="\${DISK_BY_ID_DIR:-/dev/disk/by-id}"
fstab="\${FSTAB:-/etc/fstab}"

device=""
deadline=$((SECONDS + wait_seconds))
while [ -z "$device" ]; do
    for link in "$by_id_dir"/*"$serial"; do
        if [ -e "$link" ]; then
            device="$(readlink -f "$link")"
            break
        fi
    done
    if [ -z "$device" ]; then
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "no disk with serial $serial appeared under $by_id_dir within \${wait_seconds}s" >&2
            exit 1
        fi
        sleep 5
    fi
done

probe=0
blkid -p "$device" >/dev/null 2>&1 || probe=$?
if [ "$probe" -eq 2 ]; then
    echo "$device is empty: creating an ext4 filesystem labelled $label"
    mkfs.ext4 -q -L "$label" "$device"
elif [ "$probe" -ne 0 ]; then
    echo "blkid could not probe $device (exit $probe); leaving it alone" >&2
    exit 1
fi

uuid="$(blkid -s UUID -o value "$device" || true)"
fstype="$(blkid -s TYPE -o value "$device" || true)"
if [ -z "$uuid" ] || [ -z "$fstype" ]; then
    echo "$device holds no filesystem with a UUID (a partition table?); leaving it alone" >&2
    exit 1
fi

mkdir -p "$mount_path"
# nofail: a missing disk must not stop the VM from booting; SSH stays reachable to repair it.
if ! grep -q "^UUID=$uuid " "$fstab"; then
    printf 'UUID=%s %s %s defaults,nofail,x-systemd.device-timeout=30s 0 2\\n' "$uuid" "$mount_path" "$fstype" >>"$fstab"
fi
systemctl daemon-reload
mountpoint -q "$mount_path" || mount "$mount_path"
echo "$device (UUID $uuid) is mounted at $mount_path"
`;

/**
 * Wait up to 10 minutes for apt's and dpkg's locks instead of failing at once: on a fresh VM,
 * cloud-init's own package steps and the apt-daily/unattended-upgrades timers hold them for
 * minutes after boot.
 */
export const APT_LOCK_WAIT = "-o DPkg::Lock::Timeout=600";

export interface InstallDockerInput {
    /** Run the privileged steps through `sudo -n` (the SSH user is not root). */
    sudo: boolean;
    /**
     * `registry-mirrors` for this daemon (e.g. an Alibaba Cloud accelerator URL), merged into
     * /etc/docker/daemon.json and reloaded before anything is pulled. Default: none.
     */
    registryMirrors?: string[];
}

/**
 * Merges the mirrors into daemon.json with the node snippets' awk (every other setting kept), and
 * reloads dockerd only when the file changed (SIGHUP: it re-reads registry-mirrors, no container
 * stops). A file it cannot merge stops the deploy with what to add by hand.
 */
function registryMirrorLines(mirrors: string[], sudo: string): string[] {
    if (mirrors.length === 0) return [];
    const marker = "PRIVATE_REGISTRY_AWK";
    if (MERGE_DAEMON_JSON_AWK.includes(marker)) throw new Error("the awk program contains its here-document marker");
    return [
        "pr_tmp=$(mktemp -d)",
        "trap 'rm -rf \"$pr_tmp\"' EXIT",
        `cat > "$pr_tmp/merge.awk" <<'${marker}'`,
        `${MERGE_DAEMON_JSON_AWK.trim()}`,
        marker,
        `${sudo}cat /etc/docker/daemon.json >"$pr_tmp/before" 2>/dev/null || : >"$pr_tmp/before"`,
        'cp "$pr_tmp/before" "$pr_tmp/merged"',
        `for pr_mirror in ${mirrors.map(shellQuote).join(" ")}; do`,
        '    if ! LC_ALL=C PR_MIRROR="$pr_mirror" awk -f "$pr_tmp/merge.awk" <"$pr_tmp/merged" >"$pr_tmp/next" 2>"$pr_tmp/why"; then',
        '        echo "private-registry: /etc/docker/daemon.json: $(cat "$pr_tmp/why"); nothing was changed. Add this to it by hand, then run pulumi up again:" >&2',
        `        echo ${shellQuote(`"registry-mirrors": [${mirrors.map((m) => JSON.stringify(m)).join(", ")}]`)} >&2`,
        "        exit 1",
        "    fi",
        '    mv "$pr_tmp/next" "$pr_tmp/merged"',
        "done",
        'if ! cmp -s "$pr_tmp/before" "$pr_tmp/merged"; then',
        `    ${sudo}mkdir -p /etc/docker`,
        `    ${sudo}cp "$pr_tmp/merged" /etc/docker/daemon.json.private-registry-new`,
        `    ${sudo}chmod 644 /etc/docker/daemon.json.private-registry-new`,
        `    ${sudo}mv -f /etc/docker/daemon.json.private-registry-new /etc/docker/daemon.json`,
        `    ${sudo}systemctl reload docker.service`,
        "fi",
    ];
}

/**
 * Installs Debian's `docker.io` unless a `docker` command exists (a server that already runs
 * Docker keeps its own installation), then proves the daemon answers. A non-root user joins the
 * `docker` group: the Docker provider's later SSH sessions run `docker system dial-stdio` as it.
 */
export function renderInstallDockerScript(input: InstallDockerInput): string {
    const sudo = input.sudo ? "sudo -n " : "";
    const lines = [
        "#!/bin/sh",
        "# Rendered by private-registry (components/render/hostScripts.ts).",
        "set -eu",
        "if ! command -v docker >/dev/null 2>&1; then",
        "    if ! command -v apt-get >/dev/null 2>&1; then",
        '        echo "Docker is missing and there is no apt-get here: install Docker on this server, then run pulumi up again" >&2',
        "        exit 1",
        "    fi",
        `    ${sudo}env DEBIAN_FRONTEND=noninteractive apt-get ${APT_LOCK_WAIT} update -q`,
        `    ${sudo}env DEBIAN_FRONTEND=noninteractive apt-get ${APT_LOCK_WAIT} install -y -q docker.io`,
        "fi",
        `${sudo}systemctl enable --now docker.service >/dev/null 2>&1 || true`,
        ...registryMirrorLines(input.registryMirrors ?? [], sudo),
    ];
    if (input.sudo) {
        lines.push(
            'if ! id -nG | tr " " "\\n" | grep -qx docker; then',
            '    sudo -n usermod -aG docker "$(id -un)"',
            "fi",
            "# A new group membership applies from the next SSH session on: until then, ask through sudo.",
        );
    }
    const version = "docker version --format 'docker {{.Server.Version}}'";
    // A user already in the docker group needs no sudo rights at all.
    lines.push(input.sudo ? `${version} 2>/dev/null || sudo -n ${version}` : version);
    return `${lines.join("\n")}\n`;
}

export interface DataMountInput {
    /** Where the data disk is mounted, e.g. `/srv/registry-data`. Unset (wait only): no data disk, blobs in a bucket. */
    dataMountPath?: string;
    /** How long to wait for first-boot provisioning. Default: 1800 s. */
    timeoutSeconds?: number;
}

/**
 * Waits for the VM's first boot to finish, then checks what the registry needs (the data disk
 * mounted, Docker answering) rather than cloud-init's overall verdict: a vendor module failing
 * elsewhere must not block the deploy, and our own steps failing must. On failure it prints
 * cloud-init's status and the end of its log, so `pulumi up` shows why.
 */
export function renderWaitUntilReadyScript(input: DataMountInput): string {
    if (input.dataMountPath === undefined) return renderWaitForDockerScript(input.timeoutSeconds ?? 1800);
    const mount = shellQuote(input.dataMountPath);
    const timeout = input.timeoutSeconds ?? 1800;
    return [
        "#!/bin/sh",
        "# Rendered by private-registry (components/render/hostScripts.ts).",
        "set -u",
        "cloud-init status --wait >/dev/null 2>&1 || true",
        "# Older cloud-init has no `status --wait`; boot-finished is written at the end of every version's final stage.",
        "waited=0",
        `while [ ! -f /var/lib/cloud/instance/boot-finished ] && [ "$waited" -lt ${timeout} ]; do`,
        "    sleep 5",
        "    waited=$((waited + 5))",
        "done",
        `if mountpoint -q ${mount} && docker info >/dev/null 2>&1; then`,
        "    docker version --format 'docker {{.Server.Version}}'",
        `    findmnt -n -o SOURCE,TARGET,FSTYPE ${mount}`,
        "    exit 0",
        "fi",
        `echo "the VM is not ready: the data disk must be mounted at "${mount}" and Docker must answer" >&2`,
        "cloud-init status --long >&2 || true",
        "tail -n 60 /var/log/cloud-init-output.log >&2 || true",
        "exit 1",
        "",
    ].join("\n");
}

/** The wait of a VM without a data disk (blobs in a bucket): first boot done, Docker answering. */
function renderWaitForDockerScript(timeout: number): string {
    return [
        "#!/bin/sh",
        "# Rendered by private-registry (components/render/hostScripts.ts).",
        "set -u",
        "cloud-init status --wait >/dev/null 2>&1 || true",
        "waited=0",
        `while [ ! -f /var/lib/cloud/instance/boot-finished ] && [ "$waited" -lt ${timeout} ]; do`,
        "    sleep 5",
        "    waited=$((waited + 5))",
        "done",
        "if docker info >/dev/null 2>&1; then",
        "    docker version --format 'docker {{.Server.Version}}'",
        "    exit 0",
        "fi",
        'echo "the VM is not ready: Docker must answer" >&2',
        "cloud-init status --long >&2 || true",
        "tail -n 60 /var/log/cloud-init-output.log >&2 || true",
        "exit 1",
        "",
    ].join("\n");
}

/**
 * Runs before the data disk is detached (the VM is replaced or destroyed): stops Docker, so the
 * registry writes nothing more, and unmounts the disk, so the filesystem is detached clean. It
 * never fails: a busy mount is reported, not allowed to block the replacement.
 */
export function renderReleaseDataDiskScript(input: Required<Pick<DataMountInput, "dataMountPath">>): string {
    const mount = shellQuote(input.dataMountPath);
    return [
        "#!/bin/sh",
        "# Rendered by private-registry (components/render/hostScripts.ts).",
        "set -u",
        "systemctl stop docker.socket docker.service >/dev/null 2>&1 || true",
        "sync",
        `if mountpoint -q ${mount}; then`,
        `    umount ${mount} || echo "warning: "${mount}" is still busy; the disk is detached without unmounting" >&2`,
        "fi",
        "exit 0",
        "",
    ].join("\n");
}
