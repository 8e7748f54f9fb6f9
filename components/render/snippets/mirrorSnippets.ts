/**
 * Client snippets for the pull-through mirror: Docker's `registry-mirrors`, containerd's
 * `certs.d/docker.io/hosts.toml` and k3s's `mirrors."docker.io"`, each merged into what the node
 * already has. Pure: text in, text out.
 */
import { stringify as toToml } from "smol-toml";
import { stringify as toYaml } from "yaml";
import { caFile, clientSnippet, ClientSnippet, CONTAINERD_CERTS_DIR, CredentialInput, DOCKER_CERTS_DIR } from "./clientSnippets";
import { MERGE_DAEMON_JSON_AWK } from "../shell/mergeDaemonJson";
import { ClientFile } from "../shell/nodeScript";
import { shellQuote } from "../shell/quote";

export interface MirrorSnippetInput extends CredentialInput {
    /** The private registry's own endpoint: with k3s rewrites, k3s asks it first. */
    registryEndpoint: string;
    /** k3s `rewrite` rules for docker.io (Go regular expression → replacement). Default: none. */
    k3sRewrites?: Record<string, string>;
}

export interface MirrorSnippets {
    docker: ClientSnippet;
    containerd: ClientSnippet;
    k3s: ClientSnippet;
}

/** What Docker Hub's images are called in every client's configuration. */
export const DOCKER_HUB = "docker.io";
/** The host containerd pulls Docker Hub's images from when no mirror answers. */
export const DOCKER_HUB_REGISTRY = "https://registry-1.docker.io";
const DAEMON_JSON = "/etc/docker/daemon.json";
const K3S_REGISTRIES = "/etc/rancher/k3s/registries.yaml";

/**
 * Docker: the mirror in `registry-mirrors` (appended to the user's own, every other setting
 * kept), its CA in certs.d, then a reload (dockerd re-reads `registry-mirrors` on SIGHUP; no
 * container stops). dockerd asks mirrors only for Docker Hub's images, and sends a mirror the
 * credentials it holds for Docker Hub (docs/mirror.md).
 */
export function renderDockerMirrorSnippet(input: MirrorSnippetInput): ClientSnippet {
    const url = `https://${input.endpoint}`;
    const files: ClientFile[] = [
        {
            path: DAEMON_JSON,
            mode: "0644",
            content: `"registry-mirrors": [${JSON.stringify(url)}]\n`,
            awkMerge: {
                program: MERGE_DAEMON_JSON_AWK,
                env: { PR_MIRROR: url },
                handles: "a JSON object whose registry-mirrors, if set, is a list of strings",
            },
        },
        ...caFile(DOCKER_CERTS_DIR, input),
    ];
    const reload = "systemctl reload docker";
    return clientSnippet(
        `Docker: ${url} added to registry-mirrors in ${DAEMON_JSON} (other settings kept, a backup made), its CA trusted, dockerd reloaded.`,
        files,
        [reload],
        [
            `if pr_changed ${shellQuote(DAEMON_JSON)}; then ${reload} || echo "private-registry: reload dockerd (systemctl reload docker) to use the mirror" >&2; fi`,
        ],
    );
}

/**
 * containerd: Docker Hub's `hosts.toml` with the mirror as its pull and resolve host and Docker
 * Hub itself (`server`) as the fallback. The mirror asks for a password, and hosts.toml has no
 * credentials field: it sends a Basic `Authorization` header, so the file is 0600.
 */
export function renderMirrorHostsToml(input: CredentialInput): string {
    const host: Record<string, unknown> = {
        capabilities: ["pull", "resolve"],
        header: { Authorization: [`Basic ${Buffer.from(`${input.username}:${input.password}`).toString("base64")}`] },
    };
    if (input.caCertificate !== undefined) host.ca = "mirror-ca.crt";
    return toToml({ server: DOCKER_HUB_REGISTRY, host: { [`https://${input.endpoint}`]: host } });
}

export function renderContainerdMirrorSnippet(input: CredentialInput): ClientSnippet {
    const dir = `${CONTAINERD_CERTS_DIR}/${DOCKER_HUB}`;
    const files: ClientFile[] = [{ path: `${dir}/hosts.toml`, mode: "0600", content: renderMirrorHostsToml(input) }];
    if (input.caCertificate !== undefined) files.push({ path: `${dir}/mirror-ca.crt`, mode: "0644", content: input.caCertificate });
    return clientSnippet(
        `containerd: ${dir}/hosts.toml pulls Docker Hub's images through https://${input.endpoint}, Docker Hub itself the fallback (read once config_path names ${CONTAINERD_CERTS_DIR}, see the containerd snippet).`,
        files,
        [],
    );
}

/**
 * k3s: `mirrors."docker.io"` with the mirror as endpoint (k3s falls back to Docker Hub itself),
 * and `configs` with its credentials and CA. With rewrite rules, the private registry comes
 * first: a rewritten name (e.g. `rancher/mirrored-pause` → `riscv64/mirrored-pause`) is pulled
 * from the registry's own builds, and every other image falls through to the mirror.
 */
export function renderK3sMirrorEntries(input: MirrorSnippetInput, caPath: string | undefined): { mirrors: string; configs: string } {
    const rewrites = input.k3sRewrites ?? {};
    const withRewrites = Object.keys(rewrites).length > 0;
    const endpoint = [...(withRewrites ? [`https://${input.registryEndpoint}`] : []), `https://${input.endpoint}`];
    const config: Record<string, unknown> = { auth: { username: input.username, password: input.password } };
    if (caPath !== undefined) config.tls = { ca_file: caPath };
    const yaml = (key: string, value: unknown) =>
        toYaml({ [key]: value }, { defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN", lineWidth: 0 });
    return {
        mirrors: yaml(DOCKER_HUB, withRewrites ? { endpoint, rewrite: rewrites } : { endpoint }),
        configs: yaml(input.endpoint, config),
    };
}

export function renderK3sMirrorSnippet(input: MirrorSnippetInput): ClientSnippet {
    const ca = caFile("/etc/rancher/k3s/certs.d", input);
    const caPath = ca[0]?.path;
    const entries = renderK3sMirrorEntries(input, caPath);
    const indent = (entry: string) => entry.replace(/^(?=.)/gm, "  ");
    const files: ClientFile[] = [
        {
            path: K3S_REGISTRIES,
            mode: "0600",
            content: `mirrors:\n${indent(entries.mirrors)}configs:\n${indent(entries.configs)}`,
            merge: { key: input.endpoint, mapKeys: { mirrors: DOCKER_HUB }, entries },
        },
        ...ca,
    ];
    const restart = "systemctl restart k3s 2>/dev/null || systemctl restart k3s-agent";
    const changed = `pr_changed ${files.map((file) => shellQuote(file.path)).join(" ")}`;
    return clientSnippet(
        `k3s: Docker Hub's images through https://${input.endpoint} (mirrors."docker.io"${Object.keys(input.k3sRewrites ?? {}).length > 0 ? ", with rewrites to the private registry" : ""}) merged into ${K3S_REGISTRIES}, then restart k3s.`,
        files,
        [restart],
        [`if ${changed}; then ${restart}; fi`],
    );
}

export function renderMirrorSnippets(input: MirrorSnippetInput): MirrorSnippets {
    return {
        docker: renderDockerMirrorSnippet(input),
        containerd: renderContainerdMirrorSnippet(input),
        k3s: renderK3sMirrorSnippet(input),
    };
}
