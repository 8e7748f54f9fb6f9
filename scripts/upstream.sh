#!/usr/bin/env bash
# The upstream sources the tests build from that no package registry serves, each pinned to one
# commit of its upstream repository. Prints the path of a gzipped tarball of that source (its files
# under one top directory), from the first of:
#
#   1. a local folder of snapshots: $PRIVATE_REGISTRY_VENDOR, else shared/vendor beside the clone
#      (in a git worktree elsewhere: beside the main checkout);
#   2. <cache>/upstream/<file>: fetched once from the upstream repository with
#      `git fetch --depth 1 URL COMMIT` (git checks every object it receives against its id, so
#      what arrives is exactly that commit's content) and packed with `git archive`.
#
#   scripts/upstream.sh NAME      NAME: one of --list's names
#   scripts/upstream.sh --list    names, files, repositories, commits
#   scripts/upstream.sh --vendor-dir   the local folder of snapshots it looks in
#   scripts/upstream.sh --fetch URL COMMIT TOP SUBTREE "PATHS" OUT
#                                 step 2 alone for any repository (OUT: the .tar.gz to write)
#
# Environment: PRIVATE_REGISTRY_VENDOR (the local folder), PULUMI_ENGINE_CACHE (cache root, as for
# scripts/build-engine.sh). For tests only: PRIVATE_REGISTRY_UPSTREAM_GIT replaces
# https://github.com as the base of the repositories' URLs.
set -euo pipefail
SELF=upstream

# name|snapshot file|repository|commit|top directory|subtree ("." for the root)|paths (empty: all)
# The commits are those of the snapshots' `git archive` headers (`git get-tar-commit-id`); langhost's
# snapshot is a subtree, which records none: v3.259.0's release commit.
SOURCES=(
  "command|pulumi-command-010bd8e0dd8a.tar.gz|pulumi/pulumi-command|010bd8e0dd8a2f13707aa3b5061739edd90790a5|pulumi-command|.|"
  "acme|pulumi-acme-18f9d0c50a63.tar.gz|pulumiverse/pulumi-acme|18f9d0c50a630e43a46c1980cb784954abd4f01e|pulumi-acme|.|LICENSE provider"
  "acme-tf|terraform-provider-acme-v2.48.1.tar.gz|vancluever/terraform-provider-acme|1ccc44d4ff7f166cd8c0536c1b9f6f1631a4f8cb|terraform-provider-acme|.|"
  "langhost|pulumi-language-nodejs-v3.259.0.tar.gz|pulumi/pulumi|a05d88f24d05726fa3beae771bfdedb0c0c6a94a|pulumi-language-nodejs|sdk/nodejs/cmd/pulumi-language-nodejs|"
  "ui|docker-registry-ui-2.5.7.tar.gz|Joxit/docker-registry-ui|6c3c27e215d3367fffe6c2dd15f379246c2a6a7a|docker-registry-ui|.|Dockerfile LICENSE README.md bin nginx dist"
)

