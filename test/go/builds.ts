/**
 * Go programs the node tests run, built from the Go module proxy and cached by what they are
 * built from, so only the first run pays for the build (-p 1: the machine is shared).
 *
 * - k3sregistries (test/go/k3sregistries): k3s's own registries.yaml loader, wharfie v0.7.1.
 * - crictl (sigs.k8s.io/cri-tools v1.37.0) and containerd 2.x (github.com/containerd/containerd/v2
 *   v2.4.2): from scripts/build-tools.sh when the checkout has it, else built here the same way.
 */
import { createHash } from "crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "fs";
import { dirname, join, resolve } from "path";
import { run } from "../../scripts/lib/processes";

const ROOT = resolve(__dirname, "../..");
const CACHE = join(process.env.PRIVATE_REGISTRY_TOOLS_CACHE ?? "/var/cache/private-registry/tools");
const BUILD_TIMEOUT_MS = 30 * 60_000;

function goBinary(): string {
    if (process.env.GO) return process.env.GO;
    const onPath = (process.env.PATH ?? "")
        .split(":")
        .map((dir) => join(dir, "go"))
        .find((path) => existsSync(path));
    return onPath ?? "/usr/local/go/bin/go";
}

function goEnv(): NodeJS.ProcessEnv {
    return { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false" };
}

/** Builds into a temporary name and renames, so an interrupted build never looks cached. */
async function cached(path: string, build: (target: string) => Promise<void>): Promise<string> {
    if (existsSync(path)) return path;
    mkdirSync(dirname(path), { recursive: true });
    const partial = `${path}.partial-${process.pid}`;
    await build(partial);
    renameSync(partial, path);
    return path;
}

/** The k3sregistries check program; cached by its sources and the Go version. */
export async function k3sRegistriesCheck(): Promise<string> {
    const source = join(ROOT, "test/go/k3sregistries");
    const go = goBinary();
    const hash = createHash("sha256");
    for (const name of readdirSync(source).sort()) hash.update(name).update(readFileSync(join(source, name)));
    hash.update((await run(go, ["version"])).stdout);
    const binary = join(CACHE, `k3sregistries-${hash.digest("hex").slice(0, 16)}`, "k3sregistries");
    return cached(binary, async (target) => {
        await run(go, ["build", "-p", "1", "-trimpath", "-mod=readonly", "-o", target, "."], {
            cwd: source,
            env: goEnv(),
            timeoutMs: BUILD_TIMEOUT_MS,
        });
    });
}

export interface CriTools {
    crictl: string;
    /** containerd 2.x; 1.x is Debian's /usr/bin/containerd. */
    containerd2: string;
}

const CRICTL = {
    module: "sigs.k8s.io/cri-tools",
    version: "v1.37.0",
    pkg: "cmd/crictl",
    ldflags: "-X sigs.k8s.io/cri-tools/pkg/version.Version=v1.37.0",
    tags: "",
};
const CONTAINERD2 = {
    module: "github.com/containerd/containerd/v2",
    version: "v2.4.2",
    pkg: "cmd/containerd",
    ldflags: "-X github.com/containerd/containerd/v2/version.Version=v2.4.2",
    tags: "urfave_cli_no_docs,no_btrfs",
};

async function goInstall(tool: typeof CRICTL): Promise<string> {
    const name = tool.pkg.split("/").pop()!;
    return cached(join(CACHE, `${name}-${tool.version}`, name), async (target) => {
        const bin = `${target}.d`;
        const args = [
            "install",
            "-p",
            "1",
            "-trimpath",
            "-ldflags",
            tool.ldflags,
            ...(tool.tags ? ["-tags", tool.tags] : []),
            `${tool.module}/${tool.pkg}@${tool.version}`,
        ];
        await run(goBinary(), args, { env: { ...goEnv(), GOBIN: bin }, cwd: CACHE, timeoutMs: BUILD_TIMEOUT_MS });
        renameSync(join(bin, name), target);
        rmSync(bin, { recursive: true, force: true });
    });
}

/** crictl and containerd 2.x: scripts/build-tools.sh's cached builds when it exists, else our own. */
export async function criTools(): Promise<CriTools> {
    const script = join(ROOT, "scripts/build-tools.sh");
    if (existsSync(script)) {
        const result = await run("bash", [script, "crictl", "containerd2"], { timeoutMs: BUILD_TIMEOUT_MS });
        const bin = result.stdout.trim().split("\n").pop()!;
        return { crictl: join(bin, "crictl"), containerd2: join(bin, "containerd") };
    }
    return { crictl: await goInstall(CRICTL), containerd2: await goInstall(CONTAINERD2) };
}
