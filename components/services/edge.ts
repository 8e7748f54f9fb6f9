import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ServerCertificate } from "../contracts";
import { ContainerNetworking, SocketMount } from "./networking";
import { EDGE_SET_FILES, edgeLiveDir, renderEdgeApplier } from "../render/edgeApplier";
import { EDGE_PROBE_PATHS, renderEdgeConfig } from "../render/edgeConfig";
import { EdgeTuning } from "../render/edgeTuning";
import { Upstream } from "../render/edgeUpstreams";
import { REGISTRY_DATA_DIR } from "../render/registryConfig";
import { serviceContainer } from "./serviceContainer";

/** The edge's set of files (edgeApplier.ts), the plain and the secret volume mounted read-only here. */
const FILES_DIR = "/etc/nginx/files";
const SECRETS_DIR = "/etc/nginx/secrets";
/** A tmpfs: each set's directory, and `live`, through which nginx.conf names the files it reads. */
const SETS_DIR = "/run/edge";
const LIVE = edgeLiveDir(SETS_DIR);
const APPLIER_PATH = "/usr/local/bin/private-registry-edge";

export interface EdgeArgs {
    provider: docker.Provider;
    namePrefix: string;
    networking: ContainerNetworking;
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
    /** Volumes holding upstreams' Unix sockets (the registry's, the mirror's), mounted read-only. Default: none. */
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
     * but readable: the internet-facing container can then read every blob on disk itself.
     * Default: none, every request proxied (object storage has no files to mount).
     */
    registryDataVolume?: pulumi.Input<string>;
    /** Who may pull and who may push: the edge checks every request's password and every write's role. */
    users: EdgeUsers;
    /** Image reference. */
    image: string;
    dependsOn?: pulumi.Resource[];
}

export interface EdgeUsers {
    /** Secret: every user's password hash, htpasswd (`{SSHA}`). */
    htpasswd: pulumi.Input<string>;
    /** The users who may write (push, delete); everyone else may only GET/HEAD. */
    pushUsers: string[];
    /** The Basic auth realm clients are challenged with. */
    realm: string;
}

/**
 * The only container reachable from outside: nginx terminating TLS, checking every request's
 * password and role, and routing `/v2/` to the registry and `/` to the UI. What changes while it
 * runs is a set of files (components/render/edgeApplier.ts): nginx.conf, the certificate chain
 * and the push users in one volume (each written by a holder of its own), the private key and
 * the password hashes in another (so a diff shows each plain one line by line); the container's
 * command takes each new set without a restart. Replaced (restarted) only for its image, its
 * published ports and its mounts.
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
        const f = EDGE_SET_FILES;
        const nginxConf = renderEdgeConfig({
            uiServerName: args.uiServerName,
            listenHttpsPort,
            listenHttpPort,
            publicHttpsPort: args.httpsPort,
            listenIpv6: onHostNetwork && args.listenIpv6,
            registry: args.registry,
            ui: args.ui,
            certificatePath: `${LIVE}/${f.tls}`,
            privateKeyPath: `${LIVE}/${f.tls}`,
            tlsFilesPerHandshake: true,
            pidPath: "/var/run/nginx.pid",
            mirror,
            tuning: args.tuning,
            access: { realm: args.users.realm, usersFile: `${LIVE}/${f.users}`, pushUsersDir: `${LIVE}/${f.pushUsersDir}` },
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
                    command: ["sh", APPLIER_PATH],
                    uploads: [
                        {
                            file: APPLIER_PATH,
                            content: renderEdgeApplier({ filesDir: FILES_DIR, secretsDir: SECRETS_DIR, setsDir: SETS_DIR }),
                            executable: true,
                        },
                    ],
                    tmpfs: { [SETS_DIR]: "mode=0755" },
                    volumes: [
                        ...(args.socketMounts ?? []),
                        ...(args.registryDataVolume === undefined
                            ? []
                            : [{ volumeName: args.registryDataVolume, containerPath: REGISTRY_DATA_DIR }]),
                    ].map((mount) => ({ ...mount, readOnly: true })),
                    ports: onHostNetwork
                        ? undefined
                        : [
                              { internal: 443, external: args.httpsPort },
                              { internal: 80, external: args.httpPort },
                              ...(mirrorPort === undefined ? [] : [{ internal: mirrorPort, external: mirrorPort }]),
                          ],
                },
                files: {
                    directory: FILES_DIR,
                    plain: [
                        { name: f.nginxConf, content: nginxConf },
                        { name: f.chain, content: args.certificate.certificateChainPem },
                        { name: f.pushUsers, content: args.users.pushUsers.map((user) => `${user}\n`).join("") },
                    ],
                    secretDirectory: SECRETS_DIR,
                    secret: [
                        { name: f.key, content: args.certificate.privateKeyPem },
                        { name: f.users, content: args.users.htpasswd },
                    ],
                },
                dependsOn: args.dependsOn,
            },
            this,
        );

        this.registerOutputs({ containerName: this.container.name });
    }
}
