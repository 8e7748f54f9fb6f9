/**
 * alicloud `replicas` under mocks: N alike VMs, each running the registry and edge with the same
 * certificate, users and `http.secret`, behind a CLB passing TCP through, its health check on each
 * edge's `/readyz`, and DNS at the load balancer; what `pulumi up` changes when N grows and
 * shrinks (two evaluations compared by resource and inputs, the second with the first one's
 * state); and the configuration replicas need, refused at preview naming the keys.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { ConfigError, parseStackConfig } from "../../components/config/parse";
import { renderWaitUntilReadyScript } from "../../components/render/hostScripts";
import { evaluateProgram, EvaluationResult, findResource } from "../../scripts/lib/program/evaluate";
import { resourceGraph } from "../harness/graph";
import {
    assertSecretsStayHidden,
    CONTAINER,
    declared,
    envOf,
    Inputs,
    inputsOf,
    isolateHome,
    plainFile,
    secretsOf,
    stateOf,
} from "../harness/inspect";
import { MINIMAL_ALICLOUD_CONFIG } from "../support/fixtures";

const HOME = isolateHome("pr-replicas-home-");

const INSTANCE = "alicloud:ecs/instance:Instance";
const LB = "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer";
const SERVER_GROUP = "alicloud:slb/serverGroup:ServerGroup";
const LISTENER = "alicloud:slb/listener:Listener";
const ATTACHMENT = "alicloud:slb/serverGroupServerAttachment:ServerGroupServerAttachment";
const RECORD = "alicloud:dns/alidnsRecord:AlidnsRecord";
const ACCESS_KEY = "alicloud:ram/accessKey:AccessKey";

const withReplicas = (replicas: number, extra: Record<string, unknown> = {}) => ({
    ...MINIMAL_ALICLOUD_CONFIG,
    storage: { kind: "oss" },
    replicas,
    ...extra,
});
const keyOf = (r: { type: string; name: string }) => `${r.type}::${r.name}`;
const ofType = (result: EvaluationResult, type: string) => result.resources.filter((r) => r.type === type);

describe("alicloud: three replicas behind a load balancer", () => {
    let three: EvaluationResult;
    before(async () => {
        three = await evaluateProgram({ config: withReplicas(3) });
        assert.equal(three.error, undefined);
    });

    it("declares three VMs, none with a data disk, one CLB with a listener and server group per port, and one attachment per VM and port", () => {
        assert.deepEqual(
            ofType(three, INSTANCE)
                .map((r) => r.name)
                .sort(),
            ["alicloud-2-vm", "alicloud-3-vm", "alicloud-vm"],
        );
        assert.deepEqual(
            ofType(three, INSTANCE)
                .map((r) => (r.inputs as Inputs).instanceName)
                .sort(),
            ["private-registry", "private-registry-2", "private-registry-3"],
        );
        assert.ok(
            !declared(three).some((r) => /EcsDisk|AutoSnapshotPolicy|ecsDiskAttachment/.test(r)),
            "blobs in the bucket: no data disk, snapshots or attachment",
        );
        assert.equal(ofType(three, LB).length, 1);
        const lb = findResource(three, LB);
        assert.equal((lb.inputs as Inputs).addressType, "internet");
        assert.equal((lb.inputs as Inputs).instanceChargeType, "PayByCLCU");
        const groups = ofType(three, SERVER_GROUP);
        assert.deepEqual(groups.map((g) => g.name).sort(), ["alicloud-lb-http", "alicloud-lb-https"]);
        for (const group of groups) assert.equal((group.inputs as Inputs).loadBalancerId, lb.id);

        const listeners = ofType(three, LISTENER).map((l) => l.inputs as Inputs);
        assert.deepEqual(
            listeners.map((l) => `${l.protocol} ${l.frontendPort}`).sort(),
            ["tcp 443", "tcp 80"],
            "TCP passthrough: TLS stays at the edges",
        );
        for (const listener of listeners) {
            assert.equal(listener.loadBalancerId, lb.id);
            assert.equal(listener.serverCertificateId, undefined, "the load balancer holds no certificate");
            const group = groups.find((g) => g.id === listener.serverGroupId);
            assert.ok(group, "each listener forwards to its own server group");
            assert.equal(group.name, listener.frontendPort === 443 ? "alicloud-lb-https" : "alicloud-lb-http");
        }

        const attachments = ofType(three, ATTACHMENT).map((a) => a.inputs as Inputs);
        assert.equal(attachments.length, 6);
        const instanceIds = ofType(three, INSTANCE).map((i) => i.id);
        for (const group of groups) {
            const members = attachments.filter((a) => a.serverGroupId === group.id);
            assert.deepEqual(members.map((a) => a.serverId).sort(), [...instanceIds].sort(), `${group.name} holds every VM once`);
            const port = group.name.endsWith("https") ? 443 : 80;
            for (const member of members) assert.equal(member.port, port, "each VM serves the port its listener takes");
        }
    });

    it("parents the load balancer to the host and the bucket to its component, every cloud and Docker resource with an explicit provider", () => {
        for (const resource of three.resources.filter((r) => r.type.startsWith("alicloud:slb/"))) {
            assert.match(
                parentOf(three, keyOf(resource)),
                /private-registry:host:Alicloud\$private-registry:host:AlicloudLoadBalancer::alicloud-lb$/,
                resource.name,
            );
        }
        for (const resource of three.resources.filter((r) => /^alicloud:(oss|ram)\//.test(r.type))) {
            assert.match(parentOf(three, keyOf(resource)), /private-registry:storage:Oss::storage$/, resource.name);
        }
        const unprovided = Object.entries(three.options).filter(([key, o]) => /^(alicloud|docker):/.test(key) && !o.hasProvider);
        assert.deepEqual(unprovided, [], "no resource falls back to a default provider");
        const orphans = Object.entries(three.parents).filter(([key, parent]) => parent === null && !key.startsWith("private-registry:"));
        assert.deepEqual(orphans, [], "only components sit at the top level");
    });

    it("checks each VM's edge with GET /readyz (the registry behind it answers) over plain HTTP on port 80, and drops one after three failures", () => {
        for (const listener of ofType(three, LISTENER).map((l) => l.inputs as Inputs)) {
            assert.equal(listener.healthCheck, "on");
            assert.equal(listener.healthCheckType, "http");
            assert.equal(listener.healthCheckUri, "/readyz");
            assert.equal(listener.healthCheckConnectPort, 80, "the edge answers /readyz on its HTTP port");
            assert.equal(listener.healthCheckHttpCode, "http_2xx", "a redirect is not healthy");
            assert.equal(listener.unhealthyThreshold, 3);
        }
        const edge = inputsOf(three, CONTAINER, "registry-edge");
        assert.match(JSON.stringify(edge.healthcheck?.tests ?? []), /\/healthz/, "the same path the edge's own health check uses");
        assert.match(plainFile(three, "registry-edge", "/etc/nginx/files/nginx.conf"), /location = \/healthz/, "and nginx.conf serves it");
    });

    it("points every DNS record at the load balancer, none at a VM", () => {
        const address = stateOf(three, LB).address;
        assert.match(address, /^198\.51\.100\.\d+$/);
        const records = ofType(three, RECORD).map((r) => r.inputs as Inputs);
        assert.ok(records.length > 0);
        for (const record of records) assert.equal(record.value, address);
        const vmAddresses = ofType(three, INSTANCE).map((i) => (i.state as Inputs).publicIp);
        assert.ok(records.every((r) => !vmAddresses.includes(r.value)));
    });

    it("runs the same registry and edge on every VM: same certificate, users, http.secret, config; each through its own Docker", () => {
        const graph = resourceGraph(three, HOME);
        const first = Object.keys(graph).filter((k) => k.startsWith("docker:") && /::registry-(?!\d)/.test(k));
        assert.ok(first.length >= 10, "the first replica's Docker resources");
        // Each replica's own secrets key names its sets (the manifests' HMAC): compare without it.
        const unnamed = (key: string, replica: number) =>
            JSON.stringify(graph[key].inputs)
                .replace(new RegExp(`registry-${replica}-`, "g"), "registry-")
                .replace(/# set [0-9a-f]{32}/g, "# set <set>");
        for (const replica of [2, 3]) {
            for (const key of first) {
                const twin = key.replace("::registry-", `::registry-${replica}-`);
                assert.ok(graph[twin], `${twin} exists`);
                assert.equal(unnamed(twin, replica), unnamed(key, 1), `${twin} declares what ${key} does`);
                assert.match(
                    graph[twin].parent ?? "",
                    new RegExp(`private-registry:index:PrivateRegistry(\\$[^:]+:[^:]+:[^:]+)?::registry-${replica}(-[a-z-]+)?$`),
                    `${twin} belongs to replica ${replica}`,
                );
            }
        }
        // The secrets themselves, checked in clear: one set of users and one http.secret for all.
        assert.equal(
            ofType(three, "random:index/randomPassword:RandomPassword").filter((r) => r.name.includes("credentials")).length,
            3,
            "admin, node, http-secret: once",
        );
        const held = (name: string) =>
            JSON.stringify((inputsOf(three, CONTAINER, name).uploads as Inputs[]).filter((u) => !u.file.endsWith("/manifest")));
        assert.equal(held("registry-3-edge-secrets"), held("registry-edge-secrets"), "the same TLS key and users' hashes");
        assert.equal(
            envOf(inputsOf(three, CONTAINER, "registry-2-registry")).REGISTRY_HTTP_SECRET,
            envOf(inputsOf(three, CONTAINER, "registry-registry")).REGISTRY_HTTP_SECRET,
            "the same http.secret",
        );

        const providers = three.resources
            .filter((r) => r.type === "pulumi:providers:docker")
            .map((r) => (r.inputs as Inputs).host)
            .sort();
        const vmAddresses = ofType(three, INSTANCE)
            .map((i) => `ssh://root@${(i.state as Inputs).publicIp}:22`)
            .sort();
        assert.deepEqual(providers, vmAddresses, "one Docker provider per VM, each to its own VM");
    });

    it("waits for Docker on each VM without a data disk, and boots them with no disk to mount", () => {
        for (const name of ["alicloud-ready", "alicloud-2-ready", "alicloud-3-ready"]) {
            const ready = inputsOf(three, "command:remote:Command", name);
            assert.equal(ready.create, renderWaitUntilReadyScript({}));
            assert.doesNotMatch(ready.create, /mountpoint/);
            assert.equal(ready.delete, undefined, "no disk to release");
        }
        for (const vm of ofType(three, INSTANCE)) {
            const config = parseYaml(Buffer.from((vm.inputs as Inputs).userData, "base64").toString("utf8")) as Inputs;
            assert.deepEqual(config.runcmd, ["'/usr/local/sbin/install-docker'"]);
            assert.ok(!JSON.stringify(config.write_files).includes("RequiresMountsFor"), "Docker waits for no mount");
            assert.ok(vm.secretInputPaths.includes("userData"));
        }
        const hostKeys = three.resources
            .filter((r) => r.type === "tls:index/privateKey:PrivateKey" && /host-key$/.test(r.name))
            .map((r) => r.name)
            .sort();
        assert.deepEqual(hostKeys, ["alicloud-2-host-key", "alicloud-3-host-key", "alicloud-host-key"], "each VM its own SSH host key");
    });

    it("keeps every secret secret: the OSS access key, passwords, keys; the access key's secret encrypted in the state", () => {
        const secrets = secretsOf(three);
        assert.ok(
            Object.keys(secrets).some((k) => k.endsWith(" secret")),
            "the access key's secret is among the checked secrets",
        );
        assert.ok(assertSecretsStayHidden(three) >= 12);
        assert.ok(
            three.additionalSecretOutputs?.[`${ACCESS_KEY}::storage-access-key`]?.includes("secret"),
            "the state keeps the key's secret encrypted",
        );
        // The check can fail: the key's secret in a plain value is found.
        assert.throws(
            () =>
                assertSecretsStayHidden({
                    ...three,
                    outputs: { ...three.outputs, leak: { value: stateOf(three, ACCESS_KEY).secret, secret: false } },
                }),
            /storage-access-key secret leaks/,
        );
        const bucket = findResource(three, "alicloud:oss/bucket:Bucket");
        assert.deepEqual(
            three.options[keyOf(bucket)],
            { deleteBeforeReplace: false, retainOnDelete: true, protect: true, hasProvider: true },
            "the images' bucket is kept like the data disk",
        );
    });
});

describe("alicloud: what `pulumi up` changes when replicas grow and shrink", () => {
    let two: EvaluationResult;
    let three: EvaluationResult;
    let backToTwo: EvaluationResult;
    before(async () => {
        two = await evaluateProgram({ config: withReplicas(2) });
        assert.equal(two.error, undefined);
        three = await evaluateProgram({ config: withReplicas(3), previousState: two.state });
        assert.equal(three.error, undefined);
        backToTwo = await evaluateProgram({ config: withReplicas(2), previousState: three.state });
        assert.equal(backToTwo.error, undefined);
    });

    /** Resources of `after` not in `before`, and every resource in both whose inputs or options changed. */
    const compare = (before: EvaluationResult, after: EvaluationResult) => {
        const old = new Map(before.resources.map((r) => [keyOf(r), r]));
        const added = after.resources
            .filter((r) => !old.has(keyOf(r)))
            .map(keyOf)
            .sort();
        const removed = [...old.keys()].filter((k) => !after.resources.some((r) => keyOf(r) === k)).sort();
        const changed = after.resources
            .filter((r) => old.has(keyOf(r)))
            .filter((r) => {
                const was = old.get(keyOf(r))!;
                return (
                    JSON.stringify(was.inputs) !== JSON.stringify(r.inputs) ||
                    was.id !== r.id ||
                    JSON.stringify(before.options[keyOf(r)]) !== JSON.stringify(after.options[keyOf(r)]) ||
                    before.parents[keyOf(r)] !== after.parents[keyOf(r)]
                );
            })
            .map(keyOf);
        return { added, removed, changed };
    };

    it("2 to 3 adds the third VM, its registry and edge, and its two backend servers; it changes and replaces nothing else", () => {
        const { added, removed, changed } = compare(two, three);
        assert.deepEqual(removed, []);
        assert.deepEqual(changed, [], "every resource of two replicas keeps its inputs, options, parent and ID");
        assert.deepEqual(
            added.filter((k) => k.startsWith("alicloud:")),
            [`${INSTANCE}::alicloud-3-vm`, `${ATTACHMENT}::alicloud-lb-http-vm-3`, `${ATTACHMENT}::alicloud-lb-https-vm-3`].sort(),
            "one VM and its backend server in each listener's group",
        );
        for (const key of added)
            assert.match(key, /::(alicloud-3-|alicloud-lb-https?-vm-3$|registry-3(-|$))/, `${key} belongs to the third replica`);
        assert.ok(
            added.includes("command:remote:Command::alicloud-3-ready") && added.includes("pulumi:providers:docker::alicloud-3-docker"),
        );
        assert.ok(added.includes(`${CONTAINER}::registry-3-registry`) && added.includes(`${CONTAINER}::registry-3-edge`));
    });

    it("1 to 2 (on OSS) adds the second VM and the load balancer, and changes only the DNS records, to the load balancer", async () => {
        const one = await evaluateProgram({ config: withReplicas(1) });
        assert.equal(one.error, undefined);
        const grown = await evaluateProgram({ config: withReplicas(2), previousState: one.state });
        assert.equal(grown.error, undefined);
        const { added, removed, changed } = compare(one, grown);
        assert.deepEqual(removed, []);
        assert.deepEqual(changed, ofType(one, RECORD).map(keyOf).sort(), "only the records move, from VM 1 to the load balancer");
        for (const key of added)
            assert.match(key, /::(alicloud-2-|alicloud-lb(-|$)|registry-2(-|$))/, `${key} belongs to the second VM or the load balancer`);
        assert.ok(added.includes(`${LB}::alicloud-lb`) && added.includes(`${INSTANCE}::alicloud-2-vm`));
    });

    it("3 to 2 removes exactly what 2 to 3 added, and changes nothing else", () => {
        const grown = compare(two, three).added;
        const { added, removed, changed } = compare(three, backToTwo);
        assert.deepEqual(added, []);
        assert.deepEqual(changed, []);
        assert.deepEqual(removed, grown);
    });
});

