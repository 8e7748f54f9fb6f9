/**
 * The awk program a node script runs to merge our entries into a YAML file other software shares
 * (k3s's `registries.yaml`), with nothing but POSIX awk (busybox, mawk, gawk): no Python, no yq.
 *
 * It only edits what a line-based reading can vouch for: block-style YAML whose top level is a
 * mapping, the maps to merge (`mirrors:`, `configs:`) being top-level block mappings. Each map gets
 * our entry in place of an existing one with the same key, or after its last entry; a missing map
 * is appended. Every other line is printed as it was, byte for byte. Anything else (flow style,
 * anchors, aliases, tags, merge keys, complex keys, tabs, CR line ends, directives, several
 * documents, quoted strings spanning lines) makes it print a reason and exit 3, so the script can
 * refuse, print what to add by hand, and change nothing.
 *
 * Environment (ENVIRON, so no escape processing): PR_KEY, the entry key (`host[:port]`), or
 * PR_KEY_<map> for one map whose entry has another key (`mirrors` → `docker.io`); PR_MAPS,
 * the top-level map names separated by spaces; PR_ENTRIES, a path prefix: the entry for map M is
 * the file PR_ENTRIES + M, the entry's key at column 0 (it is indented to the map's own indent).
 * Input: the existing file (or /dev/null). Output: the merged file.
 */
