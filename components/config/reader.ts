/**
 * Reading raw configuration values against their declarations (keys.ts).
 *
 * Pure: the input is a plain object of raw values, what `pulumi.Config` hands over (strings; lists
 * and objects as JSON text) or what a component's args hold (numbers, lists, objects). Every
 * problem is collected rather than thrown, so one run shows every bad key, and each names its key
 * the way the caller's users write it (`KeyNaming`).
 */
import type { HostMode } from "./types";

/** How an error names a key path (`ssh.port`): `private-registry:ssh.port` for the stack, an arg path for a component. */
export type KeyNaming = (path: string) => string;

/** Pulumi.yaml's declared types: what `pulumi config set` checks before the program runs. */
export type PulumiType = "string" | "integer" | "boolean" | "array";

/**
 * How a key is written as an arg of the ContainerRegistry component (components/containerRegistryArgs.ts
 * is generated from it): `secret` is a string the component keeps secret, `map` an object of
 * strings, `secret map` one whose values are secrets, `objects` a list of its fields' objects, an
 * `ArgList` a list of objects read by the key's own reader. An object key's type comes from its fields.
 */
export type ArgType = "string" | "number" | "boolean" | "secret" | "string[]" | "map" | "secret map" | "objects" | ArgList;

/** A list of objects, each an interface of its own (the fields are read by the key's own reader). */
export interface ArgList {
    /** The interface's name. */
    items: string;
    fields: Record<string, { type: "string" | "number" | "boolean"; required?: true; doc: string }>;
}

/**
 * One config key (or one field of an object key), declared once: what it must be, its default,
 * what it is for, where Pulumi.yaml stands on it, and how its raw value is read into its typed
 * value. The validator, Pulumi.yaml's `config:` section and the README's table all come from it.
 */
export interface Declaration<T = unknown> {
    /** What the key must be, completing "KEY must be ...": errors quote it, the README shows it. */
    form: string;
    /** What a component's arg must be, where `form` says more (a secret's form says how a stack sets it). */
    argForm?: string;
    /** What it is for, in the operators' words (Markdown), for the README and Pulumi.yaml. Fields may leave it out. */
    description?: string;
    /** The value an unset key takes, as a stack writes it; absent: none. */
    default?: unknown;
    /** How the README shows the default where the value alone would mislead (e.g. one that depends on the mode). */
    shownDefault?: string;
    /** Pulumi.yaml: the type it declares the key with, or why the key is left out (top-level keys only). */
    pulumi?: { type: PulumiType } | { undeclared: string };
    /** Its type as a component arg; absent on object keys (their fields give it). */
    arg?: ArgType;
    /** Its value is a secret, set with `--secret` and read apart, never into a plain value. */
    secret?: boolean;
    /** Integers: the values accepted, both ends included. */
    range?: readonly [number, number];
    /** Fields: must be set, always (`true`) or in the case the text names (` with kind "s3"`). */
    required?: true | string;
    /** Read in these modes only; in the others the key is ignored. */
    readIn?: readonly HostMode[];
    /** An object key's fields, each declared the same way. */
    fields?: Declarations;
    /** The typed value, its default applied (a secret's: whether it is set; its value is read apart). */
    read: (value: Value) => T;
}

export type Declarations = Record<string, Declaration>;

/** The typed value a declaration reads. */
export type ValueOf<D> = D extends Declaration<infer T> ? T : never;

/** What every level of one reading shares. */
interface Reading {
    problems: string[];
    naming: KeyNaming;
    /** Top-level keys set with `--secret` (a secret field makes its whole object key secret). */
    secretKeys: readonly string[];
}

/**
 * One level of the configuration: the stack's keys, or the fields of one object key. Every
 * problem goes through `fail`, which names the key the way the user writes it.
 */
export class Reader<D extends Declarations = Declarations> {
    private readonly reading: Reading;

    constructor(
        private readonly raw: Record<string, unknown>,
        readonly declarations: D,
        reading: { naming: KeyNaming; secretKeys?: readonly string[]; problems?: string[] },
        /** `""` for the stack's keys, `"ssh."` for the fields of `ssh`. */
        private readonly path = "",
    ) {
        this.reading = { problems: reading.problems ?? [], naming: reading.naming, secretKeys: reading.secretKeys ?? [] };
    }

