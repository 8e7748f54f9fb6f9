/**
 * `npm run bench`: what the edge costs, measured against the registry alone and against the two
 * published nginx setups (seed 000's block, the Distribution docs' recipe), on loopback with
 * Debian's nginx and Distribution registry configured by the stack's own renderers.
 *
 * Prints the tables and writes docs/benchmarks.md. Not a test: nothing here passes or fails.
 * `BENCH_QUICK=1 npm run bench` shrinks sizes and runs to check the script itself in two minutes
 * (printing only: docs/benchmarks.md keeps the real figures).
 */
import { existsSync, readFileSync, writeFileSync } from "fs";
import { loadavg } from "os";
import { resolve } from "path";
import { DEFAULT_EDGE_TUNING, EdgeTuning } from "../../components/render/edgeTuning";
import { describeError, makeTempDir, runCleanups } from "../lib/processes";
import { renderDocument } from "./document";
import { describeMachine } from "./machine";
import {
    AFTER_VARIANTS,
    BEFORE_PLUS,
    EDGE_AFTER,
    EDGE_BEFORE,
    PLAN,
    QUICK,
    Setting,
    TRANSPORT_AFTER,
    TRANSPORT_BEFORE,
    TUNING_BEFORE,
} from "./plan";
import { modeCases, timeEvaluations } from "./programEvaluation";
import { startDistributionRecipe, startSeed000 } from "./recipes";
import { Endpoint, pullBlobs, repeatRequest } from "./registryClient";
import { AuthRow, SweepRow, SweepRows } from "./report";
import { concurrentPull, interleaved, Measurement, pushThenPull, Results, Target } from "./scenarios";
import { Pki, ProxyUnderTest, Registries, RegistryServer, startRegistries, startStackEdge, Users, writeCertificates } from "./servers";
import { MIB, spread } from "./stats";
import { measureTlsLimit, negotiatedCipher, tlsPairRepository } from "./tlsLimit";
import { Profile, profileWhile } from "./profile";
import { Workload, writeWorkload } from "./workload";

/** docs/benchmarks.md: what follows this line is `npm run bench:storage`'s, pasted by hand. */
const STORAGE_MARKER = "<!-- bench:storage -->";

const USERS: Users = {
    stack: { username: "admin", password: "bench-Stack-passw0rd" },
    // The Distribution recipe's own example user.
    recipe: { username: "testuser", password: "testpassword" },
    // Hashed as RandomPassword.bcryptHash does (cost 10): what the stack used before this bench.
    former: { username: "former", password: "bench-Former-passw0rd" },
};

