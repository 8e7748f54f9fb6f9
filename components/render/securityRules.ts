/** One inbound allow rule of the VM's security group. */
export interface IngressRule {
    /** Short, stable name: it becomes part of the Pulumi resource name. */
    name: string;
    protocol: "tcp";
    port: number;
    /** Who may connect. */
    cidr: string;
    description: string;
}

export interface IngressRulesInput {
    /** The edge's public HTTPS port. */
    httpsPort: number;
    /** The edge's public HTTP port (it only redirects to HTTPS). */
    httpPort: number;
    /** The only network allowed to reach SSH, e.g. `203.0.113.7/32`. */
    adminCidr: string;
    /** The pull-through mirror's own HTTPS port, if it has one. */
    mirrorHttpsPort?: number;
}

const ANYWHERE = "0.0.0.0/0";

/**
 * Every inbound rule the registry VM needs, and nothing more: HTTPS and the HTTP redirect from
 * anywhere, SSH (administration and the Docker connection) from the admin network only.
 */
export function ingressRules(input: IngressRulesInput): IngressRule[] {
    return [
        { name: "https", protocol: "tcp", port: input.httpsPort, cidr: ANYWHERE, description: "registry and UI over HTTPS" },
        { name: "http", protocol: "tcp", port: input.httpPort, cidr: ANYWHERE, description: "redirect to HTTPS only" },
        { name: "ssh", protocol: "tcp", port: 22, cidr: input.adminCidr, description: "administration and the Docker connection" },
        ...(input.mirrorHttpsPort === undefined
            ? []
            : [
                  {
                      name: "mirror",
                      protocol: "tcp" as const,
                      port: input.mirrorHttpsPort,
                      cidr: ANYWHERE,
                      description: "the pull-through mirror over HTTPS",
                  },
              ]),
    ];
}
