import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ContainerNetworking, serviceEndpoint } from "./networking";
import { Upstream } from "../render/edgeUpstreams";
import { serviceContainer } from "./serviceContainer";

export interface RegistryUiArgs {
    provider: docker.Provider;
    namePrefix: string;
    networking: ContainerNetworking;
    /** Loopback port in host networking. */
    hostPort: number;
    /** Title shown in the page. Default: the name prefix. */
    title?: string;
    /** Offer a delete button (the registry must allow deletes). */
    deleteImages: boolean;
    /**
     * The registry's origin when the UI is on its own name. Default: none: the page calls `/v2/`
     * on its own origin, which the edge routes to the registry, so no CORS is involved.
     */
    registryOrigin?: string;
    /** Image reference. */
    image: string;
    dependsOn?: pulumi.Resource[];
}

/** The joxit registry UI: static pages that call the registry API from the browser. */
export class RegistryUi extends pulumi.ComponentResource {
    readonly upstream: Upstream;
    readonly container: docker.Container;

    constructor(name: string, args: RegistryUiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:RegistryUi", name, {}, opts);
        const endpoint = serviceEndpoint(args.networking, "ui", 80, args.hostPort);
        this.upstream = endpoint.upstream;

        const settings: Record<string, string | undefined> = {
            SINGLE_REGISTRY: "true",
            REGISTRY_TITLE: args.title ?? args.namePrefix,
            REGISTRY_URL: args.registryOrigin,
            // The registry asks for Basic auth; saying so up front halves the UI's requests.
            REGISTRY_SECURED: "true",
            DELETE_IMAGES: String(args.deleteImages),
            SHOW_CONTENT_DIGEST: "true",
            SHOW_CATALOG_NB_TAGS: "true",
            // The image substitutes this into `listen ...;`, so an address:port binds loopback only.
            NGINX_LISTEN_PORT: args.networking.mode === "host" ? endpoint.listen : undefined,
        };
        this.container = serviceContainer(
            name,
            {
                provider: args.provider,
                namePrefix: args.namePrefix,
                networking: args.networking,
                role: "ui",
                image: args.image,
                healthUrl: `http://${endpoint.local}/`,
                settings: {
                    envs: Object.entries(settings)
                        .filter(([, v]) => v !== undefined)
                        .map(([k, v]) => `${k}=${v}`),
                },
                dependsOn: args.dependsOn,
            },
            this,
        );

        this.registerOutputs({ containerName: this.container.name });
    }
}
