/**
 * `npm run bench`: what the edge costs, against the registry a user would otherwise run alone (in
 * plain HTTP, and over TLS with the same htpasswd) and the two published nginx setups, in both of
 * the stack's network modes, with Distribution 3 and nginx configured by the stack's renderers.
 *
 * Prints docs/benchmarks.md and writes it. Not a test: nothing here passes or fails.
 * `BENCH_QUICK=1 npm run bench` shrinks sizes and rounds to check the script itself (printing
 * only: docs/benchmarks.md keeps the real figures). Every run also appends its headline ratios to
 * BENCH_RUNS (default: private-registry-bench-runs.jsonl in the temp dir) and prints how far they
 * are from the two runs before it.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "fs";
import { loadavg, tmpdir } from "os";
import { join, resolve } from "path";
import { Daemon, describeError, makeTempDir, registerCleanup, runCleanups } from "../lib/processes";
import { renderDocument } from "./document";
import { describeMachine } from "./machine";
import { bridgeMode, createHost, hostMode, NetworkMode, Site } from "./network";
import { launcher, placeSelf, placementFor } from "./placement";
import { FOR_THE_DOCS, PLAN, QUICK, SETTINGS, TARGETS } from "./plan";
import { modeCases, timeEvaluations } from "./programEvaluation";
import { startDistributionRecipe, startSeed000 } from "./recipes";
import { Endpoint, repeatRequest } from "./registryClient";
import type { AuthRow, BusyRow, ModeOutcome, SweepRow } from "./report";
import { alternating, concurrentPull, Measurement, push, pushThenPull, Results, Target } from "./scenarios";
import { Bench, prepareBench, ProxyUnderTest, RegistryServer, startRegistryServer, startStackEdge, writeCertificates } from "./servers";
import { MIB, spread } from "./stats";
import { headlineRatios, RunRecord } from "./goals";
import { measureTlsLimit, negotiatedCipher } from "./tlsLimit";
import { Workload, writeWorkload } from "./workload";

/** docs/benchmarks.md: what follows this line is `npm run bench:storage`'s, pasted by hand. */
const STORAGE_MARKER = "<!-- bench:storage -->";

