import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ServerCertificate } from "../contracts";
import { ContainerNetworking, SocketMount } from "./networking";
import { EDGE_PROBE_PATHS, EdgeRoles, renderEdgeConfig } from "../render/edgeConfig";
import { EdgeTuning } from "../render/edgeTuning";
import { Upstream } from "../render/edgeUpstreams";
import { REGISTRY_DATA_DIR } from "../render/registryConfig";
import { serviceContainer } from "./serviceContainer";

const TLS_DIR = "/etc/nginx/tls";
/** The private key is a secret file: `serviceContainer` mounts it read-only here, apart from nginx.conf. */
const SECRETS_DIR = "/etc/nginx/secrets";

export interface EdgeArgs {
    provider: docker.Provider;
    namePrefix: string;
    networking: ContainerNetworking;
    /** Names and IPs the registry answers to. */
    serverNames: string[];
    /** The UI's own name, if it has one. Default: the UI is served at `/` of the registry's name. */
    uiServerName?: string;
    /** The HTTPS port clients use. */
    httpsPort: number;
    /** The plain HTTP port; it only redirects to HTTPS. */
    httpPort: number;
    /** Host networking: also listen on IPv6 (nginx does not start where IPv6 is off). */
    listenIpv6: boolean;
    registry: Upstream;
    ui: Upstream;
    /** Volumes holding upstreams' Unix sockets (the registry's), mounted read-only. Default: none. */
    socketMounts?: SocketMount[];
    certificate: ServerCertificate;
    /**
     * The pull-through mirror: on its own name (on `httpsPort`), or else on its own public port.
     * Default: none.
     */
    mirror?: { upstream: Upstream; serverName?: string; httpsPort: number };
    /** nginx knobs; defaults are the benchmarked ones (docs/benchmarks.md). */
    tuning?: Partial<EdgeTuning>;
    /**
     * The registry's data volume (filesystem storage), mounted read-only where the registry has
     * it, so nginx sends authorized blob GETs from its files (`tuning.serveBlobFiles`). Read-only,
     * but readable: the internet-facing container can then read every blob on disk itself, where
     * before it could only ask the registry with a client's credentials. Default: none, every
     * request proxied (object storage has no files to mount).
     */
    registryDataVolume?: pulumi.Input<string>;
    /** Who may write (push, delete); everyone else may only GET/HEAD. Default: no roles, every user writes. */
    roles?: EdgeRoles;
    /** Image reference. */
    image: string;
    dependsOn?: pulumi.Resource[];
}

/**
 * The only container reachable from outside: nginx terminating TLS and routing `/v2/` to the
 * registry and `/` to the UI. The certificate is an uploaded file beside nginx.conf, the key a
 * secret file apart from them (so a diff shows both line by line); a renewed certificate replaces
 * this (stateless) container and nginx starts with it.
 */
export class Edge extends pulumi.ComponentResource {
    readonly container: docker.Container;

    constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:Edge", name, {}, opts);
        const onHostNetwork = args.networking.mode === "host";
        // In a private network nginx listens on the standard ports and Docker publishes them.
        const listenHttpsPort = onHostNetwork ? args.httpsPort : 443;
        const listenHttpPort = onHostNetwork ? args.httpPort : 80;
        // A mirror without a name of its own listens on its public port (published as itself).
        const mirrorPort = args.mirror === undefined || args.mirror.serverName !== undefined ? undefined : args.mirror.httpsPort;
        const mirror = args.mirror && {
            upstream: args.mirror.upstream,
            serverName: args.mirror.serverName,
            listenHttpsPort: mirrorPort ?? listenHttpsPort,
        };
        const nginxConf = renderEdgeConfig({
            serverNames: args.serverNames,
            uiServerName: args.uiServerName,
            listenHttpsPort,
            listenHttpPort,
            publicHttpsPort: args.httpsPort,
            listenIpv6: onHostNetwork && args.listenIpv6,
            registry: args.registry,
            ui: args.ui,
            certificatePath: `${TLS_DIR}/server.crt`,
            privateKeyPath: `${SECRETS_DIR}/server.key`,
            pidPath: "/var/run/nginx.pid",
            mirror,
            tuning: args.tuning,
            roles: args.roles,
            registryBlobRoot: args.registryDataVolume === undefined ? undefined : REGISTRY_DATA_DIR,
        });

        this.container = serviceContainer(
            name,
            {
                provider: args.provider,
                namePrefix: args.namePrefix,
                networking: args.networking,
                role: "edge",
                image: args.image,
                healthUrl: `http://127.0.0.1:${listenHttpPort}${EDGE_PROBE_PATHS.liveness}`,
                settings: {
                    volumes: [
                        ...(args.socketMounts ?? []),
                        ...(args.registryDataVolume === undefined
                            ? []
                            : [{ volumeName: args.registryDataVolume, containerPath: REGISTRY_DATA_DIR }]),
                    ].map((mount) => ({ ...mount, readOnly: true })),
                    uploads: [
                        { file: "/etc/nginx/nginx.conf", content: nginxConf },
                        { file: `${TLS_DIR}/server.crt`, content: args.certificate.certificateChainPem },
                    ],
                    ports: onHostNetwork
                        ? undefined
                        : [
                              { internal: 443, external: args.httpsPort },
                              { internal: 80, external: args.httpPort },
                              ...(mirrorPort === undefined ? [] : [{ internal: mirrorPort, external: mirrorPort }]),
                          ],
                },
                secretFiles: { directory: SECRETS_DIR, files: [{ name: "server.key", content: args.certificate.privateKeyPem }] },
                dependsOn: args.dependsOn,
            },
            this,
        );

        this.registerOutputs({ containerName: this.container.name });
    }
}
