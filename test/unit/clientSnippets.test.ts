/**
 * Client snippets: parsed by the libraries the clients' formats belong to, scripts checked by
 * the shell and run into a scratch root, the pull secret decoded back to `user:pass`. How the
 * script merges a shared file: nodeScript.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { execFileSync } from "child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";
import {
    renderContainerdSnippet,
    renderDockerSnippet,
    renderImagePullSecret,
    renderK3sSnippet,
    renderNodeSetup,
} from "../../components/render/snippets/clientSnippets";
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
});
