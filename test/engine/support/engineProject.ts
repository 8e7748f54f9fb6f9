/**
 * A copy of this project run by the real Pulumi engine (scripts/build-engine.sh's build), with a
 * private file backend and PULUMI_HOME, its plugins linked in, and no plugin downloads; and a
 * private dockerd with the stand-in images, for it to deploy to. Shared by the engine tests.
 */
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { DEFAULT_IMAGES } from "../../../components/config/keys";
import { DockerdOptions, PrivateDockerd, startDockerd } from "../../e2e/support/dockerd";
import { buildStandInImages } from "../../e2e/support/standins";
import { registerCleanup, run, RunResult } from "../../../scripts/lib/processes";

const ROOT = resolve(__dirname, "../../..");
const PROJECT_FILES = ["Pulumi.yaml", "index.ts", "components", "package.json", "tsconfig.json"];

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

/** The engine's bin dir (PULUMI_ENGINE_BIN), checked: the engine tests cannot run without it. */
export function engineBin(): string {
    const bin = process.env.PULUMI_ENGINE_BIN;
    assert.ok(
        bin && existsSync(join(bin, "pulumi")),
        "PULUMI_ENGINE_BIN must name the engine's bin dir: run `npm test` (it runs scripts/build-engine.sh) or export PULUMI_ENGINE_BIN=$(scripts/build-engine.sh)",
    );
    return bin;
}

/** This project's files copied to `work/project`, node_modules linked; returns that directory. */
export function copyProject(work: string): string {
    const project = join(work, "project");
    mkdirSync(project);
    for (const file of PROJECT_FILES) cpSync(join(ROOT, file), join(project, file), { recursive: true });
    symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"));
    return project;
}

/**
 * The environment `pulumi` runs with: the engine first on PATH, a file backend and PULUMI_HOME
 * under `work`, no update check, no plugin download, no plugin but the engine's own (installed
 * into that PULUMI_HOME here). `extra` wins over the process's environment, not over these.
 */
export async function engineEnvironment(work: string, extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...extra,
        PATH: `${engineBin()}:${process.env.PATH}`,
        PULUMI_HOME: join(work, "pulumi-home"),
        PULUMI_BACKEND_URL: `file://${join(work, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "engine-test",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
    };
    mkdirSync(join(work, "state"));
    await run("bash", [join(ROOT, "scripts/build-engine.sh"), "--install-plugins"], { env, timeoutMs: 60_000 });
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
export async function startDockerdWithStandIns(work: string, options: DockerdOptions = {}): Promise<PrivateDockerd> {
    const dockerd = await startDockerd(join(work, "d"), options);
    await buildStandInImages(dockerd, { registry: DEFAULT_IMAGES.registry, ui: DEFAULT_IMAGES.ui, edge: DEFAULT_IMAGES.edge }, work);
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
