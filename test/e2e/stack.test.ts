/**
 * End to end: what the program declares for local mode, replayed on a real dockerd, then used by
 * real clients (Docker, containerd's ctr, skopeo, curl, headless Chromium) configured only from
 * the stack's own `clientSnippets` output.
 *
 * The registry's name resolves to ::1 only: dockerd counts every 127.0.0.0/8 registry as
 * insecure and would skip certificate checks, so the CA tests would prove nothing there.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { parse as parseYaml } from "yaml";
import type { ClientSnippet, ContainerdSnippet } from "../../components/render/clientSnippets";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../harness/evaluate";
import { freePort } from "../support/loopbackServers";
import { makeTempDir, registerCleanup, run, runCleanups } from "../support/processes";
import { PrivateDockerd, startDockerd } from "./support/dockerd";
import { addHostsEntry } from "./support/hostsFile";
import { containerInputs, imageNames, replaceContainer, replay } from "./support/replay";
import { buildStandInImages, buildTestImage } from "./support/standins";

const NAME = "registry-e2e.test";
const PREFIX = "pr-e2e";
const OUTPUT_DIR = resolve(__dirname, "../../test-output");
const REQUIRED = ["/usr/sbin/dockerd", "/usr/bin/docker", "/usr/bin/ctr", "/usr/bin/skopeo", "/usr/sbin/nginx", "/usr/bin/docker-registry", "/bin/busybox", "/usr/bin/chromium", "/usr/bin/certutil", "/usr/bin/curl"];

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

/** Writes a snippet's script and runs it with `sh`, as a person pasting it would. */
async function runSnippet(dir: string, name: string, script: string, options: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
    const path = join(dir, `${name}.sh`);
    writeFileSync(path, script);
    return run("sh", [path], { env: { ...process.env, ...options.env }, input: options.input });
}

