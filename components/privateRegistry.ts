import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { RegistrySettings, RegistryStorage } from "./config/types";
import { RegistryHost, ServerCertificate } from "./contracts";
import { builderUser, nodeUser } from "./config/users";
import { RegistryCredentials, UserCredential } from "./credentials/registryCredentials";
import { Edge } from "./services/edge";
import { Mirror } from "./services/mirror";
import { dockerNames } from "./services/dockerNames";
import { ContainerNetworking } from "./services/networking";
import { Registry } from "./services/registry";
import { RegistryUi } from "./services/registryUi";
import { Retention } from "./services/retention";
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
    /**
     * What the registry serves and how: names, ports, users, images, the mirror, scheduled garbage
     * collection... validated by components/config, every default applied (RegistrySettings says
     * what each one is). `hostnames` may be empty when `ipAddresses` is not (its first entry then
     * names the endpoint).
     */
    settings: RegistrySettings;
    /** Where the registry keeps blobs: the data volume or an S3-compatible bucket (its keys secret). */
    storage: RegistryStorage;
    /** Secret: the mirror's upstream password (`mirror.password`), with `settings.mirror`. Default: none. */
    mirrorPassword?: pulumi.Input<string>;
    /**
     * Secret: each webhook's headers, index by index with `settings.notifications`
     * (`notifications[i].headers`). Default: none.
     */
    notificationHeaders?: pulumi.Input<Record<string, string>[]>;
    /** Namespace written into the imagePullSecret manifest. Default: `default`. */
    pullSecretNamespace?: string;
    /** nginx knobs. Default: the benchmarked ones. */
    edgeTuning?: Partial<EdgeTuning>;
    /**
     * Another replica's users, passwords and `http.secret`, for one more VM of the same registry
     * behind a load balancer (every replica must accept the same logins and upload tokens).
     * Default: new ones.
     */
    sharedCredentials?: RegistryCredentials;
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
        const settings = args.settings;
        const { namePrefix, httpsPort, ipAddresses, uiHostname, users, images } = settings;
        const clientHost = settings.hostnames[0] ?? ipAddresses[0];
        if (clientHost === undefined) throw new Error("PrivateRegistry needs at least one hostname or IP address");
        this.registryEndpoint = hostPort(clientHost, httpsPort);
        this.uiEndpoint = httpsUrl(uiHostname ?? clientHost, httpsPort);
        const registryOrigin = httpsUrl(clientHost, httpsPort, "");
        const uiOrigin = uiHostname === undefined ? undefined : httpsUrl(uiHostname, httpsPort, "");

        const provider = args.host.provider;
        const childOpts = { parent: this, provider };
        const networking: ContainerNetworking =
            settings.containerNetwork === "host"
                ? { mode: "host", loopbackAddress: "127.0.0.1" }
                : {
                      mode: "bridge",
                      networkName: new docker.Network(
                          `${name}-network`,
                          { name: dockerNames(namePrefix).network, driver: "bridge" },
                          { ...childOpts, dependsOn: args.host.ready },
                      ).name,
                  };

        const credentials =
            args.sharedCredentials ??
            new RegistryCredentials(`${name}-credentials`, { users, rotation: settings.passwordRotation }, { parent: this });
        this.registryCredentials = credentials;
        // Retention runs before each collection (the config rules require gc with it), as the first push user.
        const retention =
            settings.retention.length === 0 || settings.gc === undefined
                ? undefined
                : new Retention(
                      `${name}-retention`,
                      {
                          provider,
                          namePrefix,
                          image: images.retention,
                          host: clientHost,
                          httpsPort,
                          caCertificate: args.certificate.caCertificatePem,
                          username: builderUser(users).name,
                          password: pulumi.secret(
                              credentials.users.apply((all) => all.find((u) => u.username === builderUser(users).name)!.password),
                          ),
                          policies: settings.retention,
                          dependsOn: args.host.ready,
                      },
                      { parent: this },
                  );
        const registry = new Registry(
            `${name}-registry`,
            {
                provider,
                namePrefix,
                networking,
                metricsPort: settings.metricsPort,
                htpasswd: credentials.htpasswd,
                httpSecret: credentials.httpSecret,
                deleteEnabled: settings.deleteEnabled,
                uiOrigin,
                retainDataOnDestroy: settings.retainDataOnDestroy,
                storage: args.storage,
                dataVolumeDriverOpts: args.host.dataVolumeDriverOpts,
                image: images.registry,
                gc: settings.gc,
                retentionHandshake: retention?.handshake,
                notifications: settings.notifications,
                notificationHeaders: args.notificationHeaders,
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
                hostPort: settings.uiPort,
                deleteImages: settings.deleteEnabled,
                registryOrigin: uiOrigin === undefined ? undefined : registryOrigin,
                image: images.ui,
                dependsOn: args.host.ready,
            },
            { parent: this },
        );
        const mirrorSettings = settings.mirror;
        let mirror: { service: Mirror; serverName?: string; httpsPort: number } | undefined;
        if (mirrorSettings !== undefined) {
            // On a name of its own the mirror answers on the registry's port, else on a port of its own.
            const mirrorHttpsPort = mirrorSettings.hostname !== undefined ? httpsPort : mirrorSettings.httpsPort;
            this.mirrorEndpoint = hostPort(mirrorSettings.hostname ?? clientHost, mirrorHttpsPort);
            const service = new Mirror(
                `${name}-mirror`,
                {
                    provider,
                    namePrefix,
                    networking,
                    htpasswd: credentials.htpasswd,
                    httpSecret: credentials.httpSecret,
                    upstream: mirrorSettings.upstream,
                    upstreamUsername: mirrorSettings.username,
                    upstreamPassword: args.mirrorPassword,
                    retainDataOnDestroy: settings.retainDataOnDestroy,
                    image: images.mirror,
                    dependsOn: args.host.ready,
                },
                { parent: this },
            );
            mirror = { service, serverName: mirrorSettings.hostname, httpsPort: mirrorHttpsPort };
        }
        new Edge(
            `${name}-edge`,
            {
                provider,
                namePrefix,
                networking,
                serverNames: [...settings.hostnames, ...ipAddresses],
                uiServerName: uiHostname,
                httpsPort,
                httpPort: settings.httpPort,
                listenIpv6: settings.listenIpv6,
                registry: registry.upstream,
                ui: ui.upstream,
                socketMounts: [registry.socketMount],
                certificate: args.certificate,
                mirror: mirror && { upstream: mirror.service.upstream, serverName: mirror.serverName, httpsPort: mirror.httpsPort },
                image: images.edge,
                tuning: args.edgeTuning,
                registryDataVolume: registry.dataVolumeName,
                roles: { pushUsers: users.filter((u) => u.role === "push").map((u) => u.name), realm: namePrefix },
                dependsOn: [registry.container, ui.container, ...(mirror ? [mirror.service.container] : [])],
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
                        k3sRewrites: mirrorSettings?.k3sRewrites,
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
