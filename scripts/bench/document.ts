/** docs/benchmarks.md: the tables, how they were made, the goals, and what bounds each figure. */
import type { Machine } from "./machine";
import { DEFAULT_EDGE_TUNING } from "../../components/render/edgeTuning";
import { comparisonRows, describeTuning, EDGE_AFTER, EDGE_BEFORE, figureBytes, formatSize, Plan, TUNING_BEFORE } from "./plan";
import type { ModeTiming } from "./programEvaluation";
import {
    AuthRow,
    authTable,
    comparisonTable,
    cpuTable,
    evaluationTable,
    machineLines,
    resourceTable,
    SweepRows,
    sweepTable,
    table,
    tlsTable,
} from "./report";
import type { Figure, Results } from "./scenarios";
import type { TlsLimit } from "./tlsLimit";
import type { Profile, ProfileRow } from "./profile";
import { formatBytes, spread, Spread } from "./stats";

export interface BenchOutcome {
    date: string;
    command: string;
    machine: Machine;
    loadAtEnd: number;
    /** The 1-minute load average sampled while the servers ran. */
    loadDuring?: Spread;
    durationSeconds: number;
    plan: Plan;
    results: Results;
    /** Column order of the comparison: "direct" first. */
    targets: string[];
    notStarted: Record<string, string>;
    /** Protocol and cipher curl negotiated with each TLS target. */
    ciphers: Record<string, string>;
    tlsLimit: TlsLimit;
    sweepRows: SweepRows;
    /** perf profiles of one pull per edge (none where perf is missing). */
    profiles: Profile[];
    authRows: AuthRow[];
    evaluations: ModeTiming[];
}

const median = (rates: number[]) => spread(rates)?.median;
const fixed = (n: number | undefined, digits = 0) => (n === undefined ? "?" : n.toFixed(digits));

function ratio(results: Results, target: string, figure: Figure): number | undefined {
    const top = median(results.get(target, figure).rates);
    const bottom = median(results.get("direct", figure).rates);
    return top === undefined || bottom === undefined ? undefined : top / bottom;
}

function goals(outcome: BenchOutcome): string {
    const { results, tlsLimit } = outcome;
    const verdict = (value: number | undefined, goal: number) =>
        value === undefined ? "not measured" : value >= goal ? "**met**" : "**not met**";
    const pairOf = (label: string) => tlsLimit.pairs.find((p) => p.label === label);
    const ofLimit = (label: string) => {
        const pair = pairOf(label);
        return pair?.edgePull && pair.tlsOnly ? pair.edgePull.median / pair.tlsOnly.median : undefined;
    };
    const ofConcurrentLimit = (label: string) => {
        const pair = pairOf(label);
        return pair?.edgeConcurrent && pair.tlsOnlyConcurrent ? pair.edgeConcurrent.median / pair.tlsOnlyConcurrent.median : undefined;
    };
    const concurrentOfLimit = ofConcurrentLimit("after");
    const after = pairOf("after");
    const push = { before: ratio(results, EDGE_BEFORE, "bigPush"), after: ratio(results, EDGE_AFTER, "bigPush") };
    const concurrent = { before: ratio(results, EDGE_BEFORE, "concurrentPull"), after: ratio(results, EDGE_AFTER, "concurrentPull") };
    const figures: Figure[] = ["bigPush", "bigPull", "smallPush", "smallPull", "concurrentPull"];
    const spooled = Math.max(...figures.map((figure) => results.get(EDGE_AFTER, figure).peak((u) => u.nginxPeakTempBytes) ?? 0));
    const written = Math.max(
        ...(["bigPush", "bigPull"] as Figure[]).map((figure) => results.get(EDGE_AFTER, figure).peak((u) => u.nginxWriteBytes) ?? 0),
    );
    const percent = (value: number | undefined) => (value === undefined ? "?" : `${(value * 100).toFixed(0)}%`);
    return [
        'Each verdict is "after" (the new defaults) in this one run; "before" beside it for comparison.',
        "",
        `- Pull ≥ 0.9 of the TLS-only limit (${formatSize(outcome.plan.bigLayerBytes)}, alternating rounds): after ${fixed(ofLimit("after"), 2)} ` +
            `(${fixed(after?.edgePull?.median)} vs ${fixed(after?.tlsOnly?.median)} MiB/s), before ${fixed(ofLimit("before"), 2)}: ${verdict(ofLimit("after"), 0.9)}.`,
        `- ${outcome.plan.clients} concurrent pulls ≥ 0.9 of direct: after ${fixed(concurrent.after, 2)}, before ${fixed(concurrent.before, 2)}: ${verdict(concurrent.after, 0.9)}.` +
            (concurrent.after !== undefined && concurrent.after < 0.9
                ? ` Direct is plain HTTP; with the clients on the same two cores, TLS's cost on both ends bounds any TLS server below it (see "What limits each figure"). Against that bound, ${outcome.plan.clients} TLS-only fetches of the same file in the same rounds: after ${fixed(concurrentOfLimit, 2)}, before ${fixed(ofConcurrentLimit("before"), 2)}${concurrentOfLimit === undefined ? "" : concurrentOfLimit >= 0.9 ? " (≥ 0.9)" : " (< 0.9)"}.`
                : ""),
        `- Push ≥ 0.95 of direct (${formatSize(outcome.plan.bigLayerBytes)}): after ${fixed(push.after, 2)}, before ${fixed(push.before, 2)}: ${verdict(push.after, 0.95)}. ` +
            "The two sides push into two registry processes with the same config, so anything within ±0.1 of 1 reads as equal.",
        `- Nothing spooled: nginx temp files at most ${formatBytes(spooled)} over every scenario, file bytes nginx wrote in a ${formatSize(outcome.plan.bigLayerBytes)} push or pull at most ${formatBytes(written)} (access-log lines): ${spooled === 0 ? "**met**" : "**not met**"}.`,
        "",
        `Pull as a share of the TLS-only limit: before ${percent(ofLimit("before"))}, after ${percent(ofLimit("after"))}, after with the registry over TCP loopback ${percent(ofLimit("after, registry over TCP loopback"))}.`,
    ].join("\n");
}

