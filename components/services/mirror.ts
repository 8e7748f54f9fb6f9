import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { MIRROR_LOOPBACK_PORT } from "../config/keys";
import type { DistributionImage } from "../config/types";
import { ContainerNetworking, serviceEndpoint } from "./networking";
import { Upstream } from "../render/edgeUpstreams";
import { PROXY_PASSWORD_ENV, renderMirrorConfig } from "../render/mirrorConfig";
import { REGISTRY_CONFIG_PATHS, REGISTRY_DATA_DIR } from "../render/registryConfig";
import { distributionEnv } from "./registry";
import { dockerNames } from "./dockerNames";
import { serviceContainer } from "./serviceContainer";

/** The htpasswd is a secret file: `serviceContainer` mounts it read-only here, apart from `config.yml`. */
const SECRETS_DIR = "/auth";
const HTPASSWD_PATH = `${SECRETS_DIR}/htpasswd`;

export interface MirrorArgs {
    provider: docker.Provider;
    namePrefix: string;
    networking: ContainerNetworking;
    /** Secret: the registry's htpasswd; every user may pull through the mirror. */
    htpasswd: pulumi.Input<string>;
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
 * the upstream is slow or gone. Pulls only: proxy mode refuses pushes.
 */
export class Mirror extends pulumi.ComponentResource {
    readonly containerName: pulumi.Output<string>;
    readonly volumeName: pulumi.Output<string>;
    readonly configYaml: string;
    readonly upstream: Upstream;
    readonly container: docker.Container;

    constructor(name: string, args: MirrorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:Mirror", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };
        // In host networking, the mirror listens on its own loopback port (the UI has uiPort; the registry none, only its socket).
        const endpoint = serviceEndpoint(args.networking, "mirror", 5000, MIRROR_LOOPBACK_PORT);
        this.upstream = endpoint.upstream;
        const major = args.image.major;
        this.configYaml = renderMirrorConfig({
            distributionMajor: major,
            listenAddress: endpoint.listen,
            htpasswdPath: HTPASSWD_PATH,
            realm: args.namePrefix,
            upstream: args.upstream,
            upstreamUsername: args.upstreamUsername,
        });

        const volume = new docker.Volume(
            `${name}-data`,
            {
                name: dockerNames(args.namePrefix).mirrorData,
                labels: [{ label: "private-registry.role", value: "mirror-data" }],
            },
            { ...childOpts, retainOnDelete: args.retainDataOnDestroy, dependsOn: args.dependsOn },
        );

        const envs: pulumi.Input<string>[] = [pulumi.interpolate`REGISTRY_HTTP_SECRET=${args.httpSecret}`, ...distributionEnv(major)];
        if (args.upstreamPassword !== undefined) envs.push(pulumi.interpolate`${PROXY_PASSWORD_ENV}=${args.upstreamPassword}`);
        this.container = serviceContainer(
            name,
            {
                provider: args.provider,
                namePrefix: args.namePrefix,
                networking: args.networking,
                role: "mirror",
                image: args.image.reference,
                healthUrl: `http://${endpoint.local}/`,
                settings: {
                    envs,
                    uploads: [{ file: REGISTRY_CONFIG_PATHS[major], content: this.configYaml }],
                    volumes: [{ volumeName: volume.name, containerPath: REGISTRY_DATA_DIR }],
                },
                secretFiles: { directory: SECRETS_DIR, files: [{ name: "htpasswd", content: args.htpasswd }] },
                dependsOn: args.dependsOn,
            },
            this,
        );

        this.containerName = this.container.name;
        this.volumeName = volume.name;
        this.registerOutputs({ containerName: this.containerName, volumeName: this.volumeName });
    }
}
