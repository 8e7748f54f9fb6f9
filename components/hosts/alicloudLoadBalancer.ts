import * as alicloud from "@pulumi/alicloud";
import * as pulumi from "@pulumi/pulumi";
import { EDGE_PROBE_PATHS } from "../render/edgeConfig";

/** One port the load balancer passes through, by TCP, to the same port on every backend. */
export interface PassedPort {
    /** Names its server group, listener and attachments: `https`, `http`, `mirror`. */
    label: string;
    port: number;
}

/** A VM behind the load balancer. */
export interface Backend {
    /** Names its attachments, e.g. `vm-2`; a backend keeps its name as others come and go. */
    label: string;
    instanceId: pulumi.Input<string>;
}

export interface AlicloudLoadBalancerArgs {
    /** The region's provider (the host's). Required. */
    provider: alicloud.Provider;
    /** The load balancer's and its server groups' names. Required. */
    namePrefix: string;
    /** Ports passed through; every backend serves each on the same port. Required. */
    ports: PassedPort[];
    /** The VMs; each gets one server-group entry per port. Required. */
    backends: Backend[];
    /** Where each backend's edge answers plain HTTP `GET /readyz` with 200. Required. */
    healthCheckPort: number;
    /** The health check's path. Default: `/readyz` (200 only while the registry behind the edge answers). */
    healthCheckPath?: string;
    tags?: Record<string, string>;
}

/**
 * An internet-facing Classic Load Balancer (CLB) in front of the replicas, passing TCP through:
 * TLS stays at each VM's edge with the stack's own certificate (the load balancer holds no key),
 * and a layer-4 CLB listener hands the backend the client's own address, so the security group
 * and the edge's logs see clients as with one VM. A CLB has one fixed public IPv4 address, which
 * an A record can name, also at a zone's apex (an NLB is reached by a DNS name only, a CNAME).
 *
 * Each port has a server group and a listener; each VM is one attachment per server group, so a
 * VM added or removed adds or removes only its own attachments. The listeners check every VM with
 * `GET /readyz` over plain HTTP on the edge's HTTP port (CLB's health check speaks no TLS), which
 * the edge answers with 200 only while its registry answers, and stop sending new connections to
 * a VM that fails three checks in a row.
 */
export class AlicloudLoadBalancer extends pulumi.ComponentResource {
    readonly loadBalancer: alicloud.slb.ApplicationLoadBalancer;
    /** The public IPv4 address clients reach (the DNS records name it). */
    readonly address: pulumi.Output<string>;

    constructor(name: string, args: AlicloudLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:host:AlicloudLoadBalancer", name, {}, opts);
        const cloudOpts = { parent: this, provider: args.provider };
        this.loadBalancer = new alicloud.slb.ApplicationLoadBalancer(
            name,
            {
                loadBalancerName: args.namePrefix,
                addressType: "internet",
                addressIpVersion: "ipv4",
                paymentType: "PayAsYouGo",
                // Billed by capacity units used, not by a reserved specification: a registry idles most of the day.
                instanceChargeType: "PayByCLCU",
                internetChargeType: "PayByTraffic",
                tags: args.tags,
            },
            cloudOpts,
        );

        for (const { label, port } of args.ports) {
            const group = new alicloud.slb.ServerGroup(
                `${name}-${label}`,
                {
                    loadBalancerId: this.loadBalancer.id,
                    name: `${args.namePrefix}-${label}`,
                    tags: args.tags,
                },
                cloudOpts,
            );
            new alicloud.slb.Listener(
                `${name}-${label}`,
                {
                    loadBalancerId: this.loadBalancer.id,
                    frontendPort: port,
                    protocol: "tcp",
                    serverGroupId: group.id,
                    // Pay by traffic: no bandwidth cap at the listener.
                    bandwidth: -1,
                    // Pulls are long streams: the VM with the fewest open connections takes the next one.
                    scheduler: "wlc",
                    // An idle connection is closed after 15 minutes (the CLB maximum); a stream in progress is not idle.
                    establishedTimeout: 900,
                    healthCheck: "on",
                    healthCheckType: "http",
                    healthCheckConnectPort: args.healthCheckPort,
                    healthCheckUri: args.healthCheckPath ?? EDGE_PROBE_PATHS.readiness,
                    healthCheckHttpCode: "http_2xx",
                    healthCheckInterval: 2,
                    healthCheckTimeout: 5,
                    healthyThreshold: 2,
                    unhealthyThreshold: 3,
                    description: `private-registry: ${label} (TCP ${port}) to every VM's edge`,
                },
                cloudOpts,
            );
            for (const backend of args.backends) {
                new alicloud.slb.ServerGroupServerAttachment(
                    `${name}-${label}-${backend.label}`,
                    {
                        serverGroupId: group.id,
                        serverId: backend.instanceId,
                        port,
                        weight: 100,
                        type: "ecs",
                    },
                    cloudOpts,
                );
            }
        }
        this.address = this.loadBalancer.address;
        this.registerOutputs({ address: this.address });
    }
}
