/** The blobs the bench pushes and pulls: random bytes on disk, with their sha256 digests. */
import { createHash, randomFillSync } from "crypto";
import { closeSync, mkdirSync, openSync, writeSync } from "fs";
import { join } from "path";

export interface BlobFile {
    path: string;
    /** `sha256:<hex>`, as the registry API names blobs. */
    digest: string;
    size: number;
}

/** Random, so no layer of the stack could compress or deduplicate it. */
export function writeRandomBlob(path: string, size: number): BlobFile {
    const chunk = Buffer.alloc(Math.min(size, 4 * 1024 * 1024));
    const hash = createHash("sha256");
    const fd = openSync(path, "w");
    try {
        for (let written = 0; written < size; written += chunk.length) {
            const piece = chunk.subarray(0, Math.min(chunk.length, size - written));
            randomFillSync(piece);
            hash.update(piece);
            writeSync(fd, piece);
        }
    } finally {
        closeSync(fd);
    }
    return { path, digest: `sha256:${hash.digest("hex")}`, size };
}

export interface Workload {
    /** Scenario 1: one big layer. */
    bigLayer: BlobFile;
    /** Scenario 2: many small layers, where round trips and per-request costs dominate. */
    smallLayers: BlobFile[];
    /** Scenario 3: the layer many nodes pull at once. */
    sharedLayer: BlobFile;
    /** The settings table's concurrent pulls: smaller, so a dozen edges fit in the time. */
    sweepConcurrentLayer: BlobFile;
}

export interface WorkloadSizes {
    bigLayerBytes: number;
    smallLayerCount: number;
    smallLayerBytes: number;
    sharedLayerBytes: number;
    sweepConcurrentLayerBytes: number;
}

export function writeWorkload(dir: string, sizes: WorkloadSizes): Workload {
    const smallDir = join(dir, "small");
    mkdirSync(smallDir, { recursive: true });
    return {
        bigLayer: writeRandomBlob(join(dir, "big.bin"), sizes.bigLayerBytes),
        smallLayers: Array.from({ length: sizes.smallLayerCount }, (_, i) =>
            writeRandomBlob(join(smallDir, `${i}.bin`), sizes.smallLayerBytes),
        ),
        sharedLayer: writeRandomBlob(join(dir, "shared.bin"), sizes.sharedLayerBytes),
        sweepConcurrentLayer: writeRandomBlob(join(dir, "sweep-concurrent.bin"), sizes.sweepConcurrentLayerBytes),
    };
}
