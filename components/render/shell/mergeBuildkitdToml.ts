/**
 * The awk program the builders' script runs to put our registry's table into BuildKit's
 * `buildkitd.toml`, which the builder's owner may already use for other settings (mirrors, other
 * registries, worker and GC settings), with nothing but POSIX awk (run under LC_ALL=C): no Python,
 * no TOML tool. Every other line of the file is kept as it was.
 *
 * - no file, or only whitespace: our table;
 * - our table's header (`[registry."host:port"]`, however spaced or quoted) once: that table (its
 *   header and its lines up to the next header, less the blank and comment lines just before it)
 *   replaced by ours, so a second run changes nothing;
 * - no such header: the file, then a blank line and our table;
 * - anything a line-based reading cannot vouch for (multi-line strings, a string or an array that
 *   never ends, CR line ends, our header twice, our registry named by another table or by a key
 *   (`"host:port" = {...}` under `[registry]`, dotted keys, `[registry."host:port".x]`), `registry`
 *   set as a value at the top level, which a table header cannot extend): it prints why and exits
 *   3, so the script can refuse, print what to add by hand, and change nothing.
 *
 * Environment (ENVIRON, no escape processing): PR_ENDPOINT, the registry's `host[:port]`;
 * PR_HEADER, our table's header as written at the start of PR_TABLE; PR_TABLE, our table (its
 * header line, its keys, a final newline). Input: the existing file (or /dev/null). Output: the
 * merged file.
 */
export const MERGE_BUILDKITD_TOML_AWK = String.raw`
function refuse(why, at) {
    printf "%s%s\n", why, (at > 0 ? " at line " at : "") > "/dev/stderr"
    refused = 1
    exit 3
}
# Reads line s outside its strings and comment. Sets NORM: the line without its comment and the
# blanks outside strings, a literal string written as a basic one; DELTA: its [ and { less its
# ] and }; EQ: where in NORM the first = is, 0 when there is none.
function scan(s, at,   i, n, c, q, str, esc) {
    n = length(s); NORM = ""; DELTA = 0; EQ = 0; q = ""
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (q == "\"") {
            str = str c
            if (esc) esc = 0
            else if (c == "\\") esc = 1
            else if (c == "\"") { q = ""; NORM = NORM str }
            continue
        }
        if (q == "'") {
            if (c != "'") { str = str c; continue }
            q = ""
            if (index(str, "\"") || index(str, "\\")) NORM = NORM "'" str "'"
            else NORM = NORM "\"" str "\""
            continue
        }
        if (c == "#") break
        if (c == "\"") { q = c; str = c; esc = 0; continue }
        if (c == "'") { q = c; str = ""; continue }
        if (c == " " || c == "\t") continue
        if (c == "[" || c == "{") DELTA++
        if (c == "]" || c == "}") DELTA--
        if (c == "=" && EQ == 0) EQ = length(NORM) + 1
        NORM = NORM c
    }
    if (q != "") refuse("a string does not end on its line", at)
}
# Does the key path s (blanks removed) name our registry: "host:port" quoted, or bare where it can be?
function mentions(s,   rest, at, before, after) {
    if (index(s, "\"" ep "\"")) return 1
    if (ep !~ /^[A-Za-z0-9_-]+$/) return 0
    rest = s
    while ((at = index(rest, ep)) > 0) {
        before = at == 1 ? "" : substr(rest, at - 1, 1)
        after = substr(rest, at + length(ep), 1)
        if (before ~ /^([.[{,]|)$/ && after ~ /^([].=}]|)$/) return 1
        rest = substr(rest, at + 1)
    }
    return 0
}
BEGIN {
    ep = ENVIRON["PR_ENDPOINT"]; header = ENVIRON["PR_HEADER"]; table = ENVIRON["PR_TABLE"]
    gsub(/[ \t]/, "", header)
}
{
    if ($0 ~ /\r$/) refuse("it has CR line ends", NR)
    if (index($0, "\"\"\"") || index($0, "'''")) refuse("a multi-line string", NR)
    line[NR] = $0
}
END {
    if (refused) exit 3
    if (ep == "" || header == "" || table == "" || substr(table, length(table)) != "\n") refuse("no usable PR_ENDPOINT, PR_HEADER or PR_TABLE")
    n = NR; depth = 0; found = 0; root = 1
    for (i = 1; i <= n; i++) {
        scan(line[i], i)
        kind[i] = "value"
        if (depth > 0) {
            depth += DELTA
            if (depth < 0) refuse("its brackets do not balance", i)
            continue
        }
        if (NORM == "") { kind[i] = "blank"; continue }
        if (substr(NORM, 1, 1) == "[") {
            kind[i] = "header"; root = 0
            if (NORM == header) {
                if (found) refuse("it has " header " twice", i)
                found = i
            } else if (mentions(NORM)) refuse("a table other than " header " names " ep, i)
            continue
        }
        if (EQ == 0) refuse("a line that is no table header, no key = value and no comment", i)
        key = substr(NORM, 1, EQ - 1)
        if (mentions(key)) refuse("a key names " ep, i)
        if (root && (key ~ /^("registry"|registry)($|\.)/)) refuse("registry is set as a value at the top level", i)
        depth = DELTA
        if (depth < 0) refuse("its brackets do not balance", i)
    }
    if (depth != 0) refuse("an array never ends", n)
    if (found) {
        stop = n
        for (j = found + 1; j <= n; j++) if (kind[j] == "header") { stop = j - 1; break }
        while (stop > found && kind[stop] == "blank") stop--
        for (j = 1; j < found; j++) print line[j]
        printf "%s", table
        for (j = stop + 1; j <= n; j++) print line[j]
        exit 0
    }
    last = n
    while (last > 0 && line[last] ~ /^[ \t]*$/) last--
    for (j = 1; j <= last; j++) print line[j]
    if (last > 0) print ""
    printf "%s", table
}
`;
