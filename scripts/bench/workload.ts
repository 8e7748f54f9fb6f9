/** The blobs the bench pushes and pulls: random layers on disk (scripts/lib/randomBlob.ts). */
import { mkdirSync } from "fs";
import { join } from "path";
import { BlobFile, writeRandomBlob } from "../lib/randomBlob";

export interface Workload {
    /** One big layer. */
    bigLayer: BlobFile;
    /** Many small layers, where round trips and per-request costs dominate. */
    smallLayers: BlobFile[];
    /** The layer many nodes pull at once. */
    sharedLayer: BlobFile;
    /** The settings table's layer, and the smaller one it pulls concurrently. */
    sweepLayer: BlobFile;
    sweepConcurrentLayer: BlobFile;
}

export interface WorkloadSizes {
    bigLayerBytes: number;
    smallLayerCount: number;
    smallLayerBytes: number;
    sharedLayerBytes: number;
    sweepLayerBytes: number;
    sweepConcurrentLayerBytes: number;
}

/** Every blob in `dir/layers` (one directory: a TLS-only server serves them as files). */
export function writeWorkload(dir: string, sizes: WorkloadSizes): Workload {
    const layers = join(dir, "layers");
    mkdirSync(join(layers, "small"), { recursive: true, mode: 0o755 });
    return {
        bigLayer: writeRandomBlob(join(layers, "big.bin"), sizes.bigLayerBytes),
        smallLayers: Array.from({ length: sizes.smallLayerCount }, (_, i) =>
            writeRandomBlob(join(layers, "small", `${i}.bin`), sizes.smallLayerBytes),
        ),
        sharedLayer: writeRandomBlob(join(layers, "shared.bin"), sizes.sharedLayerBytes),
        sweepLayer: writeRandomBlob(join(layers, "sweep.bin"), sizes.sweepLayerBytes),
        sweepConcurrentLayer: writeRandomBlob(join(layers, "sweep-concurrent.bin"), sizes.sweepConcurrentLayerBytes),
    };
}
