/** What the bench runs: sizes, run counts, and the edge settings it tries. */
import type { EdgeTuning } from "../../components/render/edgeTuning";
import type { ComparisonRow } from "./report";
import type { UpstreamTransport } from "./servers";
import { GIB, MIB } from "./stats";

export const QUICK = process.env.BENCH_QUICK === "1";

/**
 * The full plan keeps the whole bench under 10 minutes on 2 cores: 3 runs per scenario (the small
 * layers through the stack's auth alone take ~50 s a run), 5 where a run takes seconds, 9 for the
 * TLS-only/edge pairs (their medians decide the pull goal; 5 rounds gave 0.97 and 0.90 in two runs). The
 * settings table pulls a smaller layer concurrently: a dozen edges × 3 runs × 2 GiB would take
 * longer than everything else together.
 */
export const PLAN = QUICK
    ? {
          bigLayerBytes: 64 * MIB,
          smallLayerCount: 10,
          smallLayerBytes: MIB,
          sharedLayerBytes: 16 * MIB,
          sweepConcurrentLayerBytes: 4 * MIB,
          clients: 8,
          authRequests: 5,
          runs: { big: 1, small: 1, concurrent: 1, sweep: 1, tls: 1, auth: 1, evaluation: 1 },
      }
    : {
          bigLayerBytes: GIB,
          smallLayerCount: 200,
          smallLayerBytes: MIB,
          sharedLayerBytes: 256 * MIB,
          sweepConcurrentLayerBytes: 64 * MIB,
          clients: 8,
          authRequests: 20,
          runs: { big: 3, small: 3, concurrent: 3, sweep: 3, tls: 9, auth: 3, evaluation: 5 },
      };
export type Plan = typeof PLAN;

/**
 * "before": the edge's defaults before blob files (the first bench's tuning), proxying every
 * request to the registry over TCP loopback. Spelled out, so a later default change cannot move it.
 */
export const TUNING_BEFORE: EdgeTuning = {
    workerProcesses: "auto",
    proxyBuffering: "memory",
    proxyBufferSize: "256k",
    clientBodyBufferSize: "256k",
    sslBufferSize: "16k",
    tlsCipherOrder: "client",
    kernelTls: false,
    upstreamKeepalive: 32,
    serveBlobFiles: false,
};
export const TRANSPORT_BEFORE: UpstreamTransport = "tcp";

/** Column and row names of the stack's edge: "before" is the old defaults, "after" the new ones. */
export const EDGE_BEFORE = "edge before";
export const EDGE_AFTER = "edge after";

/** "after": today's defaults, and the registry on a Unix socket as the stack deploys it. */
export const TRANSPORT_AFTER: UpstreamTransport = "unix";

export interface Setting {
    label: string;
    tuning: Partial<EdgeTuning>;
    /** Default: that of the row it builds on. */
    transport?: UpstreamTransport;
}

/** Each change that makes "after", alone on top of "before". */
export const BEFORE_PLUS: Setting[] = [
    { label: "registry on a Unix socket", tuning: {}, transport: "unix" },
    { label: "blob files (serveBlobFiles)", tuning: { serveBlobFiles: true } },
];

/** The other knobs, each alone on top of "after". */
export const AFTER_VARIANTS: Setting[] = [
    { label: "registry over TCP loopback", tuning: {}, transport: "tcp" },
    { label: "blob files off (every GET proxied)", tuning: { serveBlobFiles: false } },
    { label: "worker_processes 1", tuning: { workerProcesses: 1 } },
    { label: "worker_processes 4", tuning: { workerProcesses: 4 } },
    { label: "ciphers: AES-128-GCM first (server order)", tuning: { tlsCipherOrder: "aes-128-gcm-first" } },
    { label: "ciphers: ChaCha20-Poly1305 first", tuning: { tlsCipherOrder: "chacha20-first" } },
    { label: "kTLS (ssl_conf_command Options KTLS)", tuning: { kernelTls: true } },
    { label: "no upstream keepalive", tuning: { upstreamKeepalive: 0 } },
    // Below the Unix socket's 208 KiB send buffer (net.core.wmem_default), so each write of a
    // pushed body completes at once instead of waiting for the registry to read.
    { label: "client_body_buffer_size 128k", tuning: { clientBodyBufferSize: "128k" } },
];

/** Only what differs from `base`, as `key: value`. */
export function describeTuning(tuning: EdgeTuning, base: EdgeTuning = TUNING_BEFORE): string {
    const changed = (Object.keys(tuning) as (keyof EdgeTuning)[]).filter((key) => tuning[key] !== base[key]);
    return changed.length === 0 ? "nothing changed" : changed.map((key) => `${key} ${String(tuning[key])}`).join(", ");
}

/** `1 GiB`, `256 MiB`: layer sizes as the tables name them. */
export const formatSize = (bytes: number) => (bytes >= GIB ? `${bytes / GIB} GiB` : `${bytes / MIB} MiB`);

/** Rows of the comparison table, in the order. */
export function comparisonRows(plan: Plan): ComparisonRow[] {
    return [
        { label: `1. push, one ${formatSize(plan.bigLayerBytes)} layer`, figure: "bigPush" },
        { label: `1. pull, one ${formatSize(plan.bigLayerBytes)} layer`, figure: "bigPull" },
        { label: `2. push, ${plan.smallLayerCount} × ${formatSize(plan.smallLayerBytes)} layers`, figure: "smallPush" },
        { label: `2. pull, ${plan.smallLayerCount} × ${formatSize(plan.smallLayerBytes)} layers`, figure: "smallPull" },
        { label: `3. ${plan.clients} concurrent pulls of ${formatSize(plan.sharedLayerBytes)}, aggregate`, figure: "concurrentPull" },
    ];
}

export function figureBytes(plan: Plan, figure: ComparisonRow["figure"]): number {
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
