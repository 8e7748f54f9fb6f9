/**
 * A tiny structured writer for nginx configuration: nginx has no library format, so instead of
 * gluing strings we build a tree of directives and blocks and print it with correct quoting.
 */

/** An argument printed exactly as given (conditions of `if`, regexes). */
export class Verbatim {
    constructor(readonly text: string) {}
}

export type NginxArg = string | number | Verbatim;

export interface NginxDirective {
    readonly name: string;
    readonly args: readonly NginxArg[];
    readonly children?: readonly NginxNode[];
}

/** `undefined` and `false` entries are dropped, so optional directives read inline. */
export type NginxNode = NginxDirective | NginxComment;
export type NginxNodes = readonly (NginxNode | undefined | false)[];

export interface NginxComment {
    readonly comment: string;
}

export function directive(name: string, ...args: NginxArg[]): NginxDirective {
    return { name, args };
}

export function block(name: string, args: NginxArg[], children: NginxNodes): NginxDirective {
    return { name, args, children: present(children) };
}

export function comment(text: string): NginxComment {
    return { comment: text };
}

export function verbatim(text: string): Verbatim {
    return new Verbatim(text);
}

function present(nodes: NginxNodes): NginxNode[] {
    return nodes.filter((node): node is NginxNode => node !== undefined && node !== false);
}

function quote(arg: NginxArg): string {
    if (arg instanceof Verbatim) return arg.text;
    const text = String(arg);
    if (text !== "" && !/[\s;{}"'\\#]/.test(text)) return text;
    return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

function print(node: NginxNode, depth: number): string[] {
    const indent = "    ".repeat(depth);
    if ("comment" in node) return node.comment.split("\n").map((line) => `${indent}# ${line}`);
    const head = [node.name, ...node.args.map(quote)].join(" ");
    if (node.children === undefined) return [`${indent}${head};`];
    return [`${indent}${head} {`, ...node.children.flatMap((child) => print(child, depth + 1)), `${indent}}`];
}

export function renderNginx(nodes: NginxNodes): string {
    return `${present(nodes)
        .flatMap((node) => print(node, 0))
        .join("\n")}\n`;
}
