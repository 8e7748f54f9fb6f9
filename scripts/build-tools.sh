#!/usr/bin/env bash
# Build test tools from Go source through the Go module proxy, only the ones asked for, each
# cached on its own like the engine components (scripts/engine/lib.sh): the first call builds,
# later calls only check the cache. Python tools (sslyze) are installed the same way, each into a
# virtualenv of its own in the cache, with every package pinned.
#
#   scripts/build-tools.sh [--force] TOOL...      TOOL: pebble crictl containerd2 actionlint registry3 versitygw
#                                                     buildkit buildx cosign regclient sslyze
#   scripts/build-tools.sh --list
#
# Last line on stdout: a bin dir holding exactly the requested tools' binaries, under their
# upstream names (pebble + pebble-challtestsrv, crictl, containerd + ctr + containerd-shim-runc-v2,
# actionlint, registry, versitygw, buildkitd + buildctl, buildx (the Docker CLI plugin: link it as
# cli-plugins/docker-buildx), cosign, regctl, sslyze). Use absolute paths, or put it first on PATH for the process that needs it:
# containerd and ctr would shadow Debian's. Everything else goes to stderr. docs/testing.md
# lists the versions and build times.
set -euo pipefail
SELF=build-tools

# name|module|version|recipe|binaries|packages|build tags|ldflags (VERSION is replaced by the version)
TOOLS=(
  "pebble|github.com/letsencrypt/pebble/v2|v2.10.3|1|pebble pebble-challtestsrv|./cmd/pebble ./cmd/pebble-challtestsrv||-X main.version=VERSION"
  "crictl|sigs.k8s.io/cri-tools|v1.37.0|1|crictl|./cmd/crictl||-X sigs.k8s.io/cri-tools/pkg/version.Version=VERSION"
  "containerd2|github.com/containerd/containerd/v2|v2.4.2|1|containerd ctr containerd-shim-runc-v2|./cmd/containerd ./cmd/ctr ./cmd/containerd-shim-runc-v2|urfave_cli_no_docs,no_btrfs|-X github.com/containerd/containerd/v2/version.Version=VERSION -X github.com/containerd/containerd/v2/version.Package=github.com/containerd/containerd/v2"
  "actionlint|github.com/rhysd/actionlint|v1.7.12|1|actionlint|./cmd/actionlint||-X github.com/rhysd/actionlint.version=VERSION"
  "registry3|github.com/distribution/distribution/v3|v3.1.2|1|registry|./cmd/registry||-X github.com/distribution/distribution/v3/version.version=VERSION -X github.com/distribution/distribution/v3/version.mainpkg=github.com/distribution/distribution/v3"
  # The S3 server of the object-storage tests (smaller to build than MinIO: docs/scale.md).
  "versitygw|github.com/versity/versitygw|v1.8.0|1|versitygw|./cmd/versitygw||-X main.Version=VERSION"
  # osusergo netgo, as upstream's images: static binaries, so a stand-in image needs no libc for them.
  "buildkit|github.com/moby/buildkit|v0.34.2|1|buildkitd buildctl|./cmd/buildkitd ./cmd/buildctl|osusergo,netgo|-X github.com/moby/buildkit/version.Version=VERSION -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit"
  "buildx|github.com/docker/buildx|v0.38.2|1|buildx|./cmd/buildx|osusergo,netgo|-X github.com/docker/buildx/version.Version=VERSION -X github.com/docker/buildx/version.Package=github.com/docker/buildx"
  # Signing and verifying images (test/e2e/signatures.test.ts), with a key pair: no Fulcio, no Rekor.
  "cosign|github.com/sigstore/cosign/v3|v3.1.3|1|cosign|./cmd/cosign||-X sigs.k8s.io/release-utils/version.gitVersion=VERSION"
  # regctl, the retention job's client; static, as upstream's image, for the stand-in image of it.
  "regclient|github.com/regclient/regclient|v0.11.7|1|regctl|./cmd/regctl|osusergo,netgo|-X github.com/regclient/regclient/internal/version.vcsTag=VERSION"
)
# name|version|recipe|binaries|requirements (pip's form, every package pinned, the tool's own first):
# installed with the python3 on PATH into <cache>/<name>/<version>_py<X.Y>_..., needing python3-venv.
PY_TOOLS=(
  # The TLS scanner of the edge's TLS test (test/integration/edgeTls.test.ts): Mozilla's profiles built in.
  "sslyze|6.3.1|1|sslyze|sslyze==6.3.1 nassl==5.4.0 cryptography==46.0.7 cffi==2.1.1 pycparser==3.12 pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 typing_extensions==4.16.0 tls_parser==2.0.2"
)

usage() {
  cat >&2 <<'EOF'
Usage: scripts/build-tools.sh [--force] TOOL...
       scripts/build-tools.sh --list
  TOOL        one or more of: pebble crictl containerd2 actionlint registry3 versitygw buildkit buildx cosign regclient sslyze
  --force     rebuild the named tools, ignoring the cache.
  --list      print the tools, their modules and versions.
Environment: PULUMI_ENGINE_CACHE, PULUMI_ENGINE_JOBS, PULUMI_ENGINE_KEEP_WORK, GOPROXY, GO, as
for scripts/build-engine.sh.
EOF
}

