import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { RegistryHost } from "../contracts";

export interface LocalDockerHostArgs {
    /** The daemon's address. Default: `DOCKER_HOST`, else the platform's default socket. */
    dockerHost?: string;
}

/** The Docker daemon on this machine: no cloud account, no SSH. */
export class LocalDockerHost extends pulumi.ComponentResource implements RegistryHost {
    readonly provider: docker.Provider;
    readonly ready: pulumi.Resource[] = [];

    constructor(name: string, args: LocalDockerHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:host:LocalDocker", name, {}, opts);
        this.provider = new docker.Provider(`${name}-docker`, { host: args.dockerHost }, { parent: this });
        this.registerOutputs({});
    }
}
