import { readFileSync, writeFileSync } from "fs";
import { registerCleanup } from "../../support/processes";

const HOSTS = "/etc/hosts";

/**
 * Maps a test name to an address in /etc/hosts (dockerd, curl, skopeo and Chromium all read it)
 * and registers the removal of exactly that line. The line names this process, so two runs on one
 * machine that map the same name never remove each other's line. (Each edit is a synchronous read
 * and write, microseconds apart; runs still should not start at the same instant.)
 */
export function addHostsEntry(address: string, name: string): void {
    const line = `${address} ${name} # private-registry e2e, pid ${process.pid}`;
    writeFileSync(HOSTS, `${readFileSync(HOSTS, "utf8").replace(/\n?$/, "\n")}${line}\n`);
    const remove = () => writeFileSync(HOSTS, readFileSync(HOSTS, "utf8").split("\n").filter((l) => l !== line).join("\n"));
    registerCleanup(`remove ${name} from ${HOSTS}`, remove, remove);
}
