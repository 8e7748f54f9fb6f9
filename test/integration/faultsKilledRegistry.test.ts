/**
 * The registry killed (SIGKILL: the OOM killer, a crash) while clients use it, on the stack's
 * path on loopback (test/support/loopbackStack.ts: Distribution 3 on its Unix socket behind the
 * rendered edge). The test starts the registry again at once, as Docker's restart policy does
 * (test/e2e/restarts.test.ts shows Docker doing it).
 *
 * - A push cut off mid-layer (the client's uploads pass a proxy that holds them to 8 MiB/s, so the
 *   layer is still under way when the registry is killed, however fast the machine): the edge drops the client's connection (444: docker and
 *   containers/image retry a dropped connection, not a 502); skopeo 1.9 retries it by itself
 *   (`--retry-times`) when it sees the reset, and reports the error when it sees a broken pipe,
 *   after which the same push run again completes. Either way the image pulls with every digest
 *   right; the cut-off upload stays behind in `_uploads` (never linked or served) until purged.
 * - A pull cut off: a blob download already under way completes from the file (the edge sends
 *   blob files itself once the registry has authorized them); a pull started while the registry
 *   is down meets dropped connections, retries, and completes once it is back.
 * - Upload purging, configured in the rendered config.yml: an upload left behind is deleted once
 *   it is older than `age`. Distribution's first purge runs a random whole number of minutes
 *   (0-59) after it starts; the test starts the registry until that number is 0 (each start takes
 *   a fraction of a second) and shows with short settings (age 2 s, interval 3 s) that the
 *   abandoned uploads' space comes back and a finished image stays whole. The earlier tests run
 *   the stack's own settings: an age shorter than an upload takes would purge it mid-way.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createHash, randomBytes } from "crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import { creds, LoopbackStack, PULL_USER, PUSH_USER, startLoopbackStack } from "../support/loopbackStack";
import { writeOciImage } from "../support/ociLayout";
import { startThrottledProxy } from "../support/throttledProxy";
import { isAlive, makeTempDir, run, runCleanups, waitFor } from "../../scripts/lib/processes";

const MIB = 1024 * 1024;
const PURGE = { age: "2s", interval: "3s" };
const PURGE_AGE_MS = 2000;
/** What docs/reliability.md reports, printed at the end. */
const figures: Record<string, number> = {};

/** Every unfinished upload's data file under the storage root, with its size. */
function uploads(dataDir: string): { dir: string; bytes: number }[] {
    const found: { dir: string; bytes: number }[] = [];
    const walk = (dir: string) => {
        if (!existsSync(dir)) return;
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
            const path = join(dir, entry.name);
            if (!entry.isDirectory()) continue;
            if (entry.name === "_uploads") {
                for (const upload of readdirSync(path)) {
                    const data = join(path, upload, "data");
                    found.push({ dir: join(path, upload), bytes: existsSync(data) ? statSync(data).size : 0 });
                }
            } else walk(path);
        }
    };
    walk(join(dataDir, "docker/registry/v2/repositories"));
    return found;
}

const sha256File = (path: string) => `sha256:${createHash("sha256").update(readFileSync(path)).digest("hex")}`;

