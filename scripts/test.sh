#!/usr/bin/env bash
# `npm test`: every test layer, the fast ones first, so the unit results show within seconds.
#
#   scripts/test.sh [PHASE...]    PHASE: types unit integration e2e engine (default: all, in order)
#
#   types        tsc --noEmit, and prettier --check (the formatter's style; `npm run format` applies it)
#   unit         test/unit/*.test.ts          (one `node --test` run per phase)
#   integration  test/integration/*.test.ts
#   e2e          test/e2e/*.test.ts
#   engine       test/engine/*.test.ts against the engine scripts/select-engine.sh picks: a supported
#                Pulumi CLI on PATH, else (or with PRIVATE_REGISTRY_ENGINE=build) scripts/build-engine.sh's
#                build (long the first time, cached afterwards); PULUMI_ENGINE_BIN and
#                PRIVATE_REGISTRY_ENGINE (installed or build) tell the tests which
#   (integration, e2e and engine run two files at a time: PR_INTEGRATION_TEST_CONCURRENCY,
#   PR_E2E_TEST_CONCURRENCY, PR_ENGINE_TEST_CONCURRENCY)
#
# First a preflight: what the chosen phases need (scripts/requirements.sh) and, for the engine
# phase, the engine choice; anything missing stops the run there, before any phase, with what to
# install.
#
# When the engine phase follows other phases and the engine is to be built, the build starts at
# once in the background at the lowest CPU priority (nice 19), so a cold build overlaps the earlier
# phases (much of their time is spent waiting on daemons) instead of adding to them; the tests keep
# the CPU whenever they want it, and the unit results still show within seconds. Its log is printed
# when the engine phase starts. Cached, the build takes a fraction of a second either way.
#
# A failing phase does not stop the later ones: every phase runs and prints its own results, then
# a summary lists each phase's outcome and time, and a last line totals the tests of all phases
# ("total: N passed, N failed, N skipped"; cancelled tests count as failed). The exit status is
# non-zero if any phase failed, including a type error or an engine build failure (the engine
# tests are then not run, and the summary says so).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
shopt -s nullglob

ALL=(types unit integration e2e engine)
PHASES=("$@")
[ ${#PHASES[@]} -gt 0 ] || PHASES=("${ALL[@]}")
for phase in "${PHASES[@]}"; do
    case " ${ALL[*]} " in *" $phase "*) ;; *) echo "test.sh: unknown phase '$phase' (phases: ${ALL[*]})" >&2; exit 2 ;; esac
done

# shellcheck source=scripts/requirements.sh
. scripts/requirements.sh
missing=$(missing_requirements "$PWD" "${PHASES[@]}")
ENGINE_CHOICE=""
if [[ " ${PHASES[*]} " == *" engine "* ]]; then
    # "installed DIR" or "build"; a failure (PRIVATE_REGISTRY_ENGINE=installed without a supported CLI) says why on stderr.
    ENGINE_CHOICE=$(bash scripts/select-engine.sh) || missing+="${missing:+$'\n'}the Pulumi engine PRIVATE_REGISTRY_ENGINE asks for (above)"
fi
if [ -n "$missing" ]; then
    {
        echo "test.sh: the phases ${PHASES[*]} need what this machine lacks (scripts/requirements.sh, docs/testing.md):"
        sed 's/^/  /' <<<"$missing"
        echo "test.sh: no phase was run"
    } >&2
    exit 2
fi

