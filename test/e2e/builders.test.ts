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
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "fs";
import { basename, dirname, join, resolve } from "path";
import { parse as parseYaml } from "yaml";
import type { ClientSnippet, ContainerdSnippet } from "../../components/render/snippets/clientSnippets";
import { evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { hostNetworkStackConfig } from "./support/hostStack";
import { k3sRegistriesCheck } from "../go/builds";
import { freePort } from "../../scripts/lib/loopbackServers";
import { makeTempDir, registerCleanup, run, runCleanups, startDaemon, waitFor } from "../../scripts/lib/processes";
import {
    BUILDX_DEFAULT_IMAGE,
    buildBuildkitImage,
    BuildkitTools,
    buildkitTools,
    runtimeWithoutMissingCapabilities,
} from "./support/buildkit";
import { DOCKER_CLI, PrivateDockerd, startDockerd } from "./support/dockerd";
import { addHostsEntry } from "./support/hostsFile";
import { imageNames, replay } from "./support/replay";
import { buildStandInImages, buildTestImage } from "./support/standins";

const NAME = "registry-builders.test";
const PREFIX = "pr-builders";
const OUTPUT_DIR = resolve(__dirname, "../../test-output");
const PLATFORMS = ["amd64", "arm64", "riscv64"] as const;
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const REQUIRED = [
    "/usr/sbin/dockerd",
    "/usr/bin/docker",
    "/usr/bin/ctr",
    "/usr/bin/skopeo",
    "/usr/bin/buildah",
    "/usr/bin/chromium",
    "/usr/bin/certutil",
    "/usr/bin/curl",
    "/usr/sbin/runc",
];
/** What BuildKit builds: no RUN step, so no emulation (QEMU) for the foreign platform. */
const BUILDKIT_PLATFORMS = ["amd64", "riscv64"] as const;
const BUILDKIT_DOCKERFILE = "FROM scratch\nARG TARGETARCH\nCOPY hello-${TARGETARCH}.txt /hello.txt\n";
/**
 * A builder's own buildkitd.toml, there before the snippet's script runs: the script merges its
 * registry table into it, and buildkitd (and buildx's builder) must still read this setting.
 */
const OWN_BUILDKITD_TOML = `# the builder's own settings
[worker.oci]
  labels = { "private-registry.test" = "kept" }
`;
/** How `buildctl debug workers --verbose` and `docker buildx inspect` show that setting. */
const OWN_LABEL = /private-registry\.test:\s+kept/;

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

    const curl = (args: string[]) =>
        run("curl", ["-sS", "--max-time", "30", "--cacert", join(caDir, "ca.crt"), ...args], { allowFailure: true });
    const creds = (user: Credential) => `${user.username}:${user.password}`;
    const buildah = (args: string[], options: { allowFailure?: boolean } = {}) =>
        run("buildah", ["--root", join(work, "buildah/root"), "--runroot", join(work, "buildah/run"), "--storage-driver", "vfs", ...args], {
            timeoutMs: 180_000,
            ...options,
        });
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
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
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
        const { config } = await hostNetworkStackConfig(NAME, PREFIX, {
            users: ["admin", { name: "node", role: "pull" }],
            deleteEnabled: true,
        });
        declared = await evaluateProgram({ config });
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
        await buildStandInImages(
            dockerd,
            { registry: names["registry-registry-image"], ui: names["registry-ui-image"], edge: names["registry-edge-image"] },
            work,
        );
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
        await buildah([
            "manifest",
            "push",
            "--all",
            "--format",
            "oci",
            "--cert-dir",
            caDir,
            "--creds",
            creds(builder),
            "--digestfile",
            digestFile,
            "localhost/multi:1",
            `docker://${endpoint}/builders/multi:1`,
        ]);
        indexDigest = readFileSync(digestFile, "utf8").trim();
        assert.match(indexDigest, /^sha256:[0-9a-f]{64}$/);

        const fetched = await curl([
            "-u",
            creds(node),
            "-H",
            `Accept: ${OCI_INDEX}`,
            "-D",
            join(work, "index.headers"),
            `https://${endpoint}/v2/builders/multi/manifests/1`,
        ]);
        const headers = readFileSync(join(work, "index.headers"), "utf8");
        assert.match(headers, new RegExp(`^content-type: ${OCI_INDEX.replace(/[.+]/g, "\\$&")}`, "im"));
        assert.match(headers, new RegExp(`^docker-content-digest: ${indexDigest}`, "im"));
        const index = JSON.parse(fetched.stdout) as { manifests: { digest: string; platform: { os: string; architecture: string } }[] };
        assert.deepEqual(
            index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort(),
            PLATFORMS.map((a) => `linux/${a}`).sort(),
        );
        for (const manifest of index.manifests) platformDigests[manifest.platform.architecture] = manifest.digest;
    });

    it("skopeo --override-arch riscv64 copies exactly the riscv64 image out, as the node", async () => {
        const layout = join(work, "riscv64-layout");
        await run(
            "skopeo",
            [
                "--override-arch",
                "riscv64",
                "--override-os",
                "linux",
                "copy",
                "--src-cert-dir",
                caDir,
                "--src-creds",
                creds(node),
                `docker://${endpoint}/builders/multi:1`,
                `oci:${layout}:multi`,
            ],
            { timeoutMs: 120_000 },
        );
        const copied = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: { digest: string }[] };
        assert.deepEqual(
            copied.manifests.map((m) => m.digest),
            [platformDigests.riscv64],
        );
        const manifest = JSON.parse(readFileSync(join(layout, "blobs", ...platformDigests.riscv64.split(":")), "utf8"));
        const config = JSON.parse(readFileSync(join(layout, "blobs", ...(manifest.config.digest as string).split(":")), "utf8"));
        assert.equal(config.architecture, "riscv64");
    });

    it("ctr pull --platform linux/riscv64 with the rendered hosts.toml fetches the index and only the riscv64 image", async () => {
        await ctr([
            "images",
            "pull",
            "--hosts-dir",
            hostsDir,
            "--user",
            creds(node),
            "--platform",
            "linux/riscv64",
            `${endpoint}/builders/multi:1`,
        ]);
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
        const view = JSON.parse(
            (
                await run(check, ["-root", root, "-image", `${endpoint}/builders/multi:1`, "/etc/rancher/k3s/registries.yaml", endpoint], {
                    timeoutMs: 120_000,
                })
            ).stdout,
        );
        assert.deepEqual(view.resolved[endpoint].endpoints, [`https://${endpoint}`]);
        assert.deepEqual(
            { username: view.resolved[endpoint].auth.username, password: view.resolved[endpoint].auth.password },
            { username: node.username, password: node.password },
        );
        // wharfie resolves an index to its default platform, linux/amd64, as go-containerregistry does.
        assert.equal(view.digest, platformDigests.amd64);
    });

    it("nodes' snippets carry the pull account, builders' the push account", () => {
        assert.deepEqual(
            users.map((u) => [u.username, u.role]),
            [
                ["admin", "push"],
                ["node", "pull"],
            ],
        );
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

    // BuildKit itself reading the builders' snippet. buildkitd runs on the host here (as on a Linux
    // laptop with a standalone buildkitd); the buildx test below runs it the way the snippet's
    // `docker buildx create` does, in a docker-container builder.
    let buildkit: BuildkitTools;
    let buildkitdAddress: string;
    /** buildctl's index, and each platform's manifest digest in it. */
    let buildkitIndex: string;
    const buildkitDigests: Record<string, string> = {};

    /**
     * Undoes, at cleanup, what installing `snippet`'s files on this machine adds or replaces, the
     * backups the script keeps of a shared file it changed (`FILE.bak-DATE`) included.
     */
    function registerSnippetFilesCleanup(snippet: ClientSnippet): void {
        const previous = new Map(snippet.files.map((f) => [f.path, existsSync(f.path) ? readFileSync(f.path) : undefined]));
        const backups = () =>
            snippet.files.flatMap((f) =>
                existsSync(dirname(f.path))
                    ? readdirSync(dirname(f.path))
                          .filter((name) => name.startsWith(`${basename(f.path)}.bak-`))
                          .map((name) => join(dirname(f.path), name))
                    : [],
            );
        const backupsBefore = new Set(backups());
        const newDirs: string[] = [];
        for (const file of snippet.files) {
            for (let dir = dirname(file.path); dir !== "/" && !existsSync(dir) && !newDirs.includes(dir); dir = dirname(dir))
                newDirs.push(dir);
        }
        registerCleanup(`remove the ${snippet.files.map((f) => f.path).join(", ")} a snippet installed`, () => {
            for (const [path, content] of previous) {
                if (content === undefined) rmSync(path, { force: true });
                else writeFileSync(path, content);
            }
            for (const backup of backups()) if (!backupsBefore.has(backup)) rmSync(backup, { force: true });
            // Deepest first; only those this test made, and only if nothing else went in.
            for (const dir of newDirs.sort((a, b) => b.length - a.length))
                if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
        });
    }

    /** A Docker client config holding only `user`'s login, as `docker login` writes it: buildctl and buildx read it. */
    function dockerConfigFor(user: Credential): string {
        const dir = join(work, `docker-config-${user.username}`);
        mkdirSync(dir, { recursive: true });
        writeFileSync(
            join(dir, "config.json"),
            JSON.stringify({ auths: { [endpoint]: { auth: Buffer.from(creds(user)).toString("base64") } } }),
        );
        return dir;
    }

    function buildkitContext(): string {
        const dir = join(work, "buildkit-context");
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, "Dockerfile"), BUILDKIT_DOCKERFILE);
        for (const arch of BUILDKIT_PLATFORMS) writeFileSync(join(dir, `hello-${arch}.txt`), `hello from linux/${arch}\n`);
        return dir;
    }

    async function startBuildkitd(label: string, config: string): Promise<string> {
        const dir = join(work, `buildkitd-${label}`);
        mkdirSync(dir, { recursive: true });
        const address = `unix://${join(dir, "buildkitd.sock")}`;
        startDaemon(
            `buildkitd (${label})`,
            buildkit.buildkitd,
            [
                "--config",
                config,
                "--addr",
                address,
                "--root",
                join(dir, "root"),
                "--otel-socket-path",
                join(dir, "otel.sock"),
                "--containerd-worker",
                "false",
                "--oci-worker",
                "true",
                "--oci-worker-snapshotter",
                "native",
            ],
            { logFile: join(dir, "buildkitd.log") },
        );
        await waitFor(
            `buildkitd (${label}) to list its workers`,
            async () =>
                (await run(buildkit.buildctl, ["--addr", address, "debug", "workers"], { allowFailure: true })).code === 0 || undefined,
            60_000,
            500,
        );
        return address;
    }

    /** buildctl: the Dockerfile for both platforms, pushed as `user` to builders/buildkit:TAG as an OCI index. */
    const buildctlPush = (address: string, user: Credential, tag: string, metadataFile?: string) => {
        const context = buildkitContext();
        return run(
            buildkit.buildctl,
            [
                "--addr",
                address,
                "build",
                "--frontend",
                "dockerfile.v0",
                "--local",
                `context=${context}`,
                "--local",
                `dockerfile=${context}`,
                "--opt",
                `platform=${BUILDKIT_PLATFORMS.map((arch) => `linux/${arch}`).join(",")}`,
                "--output",
                `type=image,name=${endpoint}/builders/buildkit:${tag},push=true,oci-mediatypes=true`,
                ...(metadataFile ? ["--metadata-file", metadataFile] : []),
            ],
            { env: { ...process.env, DOCKER_CONFIG: dockerConfigFor(user) }, allowFailure: true, timeoutMs: 300_000 },
        );
    };

    /** The index a tag points at, fetched as the node: its digest and its platforms' manifest digests. */
    async function fetchIndex(repository: string, tag: string) {
        const headersFile = join(work, `${repository.replace(/\//g, "_")}-${tag}.headers`);
        const fetched = await curl([
            "-u",
            creds(node),
            "-H",
            `Accept: ${OCI_INDEX}`,
            "-D",
            headersFile,
            `https://${endpoint}/v2/${repository}/manifests/${tag}`,
        ]);
        const headers = readFileSync(headersFile, "utf8");
        assert.match(headers, /^HTTP\/\S+ 200/m, fetched.stdout);
        assert.match(headers, new RegExp(`^content-type: ${OCI_INDEX.replace(/[.+]/g, "\\$&")}`, "im"));
        const digest = /^docker-content-digest: (\S+)/im.exec(headers)![1];
        const index = JSON.parse(fetched.stdout) as {
            manifests: { digest: string; platform?: { os: string; architecture: string }; annotations?: Record<string, string> }[];
        };
        return { digest, manifests: index.manifests };
    }

    const manifestStatus = async (repository: string, tag: string) =>
        (
            await curl([
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-u",
                creds(node),
                "-H",
                `Accept: ${OCI_INDEX}`,
                `https://${endpoint}/v2/${repository}/manifests/${tag}`,
            ])
        ).stdout;

    it("BuildKit: the buildkit snippet merges its table into an existing buildkitd.toml; buildkitd reads the merged file (the owner's setting too) and pushes a linux/amd64 + linux/riscv64 OCI index through the edge as the push user", async () => {
        buildkit = await buildkitTools();
        // The snippet's own script writes its files where it says (/etc/buildkit, ...), as on a
        // laptop; ROOT=/ stops it before its docker commands (the buildx test runs those). Every
        // file and directory it adds is removed again, any it replaced restored.
        const configPath = "/etc/buildkit/buildkitd.toml";
        registerSnippetFilesCleanup(snippets.buildkit);
        mkdirSync(dirname(configPath), { recursive: true });
        writeFileSync(configPath, OWN_BUILDKITD_TOML);
        writeFileSync(join(work, "buildkit-files.sh"), snippets.buildkit.script);
        await run("sh", [join(work, "buildkit-files.sh")], { env: { ...process.env, ROOT: "/" } });
        const table = snippets.buildkit.files.find((f) => f.path === configPath)!.content;
        assert.equal(readFileSync(configPath, "utf8"), `${OWN_BUILDKITD_TOML}\n${table}`, "the owner's lines, then the registry's table");

        buildkitdAddress = await startBuildkitd("snippet", configPath);
        const workers = await run(buildkit.buildctl, ["--addr", buildkitdAddress, "debug", "workers", "--verbose"]);
        assert.match(workers.stdout, OWN_LABEL, `buildkitd read the owner's setting from the merged file:\n${workers.stdout}`);
        const metadataFile = join(work, "buildctl-metadata.json");
        const built = await buildctlPush(buildkitdAddress, builder, "1", metadataFile);
        assert.equal(built.code, 0, `buildctl build failed:\n${built.stderr.slice(-4000)}`);
        buildkitIndex = JSON.parse(readFileSync(metadataFile, "utf8"))["containerimage.digest"];
        assert.match(buildkitIndex, /^sha256:[0-9a-f]{64}$/);

        const index = await fetchIndex("builders/buildkit", "1");
        assert.equal(index.digest, buildkitIndex, "the registry serves the index buildctl pushed");
        assert.deepEqual(
            index.manifests.map((m) => `${m.platform!.os}/${m.platform!.architecture}`).sort(),
            BUILDKIT_PLATFORMS.map((a) => `linux/${a}`),
        );
        for (const manifest of index.manifests) buildkitDigests[manifest.platform!.architecture] = manifest.digest;
    });

    it("BuildKit: without the snippet's CA the push fails on the certificate; with the pull account the edge refuses it with 403", async () => {
        assert.ok(buildkitdAddress, "the previous test started buildkitd");
        const noConfig = join(work, "buildkitd-no-ca.toml");
        writeFileSync(noConfig, "");
        const untrusting = await startBuildkitd("no-ca", noConfig);
        const untrusted = await buildctlPush(untrusting, builder, "no-ca");
        assert.notEqual(untrusted.code, 0, "BuildKit pushed without trusting the private CA");
        assert.match(untrusted.stderr, /x509: certificate signed by unknown authority|tls: failed to verify certificate/);

        const asNode = await buildctlPush(buildkitdAddress, node, "from-node");
        assert.notEqual(asNode.code, 0, "BuildKit pushed with the pull account");
        // The edge's 403 body, word for word (BuildKit prints the registry's error, not the status).
        assert.match(asNode.stderr, /failed to push [^\n]*buildkit:from-node: denied: this account may only pull/);
        assert.equal(await manifestStatus("builders/buildkit", "no-ca"), "404");
        assert.equal(await manifestStatus("builders/buildkit", "from-node"), "404");
    });

    it("BuildKit's index: skopeo --override-arch riscv64 and ctr pull --platform linux/riscv64 fetch exactly its riscv64 image", async () => {
        assert.ok(buildkitIndex, "the BuildKit push test pushed an index");
        const layout = join(work, "buildkit-riscv64-layout");
        await run(
            "skopeo",
            [
                "--override-arch",
                "riscv64",
                "--override-os",
                "linux",
                "copy",
                "--src-cert-dir",
                caDir,
                "--src-creds",
                creds(node),
                `docker://${endpoint}/builders/buildkit:1`,
                `oci:${layout}:buildkit`,
            ],
            { timeoutMs: 120_000 },
        );
        const copied = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: { digest: string }[] };
        assert.deepEqual(
            copied.manifests.map((m) => m.digest),
            [buildkitDigests.riscv64],
        );
        const blob = (digest: string) => join(layout, "blobs", ...digest.split(":"));
        const manifest = JSON.parse(readFileSync(blob(buildkitDigests.riscv64), "utf8")) as {
            config: { digest: string };
            layers: { digest: string }[];
        };
        assert.equal(JSON.parse(readFileSync(blob(manifest.config.digest), "utf8")).architecture, "riscv64");
        assert.equal(manifest.layers.length, 1);
        const hello = await run("tar", ["-xzOf", blob(manifest.layers[0].digest), "hello.txt"]);
        assert.equal(hello.stdout, "hello from linux/riscv64\n", "the riscv64 image carries the riscv64 build's file");

        await ctr([
            "images",
            "pull",
            "--hosts-dir",
            hostsDir,
            "--user",
            creds(node),
            "--platform",
            "linux/riscv64",
            `${endpoint}/builders/buildkit:1`,
        ]);
        assert.match((await ctr(["images", "ls"])).stdout, new RegExp(`^${endpoint}/builders/buildkit:1\\s+\\S+\\s+${buildkitIndex}`, "m"));
        const content = (await ctr(["content", "ls", "-q"])).stdout;
        assert.match(content, new RegExp(buildkitDigests.riscv64));
        assert.doesNotMatch(content, new RegExp(buildkitDigests.amd64), "ctr fetched the amd64 image too");
    });

    it("buildx: the snippet's script as rendered (`docker buildx create ... --config ...`, `docker login`) makes a docker-container builder whose `buildx build --platform linux/amd64,linux/riscv64 --push` lands", async () => {
        assert.ok(buildkit?.buildx, "the BuildKit push test built buildx");
        // buildx asks dockerd to pull the builder image every time, before it looks for a local
        // one. Nothing can be pulled here: a proxy on a closed loopback port makes the attempt fail
        // at once and keeps it off the network; the registry under test is not proxied.
        const closedPort = await freePort();
        const proxy = `http://127.0.0.1:${closedPort}`;
        const runtime = runtimeWithoutMissingCapabilities(join(work, "bx-runtime"));
        const builderDockerd = await startDockerd(join(work, "bx"), {
            env: { ...process.env, HTTPS_PROXY: proxy, HTTP_PROXY: proxy, NO_PROXY: `${NAME},localhost,127.0.0.1,::1` },
            extraArgs: runtime.dockerdArgs,
        });
        await buildBuildkitImage(builderDockerd, buildkit, BUILDX_DEFAULT_IMAGE, join(work, "buildkit-image"));
        const dockerConfig = join(work, "bx-docker-config");
        mkdirSync(join(dockerConfig, "cli-plugins"), { recursive: true });
        copyFileSync(buildkit.buildx!, join(dockerConfig, "cli-plugins/docker-buildx"));
        chmodSync(join(dockerConfig, "cli-plugins/docker-buildx"), 0o755);
        writeFileSync(join(dockerConfig, "config.json"), "{}\n");
        // The script's `docker` is Debian's CLI (20.10), which runs buildx as its plugin.
        const env = { ...process.env, ...builderDockerd.env, DOCKER_CONFIG: dockerConfig, PATH: `/usr/bin:${process.env.PATH ?? ""}` };
        const docker = (args: string[], timeoutMs = 300_000) => run(DOCKER_CLI, args, { env, allowFailure: true, timeoutMs });
        const builderName = /^docker buildx create --name '([^']+)'/m.exec(snippets.buildkit.commands.join("\n"))![1];
        registerCleanup("remove the buildx builder", async () => void (await docker(["buildx", "rm", "--force", builderName], 60_000)));

        const configBefore = readFileSync("/etc/buildkit/buildkitd.toml", "utf8");
        writeFileSync(join(work, "buildkit.sh"), snippets.buildkit.script);
        const setup = await run("sh", [join(work, "buildkit.sh")], {
            env,
            input: builder.password,
            allowFailure: true,
            timeoutMs: 300_000,
        });
        assert.equal(setup.code, 0, `the snippet's script failed:\n${setup.stdout}\n${setup.stderr}`);
        assert.match(setup.stdout + setup.stderr, /Login Succeeded/);
        const inspect = await docker(["buildx", "inspect"]);
        assert.match(inspect.stdout, new RegExp(`^Name:\\s+${builderName}$`, "m"), inspect.stdout + inspect.stderr);
        assert.match(inspect.stdout, /^Driver:\s+docker-container$/m);
        assert.match(inspect.stdout, /^Status:\s+running$/m);
        assert.equal(
            readFileSync("/etc/buildkit/buildkitd.toml", "utf8"),
            configBefore,
            "a second run of the script changed the merged file",
        );
        assert.match(inspect.stdout, OWN_LABEL, "the builder's buildkitd read the owner's setting from the merged file");

        // buildx copied the CA into the builder and rewrote the config's path to it.
        const container = `buildx_buildkit_${builderName}0`;
        const insideConfig = (await docker(["exec", container, "cat", "/etc/buildkit/buildkitd.toml"])).stdout;
        const caInside = /ca\s*=\s*\[\s*["']([^"']+)["']/.exec(insideConfig)?.[1];
        assert.ok(caInside, `no ca in the builder's config:\n${insideConfig}`);
        assert.equal(caInside, `/etc/buildkit/certs/${endpoint.replace(/[^a-zA-Z0-9.-]+/g, "_")}/ca.crt`);
        assert.equal((await docker(["exec", container, "cat", caInside])).stdout, declared.outputs.caCertificate.value as string);

        const metadataFile = join(work, "buildx-metadata.json");
        const built = await docker([
            "buildx",
            "build",
            "--platform",
            BUILDKIT_PLATFORMS.map((arch) => `linux/${arch}`).join(","),
            "-t",
            `${endpoint}/builders/buildx:1`,
            "--push",
            "--metadata-file",
            metadataFile,
            buildkitContext(),
        ]);
        if (built.code !== 0) {
            const logs = await docker(["logs", "--tail", "60", container], 30_000);
            writeFileSync(
                join(OUTPUT_DIR, "buildx-build-failure.log"),
                `${built.stdout}\n${built.stderr}\n--- ${container} ---\n${logs.stdout}${logs.stderr}\n--- config ---\n${insideConfig}`,
            );
        }
        assert.equal(built.code, 0, `docker buildx build failed (test-output/buildx-build-failure.log):\n${built.stderr.slice(-4000)}`);
        const pushed = JSON.parse(readFileSync(metadataFile, "utf8"))["containerimage.digest"];
        const index = await fetchIndex("builders/buildx", "1");
        assert.equal(index.digest, pushed, "the registry serves the index buildx pushed");
        const images = index.manifests.filter((m) => m.platform?.os !== "unknown");
        assert.deepEqual(
            images.map((m) => `${m.platform!.os}/${m.platform!.architecture}`).sort(),
            BUILDKIT_PLATFORMS.map((a) => `linux/${a}`),
        );
        // buildx adds a provenance attestation per image by default: "unknown/unknown" entries.
        const attestations = index.manifests.filter((m) => m.platform?.os === "unknown");
        assert.ok(
            attestations.every((m) => m.annotations?.["vnd.docker.reference.type"] === "attestation-manifest"),
            JSON.stringify(index.manifests),
        );
        // `docker buildx imagetools` resolves in buildx's own process. It reads the builder's
        // registry config, but replaces the HTTP client built from its `ca` with the default one
        // (util/imagetools/inspect.go), so only the system's CAs count: docker/buildx#2476.
        const tag = `${endpoint}/builders/buildx:1`;
        const untrusted = await docker(["buildx", "imagetools", "inspect", tag]);
        assert.notEqual(
            untrusted.code,
            0,
            "imagetools now trusts the builder's CA (docker/buildx#2476 fixed?): drop the workaround from docs/laptop-to-board.md",
        );
        assert.match(untrusted.stderr, /x509: certificate signed by unknown authority/);
        // The workaround: trust the CA where Go looks, SSL_CERT_FILE holding the system's CAs and it.
        const bundle = join(work, "ca-bundle.crt");
        const systemCas = "/etc/ssl/certs/ca-certificates.crt";
        writeFileSync(
            bundle,
            `${existsSync(systemCas) ? readFileSync(systemCas, "utf8") : ""}${declared.outputs.caCertificate.value as string}`,
        );
        const inspected = await run(DOCKER_CLI, ["buildx", "imagetools", "inspect", tag], {
            env: { ...env, SSL_CERT_FILE: bundle },
            allowFailure: true,
            timeoutMs: 120_000,
        });
        assert.equal(inspected.code, 0, inspected.stderr);
        assert.match(inspected.stdout, new RegExp(`^Digest:\\s+${pushed}$`, "m"), inspected.stdout);
        for (const arch of BUILDKIT_PLATFORMS)
            assert.match(inspected.stdout, new RegExp(`Platform:\\s+linux/${arch}$`, "m"), inspected.stdout);
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
        const badLogin = await run(DOCKER_CLI, ["login", endpoint, "--username", node.username, "--password-stdin"], {
            env: asNode,
            input: `wrong-${node.password}`,
            allowFailure: true,
        });
        assert.notEqual(badLogin.code, 0, "a wrong password logs in");
        assert.match(badLogin.stderr, /401|unauthorized/i);
        const nodeLogin = await run(DOCKER_CLI, ["login", endpoint, "--username", node.username, "--password-stdin"], {
            env: asNode,
            input: node.password,
        });
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
        await ctr([
            "images",
            "pull",
            "--hosts-dir",
            hostsDir,
            "--user",
            creds(node),
            "--snapshotter",
            "native",
            `${endpoint}/builders/docker:1`,
        ]);
        await ctr(["images", "tag", `${endpoint}/builders/docker:1`, `${endpoint}/builders/ctr:1`]);
        const refused = await ctr(["images", "push", "--hosts-dir", hostsDir, "--user", creds(node), `${endpoint}/builders/ctr:1`], {
            allowFailure: true,
        });
        assert.notEqual(refused.code, 0, "ctr pushed with the pull account");
        assert.match(refused.stderr, /403 Forbidden/);
        await ctr(["images", "push", "--hosts-dir", hostsDir, "--user", creds(builder), `${endpoint}/builders/ctr:1`]);
    });

    it("skopeo: the pull user copies out but not in; the push user copies in", async () => {
        const layout = `oci:${join(work, "skopeo-layout")}:docker`;
        await run(
            "skopeo",
            ["copy", "--src-cert-dir", caDir, "--src-creds", creds(node), `docker://${endpoint}/builders/docker:1`, layout],
            { timeoutMs: 120_000 },
        );
        const refused = await run(
            "skopeo",
            ["copy", "--dest-cert-dir", caDir, "--dest-creds", creds(node), layout, `docker://${endpoint}/builders/skopeo:1`],
            { allowFailure: true, timeoutMs: 120_000 },
        );
        assert.notEqual(refused.code, 0, "skopeo copied in with the pull account");
        assert.match(refused.stderr, /denied: this account may only pull/);
        await run(
            "skopeo",
            ["copy", "--dest-cert-dir", caDir, "--dest-creds", creds(builder), layout, `docker://${endpoint}/builders/skopeo:1`],
            { timeoutMs: 120_000 },
        );
        await run(
            "skopeo",
            ["copy", "--dest-cert-dir", caDir, "--dest-creds", creds(builder), layout, `docker://${endpoint}/builders/ui-delete:1`],
            { timeoutMs: 120_000 },
        );
    });

    it("API DELETE: 403 for the pull user, 202 for the push user; a wrong password 401", async () => {
        const head = await curl([
            "-I",
            "-u",
            creds(node),
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            `https://${endpoint}/v2/builders/skopeo/manifests/1`,
        ]);
        const digest = /^docker-content-digest: (\S+)/im.exec(head.stdout)![1];
        const status = (user: string) =>
            curl([
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "DELETE",
                "-u",
                user,
                `https://${endpoint}/v2/builders/skopeo/manifests/${digest}`,
            ]);
        assert.equal((await status(creds(node))).stdout, "403");
        assert.equal((await status(`${builder.username}:wrong-${builder.password}`)).stdout, "401");
        assert.equal((await status(creds(builder))).stdout, "202");
        const gone = await curl([
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-u",
            creds(node),
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            `https://${endpoint}/v2/builders/skopeo/manifests/1`,
        ]);
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
        assert.equal(
            (await digest.getAttribute("title")) ?? (await digest.textContent()),
            platformDigests.amd64,
            "the UI shows the first platform's digest",
        );
        assert.deepEqual(await row.locator("architectures .architecture").allTextContents(), [...PLATFORMS]);
        await page.screenshot({ path: join(OUTPUT_DIR, "ui-tags.png"), fullPage: true });

        await row.locator("tag-history-button a").click();
        await page.waitForURL(/#!\/taghistory\/image\/builders\/multi\/tag\/1/);
        const tabs = page.locator("material-tabs .text");
        await tabs.first().waitFor({ timeout: 20_000 });
        assert.deepEqual(
            await tabs.allTextContents(),
            PLATFORMS.map((arch) => `linux/${arch}`),
        );
        await tabs.filter({ hasText: "linux/riscv64" }).click();
        const architecture = page.locator("tag-history-element.architecture .value");
        await page.waitForFunction(
            () => document.querySelector("tag-history-element.architecture .value")?.textContent === "riscv64",
            undefined,
            { timeout: 20_000 },
        );
        assert.equal(await architecture.first().textContent(), "riscv64");
        await page.waitForTimeout(500); // the tab's underline slides over
        await page.screenshot({ path: join(OUTPUT_DIR, "ui-tag-riscv64.png"), fullPage: true });
        await context.close();
    });

    it("the real UI with deleteEnabled: the pull user's delete is refused and the tag stays, the push user's deletes it", async () => {
        const tagStatus = async () =>
            (
                await curl([
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "-u",
                    creds(node),
                    "-H",
                    "Accept: application/vnd.oci.image.manifest.v1+json",
                    `https://${endpoint}/v2/builders/ui-delete/manifests/1`,
                ])
            ).stdout;
        assert.equal(await tagStatus(), "200");
        const expected = { node: { status: 403, tag: "200" }, admin: { status: 202, tag: "404" } };
        for (const user of [node, builder]) {
            const context = await browserAs(user);
            const page = await context.newPage();
            await page.goto(`https://${endpoint}/#!/taglist/builders/ui-delete`);
            const row = page.locator("tag-table tbody tr", { has: page.locator("image-tag", { hasText: /^1$/ }) });
            await row.locator("remove-image button").click({ timeout: 20_000 });
            const confirm = page.locator("confirm-delete-image material-popup .material-popup-action material-button", {
                hasText: /delete/i,
            });
            const deleted = page.waitForResponse((response) => response.request().method() === "DELETE", { timeout: 20_000 });
            await confirm.click({ timeout: 10_000 });
            const response = await deleted;
            assert.equal(response.status(), expected[user.username as keyof typeof expected].status, `${user.username}'s DELETE`);
            assert.match(response.url(), /\/v2\/builders\/ui-delete\/manifests\/sha256:[0-9a-f]{64}$/);
            // The UI reports the outcome in its snackbar: the edge's refusal, word for word.
            if (user.role === "pull")
                await page.locator("material-snackbar", { hasText: "this account may only pull" }).waitFor({ timeout: 10_000 });
            else await page.locator("material-snackbar", { hasText: "Deleting builders/ui-delete:1" }).waitFor({ timeout: 10_000 });
            await page.screenshot({ path: join(OUTPUT_DIR, `ui-delete-as-${user.role}-user.png`), fullPage: true });
            await context.close();
            assert.equal(
                await tagStatus(),
                expected[user.username as keyof typeof expected].tag,
                `the tag after ${user.username}'s delete`,
            );
        }
    });
});
