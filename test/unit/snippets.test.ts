/**
 * Client snippets: parsed by the libraries the clients' formats belong to, scripts checked by
 * the shell and run into a scratch root, the pull secret decoded back to `user:pass`.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { execFileSync, spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { basename, join } from "path";
import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";
import {
    renderContainerdSnippet,
    renderDockerSnippet,
    renderImagePullSecret,
    renderK3sRegistriesYaml,
    renderK3sSnippet,
    renderNodeSetup,
} from "../../components/render/snippets/clientSnippets";
import { renderScript } from "../../components/render/shell/nodeScript";
import { shellQuote } from "../../components/render/shell/quote";
import { hostPort } from "../../components/render/endpoint";

const CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const creds = { endpoint: "registry.lan:8443", caCertificate: CA, username: "admin", password: "p'a$s\"w0rd`x" };

function inScratchRoot(script: string, run: (root: string) => void): void {
    const root = mkdtempSync(join(tmpdir(), "pr-root-"));
    try {
        const path = join(root, "setup.sh");
        writeFileSync(path, script);
        execFileSync("sh", ["-n", path]);
        execFileSync("sh", [path], { env: { ...process.env, ROOT: root } });
        run(root);
    } finally {
        rmSync(root, { recursive: true, force: true });
    }
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe("client snippets", () => {
    it("formats endpoints the way clients write them", () => {
        assert.equal(hostPort("registry.lan", 443), "registry.lan");
        assert.equal(hostPort("registry.lan", 8443), "registry.lan:8443");
        assert.equal(hostPort("::1", 8443), "[::1]:8443");
    });

    it("quotes anything for the shell", () => {
        for (const value of ["plain", "it's", "$(reboot)", "`x`", 'a"b', "new\nline"]) {
            assert.equal(execFileSync("sh", ["-c", `printf %s ${shellQuote(value)}`]).toString(), value);
        }
    });

    it("docker: installs the CA under certs.d/HOST:PORT and logs in from stdin", () => {
        const snippet = renderDockerSnippet(creds);
        assert.deepEqual(
            snippet.files.map((f) => [f.path, f.mode]),
            [["/etc/docker/certs.d/registry.lan:8443/ca.crt", "0644"]],
        );
        assert.deepEqual(snippet.commands, ["docker login 'registry.lan:8443' --username 'admin' --password-stdin"]);
        assert.ok(!snippet.script.includes(creds.password), "the plain Docker snippet carries no password");
        inScratchRoot(snippet.script, (root) => {
            const ca = join(root, "etc/docker/certs.d/registry.lan:8443/ca.crt");
            assert.equal(readFileSync(ca, "utf8"), CA);
            assert.equal(mode(ca), "644");
        });
    });

    it("docker with a public CA: nothing to trust", () => {
        const snippet = renderDockerSnippet({ endpoint: "registry.example.com", username: "admin" });
        assert.deepEqual(snippet.files, []);
        assert.match(snippet.description, /public CA, nothing to trust/);
    });

    it("containerd: hosts.toml parses as TOML with server, capabilities and a relative ca", () => {
        const snippet = renderContainerdSnippet(creds);
        const hostsToml = snippet.files.find((f) => f.path.endsWith("hosts.toml"));
        assert.equal(hostsToml?.path, "/etc/containerd/certs.d/registry.lan:8443/hosts.toml");
        const parsed = parseToml(hostsToml.content) as { server: string; host: Record<string, { capabilities: string[]; ca?: string }> };
        assert.equal(parsed.server, "https://registry.lan:8443");
        // smol-toml builds null-prototype objects; compare plain data.
        assert.deepEqual(JSON.parse(JSON.stringify(parsed.host["https://registry.lan:8443"])), {
            capabilities: ["pull", "resolve", "push"],
            ca: "ca.crt",
        });
        assert.ok(snippet.files.some((f) => f.path === "/etc/containerd/certs.d/registry.lan:8443/ca.crt" && f.content === CA));
        const v1 = parseToml(snippet.configPathToml["containerd-1.x"]) as any;
        const v2 = parseToml(snippet.configPathToml["containerd-2.x"]) as any;
        assert.equal(v1.plugins["io.containerd.grpc.v1.cri"].registry.config_path, "/etc/containerd/certs.d");
        // Without it, containerd 1.x reads a version 1 config and ignores the table (test/integration/criPull.test.ts).
        assert.equal(v1.version, 2);
        assert.equal(v2.version, undefined, "containerd 2.x takes its own table in a config of any version");
        assert.equal(v2.plugins["io.containerd.cri.v1.images"].registry.config_path, "/etc/containerd/certs.d");
        assert.equal(
            (parseToml(renderContainerdSnippet({ endpoint: "r.example.com" }).files[0].content) as any).host["https://r.example.com"].ca,
            undefined,
        );
    });

    it("k3s: registries.yaml has the mirror, auth and tls.ca_file, and is written 0600", () => {
        const snippet = renderK3sSnippet(creds);
        const file = snippet.files.find((f) => f.path === "/etc/rancher/k3s/registries.yaml");
        assert.ok(file);
        assert.equal(file.mode, "0600");
        const parsed = parseYaml(file.content);
        assert.deepEqual(parsed.mirrors["registry.lan:8443"], { endpoint: ["https://registry.lan:8443"] });
        assert.deepEqual(parsed.configs["registry.lan:8443"].auth, { username: "admin", password: creds.password });
        const caPath = parsed.configs["registry.lan:8443"].tls.ca_file;
        assert.equal(caPath, "/etc/rancher/k3s/certs.d/registry.lan:8443/ca.crt");
        assert.equal(parseYaml(file.merge!.entries.mirrors)["registry.lan:8443"].endpoint[0], "https://registry.lan:8443");
        assert.deepEqual(parseYaml(file.merge!.entries.configs)["registry.lan:8443"], parsed.configs["registry.lan:8443"]);
        inScratchRoot(snippet.script, (root) => {
            assert.equal(mode(join(root, "etc/rancher/k3s/registries.yaml")), "600");
            assert.equal(readFileSync(join(root, caPath), "utf8"), CA);
            // On a node without one, the file is exactly what the snippet says to add.
            assert.equal(readFileSync(join(root, "etc/rancher/k3s/registries.yaml"), "utf8"), file.content);
            assert.deepEqual(
                readdirSync(join(root, "etc/rancher/k3s")).sort(),
                ["certs.d", "registries.yaml"],
                "no backup of a file that was not there",
            );
        });
    });

    it("imagePullSecret: a dockerconfigjson Secret that decodes to the right user:pass", () => {
        const manifest = parseYaml(renderImagePullSecret({ ...creds, name: "private-registry", namespace: "apps" }));
        assert.equal(manifest.kind, "Secret");
        assert.equal(manifest.type, "kubernetes.io/dockerconfigjson");
        assert.deepEqual(manifest.metadata, { name: "private-registry", namespace: "apps" });
        const config = JSON.parse(Buffer.from(manifest.data[".dockerconfigjson"], "base64").toString());
        const entry = config.auths["registry.lan:8443"];
        assert.equal(Buffer.from(entry.auth, "base64").toString(), `admin:${creds.password}`);
        assert.equal(entry.password, creds.password);
    });

    it("nodeSetup: one script writes all three runtimes' files and runs nothing under another root", () => {
        const script = renderNodeSetup(creds);
        inScratchRoot(script, (root) => {
            for (const [path, fileMode] of [
                ["etc/docker/certs.d/registry.lan:8443/ca.crt", "644"],
                ["etc/containerd/certs.d/registry.lan:8443/hosts.toml", "644"],
                ["etc/containerd/certs.d/registry.lan:8443/ca.crt", "644"],
                ["etc/rancher/k3s/registries.yaml", "600"],
            ]) {
                assert.ok(statSync(join(root, path)).isFile(), path);
                assert.equal(mode(join(root, path)), fileMode, path);
            }
            // umask 077 guards the secrets, not the directories daemons and users read.
            for (const dir of [
                "etc",
                "etc/docker",
                "etc/docker/certs.d",
                "etc/docker/certs.d/registry.lan:8443",
                "etc/containerd",
                "etc/containerd/certs.d",
                "etc/containerd/certs.d/registry.lan:8443",
                "etc/rancher",
                "etc/rancher/k3s",
                "etc/rancher/k3s/certs.d",
            ]) {
                assert.equal(mode(join(root, dir)), "755", dir);
            }
        });
        assert.match(
            script,
            /if \[ -n "\$ROOT" \]; then exit 0; fi\nif command -v docker >\/dev\/null 2>&1; then printf '%s' 'p'\\''a\$s"w0rd`x' \| docker login/,
        );
    });

    it("refuses file content that would end the here-document early", () => {
        assert.throws(
            () => renderScript("x", [{ path: "/a", mode: "0644", content: "PRIVATE_REGISTRY_EOF\n" }], []),
            /here-document marker/,
        );
    });
});

/** A node as minimal as it gets: every command the script finds is a busybox applet. */
function busyboxOnlyPath(without: string[] = []): string {
    const bin = mkdtempSync(join(tmpdir(), "pr-busybox-"));
    for (const applet of execFileSync("busybox", ["--list"])
        .toString()
        .split("\n")
        .filter((a) => a && !without.includes(a))) {
        symlinkSync("/usr/bin/busybox", join(bin, applet));
    }
    return bin;
}

