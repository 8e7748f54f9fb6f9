/**
 * The pull-through mirror, run by the real software: Debian's Distribution registry plays Docker
 * Hub on loopback (its own TLS CA, an account, a pre-loaded image), Distribution v3.1.2 (the
 * default image's major; scripts/build-tools.sh registry3) runs the rendered mirror config.yml
 * (proxy mode, the upstream's CA trusted through SSL_CERT_FILE; no auth of its own), and
 * Debian's nginx runs the rendered nginx.conf in front, checking the users' passwords as the
 * stack's edge does. Clients: curl and skopeo with the edge's CA.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { stringify } from "yaml";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { renderMirrorConfig } from "../../components/render/mirrorConfig";
import { registry3Binary } from "../../scripts/lib/builtTools";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import {
    freePort,
    RegistryProcess,
    loopbackEdgeInput,
    startNginx,
    startRegistry,
    writeEdgeAccess,
} from "../../scripts/lib/loopbackServers";
import { writeOciLayout } from "../support/ociLayout";
import { makeTempDir, run, runCleanups, waitFor } from "../../scripts/lib/processes";
import {
    renderContainerdMirrorSnippet,
    renderDockerMirrorSnippet,
    renderK3sMirrorSnippet,
} from "../../components/render/snippets/mirrorSnippets";
import { k3sRegistriesCheck } from "../go/builds";
import { startDockerd } from "../e2e/support/dockerd";

const USER = "puller";
const PASSWORD = "mirror-Pass-1";
const IMAGE = "library/small:1";
/** The private registry's endpoint in the k3s snippet (nothing listens there; only the mirror is pulled from). */
const REGISTRY_ENDPOINT = "127.0.0.1:9";

interface Setup {
    work: string;
    hub: RegistryProcess;
    hubPort: number;
    mirrorPort: number;
    /** The edge's port for the mirror, and the one for the registry (nothing listens behind it). */
    edgeMirrorPort: number;
    edgeCertDir: string;
    pushedDigest: string;
}

/** The edge's users: the mirror's one, a pull user. */
const edgeAccess = (dir: string) =>
    writeEdgeAccess(join(dir, "access"), "private-registry", [{ name: USER, password: PASSWORD, role: "pull" }]);

/**
 * Docker Hub's stand-in: TLS with its own CA, anonymous pulls, the image pushed by skopeo. No
 * account: Distribution 2.8's proxy sends `proxy.username`/`password` only to a Bearer token
 * realm (Docker Hub's token service), never as Basic auth, so an htpasswd upstream cannot stand
 * in for an account here.
 */
async function startHub(work: string): Promise<{ hub: RegistryProcess; port: number; caPath: string; digest: string }> {
    const dir = join(work, "hub");
    mkdirSync(dir);
    const port = await freePort();
    const pki = issueTestCertificates(["hub.test"], ["127.0.0.1"]);
    writeFileSync(join(dir, "server.crt"), pki.certificatePem);
    writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
    const caDir = join(dir, "ca");
    mkdirSync(caDir);
    writeFileSync(join(caDir, "ca.crt"), pki.caPem);
    const hub = await startRegistry(
        dir,
        stringify({
            version: 0.1,
            storage: { filesystem: { rootdirectory: join(dir, "data") } },
            http: { addr: `127.0.0.1:${port}`, tls: { certificate: join(dir, "server.crt"), key: join(dir, "server.key") } },
        }),
        port,
    );
    const layout = join(work, "layout");
    const digest = writeOciLayout(layout, "served by the mirror\n");
    await run("skopeo", ["copy", "--quiet", "--dest-cert-dir", caDir, `oci:${layout}:1`, `docker://127.0.0.1:${port}/${IMAGE}`]);
    return { hub, port, caPath: join(caDir, "ca.crt"), digest };
}

