/**
 * The mirror's client snippets: Docker's daemon.json merged with nothing but busybox (other
 * settings kept byte for byte, the user's own mirrors first, a refusal that changes nothing and
 * prints what to add), containerd's docker.io hosts.toml parsed as TOML, k3s's mirrors."docker.io"
 * merged beside the registry's own entries.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { execFileSync, spawnSync } from "child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";
import { renderK3sSnippet } from "../../components/render/snippets/clientSnippets";
import {
    renderContainerdMirrorSnippet,
    renderDockerMirrorSnippet,
    renderK3sMirrorSnippet,
    renderMirrorHostsToml,
} from "../../components/render/snippets/mirrorSnippets";

const CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const input = {
    endpoint: "registry.lan:5443",
    registryEndpoint: "registry.lan:8443",
    caCertificate: CA,
    username: "puller",
    password: "p'a$s\"w0rd",
};
const MIRROR = "https://registry.lan:5443";

/** Every command the script finds is a busybox applet: a node as minimal as it gets. */
const busyboxBin = mkdtempSync(join(tmpdir(), "pr-busybox-"));
for (const applet of execFileSync("busybox", ["--list"]).toString().split("\n").filter(Boolean))
    symlinkSync("/usr/bin/busybox", join(busyboxBin, applet));
