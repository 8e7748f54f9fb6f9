/**
 * The settings every e2e stack on the host network starts from: the dev stack's own
 * (Pulumi.dev.yaml), one name on ::1, and a free loopback port for each listener, the metrics
 * port included. Fixed ports would meet another stack's on this machine (another suite, another
 * engineer's run): each stack takes its own.
 */
import { devStackConfig } from "../../../scripts/lib/program/evaluate";
import { freePort } from "../../../scripts/lib/loopbackServers";

export interface StackPorts {
    https: number;
    http: number;
    ui: number;
    metrics: number;
}

export async function freeStackPorts(): Promise<StackPorts> {
    return { https: await freePort(), http: await freePort(), ui: await freePort(), metrics: await freePort() };
}

/** `extra` is merged last: a test's own keys (users, gc, ...) win over these. */
export async function hostNetworkStackConfig(
    name: string,
    namePrefix: string,
    extra: Record<string, unknown> = {},
): Promise<{ config: Record<string, unknown>; ports: StackPorts }> {
    const ports = await freeStackPorts();
    return {
        ports,
        config: {
            ...devStackConfig(),
            hostnames: [name],
            ipAddresses: ["::1"],
            containerNetwork: "host",
            httpsPort: ports.https,
            httpPort: ports.http,
            uiPort: ports.ui,
            metricsPort: ports.metrics,
            namePrefix,
            ...extra,
        },
    };
}
