/** How the Docker CLI reaches a daemon over SSH: the URL, the `ssh` flags, the pinned host key. */

export interface SshKeyFiles {
    /** The private key `ssh -i` reads (mode 0600). */
    identityFile: string;
    /** This host's own known_hosts file, never the user's `~/.ssh/known_hosts`. */
    knownHostsFile: string;
}

/** The `Host` name of the stack's own ssh_config: `ssh -F <dir>/ssh_config registry`. */
export const SSH_CONFIG_ALIAS = "registry";

export interface SshConfigInput {
    files: SshKeyFiles;
    host: string;
    port: number;
    user: string;
    /** The known_hosts file holds the one key the server must present. */
    pinned: boolean;
}

/**
 * An ssh_config for logging in by hand exactly as the deploy does: the same address and port
 * (so the known_hosts entry, written for that address, is the one checked, even when clients
 * know the server by a DNS name), the same key, the same host-key policy.
 */
export function renderSshConfig(input: SshConfigInput): string {
    return [
        "# Rendered by private-registry (components/render/sshAccess.ts): ssh -F <this file> registry",
        `Host ${SSH_CONFIG_ALIAS}`,
        `    HostName ${input.host}`,
        `    Port ${input.port}`,
        `    User ${input.user}`,
        `    IdentityFile "${input.files.identityFile}"`,
        "    IdentitiesOnly yes",
        `    UserKnownHostsFile "${input.files.knownHostsFile}"`,
        `    StrictHostKeyChecking ${input.pinned ? "yes" : "accept-new"}`,
        "",
    ].join("\n");
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
        "-i",
        files.identityFile,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        `UserKnownHostsFile="${files.knownHostsFile}"`,
        "-o",
        `StrictHostKeyChecking=${pinned ? "yes" : "accept-new"}`,
        "-o",
        "BatchMode=yes",
        "-o",
        "ServerAliveInterval=30",
    ];
}

/**
 * Environment variables that point Docker clients at a daemon, or at TLS settings for one. The
 * Docker provider reads them as defaults beside its explicit `ssh://` host, so with any of them
 * set a deploy could reach (or try the certificates of) another daemon than the server's.
 */
export const DOCKER_REDIRECTING_VARIABLES = ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"] as const;

/** Which of those are set (non-empty) in `env`, in that order. */
export function redirectingDockerVariables(env: Record<string, string | undefined>): string[] {
    return DOCKER_REDIRECTING_VARIABLES.filter((variable) => (env[variable] ?? "") !== "");
}

/** The refusal's text: what is set, why it matters, and how to run without it. */
export function dockerEnvironmentProblem(variables: string[], target: string): string {
    const listed = variables.join(", ");
    return (
        `${listed} ${variables.length === 1 ? "is" : "are"} set: the registry must be deployed to ${target} and nowhere else, ` +
        `and the Docker provider would read ${variables.length === 1 ? "it" : "them"} as defaults. ` +
        `Unset ${variables.length === 1 ? "it" : "them"} for pulumi, e.g. \`env -u ${variables.join(" -u ")} pulumi up\`.`
    );
}
