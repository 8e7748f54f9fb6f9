/**
 * Evaluates the Pulumi program (index.ts) under the fake providers, in a child process
 * (runProgram.ts): what the unit tests assert on, and what the bench times per mode.
 */
import { execFile } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { promisify } from "util";
import type { ProviderState, RecordedResource } from "./fakeProviders";

export interface EvaluationJob {
    /** The program, relative to the repository: default the stack's, index.ts. */
    program?: string;
    /** Config keys without the `private-registry:` prefix; lists and objects as values. */
    config: Record<string, unknown>;
    secretKeys?: string[];
    stack?: string;
    project?: string;
    preview?: boolean;
    /** A previous evaluation's state: unchanged resources keep their outputs (a second `up`). */
    previousState?: ProviderState;
    /** The stack's outputs from its last deployment (what a StackReference to itself reads). */
    previousOutputs?: Record<string, unknown>;
    /** Lookup answers replacing the canned ones, by token. */
    invokeResults?: Record<string, Record<string, unknown>>;
}

export interface ExportedValue {
    value: unknown;
    secret: boolean;
    /** For objects and arrays of Outputs: which members are secret. */
    secretChildren?: Record<string, boolean> | boolean[];
}

export interface EvaluationResult {
    error?: string;
    resources: RecordedResource[];
    /** `type::name` -> the parent's URN (null: the stack itself is the root). */
    parents: Record<string, string | null>;
    /** `type::name` -> the resource options that decide replacement and deletion. */
    options: Record<string, { deleteBeforeReplace: boolean; retainOnDelete: boolean; protect: boolean; hasProvider: boolean }>;
    /** `type::name` -> the outputs the program itself asks the engine to keep secret in the state. */
    additionalSecretOutputs?: Record<string, string[]>;
    outputs: Record<string, ExportedValue>;
    state: ProviderState;
    /** Every lookup (invoke) the program made. */
    invokes?: { token: string; inputs: Record<string, unknown> }[];
    importMs?: number;
}

const run = promisify(execFile);
const ROOT = resolve(__dirname, "../../..");

/** Evaluates the program (index.ts unless the job names another) in a fresh process under the fake providers. */
export async function evaluateProgram(job: EvaluationJob): Promise<EvaluationResult> {
    const dir = mkdtempSync(join(tmpdir(), "pr-eval-"));
    try {
        const jobPath = join(dir, "job.json");
        const resultPath = join(dir, "result.json");
        writeFileSync(jobPath, JSON.stringify(job));
        // The runtime may exit non-zero over promises still pending at exit (outputs nobody
        // awaited); the result file decides, and its absence reports the child's stderr.
        const child = await run(
            process.execPath,
            ["--import", "tsx", join(ROOT, "scripts/lib/program/runProgram.ts"), jobPath, resultPath],
            {
                cwd: ROOT,
                timeout: 120_000,
                maxBuffer: 64 * 1024 * 1024,
            },
        ).catch((error: { stderr?: string }) => error);
        if (!existsSync(resultPath)) throw new Error(`program evaluation wrote no result:\n${child.stderr ?? ""}`);
        return JSON.parse(readFileSync(resultPath, "utf8"));
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

export function findResource(result: EvaluationResult, type: string, name?: string): RecordedResource {
    const found = result.resources.filter((r) => r.type === type && (name === undefined || r.name === name));
    if (found.length !== 1)
        throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${found.map((r) => r.name).join(", ") || "none"}`);
    return found[0];
}

/** The dev stack's own settings (Pulumi.dev.yaml), so tests start from what a newcomer deploys. */
export function devStackConfig(): Record<string, unknown> {
    const { parse } = require("yaml") as typeof import("yaml");
    const file = parse(readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(file.config).map(([k, v]) => [k.replace(/^private-registry:/, ""), v]));
}
