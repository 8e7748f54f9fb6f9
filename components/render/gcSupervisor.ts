/**
 * The registry container's command when `gc.schedule` is set: a POSIX `sh` script (busybox's in
 * the official Alpine image and in the test stand-ins) that serves the registry and, on schedule,
 * collects its garbage the way Distribution requires: no writes while the collector marks and
 * sweeps. Pure: text in, text out.
 *
 * Two registries, each on its own Unix socket in the socket volume: the normal one on
 * `socketPath`, and for a collection a read-only one (`storage.maintenance.readonly`) on
 * `readOnlySocketPath`, which the edge has as its `backup` server (max_fails=0 on both: nginx
 * tries the normal socket first on every request, and a socket that is gone or refuses fails at
 * once). One collection, never without a registry answering:
 *   1. the read-only registry is started, and the script waits until its socket is there,
 *   2. the normal registry's socket file is removed: new connections go to the read-only one,
 *      and after `drainSeconds` the edge has closed every kept-alive connection to the normal
 *      one it used meanwhile (its `keepalive_time`, edgeConfig.ts BACKUP_UPSTREAM_KEEPALIVE_SECONDS);
 *      only then the normal one is stopped (SIGTERM: requests in flight finish within
 *      `http.draintimeout`; connections left idle are closed, and a request nginx sent on one at
 *      that instant would get a 502, which is why the wait): pulls work, pushes and deletes are
 *      refused with 405 UNSUPPORTED,
 *   3. `registry garbage-collect` runs on the normal config (same storage),
 *   4. the normal registry is started, the script waits until its socket is there, and only then
 *      stops the read-only one.
 *
 * Readiness is the socket file: before each start the script removes what a killed registry
 * (SIGKILL: no unlink) may have left, so the file appearing means the new process has bound it;
 * Go's `net.Listen` calls listen() right after bind(), and a short pause covers that. The script
 * needs no client that speaks HTTP over a Unix socket, which busybox lacks (`wget` is TCP only;
 * `nc` in Debian's busybox, the stand-ins', has no `-U`), and the debug listener
 * (`http.debug.addr`, TCP) is no proof of the socket; the
 * two registries cannot share that address either (Distribution exits when it cannot bind it),
 * so only the normal one has it: while read-only there are no metrics and the container's
 * health check (its `/debug/health`) fails.
 *
 * Why in the registry's own container rather than a host timer or a second container: it works
 * the same in every mode (local, ssh, alicloud) without touching the host outside Docker, the
 * read-only registry keeps serving pulls through the same volume, and nothing else can start a
 * writing registry on the storage meanwhile (docs/operations.md).
 */
import { shellQuote } from "./shell/quote";

/** When to collect: at cron times (UTC, checked each minute) or every N seconds after the last collection ended. */
export type GcSupervisorTiming = { kind: "cron"; fields: readonly string[] } | { kind: "every"; seconds: number };

export interface GcSupervisorInput {
    /** The registry's config.yml. */
    configPath: string;
    /** The socket the normal config listens on (a path, no `unix:`). */
    socketPath: string;
    /** The same config with `storage.maintenance.readonly` on, listening on `readOnlySocketPath` and without a debug listener. */
    readOnlyConfigPath: string;
    /** The read-only registry's socket (a path), in the same directory: the edge's backup server. */
    readOnlySocketPath: string;
    /**
     * Seconds between removing the normal registry's socket and stopping it: the edge's
     * `keepalive_time` for an upstream with a backup server, and a margin.
     */
    drainSeconds: number;
    /** The storage root, measured before and after (`du`) so the log says what came back. */
    dataDir: string;
    timing: GcSupervisorTiming;
    /** `--delete-untagged` (Distribution 3 only; the config's rules refuse it for 2.x). */
    deleteUntagged: boolean;
    /** File mode mask the registry runs under (the socket's permissions). Default: `000`, so the edge's workers may connect. */
    umask?: string;
    /**
     * Retention first (`retention`, retentionScript.ts): before each collection, while the
     * registry still takes deletes, the retention container is asked to run through files in
     * `handshakeDir` and waited for: `startSeconds` for it to start, `runSeconds` to finish; the
     * collection runs either way. Default: none.
     */
    retention?: { handshakeDir: string; startSeconds: number; runSeconds: number };
}

