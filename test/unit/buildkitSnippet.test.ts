/**
 * The builders' snippet: buildkitd.toml parsed as TOML the way BuildKit reads it (a `registry`
 * table keyed by `host:port`, `ca` a list of files), every file it names written by the script,
 * and the buildx and login commands as a person would paste them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { execFileSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
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
