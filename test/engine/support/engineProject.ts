/**
 * A copy of this project run by the real Pulumi engine, with a private file backend and
 * PULUMI_HOME; and a private dockerd with the stand-in images, for it to deploy to. Shared by the
 * engine tests. The engine is the one scripts/select-engine.sh picks (see docs/testing.md): a
 * Pulumi CLI installed on PATH with the plugins it acquires as usual, or scripts/build-engine.sh's
 * build with its own plugins and no downloads.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "fs";
import { homedir } from "os";
import { join, resolve } from "path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { DEFAULT_IMAGES } from "../../../components/config/keys";
import { DockerdOptions, PrivateDockerd, startDockerd } from "../../e2e/support/dockerd";
import { buildStandInImages, StandInOptions } from "../../e2e/support/standins";
import { registerCleanup, run, RunResult } from "../../../scripts/lib/processes";

const ROOT = resolve(__dirname, "../../..");
const PROJECT_FILES = ["Pulumi.yaml", "index.ts", "components", "package.json", "tsconfig.json"];

/** Pulumi.dev.yaml's config, its keys without the project's prefix: what `setConfig` takes, for a stack that starts from the dev stack. */
export function devStackConfig(): Record<string, unknown> {
    const dev = parseYaml(readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8")).config as Record<string, unknown>;
    return Object.fromEntries(Object.entries(dev).map(([key, value]) => [key.replace(/^private-registry:/, ""), value]));
}

export interface EngineProject {
    /** The test's scratch directory (the project, state and PULUMI_HOME live under it). */
    work: string;
    project: string;
    stack: string;
    /** What `pulumi` runs with; the engine's plugins inherit it. */
    env: NodeJS.ProcessEnv;
    /** `pulumi ARGS --non-interactive --stack STACK` in the project. */
    pulumi(args: string[], options?: { allowFailure?: boolean; timeoutMs?: number }): Promise<RunResult>;
    /** Sets config the way a user does, so Pulumi.yaml's declared types apply (keys without the namespace). */
    setConfig(values: Record<string, unknown>): void;
}

export interface EngineProjectOptions {
    stack: string;
    /** The test's scratch directory (makeTempDir); the project goes in its `project/`. */
    work: string;
    /** Added to the environment of every `pulumi` run, e.g. a DNS provider's credentials. */
    env?: NodeJS.ProcessEnv;
}

/** The Pulumi engine the tests run. */
export interface Engine {
    /**
     * `installed`: a Pulumi CLI found on PATH, with the plugins it acquires as it normally does
     * (`pulumi plugin install`, automatic acquisition) in the user's plugin directory; `built`:
     * scripts/build-engine.sh's build, with exactly its plugins and no downloads.
     */
    kind: "installed" | "built";
    /** The directory holding `pulumi`, put first on PATH. */
    bin: string;
}

/** The last line a script printed on stdout (its progress goes to stderr, shown as it runs). */
function lastLine(script: string): string {
    const out = execFileSync("bash", [join(ROOT, "scripts", script)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    return out.trim().split("\n").pop() ?? "";
}

let selected: Engine | undefined;
/**
 * The engine: `npm test` exports its choice (PULUMI_ENGINE_BIN and PRIVATE_REGISTRY_ENGINE =
 * installed or build); a test file run on its own asks scripts/select-engine.sh, and builds the
 * engine if that says so. PULUMI_ENGINE_BIN alone names a build (`$(scripts/build-engine.sh)`).
 */
export function selectedEngine(): Engine {
    if (selected) return selected;
    let bin = process.env.PULUMI_ENGINE_BIN;
    let kind: Engine["kind"] = process.env.PRIVATE_REGISTRY_ENGINE === "installed" ? "installed" : "built";
    if (!bin) {
        const [choice, ...dir] = lastLine("select-engine.sh").split(" ");
        kind = choice === "installed" ? "installed" : "built";
        bin = kind === "installed" ? dir.join(" ") : lastLine("build-engine.sh");
    }
    assert.ok(existsSync(join(bin, "pulumi")), `no pulumi in ${bin} (the ${kind} engine's bin dir)`);
    selected = { kind, bin };
    return selected;
}

/** The engine's bin dir. */
export function engineBin(): string {
    return selectedEngine().bin;
}

/** This project's files copied to `work/project`, node_modules linked; returns that directory. */
export function copyProject(work: string): string {
    const project = join(work, "project");
    mkdirSync(project);
    for (const file of PROJECT_FILES) cpSync(join(ROOT, file), join(project, file), { recursive: true });
    symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"));
    return project;
}

/** Where an installed CLI keeps the plugins it acquires: $PULUMI_HOME/plugins, by default ~/.pulumi/plugins. */
export function userPluginDir(env: NodeJS.ProcessEnv = process.env): string {
    return join(env.PULUMI_HOME || join(homedir(), ".pulumi"), "plugins");
}

/**
 * The environment `pulumi` runs with: the engine first on PATH, a file backend and PULUMI_HOME
 * under `work`, no update check. With the built engine: no plugin download and no plugin but the
 * engine's own (installed into that PULUMI_HOME here). With an installed CLI: that PULUMI_HOME's
 * `plugins` is the user's plugin directory, and the CLI acquires what is missing as it always
 * does. `extra` wins over the process's environment, not over these.
 */
export async function engineEnvironment(work: string, extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
    const engine = selectedEngine();
    const home = join(work, "pulumi-home");
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...extra,
        PATH: `${engine.bin}:${process.env.PATH}`,
        PULUMI_HOME: home,
        PULUMI_BACKEND_URL: `file://${join(work, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "engine-test",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
        ...(engine.kind === "built" ? { PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true", PULUMI_IGNORE_AMBIENT_PLUGINS: "true" } : {}),
    };
    mkdirSync(join(work, "state"));
    if (engine.kind === "built") {
        await run("bash", [join(ROOT, "scripts/build-engine.sh"), "--install-plugins"], { env, timeoutMs: 60_000 });
    } else {
        const plugins = userPluginDir();
        mkdirSync(plugins, { recursive: true });
        mkdirSync(home, { recursive: true });
        symlinkSync(plugins, join(home, "plugins"));
    }
    return env;
}

/**
 * Copies the project, installs the engine's plugins into a private PULUMI_HOME, creates the
 * stack, and registers a `pulumi destroy` for a test that ends with the stack still up. Start
 * what the stack talks to (dockerd, a CA) before: cleanups run newest first, so the destroy
 * then runs while they are still there.
 */
export async function createEngineProject(options: EngineProjectOptions): Promise<EngineProject> {
    const { work } = options;
    const project = copyProject(work);
    const env = await engineEnvironment(work, options.env);

    const { stack } = options;
    const pulumi: EngineProject["pulumi"] = (args, runOptions = {}) =>
        run("pulumi", [...args, "--non-interactive", "--stack", stack], {
            env,
            cwd: project,
            timeoutMs: runOptions.timeoutMs ?? 600_000,
            allowFailure: runOptions.allowFailure,
        });
    const setConfig = (values: Record<string, unknown>): void => {
        const file = join(project, `Pulumi.${stack}.yaml`);
        const stackFile = existsSync(file) ? (parseYaml(readFileSync(file, "utf8")) ?? {}) : {};
        stackFile.config = {
            ...stackFile.config,
            ...Object.fromEntries(Object.entries(values).map(([k, v]) => [`private-registry:${k}`, v])),
        };
        writeFileSync(file, toYaml(stackFile));
    };
    await pulumi(["stack", "init"]);
    registerCleanup(`destroy the engine stack ${stack} if a test left it up`, async () => {
        await pulumi(["destroy", "--yes"], { allowFailure: true });
    });
    return { work, project, stack, env, pulumi, setConfig };
}

/** A private dockerd (see test/e2e/support/dockerd.ts) with the stand-ins tagged as the images the stack pulls. */
export async function startDockerdWithStandIns(
    work: string,
    options: DockerdOptions = {},
    standIns: StandInOptions = {},
): Promise<PrivateDockerd> {
    const dockerd = await startDockerd(join(work, "d"), options);
    await buildStandInImages(
        dockerd,
        { registry: DEFAULT_IMAGES.registry, ui: DEFAULT_IMAGES.ui, edge: DEFAULT_IMAGES.edge, retention: DEFAULT_IMAGES.retention },
        work,
        standIns,
    );
    return dockerd;
}

/** One step of `pulumi preview --json`. */
export interface PreviewStep {
    op: string;
    urn: string;
}

/** The steps of a `pulumi preview --json` that change something, as `op name`, sorted. */
export function changedSteps(previewJson: string): string[] {
    return (JSON.parse(previewJson).steps as PreviewStep[])
        .filter((s) => s.op !== "same")
        .map((s) => `${s.op} ${s.urn.split("::").pop()}`)
        .sort();
}

/** What `pulumi up --json` (a stream of engine events, one JSON object a line) says it did. */
export interface UpdateRecord {
    /** Every finished step that changed something, as `op name`, sorted. */
    steps: string[];
    /** The summary's count per operation, e.g. `{ same: 17, update: 1, replace: 1 }`. */
    resourceChanges: Record<string, number>;
    result: string;
}

export function updateRecord(upJsonLines: string): UpdateRecord {
    const events = upJsonLines
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line));
    const steps = events
        .map((e) => e.resOutputsEvent?.metadata as PreviewStep | undefined)
        .filter((m): m is PreviewStep => m !== undefined && m.op !== "same")
        .map((m) => `${m.op} ${m.urn.split("::").pop()}`)
        .sort();
    const summary = events.find((e) => e.summaryEvent)?.summaryEvent;
    assert.ok(summary, "pulumi up --json printed no summary event");
    return { steps, resourceChanges: summary.resourceChanges, result: summary.result };
}
