import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { RetentionPolicy } from "../config/types";
import { isIpAddress } from "../config/syntax";
import { renderRetentionScript, RETENTION_HEARTBEAT } from "../render/retentionScript";
import { dockerNames } from "./dockerNames";
import { SocketMount } from "./networking";
import { CONTAINER_LOG_ROTATION, ROLE_LABEL, SERVICE_RESTART_POLICY } from "./serviceContainer";

const RETENTION_DIR = "/etc/retention";
const SCRIPT_PATH = `${RETENTION_DIR}/retention.sh`;
const CA_PATH = `${RETENTION_DIR}/ca.crt`;
/** Where both the retention container and the registry's supervisor mount the handshake volume. */
export const RETENTION_HANDSHAKE_DIR = "/run/retention";
const USER_ENV = "RETENTION_USER";
const PASSWORD_ENV = "RETENTION_PASSWORD";
/**
 * How long the collector's supervisor waits for the job to start (it polls every 2 s), and for it
 * to finish, before collecting anyway (components/render/registrySupervisor.ts).
 */
export const RETENTION_WAIT = { startSeconds: 60, runSeconds: 3600 } as const;

export interface RetentionArgs {
    /** The host's Docker provider. */
    provider: docker.Provider;
    /** Prefix of the container and volume names. */
    namePrefix: string;
    /** regctl with a shell: regclient's alpine image, pinned. */
    image: string;
    /** The registry's first name (or IP address), as in its endpoint and certificate. */
    host: string;
    /** The edge's public HTTPS port. */
    httpsPort: number;
    /** The private CA the certificate is signed by; unset: a public CA (the image's own roots). */
    caCertificate?: pulumi.Input<string>;
    /** The push account the job deletes with. */
    username: string;
    /** Secret: its password. */
    password: pulumi.Input<string>;
    /** Which tags stay (at least one). */
    policies: RetentionPolicy[];
    /** Resources to wait for (the host being ready). */
    dependsOn?: pulumi.Resource[];
}

/**
 * The retention job (`retention`): a container of regclient's regctl image running the rendered
 * script (components/render/retentionScript.ts), which waits until the garbage collector's
 * supervisor asks it to run, right before each collection, through a volume both mount
 * (`handshake`). It listens on nothing and publishes nothing.
 *
 * It reaches the registry as every client on the registry's host does: at its endpoint (the first
 * name and the public HTTPS port), on the host's network, with the name pinned to the host's
 * loopback address, so the certificate is checked for that name whether the edge publishes its
 * ports from a bridge network or listens on the host's network itself, and whatever DNS says of
 * the name. Every delete therefore passes the edge's role check with the push account.
 */
export class Retention extends pulumi.ComponentResource {
    /** The handshake volume and where the registry's supervisor must mount it. */
    readonly handshake: SocketMount;
    readonly container: docker.Container;

    constructor(name: string, args: RetentionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:index:Retention", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };
        const names = dockerNames(args.namePrefix);
        const volume = new docker.Volume(
            `${name}-handshake`,
            { name: names.retentionHandshake, labels: [{ label: ROLE_LABEL, value: "retention-handshake" }] },
            { ...childOpts, dependsOn: args.dependsOn },
        );
        this.handshake = { volumeName: volume.name, containerPath: RETENTION_HANDSHAKE_DIR };

        const endpointHost = args.host.includes(":") ? `[${args.host}]` : args.host;
        const script = renderRetentionScript({
            registry: `${endpointHost}:${args.httpsPort}`,
            caFile: args.caCertificate === undefined ? undefined : CA_PATH,
            userEnv: USER_ENV,
            passwordEnv: PASSWORD_ENV,
            handshakeDir: RETENTION_HANDSHAKE_DIR,
            policies: args.policies,
        });
        const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, childOpts);
        this.container = new docker.Container(
            name,
            {
                name: names.container("retention"),
                image: image.imageId,
                restart: SERVICE_RESTART_POLICY,
                command: ["sh", SCRIPT_PATH],
                envs: [`${USER_ENV}=${args.username}`, pulumi.interpolate`${PASSWORD_ENV}=${args.password}`],
                uploads: [
                    { file: SCRIPT_PATH, content: script },
                    ...(args.caCertificate === undefined ? [] : [{ file: CA_PATH, content: args.caCertificate }]),
                ],
                volumes: [{ volumeName: volume.name, containerPath: RETENTION_HANDSHAKE_DIR }],
                networkMode: "host",
                // An IP address needs no name; localhost is the loopback address already.
                hosts: isIpAddress(args.host) || args.host === "localhost" ? undefined : [{ host: args.host, ip: "127.0.0.1" }],
                healthcheck: {
                    tests: ["CMD-SHELL", `test -n "$(find ${RETENTION_HEARTBEAT} -mmin -1 2>/dev/null)"`],
                    interval: "15s",
                    timeout: "5s",
                    retries: 3,
                    startPeriod: "10s",
                },
                ...CONTAINER_LOG_ROTATION,
                labels: [{ label: ROLE_LABEL, value: "retention" }],
            },
            { ...childOpts, deleteBeforeReplace: true, dependsOn: args.dependsOn },
        );
        this.registerOutputs({ containerName: this.container.name, volumeName: volume.name });
    }
}
