import * as alicloud from "@pulumi/alicloud";
import * as pulumi from "@pulumi/pulumi";
import type { RegistryStorage } from "../config/types";
import { ossInternalS3Endpoint, renderRegistryBucketPolicy } from "../render/ossPolicy";

export interface OssRegistryStorageArgs {
    /** The bucket's name, global across OSS (registryBucketName makes one). Required. */
    bucketName: string;
    /** Alibaba Cloud region ID of the bucket, the same as the VMs' (the internal endpoint is per region). Required. */
    region: string;
    /** The region's provider (the host's). Required. */
    provider: alicloud.Provider;
    /** The `private-registry` tag's value on the bucket. */
    namePrefix: string;
    /**
     * Keep the bucket (every image) whatever happens to the stack: `protect` and `retainOnDelete`.
     * False: `pulumi destroy` deletes it with every object in it.
     */
    retainDataOnDestroy: boolean;
    /** Days after which a multipart upload nobody completed is aborted (its parts cost storage). Default: 7. */
    abortIncompleteUploadsAfterDays?: number;
}

/**
 * An OSS bucket for the registry's blobs and manifests, and a RAM user that can reach nothing but
 * that bucket's objects; the registry talks to it through OSS's S3 API (Distribution 3 removed its
 * own `oss` driver) at the region's internal endpoint.
 *
 * The bucket is private (ACL and public-access block), encrypted at rest with OSS-managed keys
 * (AES256), and not versioned: the registry overwrites link files, moves every upload into place
 * (copy, then delete) and garbage collection deletes for good, so versions would keep every
 * overwritten and deleted object, billed, with no registry able to read them back.
 */
export class OssRegistryStorage extends pulumi.ComponentResource {
    readonly bucket: alicloud.oss.Bucket;
    readonly user: alicloud.ram.User;
    /** What the registry is handed: kind `s3`, its credentials secret. */
    readonly storage: RegistryStorage;

    constructor(name: string, args: OssRegistryStorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("private-registry:storage:Oss", name, {}, opts);
        const namePrefix = args.namePrefix;
        const keepData = args.retainDataOnDestroy;
        const tags = { "managed-by": "pulumi", "private-registry": namePrefix };
        const cloudOpts = { parent: this, provider: args.provider };

        const bucketName = args.bucketName;
        // RAM names are per account: the bucket's name (its digest) tells two stacks' users apart.
        const ramName = bucketName;
        this.bucket = new alicloud.oss.Bucket(
            `${name}-bucket`,
            {
                bucket: bucketName,
                storageClass: "Standard",
                redundancyType: "LRS",
                serverSideEncryptionRule: { sseAlgorithm: "AES256" },
                lifecycleRules: [
                    {
                        id: "abort-incomplete-uploads",
                        enabled: true,
                        prefix: "",
                        abortMultipartUploads: [{ days: args.abortIncompleteUploadsAfterDays ?? 7 }],
                    },
                ],
                forceDestroy: !keepData,
                tags,
            },
            { ...cloudOpts, protect: keepData, retainOnDelete: keepData },
        );
        new alicloud.oss.BucketAcl(`${name}-acl`, { bucket: this.bucket.bucket, acl: "private" }, cloudOpts);
        new alicloud.oss.BucketPublicAccessBlock(
            `${name}-public-access-block`,
            { bucket: this.bucket.bucket, blockPublicAccess: true },
            cloudOpts,
        );

        this.user = new alicloud.ram.User(
            `${name}-user`,
            {
                name: ramName,
                comments: "private-registry: the registry's access to its own OSS bucket, nothing else",
                // Its access key goes with it.
                force: true,
            },
            cloudOpts,
        );
        const policy = new alicloud.ram.Policy(
            `${name}-policy`,
            {
                policyName: ramName,
                policyDocument: renderRegistryBucketPolicy(bucketName),
                description: "private-registry: list, read, write and delete the registry bucket's objects",
                force: true,
            },
            cloudOpts,
        );
        const attachment = new alicloud.ram.UserPolicyAttachment(
            `${name}-policy-attachment`,
            {
                policyName: policy.policyName,
                policyType: "Custom",
                userName: this.user.name,
            },
            cloudOpts,
        );
        // The provider lists `secret` among its secret outputs already; saying it again here keeps
        // it encrypted in the state should a provider version forget.
        const accessKey = new alicloud.ram.AccessKey(
            `${name}-access-key`,
            {
                userName: this.user.name,
                status: "Active",
            },
            { ...cloudOpts, additionalSecretOutputs: ["secret"], dependsOn: [attachment] },
        );

        this.storage = {
            kind: "s3",
            endpoint: ossInternalS3Endpoint(args.region),
            region: args.region,
            bucket: bucketName,
            accessKeyId: pulumi.secret(accessKey.id),
            secretAccessKey: pulumi.secret(accessKey.secret),
            // OSS refuses path-style requests (SecondLevelDomainForbidden).
            forcePathStyle: false,
            // The internal endpoint is unreachable for clients outside the VPC.
            redirect: false,
        };
        this.registerOutputs({ bucket: this.bucket.bucket, user: this.user.name });
    }
}
