import { stringify as toToml } from "smol-toml";
import { stringify as toYaml } from "yaml";
import { ClientFile, renderScript } from "../shell/nodeScript";
import { shellQuote } from "../shell/quote";

/** One client's setup: the files, the commands, and both as one POSIX `sh` script. */
export interface ClientSnippet {
    description: string;
    files: ClientFile[];
    commands: string[];
    /** Writes `files` under `$ROOT` (default `/`), then runs `commands` unless `ROOT` is set. Run as root. */
    script: string;
}

export interface ContainerdSnippet extends ClientSnippet {
    /**
     * Where containerd's CRI plugin (what kubelet pulls through) finds `certs.d`, by major version,
     * each a whole `config.toml` for a node that has none. 1.x needs `version = 2` (a config
     * without it is read as version 1, which ignores this table). 2.x needs the line too: its
     * built-in default, `/etc/containerd/certs.d:/etc/docker/certs.d`, is a list its default pull
     * path (the transfer service) takes as one directory name, finding nothing (containerd issue
     * 12808). In an existing config, set `config_path` in its table of this name. Keyed
     * `containerd-1.x` and `containerd-2.x` (a map: Pulumi's component schemas name no field so).
     */
    configPathToml: Record<string, string>;
}

export interface TrustInput {
    /** How clients name the registry: `host` or `host:port`. */
    endpoint: string;
    /** PEM of the private CA; absent when the certificate is from a public CA. */
    caCertificate?: string;
}

export interface CredentialInput extends TrustInput {
    username: string;
    password: string;
}

export const DOCKER_CERTS_DIR = "/etc/docker/certs.d";
export const CONTAINERD_CERTS_DIR = "/etc/containerd/certs.d";
const K3S_DIR = "/etc/rancher/k3s";

/** The private CA as `DIR/HOST[:PORT]/ca.crt`, the layout Docker, containerd, k3s and buildx read; none for a public CA. */
export function caFile(dir: string, input: TrustInput): ClientFile[] {
    return input.caCertificate === undefined
        ? []
        : [{ path: `${dir}/${input.endpoint}/ca.crt`, mode: "0644", content: input.caCertificate }];
}

/** A snippet whose script writes `files` and runs `scriptCommands` (by default `commands` as they are). */
export function clientSnippet(description: string, files: ClientFile[], commands: string[], scriptCommands = commands): ClientSnippet {
    return { description, files, commands, script: renderScript(description, files, scriptCommands) };
}

/** Docker reads `certs.d/HOST[:PORT]/ca.crt` per registry: no daemon restart, no insecure-registries. */
export function renderDockerSnippet(input: TrustInput & { username: string }): ClientSnippet {
    const trust =
        input.caCertificate === undefined ? "the certificate is from a public CA, nothing to trust" : `trust the CA in ${DOCKER_CERTS_DIR}`;
    return clientSnippet(
        `Docker: ${trust}, then log in (pipe the password in: the login reads it from standard input).`,
        caFile(DOCKER_CERTS_DIR, input),
        [`docker login ${shellQuote(input.endpoint)} --username ${shellQuote(input.username)} --password-stdin`],
    );
}

/** `hosts.toml` with a relative `ca`: containerd resolves it against the host's own directory. */
export function renderHostsToml(input: TrustInput): string {
    const host: Record<string, unknown> = { capabilities: ["pull", "resolve", "push"] };
    if (input.caCertificate !== undefined) host.ca = "ca.crt";
    const url = `https://${input.endpoint}`;
    return toToml({ server: url, host: { [url]: host } });
}

const CONTAINERD_CONFIG = "/etc/containerd/config.toml";
const CRI_REGISTRY = { config_path: CONTAINERD_CERTS_DIR };
/** The CRI registry table in a version 2 config (containerd 1.x's, which 2.x migrates). */
const CRI_TABLE_V2 = toToml({ plugins: { "io.containerd.grpc.v1.cri": { registry: CRI_REGISTRY } } });
/** The CRI image plugin's table in containerd 2.x's own config (version 3 and later, or none). */
const CRI_TABLE_V3 = toToml({ plugins: { "io.containerd.cri.v1.images": { registry: CRI_REGISTRY } } });

