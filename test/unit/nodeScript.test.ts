/**
 * The node script every snippet is (shell/nodeScript.ts): run by dash, bash --posix, busybox sh
 * and a busybox-only node into scratch roots, it merges k3s's registries.yaml instead of replacing
 * it, refuses what it cannot merge and changes nothing then, and a second run changes nothing.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { execFileSync, spawnSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { basename, join } from "path";
import { parse as parseYaml } from "yaml";
import { renderK3sRegistriesYaml, renderK3sSnippet, renderNodeSetup } from "../../components/render/snippets/clientSnippets";
import { renderScript } from "../../components/render/shell/nodeScript";

const CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const creds = { endpoint: "registry.lan:8443", caCertificate: CA, username: "admin", password: "p'a$s\"w0rd`x" };

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe("node script", () => {
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
