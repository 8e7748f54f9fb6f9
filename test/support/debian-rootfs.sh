# Shared by the scripts that build a Debian 12 userland for the tests (sourced, not run):
# test/support/vm/build-debian-image.sh (a QEMU image) and test/support/sshServer/build-rootfs.sh
# (a directory the ssh-mode engine test runs in namespaces).
#
#   debian_mirror                         prints the mirror this machine's apt already uses
#   debian_minbase ROOTFS LOGDIR SUITE PACKAGE...
#                                         debootstrap minbase, then apt-get install the packages
#                                         in the chroot (no service starts); leaves /proc, /sys,
#                                         /dev and /dev/pts mounted for further chroot steps
#   debian_unmount ROOTFS                 undoes those mounts (safe to call twice, or on EXIT)

debian_log() { echo "${DEBIAN_LOG_PREFIX:-debian-rootfs}: $*" >&2; }

# The mirror this machine's apt already uses (deb822 .sources or a one-line sources.list), or
# DEBIAN_MIRROR. The security archive is skipped: debootstrap needs the main one.
debian_mirror() {
    local mirror="${DEBIAN_MIRROR:-}"
    if [ -z "$mirror" ]; then
        mirror=$(awk '/^URIs:/ && !/security/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    fi
    if [ -z "$mirror" ]; then
        mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null || true)
    fi
    [ -n "$mirror" ] || { debian_log "no Debian mirror found in /etc/apt; set DEBIAN_MIRROR"; return 1; }
    echo "$mirror"
}

debian_unmount() {
    local rootfs=$1 mountpoint
    for mountpoint in "$rootfs/dev/pts" "$rootfs/dev" "$rootfs/sys" "$rootfs/proc"; do
        if mountpoint -q "$mountpoint" 2>/dev/null; then umount -l "$mountpoint"; fi
    done
    return 0
}

# Runs a command in the chroot, non-interactively.
debian_in_root() {
    local rootfs=$1
    shift
    chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}

debian_minbase() {
    local rootfs=$1 logdir=$2 suite=$3 mirror
    shift 3
    command -v debootstrap >/dev/null || { debian_log "debootstrap is missing (.ci/run installs it)"; return 1; }
    mirror=$(debian_mirror) || return 1
    debian_log "debootstrap --variant=minbase $suite from the local apt configuration's mirror"
    debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$logdir/debootstrap.log" 2>&1 ||
        { tail -n 30 "$logdir/debootstrap.log" >&2; return 1; }
    cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
SOURCES
    mount -t proc proc "$rootfs/proc"
    mount -t sysfs sysfs "$rootfs/sys"
    mount --bind /dev "$rootfs/dev"
    mount --bind /dev/pts "$rootfs/dev/pts"
    # No service starts inside the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
    chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
    debian_log "apt-get install $*"
    debian_in_root "$rootfs" apt-get update -q >"$logdir/apt.log" 2>&1
    debian_in_root "$rootfs" apt-get install -y -q --no-install-recommends "$@" >>"$logdir/apt.log" 2>&1 ||
        { tail -n 30 "$logdir/apt.log" >&2; return 1; }
}
