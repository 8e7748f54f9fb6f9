/**
 * sslyze (6.3.1, installed from PyPI into a cached virtualenv by scripts/build-tools.sh sslyze):
 * an independent TLS scanner that checks a server against Mozilla's TLS profiles and reports its
 * certificate chain, OCSP stapling and HSTS. SSLYZE_BIN names a binary to use instead.
 */
import { existsSync, readFileSync } from "fs";
import { join, resolve } from "path";
import { run } from "../../scripts/lib/processes";

const ROOT = resolve(__dirname, "../..");
let installed: Promise<string> | undefined;

export function sslyzeBinary(): Promise<string> {
    if (process.env.SSLYZE_BIN) return Promise.resolve(process.env.SSLYZE_BIN);
    installed ??= (async () => {
        const result = await run("bash", [join(ROOT, "scripts/build-tools.sh"), "sslyze"], { timeoutMs: 600_000 });
        const binary = join(result.stdout.trim().split("\n").pop() ?? "", "sslyze");
        if (!existsSync(binary))
            throw new Error(`scripts/build-tools.sh sslyze printed no bin dir holding sslyze: ${result.stdout}\n${result.stderr}`);
        return binary;
    })();
    return installed;
}

/** What one scan found, from sslyze's JSON report and its Mozilla check. */
export interface TlsScan {
    /** sslyze's exit code 0: the server passed the Mozilla profile asked for. */
    compliant: boolean;
    /** sslyze's text output: the Mozilla check's verdict and each issue it names. */
    output: string;
    /** The server's scan result from `--json_out` (sslyze's own schema). */
    result: Record<string, any>;
}

/**
 * Scans `host:port` (connecting to `address`, SNI `host`) against Mozilla's `profile`, trusting
 * `caFile` besides the public roots, and reads the HTTP headers of `/` too (HSTS).
 */
export async function scanTls(options: {
    host: string;
    port: number;
    address: string;
    caFile: string;
    jsonFile: string;
    profile?: "intermediate" | "modern" | "old";
}): Promise<TlsScan> {
    const binary = await sslyzeBinary();
    const scan = await run(
        binary,
        [
            `--mozilla_config=${options.profile ?? "intermediate"}`,
            `--certinfo_ca_file=${options.caFile}`,
            "--http_headers",
            `--json_out=${options.jsonFile}`,
            `${options.host}:${options.port}{${options.address}}`,
        ],
        { allowFailure: true, timeoutMs: 300_000 },
    );
    const report = JSON.parse(readFileSync(options.jsonFile, "utf8"));
    const [result] = report.server_scan_results;
    if (result?.scan_status !== "COMPLETED")
        throw new Error(`sslyze could not scan ${options.host}:${options.port}: ${scan.stdout}${scan.stderr}`);
    return { compliant: scan.code === 0, output: scan.stdout + scan.stderr, result: result.scan_result };
}
