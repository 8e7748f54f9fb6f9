/**
 * Kubernetes nodes pull through containerd's CRI image service, which finds
 * `certs.d/HOST:PORT/hosts.toml` only through `config_path`. Here containerd 1.x (Debian's 1.6) and
 * 2.x (v2.4.2, built from the Go module proxy) each run with a config holding only the stack's
 * `configPathToml` for its version, the node script's files in place, and `crictl pull --creds`
 * (as kubelet passes an imagePullSecret) pulls from Debian's registry behind the rendered nginx
 * edge. k3s's own pull path (wharfie) pulls the same image with the merged registries.yaml.
 *
 * Nothing outside the test changes: the registry's name resolves to 127.0.0.1 through an
 * /etc/hosts of the test's own in a private mount namespace, where the node script's scratch
 * /etc/containerd is bind-mounted over the real one, so containerd reads exactly the paths the
 * script and the snippet name.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { dirname, join } from "path";
import {
    CONTAINERD_CERTS_DIR,
    ContainerdSnippet,
    renderContainerdSnippet,
    renderK3sSnippet,
    renderNodeSetup,
} from "../../components/render/snippets/clientSnippets";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { bcryptWithSalt, renderHtpasswd } from "../../components/render/htpasswd";
import { renderRegistryConfig } from "../../components/render/registryConfig";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import { criTools, k3sRegistriesCheck } from "../go/builds";
import { freePort, loopbackEdgeInput, startNginx, startRegistry } from "../../scripts/lib/loopbackServers";
import { writeOciLayout } from "../support/ociLayout";
import { Daemon, makeTempDir, run, runCleanups, startDaemon, waitFor } from "../../scripts/lib/processes";

const HOST = "cri.registry.test";
const USER = "kubelet";
const PASSWORD = "pull-Secret-0";
const IMAGE_PATH = "cri/small:1";

interface Registry {
    endpoint: string;
    caPem: string;
    /** An /etc/hosts mapping HOST to 127.0.0.1, in place only inside namespaces the test makes. */
    hostsFile: string;
}

/**
 * `command args` in a private mount namespace where /etc/hosts, and /etc/containerd if given, are
 * ours; with `daemonState`, /run, /var/lib and /opt are empty tmpfs there, so what containerd
 * writes by a stock config's own paths (the NRI socket, the opt plugin's dirs) never reaches them.
 * /etc/hosts comes from an overlay on /etc (its upper dir beside `hostsFile`), not a bind mount of
 * the file: a mount on /etc/hosts is detached as soon as another process replaces the real one by
 * a rename (as tests that add a host name do), and the name stops resolving mid-test.
 */
function inPrivateMounts(
    hostsFile: string,
    etcContainerd: string | undefined,
    command: string,
    args: string[],
    daemonState = false,
): [string, string[]] {
    const state = daemonState ? "mount -t tmpfs none /run && mount -t tmpfs none /var/lib && mount -t tmpfs none /opt && " : "";
    const etc = `o=$(mktemp -d "$1.XXXXXX") && mkdir "$o/upper" "$o/work" && cp "$1" "$o/upper/hosts" && mount -t overlay overlay -o "lowerdir=/etc,upperdir=$o/upper,workdir=$o/work" /etc`;
    const script = `${state}${etc} && { [ -z "$2" ] || mount --bind "$2" /etc/containerd; } && shift 2 && exec "$@"`;
    return ["unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", hostsFile, etcContainerd ?? "", command, ...args]];
}

/** Paths a containerd run by a stock config would create outside its root if it were not contained. */
const HOST_STATE = ["/run/nri", "/run/containerd/containerd.sock", "/var/lib/containerd", "/opt/containerd"];

/** Debian's registry with the rendered config.yml and htpasswd, behind nginx with the rendered nginx.conf. */
async function startEdge(dir: string): Promise<Registry> {
    const [registryPort, uiPort, httpsPort, httpPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const pki = issueTestCertificates([HOST], ["127.0.0.1"]);
    writeFileSync(join(dir, "server.crt"), pki.certificatePem);
    writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, "htpasswd"), renderHtpasswd([{ username: USER, hash: bcryptWithSalt(PASSWORD, "abcdefghijklmnopqrstuv") }]));
    await startRegistry(
        dir,
        renderRegistryConfig({
            listenAddress: `127.0.0.1:${registryPort}`,
            htpasswdPath: join(dir, "htpasswd"),
            realm: "private-registry",
            deleteEnabled: false,
        }),
        registryPort,
    );
    mkdirSync(join(dir, "temp"));
    await startNginx(
        dir,
        renderEdgeConfig(
            loopbackEdgeInput(dir, {
                httpsPort,
                httpPort,
                registryPort,
                uiPort,
            }),
        ),
        httpPort,
    );
    const hostsFile = join(dir, "hosts");
    writeFileSync(hostsFile, `127.0.0.1 localhost\n127.0.0.1 ${HOST}\n`);
    return { endpoint: `${HOST}:${httpsPort}`, caPem: pki.caPem, hostsFile };
}

