/**
 * The measurements, run interleaved: every run visits every target in turn (starting one further
 * along each time), so a neighbour's test suite slowing the machine lands on all of them alike.
 */
import { pullBlobs, pullConcurrently, pushBlobs, Endpoint, Outcome } from "./registryClient";
import { ResourceUse, watchWhile } from "../lib/procStats";
import { mibPerSecond } from "./stats";
import type { NginxServer } from "./servers";
import type { BlobFile } from "./workload";

export interface Target {
    /** Row or column label. */
    name: string;
    /** Repository names stay per target, so a pull only finds what that target (or its fallback) pushed. */
    slug: string;
    endpoint: Endpoint;
    /** The registry behind it, directly: where a blob goes when the target refuses the push. */
    fallbackPush: Endpoint;
    nginx?: NginxServer;
    registryPid: number;
}

/** One figure of one target: MiB/s per successful run, the failures, and resource use per run. */
export class Measurement {
    readonly rates: number[] = [];
    readonly failures: string[] = [];
    readonly uses: ResourceUse[] = [];

    record(outcome: Outcome, bytes: number, use?: ResourceUse): void {
        if (outcome.ok) this.rates.push(mibPerSecond(bytes, outcome.seconds));
        else this.failures.push(outcome.reason);
        if (use !== undefined) this.uses.push(use);
    }

    /** Highest value of one resource figure over the runs. */
    peak(pick: (use: ResourceUse) => number | undefined): number | undefined {
        const values = this.uses.map(pick).filter((v): v is number => v !== undefined);
        return values.length === 0 ? undefined : Math.max(...values);
    }
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
async function ensurePresent(target: Target, repository: string, blobs: BlobFile[]): Promise<void> {
    const key = presentKey(target, repository, blobs);
    if (present.has(key)) return;
    const through = await pushBlobs(target.endpoint, repository, blobs);
    if (!through.ok) {
        const direct = await pushBlobs(target.fallbackPush, repository, blobs);
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
    repository: string,
    blobs: BlobFile[],
    push: Measurement,
    pull: Measurement,
): Promise<void> {
    const pushed = await watchWhile(watched(target), () => pushBlobs(target.endpoint, repository, blobs));
    push.record(pushed.result, totalBytes(blobs), pushed.use);
    if (pushed.result.ok) present.add(presentKey(target, repository, blobs));
    else await ensurePresent(target, repository, blobs);
    const pulled = await watchWhile(watched(target), () => pullBlobs(target.endpoint, repository, blobs));
    pull.record(pulled.result, totalBytes(blobs), pulled.use);
}

export async function concurrentPull(
    target: Target,
    repository: string,
    blob: BlobFile,
    clients: number,
    into: Measurement,
): Promise<void> {
    await ensurePresent(target, repository, [blob]);
    const pulled = await watchWhile(watched(target), () => pullConcurrently(target.endpoint, repository, blob, clients));
    into.record(pulled.result, blob.size * clients, pulled.use);
}

/** `runs` rounds over all targets, each round starting one target further along. */
export async function interleaved(
    targets: Target[],
    runs: number,
    visit: (target: Target, run: number) => Promise<void>,
    progress?: (text: string) => void,
): Promise<void> {
    for (let run = 0; run < runs; run++) {
        for (let i = 0; i < targets.length; i++) {
            const target = targets[(i + run) % targets.length];
            progress?.(`run ${run + 1}/${runs}: ${target.name}`);
            await visit(target, run);
        }
    }
}
