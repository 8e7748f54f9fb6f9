/** Medians with their spread, and the units the tables print. */

export interface Spread {
    median: number;
    min: number;
    max: number;
    count: number;
}

/** Median (mean of the middle two for an even count), min and max; undefined for no samples. */
export function spread(samples: readonly number[]): Spread | undefined {
    if (samples.length === 0) return undefined;
    const sorted = [...samples].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    return { median, min: sorted[0], max: sorted[sorted.length - 1], count: sorted.length };
}

export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;

/** MB/s in the sense: MiB per second, which is what curl and the context figures use. */
export function mibPerSecond(bytes: number, seconds: number): number {
    return bytes / MIB / seconds;
}

/** `1234 (1100–1300)`: median with min–max, as every table cell shows a rate. */
export function formatSpread(value: Spread | undefined, digits = 0): string {
    if (value === undefined) return "–";
    const f = (n: number) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
    if (value.count === 1 || value.min === value.max) return f(value.median);
    return `${f(value.median)} (${f(value.min)}–${f(value.max)})`;
}

export function formatRatio(numerator: Spread | undefined, denominator: Spread | undefined): string {
    if (numerator === undefined || denominator === undefined || denominator.median === 0) return "–";
    return `${(numerator.median / denominator.median).toFixed(2)}x`;
}

export function formatBytes(bytes: number | undefined): string {
    if (bytes === undefined) return "–";
    if (bytes === 0) return "0";
    if (bytes >= GIB) return `${(bytes / GIB).toFixed(2)} GiB`;
    if (bytes >= MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
    return `${(bytes / 1024).toFixed(0)} KiB`;
}
