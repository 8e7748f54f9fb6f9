/** docs/benchmarks.md: the goals, how the figures were made, the tables, and what bounds each figure. */
import { DEFAULT_EDGE_TUNING } from "../../components/render/edgeTuning";
import type { Machine } from "./machine";
import { describePlacement, Placement } from "./placement";
import { comparisonRows, figureBytes, formatSize, Plan, TARGETS } from "./plan";
import type { ModeTiming } from "./programEvaluation";
import { describeRatios, goalsOf, isMet } from "./goals";
import {
    authTable,
    comparisonTable,
    cpuTable,
    evaluationTable,
    ModeOutcome,
    rateCell,
    ratioCell,
    resourceTable,
    sweepTable,
    table,
    tlsLimitTable,
} from "./report";
import type { Figure } from "./scenarios";
import { spread, Spread } from "./stats";

export interface BenchOutcome {
    date: string;
    command: string;
    machine: Machine;
    placement: Placement;
    loadAtEnd: number;
    /** The 1-minute load average sampled every 10 s while the servers ran. */
    loadDuring?: Spread;
    durationSeconds: number;
    plan: Plan;
    /** Host networking first. */
    modes: ModeOutcome[];
    evaluations: ModeTiming[];
}

const fixed = (n: number | undefined, digits = 0) => (n === undefined ? "?" : n.toFixed(digits));

function machineLine(outcome: BenchOutcome): string {
    const { machine: m, loadDuring } = outcome;
    return (
        `${m.cores} × ${m.cpu}, ${m.memory}, Linux ${m.kernel}; ${m.nginx}; ${m.registry}; ${m.curl}. ` +
        `1-minute load average: ${m.loadAtStart.toFixed(2)} at the start, median ${fixed(loadDuring?.median, 2)} ` +
        `(${fixed(loadDuring?.min, 2)}–${fixed(loadDuring?.max, 2)}) during the run, ${outcome.loadAtEnd.toFixed(2)} at the end.`
    );
}

function goalsSection(outcome: BenchOutcome): string {
    const lines: string[] = [];
    const perMode = outcome.modes.map((mode) => ({ mode, goals: goalsOf(mode, outcome.plan) }));
    for (let i = 0; i < perMode[0].goals.length; i++) {
        const verdicts = perMode.map(
            ({ mode, goals }) => `${mode.label}: ${describeRatios(goals[i])}, **${isMet(goals[i]) ? "met" : "not met"}**`,
        );
        lines.push(`- ${perMode[0].goals[i].text}. ${verdicts.join("; ")}.`);
    }
    const host = outcome.modes[0];
    const spooled = Math.max(
        0,
        ...(["bigPush", "bigPull", "smallPush", "smallPull", "concurrentPull"] as Figure[]).flatMap((figure) =>
            outcome.modes.map((mode) => mode.results.get(TARGETS.edge, figure).peak((u) => u.nginxPeakTempBytes) ?? 0),
        ),
    );
    lines.push(
        `- Nothing spooled to disk by the edge: its temp files held at most ${spooled} bytes in any round: **${spooled === 0 ? "met" : "not met"}**.`,
    );
    return [
        `Each ratio is of this run's medians, with the range of the round-by-round ratios in brackets (${host.label} and bridge networking alike).`,
        "",
        ...lines,
    ].join("\n");
}

function howSection(outcome: BenchOutcome): string {
    const { plan } = outcome;
    return `- **Cores**: ${describePlacement(outcome.placement)}. A setup's server side is one process or two
  (nginx and the registry); on a host with two cores they run side by side, so each gets a core (on one
  core the edge's TLS would be added to the registry's work instead of overlapping it), and the client
  takes only what the servers leave, as a client on another machine would.
- **Rounds**: ${plan.rounds} alternating rounds; each visits every setup once, starting one further along each time.
  Every figure is the median (min–max) of the rounds; MiB/s = 2^20 bytes per second, by curl's own clock.
- **Client**: curl, HTTP/1.1. Push: \`POST /v2/<name>/blobs/uploads/\`, then one \`PUT\` with the whole layer and its
  digest; pull: \`GET /v2/<name>/blobs/<digest>\`. A batch of layers is one connection, as docker and containerd use
  one; concurrent pulls are ${plan.clients} connections at once. Random layers, read from the page cache.
- **Registry alone**: Distribution with the stack's \`config.yml\`: in plain HTTP without \`auth\`, or over TLS
  (\`http.tls\`, an ECDSA P-256 certificate) with the stack's htpasswd (bcrypt cost 5, salt kept in state).
- **Edge**: the stack's \`nginx.conf\` (default tuning, roles: \`admin\` pushes, \`node\` pulls) in front of the
  same registry config listening on a Unix socket, as deployed.
- **Published setups** (host networking): seed 000's \`location /\` block as published, inside Debian's stock
  \`nginx.conf\` on 443, in front of the registry with htpasswd; the Distribution docs' "Authenticate proxy with
  nginx" recipe (\`auth_basic\` in nginx, no auth in the registry). Only paths, addresses and ports are substituted.
- **Networking**: host networking is one network namespace where everything talks over \`lo\`; bridge networking
  puts each container in a namespace of its own on a Linux bridge (veth pairs, MTU 1500), and the client
  connects to the container's address, where Docker's published port would forward it.`;
}

