import { EdgeConfigInput } from "../../components/render/edgeConfig";

/** The smallest alicloud stack: what a first `pulumi up` in that mode declares. */
export const MINIMAL_ALICLOUD_CONFIG = {
    mode: "alicloud",
    hostnames: ["registry.example.com"],
    alicloud: { region: "cn-hongkong", dnsZone: "example.com", adminCidr: "203.0.113.7/32" },
    acme: { email: "ops@example.com" },
};

/**
 * The edge as a bridge-mode deployment renders it (components/services/edge.ts): the registry on
 * its socket, handed over between processes; the UI by Docker DNS name; the certificate, users
 * and push users read through the live set's symlink.
 */
export const BRIDGE_EDGE: EdgeConfigInput = {
    listenHttpsPort: 443,
    listenHttpPort: 80,
    publicHttpsPort: 8443,
    listenIpv6: false,
    registry: { address: "unix:/run/registry/registry.sock", handsOver: true },
    ui: { address: "ui:80", resolver: "127.0.0.11" },
    certificatePath: "/run/edge/live/tls.pem",
    privateKeyPath: "/run/edge/live/tls.pem",
    tlsFilesPerHandshake: true,
    pidPath: "/var/run/nginx.pid",
    access: { realm: "private-registry", usersFile: "/run/edge/live/users", pushUsersDir: "/run/edge/live/push-users.d" },
};

/** What PrivateRegistry declares in every mode (`type name`): host and certificate come on top. */
export const REGISTRY_CORE_RESOURCES = [
    "docker:index/container:Container registry-edge",
    "docker:index/container:Container registry-edge-files-manifest",
    "docker:index/container:Container registry-edge-files-nginx.conf",
    "docker:index/container:Container registry-edge-files-push-users",
    "docker:index/container:Container registry-edge-files-server.crt",
    "docker:index/container:Container registry-edge-secrets",
    "docker:index/container:Container registry-registry",
    "docker:index/container:Container registry-registry-files-config.yml",
    "docker:index/container:Container registry-registry-files-manifest",
    "docker:index/container:Container registry-registry-files-schedule",
    "docker:index/container:Container registry-ui",
    "docker:index/network:Network registry-network",
    "docker:index/remoteImage:RemoteImage registry-edge-image",
    "docker:index/remoteImage:RemoteImage registry-registry-image",
    "docker:index/remoteImage:RemoteImage registry-ui-image",
    "docker:index/volume:Volume registry-edge-files",
    "docker:index/volume:Volume registry-edge-secrets",
    "docker:index/volume:Volume registry-registry-data",
    "docker:index/volume:Volume registry-registry-files",
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
    "random:index/randomString:RandomString registry-credentials-admin-salt",
    "random:index/randomString:RandomString registry-credentials-node-salt",
];
