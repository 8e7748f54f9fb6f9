/**
 * The `alicloud` mode under mocks: what `pulumi preview` would declare. The Pulumi engine cannot
 * reach Alibaba Cloud or Let's Encrypt from here; these tests check what the program asks of
 * them, and the pure pieces (DNS names, security rules, daemon replacement) directly.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { readFileSync, statSync } from "fs";
import { join } from "path";
import { parse as parseYaml } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { ACME_DIRECTORIES } from "../../components/certificates/acmeCertificate";
import { followDaemonReplacement, followingDaemon } from "../../components/hosts/daemonReplacement";
import { alicloudDiskSerial } from "../../components/render/cloudInit";
import { relativeRecordName, zoneRecords } from "../../components/render/dnsRecords";
import { renderReleaseDataDiskScript, renderWaitUntilReadyScript } from "../../components/render/hostScripts";
import { ingressRules } from "../../components/render/securityRules";
import { dockerSshOptions, dockerSshUrl } from "../../components/render/sshAccess";
import { evaluateProgram, EvaluationResult, findResource } from "../../scripts/lib/program/evaluate";
import {
    ACME_CERTIFICATE,
    assertNoSecretIn,
    assertSecretsStayHidden,
    CONTAINER,
    declared,
    Inputs,
    inputsOf,
    isolateHome,
    plainFile,
    plainHolders,
    PRIVATE_KEY,
    secretsOf,
    stateOf,
    upload,
    VOLUME,
} from "../harness/inspect";
import { REGISTRY_CORE_RESOURCES } from "../support/fixtures";

const INSTANCE = "alicloud:ecs/instance:Instance";
const DISK = "alicloud:ecs/ecsDisk:EcsDisk";
const COMMAND = "command:remote:Command";

const HOME = isolateHome("pr-alicloud-home-");

const ALICLOUD = {
    mode: "alicloud",
    hostnames: ["registry.example.com"],
    uiHostname: "ui.example.com",
    certificateRenewBeforeDays: 21,
    alicloud: { region: "cn-hongkong", dnsZone: "example.com", adminCidr: "203.0.113.7/32" },
    acme: { email: "ops@example.com" },
};

describe("alicloud mode", () => {
    let result: EvaluationResult;
    let publicIp: string;

    before(async () => {
        result = await evaluateProgram({ config: ALICLOUD });
        assert.equal(result.error, undefined);
        publicIp = stateOf(result, INSTANCE).publicIp;
    });

    it("declares the VM, its network, disk, DNS and Let's Encrypt resources, and the same registry as local mode", () => {
        assert.deepEqual(
            declared(result),
            [
                ...REGISTRY_CORE_RESOURCES,
                "acme:index/certificate:Certificate tls-staging-certificate",
                "acme:index/registration:Registration tls-staging-account",
                "alicloud:dns/alidnsRecord:AlidnsRecord dns-registry.example.com",
                "alicloud:dns/alidnsRecord:AlidnsRecord dns-ui.example.com",
                "alicloud:ecs/autoSnapshotPolicy:AutoSnapshotPolicy alicloud-snapshots",
                "alicloud:ecs/ecsAutoSnapshotPolicyAttachment:EcsAutoSnapshotPolicyAttachment alicloud-data-snapshots",
                "alicloud:ecs/ecsDisk:EcsDisk alicloud-data",
                "alicloud:ecs/ecsDiskAttachment:EcsDiskAttachment alicloud-data-attachment",
                "alicloud:ecs/ecsKeyPair:EcsKeyPair alicloud-key-pair",
                "alicloud:ecs/instance:Instance alicloud-vm",
                "alicloud:ecs/securityGroup:SecurityGroup alicloud-security-group",
                "alicloud:ecs/securityGroupRule:SecurityGroupRule alicloud-allow-http",
                "alicloud:ecs/securityGroupRule:SecurityGroupRule alicloud-allow-https",
                "alicloud:ecs/securityGroupRule:SecurityGroupRule alicloud-allow-ssh",
                "alicloud:vpc/network:Network alicloud-vpc",
                "alicloud:vpc/switch:Switch alicloud-vswitch",
                "command:remote:Command alicloud-ready",
                "private-registry:dns:AlidnsRecords dns",
                "private-registry:host:Alicloud alicloud",
                "private-registry:index:AcmeCertificate tls",
                "pulumi:providers:acme tls-staging",
                "pulumi:providers:alicloud alicloud-provider",
                "pulumi:providers:docker alicloud-docker",
                "pulumi:pulumi:Stack private-registry-dev",
                "pulumi:pulumi:StackReference alicloud-previous-placement",
                "tls:index/privateKey:PrivateKey alicloud-host-key",
                "tls:index/privateKey:PrivateKey alicloud-login-key",
                "tls:index/privateKey:PrivateKey tls-account-key",
            ].sort(),
        );
    });

    it("parents every cloud resource to its component and gives each the explicit provider", () => {
        const parentOf = (key: string) => result.parents[key] ?? "";
        for (const resource of result.resources.filter((r) => r.type.startsWith("alicloud:ecs/") || r.type.startsWith("alicloud:vpc/"))) {
            assert.match(parentOf(`${resource.type}::${resource.name}`), /private-registry:host:Alicloud::alicloud$/, resource.name);
        }
        for (const resource of result.resources.filter((r) => r.type.startsWith("alicloud:dns/"))) {
            assert.match(parentOf(`${resource.type}::${resource.name}`), /private-registry:dns:AlidnsRecords::dns$/, resource.name);
        }
        for (const resource of result.resources.filter((r) => r.type.startsWith("acme:"))) {
            assert.match(parentOf(`${resource.type}::${resource.name}`), /private-registry:index:AcmeCertificate::tls$/, resource.name);
        }
        assert.match(parentOf(`${COMMAND}::alicloud-ready`), /private-registry:host:Alicloud::alicloud$/);
        assert.match(parentOf("pulumi:providers:docker::alicloud-docker"), /private-registry:host:Alicloud::alicloud$/);
        const orphans = Object.entries(result.parents).filter(([key, parent]) => parent === null && !key.startsWith("private-registry:"));
        assert.deepEqual(orphans, [], "only components sit at the top level");
        const unprovided = Object.entries(result.options).filter(([key, o]) => /^(alicloud|acme|docker):/.test(key) && !o.hasProvider);
        assert.deepEqual(unprovided, [], "no resource falls back to a default provider");
    });

    it("opens exactly 443 and 80 to everyone and 22 to the admin CIDR, nothing else", () => {
        const rules = result.resources
            .filter((r) => r.type === "alicloud:ecs/securityGroupRule:SecurityGroupRule")
            .map((r) => r.inputs as Inputs);
        const groupId = findResource(result, "alicloud:ecs/securityGroup:SecurityGroup").id;
        assert.deepEqual(rules.map((r) => `${r.type} ${r.policy} ${r.ipProtocol} ${r.portRange} from ${r.cidrIp}`).sort(), [
            "ingress accept tcp 22/22 from 203.0.113.7/32",
            "ingress accept tcp 443/443 from 0.0.0.0/0",
            "ingress accept tcp 80/80 from 0.0.0.0/0",
        ]);
        for (const rule of rules) assert.equal(rule.securityGroupId, groupId);
        assert.equal(inputsOf(result, "alicloud:ecs/securityGroup:SecurityGroup").innerAccessPolicy, "Drop");
        assert.deepEqual(inputsOf(result, INSTANCE).securityGroups, [groupId]);
    });

    it("keeps the images on a separate data disk that is protected, retained, and bound as the registry's volume", () => {
        assert.deepEqual(result.options[`${DISK}::alicloud-data`], {
            deleteBeforeReplace: false,
            retainOnDelete: true,
            protect: true,
            hasProvider: true,
        });
        assert.equal(inputsOf(result, DISK).deleteWithInstance, false);
        assert.equal(inputsOf(result, DISK).size, 100);
        const attachment = inputsOf(result, "alicloud:ecs/ecsDiskAttachment:EcsDiskAttachment");
        assert.equal(attachment.diskId, findResource(result, DISK).id);
        assert.equal(attachment.instanceId, findResource(result, INSTANCE).id);
        assert.equal(
            result.options["alicloud:ecs/ecsDiskAttachment:EcsDiskAttachment::alicloud-data-attachment"].deleteBeforeReplace,
            true,
        );

        assert.equal(result.options[`${VOLUME}::registry-registry-data`].retainOnDelete, true);
        assert.deepEqual(inputsOf(result, VOLUME, "registry-registry-data").driverOpts, {
            type: "none",
            o: "bind",
            device: "/srv/registry-data",
        });
        assert.deepEqual(inputsOf(result, CONTAINER, "registry-registry").volumes, [
            { volumeName: "private-registry-data", containerPath: "/var/lib/registry" },
            { volumeName: "private-registry-registry-socket", containerPath: "/run/registry" },
            { volumeName: "private-registry-registry-files", containerPath: "/etc/private-registry/files", readOnly: true },
        ]);
    });

    it("boots the VM with cloud-init that pins the host key and mounts that very disk by its serial", () => {
        const instance = findResource(result, INSTANCE);
        assert.ok(instance.secretInputPaths.includes("userData"), "user data carries the host private key: secret");
        const userData = Buffer.from((instance.inputs as Inputs).userData, "base64").toString("utf8");
        assert.ok(userData.startsWith("#cloud-config\n"));
        const config = parseYaml(userData) as Inputs;
        const hostKey = stateOf(result, PRIVATE_KEY, "alicloud-host-key");
        assert.equal(config.ssh_keys.ed25519_public, hostKey.publicKeyOpenssh.trim());
        assert.equal(config.ssh_keys.ed25519_private, hostKey.privateKeyOpenssh);
        const serial = alicloudDiskSerial(findResource(result, DISK).id);
        assert.match(config.runcmd[0], new RegExp(`'${serial}' '/srv/registry-data'`));

        const loginKey = stateOf(result, PRIVATE_KEY, "alicloud-login-key");
        assert.equal(inputsOf(result, PRIVATE_KEY, "alicloud-login-key").algorithm, "RSA", "Alibaba Cloud imports no ED25519 key pairs");
        assert.equal(inputsOf(result, "alicloud:ecs/ecsKeyPair:EcsKeyPair").publicKey, loginKey.publicKeyOpenssh);
        assert.equal((instance.inputs as Inputs).keyName, stateOf(result, "alicloud:ecs/ecsKeyPair:EcsKeyPair").keyPairName);
        assert.equal((instance.inputs as Inputs).imageId, "debian_12_8_x64_20G_alibase_20250101.vhd", "the looked-up Debian 12 image");
        assert.equal(inputsOf(result, "alicloud:vpc/switch:Switch").zoneId, inputsOf(result, DISK).zoneId, "disk and VM in one zone");
    });

    it("waits for cloud-init over SSH, releases the disk cleanly on delete, and only then lets Docker in", () => {
        const ready = findResource(result, COMMAND, "alicloud-ready");
        const inputs = ready.inputs as Inputs;
        assert.ok(ready.secretInputPaths.includes("connection"), "the connection holds the private key");
        assert.equal(inputs.connection.host, publicIp);
        assert.equal(inputs.connection.user, "root");
        assert.equal(inputs.connection.dialErrorLimit, 40, "a new VM's sshd may take minutes");
        assert.equal(inputs.connection.privateKey, stateOf(result, PRIVATE_KEY, "alicloud-login-key").privateKeyOpenssh);
        assert.equal(
            inputs.connection.hostKey,
            stateOf(result, PRIVATE_KEY, "alicloud-host-key").publicKeyOpenssh.trim(),
            "even the first connection is verified",
        );
        assert.equal(inputs.create, renderWaitUntilReadyScript({ dataMountPath: "/srv/registry-data" }));
        assert.equal(inputs.delete, renderReleaseDataDiskScript({ dataMountPath: "/srv/registry-data" }));
        assert.deepEqual(inputs.triggers, [
            findResource(result, INSTANCE).id,
            findResource(result, DISK).id,
            findResource(result, "alicloud:ecs/ecsDiskAttachment:EcsDiskAttachment").id,
        ]);
        assert.equal(
            result.options[`${COMMAND}::alicloud-ready`].deleteBeforeReplace,
            true,
            "the old VM lets go of the disk before the new one takes it",
        );

        const provider = inputsOf(result, "pulumi:providers:docker", "alicloud-docker");
        assert.equal(provider.host, dockerSshUrl("root", publicIp, 22));
        const sshOpts = JSON.parse(provider.sshOpts) as string[];
        const dir = join(HOME, ".private-registry", "private-registry", "dev", "alicloud-docker");
        assert.deepEqual(sshOpts, dockerSshOptions({ identityFile: join(dir, "id_key"), knownHostsFile: join(dir, "known_hosts") }, true));
        assert.ok(sshOpts.includes("StrictHostKeyChecking=yes"));
    });

    it("writes the key the Docker CLI needs 0600 in a 0700 stack directory, and pins the host key there", () => {
        const dir = join(HOME, ".private-registry", "private-registry", "dev", "alicloud-docker");
        assert.equal(statSync(dir).mode & 0o777, 0o700);
        assert.equal(statSync(join(dir, "id_key")).mode & 0o777, 0o600);
        assert.equal(readFileSync(join(dir, "id_key"), "utf8"), stateOf(result, PRIVATE_KEY, "alicloud-login-key").privateKeyOpenssh);
        assert.equal(
            readFileSync(join(dir, "known_hosts"), "utf8"),
            `${publicIp} ${stateOf(result, PRIVATE_KEY, "alicloud-host-key").publicKeyOpenssh.trim()}\n`,
        );
    });

    it("points an A record per name at the VM's public address, named relative to the zone", () => {
        const records = result.resources.filter((r) => r.type === "alicloud:dns/alidnsRecord:AlidnsRecord").map((r) => r.inputs as Inputs);
        assert.deepEqual(records.map((r) => [r.domainName, r.rr, r.type, r.value]).sort(), [
            ["example.com", "registry", "A", publicIp],
            ["example.com", "ui", "A", publicIp],
        ]);
        assert.match(publicIp, /^203\.0\.113\.\d+$/);
    });

    it("gets a Let's Encrypt staging certificate for every name by DNS-01 on Alidns, credentials from the environment", () => {
        assert.equal(inputsOf(result, "pulumi:providers:acme").serverUrl, ACME_DIRECTORIES.staging);
        const account = findResource(result, "acme:index/registration:Registration");
        assert.equal((account.inputs as Inputs).emailAddress, "ops@example.com");
        assert.equal((account.inputs as Inputs).accountKeyPem, stateOf(result, PRIVATE_KEY, "tls-account-key").privateKeyPem);
        assert.ok(account.secretInputPaths.includes("accountKeyPem"));

        const certificate = inputsOf(result, ACME_CERTIFICATE);
        assert.deepEqual([certificate.commonName, ...certificate.subjectAlternativeNames], ["registry.example.com", "ui.example.com"]);
        assert.equal(certificate.minDaysRemaining, 21, "renewal window from certificateRenewBeforeDays");
        assert.equal(certificate.dnsChallenges.length, 1);
        assert.equal(certificate.dnsChallenges[0].provider, "alidns");
        assert.equal(certificate.dnsChallenges[0].config.ALICLOUD_REGION_ID, "cn-hongkong");
        assert.deepEqual(
            Object.keys(certificate.dnsChallenges[0].config).filter((k) => /KEY|TOKEN|SECRET/.test(k)),
            [],
            "no credentials in the state",
        );
        assert.equal(certificate.httpChallenge, undefined);
    });

    it("hands the edge the leaf plus issuer chain and the certificate's key, as a secret", () => {
        const issued = stateOf(result, ACME_CERTIFICATE);
        assert.equal(
            plainFile(result, "registry-edge", "/etc/nginx/files/server.crt"),
            `${issued.certificatePem.trimEnd()}\n${issued.issuerPem.trimEnd()}\n`,
        );
        const edgeSecrets = findResource(result, CONTAINER, "registry-edge-secrets");
        assert.equal(upload(edgeSecrets.inputs as Inputs, "/etc/nginx/secrets/server.key"), issued.privateKeyPem);
        assert.deepEqual(edgeSecrets.secretInputPaths, ["uploads"]);
        for (const name of Object.keys(plainHolders(result, "registry-edge")))
            assert.deepEqual(
                findResource(result, CONTAINER, name).secretInputPaths,
                [],
                `${name}: the certificate and nginx.conf stay readable`,
            );
        // The UI on its own name (the stack's uiHostname): the one name nginx.conf routes by.
        assert.match(plainFile(result, "registry-edge", "/etc/nginx/files/nginx.conf"), /server_name ui\.example\.com;/);
    });

    it("exports public endpoints and snippets with no CA file, and no secret in any plain output", () => {
        const { outputs } = result;
        assert.equal(outputs.registryEndpoint.value, "registry.example.com");
        assert.equal(outputs.uiEndpoint.value, "https://ui.example.com/");
        assert.equal(outputs.caCertificate.value ?? null, null, "a public CA: nothing to trust");
        const snippets = outputs.clientSnippets.value as Inputs;
        assert.deepEqual(snippets.docker.files, []);
        assert.match(snippets.docker.description, /public CA, nothing to trust/);
        assert.deepEqual(
            snippets.containerd.files.map((f: Inputs) => f.path),
            ["/etc/containerd/certs.d/registry.example.com/hosts.toml"],
        );
        assert.ok(!snippets.containerd.files[0].content.includes("ca ="), "hosts.toml names no CA");
        assert.equal(parseYaml(snippets.k3s.files[0].content).configs["registry.example.com"].tls, undefined);
        assert.deepEqual(outputs.clientSnippets.secretChildren, {
            docker: false,
            containerd: false,
            buildkit: false,
            k3s: true,
            imagePullSecret: true,
            nodeSetup: true,
        });
        assert.equal(outputs.credentials.secret, true);

        const secrets = secretsOf(result);
        assert.throws(
            () => assertNoSecretIn(JSON.stringify({ leaked: secrets["alicloud-login-key (OpenSSH)"] }), secrets),
            /leaks into a plain value/,
            "the check can fail",
        );
        assert.ok(assertSecretsStayHidden(result) >= 8, "the check looks at every key and password");
    });

    it("is deterministic: a second run with the first one's state declares identical inputs (no perpetual diff)", async () => {
        const again = await evaluateProgram({ config: ALICLOUD, previousState: result.state });
        assert.equal(again.error, undefined);
        assert.equal(again.resources.length, result.resources.length);
        for (const resource of result.resources) {
            assert.deepEqual(
                findResource(again, resource.type, resource.name).inputs,
                resource.inputs,
                `${resource.type} ${resource.name} changed between runs`,
            );
        }
    });
});

describe("alicloud mode variant", () => {
    it("configured image and zone, other ports, production, and a disk that goes with the stack", async () => {
        const result = await evaluateProgram({
            config: {
                ...ALICLOUD,
                hostnames: ["example.com"],
                uiHostname: undefined,
                httpsPort: 8443,
                httpPort: 8080,
                retainDataOnDestroy: false,
                alicloud: {
                    ...ALICLOUD.alicloud,
                    imageId: "m-debian-pinned",
                    zoneId: "cn-hongkong-c",
                    instanceType: "ecs.g7.large",
                    dataDiskGiB: 500,
                },
                acme: { email: "ops@example.com", server: "production" },
            },
        });
        assert.equal(result.error, undefined);
        assert.equal(inputsOf(result, INSTANCE).imageId, "m-debian-pinned");
        assert.equal(inputsOf(result, INSTANCE).instanceType, "ecs.g7.large");
        assert.equal(inputsOf(result, "alicloud:vpc/switch:Switch").zoneId, "cn-hongkong-c");
        assert.equal(inputsOf(result, DISK).zoneId, "cn-hongkong-c");
        assert.equal(inputsOf(result, DISK).size, 500);
        assert.deepEqual(result.options[`${DISK}::alicloud-data`], {
            deleteBeforeReplace: false,
            retainOnDelete: false,
            protect: false,
            hasProvider: true,
        });
        assert.equal(result.options[`${VOLUME}::registry-registry-data`].retainOnDelete, false);

        const rules = result.resources
            .filter((r) => r.type === "alicloud:ecs/securityGroupRule:SecurityGroupRule")
            .map((r) => (r.inputs as Inputs).portRange)
            .sort();
        assert.deepEqual(rules, ["22/22", "8080/8080", "8443/8443"]);
        const records = result.resources
            .filter((r) => r.type === "alicloud:dns/alidnsRecord:AlidnsRecord")
            .map((r) => (r.inputs as Inputs).rr);
        assert.deepEqual(records, ["@"], "the zone apex");
        assert.equal(inputsOf(result, "pulumi:providers:acme").serverUrl, ACME_DIRECTORIES.production);
        assert.ok(declared(result).includes("acme:index/registration:Registration tls-production-account"));
        assert.equal(result.outputs.registryEndpoint.value, "example.com:8443");
    });
});

describe("alicloud: bad configuration stops at preview, naming the key", () => {
    it("alicloud: a missing admin CIDR, a missing ACME email and a name outside the zone are all reported", async () => {
        const result = await evaluateProgram({
            config: {
                ...ALICLOUD,
                uiHostname: "ui.example.org",
                alicloud: { region: "cn-hongkong", dnsZone: "example.com" },
                acme: { server: "production" },
            },
        });
        assert.match(result.error ?? "", /private-registry:alicloud\.adminCidr is required/);
        assert.match(result.error ?? "", /private-registry:acme\.email is required/);
        assert.match(result.error ?? "", /"ui\.example\.org" is not under private-registry:alicloud\.dnsZone "example\.com"/);
        assert.equal(result.resources.filter((r) => !r.type.startsWith("pulumi:")).length, 0, "nothing planned");
    });

    it("alicloud: an admin CIDR that is not a CIDR, or opens SSH to everyone", async () => {
        const [notCidr, everyone] = await Promise.all([
            evaluateProgram({ config: { ...ALICLOUD, alicloud: { ...ALICLOUD.alicloud, adminCidr: "203.0.113.7" } } }),
            evaluateProgram({ config: { ...ALICLOUD, alicloud: { ...ALICLOUD.alicloud, adminCidr: "0.0.0.0/0" } } }),
        ]);
        assert.match(
            notCidr.error ?? "",
            /private-registry:alicloud\.adminCidr must be an IPv4 CIDR such as 203\.0\.113\.7\/32, .*; got "203\.0\.113\.7"/,
        );
        assert.match(everyone.error ?? "", /private-registry:alicloud\.adminCidr must not open SSH to the whole internet/);
        for (const result of [notCidr, everyone]) assert.ok(!result.resources.some((r) => r.type.startsWith("alicloud:")));
    });
});

describe("pure pieces of the alicloud mode", () => {
    it("names DNS records relative to the zone", () => {
        assert.equal(relativeRecordName("registry.example.com", "example.com"), "registry");
        assert.equal(relativeRecordName("example.com", "example.com"), "@");
        assert.equal(relativeRecordName("a.b.example.com.", "Example.com"), "a.b");
        assert.throws(() => relativeRecordName("badexample.com", "example.com"), /not inside the DNS zone example\.com/);
        assert.deepEqual(zoneRecords(["example.com", "registry.example.com", "Registry.example.com"], "example.com"), [
            { hostname: "example.com", rr: "@" },
            { hostname: "registry.example.com", rr: "registry" },
        ]);
    });

    it("opens the configured public ports, and SSH only to the admin network", () => {
        assert.deepEqual(
            ingressRules({ httpsPort: 8443, httpPort: 8080, adminCidr: "198.51.100.0/24" }).map((r) => [r.port, r.cidr]),
            [
                [8443, "0.0.0.0/0"],
                [8080, "0.0.0.0/0"],
                [22, "198.51.100.0/24"],
            ],
        );
    });

    it("reads the data disk's serial from its ID", () => {
        assert.equal(alicloudDiskSerial("d-bp1abcdefghijklmnopq"), "bp1abcdefghijklmnopq");
    });

    it("replaces every Docker resource with the VM it runs on, and nothing else", () => {
        const vm = {} as pulumi.Resource;
        const earlier = {} as pulumi.Resource;
        const transform = followDaemonReplacement([vm]);
        const transformed = transform({
            resource: {} as pulumi.Resource,
            type: "docker:index/container:Container",
            name: "c",
            props: { a: 1 },
            opts: { replaceWith: [earlier], deleteBeforeReplace: true } as pulumi.CustomResourceOptions,
        });
        assert.deepEqual(transformed?.props, { a: 1 });
        assert.equal((transformed?.opts as pulumi.CustomResourceOptions).deleteBeforeReplace, true, "other options kept");
        assert.deepEqual(transformed?.opts.replaceWith, [earlier, vm]);
        assert.equal(
            transform({
                resource: {} as pulumi.Resource,
                type: "random:index/randomPassword:RandomPassword",
                name: "p",
                props: {},
                opts: {},
            }),
            undefined,
        );
        assert.equal(
            transform({ resource: {} as pulumi.Resource, type: "pulumi:providers:docker", name: "d", props: {}, opts: {} }),
            undefined,
        );
        assert.deepEqual(followingDaemon([]), {}, "a daemon that is never replaced needs nothing");
        assert.equal(followingDaemon([vm]).transformations?.length, 1);
    });
});