    /** Every problem found so far, at every level of this reading. */
    get problems(): string[] {
        return this.reading.problems;
    }

    /** The fields of an object key (or of a list entry) set with `--secret`: a secret field makes the whole top-level key secret. */
    get secret(): boolean {
        return this.path !== "" && this.reading.secretKeys.includes(this.path.split(/[.[]/)[0]);
    }

    /** The key as a user writes it: `private-registry:ssh.port`. */
    name(key: string): string {
        return this.reading.naming(`${this.path}${key}`);
    }

    /** Records a problem with `key`; `message` continues the sentence after the key's name. */
    fail(key: string, message: string): undefined {
        this.reading.problems.push(`${this.name(key)} ${message}`);
        return undefined;
    }

    /** `KEY must be FORM; got VALUE`. */
    invalid(key: string, got: unknown): undefined {
        return this.fail(key, `must be ${this.form(key)}; got ${JSON.stringify(got)}`);
    }

    form(key: string): string {
        const form = this.declarations[key]?.form;
        if (form === undefined) throw new Error(`no form declared for ${this.name(key)}`);
        return form;
    }

    /** The raw value of `key`, to be read by its declaration or by hand. */
    value(key: string): Value {
        return new Value(this, key, this.raw[key], this.reading.secretKeys.includes(`${this.path}${key}`));
    }

    /** `key`'s typed value, as its declaration reads it (default applied); unset, a key declared `required: true` is a problem. */
    read<K extends keyof D & string>(key: K): ValueOf<D[K]> {
        return this.readValue(key, this.declarations[key]?.required === true);
    }

    /** `key`'s typed value, and a problem if it is unset: a field required only in some case, which the caller knows holds. */
    readRequired<K extends keyof D & string>(key: K): ValueOf<D[K]> {
        return this.readValue(key, true);
    }

    private readValue<K extends keyof D & string>(key: K, required: boolean): ValueOf<D[K]> {
        const declaration = this.declarations[key];
        if (declaration === undefined) throw new Error(`${this.name(key)} is not declared`);
        const value = this.value(key);
        if (required) {
            const when = typeof declaration.required === "string" ? declaration.required : "";
            if (value.text() === undefined) value.fail(`is required${when}: ${value.form}`);
        }
        return declaration.read(value) as ValueOf<D[K]>;
    }

    /** Names each key that is not declared, with the nearest declared one as a hint. */
    reportUnknown(keys: string[]): void {
        const known = Object.keys(this.declarations);
        for (const key of keys.filter((k) => !(k in this.declarations))) {
            const near = nearestKey(key, known);
            this.fail(key, `is not a known key${near ? ` (did you mean ${near}?)` : ""}`);
        }
    }

    /** The level of an object key's fields (errors name them `key.field`); unknown fields are reported. */
    nested<F extends Declarations>(key: string, fields: Record<string, unknown>, declarations: F): Reader<F> {
        const level = new Reader(fields, declarations, this.reading, `${this.path}${key}.`);
        level.reportUnknown(Object.keys(fields));
        return level;
    }
}

/** One key's raw value. Each reading returns undefined for an unset value, and for a bad one after recording the problem. */
export class Value {
    constructor(
        private readonly level: Reader,
        readonly key: string,
        private readonly raw: unknown,
        /** Set with `--secret`. */
        readonly secret: boolean,
    ) {}

    /** The key as a user writes it. */
    get name(): string {
        return this.level.name(this.key);
    }

    get form(): string {
        return this.level.form(this.key);
    }

    /** Records a problem; `message` continues the sentence after the key's name. */
    fail(message: string): undefined {
        return this.level.fail(this.key, message);
    }

    /** `KEY must be FORM; got VALUE`. */
    invalid(got: unknown): undefined {
        return this.level.invalid(this.key, got);
    }

    /** Problems already worded with the key's name. */
    report(problems: string[]): void {
        this.level.problems.push(...problems);
    }

    /** The value as text: a string as it is, anything else as JSON; unset, null and "" are undefined. */
    text(): string | undefined {
        if (this.raw === undefined || this.raw === null || this.raw === "") return undefined;
        return typeof this.raw === "string" ? this.raw : JSON.stringify(this.raw);
    }

