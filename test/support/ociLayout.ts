/** A small image written as an OCI layout, for tests that push one with skopeo. */
import { createHash } from "crypto";
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { gzipSync } from "zlib";

const sha256 = (data: Buffer | string) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/**
 * A one-layer linux/amd64 image as an OCI layout; returns its manifest digest. `created` (an RFC
 * 3339 time) goes into its config, as a build writes it; unset, the config has none.
 */
export function writeOciLayout(dir: string, text = "pulled through containerd's CRI\n", created?: string): string {
    mkdirSync(join(dir, "blobs/sha256"), { recursive: true });
    const blob = (data: Buffer | string) => {
        const digest = sha256(data);
        writeFileSync(join(dir, "blobs/sha256", digest.slice(7)), data);
        return { digest, size: Buffer.byteLength(data) };
    };
    const layerTar = tarOneFile("hello.txt", text);
    const layer = blob(gzipSync(layerTar));
    const config = blob(
        JSON.stringify({
            ...(created === undefined ? {} : { created }),
            architecture: "amd64",
            os: "linux",
            config: {},
            rootfs: { type: "layers", diff_ids: [sha256(layerTar)] },
        }),
    );
    const manifest = blob(
        JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
            layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
        }),
    );
    writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    writeFileSync(
        join(dir, "index.json"),
        JSON.stringify({
            schemaVersion: 2,
            manifests: [
                {
                    mediaType: "application/vnd.oci.image.manifest.v1+json",
                    ...manifest,
                    annotations: { "org.opencontainers.image.ref.name": "1" },
                },
            ],
        }),
    );
    return manifest.digest;
}

/**
 * A multi-platform image as an OCI layout: one single-layer image per platform, an OCI index
 * naming them under the tag `tag`. Returns the index's digest and each platform's manifest digest
 * (untagged in a registry: only the index references them).
 */
/** The platforms the seeds' users build for: amd64 and arm64 machines, riscv64 boards. */
export const SEED_PLATFORMS = [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm64" },
    { os: "linux", architecture: "riscv64" },
];

export function writeOciIndexLayout(
    dir: string,
    platforms: { os: string; architecture: string }[],
    tag = "multi",
    salt = "",
): { index: string; children: Record<string, string> } {
    mkdirSync(join(dir, "blobs/sha256"), { recursive: true });
    const blob = (data: Buffer | string) => {
        const digest = sha256(data);
        writeFileSync(join(dir, "blobs/sha256", digest.slice(7)), data);
        return { digest, size: Buffer.byteLength(data) };
    };
    const children: Record<string, string> = {};
    const descriptors = platforms.map((platform) => {
        const layerTar = tarOneFile("platform.txt", `${platform.os}/${platform.architecture} ${salt}\n`);
        const layer = blob(gzipSync(layerTar));
        const config = blob(JSON.stringify({ ...platform, config: {}, rootfs: { type: "layers", diff_ids: [sha256(layerTar)] } }));
        const manifest = blob(
            JSON.stringify({
                schemaVersion: 2,
                mediaType: "application/vnd.oci.image.manifest.v1+json",
                config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
                layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
            }),
        );
        children[`${platform.os}/${platform.architecture}`] = manifest.digest;
        return { mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, platform };
    });
    const index = blob(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: descriptors }));
    writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    writeFileSync(
        join(dir, "index.json"),
        JSON.stringify({
            schemaVersion: 2,
            manifests: [
                {
                    mediaType: "application/vnd.oci.image.index.v1+json",
                    ...index,
                    annotations: { "org.opencontainers.image.ref.name": tag },
                },
            ],
        }),
    );
    return { index: index.digest, children };
}

/** The digest of the first layer of a one-image layout (writeOciLayout's), read back from its files. */
export function firstLayerDigest(dir: string): string {
    const manifest = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")).manifests[0].digest as string;
    return JSON.parse(readFileSync(join(dir, "blobs/sha256", manifest.slice(7)), "utf8")).layers[0].digest as string;
}

/** A ustar archive holding one regular file (what `tar` would write, without depending on its version). */
function tarOneFile(name: string, content: string | Buffer): Buffer {
    const header = Buffer.alloc(512);
    const field = (offset: number, length: number, value: string) => header.write(value, offset, length, "ascii");
    const octal = (offset: number, length: number, value: number) =>
        field(offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
    field(0, 100, name);
    octal(100, 8, 0o644);
    octal(108, 8, 0);
    octal(116, 8, 0);
    octal(124, 12, Buffer.byteLength(content));
    octal(136, 12, 0);
    field(148, 8, "        ");
    field(156, 1, "0");
    field(257, 6, "ustar\0");
    field(263, 2, "00");
    let checksum = 0;
    for (const byte of header) checksum += byte;
    field(148, 8, `${checksum.toString(8).padStart(6, "0")}\0 `);
    const body = Buffer.alloc(Math.ceil(Buffer.byteLength(content) / 512) * 512);
    if (typeof content === "string") body.write(content);
    else content.copy(body);
    return Buffer.concat([header, body, Buffer.alloc(1024)]);
}

/** What writeOciImage wrote: the manifest's digest and each layer's (gzipped) blob digest. */
export interface OciImage {
    manifest: string;
    config: string;
    layers: string[];
}

/**
 * A linux/amd64 image of several layers as an OCI layout (tag `tag`): each layer a gzipped tar
 * of one file with the given content. The same content gives the same layer blob in every
 * image, so images share layers as builds from one base do. Random content stays incompressible
 * (a layer of N random bytes is about N bytes on the wire).
 */
export function writeOciImage(dir: string, layerContents: Buffer[], tag = "1"): OciImage {
    mkdirSync(join(dir, "blobs/sha256"), { recursive: true });
    const blob = (data: Buffer | string) => {
        const digest = sha256(data);
        writeFileSync(join(dir, "blobs/sha256", digest.slice(7)), data);
        return { digest, size: Buffer.byteLength(data) };
    };
    const tars = layerContents.map((content, i) => tarOneFile(`layer-${i}.bin`, content));
    const layers = tars.map((tar) => blob(gzipSync(tar, { level: 1 })));
    const config = blob(
        JSON.stringify({
            architecture: "amd64",
            os: "linux",
            config: {},
            rootfs: { type: "layers", diff_ids: tars.map((tar) => sha256(tar)) },
        }),
    );
    const manifest = blob(
        JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
            layers: layers.map((layer) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer })),
        }),
    );
    writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    writeFileSync(
        join(dir, "index.json"),
        JSON.stringify({
            schemaVersion: 2,
            manifests: [
                {
                    mediaType: "application/vnd.oci.image.manifest.v1+json",
                    ...manifest,
                    annotations: { "org.opencontainers.image.ref.name": tag },
                },
            ],
        }),
    );
    return { manifest: manifest.digest, config: config.digest, layers: layers.map((layer) => layer.digest) };
}
