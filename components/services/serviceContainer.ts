import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { createHmac } from "crypto";
import { dockerNames, ServiceRole } from "./dockerNames";
import { containerNetworkArgs, ContainerNetworking, httpHealthcheck } from "./networking";

/** What differs between the registry, UI and edge containers; the rest is shared policy. */
export type ServiceSettings = Omit<
    docker.ContainerArgs,
    "name" | "image" | "restart" | "healthcheck" | "networkMode" | "networksAdvanced" | "logDriver" | "logOpts" | "labels"
>;

/**
 * Docker keeps a container's output forever by default: a busy registry's access log (and the
 * edge's) would fill the disk. json-file, so `docker logs` keeps working, rotated at 10 MiB and
 * keeping 5 files: at most 50 MiB per container, whatever the host's daemon.json says.
 */
export const CONTAINER_LOG_ROTATION = { logDriver: "json-file", logOpts: { "max-size": "10m", "max-file": "5" } };

/** One secret file a service reads, e.g. an htpasswd or a TLS private key. */
export interface SecretFile {
    /** File name inside `SecretFiles.directory`, e.g. `htpasswd`. */
    name: string;
    /** The content; always treated as a secret. */
    content: pulumi.Input<string>;
    /** Octal mode. Default: `0600` (the services here read them as root). */
    permissions?: string;
}

/** Secret files and the directory the service reads them from (read-only). */
export interface SecretFiles {
    /** Absolute path in the service container, e.g. `/auth`; nothing else may be uploaded under it. */
    directory: string;
    files: SecretFile[];
}

