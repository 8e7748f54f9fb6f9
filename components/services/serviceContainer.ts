import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { containerNetworkArgs, ContainerNetworking, httpHealthcheck } from "./networking";

/** What differs between the registry, UI and edge containers; the rest is shared policy. */
export type ServiceSettings = Omit<docker.ContainerArgs, "name" | "image" | "restart" | "healthcheck" | "networkMode" | "networksAdvanced">;

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
 * (so a replacement deletes the old one first), restarted unless stopped, health-checked, on the
 * stack's network. `name` names the Pulumi resources, children of `parent`.
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
        ...containerNetworkArgs(args.networking, args.role),
    }, { ...childOpts, deleteBeforeReplace: true, dependsOn: args.dependsOn });
}
