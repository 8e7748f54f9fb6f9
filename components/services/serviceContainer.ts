import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { fileSetId, MANIFEST, renderManifest, SetFile } from "../render/fileSet";
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

/** One file of a service's set: a name in its directory, and the content. */
export interface ServiceFile {
    /** A plain file name (letters, digits, `.`, `_`, `-`). */
    name: string;
    content: pulumi.Input<string>;
}

/**
 * The files a service takes while it runs (components/render/fileSet.ts): each change is a new
 * set the service's own command picks up, never a replacement of the service. Each plain file
 * travels in a holder of its own and the secret files in one more, so that a diff shows each
 * changed plain file line by line against its old self.
 */
export interface ServiceFiles {
    /** Where the service reads the plain files (their holders' volume, mounted read-only). */
    directory: string;
    /** Plain files, e.g. nginx.conf: never secret, or they would hide each other in a diff. */
    plain: ServiceFile[];
    /** Where the service reads the secret files. Required with `secret`. */
    secretDirectory?: string;
    /** Files that must stay secret, e.g. a private key. Default: none. */
    secret?: ServiceFile[];
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
    /**
     * How the service runs: a change here replaces (restarts) it. `uploads` here must not be
     * secret, or they hide each other in a diff; what changes while it runs belongs in `files`.
     */
    settings: ServiceSettings;
    /** Files the service takes without a restart. Default: none. */
    files?: ServiceFiles;
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

/** Label naming what a Docker object is for (`registry-data`, `edge-secrets`, ...). */
export const ROLE_LABEL = "private-registry.role";

/**
 * How every service here runs: its pinned image kept locally on destroy, a fixed container name
 * (so a replacement deletes the old one first), restarted always, health-checked, its logs
 * rotated, on the stack's network, and its `files` in holders' volumes mounted read-only.
 * `name` names the Pulumi resources, children of `parent`.
 */
export function serviceContainer(name: string, args: ServiceContainerArgs, parent: pulumi.Resource): docker.Container {
    const childOpts = { parent, provider: args.provider };
    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, childOpts);
    const holders = args.files === undefined ? { containers: [], mounts: [] } : fileHolders(name, args, args.files, image, parent);
    return new docker.Container(
        name,
        {
            ...args.settings,
            name: dockerNames(args.namePrefix).container(args.role),
            image: image.imageId,
            restart: SERVICE_RESTART_POLICY,
            healthcheck: httpHealthcheck(args.healthUrl),
            ...CONTAINER_LOG_ROTATION,
            volumes:
                holders.mounts.length === 0
                    ? args.settings.volumes
                    : pulumi.output(args.settings.volumes ?? []).apply((volumes) => [
                          ...(volumes ?? []),
                          ...holders.mounts.map((mount) => ({
                              volumeName: mount.volumeName,
                              containerPath: mount.directory,
                              readOnly: true,
                          })),
                      ]),
            ...containerNetworkArgs(args.networking, args.role),
        },
        { ...childOpts, deleteBeforeReplace: true, dependsOn: [...(args.dependsOn ?? []), ...holders.containers] },
    );
}

/**
 * The holders of a service's files, each a container created and never started whose one mount
 * is a volume at the directory the service reads, and whose uploads are files (`docker cp` into a
 * mounted path writes into the volume). A changed file replaces its holder (its uploads changed),
 * which rewrites the file in the volume; the service mounts the volume read-only and stays.
 *
 * Each plain file has a holder of its own (`<service>-files-<file>`), and the plain manifest one
 * more (`<service>-files-manifest`), written after them; all share the `files` volume. One upload
 * per holder, because the engine pairs a list's old and new elements by position while the Docker
 * provider keeps uploads in an order of its own: with two changed uploads in one holder, a file
 * could show against another one instead of its old self. So a diff shows each changed file as a
 * line diff of its own, and no holder of an unchanged file. Secret files share one holder (and
 * its manifest) in a volume of their own: the engine shows a list as `[secret]` as soon as one
 * element is secret, so their diff says `[secret]` whatever the order. Both manifests name the
 * set by an HMAC of every file under a random key kept secret in state (fileSet.ts), so the plain
 * manifest reveals nothing.
 */
