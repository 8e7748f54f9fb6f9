/**
 * The one way the `ssh` and `alicloud` hosts reach their Docker daemon: `@pulumi/docker` with an
 * `ssh://` host, which runs the local `ssh` client (`docker system dial-stdio` on the server). And
 * the connection `@pulumi/command` remote commands use for the steps before Docker exists.
 */
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "fs";
import { homedir } from "os";
import { join } from "path";
import {
    dockerEnvironmentProblem,
    dockerSshOptions,
    dockerSshUrl,
    knownHostsLine,
    redirectingDockerVariables,
    renderSshConfig,
    SshKeyFiles,
} from "../render/sshAccess";

/**
 * Thrown in `ssh` and `alicloud` mode while DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CERT_PATH or
 * DOCKER_TLS_VERIFY is set in the environment of `pulumi`: the deploy stops before anything is
 * created rather than risk reaching another daemon.
 */
export class DockerEnvironmentError extends Error {
    constructor(
        readonly variables: string[],
        target: string,
    ) {
        super(dockerEnvironmentProblem(variables, target));
        this.name = "DockerEnvironmentError";
    }
}

export interface SshEndpoint {
    /** The server's DNS name or IP address. */
    host: pulumi.Input<string>;
    /** SSH port. Default: 22. */
    port?: number;
    /** Login user; it must reach the Docker socket (root, or a member of the `docker` group). */
    user: string;
    /** Secret: the private key, OpenSSH or PEM. */
    privateKey: pulumi.Input<string>;
    /**
     * The key the server must present, `ssh-ed25519 AAAA...`. Default: none; remote commands then
     * accept any key and the Docker CLI records the first one it sees (see `dockerOverSsh`).
     */
    hostPublicKey?: pulumi.Input<string>;
}

export interface DockerOverSshArgs extends SshEndpoint {
    /**
     * Resolves once Docker is installed on the server. The provider's address waits for it, so
     * nothing (not even an image pull, which has no `dependsOn` on the host) reaches the daemon
     * before it exists.
     */
    readyWhen: pulumi.Input<unknown>;
}

/**
 * Throws DockerEnvironmentError if the environment could redirect the Docker provider. Hosts
 * call it first, before they declare any resource, so the refusal comes before any remote step
 * (the engine starts creating resources while the program still runs).
 */
export function refuseRedirectingDockerEnvironment(target: string, env: Record<string, string | undefined> = process.env): void {
    const redirecting = redirectingDockerVariables(env);
    if (redirecting.length > 0) throw new DockerEnvironmentError(redirecting, target);
}

/** Where this stack keeps the key files of the host component `hostName`. */
export function sshKeyFiles(hostName: string): SshKeyFiles & { dir: string; sshConfigFile: string } {
    const dir = join(homedir(), ".private-registry", pulumi.getProject(), pulumi.getStack(), hostName);
    return { dir, identityFile: join(dir, "id_key"), knownHostsFile: join(dir, "known_hosts"), sshConfigFile: join(dir, "ssh_config") };
}

/** Writes `content` with mode 0600 by rename, so a concurrent reader never sees half a key. */
function writePrivateFile(path: string, content: string): void {
    if (existsSync(path) && readFileSync(path, "utf8") === content) {
        chmodSync(path, 0o600);
        return;
    }
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, content, { mode: 0o600 });
    renameSync(temporary, path);
}

/**
 * How many failed dials a remote command tolerates (15 s each). A new VM's sshd may take minutes
 * to come up, so dialing it is patient; an existing server answers at once, and a dial error
 * there (most often a host key that does not match the pinned one) should stop the deploy in
 * seconds, not after ten minutes of retries.
 */
export const DIAL_ATTEMPTS = { newVm: 40, existingServer: 3 } as const;

/** The remote-command connection. */
export function sshConnection(endpoint: SshEndpoint, dialErrorLimit: number): command.types.input.remote.ConnectionArgs {
    return {
        host: endpoint.host,
        port: endpoint.port ?? 22,
        user: endpoint.user,
        privateKey: endpoint.privateKey,
        hostKey: endpoint.hostPublicKey === undefined ? undefined : pulumi.output(endpoint.hostPublicKey).apply((key) => key.trim()),
        dialErrorLimit,
        perDialTimeout: 15,
    };
}

/**
 * A Docker provider that talks to the server's daemon over SSH.
 *
 * The Docker CLI's SSH transport only takes a key *file* (`ssh -i`), so the key must exist on
 * the machine running `pulumi`. It is written here, while the program runs, under
 * `~/.private-registry/<project>/<stack>/<host>/` (directory 0700, file 0600), rather than by a
 * `command.local.Command`: a resource runs only when its inputs change, so on a second machine,
 * in CI, or after the file was removed, the next preview or update would find no key. Writing
 * on every run (only when the content differs) keeps the file wherever the program runs, in
 * previews too, which is when the provider first dials. It is the same key the state already
 * holds as a secret; deleting the directory is harmless, the next run writes it again.
 *
 * `pulumi destroy` does not run the program: run it as `pulumi destroy --run-program`, or after
 * a preview on that machine, so the key file exists.
 */
export function dockerOverSsh(name: string, args: DockerOverSshArgs, parent: pulumi.Resource): docker.Provider {
    const port = args.port ?? 22;
    const files = sshKeyFiles(name);
    const pinned = args.hostPublicKey !== undefined;
    const written = pulumi.all([args.host, args.privateKey, args.hostPublicKey]).apply(([host, privateKey, hostPublicKey]) => {
        mkdirSync(files.dir, { recursive: true, mode: 0o700 });
        chmodSync(files.dir, 0o700);
        // OpenSSH rejects a key file without its final newline ("invalid format").
        writePrivateFile(files.identityFile, privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`);
        // Unpinned, the file belongs to ssh (accept-new appends to it): never overwrite it.
        if (hostPublicKey !== undefined) writePrivateFile(files.knownHostsFile, knownHostsLine(host, port, hostPublicKey));
        // For logging in by hand (docs/cloud.md): `ssh -F <dir>/ssh_config registry`.
        writePrivateFile(files.sshConfigFile, renderSshConfig({ files, host, port, user: args.user, pinned: hostPublicKey !== undefined }));
        return true;
    });
    // The URL holds no secret; only its timing depends on the (secret) key having been written.
    const url = pulumi.all([args.host, pulumi.unsecret(written), args.readyWhen]).apply(([host]) => dockerSshUrl(args.user, host, port));
    return new docker.Provider(name, { host: url, sshOpts: dockerSshOptions(files, pinned) }, { parent });
}
