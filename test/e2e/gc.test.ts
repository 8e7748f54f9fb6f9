/**
 * Scheduled garbage collection for real: the declared local stack with `gc: {schedule: "@every
 * 15s", deleteUntagged: true}` and `deleteEnabled`, replayed on a private dockerd (host
 * networking) with the Distribution 3 stand-in (v3.1.2). Everything goes through the edge, as
 * clients would: images pushed (one of them a multi-arch OCI index, one tag pushed twice), one
 * deleted through the API; the registry container's own supervisor then collects on schedule
 * (read-only meanwhile), the deleted image's space comes back, the manifest no tag names is gone,
 * every other image and each platform of the index pull by digest. Pushes and pulls keep running
 * through the collection: each push either completes (and then pulls whole afterwards) or is
 * refused with 405 while read-only, never half-stored; every pull answers 200. The edge never
 * answers 502: the read-only registry is its backup server, and each registry answers before
 * the other stops.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { randomBytes } from "crypto";
import { mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { GC_LOG_PREFIX } from "../../components/render/gcSupervisor";
import { evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { hostNetworkStackConfig } from "./support/hostStack";
import { skopeoPullArgs, skopeoPushArgs } from "../support/skopeo";
import { firstLayerDigest, SEED_PLATFORMS, writeOciIndexLayout, writeOciLayout } from "../support/ociLayout";
import { makeTempDir, run, runCleanups, sleep, waitFor } from "../../scripts/lib/processes";
import { PrivateDockerd, startDockerd, stopAndAssertNothingLeft } from "./support/dockerd";
import { addHostsEntry } from "./support/hostsFile";
import { blobStored as blobStoredIn, containerOutput } from "./support/registryContainer";
import { imageNames, replay } from "./support/replay";
import { buildStandInImages } from "./support/standins";

const NAME = "registry-e2e-gc.test";
const PREFIX = "pr-e2e-gc";

describe("scheduled garbage collection in the registry container (Distribution 3, host networking)", () => {
    let work: string;
    let dockerd: PrivateDockerd;
    let declared: EvaluationResult;
    let endpoint: string;
    let creds: string;
    const caDir = () => join(work, "ca");

    const registryLogs = () => containerOutput(dockerd, `${PREFIX}-registry`);
    const count = (text: string, what: string) => text.split("\n").filter((line) => line.includes(`${GC_LOG_PREFIX} ${what}`)).length;
    const push = (layout: string, tag: string, reference: string, all = false) =>
        run("skopeo", skopeoPushArgs(layout, tag, `${endpoint}/${reference}`, { certDir: caDir(), creds }, all), {
            allowFailure: true,
            timeoutMs: 120_000,
        });
    const pullByDigest = (repository: string, digest: string, into: string) =>
        run("skopeo", skopeoPullArgs(`${endpoint}/${repository}@${digest}`, into, { certDir: caDir(), creds }), {
            allowFailure: true,
            timeoutMs: 120_000,
        });
    const manifestStatus = async (repository: string, digest: string) =>
        (
            await run("curl", [
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                join(caDir(), "ca.crt"),
                "-u",
                creds,
                "-H",
                "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json",
                `https://${endpoint}/v2/${repository}/manifests/${digest}`,
            ])
        ).stdout;
    const blobStored = (digest: string) => blobStoredIn(dockerd, `${PREFIX}-registry`, digest);
    /** A step of the setup, retried: a scheduled collection may make the registry read-only for a moment. */
    const retried = async <T extends { code: number; stderr: string }>(
        what: string,
        step: () => Promise<T>,
        ok: (result: T) => boolean = (r) => r.code === 0,
    ): Promise<T> => {
        let result = await step();
        for (let attempt = 1; attempt < 4 && !ok(result); attempt++) {
            await sleep(3_000);
            result = await step();
        }
        assert.ok(ok(result), `${what}: ${result.stderr}`);
        return result;
    };

    before(async () => {
        work = makeTempDir("pr-e2e-gc-");
        const { config } = await hostNetworkStackConfig(NAME, PREFIX, {
            deleteEnabled: true,
            gc: { schedule: "@every 15s", deleteUntagged: true },
        });
        declared = await evaluateProgram({ config });
        assert.equal(declared.error, undefined, declared.error);
        endpoint = declared.outputs.registryEndpoint.value as string;
        const [admin] = declared.outputs.credentials.value as { username: string; password: string }[];
        creds = `${admin.username}:${admin.password}`;
        mkdirSync(caDir());
        writeFileSync(join(caDir(), "ca.crt"), declared.outputs.caCertificate.value as string);
        addHostsEntry("::1", NAME);
        dockerd = await startDockerd(join(work, "d"));
        const names = imageNames(declared);
        assert.match(names["registry-registry-image"], /^registry:3\./, "the default registry image is Distribution 3");
        await buildStandInImages(
            dockerd,
            { registry: names["registry-registry-image"], ui: names["registry-ui-image"], edge: names["registry-edge-image"] },
            work,
        );
        await replay(dockerd, declared, work);
    });
    after(async () => {
        if (dockerd) await stopAndAssertNothingLeft(dockerd, work);
        else await runCleanups();
    });

    it("runs the supervisor as the registry's command, on Distribution 3", async () => {
        const command = JSON.parse((await dockerd.docker(["inspect", "-f", "{{json .Config.Cmd}}", `${PREFIX}-registry`])).stdout);
        assert.deepEqual(command, ["sh", "/etc/distribution/gc-supervisor.sh"]);
        assert.match((await dockerd.docker(["exec", `${PREFIX}-registry`, "registry", "--version"])).stdout, /v3\.1\.2/);
    });

    it("collects on schedule: deleted image's space back, untagged manifest gone, the rest pulls by digest; pushes meanwhile complete or are refused, never half-stored", async () => {
        const layouts = join(work, "layouts");
        mkdirSync(join(work, "pulled"));
        const keep = writeOciLayout(join(layouts, "keep"), "kept\n");
        const doomed = writeOciLayout(join(layouts, "doomed"), `deleted ${randomBytes(150_000).toString("base64")}\n`);
        const { index, children } = writeOciIndexLayout(join(layouts, "multi"), SEED_PLATFORMS, "multi", "e2e-gc");
        const old = writeOciLayout(join(layouts, "old"), `old ${randomBytes(30_000).toString("base64")}\n`);
        const current = writeOciLayout(join(layouts, "current"), "current\n");
        for (const [layout, tag, reference, all] of [
            ["keep", "1", "team/keep:1", false],
            ["doomed", "1", "team/doomed:1", false],
            ["multi", "multi", "team/multi:1", true],
            ["old", "1", "team/app:1", false],
            ["current", "1", "team/app:1", false],
        ] as const) {
            await retried(reference, () => push(join(layouts, layout), tag, reference, all));
        }
        const [doomedLayer, oldLayer] = [firstLayerDigest(join(layouts, "doomed")), firstLayerDigest(join(layouts, "old"))];
        assert.ok((await blobStored(doomedLayer)) && (await blobStored(oldLayer)));
        await retried(
            "DELETE the doomed manifest",
            () =>
                run("curl", [
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--cacert",
                    join(caDir(), "ca.crt"),
                    "-u",
                    creds,
                    "-X",
                    "DELETE",
                    `https://${endpoint}/v2/team/doomed/manifests/${doomed}`,
                ]),
            (r) => r.stdout === "202",
        );
        const startsBefore = count(await registryLogs(), "start:");

        // Pushes of new images all through the next collection, each recorded with its outcome,
        // and manifest GETs beside them (ten per connection), each status counted.
        const attempts: { reference: string; digest: string; code: number; stderr: string }[] = [];
        const pulls: Record<string, number> = {};
        const pullErrors: string[] = [];
        let collected = false;
        const reader = (async () => {
            const manifestUrl = `https://${endpoint}/v2/team/keep/manifests/${keep}`;
            while (!collected) {
                const result = await run(
                    "curl",
                    [
                        "-sS",
                        "--cacert",
                        join(caDir(), "ca.crt"),
                        "-u",
                        creds,
                        "--max-time",
                        "30",
                        "-w",
                        "%{http_code}\n",
                        "-H",
                        "Accept: application/vnd.oci.image.manifest.v1+json",
                        ...Array.from({ length: 10 }, () => ["-o", "/dev/null", manifestUrl]).flat(),
                    ],
                    { allowFailure: true, timeoutMs: 60_000 },
                );
                for (const status of result.stdout.trim().split("\n").filter(Boolean)) pulls[status] = (pulls[status] ?? 0) + 1;
                if (result.stderr.trim() !== "") pullErrors.push(result.stderr.trim());
            }
        })();
        const pusher = (async () => {
            for (let i = 0; !collected && i < 200; i++) {
                const digest = writeOciLayout(
                    join(layouts, `during-${i}`),
                    `pushed during the collection ${i} ${randomBytes(8).toString("hex")}\n`,
                );
                const result = await push(join(layouts, `during-${i}`), "1", `team/during:${i}`);
                attempts.push({ reference: `team/during:${i}`, digest, code: result.code, stderr: result.stderr });
                await sleep(200);
            }
        })();
        try {
            await waitFor(
                "a collection after the delete",
                async () => {
                    const logs = await registryLogs();
                    return count(logs, "start:") > startsBefore && count(logs, "done:") > startsBefore;
                },
                90_000,
                500,
            );
        } catch (error) {
            collected = true;
            await Promise.all([pusher, reader]);
            const state = (
                await dockerd.docker(
                    ["inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{json .State.Health}}", `${PREFIX}-registry`],
                    { allowFailure: true },
                )
            ).stdout;
            const logs = (await registryLogs()).split("\n");
            throw new Error(
                `${String(error)}\nregistry: ${state}\nits log (supervisor lines and the last 30):\n${[...logs.filter((l) => l.includes(GC_LOG_PREFIX)), "...", ...logs.slice(-30)].join("\n")}`,
            );
        }
        // A few more pushes after the collection, then stop pushing.
        await sleep(3_000);
        collected = true;
        await Promise.all([pusher, reader]);

        const logs = await registryLogs();
        assert.equal(count(logs, "failed"), 0, logs);
        // The collection's own measure, taken while read-only: nothing else wrote meanwhile.
        const done = logs
            .split("\n")
            .filter((line) => line.includes(`${GC_LOG_PREFIX} done:`))
            .pop()!;
        const [, blobs, beforeKib, afterKib] =
            /done: (\d+) blobs deleted, (\d+) KiB -> (\d+) KiB; registry read-write/.exec(done) ?? assert.fail(done);
        assert.ok(Number(blobs) >= 3, `at least the deleted image's layer, config and manifest: ${done}`);
        assert.ok(Number(beforeKib) - Number(afterKib) >= 140, `the deleted image's ~150 KiB layer came back: ${done}`);
        assert.ok(!(await blobStored(doomedLayer)), "the deleted image's layer is gone from the volume");
        assert.ok(!(await blobStored(oldLayer)), "deleteUntagged: the replaced tag's old layer is gone too");
        assert.equal(await manifestStatus("team/doomed", doomed), "404", "the deleted image is gone");
        assert.equal(await manifestStatus("team/app", old), "404", "deleteUntagged: the manifest no tag names any more is gone");
        for (const [repository, digest] of [
            ["team/keep", keep],
            ["team/app", current],
            ["team/multi", index],
            ...Object.values(children).map((d) => ["team/multi", d]),
        ]) {
            const pulled = await pullByDigest(repository, digest, join(work, "pulled", digest.slice(7, 19)));
            assert.equal(pulled.code, 0, `${repository}@${digest}: ${pulled.stderr}`);
        }

        assert.ok(attempts.length >= 3, `pushes ran through the collection: ${attempts.length}`);
        const refused = attempts.filter((a) => a.code !== 0);
        for (const attempt of refused) {
            assert.doesNotMatch(attempt.stderr, /502|Bad Gateway/i, `${attempt.reference}: no 502 at a switch`);
            assert.match(
                attempt.stderr,
                /405|UNSUPPORTED|read-only/i,
                `${attempt.reference} was refused by the read-only registry: ${attempt.stderr}`,
            );
        }
        const edgeErrors =
            Object.keys(pulls).length === 1
                ? ""
                : (await dockerd.docker(["logs", `${PREFIX}-edge`], { allowFailure: true })).stderr
                      .split("\n")
                      .filter((line) => /\[(error|warn|crit)\]/.test(line))
                      .slice(-10)
                      .join("\n");
        assert.deepEqual(
            Object.keys(pulls),
            ["200"],
            `every manifest GET across the collection answered 200: ${JSON.stringify(pulls)}; curl: ${pullErrors.slice(0, 5).join(" | ")}; the edge: ${edgeErrors}`,
        );
        assert.ok(pulls["200"] >= 50, `GETs ran through the collection: ${pulls["200"]}`);
        for (const attempt of attempts.filter((a) => a.code === 0)) {
            const pulled = await pullByDigest("team/during", attempt.digest, join(work, "pulled", `during-${attempt.digest.slice(7, 19)}`));
            assert.equal(pulled.code, 0, `${attempt.reference}, pushed while collections ran, pulls whole: ${pulled.stderr}`);
        }
        writeFileSync(
            join(work, "attempts.json"),
            JSON.stringify(
                attempts.map(({ reference, code, stderr }) => ({ reference, code, stderr: stderr.trim().slice(-200) })),
                null,
                2,
            ),
        );
        process.stdout.write(
            `# pushes during the collection window: ${attempts.length}, refused ${refused.length} (405); manifest GETs: ${JSON.stringify(pulls)}\n`,
        );
        const health = (
            await dockerd.docker(["inspect", "-f", "{{.State.Health.Status}} {{.RestartCount}}", `${PREFIX}-registry`])
        ).stdout.trim();
        assert.equal(health, "healthy 0", "the container stayed up through the collections");
        assert.ok(readFileSync(join(work, "attempts.json"), "utf8").length > 0);
    });
});
