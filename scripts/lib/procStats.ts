/**
 * What the kernel knows about a daemon while a transfer runs: resident memory, bytes written to
 * files, and the size of the temp files nginx holds open.
 *
 * nginx unlinks its temp files right after creating them, so a temp directory always looks empty:
 * spooling only shows in the worker's open file descriptors ("…/client_body/0000000001 (deleted)")
 * and in the bytes the process dirtied in the page cache (/proc/<pid>/io write_bytes).
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from "fs";

/** The process and all its descendants (nginx master + workers; the registry is one process). */
export function processTree(rootPid: number): number[] {
    const children = new Map<number, number[]>();
    for (const entry of readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        const parent = parentPid(Number(entry));
        if (parent === undefined) continue;
        children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    }
    const tree: number[] = [];
    const pending = [rootPid];
    while (pending.length > 0) {
        const pid = pending.pop() as number;
        tree.push(pid);
        pending.push(...(children.get(pid) ?? []));
    }
    return tree;
}

function parentPid(pid: number): number | undefined {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        // The command name may contain spaces and parentheses: fields start after the last ')'.
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
        return undefined;
    }
}

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM); 0 once the process is gone. */
function statusBytes(pid: number, field: "VmRSS" | "VmHWM"): number {
    try {
        const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        return match ? Number(match[1]) * 1024 : 0;
    } catch {
        return 0;
    }
}

export function treeRss(rootPid: number): number {
    return processTree(rootPid).reduce((sum, pid) => sum + statusBytes(pid, "VmRSS"), 0);
}

/** Sum of each process's own peak: an upper bound of the tree's peak, exact for one process. */
export function treePeakRss(rootPid: number): number {
    return processTree(rootPid).reduce((sum, pid) => sum + statusBytes(pid, "VmHWM"), 0);
}

/**
 * Bytes the tree dirtied in files (the kernel counts them when a page is dirtied, so a temp file
 * deleted before writeback still counts). Only exited workers' bytes are lost, and nginx workers
 * live as long as the bench's nginx.
 */
export function treeWriteBytes(rootPid: number): number {
    let total = 0;
    for (const pid of processTree(rootPid)) {
        try {
            const match = /^write_bytes:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
            total += match ? Number(match[1]) : 0;
        } catch {
            // Gone between listing and reading.
        }
    }
    return total;
}

/** Linux reports process times in USER_HZ, which is 100 on every architecture it runs on. */
const USER_HZ = 100;

/** CPU seconds (user + system) the tree has used so far. */
export function treeCpuSeconds(rootPid: number): number {
    let ticks = 0;
    for (const pid of processTree(rootPid)) {
        try {
            const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            // utime and stime are fields 14 and 15 of stat; `fields` starts at field 3.
            ticks += Number(fields[11]) + Number(fields[12]);
        } catch {
            // Gone between listing and reading.
        }
    }
    return ticks / USER_HZ;
}

/**
 * CPU seconds of the bench's own finished children so far (cutime + cstime of /proc/self/stat):
 * the curl clients, which node reaps as they exit. Daemons still running are not in it.
 */
export function clientCpuSeconds(): number {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // cutime and cstime are fields 16 and 17 of stat.
    return (Number(fields[13]) + Number(fields[14])) / USER_HZ;
}

/** Busy and total jiffies of all CPUs together, from the first line of /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
    const values = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const total = values.slice(0, 8).reduce((sum, v) => sum + v, 0);
    const idle = values[3] + values[4];
    return { busy: total - idle, total };
}

/** Total size of the files under `dir` the tree holds open right now, deleted or not. */
export function openFileBytesUnder(rootPid: number, dir: string): number {
    let total = 0;
    for (const pid of processTree(rootPid)) {
        let fds: string[];
        try {
            fds = readdirSync(`/proc/${pid}/fd`);
        } catch {
            continue;
        }
        for (const fd of fds) {
            try {
                if (!readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(`${dir}/`)) continue;
                // stat() through /proc/<pid>/fd follows to the open file, even an unlinked one.
                total += statSync(`/proc/${pid}/fd/${fd}`).size;
            } catch {
                // Closed between listing and reading.
            }
        }
    }
    return total;
}

export interface WatchedDaemons {
    nginxPid?: number;
    nginxTempDir?: string;
    registryPid: number;
}

export interface ResourceUse {
    /** CPU seconds nginx (all workers) and the registry spent on the transfer. */
    nginxCpuSeconds?: number;
    registryCpuSeconds: number;
    /** CPU seconds of the curl clients of the transfer (the other end of the TLS work). */
    clientCpuSeconds?: number;
    /** How busy all cores were meanwhile, 0-1: the client, the servers and anyone else's work. */
    machineBusy: number;
    /** Highest sampled RSS of nginx master + workers. */
    nginxPeakRss?: number;
    registryPeakRss: number;
    /** Bytes nginx dirtied in files during the transfer (temp files; access log lines are noise). */
    nginxWriteBytes?: number;
    /** Largest total size of nginx's open temp files seen while sampling. */
    nginxPeakTempBytes?: number;
}

/**
 * Samples every `intervalMs` while `work` runs. Sampling reads a few /proc files: cheap next to
 * a transfer, and the peak of a 1 GiB spool lasts seconds, so 100 ms cannot miss it.
 */
export async function watchWhile<T>(
    daemons: WatchedDaemons,
    work: () => Promise<T>,
    intervalMs = 100,
): Promise<{ result: T; use: ResourceUse }> {
    const { nginxPid, nginxTempDir, registryPid } = daemons;
    const writtenBefore = nginxPid === undefined ? 0 : treeWriteBytes(nginxPid);
    const nginxCpuBefore = nginxPid === undefined ? 0 : treeCpuSeconds(nginxPid);
    const registryCpuBefore = treeCpuSeconds(registryPid);
    const clientCpuBefore = clientCpuSeconds();
    const machineBefore = machineJiffies();
    const use: ResourceUse = { registryPeakRss: 0, registryCpuSeconds: 0, machineBusy: 0 };
    const sample = () => {
        use.registryPeakRss = Math.max(use.registryPeakRss, treeRss(registryPid));
        if (nginxPid === undefined) return;
        use.nginxPeakRss = Math.max(use.nginxPeakRss ?? 0, treeRss(nginxPid));
        if (nginxTempDir !== undefined)
            use.nginxPeakTempBytes = Math.max(use.nginxPeakTempBytes ?? 0, openFileBytesUnder(nginxPid, nginxTempDir));
    };
    sample();
    const timer = setInterval(sample, intervalMs);
    try {
        const result = await work();
        sample();
        const machineAfter = machineJiffies();
        use.machineBusy = (machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total);
        use.registryCpuSeconds = treeCpuSeconds(registryPid) - registryCpuBefore;
        use.clientCpuSeconds = clientCpuSeconds() - clientCpuBefore;
        if (nginxPid !== undefined) {
            use.nginxWriteBytes = treeWriteBytes(nginxPid) - writtenBefore;
            use.nginxCpuSeconds = treeCpuSeconds(nginxPid) - nginxCpuBefore;
        }
        return { result, use };
    } finally {
        clearInterval(timer);
    }
}
