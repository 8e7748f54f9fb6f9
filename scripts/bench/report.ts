/** Markdown tables for docs/benchmarks.md, from what the bench measured. */
import type { ResourceUse } from "../lib/procStats";
import type { ModeName } from "./network";
import type { ModeTiming } from "./programEvaluation";
import { Figure, Measurement, Ratio, ratioOf, Results } from "./scenarios";
import { formatBytes, formatSpread, spread, Spread } from "./stats";
import type { TlsLimit } from "./tlsLimit";

/** What one network mode measured. */
export interface ModeOutcome {
    name: ModeName;
    label: string;
    /** Column order: the two registries alone, the edge, then the published setups. */
    targets: string[];
    notStarted: Record<string, string>;
    /** Protocol and cipher curl negotiated with each TLS target. */
    ciphers: Record<string, string>;
    results: Results;
    tlsLimit: TlsLimit;
    /** Host networking only: the settings table, the busy edge core, the cost of auth. */
    sweep?: SweepRow[];
    busy?: BusyRow[];
    auth?: AuthRow[];
}

export interface SweepRow {
    label: string;
    push: Measurement;
    pull: Measurement;
    concurrent: Measurement;
}

/** A push with the edge's core busy, and the registry alone's of the same rounds. */
export interface BusyRow {
    name: string;
    push: Measurement;
    reference: Measurement;
}

export interface AuthRow {
    label: string;
    msPerRequest?: Spread;
    failure?: string;
}

export interface ComparisonRow {
    label: string;
    figure: Figure;
}

