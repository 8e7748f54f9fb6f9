import * as pulumi from "@pulumi/pulumi";

/**
 * Adds `replaceWith` to every Docker resource below the component it is given to. A new VM brings
 * a new, empty Docker daemon: without this, Pulumi would believe the containers still run on the
 * old one. Applied to PrivateRegistry, so the registry's own code stays the same in every mode.
 */
export function followDaemonReplacement(replacesDaemon: pulumi.Resource[]): pulumi.ResourceTransformation {
    return (args) => {
        if (!args.type.startsWith("docker:") || replacesDaemon.length === 0) return undefined;
        const replaceWith = [...(args.opts.replaceWith ?? []), ...replacesDaemon];
        return { props: args.props, opts: { ...args.opts, replaceWith } };
    };
}

/** PrivateRegistry's resource options when `replacesDaemon` (e.g. the VM) may be replaced. */
export function followingDaemon(replacesDaemon: pulumi.Resource[]): pulumi.ComponentResourceOptions {
    return replacesDaemon.length === 0 ? {} : { transformations: [followDaemonReplacement(replacesDaemon)] };
}
