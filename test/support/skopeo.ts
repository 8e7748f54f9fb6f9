/** skopeo's arguments for what the tests do through the edge: copy an OCI layout's tag in, copy an image (every platform) out. */

export interface SkopeoTarget {
    /** A directory holding the registry's CA as ca.crt (as a certs.d entry does). */
    certDir: string;
    /** `user:password`. */
    creds: string;
}

/** `skopeo copy` of `layout`'s `tag` to `docker://destination` (with every platform of an index when `all`). */
export function skopeoPushArgs(layout: string, tag: string, destination: string, target: SkopeoTarget, all = false): string[] {
    return [
        "copy",
        "--quiet",
        ...(all ? ["--all"] : []),
        "--dest-cert-dir",
        target.certDir,
        "--dest-creds",
        target.creds,
        `oci:${layout}:${tag}`,
        `docker://${destination}`,
    ];
}

/** `skopeo copy --all` of `docker://source` into the directory `into`. */
export function skopeoPullArgs(source: string, into: string, target: SkopeoTarget): string[] {
    return ["copy", "--quiet", "--all", "--src-cert-dir", target.certDir, "--src-creds", target.creds, `docker://${source}`, `dir:${into}`];
}
