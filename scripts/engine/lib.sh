# shellcheck shell=bash
# Sourced by scripts/build-engine.sh and scripts/build-tools.sh (which set SELF first): the
# per-component cache, the Go setup, module downloads, dependency healing and timed builds.
#
# Cache layout (root: PULUMI_ENGINE_CACHE, default /var/cache/private-registry/engine):
#   <root>/<component>/<version>_<go version>_r<recipe>/
#       bin/         the component's binaries
#       status       one line: "ok <what was built, from what>"
#       seconds      wall time of the build that filled it
#       logs/        one log per go build (last line: wall time and peak RSS)
#   <root>/bin/<set>/    hard links to the binaries of one set of components (printed on stdout)
#   <root>/work/<component>/   scratch copies during a build, removed afterwards
# A component is rebuilt only when its own key changes, so adding one never rebuilds another.

# Go quotes the module proxy's URL in its errors; the log names no registry host (nor do notes
# cached by earlier runs, which pass through here too).
log() { printf '%s: %s\n' "$SELF" "$*" | sed -E 's#(reading )?https?://[^/ ]+/#the module proxy: #g' >&2; }
die() {
  printf '%s: ERROR: %s\n' "$SELF" "$*" >&2
  exit 1
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC2034 # used by the sourcing scripts
ENGINE_TEMPLATES="$REPO/scripts/engine"
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$GO" ] || die "no Go toolchain (looked for go on PATH and /usr/local/go/bin/go)"
GO_VERSION=$("$GO" env GOVERSION)
JOBS=${PULUMI_ENGINE_JOBS:-2}
CACHE_ROOT=${PULUMI_ENGINE_CACHE:-/var/cache/private-registry/engine}
FORCE=${FORCE:-0}
mkdir -p "$CACHE_ROOT" || die "cannot create the cache root $CACHE_ROOT (set PULUMI_ENGINE_CACHE)"

# setup_go: environment for every go command, done once and only when something is built (a warm
# run needs no network). Only the module proxies of `go env GOPROXY` are kept: "direct" would
# clone from version-control hosts and "off" forbids downloads.
GO_READY=0
setup_go() {
  [ "$GO_READY" = 1 ] && return 0
  local orig rest item sep="" next kept=""
  orig=$("$GO" env GOPROXY)
  rest=$orig
  while [ -n "$rest" ]; do
    item=${rest%%[,|]*}
    rest=${rest:${#item}}
    next=${rest:0:1}
    rest=${rest:1}
    case "$item" in
      direct | off | "") ;;
      *)
        kept+="$sep$item"
        sep=${next:-,}
        ;;
    esac
  done
  [ -n "$kept" ] || die "GOPROXY is '$orig': no module proxy left once 'direct' and 'off' are dropped. \
These builds fetch Go modules only through a module proxy: set GOPROXY to your Go module proxy's URL \
(export GOPROXY=... or go env -w GOPROXY=...)."
  export GOPROXY=$kept
  # -mod=mod: the scratch copies get their go.sum completed as needed. GOTOOLCHAIN=local: never
  # fetch another Go toolchain behind our back.
  export GOFLAGS="${GOFLAGS:-} -buildvcs=false -mod=mod"
  export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
  GO_READY=1
}

# --- one component -----------------------------------------------------------------------------
# comp_init NAME VERSION RECIPE: sets C_NAME C_VERSION C_DIR C_BIN C_LOGS C_WORK.
comp_init() {
  # shellcheck disable=SC2034 # used by the build functions
  C_NAME=$1 C_VERSION=$2
  C_DIR="$CACHE_ROOT/$1/${2}_${GO_VERSION}_r$3"
  C_BIN="$C_DIR/bin" C_LOGS="$C_DIR/logs" C_WORK="$CACHE_ROOT/work/$1"
}

# comp_cached BINARY...: the current component's status says ok and every binary is there.
comp_cached() {
  local b
  [ -f "$C_DIR/status" ] && [ "$(cut -c1-2 "$C_DIR/status")" = ok ] || return 1
  for b in "$@"; do [ -x "$C_BIN/$b" ] || return 1; done
}

set_status() { printf '%s\n' "$*" >"$C_DIR/status"; }

# build_component NAME VERSION RECIPE "BINARY..." FUNCTION [ARG...]
# Builds the component with FUNCTION (run with C_* set, cwd unchanged; it writes the binaries to
# $C_BIN and calls set_status "ok ...") unless the cache has it. Concurrent runs for the same
# component wait for each other. Returns non-zero if the build failed.
build_component() {
  local name=$1 version=$2 recipe=$3 bins=$4 fn=$5 lockfd rc=0 t0=$SECONDS
  shift 5
  comp_init "$name" "$version" "$recipe"
  # shellcheck disable=SC2086 # bins is a word list
  if [ "$FORCE" != 1 ] && comp_cached $bins; then
    log "$name $version: cached"
    return 0
  fi
  mkdir -p "$C_BIN" "$C_LOGS"
  exec {lockfd}>"$C_DIR/.lock"
  if ! flock -n "$lockfd"; then
    log "$name: another build holds $C_DIR/.lock; waiting"
    flock "$lockfd"
    # shellcheck disable=SC2086
    if comp_cached $bins; then
      exec {lockfd}>&-
      return 0
    fi
  fi
  setup_go
  rm -f "$C_DIR/status"
  rm -rf "$C_WORK" && mkdir -p "$C_WORK"
  log "building $name $version (cache $C_DIR) ..."
  "$fn" "$@" || rc=$?
  if [ "$rc" = 0 ]; then
    local b
    for b in $bins; do [ -x "$C_BIN/$b" ] || { log "$name: $b was not produced"; rc=1; }; done
  fi
  if [ "$rc" = 0 ]; then
    echo "$((SECONDS - t0))" >"$C_DIR/seconds"
    log "TIMING $name $((SECONDS - t0))s total"
  else
    rm -f "$C_DIR/status"
    log "$name $version FAILED after $((SECONDS - t0))s (logs: $C_LOGS)"
  fi
  [ "${PULUMI_ENGINE_KEEP_WORK:-0}" = 1 ] || rm -rf "$C_WORK"
  exec {lockfd}>&-
  return "$rc"
}

# link_set DIR SOURCE-BIN-DIR...: DIR gets a hard link (a copy across file systems) to every file
# of the given component bin dirs. Hard links, not symlinks: the pulumi CLI looks for its language
# host next to its own resolved path.
link_set() {
  local dir=$1 src f
  shift
  mkdir -p "$dir"
  for src in "$@"; do
    for f in "$src"/*; do
      [ -f "$f" ] || continue
      # Already this file: left alone, so a process starting it from DIR meanwhile never finds it missing.
      [ "$f" -ef "$dir/${f##*/}" ] && continue
      ln -f "$f" "$dir/" 2>/dev/null || cp -f "$f" "$dir/"
    done
  done
}

