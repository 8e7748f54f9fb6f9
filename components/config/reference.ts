/**
 * The configuration's reference, generated from the key declarations (keys.ts): the README's
 * configuration table and Pulumi.yaml's `config:` section. `npm run docs:config` writes both;
 * test/unit/config.test.ts fails when either is stale. Pure: text in, text out.
 */
import { stringify } from "yaml";
import { CONFIG_KEYS, keyName } from "./keys";
import type { Declaration, Declarations } from "./reader";

const KEYS: Declarations = CONFIG_KEYS;

/** A value as the docs show it: `[a, b]`, `{kind: filesystem}`, `443`. */
export function shownValue(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(shownValue).join(", ")}]`;
    if (typeof value === "object" && value !== null)
        return `{${Object.entries(value)
            .map(([k, v]) => `${k}: ${shownValue(v)}`)
            .join(", ")}}`;
    return String(value);
}

/** Text inside a Markdown table cell: a `|` would end the cell. */
function cell(text: string): string {
    return text.replace(/\|/g, "\\|");
}

/** The default column: the key's own default, then its fields' defaults, which apply when it is set. */
function shownDefault(declaration: Declaration): string {
    const fieldDefaults = Object.entries(declaration.fields ?? {})
        .filter(([, field]) => field.default !== undefined)
        .map(([name, field]) => `\`${name}: ${shownValue(field.default)}\``)
        .join(", ");
    const value = declaration.default;
    // `{}`: an object whose fields' defaults apply when it is unset too.
    const fieldsOnly =
        declaration.fields !== undefined &&
        typeof value === "object" &&
        value !== null &&
        !Array.isArray(value) &&
        Object.keys(value).length === 0;
    const own = declaration.shownDefault ?? (value === undefined ? "none" : fieldsOnly ? "" : `\`${shownValue(value)}\``);
    if (fieldDefaults === "") return own;
    return own === "" ? fieldDefaults : `${own} (fields: ${fieldDefaults})`;
}

/** The README's configuration table: one row per key, with the value it takes, its default and what it is for. */
export function configTable(): string {
    const rows = Object.entries(KEYS).map(([key, declaration]) =>
        [`\`${key}\``, declaration.form, shownDefault(declaration), declaration.description ?? ""].map(cell).join(" | "),
    );
    return ["| key | value | default | meaning |", "|---|---|---|---|", ...rows.map((row) => `| ${row} |`)].join("\n");
}

/** Markdown as Pulumi.yaml's plain descriptions show it: a link becomes its text (and its target, when they differ). */
function plain(markdown: string): string {
    return markdown.replace(/\[([^\]]+)\]\(([^)]+)\)/g, (_, text: string, target: string) =>
        text === target ? text : `${text} (${target})`,
    );
}

/** The value Pulumi.yaml declares for an unset key: a declared key needs a default, else Pulumi demands it in every stack. */
function declaredDefault(declaration: Declaration, type: string): unknown {
    if (declaration.default !== undefined) return declaration.default;
    return type === "array" ? [] : "";
}

/** Pulumi.yaml's `config:` section, to the end of the file: the declared keys, and why the others are not declared. */
export function pulumiConfigSection(): string {
    const declared: Record<string, unknown> = {};
    const undeclared = new Map<string, string[]>();
    for (const [key, declaration] of Object.entries(KEYS)) {
        const pulumi = declaration.pulumi;
        if (pulumi === undefined) throw new Error(`${key}: declare its Pulumi type, or why it has none`);
        if ("undeclared" in pulumi) {
            undeclared.set(pulumi.undeclared, [...(undeclared.get(pulumi.undeclared) ?? []), key]);
            continue;
        }
        declared[keyName(key)] = {
            type: pulumi.type,
            ...(pulumi.type === "array" ? { items: { type: "string" } } : {}),
            default: declaredDefault(declaration, pulumi.type),
            description: plain(declaration.description ?? declaration.form),
        };
    }
    const comments = [
        "  # Generated from components/config/keys.ts, where each key is declared once: edit it there, then run",
        "  # `npm run docs:config`. Every value is validated again at preview time, errors naming the key.",
        "  # A declared key needs a default, else Pulumi demands it in every stack: each default here means",
        "  # the same as leaving the key out (test/unit/config.test.ts checks it).",
        "  # Not declared here (the README's configuration table describes them):",
        ...[...undeclared].map(([why, keys]) => `  #   ${keys.join(", ")}: ${why}`),
    ];
    const keys = stringify(declared, { lineWidth: 0 })
        .trimEnd()
        .split("\n")
        .map((line) => `  ${line}`);
    return ["config:", ...comments, ...keys, ""].join("\n");
}
