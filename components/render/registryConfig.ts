import { stringify } from "yaml";
import type { DistributionMajor } from "../config/distribution";
import type { BlobStorage } from "../config/types";
import { notificationsSection, WebhookInput, webhookName } from "./notifications";

export interface RegistryConfigInput {
    /**
     * Where the API listens: `unix:/path` for a Unix socket (`http.net: unix`; the stack's
     * registry), else `http.addr` as `host:port` (`:5000`, `127.0.0.1:5000`; the mirror).
     */
    listenAddress: string;
    /** Where the htpasswd file is mounted in the container. */
    htpasswdPath: string;
    realm: string;
    /** Allow `DELETE` of manifests and blobs (garbage collection still runs offline). */
    deleteEnabled: boolean;
    /** The UI's origin when it is served from its own name; the registry then sends CORS headers. */
    uiOrigin?: string;
    /**
     * `http.debug.addr`: a second listener with Prometheus metrics at `/metrics` (and pprof),
     * never behind the edge. Unset: none.
     */
    debugAddress?: string;
    /** Where blobs live. Default: the data volume at REGISTRY_DATA_DIR. */
    storage?: BlobStorage;
    /** The Distribution major version that reads the file (its path and options differ). Default: 3. */
    distributionMajor?: DistributionMajor;
    /**
     * `storage.maintenance.readonly`: refuse every write (pushes, deletes) with 405 UNSUPPORTED
     * while garbage collection runs, as Distribution requires. Default: false.
     */
    readOnly?: boolean;
    /**
     * `storage.maintenance.uploadpurging`: an upload no client finished (a push cut off, a client
     * that went away) is deleted once it is `age` old, checked every `interval` (Go durations).
     * Distribution's first check comes a random whole number of minutes (0-59) after it starts.
     * Default: UPLOAD_PURGING (a week; daily).
     */
    uploadPurging?: { age: string; interval: string };
    /** Webhooks told of the registry's events (`notifications.endpoints`), their headers apart (notifications.ts). Default: none. */
    notifications?: readonly (WebhookInput & { headerNames?: readonly string[] })[];
}

/** What every deployed registry purges: uploads left unfinished for a week, checked daily (Distribution's own defaults). */
export const UPLOAD_PURGING = { age: "168h", interval: "24h" } as const;

/** Distribution's environment overrides for `storage.s3.accesskey` and `storage.s3.secretkey`. */
export const S3_CREDENTIAL_ENV = {
    accessKeyId: "REGISTRY_STORAGE_S3_ACCESSKEY",
    secretAccessKey: "REGISTRY_STORAGE_S3_SECRETKEY",
} as const;

function storageDriver(storage: BlobStorage): Record<string, unknown> {
    if (storage.kind === "filesystem") return { filesystem: { rootdirectory: REGISTRY_DATA_DIR } };
    return {
        s3: {
            region: storage.region,
            bucket: storage.bucket,
            ...(storage.endpoint === undefined ? {} : { regionendpoint: storage.endpoint }),
            // Distribution 3 reads it; 2.8 has no such setting and uses path style with any regionendpoint.
            forcepathstyle: storage.forcePathStyle,
            ...(storage.rootDirectory === undefined ? {} : { rootdirectory: storage.rootDirectory }),
        },
        redirect: { disable: !storage.redirect },
    };
}

/** Fixed by the image; the data volume is mounted here. */
export const REGISTRY_DATA_DIR = "/var/lib/registry";
/** Distribution 2.8's default config path (3.x moved it to /etc/distribution/config.yml). */
export const REGISTRY_CONFIG_PATH = "/etc/docker/registry/config.yml";
/** Where each major version's official image reads its config (its CMD); 3.x moved it. */
export const REGISTRY_CONFIG_PATHS: Record<DistributionMajor, string> = { 2: REGISTRY_CONFIG_PATH, 3: "/etc/distribution/config.yml" };
/**
 * How long a stopping registry lets requests in flight finish (`http.draintimeout`; 2.8 and 3.x):
 * a push under way when the garbage collector's supervisor switches to read-only completes first
 * (and the socket file is removed on the way out). A `docker stop` still ends it after Docker's
 * own 10 s.
 */
