import { stringify as toToml } from "smol-toml";
import { ClientFile } from "../shell/nodeScript";
import { shellQuote } from "../shell/quote";
import { caFile, clientSnippet, ClientSnippet, DOCKER_CERTS_DIR, TrustInput } from "./clientSnippets";
import { MERGE_BUILDKITD_TOML_AWK } from "../shell/mergeBuildkitdToml";

/** buildkitd's own config directory (rootful), also where buildx puts it inside a builder container. */
export const BUILDKIT_DIR = "/etc/buildkit";

export interface BuildkitInput extends TrustInput {
    /** The push account the builder logs in with. */
    username: string;
    /** The buildx builder's name. */
    builderName: string;
}

/**
 * `buildkitd.toml`'s table trusting the private CA for this registry only. buildx reads the `ca`
 * files it names and copies them into a `docker-container` builder under /etc/buildkit/certs,
 * rewriting the paths, so the same file serves a standalone buildkitd and a buildx builder. The
 * script merges it into an existing file (snippets/mergeBuildkitdToml.ts).
 */
export function renderBuildkitdToml(input: TrustInput, caPath: string | undefined): string {
    const registry: Record<string, unknown> = {};
    if (caPath !== undefined) registry.ca = [caPath];
    return toToml({ registry: { [input.endpoint]: registry } });
}

/**
 * A `docker-container` buildx builder (the one that builds for other platforms, e.g.
 * `--platform linux/amd64,linux/riscv64`) runs BuildKit in its own container, which reads neither
 * /etc/docker/certs.d nor the host's trust store: it needs the CA in its `buildkitd.toml`, given
 * when the builder is created. `--config` is the flag's name in every buildx release (newer ones
 * also call it `--buildkitd-config`). `network=host`: the builder resolves and reaches the registry
 * as this machine does (its /etc/hosts, a `localhost` registry), not from Docker's bridge. The push
 * credentials are the Docker CLI's, from `docker login`, which the CLI has the Docker daemon check:
 * the daemon needs the CA too, in its own /etc/docker/certs.d (without it the login fails with
 * `x509: certificate signed by unknown authority`, as the builders e2e test showed), so the
 * snippet writes it there as well. An existing `buildkitd.toml` keeps every other setting: the
 * script puts this registry's table into it, or, when it cannot vouch for the file, changes
 * nothing and prints the table to add by hand.
 */
export function renderBuildkitSnippet(input: BuildkitInput): ClientSnippet {
    const configPath = `${BUILDKIT_DIR}/buildkitd.toml`;
    const ca = caFile(`${BUILDKIT_DIR}/certs`, input);
    const table = renderBuildkitdToml(input, ca[0]?.path);
    const files: ClientFile[] = [
        {
            path: configPath,
            mode: "0644",
            content: table,
            awkMerge: {
                program: MERGE_BUILDKITD_TOML_AWK,
                env: { PR_ENDPOINT: input.endpoint, PR_HEADER: table.split("\n")[0], PR_TABLE: table },
                handles: "TOML written one key, value or table header per line",
            },
        },
        ...ca,
        ...caFile(DOCKER_CERTS_DIR, input),
    ];
    const builder = shellQuote(input.builderName);
    const commands = [
        // Run again (a renewed CA, a new builder image), it replaces its own builder, named for this registry.
        `docker buildx rm ${builder} >/dev/null 2>&1 || true`,
        `docker buildx create --name ${builder} --driver docker-container --driver-opt network=host --config ${configPath} --bootstrap --use`,
        `docker login ${shellQuote(input.endpoint)} --username ${shellQuote(input.username)} --password-stdin`,
    ];
    const trust = input.caCertificate === undefined ? "" : ` (the CA also in ${DOCKER_CERTS_DIR}, for the login)`;
    const description = `BuildKit/buildx: ${configPath} trusting the registry${trust}, a docker-container builder using it, then log in with the push account (pipe its password in).`;
    return clientSnippet(description, files, commands);
}
