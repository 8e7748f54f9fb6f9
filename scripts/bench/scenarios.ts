/**
 * The measurements, run in alternating rounds: every round visits every target in turn (starting
 * one further along each time), so whatever slows the machine for a while lands on all of them
 * alike, and a ratio can be taken round by round as well as between medians.
 */
import { ResourceUse, watchWhile } from "../lib/procStats";
import type { BlobFile } from "../lib/randomBlob";
import { pullBlobs, pullConcurrently, pushBlobs, Endpoint, Outcome } from "./registryClient";
import type { NginxServer } from "./servers";
import { mibPerSecond, spread, Spread } from "./stats";

export interface Target {
    /** Row or column label. */
    name: string;
    /** Repository names stay per target, so a pull only finds what that target (or its fallback) pushed. */
    slug: string;
    endpoint: Endpoint;
    /** The registry behind it, directly: where a blob goes when the target refuses the push. */
    fallbackPush?: Endpoint;
    nginx?: NginxServer;
    registryPid: number;
}

/** One figure of one target: MiB/s per round (undefined where it failed), the failures, resource use per round. */
export class Measurement {
    readonly byRound: (number | undefined)[] = [];
    readonly failures: string[] = [];
    readonly uses: ResourceUse[] = [];

    record(round: number, outcome: Outcome, bytes: number, use?: ResourceUse): void {
        this.byRound[round] = outcome.ok ? mibPerSecond(bytes, outcome.seconds) : undefined;
        if (!outcome.ok) this.failures.push(outcome.reason);
        if (use !== undefined) this.uses.push(use);
    }

    get rates(): number[] {
        return this.byRound.filter((rate): rate is number => rate !== undefined);
    }

    /** Highest value of one resource figure over the rounds. */
    peak(pick: (use: ResourceUse) => number | undefined): number | undefined {
        const values = this.uses.map(pick).filter((v): v is number => v !== undefined);
        return values.length === 0 ? undefined : Math.max(...values);
    }
}

/** A ratio of two figures: of their medians, and its spread over the rounds both completed. */
export interface Ratio {
    ofMedians: number;
    byRound: Spread;
}

export function ratioOf(top: Measurement, bottom: Measurement): Ratio | undefined {
    const a = spread(top.rates);
    const b = spread(bottom.rates);
    const rounds = top.byRound.flatMap((rate, i) => {
        const base = bottom.byRound[i];
        return rate === undefined || base === undefined ? [] : [rate / base];
    });
    const byRound = spread(rounds);
    if (a === undefined || b === undefined || byRound === undefined) return undefined;
    return { ofMedians: a.median / b.median, byRound };
}

export type Figure = "bigPush" | "bigPull" | "smallPush" | "smallPull" | "concurrentPull";

export class Results {
    private readonly byTarget = new Map<string, Map<Figure, Measurement>>();

    get(target: string, figure: Figure): Measurement {
        const figures = this.byTarget.get(target) ?? new Map<Figure, Measurement>();
        this.byTarget.set(target, figures);
        const measurement = figures.get(figure) ?? new Measurement();
        figures.set(figure, measurement);
        return measurement;
    }
}

/** Blobs known to be in a target's repository, so a pull never measures a 404. */
const present = new Set<string>();
const presentKey = (target: Target, repository: string, blobs: BlobFile[]) =>
    `${target.slug} ${repository} ${blobs.map((b) => b.digest).join(",")}`;

/** Makes sure `blobs` are in the target's repository, through the target or else its registry. */
export async function ensurePresent(target: Target, repository: string, blobs: BlobFile[]): Promise<void> {
    const key = presentKey(target, repository, blobs);
    if (present.has(key)) return;
    const through = await pushBlobs(target.endpoint, repository, blobs);
    if (!through.ok) {
        const direct = target.fallbackPush === undefined ? through : await pushBlobs(target.fallbackPush, repository, blobs);
        if (!direct.ok) throw new Error(`could not put blobs into ${target.name}'s registry: ${direct.reason}`);
    }
    present.add(key);
}

const watched = (target: Target) => ({
    nginxPid: target.nginx?.daemon.pid,
    nginxTempDir: target.nginx?.tempDir,
    registryPid: target.registryPid,
});
const totalBytes = (blobs: BlobFile[]) => blobs.reduce((sum, blob) => sum + blob.size, 0);

/** Push, then pull, of `blobs` (one big layer or many small ones), watching nginx and the registry. */
export async function pushThenPull(
    target: Target,
    round: number,
    repository: string,
    blobs: BlobFile[],
    push: Measurement,
    pull: Measurement,
): Promise<void> {
    const pushed = await watchWhile(watched(target), () => pushBlobs(target.endpoint, repository, blobs));
    push.record(round, pushed.result, totalBytes(blobs), pushed.use);
    if (pushed.result.ok) present.add(presentKey(target, repository, blobs));
    else await ensurePresent(target, repository, blobs);
    const pulled = await watchWhile(watched(target), () => pullBlobs(target.endpoint, repository, blobs));
    pull.record(round, pulled.result, totalBytes(blobs), pulled.use);
}

export async function push(target: Target, round: number, repository: string, blobs: BlobFile[], into: Measurement): Promise<void> {
    const pushed = await watchWhile(watched(target), () => pushBlobs(target.endpoint, repository, blobs));
    into.record(round, pushed.result, totalBytes(blobs), pushed.use);
}

export async function concurrentPull(
    target: Target,
    round: number,
    repository: string,
    blob: BlobFile,
    clients: number,
    into: Measurement,
): Promise<void> {
    await ensurePresent(target, repository, [blob]);
    const pulled = await watchWhile(watched(target), () => pullConcurrently(target.endpoint, repository, blob, clients));
    into.record(round, pulled.result, blob.size * clients, pulled.use);
}

/** `rounds` rounds over all targets, each round starting one target further along. */
export async function alternating<T extends { name: string }>(
    targets: T[],
    rounds: number,
    visit: (target: T, round: number) => Promise<void>,
    progress?: (text: string) => void,
): Promise<void> {
    for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < targets.length; i++) {
            const target = targets[(i + round) % targets.length];
            progress?.(`round ${round + 1}/${rounds}: ${target.name}`);
            await visit(target, round);
        }
    }
}
