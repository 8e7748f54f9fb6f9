/**
 * The program under mocks: what `pulumi preview` of each configuration would declare. Each
 * evaluation runs index.ts in its own process with realistic fake providers.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { createHash } from "crypto";
import { parse as parseYaml } from "yaml";
import { devStackConfig, evaluateProgram, EvaluationResult, findResource } from "../../scripts/lib/program/evaluate";
import {
    assertSecretsStayHidden,
    CONTAINER,
    envOf,
    Inputs,
    inputsOf,
    plainFile,
    plainHolders,
    plainUploads,
    upload,
    Upload,
    VOLUME,
} from "../harness/inspect";
import { REGISTRY_CORE_RESOURCES } from "../support/fixtures";

/** A file a holder carries into a service's volume: what the service reads there. */
const held = (result: EvaluationResult, holder: string, file: string) => upload(inputsOf(result, CONTAINER, holder), file);
const registryConfig = (result: EvaluationResult) =>
    parseYaml(plainFile(result, "registry-registry", "/etc/private-registry/files/config.yml"));
const edgeConf = (result: EvaluationResult) => plainFile(result, "registry-edge", "/etc/nginx/files/nginx.conf");
/** The inputs kept secret in any holder of a service's plain files: none, so a diff shows them. */
const plainSecretInputs = (result: EvaluationResult, service: string) =>
    Object.keys(plainHolders(result, service)).flatMap((name) => findResource(result, CONTAINER, name).secretInputPaths);

