/**
 * What is generated from the key declarations (keys.ts): the README's configuration table,
 * Pulumi.yaml's `config:` section, and the ContainerRegistry component's args interface
 * (components/containerRegistryArgs.ts). `npm run docs:config` writes them; test/unit/config.test.ts
 * and test/unit/containerRegistry.test.ts fail when one is stale. Pure: text in, text out.
 */
import { stringify } from "yaml";
import { CONFIG_KEYS, keyName } from "./keys";
import type { ArgList, ArgType, Declaration, Declarations } from "./reader";

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

/**
 * The keys `pulumi new` asks for (Pulumi.yaml's `template:` section): the mode, and what a mode
 * needs that has no default (ssh: the server and its key; alicloud: the cloud settings and ACME).
 * Every other key keeps its default until set. `hostnames` is not asked: a prompt's answer is a
 * string, and Pulumi.yaml declares it a list (QUICKSTART says how to set it).
 */
const TEMPLATE_KEYS = ["mode", "ssh", "sshPrivateKey", "alicloud", "acme"] as const;

/** What `pulumi new` shows after it made the project. */
const QUICKSTART = [
    "Name the registry (local mode answers as localhost without): pulumi config set --path 'hostnames[0]' registry.example.com.",
    "In ssh mode, set the server's key: pulumi config set --secret sshPrivateKey < KEYFILE.",
    "Then pulumi up. Every key and its default: README.md, Configuration.",
].join(" ");

/**
 * Pulumi.yaml's `template:` section, which makes this repository a `pulumi new` template: a prompt
 * per TEMPLATE_KEYS entry, a secret's answer kept secret. A prompt's answer is a string, so an
 * object or a list is typed as JSON, which the validator reads as it reads any such key.
 */