/** perf's split of the servers' samples by process and library, one column per edge. */
function profileTable(profiles: Profile[]): string {
    if (profiles.length === 0) return "(perf is not installed: no profile.)";
    const key = (row: ProfileRow) => `${row.process} ${row.library}`;
    const keys = [...new Set(profiles.flatMap((p) => p.rows.filter((r) => r.percent >= 1).map(key)))];
    const share = (profile: Profile, k: string) => profile.rows.filter((r) => key(r) === k).reduce((sum, r) => sum + r.percent, 0);
    keys.sort((a, b) => share(profiles[0], b) - share(profiles[0], a));
    const rows = keys.map((k) => [
        `\`${k.split(" ")[0]}\``,
        `\`${k.split(" ")[1]}\``,
        ...profiles.map((p) => `${share(p, k).toFixed(1)}%`),
    ]);
    const rest = profiles.map((p) => `${Math.max(0, 100 - keys.reduce((sum, k) => sum + share(p, k), 0)).toFixed(1)}%`);
    return table(["process", "where", ...profiles.map((p) => p.label)], [...rows, ["everything under 1%", "", ...rest]]);
}

/** Where a pulled GiB's CPU goes, per edge of the TLS table: the account the issue asks for. */
function whereTheTimeGoes(outcome: BenchOutcome): string {
    const { tlsLimit } = outcome;
    const rows = tlsLimit.pairs.map((pair) => {
        const total = (pair.edgeNginxCpu ?? 0) + (pair.edgeRegistryCpu ?? 0);
        return [
            pair.label,
            fixed(pair.edgeNginxCpu, 2),
            fixed(pair.edgeRegistryCpu, 2),
            fixed(total, 2),
            fixed(pair.edgeClientCpu, 2),
            fixed(pair.tlsOnlyNginxCpu, 2),
            fixed(pair.tlsOnlyClientCpu, 2),
            pair.tlsOnlyNginxCpu === undefined ? "?" : `${(total / pair.tlsOnlyNginxCpu).toFixed(2)}x`,
        ];
    });
    return table(
        [
            `Edge (${formatSize(outcome.plan.bigLayerBytes)} pull)`,
            "nginx CPU-s/GiB",
            "registry CPU-s/GiB",
            "server side total",
            "curl CPU-s/GiB",
            "TLS only: nginx CPU-s/GiB",
            "TLS only: curl CPU-s/GiB",
            "server side vs TLS only",
        ],
        rows,
    );
}

