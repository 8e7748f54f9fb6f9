/**
 * A network namespace of a test's or the benchmark's own, for what they may not do on the
 * machine's real network: a dockerd with a real bridge, iptables rules and published ports; the
 * benchmark's bridge between a client and its servers.
 *
 * The namespace starts with only `lo` and gets no veth to the host and no route out, so every
 * packet a daemon or client sends from inside it stays inside it (Docker's bridges and the
 * containers' veths are created within it). What must cross is a unix socket (dockerd's API,
 * containerd's), reachable because only the network namespace differs, not the mount namespace.
 *
 * Processes are started inside with `nsenter --net=/var/run/netns/NAME`, never `ip netns exec`:
 * the latter also remounts /sys for the namespace, and dockerd then stops with "Devices cgroup
 * isn't mounted".
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isAlive, registerCleanup, run, RunOptions, RunResult, runSync, sleep, sleepSync } from "./processes";

const NETNS_DIR = "/var/run/netns";

/**
 * The address tests give a service inside their namespace (on its `lo`) and map the service's
 * name to. RFC 5737 TEST-NET-1: never routed anywhere. Not loopback, so dockerd checks the
 * registry's certificate (it treats every 127.0.0.0/8 registry as insecure), and IPv4, because
 * the Docker provider publishes ports on 0.0.0.0 only by default.
 */
export const NAMESPACE_SERVICE_ADDRESS = "192.0.2.10";
const NSENTER = "/usr/bin/nsenter";

export interface NetworkNamespace {
    name: string;
    /** `/var/run/netns/NAME`: what `nsenter --net=` takes. */
    path: string;
    /** The argv prefix that runs what follows it inside the namespace: `nsenter --net=PATH --`. */
    enter: string[];
    /** The command line that runs `command` inside the namespace. */
    command(command: string, args: string[]): { command: string; args: string[] };
    /** `run()` inside the namespace. */
    run(command: string, args: string[], options?: RunOptions): Promise<RunResult>;
    /**
     * Writes an executable that runs `executable` inside the namespace with the arguments it
     * is given, for clients started by a library that only takes a path (Playwright's Chromium).
     */
    wrapper(dir: string, executable: string): string;
    /** PIDs of the processes whose network namespace this is. */
    processesInside(): number[];
    /**
     * Throws unless the namespace can send nothing out: its links are `lo`, what Docker made
     * (bridges and veths) and `joined` (links into the test's other namespaces: joinNamespaces),
     * and no route, IPv4 or IPv6, leads anywhere but into them.
     */
    assertNoRouteOut(joined?: string[]): Promise<void>;
    /** SIGKILLs what still runs inside (by PID), then `ip netns del`. Safe to call twice. */
    remove(): Promise<void>;
}

let created = 0;

/** Namespace identity: nsfs files of the same namespace share device and inode. */
function identity(file: string): string | undefined {
    try {
        const stat = fs.statSync(file);
        return `${stat.dev}:${stat.ino}`;
    } catch {
        return undefined;
    }
}

function processesIn(nsIdentity: string | undefined): number[] {
    if (nsIdentity === undefined) return [];
    const pids: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
        if (identity(`/proc/${entry}/ns/net`) === nsIdentity && isAlive(Number(entry))) pids.push(Number(entry));
    }
    return pids;
}

function killAll(pids: number[]): void {
    for (const pid of pids) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            // already gone
        }
    }
}

/**
 * Creates a namespace named `<prefix>-<pid>-<n>` with `lo` up, and registers its removal
 * (also on exit and signals, like every cleanup in processes.ts).
 */
