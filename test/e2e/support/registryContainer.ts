/** What the end-to-end tests read of a deployed registry container: its output, and the blob files in its data volume. */
import { REGISTRY_DATA_DIR } from "../../../components/render/registryConfig";
import type { PrivateDockerd } from "./dockerd";

/** Everything the container printed (stdout and stderr), e.g. the gc supervisor's lines. */
export async function containerOutput(dockerd: PrivateDockerd, container: string): Promise<string> {
    const logs = await dockerd.docker(["logs", container], { allowFailure: true });
    return logs.stdout + logs.stderr;
}

/** Whether a blob's data file is in the registry container's volume (a collection deletes it). */
export async function blobStored(dockerd: PrivateDockerd, container: string, digest: string): Promise<boolean> {
    const path = `${REGISTRY_DATA_DIR}/docker/registry/v2/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;
    return (await dockerd.docker(["exec", container, "test", "-e", path], { allowFailure: true })).code === 0;
}
