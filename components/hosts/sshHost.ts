import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { RegistryHost } from "../contracts";
import { DIAL_ATTEMPTS, dockerOverSsh, refuseRedirectingDockerEnvironment, sshConnection } from "./dockerOverSsh";
import { renderInstallDockerScript } from "../render/hostScripts";

export interface SshHostArgs {
    /** The server's DNS name or IP address. Required. */
    host: string;
    /** SSH port. */
    port: number;
    /** Login user; not root: it needs passwordless sudo to install Docker. */
    user: string;
    /** Secret: the user's private key (OpenSSH or PEM). Required. */
    privateKey: pulumi.Input<string>;
    /**
     * The server's host key, `ssh-ed25519 AAAA...` (`ssh-keyscan -t ed25519 HOST`). Default:
     * none: remote commands do not check it, and the Docker CLI pins the first key it sees.
     */
    hostPublicKey?: string;
    /** Docker's `registry-mirrors` on the server, merged into its daemon.json before the first pull; may be empty. */
    registryMirrors: string[];
}

/**
 * A Linux server you already run, reached over SSH: Docker is installed if missing (Debian or
 * Ubuntu, `docker.io`), then the registry is deployed to that daemon like any other host.
 * Registry data stays in a Docker named volume on the server.
 */
export class SshHost extends pulumi.ComponentResource implements RegistryHost {
    readonly provider: docker.Provider;
    readonly ready: pulumi.Resource[];

    constructor(name: string, args: SshHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:host:Ssh", name, {}, opts);
        refuseRedirectingDockerEnvironment("the server's Docker daemon over SSH");
        const endpoint = {
            host: args.host,
            port: args.port,
            user: args.user,
            privateKey: args.privateKey,
            hostPublicKey: args.hostPublicKey,
        };
        // No update command: a changed script (a newer version of this project) runs again.
        const installDocker = new command.remote.Command(
            `${name}-install-docker`,
            {
                connection: sshConnection(endpoint, DIAL_ATTEMPTS.existingServer),
                create: renderInstallDockerScript({ sudo: endpoint.user !== "root", registryMirrors: args.registryMirrors }),
            },
            { parent: this },
        );

        this.provider = dockerOverSsh(`${name}-docker`, { ...endpoint, readyWhen: installDocker.stdout }, this);
        this.ready = [installDocker];
        this.registerOutputs({});
    }
}
