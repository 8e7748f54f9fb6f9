/**
 * What a reviewer reads in a pull request, measured with the real engine: one deployed dev stack
 * (support/engineStack.ts), then `pulumi preview --diff` of each typical change against it
 * (support/reviewPreviews.ts). docs/reviewing.md is rendered from these very runs
 * (support/reviewingDoc.ts): the test fails when the committed page is stale, and
 * `npm run docs:reviewing` runs it with UPDATE_SNAPSHOTS=1 to rewrite the page. For each: the
 * changed line of nginx.conf / config.yml / the snippet is visible, the right containers are
 * replaced for the right reason and the data volume stays, and no secret appears, even partly.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { parse as parseYaml } from "yaml";
import { base64Aligned, leakedSecrets, privateKeyComponents } from "../harness/secretLeaks";
import { run, runCleanups } from "../../scripts/lib/processes";
import { ROOT } from "./support/engineStack";
import { renderReviewingDoc, REVIEWING_DOC, SERVICE_CONTAINERS, withoutRunDetails } from "./support/reviewingDoc";
import {
    BUMPED_REGISTRY_IMAGE,
    CapturedPreview,
    captureReviewPreviews,
    PreviewStep,
    REVIEW_SCENARIOS,
    ReviewCapture,
    SECOND_HOSTNAME,
    UNKNOWN,
} from "./support/reviewPreviews";
import { DEFAULT_IMAGES } from "../../components/config/keys";

const DATA_VOLUME = "registry-registry-data";
const SERVICES = SERVICE_CONTAINERS;

/** `op name` of every step that is not `same`. */
const changes = (steps: PreviewStep[]) =>
    steps
        .filter((s) => s.op !== "same")
        .map((s) => `${s.op} ${s.name}`)
        .sort();
const replaced = (steps: PreviewStep[]) =>
    steps
        .filter((s) => s.op === "replace")
        .map((s) => s.name)
        .sort();
const reasons = (steps: PreviewStep[], name: string) => steps.find((s) => s.name === name && s.op === "replace")?.replaceReasons ?? [];

