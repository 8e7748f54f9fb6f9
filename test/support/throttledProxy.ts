/**
 * A TCP proxy on loopback that forwards what clients send at a bounded rate (a slow uplink), and
 * what the server answers at full speed. A test that must act while a transfer is under way (kill
 * the registry mid-layer) uses it so that the transfer lasts long enough to be caught, however
 * fast the machine. A connection the server closes is closed towards the client once what it sent
 * is through; one that fails towards the server is dropped towards the client. (Not with
 * `resetAndDestroy()`: in Node 20 a socket reset that way can stay among the active handles, and
 * the process then spins at exit instead of ending.)
 */
import { createServer, Socket } from "net";
import { registerCleanup } from "../../scripts/lib/processes";

export interface ThrottledProxy {
    /** The proxy's port on 127.0.0.1. */
    port: number;
}

/** Listens on a free loopback port and forwards each connection to `127.0.0.1:targetPort`, uploads at `bytesPerSecond`. */
export async function startThrottledProxy(targetPort: number, bytesPerSecond: number): Promise<ThrottledProxy> {
    const sockets = new Set<Socket>();
    const server = createServer((client) => {
        const upstream = new Socket();
        for (const socket of [client, upstream]) {
            sockets.add(socket);
            socket.on("close", () => sockets.delete(socket));
        }
        client.on("data", (chunk: Buffer) => {
            upstream.write(chunk);
            // Pause for as long as the chunk takes at the rate: the client's writes back up behind it.
            client.pause();
            setTimeout(() => client.resume(), (chunk.length / bytesPerSecond) * 1000);
        });
        client.on("end", () => upstream.end());
        client.on("error", () => upstream.destroy());
        upstream.on("data", (chunk: Buffer) => {
            if (!client.write(chunk)) {
                upstream.pause();
                client.once("drain", () => upstream.resume());
            }
        });
        upstream.on("end", () => client.end());
        upstream.on("error", () => client.destroy());
        client.pause();
        upstream.connect(targetPort, "127.0.0.1", () => client.resume());
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
    });
    registerCleanup("the throttled proxy", async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("the throttled proxy has no TCP address");
    return { port: address.port };
}