async function startMirrorBehindEdge(
    work: string,
    hubPort: number,
    hubCa: string,
): Promise<{ mirrorPort: number; edgeMirrorPort: number; edgeCertDir: string }> {
    const dir = join(work, "mirror");
    mkdirSync(dir);
    const [mirrorPort, registryPort, uiPort, httpsPort, httpPort, edgeMirrorPort] = await Promise.all([
        freePort(),
        freePort(),
        freePort(),
        freePort(),
        freePort(),
        freePort(),
    ]);
    // The mirror runs what the stack deploys by default: Distribution 3 (v3.1.2).
    await startRegistry(
        dir,
        renderMirrorConfig({
            listenAddress: `127.0.0.1:${mirrorPort}`,
            upstream: `https://127.0.0.1:${hubPort}`,
            distributionMajor: 3,
        }),
        mirrorPort,
        { SSL_CERT_FILE: hubCa, OTEL_TRACES_EXPORTER: "none" },
        await registry3Binary(),
    );

    const pki = issueTestCertificates(["registry.test"], ["127.0.0.1"]);
    writeFileSync(join(dir, "server.crt"), pki.certificatePem);
    writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
    const edgeCertDir = join(dir, "edge-ca");
    mkdirSync(edgeCertDir);
    writeFileSync(join(edgeCertDir, "ca.crt"), pki.caPem);
    mkdirSync(join(dir, "temp"));
    await startNginx(
        dir,
        renderEdgeConfig(
            loopbackEdgeInput(dir, {
                httpsPort,
                httpPort,
                registryPort,
                uiPort,
                mirror: { upstream: { address: `127.0.0.1:${mirrorPort}` }, listenHttpsPort: edgeMirrorPort },
                access: edgeAccess(dir),
            }),
        ),
        httpPort,
    );
    return { mirrorPort, edgeMirrorPort, edgeCertDir };
}

