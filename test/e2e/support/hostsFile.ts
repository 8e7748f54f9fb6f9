import { closeSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "fs";
import { registerCleanup } from "../../../scripts/lib/processes";

const HOSTS = "/etc/hosts";
/** Taken (created exclusively) around each edit: test files of one phase may run at once. */
const LOCK = `${HOSTS}.private-registry.lock`;
/** A lock older than this was left by a killed process: editing is microseconds. */
const STALE_LOCK_MS = 5_000;

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Replaces /etc/hosts in one step (a rename), so a resolver reading it meanwhile (another test
 * file's curl, dockerd) sees the old file or the new one, never a truncated one. Where /etc/hosts
 * is a mount point (a container's), a rename cannot replace it: write it in place there.
 */
function replaceHosts(content: string): void {
    const next = `${HOSTS}.private-registry.next`;
    writeFileSync(next, content, { mode: statSync(HOSTS).mode & 0o777 });
    try {
        renameSync(next, HOSTS);
    } catch (error) {
        rmSync(next, { force: true });
        if ((error as NodeJS.ErrnoException).code !== "EBUSY") throw error;
        writeFileSync(HOSTS, content);
    }
}

/** Runs `edit` holding the lock. Synchronous, so it also works in an exit handler. */
function withHostsLock(edit: () => void): void {
    for (let attempt = 0; ; attempt++) {
        try {
            closeSync(openSync(LOCK, "wx"));
            break;
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
            try {
                if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { force: true });
            } catch {
                // Released meanwhile: try again.
            }
            if (attempt > 1_000) throw new Error(`${LOCK} stays taken: remove it if no test runs`);
            pause(10);
        }
    }
    try {
        edit();
    } finally {
        rmSync(LOCK, { force: true });
    }
}

/**
 * Maps a test name to an address in /etc/hosts (dockerd, curl, skopeo and Chromium all read it)
 * and registers the removal of exactly that line. The line names this process, so two runs on one
 * machine that map the same name never remove each other's line; each read-and-write holds a
 * lock file, so test files running at once never lose each other's edits, and replaces the file
 * in one step, so their resolvers never read half of it.
 */
export function addHostsEntry(address: string, name: string): void {
    const line = `${address} ${name} # private-registry e2e, pid ${process.pid}`;
    withHostsLock(() => replaceHosts(`${readFileSync(HOSTS, "utf8").replace(/\n?$/, "\n")}${line}\n`));
    const remove = () =>
        withHostsLock(() =>
            replaceHosts(
                readFileSync(HOSTS, "utf8")
                    .split("\n")
                    .filter((l) => l !== line)
                    .join("\n"),
            ),
        );
    registerCleanup(`remove ${name} from ${HOSTS}`, remove, remove);
}