interface Containerd {
    socket: string;
    daemon: Daemon;
}

/**
 * containerd with `config` as its whole config file, on a private socket, root and state dir,
 * /etc/containerd being `etcContainerd` (a node script's scratch root) inside its namespace.
 */
async function startContainerd(
    binary: string,
    dir: string,
    config: string,
    etcContainerd: string,
    hostsFile: string,
    crictl: string,
): Promise<Containerd> {
    mkdirSync(dir, { recursive: true });
    const configPath = join(dir, "config.toml");
    writeFileSync(configPath, config);
    const socket = join(dir, "c.sock");
    const [command, args] = inPrivateMounts(
        hostsFile,
        etcContainerd,
        binary,
        ["--config", configPath, "--address", socket, "--root", join(dir, "root"), "--state", join(dir, "state"), "--log-level", "debug"],
        true,
    );
    const daemon = startDaemon(`containerd (${binary})`, command, args, { logFile: join(dir, "containerd.log") });
    await waitFor(
        `the CRI image service of ${binary} on ${socket}`,
        async () => {
            const exited = await Promise.race([daemon.exited.then((code) => `exited with ${code}`), Promise.resolve(undefined)]);
            if (exited) throw new Error(`containerd ${exited}; see ${daemon.logFile}`);
            return (await run(crictl, [...criEndpoint(socket), "images"], { allowFailure: true, timeoutMs: 10_000 })).code === 0;
        },
        60_000,
    );
    return { socket, daemon };
}

const criEndpoint = (socket: string) => [
    "--runtime-endpoint",
    `unix://${socket}`,
    "--image-endpoint",
    `unix://${socket}`,
    "--timeout",
    "60s",
];

