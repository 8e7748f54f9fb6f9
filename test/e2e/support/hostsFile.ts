import { readFileSync, writeFileSync } from "fs";
import { registerCleanup } from "../../support/processes";

const HOSTS = "/etc/hosts";

/**
 * Maps a test name to an address in /etc/hosts (dockerd, curl, skopeo and Chromium all read it)
 * and registers the removal of exactly that line.
 */
export function addHostsEntry(address: string, name: string): void {
    const line = `${address} ${name} # private-registry e2e`;
    writeFileSync(HOSTS, `${readFileSync(HOSTS, "utf8").replace(/\n?$/, "\n")}${line}\n`);
    const remove = () => writeFileSync(HOSTS, readFileSync(HOSTS, "utf8").split("\n").filter((l) => l !== line).join("\n"));
    registerCleanup(`remove ${name} from ${HOSTS}`, remove, remove);
}
