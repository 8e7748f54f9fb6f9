import { parse, stringify } from "yaml";
import type { DistributionMajor } from "../config/distribution";
import { renderRegistryConfig } from "./registryConfig";

export interface MirrorConfigInput {
    /** `http.addr`, as for the registry. */
    listenAddress: string;
    /** `proxy.remoteurl`: the registry pulled through, e.g. `https://registry-1.docker.io`. */
    upstream: string;
    /**
     * The upstream account's username. Its password is not in the file: it arrives as the
     * REGISTRY_PROXY_PASSWORD environment variable, which the supervisor sets from a secret file
     * of the mirror's set (registrySupervisor.ts), so the file stays readable.
     * Distribution (2.8 and 3.x) offers them only to the upstream's Bearer token realm (Docker Hub's token
     * service), never as Basic auth; and with them set it asks the upstream for that realm when
     * it starts, so it does not start while the upstream is unreachable.
     */
    upstreamUsername?: string;
    /** `http.debug.addr`: health and metrics, as for the registry. Default: none. */
    debugAddress?: string;
    /** The Distribution major version that reads the file. Default: 3. */
    distributionMajor?: DistributionMajor;
}

/** The environment variable Distribution reads `proxy.password` from. */
export const PROXY_PASSWORD_ENV = "REGISTRY_PROXY_PASSWORD";

/**
 * `config.yml` for the pull-through mirror: the registry's own config (same storage layout and
 * health check, so the two never drift; like the registry, no auth of its own: it is reachable
 * only through the edge, which checks the users' passwords), plus `proxy`. In proxy mode
 * Distribution serves only pulls: it answers every push with 405 UNSUPPORTED, and keeps what it
 * fetched for 7 days (2.8 has no setting for that; 3.x's `proxy.ttl` is not rendered), fetching a tag's manifest
 * again from the upstream on each pull while the upstream answers.
 */
export function renderMirrorConfig(input: MirrorConfigInput): string {
    const config = parse(
        renderRegistryConfig({
            listenAddress: input.listenAddress,
            debugAddress: input.debugAddress,
            deleteEnabled: false,
            distributionMajor: input.distributionMajor,
        }),
    );
    config.log.fields.service = "mirror";
    config.proxy = { remoteurl: input.upstream, ...(input.upstreamUsername === undefined ? {} : { username: input.upstreamUsername }) };
    const major = input.distributionMajor ?? 3;
    return `# Rendered by private-registry (components/render/mirrorConfig.ts) for Distribution ${major}.x.\n${stringify(config)}`;
}
