/** Markdown tables for the terminal and docs/benchmarks.md, from what the bench measured. */
import type { ModeTiming } from "./programEvaluation";
import type { Machine } from "./machine";
import { Figure, Measurement, Results } from "./scenarios";
import { formatBytes, formatRatio, formatSpread, spread, Spread } from "./stats";
import type { TlsLimit } from "./tlsLimit";

export function table(header: string[], rows: string[][]): string {
    const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
    return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** A rate cell: median (min–max) MiB/s, or why it failed, with how many runs failed. */
export function rateCell(measurement: Measurement | undefined): string {
    if (measurement === undefined) return "–";
    const rates = spread(measurement.rates);
    const runs = measurement.rates.length + measurement.failures.length;
    if (measurement.failures.length === 0) return formatSpread(rates);
    const reasons = [...new Set(measurement.failures)].join(", ");
    const failed = `fails: ${reasons} (${measurement.failures.length}/${runs} runs)`;
    return rates === undefined ? failed : `${formatSpread(rates)}; ${failed}`;
}

export function ratioCell(numerator: Measurement | undefined, denominator: Measurement | undefined): string {
    return formatRatio(spread(numerator?.rates ?? []), spread(denominator?.rates ?? []));
}

export interface ComparisonRow {
    label: string;
    figure: Figure;
}

/** Scenarios as rows; per target its MiB/s and, after the first (the baseline), the ratio to it. */
export function comparisonTable(results: Results, targets: string[], rows: ComparisonRow[], notStarted: Record<string, string>): string {
    const [baseline, ...others] = targets;
    const header = ["Scenario (MiB/s, median (min–max))", baseline, ...others.flatMap((t) => [t, "ratio"])];
    return table(
        header,
        rows.map(({ label, figure }) => {
            const base = results.get(baseline, figure);
            return [
                label,
                rateCell(base),
                ...others.flatMap((target) =>
                    notStarted[target] !== undefined
                        ? [`not started: ${notStarted[target]}`, "–"]
                        : [rateCell(results.get(target, figure)), ratioCell(results.get(target, figure), base)],
                ),
            ];
        }),
    );
}

/** Item 5: spooling and memory, worst run, per target. */
export function resourceTable(results: Results, targets: string[], bigLayer: string): string {
    const rows = targets.map((target) => {
        const push = results.get(target, "bigPush");
        const pull = results.get(target, "bigPull");
        const all: Figure[] = ["bigPush", "bigPull", "smallPush", "smallPull", "concurrentPull"];
        const peak = (pick: (m: Measurement) => number | undefined) => {
            const values = all.map((f) => pick(results.get(target, f))).filter((v): v is number => v !== undefined);
            return values.length === 0 ? undefined : Math.max(...values);
        };
        const nginxRss = peak((m) => m.peak((u) => u.nginxPeakRss));
        return [
            target,
            nginxRss === undefined ? "no nginx" : formatBytes(push.peak((u) => u.nginxPeakTempBytes)),
            nginxRss === undefined ? "–" : formatBytes(pull.peak((u) => u.nginxPeakTempBytes)),
            nginxRss === undefined
                ? "–"
                : `${formatBytes(push.peak((u) => u.nginxWriteBytes))} / ${formatBytes(pull.peak((u) => u.nginxWriteBytes))}`,
            formatBytes(nginxRss),
            formatBytes(peak((m) => m.peak((u) => u.registryPeakRss))),
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

/** CPU seconds per GiB moved, per process, and how busy the machine was: what bounds each figure. */
export function cpuTable(results: Results, targets: string[], rows: ComparisonRow[], bytesOf: (figure: Figure) => number): string {
    const body: string[][] = [];
    for (const { label, figure } of rows) {
        for (const target of targets) {
            const measurement = results.get(target, figure);
            if (measurement.uses.length === 0 || measurement.rates.length === 0) continue;
            const perGiB = (pick: (u: Measurement["uses"][number]) => number | undefined) => {
                const values = measurement.uses.map(pick).filter((v): v is number => v !== undefined);
                return values.length === 0 ? "–" : (spread(values)!.median / (bytesOf(figure) / 2 ** 30)).toFixed(2);
            };
            const busy = spread(measurement.uses.map((u) => u.machineBusy));
            body.push([
                label,
                target,
                perGiB((u) => u.nginxCpuSeconds),
                perGiB((u) => u.registryCpuSeconds),
                perGiB((u) => u.clientCpuSeconds),
                busy ? `${(busy.median * 100).toFixed(0)}%` : "–",
            ]);
        }
    }
    return table(
        ["Scenario", "Target", "nginx CPU-s per GiB", "registry CPU-s per GiB", "curl CPU-s per GiB", "all cores busy (median)"],
        body,
    );
}

export function tlsTable(limit: TlsLimit, bigLayer: string): string {
    const speeds = table(
        ["Cipher (`openssl speed -evp`, 16 KiB blocks, 1 core)", "MiB/s"],
        limit.speeds.map((s) => [s.cipher, s.mibPerSecond.toFixed(0)]),
    );
    const cpu = (value: number | undefined) => (value === undefined ? "–" : value.toFixed(2));
    const pairs = table(
        [
            "Edge settings",
            "negotiated",
            `TLS only: nginx → curl, ${bigLayer} static file (MiB/s)`,
            `edge ${bigLayer} pull, same rounds (MiB/s)`,
            "edge / TLS only",
            "nginx CPU-s/GiB, TLS only",
            "nginx CPU-s/GiB, edge",
            "registry CPU-s/GiB, edge",
        ],
        limit.pairs.map((p) => [
            p.label,
            p.cipher,
            formatSpread(p.tlsOnly),
            formatSpread(p.edgePull),
            formatRatio(p.edgePull, p.tlsOnly),
            cpu(p.tlsOnlyNginxCpu),
            cpu(p.edgeNginxCpu),
            cpu(p.edgeRegistryCpu),
        ]),
    );
    const clients = limit.concurrent.clients;
    const concurrent = table(
        [
            "Edge settings",
            `TLS only: ${clients} fetches of the ${formatBytes(limit.concurrent.bytes)} file at once, aggregate MiB/s`,
            `edge: ${clients} pulls of that blob at once, same rounds, aggregate MiB/s`,
            "edge / TLS only",
        ],
        limit.pairs.map((p) => [
            p.label,
            formatSpread(p.tlsOnlyConcurrent),
            formatSpread(p.edgeConcurrent),
            formatRatio(p.edgeConcurrent, p.tlsOnlyConcurrent),
        ]),
    );
    return `${speeds}\n\n${pairs}\n\n${concurrent}`;
}

export interface SweepRow {
    label: string;
    push: Measurement;
    pull: Measurement;
    concurrent: Measurement;
}

/** Median nginx CPU-seconds per GiB moved: steadier than MiB/s when neighbours load the machine. */
function nginxCpuPerGiB(measurement: Measurement, bytesPerRun: number): string {
    const seconds = spread(measurement.uses.map((u) => u.nginxCpuSeconds).filter((v): v is number => v !== undefined));
    return seconds === undefined ? "–" : (seconds.median / (bytesPerRun / 2 ** 30)).toFixed(2);
}

export interface SweepRows {
    direct: SweepRow;
    before: SweepRow;
    /** Each buffer size alone on top of "before". */
    buffers: SweepRow[];
    newDefaults: SweepRow;
    /** Each other knob alone on top of the new defaults. */
    others: SweepRow[];
}

/** Before/after per setting; "vs" columns compare with `reference` (a row of `rows`). */
export function sweepTable(rows: SweepRow[], reference: SweepRow, sizes: { sharedLayerBytes: number; clients: number }): string {
    const { sharedLayerBytes, clients } = sizes;
    const cells = (row: SweepRow) => [
        row.label,
        rateCell(row.push),
        ratioCell(row.push, reference.push),
        nginxCpuPerGiB(row.push, sharedLayerBytes),
        rateCell(row.pull),
        ratioCell(row.pull, reference.pull),
        nginxCpuPerGiB(row.pull, sharedLayerBytes),
        rateCell(row.concurrent),
        ratioCell(row.concurrent, reference.concurrent),
        formatBytes(Math.max(...[row.push, row.pull, row.concurrent].map((m) => m.peak((u) => u.nginxPeakTempBytes) ?? 0))),
    ];
    const vs = `vs ${reference.label.replace(/ \(.*$/, "")}`;
    return table(
        [
            "Edge setting",
            "push MiB/s",
            vs,
            "nginx CPU-s/GiB",
            "pull MiB/s",
            vs,
            "nginx CPU-s/GiB",
            `${clients} concurrent pulls, MiB/s`,
            vs,
            "nginx temp files (peak)",
        ],
        rows.map(cells),
    );
}

export interface AuthRow {
    label: string;
    msPerRequest?: Spread;
    failure?: string;
}

export function authTable(rows: AuthRow[]): string {
    return table(
        ["GET /v2/ over one connection", "ms per request, median (min–max)"],
        rows.map((r) => [r.label, r.failure ?? formatSpread(r.msPerRequest, 1)]),
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

export function machineLines(machine: Machine): string {
    return [
        `- CPU: ${machine.cores} × ${machine.cpu}; memory ${machine.memory}; kernel ${machine.kernel}`,
        `- ${machine.nginx}; ${machine.openssl}; ${machine.registry}; ${machine.curl}; node ${machine.node}`,
        `- 1-minute load average when the bench started: ${machine.loadAtStart.toFixed(2)} (on ${machine.cores} cores)`,
    ].join("\n");
}
