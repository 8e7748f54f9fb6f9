/**
 * The retention job (`retention`): a POSIX `sh` script run in regclient's regctl image (its
 * Alpine variant: busybox beside regctl) that deletes, through the registry's own API with the
 * push account, the tags the policies do not keep. Every registry operation is a regctl command;
 * the script only chooses. Pure: text in, text out.
 *
 * What a run does, per repository (`regctl repo ls`), with the first policy whose glob matches it:
 *   1. the image tags (all but signature and attestation tags, below), each with its digest and
 *      its image's creation time (the config's `created`; an index: its newest platform's), newest
 *      first, ties by tag name;
 *   2. kept: tags `keepTags` matches (regctl's `--include`, Go's regular expressions, the whole
 *      tag), the `keepLast` newest, those created within `keepWithinDays`;
 *   3. every other tag goes: only the tag when a kept tag names the same digest (or a kept index
 *      lists it), else the image itself (`regctl manifest delete` by digest, which takes its tags
 *      with it) and its signatures: the tags `sha256-<digest>` (OCI's referrers tag schema: an
 *      index of the referrers, deleted with them) and `sha256-<digest>.<suffix>` (cosign's `.sig`,
 *      `.att`, `.sbom`), for the image and, for an index, each platform's;
 *   4. signature tags whose image is gone (deleted by hand earlier) go too.
 * Signature tags are never counted as images: a kept image keeps its signatures.
 *
 * How it is run: `sh THIS` waits for the garbage collector's supervisor (gcSupervisor.ts) to ask,
 * through files in a volume both containers mount (`request` holds an id; this script answers
 * `started` and then `done`, the id on the first line), so each run comes right before a
 * collection, while the registry takes deletes. `sh THIS --dry-run` lists what a run would delete;
 * `sh THIS --now` runs once.
 */
import type { RetentionPolicy } from "../config/types";
import { shellQuote } from "./shell/quote";

export interface RetentionScriptInput {
    /** `host[:port]` the job reaches the registry at: its endpoint, the name pinned to the host (services/retention.ts). */
    registry: string;
    /** The private CA's certificate file in the container; unset: the system's roots (a public CA). */
    caFile?: string;
    /** The account's name and password come from these environment variables (the password is a secret). */
    userEnv: string;
    passwordEnv: string;
    /** The directory shared with the registry container's supervisor. */
    handshakeDir: string;
    policies: readonly RetentionPolicy[];
}

/** Lines the job logs start with this, so `docker logs` can be grepped for runs. */
export const RETENTION_LOG_PREFIX = "private-registry retention:";
/** Touched by the waiting loop every 2 s: the container's health check looks at its age. */
export const RETENTION_HEARTBEAT = "/tmp/retention-alive";
/** Tags that belong to an image's digest rather than being one: referrers tag schema, cosign's `.sig`, `.att`, `.sbom`. */
export const DIGEST_TAG_PATTERN = "sha256-[0-9a-f]{64}(\\..+)?";

/**
 * A repository glob as an anchored POSIX extended regular expression (grep -E): `*` and `?`
 * stay within a path segment, a `**` segment stands for any number of segments, none included.
 */
export function repositoryGlobPattern(glob: string): string {
    const segments = glob.split("/");
    let pattern = "";
    segments.forEach((segment, i) => {
        const first = i === 0;
        if (segment === "**") {
            pattern += segments.length === 1 ? ".*" : first ? "(.*/)?" : "(/.*)?";
            return;
        }
        const text = segment.replace(/[.]/g, "\\.").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
        pattern += first || (segments[i - 1] === "**" && i === 1) ? text : `/${text}`;
    });
    return `^${pattern}$`;
}

/** The `policy_for` function: sets KEEP_LAST, KEEP_DAYS, KEEP_TAGS for a repository, or fails when no policy names it. */
function policyFunction(policies: readonly RetentionPolicy[]): string {
    const cases = policies.map(
        (policy) =>
            `    if matches ${shellQuote(repositoryGlobPattern(policy.repositories))} "$1"; then ` +
            `POLICY=${shellQuote(policy.repositories)} KEEP_LAST=${shellQuote(String(policy.keepLast ?? ""))} ` +
            `KEEP_DAYS=${shellQuote(String(policy.keepWithinDays ?? ""))} KEEP_TAGS=${shellQuote(policy.keepTags ?? "")}; return 0; fi`,
    );
    return ["policy_for() {", ...cases, "    return 1", "}"].join("\n");
}