export function pulumiTemplateSection(): string {
    const config = Object.fromEntries(
        TEMPLATE_KEYS.map((key) => {
            const declaration = KEYS[key];
            const structured = declaration.fields !== undefined || declaration.pulumi === undefined || "undeclared" in declaration.pulumi;
            const asJson = structured && !declaration.secret ? `; as JSON, ${declaration.form}` : "";
            const description = `${plain(declaration.description ?? declaration.form)}${asJson}`;
            const answer = typeof declaration.default === "string" ? { default: declaration.default } : {};
            return [keyName(key), { description, ...answer, ...(declaration.secret ? { secret: true } : {}) }];
        }),
    );
    const template = {
        template: {
            description:
                "A private container registry (Distribution, the joxit UI, an nginx TLS edge) with users, roles and client setup scripts",
            quickstart: QUICKSTART,
            config,
        },
    };
    const comments = [
        "# Generated from components/config/keys.ts like the config: section below (`npm run docs:config`): what",
        "# `pulumi new <this repository>` asks for; docs/component.md shows it.",
    ];
    return [...comments, stringify(template, { lineWidth: 0 }).trimEnd(), ""].join("\n");
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

/** The name of the component's args interface. */
export const COMPONENT_ARGS = "ContainerRegistryArgs";

/** One JSDoc comment at `indent`, a line per paragraph (a comment is never reflowed). */
function docComment(paragraphs: string[], indent: string): string[] {
    const lines = paragraphs.flatMap((p, i) => (i === 0 ? [p] : ["", p])).map((line) => line.replace(/\*\//g, "*\\/"));
    if (lines.length === 1) return [`${indent}/** ${lines[0]} */`];
    return [`${indent}/**`, ...lines.map((line) => (line === "" ? `${indent} *` : `${indent} * ${line}`)), `${indent} */`];
}

/** An object key's interface: its name, from the key's (`ssh` → `Ssh`; a list's entry: `notifications` → `Notification`). */
function interfaceName(key: string, list: boolean): string {
    const name = key[0].toUpperCase() + key.slice(1);
    return list ? name.replace(/s$/, "") : name;
}

/** The TypeScript type of an arg that is not an object of declared fields. */
function argTypeScript(type: Exclude<ArgType, "objects">): string {
    if (typeof type === "object") return `${type.items}[]`;
    return {
        string: "string",
        number: "number",
        boolean: "boolean",
        secret: "pulumi.Input<string>",
        "string[]": "string[]",
        map: "Record<string, string>",
        "secret map": "Record<string, pulumi.Input<string>>",
    }[type];
}

/** What an arg's doc says of a secret. */
const SECRET_DOC =
    "Secret: pass it as one (Pulumi stores a component's args in the state as given); the component keeps secret all it makes from it.";

/** What an arg's doc says: its meaning, its form, its default, and that a secret stays secret. */
function argDoc(declaration: Declaration): string[] {
    const isObject = declaration.fields !== undefined || typeof declaration.arg === "object";
    const value = declaration.default;
    const emptyObject = typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
    const shown = declaration.shownDefault ?? (value === undefined || emptyObject ? undefined : `\`${shownValue(value)}\``);
    const facts = [
        isObject ? undefined : `Must be ${declaration.argForm ?? declaration.form}.`,
        shown === undefined ? undefined : `Default: ${shown}.`,
        declaration.arg === "secret" || declaration.arg === "secret map" ? SECRET_DOC : undefined,
    ].filter((fact) => fact !== undefined);
    return [
        ...(declaration.description === undefined ? [] : [plain(declaration.description)]),
        ...(facts.length > 0 ? [facts.join(" ")] : []),
    ];
}

/** The members of one interface, each with its doc; nested object keys add interfaces of their own to `more`. */
function argMembers(declarations: Declarations, topLevel: boolean, more: string[][]): string[] {
    return Object.entries(declarations).flatMap(([key, declaration]) => {
        let type: string;
        if (declaration.fields !== undefined) {
            const list = declaration.arg === "objects";
            const name = interfaceName(key, list);
            more.push(argInterface(name, `${list ? "An entry of " : ""}\`${key}\`: ${declaration.form}.`, declaration.fields, false, more));
            type = list ? `${name}[]` : name;
        } else if (declaration.arg !== undefined && declaration.arg !== "objects") {
            type = argTypeScript(declaration.arg);
            if (typeof declaration.arg === "object") more.push(listItemInterface(key, declaration.arg));
        } else {
            throw new Error(`${key}: declare how a component's args write it (arg)`);
        }
        const optional = topLevel || declaration.required !== true;
        return [...docComment(argDoc(declaration), "    "), `    ${key}${optional ? "?" : ""}: ${type};`];
    });
}

function argInterface(name: string, doc: string, declarations: Declarations, topLevel: boolean, more: string[][]): string[] {
    const members = argMembers(declarations, topLevel, more);
    return [...docComment([doc], ""), `export interface ${name} {`, ...members, "}"];
}

function listItemInterface(key: string, list: ArgList): string[] {
    const members = Object.entries(list.fields).flatMap(([field, { type, required, doc }]) => [
        ...docComment([doc], "    "),
        `    ${field}${required ? "" : "?"}: ${type};`,
    ]);
    return [...docComment([`One entry of \`${key}\`.`], ""), `export interface ${list.items} {`, ...members, "}"];
}

/** components/containerRegistryArgs.ts: the component's args, one per config key, with the types Pulumi's component schemas can say. */
export function componentArgsSource(): string {
    const more: string[][] = [];
    const main = argInterface(
        COMPONENT_ARGS,
        "What the registry is and where it runs: one arg per key of the stack's configuration, checked the same way (every error at once, each naming the arg, e.g. `args.ssh.port`), with the same defaults.",
        KEYS,
        true,
        more,
    );
    const header = [
        "/**",
        " * The ContainerRegistry component's args, generated from the config key declarations",
        " * (components/config/keys.ts) by `npm run docs:config`: edit those, not this file;",
        " * test/unit/containerRegistry.test.ts fails when it is stale.",
        " */",
        'import type * as pulumi from "@pulumi/pulumi";',
    ];
    return [
        ...header,
        "",
        ...[main, ...more]
            .map((lines) => lines.join("\n"))
            .join("\n\n")
            .split("\n"),
        "",
    ].join("\n");
}
