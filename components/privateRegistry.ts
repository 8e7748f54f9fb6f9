import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULTS } from "./config/defaults";
import { RegistryHost, RegistryStorage, ServerCertificate } from "./contracts";
import { builderUser, DEFAULT_USERS, nodeUser, RegistryUser } from "./config/users";
import { RegistryCredentials, UserCredential } from "./credentials/registryCredentials";
import { Edge } from "./services/edge";
import { Mirror } from "./services/mirror";
import { dockerNames } from "./services/dockerNames";
import { ContainerNetworking } from "./services/networking";
import { Registry } from "./services/registry";
import { RegistryUi } from "./services/registryUi";
import {
    ClientSnippet,
    ContainerdSnippet,
    renderContainerdSnippet,
    renderDockerSnippet,
    renderImagePullSecret,
    renderK3sSnippet,
    renderNodeSetup,
} from "./render/snippets/clientSnippets";
import { renderBuildkitSnippet } from "./render/snippets/buildkitSnippet";
import { EdgeTuning } from "./render/edgeTuning";
import { MirrorSnippets, renderMirrorSnippets } from "./render/snippets/mirrorSnippets";
import { hostPort, httpsUrl } from "./render/endpoint";

export interface PrivateRegistryArgs {
    /** The Docker host to deploy to (any mode). */
    host: RegistryHost;
    /** The edge's certificate (private CA or Let's Encrypt). */
    certificate: ServerCertificate;
    /** DNS names clients use; the first names the endpoint. Required; may be empty when `ipAddresses` is not (its first entry then names the endpoint). */
    hostnames: string[];
    /** IP addresses clients may use. Default: `[]`. */
    ipAddresses?: string[];
    /** Serve the UI on its own name. Default: at `/` of the registry's name. */
    uiHostname?: string;
    /** Public HTTPS port. Default: 443. */
    httpsPort?: number;
    /** Public HTTP port (redirects only). Default: 80. */
    httpPort?: number;
    /** Registry users and roles. Default: `admin` (push, for builders) and `node` (pull, for nodes). */
    users?: RegistryUser[];
    /** Per username, a keeper whose change rotates that user's password. Default: `{}`. */
    passwordRotation?: Record<string, string>;
    /** Allow deletes through the API and the UI. Default: false. */
    deleteEnabled?: boolean;
    /** Keep the data volume on `pulumi destroy`. Default: true. */
    retainDataOnDestroy?: boolean;
    /** Where the registry keeps blobs: the data volume or an S3-compatible bucket. Default: `{kind: "filesystem"}`. */
    storage?: RegistryStorage;
    /** `bridge` (a private network, default) or `host` (loopback ports, for bridgeless daemons). */
    containerNetwork?: "bridge" | "host";
    /** The registry's Prometheus metrics port, reachable from the host only. Default: 5002. */
    metricsPort?: number;
    /** Host networking: the UI's loopback port. Default: 5080. (The registry has no port: a Unix socket.) */
    uiPort?: number;
    /** Host networking: the edge also listens on IPv6. Default: false (nginx fails where IPv6 is off). */
    listenIpv6?: boolean;
    /** Prefix of Docker object names. Default: `private-registry`. */
    namePrefix?: string;
    /** Namespace written into the imagePullSecret manifest. Default: `default`. */
    pullSecretNamespace?: string;
    /** nginx knobs. Default: the benchmarked ones. */
    edgeTuning?: Partial<EdgeTuning>;
    /** Image references. Default: DEFAULTS.images (today's Docker Hub pins). */
    images?: Partial<Record<"registry" | "ui" | "edge" | "mirror", string>>;
    /** Scheduled garbage collection (`gc`), read-only meanwhile. Default: none (`npm run gc` by hand). */
    gc?: { schedule: string; deleteUntagged: boolean };
    /** A pull-through mirror behind the same edge. Default: none. */
    mirror?: PrivateRegistryMirrorArgs;
    /**
     * Another replica's users, passwords and `http.secret`, for one more VM of the same registry
     * behind a load balancer (every replica must accept the same logins and upload tokens).
     * Default: new ones.
     */
    sharedCredentials?: RegistryCredentials;
}

export interface PrivateRegistryMirrorArgs {
    /** The registry pulled through. Default: `https://registry-1.docker.io`. */
    upstream?: string;
    /** The upstream account. Default: anonymous. */
    username?: string;
    /** Secret: its password. */
    password?: pulumi.Input<string>;
    /** The mirror's own name (the certificate must cover it). Default: its own port instead. */
    hostname?: string;
    /** Its public port when it has no name. Default: 5443. */
    httpsPort?: number;
    /** k3s `rewrite` rules for docker.io. Default: none. */
    k3sRewrites?: Record<string, string>;
}

