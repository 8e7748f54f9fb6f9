import { hashSync } from "bcryptjs";

export interface HtpasswdEntry {
    username: string;
    /** A bcrypt hash (`$2a$`, `$2b$` or `$2y$`): the only kind Distribution accepts. */
    bcryptHash: string;
}

/**
 * The registry checks the bcrypt hash on every request (Docker sends Basic auth each time), so the
 * cost is paid per request: 77 ms at cost 10, 6.6 ms at cost 5 (docs/benchmarks.md), which made
 * pushes of many small layers 12x slower. The cost slows guessing of weak passwords; these are 32
 * random letters and digits (190 bits), out of reach at any cost. 5 is `htpasswd -B`'s default.
 */
export const BCRYPT_COST = 5;

const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;
const BCRYPT_SALT = /^[./A-Za-z0-9]{22}$/;

/** bcrypt with a given salt: the same inputs always give the same hash, so no perpetual diff. */
export function bcryptWithSalt(password: string, salt: string, cost = BCRYPT_COST): string {
    if (!BCRYPT_SALT.test(salt)) throw new Error("a bcrypt salt is 22 characters of ./A-Za-z0-9");
    return hashSync(password, `$2b$${String(cost).padStart(2, "0")}$${salt}`);
}

export function renderHtpasswd(entries: HtpasswdEntry[]): string {
    for (const { username, bcryptHash } of entries) {
        if (username.includes(":") || /\s/.test(username))
            throw new Error(`htpasswd username ${JSON.stringify(username)} must not contain ':' or spaces`);
        if (!BCRYPT.test(bcryptHash)) throw new Error(`htpasswd entry for ${username} is not a bcrypt hash`);
    }
    return entries.map(({ username, bcryptHash }) => `${username}:${bcryptHash}\n`).join("");
}