async function curl(args: string[]): Promise<{ status: number; body: string }> {
    const result = await run("curl", ["-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "30", ...args], { allowFailure: true });
    const lines = result.stdout.split("\n");
    return { status: Number(lines.pop()), body: lines.join("\n") + result.stderr };
}

describe("pull-through mirror: Distribution in proxy mode behind the edge", () => {
    let setup: Setup;
    const edge = (path: string) => `https://127.0.0.1:${setup.edgeMirrorPort}${path}`;
    const withCa = () => ["--cacert", join(setup.edgeCertDir, "ca.crt")];
    const skopeoFromMirror = (dest: string, creds = `${USER}:${PASSWORD}`) =>
        run(
            "skopeo",
            [
                "copy",
                "--quiet",
                "--src-creds",
                creds,
                "--src-cert-dir",
                setup.edgeCertDir,
                `docker://127.0.0.1:${setup.edgeMirrorPort}/${IMAGE}`,
                `oci:${dest}:1`,
            ],
            { allowFailure: true },
        );

    const mirrorEndpoint = () => `127.0.0.1:${setup.edgeMirrorPort}`;
    const snippetInput = () => ({
        endpoint: mirrorEndpoint(),
        registryEndpoint: REGISTRY_ENDPOINT,
        caCertificate: readFileSync(join(setup.edgeCertDir, "ca.crt"), "utf8"),
        username: USER,
        password: PASSWORD,
    });

    before(async () => {
        const work = makeTempDir("pr-mirror-");
        // nginx's workers (not root) read the users' file per request, as in the edge container.
        chmodSync(work, 0o711);
        const hub = await startHub(work);
        const mirror = await startMirrorBehindEdge(work, hub.port, hub.caPath);
        setup = { work, hub: hub.hub, hubPort: hub.port, ...mirror, pushedDigest: hub.digest };
    });
    after(runCleanups);

    it("asks for the registry's users: 401 without or with a wrong password, 200 with", async () => {
        assert.equal((await curl([...withCa(), edge("/v2/")])).status, 401);
        assert.equal((await curl([...withCa(), "-u", `${USER}:wrong`, edge("/v2/")])).status, 401);
        assert.equal((await curl([...withCa(), "-u", `${USER}:${PASSWORD}`, edge("/v2/")])).status, 200);
        const noCa = await run("curl", ["-sS", "-o", "/dev/null", edge("/v2/")], { allowFailure: true });
        assert.equal(noCa.code, 60, "the mirror presents the stack's certificate, which needs its CA");
    });

    it("serves the upstream's image with the upstream's digest (skopeo, through the edge)", async () => {
        const copied = await skopeoFromMirror(join(setup.work, "first"));
        assert.equal(copied.code, 0, copied.stderr + readFileSync(join(setup.work, "mirror/registry.log"), "utf8").slice(-3000));
        const head = await curl([
            ...withCa(),
            "-u",
            `${USER}:${PASSWORD}`,
            "-I",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            edge(`/v2/${IMAGE.replace(":", "/manifests/")}`),
        ]);
        assert.equal(head.status, 200);
        assert.match(head.body, new RegExp(`docker-content-digest: ${setup.pushedDigest}`, "i"));
    });

    it("refuses every push: 403 at the edge, and Distribution's proxy mode refuses on its own (405)", async () => {
        const atEdge = await curl([...withCa(), "-u", `${USER}:${PASSWORD}`, "-X", "POST", edge("/v2/library/pushed/blobs/uploads/")]);
        assert.equal(atEdge.status, 403, atEdge.body);
        const put = await curl([
            ...withCa(),
            "-u",
            `${USER}:${PASSWORD}`,
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
            "--data",
            "{}",
            edge("/v2/library/pushed/manifests/1"),
        ]);
        assert.equal(put.status, 403, put.body);
        const direct = await curl([
            "-u",
            `${USER}:${PASSWORD}`,
            "-X",
            "POST",
            `http://127.0.0.1:${setup.mirrorPort}/v2/library/pushed/blobs/uploads/`,
        ]);
        assert.equal(direct.status, 405, direct.body);
        assert.match(direct.body, /UNSUPPORTED/);
        const layout = join(setup.work, "first");
        const pushed = await run(
            "skopeo",
            [
                "copy",
                "--quiet",
                "--dest-creds",
                `${USER}:${PASSWORD}`,
                "--dest-cert-dir",
                setup.edgeCertDir,
                `oci:${layout}:1`,
                `docker://127.0.0.1:${setup.edgeMirrorPort}/library/pushed:1`,
            ],
            { allowFailure: true },
        );
        assert.notEqual(pushed.code, 0, "skopeo pushed to the mirror");
        const catalog = await curl(["-u", `${USER}:${PASSWORD}`, `http://127.0.0.1:${setup.mirrorPort}/v2/_catalog`]);
        assert.doesNotMatch(catalog.body, /pushed/);
    });

    it("on its own name (mirror.hostname): the same port as the registry, routed by name, the certificate covering it", async () => {
        const dir = join(setup.work, "named");
        mkdirSync(join(dir, "temp"), { recursive: true });
        const [httpsPort, httpPort, registryPort, uiPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
        const pki = issueTestCertificates(["registry.test", "mirror.test"], []);
        writeFileSync(join(dir, "server.crt"), pki.certificatePem);
        writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
        writeFileSync(join(dir, "ca.crt"), pki.caPem);
        await startNginx(
            dir,
            renderEdgeConfig(
                loopbackEdgeInput(dir, {
                    httpsPort,
                    httpPort,
                    registryPort,
                    uiPort,
                    mirror: {
                        upstream: { address: `127.0.0.1:${setup.mirrorPort}` },
                        serverName: "mirror.test",
                        listenHttpsPort: httpsPort,
                    },
                    access: edgeAccess(dir),
                }),
            ),
            httpPort,
        );
        const byName = (name: string, path: string) =>
            curl([
                "--cacert",
                join(dir, "ca.crt"),
                "--resolve",
                `${name}:${httpsPort}:127.0.0.1`,
                "-u",
                `${USER}:${PASSWORD}`,
                "-H",
                "Accept: application/vnd.oci.image.manifest.v1+json",
                `https://${name}:${httpsPort}${path}`,
            ]);
        assert.equal((await byName("mirror.test", "/v2/")).status, 200);
        assert.equal((await byName("mirror.test", `/v2/${IMAGE.replace(":", "/manifests/")}`)).status, 200);
        // The registry's name on the same port never reaches the mirror (nothing listens behind it
        // here: the edge drops the request, no status).
        assert.equal((await byName("registry.test", "/v2/")).status, 0);
    });

    it("k3s's own pull path (wharfie) fetches docker.io/library/small:1 through the mirror with the snippet's merged registries.yaml", async () => {
        const check = await k3sRegistriesCheck();
        const root = join(setup.work, "k3s-node");
        mkdirSync(join(root, "etc"), { recursive: true });
        const script = join(setup.work, "k3s-mirror.sh");
        writeFileSync(script, renderK3sMirrorSnippet({ ...snippetInput(), k3sRewrites: { "^library/renamed-(.*)": "library/$1" } }).script);
        await run("busybox", ["sh", script], { env: { ...process.env, ROOT: root } });
        const view = await run(check, ["-root", root, "-image", `docker.io/${IMAGE}`, "/etc/rancher/k3s/registries.yaml", "docker.io"]);
        const parsed = JSON.parse(view.stdout) as {
            digest: string;
            resolved: Record<string, { endpoints: string[]; rewrites?: Record<string, string> }>;
        };
        assert.equal(parsed.digest, setup.pushedDigest);
        assert.deepEqual(parsed.resolved["docker.io"].endpoints, [`https://${REGISTRY_ENDPOINT}`, `https://${mirrorEndpoint()}`]);
        assert.deepEqual(parsed.resolved["docker.io"].rewrites, { "^library/renamed-(.*)": "library/$1" });
    });

    it("dockerd pulls Docker Hub's name through registry-mirrors merged into its daemon.json by the snippet and reloaded (SIGHUP); ctr pulls it through the snippet's hosts.toml", async () => {
        const dockerd = await startDockerd(join(setup.work, "d"));
        // The snippet merges into the daemon's own config file (it holds another key), run as on a node.
        const node = join(setup.work, "docker-node");
        mkdirSync(join(node, "etc/docker"), { recursive: true });
        const configFile = join(setup.work, "d/daemon.json");
        const before = JSON.parse(readFileSync(configFile, "utf8"));
        writeFileSync(join(node, "etc/docker/daemon.json"), readFileSync(configFile));
        writeFileSync(join(setup.work, "docker-mirror.sh"), renderDockerMirrorSnippet(snippetInput()).script);
        await run("busybox", ["sh", join(setup.work, "docker-mirror.sh")], { env: { ...process.env, ROOT: node } });
        const merged = readFileSync(join(node, "etc/docker/daemon.json"), "utf8");
        assert.deepEqual(JSON.parse(merged), { ...before, "registry-mirrors": [`https://${mirrorEndpoint()}`] });
        writeFileSync(configFile, merged);
        process.kill(dockerd.pid, "SIGHUP");
        await waitFor(
            "dockerd to reload registry-mirrors",
            async () => (await dockerd.docker(["info", "--format", "{{json .RegistryConfig.Mirrors}}"])).stdout.includes(mirrorEndpoint()),
            20_000,
        );

        // dockerd sends a mirror the credentials it holds for Docker Hub: none, then the mirror's.
        const anonymous = await dockerd.docker(["pull", "--quiet", IMAGE], { allowFailure: true, timeoutMs: 90_000 });
        assert.notEqual(anonymous.code, 0, "pulled without credentials");
        writeFileSync(
            join(dockerd.dockerConfig, "config.json"),
            JSON.stringify({ auths: { "https://index.docker.io/v1/": { auth: Buffer.from(`${USER}:${PASSWORD}`).toString("base64") } } }),
        );
        const pulled = await dockerd.docker(["pull", "--quiet", IMAGE], { allowFailure: true, timeoutMs: 90_000 });
        assert.equal(pulled.code, 0, pulled.stderr + readFileSync(dockerd.logFile, "utf8").slice(-2000));
        const digests = await dockerd.docker(["image", "inspect", "--format", "{{json .RepoDigests}}", IMAGE]);
        assert.match(digests.stdout, new RegExp(`small@${setup.pushedDigest}`));

        const containerdRoot = join(setup.work, "containerd-node");
        writeFileSync(join(setup.work, "containerd-mirror.sh"), renderContainerdMirrorSnippet(snippetInput()).script);
        await run("busybox", ["sh", join(setup.work, "containerd-mirror.sh")], { env: { ...process.env, ROOT: containerdRoot } });
        const ctr = (args: string[]) =>
            run("ctr", ["--address", dockerd.containerdSocket, "--namespace", "mirror-test", ...args], {
                allowFailure: true,
                timeoutMs: 90_000,
            });
        const ctrPull = await ctr(["images", "pull", "--hosts-dir", join(containerdRoot, "etc/containerd/certs.d"), `docker.io/${IMAGE}`]);
        assert.equal(ctrPull.code, 0, ctrPull.stdout + ctrPull.stderr);
        const listed = await ctr(["images", "ls"]);
        assert.match(listed.stdout, new RegExp(`docker\\.io/${IMAGE}\\s+\\S+\\s+${setup.pushedDigest}`));
        await ctr(["images", "rm", `docker.io/${IMAGE}`]);
        await ctr(["content", "prune", "references"]);
    });

    it("serves the second pull from its cache with the upstream stopped", async () => {
        await setup.hub.daemon.stop();
        const hubGone = await run("curl", ["-sS", "-k", "-o", "/dev/null", `https://127.0.0.1:${setup.hubPort}/v2/`], {
            allowFailure: true,
        });
        assert.equal(hubGone.code, 7, "the upstream still answers");
        const copied = await skopeoFromMirror(join(setup.work, "second"));
        assert.equal(copied.code, 0, copied.stderr);
        const inspect = await run("skopeo", ["inspect", "--raw", `oci:${join(setup.work, "second")}:1`]);
        assert.match(inspect.stdout, /application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip/);
        const digest = await run("sh", ["-c", `skopeo inspect --format '{{.Digest}}' oci:${join(setup.work, "second")}:1`]);
        assert.equal(digest.stdout.trim(), setup.pushedDigest);
        // An image the mirror never fetched is not there: the cache is what served the one above.
        const other = await curl([...withCa(), "-u", `${USER}:${PASSWORD}`, "-I", edge("/v2/library/other/manifests/1")]);
        assert.notEqual(other.status, 200);
    });
});