const progress = (text: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

/** Ports inside a site (each network namespace has all of its own). */
const PORTS = {
    registryPlain: 5000,
    registryTls: 5443,
    registryAuth: 5001,
    edge: { https: 443, http: 80 },
    tlsOnly: 9443,
    recipe: 5043,
    metrics: { plain: 5101, tls: 5102, behindEdge: 5103, auth: 5104, tcpBehindEdge: 5105 },
};

const { plain: REGISTRY_PLAIN, tls: REGISTRY_TLS, edge: EDGE } = TARGETS;

function registryTarget(name: string, slug: string, registry: RegistryServer): Target {
    return { name, slug, endpoint: registry.endpoint!, registryPid: registry.daemon.pid };
}

function proxyTarget(name: string, slug: string, proxy: ProxyUnderTest, fallback?: RegistryServer): Target {
    return {
        name,
        slug,
        endpoint: proxy.endpoint,
        fallbackPush: fallback?.endpoint,
        nginx: proxy.nginx,
        registryPid: proxy.registry.daemon.pid,
    };
}

/** Every scenario over every target: each round pushes and pulls the big layer, the small ones, then pulls concurrently. */
async function compare(targets: Target[], workload: Workload, label: string): Promise<Results> {
    const results = new Results();
    await alternating(
        targets,
        PLAN.rounds,
        async (target, round) => {
            const at = (figure: Parameters<Results["get"]>[1]) => results.get(target.name, figure);
            await pushThenPull(target, round, `bench/${target.slug}/big-${round}`, [workload.bigLayer], at("bigPush"), at("bigPull"));
            await pushThenPull(
                target,
                round,
                `bench/${target.slug}/small-${round}`,
                workload.smallLayers,
                at("smallPush"),
                at("smallPull"),
            );
            await concurrentPull(target, round, `bench/${target.slug}/shared`, workload.sharedLayer, PLAN.clients, at("concurrentPull"));
        },
        (text) => progress(`${label}: ${text}`),
    );
    return results;
}

/** The defaults and each setting alone on top of them: a push and a pull of the sweep layer, then concurrent pulls. */
async function sweep(references: Target[], edges: Target[], workload: Workload): Promise<SweepRow[]> {
    const rows = new Map<string, SweepRow>();
    const targets = [...references, ...edges];
    for (const target of targets)
        rows.set(target.name, { label: target.name, push: new Measurement(), pull: new Measurement(), concurrent: new Measurement() });
    await alternating(
        targets,
        PLAN.rounds,
        async (target, round) => {
            const row = rows.get(target.name)!;
            const repository = `bench/${target.slug}/sweep-${round}`;
            await pushThenPull(target, round, repository, [workload.sweepLayer], row.push, row.pull);
            await concurrentPull(target, round, repository, workload.sweepConcurrentLayer, PLAN.clients, row.concurrent);
        },
        (text) => progress(`settings: ${text}`),
    );
    return targets.map((target) => rows.get(target.name)!);
}

/**
 * The same big push with the client at normal priority on the edge's core: an edge sharing its
 * core with other work. Each row's ratio is to the registry alone in plain HTTP of the same rounds.
 */
async function busyEdgeCore(bench: Bench, host: NetworkMode, reference: Target, targets: Target[], workload: Workload): Promise<BusyRow[]> {
    const busyClient = [...host.client, ...launcher(bench.placement, "busy client")];
    const busy = [reference, ...targets].map((target) => ({ ...target, endpoint: { ...target.endpoint, client: busyClient } }));
    const pushes = new Map(busy.map((target) => [target.name, new Measurement()]));
    await alternating(
        busy,
        PLAN.rounds,
        (target, round) => push(target, round, `bench/${target.slug}/busy-${round}`, [workload.bigLayer], pushes.get(target.name)!),
        (text) => progress(`busy edge core: ${text}`),
    );
    const base = pushes.get(reference.name)!;
    return busy.map((target) => ({ name: target.name, push: pushes.get(target.name)!, reference: base }));
}

const WMEM_DEFAULT = "/proc/sys/net/core/wmem_default";

/**
 * Sets the host's default socket send buffer (every socket created meanwhile gets it, the edge's
 * connections to the registry's Unix socket too); returns what puts the old value back, also
 * registered as a cleanup should the bench stop first.
 */
async function raiseWmemDefault(bytes: number): Promise<() => Promise<void>> {
    if (!Number.isInteger(bytes) || bytes < 212992) throw new Error(`BENCH_WMEM_DEFAULT=${bytes}: a byte count of at least 212992`);
    const before = readFileSync(WMEM_DEFAULT, "utf8").trim();
    const put = () => writeFileSync(WMEM_DEFAULT, before);
    const unregister = registerCleanup(`net.core.wmem_default back to ${before}`, put, put);
    writeFileSync(WMEM_DEFAULT, String(bytes));
    progress(`net.core.wmem_default ${before} → ${bytes} for the busy edge core check`);
    return async () => {
        put();
        unregister();
    };
}

/** The fixed cost of one request with each kind of auth: what bounds the small-layer figures. */
async function measureAuthCost(cases: { label: string; endpoint: Endpoint }[]): Promise<AuthRow[]> {
    const samples = new Map(cases.map((c) => [c.label, [] as number[]]));
    const failures = new Map<string, string>();
    await alternating(
        cases.map((c) => ({ ...c, name: c.label })),
        PLAN.rounds,
        async ({ label, endpoint }) => {
            const outcome = await repeatRequest(endpoint, "/v2/", PLAN.authRequests);
            if (outcome.ok) samples.get(label)!.push((outcome.seconds * 1000) / PLAN.authRequests);
            else failures.set(label, outcome.reason);
        },
    );
    return cases.map(({ label }) => ({ label, msPerRequest: spread(samples.get(label)!), failure: failures.get(label) }));
}

/** One network mode: its servers, every scenario, the TLS limit, and (host networking) the settings, the busy core and auth. */
async function measureMode(bench: Bench, mode: NetworkMode, workload: Workload): Promise<ModeOutcome> {
    const daemons: Daemon[] = [];
    const keep = <T extends { daemon: Daemon } | { nginx: { daemon: Daemon } }>(server: T): T => {
        daemons.push("daemon" in server ? server.daemon : server.nginx.daemon);
        return server;
    };
    const bridge = mode.name === "bridge";
    const registry = async (
        name: string,
        site: Site,
        listen: { port: number } | "unix",
        auth: boolean,
        tls: boolean,
        metricsPort: number,
    ) => keep(await startRegistryServer(bench, { name: `${mode.name}-${name}`, site, listen, auth, tls, metricsPort }));
    progress(`${mode.label}: starting the registries and the edge`);
    const plain = await registry(
        "registry-plain",
        await mode.container("plain"),
        { port: PORTS.registryPlain },
        false,
        false,
        PORTS.metrics.plain,
    );
    const tls = await registry("registry-tls", await mode.container("tls"), { port: PORTS.registryTls }, true, true, PORTS.metrics.tls);
    const behindEdge = await registry(
        "registry-behind-edge",
        await mode.container("registry"),
        "unix",
        false,
        false,
        PORTS.metrics.behindEdge,
    );
    const edgeSite = await mode.container("edge");
    const edgePorts = bridge ? PORTS.edge : { https: 8443, http: 8080 };
    const edge = keep(await startStackEdge(bench, `${mode.name}-edge`, edgeSite, edgePorts, behindEdge, bridge));
    const targets = [
        registryTarget(REGISTRY_PLAIN, `${mode.name}-plain`, plain),
        registryTarget(REGISTRY_TLS, `${mode.name}-tls`, tls),
        proxyTarget(EDGE, `${mode.name}-edge`, edge),
    ];

    // The published setups, in host networking only: nginx and a registry on one host, as the posts run them.
    const notStarted: Record<string, string> = {};
    let withAuth: RegistryServer | undefined;
    if (!bridge) {
        withAuth = await registry("registry-auth", edgeSite, { port: PORTS.registryAuth }, true, false, PORTS.metrics.auth);
        const optional = async (name: string, start: () => Promise<ProxyUnderTest>, fallback: RegistryServer) => {
            try {
                targets.push(proxyTarget(name, name.toLowerCase().replace(/\W+/g, "-"), keep(await start()), fallback));
            } catch (error) {
                notStarted[name] = describeError(error).split("\n")[0];
            }
        };
        await optional("seed 000", () => startSeed000(bench, edgeSite, withAuth!), withAuth);
        await optional("Distribution recipe", () => startDistributionRecipe(bench, edgeSite, plain, PORTS.recipe), plain);
    }
    const ciphers: Record<string, string> = {};
    for (const target of targets.filter((t) => t.nginx || t.name === REGISTRY_TLS))
        ciphers[target.name] = await negotiatedCipher(target.endpoint);

    const results = await compare(targets, workload, mode.label);
    const edgeTarget = targets.find((t) => t.name === EDGE)!;
    const tlsLimit = await measureTlsLimit(
        bench,
        `${mode.name}-tls-only`,
        edgeSite,
        PORTS.tlsOnly,
        edgeTarget,
        workload.bigLayer,
        workload.sharedLayer,
        PLAN.clients,
        PLAN.rounds,
        (text) => progress(`${mode.label}: ${text}`),
    );
    const outcome: ModeOutcome = {
        name: mode.name,
        label: mode.label,
        targets: targets.map((t) => t.name),
        notStarted,
        ciphers,
        results,
        tlsLimit,
    };

    if (!bridge) {
        progress("settings: starting an edge per setting");
        const tcpBehindEdge = await registry(
            "registry-behind-edge-tcp",
            edgeSite,
            { port: 5002 },
            false,
            false,
            PORTS.metrics.tcpBehindEdge,
        );
        const settingEdges: Target[] = [];
        for (const [i, setting] of SETTINGS.entries()) {
            const backend = setting.transport === "tcp" ? tcpBehindEdge : behindEdge;
            const proxy = keep(
                await startStackEdge(
                    bench,
                    `setting-${i}`,
                    edgeSite,
                    { https: 10443 + 2 * i, http: 10080 + 2 * i },
                    backend,
                    false,
                    setting.tuning,
                ),
            );
            settingEdges.push(proxyTarget(`${EDGE} + ${setting.label}`, `setting-${i}`, proxy));
        }
        outcome.sweep = await sweep([targets[0], { ...edgeTarget, name: `${EDGE} (defaults)` }], settingEdges, workload);
        const busyTargets = [targets[1], edgeTarget, ...settingEdges.filter((_, i) => SETTINGS[i].busyCheck)];
        outcome.busy = await busyEdgeCore(bench, mode, targets[0], busyTargets, workload);
        // Opt-in: an edge whose connections to the registry were made with the host's default socket
        // send buffer raised (a machine-wide setting, put back right after), in rounds of its own
        // beside the registry alone, so no other edge's connection is made meanwhile.
        const raised = process.env.BENCH_WMEM_DEFAULT;
        if (raised !== undefined) {
            const restore = await raiseWmemDefault(Number(raised));
            try {
                const proxy = keep(await startStackEdge(bench, "edge-wmem", edgeSite, { https: 12443, http: 12080 }, behindEdge, false));
                const raisedEdge = proxyTarget(`${EDGE}, host's net.core.wmem_default ${raised}`, "edge-wmem", proxy);
                const rows = await busyEdgeCore(bench, mode, { ...targets[0], slug: `${targets[0].slug}-again` }, [raisedEdge], workload);
                outcome.busy.push(...rows.filter((row) => row.name === raisedEdge.name));
            } finally {
                await restore();
            }
        }
        progress("per-request cost of auth");
        outcome.auth = await measureAuthCost([
            { label: "registry alone, plain HTTP, no auth", endpoint: plain.endpoint! },
            { label: "registry alone, plain HTTP, htpasswd (bcrypt cost 5)", endpoint: withAuth!.endpoint! },
            { label: "registry alone, TLS + htpasswd", endpoint: tls.endpoint! },
            { label: "edge (TLS) → registry on its Unix socket, as deployed", endpoint: edge.endpoint },
        ]);
    }
    // Stopped before the next mode: they would compete with it for the same cores.
    for (const daemon of daemons.reverse()) await daemon.stop();
    return outcome;
}

async function main(): Promise<void> {
    const started = Date.now();
    const placement = placementFor();
    await placeSelf(placement);
    const loadSamples: number[] = [];
    const sampler = setInterval(() => loadSamples.push(loadavg()[0]), 10_000);
    sampler.unref();
    const machine = await describeMachine();
    const dir = makeTempDir("pr-bench-");
    const total =
        PLAN.bigLayerBytes +
        PLAN.smallLayerCount * PLAN.smallLayerBytes +
        PLAN.sharedLayerBytes +
        PLAN.sweepLayerBytes +
        PLAN.sweepConcurrentLayerBytes;
    progress(
        `load average ${loadavg()
            .map((l) => l.toFixed(2))
            .join(" ")}; writing ${(total / MIB).toFixed(0)} MiB of random layers under ${dir}`,
    );
    const workload = writeWorkload(dir, PLAN);
    const host = await createHost();
    const bench = await prepareBench(dir, writeCertificates(dir), placement, host.enter);
    const modes = [hostMode(host), await bridgeMode(host)];
    const outcomes: ModeOutcome[] = [];
    for (const mode of modes) outcomes.push(await measureMode(bench, mode, workload));

    // Servers down first: they would compete with the evaluations for the same cores.
    clearInterval(sampler);
    await runCleanups();
    progress(`program evaluation under mocks: ${PLAN.evaluations} runs per mode`);
    const evaluations = await timeEvaluations(modeCases(), PLAN.evaluations);

    const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const document = renderDocument({
        date,
        command: `${QUICK ? "BENCH_QUICK=1 " : ""}${process.env.BENCH_ROUNDS ? `BENCH_ROUNDS=${PLAN.rounds} ` : ""}npm run bench`,
        machine,
        placement,
        loadAtEnd: loadavg()[0],
        loadDuring: spread(loadSamples),
        durationSeconds: (Date.now() - started) / 1000,
        plan: PLAN,
        modes: outcomes,
        evaluations,
    });
    process.stdout.write(document);
    // A quick run checks the script; its toy figures must not replace the real ones. The object
    // storage figures (npm run bench:storage, pasted after STORAGE_MARKER) are kept.
    if (FOR_THE_DOCS) {
        const file = resolve(__dirname, "../../docs/benchmarks.md");
        const previous = existsSync(file) ? readFileSync(file, "utf8") : "";
        const storage = previous.includes(STORAGE_MARKER) ? previous.slice(previous.indexOf(STORAGE_MARKER)) : "";
        writeFileSync(file, storage ? `${document.trimEnd()}\n\n${storage}` : document);
    }
    recordRun({
        date,
        quick: !FOR_THE_DOCS,
        load: spread(loadSamples)?.median ?? machine.loadAtStart,
        ratios: headlineRatios(outcomes, PLAN),
    });
    progress(
        `${FOR_THE_DOCS ? "wrote docs/benchmarks.md" : "a check run: docs/benchmarks.md left alone"}; the bench took ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
}

/** Appends this run's headline ratios and prints how far each is from the two runs before it of the same kind. */
function recordRun(record: RunRecord): void {
    const file = process.env.BENCH_RUNS ?? join(tmpdir(), "private-registry-bench-runs.jsonl");
    const earlier = existsSync(file)
        ? readFileSync(file, "utf8")
              .split("\n")
              .filter(Boolean)
              .map((line) => JSON.parse(line) as RunRecord)
              .filter((run) => run.quick === record.quick)
              .slice(-2)
        : [];
    appendFileSync(file, `${JSON.stringify(record)}\n`);
    process.stderr.write(`\nHeadline ratios (${file}):\n`);
    for (const [name, value] of Object.entries(record.ratios)) {
        const before = earlier.map((run) => run.ratios[name]).filter((v): v is number => v !== undefined);
        const apart =
            before.length === 0
                ? ""
                : `; most apart from the last ${before.length}: ${Math.max(...before.map((v) => Math.abs(v - value))).toFixed(3)}`;
        process.stderr.write(`  ${name}: ${value.toFixed(3)} (earlier: ${before.map((v) => v.toFixed(3)).join(", ") || "none"}${apart})\n`);
    }
}

main()
    .catch((error: unknown) => {
        process.stderr.write(`bench failed: ${describeError(error)}\n`);
        process.exitCode = 1;
    })
    .finally(runCleanups);