export interface ServiceContainerArgs {
    provider: docker.Provider;
    namePrefix: string;
    networking: ContainerNetworking;
    /** `registry`, `ui`, `edge` or `mirror`: names the container (`dockerNames`) and is its DNS alias. */
    role: ServiceRole;
    /** Pinned image reference. */
    image: string;
    /** What the health check GETs from inside the container. */
    healthUrl: string;
    /** Non-secret settings; `uploads` here must not be secret, or they hide each other in a diff. */
    settings: ServiceSettings;
    /**
     * Files that must stay secret, delivered apart from `settings.uploads` (see `secretFilesHolder`)
     * so that a diff still shows the plain files line by line. Default: none.
     */
    secretFiles?: SecretFiles;
    dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * `always`, not `unless-stopped`: a dockerd that crashed (SIGKILL, the OOM killer, a panic) finds
 * the containers still running when it starts again and, without live-restore, stops them; that
 * stop counts as a user's, so `unless-stopped` would leave every service down until someone starts
 * it by hand (moby's restore, from 20.10 to today; docker/for-linux#652). `always` starts them
 * again then too. What else differs: a service someone stopped by hand comes back at Docker's next
 * start, which a registry wants. test/e2e/restarts.test.ts shows both policies after a crash.
 */
export const SERVICE_RESTART_POLICY = "always";

/** Label on a service container: a keyed hash of its secret files, so it is replaced when they change. */
export const SECRETS_FINGERPRINT_LABEL = "private-registry.secrets-fingerprint";
/** Label naming what a Docker object is for (`registry-data`, `edge-secrets`, ...). */
export const ROLE_LABEL = "private-registry.role";

/**
 * How every service here runs: its pinned image kept locally on destroy, a fixed container name
 * (so a replacement deletes the old one first), restarted always, health-checked, its logs
 * rotated, on the stack's network. `name` names the Pulumi resources, children of `parent`.
 */
export function serviceContainer(name: string, args: ServiceContainerArgs, parent: pulumi.Resource): docker.Container {
    const childOpts = { parent, provider: args.provider };
    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, childOpts);
    const secrets = args.secretFiles === undefined ? undefined : secretFilesHolder(name, args, image, parent);
    return new docker.Container(
        name,
        {
            ...args.settings,
            name: dockerNames(args.namePrefix).container(args.role),
            image: image.imageId,
            restart: SERVICE_RESTART_POLICY,
            healthcheck: httpHealthcheck(args.healthUrl),
            ...CONTAINER_LOG_ROTATION,
            labels: secrets === undefined ? undefined : [{ label: SECRETS_FINGERPRINT_LABEL, value: secrets.fingerprint }],
            volumes:
                secrets === undefined
                    ? args.settings.volumes
                    : pulumi
                          .output(args.settings.volumes ?? [])
                          .apply((volumes) => [
                              ...(volumes ?? []),
                              { volumeName: secrets.volumeName, containerPath: args.secretFiles!.directory, readOnly: true },
                          ]),
            ...containerNetworkArgs(args.networking, args.role),
        },
        { ...childOpts, deleteBeforeReplace: true, dependsOn: [...(args.dependsOn ?? []), ...(secrets ? [secrets.holder] : [])] },
    );
}

/**
 * Why secrets travel apart: the engine shows a list input as `[secret]` as soon as one element is
 * secret, so one secret upload beside `config.yml` or `nginx.conf` would hide their line diff.
 *
 * Here the secret files are the only uploads of a container that is created and never started,
 * whose one mount is a dedicated volume at `directory`: `docker cp` into a mounted path writes into
 * the volume, and the service mounts that volume read-only at the same path. A changed secret
 * replaces this holder (its uploads changed), which rewrites the files in the volume; the
 * service's label carries an HMAC of the files under a random key kept secret in state, so the
 * service is replaced too (and reads the new files), while the label itself reveals nothing.
 */
function secretFilesHolder(name: string, args: ServiceContainerArgs, image: docker.RemoteImage, parent: pulumi.Resource) {
    const secretFiles = args.secretFiles!;
    const childOpts = { parent, provider: args.provider };
    const objectName = dockerNames(args.namePrefix).secrets(args.role);
    const volume = new docker.Volume(
        `${name}-secrets`,
        {
            name: objectName,
            labels: [{ label: ROLE_LABEL, value: `${args.role}-secrets` }],
        },
        { ...childOpts, dependsOn: args.dependsOn },
    );
    const holder = new docker.Container(
        `${name}-secrets`,
        {
            name: objectName,
            image: image.imageId,
            // Never started: it only carries the files into the volume.
            start: false,
            ...CONTAINER_LOG_ROTATION,
            mustRun: false,
            networkMode: "none",
            labels: [{ label: ROLE_LABEL, value: `${args.role}-secrets` }],
            volumes: [{ volumeName: volume.name, containerPath: secretFiles.directory }],
            uploads: secretFiles.files.map((file) => ({
                file: `${secretFiles.directory}/${file.name}`,
                content: pulumi.secret(file.content),
                permissions: file.permissions ?? "0600",
            })),
        },
        {
            ...childOpts,
            deleteBeforeReplace: true,
            dependsOn: args.dependsOn,
            // It never runs, so a new service image is no reason to rewrite the secrets (nor to show a
            // second replacement in the diff of an image bump); it takes the new image when replaced.
            ignoreChanges: ["image"],
        },
    );
    const key = new random.RandomPassword(`${name}-secrets-key`, { length: 32, special: false }, { parent });
    const fingerprint = pulumi.unsecret(
        pulumi.all([key.result, ...secretFiles.files.map((f) => f.content)]).apply(([hmacKey, ...contents]) =>
            secretsFingerprint(
                hmacKey,
                secretFiles.files.map((file, i) => ({ name: file.name, content: contents[i] })),
            ),
        ),
    );
    return { volumeName: volume.name, holder, fingerprint };
}

/** HMAC-SHA256 over each file's name and content; without the key it says nothing about them. */
export function secretsFingerprint(key: string, files: { name: string; content: string }[]): string {
    const hmac = createHmac("sha256", key);
    for (const file of files) hmac.update(`${file.name}\0${Buffer.byteLength(file.content)}\0${file.content}`);
    return `hmac-sha256:${hmac.digest("hex").slice(0, 32)}`;
}
