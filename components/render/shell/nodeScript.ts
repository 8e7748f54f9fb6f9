import { MERGE_YAML_MAPS_AWK } from "./mergeYamlMaps";
import { shellQuote } from "./quote";

/**
 * Our entries for a YAML file other software shares: each goes into the named top-level map
 * (`mirrors`, `configs`) under `key`, replacing only an entry with that key.
 */
export interface YamlMapsMerge {
    key: string;
    /** Map name → the key of our entry in that map, where it is not `key`. */
    mapKeys?: Record<string, string>;
    /** Top-level map name → our entry, as YAML with the entry's key at column 0. */
    entries: Record<string, string>;
}

/** A file a client node needs, at its absolute path on that node. */
export interface ClientFile {
    path: string;
    /** Octal, e.g. `0644`; credentials get `0600`. */
    mode: string;
    /** The whole file, or, for a shared file (`merge` set), exactly what to add to it. */
    content: string;
    /** Set on a file other software shares: the script merges these entries instead of replacing the file. */
    merge?: YamlMapsMerge;
    /**
     * Set on a shared file merged by its own awk program (Docker's daemon.json): `content` is the
     * fragment to add by hand when the program refuses (exit 3, the reason on stderr).
     */
    awkMerge?: AwkMerge;
}

/** An awk program run on the existing file (or /dev/null) under LC_ALL=C, printing the merged file. */
export interface AwkMerge {
    program: string;
    /** Environment the program reads through ENVIRON, e.g. `PR_MIRROR`. */
    env: Record<string, string>;
    /** What the program handles, for the refusal: "a JSON object". */
    handles: string;
}

/** The one marker every here-document in a script ends with; no file content may contain it. */
export const HEREDOC = "PRIVATE_REGISTRY_EOF";
/** Paths (as on the node, space-separated) a script leaves alone when a merge was refused and done by hand. */
export const KEEP_VARIABLE = "PRIVATE_REGISTRY_KEEP";

function hereDocument(target: string, content: string): string[] {
    if (content.includes(HEREDOC)) throw new Error(`${target} contains the here-document marker`);
    const body = content.endsWith("\n") ? content : `${content}\n`;
    return [`cat > ${target} <<'${HEREDOC}'`, `${body}${HEREDOC}`];
}

/**
 * Shell functions every script shares. Nothing on the node changes while files are staged; then
 * every file is installed only if its content differs (so a second run changes nothing), through a
 * temporary file in the target's own directory renamed over it (never half-written). Directories
 * are created 0755 whatever the umask (the script runs under `umask 077` for its secrets), so
 * `/etc/docker`, `/etc/containerd` and `/etc/rancher` stay readable to what reads them.
 */
const FUNCTIONS = String.raw`pr_same() {
    [ -f "$2" ] && [ "$(cat "$1"; echo .)" = "$(cat "$2"; echo .)" ]
}
# pr_install MODE STAGED TARGET own|shared TARGET_DIR
pr_install() {
    (umask 022 && mkdir -p "$5")
    if pr_same "$2" "$3"; then
        chmod "$1" "$3"
        return 0
    fi
    if [ "$4" = shared ] && [ -f "$3" ]; then
        pr_backup="$3.bak-$(date +%Y%m%d-%H%M%S)"
        [ ! -e "$pr_backup" ] || pr_backup="$pr_backup-$$"
        cp -p "$3" "$pr_backup"
        chmod 600 "$pr_backup"
        echo "private-registry: $3 changed; the previous version is $pr_backup" >&2
    fi
    cp "$2" "$3.private-registry-new"
    chmod "$1" "$3.private-registry-new"
    mv -f "$3.private-registry-new" "$3"
    PR_CHANGED="$PR_CHANGED|$3|"
}
# pr_changed PATH...: did this run rewrite any of them? (Restart a daemon only then.)
pr_changed() {
    for pr_path in "$@"; do
        case "$PR_CHANGED" in *"|$pr_path|"*) return 0 ;; esac
    done
    return 1
}
pr_kept() {
    for pr_path in $PRIVATE_REGISTRY_KEEP; do
        [ "$pr_path" != "$1" ] || return 0
    done
    return 1
}
pr_refuse() {
    {
        echo "private-registry: $1: $2; this script edits only block-style YAML, so it changed nothing on this node."
        echo "Add these entries to $1 by hand (in its top-level maps of the same names, replacing any with the same key):"
        echo
        cat "$3"
        echo
        echo "then run this script again with ${KEEP_VARIABLE}=$1 to write the rest and leave that file as it is."
    } >>"$STAGE/refused"
}
# pr_merge_awk PATH STAGED PROGRAM HANDLES ENV...: STAGED.merged is PROGRAM's merge, unless refused or kept.
pr_merge_awk() {
    pr_path="$1" pr_staged="$2" pr_program="$3" pr_handles="$4"
    shift 4
    if pr_kept "$pr_path"; then
        echo "private-registry: leaving $pr_path as it is (${KEEP_VARIABLE})" >&2
        return 0
    fi
    pr_why=""
    if [ -L "$ROOT$pr_path" ] || { [ -e "$ROOT$pr_path" ] && [ ! -f "$ROOT$pr_path" ]; }; then
        pr_why="not a regular file"
    elif ! command -v awk >/dev/null 2>&1; then
        pr_why="there is no awk on this node to merge it"
    else
        pr_input="$ROOT$pr_path"
        [ -e "$pr_input" ] || pr_input=/dev/null
        if ! env LC_ALL=C "$@" awk -f "$pr_program" <"$pr_input" >"$pr_staged.merged" 2>"$STAGE/why"; then
            rm -f "$pr_staged.merged"
            pr_why=$(cat "$STAGE/why")
        fi
    fi
    [ -n "$pr_why" ] || return 0
    {
        echo "private-registry: $pr_path: $pr_why; this script edits only $pr_handles, so it changed nothing on this node."
        echo "Add this to $pr_path by hand:"
        echo
        cat "$pr_staged"
        echo
        echo "then run this script again with ${KEEP_VARIABLE}=$pr_path to write the rest and leave that file as it is."
    } >>"$STAGE/refused"
}
# pr_merge PATH STAGED KEY MAPS: STAGED.merged is the merged file, unless refused or kept.
pr_merge() {
    if pr_kept "$1"; then
        echo "private-registry: leaving $1 as it is (${KEEP_VARIABLE})" >&2
        return 0
    fi
    if [ -L "$ROOT$1" ] || { [ -e "$ROOT$1" ] && [ ! -f "$ROOT$1" ]; }; then
        pr_refuse "$1" "not a regular file" "$2"
        return 0
    fi
    if ! command -v awk >/dev/null 2>&1; then
        pr_refuse "$1" "there is no awk on this node to merge it" "$2"
        return 0
    fi
    pr_input="$ROOT$1"
    [ -e "$pr_input" ] || pr_input=/dev/null
    if ! PR_KEY="$3" PR_MAPS="$4" PR_ENTRIES="$2." awk -f "$STAGE/merge.awk" <"$pr_input" >"$2.merged" 2>"$STAGE/why"; then
        rm -f "$2.merged"
        pr_refuse "$1" "$(cat "$STAGE/why")" "$2"
    fi
}`;

