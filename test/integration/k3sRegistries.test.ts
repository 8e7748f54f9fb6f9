/**
 * The node script's registries.yaml, read back by k3s's own loader and types (wharfie v0.7.1,
 * test/go/k3sregistries): on scratch roots holding a realistic existing file (a Docker Hub mirror
 * with auth and a rewrite rule), a stale entry of ours, and nothing; then a second run.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "fs";
import { join } from "path";
import { renderK3sSnippet, renderNodeSetup } from "../../components/render/snippets/clientSnippets";
import { k3sRegistriesCheck } from "../go/builds";
import { makeTempDir, run, runCleanups } from "../../scripts/lib/processes";

const ENDPOINT = "registry.lan:8443";
const CA = "-----BEGIN CERTIFICATE-----\nMIIBk3s\n-----END CERTIFICATE-----\n";
const creds = { endpoint: ENDPOINT, caCertificate: CA, username: "puller", password: "Zr4nd0m-n0t-s0-w0rd" };
const REGISTRIES = "etc/rancher/k3s/registries.yaml";
const FIXTURES = join(__dirname, "../unit/fixtures");
const OTHER_HOSTS = ["docker.io", "registry.k8s.io", "mirror.office.lan:5000", "old.registry.lan"];

interface Auth {
    username: string;
    password: string;
}
interface Resolved {
    mirrorKey?: string;
    endpoints: string[];
    rewrites?: Record<string, string>;
    configKey?: string;
    auth?: Auth;
    tls?: { ca_file: string };
}
interface K3sView {
    registry: { mirrors: Record<string, unknown> | null; configs: Record<string, unknown> | null };
    resolved: Record<string, Resolved>;
}

describe("registries.yaml as k3s reads it (wharfie)", () => {
    let check: string;
    let work: string;
    before(
        async () => {
            check = await k3sRegistriesCheck();
            work = makeTempDir("pr-k3s-");
        },
        { timeout: 35 * 60_000 },
    );
    after(runCleanups);

    const k3sView = async (file: string): Promise<K3sView> =>
        JSON.parse((await run(check, [file, ENDPOINT, ...OTHER_HOSTS])).stdout) as K3sView;

    /** A scratch root, optionally holding a registries.yaml, with the node script run into it under busybox sh. */
    async function setUpNode(name: string, existing?: string): Promise<string> {
        const root = join(work, name);
        mkdirSync(join(root, "etc/rancher/k3s"), { recursive: true });
        if (existing !== undefined) writeFileSync(join(root, REGISTRIES), existing);
        writeFileSync(join(work, `${name}.sh`), renderNodeSetup(creds));
        await run("busybox", ["sh", join(work, `${name}.sh`)], { env: { ...process.env, ROOT: root } });
        return root;
    }

    function assertOurs(view: K3sView, root: string): void {
        const ours = view.resolved[ENDPOINT];
        assert.equal(ours.mirrorKey, ENDPOINT);
        assert.deepEqual(ours.endpoints, [`https://${ENDPOINT}`]);
        assert.equal(ours.configKey, ENDPOINT);
        assert.deepEqual(
            { username: ours.auth?.username, password: ours.auth?.password },
            { username: creds.username, password: creds.password },
        );
        assert.equal(ours.tls?.ca_file, `/etc/rancher/k3s/certs.d/${ENDPOINT}/ca.crt`);
        assert.equal(readFileSync(join(root, ours.tls!.ca_file), "utf8"), CA);
    }

    for (const fixture of ["registries-existing.yaml", "registries-stale.yaml"]) {
        it(`${fixture}: our mirror and config resolve as k3s resolves them; every other entry means what it meant`, async () => {
            const original = readFileSync(join(FIXTURES, fixture), "utf8");
            writeFileSync(join(work, fixture), original);
            const before = await k3sView(join(work, fixture));
            const root = await setUpNode(fixture.replace(".yaml", ""), original);
            const merged = await k3sView(join(root, REGISTRIES));
            assertOurs(merged, root);
            for (const host of OTHER_HOSTS) assert.deepEqual(merged.resolved[host], before.resolved[host], host);
            const others = (map: Record<string, unknown> | null) =>
                Object.fromEntries(Object.entries(map ?? {}).filter(([key]) => key !== ENDPOINT));
            assert.deepEqual(others(merged.registry.mirrors), others(before.registry.mirrors));
            assert.deepEqual(others(merged.registry.configs), others(before.registry.configs));
            if (fixture === "registries-existing.yaml") {
                // The realistic file's own meaning, as k3s reads it: the rewrite rule and the robot account.
                assert.deepEqual(merged.resolved["docker.io"].rewrites, { "^rancher/(.*)": "mirrorproject/rancher-images/$1" });
                assert.equal(merged.resolved["mirror.office.lan:5000"].auth?.password, "it's: #not-a-comment");
            }
        });
    }

    it("empty root: the file holds our registry only; a second run changes nothing", async () => {
        const root = await setUpNode("empty");
        const view = await k3sView(join(root, REGISTRIES));
        assertOurs(view, root);
        assert.deepEqual(Object.keys(view.registry.mirrors ?? {}), [ENDPOINT]);
        assert.deepEqual(Object.keys(view.registry.configs ?? {}), [ENDPOINT]);
        const first = readFileSync(join(root, REGISTRIES), "utf8");
        const mtime = statSync(join(root, REGISTRIES)).mtimeMs;
        await run("busybox", ["sh", join(work, "empty.sh")], { env: { ...process.env, ROOT: root } });
        assert.equal(readFileSync(join(root, REGISTRIES), "utf8"), first);
        assert.equal(statSync(join(root, REGISTRIES)).mtimeMs, mtime);
        assert.deepEqual(await k3sView(join(root, REGISTRIES)), view);
    });

    it("on the node itself, the k3s snippet restarts k3s when it changed registries.yaml, and not on a second run", async () => {
        // /etc is an empty tmpfs in a private mount namespace; systemctl is a stub that logs.
        const stubs = join(work, "stubs");
        mkdirSync(stubs);
        writeFileSync(join(stubs, "systemctl"), `#!/bin/sh\necho "systemctl $*" >>${join(work, "systemctl.log")}\n`, { mode: 0o755 });
        // Debian's awk is a link through /etc/alternatives, which the empty /etc hides.
        symlinkSync("/usr/bin/mawk", join(stubs, "awk"));
        writeFileSync(join(work, "k3s-only.sh"), renderK3sSnippet(creds).script);
        const script = `mount -t tmpfs none /etc && for run in 1 2; do sh ${join(work, "k3s-only.sh")}; echo "run $run" >>${join(work, "systemctl.log")}; done`;
        await run("unshare", ["--mount", "--propagation", "private", "sh", "-c", script], {
            env: { ...process.env, PATH: `${stubs}:/usr/bin:/bin` },
        });
        assert.equal(readFileSync(join(work, "systemctl.log"), "utf8"), "systemctl restart k3s\nrun 1\nrun 2\n");
    });
});