function fileHolders(name: string, args: ServiceContainerArgs, files: ServiceFiles, image: docker.RemoteImage, parent: pulumi.Resource) {
    const secret = files.secret ?? [];
    if (secret.length > 0 && files.secretDirectory === undefined) throw new Error(`${name}: secret files need a secretDirectory`);
    if (files.plain.some((file) => file.name === MANIFEST)) throw new Error(`${name}: a plain file may not be named ${MANIFEST}`);
    const names = dockerNames(args.namePrefix);
    const childOpts = { parent, provider: args.provider };
    const contents = (list: ServiceFile[]) => pulumi.all(list.map((file) => file.content));
    const key =
        secret.length === 0
            ? undefined
            : new random.RandomPassword(`${name}-secrets-key`, { length: 32, special: false }, { parent }).result;
    // Not secret: an HMAC under a secret key says nothing about the files.
    const setId = pulumi.unsecret(
        pulumi
            .all([key ?? "", contents(files.plain), contents(secret)])
            .apply(([hmacKey, plain, hidden]) =>
                fileSetId(
                    [
                        ...files.plain.map((f, i) => ({ name: f.name, content: plain[i] })),
                        ...secret.map((f, i) => ({ name: f.name, content: hidden[i] })),
                    ],
                    key === undefined ? undefined : hmacKey,
                ),
            ),
    );
    const manifestOf = (list: ServiceFile[]) =>
        pulumi.all([setId, contents(list)]).apply(([id, texts]) =>
            renderManifest(
                id,
                list.map((f, i): SetFile => ({ name: f.name, content: texts[i] })),
            ),
        );
    const volume = (suffix: "files" | "secrets", objectName: string, directory: string) => {
        const created = new docker.Volume(
            `${name}-${suffix}`,
            { name: objectName, labels: [{ label: ROLE_LABEL, value: `${args.role}-${suffix}` }] },
            { ...childOpts, dependsOn: args.dependsOn },
        );
        return { suffix, volumeName: created.name, directory };
    };
    type Mount = ReturnType<typeof volume>;
    const holder = (
        resourceName: string,
        objectName: string,
        mount: Mount,
        list: ServiceFile[],
        isSecret: boolean,
        dependsOn: pulumi.Input<pulumi.Resource>[],
    ) => {
        const label = [{ label: ROLE_LABEL, value: `${args.role}-${mount.suffix}` }];
        return new docker.Container(
            resourceName,
            {
                name: objectName,
                image: image.imageId,
                // Never started: it only carries the files into the volume.
                start: false,
                ...CONTAINER_LOG_ROTATION,
                mustRun: false,
                networkMode: "none",
                labels: label,
                volumes: [{ volumeName: mount.volumeName, containerPath: mount.directory }],
                uploads: list.map((file) => ({
                    file: `${mount.directory}/${file.name}`,
                    content: isSecret ? pulumi.secret(file.content) : file.content,
                    permissions: isSecret ? "0600" : "0644",
                })),
            },
            {
                ...childOpts,
                deleteBeforeReplace: true,
                dependsOn,
                // It never runs, so a new service image is no reason to rewrite the files (nor to show a
                // second replacement in the diff of an image bump); it takes the new image when replaced.
                ignoreChanges: ["image"],
            },
        );
    };

    const plainMount = volume("files", names.files(args.role), files.directory);
    const plainHolders = files.plain.map((file) =>
        holder(`${name}-files-${file.name}`, names.fileHolder(args.role, file.name), plainMount, [file], false, args.dependsOn ?? []),
    );
    const plainManifest = holder(
        `${name}-files-${MANIFEST}`,
        names.fileHolder(args.role, MANIFEST),
        plainMount,
        [{ name: MANIFEST, content: pulumi.unsecret(manifestOf(files.plain)) }],
        false,
        [...(args.dependsOn ?? []), ...plainHolders],
    );
    const containers = [...plainHolders, plainManifest];
    const mounts = [plainMount];
    if (secret.length > 0) {
        const secretMount = volume("secrets", names.secrets(args.role), files.secretDirectory!);
        // The manifest last: a look between two uploads finds the old one, which the new files fail.
        const list = [...secret, { name: MANIFEST, content: manifestOf(secret) }];
        containers.push(holder(`${name}-secrets`, names.secrets(args.role), secretMount, list, true, args.dependsOn ?? []));
        mounts.push(secretMount);
    }
    return { containers, mounts };
}
