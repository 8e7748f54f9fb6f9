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
import { parse as parseYaml } from "yaml";
import type { ClientSnippet, ContainerdSnippet } from "../../components/render/clientSnippets";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../harness/evaluate";
import { k3sRegistriesCheck } from "../go/builds";
import { freePort } from "../support/loopbackServers";
import { makeTempDir, registerCleanup, run, runCleanups } from "../support/processes";
import { DOCKER_CLI, PrivateDockerd, startDockerd } from "./support/dockerd";
import { addHostsEntry } from "./support/hostsFile";
import { imageNames, replay } from "./support/replay";
import { buildStandInImages, buildTestImage } from "./support/standins";

const NAME = "registry-builders.test";
const PREFIX = "pr-builders";
const OUTPUT_DIR = resolve(__dirname, "../../test-output");
const PLATFORMS = ["amd64", "arm64", "riscv64"] as const;
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const REQUIRED = ["/usr/sbin/dockerd", "/usr/bin/docker", "/usr/bin/ctr", "/usr/bin/skopeo", "/usr/bin/buildah", "/usr/bin/chromium", "/usr/bin/certutil", "/usr/bin/curl"];

interface Credential {
    username: string;
    password: string;
    role: "push" | "pull";
}

interface Snippets {
    docker: ClientSnippet;
    containerd: ContainerdSnippet;
    buildkit: ClientSnippet;
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
        if (!existsSync(join(nssDb, "cert9.db"))) {
            mkdirSync(nssDb, { recursive: true });
            await run("certutil", ["-d", `sql:${nssDb}`, "-N", "--empty-password"]);
            await run("certutil", ["-d", `sql:${nssDb}`, "-A", "-t", "C,,", "-n", "private-registry-ca", "-i", join(caDir, "ca.crt")]);
        }
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
        const ports = { https: await freePort(), http: await freePort(), ui: await freePort() };
        declared = await evaluateProgram({
            config: {
                ...devStackConfig(),
                hostnames: [NAME],
                ipAddresses: ["::1"],
                containerNetwork: "host",
                httpsPort: ports.https,
                httpPort: ports.http,
                uiPort: ports.ui,
                namePrefix: PREFIX,
                users: ["admin", { name: "node", role: "pull" }],
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

    it("k3s's own loader (wharfie) reads the nodeSetup script's registries.yaml and fetches the image with the pull account", async () => {
        const check = await k3sRegistriesCheck();
        const root = join(work, "k3s-node");
        mkdirSync(join(root, "etc"), { recursive: true });
        writeFileSync(join(root, "etc/hosts"), `::1 ${NAME}\n`);
        writeFileSync(join(work, "node-setup.sh"), snippets.nodeSetup);
        await run("sh", [join(work, "node-setup.sh")], { env: { ...process.env, ROOT: root } });
        const view = JSON.parse((await run(check, ["-root", root, "-image", `${endpoint}/builders/multi:1`, "/etc/rancher/k3s/registries.yaml", endpoint], { timeoutMs: 120_000 })).stdout);
        assert.deepEqual(view.resolved[endpoint].endpoints, [`https://${endpoint}`]);
        assert.deepEqual({ username: view.resolved[endpoint].auth.username, password: view.resolved[endpoint].auth.password }, { username: node.username, password: node.password });
        // wharfie resolves an index to its default platform, linux/amd64, as go-containerregistry does.
        assert.equal(view.digest, platformDigests.amd64);
    });

    it("nodes' snippets carry the pull account, builders' the push account", () => {
        assert.deepEqual(users.map((u) => [u.username, u.role]), [["admin", "push"], ["node", "pull"]]);
        const registries = parseYaml(snippets.k3s.files.find((f) => f.path.endsWith("registries.yaml"))!.content);
        assert.deepEqual(registries.configs[endpoint].auth, { username: node.username, password: node.password });
        const pullSecret = parseYaml(snippets.imagePullSecret);
        const auths = JSON.parse(Buffer.from(pullSecret.data[".dockerconfigjson"], "base64").toString()).auths;
        assert.equal(auths[endpoint].username, node.username);
        assert.match(snippets.nodeSetup, new RegExp(`--username 'node' --password-stdin`));
        assert.ok(!snippets.nodeSetup.includes(builder.password), "no node carries the push password");
        assert.match(snippets.docker.commands.join("\n"), /--username 'admin' --password-stdin/);
        assert.match(snippets.buildkit.commands.join("\n"), /--username 'admin' --password-stdin/);
    });

    it("docker: the push user pushes; the pull user pulls it and its push is denied", async () => {
        const certsDir = `/etc/docker/certs.d/${endpoint}`;
        registerCleanup(`remove ${certsDir}`, () => run("rm", ["-rf", certsDir]).then(() => undefined));
        writeFileSync(join(work, "docker.sh"), snippets.docker.script);
        const login = await run("sh", [join(work, "docker.sh")], { env: { ...process.env, ...dockerd.env }, input: builder.password });
        assert.match(login.stdout + login.stderr, /Login Succeeded/);
        const image = await buildTestImage(dockerd, `${endpoint}/builders/docker:1`, 1024 * 1024, join(work, "images"));
        await dockerd.docker(["push", image.name], { timeoutMs: 120_000 });

        // The node's own Docker client config, logged in with the pull account.
        const asNode = { ...process.env, ...dockerd.env, DOCKER_CONFIG: join(work, "node-docker") };
        const nodeDocker = (args: string[]) => run(DOCKER_CLI, args, { env: asNode, allowFailure: true, timeoutMs: 120_000 });
        const badLogin = await run(DOCKER_CLI, ["login", endpoint, "--username", node.username, "--password-stdin"], { env: asNode, input: `wrong-${node.password}`, allowFailure: true });
        assert.notEqual(badLogin.code, 0, "a wrong password logs in");
        assert.match(badLogin.stderr, /401|unauthorized/i);
        const nodeLogin = await run(DOCKER_CLI, ["login", endpoint, "--username", node.username, "--password-stdin"], { env: asNode, input: node.password });
        assert.match(nodeLogin.stdout + nodeLogin.stderr, /Login Succeeded/);
        await dockerd.docker(["rmi", image.name]);
        const pulled = await nodeDocker(["pull", image.name]);
        assert.equal(pulled.code, 0, pulled.stderr);
        await dockerd.docker(["tag", image.name, `${endpoint}/builders/docker:from-node`]);
        const pushed = await nodeDocker(["push", `${endpoint}/builders/docker:from-node`]);
        assert.notEqual(pushed.code, 0, "the pull user pushed");
        assert.match(pushed.stderr, /denied: this account may only pull/);
    });

    it("ctr: the pull user's push is refused with 403, the push user's goes through", async () => {
        await ctr(["images", "pull", "--hosts-dir", hostsDir, "--user", creds(node), "--snapshotter", "native", `${endpoint}/builders/docker:1`]);
        await ctr(["images", "tag", `${endpoint}/builders/docker:1`, `${endpoint}/builders/ctr:1`]);
        const refused = await ctr(["images", "push", "--hosts-dir", hostsDir, "--user", creds(node), `${endpoint}/builders/ctr:1`], { allowFailure: true });
        assert.notEqual(refused.code, 0, "ctr pushed with the pull account");
        assert.match(refused.stderr, /403 Forbidden/);
        await ctr(["images", "push", "--hosts-dir", hostsDir, "--user", creds(builder), `${endpoint}/builders/ctr:1`]);
    });

    it("skopeo: the pull user copies out but not in; the push user copies in", async () => {
        const layout = `oci:${join(work, "skopeo-layout")}:docker`;
        await run("skopeo", ["copy", "--src-cert-dir", caDir, "--src-creds", creds(node), `docker://${endpoint}/builders/docker:1`, layout], { timeoutMs: 120_000 });
        const refused = await run("skopeo", ["copy", "--dest-cert-dir", caDir, "--dest-creds", creds(node), layout, `docker://${endpoint}/builders/skopeo:1`], { allowFailure: true, timeoutMs: 120_000 });
        assert.notEqual(refused.code, 0, "skopeo copied in with the pull account");
        assert.match(refused.stderr, /denied: this account may only pull/);
        await run("skopeo", ["copy", "--dest-cert-dir", caDir, "--dest-creds", creds(builder), layout, `docker://${endpoint}/builders/skopeo:1`], { timeoutMs: 120_000 });
        await run("skopeo", ["copy", "--dest-cert-dir", caDir, "--dest-creds", creds(builder), layout, `docker://${endpoint}/builders/ui-delete:1`], { timeoutMs: 120_000 });
    });

    it("API DELETE: 403 for the pull user, 202 for the push user; a wrong password 401", async () => {
        const head = await curl(["-I", "-u", creds(node), "-H", "Accept: application/vnd.oci.image.manifest.v1+json", `https://${endpoint}/v2/builders/skopeo/manifests/1`]);
        const digest = /^docker-content-digest: (\S+)/im.exec(head.stdout)![1];
        const status = (user: string) => curl(["-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", "-u", user, `https://${endpoint}/v2/builders/skopeo/manifests/${digest}`]);
        assert.equal((await status(creds(node))).stdout, "403");
        assert.equal((await status(`${builder.username}:wrong-${builder.password}`)).stdout, "401");
        assert.equal((await status(creds(builder))).stdout, "202");
        const gone = await curl(["-o", "/dev/null", "-w", "%{http_code}", "-u", creds(node), "-H", "Accept: application/vnd.oci.image.manifest.v1+json", `https://${endpoint}/v2/builders/skopeo/manifests/1`]);
        assert.equal(gone.stdout, "404");
    });

    it("the real UI, as the node: the repository list, the tags, a tag's digest and platforms", async () => {
        const context = await browserAs(node);
        const page = await context.newPage();
        await page.goto(`https://${endpoint}/`);
        // joxit groups repositories by their first path part: a "builders" branch holding each one.
        const repository = page.locator("catalog-element", { hasText: "builders/multi" }).last();
        await repository.waitFor({ timeout: 20_000 });
        await page.screenshot({ path: join(OUTPUT_DIR, "ui-catalog.png"), fullPage: true });

        await repository.click();
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

    it("the real UI with deleteEnabled: the pull user's delete is refused and the tag stays, the push user's deletes it", async () => {
        const tagStatus = async () => (await curl(["-o", "/dev/null", "-w", "%{http_code}", "-u", creds(node), "-H", "Accept: application/vnd.oci.image.manifest.v1+json", `https://${endpoint}/v2/builders/ui-delete/manifests/1`])).stdout;
        assert.equal(await tagStatus(), "200");
        const expected = { node: { status: 403, tag: "200" }, admin: { status: 202, tag: "404" } };
        for (const user of [node, builder]) {
            const context = await browserAs(user);
            const page = await context.newPage();
            await page.goto(`https://${endpoint}/#!/taglist/builders/ui-delete`);
            const row = page.locator("tag-table tbody tr", { has: page.locator("image-tag", { hasText: /^1$/ }) });
            await row.locator("remove-image button").click({ timeout: 20_000 });
            const confirm = page.locator("confirm-delete-image material-popup .material-popup-action material-button", { hasText: /delete/i });
            const deleted = page.waitForResponse((response) => response.request().method() === "DELETE", { timeout: 20_000 });
            await confirm.click({ timeout: 10_000 });
            const response = await deleted;
            assert.equal(response.status(), expected[user.username as keyof typeof expected].status, `${user.username}'s DELETE`);
            assert.match(response.url(), /\/v2\/builders\/ui-delete\/manifests\/sha256:[0-9a-f]{64}$/);
            // The UI reports the outcome in its snackbar: the edge's refusal, word for word.
            if (user.role === "pull") await page.locator("material-snackbar", { hasText: "this account may only pull" }).waitFor({ timeout: 10_000 });
            else await page.locator("material-snackbar", { hasText: "Deleting builders/ui-delete:1" }).waitFor({ timeout: 10_000 });
            await page.screenshot({ path: join(OUTPUT_DIR, `ui-delete-as-${user.role}-user.png`), fullPage: true });
            await context.close();
            assert.equal(await tagStatus(), expected[user.username as keyof typeof expected].tag, `the tag after ${user.username}'s delete`);
        }
    });
});
