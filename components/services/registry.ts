import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { DistributionMajor } from "../config/distribution";
import type { BlobStorage, DistributionImage, GcSettings, NotificationEndpoint, RegistryStorage } from "../config/types";
import { renderGcSupervisor } from "../render/gcSupervisor";
import { webhookHeadersEnv } from "../render/notifications";
import { ContainerNetworking, SocketMount } from "./networking";
import { BACKUP_UPSTREAM_KEEPALIVE_SECONDS, Upstream } from "../render/edgeUpstreams";
import { REGISTRY_CONFIG_PATHS, REGISTRY_DATA_DIR, renderRegistryConfig, S3_CREDENTIAL_ENV } from "../render/registryConfig";
import { dockerNames } from "./dockerNames";
import { RETENTION_WAIT } from "./retention";
import { ROLE_LABEL, serviceContainer } from "./serviceContainer";

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
 * With `gc`: the read-only registry's socket while a collection runs, beside the normal one, and
 * the edge's `backup` server, so that one of the two always answers (components/render/gcSupervisor.ts).
 */
export const REGISTRY_READONLY_SOCKET = `unix:${REGISTRY_SOCKET_DIR}/registry-readonly.sock`;
/**
 * Serve with umask 000: Distribution creates the socket 0755 under the image's umask 022, and
 * connecting needs write permission, which the edge's nginx workers (not root) would lack. Only
 * the edge mounts the socket's volume, so 0777 opens it to nobody else. (With `gc`, the
 * supervisor script sets the same umask.) The config's path is the version's.
 */
const serveWithOpenSocket = (configPath: string) => ["sh", "-c", `umask 000 && exec registry serve ${configPath}`];

export interface RegistryArgs {
    /** The host's Docker provider. */
    provider: docker.Provider;
    /** Prefix of the container and volume names. */
    namePrefix: string;
    networking: ContainerNetworking;
    /**
     * Port of the metrics listener (`/metrics`, Prometheus): on loopback in host networking; in
     * bridge networking on the container's own address, not published and not behind the edge,
     * so only the host (and the stack's containers) reach it.
     */
    metricsPort: number;
    /** Secret: the htpasswd file (bcrypt entries). */
    htpasswd: pulumi.Input<string>;
    /** Secret: `http.secret`. */
    httpSecret: pulumi.Input<string>;
    /** Allow deleting manifests through the API. */
    deleteEnabled: boolean;
    /** The UI's origin when served from its own name (CORS). Default: none, same origin. */
    uiOrigin?: string;
    /**
     * Where blobs live: the data volume, or an S3-compatible bucket (then no data volume; its
     * keys reach the registry as secret environment variables).
     */
    storage: RegistryStorage;
    /** Keep the data volume on `pulumi destroy`. */
    retainDataOnDestroy: boolean;
    /** Driver options of the data volume (e.g. a bind to a data disk). Default: a plain volume. */
    dataVolumeDriverOpts?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** The image, with the Distribution version its tag tells (config.yml's path and options depend on it). */
    image: DistributionImage;
    /**
     * Collect garbage on a schedule (`gc.schedule`), read-only meanwhile, optionally
     * `--delete-untagged` (Distribution 3 only). Default: none.
     */
    gc?: GcSettings;
    /**
     * With `gc`: the retention job's handshake volume (services/retention.ts), mounted here so the
     * supervisor asks the job to run right before each collection. Default: none.
     */
    retentionHandshake?: SocketMount;
    /** Webhooks told of pushes, deletes (and pulls, when asked). Default: none. */
    notifications?: NotificationEndpoint[];
    /** Secret: each webhook's headers, index by index (`notifications[i].headers`). Default: none. */
    notificationHeaders?: pulumi.Input<Record<string, string>[]>;
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
    /** How the edge reaches the registry: its socket, in `socketMount`; with `gc`, the read-only one as backup. */
    readonly upstream: Upstream;
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
        const metricsPort = args.metricsPort;
        const metricsAddress = args.networking.mode === "host" ? `${args.networking.loopbackAddress}:${metricsPort}` : `:${metricsPort}`;
        const metricsLocal = args.networking.mode === "host" ? metricsAddress : `127.0.0.1:${metricsPort}`;
        const storage = args.storage;
        const major = args.image.major;
        const configInput = {
            listenAddress: REGISTRY_SOCKET,
            htpasswdPath: HTPASSWD_PATH,
            realm: args.namePrefix,
            deleteEnabled: args.deleteEnabled,
            uiOrigin: args.uiOrigin,
            debugAddress: metricsAddress,
            storage: storageConfig(storage),
            distributionMajor: major,
            notifications: args.notifications,
        };
        const configYaml = renderRegistryConfig(configInput);
        const configPath = REGISTRY_CONFIG_PATHS[major];
        // The read-only registry runs beside the normal one for a moment: its own socket, and no
        // debug listener (two processes cannot bind one address; Distribution exits if it cannot).
        const gc =
            args.gc === undefined
                ? undefined
                : scheduledCollection(
                      args.gc,
                      configPath,
                      args.retentionHandshake?.containerPath,
                      renderRegistryConfig({
                          ...configInput,
                          listenAddress: REGISTRY_READONLY_SOCKET,
                          debugAddress: undefined,
                          readOnly: true,
                      }),
                  );
        this.upstream =
            gc === undefined ? { address: REGISTRY_SOCKET } : { address: REGISTRY_SOCKET, backupAddress: REGISTRY_READONLY_SOCKET };

        // In a bucket, blobs outlive the host anyway: nothing of value would be on a volume.
        const volume =
            storage.kind !== "filesystem"
                ? undefined
                : new docker.Volume(
                      `${name}-data`,
                      {
                          name: dockerNames(args.namePrefix).registryData,
                          driverOpts: args.dataVolumeDriverOpts,
                          labels: [{ label: ROLE_LABEL, value: "registry-data" }],
                      },
                      { ...childOpts, retainOnDelete: args.retainDataOnDestroy, dependsOn: args.dependsOn },
                  );
        // The headers are secrets: environment variables, never config.yml (render/notifications.ts).
        const headers = args.notificationHeaders;
        const webhookHeaders = (args.notifications ?? []).flatMap((endpoint, i) =>
            endpoint.headerNames.length === 0 || headers === undefined
                ? []
                : [pulumi.secret(pulumi.output(headers).apply((all) => webhookHeadersEnv(i, all[i] ?? {})))],
        );
        const s3Credentials =
            storage.kind !== "s3"
                ? []
                : [
                      pulumi.secret(pulumi.interpolate`${S3_CREDENTIAL_ENV.accessKeyId}=${storage.accessKeyId}`),
                      pulumi.secret(pulumi.interpolate`${S3_CREDENTIAL_ENV.secretAccessKey}=${storage.secretAccessKey}`),
                  ];

        const socketVolume = new docker.Volume(
            `${name}-socket`,
            {
                name: dockerNames(args.namePrefix).registrySocket,
                labels: [{ label: ROLE_LABEL, value: "registry-socket" }],
            },
            { ...childOpts, dependsOn: args.dependsOn },
        );
        this.socketMount = { volumeName: socketVolume.name, containerPath: REGISTRY_SOCKET_DIR };

        this.container = serviceContainer(
            name,
            {
                provider: args.provider,
                namePrefix: args.namePrefix,
                networking: args.networking,
                role: "registry",
                image: args.image.reference,
                // The debug listener's health endpoint: the storage driver's check, without a TCP API.
                healthUrl: `http://${metricsLocal}/debug/health`,
                settings: {
                    command: gc?.command ?? serveWithOpenSocket(configPath),
                    envs: [
                        pulumi.interpolate`REGISTRY_HTTP_SECRET=${args.httpSecret}`,
                        ...s3Credentials,
                        ...webhookHeaders,
                        ...distributionEnv(major),
                    ],
                    uploads: [{ file: configPath, content: configYaml }, ...(gc?.uploads ?? [])],
                    volumes: [
                        ...(volume === undefined ? [] : [{ volumeName: volume.name, containerPath: REGISTRY_DATA_DIR }]),
                        { volumeName: socketVolume.name, containerPath: REGISTRY_SOCKET_DIR },
                        ...(args.retentionHandshake === undefined ? [] : [args.retentionHandshake]),
                    ],
                },
                secretFiles: { directory: SECRETS_DIR, files: [{ name: "htpasswd", content: args.htpasswd }] },
                dependsOn: args.dependsOn,
            },
            this,
        );

        this.dataVolumeName = volume?.name;
        this.registerOutputs({ containerName: this.container.name, volumeName: volume?.name, socketVolumeName: socketVolume.name });
    }
}

