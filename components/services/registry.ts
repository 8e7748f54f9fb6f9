import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULTS } from "../config/defaults";
import type { RegistryStorage } from "../contracts";
import { ContainerNetworking, SocketMount } from "./networking";
import { Upstream } from "../render/edgeConfig";
import { REGISTRY_CONFIG_PATH, REGISTRY_DATA_DIR, renderRegistryConfig, S3_CREDENTIAL_ENV, StorageConfigInput } from "../render/registryConfig";
import { ROLE_LABEL, serviceContainer } from "./serviceContainer";

/** The newest 2.8 patch release; the tests run Debian's Distribution 2.8 against the same config. */
export const REGISTRY_IMAGE = DEFAULTS.images.registry;
/** The htpasswd is a secret file: `serviceContainer` mounts it read-only here, apart from `config.yml`. */
const SECRETS_DIR = "/auth";
const HTPASSWD_PATH = `${SECRETS_DIR}/htpasswd`;
/**
 * The API's only listener: a Unix socket in a volume that only the registry and the edge mount.
 * The registry's htpasswd holds every user, pull users too, and the edge alone tells push from
 * pull (docs/roles.md): a TCP port, even on loopback or the private network, would let any
 * process on the host push with a pull account. The volume's files are under Docker's data root,
 * which only root may enter.
 */
export const REGISTRY_SOCKET_DIR = "/run/registry";
export const REGISTRY_SOCKET = `unix:${REGISTRY_SOCKET_DIR}/registry.sock`;
/**
 * Serve with umask 000: Distribution creates the socket 0755 under the image's umask 022, and
 * connecting needs write permission, which the edge's nginx workers (not root) would lack. Only
 * the edge mounts the socket's volume, so 0777 opens it to nobody else.
 */
const SERVE_WITH_OPEN_SOCKET = ["sh", "-c", `umask 000 && exec registry serve ${REGISTRY_CONFIG_PATH}`];

export interface RegistryArgs {
    /** The host's Docker provider. */
    provider: docker.Provider;
    /** Prefix of the container and volume names. */
    namePrefix: string;
    networking: ContainerNetworking;
    /**
     * Port of the metrics listener (`/metrics`, Prometheus): on loopback in host networking; in
     * bridge networking on the container's own address, not published and not behind the edge,
     * so only the host (and the stack's containers) reach it. Default: 5002.
     */
    metricsPort?: number;
    /** Secret: the htpasswd file (bcrypt entries). */
    htpasswd: pulumi.Input<string>;
    /** Secret: `http.secret`. */
    httpSecret: pulumi.Input<string>;
    /** Allow deleting manifests through the API. Default: false. */
    deleteEnabled?: boolean;
    /** The UI's origin when served from its own name (CORS). Default: none, same origin. */
    uiOrigin?: string;
    /**
     * Where blobs live: the data volume, or an S3-compatible bucket (then no data volume; its
     * keys reach the registry as secret environment variables). Default: `{kind: "filesystem"}`.
     */
    storage?: RegistryStorage;
    /** Keep the data volume on `pulumi destroy`. Default: true. */
    retainDataOnDestroy?: boolean;
    /** Driver options of the data volume (e.g. a bind to a data disk). Default: a plain volume. */
    dataVolumeDriverOpts?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Image reference. Default: `registry:2.8.3`. */
    image?: string;
    /** Resources to wait for (the host being ready). */
    dependsOn?: pulumi.Resource[];
}

/**
 * The Distribution registry: its image, the data volume that outlives every container, and the
 * container with the rendered `config.yml` and, as a secret file apart from it (so a diff shows
 * `config.yml` line by line), the htpasswd. Changing either replaces the container (Docker cannot
 * edit a created container's files); the volume, and every image in it, stays.
 */