describe("alicloud: day-two changes on three replicas reload in place on each VM", () => {
    /** Every Docker container new or whose inputs differ between two evaluations (the second with the first's state). */
    const changedContainers = (before: EvaluationResult, after: EvaluationResult) =>
        after.resources
            .filter((r) => r.type === CONTAINER)
            .filter((r) => {
                const old = before.resources.find((o) => o.type === CONTAINER && o.name === r.name);
                return JSON.stringify(old?.inputs) !== JSON.stringify(r.inputs);
            })
            .map((r) => r.name)
            .sort();
    const replicaNames = (suffix: string) => ["registry", "registry-2", "registry-3"].map((replica) => `${replica}-${suffix}`);

    it("a new user, a rotated password, a collection schedule: only the file holders change, never a registry or an edge", async () => {
        const base = await evaluateProgram({ config: withReplicas(3) });
        assert.equal(base.error, undefined);
        const users = await evaluateProgram({
            config: withReplicas(3, { users: ["admin", { name: "node", role: "pull" }, "ci"], passwordRotation: { admin: "1" } }),
            previousState: base.state,
        });
        assert.equal(users.error, undefined);
        assert.deepEqual(
            changedContainers(base, users),
            [...replicaNames("edge-files-manifest"), ...replicaNames("edge-files-push-users"), ...replicaNames("edge-secrets")].sort(),
            "each VM's edge takes the new users' files (the push users, the manifest, the secret files); no container restarts",
        );
        const registryConfig = await evaluateProgram({
            config: withReplicas(3, { gc: { schedule: "@daily" } }),
            previousState: base.state,
        });
        assert.equal(registryConfig.error, undefined);
        assert.deepEqual(
            changedContainers(base, registryConfig),
            [
                ...replicaNames("registry-files-config-readonly.yml"),
                ...replicaNames("registry-files-manifest"),
                ...replicaNames("registry-files-schedule"),
                ...replicaNames("registry-secrets"),
            ].sort(),
            "each VM's registry takes its new set: the read-only config (new), the schedule, both manifests (the bucket's keys are in the secret set)",
        );
    });
});