/**
 * A read-only check run on the node: does containerd's config give the CRI plugin `config_path`?
 * If not, it says exactly what to set where, by the config's own `version` (the table's name
 * depends on it, not on the binary) or, without a config, by containerd's major version. Editing
 * a node's config.toml and restarting containerd is left to whoever owns both.
 */
function containerdConfigCheck(configPathToml: ContainerdSnippet["configPathToml"]): string[] {
    // Exactly our directory, in either quote: containerd 2.x's pulls ignore a ':' list.
    const setToOurs = `^[[:space:]]*config_path[[:space:]]*=[[:space:]]*["']${CONTAINERD_CERTS_DIR.replace(/\./g, "\\.")}/?["']`;
    const q = shellQuote;
    return [
        "if command -v containerd >/dev/null 2>&1; then",
        '    pr_major=$(containerd --version 2>/dev/null | awk \'{ v = $3; sub(/^v/, "", v); split(v, p, "."); print p[1] + 0 }\')',
        `    pr_version=$(awk '/^[ \\t]*version[ \\t]*=/ { sub(/^[^=]*=[ \\t]*/, ""); print $1 + 0; exit }' ${CONTAINERD_CONFIG} 2>/dev/null || true)`,
        `    if ! grep -Eqs ${q(setToOurs)} ${CONTAINERD_CONFIG}; then`,
        `        if [ ! -f ${CONTAINERD_CONFIG} ]; then`,
        `            pr_what=${q(`create ${CONTAINERD_CONFIG} holding`)}`,
        `            if [ "$pr_major" -ge 2 ]; then pr_table=${q(configPathToml["containerd-2.x"])}; else pr_table=${q(configPathToml["containerd-1.x"])}; fi`,
        "        else",
        `            pr_what=${q(`set config_path in this table of ${CONTAINERD_CONFIG} (it may be there already, empty or with a ':' list; add it at the end if not)`)}`,
        '            case "${pr_version:-0}" in',
        `            2) pr_table=${q(CRI_TABLE_V2)} ;;`,
        `            0 | 1) if [ "$pr_major" -ge 2 ]; then pr_table=${q(CRI_TABLE_V3)}; else pr_table=${q(`${CRI_TABLE_V2}(and make "version = 2" its first line: without it containerd 1.x reads version 1 and ignores this table)\n`)}; fi ;;`,
        `            *) pr_table=${q(CRI_TABLE_V3)} ;;`,
        "            esac",
        "        fi",
        `        printf '%s\\n\\n%s\\n%s\\n' "containerd: kubelet's pulls read ${CONTAINERD_CERTS_DIR} only once config_path names it: $pr_what:" "$pr_table" 'then: systemctl restart containerd' >&2`,
        "    fi",
        "fi",
    ];
}

export function renderContainerdSnippet(input: TrustInput): ContainerdSnippet {
    const dir = `${CONTAINERD_CERTS_DIR}/${input.endpoint}`;
    const configPathToml = {
        "containerd-1.x": `${toToml({ version: 2 })}\n${CRI_TABLE_V2}`,
        "containerd-2.x": CRI_TABLE_V3,
    };
    return {
        ...clientSnippet(
            `containerd: ${dir}/hosts.toml${input.caCertificate === undefined ? "" : " and the CA beside it"}; the CRI plugin reads them once config_path is set (configPathToml).`,
            [{ path: `${dir}/hosts.toml`, mode: "0644", content: renderHostsToml(input) }, ...caFile(CONTAINERD_CERTS_DIR, input)],
            containerdConfigCheck(configPathToml),
        ),
        configPathToml,
    };
}