log() { printf '%s: %s\n' "$SELF" "$*" >&2; }
die() {
  printf '%s: ERROR: %s\n' "$SELF" "$*" >&2
  exit 1
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${PULUMI_ENGINE_CACHE:-/var/cache/private-registry/engine}/upstream

# The local folder of snapshots.
vendor_dir() {
  local d common
  if [ -n "${PRIVATE_REGISTRY_VENDOR:-}" ]; then
    printf '%s' "$PRIVATE_REGISTRY_VENDOR"
    return
  fi
  d="$REPO/../shared/vendor"
  if [ ! -d "$d" ] && common=$(git -C "$REPO" rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
    d="$(dirname "$common")/../shared/vendor"
  fi
  printf '%s' "$d"
}

# fetch URL COMMIT TOP SUBTREE PATHS OUT: OUT gets COMMIT's SUBTREE (PATHS of it, or all) under
# TOP/. Only blobs of those paths are downloaded (a partial fetch, where the server allows it).
# Nothing is written to OUT unless every step succeeds.
fetch() (
  url=$1 commit=$2 top=$3 subtree=$4 paths=$5 out=$6
  [[ "$commit" =~ ^[0-9a-f]{40}$ ]] || die "pinned commit '$commit' is not a full 40-hex commit id"
  mkdir -p "$(dirname "$out")"
  work=$(mktemp -d "$(dirname "$out")/.fetch-XXXXXX")
  trap 'rm -rf "$work"' EXIT
  g=(git -C "$work/git" -c advice.detachedHead=false -c init.defaultBranch=upstream)
  # run_git WHAT ARGS...: git, its errors shown on one line if it fails.
  run_git() {
    "${g[@]}" "${@:2}" 2>"$work/err" && return 0
    log "$(tr '\n' ' ' <"$work/err")"
    log "$url: $1: refused"
    return 1
  }
  mkdir "$work/git" && "${g[@]}" init -q
  log "fetching $url at $commit"
  run_git "no commit $commit there (a moved tag or rewritten history gives another id)" \
    fetch -q --depth 1 --filter=blob:none --no-tags "$url" "$commit" || exit 1
  got=$("${g[@]}" rev-parse --verify -q 'FETCH_HEAD^{commit}') || got=""
  [ "$got" = "$commit" ] || {
    log "$url sent commit '$got' for $commit: refused"
    exit 1
  }
  # The blobs: a sparse checkout of just the wanted paths downloads them in one batch, each
  # checked against its id; `git archive` then reads them locally.
  prefix="" spec=()
  [ "$subtree" = . ] || prefix="$subtree/"
  if [ -n "$paths" ]; then
    for p in $paths; do spec+=("/$prefix$p"); done
  else
    spec=("/$prefix")
  fi
  run_git "sparse-checkout" sparse-checkout set --no-cone "${spec[@]}" || exit 1
  run_git "the content of commit $commit did not arrive intact" checkout -q "$commit" || exit 1
  tree=$commit
  [ "$subtree" = . ] || tree="$commit:$subtree"
  # shellcheck disable=SC2086 # paths is a word list
  run_git "git archive" archive --format=tar.gz --prefix="$top/" -o "$work/out.tar.gz" "$tree" $paths || exit 1
  mv -f "$work/out.tar.gz" "$out"
)

entry_of() {
  printf '%s\n' "${SOURCES[@]}" | grep "^$1|" ||
    die "unknown upstream source '$1' (known: $(printf '%s\n' "${SOURCES[@]}" | cut -d'|' -f1 | tr '\n' ' '))"
}

case "${1:-}" in
  --list)
    printf '%s\n' "${SOURCES[@]}" | awk -F'|' '{printf "%-9s %-40s github.com/%s@%s\n", $1, $2, $3, $4}'
    ;;
  --vendor-dir)
    vendor_dir
    echo
    ;;
  --fetch)
    [ $# -eq 7 ] || die "usage: $0 --fetch URL COMMIT TOP SUBTREE PATHS OUT"
    fetch "${@:2}"
    ;;
  "" | -*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
  *)
    entry=$(entry_of "$1") || exit 1
    IFS='|' read -r name file repo commit top subtree paths <<<"$entry"
    local_dir=$(vendor_dir)
    if [ -f "$local_dir/$file" ]; then
      echo "$local_dir/$file"
      exit 0
    fi
    out="$CACHE/${file%.tar.gz}-${commit:0:12}.tar.gz"
    if [ ! -s "$out" ]; then
      mkdir -p "$CACHE" || die "cannot create $CACHE (set PULUMI_ENGINE_CACHE)"
      exec {lock}>"$CACHE/.$name.lock"
      flock "$lock"
      if [ ! -s "$out" ]; then
        command -v git >/dev/null || die "$name: no $local_dir/$file, and no git to fetch it from upstream"
        log "$name: no $local_dir/$file (set PRIVATE_REGISTRY_VENDOR to a folder of snapshots); fetching it"
        fetch "${PRIVATE_REGISTRY_UPSTREAM_GIT:-https://github.com}/$repo" "$commit" "$top" "$subtree" "$paths" "$out" ||
          die "$name: not in $local_dir and not fetched from upstream"
      fi
    fi
    echo "$out"
    ;;
esac
