/** What the bench runs: sizes, rounds, and the edge settings it tries. */
import type { EdgeTuning } from "../../components/render/edgeTuning";
import type { ComparisonRow } from "./report";
import type { Figure } from "./scenarios";
import { GIB, MIB } from "./stats";

export const QUICK = process.env.BENCH_QUICK === "1";

/** `BENCH_ROUNDS=1` checks the full sizes in one round (figures without a spread: not for docs/benchmarks.md). */
const ROUNDS = process.env.BENCH_ROUNDS === undefined ? undefined : Number(process.env.BENCH_ROUNDS);

/**
 * Every figure is a median of `rounds` alternating rounds; 5 keeps a full run within 25 minutes on
 * two cores. `BENCH_QUICK=1` checks the script itself in a few minutes with toy sizes.
 */
const SIZES = QUICK
    ? {
          bigLayerBytes: 64 * MIB,
          smallLayerCount: 10,
          smallLayerBytes: MIB,
          sharedLayerBytes: 16 * MIB,
          sweepLayerBytes: 16 * MIB,
          sweepConcurrentLayerBytes: 4 * MIB,
          clients: 8,
          authRequests: 5,
          rounds: 2,
          evaluations: 1,
      }
    : {
          bigLayerBytes: GIB,
          smallLayerCount: 200,
          smallLayerBytes: MIB,
          sharedLayerBytes: 256 * MIB,
          sweepLayerBytes: 256 * MIB,
          sweepConcurrentLayerBytes: 64 * MIB,
          clients: 8,
          authRequests: 20,
          rounds: 5,
          evaluations: 5,
      };
export const PLAN = { ...SIZES, rounds: ROUNDS ?? SIZES.rounds };
export type Plan = typeof PLAN;

/** Whether this run's figures may replace docs/benchmarks.md: full sizes, at least 5 rounds. */
export const FOR_THE_DOCS = !QUICK && PLAN.rounds >= 5;

/** How the edge reaches the registry: the stack's Unix socket, or TCP on the edge's loopback. */
export type UpstreamTransport = "unix" | "tcp";

export interface Setting {
    label: string;
    tuning: Partial<EdgeTuning>;
    /** Default: the Unix socket, as the stack deploys it. */
    transport?: UpstreamTransport;
    /** Also measured with the edge's core busy: a setting that bears on feeding the registry's socket. */
    busyCheck?: boolean;
}

/** Knobs tried one at a time on top of the defaults. */
export const SETTINGS: Setting[] = [
    { label: "registry over TCP loopback", tuning: {}, transport: "tcp", busyCheck: true },
    // Around the Unix socket's 208 KiB send buffer (net.core.wmem_default): nginx's default, 64k,
    // and the edge's default before 32k.
    { label: "client_body_buffer_size 16k", tuning: { clientBodyBufferSize: "16k" } },
    { label: "client_body_buffer_size 64k", tuning: { clientBodyBufferSize: "64k" } },
    { label: "client_body_buffer_size 256k", tuning: { clientBodyBufferSize: "256k" }, busyCheck: true },
    { label: "blob files off (every GET proxied)", tuning: { serveBlobFiles: false } },
    { label: "no upstream keepalive", tuning: { upstreamKeepalive: 0 } },
    { label: "worker_processes 1", tuning: { workerProcesses: 1 } },
];

/** `1 GiB`, `256 MiB`: layer sizes as the tables name them. */
export const formatSize = (bytes: number) => (bytes >= GIB ? `${bytes / GIB} GiB` : `${bytes / MIB} MiB`);

/** Rows of the comparison table, in the order. */
export function comparisonRows(plan: Plan): ComparisonRow[] {
    return [
        { label: `push, one ${formatSize(plan.bigLayerBytes)} layer`, figure: "bigPush" },
        { label: `pull, one ${formatSize(plan.bigLayerBytes)} layer`, figure: "bigPull" },
        { label: `push, ${plan.smallLayerCount} × ${formatSize(plan.smallLayerBytes)} layers`, figure: "smallPush" },
        { label: `pull, ${plan.smallLayerCount} × ${formatSize(plan.smallLayerBytes)} layers`, figure: "smallPull" },
        { label: `${plan.clients} concurrent pulls of ${formatSize(plan.sharedLayerBytes)}, aggregate`, figure: "concurrentPull" },
    ];
}

export function figureBytes(plan: Plan, figure: Figure): number {
    switch (figure) {
        case "bigPush":
        case "bigPull":
            return plan.bigLayerBytes;
        case "smallPush":
        case "smallPull":
            return plan.smallLayerCount * plan.smallLayerBytes;
        case "concurrentPull":
            return plan.clients * plan.sharedLayerBytes;
    }
}

/** Column names of the targets every mode measures. */
export const TARGETS = {
    plain: "registry alone, plain HTTP",
    tls: "registry alone, TLS + htpasswd",
    edge: "edge",
} as const;
