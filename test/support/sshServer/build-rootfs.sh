#!/usr/bin/env bash
# Builds, once, the Debian 12 userland the ssh-mode engine test runs as its "server"
# (test/engine/sshMode.test.ts, test/support/sshServer.ts) and the alicloud first-boot test runs
# cloud-init in (test/integration/firstBoot.test.ts): a directory, never booted, that the tests
# mount read-only under an overlay of their own and chroot into, inside namespaces.
#
#   bash test/support/sshServer/build-rootfs.sh    # last stdout line: the rootfs directory
#
# What it holds: debootstrap minbase of bookworm, then openssh-server, docker.io (with containerd,
# runc, iptables), sudo, iproute2, cloud-init (22.4.2) and e2fsprogs from Debian's archive, as
# `apt-get install` on a Debian 12 server would. No SSH host keys (the test generates them per run, on the server) and no systemd:
# the test starts sshd and dockerd itself. Cached outside the repository, keyed by RECIPE.
set -euo pipefail

RECIPE=r2
SUITE=bookworm
CACHE_ROOT="${PRIVATE_REGISTRY_SSH_SERVER_CACHE:-/var/cache/private-registry/ssh-server}"
OUT="$CACHE_ROOT/debian12-$RECIPE"
PACKAGES=(openssh-server docker.io sudo iproute2 ca-certificates procps cloud-init e2fsprogs util-linux)

export DEBIAN_LOG_PREFIX=build-ssh-server-rootfs
# shellcheck source=../debian-rootfs.sh
source "$(dirname "$0")/../debian-rootfs.sh"

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock-$RECIPE"
flock 9
if [ -f "$OUT/done" ]; then
    echo "$OUT/rootfs"
    exit 0
fi

work="$CACHE_ROOT/work-$RECIPE"
rootfs="$work/rootfs"
trap 'debian_unmount "$rootfs"' EXIT
debian_unmount "$rootfs"
rm -rf "$work" "$OUT"
mkdir -p "$work"
started=$SECONDS

debian_minbase "$rootfs" "$work" "$SUITE" "${PACKAGES[@]}"
debian_in_root "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/*
rm -f "$rootfs/usr/sbin/policy-rc.d" "$rootfs"/etc/ssh/ssh_host_*
echo "localhost" >"$rootfs/etc/hostname"
debian_unmount "$rootfs"
for binary in /usr/bin/cloud-init /usr/sbin/mkfs.ext4 /usr/sbin/sshd /usr/sbin/dockerd /usr/bin/docker /usr/bin/containerd /usr/sbin/runc /usr/sbin/iptables; do
    [ -x "$rootfs$binary" ] || [ -L "$rootfs$binary" ] || { debian_log "$binary is missing from the rootfs"; exit 1; }
done
version=$(chroot "$rootfs" dpkg-query -W -f '${Version}' docker.io)
mkdir -p "$OUT"
mv "$rootfs" "$OUT/rootfs"
rm -rf "$work"
echo "built in $((SECONDS - started)) s with docker.io $version" >"$OUT/done"
debian_log "$(cat "$OUT/done")"
echo "$OUT/rootfs"