/** Settings whose row differs from its reference by more than `threshold` in any throughput column. */
function settingsThatMoved(outcome: BenchOutcome, threshold = 0.1): string {
    const { sweepRows } = outcome;
    const groups = [
        { reference: sweepRows.before, rows: sweepRows.buffers },
        { reference: sweepRows.newDefaults, rows: sweepRows.others },
    ];
    const moved: string[] = [];
    for (const { reference, rows } of groups) {
        for (const row of rows) {
            const changes = (["push", "pull", "concurrent"] as const).flatMap((column) => {
                const value = spread(row[column].rates);
                const base = spread(reference[column].rates);
                if (value === undefined || base === undefined) return [];
                const change = value.median / base.median - 1;
                // Beyond the threshold and beyond the noise: the two rows' min–max ranges do not overlap.
                const separate = value.min > base.max || value.max < base.min;
                return Math.abs(change) > threshold && separate ? [`${column} ${change > 0 ? "+" : ""}${(change * 100).toFixed(0)}%`] : [];
            });
            if (changes.length > 0) moved.push(`${row.label}: ${changes.join(", ")}`);
        }
    }
    const newDefaults = (["push", "pull", "concurrent"] as const).map((column) => {
        const value = median(sweepRows.newDefaults[column].rates);
        const base = median(sweepRows.before[column].rates);
        return `${column} ${value === undefined || base === undefined ? "?" : `${(value / base).toFixed(2)}x`}`;
    });
    return [
        `Settings that moved a figure by more than ${threshold * 100}% against their reference, with the min–max ranges of the two rows apart: ${moved.length === 0 ? "none." : ""}`,
        ...moved.map((line) => `- ${line}`),
        "",
        `After against before: ${newDefaults.join(", ")}. Every other change stayed inside the run-to-run spread.`,
    ].join("\n");
}

/** What bounds each figure, one short item per figure, with this run's numbers in it. */
function limits(outcome: BenchOutcome): string {
    const { results, tlsLimit, authRows, plan } = outcome;
    const rateOf = (target: string, figure: Figure) => median(results.get(target, figure).rates);
    const rate = (target: string, figure: Figure) => fixed(rateOf(target, figure));
    const busy = (target: string, figure: Figure) => {
        const value = spread(results.get(target, figure).uses.map((u) => u.machineBusy))?.median;
        return value === undefined ? "?" : `${(value * 100).toFixed(0)}%`;
    };
    const cpuOf = (target: string, figure: Figure, who: "nginxCpuSeconds" | "registryCpuSeconds" | "clientCpuSeconds") => {
        const value = spread(results.get(target, figure).uses.map((u) => u[who] ?? 0))?.median;
        return value === undefined ? undefined : value / (figureBytes(plan, figure) / 2 ** 30);
    };
    const cpu = (target: string, figure: Figure, who: "nginxCpuSeconds" | "registryCpuSeconds" | "clientCpuSeconds") =>
        fixed(cpuOf(target, figure, who), 2);
    /** nginx + registry + curl CPU-seconds per GiB: all the work one GiB costs these two cores. */
    const totalCpuOf = (target: string, figure: Figure) =>
        (["nginxCpuSeconds", "registryCpuSeconds", "clientCpuSeconds"] as const).reduce(
            (sum, who) => sum + (cpuOf(target, figure, who) ?? 0),
            0,
        );
    const auth = (i: number) => authRows[i]?.msPerRequest?.median;
    const share = (pair: (typeof tlsLimit.pairs)[number] | undefined) =>
        pair?.edgePull && pair.tlsOnly ? `${((pair.edgePull.median / pair.tlsOnly.median) * 100).toFixed(0)}%` : "?";
    const after = tlsLimit.pairs.find((p) => p.label === "after");
    const before = tlsLimit.pairs.find((p) => p.label === "before");
    return [
        `The client, nginx and the registry share the machine's ${outcome.machine.cores} cores, so CPU bounds every figure.`,
        "",
        `- **Push**: one stream, bound by the registry hashing and writing it (${cpu("direct", "bigPush", "registryCpuSeconds")} CPU-s per GiB). ` +
            `The edge's TLS and relaying (nginx ${cpu(EDGE_AFTER, "bigPush", "nginxCpuSeconds")} CPU-s/GiB) run on another core: ratio ${fixed(ratio(results, EDGE_AFTER, "bigPush"), 2)} of direct.`,
        `- **Pull**: bound by TLS. A TLS-only transfer of a file reaches ${fixed(after?.tlsOnly?.median)} MiB/s; the edge reaches ${share(after)} of it ` +
            `(before blob files: ${share(before)}), since nginx sends the blob's file itself once the registry's HEAD allows it.`,
        `- **Concurrent pulls**: the cores are saturated (${busy(EDGE_AFTER, "concurrentPull")} busy). Direct is plain HTTP (${fixed(totalCpuOf("direct", "concurrentPull"), 2)} CPU-s per GiB in all); ` +
            `the edge encrypts on both ends (${fixed(totalCpuOf(EDGE_AFTER, "concurrentPull"), 2)} CPU-s per GiB), which bounds it at about ${fixed(totalCpuOf("direct", "concurrentPull") / totalCpuOf(EDGE_AFTER, "concurrentPull"), 2)} of direct.`,
        `- **Small layers**: one bcrypt check per request, ${fixed(auth(3), 1)} ms with the stack's cost-5 hash (${fixed(auth(2), 1)} ms at cost 10, ${fixed(auth(0), 1)} ms without auth).`,
        `- **Loopback** is never the limit: direct pulls move ${rate("direct", "bigPull")} MiB/s through it.`,
    ].join("\n");
}