    /** The value parsed: lists and objects arrive as JSON text from the stack; a bare scalar stays text. */
    json(): unknown {
        const text = this.text();
        if (text === undefined || typeof this.raw !== "string") return text === undefined ? undefined : this.raw;
        try {
            return JSON.parse(text);
        } catch {
            // A bare scalar where a list or object was expected.
            return text;
        }
    }

    /** Text that must be set; `why` says when, e.g. " in alicloud mode". */
    required(why = ""): string | undefined {
        const text = this.text();
        if (text === undefined) this.fail(`is required${why}: ${this.form}`);
        return text;
    }

    /** Text that, when set, must pass `valid`. */
    matching(valid: (text: string) => boolean): string | undefined {
        const text = this.text();
        return text === undefined || valid(text) ? text : this.invalid(text);
    }

    choice<T extends string>(choices: readonly T[]): T | undefined {
        return this.matching((text) => (choices as readonly string[]).includes(text)) as T | undefined;
    }

    /** A whole number in `[min, max]`, written in digits. */
    integer([min, max]: readonly [number, number]): number | undefined {
        const text = this.text();
        if (text === undefined) return undefined;
        const value = Number(text);
        return /^\d+$/.test(text.trim()) && value >= min && value <= max ? value : this.invalid(text);
    }

    boolean(): boolean | undefined {
        const text = this.text();
        if (text === undefined) return undefined;
        return text === "true" || text === "false" ? text === "true" : this.invalid(text);
    }

    /**
     * A list of distinct strings, each checked with `valid`; `explain` may say what is wrong with
     * an entry more precisely than the form does. `same` says which entries count as one (e.g.
     * two spellings of an IPv6 address).
     */
    list(
        valid: (item: string) => boolean,
        explain: (item: string) => string | undefined = () => undefined,
        same: (item: string) => string = (item) => item,
    ): string[] | undefined {
        const value = this.json();
        if (value === undefined) return undefined;
        if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) return this.invalid(value);
        const items = value as string[];
        const bad = items.filter((item) => !valid(item));
        const unexplained = bad.filter((item) => explain(item) === undefined);
        for (const item of bad.filter((i) => !unexplained.includes(i))) this.fail(`entry ${JSON.stringify(item)} ${explain(item)}`);
        if (unexplained.length > 0) this.invalid(value);
        const repeated = items.filter((item, i) => items.findIndex((other) => same(other) === same(item)) !== i);
        if (repeated.length > 0)
            this.fail(`must not repeat an entry; ${repeated.map((r) => JSON.stringify(r)).join(", ")} is listed twice`);
        return bad.length > 0 || repeated.length > 0 ? undefined : items;
    }

    /**
     * A list of objects, each with the fields `fields` declares: one level per entry, whose
     * problems name it `key[i].field` (as `pulumi config set --path` writes it); undefined when unset.
     */
    objects<F extends Declarations>(fields: F): Reader<F>[] | undefined {
        const value = this.json();
        if (value === undefined) return undefined;
        const isObject = (entry: unknown) => typeof entry === "object" && entry !== null && !Array.isArray(entry);
        if (!Array.isArray(value) || !value.every(isObject)) return this.invalid(value);
        return value.map((entry, i) => this.level.nested(`${this.key}[${i}]`, entry as Record<string, unknown>, fields));
    }

    /** An object whose fields `fields` declares; `unset` stands for an unset value (undefined: none). */
    object<F extends Declarations>(fields: F, unset?: Record<string, unknown>): Reader<F> | undefined {
        const value = this.json() ?? unset;
        if (value === undefined) return undefined;
        if (typeof value !== "object" || value === null || Array.isArray(value)) return this.invalid(value);
        return this.level.nested(this.key, value as Record<string, unknown>, fields);
    }
}

/** The known key a typo most likely meant: same first four letters, or two edits away at most. */
function nearestKey(typo: string, known: string[]): string | undefined {
    const lower = typo.toLowerCase();
    return known.find((k) => k.toLowerCase().startsWith(lower.slice(0, 4))) ?? known.find((k) => editDistance(lower, k.toLowerCase()) <= 2);
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swapped neighbours. */
function editDistance(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) =>
        Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
    );
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.length][b.length];
}
