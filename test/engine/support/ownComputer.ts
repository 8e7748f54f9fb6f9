/**
 * A computer of the test's own, for commands a user types as written: a mount namespace in which
 * `/root` and `/etc` are copy-on-write overlays of the real ones (what the commands write there,
 * `~/.pulumi`, `~/.docker`, `/etc/hosts`, `/etc/docker/certs.d`, lands in the test's work dir and
 * vanishes with it), joined, for what needs a network, with a network namespace of the test's
 * (scripts/lib/netns.ts). Everything else, the work dir included, is the real filesystem.
 *
 * The mount namespace is held by a `sleep` started with `unshare --mount`, stopped by its PID;
 * commands enter it with `nsenter --target PID --mount`.
 */
import { existsSync, mkdirSync } from "fs";
import { join } from "path";
import type { NetworkNamespace } from "../../../scripts/lib/netns";
import { run, RunOptions, RunResult, startDaemon, waitFor } from "../../../scripts/lib/processes";

const NSENTER = "/usr/bin/nsenter";
/** The directories the overlays cover: a user's home (root's) and the system's configuration. */
const OVERLAID = ["/root", "/etc"];

export interface OwnComputer {
    /** PID of the process holding the mount namespace. */
    holderPid: number;
    /**
     * The command line that runs `command` in the mount namespace (and `network`'s, if given), in
     * `cwd` (entering a mount namespace resets the working directory to its root).
     */
    command(command: string, args: string[], network?: NetworkNamespace, cwd?: string): { command: string; args: string[] };
    run(command: string, args: string[], options?: RunOptions & { network?: NetworkNamespace }): Promise<RunResult>;
    /**
     * `network` seen from this computer: a NetworkNamespace whose commands run in both
     * namespaces, for startDockerd (a daemon that reads this computer's /etc/docker/certs.d).
     */
    joined(network: NetworkNamespace): NetworkNamespace;
    /** Where the overlay keeps what was written under `dir` (one of /root, /etc). */
    upper(dir: string): string;
}

/** Starts the holder under `work/own-computer/` and waits until its overlays are mounted. */
export async function startOwnComputer(work: string): Promise<OwnComputer> {
    const base = join(work, "own-computer");
    const mounts = OVERLAID.map((dir) => {
        const name = dir.slice(1);
        const upper = join(base, name, "upper");
        const scratch = join(base, name, "work");
        mkdirSync(upper, { recursive: true });
        mkdirSync(scratch, { recursive: true });
        return `mount -t overlay overlay -o lowerdir=${dir},upperdir=${upper},workdir=${scratch} ${dir}`;
    });
    const ready = join(base, "ready");
    const script = `${mounts.join(" && ")} && touch ${ready} && exec sleep infinity`;
    const holder = startDaemon(
        "own computer's mount namespace",
        "unshare",
        ["--mount", "--propagation", "private", "--", "sh", "-c", script],
        {
            logFile: join(base, "holder.log"),
        },
    );
    await waitFor(
        "the own computer's overlays",
        async () => {
            if (existsSync(ready)) return true;
            throw new Error(`not mounted yet (log: ${join(base, "holder.log")})`);
        },
        30_000,
        100,
    );

    const command = (cmd: string, args: string[], network?: NetworkNamespace, cwd?: string) => ({
        command: NSENTER,
        args: [
            `--target=${holder.pid}`,
            "--mount",
            ...(network ? [`--net=${network.path}`] : []),
            ...(cwd ? [`--wd=${cwd}`] : []),
            "--",
            cmd,
            ...args,
        ],
    });
    return {
        holderPid: holder.pid,
        command,
        run(cmd, args, options = {}) {
            const { network, ...runOptions } = options;
            const line = command(cmd, args, network, runOptions.cwd);
            return run(line.command, line.args, runOptions);
        },
        joined(network) {
            return {
                ...network,
                command: (cmd, args) => command(cmd, args, network),
                run: (cmd, args, options) => {
                    const line = command(cmd, args, network);
                    return run(line.command, line.args, options);
                },
            };
        },
        upper: (dir) => join(base, dir.replace(/^\//, ""), "upper"),
    };
}
