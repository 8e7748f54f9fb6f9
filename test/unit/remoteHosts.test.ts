/**
 * What a first real `pulumi up` of the `ssh` and `alicloud` modes would hit, under mocks: the
 * order of the data disk's release, online resize, a Docker environment that would redirect the
 * deploy, the instance type and placement lookups, apt waiting for its lock, and the ssh_config
 * that docs/cloud.md's manual login uses.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { execFileSync } from "child_process";
import { generateKeyPairSync } from "crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { parse as parseYaml } from "yaml";
import { chooseInstanceType, isBurstable, PLACEMENT_OUTPUT, previousPlacement } from "../../components/hosts/alicloudHost";
import { refuseRedirectingDockerEnvironment } from "../../components/hosts/dockerOverSsh";
import { renderCloudInit } from "../../components/render/cloudInit";
import { APT_LOCK_WAIT, renderInstallDockerScript } from "../../components/render/hostScripts";
import {
    DOCKER_REDIRECTING_VARIABLES,
    redirectingDockerVariables,
    renderSshConfig,
    SSH_CONFIG_ALIAS,
} from "../../components/render/sshAccess";
import { evaluateProgram, EvaluationResult, findResource } from "../../scripts/lib/program/evaluate";
import { FAKE_INSTANCE_TYPES } from "../../scripts/lib/program/fakeProviders";
import { assertSecretsStayHidden, inputsOf, isolateHome } from "../harness/inspect";
import { MINIMAL_ALICLOUD_CONFIG } from "../support/fixtures";

const ROOT = resolve(__dirname, "../..");
const INSTANCE = "alicloud:ecs/instance:Instance";
const DISK = "alicloud:ecs/ecsDisk:EcsDisk";
const ATTACHMENT = "alicloud:ecs/ecsDiskAttachment:EcsDiskAttachment";
const COMMAND = "command:remote:Command";
const INSTANCE_TYPES = "alicloud:ecs/getInstanceTypes:getInstanceTypes";
const ZONES = "alicloud:index/getZones:getZones";
const IMAGES = "alicloud:ecs/getImages:getImages";

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

const tokens = (result: EvaluationResult) => (result.invokes ?? []).map((i) => i.token);

/** Runs `evaluate` with `variables` set in the environment the program inherits. */
async function withEnvironment<T>(variables: Record<string, string>, evaluate: () => Promise<T>): Promise<T> {
    Object.assign(process.env, variables);
    try {
        return await evaluate();
    } finally {
        for (const name of Object.keys(variables)) delete process.env[name];
    }
}

describe("alicloud mode: replacing the VM releases the data disk first", () => {
    let result: EvaluationResult;

    before(async () => {
        result = await evaluateProgram({ config: MINIMAL_ALICLOUD_CONFIG });
        assert.equal(result.error, undefined);
    });

    it("keeps every key and password out of plain outputs and inputs", () => {
        assert.ok(assertSecretsStayHidden(result) >= 8);
    });

    it("the readiness command takes the disk attachment's ID as an input (a property dependency), not only dependsOn", () => {
        const attachment = findResource(result, ATTACHMENT);
        const ready = inputsOf(result, COMMAND, "alicloud-ready");
        assert.ok(
            (ready.triggers as string[]).includes(attachment.id),
            `triggers ${JSON.stringify(ready.triggers)} lack the attachment ${attachment.id}`,
        );
        assert.ok((ready.triggers as string[]).includes(findResource(result, INSTANCE).id));
        assert.ok((ready.triggers as string[]).includes(findResource(result, DISK).id));
        assert.equal(result.options[`${COMMAND}::alicloud-ready`].deleteBeforeReplace, true);
        assert.equal(result.options[`${ATTACHMENT}::alicloud-data-attachment`].deleteBeforeReplace, true);
    });

    it("grows the data disk online, so resize2fs on the running VM finds the new space", () => {
        assert.equal(inputsOf(result, DISK).type, "online");
    });
});

