/** POSIX `sh` quoting: what every rendered script and the tools that print commands share. */

/** `value` as one single-quoted `sh` word, whatever it holds (a single quote inside is closed, escaped and reopened). */
export function shellQuote(value: string): string {
    return `'${value.replaceAll("'", "'\\''")}'`;
}

/** `value` as one `sh` word, quoted only when it holds more than letters, digits and `@%+=:,./-`. */
export function shellWord(value: string): string {
    return /^[\w@%+=:,./-]+$/.test(value) ? value : shellQuote(value);
}
