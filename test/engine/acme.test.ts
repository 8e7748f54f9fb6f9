/**
 * ACME for real: the Pulumi engine with the acme provider (pulumi-resource-acme, lego inside)
 * gets the edge certificate from Pebble, Let's Encrypt's test CA, by DNS-01. lego's `exec` DNS
 * provider publishes the TXT record on pebble-challtestsrv, the DNS server Pebble validates
 * against; the hook's address and credential come from the environment, as every lego provider's
 * do. Local mode on a private dockerd, as test/engine/devStack.test.ts.
 *
 * Renewal with real time: Pebble issues certificates valid for 8 days plus a margin, and the
 * stack renews with 7 days or fewer left (lego counts whole days). Right after issuance the
 * certificate is outside the window (no diff); once the margin has passed it is inside, and the
 * next `pulumi up` renews it in place and replaces only the edge's file holders: the running edge
 * takes the new chain for the next connection, while a load of pulls and pushes as both roles
 * (scripts/lib/registryLoad.ts), a blob pull and a chunked push in flight, meets no failure.
 */
import assert from "node:assert/strict";
import { after, before, describe, it, TestContext } from "node:test";
import { randomBytes, createHash, X509Certificate } from "crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { acmeServerLabel } from "../../components/certificates/acmeCertificate";
import { changedSteps, createEngineProject, EngineProject, startDockerdWithStandIns, updateRecord } from "./support/engineProject";
import { freePorts } from "../../scripts/lib/loopbackServers";
import { DNS_TYPE_TXT, Pebble, startPebble } from "../support/pebble";
import { Daemon, makeTempDir, run, runCleanups, sleep, startDaemon, waitFor } from "../../scripts/lib/processes";
import { LoadConfig, readLoadLog, windowStats } from "../../scripts/lib/registryLoad";
import { PrivateDockerd } from "../e2e/support/dockerd";
import { addHostsEntry } from "../e2e/support/hostsFile";

const ROOT = join(__dirname, "../..");
const NAME = "registry-acme.test";
const PREFIX = "pr-acme";
const STACK = "acme";
const DAY_MS = 86_400_000;
const RENEW_BEFORE_DAYS = 7;
/**
 * How long a fresh certificate stays outside the renew window: enough for `up` to end and one
 * preview, with room for a loaded machine. The test waits this long for the window, so it is
 * most of the test's time: six CI runs at 150 s used 4-6 s of it after either issuance (the
 * first `up`'s end and the renewal's), so 75 s leaves 10 times that.
 */
const MARGIN_SECONDS = 75;
/** lego renews when the whole days left are at most RENEW_BEFORE_DAYS, i.e. under 8 days. */
const VALIDITY_SECONDS = (RENEW_BEFORE_DAYS + 1) * 86_400 + MARGIN_SECONDS;

interface ServedCertificate {
    serial: string;
    notAfter: number;
    chain: X509Certificate[];
}

