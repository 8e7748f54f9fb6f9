/** The machine and the software versions a reader needs to compare their own figures. */
import { cpus, loadavg, release, totalmem } from "os";
import { run } from "../lib/processes";
import { NGINX } from "../lib/loopbackServers";
import { registry3Binary } from "../lib/builtTools";
import { GIB } from "./stats";

export interface Machine {
    cpu: string;
    cores: number;
    memory: string;
    kernel: string;
    nginx: string;
    openssl: string;
    registry: string;
    curl: string;
    node: string;
    /** 1-minute load when the bench started. */
    loadAtStart: number;
}

async function firstLine(command: string, args: string[]): Promise<string> {
    const result = await run(command, args, { allowFailure: true });
    return (result.stdout || result.stderr).trim().split("\n")[0];
}

export async function describeMachine(): Promise<Machine> {
    const registry = await registry3Binary();
    const nginx = await run(NGINX, ["-V"], { allowFailure: true });
    // "built with OpenSSL 3.0.x <date> (running with OpenSSL 3.0.y <date>)"
    const builtWith = (/built with (OpenSSL [^\n]+)/.exec(nginx.stderr)?.[1] ?? "")
        .replace(" (running with", ", running with")
        .replace(/\)$/, "");
    return {
        cpu: cpus()[0]?.model ?? "unknown",
        cores: cpus().length,
        memory: `${(totalmem() / GIB).toFixed(1)} GiB`,
        kernel: release(),
        nginx: `${/nginx version: (\S+)/.exec(nginx.stderr)?.[1] ?? "unknown"} (built with ${builtWith})`,
        openssl: (await firstLine("openssl", ["version"])).replace(/ \(Library.*$/, ""),
        // "<path>/registry github.com/distribution/distribution/v3 v3.1.2"
        registry: `Distribution ${(await firstLine(registry, ["--version"])).split(" ").pop()}`,
        curl: (await firstLine("curl", ["--version"])).split(" ").slice(0, 2).join(" "),
        node: process.version,
        loadAtStart: loadavg()[0],
    };
}
