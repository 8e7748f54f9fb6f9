/**
 * Replays what the program declared (recorded by the mock harness) on a real dockerd: the
 * networks, volumes and containers, with their uploads, env, command, volumes, health checks,
 * restart policy, network attachments and published ports taken from the recorded inputs, never
 * from a second hand-written copy.
 *
 * An input this replay does not know makes it throw: a new container setting in the program
 * cannot be silently left out of the end-to-end proof.
 */
import { createReadStream, mkdirSync, rmSync, writeFileSync } from "fs";
import { dirname, join } from "path";
import { shellWord } from "../../../components/render/shell/quote";
import type { RecordedResource } from "../../../scripts/lib/program/fakeProviders";
import type { EvaluationResult } from "../../../scripts/lib/program/evaluate";
import { run, waitFor } from "../../../scripts/lib/processes";
import { DOCKER_CLI, PrivateDockerd } from "./dockerd";

const CONTAINER = "docker:index/container:Container";
const VOLUME = "docker:index/volume:Volume";
const IMAGE = "docker:index/remoteImage:RemoteImage";
const NETWORK = "docker:index/network:Network";

interface Upload {
    file: string;
    content: string;
    permissions?: string;
    executable?: boolean;
}

interface Port {
    internal: number;
    external?: number;
    ip?: string;
    protocol?: string;
}

interface NetworkAttachment {
    name: string;
    aliases?: string[];
}

interface Healthcheck {
    tests: string[];
    interval?: string;
    timeout?: string;
    retries?: number;
    startPeriod?: string;
}

/** Container inputs the replay turns into `docker create` flags; anything else is refused. */
const HANDLED = new Set([
    "name",
    "image",
    "restart",
    "envs",
    "uploads",
    "volumes",
    "healthcheck",
    "networkMode",
    "networksAdvanced",
    "command",
    "entrypoints",
    "ports",
    "labels",
    "logDriver",
    "logOpts",
    "start",
    "mustRun",
    "hosts",
]);
/** Network inputs the replay turns into `docker network create` flags. */
const HANDLED_NETWORK = new Set(["name", "driver"]);

interface Mount {
    volumeName: string;
    containerPath: string;
    readOnly?: boolean;
}

/**
 * A container created and filled but never started (`start: false`): the holder that carries a
 * service's secret files into their volume (components/services/serviceContainer.ts).
 */
function neverStarted(inputs: Record<string, any>): boolean {
    if (inputs.start === false && inputs.mustRun !== false)
        throw new Error(`${inputs.name}: start: false without mustRun: false would be restarted by the provider`);
    return inputs.start === false;
}

/** The image tag behind a recorded image ID (the RemoteImage the container points at). */
function imageName(result: EvaluationResult, imageId: string): string {
    const image = result.resources.find((r) => r.type === IMAGE && r.state.imageId === imageId);
    if (!image) throw new Error(`no RemoteImage with imageId ${imageId}`);
    return image.inputs.name as string;
}

export function imageNames(result: EvaluationResult): Record<string, string> {
    return Object.fromEntries(result.resources.filter((r) => r.type === IMAGE).map((r) => [r.name, r.inputs.name as string]));
}

export function containers(result: EvaluationResult): RecordedResource[] {
    return result.resources.filter((r) => r.type === CONTAINER);
}

export function containerInputs(result: EvaluationResult, name: string): Record<string, any> {
    const found = containers(result).find((c) => c.inputs.name === name);
    if (!found) throw new Error(`no container named ${name} was declared`);
    return found.inputs as Record<string, any>;
}

