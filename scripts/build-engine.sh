#!/usr/bin/env bash
# Build the Pulumi engine (CLI), the Node.js and YAML language hosts and the resource providers
# this project's npm SDKs ask for, from Go source only: modules through the Go module proxy, and
# pinned upstream sources (scripts/upstream.sh) for what the proxy does not serve (no prebuilt
# binaries, no plugin downloads). Each component is cached on its own, keyed by its version, the Go version and
# its recipe number, so adding or bumping one never rebuilds another (scripts/engine/lib.sh).
#
#   scripts/build-engine.sh [--install-plugins] [--force] [--help]
#
# Last line on stdout: the absolute bin dir to put first on PATH. Everything else goes to stderr.
# See docs/real-engine.md for what is built and from what, and the environment `pulumi` needs to
# run fully offline; docs/testing.md for when the tests use it.
set -euo pipefail
SELF=build-engine

usage() {
  cat >&2 <<'EOF'
Usage: scripts/build-engine.sh [options]
  --install-plugins    also link the providers into $PULUMI_HOME/plugins/resource-<name>-v<version>/
                       (PULUMI_HOME defaults to ~/.pulumi), so `pulumi` finds them with
                       PULUMI_IGNORE_AMBIENT_PLUGINS=true and checks their versions.
  --force              rebuild every component, ignoring the cache.
  -h, --help           this text.
Environment:
  PULUMI_ENGINE_CACHE  cache root (default /var/cache/private-registry/engine)
  PULUMI_ENGINE_JOBS   go build -p value (default 2)
  PULUMI_ENGINE_KEEP_WORK=1  keep the scratch build dirs (under <cache>/work/)
  PULUMI_CLI_VERSION   build exactly this pulumi/pkg/v3 version instead of the npm SDK's
  PRIVATE_REGISTRY_VENDOR  a folder of upstream source snapshots (scripts/upstream.sh; default:
                       shared/vendor beside the clone; without one they are fetched with git)
  GOPROXY              the Go module proxy (from `go env GOPROXY`; "direct" and "off" are dropped)
  GO                   go binary (default: go on PATH, else /usr/local/go/bin/go)
EOF
}

INSTALL_PLUGINS=0 FORCE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --install-plugins) INSTALL_PLUGINS=1 ;;
    --force) FORCE=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "build-engine: unknown option: $1" >&2
      usage
      exit 2
      ;;
  esac
  shift
done

# shellcheck source=scripts/engine/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/engine/lib.sh"

# --- recipes: bump a component's number when the way it is built changes ---------------------
# (its scripts/engine/ templates included); that rebuilds that component only.
recipe() {
  case "$1" in
    cli) echo 2 ;;
    langhost) echo 3 ;;
    tls | random | docker) echo 2 ;;
    command) echo 1 ;;
    acme) echo 3 ;;
    yaml) echo 1 ;;
  esac
}

# --- pinned knowledge ----------------------------------------------------------------------------
# The Pulumi provider modules of tls, random and docker are not served by the module proxy: each is
# assembled from its upstream Terraform provider at the commit its release pins, the bridge and the
# templates in scripts/engine/bridged/. By Pulumi provider version:
#   module version kind(pf|sdkv2) [module path its go.mod declares, if different]
upstream_for() {
  case "$1@$2" in
    tls@5.6.1) echo "github.com/hashicorp/terraform-provider-tls v1.2.1-0.20260819085117-d044ca7c6f52 pf" ;;
    random@4.21.2) echo "github.com/terraform-providers/terraform-provider-random v1.3.2-0.20260824155315-e1092b0cfc07 pf" ;;
    docker@5.2.0) echo "github.com/kreuzwerker/terraform-provider-docker v0.0.0-20260916201441-96d331c98ff4 sdkv2 github.com/terraform-providers/terraform-provider-docker" ;;
  esac
}
BRIDGE_VERSION=${PULUMI_TF_BRIDGE_VERSION:-v3.137.0}
# Fork of terraform-plugin-sdk/v2 the bridge requires (replace directive of the bridge's go.mod).
TFSDK_FORK=${PULUMI_TFSDK_FORK:-github.com/pulumi/terraform-plugin-sdk/v2@v2.0.0-20260318212141-5525259d096b}
# The Node.js language host's source when the module proxy does not serve its own module at the
# CLI's version: scripts/upstream.sh's `langhost`, this release of it.
LANGHOST_SOURCE_VERSION=3.259.0
# The YAML language host: the pulumi-yaml release that matches the CLI (the last one before
# pulumi v3.259.0, requiring pkg/v3 v3.257.0; built against the CLI's pkg/sdk).
YAML_VERSION=${PULUMI_YAML_VERSION:-1.38.3}
CLI_SCAN_DEPTH=${PULUMI_CLI_SCAN_DEPTH:-40}