export function renderRetentionScript(input: RetentionScriptInput): string {
    if (input.policies.length === 0) throw new Error("retention: no policy to apply");
    const settings = [
        `REGISTRY=${shellQuote(input.registry)}`,
        `CA_FILE=${shellQuote(input.caFile ?? "")}`,
        `HANDSHAKE_DIR=${shellQuote(input.handshakeDir)}`,
        `DIGEST_TAG=${shellQuote(`^${DIGEST_TAG_PATTERN}$`)}`,
        `LOG_PREFIX=${shellQuote(RETENTION_LOG_PREFIX)}`,
        `HEARTBEAT=${shellQuote(RETENTION_HEARTBEAT)}`,
    ];
    return `#!/bin/sh
# Rendered by private-registry (components/render/retentionScript.ts): deletes the tags the
# retention policies do not keep, with regctl, right before each garbage collection.
#   sh THIS             wait for the collector's requests in HANDSHAKE_DIR and run for each
#   sh THIS --dry-run   list what a run would delete, delete nothing
#   sh THIS --now       run once
set -u
${settings.join("\n")}
USER_NAME=\${${input.userEnv}:?}
# regctl's settings and login, inside this container only.
export REGCTL_CONFIG=/tmp/retention-regctl/config.json
DRY_RUN=

log() { echo "$LOG_PREFIX $*"; }
matches() { printf '%s\\n' "$2" | grep -Eq -- "$1"; }

${policyFunction(input.policies)}

login() {
    mkdir -p "\${REGCTL_CONFIG%/*}"
    if [ -n "$CA_FILE" ]; then
        regctl registry set "$REGISTRY" --tls enabled --cacert "$(cat "$CA_FILE")" --skip-check || return 1
    fi
    printf '%s' "\${${input.passwordEnv}:?}" | regctl registry login "$REGISTRY" --user "$USER_NAME" --pass-stdin > /dev/null
}

# The digests an index lists (none for an image).
children() { regctl manifest get "$1" --format '{{range .GetManifestList}}{{println .Digest}}{{end}}' 2> /dev/null; }

# When REF's image was made, in seconds since the epoch: its config's \`created\`; an index, its
# newest platform's; 0 when it does not say.
created() {
    local ref=$1 newest=0 child when
    local kids
    kids=$(children "$ref")
    if [ -z "$kids" ]; then
        when=$(regctl image config "$ref" --format '{{if .Created}}{{.Created.Unix}}{{else}}0{{end}}' 2> /dev/null)
        echo "\${when:-0}"
        return
    fi
    for child in $kids; do
        when=$(created "\${ref%@*}@$child")
        [ "$when" -gt "$newest" ] && newest=$when
    done
    echo "$newest"
}

# Deletes the manifest a digest tag names (\`sha256-...\`, \`sha256-....sig\`); a referrers index
# (the tag without a suffix) with the referrers it lists.
delete_digest_tag() {
    local repo=$1 tag=$2 digest referrer
    digest=$(regctl image digest "$repo:$tag" 2> /dev/null) || return 0
    if [ -n "$DRY_RUN" ]; then
        log "would delete $repo:$tag ($digest)"
        return 0
    fi
    for referrer in $(children "$repo@$digest"); do
        regctl manifest delete "$repo@$referrer" 2> /dev/null
    done
    regctl manifest delete "$repo@$digest" && log "deleted $repo:$tag ($digest)"
}

# The digest tags (signatures, attestations, referrers) of one digest present in TAGS.
digest_tags_of() { grep -E -- "^sha256-\${1#sha256:}(\\..+)?$" "$TAGS" || true; }

apply() {
    local name=$1 repo="$REGISTRY/$1" work tag digest when now kids child tags
    work=$(mktemp -d)
    TAGS=$work/tags
    if ! regctl tag ls "$repo" > "$TAGS" || ! apply_listed "$repo" "$work"; then
        log "skipped $name: its tags or images could not be read"
        FAILED=$((FAILED + 1))
    fi
    rm -rf "$work"
}

apply_listed() {
    local repo=$1 work=$2 tag digest when now kids child tags
    # 1. Image tags, newest first: "CREATED TAG DIGEST".
    for tag in $(grep -Ev -- "$DIGEST_TAG" "$TAGS"); do
        digest=$(regctl image digest "$repo:$tag") || return 1
        echo "$(created "$repo@$digest") $tag $digest" >> "$work/unsorted"
    done
    sort -k1,1nr -k2,2r "$work/unsorted" > "$work/images" 2> /dev/null || : > "$work/images"
    # 2. What stays.
    : > "$work/kept"
    if [ -n "$KEEP_TAGS" ]; then regctl tag ls --include "$KEEP_TAGS" "$repo" >> "$work/kept" || return 1; fi
    [ -z "$KEEP_LAST" ] || head -n "$KEEP_LAST" "$work/images" | cut -d' ' -f2 >> "$work/kept"
    if [ -n "$KEEP_DAYS" ]; then
        now=$(date +%s)
        awk -v since=$((now - KEEP_DAYS * 86400)) '$1 >= since { print $2 }' "$work/images" >> "$work/kept"
    fi
    : > "$work/kept-digests"
    while read -r when tag digest; do
        grep -qxF -- "$tag" "$work/kept" || continue
        echo "$digest" >> "$work/kept-digests"
        children "$repo@$digest" >> "$work/kept-digests"
    done < "$work/images"
    KEPT=$((KEPT + $(awk 'NR == FNR { kept[$1]; next } ($2 in kept) { n++ } END { print n + 0 }' "$work/kept" "$work/images")))
    # 3. What goes: a tag alone when a kept tag names its image, else the image with its signatures.
    : > "$work/doomed"
    : > "$work/handled"
    while read -r when tag digest; do
        grep -qxF -- "$tag" "$work/kept" && continue
        DELETED=$((DELETED + 1))
        if grep -qxF -- "$digest" "$work/kept-digests"; then
            if [ -n "$DRY_RUN" ]; then
                log "would delete the tag $repo:$tag (a kept tag names $digest)"
            else
                regctl tag delete "$repo:$tag" && log "deleted the tag $repo:$tag (a kept tag names $digest)"
            fi
        elif ! grep -qxF -- "$digest" "$work/doomed"; then
            echo "$digest" >> "$work/doomed"
        fi
    done < "$work/images"
    while read -r digest; do
        tags=$(awk -v d="$digest" '$3 == d { print $2 }' "$work/images" | tr '\\n' ' ')
        kids=$(children "$repo@$digest")
        if [ -n "$DRY_RUN" ]; then
            log "would delete $repo@$digest (tags: \${tags% })"
        else
            regctl manifest delete "$repo@$digest" && log "deleted $repo@$digest (tags: \${tags% })"
        fi
        for child in $digest $kids; do
            grep -qxF -- "$child" "$work/kept-digests" && continue
            for tag in $(digest_tags_of "$child"); do
                delete_digest_tag "$repo" "$tag"
                echo "$tag" >> "$work/handled"
            done
            # An index's platforms: no tag names them, and what no manifest references is collected.
            [ "$child" = "$digest" ] && continue
            if [ -n "$DRY_RUN" ]; then log "would delete $repo@$child (a platform of $digest)"
            else regctl manifest delete "$repo@$child" 2> /dev/null && log "deleted $repo@$child (a platform of $digest)"; fi
        done
    done < "$work/doomed"
    # 4. Signatures of images that are gone (deleted earlier by other means).
    for tag in $(grep -E -- "$DIGEST_TAG" "$TAGS"); do
        grep -qxF -- "$tag" "$work/handled" && continue
        child=$(echo "$tag" | sed -E 's/^sha256-([0-9a-f]{64}).*/sha256:\\1/')
        if regctl manifest head "$repo@$child" 2>&1 > /dev/null | grep -qiE 'not found|404|MANIFEST_UNKNOWN'; then
            delete_digest_tag "$repo" "$tag"
        fi
    done
}

# One run over every repository a policy names; the last line is the summary.
run() {
    DELETED=0 KEPT=0 FAILED=0
    if ! login; then
        log "failed: could not log in to $REGISTRY"
        return 1
    fi
    repos=$(regctl repo ls "$REGISTRY") || {
        log "failed: could not list the repositories of $REGISTRY"
        return 1
    }
    for name in $repos; do
        policy_for "$name" || continue
        apply "$name"
    done
    if [ -n "$DRY_RUN" ]; then
        log "dry run done: $DELETED tags would go, $KEPT kept, $FAILED repositories skipped"
    else
        log "done: $DELETED tags deleted, $KEPT kept, $FAILED repositories skipped"
    fi
    [ "$FAILED" = 0 ]
}

case "\${1-}" in
    --dry-run) DRY_RUN=1; run; exit $? ;;
    --now) run; exit $? ;;
esac

# Waits for the collector's requests: one run per new id in HANDSHAKE_DIR/request.
trap 'exit 0' TERM INT
last=
while :; do
    id=$(cat "$HANDSHAKE_DIR/request" 2> /dev/null || true)
    if [ -n "$id" ] && [ "$id" != "$last" ]; then
        last=$id
        echo "$id" > "$HANDSHAKE_DIR/started.tmp" && mv "$HANDSHAKE_DIR/started.tmp" "$HANDSHAKE_DIR/started"
        run > "$HANDSHAKE_DIR/run.log" 2>&1
        status=$?
        cat "$HANDSHAKE_DIR/run.log"
        printf '%s\\n%s\\n' "$id" "$(tail -n 1 "$HANDSHAKE_DIR/run.log" | sed "s|^$LOG_PREFIX ||") (exit $status)" > "$HANDSHAKE_DIR/done.tmp"
        mv "$HANDSHAKE_DIR/done.tmp" "$HANDSHAKE_DIR/done"
    fi
    # The container's health check: the loop is alive.
    touch "$HEARTBEAT"
    sleep 2 &
    wait $!
done
`;
}