/**
 * The one renderer behind every `script`: POSIX `sh` that stages every file (merging the shared
 * ones), stops having changed nothing if a merge is refused, then installs the files and runs the
 * commands. Needs only sh, mktemp, cat, cp, mv, rm, chmod, mkdir, date and, for a shared file, awk:
 * what busybox gives a minimal node.
 */
export function renderScript(description: string, files: ClientFile[], commands: string[]): string {
    const lines = [
        "#!/bin/sh",
        `# ${description}`,
        "set -eu",
        "umask 077",
        'ROOT="${ROOT:-}"',
        `${KEEP_VARIABLE}="\${${KEEP_VARIABLE}:-}"`,
        "PR_CHANGED=",
        'STAGE=$(mktemp -d 2>/dev/null) || { STAGE="${TMPDIR:-/tmp}/private-registry.$$" && mkdir "$STAGE"; }',
        "trap 'rm -rf \"$STAGE\"' EXIT",
        "trap 'exit 130' HUP INT TERM",
        FUNCTIONS,
    ];
    if (files.some((file) => file.merge !== undefined)) lines.push(...hereDocument('"$STAGE/merge.awk"', MERGE_YAML_MAPS_AWK.trimStart()));
    lines.push("# Stage every file first: nothing on the node changes unless all of them can be written.");
    const installs: string[] = [];
    files.forEach((file, index) => {
        const staged = `"$STAGE/${index}"`;
        const target = `"$ROOT"${shellQuote(file.path)}`;
        const dir = `"$ROOT"${shellQuote(file.path.slice(0, file.path.lastIndexOf("/")) || "/")}`;
        lines.push(...hereDocument(staged, file.content));
        if (file.awkMerge !== undefined) {
            const program = `"$STAGE/${index}.awk"`;
            lines.push(...hereDocument(program, file.awkMerge.program.trimStart()));
            const env = Object.entries(file.awkMerge.env).map(([name, value]) => {
                if (!/^[A-Z_]+$/.test(name)) throw new Error(`${file.path}: ${JSON.stringify(name)} is not a plain variable name`);
                return shellQuote(`${name}=${value}`);
            });
            lines.push(`pr_merge_awk ${shellQuote(file.path)} ${staged} ${program} ${shellQuote(file.awkMerge.handles)} ${env.join(" ")}`);
            installs.push(
                `if [ -f "$STAGE/${index}.merged" ]; then pr_install ${file.mode} "$STAGE/${index}.merged" ${target} shared ${dir}; fi`,
            );
            return;
        }
        if (file.merge === undefined) {
            installs.push(`pr_install ${file.mode} ${staged} ${target} own ${dir}`);
            return;
        }
        for (const [map, entry] of Object.entries(file.merge.entries)) {
            if (!/^[a-z_]+$/.test(map)) throw new Error(`${file.path}: map name ${JSON.stringify(map)} is not a plain key`);
            lines.push(...hereDocument(`"$STAGE/${index}.${map}"`, entry));
        }
        const mapKeys = Object.entries(file.merge.mapKeys ?? {});
        for (const [map, key] of mapKeys) lines.push(`PR_KEY_${map}=${shellQuote(key)} && export PR_KEY_${map}`);
        lines.push(
            `pr_merge ${shellQuote(file.path)} ${staged} ${shellQuote(file.merge.key)} ${shellQuote(Object.keys(file.merge.entries).join(" "))}`,
        );
        for (const [map] of mapKeys) lines.push(`unset PR_KEY_${map}`);
        installs.push(
            `if [ -f "$STAGE/${index}.merged" ]; then pr_install ${file.mode} "$STAGE/${index}.merged" ${target} shared ${dir}; fi`,
        );
    });
    lines.push('if [ -s "$STAGE/refused" ]; then', '    cat "$STAGE/refused" >&2', "    exit 1", "fi", ...installs);
    // Writing under another root (an image being built, a test) is not this node: no commands.
    if (commands.length > 0) lines.push('if [ -n "$ROOT" ]; then exit 0; fi', ...commands);
    return `${lines.join("\n")}\n`;
}
