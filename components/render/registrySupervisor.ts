/**
 * The registry's (and the mirror's) container command: a POSIX `sh` script (busybox's, in the
 * official Alpine image and the test stand-ins) that serves Distribution on a Unix socket, takes
 * each new set of its files (fileSet.ts) and restarts it without a moment unanswered, and on
 * schedule collects its garbage the way Distribution requires: no writes while the collector
 * marks and sweeps. Pure: text in, text out.
 *
 * Its pieces, each a function below:
 * - `take_set`: a new complete set (config.yml, config-readonly.yml, the collection schedule; the
 *   mirror's upstream password) is copied into its own directory; a changed schedule applies at
 *   once, a changed config.yml or password by a handover;
 * - `handover`: the one way a registry process ever replaces another. The socket the edge connects
 *   to, `<name>.sock`, is a symlink to the socket of the process serving (`<name>-1.sock` or
 *   `<name>-2.sock`). A new process is started on the other one (its `http.addr` given by
 *   REGISTRY_HTTP_ADDR), and once it listens the symlink is pointed at it (one rename): new
 *   connections reach it. The edge retires the connections it kept to the old one within its
 *   `keepalive_time` and `keepalive_timeout` (edgeUpstreams.ts HANDOVER_KEEPALIVE_SECONDS),
 *   `drainSeconds`; only then is the old one stopped (SIGTERM: requests in flight finish, up to
 *   `http.draintimeout`), so no request is ever sent to a process about to close the connection;
 * - `reconcile`: brings the serving process to the current set's config with its debug listener
 *   (`http.debug`: metrics and the container's health check). Two processes cannot bind that
 *   address (Distribution exits when it cannot), so a new config goes through two handovers: to
 *   a process without it (REGISTRY_HTTP_DEBUG_ADDR empty), then to one with it. A handover whose
 *   new process does not listen (a config Distribution refuses, a mirror whose upstream is down)
 *   leaves the old one serving, and is tried again a minute later;
 * - `collect`: a handover to the read-only config (`storage.maintenance.readonly`: pulls work,
 *   pushes and deletes are refused with 405 UNSUPPORTED), `registry garbage-collect` once the
 *   writing process has exited, then `reconcile` back to read-write.
 *
 * Readiness is the socket file: before each start the script removes what a killed process
 * (SIGKILL: no unlink) may have left, so the file appearing means the new process has bound it;
 * Go's `net.Listen` calls listen() right after bind(), and a short pause covers that. The script
 * needs no client that speaks HTTP over a Unix socket, which busybox lacks.
 *
 * Why in the registry's own container rather than a host timer or a second container: it works
 * the same in every mode (local, ssh, alicloud) without touching the host outside Docker, and
 * nothing else can start a writing registry on the storage meanwhile (docs/operations.md).
 */
import { FILE_SET_FUNCTIONS, MANIFEST } from "./fileSet";
import { shellQuote } from "./shell/quote";

/** When to collect: at cron times (UTC, checked each minute) or every N seconds after the last collection ended. */
export type CollectionTiming = { kind: "cron"; fields: readonly string[] } | { kind: "every"; seconds: number };

/** The files of the registry's (or mirror's) set. */
export const REGISTRY_SET_FILES = {
    /** Plain: config.yml. */
    config: "config.yml",
    /** Plain, with a collection schedule: the same config with `storage.maintenance.readonly` on. */
    readOnlyConfig: "config-readonly.yml",
    /** Plain: when to collect garbage (renderCollectionSchedule). */
    schedule: "schedule",
    /**
     * Secret: environment variables each process starts with (renderSecretEnvironment): a
     * bucket's keys, webhooks' headers, the mirror's upstream password.
     */
    environment: "environment",
} as const;

/**
 * Where the registry's and the mirror's container has its plain files (their holders' volume,
 * mounted read-only): config.yml among them, which the operator scripts read (scripts/gc.ts).
 */
export const DISTRIBUTION_FILES_DIR = "/etc/private-registry/files";

