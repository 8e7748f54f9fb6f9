/**
 * Test tools built from the Go module proxy and cached by scripts/build-tools.sh: the first call
 * for a tool builds it, later calls only check the cache (docs/testing.md lists build times). An
 * environment variable may name a binary to use instead (REGISTRY3_BIN, COSIGN_BIN, REGCTL_BIN).
 */
import { existsSync } from "fs";
import { join, resolve } from "path";
import { run } from "../../scripts/lib/processes";

const ROOT = resolve(__dirname, "../..");
const built = new Map<string, Promise<string>>();

/** The path of `binary` built by `scripts/build-tools.sh TOOL`; `override` names the variable that may give it instead. */
export function builtTool(tool: string, binary: string, override: string): Promise<string> {
    const given = process.env[override];
    if (given) return Promise.resolve(given);
    const key = `${tool}/${binary}`;
    if (!built.has(key)) {
        built.set(
            key,
            (async () => {
                const result = await run("bash", [join(ROOT, "scripts/build-tools.sh"), tool], { timeoutMs: 1_800_000 });
                const path = join(result.stdout.trim().split("\n").pop() ?? "", binary);
                if (!existsSync(path))
                    throw new Error(
                        `scripts/build-tools.sh ${tool} printed no bin dir holding ${binary}: ${result.stdout}\n${result.stderr}`,
                    );
                return path;
            })(),
        );
    }
    return built.get(key)!;
}

/** cosign (github.com/sigstore/cosign/v3). */
export const cosignBinary = () => builtTool("cosign", "cosign", "COSIGN_BIN");
/** regctl (github.com/regclient/regclient). */
export const regctlBinary = () => builtTool("regclient", "regctl", "REGCTL_BIN");
