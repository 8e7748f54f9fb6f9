/**
 * The two ways the stack connects its containers (components/services/networking.ts), rebuilt in
 * network namespaces of the bench's own, so nothing touches the machine's real network:
 *
 * - **host**: every container in the host's network namespace. Here: one namespace (the "host"),
 *   where the client, nginx and the registries all talk over its `lo`.
 * - **bridge**: each container in a namespace of its own, on a Linux bridge in the host's
 *   namespace through a veth pair (Docker's default bridge: MTU 1500). The client, in the host's
 *   namespace, connects to a container's address, where Docker's port publishing would forward it
 *   (no NAT rule in front: the same packets, one lookup fewer).
 *
 * The registry behind the edge listens on a Unix socket in either mode; a socket file crosses
 * network namespaces (only the mount namespace matters), as the socket's volume does in Docker.
 */
import { createNetworkNamespace, NetworkNamespace } from "../lib/netns";

export type ModeName = "host" | "bridge";

/** Where a server runs: the argv prefix that enters its namespace, and the address clients use. */
export interface Site {
    prefix: string[];
    address: string;
}

export interface NetworkMode {
    name: ModeName;
    /** What the tables call it. */
    label: string;
    /** Enters the host's namespace: where clients run and probes come from. */
    client: string[];
    /** A place for one container: a new namespace on the bridge, or the host's namespace itself. */
    container(name: string): Promise<Site>;
}

const BRIDGE = "br0";
const SUBNET = "198.18.0"; // RFC 2544's range for benchmarks: routed nowhere.

/** The host's namespace, shared by both modes. */
export async function createHost(): Promise<NetworkNamespace> {
    return createNetworkNamespace("prb-host");
}

export function hostMode(host: NetworkNamespace): NetworkMode {
    return {
        name: "host",
        label: "host networking",
        client: host.enter,
        container: async () => ({ prefix: host.enter, address: "127.0.0.1" }),
    };
}

export async function bridgeMode(host: NetworkNamespace): Promise<NetworkMode> {
    await host.run("ip", ["link", "add", BRIDGE, "type", "bridge"]);
    await host.run("ip", ["addr", "add", `${SUBNET}.1/24`, "dev", BRIDGE]);
    await host.run("ip", ["link", "set", BRIDGE, "up"]);
    let containers = 0;
    return {
        name: "bridge",
        label: "bridge networking",
        client: host.enter,
        container: async (name: string) => {
            const index = ++containers;
            const namespace = await createNetworkNamespace(`prb-${name}`.slice(0, 20));
            const address = `${SUBNET}.${index + 1}`;
            const hostEnd = `veth${index}`;
            await host.run("ip", ["link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", namespace.name]);
            await host.run("ip", ["link", "set", hostEnd, "master", BRIDGE, "up"]);
            await namespace.run("ip", ["addr", "add", `${address}/24`, "dev", "eth0"]);
            await namespace.run("ip", ["link", "set", "eth0", "up"]);
            return { prefix: namespace.enter, address };
        },
    };
}
