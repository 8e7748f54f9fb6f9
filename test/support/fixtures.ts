import { EdgeConfigInput } from "../../components/render/edgeConfig";

/** The edge as a bridge-mode deployment renders it (upstreams by Docker DNS name). */
export const BRIDGE_EDGE: EdgeConfigInput = {
    serverNames: ["registry.lan", "192.168.1.10"],
    listenHttpsPort: 443,
    listenHttpPort: 80,
    publicHttpsPort: 8443,
    listenIpv6: false,
    registry: { address: "registry:5000", resolver: "127.0.0.11" },
    ui: { address: "ui:80", resolver: "127.0.0.11" },
    certificatePath: "/etc/nginx/tls/server.crt",
    privateKeyPath: "/etc/nginx/tls/server.key",
    pidPath: "/var/run/nginx.pid",
};