/** The block `pulumi preview --diff` prints for one resource (from its op line to the next one). */
function resourceBlock(text: string, name: string): string {
    const lines = text.split("\n");
    const urnLine = lines.findIndex((line) => line.includes(`[urn=`) && line.trimEnd().endsWith(`::${name}]`));
    assert.ok(urnLine > 0, `no block for ${name} in the preview`);
    const end = lines.findIndex(
        (line, i) => i > urnLine && /^\s{4}[-+~ ]{1,2}[a-z]+:[\w/]+:\w+: \(|^\s{4}--outputs:--|^Resources:/.test(line),
    );
    return lines.slice(urnLine - 2, end < 0 ? undefined : end).join("\n");
}

/** Where the registry's and the edge's readable files are (each in its own holder's upload). */
const REGISTRY_FILES = "/etc/private-registry/files";
const EDGE_FILES = "/etc/nginx/files";
/** A plain file's holder (components/services/serviceContainer.ts): `<service>-files-<file>`, the manifest's included. */
const PLAIN_HOLDER = /^registry-(?:registry|edge|mirror)-files-(.+)$/;
const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** A container's uploads by file, before and after (from `preview --json`). */
const uploadsOf = (steps: PreviewStep[], name: string) =>
    steps.find((s) => s.name === name)?.uploads ?? assert.fail(`no uploads of ${name} in the preview`);

/** An upload's `file` line in the text, the file against itself (no `"old" => "new"`). */
const uploadFile = (path: string) => new RegExp(`^\\s+file\\s*: "${escaped(path)}"$`, "m");

const outputsSection = (text: string) => text.slice(text.indexOf("--outputs:--"), text.indexOf("\nResources:"));

describe("reviewing: the real engine's preview --diff of typical changes", () => {
    let capture: ReviewCapture;
    let engineVersion: string;
    const preview = (id: string): CapturedPreview => capture.previews.find((p) => p.scenario.id === id) ?? assert.fail(`no preview ${id}`);
    const httpsPort = () => Object.entries(capture.placeholders).find(([, name]) => name === "<httpsPort>")![0];
    const newHttpsPort = () => Object.entries(capture.placeholders).find(([, name]) => name === "<newHttpsPort>")![0];

    before(async () => {
        const captured = await captureReviewPreviews();
        capture = captured.capture;
        engineVersion = (await run("pulumi", ["version"], { env: captured.stack.env })).stdout.trim();
    });

    after(async () => {
        await runCleanups();
    });

    it("previews every scenario, and none touches the data volume", () => {
        assert.deepEqual(
            capture.previews.map((p) => p.scenario.id),
            REVIEW_SCENARIOS.map((s) => s.id),
        );
        assert.ok(capture.deployedResources.includes(DATA_VOLUME), "the data volume is deployed");
        for (const { scenario, steps } of capture.previews) {
            assert.equal(steps.find((s) => s.name === DATA_VOLUME)?.op ?? "same", "same", `${scenario.id}: the data volume stays`);
            assert.ok(!steps.some((s) => s.op === "delete"), `${scenario.id}: nothing is deleted for good`);
            assert.ok(changes(steps).length > 0, `${scenario.id}: the change shows up at all`);
        }
    });

    it("each changed plain file shows against its old self in a holder of its own; unchanged files' holders stay out of the diff", () => {
        const deployed = capture.deployedResources.filter((name) => PLAIN_HOLDER.test(name));
        assert.ok(deployed.length >= 7, `the plain files' holders deployed: ${deployed.join(", ")}`);
        let shown = 0;
        let hidden = 0;
        for (const { scenario, steps, text } of capture.previews) {
            // `preview --json` lists no step for what stays the same.
            for (const name of deployed.filter((n) => !steps.some((s) => s.name === n && s.op !== "same"))) {
                assert.ok(!text.includes(`::${name}]`), `${scenario.id}: ${name} is unchanged, yet in the diff`);
                hidden++;
            }
            for (const step of steps.filter((s) => PLAIN_HOLDER.test(s.name) && s.op !== "same")) {
                const where = `${scenario.id}: ${step.name}`;
                assert.ok(["replace", "create"].includes(step.op), `${where}: ${step.op}`);
                const file = PLAIN_HOLDER.exec(step.name)![1];
                const { old, new: next } = uploadsOf(steps, step.name);
                assert.equal(Object.keys(next).length, 1, `${where} carries one file`);
                const path = Object.keys(next)[0];
                assert.ok(path.endsWith(`/${file}`), `${where} carries ${path}`);
                assert.deepEqual(Object.keys(old), step.op === "create" ? [] : [path], `${where}: its old upload is the same file`);
                const block = resourceBlock(text, step.name);
                assert.match(block, uploadFile(path), `${where}: the file against itself`);
                assert.doesNotMatch(block, /file\s*: "[^"]*" => /, `${where}: no file paired with another`);
                assert.ok(!/\[secret\]/.test(block), `${where}: nothing hidden`);
                shown++;
            }
        }
        assert.ok(shown >= 10, `${shown} changed plain files`);
        assert.ok(hidden >= 20, `${hidden} unchanged plain files`);
    });

    it("add a user: the edge's push users, its manifests and its secret files are replaced (a reload), the push users' new line readable", () => {
        const { steps, text } = preview("add-user");
        assert.deepEqual(replaced(steps), ["registry-edge-files-manifest", "registry-edge-files-push-users", "registry-edge-secrets"]);
        for (const name of replaced(steps)) assert.deepEqual(reasons(steps, name), ["uploads"], name);
        assert.ok(changes(steps).includes("create registry-credentials-ci"));
        const pushUsers = uploadsOf(steps, "registry-edge-files-push-users");
        assert.equal(pushUsers.old[`${EDGE_FILES}/push-users`], "admin\n");
        assert.equal(pushUsers.new[`${EDGE_FILES}/push-users`], "admin\nci\n");
        assert.match(resourceBlock(text, "registry-edge-files-push-users"), /^\s+\+ +ci$/m, "the push users' file shows ci added");
        assert.match(resourceBlock(text, "registry-edge-secrets"), /~ uploads: \[secret\] => \[secret\]/);
    });

    it("change httpsPort (host networking): nginx.conf's holder is replaced, nginx.conf and the snippets show the changed lines; the edge reloads", () => {
        const { steps, text } = preview("https-port");
        assert.deepEqual(replaced(steps), ["registry-edge-files-manifest", "registry-edge-files-nginx.conf", "registry-edge-secrets"]);
        const edge = resourceBlock(text, "registry-edge-files-nginx.conf");
        assert.match(edge, new RegExp(`^\\s+- +listen \\[::\\]:${httpsPort()} ssl default_server;$`, "m"));
        assert.match(edge, new RegExp(`^\\s+\\+ +listen \\[::\\]:${newHttpsPort()} ssl default_server;$`, "m"));
        assert.match(edge, new RegExp(`^\\s+\\+ +return 301 https://\\$host:${newHttpsPort()}\\$request_uri;$`, "m"));
        assert.match(edge, uploadFile(`${EDGE_FILES}/nginx.conf`));
        const outputs = outputsSection(text);
        assert.match(
            outputs,
            new RegExp(`^\\s+\\+ server = "https://registry-review\\.test:${newHttpsPort()}"$`, "m"),
            "hosts.toml's line in the containerd snippet",
        );
        assert.match(
            outputs,
            new RegExp(`^\\s+\\+ docker login 'registry-review\\.test:${newHttpsPort()}'`, "m"),
            "the docker snippet's login line",
        );
        assert.match(
            outputs,
            new RegExp(`~ registryEndpoint: "registry-review\\.test:${httpsPort()}" => "registry-review\\.test:${newHttpsPort()}"`),
        );
    });

    it("turn on deleteEnabled: config.yml's holder is replaced, config.yml a YAML diff of the one setting, a handover; the UI (env) restarts", () => {
        const { steps, text } = preview("delete-enabled");
        assert.deepEqual(replaced(steps), ["registry-registry-files-config.yml", "registry-registry-files-manifest", "registry-ui"]);
        assert.deepEqual(reasons(steps, "registry-registry-files-config.yml"), ["uploads"]);
        assert.deepEqual(reasons(steps, "registry-ui"), ["envs"]);
        const files = uploadsOf(steps, "registry-registry-files-config.yml");
        const deleteEnabled = (content: string) =>
            (parseYaml(content) as { storage: { delete: { enabled: boolean } } }).storage.delete.enabled;
        assert.equal(deleteEnabled(files.old[`${REGISTRY_FILES}/config.yml`]), false);
        assert.equal(deleteEnabled(files.new[`${REGISTRY_FILES}/config.yml`]), true);
        const config = resourceBlock(text, "registry-registry-files-config.yml");
        assert.match(config, /~ enabled: false => true/, "config.yml's storage.delete.enabled, as a YAML diff");
        assert.match(config, uploadFile(`${REGISTRY_FILES}/config.yml`));
        assert.doesNotMatch(config, /# set |[0-9a-f]{64} {2}/, "none of the manifest's lines");
        assert.doesNotMatch(config, /^\s+[-+] +(version|log|storage|http):/m, "no whole config.yml as added or removed lines");
        const ui = resourceBlock(text, "registry-ui");
        assert.match(ui, /- \[\d+\]: "DELETE_IMAGES=false"/);
        assert.match(ui, /\+ \[\d+\]: "DELETE_IMAGES=true"/);
    });

    it("turn on a collection schedule: the read-only config's holder is created, the schedule's replaced, nothing restarts", () => {
        const { steps, text } = preview("gc-schedule");
        assert.deepEqual(replaced(steps), ["registry-registry-files-manifest", "registry-registry-files-schedule"]);
        assert.ok(changes(steps).includes("create registry-registry-files-config-readonly.yml"), changes(steps).join(", "));
        const readOnly = uploadsOf(steps, "registry-registry-files-config-readonly.yml");
        assert.deepEqual(readOnly.old, {}, "no read-only config without a schedule");
        assert.match(readOnly.new[`${REGISTRY_FILES}/config-readonly.yml`], /readonly:\s*\n\s*enabled: true/);
        const schedule = uploadsOf(steps, "registry-registry-files-schedule");
        assert.match(schedule.new[`${REGISTRY_FILES}/schedule`], /GC_CRON='30 3 \* \* 0'/);
        assert.match(
            resourceBlock(text, "registry-registry-files-config-readonly.yml"),
            uploadFile(`${REGISTRY_FILES}/config-readonly.yml`),
        );
        assert.match(resourceBlock(text, "registry-registry-files-schedule"), /^\s+\+ +GC_CRON='30 3 \* \* 0'$/m);
    });

    it("add a hostname: a new server certificate, the certificate's holder replaced (the chain); the edge takes it per handshake", () => {
        const { steps, text } = preview("add-hostname");
        assert.deepEqual(replaced(steps), [
            "registry-edge-files-manifest",
            "registry-edge-files-server.crt",
            "registry-edge-secrets",
            "tls-server",
            "tls-server-csr",
        ]);
        assert.deepEqual(reasons(steps, "tls-server-csr"), ["dnsNames"]);
        assert.match(resourceBlock(text, "tls-server-csr"), new RegExp(`\\+ \\[1\\]: "${SECOND_HOSTNAME.replace(/\./g, "\\.")}"`));
        assert.ok(!changes(steps).some((c) => /tls-server-key|tls-ca/.test(c)), "the key and the CA stay: clients keep trusting it");
    });

    it("certificate renewal: the certificate is replaced because it is ready for renewal, then its holder; nginx.conf's stays; key and CA stay", () => {
        const { steps, text } = preview("certificate-renewal");
        assert.deepEqual(replaced(steps), [
            "registry-edge-files-manifest",
            "registry-edge-files-server.crt",
            "registry-edge-secrets",
            "tls-server",
        ]);
        assert.deepEqual(reasons(steps, "tls-server"), ["readyForRenewal"]);
        const chain = uploadsOf(steps, "registry-edge-files-server.crt");
        assert.match(chain.old[`${EDGE_FILES}/server.crt`], /^-----BEGIN CERTIFICATE-----/);
        assert.equal(chain.new[`${EDGE_FILES}/server.crt`], UNKNOWN, "the certificate file is the one changing");
        for (const name of ["registry-edge-files-nginx.conf", "registry-edge-files-push-users"])
            assert.ok(!changes(steps).some((c) => c.endsWith(` ${name}`)), `${name}: unchanged, no reload`);
        assert.match(resourceBlock(text, "registry-edge-files-server.crt"), uploadFile(`${EDGE_FILES}/server.crt`));
    });

    it("bump the registry image: the image and the registry container are replaced (a restart), nothing else", () => {
        const { steps, text } = preview("registry-image");
        assert.deepEqual(replaced(steps), ["registry-registry", "registry-registry-image"]);
        assert.deepEqual(reasons(steps, "registry-registry"), ["image"]);
        assert.match(
            resourceBlock(text, "registry-registry-image"),
            new RegExp(`~ name: "${DEFAULT_IMAGES.registry}" => "${BUMPED_REGISTRY_IMAGE}"`),
        );
    });

    it("no password, bcrypt hash, http.secret or private key appears in any preview, even partly", () => {
        assert.ok(capture.secrets.values.length >= 8, capture.secrets.values.map((v) => v.what).join(", "));
        for (const { scenario, text } of capture.previews) {
            assert.deepEqual(leakedSecrets(text, capture.secrets), [], `${scenario.id} shows secrets`);
        }
        // The check itself finds a piece of a secret when there is one.
        for (const kind of ["password", "users entry", "http.secret"]) {
            const probe = capture.secrets.values.find((v) => v.what.startsWith(kind)) ?? assert.fail(`no ${kind} among the secrets`);
            const piece = probe.value.slice(probe.value.length - 14, probe.value.length - 2);
            assert.notDeepEqual(leakedSecrets(`x ${piece} x`, capture.secrets), [], `a piece of the ${kind} would be found`);
        }
        // Of each deployed key: 12 characters of its PEM that fall inside the private scalar, and
        // 12 of the scalar in hex, are found; its whole public part (the PEM after the scalar,
        // framing and public point, which the certificate shows too) is not.
        const keys = capture.secrets.values.filter((v) => /PRIVATE KEY-----/.test(v.value));
        assert.ok(keys.length >= 3, keys.map((k) => k.what).join(", "));
        for (const key of keys) {
            const body = key.value.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
            const der = Buffer.from(body, "base64");
            const [scalar] = privateKeyComponents(key.value);
            const at = der.indexOf(scalar);
            assert.ok(at > 0, `${key.what}: its scalar is in its DER`);
            const inPem = base64Aligned(scalar, (at % 3) as 0 | 1 | 2);
            assert.ok(body.includes(inPem), `${key.what}: the PEM shows the scalar's base64 at its alignment`);
            for (const piece of [inPem.slice(15, 27), scalar.toString("hex").slice(30, 42)])
                assert.notDeepEqual(leakedSecrets(`x ${piece} x`, capture.secrets), [], `${key.what}: ${piece} would be found`);
            const publicPart = body.slice(Math.ceil((8 * (at + scalar.length)) / 6));
            assert.deepEqual(leakedSecrets(publicPart, capture.secrets), [], `${key.what}: its framing and public key are no leak`);
        }
    });

    it("restarts only where a service must: its image, or the UI's settings; everything else is a reload", () => {
        const concerned: Record<string, string[]> = {
            "add-user": [],
            "https-port": [],
            "delete-enabled": ["registry-ui"],
            "gc-schedule": [],
            "add-hostname": [],
            "certificate-renewal": [],
            "registry-image": ["registry-registry"],
        };
        for (const { scenario, steps } of capture.previews) {
            assert.deepEqual(
                replaced(steps).filter((n) => SERVICES.includes(n)),
                concerned[scenario.id],
                scenario.id,
            );
        }
    });

    it("docs/reviewing.md is the page these previews give, run details aside (UPDATE_SNAPSHOTS=1 rewrites it)", () => {
        const page = renderReviewingDoc(capture, engineVersion);
        assert.deepEqual(leakedSecrets(page, capture.secrets), [], "the page would show secrets");
        if (process.env.UPDATE_SNAPSHOTS === "1") writeFileSync(REVIEWING_DOC, page);
        assert.equal(
            withoutRunDetails(readFileSync(REVIEWING_DOC, "utf8")),
            withoutRunDetails(page),
            "docs/reviewing.md is stale: npm run docs:reviewing",
        );
    });

    it("the committed docs/reviewing.md covers every scenario and shows no secret material", () => {
        const doc = readFileSync(join(ROOT, "docs/reviewing.md"), "utf8");
        for (const scenario of REVIEW_SCENARIOS)
            assert.ok(doc.includes(`## ${scenario.title}`), `docs/reviewing.md lacks ${scenario.title}: npm run docs:reviewing`);
        assert.ok(!/PRIVATE KEY|\$2[aby]\$\d\d\$|REGISTRY_HTTP_SECRET=/.test(doc));
    });
});
