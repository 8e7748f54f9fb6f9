#!/usr/bin/env bash
# Builds, once, the Debian 12 virtual machine the ssh-mode and first-boot tests boot with QEMU/KVM:
# a root filesystem image, its kernel and initrd. Cached outside the repo; a second run prints the
# directory and exits.
#
#   bash test/support/vm/build-debian-image.sh    # last stdout line: the image directory
#
# What the image holds, and why:
# - debootstrap minbase, then Debian's kernel (linux-image-cloud-amd64), systemd, udev, dbus,
#   ifupdown with a DHCP client, openssh-server, sudo, e2fsprogs and cloud-init 22.4: what an ECS
#   Debian 12 image boots with. (`debootstrap --include=cloud-init` fails on a dependency, so the
#   packages are installed with apt in the chroot.)
# - No SSH host keys: cloud-init writes them at first boot, as on a cloud image.
# - No Docker. Debian's docker.io and everything `apt-get install docker.io` would install are
#   downloaded into a local apt repository at /srv/local-debs, and the image's apt sources point
#   only there: the test VM has no route to Debian's archive, and the stack's install script then
#   runs `apt-get update && apt-get install docker.io` unchanged, against that repository.
# - cloud-init vendor settings, as a cloud image has them: NoCloud then None as datasources (the
#   tests hand the user data on a disk labelled `cidata`), and the sources list kept as it is.
set -euo pipefail

RECIPE=r1
SUITE=bookworm
CACHE_ROOT="${PRIVATE_REGISTRY_VM_CACHE:-/var/cache/private-registry/vm}"
OUT="$CACHE_ROOT/debian12-$RECIPE"
IMAGE_SIZE=4G
# Everything else the VM needs; docker.io is only downloaded (see above).
PACKAGES=(systemd-sysv udev dbus linux-image-cloud-amd64 initramfs-tools cloud-init openssh-server
    ifupdown isc-dhcp-client e2fsprogs sudo iproute2 ca-certificates procps less)

log() { echo "build-debian-image: $*" >&2; }
export DEBIAN_LOG_PREFIX=build-debian-image
# debian_mirror, debian_minbase, debian_unmount, debian_in_root: shared with sshServer/build-rootfs.sh.
# shellcheck source=../debian-rootfs.sh
source "$(dirname "$0")/../debian-rootfs.sh"

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock-$RECIPE"
flock 9
if [ -f "$OUT/done" ]; then
    echo "$OUT"
    exit 0
fi

for tool in debootstrap mkfs.ext4 dpkg-scanpackages qemu-img; do
    command -v "$tool" >/dev/null || { log "$tool is missing (.ci/run installs debootstrap, e2fsprogs, dpkg-dev, qemu-utils)"; exit 1; }
done

work="$CACHE_ROOT/work-$RECIPE"
rootfs="$work/rootfs"
cleanup() { debian_unmount "$rootfs"; }
trap cleanup EXIT
cleanup
rm -rf "$work" "$OUT"
mkdir -p "$work" "$OUT"
started=$SECONDS

debian_minbase "$rootfs" "$work" "$SUITE" "${PACKAGES[@]}"
in_root() { debian_in_root "$rootfs" "$@"; }

log "downloading docker.io into the local repository"
in_root apt-get clean
in_root apt-get install -y -q --download-only docker.io >>"$work/apt.log" 2>&1 ||
    { tail -n 30 "$work/apt.log" >&2; exit 1; }
mkdir -p "$rootfs/srv/local-debs"
mv "$rootfs"/var/cache/apt/archives/*.deb "$rootfs/srv/local-debs/"
(cd "$rootfs/srv/local-debs" && dpkg-scanpackages --multiversion . 2>/dev/null >Packages)
grep -q '^Package: docker.io$' "$rootfs/srv/local-debs/Packages" || { log "docker.io is not in the local repository"; exit 1; }
rm -f "$rootfs/etc/apt/sources.list" "$rootfs"/etc/apt/sources.list.d/*
echo "deb [trusted=yes] file:/srv/local-debs ./" >"$rootfs/etc/apt/sources.list.d/local-debs.list"
rm -rf "$rootfs"/var/lib/apt/lists/*
in_root apt-get update -q >>"$work/apt.log" 2>&1
in_root apt-get install -s docker.io >>"$work/apt.log" 2>&1 || { log "docker.io would not install from the local repository"; tail -n 20 "$work/apt.log" >&2; exit 1; }
rm -rf "$rootfs"/var/lib/apt/lists/*
in_root apt-get clean

log "configuring the image"
rm -f "$rootfs/usr/sbin/policy-rc.d" "$rootfs"/etc/ssh/ssh_host_*
echo "LABEL=root / ext4 defaults,errors=remount-ro 0 1" >"$rootfs/etc/fstab"
printf 'auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n' >"$rootfs/etc/network/interfaces"
echo "localhost" >"$rootfs/etc/hostname"
cat >"$rootfs/etc/cloud/cloud.cfg.d/90-private-registry-test-image.cfg" <<'EOF'
# The test image's vendor settings (a cloud image has its own): the user data comes on a
# `cidata` disk, and apt keeps the image's local repository.
datasource_list: [NoCloud, None]
apt:
  preserve_sources_list: true
EOF
# Boot messages and logins on the serial console the tests log to a file.
ln -sf /lib/systemd/system/serial-getty@.service "$rootfs/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service" 2>/dev/null || true
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
in_root cloud-init --version >"$OUT/cloud-init-version" 2>&1

cp -L "$rootfs/vmlinuz" "$OUT/vmlinuz"
cp -L "$rootfs/initrd.img" "$OUT/initrd.img"
cleanup
log "mkfs.ext4 -d (root filesystem image, $IMAGE_SIZE sparse)"
mkfs.ext4 -q -L root -d "$rootfs" "$OUT/root.img" "$IMAGE_SIZE"
cp "$rootfs/srv/local-debs/Packages" "$OUT/local-debs.Packages"
rm -rf "$work"
echo "built in $((SECONDS - started)) s with $(cat "$OUT/cloud-init-version")" >"$OUT/done"
log "$(cat "$OUT/done")"
echo "$OUT"
