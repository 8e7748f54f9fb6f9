/** The goals docs/benchmarks.md gives a verdict on, and the ratios a run records to compare runs. */
import { formatSize, Plan, TARGETS } from "./plan";
import { formatRatio, ModeOutcome } from "./report";
import { Figure, Ratio, ratioOf } from "./scenarios";

export interface Goal {
    /** What must hold, in words. */
    text: string;
    /** The measured ratios it is judged on, by name; met when each median ratio reaches `at least`. */
    ratios: { name: string; ratio: Ratio | undefined }[];
    atLeast: number;
}

const edgeOver = (mode: ModeOutcome, figure: Figure, baseline: string) =>
    ratioOf(mode.results.get(TARGETS.edge, figure), mode.results.get(baseline, figure));

export function goalsOf(mode: ModeOutcome, plan: Plan): Goal[] {
    const { tlsLimit } = mode;
    return [
        {
            text: `${formatSize(plan.bigLayerBytes)} push through the edge ≥ 0.95 of the registry alone`,
            ratios: [
                { name: "of plain HTTP", ratio: edgeOver(mode, "bigPush", TARGETS.plain) },
                { name: "of TLS + htpasswd", ratio: edgeOver(mode, "bigPush", TARGETS.tls) },
            ],
            atLeast: 0.95,
        },
        {
            text: `${plan.smallLayerCount} × ${formatSize(plan.smallLayerBytes)} push ≥ 0.95 of the registry alone with the same htpasswd over TLS`,
            ratios: [{ name: "of TLS + htpasswd", ratio: edgeOver(mode, "smallPush", TARGETS.tls) }],
            atLeast: 0.95,
        },
        {
            text: `${formatSize(plan.bigLayerBytes)} pull ≥ 0.9 of TLS alone (nginx sending the same bytes as a file, the edge's TLS settings)`,
            ratios: [{ name: "of TLS alone", ratio: ratioOf(tlsLimit.edgePull, tlsLimit.tlsOnly) }],
            atLeast: 0.9,
        },
    ];
}

export const isMet = (goal: Goal) => goal.ratios.every(({ ratio }) => ratio !== undefined && ratio.ofMedians >= goal.atLeast);

/** `0.98 of plain HTTP (rounds 0.96–1.00)`, each ratio of a goal. */
export function describeRatios(goal: Goal): string {
    return goal.ratios.map(({ name, ratio }) => `${formatRatio(ratio)} ${name}`).join(", ");
}

/** One run's headline: every goal's ratios, by mode, as plain numbers. */
export interface RunRecord {
    date: string;
    /** A check run (toy sizes or fewer rounds): compared only with other check runs. */
    quick: boolean;
    /** Median 1-minute load average during the run. */
    load: number;
    ratios: Record<string, number>;
}

export function headlineRatios(modes: ModeOutcome[], plan: Plan): Record<string, number> {
    const ratios: Record<string, number> = {};
    for (const mode of modes)
        for (const goal of goalsOf(mode, plan))
            for (const { name, ratio } of goal.ratios)
                if (ratio !== undefined) ratios[`${mode.name}: ${goal.text.split(" ≥")[0]} ${name}`] = ratio.ofMedians;
    return ratios;
}