export function table(header: string[], rows: string[][]): string {
    const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
    return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** A rate cell: median (min–max) MiB/s, or why it failed, with how many rounds failed. */
export function rateCell(measurement: Measurement | undefined): string {
    if (measurement === undefined) return "–";
    const rates = spread(measurement.rates);
    const rounds = measurement.byRound.length;
    if (measurement.failures.length === 0) return formatSpread(rates);
    const reasons = [...new Set(measurement.failures)].join(", ");
    const failed = `fails: ${reasons} (${measurement.failures.length}/${rounds} rounds)`;
    return rates === undefined ? failed : `${formatSpread(rates)}; ${failed}`;
}

/** `0.97 (0.94–0.99)`: the ratio of the medians, and the range of the round-by-round ratios. */
export function formatRatio(ratio: Ratio | undefined): string {
    if (ratio === undefined) return "–";
    const { min, max } = ratio.byRound;
    return min === max ? ratio.ofMedians.toFixed(2) : `${ratio.ofMedians.toFixed(2)} (${min.toFixed(2)}–${max.toFixed(2)})`;
}

export function ratioCell(top: Measurement | undefined, bottom: Measurement | undefined): string {
    return top === undefined || bottom === undefined ? "–" : formatRatio(ratioOf(top, bottom));
}

/**
 * Scenarios as rows; per target its MiB/s; after the edge, its ratio to each registry alone.
 * `plain` and `tls` name those two columns.
 */
export function comparisonTable(mode: ModeOutcome, rows: ComparisonRow[], names: { plain: string; tls: string; edge: string }): string {
    const others = mode.targets.filter((t) => t !== names.plain && t !== names.tls && t !== names.edge);
    const header = ["MiB/s, median (min–max)", names.plain, names.tls, names.edge, "edge ÷ plain HTTP", "edge ÷ TLS + htpasswd", ...others];
    return table(
        header,
        rows.map(({ label, figure }) => {
            const at = (target: string) => mode.results.get(target, figure);
            return [
                label,
                rateCell(at(names.plain)),
                rateCell(at(names.tls)),
                rateCell(at(names.edge)),
                ratioCell(at(names.edge), at(names.plain)),
                ratioCell(at(names.edge), at(names.tls)),
                ...others.map((target) =>
                    mode.notStarted[target] !== undefined ? `not started: ${mode.notStarted[target]}` : rateCell(at(target)),
                ),
            ];
        }),
    );
}

const FIGURES: Figure[] = ["bigPush", "bigPull", "smallPush", "smallPull", "concurrentPull"];

/** Spooling and memory, worst round, per target. */
export function resourceTable(mode: ModeOutcome, bigLayer: string): string {
    const rows = mode.targets.map((target) => {
        const push = mode.results.get(target, "bigPush");
        const pull = mode.results.get(target, "bigPull");
        const peak = (pick: (use: ResourceUse) => number | undefined) => {
            const values = FIGURES.map((f) => mode.results.get(target, f).peak(pick)).filter((v): v is number => v !== undefined);
            return values.length === 0 ? undefined : Math.max(...values);
        };
        const nginxRss = peak((u) => u.nginxPeakRss);
        return [
            target,
            nginxRss === undefined ? "no nginx" : formatBytes(push.peak((u) => u.nginxPeakTempBytes)),
            nginxRss === undefined ? "–" : formatBytes(pull.peak((u) => u.nginxPeakTempBytes)),
            nginxRss === undefined
                ? "–"
                : `${formatBytes(push.peak((u) => u.nginxWriteBytes))} / ${formatBytes(pull.peak((u) => u.nginxWriteBytes))}`,
            formatBytes(nginxRss),
            formatBytes(peak((u) => u.registryPeakRss)),
        ];
    });
    return table(
        [
            "Target",
            `nginx temp files, ${bigLayer} push (peak)`,
            `… ${bigLayer} pull (peak)`,
            `bytes nginx wrote to files, ${bigLayer} push / pull`,
            "peak RSS nginx (master + workers)",
            "peak RSS registry",
        ],
        rows,
    );
}

/** Median CPU-seconds per GiB moved of nginx, the registry and curl, per scenario and target. */
export function cpuTable(mode: ModeOutcome, rows: ComparisonRow[], bytesOf: (figure: Figure) => number): string {
    const body: string[][] = [];
    for (const { label, figure } of rows) {
        for (const target of mode.targets) {
            const measurement = mode.results.get(target, figure);
            if (measurement.uses.length === 0 || measurement.rates.length === 0) continue;
            const perGiB = (pick: (u: ResourceUse) => number | undefined) => {
                const values = measurement.uses.map(pick).filter((v): v is number => v !== undefined);
                return values.length === 0 ? "–" : (spread(values)!.median / (bytesOf(figure) / 2 ** 30)).toFixed(2);
            };
            body.push([
                label,
                target,
                perGiB((u) => u.nginxCpuSeconds),
                perGiB((u) => u.registryCpuSeconds),
                perGiB((u) => u.clientCpuSeconds),
            ]);
        }
    }
    return table(["Scenario", "Target", "nginx CPU-s per GiB", "registry CPU-s per GiB", "curl CPU-s per GiB"], body);
}

/** The edge against TLS alone (nginx sending the same bytes as a file with the edge's TLS settings). */
export function tlsLimitTable(modes: ModeOutcome[], bigLayer: string, concurrent: string): string {
    const cpu = (values: number[]) => (values.length === 0 ? "–" : spread(values)!.median.toFixed(2));
    return table(
        [
            "Networking",
            `TLS alone, ${bigLayer} file (MiB/s)`,
            `edge, ${bigLayer} pull`,
            "edge ÷ TLS alone",
            `TLS alone, ${concurrent}`,
            "edge, the same",
            "edge ÷ TLS alone",
            "nginx CPU-s/GiB, TLS alone / edge",
        ],
        modes.map(({ label, tlsLimit: t }) => [
            label,
            rateCell(t.tlsOnly),
            rateCell(t.edgePull),
            ratioCell(t.edgePull, t.tlsOnly),
            rateCell(t.tlsOnlyConcurrent),
            rateCell(t.edgeConcurrent),
            ratioCell(t.edgeConcurrent, t.tlsOnlyConcurrent),
            `${cpu(t.tlsOnlyNginxCpu)} / ${cpu(t.edgeNginxCpu)}`,
        ]),
    );
}

/** Each setting's row against `reference` (the defaults), push, pull and concurrent pulls. */
export function sweepTable(rows: SweepRow[], reference: SweepRow, clients: number): string {
    return table(
        ["Setting", "push MiB/s", "÷ defaults", "pull MiB/s", "÷ defaults", `${clients} concurrent pulls, MiB/s`, "÷ defaults"],
        rows.map((row) => [
            row.label,
            rateCell(row.push),
            row === reference ? "1.00" : ratioCell(row.push, reference.push),
            rateCell(row.pull),
            row === reference ? "1.00" : ratioCell(row.pull, reference.pull),
            rateCell(row.concurrent),
            row === reference ? "1.00" : ratioCell(row.concurrent, reference.concurrent),
        ]),
    );
}

export function authTable(rows: AuthRow[], requests: number): string {
    return table(
        [`GET /v2/, ${requests} over one connection`, "ms per request, median (min–max)"],
        rows.map((r) => [r.label, r.failure ?? formatSpread(r.msPerRequest, 2)]),
    );
}

export function evaluationTable(timings: ModeTiming[]): string {
    return table(
        ["Mode", "evaluateProgram wall time, ms", "of which index.ts import, ms", "resources"],
        timings.map((t) =>
            t.error !== undefined
                ? [t.name, `fails: ${t.error}`, "–", "–"]
                : [t.name, formatSpread(t.total), formatSpread(t.importMs), String(t.resources ?? "–")],
        ),
    );
}