export const REGISTRY_DRAIN_TIMEOUT = "60s";

/**
 * `config.yml` for Distribution 2.8 or 3.x. The `http.secret` is not in the file: it arrives as the
 * REGISTRY_HTTP_SECRET environment variable, so the file stays readable in a preview; an S3
 * bucket's keys likewise (S3_CREDENTIAL_ENV).
 *
 * What 3.x changed that matters here: the file's path (REGISTRY_CONFIG_PATHS); the `oss` and
 * `swift` storage drivers and the `alicdn` middleware are gone, as are schema1 manifests and the
 * `compatibility.schema1` section, the `reporting` (bugsnag, newrelic) section and libtrust; none
 * of them is rendered for either version. Every option rendered below reads the same in both
 * (checked by running both: test/integration/distribution3.test.ts and edge.test.ts).
 */
/**
 * `http.headers`: what the registry adds to every response. The edge adds the same to the blobs
 * it sends from files (`serveBlobFiles`), so it needs them from here.
 */
export function registryResponseHeaders(uiOrigin: string | undefined): Record<string, string[]> {
    const cors: Record<string, string[]> =
        uiOrigin === undefined
            ? {}
            : {
                  "Access-Control-Allow-Origin": [uiOrigin],
                  "Access-Control-Allow-Credentials": ["true"],
                  "Access-Control-Allow-Headers": ["Authorization", "Accept", "Cache-Control"],
                  "Access-Control-Allow-Methods": ["HEAD", "GET", "OPTIONS", "DELETE"],
                  "Access-Control-Expose-Headers": ["Docker-Content-Digest"],
              };
    return { "X-Content-Type-Options": ["nosniff"], ...cors };
}

export function renderRegistryConfig(input: RegistryConfigInput): string {
    const config = {
        version: 0.1,
        log: { level: "info", formatter: "text", fields: { service: "registry" } },
        storage: {
            ...storageDriver(input.storage ?? { kind: "filesystem" }),
            delete: { enabled: input.deleteEnabled },
            // In-memory blob descriptors are per process: with a bucket, another replica's delete
            // (or a collection) leaves this one answering for blobs that are gone (docs/scale.md).
            ...(input.storage === undefined || input.storage.kind === "filesystem" ? { cache: { blobdescriptor: "inmemory" } } : {}),
            maintenance: {
                uploadpurging: { enabled: true, ...(input.uploadPurging ?? UPLOAD_PURGING), dryrun: false },
                ...(input.readOnly ? { readonly: { enabled: true } } : {}),
            },
        },
        http: {
            ...listener(input.listenAddress),
            draintimeout: REGISTRY_DRAIN_TIMEOUT,
            headers: registryResponseHeaders(input.uiOrigin),
            ...(input.debugAddress === undefined
                ? {}
                : { debug: { addr: input.debugAddress, prometheus: { enabled: true, path: "/metrics" } } }),
        },
        auth: { htpasswd: { realm: input.realm, path: input.htpasswdPath } },
        health: { storagedriver: { enabled: true, interval: "10s", threshold: 3 } },
        ...(input.notifications?.length ? { notifications: notificationsSection(input.notifications) } : {}),
    };
    const major = input.distributionMajor ?? 3;
    const headers = (input.notifications ?? [])
        .map((webhook, i) => ({ names: webhook.headerNames ?? [], i }))
        .filter(({ names }) => names.length > 0)
        .map(
            ({ names, i }) =>
                `# ${webhookName(i)}'s headers (${names.join(", ")}): REGISTRY_NOTIFICATIONS_ENDPOINTS_${i}_HEADERS, a secret.\n`,
        );
    return `# Rendered by private-registry (components/render/registryConfig.ts) for Distribution ${major}.x (${REGISTRY_CONFIG_PATHS[major]}).\n${headers.join("")}${stringify(config)}`;
}

/** `unix:/path` (nginx's spelling, as the edge's upstream names it) or `host:port`. */
function listener(address: string): { net?: "unix"; addr: string } {
    return address.startsWith("unix:") ? { net: "unix", addr: address.slice("unix:".length) } : { addr: address };
}
