/**
 * The builders' snippet: buildkitd.toml parsed as TOML the way BuildKit reads it (a `registry`
 * table keyed by `host:port`, `ca` a list of files), every file it names written by the script,
 * and the buildx and login commands as a person would paste them. An existing buildkitd.toml is
 * merged with busybox's awk and the host's (every other line kept, our table replaced in place, a
 * refusal that changes nothing and prints the table); buildkitd itself reads a merged file in
 * test/e2e/builders.test.ts.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { execFileSync, spawnSync } from "child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parse as parseToml } from "smol-toml";
import { renderBuildkitSnippet } from "../../components/render/snippets/buildkitSnippet";

const CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const input = { endpoint: "registry.lan:8443", caCertificate: CA, username: "admin", builderName: "private-registry" };

describe("buildkit snippet", () => {
    it("buildkitd.toml trusts the CA for this registry only, at a path the script writes; the CA also goes to Docker's certs.d", () => {
        const snippet = renderBuildkitSnippet(input);
        const toml = snippet.files.find((f) => f.path === "/etc/buildkit/buildkitd.toml");
        assert.ok(toml, "the snippet writes /etc/buildkit/buildkitd.toml");
        assert.deepEqual(
            snippet.files.map((f) => f.path),
            [
                "/etc/buildkit/buildkitd.toml",
                "/etc/buildkit/certs/registry.lan:8443/ca.crt",
                "/etc/docker/certs.d/registry.lan:8443/ca.crt",
            ],
        );
        const parsed = parseToml(toml.content) as { registry: Record<string, { ca?: string[] }> };
        assert.deepEqual(Object.keys(parsed.registry), ["registry.lan:8443"]);
        assert.deepEqual(parsed.registry["registry.lan:8443"].ca, ["/etc/buildkit/certs/registry.lan:8443/ca.crt"]);
        assert.match(toml.content, /^\[registry\."registry\.lan:8443"\]$/m, "the host:port key is quoted, as BuildKit's docs write it");

        const root = mkdtempSync(join(tmpdir(), "pr-buildkit-"));
        try {
            writeFileSync(join(root, "setup.sh"), snippet.script);
            execFileSync("sh", ["-n", join(root, "setup.sh")]);
            execFileSync("sh", [join(root, "setup.sh")], { env: { ...process.env, ROOT: root } });
            assert.equal(readFileSync(join(root, "etc/buildkit/certs/registry.lan:8443/ca.crt"), "utf8"), CA);
            assert.equal(readFileSync(join(root, "etc/buildkit/buildkitd.toml"), "utf8"), toml.content);
            // `docker login` is checked by the Docker daemon, which reads only its own certs.d.
            assert.equal(readFileSync(join(root, "etc/docker/certs.d/registry.lan:8443/ca.crt"), "utf8"), CA);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });

    it("creates a docker-container builder with that config and logs in with the push account from stdin", () => {
        const { commands, script } = renderBuildkitSnippet(input);
        assert.deepEqual(commands, [
            "docker buildx rm 'private-registry' >/dev/null 2>&1 || true",
            "docker buildx create --name 'private-registry' --driver docker-container --driver-opt network=host --config /etc/buildkit/buildkitd.toml --bootstrap --use",
            "docker login 'registry.lan:8443' --username 'admin' --password-stdin",
        ]);
        assert.ok(
            script.indexOf("buildx create") > script.indexOf('if [ -n "$ROOT" ]; then exit 0; fi'),
            "no command runs under another root",
        );
    });

    it("with a public CA: an empty registry table, no CA file", () => {
        const snippet = renderBuildkitSnippet({ ...input, caCertificate: undefined });
        assert.deepEqual(
            snippet.files.map((f) => f.path),
            ["/etc/buildkit/buildkitd.toml"],
        );
        assert.deepEqual(JSON.parse(JSON.stringify(parseToml(snippet.files[0].content))), { registry: { "registry.lan:8443": {} } });
    });
});

/** Every command the script finds is a busybox applet (its awk too), or the host's own (Debian's mawk). */
const busyboxBin = mkdtempSync(join(tmpdir(), "pr-busybox-"));
for (const applet of execFileSync("busybox", ["--list"]).toString().split("\n").filter(Boolean))
    symlinkSync("/usr/bin/busybox", join(busyboxBin, applet));