# --- versions: what the installed npm SDKs ask for ----------------------------------------------
# One source: node_modules/<package>/package.json, plugin name and version from its "pulumi"
# field ({name, version}) when present, else the package's own name and version. That is what the
# SDK sends the engine (utilities getVersion / resourceOptsDefaults).
PACKAGES=(@pulumi/pulumi @pulumi/tls @pulumi/random @pulumi/docker @pulumi/command @pulumiverse/acme)
command -v node >/dev/null || die "node is needed to read the SDK versions from node_modules"
declare -A PLUGIN_VERSION=()
# shellcheck disable=SC2016 # the node -e program is JavaScript, not shell
while read -r pkg plugin version; do
  PLUGIN_VERSION[$plugin]=$version
  [ "$pkg" = @pulumi/pulumi ] && SDK_VERSION=$version
done < <(node -e '
  const [dir, ...pkgs] = process.argv.slice(1);
  for (const pkg of pkgs) {
    let j;
    try { j = JSON.parse(require("fs").readFileSync(`${dir}/${pkg}/package.json`, "utf8")); } catch { continue; }
    const p = j.pulumi || {};
    console.log(pkg, p.name || pkg.split("/").pop(), String(p.version || j.version).replace(/^v/, ""));
  }' "$REPO/node_modules" "${PACKAGES[@]}")
[ -n "${SDK_VERSION:-}" ] || die "no $REPO/node_modules/@pulumi/pulumi/package.json: run npm ci first"

# --- the components ------------------------------------------------------------------------------
# name|version (cache key)|binary|builder
CLI_WANT=${PULUMI_CLI_VERSION:-$SDK_VERSION}
COMPONENTS=("cli|$CLI_WANT|pulumi|build_cli" "langhost|$SDK_VERSION|pulumi-language-nodejs|build_langhost")
for p in tls random docker; do
  if [ -n "${PLUGIN_VERSION[$p]:-}" ]; then COMPONENTS+=("$p|${PLUGIN_VERSION[$p]}|pulumi-resource-$p|build_bridged"); fi
done
COMPONENTS+=("yaml|$YAML_VERSION|pulumi-language-yaml|build_yaml")

# unpack_upstream NAME DIR: scripts/upstream.sh's source NAME (local snapshot, or fetched from
# upstream at its pinned commit) unpacked into DIR.
unpack_upstream() {
  local tarball
  tarball=$(bash "$REPO/scripts/upstream.sh" "$1") || return 1
  tar -xzf "$tarball" -C "$2"
}
# with_upstream COMPONENT VERSION BINARY SOURCE...: the providers built from upstream sources are
# left out, with a warning, when they are not cached and a source cannot be had (no snapshot, no
# git or no route to the repository): the engine still serves every program that does not use them.
with_upstream() {
  local source
  comp_init "$1" "$2" "$(recipe "$1")"
  [ "$FORCE" = 1 ] || ! comp_cached "$3" || return 0
  for source in "${@:4}"; do
    bash "$REPO/scripts/upstream.sh" "$source" >/dev/null || {
      log "WARNING: $1 not built: no upstream source '$source' (scripts/upstream.sh; set PRIVATE_REGISTRY_VENDOR)"
      return 1
    }
  done
}
if [ -n "${PLUGIN_VERSION[command]:-}" ] && with_upstream command "${PLUGIN_VERSION[command]}" pulumi-resource-command command; then
  COMPONENTS+=("command|${PLUGIN_VERSION[command]}|pulumi-resource-command|build_command")
fi
if [ -n "${PLUGIN_VERSION[acme]:-}" ] && with_upstream acme "${PLUGIN_VERSION[acme]}" pulumi-resource-acme acme acme-tf; then
  COMPONENTS+=("acme|${PLUGIN_VERSION[acme]}|pulumi-resource-acme|build_acme")
fi

# --- pulumi CLI (github.com/pulumi/pulumi/pkg/v3 ./cmd/pulumi) ---------------------------------
# The CLI version is the npm SDK's, or, when the module proxy refuses that pkg/v3 version, the
# nearest older minor release it serves (at most CLI_SCAN_DEPTH minors down). The choice is kept in
# the CLI's cache dir (cli-version) so the bridged providers link against the same pulumi pkg/sdk.
CLI_RECORD="$CACHE_ROOT/cli/${CLI_WANT}_${GO_VERSION}_r$(recipe cli)/cli-version"
CLI_VERSION="" CLI_NOTE=""
[ "$FORCE" = 0 ] || rm -f "$CLI_RECORD"
resolve_cli_version() {
  [ -n "$CLI_VERSION" ] && return 0
  if [ -s "$CLI_RECORD" ]; then
    IFS='|' read -r CLI_VERSION CLI_NOTE <"$CLI_RECORD"
    return 0
  fi
  local major minor _patch cand i tried="" first_err=""
  IFS=. read -r major minor _patch <<<"$CLI_WANT"
  local cands=("$CLI_WANT")
  if [ -z "${PULUMI_CLI_VERSION:-}" ]; then
    for i in $(seq 1 "$CLI_SCAN_DEPTH"); do [ $((minor - i)) -ge 0 ] && cands+=("$major.$((minor - i)).0"); done
  fi
  for cand in "${cands[@]}"; do
    if modcache_dir "github.com/pulumi/pulumi/pkg/v3@v$cand" && modcache_dir "github.com/pulumi/pulumi/sdk/v3@v$cand"; then
      CLI_VERSION=$cand
      break
    fi
    [ -n "$first_err" ] || first_err=$DL_ERR
    tried="$tried $cand"
  done
  [ -n "$CLI_VERSION" ] || {
    log "no pkg/v3 version served among:$tried ($first_err)"
    return 1
  }
  if [ "$CLI_VERSION" != "$CLI_WANT" ]; then
    log "pkg/v3@v$CLI_WANT not served by the module proxy: $first_err"
    log "using the nearest served version v$CLI_VERSION (refused:$tried)"
    CLI_NOTE="wanted v$CLI_WANT, refused by the module proxy: $first_err; refused too:$tried"
  fi
  mkdir -p "$(dirname "$CLI_RECORD")"
  printf '%s|%s\n' "$CLI_VERSION" "$CLI_NOTE" >"$CLI_RECORD"
}

build_cli() {
  resolve_cli_version || return 1
  local src="$C_WORK/pulumi" # pkg/ and sdk/ side by side (pkg's go.mod: replace sdk => ../sdk)
  copy_module "github.com/pulumi/pulumi/pkg/v3@v$CLI_VERSION" "$src/pkg" || { log "$DL_ERR"; return 1; }
  copy_module "github.com/pulumi/pulumi/sdk/v3@v$CLI_VERSION" "$src/sdk" || { log "$DL_ERR"; return 1; }
  heal_deps "$src/pkg" ./cmd/pulumi || return 1
  gobuild cli "$src/pkg" "$C_BIN/pulumi" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$CLI_VERSION" ./cmd/pulumi || return 1
  set_status "ok pulumi v$CLI_VERSION (github.com/pulumi/pulumi/pkg/v3@v$CLI_VERSION ./cmd/pulumi)${CLI_NOTE:+; $CLI_NOTE}"
}

# --- Node.js language host -----------------------------------------------------------------------
# Its own module at the CLI's version when the module proxy serves it; else its upstream source
# (LANGHOST_SOURCE_VERSION), whose go.mod points pkg/v3 and sdk/v3 at the pulumi repository around
# it: those two replace lines go, and it requires the CLI's pkg/v3 and sdk/v3 instead.
build_langhost() {
  local mod="github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3" v src dir split_err
  resolve_cli_version || return 1
  v=$CLI_VERSION src="$C_WORK/pulumi"
  # 1) the split module at the CLI's version (its go.mod replaces ../../../../pkg and ../../..)
  if modcache_dir "$mod@v$v"; then
    copy_module "github.com/pulumi/pulumi/pkg/v3@v$v" "$src/pkg" || return 1
    copy_module "github.com/pulumi/pulumi/sdk/v3@v$v" "$src/sdk" || return 1
    copy_module "$mod@v$v" "$src/sdk/nodejs/cmd/pulumi-language-nodejs" || return 1
    dir="$src/sdk/nodejs/cmd/pulumi-language-nodejs"
    heal_deps "$dir" . || return 1
    gobuild langhost "$dir" "$C_BIN/pulumi-language-nodejs" \
      "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" . || return 1
    set_status "ok pulumi-language-nodejs v$v ($mod@v$v)"
    return 0
  fi
  split_err=$DL_ERR
  log "language host module $mod@v$v not served ($split_err); building its v$LANGHOST_SOURCE_VERSION source"
  # 2) the upstream source, against the CLI's pulumi pkg/sdk
  unpack_upstream langhost "$C_WORK" || return 1
  dir="$C_WORK/pulumi-language-nodejs"
  (cd "$dir" && "$GO" mod edit -dropreplace=github.com/pulumi/pulumi/pkg/v3 -dropreplace=github.com/pulumi/pulumi/sdk/v3 \
    -require="github.com/pulumi/pulumi/pkg/v3@v$v" -require="github.com/pulumi/pulumi/sdk/v3@v$v") || return 1
  heal_deps "$dir" . || return 1
  gobuild langhost "$dir" "$C_BIN/pulumi-language-nodejs" \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$LANGHOST_SOURCE_VERSION" . || return 1
  set_status "ok pulumi-language-nodejs v$LANGHOST_SOURCE_VERSION (upstream source, scripts/upstream.sh langhost; pulumi pkg/sdk v$v); $mod@v$v: $split_err"
}

# --- YAML language host (github.com/pulumi/pulumi-yaml ./cmd/pulumi-language-yaml) --------------
build_yaml() {
  local d="$C_WORK/pulumi-yaml"
  resolve_cli_version || return 1
  copy_module "github.com/pulumi/pulumi-yaml@v$C_VERSION" "$d" || { log "$DL_ERR"; return 1; }
  (cd "$d" && "$GO" mod edit -require="github.com/pulumi/pulumi/pkg/v3@v$CLI_VERSION" \
    -require="github.com/pulumi/pulumi/sdk/v3@v$CLI_VERSION") || return 1
  heal_deps "$d" ./cmd/pulumi-language-yaml || return 1
  gobuild yaml "$d" "$C_BIN/pulumi-language-yaml" \
    "-X github.com/pulumi/pulumi-yaml/pkg/version.Version=v$C_VERSION" ./cmd/pulumi-language-yaml || return 1
  set_status "ok pulumi-language-yaml v$C_VERSION (github.com/pulumi/pulumi-yaml@v$C_VERSION ./cmd/pulumi-language-yaml, pulumi pkg/sdk v$CLI_VERSION)"
}

# --- bridged providers (tls, random, docker) -----------------------------------------------------
# A small Go module per provider, as the upstream repos have: shim/ (module path inside the
# upstream's, to reach its internal/provider), info/ (the ProviderInfo mapping: tokens and names of
# the @pulumi/<name> npm SDK) and the two mains. Copied from scripts/engine/bridged/, with
# UPSTREAM_MODULE replaced by the upstream's module path. The schema is generated by the provider's
# own tfgen binary, as in the upstream Makefiles, then embedded.
build_bridged() {
  local n=$C_NAME v=$C_VERSION up um uv kind path updir f t="$ENGINE_TEMPLATES/bridged"
  local d="$C_WORK/provider"
  up=$(upstream_for "$n" "$v")
  [ -n "$up" ] || { log "no pinned upstream for $n $v: add the commit its release pins to upstream_for in scripts/build-engine.sh"; return 1; }
  read -r um uv kind path <<<"$up"
  path=${path:-$um}
  resolve_cli_version || return 1 # the providers link against the CLI's pulumi pkg/sdk
  modcache_dir "$um@$uv" || { log "upstream $um@$uv: $DL_ERR"; return 1; }
  updir=$MODDIR
  mkdir -p "$d/cmd"
  cp -r "$t/$kind/shim" "$d/shim"
  cp -r "$t/$kind/cmd/pulumi-tfgen" "$d/cmd/pulumi-tfgen-$n"
  cp -r "$t/$kind/cmd/pulumi-resource" "$d/cmd/pulumi-resource-$n"
  cp -r "$t/$n/info" "$d/info"
  find "$d" -name '*.go' -exec sed -i "s#UPSTREAM_MODULE#$path#g" {} +
  # placeholders: tfgen overwrites them, the runtime main embeds them
  for f in cmd/pulumi-tfgen-$n/bridge-metadata.json cmd/pulumi-resource-$n/bridge-metadata.json cmd/pulumi-resource-$n/schema.json; do
    echo '{}' >"$d/$f"
  done
  printf 'module %s\n\ngo 1.25\n' "$path/shim" >"$d/shim/go.mod"
  printf 'module pulumi-engine-build.local/provider\n\ngo 1.25\n' >"$d/go.mod"
  local edits=(
    -require="$path/shim@v0.0.0" -replace="$path/shim=./shim"
    -require="github.com/pulumi/pulumi-terraform-bridge/v3@$BRIDGE_VERSION"
    -require="github.com/pulumi/pulumi/pkg/v3@v$CLI_VERSION" -require="github.com/pulumi/pulumi/sdk/v3@v$CLI_VERSION"
    -replace="github.com/hashicorp/terraform-plugin-sdk/v2=$TFSDK_FORK"
  )
  if [ "$path" = "$um" ]; then
    edits+=(-require="$um@$uv")
  else
    edits+=(-require="$path@v0.0.0" -replace="$path=$um@$uv")
  fi
  (cd "$d" && "$GO" mod edit "${edits[@]}") || return 1
  heal_deps "$d" "./cmd/pulumi-tfgen-$n" "./cmd/pulumi-resource-$n" || return 1
  local ld="-X pulumi-engine-build.local/provider/info.Version=$v" tfgen="$C_WORK/pulumi-tfgen-$n"
  gobuild "tfgen-$n" "$d" "$tfgen" "$ld" "./cmd/pulumi-tfgen-$n" || return 1
  (cd "$C_WORK" && UPSTREAM_REPO_PATH="$updir" "$tfgen" schema --skip-examples --out "provider/cmd/pulumi-resource-$n") \
    >"$C_LOGS/schema-$n.log" 2>&1 || {
    tail -30 "$C_LOGS/schema-$n.log" >&2
    return 1
  }
  gobuild "$n" "$d" "$C_BIN/pulumi-resource-$n" "$ld" "./cmd/pulumi-resource-$n" || return 1
  cp "$d/cmd/pulumi-resource-$n/schema.json" "$C_DIR/schema.json"
  set_status "ok pulumi-resource-$n $v (bridged: $um@$uv + pulumi-terraform-bridge $BRIDGE_VERSION + pulumi v$CLI_VERSION)"
}

# --- command provider (native, pulumi-go-provider), from its upstream source -----------------------
build_command() {
  local v=$C_VERSION d="$C_WORK/pulumi-command"
  unpack_upstream command "$C_WORK" || return 1
  heal_deps "$d" ./provider/cmd/pulumi-resource-command || return 1
  gobuild command "$d" "$C_BIN/pulumi-resource-command" \
    "-X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$v" ./provider/cmd/pulumi-resource-command || return 1
  set_status "ok pulumi-resource-command $v (upstream source, scripts/upstream.sh command)"
}

# --- acme provider (pulumiverse, bridged), from its upstream sources -------------------------------
# Its go.mod pins pulumi-terraform-bridge v3.125.0, which the module proxy refuses: build it with
# BRIDGE_VERSION and, like the other bridged providers, the CLI's pulumi pkg/sdk (so a cold build
# shares their compiled packages), against the terraform-provider-acme source. schema-embed.json is made from the
# committed schema.json by the snapshot's own generate.go (what its go:generate line runs). The
# replace path is relative: the binary records it, and it must not depend on the cache's location.
build_acme() {
  local v=$C_VERSION d="$C_WORK/pulumi-acme/provider"
  resolve_cli_version || return 1
  unpack_upstream acme "$C_WORK" || return 1
  unpack_upstream acme-tf "$C_WORK" || return 1
  (cd "$d" && "$GO" mod edit -require="github.com/pulumi/pulumi-terraform-bridge/v3@$BRIDGE_VERSION" \
    -require="github.com/pulumi/pulumi/pkg/v3@v$CLI_VERSION" -require="github.com/pulumi/pulumi/sdk/v3@v$CLI_VERSION" \
    -replace="github.com/vancluever/terraform-provider-acme/v2=../../terraform-provider-acme") || return 1
  echo '{}' >"$d/cmd/pulumi-resource-acme/schema-embed.json" # so that `go list` resolves the embed
  heal_deps "$d" ./cmd/pulumi-resource-acme || return 1
  (cd "$d/cmd/pulumi-resource-acme" && VERSION=$v "$GO" run -p "$JOBS" ./generate.go) >>"$C_LOGS/generate.log" 2>&1 || {
    tail -20 "$C_LOGS/generate.log" >&2
    return 1
  }
  gobuild acme "$d" "$C_BIN/pulumi-resource-acme" \
    "-X github.com/pulumiverse/pulumi-acme/provider/pkg/version.Version=$v" ./cmd/pulumi-resource-acme || return 1
  set_status "ok pulumi-resource-acme $v (upstream sources, scripts/upstream.sh acme + acme-tf, pulumi-terraform-bridge $BRIDGE_VERSION + pulumi v$CLI_VERSION)"
}

# --- run (biggest first, one at a time: peak memory stays around 2 GB) ---------------------------
T_START=$SECONDS
FAILED=() BINDIRS=() KEYS=()
for entry in "${COMPONENTS[@]}"; do
  IFS='|' read -r name ver bin builder <<<"$entry"
  if build_component "$name" "$ver" "$(recipe "$name")" "$bin" "$builder"; then
    BINDIRS+=("$C_BIN")
  else
    FAILED+=("$name")
  fi
  KEYS+=("$C_DIR")
done
[ $((SECONDS - T_START)) -lt 5 ] || log "TIMING all components $((SECONDS - T_START))s"

for entry in "${COMPONENTS[@]}"; do
  IFS='|' read -r name ver bin builder <<<"$entry"
  comp_init "$name" "$ver" "$(recipe "$name")"
  if [ -f "$C_DIR/status" ]; then status=$(head -1 "$C_DIR/status"); else status="FAILED, logs in $C_LOGS"; fi
  log "  $name (wanted $ver): $status"
done
[ "${#FAILED[@]}" = 0 ] || die "failed: ${FAILED[*]}"

# One bin dir per set of component builds (hard links, relinked on every run): adding or bumping a
# component gives a new dir and leaves the old one as it was.
BIN="$CACHE_ROOT/bin/engine-$(printf '%s\n' "${KEYS[@]}" | sha256sum | cut -c1-12)"
link_set "$BIN" "${BINDIRS[@]}"

if [ "$INSTALL_PLUGINS" = 1 ]; then
  home=${PULUMI_HOME:-$HOME/.pulumi}
  for entry in "${COMPONENTS[@]}"; do
    IFS='|' read -r name ver bin builder <<<"$entry"
    case "$name" in cli | langhost | yaml) continue ;; esac
    comp_init "$name" "$ver" "$(recipe "$name")"
    dir="$home/plugins/resource-$name-v$ver"
    mkdir -p "$dir"
    ln -sfn "$C_BIN/$bin" "$dir/$bin"
    rm -f "$dir.partial"
    log "plugin installed: $dir/$bin -> $C_BIN/$bin"
  done
fi
log "use: export PATH=\"$BIN:\$PATH\" PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true"
[ "$INSTALL_PLUGINS" = 0 ] || log "     and PULUMI_IGNORE_AMBIENT_PLUGINS=true to use the linked plugins without PATH warnings"
echo "$BIN"