FORCE=0 WANT=()
while [ $# -gt 0 ]; do
  case "$1" in
    --force) FORCE=1 ;;
    --list)
      printf '%s\n' "${TOOLS[@]}" | awk -F'|' '{printf "%-12s %s@%s -> %s\n", $1, $2, $3, $5}'
      printf '%s\n' "${PY_TOOLS[@]}" | awk -F'|' '{printf "%-12s %s %s (python) -> %s\n", $1, $1, $2, $4}'
      exit 0
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      echo "build-tools: unknown option: $1" >&2
      usage
      exit 2
      ;;
    *) WANT+=("$1") ;;
  esac
  shift
done
[ "${#WANT[@]}" -gt 0 ] || {
  usage
  exit 2
}

# shellcheck source=scripts/engine/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/engine/lib.sh"

# build_tool MODULE PACKAGES TAGS LDFLAGS: `go install`-style: the module's own go.mod and go.sum,
# at the pinned version, copied from the module cache (a refused dependency is healed).
build_tool() {
  local mod=$1 pkgs=$2 tags=$3 ldflags=$4 d="$C_WORK/src" pkg flags=()
  copy_module "$mod@$C_VERSION" "$d" || {
    log "$mod@$C_VERSION: $DL_ERR"
    return 1
  }
  [ -z "$tags" ] || flags=(-tags "$tags")
  # shellcheck disable=SC2086 # pkgs is a word list
  heal_deps "$d" "${flags[@]}" $pkgs || return 1
  for pkg in $pkgs; do
    gobuild "$C_NAME-${pkg##*/}" "$d" "$C_BIN/${pkg##*/}" "$ldflags" "$pkg" "${flags[@]}" || return 1
  done
  set_status "ok $C_NAME: $mod@$C_VERSION $pkgs${tags:+ (tags $tags)}"
}

# build_py_tool "BINARY..." "REQUIREMENT...": a virtualenv under the component's dir with the pinned
# packages (no dependency resolution beyond them), and for each binary a wrapper in $C_BIN.
build_py_tool() {
  local bins=$1 reqs=$2 venv="$C_DIR/venv" b
  rm -rf "$venv"
  python3 -m venv "$venv" >"$C_LOGS/venv.log" 2>&1 || {
    log "python3 -m venv failed (Debian: apt-get install python3-venv): $(tail -1 "$C_LOGS/venv.log")"
    return 1
  }
  # shellcheck disable=SC2086 # reqs is a word list
  "$venv/bin/pip" install --disable-pip-version-check --no-input --no-deps -q $reqs >"$C_LOGS/pip.log" 2>&1 || {
    log "pip install failed: $(tail -3 "$C_LOGS/pip.log" | sed -E 's#https?://[^/ ]+/#the package index: #g')"
    return 1
  }
  "$venv/bin/pip" check >>"$C_LOGS/pip.log" 2>&1 || {
    log "the pinned packages do not fit together: $(tail -3 "$C_LOGS/pip.log")"
    return 1
  }
  for b in $bins; do
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$venv/bin/$b" >"$C_BIN/$b"
    chmod +x "$C_BIN/$b"
  done
  set_status "ok $C_NAME: $reqs ($(python3 -c 'import sys; print("python %d.%d" % sys.version_info[:2])'))"
}

FAILED=() BINDIRS=() NAMES=()
for want in "${WANT[@]}"; do
  if entry=$(printf '%s\n' "${PY_TOOLS[@]}" | grep "^$want|"); then
    IFS='|' read -r name ver recipe bins reqs <<<"$entry"
    pyver=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') || die "$name needs python3"
    if build_component "$name" "${ver}_py$pyver" "$recipe" "$bins" build_py_tool "$bins" "$reqs"; then
      BINDIRS+=("$C_BIN")
      NAMES+=("$name")
    else
      FAILED+=("$name")
    fi
    continue
  fi
  entry=$(printf '%s\n' "${TOOLS[@]}" | grep "^$want|") || die "unknown tool: $want (known: $(printf '%s\n' "${TOOLS[@]}" "${PY_TOOLS[@]}" | cut -d'|' -f1 | tr '\n' ' '))"
  IFS='|' read -r name mod ver recipe bins pkgs tags ldflags <<<"$entry"
  if build_component "$name" "$ver" "$recipe" "$bins" build_tool "$mod" "$pkgs" "$tags" "${ldflags//VERSION/$ver}"; then
    BINDIRS+=("$C_BIN")
    NAMES+=("$name")
  else
    FAILED+=("$name")
  fi
done
[ "${#FAILED[@]}" = 0 ] || die "failed: ${FAILED[*]} (logs under $CACHE_ROOT/<tool>/*/logs)"

# One bin dir per set of tools, relinked on every call (hard links to the cached binaries).
BIN="$CACHE_ROOT/bin/tools-$(printf '%s\n' "${NAMES[@]}" | sort -u | paste -sd+ -)"
link_set "$BIN" "${BINDIRS[@]}"
echo "$BIN"