interface Shell {
    name: string;
    /** The command running a script file, and the environment besides ROOT. */
    command: (script: string) => [string, string[]];
    env: NodeJS.ProcessEnv;
}

const busyboxBin = busyboxOnlyPath();
const scriptDir = mkdtempSync(join(tmpdir(), "pr-scripts-"));
after(() => {
    rmSync(busyboxBin, { recursive: true, force: true });
    rmSync(scriptDir, { recursive: true, force: true });
});
const SHELLS: Shell[] = [
    { name: "dash", command: (script) => ["dash", [script]], env: process.env },
    { name: "bash --posix", command: (script) => ["bash", ["--posix", script]], env: process.env },
    { name: "busybox sh", command: (script) => ["busybox", ["sh", script]], env: process.env },
    { name: "busybox sh, busybox applets only", command: (script) => [join(busyboxBin, "sh"), [script]], env: { PATH: busyboxBin } },
];

function runIn(shell: Shell, script: string, root: string, env: NodeJS.ProcessEnv = {}) {
    const path = join(scriptDir, `${basename(root)}.sh`);
    writeFileSync(path, script);
    const [command, args] = shell.command(path);
    const result = spawnSync(command, args, { env: { ...shell.env, ...env, ROOT: root }, encoding: "utf8" });
    return { code: result.status, stderr: result.stderr };
}