describe("local mode, dev stack", () => {
    let first: EvaluationResult;
    let second: EvaluationResult;

    before(async () => {
        first = await evaluateProgram({ config: devStackConfig() });
        assert.equal(first.error, undefined);
        second = await evaluateProgram({ config: devStackConfig(), previousState: first.state });
        assert.equal(second.error, undefined);
    });

    it("declares exactly the expected resources, with readable names", () => {
        const declared = first.resources.map((r) => `${r.type} ${r.name}`).sort();
        assert.deepEqual(
            declared,
            [
                ...REGISTRY_CORE_RESOURCES,
                "private-registry:host:LocalDocker local",
                "private-registry:index:SelfSignedCertificate tls",
                "pulumi:providers:docker local-docker",
                "pulumi:pulumi:Stack private-registry-dev",
                "tls:index/certRequest:CertRequest tls-server-csr",
                "tls:index/locallySignedCert:LocallySignedCert tls-server",
                "tls:index/privateKey:PrivateKey tls-ca-key",
                "tls:index/privateKey:PrivateKey tls-server-key",
                "tls:index/selfSignedCert:SelfSignedCert tls-ca",
            ].sort(),
        );
    });

    it("parents every child to its component", () => {
        const expectations: [string, string][] = [
            ["docker:index/container:Container::registry-registry", "private-registry:index:Registry::registry-registry"],
            ["docker:index/volume:Volume::registry-registry-data", "private-registry:index:Registry::registry-registry"],
            ["docker:index/container:Container::registry-ui", "private-registry:index:RegistryUi::registry-ui"],
            ["docker:index/container:Container::registry-edge", "private-registry:index:Edge::registry-edge"],
            ["docker:index/network:Network::registry-network", "private-registry:index:PrivateRegistry::registry"],
            [
                "random:index/randomPassword:RandomPassword::registry-credentials-admin",
                "private-registry:index:RegistryCredentials::registry-credentials",
            ],
            ["tls:index/locallySignedCert:LocallySignedCert::tls-server", "private-registry:index:SelfSignedCertificate::tls"],
            ["pulumi:providers:docker::local-docker", "private-registry:host:LocalDocker::local"],
        ];
        for (const [child, parent] of expectations) {
            const [parentType, parentName] = parent.split("::");
            assert.match(first.parents[child] ?? "", new RegExp(`\\$?${parentType.replace(/[$:/]/g, "\\$&")}::${parentName}$`), child);
        }
        const orphans = Object.entries(first.parents).filter(([key, parent]) => parent === null && !key.startsWith("private-registry:"));
        assert.deepEqual(orphans, [], "only components sit at the top level");
        const unprovided = Object.entries(first.options).filter(([key, o]) => key.startsWith("docker:") && !o.hasProvider);
        assert.deepEqual(unprovided, [], "every Docker resource uses the host's provider");
    });

    it("keeps the registry's data in a retained volume that survives container replacement", () => {
        const registry = inputsOf(first, CONTAINER, "registry-registry");
        const volume = inputsOf(first, VOLUME, "registry-registry-data");
        assert.equal(volume.name, "private-registry-data");
        assert.deepEqual(registry.volumes, [
            { volumeName: "private-registry-data", containerPath: "/var/lib/registry" },
            { volumeName: "private-registry-registry-socket", containerPath: "/run/registry" },
            { volumeName: "private-registry-registry-files", containerPath: "/etc/private-registry/files", readOnly: true },
        ]);
        assert.equal(first.options[`${VOLUME}::registry-registry-data`].retainOnDelete, true);
        for (const name of ["registry-registry", "registry-ui", "registry-edge"]) {
            assert.equal(
                first.options[`${CONTAINER}::${name}`].deleteBeforeReplace,
                true,
                `${name}: fixed name needs delete-before-replace`,
            );
            assert.equal(inputsOf(first, CONTAINER, name).restart, "always");
            assert.ok(inputsOf(first, CONTAINER, name).healthcheck.tests.length > 0, `${name} has a health check`);
        }
    });

    it("rotates every container's logs, so a busy registry cannot fill the disk", () => {
        const containers = first.resources.filter((r) => r.type === CONTAINER);
        assert.equal(
            containers.length,
            11,
            "three services; eight file holders: the registry's two files, the edge's three, their manifests, the edge's secrets",
        );
        for (const container of containers) {
            const inputs = container.inputs as Inputs;
            assert.equal(inputs.logDriver, "json-file", container.name);
            assert.match(inputs.logOpts["max-size"], /^\d+m$/, `${container.name}: max-size`);
            assert.ok(Number(inputs.logOpts["max-file"]) >= 2, `${container.name}: max-file`);
        }
    });

    it("publishes only the edge; the registry reads its rendered config, the edge its nginx.conf and the users' hashes", () => {
        const registry = inputsOf(first, CONTAINER, "registry-registry");
        const ui = inputsOf(first, CONTAINER, "registry-ui");
        const edge = inputsOf(first, CONTAINER, "registry-edge");
        assert.equal(registry.ports, undefined);
        assert.equal(ui.ports, undefined);
        assert.deepEqual(
            edge.ports.map((p: Inputs) => [p.internal, p.external]),
            [
                [443, 8443],
                [80, 8080],
            ],
        );
        for (const [container, alias] of [
            [registry, "registry"],
            [ui, "ui"],
            [edge, "edge"],
        ] as [Inputs, string][]) {
            // networkMode beside networksAdvanced makes the provider drop the aliases (502 at the edge).
            assert.equal(container.networkMode, undefined, `${alias}: no networkMode in bridge mode`);
            assert.deepEqual(container.networksAdvanced, [{ name: "private-registry", aliases: [alias] }]);
        }

        const config = registryConfig(first);
        // No TCP port for the API: a Unix socket in a volume that only the edge mounts besides.
        assert.deepEqual([config.http.net, config.http.addr], ["unix", "/run/registry/registry.sock"]);
        // The supervisor serves it and takes each new set of files (registrySupervisor.ts).
        assert.deepEqual(registry.command, ["sh", "/usr/local/bin/private-registry-supervisor"]);
        assert.deepEqual(registry.tmpfs, { "/run/private-registry": "mode=0700" });
        assert.deepEqual(edge.command, ["sh", "/usr/local/bin/private-registry-edge"]);
        assert.deepEqual(edge.tmpfs, { "/run/edge": "mode=0755" });
        assert.deepEqual(edge.volumes, [
            { volumeName: "private-registry-registry-socket", containerPath: "/run/registry", readOnly: true },
            // Blob GETs from the registry's files (tuning.serveBlobFiles): its data, read-only.
            { volumeName: "private-registry-data", containerPath: "/var/lib/registry", readOnly: true },
            { volumeName: "private-registry-edge-files", containerPath: "/etc/nginx/files", readOnly: true },
            { volumeName: "private-registry-edge-secrets", containerPath: "/etc/nginx/secrets", readOnly: true },
        ]);
        assert.equal(ui.volumes, undefined);
        assert.equal(config.http.secret, undefined, "the http secret stays out of the readable file");
        assert.equal(config.auth, undefined, "the registry checks no password: the edge checks every request's (docs/roles.md)");
        assert.equal(config.storage.delete.enabled, false);
        assert.match(
            held(first, "registry-edge-secrets", "/etc/nginx/secrets/users"),
            /^admin:\{SSHA\}[A-Za-z0-9+/]{56}\nnode:\{SSHA\}[A-Za-z0-9+/]{56}\n$/,
            "{SSHA}: SHA-1 and a 22-byte salt, checked by nginx in microseconds",
        );
        assert.equal(plainFile(first, "registry-edge", "/etc/nginx/files/push-users"), "admin\n", "node, the pull user, may not write");
        assert.deepEqual(
            registry.uploads.map((u: Inputs) => u.file),
            ["/usr/local/bin/private-registry-supervisor"],
            "what changes is in the holders, not the container",
        );
        assert.match(envOf(registry).REGISTRY_HTTP_SECRET, /^[A-Za-z0-9]{48}$/);

        const nginx = edgeConf(first);
        // No user, name or certificate in it: they are read per request, per handshake.
        assert.doesNotMatch(nginx, /admin|localhost|BEGIN/);
        assert.match(nginx, /auth_basic_user_file \/run\/edge\/live\/users;/);
        assert.match(nginx, /ssl_certificate \$edge_certificate_file;/);
        assert.match(nginx, /return 301 "?https:\/\/\$host:8443\$request_uri"?;/);
        assert.match(
            nginx,
            /upstream registry_backend \{\n\s+server unix:\/run\/registry\/registry\.sock;\n\s+keepalive 32;\n\s+keepalive_time 1s;/,
        );
        assert.match(nginx, /resolver 127\.0\.0\.11 valid=10s ipv6=off;/);
        // Blob GETs from the registry's data volume (tuning.serveBlobFiles).
        assert.match(nginx, /alias \/var\/lib\/registry\/docker\/registry\/v2\/blobs\/;/);
        assert.match(nginx, /proxy_pass http:\/\/registry_backend\$request_uri;/);
    });

    it("issues a server certificate for every name and IP, signed by the exported CA", () => {
        const csr = inputsOf(first, "tls:index/certRequest:CertRequest", "tls-server-csr");
        assert.deepEqual(csr.dnsNames, ["localhost"]);
        assert.deepEqual(csr.ipAddresses, ["127.0.0.1"]);
        const server = inputsOf(first, "tls:index/locallySignedCert:LocallySignedCert", "tls-server");
        assert.equal(server.validityPeriodHours, 365 * 24);
        assert.equal(server.earlyRenewalHours, 30 * 24);
        assert.deepEqual(server.allowedUses, ["digital_signature", "key_encipherment", "server_auth"]);
        assert.equal(server.caCertPem, first.outputs.caCertificate.value);
    });

    it("marks every secret secret, and leaves the rest readable", () => {
        const { outputs } = first;
        assert.equal(outputs.credentials.secret, true);
        assert.equal(outputs.registryEndpoint.secret, false);
        assert.equal(outputs.registryEndpoint.value, "localhost:8443");
        assert.equal(outputs.uiEndpoint.value, "https://localhost:8443/");
        assert.equal(outputs.caCertificate.secret, false);
        assert.deepEqual(outputs.clientSnippets.secretChildren, {
            docker: false,
            containerd: false,
            buildkit: false,
            k3s: true,
            imagePullSecret: true,
            nodeSetup: true,
        });
        const [admin] = outputs.credentials.value as { username: string; password: string }[];
        assert.equal(admin.username, "admin");
        const plain = JSON.stringify({
            docker: (outputs.clientSnippets.value as Inputs).docker,
            containerd: (outputs.clientSnippets.value as Inputs).containerd,
        });
        assert.ok(!plain.includes(admin.password), "no password in the plain snippets");

        assert.ok(assertSecretsStayHidden(first) >= 5, "no key or password in a plain output or input");

        const secretInputs = (name: string) => findResource(first, CONTAINER, name).secretInputPaths.sort();
        assert.deepEqual(secretInputs("registry-registry"), ["envs"], "the http secret is secret");
        assert.deepEqual(plainSecretInputs(first, "registry-registry"), [], "config.yml stays readable");
        assert.deepEqual(secretInputs("registry-edge"), []);
        assert.deepEqual(plainSecretInputs(first, "registry-edge"), [], "nginx.conf, the certificate and the push users stay readable");
        assert.deepEqual(secretInputs("registry-edge-secrets"), ["uploads"], "the TLS key and the users' hashes are secret");
    });

    it("delivers each service's files through never-started holders and read-only volumes, a holder per plain file, each manifest naming the set by an HMAC that reveals nothing", () => {
        // Each holder: its resource, its container's name, the volume it writes at the directory, its files (the manifest last), their mode.
        const holders: [string, string, string, string, string[], string][] = [];
        const plainSets = [
            ["registry-registry", "private-registry-registry-files", "/etc/private-registry/files", ["config.yml", "schedule"]],
            ["registry-edge", "private-registry-edge-files", "/etc/nginx/files", ["nginx.conf", "server.crt", "push-users"]],
        ] as const;
        for (const [service, volume, directory, files] of plainSets) {
            const names = [...files, "manifest"];
            assert.deepEqual(
                Object.keys(plainHolders(first, service)).sort(),
                names.map((file) => `${service}-files-${file}`).sort(),
                `${service}: a holder per plain file, and one for the manifest`,
            );
            assert.equal(inputsOf(first, VOLUME, `${service}-files`).name, volume, `${service}: the holders share one volume`);
            for (const file of names) holders.push([`${service}-files-${file}`, `${volume}-${file}`, volume, directory, [file], "0644"]);
        }
        holders.push([
            "registry-edge-secrets",
            "private-registry-edge-secrets",
            "private-registry-edge-secrets",
            "/etc/nginx/secrets",
            ["server.key", "users", "manifest"],
            "0600",
        ]);
        for (const [holder, name, volume, directory, files, permissions] of holders) {
            const inputs = inputsOf(first, CONTAINER, holder);
            assert.equal(inputs.name, name);
            assert.equal(inputs.start, false, `${holder} is never started`);
            assert.equal(inputs.mustRun, false);
            assert.equal(inputs.networkMode, "none");
            assert.equal(first.options[`${CONTAINER}::${holder}`].deleteBeforeReplace, true, `${holder}: fixed name`);
            assert.deepEqual(inputs.volumes, [{ volumeName: volume, containerPath: directory }]);
            assert.deepEqual(
                inputs.uploads.map((u: Inputs) => [u.file, u.permissions]),
                files.map((file) => [`${directory}/${file}`, permissions]),
                `${holder}: ${files.join(", ")}`,
            );
        }

        const manifests: Record<string, string> = {};
        for (const [set, directory, files, uploads] of [
            ...plainSets.map(
                ([service, , directory, files]) => [`${service}-files`, directory, files, plainUploads(first, service)] as const,
            ),
            [
                "registry-edge-secrets",
                "/etc/nginx/secrets",
                ["server.key", "users"],
                inputsOf(first, CONTAINER, "registry-edge-secrets").uploads as Upload[],
            ] as const,
        ]) {
            const manifest = upload({ uploads }, `${directory}/manifest`);
            const lines = manifest.trim().split("\n");
            assert.match(lines[1], /^# set [0-9a-f]{32}$/);
            assert.deepEqual(
                lines.slice(2).map((line) => line.split("  ")[1]),
                files,
            );
            for (const file of files) {
                const sha = createHash("sha256")
                    .update(upload({ uploads }, `${directory}/${file}`))
                    .digest("hex");
                assert.ok(manifest.includes(`${sha}  ${file}`), `${set}: ${file}'s SHA-256`);
            }
            manifests[set] = lines[1];
        }
        assert.equal(manifests["registry-edge-files"], manifests["registry-edge-secrets"], "both edge manifests name the same set");
        assert.notEqual(manifests["registry-registry-files"], manifests["registry-edge-files"]);
        // The plain manifest carries no piece of a secret file (only its name and the set's HMAC).
        const plain = plainFile(first, "registry-edge", "/etc/nginx/files/manifest");
        for (const file of ["server.key", "users"]) {
            const secret = held(first, "registry-edge-secrets", `/etc/nginx/secrets/${file}`);
            for (const piece of secret.split(/[\s:{}]+/).filter((p) => p.length >= 12))
                assert.ok(!plain.includes(piece.slice(0, 12)), file);
            assert.ok(
                !plain.includes(createHash("sha256").update(secret).digest("hex")),
                `${file}'s SHA-256 is only in the secret manifest`,
            );
        }
        for (const [service, mounts] of [
            ["registry", ["/etc/private-registry/files"]],
            ["edge", ["/etc/nginx/files", "/etc/nginx/secrets"]],
        ] as const) {
            const container = inputsOf(first, CONTAINER, `registry-${service}`);
            for (const mount of mounts)
                assert.ok(
                    container.volumes.some((v: Inputs) => v.containerPath === mount && v.readOnly === true),
                    `${service} reads ${mount}`,
                );
            assert.equal(container.labels, undefined, `${service}: no fingerprint label (a new set is no reason to replace it)`);
        }
    });

    it("is deterministic: a second evaluation declares identical inputs (no perpetual diff)", () => {
        assert.equal(second.resources.length, first.resources.length);
        for (const resource of first.resources) {
            const again = findResource(second, resource.type, resource.name);
            assert.deepEqual(again.inputs, resource.inputs, `${resource.type} ${resource.name} changed between runs`);
        }
    });
});

describe("local mode variants", () => {
    it("host networking binds the UI to loopback, keeps the registry on its socket and drops the private network", async () => {
        const result = await evaluateProgram({ config: { ...devStackConfig(), containerNetwork: "host", uiPort: 15080 } });
        assert.equal(result.error, undefined);
        assert.ok(!result.resources.some((r) => r.type === "docker:index/network:Network"));
        const registry = inputsOf(result, CONTAINER, "registry-registry");
        const ui = inputsOf(result, CONTAINER, "registry-ui");
        const edge = inputsOf(result, CONTAINER, "registry-edge");
        for (const container of [registry, ui, edge]) assert.equal(container.networkMode, "host");
        assert.equal(edge.ports, undefined);
        assert.deepEqual(registryConfig(result).http, {
            net: "unix",
            addr: "/run/registry/registry.sock",
            draintimeout: "900s",
            headers: { "X-Content-Type-Options": ["nosniff"] },
            debug: { addr: "127.0.0.1:5002", prometheus: { enabled: true, path: "/metrics" } },
        });
        assert.equal(envOf(ui).NGINX_LISTEN_PORT, "127.0.0.1:15080");
        const nginx = edgeConf(result);
        assert.match(nginx, /listen 8443 ssl default_server;/);
        assert.doesNotMatch(nginx, /listen \[::\]/, "no IPv6 listener unless asked: nginx fails where IPv6 is off");
        assert.match(nginx, /upstream registry_backend \{\n\s+server unix:\/run\/registry\/registry\.sock;/);
    });

    it("host networking listens on IPv6 when listenIpv6 says so, or when clients are given an IPv6 address", async () => {
        const host = { ...devStackConfig(), containerNetwork: "host" };
        const [asked, byAddress, bridge] = await Promise.all([
            evaluateProgram({ config: { ...host, listenIpv6: true } }),
            evaluateProgram({ config: { ...host, ipAddresses: ["127.0.0.1", "::1"] } }),
            evaluateProgram({ config: { ...devStackConfig(), listenIpv6: true } }),
        ]);
        for (const result of [asked, byAddress]) {
            assert.equal(result.error, undefined);
            const nginx = edgeConf(result);
            assert.match(nginx, /listen 8443 ssl default_server;\n\s+listen \[::\]:8443 ssl default_server;/);
            assert.match(nginx, /listen 8080 default_server;\n\s+listen \[::\]:8080 default_server;/);
        }
        assert.equal(bridge.error, undefined);
        assert.doesNotMatch(edgeConf(bridge), /listen \[::\]/, "in a bridge network Docker publishes the ports");
    });

    it("a UI on its own name gets CORS from the registry and a preflight answer from the edge", async () => {
        const result = await evaluateProgram({
            config: {
                ...devStackConfig(),
                hostnames: ["registry.lan"],
                uiHostname: "ui.registry.lan",
                users: ["ci", "alice"],
                deleteEnabled: true,
                retainDataOnDestroy: false,
            },
        });
        assert.equal(result.error, undefined);
        const config = registryConfig(result);
        assert.deepEqual(config.http.headers["Access-Control-Allow-Origin"], ["https://ui.registry.lan:8443"]);
        assert.equal(config.storage.delete.enabled, true);
        assert.equal(envOf(inputsOf(result, CONTAINER, "registry-ui")).REGISTRY_URL, "https://registry.lan:8443");
        assert.match(edgeConf(result), /Access-Control-Allow-Origin https:\/\/ui\.registry\.lan:8443 always;/);
        assert.deepEqual(inputsOf(result, "tls:index/certRequest:CertRequest", "tls-server-csr").dnsNames, [
            "registry.lan",
            "ui.registry.lan",
        ]);
        assert.equal(result.options[`${VOLUME}::registry-registry-data`].retainOnDelete, false);
        assert.match(held(result, "registry-edge-secrets", "/etc/nginx/secrets/users"), /^ci:\{SSHA\}.*\nalice:\{SSHA\}.*\n$/);
        assert.equal(plainFile(result, "registry-edge", "/etc/nginx/files/push-users"), "ci\nalice\n");
        assert.equal(result.outputs.uiEndpoint.value, "https://ui.registry.lan:8443/");
    });

    it("the mirror: its own Distribution in proxy mode with its own volume, behind the edge on its own port; image references from the config; secrets stay secret", async () => {
        const images = {
            registry: "registry.cn-hangzhou.aliyuncs.com/team/registry:2.8.3",
            ui: "registry.cn-hangzhou.aliyuncs.com/team/ui:2.5.7",
            edge: "registry.cn-hangzhou.aliyuncs.com/team/nginx:1.28.0-alpine",
            mirror: "registry.cn-hangzhou.aliyuncs.com/team/registry:2.8.3",
        };
        const result = await evaluateProgram({
            config: {
                ...devStackConfig(),
                images,
                mirror: { username: "hub-bot", password: "hub-Token-9", k3sRewrites: { "^rancher/mirrored-(.*)": "riscv64/mirrored-$1" } },
            },
            secretKeys: ["mirror"],
        });
        assert.equal(result.error, undefined);
        const names = result.resources
            .filter((r) => r.type === "docker:index/remoteImage:RemoteImage")
            .map((r) => (r.inputs as Inputs).name)
            .sort();
        assert.deepEqual(names, [images.edge, images.mirror, images.registry, images.ui].sort());
        const mirror = inputsOf(result, CONTAINER, "registry-mirror");
        assert.equal(mirror.name, "private-registry-mirror");
        const config = parseYaml(plainFile(result, "registry-mirror", "/etc/private-registry/files/config.yml"));
        assert.deepEqual(config.proxy, { remoteurl: "https://registry-1.docker.io", username: "hub-bot" });
        assert.deepEqual([config.http.net, config.http.addr], ["unix", "/run/mirror/mirror.sock"], "reachable only through the edge");
        assert.equal(config.auth, undefined, "the edge checks the users' passwords");
        // The upstream password: a secret file its supervisor exports, so a new one is a handover, not a restart.
        assert.equal(
            held(result, "registry-mirror-secrets", "/etc/private-registry/secrets/environment"),
            "REGISTRY_PROXY_PASSWORD='hub-Token-9'\n",
        );
        assert.ok(
            findResource(result, CONTAINER, "registry-mirror-secrets").secretInputPaths.includes("uploads"),
            "the upstream password is secret",
        );
        assert.equal(envOf(mirror).REGISTRY_PROXY_PASSWORD, undefined);
        assert.deepEqual(mirror.command, ["sh", "/usr/local/bin/private-registry-supervisor"]);
        assert.deepEqual(mirror.volumes, [
            { volumeName: "private-registry-mirror-data", containerPath: "/var/lib/registry" },
            { volumeName: "private-registry-mirror-socket", containerPath: "/run/mirror" },
            { volumeName: "private-registry-mirror-files", containerPath: "/etc/private-registry/files", readOnly: true },
            { volumeName: "private-registry-mirror-secrets", containerPath: "/etc/private-registry/secrets", readOnly: true },
        ]);
        assert.equal(inputsOf(result, VOLUME, "registry-mirror-data").name, "private-registry-mirror-data");
        const edge = inputsOf(result, CONTAINER, "registry-edge");
        assert.deepEqual(
            edge.ports.map((p: Inputs) => [p.internal, p.external]),
            [
                [443, 8443],
                [80, 8080],
                [5443, 5443],
            ],
        );
        assert.match(edgeConf(result), /listen 5443 ssl default_server;[\s\S]*limit_except GET \{\n\s+deny all;/);
        assert.match(edgeConf(result), /upstream mirror_backend \{\n\s+server unix:\/run\/mirror\/mirror\.sock;/);
        assert.ok(edge.volumes.some((v: Inputs) => v.volumeName === "private-registry-mirror-socket" && v.readOnly === true));
        assert.equal(result.outputs.mirrorEndpoint.value, "localhost:5443");
        assert.deepEqual(result.outputs.clientSnippets.secretChildren, {
            docker: false,
            containerd: false,
            buildkit: false,
            k3s: true,
            imagePullSecret: true,
            nodeSetup: true,
            mirror: true,
        });
        const snippets = (result.outputs.clientSnippets.value as Inputs).mirror;
        assert.deepEqual(parseYaml(snippets.k3s.files[0].content).mirrors["docker.io"], {
            endpoint: ["https://localhost:8443", "https://localhost:5443"],
            rewrite: { "^rancher/mirrored-(.*)": "riscv64/mirrored-$1" },
        });
    });

    it("a mirror on its own name: in the certificate, on the registry's port, nothing more published", async () => {
        const result = await evaluateProgram({
            config: { ...devStackConfig(), hostnames: ["registry.lan"], mirror: { hostname: "mirror.registry.lan" } },
        });
        assert.equal(result.error, undefined);
        assert.deepEqual(inputsOf(result, "tls:index/certRequest:CertRequest", "tls-server-csr").dnsNames, [
            "registry.lan",
            "mirror.registry.lan",
        ]);
        const edge = inputsOf(result, CONTAINER, "registry-edge");
        assert.deepEqual(
            edge.ports.map((p: Inputs) => p.external),
            [8443, 8080],
        );
        assert.match(edgeConf(result), /listen 443 ssl;\n\s+server_name mirror\.registry\.lan;/);
        assert.equal(result.outputs.mirrorEndpoint.value, "mirror.registry.lan:8443");
    });

    it("an S3 bucket: storage.s3 in the readable config.yml, its keys only in a secret file of the set, no data volume; a plain secret key stops the preview", async () => {
        const storage = {
            kind: "s3",
            endpoint: "https://minio.lan:9000",
            region: "us-east-1",
            bucket: "images",
            accessKeyId: "AKIA-test-id-7",
            secretAccessKey: "s3-Secret-Key-9",
        };
        const result = await evaluateProgram({ config: { ...devStackConfig(), storage }, secretKeys: ["storage"] });
        assert.equal(result.error, undefined);
        const registry = inputsOf(result, CONTAINER, "registry-registry");
        const config = registryConfig(result);
        assert.deepEqual(config.storage.s3, {
            region: "us-east-1",
            bucket: "images",
            regionendpoint: "https://minio.lan:9000",
            forcepathstyle: true,
        });
        assert.deepEqual(config.storage.redirect, { disable: true });
        // The keys: a secret file of the set (new keys are a handover), never the container's env.
        assert.equal(
            held(result, "registry-registry-secrets", "/etc/private-registry/secrets/environment"),
            "REGISTRY_STORAGE_S3_ACCESSKEY='AKIA-test-id-7'\nREGISTRY_STORAGE_S3_SECRETKEY='s3-Secret-Key-9'\n",
        );
        assert.equal(envOf(registry).REGISTRY_STORAGE_S3_SECRETKEY, undefined);
        assert.deepEqual(
            findResource(result, CONTAINER, "registry-registry-secrets").secretInputPaths,
            ["uploads"],
            "the keys are secret in state",
        );
        assert.deepEqual(plainSecretInputs(result, "registry-registry"), [], "config.yml stays readable");
        assert.equal(
            result.resources.some((r) => r.type === VOLUME && r.name === "registry-registry-data"),
            false,
            "no data volume",
        );
        assert.deepEqual(
            registry.volumes,
            [
                { volumeName: "private-registry-registry-socket", containerPath: "/run/registry" },
                { volumeName: "private-registry-registry-files", containerPath: "/etc/private-registry/files", readOnly: true },
                { volumeName: "private-registry-registry-secrets", containerPath: "/etc/private-registry/secrets", readOnly: true },
            ],
            "the socket and the files, no data",
        );
        assertSecretsStayHidden(result, { s3AccessKeyId: storage.accessKeyId, s3SecretKey: storage.secretAccessKey });

        const plain = await evaluateProgram({ config: { ...devStackConfig(), storage } });
        assert.match(plain.error ?? "", /private-registry:storage\.secretAccessKey must be a secret config value/);
        assert.doesNotMatch(plain.error ?? "", /s3-Secret-Key-9/);
        assert.equal(plain.resources.filter((r) => r.type.startsWith("docker:")).length, 0, "nothing planned");
    });

    it("retention: a regctl container the collector asks through a shared volume, reaching the endpoint on the host's network as the push user", async () => {
        const result = await evaluateProgram({
            config: {
                ...devStackConfig(),
                hostnames: ["registry.lan"],
                deleteEnabled: true,
                gc: { schedule: "@daily" },
                retention: [{ repositories: "team/**", keepLast: 3, keepTags: "v[0-9]+" }],
            },
        });
        assert.equal(result.error, undefined);
        const job = inputsOf(result, CONTAINER, "registry-retention");
        assert.equal(job.name, "private-registry-retention");
        assert.equal(
            result.resources.find((r) => r.type === "docker:index/remoteImage:RemoteImage" && r.name === "registry-retention-image")?.inputs
                .name,
            "regclient/regctl:v0.11.7-alpine",
        );
        assert.deepEqual(job.command, ["sh", "/etc/retention/retention.sh"]);
        assert.equal(job.restart, "always", "back after a Docker crash, as the services are");
        assert.equal(job.networkMode, "host", "it reaches the registry as a client on its host does");
        assert.deepEqual(job.hosts, [{ host: "registry.lan", ip: "127.0.0.1" }], "the registry's name, pinned to the host");
        assert.equal(job.ports, undefined, "it publishes nothing");
        const [admin] = result.outputs.credentials.value as { username: string; password: string }[];
        assert.deepEqual(envOf(job), { RETENTION_USER: "admin", RETENTION_PASSWORD: admin.password });
        assert.ok(findResource(result, CONTAINER, "registry-retention").secretInputPaths.includes("envs"), "the password is secret");
        assert.ok(!findResource(result, CONTAINER, "registry-retention").secretInputPaths.includes("uploads"), "the script stays readable");
        const script = upload(job, "/etc/retention/retention.sh");
        assert.match(script, /^REGISTRY='registry\.lan:8443'$/m);
        assert.match(script, /^CA_FILE='\/etc\/retention\/ca\.crt'$/m);
        assert.match(
            script,
            /matches '\^team\(\/\.\*\)\?\$' "\$1"; then POLICY='team\/\*\*' KEEP_LAST='3' KEEP_DAYS='' KEEP_TAGS='v\[0-9\]\+'/,
        );
        assert.equal(upload(job, "/etc/retention/ca.crt"), result.outputs.caCertificate.value);
        const handshake = { volumeName: "private-registry-retention-handshake", containerPath: "/run/retention" };
        assert.deepEqual(job.volumes, [handshake]);
        assert.equal(inputsOf(result, VOLUME, "registry-retention-handshake").name, handshake.volumeName);
        const registry = inputsOf(result, CONTAINER, "registry-registry");
        assert.ok(
            (registry.volumes as Inputs[]).some(
                (v) => v.volumeName === handshake.volumeName && v.containerPath === handshake.containerPath,
            ),
            "the supervisor mounts the handshake volume",
        );
        assert.match(upload(registry, "/usr/local/bin/private-registry-supervisor"), /^RETENTION_DIR='\/run\/retention'$/m);
        assertSecretsStayHidden(result);

        const without = await evaluateProgram({ config: { ...devStackConfig(), retention: [{ repositories: "**", keepLast: 1 }] } });
        assert.match(without.error ?? "", /private-registry:retention needs private-registry:gc/);
        assert.match(without.error ?? "", /private-registry:retention needs private-registry:deleteEnabled true/);
    });

    it("notifications: endpoints readable in config.yml, each one's headers only in the secret environment of the set; plain headers stop the preview", async () => {
        const notifications = [
            { url: "http://deployer.lan:8080/events", headers: { Authorization: "Bearer hook-Token-7" } },
            { url: "https://audit.lan/hook", events: ["push", "delete", "pull"] },
        ];
        const result = await evaluateProgram({ config: { ...devStackConfig(), notifications }, secretKeys: ["notifications"] });
        assert.equal(result.error, undefined);
        const configYaml = plainFile(result, "registry-registry", "/etc/private-registry/files/config.yml");
        assert.deepEqual(parseYaml(configYaml).notifications.endpoints, [
            {
                name: "webhook-1",
                url: "http://deployer.lan:8080/events",
                timeout: "5s",
                threshold: 5,
                backoff: "10s",
                ignore: { mediatypes: ["application/octet-stream"], actions: ["pull"] },
            },
            {
                name: "webhook-2",
                url: "https://audit.lan/hook",
                timeout: "5s",
                threshold: 5,
                backoff: "10s",
                ignore: { mediatypes: ["application/octet-stream"], actions: [] },
            },
        ]);
        assert.doesNotMatch(configYaml, /hook-Token-7/);
        // The headers: a secret file of the registry's set its supervisor exports, so a new one is a handover.
        assert.equal(
            held(result, "registry-registry-secrets", "/etc/private-registry/secrets/environment"),
            `REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS='{"Authorization":["Bearer hook-Token-7"]}'\n`,
        );
        assert.equal(envOf(inputsOf(result, CONTAINER, "registry-registry")).REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS, undefined);
        assert.deepEqual(findResource(result, CONTAINER, "registry-registry-secrets").secretInputPaths, ["uploads"]);
        assert.deepEqual(plainSecretInputs(result, "registry-registry"), [], "config.yml stays readable");
        assertSecretsStayHidden(result, { webhookHeader: "Bearer hook-Token-7" });

        const plain = await evaluateProgram({ config: { ...devStackConfig(), notifications } });
        assert.match(plain.error ?? "", /private-registry:notifications\[0\]\.headers must be a secret config value/);
        assert.doesNotMatch(plain.error ?? "", /hook-Token-7/);
    });

    it("stops at preview with the key named when the config is bad", async () => {
        const result = await evaluateProgram({ config: { ...devStackConfig(), httpsPort: "99999", mode: "moon" } });
        assert.match(result.error ?? "", /private-registry:mode must be one of "local", "ssh", "alicloud"; got "moon"/);
        assert.match(result.error ?? "", /private-registry:httpsPort must be an integer port 1-65535; got "99999"/);
        assert.equal(result.resources.filter((r) => r.type.startsWith("docker:")).length, 0, "nothing planned");
    });
});