LOGDIR=$(mktemp -d)
ENGINE_BUILD_PID=""
# The background build is its own process group (setsid), so an early exit stops its go children too.
trap '[ -z "$ENGINE_BUILD_PID" ] || kill -- "-$ENGINE_BUILD_PID" 2>/dev/null; rm -rf "$LOGDIR"' EXIT
if [ "$ENGINE_CHOICE" = build ] && [ "${PHASES[-1]}" = engine ] && [ ${#PHASES[@]} -gt 1 ]; then
    setsid nice -n 19 bash scripts/build-engine.sh >"$LOGDIR/engine-build.out" 2>"$LOGDIR/engine-build.err" &
    ENGINE_BUILD_PID=$!
fi

# engine_bin: sets ENGINE_BIN to the chosen engine's bin dir: the installed CLI's, or the built
# engine's (the background build's, or a build now); returns non-zero if the build failed. Runs in
# this shell: `wait` needs the build's parent.
engine_bin() {
    local rc=0
    if [ "${ENGINE_CHOICE%% *}" = installed ]; then
        ENGINE_BIN=${ENGINE_CHOICE#installed }
    elif [ -n "$ENGINE_BUILD_PID" ]; then
        wait "$ENGINE_BUILD_PID" || rc=$?
        ENGINE_BUILD_PID=""
        cat "$LOGDIR/engine-build.err" >&2
        ENGINE_BIN=$(tail -n 1 "$LOGDIR/engine-build.out")
    else
        ENGINE_BIN=$(bash scripts/build-engine.sh) || rc=$?
    fi
    [ "$rc" = 0 ] && [ -x "$ENGINE_BIN/pulumi" ]
}
SUMMARY=() FAILED=0 PASS=0 FAIL=0 SKIP=0

banner() { printf '\n=== %s ===\n' "$*"; }

# How many test files of a phase run at once. The integration, e2e and engine tests spend most of
# their time waiting on daemons, dockerd, the engine and the providers, each file with its own
# daemons, ports, work dir, network namespace and host name (/etc/hosts edits take a lock and
# replace the file in one step; a tool build takes its cache entry's lock): two at once use the
# cores that one leaves idle (e2e 212 s instead of 358, engine 240 s instead of about 430). Unit
# tests run one file at a time.
concurrency_of() {
    case "$1" in
        engine) echo "${PR_ENGINE_TEST_CONCURRENCY:-2}" ;;
        e2e) echo "${PR_E2E_TEST_CONCURRENCY:-2}" ;;
        integration) echo "${PR_INTEGRATION_TEST_CONCURRENCY:-2}" ;;
        *) echo 1 ;;
    esac
}

# node_tests PHASE FILE...: one node --test run; adds its counts to the totals.
node_tests() {
    local phase=$1 rc=0 log="$LOGDIR/$1.log"
    shift
    node --import tsx --test --test-concurrency="$(concurrency_of "$phase")" --test-reporter=spec "$@" 2>&1 | tee "$log" || rc=$?
    local pass fail cancelled skipped
    pass=$(sed -nE 's/^ℹ pass ([0-9]+)$/\1/p' "$log" | tail -1)
    fail=$(sed -nE 's/^ℹ fail ([0-9]+)$/\1/p' "$log" | tail -1)
    cancelled=$(sed -nE 's/^ℹ cancelled ([0-9]+)$/\1/p' "$log" | tail -1)
    skipped=$(sed -nE 's/^ℹ skipped ([0-9]+)$/\1/p' "$log" | tail -1)
    PASS=$((PASS + ${pass:-0})) FAIL=$((FAIL + ${fail:-0} + ${cancelled:-0})) SKIP=$((SKIP + ${skipped:-0}))
    PHASE_NOTE="${pass:-0} passed, $((${fail:-0} + ${cancelled:-0})) failed, ${skipped:-0} skipped"
    return "$rc"
}

for phase in "${PHASES[@]}"; do
    t0=$SECONDS rc=0 PHASE_NOTE=""
    case "$phase" in
        types)
            banner "types: tsc --noEmit, prettier --check"
            npx tsc --noEmit || rc=$?
            npx prettier --check --log-level warn "**/*.ts" || rc=$?
            ;;
        engine)
            files=(test/engine/*.test.ts)
            banner "engine: ${ENGINE_CHOICE%% *} engine, then ${files[*]}"
            if engine_bin; then
                export PULUMI_ENGINE_BIN=$ENGINE_BIN PRIVATE_REGISTRY_ENGINE=${ENGINE_CHOICE%% *}
                echo "engine: $PULUMI_ENGINE_BIN/pulumi ($("$PULUMI_ENGINE_BIN/pulumi" version 2>/dev/null), $PRIVATE_REGISTRY_ENGINE)"
                node_tests engine "${files[@]}" || rc=$?
            else
                rc=1 PHASE_NOTE="scripts/build-engine.sh failed: engine tests not run"
            fi
            ;;
        *)
            files=(test/"$phase"/*.test.ts)
            banner "$phase: ${files[*]}"
            if [ ${#files[@]} -eq 0 ]; then
                PHASE_NOTE="no test files"
            else
                node_tests "$phase" "${files[@]}" || rc=$?
            fi
            ;;
    esac
    if [ "$rc" = 0 ]; then status=ok; else status="FAILED (exit $rc)"; FAILED=1; fi
    SUMMARY+=("$(printf '%-12s %-18s %5ss  %s' "$phase" "$status" "$((SECONDS - t0))" "$PHASE_NOTE")")
done

banner "summary"
printf '%s\n' "${SUMMARY[@]}"
echo "total: $PASS passed, $FAIL failed, $SKIP skipped"
exit "$FAILED"
