/**
 * What a `pulumi preview` pays before any provider call: index.ts evaluated under the fake
 * providers in a fresh process (node start, TypeScript through tsx, SDK imports, the program),
 * timed end to end, per host mode.
 */
import { mkdtempSync, rmSync } from "fs";
import { generateKeyPairSync } from "crypto";
import { tmpdir } from "os";
import { join } from "path";
import { devStackConfig, evaluateProgram, EvaluationJob } from "../lib/program/evaluate";
import { spread, Spread } from "./stats";

export interface ModeCase {
    name: string;
    job: EvaluationJob;
}

/** The configurations the unit tests evaluate, one per mode; no real host is contacted under mocks. */
export function modeCases(): ModeCase[] {
    const sshPrivateKey = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string;
    return [
        { name: "local, bridge network", job: { config: devStackConfig() } },
        { name: "local, host network", job: { config: { ...devStackConfig(), containerNetwork: "host", uiPort: 15080 } } },
        {
            name: "ssh",
            job: {
                config: {
                    mode: "ssh",
                    hostnames: ["registry.lan"],
                    ipAddresses: ["192.168.1.5"],
                    ssh: { host: "192.168.1.5", user: "debian" },
                    sshPrivateKey,
                },
                secretKeys: ["sshPrivateKey"],
            },
        },
        {
            name: "alicloud",
            job: {
                config: {
                    mode: "alicloud",
                    hostnames: ["registry.example.com"],
                    alicloud: { region: "cn-hongkong", dnsZone: "example.com", adminCidr: "203.0.113.7/32" },
                    acme: { email: "ops@example.com" },
                },
            },
        },
    ];
}

export interface ModeTiming {
    name: string;
    /** Wall time of evaluateProgram, ms. */
    total?: Spread;
    /** The program's own import (index.ts and what it pulls in), ms. */
    importMs?: Spread;
    resources?: number;
    /** Why the evaluation failed, when it did. */
    error?: string;
}

export async function timeEvaluations(cases: ModeCase[], runs: number): Promise<ModeTiming[]> {
    // The ssh mode writes a key for the Docker CLI under $HOME: keep it out of the real home.
    const home = mkdtempSync(join(tmpdir(), "pr-bench-home-"));
    const realHome = process.env.HOME;
    process.env.HOME = home;
    try {
        const timings: ModeTiming[] = [];
        for (const { name, job } of cases) {
            const totals: number[] = [];
            const imports: number[] = [];
            let resources: number | undefined;
            let error: string | undefined;
            for (let i = 0; i < runs && error === undefined; i++) {
                const started = process.hrtime.bigint();
                try {
                    const result = await evaluateProgram(job);
                    if (result.error !== undefined) error = result.error;
                    totals.push(Number(process.hrtime.bigint() - started) / 1e6);
                    if (result.importMs !== undefined) imports.push(result.importMs);
                    resources = result.resources.length;
                } catch (thrown) {
                    error = thrown instanceof Error ? thrown.message : String(thrown);
                }
            }
            timings.push(
                error === undefined
                    ? { name, total: spread(totals), importMs: spread(imports), resources }
                    : { name, error: error.split("\n")[0] },
            );
        }
        return timings;
    } finally {
        if (realHome === undefined) delete process.env.HOME;
        else process.env.HOME = realHome;
        rmSync(home, { recursive: true, force: true });
    }
}
