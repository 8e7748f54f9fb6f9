import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { DistributionMajor } from "../config/distribution";
import type { BlobStorage, DistributionImage, GcSettings, NotificationEndpoint, RegistryStorage } from "../config/types";
import { HANDOVER_DRAIN_SECONDS, Upstream } from "../render/edgeUpstreams";
import { REGISTRY_DATA_DIR, renderRegistryConfig, S3_CREDENTIAL_ENV } from "../render/registryConfig";
import { webhookHeadersEnv } from "../render/notifications";
import {
    DISTRIBUTION_FILES_DIR,
    REGISTRY_SET_FILES,
    renderCollectionSchedule,
    renderRegistrySupervisor,
    renderSecretEnvironment,
} from "../render/registrySupervisor";
import { ContainerNetworking, SocketMount } from "./networking";
import { dockerNames } from "./dockerNames";
import { RETENTION_WAIT } from "./retention";
import { ROLE_LABEL, ServiceFile, serviceContainer, ServiceSettings } from "./serviceContainer";

/**
 * The API's only listener: a Unix socket in a volume that only the registry and the edge mount.
 * The registry checks no password (the edge checks every request's, and every write's role:
 * docs/roles.md), so a TCP port, even on loopback or the private network, would let any process
 * on the host push without one. The volume's files are under Docker's data root, which only root
 * may enter. `registry.sock` is a symlink to the socket of the process serving
 * (registrySupervisor.ts).
 */
export const REGISTRY_SOCKET_DIR = "/run/registry";
export const REGISTRY_SOCKET = `unix:${REGISTRY_SOCKET_DIR}/registry.sock`;
/** Where the registry's and the mirror's supervisor finds their secret files (their holder's volume), and builds each set (a tmpfs). */
const DISTRIBUTION_SECRETS_DIR = "/etc/private-registry/secrets";
const DISTRIBUTION_SETS_DIR = "/run/private-registry";
const SUPERVISOR_PATH = "/usr/local/bin/private-registry-supervisor";

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
    /** Secret: `http.secret`. */
    httpSecret: pulumi.Input<string>;
    /** Allow deleting manifests through the API. */
    deleteEnabled: boolean;
    /** The UI's origin when served from its own name (CORS). Default: none, same origin. */
    uiOrigin?: string;
    /**
     * Where blobs live: the data volume, or an S3-compatible bucket (then no data volume; its
     * keys reach the registry as environment variables from a secret file of its set).
     */
    storage: RegistryStorage;
    /** Keep the data volume on `pulumi destroy`. */
    retainDataOnDestroy: boolean;
    /** Driver options of the data volume (e.g. a bind to a data disk). Default: a plain volume. */
    dataVolumeDriverOpts?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** The image, with the Distribution version its tag tells (config.yml's options depend on it). */
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
 * container, whose command (registrySupervisor.ts) serves it on a Unix socket and takes each new
 * set of its files (config.yml, the read-only copy for collections, the collection schedule; a
 * secret environment: a bucket's keys, webhooks' headers) without a moment unanswered: a new
 * schedule at once, a new config.yml or environment by a handover to a new process on the same
 * socket. The container is replaced (restarted) only for its image, `http.secret` and its mounts
 * (retention on or off); the volume, and every image in it, stays.
 */
export class Registry extends pulumi.ComponentResource {
    /** How the edge reaches the registry: its socket, in `socketMount`, handed over between processes. */
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
            deleteEnabled: args.deleteEnabled,
            uiOrigin: args.uiOrigin,
            debugAddress: metricsAddress,
            storage: storageConfig(storage),
            distributionMajor: major,
            notifications: args.notifications,
        };
        this.upstream = { address: REGISTRY_SOCKET, handsOver: true };

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
        // Secrets the registry reads from its environment: a bucket's keys, the webhooks' headers
        // (render/notifications.ts), never config.yml; a file of the set, so a new one is a handover.
        const headers = args.notificationHeaders;
        const headerEnv = (args.notifications ?? []).flatMap((endpoint, i) =>
            endpoint.headerNames.length === 0 || headers === undefined
                ? []
                : [pulumi.output(headers).apply((all) => webhookHeadersEnv(i, all[i] ?? {}))],
        );
        const s3Env =
            storage.kind !== "s3"
                ? []
                : [
                      pulumi.interpolate`${S3_CREDENTIAL_ENV.accessKeyId}=${storage.accessKeyId}`,
                      pulumi.interpolate`${S3_CREDENTIAL_ENV.secretAccessKey}=${storage.secretAccessKey}`,
                  ];
        const secretEnv = [...s3Env, ...headerEnv];

        const socketVolume = new docker.Volume(
            `${name}-socket`,
            {
                name: dockerNames(args.namePrefix).registrySocket,
                labels: [{ label: ROLE_LABEL, value: "registry-socket" }],
            },
            { ...childOpts, dependsOn: args.dependsOn },
        );
        this.socketMount = { volumeName: socketVolume.name, containerPath: REGISTRY_SOCKET_DIR };

        const service = distributionService({
            service: "registry",
            socketDir: REGISTRY_SOCKET_DIR,
            socketName: "registry",
            configYaml: renderRegistryConfig(configInput),
            // The read-only copy a collection serves meanwhile.
            readOnlyConfigYaml: args.gc === undefined ? undefined : renderRegistryConfig({ ...configInput, readOnly: true }),
            schedule: renderCollectionSchedule(args.gc?.schedule, args.gc?.deleteUntagged),
            environment: secretEnv.length === 0 ? undefined : pulumi.all(secretEnv).apply(renderSecretEnvironment),
            retentionDir: args.retentionHandshake?.containerPath,
        });
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
                    ...service.settings,
                    envs: [pulumi.interpolate`REGISTRY_HTTP_SECRET=${args.httpSecret}`, ...distributionEnv(major)],
                    volumes: [
                        ...(volume === undefined ? [] : [{ volumeName: volume.name, containerPath: REGISTRY_DATA_DIR }]),
                        { volumeName: socketVolume.name, containerPath: REGISTRY_SOCKET_DIR },
                        ...(args.retentionHandshake === undefined ? [] : [args.retentionHandshake]),
                    ],
                },
                files: service.files,
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

