/**
 * A service's files as one set, changed without replacing the service: never-started holder
 * containers write them into a volume (components/services/serviceContainer.ts: one holder per
 * plain file, one for all the secret files), the service mounts the volume read-only, and its
 * own command (edgeApplier.ts, registrySupervisor.ts) takes a new set only once every file of it
 * has arrived whole. Docker writes an upload in place, one file after the other, so at any
 * moment a volume may hold a file half written or files of two sets; the manifest, written
 * last, names the set and each file's SHA-256, and the command copies the files, checks each
 * copy against the manifest, and otherwise waits for the next look. Pure: text in, text out.
 *
 * A service with secret files has two volumes, each with its manifest (a diff shows the plain
 * files line by line, the secret ones as `[secret]`); both manifests name the same set, an HMAC
 * of every file of both under a key kept secret in state, so the plain manifest reveals nothing
 * of the secret files and the command never mixes a plain half of one set with a secret half of
 * another.
 */
import { createHash, createHmac } from "crypto";

/** The manifest's name in each volume of a set. */
export const MANIFEST = "manifest";

export interface SetFile {
    /** A plain file name (letters, digits, `.`, `_`, `-`): the sets are flat. */
    name: string;
    content: string;
}

const FILE_NAME = /^[A-Za-z0-9._-]+$/;

/**
 * The set's name: HMAC-SHA256 under `key` over each file's name and content (every file of
 * every volume), or without a key (no secret file in the set) their SHA-256.
 */
export function fileSetId(files: SetFile[], key?: string): string {
    const hash = key === undefined ? createHash("sha256") : createHmac("sha256", key);
    for (const file of [...files].sort((a, b) => a.name.localeCompare(b.name)))
        hash.update(`${file.name}\0${Buffer.byteLength(file.content)}\0${file.content}`);
    return hash.digest("hex").slice(0, 32);
}

/** A volume's manifest: the set's name, then `SHA-256  name` per file (`sha256sum`'s format). */
export function renderManifest(setId: string, files: SetFile[]): string {
    for (const file of files)
        if (!FILE_NAME.test(file.name) || file.name === MANIFEST) throw new Error(`not a set file name: ${file.name}`);
    return [
        "# Rendered by private-registry (components/render/fileSet.ts): the files of one set, each with its SHA-256.",
        `# set ${setId}`,
        ...files.map((file) => `${createHash("sha256").update(file.content).digest("hex")}  ${file.name}`),
        "",
    ].join("\n");
}

/**
 * POSIX `sh` functions for the commands that take sets (busybox's sh, sed, cp and sha256sum, as
 * in the official Alpine images and the stand-ins):
 * - `set_of MANIFEST`: the set a manifest names, empty if none (or no manifest yet);
 * - `copy_set FROM TO LABEL SET`: copies the manifest of FROM (as TO/LABEL.manifest) and every
 *   file it lists into TO, and succeeds only if that manifest names SET and each copy has its
 *   SHA-256: TO then holds that set's files whole, whatever the holders write meanwhile;
 * - `not_taken SET REASON`: logs (with the script's `log`) why SET is not taken yet, once, and again
 *   only when the set or the reason changes: an operator (and a test) sees what a set waits for.
 */
export const FILE_SET_FUNCTIONS = `# The set a manifest names (empty: none yet).
set_of() { sed -n 's/^# set //p' "$1" 2>/dev/null | head -n 1; }
# Copies a holder's files into a set directory; fails unless the copies are the set named, whole.
copy_set() {
    cp "$1/${MANIFEST}" "$2/$3.manifest" 2>/dev/null || return 1
    [ "$(set_of "$2/$3.manifest")" = "$4" ] || return 1
    while read -r sum name; do
        case "$sum" in '' | '#'*) continue ;; esac
        cp "$1/$name" "$2/$name" 2>/dev/null || return 1
        [ "$(sha256sum "$2/$name" | cut -d' ' -f1)" = "$sum" ] || return 1
    done <"$2/$3.manifest"
}
# Says once why a set is not taken yet.
NOT_TAKEN=
not_taken() {
    [ "$NOT_TAKEN" != "$1: $2" ] || return 0
    NOT_TAKEN="$1: $2"
    log "set $1 not taken yet: $2"
}`;
