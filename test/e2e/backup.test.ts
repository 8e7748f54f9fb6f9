/**
 * `npm run backup`, `npm run restore` and `npm run gc` (scripts/backup.ts, scripts/gc.ts) against
 * the declared local stack (host networking, `images.registry: registry:2.8.3`, `deleteEnabled`)
 * replayed on a private dockerd, every image pushed and pulled through the edge with the stack's
 * CA and accounts, as clients would. The scripts find the containers and the volume by the names
 * the components gave them, run the `docker` they find on PATH, and return only once the registry
 * answers through the edge again: each test asks the edge right after a script returns, without
 * waiting, and a broken way from the edge to the registry makes a script fail within its bound,
 * saying so.
 *
 * Each test starts by waiting for the edge's readiness itself: none relies on an earlier one
 * having left the registry serving.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { randomBytes } from "crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { dockerNames } from "../../components/services/dockerNames";
import { evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { writeOciLayout } from "../support/ociLayout";
import { makeTempDir, run, runCleanups, waitFor } from "../../scripts/lib/processes";
import { DOCKER_CLI, PrivateDockerd, startDockerd, stopAndAssertNothingLeft } from "./support/dockerd";
import { hostNetworkStackConfig, StackPorts } from "./support/hostStack";
import { addHostsEntry } from "./support/hostsFile";
import { containerInputs, imageNames, replay, startContainer } from "./support/replay";
import { buildStandInImages } from "./support/standins";

const NAME = "registry-e2e-backup.test";
const PREFIX = "pr-backup";
const NAMES = dockerNames(PREFIX);
const SCRIPT = resolve(__dirname, "../../scripts/backup.ts");
const GC_SCRIPT = resolve(__dirname, "../../scripts/gc.ts");

describe("npm run backup, restore and gc on the declared stack (local mode, Distribution 2.8)", () => {
    let work: string;
    let dockerd: PrivateDockerd;
    let declared: EvaluationResult;
    let ports: StackPorts;
    let endpoint: string;
    let creds: string;
    /** Where the scripts find `docker`: a wrapper that logs each call, then runs the real CLI. */
    let dockerOnPath: string;
    /** repository:tag → manifest digest, as pushed. */
    const pushed = new Map<string, string>();
    const caDir = () => join(work, "ca");

    const script = (args: string[], file = SCRIPT) =>
        run(
            process.execPath,
            ["--import", "tsx", file, ...args, "--name-prefix", PREFIX, "--docker-host", dockerd.host, "--ready-timeout", "90"],
            {
                env: { ...process.env, PATH: `${dockerOnPath}:${process.env.PATH ?? ""}` },
                allowFailure: true,
                timeoutMs: 240_000,
            },
        );
    const curl = (args: string[]) =>
        run("curl", ["-sS", "--max-time", "30", "--cacert", join(caDir(), "ca.crt"), "-u", creds, ...args], { allowFailure: true });
    /** The status of a manifest through the edge: asked once, right away. */
    const manifestStatus = async (repository: string, reference: string) =>
        (
            await curl([
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                "Accept: application/vnd.oci.image.manifest.v1+json",
                `https://${endpoint}/v2/${repository}/manifests/${reference}`,
            ])
        ).stdout;
    /** The edge's readiness (plain HTTP, what a load balancer asks): 200 once the registry answers behind it. */
    const edgeReady = async () =>
        (
            await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${ports.http}/readyz`], {
                allowFailure: true,
            })
        ).stdout === "200";
    /** Each test's own precondition: the registry answers through the edge. */
    const waitUntilServing = () =>
        waitFor("the registry to answer through the edge", async () => (await edgeReady()) || undefined, 60_000, 250);
    const pullByDigest = (reference: string, digest: string, label: string) =>
        run(
            "skopeo",
            [
                "copy",
                "--quiet",
                "--src-cert-dir",
                caDir(),
                "--src-creds",
                creds,
                `docker://${endpoint}/${reference.split(":")[0]}@${digest}`,
                `dir:${join(work, "pulled", `${label}-${reference.replace(/[/:]/g, "-")}`)}`,
            ],
            { allowFailure: true, timeoutMs: 60_000 },
        );
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
                    `${NAMES.registryData}:/data:ro`,
                    imageNames(declared)["registry-registry-image"],
                    "-sk",
                    "/data",
                ])
            ).stdout.split(/\s/)[0],
        );
    const startedAt = async () =>
        (await dockerd.docker(["inspect", "-f", "{{.State.StartedAt}} {{.State.Running}}", NAMES.container("registry")])).stdout.trim();
    /** What a script printed once the registry answered again: it asked the edge's readiness. */
    const answeredThroughEdge = (stdout: string) =>
        assert.match(
            stdout,
            new RegExp(
                `${NAMES.container("registry")} started again; the registry answers \\(GET http://127\\.0\\.0\\.1:${ports.http}/readyz in ${NAMES.container("edge")}, the edge\\)`,
            ),
        );

    before(async () => {
        work = makeTempDir("pr-bk-");
        const stack = await hostNetworkStackConfig(NAME, PREFIX, { deleteEnabled: true, images: { registry: "registry:2.8.3" } });
        ports = stack.ports;
        declared = await evaluateProgram({ config: stack.config });
        assert.equal(declared.error, undefined, declared.error);
        endpoint = declared.outputs.registryEndpoint.value as string;
        const users = declared.outputs.credentials.value as { username: string; password: string; role: string }[];
        const builder = users.find((u) => u.role === "push")!;
        creds = `${builder.username}:${builder.password}`;
        mkdirSync(caDir());
        writeFileSync(join(caDir(), "ca.crt"), declared.outputs.caCertificate.value as string);
        dockerOnPath = join(work, "path");
        mkdirSync(dockerOnPath);
        writeFileSync(
            join(dockerOnPath, "docker"),
            `#!/bin/sh\necho "$*" >> ${join(work, "docker-calls.log")}\nexec ${DOCKER_CLI} "$@"\n`,
            { mode: 0o755 },
        );
        addHostsEntry("::1", NAME);
        dockerd = await startDockerd(join(work, "d"));
        const images = imageNames(declared);
        assert.equal(images["registry-registry-image"], "registry:2.8.3");
        await buildStandInImages(
            dockerd,
            { registry: images["registry-registry-image"], ui: images["registry-ui-image"], edge: images["registry-edge-image"] },
            work,
        );
        await replay(dockerd, declared, work);
        mkdirSync(join(work, "pulled"));
        for (const [repository, tag, randomKib] of [
            ["team/app", "1", 200],
            ["team/app", "2", 260],
            ["base", "latest", 100],
        ] as const) {
            const layout = join(work, "layouts", `${repository.replace("/", "-")}-${tag}`);
            const digest = writeOciLayout(layout, `${repository}:${tag} ${randomBytes(randomKib * 1024).toString("base64")}\n`);
            const copied = await run(
                "skopeo",
                [
                    "copy",
                    "--quiet",
                    "--dest-cert-dir",
                    caDir(),
                    "--dest-creds",
                    creds,
                    `oci:${layout}:1`,
                    `docker://${endpoint}/${repository}:${tag}`,
                ],
                { allowFailure: true, timeoutMs: 120_000 },
            );
            assert.equal(copied.code, 0, copied.stderr);
            pushed.set(`${repository}:${tag}`, digest);
        }
    });
    after(async () => {
        if (dockerd) await stopAndAssertNothingLeft(dockerd, work);
        else await runCleanups();
    });

    it("backs up with the registry stopped for the copy; returns once it answers through the edge again, using the docker on PATH", async () => {
        await waitUntilServing();
        const before = await startedAt();
        const result = await script(["backup", "--to", join(work, "registry.tar")]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(await manifestStatus("team/app", "1"), "200", "the registry answers through the edge as soon as the script returns");
        assert.match(result.stdout, new RegExp(`backed up volume ${NAMES.registryData} to `));
        answeredThroughEdge(result.stdout);
        const after = await startedAt();
        assert.match(after, / true$/, "running again");
        assert.notEqual(after, before, "restarted: it was stopped during the copy");
        assert.ok(statSync(join(work, "registry.tar")).size > 600_000, "the layers are in the tar");
        assert.ok(!existsSync(join(work, "registry.tar.partial")));
        const calls = readFileSync(join(work, "docker-calls.log"), "utf8");
        assert.match(calls, new RegExp(`^stop -t 30 ${NAMES.container("registry")}$`, "m"), "the script ran the docker found on PATH");
        assert.match(calls, new RegExp(`^exec ${NAMES.container("edge")} wget `, "m"), calls);
    });

    it("restores into the empty volume of a fresh deploy; every image pulls by digest through the edge as soon as it returns", async () => {
        assert.ok(existsSync(join(work, "registry.tar")), "the backup test made registry.tar");
        // A fresh `pulumi up` on a new host: the registry and the edge (which mounts the data
        // volume read-only) created again around a new, empty volume.
        for (const role of ["edge", "registry"] as const) await dockerd.docker(["rm", "-f", NAMES.container(role)]);
        await dockerd.docker(["volume", "rm", NAMES.registryData]);
        await dockerd.docker(["volume", "create", "--label", "private-registry.role=registry-data", NAMES.registryData]);
        for (const role of ["registry", "edge"] as const)
            await startContainer(dockerd, declared, containerInputs(declared, NAMES.container(role)), work);
        await waitUntilServing();
        const catalog = await curl([`https://${endpoint}/v2/_catalog`]);
        assert.deepEqual(JSON.parse(catalog.stdout).repositories, [], "the new volume is empty");

        const result = await script(["restore", "--from", join(work, "registry.tar")]);
        assert.equal(result.code, 0, result.stderr);
        answeredThroughEdge(result.stdout);
        for (const [reference, digest] of pushed) {
            const pulled = await pullByDigest(reference, digest, "restored");
            assert.equal(pulled.code, 0, `${reference}@${digest}: ${pulled.stderr}`);
            const tagged = await curl([
                "-I",
                "-H",
                "Accept: application/vnd.oci.image.manifest.v1+json",
                `https://${endpoint}/v2/${reference.replace(":", "/manifests/")}`,
            ]);
            assert.match(
                tagged.stdout,
                new RegExp(`^docker-content-digest: ${digest}\\r?$`, "im"),
                `${reference} still points at its digest`,
            );
        }
    });

    it("refuses to restore over a volume that holds repositories unless --replace, and the registry answers after either", async () => {
        await waitUntilServing();
        const refused = await script(["restore", "--from", join(work, "registry.tar")]);
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, new RegExp(`volume ${NAMES.registryData} is not empty; pass --replace`));
        assert.equal(await manifestStatus("base", "latest"), "200", "the registry answers after a refused restore");
        const replaced = await script(["restore", "--from", join(work, "registry.tar"), "--replace"]);
        assert.equal(replaced.code, 0, replaced.stderr);
        answeredThroughEdge(replaced.stdout);
        assert.equal(await manifestStatus("base", "latest"), "200", "the registry answers as soon as the restore returns");
    });

    it("npm run gc: a deleted tag's space comes back, every other image still pulls by digest, at once", async () => {
        await waitUntilServing();
        const deletedDigest = pushed.get("team/app:2")!;
        const deleted = await curl([
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "DELETE",
            `https://${endpoint}/v2/team/app/manifests/${deletedDigest}`,
        ]);
        assert.equal(deleted.stdout, "202", deleted.stderr);
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
        assert.match(
            collected.stdout,
            new RegExp(`garbage collection of volume ${NAMES.registryData}: [1-9]\\d* blobs eligible for deletion`),
        );
        answeredThroughEdge(collected.stdout);
        const after = await startedAt();
        assert.match(after, / true$/, "running again");
        assert.notEqual(after, startedBefore, "stopped during the collection");
        const freed = before - (await volumeKib());
        assert.ok(freed >= 190, `the deleted image's ~260 KiB layer is gone: freed ${freed} KiB`);

        for (const [reference, digest] of pushed) {
            const pulled = await pullByDigest(reference, digest, "gc");
            if (reference === "team/app:2") assert.notEqual(pulled.code, 0, "the deleted image is gone");
            else assert.equal(pulled.code, 0, `${reference}@${digest}: ${pulled.stderr}`);
        }
    });

    it("fails within --ready-timeout, saying so, when the registry does not answer through the edge; at once when the edge is down", async () => {
        await waitUntilServing();
        const edge = NAMES.container("edge");
        // The edge loses its way to the registry: its upstream socket renamed in nginx.conf, reloaded.
        const conf = (await dockerd.docker(["exec", edge, "cat", "/etc/nginx/nginx.conf"])).stdout;
        assert.match(conf, /unix:\/run\/registry\/registry\.sock/);
        const broken = join(work, "nginx-broken.conf");
        writeFileSync(broken, conf.replaceAll("/run/registry/registry.sock", "/run/registry/nowhere.sock"));
        const original = join(work, "nginx-original.conf");
        writeFileSync(original, conf);
        const reloadWith = async (file: string) => {
            await dockerd.docker(["cp", file, `${edge}:/etc/nginx/nginx.conf`]);
            await dockerd.docker(["exec", edge, "nginx", "-s", "reload"]);
        };
        await reloadWith(broken);
        try {
            await waitFor("the edge to answer 503 for readiness", async () => !(await edgeReady()) || undefined, 30_000, 250);
            const began = Date.now();
            const result = await run(
                process.execPath,
                ["--import", "tsx", GC_SCRIPT, "--dry-run", "--name-prefix", PREFIX, "--docker-host", dockerd.host, "--ready-timeout", "3"],
                { allowFailure: true, timeoutMs: 120_000 },
            );
            const seconds = (Date.now() - began) / 1000;
            assert.notEqual(result.code, 0, "the script reported success while the registry did not answer through the edge");
            assert.match(
                result.stderr,
                new RegExp(
                    `the registry did not answer within 3 s of being started again \\(GET http://127\\.0\\.0\\.1:${ports.http}/readyz in ${edge}, the edge; last: .*503`,
                ),
            );
            assert.match(result.stderr, /--ready-timeout SECONDS/);
            assert.ok(seconds < 60, `it gave up after its bound, not much later: ${seconds} s`);
            assert.match(await startedAt(), / true$/, "the registry was started again all the same");
        } finally {
            await reloadWith(original);
        }
        await waitUntilServing();

        await dockerd.docker(["stop", edge]);
        try {
            const result = await script(["--dry-run"], GC_SCRIPT);
            assert.notEqual(result.code, 0);
            assert.match(result.stderr, new RegExp(`the edge container ${edge} is not running`));
            assert.match(await startedAt(), / true$/, "the registry was started again");
        } finally {
            await dockerd.docker(["start", edge]);
        }
        await waitUntilServing();
    });
});
