/**
 * The registry's disk runs full, on the stack's path on loopback (test/support/loopbackStack.ts:
 * Distribution 3 on its Unix socket behind the rendered edge), its storage root on a 64 MiB
 * tmpfs standing in for the data volume's disk:
 *
 * - a push that needs more room than is left fails, and the client (skopeo) reports it;
 * - every image pushed before keeps pulling by digest, whole, while the disk is full;
 * - the layer that did not fit is never linked or served: its blob is unknown (404) in the
 *   repository, no blob file exists for it, the image's manifest is unknown;
 * - once room is made, the same push succeeds and the image pulls whole.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createHash, randomBytes } from "crypto";
import { existsSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import { creds, LoopbackStack, PULL_USER, PUSH_USER, startLoopbackStack } from "../support/loopbackStack";
import { OciImage, writeOciImage } from "../support/ociLayout";
import { makeTempDir, registerCleanup, run, runCleanups, runSync } from "../../scripts/lib/processes";

const MIB = 1024 * 1024;
const DISK_MIB = 64;

const sha256File = (path: string) => `sha256:${createHash("sha256").update(readFileSync(path)).digest("hex")}`;

describe("the registry's disk runs full", () => {
    let stack: LoopbackStack;
    let work: string;
    let kept: OciImage;
    let big: OciImage;
    const figures: Record<string, number | string> = {};

    const skopeo = (args: string[]) => run("skopeo", args, { allowFailure: true, timeoutMs: 300_000 });
    const push = (layout: string, reference: string) =>
        skopeo([
            "copy",
            "--dest-cert-dir",
            stack.certDir,
            "--dest-creds",
            creds(PUSH_USER),
            `oci:${layout}:1`,
            `docker://${stack.endpoint}/${reference}`,
        ]);
    async function pullsWhole(repository: string, image: OciImage): Promise<void> {
        const into = makeTempDir("pr-pulled-", work);
        const pulled = await skopeo([
            "copy",
            "--src-cert-dir",
            stack.certDir,
            "--src-creds",
            creds(PULL_USER),
            `docker://${stack.endpoint}/${repository}@${image.manifest}`,
            `dir:${into}`,
        ]);
        assert.equal(pulled.code, 0, pulled.stderr);
        for (const digest of [image.config, ...image.layers]) assert.equal(sha256File(join(into, digest.slice(7))), digest);
    }
    const status = async (method: "HEAD" | "GET", path: string) =>
        (
            await stack.curl([
                "-u",
                creds(PULL_USER),
                ...(method === "HEAD" ? ["-I"] : []),
                "-H",
                "Accept: application/vnd.oci.image.manifest.v1+json",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                stack.url(path),
            ])
        ).stdout;
    const freeBytes = () => {
        const fs = statfsSync(stack.dataDir);
        return fs.bavail * fs.bsize;
    };
    const blobFile = (digest: string) =>
        join(stack.dataDir, "docker/registry/v2/blobs/sha256", digest.slice(7, 9), digest.slice(7), "data");

    before(async () => {
        work = makeTempDir("pr-disk-full-");
        stack = await startLoopbackStack({
            prepareDataDir: async (dataDir) => {
                await run("mount", ["-t", "tmpfs", "-o", `size=${DISK_MIB}m,mode=0755`, "pr-registry-disk", dataDir]);
                // Registered after the stack's temp dir and before the registry: unmounted once the registry stops.
                registerCleanup(
                    `unmount ${dataDir}`,
                    async () => void (await run("umount", [dataDir])),
                    () => void runSync("umount", ["-l", dataDir]),
                );
            },
        });
        kept = writeOciImage(join(work, "kept"), [randomBytes(3 * MIB), randomBytes(1 * MIB)]);
        big = writeOciImage(join(work, "big"), [randomBytes(1 * MIB), randomBytes(24 * MIB)]);
    });
    after(runCleanups);

    it("a push that does not fit fails with an error the client shows; what was stored before keeps pulling", async () => {
        const pushed = await push(join(work, "kept"), "team/kept:1");
        assert.equal(pushed.code, 0, pushed.stderr);
        // Leave less room than the big layer needs (its 1 MiB layer still fits).
        const filler = join(stack.dataDir, "filler");
        writeFileSync(filler, Buffer.alloc(Math.max(0, freeBytes() - 8 * MIB)));
        figures.freeBeforePushMiB = Math.round(freeBytes() / MIB);

        const refused = await push(join(work, "big"), "team/big:1");
        assert.notEqual(refused.code, 0, "the push must fail");
        figures.clientError = refused.stderr.trim().split("\n").pop() ?? "";
        assert.match(refused.stderr, /500|no space|unknown/i, refused.stderr);
        assert.match(readFileSync(stack.registry.daemon.logFile, "utf8"), /no space left on device/, "the registry logs the cause");
        await pullsWhole("team/kept", kept);
    });

    it("the layer that did not fit is never linked or served, nor the image's manifest", async () => {
        const [small, large] = big.layers;
        assert.equal(await status("HEAD", `/v2/team/big/blobs/${large}`), "404");
        assert.equal(await status("GET", `/v2/team/big/blobs/${large}`), "404");
        assert.ok(!existsSync(blobFile(large)), "no blob file for the layer that did not fit");
        assert.equal(await status("GET", `/v2/team/big/manifests/1`), "404");
        assert.equal(await status("GET", `/v2/team/big/manifests/${big.manifest}`), "404");
        // The small layer went in whole before the disk filled: stored under its digest, as it should be.
        if (existsSync(blobFile(small))) assert.equal(sha256File(blobFile(small)), small);
        // What the cut-off upload holds until upload purging deletes it (docs/reliability.md).
        const uploads = join(stack.dataDir, "docker/registry/v2/repositories/team/big/_uploads");
        figures.leftInUploadsMiB = existsSync(uploads)
            ? Math.round(
                  readdirSync(uploads)
                      .map((id) => join(uploads, id, "data"))
                      .filter(existsSync)
                      .reduce((sum, path) => sum + statSync(path).size, 0) / MIB,
              )
            : 0;
    });

    it("once room is made, the same push succeeds and the image pulls whole", async () => {
        rmSync(join(stack.dataDir, "filler"));
        const pushed = await push(join(work, "big"), "team/big:1");
        assert.equal(pushed.code, 0, pushed.stderr);
        await pullsWhole("team/big", big);
        await pullsWhole("team/kept", kept);
        console.log(`figures: ${JSON.stringify(figures)}`);
    });
});
