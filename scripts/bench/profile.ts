/**
 * Where the server side's CPU goes in a pull, by process and library: `perf record` on nginx's
 * workers and the registry while one blob is pulled, then `perf report --sort comm,dso`. The
 * kernel's share is the copies and system calls; libcrypto's the cipher; the registry's own code
 * its HTTP handling. Profiles only the servers (curl and the neighbours are left out).
 */
import { existsSync } from "fs";
import { join } from "path";
import { run, startDaemon } from "../lib/processes";
import { processTree } from "../lib/procStats";

export interface ProfileRow {
    /** Process name (`nginx`, `docker-registry`) and where in it: `[kernel.kallsyms]`, `libcrypto.so.3`, … */
    process: string;
    library: string;
    /** Share of this profile's samples, 0–100. */
    percent: number;
}

export interface Profile {
    label: string;
    rows: ProfileRow[];
}

const PERF = "/usr/bin/perf";

export const perfAvailable = () => existsSync(PERF);

/** Samples nginx (master and workers) and the registry process while `work` runs. */
export async function profileWhile(
    dir: string,
    label: string,
    nginxPid: number,
    registryPid: number,
    work: () => Promise<unknown>,
): Promise<Profile | undefined> {
    if (!perfAvailable()) return undefined;
    const data = join(dir, `perf-${label.replace(/\W+/g, "-")}.data`);
    const pids = [...processTree(nginxPid), registryPid].join(",");
    const perf = startDaemon(`perf ${label}`, PERF, ["record", "-q", "-F", "999", "-p", pids, "-o", data], {
        logFile: join(dir, "perf.log"),
    });
    // perf attaches within a few ms; the pull takes seconds.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await work();
    await perf.stop();
    if (!existsSync(data)) return undefined;
    const report = await run(PERF, ["report", "-i", data, "--no-children", "--sort", "comm,dso", "--stdio", "-q", "-g", "none"], {
        allowFailure: true,
        timeoutMs: 120_000,
    });
    const rows: ProfileRow[] = [];
    for (const line of report.stdout.split("\n")) {
        const match = /^\s*([\d.]+)%\s+(\S+)\s+(\S+)/.exec(line);
        if (match) rows.push({ process: match[2], library: match[3], percent: Number(match[1]) });
    }
    return { label, rows };
}