/** Every file under a root with its content and mtime: what "changes nothing" is checked against. */
function snapshotTree(root: string): Map<string, string> {
    const files = new Map<string, string>();
    const walk = (dir: string) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
            const path = join(dir, entry.name);
            if (entry.isDirectory()) walk(path);
            else files.set(path.slice(root.length), `${mode(path)} ${statSync(path).mtimeMs} ${readFileSync(path, "utf8")}`);
        }
    };
    walk(root);
    return files;
}

const FIXTURES = join(__dirname, "fixtures");
const REGISTRIES = "etc/rancher/k3s/registries.yaml";

/** A scratch root with a k3s registries.yaml already on it (or none). */
function nodeRoot(registriesYaml?: string): string {
    const root = mkdtempSync(join(tmpdir(), "pr-node-"));
    if (registriesYaml !== undefined) {
        mkdirSync(join(root, "etc/rancher/k3s"), { recursive: true });
        writeFileSync(join(root, REGISTRIES), registriesYaml);
    }
    return root;
}

function backups(root: string): string[] {
    return readdirSync(join(root, "etc/rancher/k3s")).filter((name) => name.startsWith("registries.yaml.bak-"));
}

/** Lines of `merged` not matched, in order, by the lines of `original`: the original must be a subsequence. */
function addedLines(original: string, merged: string): string[] {
    const kept = original.split("\n");
    const added: string[] = [];
    let next = 0;
    for (const line of merged.split("\n")) {
        if (next < kept.length && line === kept[next]) next++;
        else added.push(line);
    }
    assert.equal(next, kept.length, `original line ${next + 1} (${JSON.stringify(kept[next])}) is missing or out of order in:\n${merged}`);
    return added;
}