export async function createNetworkNamespace(prefix: string): Promise<NetworkNamespace> {
    const name = `${prefix}-${process.pid}-${++created}`;
    const nsPath = path.join(NETNS_DIR, name);
    await run("ip", ["netns", "add", name]);
    const nsIdentity = identity(nsPath);

    const enter = [NSENTER, `--net=${nsPath}`, "--"];
    const inside = (command: string, args: string[]) => ({ command: enter[0], args: [...enter.slice(1), command, ...args] });
    const runInside = (command: string, args: string[], options?: RunOptions) => {
        const line = inside(command, args);
        return run(line.command, line.args, options);
    };

    let removing: Promise<void> | undefined;
    const remove = (): Promise<void> => {
        removing ??= (async () => {
            unregister();
            const leftover = processesIn(nsIdentity);
            if (leftover.length > 0) {
                process.stderr.write(
                    `network namespace ${name}: killing ${leftover.length} process(es) still inside: ${leftover.join(", ")}\n`,
                );
                killAll(leftover);
                for (let waited = 0; waited < 5_000 && processesIn(nsIdentity).length > 0; waited += 100) await sleep(100);
            }
            if (fs.existsSync(nsPath)) await run("ip", ["netns", "del", name]);
        })();
        return removing;
    };
    const unregister = registerCleanup(`delete network namespace ${name}`, remove, () => {
        killAll(processesIn(nsIdentity));
        for (let waited = 0; waited < 5_000 && processesIn(nsIdentity).length > 0; waited += 100) sleepSync(100);
        runSync("ip", ["netns", "del", name]);
    });

    try {
        await runInside("ip", ["link", "set", "lo", "up"]);
    } catch (error) {
        await remove();
        throw error;
    }

    return {
        name,
        path: nsPath,
        enter,
        command: inside,
        run: runInside,
        wrapper(dir: string, executable: string): string {
            const file = path.join(dir, `${path.basename(executable)}-in-${name}`);
            fs.writeFileSync(file, `#!/bin/sh\nexec ${NSENTER} --net=${nsPath} -- ${executable} "$@"\n`, { mode: 0o755 });
            return file;
        },
        // Once deleted, its inode may name another test's new namespace: nothing is inside a namespace that is gone.
        processesInside: () => (identity(nsPath) === nsIdentity ? processesIn(nsIdentity) : []),
        async assertNoRouteOut(joined: string[] = []): Promise<void> {
            const links = JSON.parse((await runInside("ip", ["-j", "-d", "link", "show"])).stdout) as {
                ifname: string;
                link_type: string;
                master?: string;
                linkinfo?: { info_kind?: string };
            }[];
            const bridges = new Set(links.filter((link) => link.linkinfo?.info_kind === "bridge").map((link) => link.ifname));
            // Docker's veths are ports of its bridges; their other ends sit in the containers.
            const ours = (link: (typeof links)[number]) =>
                link.link_type === "loopback" ||
                joined.includes(link.ifname) ||
                bridges.has(link.ifname) ||
                (link.linkinfo?.info_kind === "veth" && link.master !== undefined && bridges.has(link.master));
            const foreign = links.filter((link) => !ours(link));
            if (foreign.length > 0)
                throw new Error(`namespace ${name} has links that are neither lo nor Docker's: ${foreign.map((l) => l.ifname).join(", ")}`);
            const devices = new Set(links.map((link) => link.ifname));
            for (const family of ["-4", "-6"]) {
                const routes = JSON.parse((await runInside("ip", ["-j", family, "route", "show", "table", "all"])).stdout) as {
                    dst: string;
                    dev?: string;
                    gateway?: string;
                }[];
                const outward = routes.filter(
                    (route) =>
                        route.gateway !== undefined || route.dst === "default" || (route.dev !== undefined && !devices.has(route.dev)),
                );
                if (outward.length > 0) throw new Error(`namespace ${name} has routes out: ${JSON.stringify(outward)}`);
            }
        },
        remove,
    };
}

/** One end of a link between two of the test's namespaces: its name there and its address (CIDR). */
export interface LinkEnd {
    link: string;
    address: string;
}

/**
 * Joins two namespaces by a veth pair, like two hosts on one LAN segment: each end with its
 * address, on-link (no gateway), so packets go from one namespace to the other and nowhere else.
 */
export async function joinNamespaces(a: NetworkNamespace, aEnd: LinkEnd, b: NetworkNamespace, bEnd: LinkEnd): Promise<void> {
    await a.run("ip", ["link", "add", aEnd.link, "type", "veth", "peer", "name", bEnd.link, "netns", b.name]);
    await addressAndUp(a, aEnd);
    await addressAndUp(b, bEnd);
}

/**
 * Moves one end of a joinNamespaces pair from `from` into `to`, where it is addressed and set up
 * again (a link moved to another namespace loses its addresses); its peer stays where it is.
 */
export async function moveLinkEnd(from: NetworkNamespace, to: NetworkNamespace, end: LinkEnd): Promise<void> {
    await from.run("ip", ["link", "set", end.link, "netns", to.name]);
    await addressAndUp(to, end);
}

async function addressAndUp(namespace: NetworkNamespace, end: LinkEnd): Promise<void> {
    await namespace.run("ip", ["address", "add", end.address, "dev", end.link]);
    await namespace.run("ip", ["link", "set", end.link, "up"]);
}