const scratch: string[] = [busyboxBin];
after(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const SHELLS = [
    { name: "busybox", sh: ["/usr/bin/busybox", "sh"], path: busyboxBin },
    { name: "the host's sh and awk", sh: ["/bin/sh"], path: process.env.PATH ?? "/usr/bin:/bin" },
];
const CONFIG = "etc/buildkit/buildkitd.toml";
/** The parsed TOML as plain objects (smol-toml's tables have no prototype). */
const toml = (text: string) => JSON.parse(JSON.stringify(parseToml(text)));

function rootWith(config?: string): string {
    const root = mkdtempSync(join(tmpdir(), "pr-root-"));
    scratch.push(root);
    if (config !== undefined) {
        mkdirSync(join(root, "etc/buildkit"), { recursive: true });
        writeFileSync(join(root, CONFIG), config);
    }
    return root;
}

function runIn(shell: (typeof SHELLS)[number], root: string, env: Record<string, string> = {}) {
    const path = `${root}.sh`;
    writeFileSync(path, renderBuildkitSnippet(input).script);
    scratch.push(path);
    return spawnSync(shell.sh[0], [...shell.sh.slice(1), path], { env: { PATH: shell.path, ROOT: root, ...env }, encoding: "utf8" });
}

const OURS = renderBuildkitSnippet(input).files[0].content;
/** A builder's own buildkitd.toml: root keys, a worker table, other registries (one naming ours as its mirror), an array over lines, comments. */
const EXISTING = `# my builder
debug = true
root = "/var/lib/buildkit"   # where the cache lives

[worker.oci]
  max-parallelism = 4
  labels = { "team" = "riscv", 'note' = "kept" }

[registry."docker.io"]
  mirrors = ["registry.lan:8443"]

[registry."other.lan:5000"]
  ca = [
    "/etc/other/ca.crt",
    '/etc/other/second.crt',
  ]
`;
const backups = (root: string) => readdirSync(join(root, "etc/buildkit")).filter((name) => name.startsWith("buildkitd.toml.bak-"));

for (const shell of SHELLS) {
    describe(`buildkit snippet, with ${shell.name}: an existing buildkitd.toml is merged, not replaced`, () => {
        it("keeps every other line byte for byte, adds our table after them, and a second run changes nothing", () => {
            const root = rootWith(EXISTING);
            const first = runIn(shell, root);
            assert.equal(first.status, 0, first.stderr);
            const merged = readFileSync(join(root, CONFIG), "utf8");
            assert.equal(merged, `${EXISTING}\n${OURS}`);
            assert.deepEqual(toml(merged), {
                ...toml(EXISTING),
                registry: { ...(toml(EXISTING).registry as object), ...(toml(OURS).registry as object) },
            });
            assert.equal(backups(root).length, 1, "the previous file is kept beside it");
            const second = runIn(shell, root);
            assert.equal(second.status, 0, second.stderr);
            assert.equal(readFileSync(join(root, CONFIG), "utf8"), merged);
            assert.equal(backups(root).length, 1, "a second run rewrote the file");
        });

        it("replaces our own table however it is spelled, and nothing else: the next table and the comments before it stay", () => {
            const before = `debug = true\n\n[ registry . 'registry.lan:8443' ]   # ours, from last year\n  ca = ["/old/ca.crt"]\n  insecure = true\n\n# the mirror\n[registry."docker.io"]\n  mirrors = ["mirror.lan"]\n`;
            const root = rootWith(before);
            const result = runIn(shell, root);
            assert.equal(result.status, 0, result.stderr);
            const merged = readFileSync(join(root, CONFIG), "utf8");
            assert.equal(merged, `debug = true\n\n${OURS}\n# the mirror\n[registry."docker.io"]\n  mirrors = ["mirror.lan"]\n`);
            assert.deepEqual(toml(merged), {
                debug: true,
                registry: {
                    "registry.lan:8443": { ca: ["/etc/buildkit/certs/registry.lan:8443/ca.crt"] },
                    "docker.io": { mirrors: ["mirror.lan"] },
                },
            });
        });

        it("writes our table alone where there is no file, or only blank lines", () => {
            for (const config of [undefined, "\n  \n"]) {
                const root = rootWith(config);
                const result = runIn(shell, root);
                assert.equal(result.status, 0, result.stderr);
                assert.equal(readFileSync(join(root, CONFIG), "utf8"), OURS);
            }
        });

        for (const [what, config] of [
            ["a multi-line string", 'debug = true\nnote = """\nmine\n"""\n'],
            ["our table twice", `${OURS}\n${OURS}`],
            ["our registry as a key of [registry]", '[registry]\n  "registry.lan:8443" = { insecure = true }\n'],
            ["our registry in a dotted key", 'registry."registry.lan:8443".insecure = true\n'],
            ["a table below ours", '[[registry."registry.lan:8443".keypair]]\n  key = "/k.pem"\n'],
            ["registry as an inline table at the top", 'registry = { "docker.io" = { mirrors = ["m.lan"] } }\n'],
            ["an array that never ends", 'debug = true\n[worker.oci]\n  platforms = [ "linux/amd64",\n'],
            ["a string that never ends", 'root = "/var/lib/buildkit\n'],
            ["CR line ends", "debug = true\r\n"],
        ]) {
            it(`refuses ${what}: nothing changes, it prints the table to add, and KEEP writes the rest`, () => {
                const root = rootWith(config);
                const result = runIn(shell, root);
                assert.equal(result.status, 1, result.stderr);
                assert.match(result.stderr, /private-registry: \/etc\/buildkit\/buildkitd\.toml: .*so it changed nothing on this node/);
                assert.ok(result.stderr.includes(OURS), result.stderr);
                assert.equal(readFileSync(join(root, CONFIG), "utf8"), config);
                assert.deepEqual(
                    readdirSync(join(root, "etc/buildkit")),
                    ["buildkitd.toml"],
                    "something was written although the merge was refused",
                );
                const kept = runIn(shell, root, { PRIVATE_REGISTRY_KEEP: "/etc/buildkit/buildkitd.toml" });
                assert.equal(kept.status, 0, kept.stderr);
                assert.equal(readFileSync(join(root, CONFIG), "utf8"), config);
                assert.equal(readFileSync(join(root, "etc/buildkit/certs/registry.lan:8443/ca.crt"), "utf8"), CA);
            });
        }
    });
}