function createArgs(result: EvaluationResult, inputs: Record<string, any>): string[] {
    const unknown = Object.keys(inputs).filter((key) => !HANDLED.has(key));
    if (unknown.length > 0) throw new Error(`the replay does not know container input(s) ${unknown.join(", ")} of ${inputs.name}`);
    const args = ["create", "--name", inputs.name];
    if (inputs.restart) args.push("--restart", inputs.restart);
    // As the Docker provider creates a container: HostConfig.NetworkMode as given (Docker's
    // default bridge when unset), the ports with the provider's defaults (IPv4 0.0.0.0, tcp).
    if (inputs.networkMode) args.push("--network", inputs.networkMode);
    // Extra /etc/hosts lines, as the provider's `hosts` sets HostConfig.ExtraHosts.
    for (const host of (inputs.hosts as { host: string; ip: string }[] | undefined) ?? [])
        args.push("--add-host", `${host.host}:${host.ip}`);
    for (const port of (inputs.ports as Port[] | undefined) ?? []) {
        args.push("--publish", `${port.ip ?? "0.0.0.0"}:${port.external ?? ""}:${port.internal}/${port.protocol ?? "tcp"}`);
    }
    if (inputs.logDriver) args.push("--log-driver", inputs.logDriver);
    for (const [key, value] of Object.entries((inputs.logOpts as Record<string, string> | undefined) ?? {}))
        args.push("--log-opt", `${key}=${value}`);
    for (const env of (inputs.envs as string[] | undefined) ?? []) args.push("--env", env);
    for (const volume of (inputs.volumes as Mount[] | undefined) ?? [])
        args.push("--volume", `${volume.volumeName}:${volume.containerPath}${volume.readOnly ? ":ro" : ""}`);
    for (const label of (inputs.labels as { label: string; value: string }[] | undefined) ?? [])
        args.push("--label", `${label.label}=${label.value}`);
    const health = inputs.healthcheck as Healthcheck | undefined;
    if (health) {
        const [kind, ...command] = health.tests;
        // The CLI only sets CMD-SHELL checks; the exec form runs the same command through sh.
        const shellCommand = kind === "CMD" ? command.map(shellWord).join(" ") : command.join(" ");
        args.push("--health-cmd", shellCommand);
        if (health.interval) args.push("--health-interval", health.interval);
        if (health.timeout) args.push("--health-timeout", health.timeout);
        if (health.retries !== undefined) args.push("--health-retries", String(health.retries));
        if (health.startPeriod) args.push("--health-start-period", health.startPeriod);
    }
    if (inputs.entrypoints) args.push("--entrypoint", (inputs.entrypoints as string[])[0]);
    args.push(imageName(result, inputs.image));
    if (inputs.entrypoints) args.push(...(inputs.entrypoints as string[]).slice(1));
    if (inputs.command) args.push(...(inputs.command as string[]));
    return args;
}

/** Uploads as the provider does them: a tar of the files at their absolute paths, extracted at `/`. */
async function upload(dockerd: PrivateDockerd, container: string, uploads: Upload[], workDir: string): Promise<void> {
    if (uploads.length === 0) return;
    const staging = join(workDir, `uploads-${container}`);
    rmSync(staging, { recursive: true, force: true });
    for (const file of uploads) {
        const path = join(staging, file.file);
        mkdirSync(dirname(path), { recursive: true });
        const mode = file.permissions ? parseInt(file.permissions, 8) : file.executable ? 0o755 : 0o644;
        writeFileSync(path, file.content, { mode });
    }
    const archive = `${staging}.tar`;
    await run("tar", ["-C", staging, "--owner=0", "--group=0", "-cf", archive, "."]);
    await run(DOCKER_CLI, ["cp", "-", `${container}:/`], { env: dockerd.env, input: createReadStream(archive) });
}

/**
 * `networksAdvanced` as the Docker provider applies it after creating the container: off
 * Docker's default bridge, then one `network connect` per entry, with its aliases. These API
 * calls, not a model of them, decide which names Docker's DNS knows.
 */
async function connectNetworks(dockerd: PrivateDockerd, container: string, networks: NetworkAttachment[]): Promise<void> {
    if (networks.length === 0) return;
    const disconnect = await dockerd.docker(["network", "disconnect", "bridge", container], { allowFailure: true });
    if (disconnect.code !== 0 && !/is not connected to the network bridge/.test(disconnect.stderr)) {
        throw new Error(`could not take ${container} off the default bridge: ${disconnect.stderr}`);
    }
    for (const network of networks) {
        await dockerd.docker([
            "network",
            "connect",
            ...(network.aliases ?? []).flatMap((alias) => ["--alias", alias]),
            network.name,
            container,
        ]);
    }
}

