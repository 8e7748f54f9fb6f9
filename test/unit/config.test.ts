import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readFileSync } from "fs";
import { join } from "path";
import { parse as parseYaml } from "yaml";
import { ConfigError, parseStackConfig } from "../../components/config/parse";
import type { StackConfig } from "../../components/config/types";
import { isCidr, isIpAddress, isPinnedImageReference } from "../../components/config/syntax";
import { CONFIG_KEYS, DEFAULT_IMAGES, keyName } from "../../components/config/keys";
import { Declaration, Declarations, Reader } from "../../components/config/reader";
import { readGeneratedFiles, regenerated } from "../../scripts/docs-config";
import { distributionMajor } from "../../components/config/distribution";
import { isGcSchedule, parseGcSchedule } from "../../components/config/gcSchedule";

/** Pulumi.yaml's declared keys, each as the string Pulumi hands the program for its default. */
function declaredDefaults(): Record<string, string | undefined> {
    const project = parseYaml(readFileSync(join(__dirname, "../../Pulumi.yaml"), "utf8")) as {
        config: Record<string, { default?: unknown }>;
    };
    return Object.fromEntries(
        Object.entries(project.config).map(([key, spec]) => [
            key.replace(/^private-registry:/, ""),
            spec.default === undefined ? undefined : typeof spec.default === "string" ? spec.default : JSON.stringify(spec.default),
        ]),
    );
}

/** Parses and returns the problems, failing the test if the config was accepted. */
function problems(raw: Record<string, string>): string[] {
    try {
        parseStackConfig(raw);
    } catch (error) {
        assert.ok(error instanceof ConfigError, String(error));
        return error.problems;
    }
    assert.fail(`config was accepted: ${JSON.stringify(raw)}`);
}

/** Parses a stack that must be in `mode`, typed as that mode's settings. */
function parsedIn<M extends StackConfig["mode"]>(mode: M, raw: Record<string, string>): Extract<StackConfig, { mode: M }> {
    const config = parseStackConfig(raw);
    assert.equal(config.mode, mode);
    return config as Extract<StackConfig, { mode: M }>;
}

function assertRejected(raw: Record<string, string>, expected: RegExp): void {
    const found = problems(raw);
    assert.ok(
        found.some((p) => expected.test(p)),
        `no problem matched ${expected}; got:\n${found.join("\n")}`,
    );
}

