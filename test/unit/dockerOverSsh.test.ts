/**
 * Docker over SSH (hosts/dockerOverSsh.ts, render/sshAccess.ts), under mocks: the ssh and
 * alicloud modes refuse a Docker environment that would redirect the deploy, and write the
 * stack's ssh_config that docs/cloud.md's manual login uses.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { execFileSync } from "child_process";
import { generateKeyPairSync } from "crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { refuseRedirectingDockerEnvironment } from "../../components/hosts/dockerOverSsh";
import {
    DOCKER_REDIRECTING_VARIABLES,
    redirectingDockerVariables,
    renderSshConfig,
    SSH_CONFIG_ALIAS,
} from "../../components/render/sshAccess";
import { evaluateProgram } from "../../scripts/lib/program/evaluate";
import { assertSecretsStayHidden, isolateHome } from "../harness/inspect";
import { MINIMAL_ALICLOUD_CONFIG } from "../support/fixtures";

const ROOT = resolve(__dirname, "../..");

// The SSH key files stay under a temp HOME; a developer's or CI's own Docker settings must not
// decide these tests (see the refusal below).
const HOME = isolateHome("pr-remote-home-");

const SSH_PRIVATE_KEY = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string;
const SSH = {
    mode: "ssh",
    hostnames: ["registry.lan"],
    ssh: {
        host: "192.168.1.5",
        port: 2222,
        user: "debian",
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGQVrdeYJUgYAbqMyIi0G1UI3VsUxxpeSFf/wLbW0gof",
    },
    sshPrivateKey: SSH_PRIVATE_KEY,
};

/** Runs `evaluate` with `variables` set in the environment the program inherits. */
async function withEnvironment<T>(variables: Record<string, string>, evaluate: () => Promise<T>): Promise<T> {
    Object.assign(process.env, variables);
    try {
        return await evaluate();
    } finally {
        for (const name of Object.keys(variables)) delete process.env[name];
    }
}

describe("ssh and alicloud modes refuse a Docker environment that could redirect the deploy", () => {
    it("names every variable that is set, and ignores empty ones", () => {
        assert.deepEqual(DOCKER_REDIRECTING_VARIABLES, ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"]);
        assert.deepEqual(redirectingDockerVariables({ DOCKER_TLS_VERIFY: "1", DOCKER_HOST: "tcp://10.0.0.1:2376", DOCKER_CONTEXT: "" }), [
            "DOCKER_HOST",
            "DOCKER_TLS_VERIFY",
        ]);
        assert.throws(() => refuseRedirectingDockerEnvironment("x", { DOCKER_CERT_PATH: "/certs" }), {
            name: "DockerEnvironmentError",
            message: /^DOCKER_CERT_PATH is set: .*env -u DOCKER_CERT_PATH pulumi up/,
        });
        assert.doesNotThrow(() => refuseRedirectingDockerEnvironment("x", {}));
    });

    for (const [mode, config] of [
        ["ssh", SSH],
        ["alicloud", MINIMAL_ALICLOUD_CONFIG],
    ] as const) {
        it(`${mode} mode stops before declaring any resource`, async () => {
            const result = await withEnvironment({ DOCKER_HOST: "unix:///var/run/docker.sock", DOCKER_CONTEXT: "remote" }, () =>
                evaluateProgram({ config, secretKeys: mode === "ssh" ? ["sshPrivateKey"] : [] }),
            );
            assert.match(result.error ?? "", /DOCKER_HOST, DOCKER_CONTEXT are set: .*env -u DOCKER_HOST -u DOCKER_CONTEXT pulumi up/);
            const custom = result.resources.filter(
                (r) => !r.type.startsWith("private-registry:") && !r.type.startsWith("pulumi:pulumi:Stack"),
            );
            assert.deepEqual(
                custom.map((r) => r.type),
                [],
                "nothing that acts on a server",
            );
        });
    }

    it("local mode keeps reading DOCKER_HOST, as documented", async () => {
        const result = await withEnvironment({ DOCKER_HOST: "unix:///tmp/other.sock" }, () =>
            evaluateProgram({ config: { mode: "local" } }),
        );
        assert.equal(result.error, undefined);
    });
});

describe("the stack's ssh_config, for logging in by hand", () => {
    const files = {
        identityFile: "/home/ops/.private-registry/p/s/ssh-docker/id_key",
        knownHostsFile: "/home/ops/.private-registry/p/s/ssh-docker/known_hosts",
    };

    it("is what OpenSSH resolves: the pinned address and port, the key, the stack's known_hosts, strict checking", () => {
        const dir = mkdtempSync(join(tmpdir(), "pr-ssh-config-"));
        try {
            const config = join(dir, "ssh_config");
            require("fs").writeFileSync(config, renderSshConfig({ files, host: "203.0.113.7", port: 22, user: "root", pinned: true }));
            const resolved = execFileSync("ssh", ["-G", "-F", config, SSH_CONFIG_ALIAS], { encoding: "utf8" });
            const option = (name: string) =>
                resolved
                    .split("\n")
                    .find((line) => line.startsWith(`${name} `))
                    ?.slice(name.length + 1);
            assert.equal(option("hostname"), "203.0.113.7");
            assert.equal(option("port"), "22");
            assert.equal(option("user"), "root");
            assert.equal(option("identityfile"), files.identityFile);
            assert.equal(option("userknownhostsfile"), files.knownHostsFile);
            assert.equal(option("stricthostkeychecking"), "true");
            assert.equal(option("identitiesonly"), "yes");
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
        assert.match(renderSshConfig({ files, host: "h", port: 2222, user: "u", pinned: false }), /StrictHostKeyChecking accept-new/);
    });

    it("is written 0600 beside the key on every run, and docs/cloud.md logs in with it as written", async () => {
        const result = await evaluateProgram({ config: SSH, secretKeys: ["sshPrivateKey"], stack: "lan" });
        assert.equal(result.error, undefined);
        assert.ok(
            assertSecretsStayHidden(result, { sshPrivateKey: SSH_PRIVATE_KEY }) >= 5,
            "the ssh_config names the key file, never the key",
        );
        const dir = join(HOME, ".private-registry", "private-registry", "lan", "ssh-docker");
        const written = readFileSync(join(dir, "ssh_config"), "utf8");
        assert.equal(
            written,
            renderSshConfig({
                files: { identityFile: join(dir, "id_key"), knownHostsFile: join(dir, "known_hosts") },
                host: "192.168.1.5",
                port: 2222,
                user: "debian",
                pinned: true,
            }),
        );
        assert.equal(statSync(join(dir, "ssh_config")).mode & 0o777, 0o600);
        const docs = readFileSync(join(ROOT, "docs/cloud.md"), "utf8");
        assert.ok(
            docs.includes("ssh -F ~/.private-registry/private-registry/prod/alicloud-docker/ssh_config registry"),
            "the alicloud login line",
        );
        assert.ok(
            docs.includes("ssh -F ~/.private-registry/private-registry/lan/ssh-docker/ssh_config registry"),
            "the ssh-mode login line",
        );
    });
});
