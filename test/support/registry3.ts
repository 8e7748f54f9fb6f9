/**
 * Distribution 3's `registry` binary (github.com/distribution/distribution/v3 v3.1.2 from the Go
 * module proxy), built and cached by scripts/build-tools.sh: the first call builds it (406 s cold
 * here, 243 s with the modules already downloaded; docs/testing.md), later calls only check
 * the cache. REGISTRY3_BIN names a binary to use instead.
 */
import { existsSync } from "fs";
import { join, resolve } from "path";
import { run } from "../../scripts/lib/processes";

const ROOT = resolve(__dirname, "../..");
let built: Promise<string> | undefined;

export function registry3Binary(): Promise<string> {
    if (process.env.REGISTRY3_BIN) return Promise.resolve(process.env.REGISTRY3_BIN);
    built ??= (async () => {
        const result = await run("bash", [join(ROOT, "scripts/build-tools.sh"), "registry3"], { timeoutMs: 1_800_000 });
        const binary = join(result.stdout.trim().split("\n").pop() ?? "", "registry");
        if (!existsSync(binary))
            throw new Error(`scripts/build-tools.sh registry3 printed no bin dir holding registry: ${result.stdout}\n${result.stderr}`);
        return binary;
    })();
    return built;
}
