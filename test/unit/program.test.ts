/**
 * The program under mocks: what `pulumi preview` of each configuration would declare. Each
 * evaluation runs index.ts in its own process with realistic fake providers.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { devStackConfig, evaluateProgram, EvaluationResult, findResource } from "../../scripts/lib/program/evaluate";
import { assertSecretsStayHidden, CONTAINER, envOf, Inputs, inputsOf, upload, VOLUME } from "../harness/inspect";
import { REGISTRY_CORE_RESOURCES } from "../support/fixtures";

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
            { volumeName: "private-registry-registry-secrets", containerPath: "/auth", readOnly: true },
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
        assert.equal(containers.length, 5, "three services, two secret-file holders");
        for (const container of containers) {
            const inputs = container.inputs as Inputs;
            assert.equal(inputs.logDriver, "json-file", container.name);
            assert.match(inputs.logOpts["max-size"], /^\d+m$/, `${container.name}: max-size`);
            assert.ok(Number(inputs.logOpts["max-file"]) >= 2, `${container.name}: max-file`);
        }
    });

    it("publishes only the edge, and the registry reads its rendered config and htpasswd", () => {
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

        const config = parseYaml(upload(registry, "/etc/distribution/config.yml"));
        // No TCP port for the API: a Unix socket in a volume that only the edge mounts besides.
        assert.deepEqual([config.http.net, config.http.addr], ["unix", "/run/registry/registry.sock"]);
        assert.deepEqual(registry.command, ["sh", "-c", "umask 000 && exec registry serve /etc/distribution/config.yml"]);
        assert.deepEqual(edge.volumes, [
            { volumeName: "private-registry-registry-socket", containerPath: "/run/registry", readOnly: true },
            // Blob GETs from the registry's files (tuning.serveBlobFiles): its data, read-only.
            { volumeName: "private-registry-data", containerPath: "/var/lib/registry", readOnly: true },
            { volumeName: "private-registry-edge-secrets", containerPath: "/etc/nginx/secrets", readOnly: true },
        ]);
        assert.equal(ui.volumes, undefined);
        assert.equal(config.http.secret, undefined, "the http secret stays out of the readable file");
        assert.deepEqual(config.auth, { htpasswd: { realm: "private-registry", path: "/auth/htpasswd" } });
        assert.equal(config.storage.delete.enabled, false);
        const registrySecrets = inputsOf(first, CONTAINER, "registry-registry-secrets");
        assert.match(
            upload(registrySecrets, "/auth/htpasswd"),
            /^admin:\$2b\$05\$.{53}\nnode:\$2b\$05\$.{53}\n$/,
            "bcrypt at the cheap per-request cost",
        );
        assert.deepEqual(
            registry.uploads.map((u: Inputs) => u.file),
            ["/etc/distribution/config.yml"],
            "the htpasswd is not beside config.yml",
        );
        assert.match(envOf(registry).REGISTRY_HTTP_SECRET, /^[A-Za-z0-9]{48}$/);

        const nginx = upload(edge, "/etc/nginx/nginx.conf");
        // Roles: only the push user (admin) may write; node, the pull user, is not in the list.
        assert.match(nginx, /~\^\[\^:\]\+:\(admin\)\$ "";\n\s+default 403;/);
        assert.match(nginx, /server_name localhost 127\.0\.0\.1;/);
        assert.match(nginx, /return 301 "?https:\/\/\$host:8443\$request_uri"?;/);
        assert.match(nginx, /upstream registry_backend \{\n\s+server unix:\/run\/registry\/registry\.sock;/);
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
        assert.deepEqual(secretInputs("registry-registry"), ["envs"], "the http secret is secret, config.yml stays readable");
        assert.deepEqual(secretInputs("registry-edge"), [], "nginx.conf and the certificate stay readable");
        assert.deepEqual(secretInputs("registry-registry-secrets"), ["uploads"], "the htpasswd is secret");
        assert.deepEqual(secretInputs("registry-edge-secrets"), ["uploads"], "the TLS key is secret");
    });

    it("delivers secret files through a never-started holder and a read-only volume, with a fingerprint that reveals nothing", () => {
        for (const [service, directory, file] of [
            ["registry", "/auth", "htpasswd"],
            ["edge", "/etc/nginx/secrets", "server.key"],
        ]) {
            const container = inputsOf(first, CONTAINER, `registry-${service}`);
            const holder = inputsOf(first, CONTAINER, `registry-${service}-secrets`);
            assert.equal(holder.start, false, `${service}: the holder is never started`);
            assert.equal(holder.mustRun, false);
            assert.equal(holder.networkMode, "none");
            assert.deepEqual(holder.volumes, [{ volumeName: `private-registry-${service}-secrets`, containerPath: directory }]);
            assert.deepEqual(
                holder.uploads.map((u: Inputs) => [u.file, u.permissions]),
                [[`${directory}/${file}`, "0600"]],
            );
            assert.ok(
                container.volumes.some(
                    (v: Inputs) =>
                        v.volumeName === `private-registry-${service}-secrets` && v.containerPath === directory && v.readOnly === true,
                ),
            );
            assert.ok(
                !container.uploads.some((u: Inputs) => u.file.startsWith(`${directory}/`)),
                `${service}: no plain upload under the secrets mount`,
            );
            const [label] = container.labels as Inputs[];
            assert.equal(label.label, "private-registry.secrets-fingerprint");
            assert.match(label.value, /^hmac-sha256:[0-9a-f]{32}$/);
            const secret = upload(holder, `${directory}/${file}`);
            const pieces = secret.split(/[\s:$]+/).filter((piece) => piece.length >= 8);
            assert.ok(pieces.length > 0);
            for (const piece of pieces)
                assert.ok(!label.value.includes(piece.slice(0, 8)), `${service}: the label shows part of the secret`);
        }
        assert.ok(!findResource(first, CONTAINER, "registry-registry").secretInputPaths.includes("labels"), "the fingerprint is readable");
        assert.notEqual(
            inputsOf(first, CONTAINER, "registry-registry").labels[0].value,
            inputsOf(first, CONTAINER, "registry-edge").labels[0].value,
        );
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
        assert.deepEqual(parseYaml(upload(registry, "/etc/distribution/config.yml")).http, {
            net: "unix",
            addr: "/run/registry/registry.sock",
            draintimeout: "60s",
            headers: { "X-Content-Type-Options": ["nosniff"] },
            debug: { addr: "127.0.0.1:5002", prometheus: { enabled: true, path: "/metrics" } },
        });
        assert.equal(envOf(ui).NGINX_LISTEN_PORT, "127.0.0.1:15080");
        const nginx = upload(edge, "/etc/nginx/nginx.conf");
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
            const nginx = upload(inputsOf(result, CONTAINER, "registry-edge"), "/etc/nginx/nginx.conf");
            assert.match(nginx, /listen 8443 ssl default_server;\n\s+listen \[::\]:8443 ssl default_server;/);
            assert.match(nginx, /listen 8080 default_server;\n\s+listen \[::\]:8080 default_server;/);
        }
        assert.equal(bridge.error, undefined);
        assert.doesNotMatch(
            upload(inputsOf(bridge, CONTAINER, "registry-edge"), "/etc/nginx/nginx.conf"),
            /listen \[::\]/,
            "in a bridge network Docker publishes the ports",
        );
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
        const registry = inputsOf(result, CONTAINER, "registry-registry");
        const config = parseYaml(upload(registry, "/etc/distribution/config.yml"));
        assert.deepEqual(config.http.headers["Access-Control-Allow-Origin"], ["https://ui.registry.lan:8443"]);
        assert.equal(config.storage.delete.enabled, true);
        assert.equal(envOf(inputsOf(result, CONTAINER, "registry-ui")).REGISTRY_URL, "https://registry.lan:8443");
        assert.match(
            upload(inputsOf(result, CONTAINER, "registry-edge"), "/etc/nginx/nginx.conf"),
            /Access-Control-Allow-Origin https:\/\/ui\.registry\.lan:8443 always;/,
        );
        assert.deepEqual(inputsOf(result, "tls:index/certRequest:CertRequest", "tls-server-csr").dnsNames, [
            "registry.lan",
            "ui.registry.lan",
        ]);
        assert.equal(result.options[`${VOLUME}::registry-registry-data`].retainOnDelete, false);
        assert.match(upload(inputsOf(result, CONTAINER, "registry-registry-secrets"), "/auth/htpasswd"), /^ci:\$2.*\nalice:\$2.*\n$/);
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
        const config = parseYaml(upload(mirror, "/etc/docker/registry/config.yml"));
        assert.deepEqual(config.proxy, { remoteurl: "https://registry-1.docker.io", username: "hub-bot" });
        assert.equal(envOf(mirror).REGISTRY_PROXY_PASSWORD, "hub-Token-9");
        assert.ok(findResource(result, CONTAINER, "registry-mirror").secretInputPaths.includes("envs"), "the upstream password is secret");
        assert.equal(
            upload(inputsOf(result, CONTAINER, "registry-mirror-secrets"), "/auth/htpasswd"),
            upload(inputsOf(result, CONTAINER, "registry-registry-secrets"), "/auth/htpasswd"),
            "the registry's users read the mirror",
        );
        assert.deepEqual(
            mirror.uploads.map((u: Inputs) => u.file),
            ["/etc/docker/registry/config.yml"],
            "the htpasswd is not beside config.yml",
        );
        assert.deepEqual(mirror.volumes, [
            { volumeName: "private-registry-mirror-data", containerPath: "/var/lib/registry" },
            { volumeName: "private-registry-mirror-secrets", containerPath: "/auth", readOnly: true },
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
        assert.match(upload(edge, "/etc/nginx/nginx.conf"), /listen 5443 ssl default_server;[\s\S]*limit_except GET \{\n\s+deny all;/);
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
        assert.match(upload(edge, "/etc/nginx/nginx.conf"), /listen 443 ssl;\n\s+server_name mirror\.registry\.lan;/);
        assert.equal(result.outputs.mirrorEndpoint.value, "mirror.registry.lan:8443");
    });

    it("an S3 bucket: storage.s3 in the readable config.yml, its keys only in secret env, no data volume; a plain secret key stops the preview", async () => {
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
        const config = parseYaml(upload(registry, "/etc/distribution/config.yml"));
        assert.deepEqual(config.storage.s3, {
            region: "us-east-1",
            bucket: "images",
            regionendpoint: "https://minio.lan:9000",
            forcepathstyle: true,
        });
        assert.deepEqual(config.storage.redirect, { disable: true });
        const env = envOf(registry);
        assert.equal(env.REGISTRY_STORAGE_S3_ACCESSKEY, "AKIA-test-id-7");
        assert.equal(env.REGISTRY_STORAGE_S3_SECRETKEY, "s3-Secret-Key-9");
        assert.ok(findResource(result, CONTAINER, "registry-registry").secretInputPaths.includes("envs"), "the keys are secret in state");
        assert.ok(!findResource(result, CONTAINER, "registry-registry").secretInputPaths.includes("uploads"), "config.yml stays readable");
        assert.equal(
            result.resources.some((r) => r.type === VOLUME && r.name === "registry-registry-data"),
            false,
            "no data volume",
        );
        assert.deepEqual(
            registry.volumes,
            [
                { volumeName: "private-registry-registry-socket", containerPath: "/run/registry" },
                { volumeName: "private-registry-registry-secrets", containerPath: "/auth", readOnly: true },
            ],
            "the socket and the secrets, no data",
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
        assert.match(upload(registry, "/etc/distribution/gc-supervisor.sh"), /^RETENTION_DIR='\/run\/retention'$/m);
        assertSecretsStayHidden(result);

        const without = await evaluateProgram({ config: { ...devStackConfig(), retention: [{ repositories: "**", keepLast: 1 }] } });
        assert.match(without.error ?? "", /private-registry:retention needs private-registry:gc/);
        assert.match(without.error ?? "", /private-registry:retention needs private-registry:deleteEnabled true/);
    });

    it("notifications: endpoints readable in config.yml, each one's headers only in a secret environment variable; plain headers stop the preview", async () => {
        const notifications = [
            { url: "http://deployer.lan:8080/events", headers: { Authorization: "Bearer hook-Token-7" } },
            { url: "https://audit.lan/hook", events: ["push", "delete", "pull"] },
        ];
        const result = await evaluateProgram({ config: { ...devStackConfig(), notifications }, secretKeys: ["notifications"] });
        assert.equal(result.error, undefined);
        const registry = inputsOf(result, CONTAINER, "registry-registry");
        const configYaml = upload(registry, "/etc/distribution/config.yml");
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
        assert.equal(envOf(registry).REGISTRY_NOTIFICATIONS_ENDPOINTS_0_HEADERS, '{"Authorization":["Bearer hook-Token-7"]}');
        assert.equal(envOf(registry).REGISTRY_NOTIFICATIONS_ENDPOINTS_1_HEADERS, undefined);
        assert.ok(findResource(result, CONTAINER, "registry-registry").secretInputPaths.includes("envs"));
        assert.ok(!findResource(result, CONTAINER, "registry-registry").secretInputPaths.includes("uploads"), "config.yml stays readable");
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