const progress = (text: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

function directTarget(registry: RegistryServer): Target {
    return {
        name: "direct",
        slug: "direct",
        endpoint: registry.endpoint,
        fallbackPush: registry.endpoint,
        registryPid: registry.daemon.pid,
    };
}

function proxyTarget(name: string, slug: string, proxy: ProxyUnderTest): Target {
    return {
        name,
        slug,
        endpoint: proxy.endpoint,
        fallbackPush: proxy.registry.endpoint,
        nginx: proxy.nginx,
        registryPid: proxy.registryPid,
    };
}

/** Items 1-5: every scenario over every target, interleaved. */
async function compare(targets: Target[], workload: Workload): Promise<Results> {
    const results = new Results();
    progress(`1. one ${PLAN.bigLayerBytes / MIB} MiB layer: ${PLAN.runs.big} runs × ${targets.length} targets`);
    await interleaved(
        targets,
        PLAN.runs.big,
        (target, i) =>
            pushThenPull(
                target,
                `bench/${target.slug}/big-${i}`,
                [workload.bigLayer],
                results.get(target.name, "bigPush"),
                results.get(target.name, "bigPull"),
            ),
        progress,
    );
    progress(`2. ${PLAN.smallLayerCount} small layers: ${PLAN.runs.small} runs`);
    await interleaved(
        targets,
        PLAN.runs.small,
        (target, i) =>
            pushThenPull(
                target,
                `bench/${target.slug}/small-${i}`,
                workload.smallLayers,
                results.get(target.name, "smallPush"),
                results.get(target.name, "smallPull"),
            ),
        progress,
    );
    progress(`3. ${PLAN.clients} concurrent pulls: ${PLAN.runs.concurrent} runs`);
    await interleaved(
        targets,
        PLAN.runs.concurrent,
        (target) =>
            concurrentPull(
                target,
                `bench/${target.slug}/shared`,
                workload.sharedLayer,
                PLAN.clients,
                results.get(target.name, "concurrentPull"),
            ),
        progress,
    );
    return results;
}

/** The edges of the settings table: "before", each change on it, "after", each knob on it. */
interface SweepEdges {
    before: ProxyUnderTest;
    beforePlus: ProxyUnderTest[];
    after: ProxyUnderTest;
    afterVariants: ProxyUnderTest[];
}

async function startSweepEdges(
    dir: string,
    pki: Pki,
    registry: RegistryServer,
    before: ProxyUnderTest,
    after: ProxyUnderTest,
): Promise<SweepEdges> {
    const start = (name: string, base: EdgeTuning, baseTransport: typeof TRANSPORT_AFTER, setting: Setting) =>
        startStackEdge(dir, name, pki, registry, USERS.stack, { ...base, ...setting.tuning }, setting.transport ?? baseTransport);
    const beforePlus: ProxyUnderTest[] = [];
    for (const [i, setting] of BEFORE_PLUS.entries())
        beforePlus.push(await start(`edge-before-plus-${i}`, TUNING_BEFORE, TRANSPORT_BEFORE, setting));
    const afterVariants: ProxyUnderTest[] = [];
    for (const [i, setting] of AFTER_VARIANTS.entries())
        afterVariants.push(await start(`edge-after-variant-${i}`, DEFAULT_EDGE_TUNING, TRANSPORT_AFTER, setting));
    return { before, beforePlus, after, afterVariants };
}

/** Before/after per setting on the shared layer: push and pull on one connection, then concurrent pulls. */
async function sweep(direct: Target, edges: SweepEdges, workload: Workload): Promise<SweepRows> {
    const row = (label: string): SweepRow => ({ label, push: new Measurement(), pull: new Measurement(), concurrent: new Measurement() });
    const rows: SweepRows = {
        direct: row("direct (no edge)"),
        before: row("before"),
        buffers: BEFORE_PLUS.map(({ label }) => row(`before + ${label}`)),
        newDefaults: row("after (new defaults)"),
        others: AFTER_VARIANTS.map(({ label }) => row(`after + ${label}`)),
    };
    const visits: { target: Target; into: SweepRow }[] = [
        { target: direct, into: rows.direct },
        { target: proxyTarget("before", "sweep-before", edges.before), into: rows.before },
        ...edges.beforePlus.map((proxy, i) => ({
            target: proxyTarget(rows.buffers[i].label, `before-plus-${i}`, proxy),
            into: rows.buffers[i],
        })),
        { target: proxyTarget("after", "sweep-after", edges.after), into: rows.newDefaults },
        ...edges.afterVariants.map((proxy, i) => ({
            target: proxyTarget(rows.others[i].label, `after-variant-${i}`, proxy),
            into: rows.others[i],
        })),
    ];
    progress(`settings: ${visits.length - 1} edges + direct, ${PLAN.runs.sweep} runs`);
    const targets = visits.map((v) => v.target);
    await interleaved(
        targets,
        PLAN.runs.sweep,
        async (target, i) => {
            const into = visits[targets.indexOf(target)].into;
            const repository = `bench/${target.slug}/sweep-${i}`;
            await pushThenPull(target, repository, [workload.sharedLayer], into.push, into.pull);
            await concurrentPull(target, repository, workload.sweepConcurrentLayer, PLAN.clients, into.concurrent);
        },
        progress,
    );
    return rows;
}

/** The fixed cost of one request with each kind of auth: what bounds the small-layer figures. */
async function measureAuthCost(registries: Registries, edge: ProxyUnderTest): Promise<AuthRow[]> {
    const recipeUser = ["-u", `${USERS.recipe.username}:${USERS.recipe.password}`];
    const cases: { label: string; endpoint: Endpoint }[] = [
        { label: "registry, no auth (direct)", endpoint: registries.open.endpoint },
        {
            label: "registry, bcrypt cost 5 (`htpasswd -B`, the seeds' tool)",
            endpoint: { baseUrl: registries.withAuth.endpoint.baseUrl, curlOptions: recipeUser },
        },
        {
            label: "registry, bcrypt cost 10 (`RandomPassword.bcryptHash`, the stack before this bench)",
            endpoint: {
                baseUrl: registries.withAuth.endpoint.baseUrl,
                curlOptions: ["-u", `${USERS.former.username}:${USERS.former.password}`],
            },
        },
        { label: "registry, the stack's hash (bcrypt cost 5, salt kept in state)", endpoint: registries.withAuth.endpoint },
        { label: "edge (TLS) → registry, the stack as deployed", endpoint: edge.endpoint },
    ];
    const rows: AuthRow[] = [];
    for (const { label, endpoint } of cases) {
        const samples: number[] = [];
        let failure: string | undefined;
        for (let i = 0; i < PLAN.runs.auth; i++) {
            const outcome = await repeatRequest(endpoint, "/v2/", PLAN.authRequests);
            if (outcome.ok) samples.push((outcome.seconds * 1000) / PLAN.authRequests);
            else failure = outcome.reason;
        }
        rows.push({ label, msPerRequest: spread(samples), failure });
    }
    return rows;
}

async function main(): Promise<void> {
    const started = Date.now();
    const loadSamples: number[] = [];
    const sampler = setInterval(() => loadSamples.push(loadavg()[0]), 10_000);
    sampler.unref();
    const machine = await describeMachine();
    const dir = makeTempDir("pr-bench-");
    const total = PLAN.bigLayerBytes + PLAN.smallLayerCount * PLAN.smallLayerBytes + PLAN.sharedLayerBytes + PLAN.sweepConcurrentLayerBytes;
    progress(`writing ${(total / MIB).toFixed(0)} MiB of random layers under ${dir}`);
    const workload = writeWorkload(dir, PLAN);
    const pki = writeCertificates(dir);
    const registries = await startRegistries(dir, USERS);

    progress("starting nginx: the stack's edge (before, after, and each setting tried), seed 000, the Distribution recipe");
    const edgeBefore = await startStackEdge(dir, "edge-before", pki, registries.withAuth, USERS.stack, TUNING_BEFORE, TRANSPORT_BEFORE);
    const edge = await startStackEdge(dir, "edge-after", pki, registries.withAuth, USERS.stack, DEFAULT_EDGE_TUNING, TRANSPORT_AFTER);
    const sweepEdges = await startSweepEdges(dir, pki, registries.withAuth, edgeBefore, edge);
    // A published setup that cannot even start here (e.g. port 443 taken) is reported, not fatal.
    const notStarted: Record<string, string> = {};
    const optional = (name: string, start: () => Promise<ProxyUnderTest>) =>
        start().catch((error: unknown) => {
            notStarted[name] = describeError(error).split("\n")[0];
            return undefined;
        });
    const seed = await optional("seed 000", () => startSeed000(dir, pki, registries.withAuth, USERS.recipe));
    const recipe = await optional("Distribution recipe", () =>
        startDistributionRecipe(dir, pki, registries.open, USERS.recipe, registries.nginxHtpasswdPath),
    );

    const direct = directTarget(registries.open);
    const targets = [direct, proxyTarget(EDGE_BEFORE, "before", edgeBefore), proxyTarget(EDGE_AFTER, "after", edge)];
    if (seed) targets.push(proxyTarget("seed 000", "seed", seed));
    if (recipe) targets.push(proxyTarget("Distribution recipe", "recipe", recipe));
    const ciphers: Record<string, string> = {};
    for (const target of targets.filter((t) => t.nginx)) ciphers[target.name] = await negotiatedCipher(target.endpoint);

    const results = await compare(targets, workload);
    progress("TLS limit: openssl speed, then TLS-only transfers alternating with edge pulls");
    const ktlsEdge = sweepEdges.afterVariants[AFTER_VARIANTS.findIndex((setting) => setting.tuning.kernelTls === true)];
    const tcpAfter = sweepEdges.afterVariants[AFTER_VARIANTS.findIndex((setting) => setting.transport === "tcp")];
    const tlsLimit = await measureTlsLimit(
        dir,
        workload.bigLayer,
        pki,
        [
            { label: "before", proxy: edgeBefore },
            { label: "after", proxy: edge },
            { label: "after, registry over TCP loopback", proxy: tcpAfter },
        ],
        ktlsEdge,
        PLAN.runs.tls,
        progress,
        { blob: workload.sharedLayer, clients: PLAN.clients },
    );
    progress("profiles: perf on nginx and the registry during one pull per edge");
    const profiles: Profile[] = [];
    for (const { label, proxy } of [
        { label: "before", proxy: edgeBefore },
        { label: "after", proxy: edge },
        { label: "after, registry over TCP loopback", proxy: tcpAfter },
    ]) {
        const profile = await profileWhile(dir, label, proxy.nginx.daemon.pid, proxy.registryPid, () =>
            pullBlobs(proxy.endpoint, tlsPairRepository(0), [workload.bigLayer]),
        );
        if (profile !== undefined) profiles.push(profile);
    }
    const sweepRows = await sweep(direct, sweepEdges, workload);
    progress("per-request cost of auth");
    const authRows = await measureAuthCost(registries, edge);

    // Servers down first: they would compete with the evaluations for the same two cores.
    clearInterval(sampler);
    await runCleanups();
    progress(`6. program evaluation under mocks: ${PLAN.runs.evaluation} runs per mode`);
    const evaluations = await timeEvaluations(modeCases(), PLAN.runs.evaluation);

    const document = renderDocument({
        date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        command: QUICK ? "BENCH_QUICK=1 npm run bench" : "npm run bench",
        machine,
        loadAtEnd: loadavg()[0],
        loadDuring: spread(loadSamples),
        durationSeconds: (Date.now() - started) / 1000,
        plan: PLAN,
        results,
        targets: targets.map((t) => t.name),
        notStarted,
        ciphers,
        tlsLimit,
        sweepRows,
        profiles,
        authRows,
        evaluations,
    });
    process.stdout.write(document);
    // A quick run checks the script; its toy figures must not replace the real ones. The object
    // storage figures (npm run bench:storage, pasted after STORAGE_MARKER) are kept.
    if (!QUICK) {
        const file = resolve(__dirname, "../../docs/benchmarks.md");
        const previous = existsSync(file) ? readFileSync(file, "utf8") : "";
        const storage = previous.includes(STORAGE_MARKER) ? previous.slice(previous.indexOf(STORAGE_MARKER)) : "";
        writeFileSync(file, storage ? `${document.trimEnd()}\n\n${storage}` : document);
    }
    progress(
        `${QUICK ? "quick run: docs/benchmarks.md left alone" : "wrote docs/benchmarks.md"}; the bench took ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
}

main()
    .catch((error: unknown) => {
        process.stderr.write(`bench failed: ${describeError(error)}\n`);
        process.exitCode = 1;
    })
    .finally(runCleanups);
