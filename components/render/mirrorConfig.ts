import { parse, stringify } from "yaml";
import type { DistributionMajor } from "../config/distribution";
import { REGISTRY_CONFIG_PATHS, renderRegistryConfig } from "./registryConfig";

export interface MirrorConfigInput {
    /** `http.addr`, as for the registry. */
    listenAddress: string;
    /** Where the htpasswd file is mounted: the registry's users, who may all read the mirror. */
    htpasswdPath: string;
    realm: string;
    /** `proxy.remoteurl`: the registry pulled through, e.g. `https://registry-1.docker.io`. */
    upstream: string;
    /**
     * The upstream account's username. Its password is not in the file: it arrives as the
     * REGISTRY_PROXY_PASSWORD environment variable (a secret), so the file stays readable.
     * Distribution (2.8 and 3.x) offers them only to the upstream's Bearer token realm (Docker Hub's token
     * service), never as Basic auth; and with them set it asks the upstream for that realm when
     * it starts, so it does not start while the upstream is unreachable.
     */
    upstreamUsername?: string;
    /** The Distribution major version that reads the file. Default: 3. */
    distributionMajor?: DistributionMajor;
}

/** The environment variable Distribution reads `proxy.password` from. */
export const PROXY_PASSWORD_ENV = "REGISTRY_PROXY_PASSWORD";

/**
 * `config.yml` for the pull-through mirror: the registry's own config (same storage layout,
 * health check and htpasswd auth, so the two never drift), plus `proxy`. In proxy mode
 * Distribution serves only pulls: it answers every push with 405 UNSUPPORTED, and keeps what it
 * fetched for 7 days (2.8 has no setting for that; 3.x's `proxy.ttl` is not rendered), fetching a tag's manifest
 * again from the upstream on each pull while the upstream answers.
 */
export function renderMirrorConfig(input: MirrorConfigInput): string {
    const config = parse(
        renderRegistryConfig({
            listenAddress: input.listenAddress,
            htpasswdPath: input.htpasswdPath,
            realm: input.realm,
            deleteEnabled: false,
            distributionMajor: input.distributionMajor,
        }),
    );
    config.log.fields.service = "mirror";
    config.proxy = { remoteurl: input.upstream, ...(input.upstreamUsername === undefined ? {} : { username: input.upstreamUsername }) };
    const major = input.distributionMajor ?? 3;
    return `# Rendered by private-registry (components/render/mirrorConfig.ts) for Distribution ${major}.x (${REGISTRY_CONFIG_PATHS[major]}).\n${stringify(config)}`;
}