describe("alicloud: replicas with the pull-through mirror on its own port", () => {
    it("passes the mirror's port through too: a listener, a server group and an attachment per VM", async () => {
        const result = await evaluateProgram({ config: withReplicas(2, { mirror: {} }) });
        assert.equal(result.error, undefined);
        assert.deepEqual(
            ofType(result, LISTENER)
                .map((l) => (l.inputs as Inputs).frontendPort)
                .sort(),
            [443, 5443, 80],
        );
        const mirrorGroup = findResource(result, SERVER_GROUP, "alicloud-lb-mirror");
        const members = ofType(result, ATTACHMENT)
            .map((a) => a.inputs as Inputs)
            .filter((a) => a.serverGroupId === mirrorGroup.id);
        assert.deepEqual(
            members.map((m) => m.port),
            [5443, 5443],
        );
        assert.ok(findResource(result, CONTAINER, "registry-2-mirror"), "each VM runs its own mirror");
    });
});

describe("alicloud: one replica on OSS", () => {
    it("has no data disk, no load balancer, and DNS at the VM; the bucket and its RAM user", async () => {
        const one = await evaluateProgram({ config: withReplicas(1) });
        assert.equal(one.error, undefined);
        assert.equal(ofType(one, INSTANCE).length, 1);
        assert.ok(!declared(one).some((r) => /EcsDisk|AutoSnapshotPolicy|alicloud:slb\//.test(r)));
        const vmAddress = stateOf(one, INSTANCE).publicIp;
        for (const record of ofType(one, RECORD)) assert.equal((record.inputs as Inputs).value, vmAddress);
        for (const type of [
            "alicloud:oss/bucket:Bucket",
            "alicloud:oss/bucketAcl:BucketAcl",
            "alicloud:ram/user:User",
            "alicloud:ram/policy:Policy",
            ACCESS_KEY,
        ]) {
            assert.equal(ofType(one, type).length, 1, type);
        }
        assert.match(parentOf(one, "alicloud:oss/bucket:Bucket::storage-bucket"), /private-registry:storage:Oss::storage$/);
        // With a bucket the registry may have no data volume at all; if it has one, it binds no disk.
        const dataVolume = one.resources.find((r) => r.type === "docker:index/volume:Volume" && r.name === "registry-registry-data");
        assert.equal((dataVolume?.inputs as Inputs | undefined)?.driverOpts, undefined, "no disk to bind");
    });
});

const parentOf = (result: EvaluationResult, key: string) => result.parents[key] ?? "";

describe("replicas: bad configuration stops at preview, naming the keys", () => {
    const alicloud = {
        mode: "alicloud",
        hostnames: '["registry.example.com"]',
        alicloud: '{"region":"cn-hongkong","dnsZone":"example.com","adminCidr":"203.0.113.7/32"}',
        acme: '{"email":"ops@example.com"}',
    };
    const problems = (raw: Record<string, string>) => {
        try {
            parseStackConfig(raw);
            return "";
        } catch (error) {
            assert.ok(error instanceof ConfigError);
            return error.problems.join("\n");
        }
    };

    it("defaults to 1 and takes 1-20 in alicloud mode with object storage", () => {
        assert.equal(parseStackConfig(alicloud).replicas, 1);
        assert.equal(parseStackConfig({}).replicas, 1, "local mode: one host");
        assert.equal(parseStackConfig({ ...alicloud, replicas: "3", storage: '{"kind":"oss"}' }).replicas, 3);
        assert.equal(parseStackConfig({ ...alicloud, replicas: "20", storage: '{"kind":"oss"}' }).replicas, 20);
    });

    it("refuses more than one replica on the filesystem, naming replicas and storage.kind", () => {
        for (const storage of [undefined, '{"kind":"filesystem"}']) {
            const found = problems({ ...alicloud, replicas: "2", ...(storage === undefined ? {} : { storage }) });
            assert.match(
                found,
                /private-registry:replicas \(2\) needs private-registry:storage\.kind "oss" or "s3": every replica must see the same blobs/,
            );
        }
    });

    it("refuses a count outside 1-20 or not a number, and replicas outside alicloud mode", () => {
        for (const bad of ["0", "21", "two", "1.5", "-1"]) {
            assert.match(
                problems({ ...alicloud, replicas: bad, storage: '{"kind":"oss"}' }),
                new RegExp(`private-registry:replicas must be an integer 1-20, alicloud mode only .*; got "${bad.replace(".", "\\.")}"`),
                bad,
            );
        }
        assert.match(problems({ replicas: "2" }), /private-registry:replicas applies to alicloud mode only .*mode "local" runs one host/);
    });

    it("stops the program before anything is planned", async () => {
        const result = await evaluateProgram({ config: { ...MINIMAL_ALICLOUD_CONFIG, replicas: 3 } });
        assert.match(result.error ?? "", /private-registry:replicas \(3\) needs private-registry:storage\.kind/);
        assert.equal(result.resources.filter((r) => !r.type.startsWith("pulumi:")).length, 0, "nothing planned");
    });
});