function limitsSection(outcome: BenchOutcome): string {
    const host = outcome.modes[0];
    const { plan } = outcome;
    const cpu = (target: string, figure: Figure, who: "nginxCpuSeconds" | "registryCpuSeconds" | "clientCpuSeconds") => {
        const value = spread(host.results.get(target, figure).uses.map((u) => u[who] ?? 0))?.median;
        return value === undefined ? "?" : (value / (figureBytes(plan, figure) / 2 ** 30)).toFixed(2);
    };
    const auth = (i: number) => fixed(host.auth?.[i]?.msPerRequest?.median, 2);
    return [
        `- **Big pushes**: the registry hashing and writing the layer (${cpu(TARGETS.plain, "bigPush", "registryCpuSeconds")} CPU-s per GiB alone, ` +
            `${cpu(TARGETS.edge, "bigPush", "registryCpuSeconds")} behind the edge) on its core; the edge decrypts and relays on its own ` +
            `(nginx ${cpu(TARGETS.edge, "bigPush", "nginxCpuSeconds")} CPU-s per GiB), so it keeps pace as long as it is on time to refill the ` +
            `registry's socket (see "Pushes when the edge's core is busy").`,
        `- **Small layers**: two requests per layer, each checking the password: ${auth(1)} ms per request with bcrypt against ` +
            `${auth(0)} ms without auth, ${auth(2)} ms for the registry alone over TLS, ${auth(3)} ms through the edge.`,
        `- **Pulls**: TLS. The edge sends a blob's file itself once the registry has authorized it, so its pull is TLS alone plus ` +
            `that check; the client decrypts on the same core as nginx encrypts (curl ${cpu(TARGETS.edge, "bigPull", "clientCpuSeconds")} CPU-s per GiB).`,
    ].join("\n");
}

function busySection(outcome: BenchOutcome): string {
    const busy = outcome.modes[0].busy;
    if (busy === undefined) return "";
    const raisedRow = busy.map((row) => row.name).find((name) => name.includes("net.core.wmem_default"));
    const raised = raisedRow?.split(" ").pop();
    return `## Pushes when the edge's core is busy

The ${formatSize(outcome.plan.bigLayerBytes)} push again, with the client at normal priority on nginx's core
(host networking): nginx now waits its turn behind other work whenever it wakes up.

${table(
    ["Setup", "MiB/s", "÷ registry alone, plain HTTP"],
    busy.map((row) => [row.name, rateCell(row.push), row.push === row.reference ? "1.00" : ratioCell(row.push, row.reference)]),
)}

nginx writes a push into the registry's Unix socket, which queues at most the kernel's default send
buffer (\`net.core.wmem_default\`, 208 KiB) and wakes nginx to refill it once it is down to a quarter:
a fraction of a millisecond of the registry's work. nginx writes in pieces of at most
\`client_body_buffer_size\` (${DEFAULT_EDGE_TUNING.clientBodyBufferSize} by default), so a wake-up refills the queue at
once; but when nginx cannot run that soon, the registry waits. A TCP connection grows its buffer to
megabytes (\`net.ipv4.tcp_wmem\`). nginx has no directive for an upstream socket's buffer, and a
container cannot raise \`net.core.wmem_default\` (outside the host's network namespace it is read-only
and reads the host's value); the host can, for every container:
\`sysctl -w net.core.wmem_default=${raised ?? 4194304}\` (and the same line in a file under /etc/sysctl.d/),
then restart the edge.${raised === undefined ? "" : ` Measured above: "${raisedRow}".`}`;
}

export function renderDocument(outcome: BenchOutcome): string {
    const { plan, modes } = outcome;
    const rows = comparisonRows(plan);
    const host = modes[0];
    const sweep = host.sweep;
    const reference = sweep?.find((row) => row.label.startsWith(`${TARGETS.edge} (`));
    const minutes = (outcome.durationSeconds / 60).toFixed(0);
    return `# Benchmarks: what the edge costs

Generated by \`${outcome.command}\` (scripts/bench/) on ${outcome.date} in ${minutes} minutes, on
${machineLine(outcome)}

## Goals

${goalsSection(outcome)}

## How

${howSection(outcome)}

## Throughput

${modes
    .map(
        (mode) => `### ${mode.label[0].toUpperCase()}${mode.label.slice(1)}

${comparisonTable(mode, rows, TARGETS)}

Negotiated: ${Object.entries(mode.ciphers)
            .map(([target, cipher]) => `${target} ${cipher}`)
            .join("; ")}.`,
    )
    .join("\n\n")}

The edge against TLS alone: nginx with the edge's TLS settings on the edge's core sending the same
layer as a file, rounds alternating with the edge's pulls.

${tlsLimitTable(modes, formatSize(plan.bigLayerBytes), `${plan.clients} × ${formatSize(plan.sharedLayerBytes)} at once`)}

## What limits each figure

${limitsSection(outcome)}

${busySection(outcome)}

## Settings tried

Each setting alone on top of the defaults (host networking): a ${formatSize(plan.sweepLayerBytes)} layer pushed and
pulled on one connection, then ${plan.clients} concurrent pulls of a ${formatSize(plan.sweepConcurrentLayerBytes)} layer.

${sweep && reference ? sweepTable(sweep, reference, plan.clients) : "–"}

## Per-request cost of auth

${host.auth ? authTable(host.auth, plan.authRequests) : "–"}

## Spooling, memory and CPU

${resourceTable(host, formatSize(plan.bigLayerBytes))}

Temp-file bytes are the largest total size of the temp files nginx held open (sampled every 100 ms); "bytes
nginx wrote" is the kernel's count of file pages nginx dirtied (\`/proc/<pid>/io\`, access-log lines included).

CPU per GiB moved, median of the rounds (host networking):

${cpuTable(
    { ...host, targets: host.targets.filter((t) => t === TARGETS.plain || t === TARGETS.tls || t === TARGETS.edge) },
    rows,
    (figure) => figureBytes(plan, figure),
)}

## Program evaluation under mocks (what \`pulumi preview\` pays before any provider call)

${evaluationTable(outcome.evaluations)}
`.replace(/\n{3,}/g, "\n\n");
}