describe("the registry killed mid-push and mid-pull; upload purging", () => {
    let stack: LoopbackStack;
    let work: string;
    let image: ReturnType<typeof writeOciImage>;
    let layout: string;
    /** `127.0.0.1:<port>` of a proxy to the edge that forwards uploads at 8 MiB/s. */
    let slowUplink: string;

    const skopeo = (args: string[], timeoutMs = 300_000) => run("skopeo", args, { allowFailure: true, timeoutMs });
    const push = (reference: string) =>
        skopeo([
            "copy",
            "--retry-times",
            "5",
            "--dest-cert-dir",
            stack.certDir,
            "--dest-creds",
            creds(PUSH_USER),
            `oci:${layout}:1`,
            `docker://${slowUplink}/${reference}`,
        ]);
    /** Pulls by digest into a fresh dir and checks every blob's digest; returns the pull's output on failure. */
    async function pullsWhole(repository: string): Promise<void> {
        const into = makeTempDir("pr-pulled-", work);
        const pulled = await skopeo([
            "copy",
            "--retry-times",
            "5",
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
    /** SIGKILL to the registry; resolves once it is gone. */
    const kill = async () => {
        const pid = stack.registry.daemon.pid;
        process.kill(pid, "SIGKILL");
        await waitFor("the killed registry to be gone", () => !isAlive(pid), 10_000, 20);
    };

    before(async () => {
        stack = await startLoopbackStack();
        work = makeTempDir("pr-killed-");
        layout = join(work, "layout");
        image = writeOciImage(layout, [randomBytes(2 * MIB), randomBytes(48 * MIB)]);
        slowUplink = `127.0.0.1:${(await startThrottledProxy(stack.httpsPort, 8 * MIB)).port}`;
    });
    after(runCleanups);

    it("a push cut off mid-layer completes: by the client's own retry, or run again once the registry is back", async () => {
        const client = push("team/killed-push:1");
        // Killed once the big layer is well on its way into the registry's upload file.
        const cut = await waitFor(
            "the big layer partly uploaded",
            () => uploads(stack.dataDir).find((upload) => upload.bytes >= 16 * MIB),
            120_000,
            20,
        );
        await kill();
        const downAt = Date.now();
        await stack.startRegistry();
        figures.registryDownMs = Date.now() - downAt;
        figures.cutAtBytes = cut.bytes;
        const first = await client;
        // skopeo 1.9 retries a refused or reset connection by itself (--retry-times), but not one
        // cut while it writes (broken pipe, a closed connection): which of the two it meets depends on timing. Either
        // way the error is the client's to see, and the same push run again completes.
        if (first.code === 0) {
            assert.match(first.stderr, /retrying/i, "the push completed through skopeo's own retry");
            figures.pushRetriedByClient = 1;
        } else {
            // The cut as Go's HTTP client words it, by when it noticed: a write that failed, or the connection gone.
            assert.match(first.stderr, /broken pipe|connection reset|EOF|use of closed network connection/i);
            const again = await push("team/killed-push:1");
            assert.equal(again.code, 0, again.stderr);
            figures.pushRetriedByClient = 0;
        }
        await pullsWhole("team/killed-push");
        const left = uploads(stack.dataDir);
        figures.abandonedUploadBytes = left.reduce((sum, upload) => sum + upload.bytes, 0);
    });

    it("a pull cut off: a blob download under way completes from the file; a pull retried while the registry is down completes once it is back", async () => {
        const big = image.layers[1];
        const target = join(work, "slow-download");
        // About 12 s at 4 MiB/s: the registry is killed while it runs.
        const download = stack.curl(
            [
                "-u",
                creds(PULL_USER),
                "--limit-rate",
                "4M",
                "-o",
                target,
                "-w",
                "%{http_code}",
                stack.url(`/v2/team/killed-push/blobs/${big}`),
            ],
            { timeoutMs: 120_000 },
        );
        await waitFor("the download under way", () => existsSync(target) && statSync(target).size >= 4 * MIB, 60_000, 20);
        await kill();
        const pull = pullsWhole("team/killed-push");
        // The pull's first requests meet the edge with no registry behind it.
        await waitFor(
            "the pull to meet the missing registry",
            () => /" 444 /.test(readFileSync(join(stack.dir, "nginx.log"), "utf8")),
            60_000,
            50,
        );
        await stack.startRegistry();
        await pull;
        const downloaded = await download;
        assert.equal(downloaded.stdout, "200", downloaded.stderr);
        assert.equal(sha256File(target), big, "the blob arrived whole while the registry was gone");
    });

    it("upload purging: uploads older than `age` are deleted, their space back; finished images stay whole", async () => {
        // An upload the client gives up on while the registry runs: POST, a part of the layer, nothing more.
        const started = await stack.curl([
            "-u",
            creds(PUSH_USER),
            "-X",
            "POST",
            "-D",
            "-",
            "-o",
            "/dev/null",
            stack.url("/v2/team/given-up/blobs/uploads/"),
        ]);
        const location = /^location: (\S+)/im.exec(started.stdout)?.[1] ?? assert.fail(started.stdout);
        const part = join(work, "part.bin");
        writeFileSync(part, randomBytes(3 * MIB));
        const patched = await stack.curl([
            "-u",
            creds(PUSH_USER),
            "-X",
            "PATCH",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            `@${part}`,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            location,
        ]);
        assert.equal(patched.stdout, "202");
        const before = uploads(stack.dataDir);
        assert.ok(
            before.some((upload) => upload.dir.includes("/team/given-up/")),
            `the given-up upload is there: ${JSON.stringify(before)}`,
        );
        const leftBytes = before.reduce((sum, upload) => sum + upload.bytes, 0);

        // The purge deletes only uploads started more than `age` ago (their `startedat` file): the
        // given-up one may be younger than that yet.
        await waitFor(
            "every upload older than the purge's age",
            () => before.every((upload) => Date.now() - Date.parse(readFileSync(join(upload.dir, "startedat"), "utf8")) > PURGE_AGE_MS),
            30_000,
            50,
        );

        // Distribution's first purge comes 0-59 whole minutes after it starts: start it until that is 0.
        const log = () => readFileSync(stack.registry.daemon.logFile, "utf8");
        let starts = 0;
        let from = 0;
        for (const deadline = Date.now() + 600_000; ;) {
            await kill();
            from = log().length;
            await stack.startRegistry({ uploadPurging: PURGE });
            starts++;
            const firstPurgeIn = await waitFor(
                "the purge's schedule in the log",
                () => /Starting upload purge in ([0-9a-z]+)/.exec(log().slice(from))?.[1],
                10_000,
                20,
            );
            if (firstPurgeIn === "0s") break;
            assert.ok(Date.now() < deadline, `no start in ${starts} had its first purge at once`);
        }
        const finished = () => /Purge uploads finished\.\s+Num deleted=(\d+)/.exec(log().slice(from))?.[1];
        const deleted = Number(await waitFor("the purge to finish", finished, 30_000, 50));
        assert.equal(deleted, before.length, log());
        assert.deepEqual(uploads(stack.dataDir), [], "no upload left");
        figures.purgedBytes = leftBytes;
        figures.startsForZeroJitter = starts;
        await pullsWhole("team/killed-push");
        assert.match(stack.registryConfig, /uploadpurging:\n\s+enabled: true\n\s+age: 2s\n\s+interval: 3s\n\s+dryrun: false/);
        console.log(`figures: ${JSON.stringify(figures)}`);
    });
});