export interface ClientSnippets {
    docker: pulumi.Output<ClientSnippet>;
    containerd: pulumi.Output<ContainerdSnippet>;
    /** For builders: buildkitd.toml trusting the CA, the buildx builder using it, the push login. */
    buildkit: pulumi.Output<ClientSnippet>;
    /** Secret: carries a password. */
    k3s: pulumi.Output<ClientSnippet>;
    /** Secret. */
    imagePullSecret: pulumi.Output<string>;
    /** Secret. */
    nodeSetup: pulumi.Output<string>;
    /** Secret (containerd's and k3s's carry a password): the pull-through mirror's, if any. */
    mirror?: pulumi.Output<MirrorSnippets>;
}

/**
 * The registry, its UI and the TLS edge on one Docker host, plus everything clients need. Every
 * host mode composes this same component; only the host and the certificate differ.
 */
export class PrivateRegistry extends pulumi.ComponentResource {
    /** `host[:port]`, what goes in front of image names. */
    readonly registryEndpoint: string;
    readonly uiEndpoint: string;
    readonly caCertificate: pulumi.Output<string | undefined>;
    /** Secret. */
    readonly credentials: pulumi.Output<UserCredential[]>;
    readonly clientSnippets: ClientSnippets;
    /** `host[:port]` of the pull-through mirror, if any. */
    readonly mirrorEndpoint?: string;
    /** The users, passwords and `http.secret`, for replicas to share (`sharedCredentials`). */
    readonly registryCredentials: RegistryCredentials;

