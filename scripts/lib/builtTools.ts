/**
 * Tools the tests and the bench build from the Go module proxy, cached by scripts/build-tools.sh:
 * the first call for a tool builds it, later calls only check the cache (docs/testing.md lists
 * build times). An environment variable may name a binary to use instead (REGISTRY3_BIN,
 * COSIGN_BIN, REGCTL_BIN).
 */
import { existsSync, readdirSync, readFileSync } from "fs";
import { join, resolve } from "path";
import { run } from "./processes";

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

/** Distribution 3's `registry` (github.com/distribution/distribution/v3 v3.1.2). */
export const registry3Binary = () => builtTool("registry3", "registry", "REGISTRY3_BIN");

/**
 * Distribution 3's binary if it is at hand without building (REGISTRY3_BIN, or a finished build in
 * the cache, scripts/engine/lib.sh's layout), for a suite that cannot spare a cold build's minutes.
 */
export function cachedRegistry3(): string | undefined {
    if (process.env.REGISTRY3_BIN) return process.env.REGISTRY3_BIN;
    const root = join(process.env.PULUMI_ENGINE_CACHE ?? "/var/cache/private-registry/engine", "registry3");
    const builds = existsSync(root)
        ? readdirSync(root)
              .filter((d) => d.startsWith("v3.1.2_"))
              .map((d) => join(root, d))
        : [];
    const ok = (d: string) =>
        existsSync(join(d, "bin/registry")) && existsSync(join(d, "status")) && readFileSync(join(d, "status"), "utf8").startsWith("ok");
    const cached = builds.find(ok);
    return cached === undefined ? undefined : join(cached, "bin/registry");
}
