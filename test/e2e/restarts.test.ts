/**
 * Restarts: the declared local stack (the default bridge networking) replayed on a real dockerd,
 * with its restart policy (`always`) and health checks, while a builder pushes a large
 * layer with `docker push`, through:
 *
 * - the registry's process killed (the OOM killer): Docker's restart policy starts it again, and
 *   the edge meanwhile drops the builder's requests (444): Docker's own retry against it;
 * - dockerd stopped (`systemctl restart docker`: SIGTERM, then started again), and stopped for
 *   longer than docker push retries (it gives up; run again, the push completes);
 * - dockerd killed (SIGKILL: a crash), then started again as its service manager would;
 * - a power cut: dockerd, its containerd, the shims and every container process SIGKILLed at
 *   once, what a reboot clears cleared (mounts, the exec root under /run, the whole network
 *   state: a fresh network namespace), then dockerd started again as the host's init would.
 *
 * After each: every service back by itself (running, healthy; the test never starts one), the
 * edge's /readyz 200, every image pushed before pulling with its digests, the in-flight push
 * completed by the client's own retry, and what it took (figures printed at the end, recorded in
 * docs/reliability.md). Beside the stack, two containers show what the policy decides: after the
 * crash one with `unless-stopped` stays down (why the stack's services restart `always`), and
 * one with `always` that was stopped by hand comes back with Docker.
 *
 * Two hosts on one LAN segment, both network namespaces of the test's own joined by a veth pair
 * (scripts/lib/netns.ts: no route out): the registry host (its dockerd with a bridge and
 * iptables, the stack's published ports at NAMESPACE_SERVICE_ADDRESS) and the builder (a dockerd
 * of its own that is never restarted, the clients). The builder's packets reach the edge as a
 * remote client's do (PREROUTING DNAT), and the power cut is silent, as a real one is: the
 * registry host's link goes down before anything there is killed, so no FIN or RST reaches the
 * builder; it learns of the cut when the rebooted host answers its retransmission.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createHash } from "crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { join } from "path";
import type { ClientSnippet } from "../../components/render/snippets/clientSnippets";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import {
    createNetworkNamespace,
    joinNamespaces,
    LinkEnd,
    moveLinkEnd,
    NAMESPACE_SERVICE_ADDRESS,
    NetworkNamespace,
} from "../../scripts/lib/netns";
import { isAlive, makeTempDir, registerCleanup, RunResult, runCleanups, waitFor } from "../../scripts/lib/processes";
import { skopeoPullArgs } from "../support/skopeo";
import { PrivateDockerd, startDockerd, stopAndAssertNothingLeft } from "./support/dockerd";
import { freeStackPorts, StackPorts } from "./support/hostStack";
import { addHostsEntry } from "./support/hostsFile";
import { containers, imageNames, replay } from "./support/replay";
import { buildStandInImages, buildTestImage } from "./support/standins";

const NAME = "registry-restarts.test";
const PREFIX = "pr-restarts";
const SERVICES = ["registry", "ui", "edge"] as const;
const NGINX = ["nginx", "-g", "daemon off;"];
const MIB = 1024 * 1024;
/** The in-flight push: one random (incompressible) layer, cut once this much of it is in the registry's upload file. */
const LAYER_BYTES = 128 * MIB;
const CUT_AT_BYTES = 24 * MIB;
/** The two hosts' ends of the veth pair between them. */
const REGISTRY_HOST_END: LinkEnd = { link: "eth-registry", address: `${NAMESPACE_SERVICE_ADDRESS}/24` };
const BUILDER_END: LinkEnd = { link: "eth-builder", address: "192.0.2.20/24" };

interface Credential {
    username: string;
    password: string;
}

/** What one interruption did, for docs/reliability.md. */
interface Figures {
    /** How long dockerd took to exit (stop: it stops the containers first). */
    daemonExitMs?: number;
    /** From dockerd's start (or the registry's kill) to its API answering, each service healthy, /readyz 200. */
    apiMs?: number;
    healthyMs: Record<string, number>;
    readyzMs: number;
    /** Whether each service's container was started again (a new StartedAt) rather than kept running. */
    restarted: Record<string, boolean>;
    /** Bytes of the layer in the registry's upload file when the cut came. */
    cutAtBytes: number;
    /** The builder's dockerd: each failed attempt's error, and when it came (ms after the cut). */
    attempts: { afterCutMs: number; error: string }[];
    /** What `docker push` printed about the failures (its retry countdowns, its error). */
    printed: string[];
    /** From the cut to the first `docker push` exiting, and its exit status. */
    pushEndedAfterCutMs: number;
    pushExit: number;
    /** Requests the edge dropped (444) because the registry was unreachable, in its log since the cut. */
    dropped444: number;
    /** Unfinished uploads left in the registry's upload area (purged after a week). */
    abandonedUploadBytes: number;
}

