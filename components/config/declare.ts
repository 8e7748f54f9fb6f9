/**
 * The kinds of config keys, each a function that makes a whole declaration from what is particular
 * to one key: its form and default are said once, and the declaration's `read` uses them (an
 * integer's range, a choice's choices), so a key's checks cannot drift from what its docs say.
 */
import type { ArgType, Declaration, Declarations, PulumiType, Reader, Value, ValueOf } from "./reader";

/** What every kind takes besides its own settings. */
interface Docs {
    description?: string;
    /** What a component's arg must be, where the form speaks of the stack's config (how to set a secret). */
    argForm?: string;
    shownDefault?: string;
    /** Why Pulumi.yaml does not declare the key; unset: it declares it with the kind's type. */
    undeclared?: string;
    secret?: boolean;
    required?: true | string;
    readIn?: Declaration["readIn"];
}

export const PORT_FORM = "an integer port 1-65535";
const BOOLEAN_FORM = "true or false";

/** The declaration of one kind: what the spec says of the key, its Pulumi.yaml type, its type as a component arg and how the kind reads it. */
function declaration<T>(
    spec: Docs & { form: string; default?: unknown; range?: readonly [number, number] },
    type: PulumiType | undefined,
    arg: ArgType | undefined,
    read: (value: Value) => T,
): Declaration<T> {
    const { form, argForm, description, default: value, shownDefault, undeclared, secret, required, readIn, range } = spec;
    const pulumi = undeclared !== undefined ? { undeclared } : type !== undefined ? { type } : undefined;
    const declared = { form, argForm, description, default: value, shownDefault, pulumi, arg, secret, required, readIn, range, read };
    return Object.fromEntries(Object.entries(declared).filter(([, v]) => v !== undefined)) as unknown as Declaration<T>;
}

/** A string; `valid` checks it when set. */
export function text(spec: Docs & { form: string; default: string; valid?: (text: string) => boolean }): Declaration<string>;
export function text(spec: Docs & { form: string; valid?: (text: string) => boolean }): Declaration<string | undefined>;
export function text(spec: Docs & { form: string; default?: string; valid?: (text: string) => boolean }): Declaration<string | undefined> {
    return declaration(spec, "string", "string", (value) => value.matching(spec.valid ?? (() => true)) ?? spec.default);
}

/** One of a few strings; the form lists them unless it says more. */
export function choice<C extends string>(spec: Docs & { choices: readonly C[]; default: C; form?: string }): Declaration<C> {
    const form = spec.form ?? `one of ${spec.choices.map((c) => JSON.stringify(c)).join(", ")}`;
    return declaration({ ...spec, form }, "string", "string", (value) => value.choice(spec.choices) ?? spec.default);
}

/** A whole number in `range`; the form must say the range the way users read it. */
export function integer(spec: Docs & { form: string; range: readonly [number, number]; default: number }): Declaration<number>;
export function integer(spec: Docs & { form: string; range: readonly [number, number] }): Declaration<number | undefined>;
export function integer(
    spec: Docs & { form: string; range: readonly [number, number]; default?: number },
): Declaration<number | undefined> {
    return declaration(spec, "integer", "number", (value) => value.integer(spec.range) ?? spec.default);
}

/** A TCP port. */
export function port(spec: Docs & { default: number; form?: string }): Declaration<number> {
    return integer({ ...spec, form: spec.form ?? PORT_FORM, range: [1, 65535] });
}

export function flag(spec: Docs & { default: boolean; form?: string }): Declaration<boolean>;
export function flag(spec: Docs & { form?: string }): Declaration<boolean | undefined>;
export function flag(spec: Docs & { default?: boolean; form?: string }): Declaration<boolean | undefined> {
    return declaration({ ...spec, form: spec.form ?? BOOLEAN_FORM }, "boolean", "boolean", (value) => value.boolean() ?? spec.default);
}

/** A list of distinct strings (`list` of Value says what `explain` and `same` do). */
export function list(
    spec: Docs & {
        form: string;
        default: readonly string[];
        valid: (item: string) => boolean;
        explain?: (item: string) => string | undefined;
        same?: (item: string) => string;
    },
): Declaration<string[]> {
    return declaration(spec, "array", "string[]", (value) => value.list(spec.valid, spec.explain, spec.same) ?? [...spec.default]);
}

/**
 * An object key: `fields` declares its fields, `read` makes the typed value from them (checking
 * what involves several fields). Pulumi.yaml cannot declare an object, so `undeclared` says so.
 * `default`, as a stack would write it, stands for an unset key and is read like a set one.
 */
export function object<F extends Declarations, T>(
    spec: Docs & {
        form: string;
        fields: F;
        default: Record<string, unknown>;
        undeclared: string;
        read: (fields: Reader<F>) => T | undefined;
    },
): Declaration<T>;
export function object<F extends Declarations, T>(
    spec: Docs & { form: string; fields: F; undeclared: string; read: (fields: Reader<F>) => T | undefined },
): Declaration<T | undefined>;
export function object<F extends Declarations, T>(
    spec: Docs & {
        form: string;
        fields: F;
        default?: Record<string, unknown>;
        undeclared: string;
        read: (fields: Reader<F>) => T | undefined;
    },
): Declaration<T | undefined> {
    return {
        ...declaration(spec, undefined, undefined, (value) => {
            const fields = value.object(spec.fields, spec.default);
            return fields === undefined ? undefined : spec.read(fields);
        }),
        fields: spec.fields,
    };
}

/**
/**
 * A list of objects, each with the fields `fields` declares (errors name them `key[i].field`);
 * `read` makes one entry's typed value, checking what involves several fields. Unset: none.
 * Pulumi.yaml cannot declare it, so `undeclared` says so.
 */
export function objects<F extends Declarations, T>(
    spec: Docs & { form: string; fields: F; undeclared: string; read: (entry: Reader<F>) => T | undefined },
): Declaration<T[]> {
    return {
        ...declaration({ ...spec, default: [] }, undefined, "objects", (value) =>
            (value.objects(spec.fields) ?? []).map(spec.read).filter((entry): entry is T => entry !== undefined),
        ),
        fields: spec.fields,
    };
}

/**
 * Any other value: `read` gives the typed value or undefined (unset, or a problem recorded), and
 * the default stands in; `arg` says how a component's args write it.
 */
export function custom<T>(
    spec: Docs & { form: string; default: T; type?: PulumiType; arg: ArgType; read: (value: Value) => T | undefined },
): Declaration<T>;
export function custom<T>(
    spec: Docs & { form: string; type?: PulumiType; arg: ArgType; read: (value: Value) => T | undefined },
): Declaration<T | undefined>;
export function custom<T>(
    spec: Docs & { form: string; default?: T; type?: PulumiType; arg: ArgType; read: (value: Value) => T | undefined },
): Declaration<T | undefined> {
    return declaration(spec, spec.type, spec.arg, (value) => spec.read(value) ?? spec.default);
}

/**
 * A secret: its value is read apart from the other keys (components/config/index.ts), so no plain
 * copy of it exists; what the validator reads is whether it is set. `set` says how a stack sets
 * it (the form the stack's errors quote ends with it); a component's arg takes the value itself.
 */
export function secret(spec: Docs & { form: string; set: string }): Declaration<boolean> {
    const form = `${spec.form} (${spec.set})`;
    return declaration({ ...spec, form, argForm: spec.form, secret: true }, undefined, "secret", (value) => value.text() !== undefined);
}

/** The typed values of a set of declarations. */
export type ValuesOf<D extends Declarations> = { [K in keyof D]: ValueOf<D[K]> };