describe("stack config", () => {
    it("applies defaults for local mode", () => {
        const config = parseStackConfig({});
        assert.equal(config.mode, "local");
        assert.deepEqual(config.hostnames, ["localhost"]);
        assert.equal(config.httpsPort, 443);
        assert.equal(config.httpPort, 80);
        assert.deepEqual(config.users, [
            { name: "admin", role: "push" },
            { name: "node", role: "pull" },
        ]);
        assert.equal(config.retainDataOnDestroy, true);
        assert.equal(config.deleteEnabled, false);
        assert.equal(config.containerNetwork, "bridge");
        assert.equal(config.listenIpv6, false);
    });

    it("listens on IPv6 when asked, or when an ipAddresses entry is IPv6", () => {
        assert.equal(parseStackConfig({ listenIpv6: "true" }).listenIpv6, true);
        assert.equal(parseStackConfig({ ipAddresses: '["192.168.1.10"]' }).listenIpv6, false);
        assert.equal(parseStackConfig({ ipAddresses: '["192.168.1.10","fd00::10"]' }).listenIpv6, true);
        assertRejected({ listenIpv6: "yes" }, /^private-registry:listenIpv6 must be true or false; got "yes"$/);
    });

    it("reads lists stored as JSON text, as Pulumi stores YAML lists", () => {
        const config = parseStackConfig({
            hostnames: '["registry.lan","reg.example.com"]',
            ipAddresses: '["192.168.1.10","fd00::10"]',
            users: '["ci","alice"]',
            httpsPort: "8443",
        });
        assert.deepEqual(config.hostnames, ["registry.lan", "reg.example.com"]);
        assert.deepEqual(config.ipAddresses, ["192.168.1.10", "fd00::10"]);
        assert.deepEqual(config.users, [
            { name: "ci", role: "push" },
            { name: "alice", role: "push" },
        ]);
        assert.equal(config.httpsPort, 8443);
    });

    it("rejects an unknown mode, naming the key and the choices", () => {
        assertRejected({ mode: "aws" }, /private-registry:mode must be one of "local", "ssh", "alicloud"; got "aws"/);
    });

    it("rejects a bad hostname", () => {
        assertRejected({ hostnames: '["Registry_1.lan"]' }, /private-registry:hostnames must be a list of DNS names/);
        assertRejected({ hostnames: "registry.lan" }, /private-registry:hostnames must be a list/);
    });

    it("rejects a bad IP address", () => {
        assertRejected({ ipAddresses: '["192.168.1.300"]' }, /private-registry:ipAddresses must be a list of IPv4\/IPv6 addresses/);
        assertRejected({ ipAddresses: '["fd00:::1"]' }, /private-registry:ipAddresses/);
        // Refused by name, not by a crash: the check for repeated entries used to parse it as a URL.
        assert.deepEqual(problems({ ipAddresses: '["fe80::1%eth0"]' }), [
            'private-registry:ipAddresses entry "fe80::1%eth0" has a zone (%...), which a certificate cannot name',
        ]);
    });

    it("rejects ports out of range or not integers", () => {
        assertRejected({ httpsPort: "70000" }, /private-registry:httpsPort must be an integer port 1-65535; got "70000"/);
        assertRejected({ httpPort: "8o" }, /private-registry:httpPort must be an integer port 1-65535/);
        assertRejected({ httpsPort: "8080", httpPort: "8080" }, /httpsPort and private-registry:httpPort must differ/);
    });

    it("rejects colliding loopback ports on the host network", () => {
        assertRejected({ containerNetwork: "host", uiPort: "8443", httpsPort: "8443" }, /uiPort \(8443\) collides/);
    });

    it("refuses registryPort, which earlier versions read, saying why it is gone", () => {
        assertRejected(
            { registryPort: "5000" },
            /^private-registry:registryPort is no longer used: the registry has no TCP port, only a Unix socket the edge alone reaches/,
        );
    });

    it("rejects bad usernames and repeated ones", () => {
        assertRejected(
            { users: '["ad:min"]' },
            /private-registry:users must be a list of users, each a name \(a push user\) or \{name, role: push \| pull\}; names 1-64 of a-z A-Z 0-9 \. _ -/,
        );
        assertRejected({ users: '["-x"]' }, /private-registry:users/);
        assertRejected({ users: '["ci","ci"]' }, /private-registry:users must not repeat an entry; "ci" is listed twice/);
        assertRejected({ users: "[]" }, /must name at least one user/);
    });

    it("rejects a bad container network and name prefix", () => {
        assertRejected({ containerNetwork: "overlay" }, /private-registry:containerNetwork must be one of "bridge", "host"/);
        assertRejected({ namePrefix: "My Registry" }, /private-registry:namePrefix must be 2-40 of a-z 0-9 -/);
    });

    it("rejects a renewal window not shorter than the validity", () => {
        assertRejected(
            { certificateValidityDays: "30", certificateRenewBeforeDays: "30" },
            /certificateRenewBeforeDays must be an integer number of days, smaller than certificateValidityDays/,
        );
    });

    it("rejects non-boolean switches", () => {
        assertRejected({ deleteEnabled: "yes" }, /private-registry:deleteEnabled must be true or false; got "yes"/);
    });

    it("names an unknown key and suggests the near one", () => {
        assertRejected({ hostname: '["a.lan"]' }, /private-registry:hostname is not a known key \(did you mean hostnames\?\)/);
    });

    it("reports every problem at once", () => {
        assert.equal(problems({ mode: "x", httpsPort: "0", users: '["a b"]' }).length, 3);
    });

    it("requires an ssh object in ssh mode", () => {
        assertRejected({ mode: "ssh" }, /private-registry:ssh is required: an object \{host, port\?, user\?, hostKey\?\}/);
        assertRejected({ mode: "ssh", ssh: '{"host":"bad host"}' }, /private-registry:ssh.host must be a DNS name or IP address/);
        const config = parsedIn("ssh", { mode: "ssh", hostnames: '["registry.lan"]', ssh: '{"host":"192.168.1.5","user":"debian"}' });
        assert.deepEqual(config.ssh, { host: "192.168.1.5", port: 22, user: "debian" });
    });

    it("reads an ssh host key to pin, and rejects one that is not a public key line", () => {
        const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGQVrdeYJUgYAbqMyIi0G1UI3VsUxxpeSFf/wLbW0gof";
        const config = parsedIn("ssh", {
            mode: "ssh",
            hostnames: '["registry.lan"]',
            ssh: JSON.stringify({ host: "192.168.1.5", hostKey: `${key}\n` }),
        });
        assert.deepEqual(config.ssh, { host: "192.168.1.5", port: 22, user: "root", hostKey: key });
        assertRejected(
            { mode: "ssh", hostnames: '["registry.lan"]', ssh: JSON.stringify({ host: "192.168.1.5", hostKey: `192.168.1.5 ${key}` }) },
            /private-registry:ssh.hostKey must be a public key such as "ssh-ed25519 AAAA..."/,
        );
        assertRejected(
            { mode: "ssh", hostnames: '["registry.lan"]', ssh: JSON.stringify({ host: "192.168.1.5", hostKey: "SHA256:8f2c4b" }) },
            /private-registry:ssh.hostKey must be/,
        );
    });

    it("names a nested key with its full path and the form it expects", () => {
        const ssh = { mode: "ssh", hostnames: '["registry.lan"]' };
        assertRejected(
            { ...ssh, ssh: '{"host":"192.168.1.5","port":0}' },
            /^private-registry:ssh\.port must be an integer port 1-65535; got "0"$/,
        );
        assertRejected(
            { ...ssh, ssh: '{"host":"192.168.1.5","prot":2222}' },
            /^private-registry:ssh\.prot is not a known key \(did you mean port\?\)$/,
        );
        const acme = { mode: "ssh", hostnames: '["registry.example.com"]', ssh: '{"host":"registry.example.com"}' };
        assertRejected(
            { ...acme, acme: '{"email":"ops@example.com","server":"prod"}' },
            /^private-registry:acme\.server must be "staging", "production" or an ACME directory URL starting with https:\/\/; got "prod"$/,
        );
        assert.equal(parseStackConfig({ ...acme, acme: '{"email":"ops@example.com","server":"production"}' }).acme?.server, "production");
    });

    it("keeps the ACME renewal window inside a Let's Encrypt certificate's life and a weekly job's reach", () => {
        const base = {
            mode: "ssh",
            hostnames: '["registry.example.com"]',
            ssh: '{"host":"registry.example.com"}',
            acme: '{"email":"ops@example.com"}',
        };
        assert.equal(parseStackConfig(base).certificateRenewBeforeDays, 30);
        assert.equal(parseStackConfig({ ...base, certificateRenewBeforeDays: "7" }).certificateRenewBeforeDays, 7);
        assertRejected(
            { ...base, certificateRenewBeforeDays: "45" },
            /private-registry:certificateRenewBeforeDays must be 7-30 with acme .*; got 45/,
        );
        assertRejected(
            { ...base, certificateRenewBeforeDays: "3" },
            /private-registry:certificateRenewBeforeDays must be 7-30 with acme .*; got 3/,
        );
        // Without ACME the self-signed certificate's own window applies.
        assert.equal(parseStackConfig({ certificateRenewBeforeDays: "60" }).certificateRenewBeforeDays, 60);
    });

    it("requires alicloud settings: admin CIDR, zone, names under the zone, ACME email", () => {
        const base = { mode: "alicloud", hostnames: '["registry.example.com"]', acme: '{"email":"ops@example.com"}' };
        assertRejected(
            { ...base, alicloud: '{"region":"cn-hongkong","dnsZone":"example.com"}' },
            /private-registry:alicloud.adminCidr is required/,
        );
        assertRejected(
            { ...base, alicloud: '{"region":"cn-hongkong","dnsZone":"example.com","adminCidr":"203.0.113.7"}' },
            /alicloud.adminCidr must be an IPv4 CIDR such as 203\.0\.113\.7\/32, /,
        );
        assertRejected(
            { ...base, alicloud: '{"region":"cn-hongkong","dnsZone":"example.com","adminCidr":"0.0.0.0/0"}' },
            /must not open SSH to the whole internet/,
        );
        assertRejected(
            { ...base, alicloud: '{"region":"cn-hongkong","dnsZone":"example.org","adminCidr":"203.0.113.7/32"}' },
            /"registry.example.com" is not under private-registry:alicloud.dnsZone "example.org"/,
        );
        assertRejected(
            {
                ...base,
                acme: '{"server":"production"}',
                alicloud: '{"region":"cn-hongkong","dnsZone":"example.com","adminCidr":"203.0.113.7/32"}',
            },
            /private-registry:acme.email is required/,
        );
        assertRejected(
            {
                mode: "alicloud",
                hostnames: '["registry.example.com"]',
                alicloud: '{"region":"cn-hongkong","dnsZone":"example.com","adminCidr":"203.0.113.7/32"}',
            },
            /private-registry:acme is required/,
        );
        assertRejected(
            {
                ...base,
                acme: '{"email":"nope"}',
                alicloud: '{"region":"cn-hongkong","dnsZone":"example.com","adminCidr":"203.0.113.7/32"}',
            },
            /acme.email must be an email address/,
        );
    });

    it("keeps ACME away from IP addresses and the default localhost, not from local mode (DNS-01 needs no open port)", () => {
        assertRejected({ acme: '{"email":"ops@example.com"}' }, /private-registry:hostnames is required with acme/);
        assertRejected(
            {
                mode: "ssh",
                ssh: '{"host":"h.example.com"}',
                hostnames: '["h.example.com"]',
                ipAddresses: '["192.168.1.2"]',
                acme: '{"email":"ops@example.com"}',
            },
            /ipAddresses must be empty with acme/,
        );
        const lan = parseStackConfig({
            hostnames: '["registry.lan.example.com"]',
            acme: '{"email":"ops@example.com","dnsProvider":"cloudflare"}',
        });
        assert.equal(lan.mode, "local");
        assert.deepEqual(lan.acme, {
            email: "ops@example.com",
            server: "staging",
            dnsProvider: "cloudflare",
            recursiveNameservers: [],
            disableCompletePropagation: false,
        });
    });

    it("takes the ACME server by name or https URL, any lego DNS provider, and resolvers for the propagation check", () => {
        const base = { hostnames: '["registry.example.com"]' };
        const acmeWith = (fields: Record<string, unknown>) => ({ ...base, acme: JSON.stringify({ email: "ops@example.com", ...fields }) });
        assert.equal(parseStackConfig(acmeWith({})).acme?.dnsProvider, "alidns", "Alidns by default, as in alicloud mode");
        const pebble = parseStackConfig(
            acmeWith({
                server: "https://localhost:14000/dir",
                dnsProvider: "exec",
                recursiveNameservers: ["127.0.0.1:8053", "[::1]:8053", "ns1.example.net", "fd00::53"],
                disableCompletePropagation: true,
            }),
        ).acme;
        assert.deepEqual(pebble, {
            email: "ops@example.com",
            server: "https://localhost:14000/dir",
            dnsProvider: "exec",
            recursiveNameservers: ["127.0.0.1:8053", "[::1]:8053", "ns1.example.net", "fd00::53"],
            disableCompletePropagation: true,
        });
        for (const provider of ["tencentcloud", "route53", "rfc2136", "acme-dns", "yandex360"])
            assert.equal(parseStackConfig(acmeWith({ dnsProvider: provider })).acme?.dnsProvider, provider);

        for (const server of [
            "http://localhost:14000/dir",
            "ftp://ca.example.com/",
            "https://user:pw@ca.example.com/dir",
            "letsencrypt",
            "https://",
        ]) {
            assertRejected(
                acmeWith({ server }),
                /private-registry:acme.server must be "staging", "production" or an ACME directory URL starting with https:\/\/; got/,
            );
        }
        for (const dnsProvider of ["Cloudflare", "manual", "ali dns", "-exec"]) {
            assertRejected(acmeWith({ dnsProvider }), /private-registry:acme.dnsProvider must be a lego DNS provider name/);
        }
        for (const recursiveNameservers of [["127.0.0.1:99999"], ["[::1"], ["ns1.example.net:dns"], "127.0.0.1:53"]) {
            assertRejected(
                acmeWith({ recursiveNameservers }),
                /private-registry:acme.recursiveNameservers must be a list of resolvers, host or host:port/,
            );
        }
        assertRejected(
            acmeWith({ disableCompletePropagation: "yes" }),
            /private-registry:acme.disableCompletePropagation must be true or false; got "yes"/,
        );
    });

    it("Pulumi.yaml gives every declared key a default, else Pulumi would demand it in every stack", () => {
        const defaults = declaredDefaults();
        assert.ok(Object.keys(defaults).length >= 15);
        assert.deepEqual(
            Object.entries(defaults)
                .filter(([, value]) => value === undefined)
                .map(([key]) => key),
            [],
        );
    });

    it("Pulumi.yaml's defaults mean the same as leaving the keys out, in every mode", () => {
        const defaults = declaredDefaults() as Record<string, string>;
        const stacks: Record<string, string>[] = [
            {},
            { ipAddresses: '["192.168.1.10"]' },
            { mode: "ssh", hostnames: '["registry.lan"]', ssh: '{"host":"192.168.1.5"}' },
            {
                mode: "alicloud",
                hostnames: '["registry.example.com"]',
                alicloud: '{"region":"cn-hongkong","dnsZone":"example.com","adminCidr":"203.0.113.7/32"}',
                acme: '{"email":"ops@example.com"}',
            },
        ];
        for (const stack of stacks)
            assert.deepEqual(parseStackConfig({ ...defaults, ...stack }), parseStackConfig(stack), JSON.stringify(stack));
        assert.deepEqual(parseStackConfig(defaults).hostnames, ["localhost"], "local mode still defaults to localhost");
    });

    it("declares in Pulumi.yaml the very defaults the validator applies (keys.ts)", () => {
        const declared = declaredDefaults();
        const scalars = Object.entries(CONFIG_KEYS as Declarations).filter(
            ([, d]) => d.default !== undefined && typeof d.default !== "object",
        );
        assert.ok(scalars.length >= 10);
        for (const [key, declaration] of scalars) assert.equal(declared[key], String(declaration.default), key);
        // Users are names or {name, role} objects, which no declared Pulumi type can say: undeclared.
        assert.equal(declared.users, undefined);
        // Unset lists and strings: the list means the defaults above, the string means none.
        assert.equal(declared.hostnames, "[]");
        assert.equal(declared.ipAddresses, JSON.stringify(CONFIG_KEYS.ipAddresses.default));
    });

    it("reads image references as settings, defaulting to today's pins, and names a bad one's key", () => {
        // The registry's and the mirror's with the Distribution version their tags tell.
        assert.deepEqual(parseStackConfig({}).images, {
            registry: { reference: DEFAULT_IMAGES.registry, major: 3 },
            ui: DEFAULT_IMAGES.ui,
            edge: DEFAULT_IMAGES.edge,
            mirror: { reference: DEFAULT_IMAGES.mirror, major: 3 },
            retention: DEFAULT_IMAGES.retention,
        });
        const acr = "registry.cn-hangzhou.aliyuncs.com/team/registry:2.8.3";
        const digest = `nginx:1.28.0-alpine@sha256:${"a".repeat(64)}`;
        const images = parseStackConfig({
            images: JSON.stringify({ registry: acr, edge: digest, mirror: "localhost:5000/mirror:3@sha256:" + "0".repeat(64) }),
        }).images;
        assert.deepEqual(images, {
            registry: { reference: acr, major: 2 },
            ui: DEFAULT_IMAGES.ui,
            edge: digest,
            mirror: { reference: `localhost:5000/mirror:3@sha256:${"0".repeat(64)}`, major: 3 },
            retention: DEFAULT_IMAGES.retention,
        });
        for (const ok of Object.values(DEFAULT_IMAGES)) assert.ok(isPinnedImageReference(ok), ok);
        for (const bad of ["nginx", "Nginx:1", "nginx:", "registry:2.8.3@sha256:abc", "a//b:1", "-x/y:1", "x:1 y", "x:.1"]) {
            assert.ok(!isPinnedImageReference(bad), bad);
        }
        assertRejected(
            { images: '{"ui":"joxit/docker-registry-ui"}' },
            /^private-registry:images\.ui must be a pinned Docker image reference, NAME:TAG or .*; got "joxit\/docker-registry-ui"$/,
        );
        assertRejected({ images: '{"registy":"registry:2"}' }, /images\.registy is not a known key \(did you mean registry\?\)/);
    });

    it("tells the registry's and the mirror's Distribution version from the tag, and names the key when it cannot", () => {
        assert.equal(distributionMajor(DEFAULT_IMAGES.registry), 3, "Distribution 3 by default");
        assert.equal(distributionMajor(DEFAULT_IMAGES.mirror), 3);
        const majors: [string, 2 | 3 | undefined][] = [
            ["registry:3.1.1", 3],
            ["registry:3", 3],
            ["registry:3.1", 3],
            ["registry:v3.1.2", 3],
            ["registry:3.1.1-alpine", 3],
            [`acr.example.com:5000/team/registry:3.1.1@sha256:${"1".repeat(64)}`, 3],
            ["registry:2.8.3", 2],
            ["registry:2.8", 2],
            ["registry:2", 2],
            ["localhost:5000/registry:2.8.3", 2],
            ["registry:2.7.1", undefined],
            ["registry:latest", undefined],
            ["registry:4.0.0", undefined],
            ["localhost:5000/registry", undefined],
            [`registry@sha256:${"1".repeat(64)}`, undefined],
            ["my/registry:prod", undefined],
        ];
        for (const [image, major] of majors) assert.equal(distributionMajor(image), major, image);
        assert.deepEqual(
            parseStackConfig({ images: '{"registry":"registry:2.8.3","mirror":"registry:2.8.3"}' }).images.registry,
            { reference: "registry:2.8.3", major: 2 },
            "2.8 stays selectable",
        );
        const form =
            /tag that starts with the Distribution version, 2\.8 or 3 \(e\.g\. registry:3\.1\.1, registry:2\.8\.3, or NAME:3\.1\.1@sha256:DIGEST for a digest pin\), so the stack knows which config\.yml to render/;
        assertRejected(
            { images: '{"registry":"registry:latest"}' },
            new RegExp(`^private-registry:images\\.registry must be a ${form.source}; got "registry:latest"$`),
        );
        assertRejected(
            { images: `{"registry":"acr.example.com/registry@sha256:${"2".repeat(64)}"}` },
            /^private-registry:images\.registry must be a tag that starts/,
        );
        assertRejected(
            { images: '{"mirror":"registry:2.7.1"}' },
            /^private-registry:images\.mirror must be a tag that starts with the Distribution version/,
        );
    });

    it("reads gc: a cron or @every schedule in UTC, deleteUntagged only with Distribution 3", () => {
        assert.equal(parseStackConfig({}).gc, undefined, "no schedule unless asked for");
        // The schedule parsed once, here: what the supervisor checks.
        assert.deepEqual(parseStackConfig({ gc: '{"schedule":"30 3 * * 0"}' }).gc, {
            schedule: { kind: "cron", fields: ["30", "3", "*", "*", "0"] },
            deleteUntagged: false,
        });
        assert.deepEqual(parseStackConfig({ gc: '{"schedule":"@every 12h","deleteUntagged":true}' }).gc, {
            schedule: { kind: "every", seconds: 43200 },
            deleteUntagged: true,
        });
        for (const ok of ["@daily", "@weekly", "@hourly", "*/15 * * * *", "0 2-4 1,15 * 1-5", "0 0 * * 7", "@every 10s", "@every 90m"]) {
            assert.ok(isGcSchedule(ok), ok);
        }
        for (const bad of [
            "",
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "5-1 * * * *",
            "*/0 * * * *",
            "@every 5s",
            "@every 1d",
            "@monthly",
            "daily",
            "0 3 * * sun",
        ]) {
            assert.ok(!isGcSchedule(bad), bad);
        }
        assert.deepEqual(parseGcSchedule("@every 2m"), { kind: "every", seconds: 120 });
        assert.deepEqual(parseGcSchedule("@daily"), { kind: "cron", fields: ["0", "0", "*", "*", "*"] });
        const form =
            'a 5-field cron expression in UTC ("MIN HOUR DAY MONTH WEEKDAY", e.g. "30 3 * * 0": Sundays 03:30), "@hourly", "@daily", "@weekly", or "@every DURATION" (e.g. "@every 12h"; s, m or h, at least 10s)';
        assert.ok(problems({ gc: '{"schedule":"every day"}' }).includes(`private-registry:gc.schedule must be ${form}; got "every day"`));
        assertRejected({ gc: '{"deleteUntagged":true}' }, /^private-registry:gc\.schedule is required: a 5-field cron expression/);
        assertRejected(
            { gc: '{"schedule":"@daily","deleteUntagged":"yes"}' },
            /^private-registry:gc\.deleteUntagged must be true or false; got "yes"$/,
        );
        assertRejected(
            { gc: '{"schedule":"@daily","delete":true}' },
            /^private-registry:gc\.delete is not a known key \(did you mean deleteUntagged\?\)$/,
        );
        assertRejected({ gc: '"@daily"' }, /^private-registry:gc must be an object \{schedule, deleteUntagged\?\}; got "@daily"$/);
        assertRejected(
            { gc: '{"schedule":"@daily","deleteUntagged":true}', images: '{"registry":"registry:2.8.3"}' },
            /^private-registry:gc\.deleteUntagged needs Distribution 3 \(private-registry:images\.registry "registry:2\.8\.3" is 2\.x, whose --delete-untagged deletes the platform manifests of every multi-arch image: distribution issues 3004, 3178\); use a registry:3 image or leave it false$/,
        );
        assert.deepEqual(
            parseStackConfig({ gc: '{"schedule":"@daily","deleteUntagged":false}', images: '{"registry":"registry:2.8.3"}' }).gc,
            { schedule: { kind: "cron", fields: ["0", "0", "*", "*", "*"] }, deleteUntagged: false },
            "2.8 collects, without --delete-untagged",
        );
    });

    it("takes host registry mirrors in ssh and alicloud modes only, as https URLs", () => {
        const ssh = { mode: "ssh", ssh: '{"host":"192.168.1.5"}', hostnames: '["registry.lan"]' };
        assert.deepEqual(parseStackConfig({ ...ssh, hostRegistryMirrors: '["https://abc123.mirror.aliyuncs.com"]' }).hostRegistryMirrors, [
            "https://abc123.mirror.aliyuncs.com",
        ]);
        assert.deepEqual(parseStackConfig(ssh).hostRegistryMirrors, []);
        assertRejected(
            { ...ssh, hostRegistryMirrors: '["http://abc.mirror.aliyuncs.com"]' },
            /hostRegistryMirrors must be a list of https:\/\/ URLs/,
        );
        assertRejected({ ...ssh, hostRegistryMirrors: '["https://u:p@abc.example.com"]' }, /hostRegistryMirrors must be/);
        assertRejected(
            { hostRegistryMirrors: '["https://abc.mirror.aliyuncs.com"]' },
            /hostRegistryMirrors applies to the daemon this stack installs/,
        );
    });

    it("reads the mirror: Docker Hub by default, its own port unless named, credentials in pairs, k3s rewrites as RE2 patterns", () => {
        assert.equal(parseStackConfig({}).mirror, undefined);
        assert.deepEqual(parseStackConfig({ mirror: "{}" }).mirror, {
            upstream: "https://registry-1.docker.io",
            username: undefined,
            hasPassword: false,
            hostname: undefined,
            httpsPort: 5443,
            k3sRewrites: {},
        });
        const named = parseStackConfig({
            hostnames: '["registry.lan"]',
            mirror: JSON.stringify({
                upstream: "https://hub.example.com:8443/",
                username: "bot",
                password: "pw",
                hostname: "mirror.lan",
                k3sRewrites: { "^rancher/mirrored-(.*)": "riscv64/mirrored-$1" },
            }),
        }).mirror;
        assert.deepEqual(named, {
            upstream: "https://hub.example.com:8443",
            username: "bot",
            hasPassword: true,
            hostname: "mirror.lan",
            httpsPort: 5443,
            k3sRewrites: { "^rancher/mirrored-(.*)": "riscv64/mirrored-$1" },
        });
        assert.ok(!JSON.stringify(named).includes("pw"), "the password never lands in the plain config");
        assertRejected({ mirror: '{"upstream":"http://hub.example.com"}' }, /mirror\.upstream must be an https:\/\/ URL/);
        assertRejected({ mirror: '{"username":"bot"}' }, /mirror\.password is required with private-registry:mirror\.username/);
        assertRejected({ mirror: '{"password":"pw"}' }, /mirror\.username is required with private-registry:mirror\.password/);
        assertRejected({ mirror: '{"httpsPort":443}' }, /mirror\.httpsPort \(443\) must differ from httpsPort and httpPort/);
        assertRejected(
            { hostnames: '["registry.lan"]', mirror: '{"hostname":"registry.lan"}' },
            /mirror\.hostname must differ from the registry's own names/,
        );
        assertRejected({ mirror: '{"k3sRewrites":{"(?=x)a":"b"}}' }, /mirror\.k3sRewrites must be an object of Go regular expression/);
        assertRejected({ mirror: '{"k3sRewrites":{"(a":"b"}}' }, /mirror\.k3sRewrites must be/);
        assertRejected({ mirror: '{"k3sRewrites":["a"]}' }, /mirror\.k3sRewrites must be/);
        assertRejected({ mirror: '{"ttl":"24h"}' }, /mirror\.ttl is not a known key/);
        assertRejected({ containerNetwork: "host", uiPort: "5001", mirror: "{}" }, /uiPort \(5001\) is the mirror's loopback port/);
        assertRejected(
            { containerNetwork: "host", mirror: '{"httpsPort":5002}' },
            /mirror\.httpsPort \(5002\) collides with a loopback port/,
        );
        assert.equal(parseStackConfig({ containerNetwork: "host", uiPort: "5001" }).uiPort, 5001, "5001 is free without a mirror");
    });

    it("checks addresses and CIDRs by their real grammar", () => {
        for (const ok of ["10.0.0.1", "::1", "fd00::10", "2001:db8::1:2", "::ffff:192.168.1.1", "1:2:3:4:5:6:7:8"])
            assert.ok(isIpAddress(ok), ok);
        for (const bad of ["10.0.0", "256.1.1.1", "1:2:3:4:5:6:7:8:9", "fd00::1::2", "registry"]) assert.ok(!isIpAddress(bad), bad);
        assert.ok(isCidr("203.0.113.0/24") && isCidr("2001:db8::/32"));
        assert.ok(!isCidr("203.0.113.0/33") && !isCidr("203.0.113.0"));
    });
});

describe("stack config: storage", () => {
    const s3 = {
        kind: "s3",
        endpoint: "http://127.0.0.1:9000/",
        region: "us-east-1",
        bucket: "images",
        accessKeyId: "AKID",
        secretAccessKey: "SECRET-KEY",
    };
    const withStorage = (storage: object, extra: Record<string, string> = {}, secret = true) =>
        parseStackConfig({ storage: JSON.stringify(storage), ...extra }, undefined, secret ? ["storage"] : []);

    it("defaults to the data volume; an S3 bucket with its settings, path style with an endpoint, redirect off", () => {
        assert.deepEqual(parseStackConfig({}).storage, { kind: "filesystem" });
        assert.deepEqual(withStorage({ kind: "filesystem" }).storage, { kind: "filesystem" });
        assert.deepEqual(withStorage(s3).storage, {
            kind: "s3",
            endpoint: "http://127.0.0.1:9000",
            region: "us-east-1",
            bucket: "images",
            forcePathStyle: true,
            redirect: false,
        });
        assert.deepEqual(
            withStorage({ ...s3, endpoint: undefined, forcePathStyle: false, redirect: true, rootDirectory: "/registry" }).storage,
            { kind: "s3", region: "us-east-1", bucket: "images", forcePathStyle: false, redirect: true, rootDirectory: "/registry" },
        );
        assert.equal(
            (withStorage({ ...s3, endpoint: undefined }).storage as { forcePathStyle: boolean }).forcePathStyle,
            false,
            "AWS itself: virtual-hosted style",
        );
        assert.equal(CONFIG_KEYS.storage.fields?.redirect.default, false);
    });

    it("refuses a secret key set in plain text, naming the key and never echoing the value", () => {
        const found = problems({ storage: JSON.stringify(s3) });
        assert.deepEqual(found, [
            "private-registry:storage.secretAccessKey must be a secret config value, not plain text in Pulumi.<stack>.yaml: pulumi config set --secret --path storage.secretAccessKey ...",
        ]);
        assert.ok(!found.join("").includes("SECRET-KEY"));
    });

    it("names each bad or missing S3 field with its form", () => {
        const rejected = (storage: object, expected: RegExp) => {
            try {
                withStorage(storage);
            } catch (error) {
                assert.ok(error instanceof ConfigError);
                assert.ok(
                    error.problems.some((p) => expected.test(p)),
                    `no problem matched ${expected}; got:\n${error.problems.join("\n")}`,
                );
                return;
            }
            assert.fail(`accepted ${JSON.stringify(storage)}`);
        };
        rejected({ kind: "s3" }, /^private-registry:storage\.region is required with kind "s3": the bucket's region/);
        rejected({ kind: "s3" }, /^private-registry:storage\.bucket is required with kind "s3"/);
        rejected({ kind: "s3" }, /^private-registry:storage\.accessKeyId is required with kind "s3"/);
        rejected({ kind: "s3" }, /^private-registry:storage\.secretAccessKey is required with kind "s3"/);
        rejected({ ...s3, endpoint: "ftp://127.0.0.1" }, /storage\.endpoint must be the S3 API's URL, http:\/\/ or https:\/\//);
        rejected({ ...s3, endpoint: "https://user:pw@s3.lan" }, /storage\.endpoint must be/);
        rejected({ ...s3, endpoint: "https://s3.lan/images" }, /storage\.endpoint must be/);
        rejected(
            { ...s3, bucket: "Images" },
            /storage\.bucket must be an existing bucket's name: 3-63 of a-z 0-9 \. -, starting and ending with a letter or digit; got "Images"/,
        );
        rejected({ ...s3, region: "US East" }, /storage\.region must be/);
        rejected({ ...s3, forcePathStyle: "yes" }, /storage\.forcePathStyle must be true or false: address the bucket .*; got "yes"/);
        rejected({ ...s3, redirect: 1 }, /storage\.redirect must be true or false: .*; got "1"/);
        rejected({ ...s3, rootDirectory: "/a/../b" }, /storage\.rootDirectory must be a key prefix/);
        rejected({ ...s3, kind: "gcs" }, /storage\.kind must be "filesystem" \(the host's data volume\), "s3"/);
        rejected({ ...s3, bukket: "x" }, /storage\.bukket is not a known key \(did you mean bucket\?\)/);
        rejected({ kind: "filesystem", bucket: "images" }, /storage\.bucket applies to kind "s3" only; with kind "filesystem"/);
    });

    it("takes kind oss in alicloud mode only, where the stack makes the bucket and its keys", () => {
        const alicloud = {
            mode: "alicloud",
            hostnames: '["registry.example.com"]',
            alicloud: '{"region":"cn-hongkong","dnsZone":"example.com","adminCidr":"203.0.113.7/32"}',
            acme: '{"email":"ops@example.com"}',
        };
        assert.deepEqual(withStorage({ kind: "oss" }, alicloud).storage, { kind: "oss" });
        assertRejected(
            { storage: '{"kind":"oss"}' },
            /^private-registry:storage\.kind "oss" applies to alicloud mode only .*mode "local" can use kind "s3"/,
        );
        assertRejected(
            { ...alicloud, storage: '{"kind":"oss","bucket":"mine"}' },
            /storage\.bucket applies to kind "s3" only; with kind "oss" the stack creates the OSS bucket/,
        );
        assert.equal(withStorage(s3, alicloud).storage.kind, "s3", "any mode may use a bucket of its own");
        assertRejected(
            { ...alicloud, storage: '{"kind":"oss"}', images: '{"registry":"registry:2.8.3"}' },
            /storage\.kind "oss" needs Distribution 3: private-registry:images\.registry "registry:2\.8\.3" is 2\.x/,
        );
    });
});

describe("stack config: retention and notifications", () => {
    const withGc = { gc: JSON.stringify({ schedule: "@daily" }), deleteEnabled: "true" };
    const retention = (policies: object[], extra: Record<string, string> = withGc) =>
        parseStackConfig({ retention: JSON.stringify(policies), ...extra });
    const notifications = (endpoints: object[], secret = false, extra: Record<string, string> = {}) =>
        parseStackConfig({ notifications: JSON.stringify(endpoints), ...extra }, undefined, secret ? ["notifications"] : []);
    const refused = (parse: () => unknown): string[] => {
        try {
            parse();
        } catch (error) {
            assert.ok(error instanceof ConfigError, String(error));
            return error.problems;
        }
        assert.fail("accepted");
    };

    it("reads retention policies in order, each with only the rules it sets; none by default", () => {
        assert.deepEqual(parseStackConfig({}).retention, []);
        assert.deepEqual(
            retention([
                { repositories: "team/*", keepLast: 3, keepTags: "v[0-9]+(\\.[0-9]+)*|latest" },
                { repositories: "**", keepWithinDays: 30 },
                { repositories: "scratch/**", keepLast: 0 },
            ]).retention,
            [
                { repositories: "team/*", keepLast: 3, keepTags: "v[0-9]+(\\.[0-9]+)*|latest" },
                { repositories: "**", keepWithinDays: 30 },
                { repositories: "scratch/**", keepLast: 0 },
            ],
        );
    });

    it("names each bad retention field by its path: a bad glob, negative counts, a pattern Go cannot compile", () => {
        assert.deepEqual(
            refused(() =>
                retention([
                    { repositories: "Team/*", keepLast: 3 },
                    { repositories: "team/***", keepLast: -1 },
                    { repositories: "team", keepWithinDays: -7 },
                    { repositories: "team", keepTags: "(?=v)" },
                    { repositories: "team" },
                    { keepLast: 1 },
                ]),
            ),
            [
                'private-registry:retention[0].repositories must be a glob over repository names: a-z 0-9 . _ - / with * and ? within a path segment and ** for any number of segments, e.g. team/* or **; got "Team/*"',
                'private-registry:retention[1].repositories must be a glob over repository names: a-z 0-9 . _ - / with * and ? within a path segment and ** for any number of segments, e.g. team/* or **; got "team/***"',
                'private-registry:retention[1].keepLast must be an integer number of tags, 0-100000: the newest, by their image\'s creation time; got "-1"',
                'private-registry:retention[2].keepWithinDays must be an integer number of days, 0-36500: tags whose image was created since; got "-7"',
                'private-registry:retention[3].keepTags must be a Go regular expression matched against the whole tag, e.g. "v[0-9]+(\\.[0-9]+)*|latest"; got "(?=v)"',
                "private-registry:retention[4].repositories needs at least one of private-registry:retention[4].keepLast, private-registry:retention[4].keepWithinDays, private-registry:retention[4].keepTags: without them every tag would be deleted (say keepLast: 0 to mean that)",
                "private-registry:retention[5].repositories is required: a glob over repository names: a-z 0-9 . _ - / with * and ? within a path segment and ** for any number of segments, e.g. team/* or **",
            ],
        );
        assert.deepEqual(
            refused(() => retention([{ repositories: "team", kepLast: 1 }])),
            [
                "private-registry:retention[0].kepLast is not a known key (did you mean keepLast?)",
                "private-registry:retention[0].repositories needs at least one of private-registry:retention[0].keepLast, private-registry:retention[0].keepWithinDays, private-registry:retention[0].keepTags: without them every tag would be deleted (say keepLast: 0 to mean that)",
            ],
        );
        assertRejected(
            { retention: '{"repositories": "team"}', ...withGc },
            /^private-registry:retention must be a list of \{repositories/,
        );
    });

    it("runs retention only with gc (its schedule, and the space back) and deleteEnabled (it deletes through the API)", () => {
        const policy = [{ repositories: "**", keepLast: 5 }];
        assert.deepEqual(
            refused(() => retention(policy, {})),
            [
                'private-registry:retention needs private-registry:gc: it runs right before each collection, on gc.schedule, and only a collection gives the deleted images\' space back; set gc, e.g. {"schedule": "@daily"}',
                "private-registry:retention needs private-registry:deleteEnabled true: it deletes tags through the registry's API, which refuses deletes otherwise",
            ],
        );
        assert.equal(retention(policy).gc?.schedule.kind, "cron");
    });

    it("reads webhooks: push and delete by default, pull when asked; header names only, their values never", () => {
        assert.deepEqual(parseStackConfig({}).notifications, []);
        const config = notifications(
            [
                { url: "http://deployer.lan:8080/registry-events" },
                {
                    url: "https://audit.example.com/hook",
                    events: ["push", "delete", "pull"],
                    headers: { Authorization: "Bearer SECRET-TOKEN" },
                },
            ],
            true,
        );
        assert.deepEqual(config.notifications, [
            { url: "http://deployer.lan:8080/registry-events", events: ["push", "delete"], headerNames: [] },
            { url: "https://audit.example.com/hook", events: ["push", "delete", "pull"], headerNames: ["Authorization"] },
        ]);
        assert.ok(!JSON.stringify(config).includes("SECRET-TOKEN"), "no plain copy of a header's value in the settings");
    });

    it("names each bad webhook field: a URL that is not http(s), a header value set without --secret, unknown events", () => {
        assert.deepEqual(
            refused(() =>
                notifications([
                    { url: "ftp://deployer.lan/events" },
                    { url: "https://user:pw@deployer.lan/events" },
                    { url: "https://deployer.lan/events", headers: { Authorization: "Bearer SECRET-TOKEN" } },
                    { url: "https://deployer.lan/events", events: ["push", "tag"] },
                    { url: "https://deployer.lan/events", events: [] },
                    { headers: {} },
                ]),
            ),
            [
                'private-registry:notifications[0].url must be an http:// or https:// URL without credentials, query or fragment (secrets go in headers), e.g. http://deployer.lan:8080/registry-events; got "ftp://deployer.lan/events"',
                'private-registry:notifications[1].url must be an http:// or https:// URL without credentials, query or fragment (secrets go in headers), e.g. http://deployer.lan:8080/registry-events; got "https://user:pw@deployer.lan/events"',
                "private-registry:notifications[2].headers must be a secret config value, not plain text in Pulumi.<stack>.yaml: pulumi config set --secret --path 'private-registry:notifications[2].headers.Authorization' ...",
                'private-registry:notifications[3].events must be a list of "push", "delete", "pull"; got ["push","tag"]',
                'private-registry:notifications[4].events must name at least one event: a list of "push", "delete", "pull"',
                "private-registry:notifications[5].url is required: an http:// or https:// URL without credentials, query or fragment (secrets go in headers), e.g. http://deployer.lan:8080/registry-events",
            ],
        );
        const headerProblems = refused(() =>
            notifications(
                [
                    { url: "https://a.lan/", headers: { "Bad Name": "x" } },
                    { url: "https://a.lan/", headers: { "X-Token": "line\nbreak SECRET-TOKEN" } },
                ],
                true,
            ),
        );
        assert.deepEqual(headerProblems, [
            'private-registry:notifications[0].headers has "Bad Name", which is not an HTTP header name',
            `private-registry:notifications[1].headers has a value for "X-Token" that is not 1-4096 printable characters on one line (not shown: it is a secret)`,
        ]);
        assert.ok(!headerProblems.join("").includes("SECRET-TOKEN"));
    });

    it("takes a webhook's headers with Distribution 3 only: 2.8 cannot read a list entry's headers from the environment", () => {
        const endpoints = [{ url: "https://a.lan/", headers: { Authorization: "Bearer x" } }];
        assert.deepEqual(
            refused(() => notifications(endpoints, true, { images: JSON.stringify({ registry: "registry:2.8.3" }) })),
            [
                'private-registry:notifications[0].headers needs Distribution 3: private-registry:images.registry "registry:2.8.3" is 2.x, which cannot take a webhook\'s headers from the environment, and they must stay out of config.yml; use a registry:3 image',
            ],
        );
        // Without headers 2.8 takes webhooks: they are all in config.yml.
        assert.equal(
            notifications([{ url: "https://a.lan/" }], false, { images: JSON.stringify({ registry: "registry:2.8.3" }) }).notifications
                .length,
            1,
        );
    });
});

describe("stack config: values that used to pass and deploy something broken", () => {
    const ssh = { mode: "ssh", hostnames: '["registry.lan"]' };
    const alicloud = (fields: Record<string, unknown>) => ({
        mode: "alicloud",
        hostnames: '["registry.example.com"]',
        acme: '{"email":"ops@example.com"}',
        alicloud: JSON.stringify({ region: "cn-hongkong", dnsZone: "example.com", adminCidr: "203.0.113.7/32", ...fields }),
    });

    it("refuses a uiHostname that a registry name already uses, even the implied localhost", () => {
        assertRejected(
            { hostnames: '["registry.lan"]', uiHostname: "registry.lan" },
            /^private-registry:uiHostname must differ from every registry name .*: "registry\.lan" is a private-registry:hostnames entry$/,
        );
        assertRejected(
            { uiHostname: "localhost" },
            /^private-registry:uiHostname must differ .*: "localhost" is the name local mode implies when private-registry:hostnames is unset$/,
        );
        assertRejected(
            { ipAddresses: '["192.168.1.10"]', uiHostname: "192.168.1.10" },
            /^private-registry:uiHostname "192\.168\.1\.10" is an IP address, not a DNS name: the UI needs a DNS name of its own/,
        );
        assert.equal(parseStackConfig({ hostnames: '["registry.lan"]', uiHostname: "ui.registry.lan" }).uiHostname, "ui.registry.lan");
    });

    it("refuses an IP address or an all-numeric name as a DNS name, pointing to ipAddresses", () => {
        for (const name of ["192.168.1.10", "123", "010.0.0.1", "registry.123", "::1"]) {
            assertRejected(
                { hostnames: JSON.stringify([name]) },
                new RegExp(
                    `^private-registry:hostnames entry ${JSON.stringify(name).replace(/[.]/g, "\\.")} is an IP address, not a DNS name: list it in ipAddresses`,
                ),
            );
        }
        assertRejected({ hostnames: '["registry.lan"]', uiHostname: "123" }, /^private-registry:uiHostname "123" is an IP address/);
        assert.deepEqual(
            parseStackConfig({ hostnames: '["123.example.com","1a.lan"]' }).hostnames,
            ["123.example.com", "1a.lan"],
            "digits inside a name are fine",
        );
        assertRejected(
            { hostnames: '["abc.lan:5000"]' },
            /^private-registry:hostnames entry "abc\.lan:5000" must be a bare DNS name, no scheme, port or path/,
        );
        assertRejected(
            { hostnames: '["Registry.lan"]' },
            /^private-registry:hostnames entry "Registry\.lan" must be lowercase: write registry\.lan$/,
        );
    });

    it("refuses IPv4 with leading zeros, which Go's parser (the tls provider) rejects", () => {
        assertRejected(
            { ipAddresses: '["010.0.0.1"]' },
            /^private-registry:ipAddresses entry "010\.0\.0\.1" has a leading zero, which Go's address parser .* rejects: write 10\.0\.0\.1$/,
        );
        assertRejected(
            { mode: "ssh", hostnames: '["registry.lan"]', ssh: '{"host":"192.168.001.5"}' },
            /^private-registry:ssh\.host must be a DNS name or IP address/,
        );
        assert.ok(!isIpAddress("fe80::1%eth0"), "no zone: a certificate cannot name it");
    });

    it("refuses repeated hostnames and IP addresses, however an IPv6 address is spelled", () => {
        assertRejected(
            { hostnames: '["a.lan","b.lan","a.lan"]' },
            /^private-registry:hostnames must not repeat an entry; "a\.lan" is listed twice$/,
        );
        assertRejected(
            { ipAddresses: '["fd00::10","fd00:0:0::10"]' },
            /^private-registry:ipAddresses must not repeat an entry; "fd00:0:0::10" is listed twice$/,
        );
    });

    it("takes alicloud.adminCidr only as a real IPv4 CIDR with a non-zero prefix, read as a number", () => {
        assertRejected(
            alicloud({ adminCidr: "0.0.0.0/00" }),
            /^private-registry:alicloud\.adminCidr must not open SSH to the whole internet \(prefix length 0\); got "0\.0\.0\.0\/00"$/,
        );
        assertRejected(alicloud({ adminCidr: "10.0.0.0/0" }), /adminCidr must not open SSH to the whole internet/);
        for (const bad of ["2001:db8::/32", "203.0.113.7/33", "203.0.113/24", "203.0.113.07/32", "203.0.113.7/ 32"]) {
            assertRejected(
                alicloud({ adminCidr: bad }),
                /^private-registry:alicloud\.adminCidr must be an IPv4 CIDR .*\(no open default; the security group rule takes IPv4 only\); got/,
            );
        }
        assert.equal(parsedIn("alicloud", alicloud({ adminCidr: "198.51.100.0/24" })).alicloud.adminCidr, "198.51.100.0/24");
    });

    it("checks the alicloud region's form and that the vSwitch lies inside the VPC", () => {
        assertRejected(
            alicloud({ region: "Hong Kong" }),
            /^private-registry:alicloud\.region must be an Alibaba Cloud region ID, e\.g\. "cn-hongkong" or "ap-southeast-1"; got "Hong Kong"$/,
        );
        assert.equal(parsedIn("alicloud", alicloud({ region: "ap-southeast-1" })).alicloud.region, "ap-southeast-1");
        assertRejected(
            alicloud({ vswitchCidr: "10.1.0.0/24" }),
            /^private-registry:alicloud\.vswitchCidr must lie inside private-registry:alicloud\.vpcCidr "172\.31\.0\.0\/16"; got "10\.1\.0\.0\/24"$/,
        );
        assertRejected(alicloud({ vpcCidr: "10.0.0.0/16", vswitchCidr: "10.0.0.0/8" }), /vswitchCidr must lie inside/);
        assertRejected(alicloud({ vpcCidr: "fd00::/48" }), /^private-registry:alicloud\.vpcCidr must be an IPv4 CIDR/);
        assert.equal(
            parsedIn("alicloud", alicloud({ vpcCidr: "10.0.0.0/16", vswitchCidr: "10.0.3.0/24" })).alicloud.vswitchCidr,
            "10.0.3.0/24",
        );
    });

    it("takes ssh.user only as a login name, never one ssh would read as an option", () => {
        assertRejected(
            { ...ssh, ssh: '{"host":"192.168.1.5","user":"-oProxyCommand=id"}' },
            /^private-registry:ssh\.user must be a login name: .*not starting with - or \.; got "-oProxyCommand=id"$/,
        );
        assertRejected({ ...ssh, ssh: '{"host":"192.168.1.5","user":"deb ian"}' }, /ssh\.user must be a login name/);
        assert.equal(parsedIn("ssh", { ...ssh, ssh: '{"host":"192.168.1.5","user":"ci_deploy"}' }).ssh.user, "ci_deploy");
    });

    it("takes dockerHost only as a Docker host URL, and only in local mode", () => {
        assertRejected(
            { dockerHost: "/var/run/docker.sock" },
            /^private-registry:dockerHost must be a Docker host URL, unix:\/\/ tcp:\/\/ ssh:\/\/ or npipe:\/\/.*; got "\/var\/run\/docker\.sock"$/,
        );
        assertRejected({ dockerHost: "http://127.0.0.1:2375" }, /dockerHost must be a Docker host URL/);
        for (const ok of ["unix:///run/docker.sock", "tcp://127.0.0.1:2376", "ssh://me@build.lan", "npipe:////./pipe/docker_engine"])
            assert.equal(parsedIn("local", { dockerHost: ok }).dockerHost, ok);
        assertRejected(
            { ...ssh, ssh: '{"host":"192.168.1.5"}', dockerHost: "unix:///run/docker.sock" },
            /^private-registry:dockerHost applies to local mode only/,
        );
    });

    it("needs a namePrefix of at least 2 characters (ECS names need 2)", () => {
        assertRejected(
            { namePrefix: "r" },
            /^private-registry:namePrefix must be 2-40 of a-z 0-9 -, starting with a letter \(ECS names need 2\); got "r"$/,
        );
        assert.equal(parseStackConfig({ namePrefix: "rg" }).namePrefix, "rg");
    });

    it("keeps certificateValidityDays at 825 or less, the most Apple clients accept", () => {
        assertRejected(
            { certificateValidityDays: "826" },
            /^private-registry:certificateValidityDays must be an integer number of days, 1-825 \(Apple clients refuse TLS server certificates valid longer\); got "826"$/,
        );
        assert.equal(parseStackConfig({ certificateValidityDays: "825" }).certificateValidityDays, 825);
    });
});

/** One declaration read alone, as a field or key named `key`: its value and the problems it records. */
function readAlone(declaration: Declaration, raw: unknown, key = "key"): { value: unknown; problems: string[] } {
    const reader = new Reader({ [key]: raw }, { [key]: declaration } as Declarations, { naming: (path) => path });
    return { value: reader.read(key), problems: reader.problems };
}

/** Every declaration with its path: the top-level keys, then each object key's fields. */
function everyDeclaration(): [string, Declaration][] {
    return Object.entries(CONFIG_KEYS as Declarations).flatMap(([key, declaration]): [string, Declaration][] => [
        [key, declaration],
        ...Object.entries(declaration.fields ?? {}).map(([field, d]): [string, Declaration] => [`${key}.${field}`, d]),
    ]);
}

describe("config keys, each declared once (components/config/keys.ts)", () => {
    it("README's configuration and outputs tables and Pulumi.yaml's config section are generated from the declarations (npm run docs:config)", () => {
        const files = readGeneratedFiles();
        const expected = regenerated(files);
        assert.equal(files.pulumiYaml, expected.pulumiYaml, "Pulumi.yaml's config section is stale: run npm run docs:config");
        assert.equal(files.readme, expected.readme, "README.md's tables are stale: run npm run docs:config");
    });

    it("says of every key what it must be, what it is for, and whether Pulumi.yaml declares it or why not", () => {
        for (const [key, declaration] of Object.entries(CONFIG_KEYS as Declarations)) {
            assert.ok(declaration.form.length > 10, `${key}: form`);
            assert.ok((declaration.description ?? "").length > 10, `${key}: description`);
            assert.ok(declaration.pulumi !== undefined, `${key}: Pulumi.yaml's type, or why it has none`);
        }
        for (const [path, declaration] of everyDeclaration()) assert.ok(declaration.form.length > 5, `${path}: form`);
    });

    it("reads an unset key or field as its declared default, and accepts every default it declares", () => {
        let checked = 0;
        for (const [path, declaration] of everyDeclaration()) {
            if (declaration.default === undefined) continue;
            const unset = readAlone(declaration, undefined);
            const given = readAlone(
                declaration,
                typeof declaration.default === "string" ? declaration.default : JSON.stringify(declaration.default),
            );
            assert.deepEqual(unset.problems, [], path);
            assert.deepEqual(given.problems, [], `${path}: its own default is refused`);
            assert.deepEqual(given.value, unset.value, `${path}: the default written out reads as leaving it unset`);
            if (declaration.fields === undefined) assert.deepEqual(unset.value, declaration.default, path);
            checked++;
        }
        assert.ok(checked >= 30, `${checked} defaults checked`);
        // The stack as a whole: every top-level default is the value an empty stack gets.
        const empty = parseStackConfig({}) as unknown as Record<string, unknown>;
        for (const [key, declaration] of Object.entries(CONFIG_KEYS as Declarations)) {
            if (declaration.default === undefined || declaration.shownDefault !== undefined || declaration.fields !== undefined) continue;
            assert.deepEqual(empty[key], declaration.default, key);
        }
    });

    it("accepts every integer key and field at both ends of its declared range, and refuses one past each with the form", () => {
        const integers = everyDeclaration().filter(([, d]) => d.range !== undefined);
        assert.ok(integers.length >= 10);
        for (const [path, declaration] of integers) {
            const [min, max] = declaration.range!;
            for (const ok of [min, max])
                assert.deepEqual(readAlone(declaration, String(ok), path), { value: ok, problems: [] }, `${path}: ${ok}`);
            for (const bad of [min - 1, max + 1].filter((n) => n >= 0)) {
                assert.deepEqual(
                    readAlone(declaration, String(bad), path).problems,
                    [`${path} must be ${declaration.form}; got "${bad}"`],
                    `${path}: ${bad}`,
                );
            }
            // The form tells users the range, except where a tighter bound is the one that matters.
            if (path !== "certificateRenewBeforeDays")
                assert.ok(declaration.form.includes(`${min}-${max}`), `${path}: ${declaration.form}`);
        }
    });

    it("names a key the way its users write it: the stack's namespace, or the caller's own naming", () => {
        assert.equal(keyName("ssh.port"), "private-registry:ssh.port");
        const reader = new Reader({ ssh: { host: "h.lan", port: 0 } }, CONFIG_KEYS, { naming: (path) => `args.${path}` });
        reader.read("ssh");
        assert.deepEqual(reader.problems, ['args.ssh.port must be an integer port 1-65535; got "0"']);
    });
});