export class Registry extends pulumi.ComponentResource {
    /** How the edge reaches the registry: its socket, in `socketMount`. */
    readonly upstream: Upstream = { address: REGISTRY_SOCKET };
    /** The volume holding the API's socket and where it must be mounted; the edge alone mounts it. */
    readonly socketMount: SocketMount;
    readonly container: docker.Container;
    /**
     * The data volume's name (filesystem storage; undefined in a bucket): the edge mounts it
     * read-only to send blob files itself.
     */
    readonly dataVolumeName: pulumi.Output<string> | undefined;

    constructor(name: string, args: RegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:Registry", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };
        const metricsPort = args.metricsPort ?? DEFAULTS.metricsPort;
        const metricsAddress = args.networking.mode === "host" ? `${args.networking.loopbackAddress}:${metricsPort}` : `:${metricsPort}`;
        const metricsLocal = args.networking.mode === "host" ? metricsAddress : `127.0.0.1:${metricsPort}`;
        const storage = args.storage ?? { kind: "filesystem" };
        const configYaml = renderRegistryConfig({
            listenAddress: REGISTRY_SOCKET,
            htpasswdPath: HTPASSWD_PATH,
            realm: args.namePrefix,
            deleteEnabled: args.deleteEnabled ?? DEFAULTS.deleteEnabled,
            uiOrigin: args.uiOrigin,
            debugAddress: metricsAddress,
            storage: storageConfig(storage),
        });

        // In a bucket, blobs outlive the host anyway: nothing of value would be on a volume.
        const volume = storage.kind !== "filesystem" ? undefined : new docker.Volume(`${name}-data`, {
            name: `${args.namePrefix}-data`,
            driverOpts: args.dataVolumeDriverOpts,
            labels: [{ label: ROLE_LABEL, value: "registry-data" }],
        }, { ...childOpts, retainOnDelete: args.retainDataOnDestroy ?? DEFAULTS.retainDataOnDestroy, dependsOn: args.dependsOn });
        const s3Credentials = storage.kind !== "s3" ? [] : [
            pulumi.secret(pulumi.interpolate`${S3_CREDENTIAL_ENV.accessKeyId}=${storage.accessKeyId}`),
            pulumi.secret(pulumi.interpolate`${S3_CREDENTIAL_ENV.secretAccessKey}=${storage.secretAccessKey}`),
        ];

        const socketVolume = new docker.Volume(`${name}-socket`, {
            name: `${args.namePrefix}-registry-socket`,
            labels: [{ label: ROLE_LABEL, value: "registry-socket" }],
        }, { ...childOpts, dependsOn: args.dependsOn });
        this.socketMount = { volumeName: socketVolume.name, containerPath: REGISTRY_SOCKET_DIR };

        this.container = serviceContainer(name, {
            provider: args.provider,
            namePrefix: args.namePrefix,
            networking: args.networking,
            role: "registry",
            image: args.image ?? REGISTRY_IMAGE,
            // The debug listener's health endpoint: the storage driver's check, without a TCP API.
            healthUrl: `http://${metricsLocal}/debug/health`,
            settings: {
                command: SERVE_WITH_OPEN_SOCKET,
                envs: [pulumi.interpolate`REGISTRY_HTTP_SECRET=${args.httpSecret}`, ...s3Credentials],
                uploads: [{ file: REGISTRY_CONFIG_PATH, content: configYaml }],
                volumes: [
                    ...(volume === undefined ? [] : [{ volumeName: volume.name, containerPath: REGISTRY_DATA_DIR }]),
                    { volumeName: socketVolume.name, containerPath: REGISTRY_SOCKET_DIR },
                ],
            },
            secretFiles: { directory: SECRETS_DIR, files: [{ name: "htpasswd", content: args.htpasswd }] },
            dependsOn: args.dependsOn,
        }, this);

        this.dataVolumeName = volume?.name;
        this.registerOutputs({ containerName: this.container.name, volumeName: volume?.name, socketVolumeName: socketVolume.name });
    }
}

/** The renderer's view of the storage: everything but the keys. */
function storageConfig(storage: RegistryStorage): StorageConfigInput {
    if (storage.kind === "filesystem") return storage;
    const { accessKeyId: _id, secretAccessKey: _key, ...visible } = storage;
    return visible;
}