describe("containerd's CRI pulls with the stack's config_path line and the node script's hosts.toml", () => {
    let work: string;
    let registry: Registry;
    let tools: { crictl: string; containerd2: string };
    let pushedDigest: string;
    /** The node script run into a scratch root: etc/containerd/certs.d/HOST:PORT/{hosts.toml,ca.crt}, registries.yaml. */
    let nodeRoot: string;
    /** The containerd snippet as for a public CA: hosts.toml with no `ca`, no ca.crt. */
    let noCaRoot: string;

    const hostStateBefore = HOST_STATE.filter((path) => existsSync(path));

    before(
        async () => {
            tools = await criTools();
            work = makeTempDir("pr-cri-");
            registry = await startEdge(join(work));
            const layout = join(work, "layout");
            const digest = writeOciLayout(layout);
            const certDir = join(work, "skopeo-certs");
            mkdirSync(certDir);
            writeFileSync(join(certDir, "ca.crt"), registry.caPem);
            const [command, args] = inPrivateMounts(registry.hostsFile, undefined, "skopeo", [
                "copy",
                "--quiet",
                "--dest-creds",
                `${USER}:${PASSWORD}`,
                "--dest-cert-dir",
                certDir,
                "--digestfile",
                join(work, "pushed.digest"),
                `oci:${layout}:1`,
                `docker://${registry.endpoint}/${IMAGE_PATH}`,
            ]);
            await run(command, args);
            pushedDigest = (await run("cat", [join(work, "pushed.digest")])).stdout.trim();
            assert.equal(pushedDigest, digest, "skopeo pushed the layout's own manifest");

            nodeRoot = join(work, "node");
            writeFileSync(
                join(work, "node.sh"),
                renderNodeSetup({ endpoint: registry.endpoint, caCertificate: registry.caPem, username: USER, password: PASSWORD }),
            );
            await run("sh", [join(work, "node.sh")], { env: { ...process.env, ROOT: nodeRoot } });
            noCaRoot = join(work, "node-no-ca");
            writeFileSync(join(work, "node-no-ca.sh"), renderContainerdSnippet({ endpoint: registry.endpoint }).script);
            await run("sh", [join(work, "node-no-ca.sh")], { env: { ...process.env, ROOT: noCaRoot } });
        },
        { timeout: 40 * 60_000 },
    );
    after(runCleanups);

    let runs = 0;
    /** Starts containerd with `config`, pulls with crictl, stops containerd; the pull's result. */
    async function pullWith(binary: string, config: string, root: string, creds = true) {
        const containerd = await startContainerd(
            binary,
            join(work, `containerd-${++runs}`),
            config,
            join(root, "etc/containerd"),
            registry.hostsFile,
            tools.crictl,
        );
        try {
            const image = `${registry.endpoint}/${IMAGE_PATH}`;
            const pull = await run(
                tools.crictl,
                [...criEndpoint(containerd.socket), "pull", ...(creds ? ["--creds", `${USER}:${PASSWORD}`] : []), image],
                { allowFailure: true, timeoutMs: 90_000 },
            );
            let repoDigests: string[] = [];
            if (pull.code === 0) {
                const inspect = await run(tools.crictl, [...criEndpoint(containerd.socket), "inspecti", "-o", "json", image]);
                repoDigests = (JSON.parse(inspect.stdout) as { status: { repoDigests: string[] } }).status.repoDigests;
            }
            return { ...pull, output: pull.stdout + pull.stderr, repoDigests };
        } finally {
            await containerd.daemon.stop();
        }
    }

    const versions = [
        { name: "containerd 1.x (Debian's 1.6)", key: "containerd-1.x" as const, binary: () => "/usr/bin/containerd" },
        { name: "containerd 2.x (v2.4.2)", key: "containerd-2.x" as const, binary: () => tools.containerd2 },
    ];
    for (const version of versions) {
        const line = () =>
            renderContainerdSnippet({ endpoint: registry.endpoint, caCertificate: registry.caPem }).configPathToml[version.key];

        it(`${version.name}: the snippet's config alone, the script's hosts.toml and CA, crictl pull --creds: the pushed digest`, async () => {
            const pull = await pullWith(version.binary(), line(), nodeRoot);
            assert.equal(pull.code, 0, pull.output);
            assert.deepEqual(pull.repoDigests, [`${registry.endpoint}/cri/small@${pushedDigest}`]);
        });

        it(`${version.name}: without the CA beside hosts.toml, a certificate error`, async () => {
            const pull = await pullWith(version.binary(), line(), noCaRoot);
            assert.notEqual(pull.code, 0);
            assert.match(pull.output, /x509: certificate signed by unknown authority/);
        });

        it(`${version.name}: without credentials, refused by the registry`, async () => {
            const pull = await pullWith(version.binary(), line(), nodeRoot, false);
            assert.notEqual(pull.code, 0);
            assert.match(pull.output, /401 Unauthorized|unauthorized|authorization failed/i);
        });
    }

    it("containerd 1.x: without the config_path line, or with the table but no `version = 2`, a certificate error (hosts.toml is never read)", async () => {
        for (const config of [
            "version = 2\n",
            renderContainerdSnippet({ endpoint: registry.endpoint }).configPathToml["containerd-1.x"].replace("version = 2\n", ""),
        ]) {
            const pull = await pullWith("/usr/bin/containerd", config, nodeRoot);
            assert.notEqual(pull.code, 0, config);
            assert.match(pull.output, /x509: certificate signed by unknown authority/, config);
        }
    });

    it("containerd 2.x: without the config_path line, or with its built-in ':' list, a certificate error (hosts.toml is never read)", async () => {
        // The built-in default is that list; the transfer service, 2.x's pull path, takes it as one directory.
        const list = "[plugins.'io.containerd.cri.v1.images'.registry]\nconfig_path = '/etc/containerd/certs.d:/etc/docker/certs.d'\n";
        for (const config of ["", list]) {
            const pull = await pullWith(tools.containerd2, config, nodeRoot);
            assert.notEqual(pull.code, 0, config);
            assert.match(pull.output, /x509: certificate signed by unknown authority/, config);
        }
    });

    // Nodes as they come: Debian's containerd 1.6 package config, and `containerd config default` of 2.x.
    const stockConfigs = [
        {
            name: "containerd 1.6 with Debian's stock config.toml (no registry table: add it)",
            binary: () => "/usr/bin/containerd",
            stock: async () => readFileSync("/etc/containerd/config.toml", "utf8"),
            table: (snippet: ContainerdSnippet) => snippet.configPathToml["containerd-1.x"].replace("version = 2\n\n", ""),
            edit: (stock: string, table: string) => `${stock}\n${table}`,
        },
        {
            name: "containerd 2.x with `containerd config default` (the table is there, config_path empty: set it)",
            binary: () => tools.containerd2,
            stock: async () => (await run(tools.containerd2, ["config", "default"])).stdout,
            table: (snippet: ContainerdSnippet) => snippet.configPathToml["containerd-2.x"],
            edit: (stock: string) =>
                stock.replace(
                    /(\[plugins\.'io\.containerd\.cri\.v1\.images'\.registry\]\n\s*config_path = )''/,
                    `$1'${CONTAINERD_CERTS_DIR}'`,
                ),
        },
    ];
    for (const node of stockConfigs) {
        it(`the containerd snippet run on a node, ${node.name}: it says which table to set; once set, crictl pulls`, async () => {
            const nodeDir = join(work, `stock-${++runs}`);
            const etc = join(nodeDir, "etc/containerd");
            mkdirSync(etc, { recursive: true });
            const stock = await node.stock();
            writeFileSync(join(etc, "config.toml"), stock);
            const snippet = renderContainerdSnippet({ endpoint: registry.endpoint, caCertificate: registry.caPem });
            writeFileSync(join(nodeDir, "containerd.sh"), snippet.script);
            // On the node itself (no ROOT), its containerd first on PATH; /etc/containerd is the scratch one.
            const env = { ...process.env, PATH: `${dirname(node.binary())}:${process.env.PATH}` };
            const onNode = () => run(...inPrivateMounts(registry.hostsFile, etc, "sh", [join(nodeDir, "containerd.sh")]), { env });
            const first = await onNode();
            assert.ok(first.stderr.includes("set config_path in this table of /etc/containerd/config.toml"), first.stderr);
            assert.ok(first.stderr.includes(`\n\n${node.table(snippet)}\nthen: systemctl restart containerd`), first.stderr);
            assert.equal(readFileSync(join(etc, "config.toml"), "utf8"), stock, "the script never edits config.toml");

            const edited = node.edit(stock, node.table(snippet));
            assert.notEqual(edited, stock);
            writeFileSync(join(etc, "config.toml"), edited);
            assert.equal((await onNode()).stderr, "", "once config_path is set, the check says nothing");
            const pull = await pullWith(node.binary(), edited, nodeDir);
            assert.equal(pull.code, 0, pull.output);
            assert.deepEqual(pull.repoDigests, [`${registry.endpoint}/cri/small@${pushedDigest}`]);
        });
    }

    it("k3s's own pull path (wharfie) fetches the image with the node script's merged registries.yaml and CA; without the CA, a certificate error", async () => {
        const check = await k3sRegistriesCheck();
        const image = `${registry.endpoint}/${IMAGE_PATH}`;
        // Inside a node's root: registries.yaml and the CA file by their node paths, and the name.
        const k3sRoot = join(work, "k3s-node");
        mkdirSync(join(k3sRoot, "etc"), { recursive: true });
        writeFileSync(join(k3sRoot, "etc/hosts"), readFileSync(registry.hostsFile));
        writeFileSync(
            join(work, "k3s.sh"),
            renderK3sSnippet({ endpoint: registry.endpoint, caCertificate: registry.caPem, username: USER, password: PASSWORD }).script,
        );
        await run("sh", [join(work, "k3s.sh")], { env: { ...process.env, ROOT: k3sRoot } });
        const pulled = await run(check, ["-root", k3sRoot, "-image", image, "/etc/rancher/k3s/registries.yaml"]);
        assert.equal((JSON.parse(pulled.stdout) as { digest: string }).digest, pushedDigest);

        rmSync(join(k3sRoot, `etc/rancher/k3s/certs.d/${registry.endpoint}/ca.crt`));
        const noCa = await run(check, ["-root", k3sRoot, "-image", image, "/etc/rancher/k3s/registries.yaml"], { allowFailure: true });
        assert.notEqual(noCa.code, 0);
        assert.match(noCa.stderr, /x509: certificate signed by unknown authority/);
    });

    it("left nothing of containerd's outside its own root and state dirs", () => {
        assert.deepEqual(
            HOST_STATE.filter((path) => existsSync(path)),
            hostStateBefore,
        );
    });
});