# --- Go helpers (run inside a component build) --------------------------------------------------
# modcache_dir MODULE@VERSION: download (or find) a module in the shared module cache. Sets MODDIR
# to its directory, or DL_ERR to the proxy's answer and returns 1. (Globals, not stdout: a $(...)
# subshell would lose DL_ERR.)
DL_ERR="" MODDIR=""
modcache_dir() {
  local out
  MODDIR="" DL_ERR=""
  out=$(cd "$C_WORK" && "$GO" mod download -json "$1" 2>&1) || true
  MODDIR=$(printf '%s\n' "$out" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p' | head -1)
  if [ -z "$MODDIR" ] || printf '%s' "$out" | grep -q '"Error"'; then
    DL_ERR=$(printf '%s\n' "$out" | sed -nE 's/^[[:space:]]*"Error": "(.*)",?$/\1/p' | head -1 | sed -E 's/(\\n|\\t)+/ /g')
    [ -n "$DL_ERR" ] || DL_ERR=$(printf '%s\n' "$out" | tail -1)
    # Go quotes the proxy's URL; our logs and status files say "the module proxy" instead, so no
    # registry host ends up in a log or a committed note.
    DL_ERR=$(printf '%s' "$DL_ERR" | sed -E 's#(reading )?https?://[^/ ]+/#the module proxy: #g')
    MODDIR=""
    return 1
  fi
}

copy_module() { # MODULE@VERSION DEST: a writable copy of the module's source
  modcache_dir "$1" || return 1
  rm -rf "$2" && mkdir -p "$(dirname "$2")" && cp -r "$MODDIR" "$2" && chmod -R u+w "$2"
}

# heal_deps DIR PKG...: resolve the build list; when the proxy refuses one module version
# (403/404/410), require the next newer version it does serve, and retry.
heal_deps() {
  local dir=$1 _ out modver mod ver next
  shift
  for _ in $(seq 1 12); do
    if out=$(cd "$dir" && "$GO" list -deps "$@" 2>&1 >/dev/null); then return 0; fi
    # e.g. "go: gocloud.dev@v0.46.1-0.2026...: reading <proxy>/gocloud.dev/@v/....zip: 403 Forbidden"
    modver=$(printf '%s\n' "$out" | grep -oE '[A-Za-z0-9._~/+-]+@v[0-9][^: ]*: reading [^ ]+: (403|404|410)' |
      head -1 | sed -E 's/: reading.*//') || true
    [ -n "$modver" ] || {
      printf '%s\n' "$out" | tail -20 >&2
      return 1
    }
    mod=${modver%@*} ver=${modver#*@}
    next=$(cd "$dir" && "$GO" list -m -versions "$mod" 2>/dev/null | tr ' ' '\n' | tail -n +2 |
      { cat; echo "$ver"; } | sort -V | awk -v v="$ver" 'f{print;exit} $0==v{f=1}') || true
    [ -n "$next" ] || {
      log "the module proxy refuses $modver and serves no newer version"
      printf '%s\n' "$out" | tail -5 >&2
      return 1
    }
    log "  the module proxy refuses $modver; using $mod@$next"
    (cd "$dir" && "$GO" mod edit -require="$mod@$next")
  done
  return 1
}

# gobuild LABEL DIR OUT LDFLAGS PKG [GO BUILD FLAG...]: one binary, written atomically; wall time
# and peak RSS logged.
gobuild() {
  local label=$1 dir=$2 out=$3 ldflags=$4 pkg=$5 t0=$SECONDS timer=()
  shift 5
  [ -x /usr/bin/time ] && timer=(/usr/bin/time -f "%e s wall, %M KB max RSS")
  if ! (cd "$dir" && "${timer[@]}" "$GO" build -p "$JOBS" -trimpath "$@" -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") \
    >>"$C_LOGS/$label.log" 2>&1; then
    tail -30 "$C_LOGS/$label.log" >&2
    return 1
  fi
  mv -f "$out.tmp" "$out"
  local extra=""
  [ ${#timer[@]} -gt 0 ] && extra=" ($(tail -1 "$C_LOGS/$label.log"))"
  log "TIMING $label $((SECONDS - t0))s$extra"
}
