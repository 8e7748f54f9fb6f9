/**
 * Registry users and their roles, as the stack config names them (pure: no Pulumi import).
 *
 * `push`: pull, push and (with deleteEnabled) delete; for builders and CI. `pull`: `GET`/`HEAD`
 * only (pull, list, browse the UI); for nodes, whose credentials sit on every board. The edge
 * enforces the difference (components/render/edgeConfig.ts, docs/roles.md).
 */
export const UserRole = { push: "push", pull: "pull" } as const;
/** `push` or `pull` (an enum to Pulumi's component schemas, which take no other union). */
export type UserRole = (typeof UserRole)[keyof typeof UserRole];

export interface RegistryUser {
    name: string;
    role: UserRole;
}

/** `users` unset (keys.ts): one builder account and one for nodes. */
export const DEFAULT_USERS: RegistryUser[] = [
    { name: "admin", role: "push" },
    { name: "node", role: "pull" },
];

export const USERS_FORM =
    "a list of users, each a name (a push user) or {name, role: push | pull}; names 1-64 of a-z A-Z 0-9 . _ -, starting with a letter or digit";

/** A username, without anchors: the edge's nginx.conf matches names with it too (edgeAccess.ts). */
export const USERNAME_PATTERN = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}";
const USERNAME = new RegExp(`^${USERNAME_PATTERN}$`);

/**
 * Reads `users`: a list, or its JSON text (Pulumi hands lists over as text). A plain string is a
 * push user, so stacks written before roles keep their meaning. Returns the users and every
 * problem, each naming `key`.
 */
export function parseUsers(list: unknown, key: string): { users: RegistryUser[]; problems: string[] } {
    if (list === undefined || list === "") return { users: DEFAULT_USERS, problems: [] };
    let value: unknown = list;
    if (typeof list === "string") {
        try {
            value = JSON.parse(list);
        } catch {
            value = list;
        }
    }
    const invalid = { users: DEFAULT_USERS, problems: [`${key} must be ${USERS_FORM}; got ${JSON.stringify(value)}`] };
    if (!Array.isArray(value)) return invalid;
    const users: RegistryUser[] = [];
    for (const item of value) {
        const user = typeof item === "string" ? { name: item, role: "push" } : item;
        if (typeof user !== "object" || user === null || Array.isArray(user)) return invalid;
        const { name, role, ...unknown } = user as Record<string, unknown>;
        if (typeof name !== "string" || !USERNAME.test(name) || (role !== "push" && role !== "pull") || Object.keys(unknown).length > 0) {
            return { ...invalid, problems: [`${key} must be ${USERS_FORM}; got ${JSON.stringify(item)}`] };
        }
        users.push({ name, role });
    }
    const problems: string[] = [];
    if (users.length === 0) problems.push(`${key} must name at least one user`);
    const names = users.map((u) => u.name);
    const repeated = [...new Set(names.filter((name, i) => names.indexOf(name) !== i))];
    if (repeated.length > 0)
        problems.push(`${key} must not repeat an entry; ${repeated.map((r) => JSON.stringify(r)).join(", ")} is listed twice`);
    if (users.length > 0 && !users.some((u) => u.role === "push"))
        problems.push(`${key} must have at least one push user, or no image could ever be pushed; got ${JSON.stringify(users)}`);
    return { users, problems };
}

/** The account builders get (the first push user). */
export function builderUser(users: RegistryUser[]): RegistryUser {
    const found = users.find((u) => u.role === "push");
    if (!found) throw new Error("no push user");
    return found;
}

/**
 * The account nodes get: the first pull user. A stack without one (written before roles) keeps
 * its old behaviour, the first push user: add a pull user to take that away.
 */
export function nodeUser(users: RegistryUser[]): RegistryUser {
    return users.find((u) => u.role === "pull") ?? builderUser(users);
}