/** Lines the supervisor logs start with this, so `docker logs` can be grepped for collections. */
export const GC_LOG_PREFIX = "private-registry gc:";

export function renderGcSupervisor(input: GcSupervisorInput): string {
    const timing = input.timing;
    if (timing.kind === "cron" && timing.fields.length !== 5) throw new Error(`a cron schedule has 5 fields; got ${timing.fields.length}`);
    if (timing.kind === "every" && !(Number.isInteger(timing.seconds) && timing.seconds >= 1))
        throw new Error(`every: a whole number of seconds; got ${timing.seconds}`);
    if (!(Number.isInteger(input.drainSeconds) && input.drainSeconds >= 0))
        throw new Error(`drainSeconds: a whole number of seconds; got ${input.drainSeconds}`);
    const settings = [
        `CONFIG=${shellQuote(input.configPath)}`,
        `SOCKET=${shellQuote(input.socketPath)}`,
        `READONLY_CONFIG=${shellQuote(input.readOnlyConfigPath)}`,
        `READONLY_SOCKET=${shellQuote(input.readOnlySocketPath)}`,
        `DRAIN_SECONDS=${input.drainSeconds}`,
        `DATA_DIR=${shellQuote(input.dataDir)}`,
        `GC_FLAGS=${shellQuote(input.deleteUntagged ? "--delete-untagged" : "")}`,
        timing.kind === "cron" ? `CRON=${shellQuote(timing.fields.join(" "))}` : `EVERY_SECONDS=${timing.seconds}`,
        `LOG_PREFIX=${shellQuote(GC_LOG_PREFIX)}`,
        `RETENTION_DIR=${shellQuote(input.retention?.handshakeDir ?? "")}`,
        `RETENTION_START_SECONDS=${input.retention?.startSeconds ?? 0}`,
        `RETENTION_RUN_SECONDS=${input.retention?.runSeconds ?? 0}`,
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

# A tenth of a second (busybox and dash sleep in fractions; a sleep without them waits 1 s).
pause() { sleep 0.1 2>/dev/null || sleep 1; }

# Starts \`registry serve CONFIG\` in the background, on SOCKET; its pid in STARTED. A socket file
# left by a registry that was killed would look ready below (Distribution replaces it anyway).
start_registry() {
    rm -f "$2"
    registry serve "$1" &
    STARTED=$!
}
# Waits until registry PID listens on SOCKET: while it lives, at most TENTHS tenths of a second
# (0: no limit). bind() creates the file and listen() follows it at once; a pause covers that.
await_socket() {
    waited=0
    while [ ! -S "$2" ]; do
        kill -0 "$1" 2>/dev/null || return 1
        [ "$3" = 0 ] || [ "$waited" -lt "$3" ] || return 1
        waited=$((waited + 1))
        pause
    done
    pause
    kill -0 "$1" 2>/dev/null
}
# SIGTERM: the registry unlinks its socket at once and drains (\`http.draintimeout\`).
stop_registry() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null
    wait "$1"
}

SERVER=
READONLY=
stop_all() {
    for pid in $SERVER $READONLY; do kill -TERM "$pid" 2>/dev/null; done
    for pid in $SERVER $READONLY; do wait "$pid"; done
    SERVER=
    READONLY=
}
trap 'stop_all; exit 0' TERM INT

# Waits up to LIMIT seconds until FILE's first line is ID: await_answer FILE ID LIMIT.
await_answer() {
    waited=0
    until [ "$(head -n 1 "$1" 2>/dev/null)" = "$2" ]; do
        [ "$waited" -lt "$3" ] || return 1
        sleep 1
        waited=$((waited + 1))
    done
}
# Retention (retentionScript.ts) runs right before a collection, while the registry takes deletes:
# its container is asked through RETENTION_DIR (request: an id; it answers started, then done with
# the id and its summary) and waited for, within limits: the collection runs either way (a delete
# it sends once the registry is read-only is refused, and retried at the next run).
RETENTION_RUNS=0
retain() {
    [ -n "$RETENTION_DIR" ] || return 0
    RETENTION_RUNS=$((RETENTION_RUNS + 1))
    id="$(date +%s)-$RETENTION_RUNS"
    echo "$id" > "$RETENTION_DIR/request.tmp" && mv "$RETENTION_DIR/request.tmp" "$RETENTION_DIR/request"
    if ! await_answer "$RETENTION_DIR/started" "$id" "$RETENTION_START_SECONDS"; then
        log "retention did not start within $RETENTION_START_SECONDS s; collecting without it"
        return 0
    fi
    if ! await_answer "$RETENTION_DIR/done" "$id" "$RETENTION_RUN_SECONDS"; then
        log "retention still running after $RETENTION_RUN_SECONDS s; collecting now"
        return 0
    fi
    log "retention $(sed -n 2p "$RETENTION_DIR/done")"
}

collect() {
    # Nothing pushed yet: the collector would fail on the missing repositories directory.
    if [ ! -d "$DATA_DIR/docker/registry/v2/repositories" ]; then
        log "skipped: no repositories yet"
        return 0
    fi
    retain
    # The read-only registry answers before the normal one stops: the edge always has one.
    start_registry "$READONLY_CONFIG" "$READONLY_SOCKET"
    READONLY=$STARTED
    if ! await_socket "$READONLY" "$READONLY_SOCKET" 600; then
        stop_registry "$READONLY"
        READONLY=
        log "failed: the read-only registry did not listen on $READONLY_SOCKET; nothing collected, registry read-write"
        return 0
    fi
    # New connections now go to the read-only registry; the edge retires the kept-alive ones to
    # the normal registry meanwhile, so none is idle (and racing a request) when it stops.
    rm -f "$SOCKET"
    sleep "$DRAIN_SECONDS"
    stop_registry "$SERVER"
    SERVER=
    # Measured once nothing writes (pushes land on the normal registry until it has stopped), so
    # before and after differ by what the collector deleted alone.
    before=$(du -sk "$DATA_DIR" | cut -f1)
    log "start: registry read-only, $before KiB in $DATA_DIR"
    registry garbage-collect $GC_FLAGS "$CONFIG" > /tmp/gc.out 2>&1
    status=$?
    grep -v -e 'marking manifest' -e 'marking blob' /tmp/gc.out
    after=$(du -sk "$DATA_DIR" | cut -f1)
    # The normal registry answers before the read-only one stops.
    start_registry "$CONFIG" "$SOCKET"
    SERVER=$STARTED
    # It exited instead: the loop below reports that and exits; until then reads stay served.
    await_socket "$SERVER" "$SOCKET" 0 || return 0
    stop_registry "$READONLY"
    READONLY=
    if [ "$status" = 0 ]; then
        log "done: $(grep -c 'blob eligible for deletion' /tmp/gc.out) blobs deleted, $before KiB -> $after KiB; registry read-write"
    else
        log "failed (exit $status), $before KiB -> $after KiB; registry read-write"
    fi
}

# Left by a killed container, if at all: nothing listens there until a collection.
rm -f "$READONLY_SOCKET"
# The retention container runs as its image's user: it answers in this directory.
[ -z "$RETENTION_DIR" ] || chmod 0777 "$RETENTION_DIR"
start_registry "$CONFIG" "$SOCKET"
SERVER=$STARTED
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
        SERVER=
        log "registry exited ($status)"
        stop_all
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
