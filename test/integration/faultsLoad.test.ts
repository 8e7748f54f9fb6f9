/**
 * Load, bounded in time, on the stack's path on loopback (test/support/loopbackStack.ts: the
 * rendered edge, Debian's nginx, in front of Distribution 3 on its Unix socket): PUSHERS skopeo
 * clients push, one after another for PUSH_SECONDS, images that share their two base layers
 * (12 MiB, as builds from one base do) and each add a small layer of their own, while PULLERS
 * clients pull pushed images by digest and check every blob. Then:
 *
 * - every manifest pushed is served by its tag with the digest skopeo reported, its bytes hashing
 *   to it, and every blob it names is there with its size;
 * - the edge answered no request with a 5xx, and dropped none (its log);
 * - the edge's and the registry's resident memory stayed bounded (sampled twice a second).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createHash, randomBytes } from "crypto";
import { readFileSync } from "fs";
import { Agent, request } from "https";
import { join } from "path";
import { treeRss } from "../../scripts/lib/procStats";
import { creds, LoopbackStack, PULL_USER, PUSH_USER, startLoopbackStack } from "../support/loopbackStack";
import { OciImage, writeOciImage } from "../support/ociLayout";
import { makeTempDir, run, runCleanups } from "../../scripts/lib/processes";

const MIB = 1024 * 1024;
const PUSHERS = 16;
const PULLERS = 4;
const PUSH_SECONDS = 45;
/** Ceilings well above what was measured (docs/reliability.md): memory that grew with the load would cross them. */
const EDGE_RSS_LIMIT = 256 * MIB;
const REGISTRY_RSS_LIMIT = 512 * MIB;

interface Pushed {
    repository: string;
    tag: string;
    image: OciImage;
}

