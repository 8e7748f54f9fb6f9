/** How the Docker CLI reaches a daemon over SSH: the URL, the `ssh` flags, the pinned host key. */

export interface SshKeyFiles {
    /** The private key `ssh -i` reads (mode 0600). */
    identityFile: string;
    /** This host's own known_hosts file, never the user's `~/.ssh/known_hosts`. */
    knownHostsFile: string;
}

/** `[v6]` for IPv6 literals, the name or IPv4 address as is. */
function bracketed(host: string): string {
    return host.includes(":") ? `[${host}]` : host;
}

/** `ssh://user@host:port`, the Docker provider's `host`. */
export function dockerSshUrl(user: string, host: string, port: number): string {
    return `ssh://${user}@${bracketed(host)}:${port}`;
}

/** A known_hosts line: `host key` on port 22, `[host]:port key` elsewhere (OpenSSH's format). */
export function knownHostsLine(host: string, port: number, publicKeyOpenssh: string): string {
    const name = port === 22 ? host : `[${host}]:${port}`;
    return `${name} ${publicKeyOpenssh.trim()}\n`;
}

/**
 * Flags appended to the Docker CLI's `ssh` command. `pinned`: the known_hosts file holds the one
 * key this host must present (StrictHostKeyChecking=yes). Otherwise the first key seen is
 * recorded in the stack's own file and required from then on (accept-new).
 */
export function dockerSshOptions(files: SshKeyFiles, pinned: boolean): string[] {
    return [
        "-i", files.identityFile,
        "-o", "IdentitiesOnly=yes",
        "-o", `UserKnownHostsFile="${files.knownHostsFile}"`,
        "-o", `StrictHostKeyChecking=${pinned ? "yes" : "accept-new"}`,
        "-o", "BatchMode=yes",
        "-o", "ServerAliveInterval=30",
    ];
}
