/**
 * The dev stack, ready for the real engine to deploy with host networking (engineProject.ts: the
 * project copy, the engine, the dockerd with stand-ins): the name resolving to ::1 (dockerd skips
 * TLS checks for 127.0.0.0/8 registries), free ports, the config from Pulumi.dev.yaml. For tests
 * that change the config or the code and preview against one deployed stack (reviewPreviews.ts).
 */
import { existsSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { freePorts } from "../../../scripts/lib/loopbackServers";
import { makeTempDir, RunResult } from "../../../scripts/lib/processes";
import { PrivateDockerd } from "../../e2e/support/dockerd";
import { addHostsEntry } from "../../e2e/support/hostsFile";
import { createEngineProject, startDockerdWithStandIns, devStackConfig } from "./engineProject";

export const ROOT = resolve(__dirname, "../../..");

export interface EngineStackOptions {
    /** The registry's name (resolves to ::1 for the test's lifetime). */
    hostname: string;
    /** `namePrefix` of every Docker object. */
    namePrefix: string;
    stack: string;
}

export interface EngineStack {
    /** The temp copy of the project the engine runs. */
    project: string;
    work: string;
    dockerd: PrivateDockerd;
    env: NodeJS.ProcessEnv;
    pulumi(args: string[], options?: { allowFailure?: boolean; timeoutMs?: number }): Promise<RunResult>;
    docker(args: string[], timeoutMs?: number): Promise<RunResult>;
    /** Sets config the way a user does (keys without the project namespace). */
    setConfig(values: Record<string, unknown>): void;
    /** The stack's config as set (keys without the project namespace). */
    config(): Record<string, unknown>;
    /** Replaces the whole config (keys without the project namespace). */
    replaceConfig(values: Record<string, unknown>): void;
}

/** Everything up to (not including) `pulumi up`; the caller's `after` runs the cleanups. */
export async function prepareEngineStack(options: EngineStackOptions): Promise<EngineStack> {
    const work = makeTempDir("pr-eng-");
    const dockerd = await startDockerdWithStandIns(work);
    addHostsEntry("::1", options.hostname);
    const engine = await createEngineProject({ stack: options.stack, work });
    const stackFile = join(engine.project, `Pulumi.${options.stack}.yaml`);
    const readStack = () => (existsSync(stackFile) ? parseYaml(readFileSync(stackFile, "utf8")) : null) ?? {};
    // The registry's metrics listener too: its default loopback port may be taken by another stack.
    const [httpsPort, httpPort, uiPort, metricsPort] = await freePorts(4);
    engine.setConfig({
        ...devStackConfig(),
        hostnames: [options.hostname],
        ipAddresses: ["::1"],
        containerNetwork: "host",
        dockerHost: dockerd.host,
        namePrefix: options.namePrefix,
        httpsPort,
        httpPort,
        uiPort,
        metricsPort,
    });
    return {
        project: engine.project,
        work,
        dockerd,
        env: engine.env,
        pulumi: (args, runOptions) => engine.pulumi(args, runOptions),
        docker: (args, timeoutMs = 120_000) => dockerd.docker(args, { timeoutMs }),
        setConfig: (values) => engine.setConfig(values),
        config: () =>
            Object.fromEntries(Object.entries(readStack().config ?? {}).map(([k, v]) => [k.replace(/^private-registry:/, ""), v])),
        replaceConfig(values) {
            const current = readStack();
            current.config = Object.fromEntries(Object.entries(values).map(([k, v]) => [`private-registry:${k}`, v]));
            writeFileSync(stackFile, toYaml(current));
        },
    };
}