    constructor(name: string, args: PrivateRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:PrivateRegistry", name, {}, opts);
        const namePrefix = args.namePrefix ?? DEFAULTS.namePrefix;
        const httpsPort = args.httpsPort ?? DEFAULTS.httpsPort;
        const ipAddresses = args.ipAddresses ?? [];
        const clientHost = args.hostnames[0] ?? ipAddresses[0];
        if (clientHost === undefined) throw new Error("PrivateRegistry needs at least one hostname or IP address");
        this.registryEndpoint = hostPort(clientHost, httpsPort);
        this.uiEndpoint = httpsUrl(args.uiHostname ?? clientHost, httpsPort);
        const registryOrigin = httpsUrl(clientHost, httpsPort, "");
        const uiOrigin = args.uiHostname === undefined ? undefined : httpsUrl(args.uiHostname, httpsPort, "");

        const provider = args.host.provider;
        const childOpts = { parent: this, provider };
        const networking: ContainerNetworking =
            args.containerNetwork === "host"
                ? { mode: "host", loopbackAddress: "127.0.0.1" }
                : {
                      mode: "bridge",
                      networkName: new docker.Network(
                          `${name}-network`,
                          { name: dockerNames(namePrefix).network, driver: "bridge" },
                          { ...childOpts, dependsOn: args.host.ready },
                      ).name,
                  };

        const users = args.users ?? DEFAULT_USERS;
        const credentials =
            args.sharedCredentials ??
            new RegistryCredentials(`${name}-credentials`, { users, rotation: args.passwordRotation }, { parent: this });
        this.registryCredentials = credentials;
        const registry = new Registry(
            `${name}-registry`,
            {
                provider,
                namePrefix,
                networking,
                metricsPort: args.metricsPort,
                htpasswd: credentials.htpasswd,
                httpSecret: credentials.httpSecret,
                deleteEnabled: args.deleteEnabled,
                uiOrigin,
                retainDataOnDestroy: args.retainDataOnDestroy,
                storage: args.storage,
                dataVolumeDriverOpts: args.host.dataVolumeDriverOpts,
                image: args.images?.registry,
                gc: args.gc,
                dependsOn: args.host.ready,
            },
            { parent: this },
        );
        const ui = new RegistryUi(
            `${name}-ui`,
            {
                provider,
                namePrefix,
                networking,
                hostPort: args.uiPort,
                deleteImages: args.deleteEnabled,
                registryOrigin: uiOrigin === undefined ? undefined : registryOrigin,
                image: args.images?.ui,
                dependsOn: args.host.ready,
            },
            { parent: this },
        );
        const mirrorArgs = args.mirror;
        const mirrorHttpsPort = mirrorArgs?.hostname !== undefined ? httpsPort : (mirrorArgs?.httpsPort ?? DEFAULTS.mirror.httpsPort);
        let mirror: Mirror | undefined;
        if (mirrorArgs !== undefined) {
            this.mirrorEndpoint = hostPort(mirrorArgs.hostname ?? clientHost, mirrorHttpsPort);
            mirror = new Mirror(
                `${name}-mirror`,
                {
                    provider,
                    namePrefix,
                    networking,
                    htpasswd: credentials.htpasswd,
                    httpSecret: credentials.httpSecret,
                    upstream: mirrorArgs.upstream,
                    upstreamUsername: mirrorArgs.username,
                    upstreamPassword: mirrorArgs.password,
                    retainDataOnDestroy: args.retainDataOnDestroy,
                    image: args.images?.mirror,
                    dependsOn: args.host.ready,
                },
                { parent: this },
            );
        }
        new Edge(
            `${name}-edge`,
            {
                provider,
                namePrefix,
                networking,
                serverNames: [...args.hostnames, ...ipAddresses],
                uiServerName: args.uiHostname,
                httpsPort,
                httpPort: args.httpPort ?? DEFAULTS.httpPort,
                listenIpv6: args.listenIpv6,
                registry: registry.upstream,
                ui: ui.upstream,
                socketMounts: [registry.socketMount],
                certificate: args.certificate,
                mirror: mirror && { upstream: mirror.upstream, serverName: mirrorArgs?.hostname, httpsPort: mirrorHttpsPort },
                image: args.images?.edge,
                tuning: args.edgeTuning,
                registryDataVolume: registry.dataVolumeName,
                roles: { pushUsers: users.filter((u) => u.role === "push").map((u) => u.name), realm: namePrefix },
                dependsOn: [registry.container, ui.container, ...(mirror ? [mirror.container] : [])],
            },
            { parent: this },
        );

        this.credentials = credentials.users;
        this.caCertificate = pulumi.output(args.certificate.caCertificatePem);
        this.clientSnippets = clientSnippets(
            this.registryEndpoint,
            this.caCertificate,
            credentials.users,
            {
                builder: builderUser(users).name,
                node: nodeUser(users).name,
            },
            {
                name: namePrefix,
                namespace: args.pullSecretNamespace ?? "default",
            },
        );
        if (this.mirrorEndpoint !== undefined) {
            const mirrorEndpoint = this.mirrorEndpoint;
            this.clientSnippets.mirror = pulumi.secret(
                pulumi.all([this.caCertificate, credentials.users]).apply(([ca, all]) =>
                    renderMirrorSnippets({
                        endpoint: mirrorEndpoint,
                        caCertificate: ca,
                        // Nodes use the mirror: the pull account, as in their other snippets.
                        username: nodeUser(users).name,
                        password: all.find((u) => u.username === nodeUser(users).name)!.password,
                        registryEndpoint: this.registryEndpoint,
                        k3sRewrites: mirrorArgs?.k3sRewrites,
                    }),
                ),
            );
        }
        this.registerOutputs({
            registryEndpoint: this.registryEndpoint,
            uiEndpoint: this.uiEndpoint,
            caCertificate: this.caCertificate,
            credentials: this.credentials,
            clientSnippets: this.clientSnippets,
            mirrorEndpoint: this.mirrorEndpoint,
        });
    }
}

/** Lifts the pure snippet renderers; only the ones that embed a password become secret. */
function clientSnippets(
    endpoint: string,
    caCertificate: pulumi.Output<string | undefined>,
    users: pulumi.Output<UserCredential[]>,
    accounts: { builder: string; node: string },
    pullSecret: { name: string; namespace: string },
): ClientSnippets {
    // Nodes get the pull account: a stolen board can pull, never overwrite or delete an image.
    const withCredentials = pulumi.secret(
        pulumi.all([caCertificate, users]).apply(([ca, all]) => {
            const node = all.find((u) => u.username === accounts.node)!;
            return { endpoint, caCertificate: ca, username: node.username, password: node.password };
        }),
    );
    // Builders get the push account by name only (they type or pipe its password in), so the
    // Docker and BuildKit snippets stay readable.
    const username = accounts.builder;
    return {
        docker: caCertificate.apply((ca) => renderDockerSnippet({ endpoint, caCertificate: ca, username })),
        containerd: caCertificate.apply((ca) => renderContainerdSnippet({ endpoint, caCertificate: ca })),
        buildkit: caCertificate.apply((ca) =>
            renderBuildkitSnippet({ endpoint, caCertificate: ca, username, builderName: pullSecret.name }),
        ),
        k3s: withCredentials.apply(renderK3sSnippet),
        imagePullSecret: withCredentials.apply((input) => renderImagePullSecret({ ...input, ...pullSecret })),
        nodeSetup: withCredentials.apply(renderNodeSetup),
    };
}
