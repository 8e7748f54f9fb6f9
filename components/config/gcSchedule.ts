/**
 * `gc.schedule`: when the registry collects its garbage. Pure: the validator parses it once
 * (keys.ts), into the timing the supervisor script (components/render/gcSupervisor.ts) checks
 * each minute.
 */

export const GC_SCHEDULE_FORM =
    'a 5-field cron expression in UTC ("MIN HOUR DAY MONTH WEEKDAY", e.g. "30 3 * * 0": Sundays 03:30), "@hourly", "@daily", "@weekly", or "@every DURATION" (e.g. "@every 12h"; s, m or h, at least 10s)';

/** How the supervisor runs collections: at cron times (checked once a minute), or every N seconds after the last one ended. */
export type GcTiming = { kind: "cron"; fields: [string, string, string, string, string] } | { kind: "every"; seconds: number };

const CRON_ALIASES: Record<string, string> = { "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0" };
/** minute, hour, day of month, month, day of week (0 and 7 both Sunday). */
const FIELD_RANGES: [number, number][] = [
    [0, 59],
    [0, 23],
    [1, 31],
    [1, 12],
    [0, 7],
];
const MIN_EVERY_SECONDS = 10;

export function parseGcSchedule(schedule: string): GcTiming | undefined {
    const text = schedule.trim();
    const every = /^@every\s+(\d+)(s|m|h)$/.exec(text);
    if (every !== null) {
        const seconds = Number(every[1]) * { s: 1, m: 60, h: 3600 }[every[2] as "s" | "m" | "h"];
        return seconds >= MIN_EVERY_SECONDS && seconds <= 366 * 86400 ? { kind: "every", seconds } : undefined;
    }
    const fields = (CRON_ALIASES[text] ?? text).split(/\s+/);
    if (fields.length !== 5 || !fields.every((field, i) => isCronField(field, ...FIELD_RANGES[i]))) return undefined;
    return { kind: "cron", fields: fields as [string, string, string, string, string] };
}

export function isGcSchedule(schedule: string): boolean {
    return parseGcSchedule(schedule) !== undefined;
}

/** `*`, `N`, `A-B`, each optionally `/STEP`, comma-separated: what the supervisor's matcher understands. */
function isCronField(field: string, min: number, max: number): boolean {
    return field.split(",").every((part) => {
        const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
        if (match === null) return false;
        const [, , from, to, step] = match;
        const inRange = (n: string | undefined) => n === undefined || (Number(n) >= min && Number(n) <= max);
        if (!inRange(from) || !inRange(to)) return false;
        if (from !== undefined && to !== undefined && Number(from) > Number(to)) return false;
        return step === undefined || Number(step) >= 1;
    });
}
