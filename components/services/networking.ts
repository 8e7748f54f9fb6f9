import * as pulumi from "@pulumi/pulumi";
import { Upstream } from "../render/edgeUpstreams";

/**
 * Where the containers talk to each other. `bridge`: a private Docker network, only the edge
 * publishes ports, upstreams are found through Docker's DNS. `host`: the host's own network
 * (for daemons without a bridge, e.g. `dockerd --bridge=none`), the registry and the UI bound to
 * loopback ports so that, again, only the edge is reachable from outside.
 */
export type ContainerNetworking = { mode: "bridge"; networkName: pulumi.Input<string> } | { mode: "host"; loopbackAddress: string };

/** A volume holding a service's Unix socket, mounted at the same path wherever it is used. */
export interface SocketMount {
    volumeName: pulumi.Input<string>;
    containerPath: string;
}

/** Docker's embedded DNS server inside user-defined networks. */
const DOCKER_DNS = "127.0.0.11";

/**
 * The container's network inputs; `alias` is its DNS name inside a bridge network.
 *
 * Bridge mode sets `networksAdvanced` only, never `networkMode` as well: with both, the Docker
 * provider attaches the container through `networkMode` and drops the aliases, Docker's DNS then
 * knows no `registry` or `ui`, and the edge answers every request with 502.
 */
export function containerNetworkArgs(
    networking: ContainerNetworking,
    alias: string,
): { networkMode?: string; networksAdvanced?: { name: pulumi.Input<string>; aliases: string[] }[] } {
    if (networking.mode === "host") return { networkMode: "host" };
    return { networksAdvanced: [{ name: networking.networkName, aliases: [alias] }] };
}

/** Where a service listens (`bind`, empty for all addresses) and how the edge reaches it. */
export function serviceEndpoint(networking: ContainerNetworking, alias: string, bridgePort: number, hostPort: number) {
    if (networking.mode === "host") {
        const address = `${networking.loopbackAddress}:${hostPort}`;
        return { listen: address, local: address, upstream: { address } as Upstream };
    }
    return {
        listen: `:${bridgePort}`,
        local: `127.0.0.1:${bridgePort}`,
        upstream: { address: `${alias}:${bridgePort}`, resolver: DOCKER_DNS } as Upstream,
    };
}

/** A plain HTTP GET from inside a service container (busybox wget): succeeds on a 2xx answer. */
export function httpProbe(url: string): string[] {
    return ["wget", "-q", "-O", "/dev/null", url];
}

/** A container health check: `httpProbe(url)`. */
export function httpHealthcheck(url: string) {
    return { tests: ["CMD", ...httpProbe(url)], interval: "15s", timeout: "5s", retries: 3, startPeriod: "10s" };
}
