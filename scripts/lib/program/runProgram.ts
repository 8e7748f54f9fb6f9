/**
 * Child process entry: evaluates a Pulumi program (index.ts, or the job's) once under FakeProviders and
 * writes what it registered and exported to a JSON file. One process per evaluation, because the
 * Pulumi runtime keeps global state that a second evaluation in the same process would see.
 *
 * Usage: node --import tsx scripts/lib/program/runProgram.ts JOB.json RESULT.json
 */
import * as pulumi from "@pulumi/pulumi";
import { readFileSync, writeFileSync } from "fs";
import { resolve } from "path";
import { FakeProviders } from "./fakeProviders";
import type { EvaluationJob, EvaluationResult, ExportedValue } from "./evaluate";

async function exportedValue(value: unknown): Promise<ExportedValue> {
    if (pulumi.Output.isInstance(value)) {
        const secret = await pulumi.isSecret(value);
        const plain = await new Promise<unknown>((done) => value.apply((v) => done(v)));
        const inner = await exportedValue(plain);
        return { value: inner.value, secret: secret || inner.secret };
    }
    if (Array.isArray(value)) {
        const items = await Promise.all(value.map(exportedValue));
        return { value: items.map((i) => i.value), secret: items.some((i) => i.secret), secretChildren: items.map((i) => i.secret) };
    }
    if (value && typeof value === "object" && !(value instanceof pulumi.Resource)) {
        const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await exportedValue(v)] as const));
        return {
            value: Object.fromEntries(entries.map(([k, v]) => [k, v.value])),
            secret: false,
            secretChildren: Object.fromEntries(entries.map(([k, v]) => [k, v.secret])),
        };
    }
    return { value, secret: false };
}

async function main(): Promise<void> {
    const [jobPath, resultPath] = process.argv.slice(2);
    const job: EvaluationJob = JSON.parse(readFileSync(jobPath, "utf8"));
    const providers = new FakeProviders(job.previousState ?? {}, {
        previousOutputs: job.previousOutputs,
        invokeResults: job.invokeResults,
    });
    const result: EvaluationResult = { resources: [], parents: {}, options: {}, outputs: {}, state: {} };
    try {
        // "organization" is what the DIY backend calls every organization.
        await pulumi.runtime.setMocks(
            providers,
            job.project ?? "private-registry",
            job.stack ?? "dev",
            job.preview ?? false,
            "organization",
        );
        pulumi.runtime.setAllConfig(
            Object.fromEntries(
                Object.entries(job.config).map(([k, v]) => [`private-registry:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
            ),
            (job.secretKeys ?? []).map((k) => `private-registry:${k}`),
        );
        const parents: Record<string, pulumi.Output<string> | undefined> = {};
        // The module's own exports: runInPulumiStack returns them already resolved, secrets unwrapped.
        let exports: Record<string, unknown> = {};
        await pulumi.runtime.runInPulumiStack(async () => {
            pulumi.runtime.registerStackTransformation((args) => {
                const opts = args.opts as pulumi.CustomResourceOptions;
                parents[`${args.type}::${args.name}`] = opts.parent?.urn;
                result.options[`${args.type}::${args.name}`] = {
                    deleteBeforeReplace: opts.deleteBeforeReplace ?? false,
                    retainOnDelete: opts.retainOnDelete ?? false,
                    protect: opts.protect ?? false,
                    hasProvider: opts.provider !== undefined,
                };
                if (opts.additionalSecretOutputs !== undefined)
                    (result.additionalSecretOutputs ??= {})[`${args.type}::${args.name}`] = [...opts.additionalSecretOutputs];
                return undefined;
            });
            const started = process.hrtime.bigint();
            exports = await import(resolve(__dirname, "../../..", job.program ?? "index.ts"));
            result.importMs = Number(process.hrtime.bigint() - started) / 1e6;
            return exports;
        });
        // Registrations no export depends on (containers behind a host that takes longer than
        // the exports) would otherwise be cut off by the exit below: let every one finish.
        await pulumi.runtime.disconnect();
        for (const [name, value] of Object.entries(exports)) {
            if (name === "default" || name === "__esModule") continue;
            result.outputs[name] = await exportedValue(value);
        }
        for (const [child, parentUrn] of Object.entries(parents)) {
            result.parents[child] = parentUrn === undefined ? null : await new Promise<string>((done) => parentUrn.apply(done));
        }
        result.resources = providers.resources;
        result.state = providers.state();
        result.invokes = providers.invokes;
    } catch (error) {
        result.error = error instanceof Error ? error.message : String(error);
    }
    writeFileSync(resultPath, JSON.stringify(result, null, 1));
    process.exit(0);
}

void main();
