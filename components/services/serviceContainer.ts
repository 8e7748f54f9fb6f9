import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { containerNetworkArgs, ContainerNetworking, httpHealthcheck } from "./networking";

/** What differs between the registry, UI and edge containers; the rest is shared policy. */
export type ServiceSettings = Omit<docker.ContainerArgs, "name" | "image" | "restart" | "healthcheck" | "networkMode" | "networksAdvanced" | "logDriver" | "logOpts">;

/**
 * Docker keeps a container's output forever by default: a busy registry's access log (and the
 * edge's) would fill the disk. json-file, so `docker logs` keeps working, rotated at 10 MiB and
 * keeping 5 files: at most 50 MiB per container, whatever the host's daemon.json says.
 */
export const CONTAINER_LOG_ROTATION = { logDriver: "json-file", logOpts: { "max-size": "10m", "max-file": "5" } };

export interface ServiceContainerArgs {
    provider: docker.Provider;
    namePrefix: string;
    networking: ContainerNetworking;
    /** `registry`, `ui` or `edge`: the container name's suffix and its DNS alias. */
    role: string;
    /** Pinned image reference. */
    image: string;
    /** What the health check GETs from inside the container. */
    healthUrl: string;
    settings: ServiceSettings;
    dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * How every service here runs: its pinned image kept locally on destroy, a fixed container name
 * (so a replacement deletes the old one first), restarted unless stopped, health-checked, its
 * logs rotated, on the stack's network. `name` names the Pulumi resources, children of `parent`.
 */
export function serviceContainer(name: string, args: ServiceContainerArgs, parent: pulumi.Resource): docker.Container {
    const childOpts = { parent, provider: args.provider };
    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, childOpts);
    return new docker.Container(name, {
        ...args.settings,
        name: `${args.namePrefix}-${args.role}`,
        image: image.imageId,
        restart: "unless-stopped",
        healthcheck: httpHealthcheck(args.healthUrl),
        ...CONTAINER_LOG_ROTATION,
        ...containerNetworkArgs(args.networking, args.role),
    }, { ...childOpts, deleteBeforeReplace: true, dependsOn: args.dependsOn });
}