const roots: string[] = [busyboxBin];
after(() => roots.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function scratchRoot(files: Record<string, string> = {}): string {
    const root = mkdtempSync(join(tmpdir(), "pr-root-"));
    roots.push(root);
    for (const [path, content] of Object.entries(files)) {
        mkdirSync(join(root, path, ".."), { recursive: true });
        writeFileSync(join(root, path), content);
    }
    return root;
}

function runScript(script: string, root: string, env: Record<string, string> = {}) {
    const path = join(root, "..", `${root.split("/").pop()}.sh`);
    writeFileSync(path, script);
    roots.push(path);
    execFileSync("busybox", ["sh", "-n", path]);
    return spawnSync("/usr/bin/busybox", ["sh", path], { env: { PATH: busyboxBin, ROOT: root, ...env }, encoding: "utf8" });
}

const EXISTING = `{
    "log-driver": "json-file",
    "log-opts": { "max-size": "10m", "max-file": "3" },
    "registry-mirrors": ["https://office-mirror.lan"],
    "insecure-registries": [],
    "data-root": "/srv/docker",
    "default-address-pools": [{ "base": "10.200.0.0/16", "size": 24 }]
}
`;

describe("Docker: registry-mirrors merged into daemon.json", () => {
    it("keeps every other setting and the user's own mirror first, backs the file up, and a second run changes nothing", () => {
        const root = scratchRoot({ "etc/docker/daemon.json": EXISTING });
        const script = renderDockerMirrorSnippet(input).script;
        const first = runScript(script, root);
        assert.equal(first.status, 0, first.stderr);
        const merged = readFileSync(join(root, "etc/docker/daemon.json"), "utf8");
        const parsed = JSON.parse(merged);
        assert.deepEqual(parsed["registry-mirrors"], ["https://office-mirror.lan", MIRROR]);
        const { ["registry-mirrors"]: _, ...others } = parsed;
        const { ["registry-mirrors"]: __, ...before } = JSON.parse(EXISTING);
        assert.deepEqual(others, before);
        assert.equal(
            merged,
            EXISTING.replace('["https://office-mirror.lan"]', `["https://office-mirror.lan", "${MIRROR}"]`),
            "only the list changed, byte for byte",
        );
        assert.equal(readFileSync(join(root, `etc/docker/certs.d/${input.endpoint}/ca.crt`), "utf8"), CA);
        const backups = () => readdirSync(join(root, "etc/docker")).filter((name) => name.startsWith("daemon.json.bak-"));
        assert.equal(backups().length, 1);
        assert.equal(readFileSync(join(root, "etc/docker", backups()[0]), "utf8"), EXISTING);
        const second = runScript(script, root);
        assert.equal(second.status, 0, second.stderr);
        assert.equal(readFileSync(join(root, "etc/docker/daemon.json"), "utf8"), merged);
        assert.equal(backups().length, 1, "a second run rewrote daemon.json");
    });

    it("writes a new daemon.json, or adds the key to one without it", () => {
        const fresh = scratchRoot();
        assert.equal(runScript(renderDockerMirrorSnippet(input).script, fresh).status, 0);
        assert.deepEqual(JSON.parse(readFileSync(join(fresh, "etc/docker/daemon.json"), "utf8")), { "registry-mirrors": [MIRROR] });
        assert.equal(statSync(join(fresh, "etc/docker/daemon.json")).mode & 0o777, 0o644);
        const other = scratchRoot({ "etc/docker/daemon.json": '{"features":{"buildkit":true}}' });
        assert.equal(runScript(renderDockerMirrorSnippet(input).script, other).status, 0);
        assert.deepEqual(JSON.parse(readFileSync(join(other, "etc/docker/daemon.json"), "utf8")), {
            "registry-mirrors": [MIRROR],
            features: { buildkit: true },
        });
    });

    for (const [what, content] of [
        ["a registry-mirrors that is no list", '{"registry-mirrors": "https://x.lan"}'],
        ["a top level that is no object", '["registry-mirrors"]'],
        ["an unterminated string", '{"debug": "true}'],
    ]) {
        it(`refuses ${what}: nothing changes, and it prints the fragment to add`, () => {
            const root = scratchRoot({ "etc/docker/daemon.json": content });
            const result = runScript(renderDockerMirrorSnippet(input).script, root);
            assert.equal(result.status, 1);
            assert.match(result.stderr, /private-registry: \/etc\/docker\/daemon\.json: .*changed nothing/);
            assert.match(result.stderr, new RegExp(`"registry-mirrors": \\["${MIRROR}"\\]`));
            assert.equal(readFileSync(join(root, "etc/docker/daemon.json"), "utf8"), content);
            assert.deepEqual(readdirSync(join(root, "etc/docker")), ["daemon.json"], "the CA was written although the merge was refused");
            const kept = runScript(renderDockerMirrorSnippet(input).script, root, { PRIVATE_REGISTRY_KEEP: "/etc/docker/daemon.json" });
            assert.equal(kept.status, 0, kept.stderr);
            assert.equal(readFileSync(join(root, "etc/docker/daemon.json"), "utf8"), content);
            assert.equal(readFileSync(join(root, `etc/docker/certs.d/${input.endpoint}/ca.crt`), "utf8"), CA);
        });
    }
});

describe("containerd: docker.io/hosts.toml", () => {
    it("pulls and resolves through the mirror with its CA and a Basic header, Docker Hub the fallback", () => {
        const toml = parseToml(renderMirrorHostsToml(input)) as {
            server: string;
            host: Record<string, { capabilities: string[]; ca: string; header: { Authorization: string[] } }>;
        };
        assert.equal(toml.server, "https://registry-1.docker.io");
        const host = toml.host[MIRROR];
        assert.deepEqual(host.capabilities, ["pull", "resolve"]);
        assert.equal(host.ca, "mirror-ca.crt");
        assert.equal(
            Buffer.from(host.header.Authorization[0].replace(/^Basic /, ""), "base64").toString(),
            `${input.username}:${input.password}`,
        );
        const root = scratchRoot();
        assert.equal(runScript(renderContainerdMirrorSnippet(input).script, root).status, 0);
        assert.equal(statSync(join(root, "etc/containerd/certs.d/docker.io/hosts.toml")).mode & 0o777, 0o600, "it holds a password");
        assert.equal(readFileSync(join(root, "etc/containerd/certs.d/docker.io/mirror-ca.crt"), "utf8"), CA);
    });
});

describe('k3s: mirrors."docker.io" beside the registry\'s own entries', () => {
    it("adds the mirror endpoint and its credentials, keeps the registry's entries; rewrites put the registry first", () => {
        const root = scratchRoot();
        const registry = { endpoint: input.registryEndpoint, caCertificate: CA, username: "puller", password: "x" };
        assert.equal(runScript(renderK3sSnippet(registry).script, root).status, 0);
        const rewrites = { "^rancher/mirrored-(.*)": "riscv64/mirrored-$1" };
        const result = runScript(renderK3sMirrorSnippet({ ...input, k3sRewrites: rewrites }).script, root);
        assert.equal(result.status, 0, result.stderr);
        const file = parseYaml(readFileSync(join(root, "etc/rancher/k3s/registries.yaml"), "utf8"));
        assert.deepEqual(file.mirrors["docker.io"], { endpoint: [`https://${input.registryEndpoint}`, MIRROR], rewrite: rewrites });
        assert.deepEqual(file.mirrors[input.registryEndpoint], { endpoint: [`https://${input.registryEndpoint}`] });
        assert.deepEqual(file.configs[input.endpoint], {
            auth: { username: input.username, password: input.password },
            tls: { ca_file: `/etc/rancher/k3s/certs.d/${input.endpoint}/ca.crt` },
        });
        assert.ok(file.configs[input.registryEndpoint], "the registry's own credentials are gone");
        // Without rewrites the entry is replaced, not duplicated: the mirror alone.
        assert.equal(runScript(renderK3sMirrorSnippet(input).script, root).status, 0);
        const again = parseYaml(readFileSync(join(root, "etc/rancher/k3s/registries.yaml"), "utf8"));
        assert.deepEqual(again.mirrors["docker.io"], { endpoint: [MIRROR] });
        assert.equal(Object.keys(again.configs).length, 2);
    });
});
