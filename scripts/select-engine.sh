#!/usr/bin/env bash
# Which Pulumi engine the engine tests use. Prints one line:
#
#   installed DIR   a Pulumi CLI on PATH (DIR holds it) at a version in package.json's
#                   engines.pulumi range: the tests use it and the plugins it acquires as usual;
#   build           none (or PRIVATE_REGISTRY_ENGINE=build): scripts/build-engine.sh builds one.
#
# PRIVATE_REGISTRY_ENGINE: auto (the default: installed if supported, else build), installed (stop
# with an error unless a supported CLI is on PATH), build (always build). Why goes to stderr.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
choice=${PRIVATE_REGISTRY_ENGINE:-auto}
case "$choice" in auto | installed | build) ;; *)
  echo "select-engine: PRIVATE_REGISTRY_ENGINE must be auto, installed or build; got '$choice'" >&2
  exit 2
  ;;
esac
if [ "$choice" = build ]; then
  echo "select-engine: PRIVATE_REGISTRY_ENGINE=build: building the engine from source" >&2
  echo build
  exit 0
fi

RANGE=$(node -p 'require(process.argv[1]).engines?.pulumi ?? ""' "$REPO/package.json")
[ -n "$RANGE" ] || {
  echo "select-engine: package.json has no engines.pulumi" >&2
  exit 2
}

# version_in RANGE VERSION: VERSION (X.Y.Z) satisfies every comparator of RANGE (">=A <B", "=A", ...).
le() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$1" ]; }
version_in() {
  local c op v
  for c in $1; do
    op=${c%%[0-9]*} v=${c#"$op"}
    case "$op" in
      ">=") le "$v" "$2" || return 1 ;;
      ">") le "$v" "$2" && [ "$v" != "$2" ] || return 1 ;;
      "<=") le "$2" "$v" || return 1 ;;
      "<") le "$2" "$v" && [ "$v" != "$2" ] || return 1 ;;
      "=" | "") [ "$v" = "$2" ] || return 1 ;;
      *) return 1 ;;
    esac
  done
}

reason=""
if cli=$(command -v pulumi); then
  out=$(PULUMI_SKIP_UPDATE_CHECK=true timeout 60 "$cli" version 2>&1) || out="(failed: $out)"
  version=$(printf '%s\n' "$out" | sed -nE '1s/^v?([0-9]+\.[0-9]+\.[0-9]+).*/\1/p')
  if [ -z "$version" ]; then
    reason="$cli version printed '$(printf '%s' "$out" | head -c 200)', not a version"
  elif version_in "$RANGE" "$version"; then
    echo "select-engine: using the Pulumi CLI $cli (v$version; supported: $RANGE) and its plugins" >&2
    echo "installed $(dirname "$cli")"
    exit 0
  else
    reason="$cli is v$version, outside the supported range $RANGE"
  fi
else
  reason="no pulumi on PATH"
fi
if [ "$choice" = installed ]; then
  echo "select-engine: PRIVATE_REGISTRY_ENGINE=installed, but $reason: install a Pulumi CLI in $RANGE, or unset PRIVATE_REGISTRY_ENGINE to build one from source" >&2
  exit 1
fi
echo "select-engine: $reason: building the engine from source (scripts/build-engine.sh)" >&2
echo build
