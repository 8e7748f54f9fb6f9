/**
 * The edge container's command: a POSIX `sh` script (busybox's, in nginx's Alpine image and the
 * stand-in) that runs nginx and takes each new set of the edge's files (fileSet.ts) without
 * restarting it, and for what changes often without even reloading it. Pure: text in, text out.
 *
 * The files: nginx.conf, the certificate chain and the push users (the plain volume, one holder
 * per file), the private key and the users' password hashes (the secret volume, one holder).
 * Every second the script looks at both volumes' manifests; a new set naming the same set in
 * both is copied into its own directory on a tmpfs, checked (each file's SHA-256; the key against
 * the chain and nginx.conf's syntax by `nginx -t`), and made live by pointing one symlink,
 * `live`, at it: one rename, so every path through it switches at once and nginx never reads
 * half a set.
 *
 * What nginx reads through `live`, and when:
 * - `users` (htpasswd) on every request, `push-users.d/<name>` (one empty file per push user) on
 *   every write, and `tls.pem` (the key, then the chain) on every TLS handshake: a new user,
 *   password, role or certificate applies to the next request or connection, with no reload at
 *   all. A reload would: nginx's old workers close the kept-alive connections clients are about
 *   to reuse, and a request sent on one at that instant fails (docs/operations.md);
 * - nginx.conf only when nginx (re)starts: a set with a different nginx.conf is applied with a
 *   graceful reload (SIGHUP; old workers finish their transfers).
 * A set nginx refuses is logged and never made live; the previous one keeps serving.
 *
 * The container stops as nginx does: the signal Docker sends (SIGQUIT for nginx's image, SIGTERM
 * otherwise) is passed on to nginx, and when nginx exits on its own, so does the script, and
 * Docker restarts the container.
 */
import { FILE_SET_FUNCTIONS, MANIFEST } from "./fileSet";
import { shellQuote } from "./shell/quote";

/** The files of the edge's set: from the holders, and what the script makes of them. */
export const EDGE_SET_FILES = {
    /** Plain: the edge's nginx.conf. */
    nginxConf: "nginx.conf",
    /** Plain: the certificate chain, PEM. */
    chain: "server.crt",
    /** Plain: the push users' names, one a line. */
    pushUsers: "push-users",
    /** Secret: the private key, PEM. */
    key: "server.key",
    /** Secret: every user's password hash, htpasswd (`{SSHA}`). */
    users: "users",
    /** Made: the key and the chain in one file, what nginx reads per handshake. */
    tls: "tls.pem",
    /** Made: a directory with an empty file named for each push user. */
    pushUsersDir: "push-users.d",
} as const;

/** Lines the script logs start with this. */
export const EDGE_LOG_PREFIX = "private-registry edge:";

export interface EdgeApplierInput {
    /** The plain files' volume (their holders'), mounted read-only. */
    filesDir: string;
    /** The secret files' volume (their holder's), mounted read-only. */
    secretsDir: string;
    /**
     * A tmpfs where each set gets its own directory, and `live` (edgeLiveDir) points at the one
     * in use: nginx.conf names its files through it.
     */
    setsDir: string;
    /** How often to look for a new set. Default: 1 s. */
    pollSeconds?: number;
}

/** Where nginx finds the live set's files: `live` in the sets directory. */
export const edgeLiveDir = (setsDir: string) => `${setsDir}/live`;

