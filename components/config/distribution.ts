/**
 * Which Distribution (registry) major version an image runs, told from its tag. The config file's
 * path and what it may say differ between 2.x and 3.x, so the stack must know before it renders.
 *
 * Pure: no `@pulumi/*` import. The validator tells it once (keys.ts): the settings carry each
 * Distribution image with its major (DistributionImage), which the services render for.
 */

/** The majors the stack renders for: 2 (2.8, the last 2.x) and 3. */
export type DistributionMajor = 2 | 3;

/** What a tag must look like for the version to be told: the official image's tags (`3`, `3.1`, `3.1.1`, `2.8.3`), optionally `v`-prefixed or suffixed (`3.1.1-alpine`). */
export const DISTRIBUTION_TAG_FORM =
    "a tag that starts with the Distribution version, 2.8 or 3 (e.g. registry:3.1.1, registry:2.8.3, or NAME:3.1.1@sha256:DIGEST for a digest pin)";

/**
 * The major version the image's tag names, or undefined when the tag does not say (no tag, a
 * digest only, `latest`, a name of your own). A digest pin keeps its tag for this:
 * `NAME:3.1.1@sha256:...` (Docker pulls by the digest and ignores the tag).
 */
export function distributionMajor(image: string): DistributionMajor | undefined {
    const withoutDigest = image.replace(/@sha256:[0-9a-f]{64}$/, "");
    // The tag follows the last ':' after the last '/' (a registry host may carry a port).
    const lastPart = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
    const colon = lastPart.lastIndexOf(":");
    if (colon < 0) return undefined;
    const match = /^v?(\d+)(?:\.(\d+))?(?:[.-].*)?$/.exec(lastPart.slice(colon + 1));
    if (match === null) return undefined;
    const [major, minor] = [Number(match[1]), match[2] === undefined ? undefined : Number(match[2])];
    if (major === 3) return 3;
    // 2.x before 2.8 lacks what the rendered config uses (and security fixes); `2` alone is 2.8.3 today.
    if (major === 2 && (minor === undefined || minor >= 8)) return 2;
    return undefined;
}