describe("alicloud mode: instance type and placement", () => {
    it("chooses the cheapest non-burstable type sold with an ESSD system disk, then a zone and image for it", async () => {
        const result = await evaluateProgram({ config: MINIMAL_ALICLOUD_CONFIG });
        assert.equal(result.error, undefined);
        assert.equal(FAKE_INSTANCE_TYPES[0].id, "ecs.t6-c1m2.large", "the fake region lists a burstable type first, as a price sort does");
        assert.equal(inputsOf(result, INSTANCE).instanceType, "ecs.u1-c1m2.large");
        const lookup = result.invokes?.find((i) => i.token === INSTANCE_TYPES);
        assert.ok(lookup);
        assert.equal(lookup.inputs.systemDiskCategory, "cloud_essd");
        assert.equal(lookup.inputs.sortedBy, "Price");
        assert.deepEqual([lookup.inputs.cpuCoreCount, lookup.inputs.memorySize], [2, 4]);
        const zones = result.invokes?.find((i) => i.token === ZONES);
        assert.deepEqual([zones?.inputs.availableInstanceType, zones?.inputs.availableDiskCategory], ["ecs.u1-c1m2.large", "cloud_essd"]);
        assert.equal(result.invokes?.find((i) => i.token === IMAGES)?.inputs.instanceType, "ecs.u1-c1m2.large");
        assert.deepEqual(result.outputs[PLACEMENT_OUTPUT].value, {
            instanceType: "ecs.u1-c1m2.large",
            zoneId: "cn-hongkong-b",
            imageId: "debian_12_8_x64_20G_alibase_20250101.vhd",
        });
        assert.equal(result.outputs[PLACEMENT_OUTPUT].secret, false);
        assert.deepEqual(
            result.resources.filter((r) => r.type === "pulumi:pulumi:StackReference").map((r) => r.inputs.name),
            ["organization/private-registry/dev"],
        );
    });

    it("an existing stack keeps the exported placement and looks nothing up, so a sold-out type cannot fail its preview", async () => {
        const soldOut = {
            [INSTANCE_TYPES]: { instanceTypes: [], ids: [] },
            [ZONES]: { zones: [], ids: [] },
            [IMAGES]: { images: [], ids: [] },
        };
        const kept = { instanceType: "ecs.c7.large", zoneId: "cn-hongkong-c", imageId: "m-kept-debian" };
        const fresh = await evaluateProgram({ config: MINIMAL_ALICLOUD_CONFIG, invokeResults: soldOut });
        assert.match(
            fresh.error ?? "",
            /no non-burstable instance type .* is sold in cn-hongkong; set alicloud\.instanceType/,
            "a new stack does fail, naming the key",
        );

        const existing = await evaluateProgram({
            config: MINIMAL_ALICLOUD_CONFIG,
            invokeResults: soldOut,
            previousOutputs: { [PLACEMENT_OUTPUT]: kept },
        });
        assert.equal(existing.error, undefined);
        assert.deepEqual(
            tokens(existing).filter((t) => t.startsWith("alicloud:")),
            [],
            "no lookup at all",
        );
        const vm = inputsOf(existing, INSTANCE);
        assert.deepEqual(
            [vm.instanceType, vm.imageId, inputsOf(existing, DISK).zoneId, inputsOf(existing, "alicloud:vpc/switch:Switch").zoneId],
            ["ecs.c7.large", "m-kept-debian", "cn-hongkong-c", "cn-hongkong-c"],
        );
        assert.deepEqual(existing.outputs[PLACEMENT_OUTPUT].value, kept);
    });

    it("a configured type is checked against the offer once, in the kept zone; a burstable one is the user's call", async () => {
        const notSold = await evaluateProgram({
            config: {
                ...MINIMAL_ALICLOUD_CONFIG,
                alicloud: { ...MINIMAL_ALICLOUD_CONFIG.alicloud, instanceType: "ecs.g7.large", zoneId: "cn-hongkong-b" },
            },
        });
        assert.match(
            notSold.error ?? "",
            /alicloud\.instanceType ecs\.g7\.large is not sold in zone cn-hongkong-b with an ESSD system disk/,
        );

        const burstable = await evaluateProgram({
            config: { ...MINIMAL_ALICLOUD_CONFIG, alicloud: { ...MINIMAL_ALICLOUD_CONFIG.alicloud, instanceType: "ecs.t6-c1m2.large" } },
        });
        assert.equal(burstable.error, undefined);
        assert.equal(inputsOf(burstable, INSTANCE).instanceType, "ecs.t6-c1m2.large");
        assert.equal(burstable.invokes?.find((i) => i.token === INSTANCE_TYPES)?.inputs.instanceType, "ecs.t6-c1m2.large");

        const unchanged = await evaluateProgram({
            config: { ...MINIMAL_ALICLOUD_CONFIG, alicloud: { ...MINIMAL_ALICLOUD_CONFIG.alicloud, instanceType: "ecs.c7.large" } },
            previousOutputs: { [PLACEMENT_OUTPUT]: { instanceType: "ecs.c7.large", zoneId: "cn-hongkong-c", imageId: "m-kept" } },
            invokeResults: { [INSTANCE_TYPES]: { instanceTypes: [], ids: [] } },
        });
        assert.equal(unchanged.error, undefined, "the type the VM already runs is not checked again");
    });

    it("a looked-up type and image are kept on the VM (ignoreChanges), a configured image replaces it", () => {
        // The options are not visible to mocks: read them from the source, whitespace aside (a formatter may wrap them).
        const source = readFileSync(join(ROOT, "components/hosts/alicloudHost.ts"), "utf8").replace(/\s+/g, "");
        assert.match(
            source,
            /ignoreChanges:\[\.\.\.\(args\.imageId===undefined\?\["imageId"\]:\[\]\),\.\.\.\(args\.instanceType===undefined\?\["instanceType"\]:\[\]\),?\]/,
        );
    });

    it("the choice and the read-back are pure", () => {
        assert.equal(isBurstable({ id: "x", family: "ecs.t5", availabilityZones: ["z"] }), true);
        assert.equal(
            isBurstable({ id: "x", family: "ecs.c7", availabilityZones: ["z"], burstableInstance: { initialCredit: "30" } }),
            true,
        );
        assert.equal(
            isBurstable({
                id: "x",
                family: "ecs.c7",
                availabilityZones: ["z"],
                burstableInstance: { initialCredit: "", baselineCredit: "0" },
            }),
            false,
        );
        assert.equal(
            chooseInstanceType(
                [
                    { id: "ecs.c7.large", family: "ecs.c7", availabilityZones: [] },
                    { id: "ecs.g7.large", family: "ecs.g7", availabilityZones: ["z"] },
                ],
                "r",
            ),
            "ecs.g7.large",
            "a type sold in no zone is skipped",
        );
        assert.deepEqual(previousPlacement(undefined), {});
        assert.deepEqual(previousPlacement({ instanceType: "a", zoneId: "", imageId: 3 }), { instanceType: "a" });
    });
});

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

describe("apt waits for the dpkg lock", () => {
    it("in the ssh install script and in the VM's cloud-init, on every apt-get", () => {
        assert.equal(APT_LOCK_WAIT, "-o DPkg::Lock::Timeout=600");
        const userData = parseYaml(
            renderCloudInit({ dataDiskSerial: "bp1", dataMountPath: "/srv/registry-data" }).replace(/^#cloud-config\n/, ""),
        );
        const installer = (userData.write_files as { path: string; content: string }[]).find((f) => f.path.endsWith("install-docker"));
        for (const script of [
            renderInstallDockerScript({ sudo: false }),
            renderInstallDockerScript({ sudo: true }),
            installer?.content ?? "",
        ]) {
            const aptLines = script
                .split("\n")
                .filter((line) => /\bapt-get\b/.test(line) && !line.includes("command -v") && !line.includes("echo "));
            assert.equal(aptLines.length, 2, script);
            for (const line of aptLines) assert.ok(line.includes(`apt-get ${APT_LOCK_WAIT} `), line);
        }
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