describe("end to end: the declared local stack on a real Docker engine", () => {
    let work: string;
    let dockerd: PrivateDockerd;
    let declared: EvaluationResult;
    let config: Record<string, unknown>;
    let endpoint: string;
    let ports: { https: number; http: number; registry: number; ui: number };
    let snippets: Snippets;
    let admin: Credential;
    let ca: string;
    const pushedDigests: Record<string, string> = {};

    const curl = (args: string[], allowFailure = true) => run("curl", ["-sS", "--max-time", "30", ...args], { allowFailure });
    const docker = (args: string[], timeoutMs = 120_000) => dockerd.docker(args, { timeoutMs });

    before(async () => {
        const missing = REQUIRED.filter((path) => !existsSync(path));
        assert.deepEqual(missing, [], `missing prerequisites (install them as .ci/run does): ${missing.join(", ")}`);
        mkdirSync(OUTPUT_DIR, { recursive: true });
        // Short: containerd's socket path under it must stay within the unix socket limit.
        work = makeTempDir("pr-e2e-");
        ports = { https: await freePort(), http: await freePort(), registry: await freePort(), ui: await freePort() };
        config = {
            ...devStackConfig(),
            hostnames: [NAME],
            ipAddresses: ["::1"],
            containerNetwork: "host",
            httpsPort: ports.https,
            httpPort: ports.http,
            registryPort: ports.registry,
            uiPort: ports.ui,
            namePrefix: PREFIX,
            users: ["admin", "ci"],
        };
        declared = await evaluateProgram({ config });
        assert.equal(declared.error, undefined, declared.error);
        snippets = declared.outputs.clientSnippets.value as Snippets;
        endpoint = declared.outputs.registryEndpoint.value as string;
        [admin] = declared.outputs.credentials.value as Credential[];
        ca = declared.outputs.caCertificate.value as string;
        writeFileSync(join(work, "ca.crt"), ca);
        addHostsEntry("::1", NAME);
        dockerd = await startDockerd(join(work, "d"));
    });

    after(async () => {
        await runCleanups();
    });

    it("declares the endpoint clients use: the name, the HTTPS port", () => {
        assert.equal(endpoint, `${NAME}:${ports.https}`);
    });

    it("builds stand-in images under the image names the stack declares", async () => {
        const names = imageNames(declared);
        await buildStandInImages(dockerd, { registry: names["registry-registry-image"], ui: names["registry-ui-image"], edge: names["registry-edge-image"] }, work);
        const listed = (await docker(["images", "--format", "{{.Repository}}:{{.Tag}}"])).stdout;
        for (const name of Object.values(names)) assert.match(listed, new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`, "m"));
    });

    it("runs the declared registry, UI and edge containers, and each turns healthy", async () => {
        await replay(dockerd, declared, work);
        const states = (await docker(["ps", "--format", "{{.Names}} {{.Status}}"])).stdout;
        for (const role of ["registry", "ui", "edge"]) assert.match(states, new RegExp(`^${PREFIX}-${role} Up .*\\(healthy\\)`, "m"));
        const volumes = (await docker(["volume", "ls", "--format", "{{.Name}}"])).stdout;
        assert.match(volumes, new RegExp(`^${PREFIX}-data$`, "m"));
    });

    it("exposes only the edge: the registry and the UI listen on loopback, not on the registry's address", async () => {
        const listening = (await run("ss", ["-ltnH"])).stdout.split("\n").map((line) => line.split(/\s+/)[3]).filter(Boolean);
        const on = (port: number) => listening.filter((address) => address.endsWith(`:${port}`));
        assert.deepEqual(on(ports.registry), [`127.0.0.1:${ports.registry}`]);
        assert.deepEqual(on(ports.ui), [`127.0.0.1:${ports.ui}`]);
        assert.ok(on(ports.https).includes(`[::]:${ports.https}`), `edge listens on ${on(ports.https)}`);
        const direct = await curl(["-o", "/dev/null", "-w", "%{http_code}", `http://[::1]:${ports.registry}/v2/`]);
        assert.notEqual(direct.code, 0, "the registry answered on the registry name's address without the edge");
    });

    it("redirects plain HTTP to HTTPS and never serves the registry over it", async () => {
        const response = await curl(["-i", `http://${NAME}:${ports.http}/v2/_catalog`]);
        assert.match(response.stdout, /^HTTP\/1\.1 301/);
        assert.match(response.stdout, new RegExp(`Location: https://${NAME}:${ports.https}/v2/_catalog`, "i"));
        assert.doesNotMatch(response.stdout, /repositories/);
    });

    it("answers 401 without credentials and with a wrong password, 200 with each user's", async () => {
        const status = async (user?: string) =>
            (await curl(["-o", "/dev/null", "-w", "%{http_code}", "--cacert", join(work, "ca.crt"), ...(user ? ["-u", user] : []), `https://${endpoint}/v2/`])).stdout;
        assert.equal(await status(), "401");
        assert.equal(await status(`${admin.username}:wrong-${admin.password}`), "401");
        for (const user of declared.outputs.credentials.value as Credential[]) assert.equal(await status(`${user.username}:${user.password}`), "200", user.username);
    });

    it("docker: login fails with a certificate error before the CA is installed", async () => {
        const login = await dockerd.docker(["login", endpoint, "--username", admin.username, "--password-stdin"], { input: admin.password, allowFailure: true });
        assert.notEqual(login.code, 0, "docker trusted the registry without its CA");
        assert.match(login.stderr, /x509|certificate/i);
    });

    it("docker: the snippet installs the CA under /etc/docker/certs.d and logs in", async () => {
        const certsDir = `/etc/docker/certs.d/${endpoint}`;
        registerCleanup(`remove ${certsDir}`, () => run("rm", ["-rf", certsDir]).then(() => undefined));
        const login = await runSnippet(work, "docker", snippets.docker.script, { env: dockerd.env, input: admin.password });
        assert.match(login.stdout + login.stderr, /Login Succeeded/);
        assert.equal(readFileSync(join(certsDir, "ca.crt"), "utf8"), ca);
    });

    it("docker: pushes a small image and one with a 1 GiB layer, then pulls both back", async () => {
        for (const [repo, bytes] of [["small", 1024 * 1024], ["big", 1024 ** 3]] as const) {
            const image = await buildTestImage(dockerd, `${endpoint}/e2e/${repo}:1`, bytes, join(work, "images"));
            const push = await docker(["push", image.name], 900_000);
            pushedDigests[repo] = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1] ?? assert.fail(`no digest in: ${push.stdout}`);
            await docker(["rmi", image.name]);
            await docker(["pull", image.name], 900_000);
            assert.equal((await docker(["image", "inspect", "-f", "{{.Id}}", image.name])).stdout.trim(), image.id);
        }
    });

    it("skopeo: refuses the registry without the CA, copies out and in with it", async () => {
        const cleanCertDir = join(work, "no-ca");
        const caDir = join(work, "skopeo-ca");
        mkdirSync(cleanCertDir);
        mkdirSync(caDir);
        writeFileSync(join(caDir, "ca.crt"), ca);
        const creds = `${admin.username}:${admin.password}`;
        const refused = await run("skopeo", ["inspect", "--cert-dir", cleanCertDir, "--creds", creds, `docker://${endpoint}/e2e/small:1`], { allowFailure: true, timeoutMs: 60_000 });
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, /x509|certificate/i);
        const layout = `oci:${join(work, "oci")}:small`;
        await run("skopeo", ["copy", "--src-cert-dir", caDir, "--src-creds", creds, `docker://${endpoint}/e2e/small:1`, layout], { timeoutMs: 120_000 });
        await run("skopeo", ["copy", "--dest-cert-dir", caDir, "--dest-creds", creds, layout, `docker://${endpoint}/e2e/skopeo:1`], { timeoutMs: 120_000 });
        const inspected = await run("skopeo", ["inspect", "--cert-dir", caDir, "--creds", creds, `docker://${endpoint}/e2e/skopeo:1`], { timeoutMs: 60_000 });
        assert.equal(JSON.parse(inspected.stdout).Name, `${endpoint}/e2e/skopeo`);
    });

    it("containerd: ctr pulls and pushes with the rendered hosts.toml", async () => {
        const root = join(work, "containerd-root");
        await runSnippet(work, "containerd", snippets.containerd.script, { env: { ROOT: root } });
        const hostsDir = join(root, "etc/containerd/certs.d");
        const ctr = (args: string[]) => run("ctr", ["--address", dockerd.containerdSocket, "--namespace", "e2e", ...args], { timeoutMs: 180_000 });
        const user = `${admin.username}:${admin.password}`;
        await ctr(["images", "pull", "--hosts-dir", hostsDir, "--user", user, "--snapshotter", "native", `${endpoint}/e2e/small:1`]);
        await ctr(["images", "tag", `${endpoint}/e2e/small:1`, `${endpoint}/e2e/ctr:1`]);
        await ctr(["images", "push", "--hosts-dir", hostsDir, "--user", user, `${endpoint}/e2e/ctr:1`]);
        const withoutCa = await run("ctr", ["--address", dockerd.containerdSocket, "--namespace", "e2e", "images", "pull", "--user", user, "--snapshotter", "native", `${endpoint}/e2e/small:1`], { allowFailure: true, timeoutMs: 60_000 });
        assert.notEqual(withoutCa.code, 0, "ctr trusted the registry without hosts.toml");
        const tags = await curl(["--cacert", join(work, "ca.crt"), "-u", user, `https://${endpoint}/v2/e2e/ctr/tags/list`]);
        assert.deepEqual(JSON.parse(tags.stdout).tags, ["1"]);
    });

    it("k3s registries.yaml and the imagePullSecret carry credentials and trust the registry accepts", async () => {
        const registries = parseYaml(snippets.k3s.files.find((f) => f.path.endsWith("registries.yaml"))!.content);
        const k3s = registries.configs[endpoint];
        const caFile = snippets.k3s.files.find((f) => f.path === k3s.tls.ca_file);
        assert.ok(caFile, "the CA file registries.yaml names is in the snippet");
        writeFileSync(join(work, "k3s-ca.crt"), caFile.content);
        const viaK3s = await curl(["-o", "/dev/null", "-w", "%{http_code}", "--cacert", join(work, "k3s-ca.crt"), "-u", `${k3s.auth.username}:${k3s.auth.password}`, `https://${endpoint}/v2/_catalog`]);
        assert.equal(viaK3s.stdout, "200");

        const secret = parseYaml(snippets.imagePullSecret);
        const auth = JSON.parse(Buffer.from(secret.data[".dockerconfigjson"], "base64").toString()).auths[endpoint].auth;
        const [user, ...password] = Buffer.from(auth, "base64").toString().split(":");
        const viaSecret = await curl(["-s", "--cacert", join(work, "ca.crt"), "-u", `${user}:${password.join(":")}`, `https://${endpoint}/v2/_catalog`]);
        assert.deepEqual(JSON.parse(viaSecret.stdout).repositories.sort(), ["e2e/big", "e2e/ctr", "e2e/skopeo", "e2e/small"]);
    });

    it("keeps every image and digest when a config change replaces the registry container", async () => {
        const changed = await evaluateProgram({ config: { ...config, users: ["admin", "ci", "release"] }, previousState: declared.state });
        assert.equal(changed.error, undefined, changed.error);
        const before = containerInputs(declared, `${PREFIX}-registry`);
        const after = containerInputs(changed, `${PREFIX}-registry`);
        assert.notDeepEqual(after.uploads, before.uploads, "adding a user changes the registry's htpasswd upload");
        assert.deepEqual(after.volumes, before.volumes, "the data volume stays the same");
        const oldId = (await docker(["inspect", "-f", "{{.Id}}", `${PREFIX}-registry`])).stdout.trim();
        await replaceContainer(dockerd, changed, `${PREFIX}-registry`, work);
        assert.notEqual((await docker(["inspect", "-f", "{{.Id}}", `${PREFIX}-registry`])).stdout.trim(), oldId, "the container was replaced");

        const release = (changed.outputs.credentials.value as Credential[]).find((c) => c.username === "release")!;
        for (const [repo, digest] of Object.entries(pushedDigests)) {
            const head = await curl(["-I", "--cacert", join(work, "ca.crt"), "-u", `${release.username}:${release.password}`, "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json", `https://${endpoint}/v2/e2e/${repo}/manifests/1`]);
            assert.match(head.stdout, new RegExp(`Docker-Content-Digest: ${digest}`, "i"), `${repo} lost its manifest`);
            await docker(["rmi", `${endpoint}/e2e/${repo}:1`]);
            await docker(["pull", `${endpoint}/e2e/${repo}@${digest}`], 900_000);
        }
    });

    it("the UI, in headless Chromium, lists the pushed repositories from its same-origin /v2/_catalog", async () => {
        const { chromium } = await import("playwright-core");
        const home = join(work, "chromium-home");
        const nssDb = join(home, ".pki/nssdb");
        mkdirSync(nssDb, { recursive: true });
        await run("certutil", ["-d", `sql:${nssDb}`, "-N", "--empty-password"]);
        await run("certutil", ["-d", `sql:${nssDb}`, "-A", "-t", "C,,", "-n", "private-registry-ca", "-i", join(work, "ca.crt")]);
        // Chromium reads the CA from $HOME/.pki/nssdb; every name but the registry's stays unresolved.
        const context = await chromium.launchPersistentContext(join(work, "chromium-profile"), {
            executablePath: "/usr/bin/chromium",
            env: { ...process.env, HOME: home },
            httpCredentials: { username: admin.username, password: admin.password },
            args: [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic",
                `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${NAME}`,
            ],
        });
        registerCleanup("close chromium", () => context.close());
        const page = await context.newPage();
        const catalog = page.waitForResponse((response) => response.url() === `https://${endpoint}/v2/_catalog` || response.url().startsWith(`https://${endpoint}/v2/_catalog?`));
        await page.goto(`https://${endpoint}/`);
        const response = await catalog;
        assert.equal(response.status(), 200);
        await page.waitForSelector("#repositories li", { timeout: 15_000 });
        const listed = await page.locator("#repositories li").allTextContents();
        assert.ok(listed.some((text) => text.includes("e2e/small")), `the UI listed: ${listed.join(", ")}`);
        await page.screenshot({ path: join(OUTPUT_DIR, "ui.png"), fullPage: true });
        await context.close();
    });
});
