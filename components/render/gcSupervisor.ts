/**
 * The registry container's command when `gc.schedule` is set: a POSIX `sh` script (busybox's in
 * the official Alpine image and in the test stand-ins) that serves the registry and, on schedule,
 * collects its garbage the way Distribution requires: no writes while the collector marks and
 * sweeps. Pure: text in, text out.
 *
 * One collection:
 *   1. the registry is stopped (SIGTERM: requests in flight finish within `http.draintimeout`),
 *   2. served again from the read-only copy of its config (`storage.maintenance.readonly`):
 *      pulls work, pushes and deletes are refused with 405 UNSUPPORTED,
 *   3. `registry garbage-collect` runs on the normal config (same storage),
 *   4. the read-only registry is stopped and the normal one started.
 * Between 1-2 and 4 the socket is gone for the moment a registry takes to stop and start: the
 * edge answers 502 then, and clients retry.
 *
 * Why in the registry's own container rather than a host timer or a second container: it works
 * the same in every mode (local, ssh, alicloud) without touching the host outside Docker, the
 * read-only registry keeps serving pulls through the same socket, and nothing else can start a
 * writing registry on the volume meanwhile (docs/operations.md).
 */

/** When to collect: at cron times (UTC, checked each minute) or every N seconds after the last collection ended. */
export type GcSupervisorTiming = { kind: "cron"; fields: readonly string[] } | { kind: "every"; seconds: number };

export interface GcSupervisorInput {
    /** The registry's config.yml. */
    configPath: string;
    /** The same config with `storage.maintenance.readonly` on. */
    readOnlyConfigPath: string;
    /** The storage root, measured before and after (`du`) so the log says what came back. */
    dataDir: string;
    timing: GcSupervisorTiming;
    /** `--delete-untagged` (Distribution 3 only; parse.ts refuses it for 2.x). */
    deleteUntagged: boolean;
    /** File mode mask the registry runs under (the socket's permissions). Default: `000`, so the edge's workers may connect. */
    umask?: string;
}

/** Lines the supervisor logs start with this, so `docker logs` can be grepped for collections. */
export const GC_LOG_PREFIX = "private-registry gc:";

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

