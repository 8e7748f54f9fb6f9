/**
 * Distribution 3's `registry` binary (github.com/distribution/distribution/v3 v3.1.2 from the Go
 * module proxy), built and cached by scripts/build-tools.sh (406 s cold, 243 s with the modules
 * already downloaded; docs/testing.md). REGISTRY3_BIN names a binary to use instead.
 */
import { existsSync, readdirSync, readFileSync } from "fs";
import { join, resolve } from "path";
import { run } from "./processes";

const ROOT = resolve(__dirname, "../..");
let built: Promise<string> | undefined;

/** The binary, built on the first call if the cache has none; later calls only check the cache. */
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

/**
 * The binary if it is at hand without building (REGISTRY3_BIN, or a finished build in the cache,
 * scripts/engine/lib.sh's layout), for a suite that cannot spare a cold build's minutes.
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
