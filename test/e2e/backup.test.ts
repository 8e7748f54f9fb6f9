/**
 * `npm run backup` / `npm run restore` (scripts/backup.ts) on a private dockerd: the registry
 * stand-in with its data volume named as the stack names them, images pushed, a backup taken,
 * container and volume destroyed, an empty volume restored, every image pulled by digest.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { existsSync, mkdirSync, readFileSync, statSync } from "fs";
import { join, resolve } from "path";
import { freePort } from "../../scripts/lib/loopbackServers";
import { makeTempDir, run, runCleanups, waitFor } from "../../scripts/lib/processes";
import { PrivateDockerd, startDockerd, stopAndAssertNothingLeft } from "./support/dockerd";
import { buildRegistry, buildTestImage } from "./support/standins";

const PREFIX = "pr-backup";
const REGISTRY_IMAGE = "pr-backup-registry-standin:2.8";
const SCRIPT = resolve(__dirname, "../../scripts/backup.ts");
const GC_SCRIPT = resolve(__dirname, "../../scripts/gc.ts");

describe("backup and restore of the data volume (local mode)", () => {
    let work: string;
    let dockerd: PrivateDockerd;
    let port: number;
    /** repository:tag → manifest digest, as pushed. */
    const pushed = new Map<string, string>();

    const startRegistryContainer = () =>
        dockerd.docker([
            "run",
            "-d",
            "--name",
            `${PREFIX}-registry`,
            "--network",
            "host",
            "--restart",
            "unless-stopped",
            "-v",
            `${PREFIX}-data:/var/lib/registry`,
            "-e",
            `REGISTRY_HTTP_ADDR=127.0.0.1:${port}`,
            "-e",
            "REGISTRY_STORAGE_DELETE_ENABLED=true",
            REGISTRY_IMAGE,
        ]);
    const waitUp = () =>
        waitFor(
            "registry answers",
            async () => (await run("curl", ["-sf", `http://127.0.0.1:${port}/v2/`], { allowFailure: true })).code === 0,
            30_000,
        );
    const script = (args: string[], file = SCRIPT) =>
        run("node", ["--import", "tsx", file, ...args, "--name-prefix", PREFIX, "--docker-host", dockerd.host], {
            allowFailure: true,
            timeoutMs: 180_000,
        });
    /** KiB the data volume holds, measured by a throwaway container. */
    const volumeKib = async () =>
        Number(
            (
                await dockerd.docker([
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    "--entrypoint",
                    "du",
                    "-v",
                    `${PREFIX}-data:/data:ro`,
                    REGISTRY_IMAGE,
                    "-sk",
                    "/data",
                ])
            ).stdout.split(/\s/)[0],
        );
    const startedAt = async () =>
        (await dockerd.docker(["inspect", "-f", "{{.State.StartedAt}} {{.State.Running}}", `${PREFIX}-registry`])).stdout.trim();

    before(async () => {
        work = makeTempDir("pr-bk-");
        port = await freePort();
        dockerd = await startDockerd(join(work, "d"));
        await buildRegistry(dockerd, REGISTRY_IMAGE, join(work, "standin"));
        await startRegistryContainer();
        await waitUp();
        for (const [repository, tag, bytes] of [
            ["team/app", "1", 300_000],
            ["team/app", "2", 200_000],
            ["base", "latest", 100_000],
        ] as const) {
            const local = `local-${repository.replace("/", "-")}:${tag}`;
            await buildTestImage(dockerd, local, bytes, join(work, "images"));
            const digestFile = join(work, `digest-${pushed.size}`);
            await run(
                "skopeo",
                [
                    "copy",
                    "--quiet",
                    "--src-daemon-host",
                    dockerd.host,
                    "--dest-tls-verify=false",
                    "--digestfile",
                    digestFile,
                    `docker-daemon:${local}`,
                    `docker://127.0.0.1:${port}/${repository}:${tag}`,
                ],
                { timeoutMs: 120_000 },
            );
            pushed.set(`${repository}:${tag}`, readFileSync(digestFile, "utf8").trim());
        }
    });
    after(async () => {
        if (dockerd) await stopAndAssertNothingLeft(dockerd, work);
        else await runCleanups();
    });

    it("backs up with the registry stopped for the copy, and started again", async () => {
        const before = await startedAt();
        const result = await script(["backup", "--to", join(work, "registry.tar")]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /backed up volume pr-backup-data/);
        const after = await startedAt();
        assert.match(after, / true$/, "running again");
        assert.notEqual(after, before, "restarted: it was stopped during the copy");
        assert.ok(statSync(join(work, "registry.tar")).size > 600_000, "the layers are in the tar");
        assert.ok(!existsSync(join(work, "registry.tar.partial")));
        await waitUp();
    });

    it("restores into an empty volume, and every image pulls by digest", async () => {
        await dockerd.docker(["rm", "-f", `${PREFIX}-registry`]);
        await dockerd.docker(["volume", "rm", `${PREFIX}-data`]);
        await startRegistryContainer(); // a fresh `pulumi up`: an empty volume
        await waitUp();
        const catalog = await run("curl", ["-sf", `http://127.0.0.1:${port}/v2/_catalog`]);
        assert.deepEqual(JSON.parse(catalog.stdout).repositories, [], "the new volume is empty");

        const result = await script(["restore", "--from", join(work, "registry.tar")]);
        assert.equal(result.code, 0, result.stderr);
        await waitUp();
        mkdirSync(join(work, "pulled"));
        for (const [reference, digest] of pushed) {
            const repository = reference.split(":")[0];
            const pulled = await run(
                "skopeo",
                [
                    "copy",
                    "--quiet",
                    "--src-tls-verify=false",
                    `docker://127.0.0.1:${port}/${repository}@${digest}`,
                    `dir:${join(work, "pulled", reference.replace(/[/:]/g, "-"))}`,
                ],
                { allowFailure: true, timeoutMs: 60_000 },
            );
            assert.equal(pulled.code, 0, `${reference}@${digest}: ${pulled.stderr}`);
            const tagged = await run("skopeo", [
                "inspect",
                "--tls-verify=false",
                "--format",
                "{{.Digest}}",
                `docker://127.0.0.1:${port}/${reference}`,
            ]);
            assert.equal(tagged.stdout.trim(), digest, `${reference} still points at its digest`);
        }
    });

    it("refuses to restore over a volume that holds repositories, unless --replace", async () => {
        const refused = await script(["restore", "--from", join(work, "registry.tar")]);
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, /volume pr-backup-data is not empty; pass --replace/);
        assert.match(await startedAt(), / true$/, "the registry is started again after a refused restore");
        const replaced = await script(["restore", "--from", join(work, "registry.tar"), "--replace"]);
        assert.equal(replaced.code, 0, replaced.stderr);
    });

    it("npm run gc: a deleted tag's space comes back, every other image still pulls by digest", async () => {
        const deletedDigest = pushed.get("team/app:2")!;
        const deleted = await run("curl", [
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "DELETE",
            `http://127.0.0.1:${port}/v2/team/app/manifests/${deletedDigest}`,
        ]);
        assert.equal(deleted.stdout, "202");
        const before = await volumeKib();
        const dry = await script(["--dry-run"], GC_SCRIPT);
        assert.equal(dry.code, 0, dry.stderr);
        assert.ok(Math.abs((await volumeKib()) - before) < 8, "a dry run deletes nothing");

        const refused = await script(["--delete-untagged"], GC_SCRIPT);
        assert.notEqual(refused.code, 0);
        assert.match(
            refused.stderr,
            /--delete-untagged is refused with Distribution 2\.8: it would delete the platform manifests of multi-arch images/,
        );

        const startedBefore = await startedAt();
        const collected = await script([], GC_SCRIPT);
        assert.equal(collected.code, 0, collected.stderr);
        assert.match(collected.stdout, /garbage collection of volume pr-backup-data: [1-9]\d* blobs eligible for deletion/);
        const after = await startedAt();
        assert.match(after, / true$/, "running again");
        assert.notEqual(after, startedBefore, "stopped during the collection");
        const freed = before - (await volumeKib());
        assert.ok(freed >= 190, `the deleted image's ~195 KiB layer is gone: freed ${freed} KiB`);
        await waitUp();

        for (const [reference, digest] of pushed) {
            const repository = reference.split(":")[0];
            const pulled = await run(
                "skopeo",
                [
                    "copy",
                    "--quiet",
                    "--src-tls-verify=false",
                    `docker://127.0.0.1:${port}/${repository}@${digest}`,
                    `dir:${join(work, "pulled", `gc-${reference.replace(/[/:]/g, "-")}`)}`,
                ],
                { allowFailure: true, timeoutMs: 60_000 },
            );
            if (reference === "team/app:2") assert.notEqual(pulled.code, 0, "the deleted image is gone");
            else assert.equal(pulled.code, 0, `${reference}@${digest}: ${pulled.stderr}`);
        }
    });
});
