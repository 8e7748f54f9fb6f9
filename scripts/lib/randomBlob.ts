/** Random bytes on disk with their sha256 digest: a layer no part of the stack can compress or deduplicate. */
import { createHash, randomFillSync } from "crypto";
import { closeSync, openSync, writeSync } from "fs";

export interface BlobFile {
    path: string;
    /** `sha256:<hex>`, as the registry API names blobs. */
    digest: string;
    size: number;
}

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
