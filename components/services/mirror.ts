import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { MIRROR_LOOPBACK_PORT } from "../config/keys";
import type { DistributionImage } from "../config/types";
import { ContainerNetworking, SocketMount } from "./networking";
import { Upstream } from "../render/edgeUpstreams";
import { PROXY_PASSWORD_ENV, renderMirrorConfig } from "../render/mirrorConfig";
import { REGISTRY_DATA_DIR } from "../render/registryConfig";
import { renderCollectionSchedule, renderSecretEnvironment } from "../render/registrySupervisor";
import { distributionEnv, distributionService } from "./registry";
import { dockerNames } from "./dockerNames";
import { ROLE_LABEL, serviceContainer } from "./serviceContainer";

/** The mirror's only listener, like the registry's: a Unix socket in a volume only it and the edge mount. */
const MIRROR_SOCKET_DIR = "/run/mirror";
const MIRROR_SOCKET = `unix:${MIRROR_SOCKET_DIR}/mirror.sock`;

export interface MirrorArgs {
    provider: docker.Provider;
    namePrefix: string;
    networking: ContainerNetworking;
    /** Secret: `http.secret`. */
    httpSecret: pulumi.Input<string>;
    /** The registry pulled through, `https://HOST[:PORT]`. */
    upstream: string;
    /** The upstream account. Default: none (anonymous pulls). */
    upstreamUsername?: string;
    /** Secret: the upstream account's password. Default: none. */
    upstreamPassword?: pulumi.Input<string>;
    /** Keep the cache volume on `pulumi destroy`. */
    retainDataOnDestroy: boolean;
    /** The image, with the Distribution version its tag tells. */
    image: DistributionImage;
    dependsOn?: pulumi.Resource[];
}

/**
 * A second Distribution in proxy mode: pulls through to the upstream and keeps what it fetched
 * in its own volume (never the registry's), so nodes pull public images from the edge even when
 * the upstream is slow or gone. Pulls only: proxy mode refuses pushes. Like the registry, on a
 * Unix socket only the edge reaches, checking no password itself (the edge checks the users'),
 * run by the same supervisor: new settings (upstream, account, password) by a handover.
 */
export class Mirror extends pulumi.ComponentResource {
    readonly containerName: pulumi.Output<string>;
    readonly volumeName: pulumi.Output<string>;
    readonly configYaml: string;
    readonly upstream: Upstream;
    /** The volume holding its socket and where it must be mounted; the edge alone mounts it. */
    readonly socketMount: SocketMount;
    readonly container: docker.Container;

    constructor(name: string, args: MirrorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:Mirror", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };
        // Health and metrics (`http.debug`): on its own loopback port in host networking, in the container's own network otherwise.
        const debugAddress =
            args.networking.mode === "host"
                ? `${args.networking.loopbackAddress}:${MIRROR_LOOPBACK_PORT}`
                : `127.0.0.1:${MIRROR_LOOPBACK_PORT}`;
        this.upstream = { address: MIRROR_SOCKET, handsOver: true };
        const major = args.image.major;
        this.configYaml = renderMirrorConfig({
            distributionMajor: major,
            listenAddress: MIRROR_SOCKET,
            debugAddress,
            upstream: args.upstream,
            upstreamUsername: args.upstreamUsername,
        });

        const volume = new docker.Volume(
            `${name}-data`,
            {
                name: dockerNames(args.namePrefix).mirrorData,
                labels: [{ label: ROLE_LABEL, value: "mirror-data" }],
            },
            { ...childOpts, retainOnDelete: args.retainDataOnDestroy, dependsOn: args.dependsOn },
        );
        const socketVolume = new docker.Volume(
            `${name}-socket`,
            { name: dockerNames(args.namePrefix).mirrorSocket, labels: [{ label: ROLE_LABEL, value: "mirror-socket" }] },
            { ...childOpts, dependsOn: args.dependsOn },
        );
        this.socketMount = { volumeName: socketVolume.name, containerPath: MIRROR_SOCKET_DIR };

        const service = distributionService({
            service: "mirror",
            socketDir: MIRROR_SOCKET_DIR,
            socketName: "mirror",
            configYaml: this.configYaml,
            schedule: renderCollectionSchedule(undefined),
            // The upstream password as Distribution reads it (proxy.password), from a secret file of the set.
            environment:
                args.upstreamPassword === undefined
                    ? undefined
                    : pulumi
                          .output(args.upstreamPassword)
                          .apply((password) => renderSecretEnvironment([`${PROXY_PASSWORD_ENV}=${password}`])),
        });
        this.container = serviceContainer(
            name,
            {
                provider: args.provider,
                namePrefix: args.namePrefix,
                networking: args.networking,
                role: "mirror",
                image: args.image.reference,
                healthUrl: `http://${debugAddress}/debug/health`,
                settings: {
                    ...service.settings,
                    envs: [pulumi.interpolate`REGISTRY_HTTP_SECRET=${args.httpSecret}`, ...distributionEnv(major)],
                    volumes: [
                        { volumeName: volume.name, containerPath: REGISTRY_DATA_DIR },
                        { volumeName: socketVolume.name, containerPath: MIRROR_SOCKET_DIR },
                    ],
                },
                files: service.files,
                dependsOn: args.dependsOn,
            },
            this,
        );

        this.containerName = this.container.name;
        this.volumeName = volume.name;
        this.registerOutputs({ containerName: this.containerName, volumeName: this.volumeName });
    }
}