/** Our `mirrors` and `configs` entries for k3s's `registries.yaml`, each as YAML with its key at column 0. */
export function renderK3sRegistryEntries(input: CredentialInput, caPath: string | undefined): { mirrors: string; configs: string } {
    const config: Record<string, unknown> = { auth: { username: input.username, password: input.password } };
    if (caPath !== undefined) config.tls = { ca_file: caPath };
    // Every string double-quoted: a password is never read as a number, an alias or a comment.
    const yaml = (value: unknown) =>
        toYaml({ [input.endpoint]: value }, { defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN", lineWidth: 0 });
    return { mirrors: yaml({ endpoint: [`https://${input.endpoint}`] }), configs: yaml(config) };
}

/** What `registries.yaml` must hold for this registry: the whole file on a node that has none. */
export function renderK3sRegistriesYaml(input: CredentialInput, caPath: string | undefined): string {
    const entries = renderK3sRegistryEntries(input, caPath);
    const indent = (entry: string) => entry.replace(/^(?=.)/gm, "  ");
    return `mirrors:\n${indent(entries.mirrors)}configs:\n${indent(entries.configs)}`;
}

/**
 * k3s reads only its own `registries.yaml` (not certs.d), and only when it starts. The file is
 * shared: the script merges our two entries into it and keeps every other one (see ../shell/nodeScript.ts).
 */
export function renderK3sSnippet(input: CredentialInput): ClientSnippet {
    const ca = caFile(`${K3S_DIR}/certs.d`, input);
    const caPath = ca[0]?.path;
    const description = `k3s: our mirror and credentials merged into ${K3S_DIR}/registries.yaml (a backup kept), then restart k3s.`;
    const files: ClientFile[] = [
        {
            path: `${K3S_DIR}/registries.yaml`,
            mode: "0600",
            content: renderK3sRegistriesYaml(input, caPath),
            merge: { key: input.endpoint, entries: renderK3sRegistryEntries(input, caPath) },
        },
        ...ca,
    ];
    const commands = ["systemctl restart k3s 2>/dev/null || systemctl restart k3s-agent"];
    // The script restarts k3s only when it changed what k3s reads: a second run disturbs nothing.
    return clientSnippet(description, files, commands, [`if ${k3sChanged(files)}; then ${commands[0]}; fi`]);
}

/** Shell condition: did the script rewrite any of these files? */
function k3sChanged(files: ClientFile[]): string {
    return `pr_changed ${files.map((file) => shellQuote(file.path)).join(" ")}`;
}

export function renderDockerConfigJson(input: CredentialInput): string {
    const auth = Buffer.from(`${input.username}:${input.password}`).toString("base64");
    return JSON.stringify({ auths: { [input.endpoint]: { username: input.username, password: input.password, auth } } });
}

/** A `kubernetes.io/dockerconfigjson` Secret, for `imagePullSecrets` on clusters that are not k3s. */
export function renderImagePullSecret(input: CredentialInput & { name: string; namespace: string }): string {
    return toYaml({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: input.name, namespace: input.namespace },
        type: "kubernetes.io/dockerconfigjson",
        data: { ".dockerconfigjson": Buffer.from(renderDockerConfigJson(input)).toString("base64") },
    });
}

/**
 * One script for a node: trust and credentials for whichever of Docker, containerd and k3s it
 * runs. Files are written for all three (harmless where a runtime is absent); commands only run
 * for runtimes present, and not when `ROOT` points elsewhere (building an image, a test).
 */
export function renderNodeSetup(input: CredentialInput): string {
    const docker = renderDockerSnippet(input);
    const containerd = renderContainerdSnippet(input);
    const k3s = renderK3sSnippet(input);
    const login = `printf '%s' ${shellQuote(input.password)} | ${docker.commands[0]}`;
    return renderScript(
        `Node setup for ${input.endpoint}: Docker, containerd and k3s trust and credentials.`,
        [...docker.files, ...containerd.files, ...k3s.files],
        [
            `if command -v docker >/dev/null 2>&1; then ${login}; fi`,
            `if ${k3sChanged(k3s.files)} && systemctl cat k3s.service >/dev/null 2>&1; then systemctl restart k3s; fi`,
            `if ${k3sChanged(k3s.files)} && systemctl cat k3s-agent.service >/dev/null 2>&1; then systemctl restart k3s-agent; fi`,
            ...containerd.commands,
        ],
    );
}
