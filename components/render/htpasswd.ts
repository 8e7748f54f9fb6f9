export interface HtpasswdEntry {
    username: string;
    /** A bcrypt hash (`$2a$`, `$2b$` or `$2y$`): the only kind Distribution accepts. */
    bcryptHash: string;
}

const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

export function renderHtpasswd(entries: HtpasswdEntry[]): string {
    for (const { username, bcryptHash } of entries) {
        if (username.includes(":") || /\s/.test(username)) throw new Error(`htpasswd username ${JSON.stringify(username)} must not contain ':' or spaces`);
        if (!BCRYPT.test(bcryptHash)) throw new Error(`htpasswd entry for ${username} is not a bcrypt hash`);
    }
    return entries.map(({ username, bcryptHash }) => `${username}:${bcryptHash}\n`).join("");
}