describe("node scripts merge k3s registries.yaml instead of replacing it", () => {
    const k3s = renderK3sSnippet(creds);
    const fragment = k3s.files.find((f) => f.path.endsWith("registries.yaml"))!;
    const existing = readFileSync(join(FIXTURES, "registries-existing.yaml"), "utf8");
    const stale = readFileSync(join(FIXTURES, "registries-stale.yaml"), "utf8");
    const ours = parseYaml(renderK3sRegistriesYaml(creds, "/etc/rancher/k3s/certs.d/registry.lan:8443/ca.crt"));

    for (const shell of SHELLS) {
        it(`${shell.name}: adds our two entries, keeps every other line, and a second run changes nothing`, () => {
            const root = nodeRoot(existing);
            try {
                const first = runIn(shell, renderNodeSetup(creds), root);
                assert.equal(first.code, 0, first.stderr);
                const merged = readFileSync(join(root, REGISTRIES), "utf8");
                // Byte for byte: the original is all there, in order; what was added is our entries only.
                const added = addedLines(existing, merged);
                assert.deepEqual(
                    added.filter((l) => l !== ""),
                    fragment
                        .merge!.entries.mirrors.concat(fragment.merge!.entries.configs)
                        .split("\n")
                        .filter((l) => l !== "")
                        .map((l) => `  ${l}`),
                );
                const before = parseYaml(existing);
                const after = parseYaml(merged);
                assert.deepEqual(after.mirrors, { ...before.mirrors, ...ours.mirrors });
                assert.deepEqual(after.configs, { ...before.configs, ...ours.configs });
                assert.equal(mode(join(root, REGISTRIES)), "600");
                const [backup] = backups(root);
                assert.ok(backup, "a backup of the rewritten file");
                assert.match(backup, /^registries\.yaml\.bak-\d{8}-\d{6}$/);
                assert.equal(readFileSync(join(root, "etc/rancher/k3s", backup), "utf8"), existing);
                assert.equal(mode(join(root, "etc/rancher/k3s", backup)), "600");
                assert.match(first.stderr, /registries\.yaml changed; the previous version is .*registries\.yaml\.bak-/);

                const tree = snapshotTree(root);
                const second = runIn(shell, renderNodeSetup(creds), root);
                assert.equal(second.code, 0, second.stderr);
                assert.equal(second.stderr, "");
                assert.deepEqual(snapshotTree(root), tree, "the second run changed a file, a mode, an mtime or added a backup");
            } finally {
                rmSync(root, { recursive: true, force: true });
            }
        });
    }

    it("replaces a stale entry of ours in place, with the file's own indentation, and nothing else", () => {
        const root = nodeRoot(stale);
        try {
            const result = runIn(SHELLS[3], k3s.script, root);
            assert.equal(result.code, 0, result.stderr);
            assert.equal(
                readFileSync(join(root, REGISTRIES), "utf8"),
                [
                    "mirrors:",
                    "    registry.lan:8443:",
                    "      endpoint:",
                    '        - "https://registry.lan:8443"',
                    "    docker.io:",
                    "        endpoint:",
                    "            - https://mirror.office.lan:5000",
                    "configs:",
                    "    registry.lan:8443:",
                    "      auth:",
                    '        username: "admin"',
                    `        password: ${JSON.stringify(creds.password)}`,
                    "      tls:",
                    '        ca_file: "/etc/rancher/k3s/certs.d/registry.lan:8443/ca.crt"',
                    "    # the mirror's robot account",
                    "    mirror.office.lan:5000:",
                    "        auth:",
                    "            username: puller",
                    "            password: robot",
                    "",
                ].join("\n"),
            );
            assert.equal(readFileSync(join(root, "etc/rancher/k3s", backups(root)[0]), "utf8"), stale);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });

    it("takes an empty map written as {} or ~ and a leading document marker", () => {
        const root = nodeRoot("---\nmirrors: {} # none yet\nconfigs: ~\n");
        try {
            assert.equal(runIn(SHELLS[0], k3s.script, root).code, 0);
            const merged = readFileSync(join(root, REGISTRIES), "utf8");
            assert.match(merged, /^---\nmirrors: # none yet\n  registry\.lan:8443:\n/);
            assert.deepEqual(parseYaml(merged), ours);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });

    const refused: [string, string, RegExp][] = [
        ["flow style", 'mirrors:\n  docker.io: {endpoint: ["https://mirror"]}\n', /flow style .* at line 2/],
        ["an anchor and alias", "configs:\n  a: &shared\n    auth: {}\n  b: *shared\n", /anchor, alias or tag .* at line 2/],
        ["a merge key", "configs:\n  b:\n    <<: x\n", /merge key/],
        ["a tab", "mirrors:\n\tdocker.io:\n", /a tab at line 2/],
        ["two documents", "mirrors:\n---\nconfigs:\n", /more than one YAML document at line 2/],
        ["CRLF line ends", "mirrors:\r\n  docker.io:\r\n", /carriage return/],
        [
            "a quoted string over two lines",
            'configs:\n  x:\n    auth:\n      password: "two\n        lines"\n',
            /quoted string spanning lines at line 4/,
        ],
        ["a top-level sequence", "- mirrors\n", /not "key:"/],
        ["mirrors holding a scalar", "mirrors: none\n", /mirrors: does not hold a block mapping/],
        ["our key twice", 'mirrors:\n  registry.lan:8443:\n  "registry.lan:8443":\n', /names registry\.lan:8443 twice/],
        ["a top-level key twice", "configs:\nconfigs:\n", /top-level key configs twice/],
    ];
    for (const [what, yaml, reason] of refused) {
        it(`refuses ${what}: prints why and what to add, and changes nothing on the node`, () => {
            const root = nodeRoot(yaml);
            try {
                const tree = snapshotTree(root);
                const result = runIn(SHELLS[3], renderNodeSetup(creds), root);
                assert.equal(result.code, 1, result.stderr);
                assert.match(result.stderr, reason);
                assert.ok(result.stderr.includes(`by hand`) && result.stderr.includes(fragment.content), result.stderr);
                assert.deepEqual(snapshotTree(root), tree, "a refused run must not write the other runtimes' files either");
            } finally {
                rmSync(root, { recursive: true, force: true });
            }
        });
    }

    it("after a refusal, PRIVATE_REGISTRY_KEEP leaves that file as it is and writes the rest", () => {
        const yaml = 'mirrors: {docker.io: {endpoint: ["https://mirror"]}}\n';
        const root = nodeRoot(yaml);
        try {
            const result = runIn(SHELLS[3], renderNodeSetup(creds), root, { PRIVATE_REGISTRY_KEEP: "/etc/rancher/k3s/registries.yaml" });
            assert.equal(result.code, 0, result.stderr);
            assert.match(result.stderr, /leaving \/etc\/rancher\/k3s\/registries\.yaml as it is/);
            assert.equal(readFileSync(join(root, REGISTRIES), "utf8"), yaml);
            assert.deepEqual(backups(root), []);
            assert.ok(existsSync(join(root, "etc/docker/certs.d/registry.lan:8443/ca.crt")));
            assert.ok(existsSync(join(root, "etc/rancher/k3s/certs.d/registry.lan:8443/ca.crt")));
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });

    it("refuses, changing nothing, on a node without awk, and when the file is a symbolic link", () => {
        const noAwk = busyboxOnlyPath(["awk"]);
        const root = nodeRoot(existing);
        try {
            const tree = snapshotTree(root);
            // dash, since busybox's own sh finds its awk applet whatever PATH says.
            const result = runIn(
                { name: "dash without awk", command: (script) => ["/usr/bin/dash", [script]], env: { PATH: noAwk } },
                k3s.script,
                root,
            );
            assert.equal(result.code, 1);
            assert.match(result.stderr, /no awk on this node/);
            assert.deepEqual(snapshotTree(root), tree);

            writeFileSync(join(root, "etc/rancher/k3s/elsewhere.yaml"), existing);
            rmSync(join(root, REGISTRIES));
            symlinkSync("elsewhere.yaml", join(root, REGISTRIES));
            const linked = runIn(SHELLS[0], k3s.script, root);
            assert.equal(linked.code, 1);
            assert.match(linked.stderr, /registries\.yaml: not a regular file/);
        } finally {
            rmSync(root, { recursive: true, force: true });
            rmSync(noAwk, { recursive: true, force: true });
        }
    });
});