export function renderEdgeApplier(input: EdgeApplierInput): string {
    const poll = input.pollSeconds ?? 1;
    if (!(Number.isInteger(poll) && poll >= 1)) throw new Error(`pollSeconds: a whole number of seconds; got ${poll}`);
    const f = EDGE_SET_FILES;
    return `#!/bin/sh
# Rendered by private-registry (components/render/edgeApplier.ts): runs nginx and takes each new
# complete set of the edge's files, live through one symlink (users, roles and the certificate
# without a reload; a changed nginx.conf with a graceful reload).
set -u
FILES=${shellQuote(input.filesDir)}
SECRETS=${shellQuote(input.secretsDir)}
SETS=${shellQuote(input.setsDir)}
LIVE="$SETS/live"
LOG_PREFIX=${shellQuote(EDGE_LOG_PREFIX)}

log() { echo "$LOG_PREFIX $*" >&2; }

${FILE_SET_FUNCTIONS}

# Copies set $1 from both holders into its own directory and checks it: 0 ready, 1 incomplete
# (try again later), 2 refused by nginx.
build_set() {
    dir="$SETS/$1"
    rm -rf "$dir"
    mkdir -p "$dir/${f.pushUsersDir}" || return 1
    if ! copy_set "$FILES" "$dir" files "$1" || ! copy_set "$SECRETS" "$dir" secrets "$1"; then
        rm -rf "$dir"
        return 1
    fi
    # nginx's workers (not root) read these per handshake and per request.
    cat "$dir/${f.key}" "$dir/${f.chain}" >"$dir/${f.tls}" || return 1
    while read -r user; do
        [ -z "$user" ] || : >"$dir/${f.pushUsersDir}/$user" || return 1
    done <"$dir/${f.pushUsers}"
    rm -f "$dir/${f.key}"
    chmod 0755 "$dir" "$dir/${f.pushUsersDir}" && chmod 0644 "$dir/${f.tls}" "$dir/${f.users}" || return 1
    # The key must match the chain (nginx -t loads both), and nginx.conf must parse.
    printf 'error_log stderr;\\npid %s/check.pid;\\nevents {}\\nhttp { server { listen 127.0.0.1:9 ssl; ssl_certificate %s; ssl_certificate_key %s; } }\\n' \\
        "$dir" "$dir/${f.tls}" "$dir/${f.tls}" >"$dir/tls-check.conf"
    if ! nginx -t -q -c "$dir/tls-check.conf" || ! nginx -t -q -c "$dir/${f.nginxConf}"; then
        log "set $1 refused (above: what nginx -t said); still serving set \${APPLIED:-none}"
        return 2
    fi
}

APPLIED=
REFUSED=
NGINX=
# Makes a new complete set live, if there is one: 0 when it did.
apply() {
    id=$(set_of "$FILES/${MANIFEST}")
    [ -n "$id" ] && [ "$id" != "$APPLIED" ] && [ "$id" != "$REFUSED" ] || return 1
    secret_id=$(set_of "$SECRETS/${MANIFEST}")
    [ "$secret_id" = "$id" ] || { not_taken "$id" "the secret files name set \${secret_id:-none}"; return 1; }
    build_set "$id"
    case $? in
        0) ;;
        2) REFUSED=$id; rm -rf "\${SETS:?}/$id"; return 1 ;;
        *) not_taken "$id" "a file is not (yet) what its manifest says"; return 1 ;;
    esac
    previous=$APPLIED
    reload=yes
    [ -n "$previous" ] && cmp -s "$SETS/$previous/${f.nginxConf}" "$SETS/$id/${f.nginxConf}" && reload=no
    # One rename: every path through $LIVE now names the new set.
    ln -s "$id" "$SETS/live.next" && mv -fT "$SETS/live.next" "$LIVE" || { rm -f "$SETS/live.next"; return 1; }
    APPLIED=$id
    # The previous set stays until the next one: a worker may still be opening one of its files.
    for old in "$SETS"/*; do
        case "\${old##*/}" in live | "$id" | "$previous") ;; *) rm -rf "$old" ;; esac
    done
    if [ -n "$NGINX" ] && [ "$reload" = yes ]; then
        kill -HUP "$NGINX"
        log "set $id live; nginx.conf changed: nginx reloaded"
    else
        log "set $id live"
    fi
}

stop() {
    [ -z "$NGINX" ] || { kill -"$1" "$NGINX" 2>/dev/null; wait "$NGINX"; }
    exit 0
}
trap 'stop TERM' TERM
trap 'stop QUIT' QUIT
trap 'stop INT' INT

mkdir -p "$SETS"
waited=0
until apply; do
    [ $((waited % 30)) != 0 ] || log "waiting for a complete set of files in $FILES and $SECRETS"
    waited=$((waited + 1))
    sleep 1 &
    wait $!
done
nginx -c "$LIVE/${f.nginxConf}" -g 'daemon off;' &
NGINX=$!
while :; do
    sleep ${poll} &
    wait $!
    if ! kill -0 "$NGINX" 2>/dev/null; then
        wait "$NGINX"
        status=$?
        log "nginx exited ($status)"
        exit "$status"
    fi
    apply || :
done
`;
}
