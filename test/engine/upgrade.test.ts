/**
 * The upgrade from Distribution 2.8 to 3 under the real Pulumi engine: the dev stack deployed with
 * `images.registry: registry:2.8.3` (the 2.8 stand-in: Debian's Distribution 2.8), images pushed
 * through the edge (two single-platform images and a multi-arch OCI index), then one `pulumi up`
 * with `images.registry` at the default Distribution 3 (the v3.1.2 stand-in): the registry
 * container is replaced, the data volume is the same one, every digest pushed under 2.8 (each
 * platform of the index too) pulls under 3 and every tag still names its digest, pushes work, and
 * `pulumi preview --expect-no-changes` passes after.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mkdirSync, writeFileSync } from "fs";
import { join } from "path";
import { DEFAULT_IMAGES } from "../../components/config/keys";
import { SEED_PLATFORMS, writeOciIndexLayout, writeOciLayout } from "../support/ociLayout";
import { run, runCleanups } from "../../scripts/lib/processes";
import { buildRegistry } from "../e2e/support/standins";
import { EngineStack, prepareEngineStack } from "./support/engineStack";
import { updateRecord } from "./support/engineProject";

const HOSTNAME = "registry-upgrade.test";
const PREFIX = "pr-upgrade";
const OLD_IMAGE = "registry:2.8.3";

describe("upgrade: Distribution 2.8 to 3 in one pulumi up, every image kept (real engine)", () => {
    let stack: EngineStack;
    let endpoint: string;
    let creds: string;
    let caDir: string;
    /** repository → [reference (tag or digest), manifest digest] pushed under 2.8. */
    const pushed: { repository: string; tag?: string; digest: string }[] = [];

    const skopeo = (args: string[]) => run("skopeo", args, { allowFailure: true, timeoutMs: 120_000 });
    const registryVersion = async () => (await stack.docker(["exec", `${PREFIX}-registry`, "registry", "--version"])).stdout;
    const volumeCreated = async () => (await stack.docker(["volume", "inspect", "-f", "{{.CreatedAt}}", `${PREFIX}-data`])).stdout.trim();

    before(async () => {
        stack = await prepareEngineStack({ hostname: HOSTNAME, namePrefix: PREFIX, stack: "upgrade" });
        await buildRegistry(stack.dockerd, OLD_IMAGE, join(stack.work, "standin-2.8"));
        stack.setConfig({ images: { registry: OLD_IMAGE } });
    });
    after(runCleanups);

    it("deploys with Distribution 2.8 and takes pushes: two images and a multi-arch index", async () => {
        const up = await stack.pulumi(["up", "--yes", "--skip-preview"]);
        assert.equal(up.code, 0);
        assert.match(await registryVersion(), /2\.8\./);
        const outputs = JSON.parse((await stack.pulumi(["stack", "output", "--json", "--show-secrets"])).stdout);
        endpoint = outputs.registryEndpoint;
        const admin = (outputs.credentials as { username: string; password: string; role: string }[]).find((c) => c.role === "push")!;
        creds = `${admin.username}:${admin.password}`;
        caDir = join(stack.work, "ca");
        mkdirSync(caDir);
        writeFileSync(join(caDir, "ca.crt"), outputs.caCertificate);

        const layouts = join(stack.work, "layouts");
        const push = async (layout: string, tag: string, reference: string, all = false) => {
            const result = await skopeo([
                "copy",
                "--quiet",
                ...(all ? ["--all"] : []),
                "--dest-cert-dir",
                caDir,
                "--dest-creds",
                creds,
                `oci:${layout}:${tag}`,
                `docker://${endpoint}/${reference}`,
            ]);
            assert.equal(result.code, 0, `${reference}: ${result.stderr}`);
        };
        for (const [repository, text] of [
            ["team/app", "app under 2.8\n"],
            ["base", "base under 2.8\n"],
        ]) {
            const digest = writeOciLayout(join(layouts, repository.replace("/", "-")), text);
            await push(join(layouts, repository.replace("/", "-")), "1", `${repository}:1`);
            pushed.push({ repository, tag: "1", digest });
        }
        const { index, children } = writeOciIndexLayout(join(layouts, "multi"), SEED_PLATFORMS, "multi", "upgrade");
        await push(join(layouts, "multi"), "multi", "team/multi:1", true);
        pushed.push({ repository: "team/multi", tag: "1", digest: index });
        for (const digest of Object.values(children)) pushed.push({ repository: "team/multi", digest });
    });

    it("switches images.registry to Distribution 3 with one pulumi up: the registry replaced, the volume the same", async () => {
        const volumeBefore = await volumeCreated();
        stack.setConfig({ images: { registry: DEFAULT_IMAGES.registry } });
        const up = await stack.pulumi(["up", "--yes", "--skip-preview", "--json"]);
        assert.equal(up.code, 0);
        const record = updateRecord(up.stdout);
        assert.ok(
            record.steps.some((step) => /^(replace|create-replacement) registry-registry$/.test(step)),
            `the registry container is replaced: ${record.steps.join(", ")}`,
        );
        assert.ok(
            !record.steps.some((step) => /registry-registry-data/.test(step)),
            `the data volume is untouched: ${record.steps.join(", ")}`,
        );
        assert.match(await registryVersion(), /v3\.1\.2/);
        assert.equal(await volumeCreated(), volumeBefore, "the same data volume");
        const command = (
            await stack.docker(["inspect", "-f", "{{json .Config.Cmd}} {{range .Mounts}}{{.Destination}} {{end}}", `${PREFIX}-registry`])
        ).stdout;
        assert.match(command, /\/var\/lib\/registry/);
    });

    it("pulls every digest pushed under 2.8, and every tag still names its digest", async () => {
        assert.ok(pushed.length >= 6);
        mkdirSync(join(stack.work, "pulled"));
        for (const { repository, tag, digest } of pushed) {
            const pulled = await skopeo([
                "copy",
                "--quiet",
                "--all",
                "--src-cert-dir",
                caDir,
                "--src-creds",
                creds,
                `docker://${endpoint}/${repository}@${digest}`,
                `dir:${join(stack.work, "pulled", digest.slice(7, 19))}`,
            ]);
            assert.equal(pulled.code, 0, `${repository}@${digest}: ${pulled.stderr}`);
            if (tag !== undefined) {
                const inspected = await skopeo([
                    "inspect",
                    "--raw",
                    "--cert-dir",
                    caDir,
                    "--creds",
                    creds,
                    `docker://${endpoint}/${repository}:${tag}`,
                ]);
                const sha = (await run("sha256sum", [], { input: inspected.stdout })).stdout.split(" ")[0];
                assert.equal(`sha256:${sha}`, digest, `${repository}:${tag} still names ${digest}`);
            }
        }
        const layout = join(stack.work, "layouts", "after");
        writeOciLayout(layout, "pushed under 3\n");
        const pushedUnder3 = await skopeo([
            "copy",
            "--quiet",
            "--dest-cert-dir",
            caDir,
            "--dest-creds",
            creds,
            `oci:${layout}:1`,
            `docker://${endpoint}/team/app:2`,
        ]);
        assert.equal(pushedUnder3.code, 0, pushedUnder3.stderr);
    });

    it("pulumi preview --expect-no-changes passes after the upgrade", async () => {
        const preview = await stack.pulumi(["preview", "--expect-no-changes", "--diff"], { allowFailure: true });
        assert.equal(preview.code, 0, preview.stdout + preview.stderr);
    });
});
