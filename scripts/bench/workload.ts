/** The blobs the bench pushes and pulls: random layers on disk (scripts/lib/randomBlob.ts). */
import { mkdirSync } from "fs";
import { join } from "path";
import { BlobFile, writeRandomBlob } from "../lib/randomBlob";

export type { BlobFile };

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