/** When the registry host starts again (what to count from), and how long dockerd took to exit and to answer again. */
interface Restart {
    restartAt: number;
    daemonExitMs?: number;
    apiMs?: number;
}

describe("restarts: the declared stack when the registry is killed, dockerd restarts or is killed, and the host loses power", () => {
    let work: string;
    let builderNs: NetworkNamespace;
    let hostNs: NetworkNamespace;
    let host: PrivateDockerd;
    let builder: PrivateDockerd;
    let declared: EvaluationResult;
    let ports: StackPorts;
    let endpoint: string;
    let admin: Credential;
    let caDir: string;
    let dataVolume: string;
    const pushed: { repo: string; digest: string; imageId: string }[] = [];
    const figures: Record<string, Figures> = {};

    const container = (role: string) => `${PREFIX}-${role}`;
    /** The edge's image, for a container beside the stack that only has to run: nginx in the foreground. */
    const edgeImage = () => imageNames(declared)["registry-edge-image"];
    const hostDocker = (args: string[], timeoutMs = 120_000) => host.docker(args, { timeoutMs });
    /** A client on the builder. */
    const onBuilder = (command: string, args: string[], options: { allowFailure?: boolean; timeoutMs?: number; input?: string } = {}) =>
        builderNs.run(command, args, { allowFailure: true, timeoutMs: 120_000, ...options });

    /** Unfinished uploads of a repository in the registry's data volume, with the size of each one's data. */
    function uploads(repo?: string): { dir: string; bytes: number }[] {
        const found: { dir: string; bytes: number }[] = [];
        const walk = (dir: string) => {
            if (!existsSync(dir)) return;
            for (const entry of readdirSync(dir, { withFileTypes: true })) {
                if (!entry.isDirectory()) continue;
                const path = join(dir, entry.name);
                if (entry.name !== "_uploads") walk(path);
                else
                    for (const upload of readdirSync(path)) {
                        const data = join(path, upload, "data");
                        found.push({ dir: join(path, upload), bytes: existsSync(data) ? statSync(data).size : 0 });
                    }
            }
        };
        walk(join(dataVolume, "docker/registry/v2/repositories", ...(repo ? [repo] : [])));
        return found;
    }

    /** The services' states: `running healthy` once back, and when each container last started. */
    async function serviceStates(): Promise<Record<string, { state: string; startedAt: string }>> {
        const listed = await host.docker(
            [
                "inspect",
                "-f",
                "{{.Name}}|{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.State.StartedAt}}",
            ].concat(SERVICES.map(container)),
            { allowFailure: true, timeoutMs: 30_000 },
        );
        if (listed.code !== 0) throw new Error(`docker inspect: ${listed.stderr}`);
        return Object.fromEntries(
            listed.stdout
                .trim()
                .split("\n")
                .map((line) => line.split("|"))
                .map(([name, state, startedAt]) => [name.replace(`/${PREFIX}-`, ""), { state: state.trim(), startedAt }]),
        );
    }

    /**
     * Waits for every service to be running and healthy, noting when each got there (ms after
     * `from`), and for the edge's /readyz (200 only while the registry behind it answers).
     */
    async function waitForServices(from: number, startedBefore: Record<string, string>) {
        const healthyMs: Record<string, number> = {};
        const restarted: Record<string, boolean> = {};
        let last = {};
        // Both from `from`, side by side: the registry answers before Docker has run a health check.
        const ready = waitFor(
            "the edge's /readyz to answer 200",
            async () =>
                (
                    await onBuilder("curl", [
                        "-sS",
                        "-o",
                        "/dev/null",
                        "-w",
                        "%{http_code}",
                        "--max-time",
                        "5",
                        `http://${NAME}:${ports.http}/readyz`,
                    ])
                ).stdout === "200" || undefined,
            240_000,
            250,
        ).then(() => Date.now() - from);
        const healthy = waitFor(
            "every service running and healthy again",
            async () => {
                const states = await serviceStates();
                last = states;
                for (const role of SERVICES) {
                    if (healthyMs[role] === undefined && states[role]?.state === "running healthy") {
                        healthyMs[role] = Date.now() - from;
                        restarted[role] = states[role].startedAt !== startedBefore[role];
                    }
                }
                return SERVICES.every((role) => healthyMs[role] !== undefined) || undefined;
            },
            240_000,
            250,
        ).catch(async (error: Error) => {
            const ps = await host.docker(["ps", "-a"], { allowFailure: true });
            throw new Error(
                `${error.message}\nlast states: ${JSON.stringify(last)}\n${ps.stdout}${ps.stderr}\ndockerd log:\n${readFileSync(
                    host.logFile,
                    "utf8",
                )
                    .split("\n")
                    .filter((line) => !line.includes("module=grpc"))
                    .slice(-60)
                    .join("\n")}`,
            );
        });
        const [readyzMs] = await Promise.all([ready, healthy]);
        return { healthyMs, readyzMs, restarted };
    }

    /** Copies an image by digest off the registry as the builder (skopeo) and checks every blob's digest. */
    async function pullsWhole(repo: string, digest: string): Promise<void> {
        const into = join(work, "pulled", `${repo}-${digest.slice(7, 19)}`);
        rmSync(into, { recursive: true, force: true });
        mkdirSync(into, { recursive: true });
        const copied = await onBuilder(
            "skopeo",
            skopeoPullArgs(`${endpoint}/e2e/${repo}@${digest}`, into, { certDir: caDir, creds: `${admin.username}:${admin.password}` }),
            { timeoutMs: 300_000 },
        );
        assert.equal(copied.code, 0, `${repo}@${digest}: ${copied.stderr}`);
        const manifest = readFileSync(join(into, "manifest.json"));
        assert.equal(`sha256:${createHash("sha256").update(manifest).digest("hex")}`, digest, `${repo}'s manifest`);
        const parsed = JSON.parse(manifest.toString()) as { config: { digest: string }; layers: { digest: string }[] };
        for (const blob of [parsed.config, ...parsed.layers]) {
            const file = join(into, blob.digest.slice(7));
            assert.equal(`sha256:${createHash("sha256").update(readFileSync(file)).digest("hex")}`, blob.digest, `${repo}: ${blob.digest}`);
        }
        rmSync(into, { recursive: true, force: true });
    }

    /** Every image pushed so far pulls whole, by digest, as the builder; the registry host's own Docker pulls the first one. */
    async function everyImagePulls(): Promise<void> {
        assert.ok(pushed.length > 0, "nothing was pushed");
        for (const image of pushed) await pullsWhole(image.repo, image.digest);
        const first = pushed[0];
        await host.docker(["rmi", `${endpoint}/e2e/${first.repo}@${first.digest}`], { allowFailure: true });
        // The registry host's Docker is logged in since before the restarts: its login survives them.
        await hostDocker(["pull", `${endpoint}/e2e/${first.repo}@${first.digest}`], 300_000);
        assert.equal(
            (await hostDocker(["image", "inspect", "-f", "{{.Id}}", `${endpoint}/e2e/${first.repo}@${first.digest}`])).stdout.trim(),
            first.imageId,
        );
    }

    /** `docker push`, as the builder, resolving with its outcome. */
    const push = (name: string) => builder.docker(["push", name], { timeoutMs: 1_200_000, allowFailure: true });

    const edgeLogLength = async () => (await hostDocker(["logs", container("edge")])).stdout.length;

    /**
     * Pushes a fresh image with one large layer as the builder; once part of it is in the
     * registry's upload file, `cut` interrupts the registry host (it may wait for the push's
     * outcome first) and returns when the host is starting again (the time to count from). Then
     * waits for every service and /readyz, and for the push: completed by Docker's own retries,
     * or (`gives up`) failed, then run again by hand and completed. Every image pulls whole after.
     */
    async function pushThrough(
        label: string,
        cut: (pushing: Promise<RunResult>) => Promise<Restart>,
        expect: "completes" | "gives up" = "completes",
    ) {
        const repo = `inflight-${label}`;
        const image = await buildTestImage(builder, `${endpoint}/e2e/${repo}:1`, LAYER_BYTES, join(work, "images"));
        const startedBefore = Object.fromEntries(Object.entries(await serviceStates()).map(([role, s]) => [role, s.startedAt]));
        const edgeLogFrom = await edgeLogLength();
        const builderLogFrom = readFileSync(builder.logFile, "utf8").length;

        let pushEndedAt = 0;
        const pushing = push(image.name).then((result) => {
            pushEndedAt = Date.now();
            return result;
        });
        const inFlight = await Promise.race([
            waitFor(
                `${CUT_AT_BYTES / MIB} MiB of the layer in the registry's upload file`,
                () => uploads(`e2e/${repo}`).find((upload) => upload.bytes >= CUT_AT_BYTES),
                600_000,
                20,
            ),
            pushing.then((early) => assert.fail(`the push ended before the cut (exit ${early.code}): ${early.stdout}\n${early.stderr}`)),
        ]);
        const cutAt = Date.now();
        const { restartAt, daemonExitMs, apiMs } = await cut(pushing);
        const back = await waitForServices(restartAt, startedBefore);
        const result: RunResult = await pushing;
        const pushEndedAfterCutMs = pushEndedAt - cutAt;

        const builderLog = readFileSync(builder.logFile, "utf8").slice(builderLogFrom);
        const attempts = [...builderLog.matchAll(/^time="([^"]+)" level=error msg="Upload failed(?:, retrying)?: (.*)"$/gm)].map((m) => ({
            afterCutMs: Date.parse(m[1]) - cutAt,
            error: m[2],
        }));
        const edgeLog = (await hostDocker(["logs", container("edge")])).stdout.slice(edgeLogFrom);
        const outcome = `${result.stdout}\n${result.stderr}\nthe builder's dockerd:\n${attempts.map((a) => a.error).join("\n")}`;
        assert.ok(attempts.length > 0, `the push was never interrupted: nothing to retry (${builderLog.slice(-2000)})`);
        let completed = result;
        if (expect === "gives up") {
            assert.notEqual(result.code, 0, `docker push outlasted the outage: ${outcome}`);
            assert.ok(attempts.length > 1, `docker push gave up without retrying: ${outcome}`);
            completed = await push(image.name);
        }
        assert.equal(
            completed.code,
            0,
            `docker push of ${image.name} did not complete: ${outcome}\n${completed.stdout}\n${completed.stderr}`,
        );
        const digest = /digest: (sha256:[0-9a-f]{64})/.exec(completed.stdout)?.[1] ?? assert.fail(`no digest in: ${completed.stdout}`);
        pushed.push({ repo, digest, imageId: image.id });
        await everyImagePulls();
        // The pushed image, pulled back by the builder's own Docker, is the image it built.
        await builder.docker(["rmi", image.name]);
        await builder.docker(["pull", `${endpoint}/e2e/${repo}@${digest}`], { timeoutMs: 600_000 });
        assert.equal(
            (await builder.docker(["image", "inspect", "-f", "{{.Id}}", `${endpoint}/e2e/${repo}@${digest}`])).stdout.trim(),
            image.id,
        );
        await builder.docker(["rmi", `${endpoint}/e2e/${repo}@${digest}`]);

        figures[label] = {
            daemonExitMs,
            apiMs,
            ...back,
            cutAtBytes: inFlight.bytes,
            attempts,
            printed: [...new Set(`${result.stdout}\n${result.stderr}`.split("\n").map((line) => line.trim()))].filter((line) =>
                /retrying|error|refused|reset|closed|EOF/i.test(line),
            ),
            pushEndedAfterCutMs,
            pushExit: result.code,
            dropped444: (edgeLog.match(/" 444 /g) ?? []).length,
            abandonedUploadBytes: uploads(`e2e/${repo}`).reduce((sum, upload) => sum + upload.bytes, 0),
        };
        console.log(`figures ${label}: ${JSON.stringify(figures[label])}`);
        return figures[label];
    }

    /** Starts the registry host's dockerd again on the same data root: what systemd, or the host's init at boot, does. */
    async function startHostDockerd(): Promise<{ restartAt: number; apiMs: number }> {
        const restartAt = Date.now();
        host = await startDockerd(join(work, "h"), { networkNamespace: hostNs });
        return { restartAt, apiMs: Date.now() - restartAt };
    }

    before(async () => {
        work = makeTempDir("pr-rs-");
        ports = await freeStackPorts();
        declared = await evaluateProgram({
            config: {
                ...devStackConfig(),
                hostnames: [NAME],
                ipAddresses: [NAMESPACE_SERVICE_ADDRESS],
                containerNetwork: "bridge",
                httpsPort: ports.https,
                httpPort: ports.http,
                namePrefix: PREFIX,
                users: ["admin"],
            },
        });
        assert.equal(declared.error, undefined, declared.error);
        endpoint = declared.outputs.registryEndpoint.value as string;
        [admin] = declared.outputs.credentials.value as Credential[];
        caDir = join(work, "ca");
        mkdirSync(caDir);
        writeFileSync(join(caDir, "ca.crt"), declared.outputs.caCertificate.value as string);
        addHostsEntry(NAMESPACE_SERVICE_ADDRESS, NAME);

        builderNs = await createNetworkNamespace("pr-rs-builder");
        hostNs = await createNetworkNamespace("pr-rs-host");
        await joinNamespaces(hostNs, REGISTRY_HOST_END, builderNs, BUILDER_END);
        host = await startDockerd(join(work, "h"), { networkNamespace: hostNs });
        // The builder pushes and pulls: no bridge of its own.
        builder = await startDockerd(join(work, "b"), {
            networkNamespace: builderNs,
            extraArgs: ["--bridge=none", "--iptables=false", "--ip6tables=false"],
        });
        const names = imageNames(declared);
        await buildStandInImages(
            host,
            { registry: names["registry-registry-image"], ui: names["registry-ui-image"], edge: names["registry-edge-image"] },
            work,
        );
        await replay(host, declared, work);
        dataVolume = (await hostDocker(["volume", "inspect", "-f", "{{.Mountpoint}}", `${PREFIX}-data`])).stdout.trim();

        // Both Dockers set up by the stack's own docker snippet (the CA under certs.d, docker login).
        const certsDir = `/etc/docker/certs.d/${endpoint}`;
        const removeCertsDir = () => rmSync(certsDir, { recursive: true, force: true });
        registerCleanup(`remove ${certsDir}`, removeCertsDir, removeCertsDir);
        const snippet = (declared.outputs.clientSnippets.value as { docker: ClientSnippet }).docker;
        writeFileSync(join(work, "docker-snippet.sh"), snippet.script);
        for (const [namespace, dockerd] of [
            [builderNs, builder],
            [hostNs, host],
        ] as const) {
            const login = await namespace.run("sh", [join(work, "docker-snippet.sh")], { env: dockerd.env, input: admin.password });
            assert.match(login.stdout + login.stderr, /Login Succeeded/);
        }
    });

    after(runCleanups);

    it("the two hosts reach each other and nothing else", async () => {
        await hostNs.assertNoRouteOut([REGISTRY_HOST_END.link]);
        await builderNs.assertNoRouteOut([BUILDER_END.link]);
    });

    it("before: the builder pushes two images; each pulls back by its digest", async () => {
        for (const [repo, bytes] of [
            ["before-small", MIB],
            ["before-medium", 16 * MIB],
        ] as const) {
            const image = await buildTestImage(builder, `${endpoint}/e2e/${repo}:1`, bytes, join(work, "images"));
            const result = await push(image.name);
            assert.equal(result.code, 0, result.stderr);
            const digest = /digest: (sha256:[0-9a-f]{64})/.exec(result.stdout)?.[1] ?? assert.fail(result.stdout);
            pushed.push({ repo, digest, imageId: image.id });
            await builder.docker(["rmi", image.name]);
        }
        await everyImagePulls();
    });

    it("the registry's process killed mid-push: Docker restarts it; docker push retries past the edge's dropped connections and completes", async () => {
        const registryPid = Number((await hostDocker(["inspect", "-f", "{{.State.Pid}}", container("registry")])).stdout.trim());
        const figures = await pushThrough("registry-killed", async () => {
            process.kill(registryPid, "SIGKILL");
            const restartAt = Date.now();
            await waitFor("the killed registry to be gone", () => !isAlive(registryPid), 10_000, 20);
            return { restartAt };
        });
        assert.ok(figures.dropped444 > 0, "the edge dropped no request while the registry was gone");
        assert.equal(figures.restarted.registry, true, "the registry's container was started again");
        assert.equal(figures.restarted.edge, false, "the edge kept running");
    });

    it("dockerd stopped (systemctl restart docker) mid-push: every service back by itself, the push retried to completion", async () => {
        // Beside the stack, a container of the same policy stopped by hand (as for maintenance).
        const stoppedByHand = `${PREFIX}-stopped-by-hand`;
        await hostDocker(["run", "-d", "--name", stoppedByHand, "--restart", "always", "--network", "none", edgeImage(), ...NGINX]);
        await hostDocker(["stop", stoppedByHand]);
        const figures = await pushThrough("dockerd-stopped", async () => {
            const stopAt = Date.now();
            await host.end("stop");
            const daemonExitMs = Date.now() - stopAt;
            return { ...(await startHostDockerd()), daemonExitMs };
        });
        for (const role of SERVICES) assert.equal(figures.restarted[role], true, `${role} was started again by the restart policy`);
        // `always` also starts what was stopped by hand, at Docker's next start.
        assert.equal((await hostDocker(["inspect", "-f", "{{.State.Status}}", stoppedByHand])).stdout.trim(), "running");
        await hostDocker(["rm", "-f", stoppedByHand]);
    });

    it("dockerd stopped for longer than docker push retries: the push fails, and run again once the registry is back, completes", async () => {
        await pushThrough(
            "dockerd-down-long",
            async (pushing) => {
                const stopAt = Date.now();
                await host.end("stop");
                const daemonExitMs = Date.now() - stopAt;
                // Down until Docker has given up on the push.
                await pushing;
                return { ...(await startHostDockerd()), daemonExitMs };
            },
            "gives up",
        );
    });

    it("dockerd killed (SIGKILL) mid-push, then started again: every service back by itself, the push retried to completion", async () => {
        // Beside the stack, a container with the other policy: what `unless-stopped` would do.
        const sentinel = `${PREFIX}-unless-stopped`;
        await hostDocker(["run", "-d", "--name", sentinel, "--restart", "unless-stopped", "--network", "none", edgeImage(), ...NGINX]);
        const figures = await pushThrough("dockerd-killed", async () => {
            await host.end("kill");
            return startHostDockerd();
        });
        for (const role of SERVICES) assert.equal(figures.restarted[role], true, `${role} was started again by the restart policy`);
        // Started again by the new dockerd, that stop counts as a user's: `unless-stopped` stays down.
        const left = (await hostDocker(["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", sentinel])).stdout.trim();
        assert.equal(left, "exited 0", `the unless-stopped container after dockerd's crash: ${left}`);
        await hostDocker(["rm", "-f", sentinel]);
    });

    it("a power cut mid-push, then a boot: every service back by itself, the push retried to completion", async () => {
        const figures = await pushThrough("power-cut", async () => {
            // The link goes first: nothing the dying processes send reaches the builder.
            await hostNs.run("ip", ["link", "set", REGISTRY_HOST_END.link, "down"]);
            await host.end("power-cut");
            // The boot: a fresh network state (no bridge, iptables rule or connection is kept), the
            // host's link up, then dockerd started by init.
            const bootedNs = await createNetworkNamespace("pr-rs-host");
            await moveLinkEnd(hostNs, bootedNs, REGISTRY_HOST_END);
            await hostNs.remove();
            hostNs = bootedNs;
            return startHostDockerd();
        });
        for (const role of SERVICES) assert.equal(figures.restarted[role], true, `${role} was started again by the restart policy`);
    });

    it("the secret holders never ran, through every restart", async () => {
        const holders = containers(declared)
            .filter((c) => c.inputs.start === false)
            .map((c) => c.inputs.name as string);
        assert.ok(holders.length > 0);
        for (const holder of holders)
            assert.equal((await hostDocker(["inspect", "-f", "{{.State.Status}}", holder])).stdout.trim(), "created", holder);
        console.log(`figures: ${JSON.stringify(figures)}`);
    });

    it("leaves nothing behind: both dockerds and their containers stopped, their mounts gone, the namespaces deleted", async () => {
        const builderPid = builder.pid;
        const builderNsPath = builderNs.path;
        await stopAndAssertNothingLeft(host, work);
        assert.equal(isAlive(builderPid), false, "the builder's dockerd");
        assert.equal(existsSync(builderNsPath), false, builderNsPath);
    });
});
