/**
 * End to end, the seeds' whole path: a builder pushes a multi-platform image (an OCI index of
 * linux/amd64, linux/arm64 and linux/riscv64) with a push account, boards pull their own platform
 * with a pull account, and the real joxit UI (built from its upstream dist/, see
 * support/uiStandin.ts) shows it, all through the declared stack replayed on a private dockerd,
 * every client configured from `clientSnippets`.
 *
 * As in stack.test.ts, the registry's name resolves to ::1 only, so dockerd checks certificates.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import type { ClientSnippet, ContainerdSnippet } from "../../components/render/clientSnippets";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../harness/evaluate";
import { freePort } from "../support/loopbackServers";
import { makeTempDir, registerCleanup, run, runCleanups } from "../support/processes";
import { PrivateDockerd, startDockerd } from "./support/dockerd";
import { addHostsEntry } from "./support/hostsFile";
import { imageNames, replay } from "./support/replay";
import { buildStandInImages } from "./support/standins";

const NAME = "registry-builders.test";
const PREFIX = "pr-builders";
const OUTPUT_DIR = resolve(__dirname, "../../test-output");
const PLATFORMS = ["amd64", "arm64", "riscv64"] as const;
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const REQUIRED = ["/usr/sbin/dockerd", "/usr/bin/docker", "/usr/bin/ctr", "/usr/bin/skopeo", "/usr/bin/buildah", "/usr/bin/chromium", "/usr/bin/certutil", "/usr/bin/curl"];

interface Credential {
    username: string;
    password: string;
}

interface Snippets {
    docker: ClientSnippet;
    containerd: ContainerdSnippet;
    k3s: ClientSnippet;
    imagePullSecret: string;
    nodeSetup: string;
}

describe("end to end: builders push a multi-platform image, nodes pull their platform, the real UI shows it", () => {
    let work: string;
    let dockerd: PrivateDockerd;
    let declared: EvaluationResult;
    let endpoint: string;
    let snippets: Snippets;
    let users: Credential[];
    let builder: Credential;
    let node: Credential;
    let caDir: string;
    let hostsDir: string;
    /** The pushed index's digest, and each platform's manifest digest. */
    let indexDigest: string;
    const platformDigests: Record<string, string> = {};

    const curl = (args: string[]) => run("curl", ["-sS", "--max-time", "30", "--cacert", join(caDir, "ca.crt"), ...args], { allowFailure: true });
    const creds = (user: Credential) => `${user.username}:${user.password}`;
    const buildah = (args: string[], options: { allowFailure?: boolean } = {}) =>
        run("buildah", ["--root", join(work, "buildah/root"), "--runroot", join(work, "buildah/run"), "--storage-driver", "vfs", ...args], { timeoutMs: 180_000, ...options });
    const ctr = (args: string[], options: { allowFailure?: boolean } = {}) =>
        run("ctr", ["--address", dockerd.containerdSocket, "--namespace", "builders", ...args], { timeoutMs: 180_000, ...options });


    /** Headless Chromium trusting the stack's CA (NSS db under its $HOME), logged in as `user`. */
    async function browserAs(user: Credential) {
        const { chromium } = await import("playwright-core");
        const home = join(work, `chromium-${user.username}`);
        const nssDb = join(home, ".pki/nssdb");
        mkdirSync(nssDb, { recursive: true });
        await run("certutil", ["-d", `sql:${nssDb}`, "-N", "--empty-password"]);
        await run("certutil", ["-d", `sql:${nssDb}`, "-A", "-t", "C,,", "-n", "private-registry-ca", "-i", join(caDir, "ca.crt")]);
        const context = await chromium.launchPersistentContext(join(home, "profile"), {
            executablePath: "/usr/bin/chromium",
            env: { ...process.env, HOME: home },
            httpCredentials: { username: user.username, password: user.password },
            viewport: { width: 1600, height: 900 },
            args: [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic",
                `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${NAME}`,
            ],
        });
        registerCleanup(`close chromium (${user.username})`, () => context.close());
        return context;
    }

    before(async () => {
        const missing = REQUIRED.filter((path) => !existsSync(path));
        assert.deepEqual(missing, [], `missing prerequisites (install them as .ci/run does): ${missing.join(", ")}`);
        mkdirSync(OUTPUT_DIR, { recursive: true });
        work = makeTempDir("pr-bld-");
        const ports = { https: await freePort(), http: await freePort(), registry: await freePort(), ui: await freePort() };
        declared = await evaluateProgram({
            config: {
                ...devStackConfig(),
                hostnames: [NAME],
                ipAddresses: ["::1"],
                containerNetwork: "host",
                httpsPort: ports.https,
                httpPort: ports.http,
                registryPort: ports.registry,
                uiPort: ports.ui,
                namePrefix: PREFIX,
                users: ["admin", "node"],
                deleteEnabled: true,
            },
        });
        assert.equal(declared.error, undefined, declared.error);
        snippets = declared.outputs.clientSnippets.value as Snippets;
        endpoint = declared.outputs.registryEndpoint.value as string;
        users = declared.outputs.credentials.value as Credential[];
        builder = users.find((u) => u.username === "admin")!;
        node = users.find((u) => u.username === "node")!;
        caDir = join(work, "ca");
        mkdirSync(caDir);
        writeFileSync(join(caDir, "ca.crt"), declared.outputs.caCertificate.value as string);
        addHostsEntry("::1", NAME);
        dockerd = await startDockerd(join(work, "d"));
        const names = imageNames(declared);
        await buildStandInImages(dockerd, { registry: names["registry-registry-image"], ui: names["registry-ui-image"], edge: names["registry-edge-image"] }, work);
        await replay(dockerd, declared, work);
        const root = join(work, "containerd-root");
        writeFileSync(join(work, "containerd.sh"), snippets.containerd.script);
        await run("sh", [join(work, "containerd.sh")], { env: { ...process.env, ROOT: root } });
        hostsDir = join(root, "etc/containerd/certs.d");
    });

    after(async () => {
        await runCleanups();
    });

    it("buildah: builds one tiny image per platform and pushes them as one OCI index through the edge", async () => {
        for (const arch of PLATFORMS) {
            writeFileSync(join(work, `${arch}.txt`), `hello from linux/${arch}\n`);
            const container = (await buildah(["from", "--arch", arch, "scratch"])).stdout.trim();
            await buildah(["copy", container, join(work, `${arch}.txt`), "/hello.txt"]);
            await buildah(["config", "--os", "linux", "--arch", arch, "--cmd", '["/hello.txt"]', container]);
            await buildah(["commit", "--format", "oci", container, `localhost/multi:${arch}`]);
        }
        await buildah(["manifest", "create", "localhost/multi:1"]);
        for (const arch of PLATFORMS) await buildah(["manifest", "add", "localhost/multi:1", `containers-storage:localhost/multi:${arch}`]);
        const digestFile = join(work, "index.digest");
        await buildah(["manifest", "push", "--all", "--format", "oci", "--cert-dir", caDir, "--creds", creds(builder), "--digestfile", digestFile, "localhost/multi:1", `docker://${endpoint}/builders/multi:1`]);
        indexDigest = readFileSync(digestFile, "utf8").trim();
        assert.match(indexDigest, /^sha256:[0-9a-f]{64}$/);

        const fetched = await curl(["-u", creds(node), "-H", `Accept: ${OCI_INDEX}`, "-D", join(work, "index.headers"), `https://${endpoint}/v2/builders/multi/manifests/1`]);
        const headers = readFileSync(join(work, "index.headers"), "utf8");
        assert.match(headers, new RegExp(`^content-type: ${OCI_INDEX.replace(/[.+]/g, "\\$&")}`, "im"));
        assert.match(headers, new RegExp(`^docker-content-digest: ${indexDigest}`, "im"));
        const index = JSON.parse(fetched.stdout) as { manifests: { digest: string; platform: { os: string; architecture: string } }[] };
        assert.deepEqual(index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort(), PLATFORMS.map((a) => `linux/${a}`).sort());
        for (const manifest of index.manifests) platformDigests[manifest.platform.architecture] = manifest.digest;
    });

    it("skopeo --override-arch riscv64 copies exactly the riscv64 image out, as the node", async () => {
        const layout = join(work, "riscv64-layout");
        await run("skopeo", ["--override-arch", "riscv64", "--override-os", "linux", "copy", "--src-cert-dir", caDir, "--src-creds", creds(node),
            `docker://${endpoint}/builders/multi:1`, `oci:${layout}:multi`], { timeoutMs: 120_000 });
        const copied = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: { digest: string }[] };
        assert.deepEqual(copied.manifests.map((m) => m.digest), [platformDigests.riscv64]);
        const manifest = JSON.parse(readFileSync(join(layout, "blobs", ...platformDigests.riscv64.split(":")), "utf8"));
        const config = JSON.parse(readFileSync(join(layout, "blobs", ...(manifest.config.digest as string).split(":")), "utf8"));
        assert.equal(config.architecture, "riscv64");
    });

    it("ctr pull --platform linux/riscv64 with the rendered hosts.toml fetches the index and only the riscv64 image", async () => {
        await ctr(["images", "pull", "--hosts-dir", hostsDir, "--user", creds(node), "--platform", "linux/riscv64", `${endpoint}/builders/multi:1`]);
        const listed = (await ctr(["images", "ls"])).stdout;
        assert.match(listed, new RegExp(`^${endpoint}/builders/multi:1\\s+\\S+\\s+${indexDigest}`, "m"));
        const content = (await ctr(["content", "ls", "-q"])).stdout;
        assert.match(content, new RegExp(platformDigests.riscv64));
        assert.doesNotMatch(content, new RegExp(platformDigests.arm64), "ctr fetched the arm64 image too");
    });

    it("the real UI, as the node: the repository list, the tags, a tag's digest and platforms", async () => {
        const context = await browserAs(node);
        const page = await context.newPage();
        await page.goto(`https://${endpoint}/`);
        await page.locator("catalog-element", { hasText: "builders/multi" }).waitFor({ timeout: 20_000 });
        await page.screenshot({ path: join(OUTPUT_DIR, "ui-catalog.png"), fullPage: true });

        await page.locator("catalog-element", { hasText: "builders/multi" }).click();
        await page.waitForURL(/#!\/taglist\/builders\/multi/);
        const row = page.locator("tag-table tbody tr", { has: page.locator("image-tag", { hasText: /^1$/ }) });
        await row.locator("architectures .architecture").first().waitFor({ timeout: 20_000 });
        // Wide enough, the UI shows the whole digest; narrower, it shortens it and puts it in `title`.
        const digest = row.locator("image-content-digest div", { hasText: /^sha256:/ });
        await digest.waitFor({ timeout: 20_000 });
        // For an index, joxit 2.5.7 describes its first image (here linux/amd64): that image's digest.
        assert.equal((await digest.getAttribute("title")) ?? (await digest.textContent()), platformDigests.amd64, "the UI shows the first platform's digest");
        assert.deepEqual(await row.locator("architectures .architecture").allTextContents(), [...PLATFORMS]);
        await page.screenshot({ path: join(OUTPUT_DIR, "ui-tags.png"), fullPage: true });

        await row.locator("tag-history-button a").click();
        await page.waitForURL(/#!\/taghistory\/image\/builders\/multi\/tag\/1/);
        const tabs = page.locator("material-tabs .text");
        await tabs.first().waitFor({ timeout: 20_000 });
        assert.deepEqual(await tabs.allTextContents(), PLATFORMS.map((arch) => `linux/${arch}`));
        await tabs.filter({ hasText: "linux/riscv64" }).click();
        const architecture = page.locator("tag-history-element.architecture .value");
        await page.waitForFunction(() => document.querySelector("tag-history-element.architecture .value")?.textContent === "riscv64", undefined, { timeout: 20_000 });
        assert.equal(await architecture.first().textContent(), "riscv64");
        await page.waitForTimeout(500); // the tab's underline slides over
        await page.screenshot({ path: join(OUTPUT_DIR, "ui-tag-riscv64.png"), fullPage: true });
        await context.close();
    });
});
