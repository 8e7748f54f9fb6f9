/**
 * Which core each process of the bench runs on, and at which priority: the same for every setup
 * measured, so that a ratio compares servers, not what the scheduler did with them.
 *
 * A setup's server side may be two processes (nginx and the registry) or one (a registry or an
 * nginx alone). On a host with two cores or more the two run side by side: nginx decrypts while
 * the registry hashes and writes. Pinning both to one core would charge the edge for running its
 * two processes one after the other (a push's TLS and the registry's hashing added up, rather than
 * overlapped) and hide the hand-off between them, which only stalls when they run on different
 * cores. So each kind of server process has a core of its own: every registry process the
 * registry core, every nginx the edge core. With two cores, the client shares the edge core at
 * idle priority (SCHED_IDLE): it runs only when nginx does not want the core, the way a client on
 * another machine takes nothing from the server; with three or more it has a core of its own.
 * The "busy edge core" check gives the client normal priority on the edge core instead: what an
 * edge sharing its core with other work sees.
 */
import { cpus } from "os";
import { run } from "../lib/processes";

export type Role = "registry" | "edge" | "client" | "busy client";

export interface Placement {
    cores: number;
    /** Every registry process. */
    registryCore: number;
    /** Every nginx (the edge, the TLS-only server, the published setups). */
    edgeCore: number;
    /** curl, and the bench itself. */
    clientCore: number;
    /** The client runs at SCHED_IDLE: only when the core's servers do not want it. */
    clientIdle: boolean;
}

export function placementFor(cores = cpus().length): Placement {
    if (cores < 2) return { cores, registryCore: 0, edgeCore: 0, clientCore: 0, clientIdle: true };
    return { cores, registryCore: 1, edgeCore: 0, clientCore: cores >= 3 ? 2 : 0, clientIdle: true };
}

/** The argv prefix that starts a process of `role` where `placement` puts it (chrt, then taskset). */
export function launcher(placement: Placement, role: Role): string[] {
    const core = role === "registry" ? placement.registryCore : role === "client" ? placement.clientCore : placement.edgeCore;
    const idle = role === "client" && placement.clientIdle;
    return ["chrt", idle ? "--idle" : "--other", "0", "taskset", "-c", String(core)];
}

/** Moves the bench's own process (every thread) where its clients run, at their priority. */
export async function placeSelf(placement: Placement): Promise<void> {
    const pid = String(process.pid);
    await run("taskset", ["-a", "-p", "-c", String(placement.clientCore), pid]);
    if (placement.clientIdle) await run("chrt", ["-a", "--idle", "-p", "0", pid]);
}

export function describePlacement(placement: Placement): string {
    if (placement.cores < 2) return "one core: every process on it, the client at idle priority";
    const client =
        placement.clientCore === placement.edgeCore
            ? `the client on core ${placement.clientCore} too, at idle priority (SCHED_IDLE)`
            : `the client on core ${placement.clientCore}`;
    return `every registry process on core ${placement.registryCore}, every nginx on core ${placement.edgeCore}, ${client}`;
}