describe("the real Pulumi engine issues and renews the edge certificate from an ACME CA (Pebble, DNS-01)", () => {
    let work: string;
    let pebble: Pebble;
    let dockerd: PrivateDockerd;
    let engine: EngineProject;
    let httpsPort: number;
    let pebbleRoot: string;
    let hookLog: string;
    let dnsApiToken: string;
    let certificateName: string;
    let first: ServedCertificate;
    let load: Daemon;
    let loadConfig: LoadConfig;
    const control = (value: { hold: boolean; stop?: boolean }) => writeFileSync(loadConfig.controlFile, JSON.stringify(value));

    const pulumi = (args: string[], options?: { allowFailure?: boolean; timeoutMs?: number }) => engine.pulumi(args, options);
    const hookCalls = () => readFileSync(hookLog, "utf8").trim().split("\n").filter(Boolean);
    const containerIds = async () =>
        Object.fromEntries(
            (await dockerd.docker(["ps", "-a", "--format", "{{.Names}} {{.ID}}"])).stdout
                .trim()
                .split("\n")
                .map((line) => line.split(" "))
                .filter(([name]) => name.startsWith(PREFIX)),
        );

    /** What the edge serves, fetched by openssl trusting Pebble's root only; fails unless it verifies. */
    async function servedCertificate(): Promise<ServedCertificate> {
        const handshake = await run(
            "openssl",
            [
                "s_client",
                "-connect",
                `${NAME}:${httpsPort}`,
                "-servername",
                NAME,
                "-showcerts",
                "-CAfile",
                join(work, "pebble-root.pem"),
                "-no-CApath",
                "-no-CAstore",
                "-verify_return_error",
            ],
            { input: "", timeoutMs: 30_000 },
        );
        assert.match(handshake.stdout, /Verify return code: 0 \(ok\)/);
        const chain = [...handshake.stdout.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map(
            (m) => new X509Certificate(m[0]),
        );
        return { serial: chain[0].serialNumber, notAfter: Date.parse(chain[0].validTo), chain };
    }

    /** The moment lego starts counting the served certificate as due: under RENEW_BEFORE_DAYS + 1 days left. */
    const windowOpensAt = (certificate: ServedCertificate) => certificate.notAfter - (RENEW_BEFORE_DAYS + 1) * DAY_MS;

    async function assertNoChangesOutsideWindow(certificate: ServedCertificate, t: TestContext): Promise<void> {
        assert.ok(Date.now() < windowOpensAt(certificate), "the certificate is already due: the test was too slow for MARGIN_SECONDS");
        const preview = await pulumi(["preview", "--expect-no-changes", "--diff"], { allowFailure: true });
        const slackSeconds = (windowOpensAt(certificate) - Date.now()) / 1000;
        t.diagnostic(`the preview ended ${slackSeconds.toFixed(0)} s before the certificate entered the renew window`);
        assert.ok(slackSeconds > 0, "the preview ended inside the renew window, so it proves nothing: raise MARGIN_SECONDS");
        assert.equal(preview.code, 0, `a run outside the renew window would change something:\n${preview.stdout}${preview.stderr}`);
    }

    before(async () => {
        work = makeTempDir("pr-acme-");
        pebble = await startPebble({ workDir: work, certificateValiditySeconds: VALIDITY_SECONDS });
        pebbleRoot = await pebble.rootCertificatePem();
        writeFileSync(join(work, "pebble-root.pem"), pebbleRoot);
        dockerd = await startDockerdWithStandIns(work);
        addHostsEntry("127.0.0.1", NAME);

        // The DNS provider's hook (lego's exec provider calls it with present|cleanup FQDN VALUE):
        // it needs its API address and a credential from the environment, like any DNS API.
        dnsApiToken = randomBytes(24).toString("hex");
        hookLog = join(work, "dns-hook.log");
        writeFileSync(hookLog, "");
        const hook = join(work, "dns-hook.sh");
        writeFileSync(
            hook,
            `#!/bin/sh
# lego exec DNS provider hook: publishes the DNS-01 TXT record on pebble-challtestsrv.
set -eu
[ "$(printf %s "\${DNS_API_TOKEN:-}" | sha256sum | cut -d' ' -f1)" = "${createHash("sha256").update(dnsApiToken).digest("hex")}" ] || { echo "DNS API: bad credential" >&2; exit 1; }
case "$1" in
    present) curl -fsS -X POST -d "{\\"host\\":\\"$2\\",\\"value\\":\\"$3\\"}" "$DNS_API_URL/set-txt" ;;
    cleanup) curl -fsS -X POST -d "{\\"host\\":\\"$2\\"}" "$DNS_API_URL/clear-txt" ;;
    *) echo "unknown operation $1" >&2; exit 1 ;;
esac
echo "$1 $2" >>${hookLog}
`,
        );
        chmodSync(hook, 0o755);

        engine = await createEngineProject({
            stack: STACK,
            work,
            env: {
                EXEC_PATH: hook,
                DNS_API_URL: pebble.challengeServerUrl,
                DNS_API_TOKEN: dnsApiToken,
                // lego's trust for the CA's own HTTPS API (not for the certificates it issues).
                LEGO_CA_CERTIFICATES: pebble.httpsCaFile,
            },
        });
        // The registry's metrics listener too: its default loopback port may be taken by another stack.
        const [https, httpPort, uiPort, metricsPort] = await freePorts(4);
        httpsPort = https;
        certificateName = `tls-${acmeServerLabel(pebble.directoryUrl)}-certificate`;
        engine.setConfig({
            hostnames: [NAME],
            containerNetwork: "host",
            dockerHost: dockerd.host,
            namePrefix: PREFIX,
            httpsPort,
            httpPort,
            uiPort,
            metricsPort,
            certificateRenewBeforeDays: RENEW_BEFORE_DAYS,
            acme: {
                email: "ops@example.com",
                server: pebble.directoryUrl,
                dnsProvider: "exec",
                recursiveNameservers: [pebble.dnsServer],
                // lego would look for the zone's authoritative nameservers and ask them on port 53;
                // here the only DNS server is challtestsrv, on its own port.
                disableCompletePropagation: true,
            },
        });
    });

    after(async () => {
        await runCleanups();
    });

    it("pulumi up gets the certificate by DNS-01: the hook publishes the TXT record, Pebble queries it and issues", async () => {
        const up = await pulumi(["up", "--yes", "--skip-preview"]);
        assert.match(up.stdout, /Resources:\s*\n\s*\+ \d+ created/);
        assert.deepEqual(hookCalls(), [`present _acme-challenge.${NAME}.`, `cleanup _acme-challenge.${NAME}.`]);
        const txtQueries = (await pebble.dnsRequests(`_acme-challenge.${NAME}`)).filter((r) => r.Question.Qtype === DNS_TYPE_TXT);
        assert.ok(txtQueries.length >= 1, "nobody asked the DNS server for the TXT record");

        const state = (await pulumi(["stack", "export", "--show-secrets"])).stdout;
        assert.ok(!state.includes(dnsApiToken), "the DNS credential is in the state");
        const resources = JSON.parse(state).deployment.resources as {
            type: string;
            urn: string;
            inputs: Record<string, any>;
            outputs: Record<string, any>;
        }[];
        const certificate = resources.find((r) => r.type === "acme:index/certificate:Certificate");
        assert.ok(certificate);
        assert.ok(certificate.urn.endsWith(`::${certificateName}`), certificate.urn);
        // The bridge adds its own `__defaults` bookkeeping; what matters is that no `config` map was stored.
        const challenges = (certificate.inputs.dnsChallenges as { provider: string; config?: unknown }[]).map((c) => [
            c.provider,
            c.config ?? null,
        ]);
        assert.deepEqual(challenges, [["exec", null]], "the hook's settings came from the environment, not the state");
        assert.ok(
            String(certificate.outputs.certificateUrl).startsWith(new URL(pebble.directoryUrl).origin),
            certificate.outputs.certificateUrl,
        );
    });

    it("the edge serves Pebble's chain; a client trusting only Pebble's root accepts it, the system's trust store does not", async () => {
        first = await servedCertificate();
        assert.equal(first.chain.length, 2, "leaf and intermediate");
        assert.ok(first.chain[0].checkHost(NAME), `the leaf names ${NAME}: ${first.chain[0].subjectAltName}`);
        assert.ok(first.chain[0].checkIssued(first.chain[1]) && first.chain[1].checkIssued(new X509Certificate(pebbleRoot)));
        assert.equal(await pebble.certificateStatus(first.serial), "Valid");

        const emptyDir = join(work, "no-ca");
        mkdirSync(emptyDir);
        const trusted = await run("curl", [
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            join(work, "pebble-root.pem"),
            "--capath",
            emptyDir,
            `https://${NAME}:${httpsPort}/v2/`,
        ]);
        assert.equal(trusted.stdout, "401", "TLS verified; the registry asks for credentials");
        const untrusted = await run("curl", ["-sS", "-o", "/dev/null", `https://${NAME}:${httpsPort}/v2/`], { allowFailure: true });
        assert.equal(untrusted.code, 60, `curl with the system's CAs: ${untrusted.stderr}`);
        const caCertificate = await pulumi(["stack", "output", "caCertificate", "--json"], { allowFailure: true });
        assert.ok(
            caCertificate.code !== 0 || ["null", ""].includes(caCertificate.stdout.trim()),
            `no private CA to hand out: ${caCertificate.stdout}`,
        );

        // The clients of the renewal below: they trust Pebble's root, as clients trust Let's Encrypt's.
        const credentials = JSON.parse((await pulumi(["stack", "output", "credentials", "--json", "--show-secrets"])).stdout) as {
            username: string;
            password: string;
            role: string;
        }[];
        const of = (role: string) => {
            const user = credentials.find((c) => c.role === role) ?? assert.fail(`no ${role} user`);
            return { username: user.username, password: user.password };
        };
        loadConfig = {
            endpoint: `${NAME}:${httpsPort}`,
            caFile: join(work, "pebble-root.pem"),
            push: of("push"),
            pull: of("pull"),
            repository: "load/app",
            bigBlobBytes: 64 * 1024 * 1024,
            controlFile: join(work, "load-control.json"),
            logFile: join(work, "load.jsonl"),
        };
        control({ hold: false });
        load = startDaemon(
            "registry load",
            process.execPath,
            ["--import", "tsx", join(ROOT, "scripts/lib/registryLoad.ts"), JSON.stringify(loadConfig)],
            {
                logFile: join(work, "load.log"),
                cwd: ROOT,
            },
        );
    });

    it("outside the renew window, pulumi preview --expect-no-changes passes", async (t) => {
        await assertNoChangesOutsideWindow(first, t);
    });

    it("inside the window, pulumi up renews the certificate in place; the running edge takes it, under load, no request failed", async () => {
        await waitFor("the load's seed pushed", async () => readLoadLog(loadConfig.logFile).some((e) => e.type === "ready"), 300_000, 500);
        await sleep(Math.max(0, windowOpensAt(first) - Date.now() + 2_000));
        const before = await containerIds();
        const changed = changedSteps((await pulumi(["preview", "--json"])).stdout);
        const changedNames = [...new Set(changed.map((c) => c.split(" ")[1]))].sort();
        // The edge's holders of the chain and of both manifests (they name the new set); nginx.conf's and the push users' stay.
        const planned = [certificateName, "registry-edge-files-manifest", "registry-edge-files-server.crt", "registry-edge-secrets"].sort();
        assert.deepEqual(changedNames, planned, changed.join(", "));
        assert.ok(changed.includes(`update ${certificateName}`), changed.join(", "));

        // A blob pull and a chunked push in flight when pulumi up starts.
        const holdFrom = Date.now();
        control({ hold: true });
        const events = () => readLoadLog(loadConfig.logFile);
        const inFlight = (kind: string) =>
            events().some((e) => e.type === "transfer" && e.kind === kind && e.phase === "progress" && e.t >= holdFrom);
        await waitFor(
            "a big pull and a chunked push in flight",
            async () => inFlight("big-pull") && inFlight("chunked-push"),
            120_000,
            200,
        );
        const from = Date.now();
        const up = updateRecord((await pulumi(["up", "--yes", "--skip-preview", "--json"])).stdout);
        assert.equal(up.result, "succeeded");
        await waitFor("the renewed certificate served", async () => (await servedCertificate()).serial !== first.serial, 30_000, 250);
        control({ hold: false });
        const done = (kind: string) => events().some((e) => e.type === "request" && e.kind === kind && e.t0 >= holdFrom);
        await waitFor("the transfers in flight done", async () => done("big-pull") && done("chunked-push"), 120_000, 250);
        const stats = windowStats(events(), from, Date.now());
        process.stdout.write(
            `# ACME renewal: ${stats.requests} requests, ${stats.failures} failed, longest gap ${stats.longestGapSeconds.toFixed(2)} s\n`,
        );
        assert.ok(stats.requests >= 50, `the load ran: ${stats.requests}`);
        assert.equal(stats.failures, 0, JSON.stringify(stats.failed));
        assert.deepEqual(
            events()
                .filter((e) => e.type === "request" && ["big-pull", "chunked-push"].includes(e.kind) && e.t0 >= holdFrom)
                .map((e) => e.type === "request" && e.ok),
            [true, true],
            "the transfers in flight completed whole",
        );
        const { same, ...changes } = up.resourceChanges;
        // The certificate updated in place; the chain's, the plain manifest's and the secret holder replaced.
        assert.deepEqual(changes, { update: 1, replace: 3 }, `the engine's summary: ${JSON.stringify(up.resourceChanges)}`);
        assert.ok(same > 10, "everything else stayed");
        assert.deepEqual([...new Set(up.steps.map((c) => c.split(" ")[1]))].sort(), planned, "the update did what the preview planned");
        const after = await containerIds();
        for (const role of ["edge", "registry", "ui"])
            assert.equal(after[`${PREFIX}-${role}`], before[`${PREFIX}-${role}`], `the ${role} container stayed`);

        const renewed = await servedCertificate();
        assert.notEqual(renewed.serial, first.serial);
        assert.ok(renewed.notAfter > first.notAfter);
        assert.deepEqual(hookCalls().filter((c) => c.startsWith("present")).length, 2, "a second DNS-01 validation");
        first = renewed;
    });

    it("right after the renewal the certificate is outside the window again: no changes", async (t) => {
        await assertNoChangesOutsideWindow(first, t);
    });

    it("pulumi destroy revokes the certificate at the CA and removes the containers", async () => {
        control({ hold: false, stop: true });
        let code: number | null | undefined;
        void load.exited.then((c) => (code = c));
        await waitFor("the load to stop", async () => code !== undefined, 60_000, 200);
        assert.equal(code, 0, readFileSync(load.logFile, "utf8"));
        await pulumi(["destroy", "--yes"]);
        assert.equal(await pebble.certificateStatus(first.serial), "Revoked");
        assert.deepEqual(Object.keys(await containerIds()), []);
    });
});
