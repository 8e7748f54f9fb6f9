import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

/** What every host mode (local, ssh, alicloud) hands the registry: a Docker daemon to deploy to. */
export interface RegistryHost {
    /** The Docker provider every container, image, volume and network is created with. */
    provider: docker.Provider;
    /** Resources that must exist before containers start (Docker installed, data disk mounted). */
    ready: pulumi.Resource[];
    /**
     * Options for the registry's data volume, e.g. a bind to a mounted data disk that outlives the
     * VM. Unset: a plain Docker named volume.
     */
    dataVolumeDriverOpts?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** What every certificate variant (private CA, Let's Encrypt) hands the edge. */
export interface ServerCertificate {
    /** The server certificate followed by any intermediates, PEM. */
    certificateChainPem: pulumi.Output<string>;
    /** Secret. */
    privateKeyPem: pulumi.Output<string>;
    /** The private CA clients must trust; undefined for a public CA. */
    caCertificatePem?: pulumi.Output<string>;
}
