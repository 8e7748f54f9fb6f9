/**
 * The `ssh` mode under mocks: what `pulumi preview` would declare for a server you already run,
 * and the pure pieces (SSH addresses and options for ssh and the Docker CLI) directly.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { generateKeyPairSync } from "crypto";
import { readFileSync, statSync } from "fs";
import { join } from "path";
import { ACME_DIRECTORIES } from "../../components/certificates/acmeCertificate";
import { renderInstallDockerScript } from "../../components/render/hostScripts";
import { dockerSshOptions, dockerSshUrl, knownHostsLine } from "../../components/render/sshAccess";
import { evaluateProgram, EvaluationResult, findResource } from "../../scripts/lib/program/evaluate";
import { ACME_CERTIFICATE, assertSecretsStayHidden, declared, Inputs, inputsOf, isolateHome, VOLUME } from "../harness/inspect";

const COMMAND = "command:remote:Command";

const HOME = isolateHome("pr-ssh-home-");

const SSH_PRIVATE_KEY = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string;
const SSH_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGQVrdeYJUgYAbqMyIi0G1UI3VsUxxpeSFf/wLbW0gof";

describe("ssh mode", () => {
    let selfSigned: EvaluationResult;
    let withAcme: EvaluationResult;

    before(async () => {
        [selfSigned, withAcme] = await Promise.all([
            evaluateProgram({
                config: {
                    mode: "ssh",
                    hostnames: ["registry.lan"],
                    ipAddresses: ["192.168.1.5"],
                    ssh: { host: "192.168.1.5", port: 2222, user: "debian", hostKey: SSH_HOST_KEY },
                    sshPrivateKey: SSH_PRIVATE_KEY,
                },
                secretKeys: ["sshPrivateKey"],
            }),
            evaluateProgram({
                config: {
                    mode: "ssh",
                    hostnames: ["registry.example.net"],
                    ssh: { host: "registry.example.net" },
                    acme: { email: "ops@example.net", server: "production" },
                    sshPrivateKey: SSH_PRIVATE_KEY,
                },
                secretKeys: ["sshPrivateKey"],
                stack: "edge",
            }),
        ]);
        assert.equal(selfSigned.error, undefined);
        assert.equal(withAcme.error, undefined);
    });

    it("installs Docker on the server if missing, then deploys the same registry to it over SSH", () => {
        const cloudResources = selfSigned.resources.filter((r) => r.type.startsWith("alicloud:") || r.type.startsWith("acme:"));
        assert.deepEqual(cloudResources, [], "nothing in any cloud");
        assert.deepEqual(
            declared(selfSigned).filter((d) => !d.startsWith("docker:") && !d.startsWith("random:") && !d.startsWith("tls:")),
            [
                "command:remote:Command ssh-install-docker",
                "private-registry:host:Ssh ssh",
                "private-registry:index:Edge registry-edge",
                "private-registry:index:PrivateRegistry registry",
                "private-registry:index:Registry registry-registry",
                "private-registry:index:RegistryCredentials registry-credentials",
                "private-registry:index:RegistryUi registry-ui",
                "private-registry:index:SelfSignedCertificate tls",
                "pulumi:providers:docker ssh-docker",
                "pulumi:pulumi:Stack private-registry-dev",
            ],
        );
        assert.deepEqual(
            declared(selfSigned)
                .filter((d) => d.startsWith("docker:index/container:Container"))
                .map((d) => d.split(" ")[1]),
            [
                "registry-edge",
                "registry-edge-files-manifest",
                "registry-edge-files-nginx.conf",
                "registry-edge-files-push-users",
                "registry-edge-files-server.crt",
                "registry-edge-secrets",
                "registry-registry",
                "registry-registry-files-config.yml",
                "registry-registry-files-manifest",
                "registry-registry-files-schedule",
                "registry-ui",
            ],
            "three services; a holder per plain file, one for the plain manifest, one for the secret files",
        );

        const install = findResource(selfSigned, COMMAND, "ssh-install-docker");
        const inputs = install.inputs as Inputs;
        assert.equal(inputs.create, renderInstallDockerScript({ sudo: true }), "a non-root user installs through sudo");
        assert.match(inputs.create, /if ! command -v docker >\/dev\/null 2>&1; then/);
        assert.deepEqual([inputs.connection.host, inputs.connection.port, inputs.connection.user], ["192.168.1.5", 2222, "debian"]);
        assert.equal(inputs.connection.privateKey, SSH_PRIVATE_KEY);
        assert.equal(inputs.connection.hostKey, SSH_HOST_KEY);
        assert.equal(inputs.connection.dialErrorLimit, 3, "an existing server answers at once: a wrong host key fails in seconds");
        assert.ok(install.secretInputPaths.includes("connection"));

        const provider = inputsOf(selfSigned, "pulumi:providers:docker", "ssh-docker");
        assert.equal(provider.host, "ssh://debian@192.168.1.5:2222");
        assert.ok((JSON.parse(provider.sshOpts) as string[]).includes("StrictHostKeyChecking=yes"), "a configured host key is enforced");
        const dir = join(HOME, ".private-registry", "private-registry", "dev", "ssh-docker");
        assert.equal(readFileSync(join(dir, "id_key"), "utf8"), SSH_PRIVATE_KEY);
        assert.equal(statSync(join(dir, "id_key")).mode & 0o777, 0o600);
        assert.equal(readFileSync(join(dir, "known_hosts"), "utf8"), `[192.168.1.5]:2222 ${SSH_HOST_KEY}\n`);
        assert.equal(selfSigned.options[`${VOLUME}::registry-registry-data`].retainOnDelete, true);
        assert.equal(inputsOf(selfSigned, VOLUME, "registry-registry-data").driverOpts, undefined, "a plain named volume on the server");
    });

    it("defaults to the self-signed CA, which the snippets then install", () => {
        assert.deepEqual(inputsOf(selfSigned, "tls:index/certRequest:CertRequest").dnsNames, ["registry.lan"]);
        assert.deepEqual(inputsOf(selfSigned, "tls:index/certRequest:CertRequest").ipAddresses, ["192.168.1.5"]);
        assert.match(String(selfSigned.outputs.caCertificate.value), /^-----BEGIN CERTIFICATE-----/);
        assert.deepEqual(
            (selfSigned.outputs.clientSnippets.value as Inputs).docker.files.map((f: Inputs) => f.path),
            ["/etc/docker/certs.d/registry.lan/ca.crt"],
        );
    });

    it("with acme: a production Let's Encrypt certificate, root without sudo, the first host key pinned on first use", () => {
        assert.equal(inputsOf(withAcme, "pulumi:providers:acme").serverUrl, ACME_DIRECTORIES.production);
        assert.ok(declared(withAcme).includes("acme:index/certificate:Certificate tls-production-certificate"));
        const certificate = inputsOf(withAcme, ACME_CERTIFICATE);
        assert.equal(certificate.commonName, "registry.example.net");
        assert.deepEqual(certificate.subjectAlternativeNames, []);
        assert.equal(certificate.dnsChallenges[0].provider, "alidns");
        assert.equal(certificate.dnsChallenges[0].config.ALICLOUD_REGION_ID, undefined, "no alicloud settings: lego's default region");
        assert.ok(!withAcme.resources.some((r) => r.type.startsWith("alicloud:")), "ssh mode manages no DNS records");
        assert.equal(withAcme.outputs.caCertificate.value ?? null, null);

        const install = inputsOf(withAcme, COMMAND, "ssh-install-docker");
        assert.equal(install.create, renderInstallDockerScript({ sudo: false }));
        assert.ok(!install.create.includes("sudo"));
        assert.equal(install.connection.hostKey, undefined);
        const provider = inputsOf(withAcme, "pulumi:providers:docker");
        assert.equal(provider.host, "ssh://root@registry.example.net:22");
        assert.ok((JSON.parse(provider.sshOpts) as string[]).includes("StrictHostKeyChecking=accept-new"));
    });

    it("never shows the SSH key, the TLS keys or the passwords in a plain output or input", () => {
        for (const result of [selfSigned, withAcme]) {
            assert.ok(
                assertSecretsStayHidden(result, { sshPrivateKey: SSH_PRIVATE_KEY }) >= 5,
                "the check looks at every key and password",
            );
            assert.equal(result.outputs.credentials.secret, true);
        }
    });
});

describe("ssh: bad configuration stops at preview, naming the key", () => {
    it("ssh: no sshPrivateKey", async () => {
        const result = await evaluateProgram({ config: { mode: "ssh", hostnames: ["registry.lan"], ssh: { host: "192.168.1.5" } } });
        assert.match(result.error ?? "", /private-registry:sshPrivateKey is required in ssh mode/);
        assert.ok(!result.resources.some((r) => r.type.startsWith("command:") || r.type.startsWith("docker:")));
    });
});

describe("pure pieces of the ssh mode", () => {
    it("writes SSH addresses the way ssh and Docker read them", () => {
        assert.equal(dockerSshUrl("root", "2001:db8::5", 22), "ssh://root@[2001:db8::5]:22");
        assert.equal(knownHostsLine("203.0.113.5", 22, `${SSH_HOST_KEY}\n`), `203.0.113.5 ${SSH_HOST_KEY}\n`);
        assert.equal(knownHostsLine("registry.lan", 2222, SSH_HOST_KEY), `[registry.lan]:2222 ${SSH_HOST_KEY}\n`);
        const files = { identityFile: "/k/id", knownHostsFile: "/k/known hosts" };
        assert.ok(dockerSshOptions(files, false).includes("StrictHostKeyChecking=accept-new"));
        assert.ok(dockerSshOptions(files, true).includes('UserKnownHostsFile="/k/known hosts"'), "quoted: ssh splits -o values on spaces");
    });
});
