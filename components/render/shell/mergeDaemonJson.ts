/**
 * The awk program a node script runs to add a registry mirror to Docker's `daemon.json`, with
 * nothing but POSIX awk (busybox, mawk, gawk; run under LC_ALL=C): no jq, no Python, and never
 * dockerd itself. Every other byte of the file is kept.
 *
 * - no file, or only whitespace: `{"registry-mirrors": [OURS]}`;
 * - a JSON object without `registry-mirrors`: ours inserted as its first member;
 * - `registry-mirrors` a list of strings: ours appended (dockerd tries mirrors in order, so the
 *   user's own stay first), or nothing changes when it is there already;
 * - anything else (not an object, a list holding something other than strings, unbalanced
 *   brackets or quotes, text after the object): it prints why and exits 3, so the script can
 *   refuse, print what to add by hand, and change nothing.
 *
 * It checks the structure it edits (strings, nesting, the end of the object), not every rule of
 * JSON: dockerd already refuses to start on a daemon.json that is not JSON, and an edit never
 * turns valid JSON into invalid JSON.
 *
 * Environment (ENVIRON, no escape processing): PR_MIRROR, the mirror's URL (no `"` or `\`).
 * Input: the existing file (or /dev/null). Output: the merged file.
 */
export const MERGE_DAEMON_JSON_AWK = String.raw`
function refuse(why) {
    printf "%s\n", why > "/dev/stderr"
    refused = 1
    exit 3
}
BEGIN { ours = ENVIRON["PR_MIRROR"]; key = "registry-mirrors"; doc = "" }
{ doc = doc (NR > 1 ? "\n" : "") $0 }
END {
    if (refused) exit 3
    if (ours == "" || index(ours, "\"") || index(ours, "\\")) refuse("no usable PR_MIRROR")
    n = length(doc)
    i = 1
    while (i <= n && substr(doc, i, 1) ~ /[ \t\r\n]/) i++
    if (i > n) {
        printf "{\n    \"%s\": [\"%s\"]\n}\n", key, ours
        exit 0
    }
    if (substr(doc, i, 1) != "{") refuse("its top level is not a JSON object")
    open = i; depth = 0; inString = 0; escaped = 0; members = 0; found = 0; closeAt = 0
    lastKey = ""; afterColon = 0; valueStart = 0; valueEnd = 0
    for (j = i; j <= n; j++) {
        c = substr(doc, j, 1)
        if (inString) {
            if (escaped) escaped = 0
            else if (c == "\\") escaped = 1
            else if (c == "\"") {
                inString = 0
                if (depth == 1 && !afterColon) lastKey = substr(doc, stringStart + 1, j - stringStart - 1)
            }
            continue
        }
        if (c == "\"") { inString = 1; stringStart = j; continue }
        if (c == ":" && depth == 1) {
            if (afterColon) refuse("a member has two colons")
            afterColon = 1; members++
            if (lastKey == key) { if (found) refuse("it names registry-mirrors twice"); found = 1; valueStart = j + 1 }
            continue
        }
        if (c == "," && depth == 1) {
            if (found && valueEnd == 0) valueEnd = j
            afterColon = 0; lastKey = ""
            continue
        }
        if (c == "{" || c == "[") { depth++; continue }
        if (c == "}" || c == "]") {
            depth--
            if (depth < 0) refuse("its brackets do not balance")
            if (depth == 0) {
                if (c != "}") refuse("its brackets do not balance")
                if (found && valueEnd == 0) valueEnd = j
                closeAt = j
                break
            }
        }
    }
    if (inString) refuse("a string never ends")
    if (closeAt == 0) refuse("the object never ends")
    rest = substr(doc, closeAt + 1)
    if (rest !~ /^[ \t\r\n]*$/) refuse("there is more after the object")
    if (!found) {
        member = "\n    \"" key "\": [\"" ours "\"]"
        printf "%s%s%s%s\n", substr(doc, 1, open), member, (members > 0 ? "," : "\n"), substr(doc, open + 1)
        exit 0
    }
    value = substr(doc, valueStart, valueEnd - valueStart)
    s = "\"([^\"\\\\]|\\\\.)*\""
    w = "[ \t\r\n]*"
    if (value !~ ("^" w "\\[" w "(" s w "(," w s w ")*)?\\]" w "$")) refuse("its registry-mirrors is not a list of strings")
    if (index(value, "\"" ours "\"") || index(value, "\"" ours "/\"")) {
        printf "%s\n", doc
        exit 0
    }
    closing = valueStart + length(value) - 1
    while (substr(doc, closing, 1) != "]") closing--
    inner = substr(doc, valueStart, closing - valueStart)
    sep = (inner ~ /"/) ? ", " : ""
    printf "%s%s\"%s\"%s\n", substr(doc, 1, closing - 1), sep, ours, substr(doc, closing)
}
`;
