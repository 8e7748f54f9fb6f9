import { EdgeConfigInput } from "../../components/render/edgeConfig";

/** The smallest alicloud stack: what a first `pulumi up` in that mode declares. */
export const MINIMAL_ALICLOUD_CONFIG = {
    mode: "alicloud",
    hostnames: ["registry.example.com"],
    alicloud: { region: "cn-hongkong", dnsZone: "example.com", adminCidr: "203.0.113.7/32" },
    acme: { email: "ops@example.com" },
};

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

/** What PrivateRegistry declares in every mode (`type name`): host and certificate come on top. */
export const REGISTRY_CORE_RESOURCES = [
    "docker:index/container:Container registry-edge",
    "docker:index/container:Container registry-edge-secrets",
    "docker:index/container:Container registry-registry",
    "docker:index/container:Container registry-registry-secrets",
    "docker:index/container:Container registry-ui",
    "docker:index/network:Network registry-network",
    "docker:index/remoteImage:RemoteImage registry-edge-image",
    "docker:index/remoteImage:RemoteImage registry-registry-image",
    "docker:index/remoteImage:RemoteImage registry-ui-image",
    "docker:index/volume:Volume registry-edge-secrets",
    "docker:index/volume:Volume registry-registry-data",
    "docker:index/volume:Volume registry-registry-secrets",
    "docker:index/volume:Volume registry-registry-socket",
    "private-registry:index:Edge registry-edge",
    "private-registry:index:PrivateRegistry registry",
    "private-registry:index:Registry registry-registry",
    "private-registry:index:RegistryCredentials registry-credentials",
    "private-registry:index:RegistryUi registry-ui",
    "random:index/randomPassword:RandomPassword registry-credentials-admin",
    "random:index/randomPassword:RandomPassword registry-credentials-http-secret",
    "random:index/randomPassword:RandomPassword registry-credentials-node",
    "random:index/randomPassword:RandomPassword registry-edge-secrets-key",
    "random:index/randomPassword:RandomPassword registry-registry-secrets-key",
    "random:index/randomString:RandomString registry-credentials-admin-salt",
    "random:index/randomString:RandomString registry-credentials-node-salt",
];