/** Lines about collections start with this, so `docker logs` can be grepped for them. */
export const GC_LOG_PREFIX = "private-registry gc:";
/** Lines about sets and handovers start with this and the service's name, e.g. `private-registry registry:`. */
export const supervisorLogPrefix = (service: string) => `private-registry ${service}:`;

export interface RegistrySupervisorInput {
    /** `registry` or `mirror`: names the log lines. */
    service: string;
    /** The plain files' volume (their holders'), mounted read-only. */
    filesDir: string;
    /** The secret files' volume (their holder's; the mirror's upstream password). Default: none. */
    secretsDir?: string;
    /** Where each set gets its own directory: the container's own (a tmpfs). */
    setsDir: string;
    /** The socket volume, shared with the edge. */
    socketDir: string;
    /** The edge connects to `<socketDir>/<socketName>.sock`. */
    socketName: string;
    /** Seconds between pointing the socket at a new process and stopping the old one. */
    drainSeconds: number;
    /** The storage root, measured before and after a collection (`du`); with no repositories yet, a collection is skipped. */
    dataDir: string;
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

/**
 * The `environment` file: `NAME=VALUE` lines as `sh` reads them (each value one quoted word),
 * from `NAME=VALUE` strings (the first `=` splits).
 */
export function renderSecretEnvironment(variables: readonly string[]): string {
    return variables
        .map((variable) => {
            const at = variable.indexOf("=");
            const name = variable.slice(0, at);
            if (at < 1 || !/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`not an environment variable: ${name}`);
            return `${name}=${shellQuote(variable.slice(at + 1))}\n`;
        })
        .join("");
}

/** The `schedule` file: shell assignments the supervisor reads; no collection when `timing` is undefined. */
export function renderCollectionSchedule(timing: CollectionTiming | undefined, deleteUntagged = false): string {
    if (timing?.kind === "cron" && timing.fields.length !== 5) throw new Error(`a cron schedule has 5 fields; got ${timing.fields.length}`);
    if (timing?.kind === "every" && !(Number.isInteger(timing.seconds) && timing.seconds >= 1))
        throw new Error(`every: a whole number of seconds; got ${timing.seconds}`);
    const when =
        timing === undefined
            ? "never"
            : timing.kind === "cron"
              ? `at the cron times "${timing.fields.join(" ")}" (UTC)`
              : `every ${timing.seconds} s after the last one ended`;
    return [
        `# Rendered by private-registry (components/render/registrySupervisor.ts): garbage collection ${when}.`,
        `GC_CRON=${timing?.kind === "cron" ? shellQuote(timing.fields.join(" ")) : ""}`,
        `GC_EVERY_SECONDS=${timing?.kind === "every" ? timing.seconds : ""}`,
        `GC_FLAGS=${deleteUntagged ? shellQuote("--delete-untagged") : ""}`,
        "",
    ].join("\n");
}

export function renderRegistrySupervisor(input: RegistrySupervisorInput): string {
    if (!(Number.isInteger(input.drainSeconds) && input.drainSeconds >= 0))
        throw new Error(`drainSeconds: a whole number of seconds; got ${input.drainSeconds}`);
    if (!/^[a-z][a-z0-9-]*$/.test(input.socketName))
        throw new Error(`socketName: lower-case letters, digits and -; got ${input.socketName}`);
    const files = REGISTRY_SET_FILES;
    const settings = [
        `FILES=${shellQuote(input.filesDir)}`,
        `SECRETS=${shellQuote(input.secretsDir ?? "")}`,
        `SETS=${shellQuote(input.setsDir)}`,
        `SOCKET_DIR=${shellQuote(input.socketDir)}`,
        `NAME=${shellQuote(input.socketName)}`,
        `DRAIN_SECONDS=${input.drainSeconds}`,
        `DATA_DIR=${shellQuote(input.dataDir)}`,
        `LOG_PREFIX=${shellQuote(supervisorLogPrefix(input.service))}`,
        `GC_LOG_PREFIX=${shellQuote(GC_LOG_PREFIX)}`,
        `RETENTION_DIR=${shellQuote(input.retention?.handshakeDir ?? "")}`,
        `RETENTION_START_SECONDS=${input.retention?.startSeconds ?? 0}`,
        `RETENTION_RUN_SECONDS=${input.retention?.runSeconds ?? 0}`,
    ];
    return `#!/bin/sh
# Rendered by private-registry (components/render/registrySupervisor.ts): serves the ${input.service} on
# a Unix socket, takes each new complete set of its files (a new config by a handover to a new
# process), and collects garbage on the set's schedule, read-only meanwhile.
# \`sh THIS --due "MIN HOUR DAY MONTH WEEKDAY" "CRON"\` only says (exit 0) whether that minute is due.
set -u
umask ${input.umask ?? "000"}
${settings.join("\n")}

log() { echo "$LOG_PREFIX $*"; }
gc_log() { echo "$GC_LOG_PREFIX $*"; }

# Whether the minute given as "MIN HOUR DAY MONTH WEEKDAY" matches the cron expression $2. As in
# cron: a field is a comma list of *, N or A-B, each optionally /STEP (N/STEP meaning N-MAX/STEP);
# weekday 0 or 7 is Sunday; when both day fields are restricted, either may match.
cron_due() {
    echo "$1" | awk -v spec="$2" '
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
    cron_due "$2" "$3"
    exit $?
fi

${FILE_SET_FUNCTIONS}

# A tenth of a second (busybox and dash sleep in fractions; a sleep without them waits 1 s).
pause() { sleep 0.1 2>/dev/null || sleep 1; }
# A sleep a TERM from \`docker stop\` interrupts.
rest() { sleep "$1" & wait $!; }
now() { date +%s; }
socket_of() { echo "$SOCKET_DIR/$NAME-$1.sock"; }

CURRENT=        # the newest complete set, in $SETS/$CURRENT
SERVER=         # the process serving, on slot $SLOT's socket
SLOT=
SERVING_SET=    # the set it was started from, and which config of it, and whether with the debug listener
SERVING_CONFIG=
DEBUG=
RETIRING=       # the process a handover is stopping
RETRY_AT=0
GC_CRON=
GC_EVERY_SECONDS=
GC_FLAGS=
NEXT_RUN=0

# Takes a new complete set, if there is one: 0 when it did.
take_set() {
    id=$(set_of "$FILES/${MANIFEST}")
    [ -n "$id" ] && [ "$id" != "$CURRENT" ] || return 1
    if [ -n "$SECRETS" ]; then
        secret_id=$(set_of "$SECRETS/${MANIFEST}")
        [ "$secret_id" = "$id" ] || { not_taken "$id" "the secret files name set \${secret_id:-none}"; return 1; }
    fi
    dir="$SETS/$id"
    rm -rf "$dir"
    mkdir -p "$dir" || return 1
    if ! copy_set "$FILES" "$dir" files "$id" || { [ -n "$SECRETS" ] && ! copy_set "$SECRETS" "$dir" secrets "$id"; }; then
        rm -rf "$dir"
        not_taken "$id" "a file is not (yet) what its manifest says"
        return 1
    fi
    CURRENT=$id
    every=$GC_EVERY_SECONDS
    GC_CRON= GC_EVERY_SECONDS= GC_FLAGS=
    [ ! -f "$dir/${files.schedule}" ] || . "$dir/${files.schedule}"
    [ "$GC_EVERY_SECONDS" = "$every" ] || NEXT_RUN=$(( $(now) + \${GC_EVERY_SECONDS:-0} ))
    RETRY_AT=0
    for old in "$SETS"/*; do
        case "\${old##*/}" in "$CURRENT" | "$SERVING_SET") ;; *) rm -rf "$old" ;; esac
    done
    log "set $id taken"
}

# Exports set SET's secret environment (in the subshell that runs a registry command).
load_environment() {
    [ -f "$SETS/$1/${files.environment}" ] || return 0
    set -a
    . "$SETS/$1/${files.environment}"
    set +a
}
# Starts \`registry serve CONFIG\` (of set SET) on SLOT's socket, with or without (nodebug) the
# debug listener; its pid in STARTED. A socket file left by a killed process would look ready.
start_registry() {
    rm -f "$(socket_of "$2")"
    (
        load_environment "$4"
        REGISTRY_HTTP_ADDR=$(socket_of "$2")
        export REGISTRY_HTTP_ADDR
        if [ "$3" != debug ]; then
            REGISTRY_HTTP_DEBUG_ADDR=
            export REGISTRY_HTTP_DEBUG_ADDR
        fi
        exec registry serve "$1"
    ) &
    STARTED=$!
}
# Waits until process PID listens on SOCKET: while it lives, at most TENTHS tenths of a second
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
# Points the edge's socket at SLOT's: one rename, so a connect finds one or the other.
point_socket() {
    rm -f "$SOCKET_DIR/.$NAME.sock.next"
    ln -s "$NAME-$1.sock" "$SOCKET_DIR/.$NAME.sock.next" && mv -fT "$SOCKET_DIR/.$NAME.sock.next" "$SOCKET_DIR/$NAME.sock"
}
# SIGTERM: Distribution stops accepting, finishes the requests in flight (\`http.draintimeout\`) and exits.
stop_registry() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null
    wait "$1"
}

# handover CONFIG SET debug|nodebug: a new process serves CONFIG, then the old one stops.
handover() {
    next=$((3 - \${SLOT:-2}))
    start_registry "$1" "$next" "$3" "$2"
    if ! await_socket "$STARTED" "$(socket_of "$next")" 600; then
        kill -TERM "$STARTED" 2>/dev/null
        wait "$STARTED"
        log "a new process for set $2 ($1) did not listen (exit $?): still serving set $SERVING_SET"
        return 1
    fi
    if ! point_socket "$next"; then
        kill -TERM "$STARTED" 2>/dev/null
        wait "$STARTED"
        log "could not point $NAME.sock at $(socket_of "$next"): still serving set $SERVING_SET"
        return 1
    fi
    RETIRING=$SERVER
    SERVER=$STARTED SLOT=$next SERVING_SET=$2 SERVING_CONFIG=$1 DEBUG=$3
    log "handover: set $2 ($1) on $(socket_of "$next")$([ "$3" = debug ] || echo ', no debug listener'); the previous process stops in $DRAIN_SECONDS s"
    rest "$DRAIN_SECONDS"
    stop_registry "$RETIRING"
    RETIRING=
}

same_config() {
    cmp -s "$SERVING_CONFIG" "$SETS/$CURRENT/${files.config}" || return 1
    [ ! -f "$SETS/$SERVING_SET/${files.environment}" ] && [ ! -f "$SETS/$CURRENT/${files.environment}" ] && return 0
    cmp -s "$SETS/$SERVING_SET/${files.environment}" "$SETS/$CURRENT/${files.environment}"
}
# Serves the current set's config with the debug listener, by handovers; 0 when it does.
reconcile() {
    if [ "$DEBUG" = debug ] && same_config; then
        SERVING_SET=$CURRENT SERVING_CONFIG="$SETS/$CURRENT/${files.config}"
        return 0
    fi
    [ "$(now)" -ge "$RETRY_AT" ] || return 1
    RETRY_AT=$(( $(now) + 60 ))
    # Two processes cannot bind the debug listener: first one without it, then one with it.
    if [ "$DEBUG" = debug ]; then
        handover "$SETS/$CURRENT/${files.config}" "$CURRENT" nodebug || return 1
    fi
    handover "$SETS/$CURRENT/${files.config}" "$CURRENT" debug || return 1
    RETRY_AT=0
    log "serving set $CURRENT"
}

stop_all() {
    for pid in $SERVER $RETIRING; do kill -TERM "$pid" 2>/dev/null; done
    for pid in $SERVER $RETIRING; do wait "$pid"; done
    exit 0
}
trap stop_all TERM INT

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
        gc_log "retention did not start within $RETENTION_START_SECONDS s; collecting without it"
        return 0
    fi
    if ! await_answer "$RETENTION_DIR/done" "$id" "$RETENTION_RUN_SECONDS"; then
        gc_log "retention still running after $RETENTION_RUN_SECONDS s; collecting now"
        return 0
    fi
    gc_log "retention $(sed -n 2p "$RETENTION_DIR/done")"
}

collect() {
    # Nothing pushed yet: the collector would fail on the missing repositories directory.
    if [ ! -d "$DATA_DIR/docker/registry/v2/repositories" ]; then
        gc_log "skipped: no repositories yet"
        return 0
    fi
    retain
    set=$CURRENT
    # The read-only registry answers before the writing one stops; it has stopped (its last
    # pushes done) when the handover returns.
    if ! handover "$SETS/$set/${files.readOnlyConfig}" "$set" nodebug; then
        gc_log "failed: the read-only registry did not start; nothing collected, registry read-write"
        return 0
    fi
    # Measured once nothing writes, so before and after differ by what the collector deleted alone.
    before=$(du -sk "$DATA_DIR" | cut -f1)
    gc_log "start: registry read-only, $before KiB in $DATA_DIR"
    (
        load_environment "$set"
        exec registry garbage-collect $GC_FLAGS "$SETS/$set/${files.config}"
    ) >/tmp/gc.out 2>&1
    status=$?
    grep -v -e 'marking manifest' -e 'marking blob' /tmp/gc.out
    after=$(du -sk "$DATA_DIR" | cut -f1)
    RETRY_AT=0
    if reconcile; then
        state="registry read-write"
    else
        state="the read-write registry did not start: read-only until it does (tried again each minute)"
    fi
    if [ "$status" = 0 ]; then
        gc_log "done: $(grep -c 'blob eligible for deletion' /tmp/gc.out) blobs deleted, $before KiB -> $after KiB; $state"
    else
        gc_log "failed (exit $status), $before KiB -> $after KiB; $state"
    fi
}

mkdir -p "$SETS"
waited=0
until take_set; do
    [ $((waited % 30)) != 0 ] || log "waiting for a complete set of files in $FILES\${SECRETS:+ and $SECRETS}"
    waited=$((waited + 1))
    rest 1
done
# Left by a killed container, if at all.
rm -f "$(socket_of 1)" "$(socket_of 2)" "$SOCKET_DIR/.$NAME.sock.next"
# The retention container runs as its image's user: it answers in this directory.
[ -z "$RETENTION_DIR" ] || chmod 0777 "$RETENTION_DIR"
start_registry "$SETS/$CURRENT/${files.config}" 1 debug "$CURRENT"
SERVER=$STARTED SLOT=1 SERVING_SET=$CURRENT SERVING_CONFIG="$SETS/$CURRENT/${files.config}" DEBUG=debug
# It exited instead: the loop below reports that and exits.
await_socket "$SERVER" "$(socket_of 1)" 0 && point_socket 1 && log "serving set $CURRENT"
last_minute=$(date -u +%Y%m%d%H%M)
while :; do
    rest 1
    # The registry exited on its own: so does the container, and Docker restarts it.
    if ! kill -0 "$SERVER" 2>/dev/null; then
        wait "$SERVER"
        status=$?
        log "registry exited ($status)"
        exit "$status"
    fi
    take_set || :
    reconcile || :
    if [ -n "$GC_CRON" ]; then
        minute=$(date -u +%Y%m%d%H%M)
        [ "$minute" != "$last_minute" ] || continue
        last_minute=$minute
        cron_due "$(date -u '+%M %H %d %m %w')" "$GC_CRON" || continue
        collect
    elif [ -n "$GC_EVERY_SECONDS" ] && [ "$(now)" -ge "$NEXT_RUN" ]; then
        collect
        NEXT_RUN=$(( $(now) + GC_EVERY_SECONDS ))
    fi
done
`;
}
