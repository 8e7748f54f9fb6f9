import { createHash } from "crypto";
import { hashSync } from "bcryptjs";

export interface HtpasswdEntry {
    username: string;
    /**
     * A bcrypt hash (`$2a$`, `$2b$` or `$2y$`), the only kind Distribution accepts, or a salted
     * SHA-1 (`{SSHA}`, sshaWithSalt), which nginx's auth_basic checks natively in microseconds.
     */
    hash: string;
}

/**
 * Distribution checks a bcrypt hash on every request (Docker sends Basic auth each time), so the
 * cost is paid per request: 77 ms at cost 10, 6.6 ms at cost 5 (docs/benchmarks.md), which made
 * pushes of many small layers 12x slower. The cost slows guessing of weak passwords; the stack's
 * are 32 random letters and digits (190 bits), out of reach at any cost. 5 is `htpasswd -B`'s
 * default.
 */
export const BCRYPT_COST = 5;

const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;
const BCRYPT_SALT = /^[./A-Za-z0-9]{22}$/;
const SSHA = /^\{SSHA\}[A-Za-z0-9+/]+={0,2}$/;

/** bcrypt with a given salt: the same inputs always give the same hash, so no perpetual diff. */
export function bcryptWithSalt(password: string, salt: string, cost = BCRYPT_COST): string {
    if (!BCRYPT_SALT.test(salt)) throw new Error("a bcrypt salt is 22 characters of ./A-Za-z0-9");
    return hashSync(password, `$2b$${String(cost).padStart(2, "0")}$${salt}`);
}

/**
 * `{SSHA}`: base64 of SHA-1(password, salt) followed by the salt, as OpenLDAP and nginx's
 * auth_basic read it. What the edge checks the stack's users against (docs/roles.md: for random
 * 190-bit passwords a fast salted hash stops guessing as well as bcrypt does, and costs
 * microseconds instead of milliseconds per request). A kept salt gives the same hash every run.
 */
export function sshaWithSalt(password: string, salt: string): string {
    if (salt.length < 8) throw new Error("an SSHA salt is at least 8 bytes");
    const saltBytes = Buffer.from(salt, "utf8");
    const digest = createHash("sha1").update(password, "utf8").update(saltBytes).digest();
    return `{SSHA}${Buffer.concat([digest, saltBytes]).toString("base64")}`;
}

export function renderHtpasswd(entries: HtpasswdEntry[]): string {
    for (const { username, hash } of entries) {
        if (username.includes(":") || /\s/.test(username))
            throw new Error(`htpasswd username ${JSON.stringify(username)} must not contain ':' or spaces`);
        if (!BCRYPT.test(hash) && !SSHA.test(hash)) throw new Error(`htpasswd entry for ${username} is neither bcrypt nor {SSHA}`);
    }
    return entries.map(({ username, hash }) => `${username}:${hash}\n`).join("");
}