/** Creates, fills and (unless declared `start: false`) starts one declared container. */
export async function startContainer(
    dockerd: PrivateDockerd,
    result: EvaluationResult,
    inputs: Record<string, any>,
    workDir: string,
): Promise<void> {
    await dockerd.docker(createArgs(result, inputs));
    await connectNetworks(dockerd, inputs.name, (inputs.networksAdvanced as NetworkAttachment[] | undefined) ?? []);
    await upload(dockerd, inputs.name, (inputs.uploads as Upload[] | undefined) ?? [], workDir);
    if (!neverStarted(inputs)) await dockerd.docker(["start", inputs.name]);
}

export async function waitHealthy(dockerd: PrivateDockerd, name: string, timeoutMs = 60_000): Promise<void> {
    await waitFor(
        `${name} to be healthy`,
        async () => {
            const status = (await dockerd.docker(["inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", name])).stdout.trim();
            if (status.startsWith("exited")) {
                const logs = await dockerd.docker(["logs", "--tail", "30", name], { allowFailure: true });
                throw new Error(`${name} exited: ${logs.stdout}${logs.stderr}`);
            }
            return status === "running healthy" || undefined;
        },
        timeoutMs,
        500,
    );
}

/** Replays every declared network, volume and container, in declaration order, and waits for health. */
export async function replay(dockerd: PrivateDockerd, result: EvaluationResult, workDir: string): Promise<void> {
    for (const network of result.resources.filter((r) => r.type === NETWORK)) {
        const unknown = Object.keys(network.inputs).filter((key) => !HANDLED_NETWORK.has(key));
        if (unknown.length > 0) throw new Error(`the replay does not know network input(s) ${unknown.join(", ")} of ${network.name}`);
        if (!dockerd.networkNamespace)
            throw new Error(`${network.name}: a bridge network needs a dockerd in a network namespace (startDockerd's networkNamespace)`);
        await dockerd.docker([
            "network",
            "create",
            "--driver",
            (network.inputs.driver as string | undefined) ?? "bridge",
            network.inputs.name as string,
        ]);
    }
    for (const volume of result.resources.filter((r) => r.type === VOLUME)) {
        const labels = ((volume.inputs.labels as { label: string; value: string }[] | undefined) ?? []).flatMap((l) => [
            "--label",
            `${l.label}=${l.value}`,
        ]);
        const opts = Object.entries((volume.inputs.driverOpts as Record<string, string> | undefined) ?? {}).flatMap(([k, v]) => [
            "--opt",
            `${k}=${v}`,
        ]);
        await dockerd.docker(["volume", "create", ...labels, ...opts, volume.inputs.name as string]);
    }
    for (const container of containers(result)) await startContainer(dockerd, result, container.inputs, workDir);
    for (const container of containers(result).filter((c) => !neverStarted(c.inputs)))
        await waitHealthy(dockerd, container.inputs.name as string);
}

/** The never-started holders whose volume the named container mounts (its secret files). */
export function secretHolders(result: EvaluationResult, name: string): string[] {
    const mounted = new Set(((containerInputs(result, name).volumes as Mount[] | undefined) ?? []).map((v) => v.volumeName));
    return containers(result)
        .filter((c) => neverStarted(c.inputs) && ((c.inputs.volumes as Mount[] | undefined) ?? []).some((v) => mounted.has(v.volumeName)))
        .map((c) => c.inputs.name as string);
}

/**
 * What `pulumi up` does to a container whose inputs changed: delete it (deleteBeforeReplace, as
 * the program asks), then create the new one. Volumes are left alone, as the engine leaves them.
 * The holders of its secret files are replaced first, as the engine orders them (the service
 * depends on its holder), so the new container reads the new files. `betweenDeleteAndCreate` runs
 * in the gap (a test taking the old container's address there).
 */
export async function replaceContainer(
    dockerd: PrivateDockerd,
    result: EvaluationResult,
    name: string,
    workDir: string,
    betweenDeleteAndCreate?: () => Promise<void>,
): Promise<void> {
    for (const holder of secretHolders(result, name)) {
        await dockerd.docker(["rm", "-f", holder]);
        await startContainer(dockerd, result, containerInputs(result, holder), workDir);
    }
    await dockerd.docker(["rm", "-f", name]);
    await betweenDeleteAndCreate?.();
    await startContainer(dockerd, result, containerInputs(result, name), workDir);
    await waitHealthy(dockerd, name);
}