export interface DistributionServiceInput {
    /** `registry` or `mirror`: names its log lines. */
    service: string;
    /** The socket volume's mount point, and the socket's name there (`<name>.sock`). */
    socketDir: string;
    socketName: string;
    configYaml: string;
    /** With a collection schedule: config.yml with `storage.maintenance.readonly` on. */
    readOnlyConfigYaml?: string;
    /** renderCollectionSchedule's file. */
    schedule: string;
    /** Secret: environment variables each process starts with (renderSecretEnvironment). Default: none. */
    environment?: pulumi.Input<string>;
    /** With retention: where the retention job's handshake volume is mounted. Default: none. */
    retentionDir?: string;
}

/**
 * How a Distribution process runs here, the registry's and the mirror's alike: the supervisor
 * (components/render/registrySupervisor.ts) as the command, run by the image's `sh` (its
 * entrypoint runs any command that is not a config file as given, in the official image and the
 * stand-ins), a tmpfs for the sets it takes, and the files it takes them from.
 */
export function distributionService(input: DistributionServiceInput): {
    settings: ServiceSettings;
    files: { directory: string; plain: ServiceFile[]; secretDirectory?: string; secret?: ServiceFile[] };
} {
    const f = REGISTRY_SET_FILES;
    return {
        settings: {
            command: ["sh", SUPERVISOR_PATH],
            uploads: [
                {
                    file: SUPERVISOR_PATH,
                    content: renderRegistrySupervisor({
                        service: input.service,
                        filesDir: DISTRIBUTION_FILES_DIR,
                        secretsDir: input.environment === undefined ? undefined : DISTRIBUTION_SECRETS_DIR,
                        setsDir: DISTRIBUTION_SETS_DIR,
                        socketDir: input.socketDir,
                        socketName: input.socketName,
                        drainSeconds: HANDOVER_DRAIN_SECONDS,
                        dataDir: REGISTRY_DATA_DIR,
                        retention: input.retentionDir === undefined ? undefined : { handshakeDir: input.retentionDir, ...RETENTION_WAIT },
                    }),
                    executable: true,
                },
            ],
            tmpfs: { [DISTRIBUTION_SETS_DIR]: "mode=0700" },
        },
        files: {
            directory: DISTRIBUTION_FILES_DIR,
            plain: [
                { name: f.config, content: input.configYaml },
                ...(input.readOnlyConfigYaml === undefined ? [] : [{ name: f.readOnlyConfig, content: input.readOnlyConfigYaml }]),
                { name: f.schedule, content: input.schedule },
            ],
            ...(input.environment === undefined
                ? {}
                : { secretDirectory: DISTRIBUTION_SECRETS_DIR, secret: [{ name: f.environment, content: input.environment }] }),
        },
    };
}