describe(`load: ${PUSHERS} pushers of images sharing layers and ${PULLERS} pullers for ${PUSH_SECONDS} s`, () => {
    let stack: LoopbackStack;
    let work: string;
    let agent: Agent;
    const pushed: Pushed[] = [];
    const failures: string[] = [];
    const figures: Record<string, number> = {};

    /** One GET or HEAD over a kept-alive connection; the body and headers. */
    const get = (path: string, method: "GET" | "HEAD" = "GET") =>
        new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
            const req = request(
                stack.url(path),
                {
                    method,
                    agent,
                    auth: creds(PULL_USER),
                    headers: { Accept: "application/vnd.oci.image.manifest.v1+json" },
                },
                (response) => {
                    const chunks: Buffer[] = [];
                    response.on("data", (chunk: Buffer) => chunks.push(chunk));
                    response.on("end", () =>
                        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
                    );
                    response.on("error", reject);
                },
            );
            req.on("error", reject);
            req.end();
        });

    before(async () => {
        stack = await startLoopbackStack();
        work = makeTempDir("pr-load-");
        agent = new Agent({ keepAlive: true, maxSockets: 8, ca: readFileSync(stack.caFile) });
    });
    after(async () => {
        agent?.destroy();
        console.log(`figures: ${JSON.stringify(figures)}`);
        await runCleanups();
    });

    it("pushes and pulls for the whole time without an error", async () => {
        const base = [randomBytes(8 * MIB), randomBytes(4 * MIB)];
        const deadline = Date.now() + PUSH_SECONDS * 1000;
        const rss = { edge: 0, registry: 0 };
        const sampler = setInterval(() => {
            rss.edge = Math.max(rss.edge, treeRss(stack.nginx.pid));
            rss.registry = Math.max(rss.registry, treeRss(stack.registry.daemon.pid));
        }, 500);
        let pulls = 0;
        const pusher = async (index: number) => {
            for (let round = 0; Date.now() < deadline; round++) {
                const layout = join(work, `p${index}-${round}`);
                const image = writeOciImage(layout, [...base, randomBytes(256 * 1024)]);
                const repository = `load/app${index % 4}`;
                const tag = `p${index}-${round}`;
                const digestFile = join(layout, "pushed-digest");
                const result = await run(
                    "skopeo",
                    [
                        "copy",
                        "--quiet",
                        "--dest-cert-dir",
                        stack.certDir,
                        "--dest-creds",
                        creds(PUSH_USER),
                        "--digestfile",
                        digestFile,
                        `oci:${layout}:1`,
                        `docker://${stack.endpoint}/${repository}:${tag}`,
                    ],
                    { allowFailure: true, timeoutMs: 300_000 },
                );
                if (result.code !== 0) failures.push(`push ${repository}:${tag}: ${result.stderr.trim()}`);
                else if (readFileSync(digestFile, "utf8").trim() !== image.manifest)
                    failures.push(`push ${repository}:${tag}: skopeo reported ${readFileSync(digestFile, "utf8")}, not ${image.manifest}`);
                else pushed.push({ repository, tag, image });
            }
        };
        const puller = async (index: number) => {
            while (Date.now() < deadline) {
                const target = pushed[Math.floor(Math.random() * pushed.length)];
                if (target === undefined) {
                    await new Promise((resolve) => setTimeout(resolve, 200));
                    continue;
                }
                const into = makeTempDir(`pr-load-pull${index}-`, work);
                const result = await run(
                    "skopeo",
                    [
                        "copy",
                        "--quiet",
                        "--src-cert-dir",
                        stack.certDir,
                        "--src-creds",
                        creds(PULL_USER),
                        `docker://${stack.endpoint}/${target.repository}@${target.image.manifest}`,
                        `dir:${into}`,
                    ],
                    { allowFailure: true, timeoutMs: 300_000 },
                );
                if (result.code !== 0) failures.push(`pull ${target.repository}@${target.image.manifest}: ${result.stderr.trim()}`);
                else
                    for (const digest of [target.image.config, ...target.image.layers]) {
                        const got = `sha256:${createHash("sha256")
                            .update(readFileSync(join(into, digest.slice(7))))
                            .digest("hex")}`;
                        if (got !== digest)
                            failures.push(`pull ${target.repository}@${target.image.manifest}: blob ${digest} hashed to ${got}`);
                    }
                pulls++;
                await run("rm", ["-rf", into]);
            }
        };
        try {
            await Promise.all([
                ...Array.from({ length: PUSHERS }, (_, i) => pusher(i)),
                ...Array.from({ length: PULLERS }, (_, i) => puller(i)),
            ]);
        } finally {
            clearInterval(sampler);
        }
        figures.pushes = pushed.length;
        figures.pulls = pulls;
        figures.edgeRssMaxMiB = Math.round(rss.edge / MIB);
        figures.registryRssMaxMiB = Math.round(rss.registry / MIB);
        assert.deepEqual(failures, []);
        assert.ok(pushed.length >= PUSHERS, `every pusher pushed: ${pushed.length} images`);
        assert.ok(pulls >= PULLERS, `the pullers pulled: ${pulls}`);
        assert.ok(rss.edge < EDGE_RSS_LIMIT, `edge resident memory peaked at ${figures.edgeRssMaxMiB} MiB`);
        assert.ok(rss.registry < REGISTRY_RSS_LIMIT, `registry resident memory peaked at ${figures.registryRssMaxMiB} MiB`);
    });

    it("every manifest pushed is served by its tag with its digest, and every blob it names is there", async () => {
        for (const { repository, tag, image } of pushed) {
            const manifest = await get(`/v2/${repository}/manifests/${tag}`);
            assert.equal(manifest.status, 200, `${repository}:${tag}`);
            assert.equal(manifest.headers["docker-content-digest"], image.manifest, `${repository}:${tag}`);
            assert.equal(`sha256:${createHash("sha256").update(manifest.body).digest("hex")}`, image.manifest);
            const named = JSON.parse(manifest.body.toString()) as {
                config: { digest: string; size: number };
                layers: { digest: string; size: number }[];
            };
            for (const blob of [named.config, ...named.layers]) {
                const head = await get(`/v2/${repository}/blobs/${blob.digest}`, "HEAD");
                assert.equal(head.status, 200, `${repository}: ${blob.digest}`);
                assert.equal(Number(head.headers["content-length"]), blob.size);
            }
        }
    });

    it("the edge answered no request with a 5xx and dropped none", () => {
        const statuses: Record<string, number> = {};
        for (const line of readFileSync(join(stack.dir, "nginx.log"), "utf8").split("\n")) {
            const status = /" (\d{3}) \d+ "/.exec(line)?.[1];
            if (status) statuses[status] = (statuses[status] ?? 0) + 1;
        }
        figures.edgeRequests = Object.values(statuses).reduce((sum, count) => sum + count, 0);
        console.log(`edge statuses: ${JSON.stringify(statuses)}`);
        assert.ok(figures.edgeRequests >= 3 * figures.pushes, `the load reached the edge: ${figures.edgeRequests} requests`);
        assert.deepEqual(
            Object.keys(statuses).filter((status) => status >= "500" || status === "444"),
            [],
            JSON.stringify(statuses),
        );
    });
});