export const MERGE_YAML_MAPS_AWK = String.raw`
function refuse(why, at) {
    printf "%s%s\n", why, (at > 0 ? " at line " at : "") > "/dev/stderr"
    refused = 1
    exit 3
}
# The line with quoted strings replaced by Q, its comment and trailing spaces removed.
function structure(s) {
    gsub(/"([^"\\]|\\.)*"/, "Q", s)
    gsub(/'([^']|'')*'/, "Q", s)
    sub(/(^|[ ])#.*$/, "", s)
    sub(/[ ]+$/, "", s)
    return s
}
function indentOf(s) {
    match(s, /^[ ]*/)
    return RLENGTH
}
# Why the structure of a content line is beyond this reading, or "".
function unsafe(t) {
    sub(/^[ ]+/, "", t)
    while (t ~ /^-( |$)/) sub(/^-[ ]*/, "", t)
    if (t ~ /^\?( |$)/) return "a complex mapping key (?)"
    if (t ~ /^[[{]/ || t ~ /:[ ]+[[{]/) return "flow style ([...] or {...})"
    if (t ~ /^[&*!]/ || t ~ /:[ ]+[&*!]/) return "an anchor, alias or tag (&, *, !)"
    if (t ~ /^<<[ ]*:/) return "a merge key (<<)"
    if (t ~ /^["']/ || t ~ /:[ ]+["']/) return "a quoted string spanning lines"
    return ""
}
# "'key' :" without the quotes and the colon.
function unquote(q) {
    sub(/[ ]*:[ ]?$/, "", q)
    return substr(q, 2, length(q) - 2)
}
# Sets KEY and VALUE from a mapping line (indent removed); returns 0 when it is no "key: value".
function splitKey(u,   rest) {
    if (u ~ /^"/) {
        if (!match(u, /^"([^"\\]|\\.)*"[ ]*:( |$)/)) return 0
        KEY = unquote(substr(u, 1, RLENGTH))
        if (index(KEY, "\\")) refuse("a double-quoted key with an escape", I)
    } else if (u ~ /^'/) {
        if (!match(u, /^'([^']|'')*'[ ]*:( |$)/)) return 0
        KEY = unquote(substr(u, 1, RLENGTH))
        gsub(/''/, "'", KEY)
    } else {
        if (u ~ /^[][?:,{}#&*!|>%@-]/ && u !~ /^[?:-][^ ]/) return 0
        if (!match(u, /:( |$)/)) return 0
        KEY = substr(u, 1, RSTART - 1)
        sub(/[ ]+$/, "", KEY)
        if (index(KEY, " #")) return 0
    }
    rest = substr(u, RSTART + RLENGTH)
    VALUE = structure(rest)
    sub(/^[ ]+/, "", VALUE)
    return 1
}
function entryText(map, indent,   path, text, l, pad) {
    path = ENVIRON["PR_ENTRIES"] map
    pad = sprintf("%" indent "s", "")
    text = ""
    while ((getline l < path) > 0) text = text (l == "" ? "" : pad l) "\n"
    close(path)
    if (text == "") refuse("internal: no entry for " map, 0)
    return text
}
{ line[++n] = $0 }
END {
    if (refused) exit 3
    key = ENVIRON["PR_KEY"]
    mapCount = split(ENVIRON["PR_MAPS"], maps, " ")
    for (m = 1; m <= mapCount; m++) wanted[maps[m]] = 1
    started = 0
    for (I = 1; I <= n; I++) {
        s = line[I]
        if (index(s, "\r")) refuse("a carriage return (CRLF line ends)", I)
        if (index(s, "\t")) refuse("a tab", I)
        kind[I] = "skip"
        if (s ~ /^[ ]*$/ || s ~ /^[ ]*#/) continue
        if (s ~ /^%/) refuse("a YAML directive", I)
        if (s ~ /^---( |$)/) {
            if (started || docStart) refuse("more than one YAML document", I)
            if (structure(s) != "---") refuse("content on the document start line", I)
            docStart = 1
            continue
        }
        if (s ~ /^\.\.\.( |$)/) refuse("a document end marker (...)", I)
        started = 1
        kind[I] = "content"
        indent[I] = indentOf(s)
        t = structure(s)
        why = unsafe(t)
        if (why != "") {
            # An empty map written in flow style is the one flow form taken: "mirrors: {}".
            if (!(indent[I] == 0 && splitKey(t) && (KEY in wanted) && VALUE == "{}")) refuse(why, I)
        }
    }
    # Top level: a block mapping; find the maps to merge.
    for (I = 1; I <= n; I++) {
        if (kind[I] != "content" || indent[I] != 0) continue
        if (!splitKey(line[I])) refuse("a top-level line that is not \"key:\" (the file must be a mapping)", I)
        if (KEY in topLine) refuse("the top-level key " KEY " twice", I)
        topLine[KEY] = I
        topValue[KEY] = VALUE
        tops[++topCount] = I
    }
    tops[topCount + 1] = n + 1
    tail = ""
    for (m = 1; m <= mapCount; m++) {
        name = maps[m]
        mapKey = (("PR_KEY_" name) in ENVIRON) ? ENVIRON["PR_KEY_" name] : key
        if (!(name in topLine)) {
            tail = tail name ":\n" entryText(name, 2)
            continue
        }
        h = topLine[name]
        for (k = 1; tops[k] != h; k++) {}
        end = tops[k + 1]
        if (topValue[name] != "" && topValue[name] != "{}" && topValue[name] != "~" && topValue[name] != "null") refuse(name ": does not hold a block mapping", h)
        entryIndent = 0; lastContent = 0; found = 0; foundEnd = 0
        for (I = h + 1; I < end; I++) {
            if (kind[I] != "content") continue
            if (topValue[name] != "") refuse(name ": has a value and indented lines", I)
            if (entryIndent == 0) entryIndent = indent[I]
            if (indent[I] < entryIndent) refuse("an indentation that does not match the entries of " name ":", I)
            if (indent[I] == entryIndent) {
                if (line[I] ~ /^[ ]*-( |$)/ || !splitKey(substr(line[I], entryIndent + 1))) refuse(name ": is not a mapping of keys", I)
                if (found && !foundEnd) foundEnd = lastContent
                if (KEY == mapKey) {
                    if (found) refuse(name ": names " mapKey " twice", I)
                    found = I
                }
            }
            lastContent = I
        }
        if (found && !foundEnd) foundEnd = lastContent
        if (found) {
            before[found] = before[found] entryText(name, entryIndent)
            for (I = found; I <= foundEnd; I++) drop[I] = 1
        } else if (lastContent) {
            after[lastContent] = after[lastContent] entryText(name, entryIndent)
        } else {
            if (topValue[name] != "") {
                rewritten = line[h]
                sub(/:[ ]*([{][}]|~|null)/, ":", rewritten)
                rewrite[h] = rewritten
            }
            after[h] = after[h] entryText(name, 2)
        }
    }
    for (I = 1; I <= n; I++) {
        if (I in before) printf "%s", before[I]
        if (!(I in drop)) print (I in rewrite ? rewrite[I] : line[I])
        if (I in after) printf "%s", after[I]
    }
    printf "%s", tail
}
`;
