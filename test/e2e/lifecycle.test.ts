/**
 * An image's life after the push, end to end, on the declared local stack (bridge networking)
 * replayed on a private dockerd in a network namespace, every client going through the edge with
 * the stack's CA:
 *
 * - signatures: cosign (v3.1.3, built by scripts/build-tools.sh cosign) signs with the push
 *   account and a generated key pair, and verifies with the pull account, a single-platform image
 *   and a multi-arch index with riscv64 (each platform too); the pull account cannot sign. With
 *   no referrers API in Distribution, cosign stores its signature under the referrers tag schema
 *   (`sha256-<digest>`, an index of referrers) by default, and as `sha256-<digest>.sig` with
 *   `--new-bundle-format=false`; `--registry-referrers-mode=oci-1-1` (experimental) writes a
 *   referrer cosign's own verify does not find;
 * - webhooks: a receiver on the stack's network gets each push and delete with repository, tag
 *   and digest, and the header set as a secret;
 * - retention: ten tags pushed, the three newest and one named by keepTags kept; the dry run lists
 *   what would go and deletes nothing; the scheduled run, right before the collection (the
 *   registry's supervisor asks the regctl container), deletes the rest with their signatures,
 *   the collection gives their space back, every kept digest pulls and its signature verifies.
 *
 * The schedule: the stack starts with `gc: {schedule: "@every 1h", deleteUntagged: true}`, so nothing runs while the test
 * pushes and signs; the collection is then made due by a day-two change (`@every 10s`), the
 * registry container replaced as `pulumi up` replaces it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { randomBytes } from "crypto";
import { existsSync, mkdirSync, writeFileSync } from "fs";
import { join } from "path";
import { GC_LOG_PREFIX } from "../../components/render/registrySupervisor";
import { RETENTION_LOG_PREFIX } from "../../components/render/retentionScript";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { makeTempDir, RunOptions, waitFor } from "../../scripts/lib/processes";
import { cosignBinary } from "../../scripts/lib/builtTools";
import { createNetworkNamespace, NAMESPACE_SERVICE_ADDRESS } from "../../scripts/lib/netns";
import { skopeoPullArgs, skopeoPushArgs } from "../support/skopeo";
import { firstLayerDigest, SEED_PLATFORMS, writeOciIndexLayout, writeOciLayout } from "../support/ociLayout";
import { PrivateDockerd, startDockerd, stopAndAssertNothingLeft } from "./support/dockerd";
import { freeStackPorts } from "./support/hostStack";
import { addHostsEntry } from "./support/hostsFile";
import { blobStored as blobStoredIn, containerOutput } from "./support/registryContainer";
import { imageNames, replaceContainer, replay } from "./support/replay";
import { buildStandInImages, buildWebhookReceiver } from "./support/standins";

const NAME = "registry-lifecycle.test";
const PREFIX = "pr-e2e-life";
const RECEIVER_IMAGE = "pr-e2e-webhook-receiver:1";
const HOOK_TOKEN = "Bearer lifecycle-hook-Token-3";
const COSIGN_PASSWORD = "lifecycle-key-password";
const REQUIRED = ["/usr/sbin/dockerd", "/usr/bin/docker", "/usr/bin/skopeo", "/usr/bin/curl", "/usr/bin/nsenter", "/usr/sbin/ip"];

interface Credential {
    username: string;
    password: string;
}
interface Delivery {
    authorization: string;
    events: { action: string; target: { repository?: string; tag?: string; digest?: string; mediaType?: string } }[];
}

describe("end to end: an image's life after the push — signed, told to a webhook, kept or deleted by retention, collected", () => {
    let work: string;
    let dockerd: PrivateDockerd;
    let config: Record<string, unknown>;
    let declared: EvaluationResult;
    let endpoint: string;
    let admin: Credential;
    let node: Credential;
    let cosign: string;
    const caFile = () => join(work, "ca", "ca.crt");
    const caDir = () => join(work, "ca");

    const client = (command: string, args: string[], options: RunOptions = {}) =>
        dockerd.runClient(command, args, { allowFailure: true, timeoutMs: 120_000, ...options });
    const creds = (user: Credential) => `${user.username}:${user.password}`;
    const push = (layout: string, tag: string, reference: string, all = false) =>
        client("skopeo", skopeoPushArgs(layout, tag, `${endpoint}/${reference}`, { certDir: caDir(), creds: creds(admin) }, all));
    const pullByDigest = (repository: string, digest: string) =>
        client(
            "skopeo",
            skopeoPullArgs(
                `${endpoint}/${repository}@${digest}`,
                join(work, "pulled", `${repository.replace(/\//g, "_")}-${digest.slice(7, 19)}`),
                { certDir: caDir(), creds: creds(node) },
            ),
        );
    const curl = async (user: Credential, path: string, args: string[] = []) =>
        client("curl", ["-sS", "--max-time", "30", "--cacert", caFile(), "-u", creds(user), ...args, `https://${endpoint}${path}`]);
    const tags = async (repository: string) => {
        const listed = await curl(node, `/v2/${repository}/tags/list`);
        assert.equal(listed.code, 0, listed.stderr);
        return ((JSON.parse(listed.stdout).tags as string[] | null) ?? []).sort();
    };
    const manifestStatus = async (repository: string, digest: string) =>
        (
            await curl(node, `/v2/${repository}/manifests/${digest}`, [
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json",
            ])
        ).stdout;
    /** cosign as `user`, through the edge with the stack's CA; no transparency log, no Fulcio: a key pair. */
    const cosignAs = (user: Credential, args: string[], env: NodeJS.ProcessEnv = {}) =>
        client(
            cosign,
            [...args, "--registry-cacert", caFile(), "--registry-username", user.username, "--registry-password", user.password],
            { env: { ...process.env, HOME: join(work, "home"), COSIGN_PASSWORD, ...env } },
        );
    const sign = (user: Credential, reference: string, flags: string[] = [], env: NodeJS.ProcessEnv = {}) =>
        cosignAs(
            user,
            ["sign", "--yes", "--key", join(work, "cosign.key"), "--use-signing-config=false", "--tlog-upload=false", ...flags, reference],
            env,
        );
    const verify = (reference: string, key = join(work, "cosign.pub")) =>
        cosignAs(node, ["verify", "--key", key, "--insecure-ignore-tlog=true", "--output", "json", reference]);
    const registryLogs = () => containerOutput(dockerd, `${PREFIX}-registry`);
    const blobStored = (digest: string) => blobStoredIn(dockerd, `${PREFIX}-registry`, digest);
    /** What the receiver has been sent: each POST's Authorization header and events. */
    const deliveries = async (): Promise<Delivery[]> => {
        const dump = await dockerd.docker([
            "exec",
            `${PREFIX}-receiver`,
            "sh",
            "-c",
            'for f in /events/*.json; do [ -e "$f" ] || continue; printf "%s\\t" "$(cat "${f%.json}.authorization")"; tr -d "\\n" < "$f"; echo; done',
        ]);
        return dump.stdout
            .split("\n")
            .filter(Boolean)
            .map((line) => {
                const [authorization, body] = line.split(/\t(.*)/s);
                return { authorization, events: JSON.parse(body).events };
            });
    };
    const told = async () => (await deliveries()).flatMap((d) => d.events);

    before(async () => {
        const missing = REQUIRED.filter((path) => !existsSync(path));
        assert.deepEqual(missing, [], `missing prerequisites: ${missing.join(", ")}`);
        work = makeTempDir("pr-e2e-life-");
        mkdirSync(join(work, "home"));
        mkdirSync(join(work, "pulled"));
        const ports = await freeStackPorts();
        config = {
            ...devStackConfig(),
            hostnames: [NAME],
            ipAddresses: [NAMESPACE_SERVICE_ADDRESS],
            containerNetwork: "bridge",
            httpsPort: ports.https,
            httpPort: ports.http,
            namePrefix: PREFIX,
            deleteEnabled: true,
            gc: { schedule: "@every 1h", deleteUntagged: true },
            // The first policy that matches a repository applies: keep-all keeps everything.
            retention: [
                { repositories: "retention/keep-all", keepLast: 100 },
                { repositories: "retention/**", keepLast: 3, keepTags: "stable" },
            ],
            notifications: [{ url: "http://receiver:8080/cgi-bin/events", headers: { Authorization: HOOK_TOKEN } }],
        };
        declared = await evaluateProgram({ config, secretKeys: ["notifications"] });
        assert.equal(declared.error, undefined, declared.error);
        endpoint = declared.outputs.registryEndpoint.value as string;
        [admin, node] = declared.outputs.credentials.value as Credential[];
        mkdirSync(caDir());
        writeFileSync(caFile(), declared.outputs.caCertificate.value as string);
        cosign = await cosignBinary();
        addHostsEntry(NAMESPACE_SERVICE_ADDRESS, NAME);
        const namespace = await createNetworkNamespace("pr-life");
        await namespace.run("ip", ["address", "add", `${NAMESPACE_SERVICE_ADDRESS}/32`, "dev", "lo"]);
        await namespace.assertNoRouteOut();
        dockerd = await startDockerd(join(work, "d"), { networkNamespace: namespace });
        const names = imageNames(declared);
        await Promise.all([
            buildStandInImages(
                dockerd,
                {
                    registry: names["registry-registry-image"],
                    ui: names["registry-ui-image"],
                    edge: names["registry-edge-image"],
                    retention: names["registry-retention-image"],
                },
                work,
            ),
            buildWebhookReceiver(dockerd, RECEIVER_IMAGE, join(work, "receiver")),
        ]);
        await replay(dockerd, declared, work);
        // The receiver, on the stack's network under the name the webhook's URL gives.
        await dockerd.docker([
            "run",
            "-d",
            "--name",
            `${PREFIX}-receiver`,
            "--network",
            PREFIX,
            "--network-alias",
            "receiver",
            RECEIVER_IMAGE,
        ]);
        const generated = await client(cosign, ["generate-key-pair", "--output-key-prefix", join(work, "cosign")], {
            env: { ...process.env, HOME: join(work, "home"), COSIGN_PASSWORD },
        });
        assert.equal(generated.code, 0, generated.stderr);
    });
    after(async () => {
        if (dockerd) await stopAndAssertNothingLeft(dockerd, work);
    });

    // Pushed and signed by the first tests, read by the later ones.
    const signed = { app: "", legacy: "", index: "", children: {} as Record<string, string> };

    it("signs with the push account and verifies with the pull account: an image, and a multi-arch index with riscv64 and each of its platforms", async () => {
        const layouts = join(work, "layouts");
        signed.app = writeOciLayout(join(layouts, "app"), "signed by the push account\n");
        const multi = writeOciIndexLayout(join(layouts, "multi"), SEED_PLATFORMS, "multi", "lifecycle");
        signed.index = multi.index;
        signed.children = multi.children;
        for (const [layout, tag, reference, all] of [
            ["app", "1", "signed/app:1", false],
            ["multi", "multi", "signed/multi:1", true],
        ] as const) {
            const pushed = await push(join(layouts, layout), tag, reference, all);
            assert.equal(pushed.code, 0, pushed.stderr);
        }
        const app = await sign(admin, `${endpoint}/signed/app@${signed.app}`);
        assert.equal(app.code, 0, app.stderr);
        const index = await sign(admin, `${endpoint}/signed/multi@${signed.index}`, ["--recursive"]);
        assert.equal(index.code, 0, index.stderr);

        for (const [repository, digest] of [
            ["signed/app", signed.app],
            ["signed/multi", signed.index],
            ...Object.values(signed.children).map((d) => ["signed/multi", d]),
        ]) {
            const verified = await verify(`${endpoint}/${repository}@${digest}`);
            assert.equal(verified.code, 0, `${repository}@${digest}: ${verified.stderr}`);
            const [payload] = JSON.parse(verified.stdout);
            assert.equal(payload.critical.image["docker-manifest-digest"], digest, "the signature names this very digest");
        }
        // A riscv64 board pulling its platform by digest can check that digest's own signature.
        assert.ok(signed.children["linux/riscv64"]);
    });

    it("which modes cosign uses here: the referrers tag schema by default, `.sig` with --new-bundle-format=false, the experimental oci-1-1 mode unverifiable; a wrong key or no signature fails; the pull account cannot sign", async () => {
        const referrersTag = (digest: string) => `sha256-${digest.slice(7)}`;
        // Default (cosign 3): a Sigstore bundle as an OCI 1.1 referrer; without a referrers API, an index under the digest's tag.
        assert.deepEqual(await tags("signed/app"), ["1", referrersTag(signed.app)].sort());
        const referrers = await curl(node, `/v2/signed/app/manifests/${referrersTag(signed.app)}`, [
            "-H",
            "Accept: application/vnd.oci.image.index.v1+json",
        ]);
        const listed = JSON.parse(referrers.stdout);
        assert.equal(listed.mediaType, "application/vnd.oci.image.index.v1+json");
        assert.deepEqual(
            listed.manifests.map((m: { artifactType: string }) => m.artifactType),
            ["application/vnd.dev.sigstore.bundle.v0.3+json"],
        );
        // --recursive: the index and each platform, riscv64 among them.
        assert.deepEqual(await tags("signed/multi"), ["1", ...[signed.index, ...Object.values(signed.children)].map(referrersTag)].sort());

        // cosign 2's form: the `.sig` tag, which cosign 3 still verifies.
        const legacy = writeOciLayout(join(work, "layouts", "legacy"), "signed the cosign 2 way\n");
        signed.legacy = legacy;
        assert.equal((await push(join(work, "layouts", "legacy"), "1", "signed/legacy:1")).code, 0);
        const sig = await sign(admin, `${endpoint}/signed/legacy@${legacy}`, ["--new-bundle-format=false"]);
        assert.equal(sig.code, 0, sig.stderr);
        assert.deepEqual(await tags("signed/legacy"), ["1", `${referrersTag(legacy)}.sig`]);
        assert.equal((await verify(`${endpoint}/signed/legacy@${legacy}`)).code, 0);

        // cosign's experimental OCI 1.1 mode for the old format: a referrer under the same kind of
        // tag, which cosign's own verify does not look for (the docs say not to use it).
        const experimental = writeOciLayout(join(work, "layouts", "experimental"), "signed in the experimental mode\n");
        assert.equal((await push(join(work, "layouts", "experimental"), "1", "signed/experimental:1")).code, 0);
        const oci11 = await sign(
            admin,
            `${endpoint}/signed/experimental@${experimental}`,
            ["--new-bundle-format=false", "--registry-referrers-mode=oci-1-1"],
            { COSIGN_EXPERIMENTAL: "1" },
        );
        assert.equal(oci11.code, 0, oci11.stderr);
        assert.deepEqual(await tags("signed/experimental"), ["1", referrersTag(experimental)]);
        const found = JSON.parse(
            (
                await curl(node, `/v2/signed/experimental/manifests/${referrersTag(experimental)}`, [
                    "-H",
                    "Accept: application/vnd.oci.image.index.v1+json",
                ])
            ).stdout,
        );
        assert.deepEqual(
            found.manifests.map((m: { artifactType: string }) => m.artifactType),
            ["application/vnd.dev.cosign.artifact.sig.v1+json"],
        );
        const unverified = await verify(`${endpoint}/signed/experimental@${experimental}`);
        assert.notEqual(unverified.code, 0);
        assert.match(unverified.stderr, /no signatures found/);

        // What fails must fail: another key, an image nobody signed.
        const otherKey = await client(cosign, ["generate-key-pair", "--output-key-prefix", join(work, "other")], {
            env: { ...process.env, HOME: join(work, "home"), COSIGN_PASSWORD },
        });
        assert.equal(otherKey.code, 0, otherKey.stderr);
        const wrong = await verify(`${endpoint}/signed/app@${signed.app}`, join(work, "other.pub"));
        assert.notEqual(wrong.code, 0, "another key's signature does not verify");
        const unsigned = writeOciLayout(join(work, "layouts", "unsigned"), "nobody signed this\n");
        assert.equal((await push(join(work, "layouts", "unsigned"), "1", "signed/unsigned:1")).code, 0);
        const none = await verify(`${endpoint}/signed/unsigned@${unsigned}`);
        assert.notEqual(none.code, 0);
        assert.match(none.stderr, /no signatures found/);

        // The pull account: the edge refuses its writes, so nothing is stored.
        const refused = await sign(node, `${endpoint}/signed/unsigned@${unsigned}`);
        assert.notEqual(refused.code, 0, "the pull account cannot sign");
        assert.match(refused.stderr, /403|DENIED|forbidden/i);
        assert.deepEqual(await tags("signed/unsigned"), ["1"]);
    });

    it("tells the webhook on the stack's network of each push, with repository, tag, digest and the secret header", async () => {
        await waitFor(
            "the pushes at the receiver",
            async () => (await told()).some((e) => e.action === "push" && e.target.repository === "signed/unsigned"),
            60_000,
            500,
        );
        const all = await deliveries();
        assert.ok(all.length > 0);
        assert.deepEqual([...new Set(all.map((d) => d.authorization))], [HOOK_TOKEN], "every delivery carries the secret header");
        const pushes = all.flatMap((d) => d.events).filter((e) => e.action === "push");
        assert.ok(
            pushes.some((e) => e.target.repository === "signed/app" && e.target.tag === "1" && e.target.digest === signed.app),
            JSON.stringify(pushes.map((e) => e.target)),
        );
        assert.ok(pushes.some((e) => e.target.repository === "signed/multi" && e.target.tag === "1" && e.target.digest === signed.index));
        assert.ok(
            pushes.some((e) => e.target.repository === "signed/app" && e.target.tag === `sha256-${signed.app.slice(7)}`),
            "a signature's push is an event too",
        );
        assert.ok(!pushes.some((e) => e.target.mediaType === "application/octet-stream"), "no event per layer");
        assert.ok(!all.flatMap((d) => d.events).some((e) => e.action === "pull"), "pulls are not sent unless asked");
    });

    // The retention repository: ten images a day apart, `stable` naming the fifth.
    const retained: { tag: string; digest: string; layer: string }[] = [];

    it("retention's dry run lists what would go, the images with their signatures, and deletes nothing", async () => {
        const day = 86_400_000;
        const now = Date.now();
        for (let i = 1; i <= 10; i++) {
            const layout = join(work, "layouts", `retained-${i}`);
            const created = new Date(now - (11 - i) * day).toISOString();
            const digest = writeOciLayout(layout, `retained ${i} ${randomBytes(100_000).toString("base64")}\n`, created);
            const pushed = await push(layout, "1", `retention/app:${i}`);
            assert.equal(pushed.code, 0, pushed.stderr);
            retained.push({ tag: String(i), digest, layer: firstLayerDigest(layout) });
        }
        assert.equal((await push(join(work, "layouts", "retained-5"), "1", "retention/app:stable")).code, 0);
        writeOciLayout(join(work, "layouts", "keep-all"), "kept by the first policy that matches\n");
        for (const tag of ["a", "b", "c", "d"])
            assert.equal((await push(join(work, "layouts", "keep-all"), "1", `retention/keep-all:${tag}`)).code, 0);
        const byTag = (tag: string) => retained.find((r) => r.tag === tag)!.digest;
        for (const [tag, flags] of [
            ["10", []],
            ["5", []],
            ["1", []],
            ["2", ["--new-bundle-format=false"]],
        ] as const) {
            const signedNow = await sign(admin, `${endpoint}/retention/app@${byTag(tag)}`, [...flags]);
            assert.equal(signedNow.code, 0, signedNow.stderr);
        }
        const before = await tags("retention/app");

        const dry = await dockerd.docker(["exec", `${PREFIX}-retention`, "sh", "/etc/retention/retention.sh", "--dry-run"], {
            allowFailure: true,
            timeoutMs: 300_000,
        });
        assert.equal(dry.code, 0, dry.stderr + dry.stdout);
        const lines = dry.stdout.split("\n").filter((l) => l.startsWith(RETENTION_LOG_PREFIX));
        const repo = `${endpoint}/retention/app`;
        const expected = [
            ...["7", "6", "4", "3", "2", "1"].map((tag) => `would delete ${repo}@${byTag(tag)} (tags: ${tag})`),
            `would delete the tag ${repo}:5 (a kept tag names ${byTag("5")})`,
            `would delete ${repo}:sha256-${byTag("1").slice(7)} (`,
            `would delete ${repo}:sha256-${byTag("2").slice(7)}.sig (`,
            "dry run done: 7 tags would go, 8 kept, 0 repositories skipped",
        ];
        for (const line of expected)
            assert.ok(
                lines.some((l) => l.startsWith(`${RETENTION_LOG_PREFIX} ${line}`)),
                `${line}\nnot in:\n${lines.join("\n")}`,
            );
        assert.ok(!lines.some((l) => /would delete .*(retention\/app[:@](8|9|10|stable)\b|keep-all|signed\/)/.test(l)), lines.join("\n"));
        process.stdout.write(`# the dry run:\n${lines.map((l) => `#   ${l}`).join("\n")}\n`);
        assert.deepEqual(await tags("retention/app"), before, "the dry run deleted nothing");
        assert.ok(before.includes("1") && before.includes(`sha256-${byTag("2").slice(7)}.sig`));
    });

    it("retention right before the scheduled collection: the three newest and `stable` stay, the rest and their signatures go, their space comes back, every kept digest pulls and verifies, the webhook hears the deletes", async () => {
        const byTag = (tag: string) => retained.find((r) => r.tag === tag)!;
        const signedBefore = { app: await tags("signed/app"), multi: await tags("signed/multi"), legacy: await tags("signed/legacy") };
        for (const r of retained) assert.ok(await blobStored(r.layer), `layer of ${r.tag} stored`);

        // A day-two change makes the collection due: `pulumi up` replaces the registry container.
        const dueSoon = await evaluateProgram({
            config: { ...config, gc: { schedule: "@every 10s", deleteUntagged: true } },
            secretKeys: ["notifications"],
            previousState: declared.state,
        });
        assert.equal(dueSoon.error, undefined, dueSoon.error);
        await replaceContainer(dockerd, dueSoon, `${PREFIX}-registry`, work);
        try {
            await waitFor(
                "retention, then a collection",
                async () => {
                    const logs = await registryLogs();
                    return /retention done:/.test(logs) && new RegExp(`${GC_LOG_PREFIX} done:`).test(logs);
                },
                300_000,
                1_000,
            );
        } catch (error) {
            const retentionLogs = await containerOutput(dockerd, `${PREFIX}-retention`);
            throw new Error(`${String(error)}\nregistry:\n${await registryLogs()}\nretention:\n${retentionLogs}`);
        }
        const logs = (await registryLogs()).split("\n").filter((l) => l.includes(GC_LOG_PREFIX));
        const order = logs.map((l) => (/retention done:/.test(l) ? "retention" : /start:/.test(l) ? "start" : "")).filter(Boolean);
        assert.deepEqual(order.slice(0, 2), ["retention", "start"], `retention ran before the collection started:\n${logs.join("\n")}`);
        assert.match(
            logs.find((l) => /retention done:/.test(l))!,
            /retention done: 7 tags deleted, 8 kept, 0 repositories skipped \(exit 0\)$/,
        );

        // What stays: 8, 9, 10 (the newest), stable (keepTags) and the signatures of what they name.
        assert.deepEqual(
            await tags("retention/app"),
            ["10", "8", "9", "stable", `sha256-${byTag("10").digest.slice(7)}`, `sha256-${byTag("5").digest.slice(7)}`].sort(),
        );
        for (const tag of ["8", "9", "10", "5"]) {
            const pulled = await pullByDigest("retention/app", byTag(tag).digest);
            assert.equal(pulled.code, 0, `${tag}: ${pulled.stderr}`);
        }
        for (const tag of ["10", "5"]) {
            const verified = await verify(`${endpoint}/retention/app@${byTag(tag).digest}`);
            assert.equal(verified.code, 0, `${tag}'s signature stays and verifies: ${verified.stderr}`);
        }
        // deleteUntagged keeps what a tagged index lists: platforms, and the referrers under a signature's tag.
        for (const [repository, digest] of [
            ["signed/app", signed.app],
            ["signed/multi", signed.children["linux/riscv64"]],
        ]) {
            const verified = await verify(`${endpoint}/${repository}@${digest}`);
            assert.equal(verified.code, 0, `${repository}@${digest} still verifies after the collection: ${verified.stderr}`);
        }
        // What went: the images, their signatures, their layers (the collection's sweep).
        for (const tag of ["1", "2", "3", "4", "6", "7"]) {
            assert.equal(await manifestStatus("retention/app", byTag(tag).digest), "404", `${tag} is gone`);
            assert.ok(!(await blobStored(byTag(tag).layer)), `${tag}'s layer is gone from the volume`);
        }
        for (const tag of ["5", "8", "9", "10"]) assert.ok(await blobStored(byTag(tag).layer), `${tag}'s layer stays`);
        const done = logs.find((l) => l.includes(`${GC_LOG_PREFIX} done:`))!;
        process.stdout.write(`# the supervisor:\n${logs.map((l) => `#   ${l}`).join("\n")}\n`);
        const [, beforeKib, afterKib] = /(\d+) KiB -> (\d+) KiB/.exec(done) ?? assert.fail(done);
        assert.ok(Number(beforeKib) - Number(afterKib) >= 500, `six ~100 KiB layers came back: ${done}`);
        assert.deepEqual(await tags("retention/keep-all"), ["a", "b", "c", "d"], "the first policy that matches applies");
        // Repositories no policy names are untouched.
        assert.deepEqual(
            { app: await tags("signed/app"), multi: await tags("signed/multi"), legacy: await tags("signed/legacy") },
            signedBefore,
        );

        // The webhook heard each image's delete by digest and the tag deleted alone.
        await waitFor(
            "the deletes at the receiver",
            async () => (await told()).filter((e) => e.action === "delete" && e.target.repository === "retention/app").length >= 7,
            60_000,
            500,
        );
        const deletes = (await told()).filter((e) => e.action === "delete" && e.target.repository === "retention/app");
        for (const tag of ["1", "2", "3", "4", "6", "7"])
            assert.ok(
                deletes.some((e) => e.target.digest === byTag(tag).digest),
                `the delete of ${tag}'s image: ${JSON.stringify(deletes.map((e) => e.target))}`,
            );
        assert.ok(
            deletes.some((e) => e.target.tag === "5"),
            "the tag 5 deleted alone",
        );
        assert.ok(!deletes.some((e) => [byTag("8"), byTag("9"), byTag("10")].some((r) => e.target.digest === r.digest)));
    });
});