/** How the published setups behave, in words, under the table that shows it. */
const SETUP_NOTES = `- seed 000 sets no \`client_max_body_size\`: nginx's default (1m) refuses every larger layer with 413 (1 MiB layers
  just fit), so its pulls were measured on blobs put into its registry directly. Its stock settings also buffer
  responses (\`proxy_buffering on\`), to temp files when the client falls behind.
- The Distribution recipe leaves \`proxy_request_buffering\` on (each pushed layer is written to a temp file in full
  before the registry sees a byte), runs one worker (no \`worker_processes\`) and speaks TLS 1.2 only.
- The stack's edge relays pushes as they arrive and buffers pulls in RAM only, never in a temp file; it does no auth
  itself: the registry checks the bcrypt hash on every request (after: a blob GET's HEAD included).
- curl negotiates AES-256-GCM where the server lets it choose; docker and containerd (Go) pick AES-128-GCM on CPUs
  with AES instructions.`;

export function renderDocument(outcome: BenchOutcome): string {
    const { plan, results, targets, machine, tlsLimit } = outcome;
    const rows = comparisonRows(plan);
    const runs = plan.runs;
    const cipherLines = Object.entries(outcome.ciphers)
        .map(([target, cipher]) => `${target}: ${cipher}`)
        .join("; ");
    const kernelTls = tlsLimit.kernelTls;
    return `# Benchmarks: what the edge costs

Generated by \`${outcome.command}\` (scripts/bench/bench.ts) on ${outcome.date}; the run took ${(outcome.durationSeconds / 60).toFixed(1)} minutes.

## Machine

${machineLines(machine)}
- 1-minute load average during the run (sampled every 10 s): median ${fixed(outcome.loadDuring?.median, 2)}, min–max ${fixed(outcome.loadDuring?.min, 2)}–${fixed(outcome.loadDuring?.max, 2)}; when it ended: ${outcome.loadAtEnd.toFixed(2)}.
- Every figure is a median (min–max) of runs that visited all targets in turn; each ratio compares medians of
  this one run, so both sides saw the same conditions.

## How

- Servers on loopback only: Debian's Distribution registry with the stack's rendered \`config.yml\` and
  htpasswd, Debian's nginx with the rendered \`nginx.conf\` (\`renderEdgeConfig\`, default tuning), and one
  ECDSA P-256 certificate from a private CA for every TLS endpoint.
- One client everywhere, curl: push = \`POST /v2/<name>/blobs/uploads/\`, then a monolithic \`PUT\` with the digest;
  pull = \`GET /v2/<name>/blobs/<digest>\`. A batch of layers is one curl process with \`--next\`, so it reuses one
  connection as docker and containerd do. Random (incompressible) data; blobs are served from the page cache.
- **direct**: the registry with the stack's config minus \`auth\`, plain HTTP. **edge before** and **edge after**: the stack's
  nginx (TLS 1.2/1.3, HSTS, no temp files either way) in front of the registry with the stack's htpasswd (bcrypt cost 5 with a salt
  kept in state, as \`components/render/htpasswd.ts\` makes it); before = the defaults before blob files, every request
  proxied over TCP loopback; after = today's defaults: blob GETs sent from the registry's files once its HEAD of the same
  URL says 200, everything else proxied through a Unix socket to a second registry process on the same storage and htpasswd. **seed 000**: the post's \`location /\` block as published, inside Debian's stock
  \`nginx.conf\`, listening on 443 (its \`Host $host\` drops the port from upload URLs) in front of a registry with htpasswd
  (\`htpasswd -Bbn\`, cost 5, as in the post). **Distribution recipe**: the whole \`nginx.conf\` of the Distribution docs'
  "Authenticate proxy with nginx" recipe (nginx does \`auth_basic\`, the registry has none). Only certificate paths,
  addresses, ports and the htpasswd path are substituted; the harness adds pid/log/temp paths.
- Runs: ${runs.big} of scenario 1, ${runs.small} of 2, ${runs.concurrent} of 3, ${runs.tls} alternating TLS-only/edge pulls, ${runs.sweep} per setting tried,
  ${runs.evaluation} evaluations per mode. Where a push fails, its pull is measured on a blob put into the registry directly.
- MiB/s = 2^20 bytes per second of wall time, from the first request to the last byte.

## 1–4. Throughput: the edge, the registry alone, and the published setups

${comparisonTable(results, targets, rows, outcome.notStarted)}

Negotiated TLS: ${cipherLines || "–"}.

${SETUP_NOTES}

## 5. Spooling and memory

${resourceTable(results, targets, formatSize(plan.bigLayerBytes))}

Temp-file bytes are the largest total size of the temp files nginx held open (sampled every 100 ms; nginx unlinks
them at once, so the directory itself always looks empty); "bytes nginx wrote" is the kernel's count of file pages
nginx dirtied (\`/proc/<pid>/io\` write_bytes, access-log lines included). RSS is sampled every 100 ms over all scenarios.

Where the CPU went (median per run, CPU-seconds per GiB moved; "all cores busy" includes curl and anyone else):

${cpuTable(results, targets, rows, (figure) => figureBytes(plan, figure))}

## The TLS limit of the CPU

${tlsTable(tlsLimit, formatSize(plan.bigLayerBytes))}

Where a pulled GiB's CPU goes (medians of the rounds above; curl decrypts on the same two cores):

${whereTheTimeGoes(outcome)}

The same pull profiled (\`perf record -F 999\` on nginx's processes and the registry's, one ${formatSize(plan.bigLayerBytes)} pull per edge;
shares of each column's samples; \`[kernel.kallsyms]\` is system calls and copies, \`libcrypto\` the cipher):

${profileTable(outcome.profiles)}

kTLS: OpenSSL ${tlsLimit.opensslKtls ? "is built with KTLS" : "is built without KTLS"}; the kernel ${kernelTls.kernelModule ? "offers" : "does **not** offer"} the \`tls\` upper-layer protocol
(\`/proc/sys/net/ipv4/tcp_available_ulp\`${kernelTls.kernelModule ? "" : ": CONFIG_TLS is not set, and the kernel loads no modules"}), and nginx with \`ssl_conf_command Options KTLS\`
${kernelTls.engagedInNginx ? "did" : "did **not**"} log \`BIO_get_ktls_send(): 1\`. ${kernelTls.engagedInNginx ? "" : "kTLS therefore could not be measured; its row below shows the setting is harmless when unavailable."}

## Settings tried: before/after

Measured on the ${formatSize(plan.sharedLayerBytes)} layer (push, then pull, on one connection) and ${plan.clients} concurrent pulls of a ${formatSize(plan.sweepConcurrentLayerBytes)} layer
(each client's TLS handshake and bcrypt check weigh more on this smaller layer), all rows interleaved.
"before" is the edge's defaults before blob files (${describeTuning(TUNING_BEFORE, DEFAULT_EDGE_TUNING)}; the registry over TCP loopback);
"after" is today's defaults with the registry on a Unix socket. nginx CPU-s/GiB is steadier than MiB/s when neighbours load the machine.

Each change that makes "after", alone on top of "before", then "after":

${sweepTable([outcome.sweepRows.direct, outcome.sweepRows.before, ...outcome.sweepRows.buffers, outcome.sweepRows.newDefaults], outcome.sweepRows.before, plan)}

Every other knob, one at a time on top of "after":

${sweepTable([outcome.sweepRows.newDefaults, ...outcome.sweepRows.others], outcome.sweepRows.newDefaults, plan)}

${settingsThatMoved(outcome)}

## Per-request cost of auth

${authTable(outcome.authRows)}

## 6. Program evaluation under mocks (what \`pulumi preview\` pays before any provider call)

${evaluationTable(outcome.evaluations)}

## Goals

${goals(outcome)}

## What limits each figure

${limits(outcome)}
`;
}