export function renderGcSupervisor(input: GcSupervisorInput): string {
    const timing = input.timing;
    if (timing.kind === "cron" && timing.fields.length !== 5) throw new Error(`a cron schedule has 5 fields; got ${timing.fields.length}`);
    if (timing.kind === "every" && !(Number.isInteger(timing.seconds) && timing.seconds >= 1)) throw new Error(`every: a whole number of seconds; got ${timing.seconds}`);
    const settings = [
        `CONFIG=${quote(input.configPath)}`,
        `READONLY_CONFIG=${quote(input.readOnlyConfigPath)}`,
        `DATA_DIR=${quote(input.dataDir)}`,
        `GC_FLAGS=${quote(input.deleteUntagged ? "--delete-untagged" : "")}`,
        timing.kind === "cron" ? `CRON=${quote(timing.fields.join(" "))}` : `EVERY_SECONDS=${timing.seconds}`,
        `LOG_PREFIX=${quote(GC_LOG_PREFIX)}`,
    ];
    return `#!/bin/sh
# Rendered by private-registry (components/render/gcSupervisor.ts): serves the registry and
# collects its garbage ${timing.kind === "cron" ? `at the cron times "${timing.fields.join(" ")}" (UTC)` : `every ${timing.seconds} s`}, read-only meanwhile.
# \`sh THIS --due "MIN HOUR DAY MONTH WEEKDAY"\` only says (exit 0) whether that minute is due.
set -u
umask ${input.umask ?? "000"}
${settings.join("\n")}

log() { echo "$LOG_PREFIX $*"; }

# Whether the minute given as "MIN HOUR DAY MONTH WEEKDAY" matches CRON. As in cron: a field is
# a comma list of *, N or A-B, each optionally /STEP (N/STEP meaning N-MAX/STEP); weekday 0 or 7
# is Sunday; when both day fields are restricted, either may match.
cron_due() {
    echo "$1" | awk -v spec="$CRON" '
        function hit(field, value, min, max,    parts, n, i, p, r, step, lo, hi) {
            n = split(field, parts, ",")
            for (i = 1; i <= n; i++) {
                p = parts[i]; step = 1
                if (index(p, "/")) { split(p, r, "/"); p = r[1]; step = r[2] + 0 }
                if (p == "*") { lo = min; hi = max }
                else if (index(p, "-")) { split(p, r, "-"); lo = r[1] + 0; hi = r[2] + 0 }
                else { lo = p + 0; hi = step > 1 ? max : lo }
                if (value >= lo && value <= hi && (value - lo) % step == 0) return 1
            }
            return 0
        }
        {
            split(spec, f, " ")
            dom = hit(f[3], $3 + 0, 1, 31)
            dow = hit(f[5], $5 + 0, 0, 7) || ($5 + 0 == 0 && hit(f[5], 7, 0, 7))
            day = (substr(f[3], 1, 1) != "*" && substr(f[5], 1, 1) != "*") ? (dom || dow) : (dom && dow)
            exit !(hit(f[1], $1 + 0, 0, 59) && hit(f[2], $2 + 0, 0, 23) && hit(f[4], $4 + 0, 1, 12) && day)
        }'
}

if [ "\${1-}" = "--due" ]; then
    cron_due "$2"
    exit $?
fi

SERVER=
serve() {
    registry serve "$1" &
    SERVER=$!
}
stop_server() {
    [ -n "$SERVER" ] || return 0
    kill -TERM "$SERVER" 2>/dev/null
    wait "$SERVER"
    SERVER=
}
trap 'stop_server; exit 0' TERM INT

collect() {
    # Nothing pushed yet: the collector would fail on the missing repositories directory.
    if [ ! -d "$DATA_DIR/docker/registry/v2/repositories" ]; then
        log "skipped: no repositories yet"
        return 0
    fi
    before=$(du -sk "$DATA_DIR" | cut -f1)
    log "start: registry read-only, $before KiB in $DATA_DIR"
    stop_server
    serve "$READONLY_CONFIG"
    registry garbage-collect $GC_FLAGS "$CONFIG" > /tmp/gc.out 2>&1
    status=$?
    grep -v -e 'marking manifest' -e 'marking blob' /tmp/gc.out
    after=$(du -sk "$DATA_DIR" | cut -f1)
    stop_server
    serve "$CONFIG"
    if [ "$status" = 0 ]; then
        log "done: $(grep -c 'blob eligible for deletion' /tmp/gc.out) blobs deleted, $before KiB -> $after KiB; registry read-write"
    else
        log "failed (exit $status), $before KiB -> $after KiB; registry read-write"
    fi
}

serve "$CONFIG"
last_minute=$(date -u +%Y%m%d%H%M)
next_run=$(( $(date +%s) + \${EVERY_SECONDS:-0} ))
while :; do
    # A short sleep in the background, so a TERM from \`docker stop\` is handled at once.
    sleep 5 &
    wait $!
    # The registry exited on its own: so does the container, and Docker restarts it.
    if ! kill -0 "$SERVER" 2>/dev/null; then
        wait "$SERVER"
        status=$?
        log "registry exited ($status)"
        exit "$status"
    fi
    if [ -n "\${CRON-}" ]; then
        minute=$(date -u +%Y%m%d%H%M)
        [ "$minute" != "$last_minute" ] || continue
        last_minute=$minute
        cron_due "$(date -u '+%M %H %d %m %w')" || continue
        collect
    elif [ "$(date +%s)" -ge "$next_run" ]; then
        collect
        next_run=$(( $(date +%s) + EVERY_SECONDS ))
    fi
done
`;
}
