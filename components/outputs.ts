/**
 * Every stack output (index.ts's exports, and the members of `clientSnippets`), declared once:
 * the README's outputs table is generated from it (`npm run docs:config`), and a program test
 * holds the real exports, and which of them are secret, to it. Pure data.
 */

export interface StackOutput {
    /** The export, or `clientSnippets.MEMBER` for a member of the snippets. */
    name: string;
    /** What it is for, in the operators' words (Markdown). */
    description: string;
    /** A Pulumi secret (`pulumi stack output NAME --show-secrets`). */
    secret?: boolean;
    /** Present only in this case, e.g. "with `mirror`"; absent: always. */
    when?: string;
}

export const STACK_OUTPUTS: StackOutput[] = [
    {
        name: "registryEndpoint",
        description: "`host[:port]`, what goes in front of image names: `docker tag app $(pulumi stack output registryEndpoint)/app:1`",
    },
    {
        name: "uiEndpoint",
        description: "the UI, `https://HOST[:port]/` (same origin as the registry, so no CORS), or its own name with `uiHostname`",
    },
    { name: "caCertificate", when: "without `acme`", description: "the private CA clients must trust (Let's Encrypt's chain needs none)" },
    {
        name: "credentials",
        secret: true,
        description: "every user, password and role (`pulumi stack output credentials --show-secrets`)",
    },
    {
        name: "clientSnippets.docker",
        description:
            "`files` to write (`/etc/docker/certs.d/HOST[:PORT]/ca.crt`), `commands` (`docker login ... --password-stdin`) and both as one `script`",
    },
    {
        name: "clientSnippets.buildkit",
        description:
            "for builders: `/etc/buildkit/buildkitd.toml` trusting the CA (and the CA in `/etc/docker/certs.d`, which the daemon checking `docker login` reads), a `docker-container` buildx builder using it, and the push account's `docker login` ([docs/laptop-to-board.md](docs/laptop-to-board.md))",
    },
    {
        name: "clientSnippets.containerd",
        description:
            "`/etc/containerd/certs.d/HOST[:PORT]/hosts.toml` + `ca.crt`, and `configPathToml` (the `config_path` setting for containerd 1.x and 2.x; where it goes: [docs/nodes.md](docs/nodes.md))",
    },
    {
        name: "clientSnippets.k3s",
        secret: true,
        description:
            "our mirror, auth and `tls.ca_file` merged into `/etc/rancher/k3s/registries.yaml` (other entries kept, a backup made), the CA file, and the k3s restart",
    },
    {
        name: "clientSnippets.imagePullSecret",
        secret: true,
        description: "a `kubernetes.io/dockerconfigjson` Secret manifest for `imagePullSecrets`",
    },
    {
        name: "clientSnippets.nodeSetup",
        secret: true,
        description: "one `sh` script a node runs as root to trust the CA and log in for Docker, containerd and k3s",
    },
    {
        name: "mirrorEndpoint",
        when: "with `mirror`",
        description: "`host:port` of the pull-through mirror ([docs/mirror.md](docs/mirror.md))",
    },
    {
        name: "clientSnippets.mirror",
        when: "with `mirror`",
        secret: true,
        description:
            '`docker` (`registry-mirrors` merged into `daemon.json`), `containerd` (`certs.d/docker.io/hosts.toml`), `k3s` (`mirrors."docker.io"`, rewrites)',
    },
    {
        name: "alicloudPlacement",
        when: "alicloud mode",
        description: "`{instanceType, zoneId, imageId}` the VM runs on; the next run reads it back instead of looking them up again",
    },
];

/** The README's outputs table. */
export function outputsTable(): string {
    const rows = STACK_OUTPUTS.map((output) => {
        const qualifiers = [output.when, output.secret ? "secret" : undefined].filter((q) => q !== undefined).join(", ");
        const meaning = `${qualifiers === "" ? "" : `${qualifiers}: `}${output.description}`.replace(/\|/g, "\\|");
        return `| \`${output.name}\` | ${meaning} |`;
    });
    return ["| output | what it is for |", "|---|---|", ...rows].join("\n");
}