/** The renderer's view of the storage: everything but the keys. */
function storageConfig(storage: RegistryStorage): BlobStorage {
    if (storage.kind === "filesystem") return storage;
    const { accessKeyId: _id, secretAccessKey: _key, ...visible } = storage;
    return visible;
}

/**
 * Environment a major version needs. 3.x exports OpenTelemetry traces to localhost:4318 unless
 * told not to (the official image sets this itself since 3.0.0; set here too, so a copy of the
 * binary in another image does not log a failed export on every request).
 */
export function distributionEnv(major: DistributionMajor): string[] {
    return major === 3 ? ["OTEL_TRACES_EXPORTER=none"] : [];
}

/**
 * The supervisor (components/render/gcSupervisor.ts) as the container's command, with the
 * read-only copy of config.yml (on REGISTRY_READONLY_SOCKET) beside the normal one. The image's
 * entrypoint runs any command that is not a config file as given (`sh ...`), in the official
 * image and the stand-ins alike.
 */
export function scheduledCollection(gc: GcSettings, configPath: string, retentionDir: string | undefined, readOnlyConfigYaml: string) {
    const directory = configPath.slice(0, configPath.lastIndexOf("/"));
    const readOnlyConfigPath = `${directory}/config-readonly.yml`;
    const supervisorPath = `${directory}/gc-supervisor.sh`;
    const socketPath = (address: string) => address.slice("unix:".length);
    const script = renderGcSupervisor({
        configPath,
        socketPath: socketPath(REGISTRY_SOCKET),
        readOnlyConfigPath,
        readOnlySocketPath: socketPath(REGISTRY_READONLY_SOCKET),
        drainSeconds: BACKUP_UPSTREAM_KEEPALIVE_SECONDS + 1,
        dataDir: REGISTRY_DATA_DIR,
        timing: gc.schedule,
        deleteUntagged: gc.deleteUntagged,
        retention: retentionDir === undefined ? undefined : { handshakeDir: retentionDir, ...RETENTION_WAIT },
    });
    return {
        command: ["sh", supervisorPath],
        uploads: [
            { file: readOnlyConfigPath, content: readOnlyConfigYaml },
            { file: supervisorPath, content: script, executable: true },
        ],
    };
}
