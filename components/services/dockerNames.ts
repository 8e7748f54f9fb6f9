/** The services of a stack, each run in one container named for it. */
export type ServiceRole = "registry" | "ui" | "edge" | "mirror" | "retention";

/** The Docker object names of a stack (one `namePrefix`), as `dockerNames` makes them. */
export interface DockerNames {
    /** The stack's bridge network (`containerNetwork: bridge`). */
    network: string;
    /** A service's container. */
    container(role: ServiceRole): string;
    /** The volume carrying a service's plain files (each written by its own holder: `fileHolder`). */
    files(role: ServiceRole): string;
    /** The never-started container carrying one plain file of a service (or its manifest) into `files`. */
    fileHolder(role: ServiceRole, file: string): string;
    /** The volume (and the never-started holder container) carrying a service's secret files. */
    secrets(role: ServiceRole): string;
    /** The registry's data volume: every image. */
    registryData: string;
    /** The volume holding the registry's Unix socket (the registry and the edge mount it). */
    registrySocket: string;
    /** The volume holding the mirror's Unix socket (the mirror and the edge mount it). */
    mirrorSocket: string;
    /** The pull-through mirror's cache volume. */
    mirrorData: string;
    /** With `retention`: the volume through which the collector's supervisor asks the retention job to run. */
    retentionHandshake: string;
}

/**
 * Where every Docker object name of a stack comes from: the components create their networks,
 * containers and volumes under these names, and the operator scripts (scripts/backup.ts,
 * scripts/gc.ts) find them by the same names.
 */
export function dockerNames(namePrefix: string): DockerNames {
    return {
        network: namePrefix,
        container: (role) => `${namePrefix}-${role}`,
        files: (role) => `${namePrefix}-${role}-files`,
        fileHolder: (role, file) => `${namePrefix}-${role}-files-${file}`,
        secrets: (role) => `${namePrefix}-${role}-secrets`,
        registryData: `${namePrefix}-data`,
        registrySocket: `${namePrefix}-registry-socket`,
        mirrorSocket: `${namePrefix}-mirror-socket`,
        mirrorData: `${namePrefix}-mirror-data`,
        retentionHandshake: `${namePrefix}-retention-handshake`,
    };
}
