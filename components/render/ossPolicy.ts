/**
 * The RAM policy of the registry's own OSS user: that one bucket, and only what Distribution's s3
 * driver calls (registry 3.1.2, `registry/storage/driver/s3-aws/s3.go`): ListObjectsV2 and
 * ListMultipartUploads on the bucket; GetObject and HeadObject, PutObject, CopyObject,
 * DeleteObjects, and the multipart upload calls (Create, UploadPart, UploadPartCopy, ListParts,
 * Complete, Abort) on its objects. No bucket administration (ACL, policy, lifecycle, deletion).
 *
 * Pure: the JSON text, emitted by JSON.stringify.
 */
import { createHash } from "crypto";

/** OSS's RAM actions and the S3 calls each one covers (OSS authorizes S3-API requests by these). */
export const OSS_OBJECT_ACTIONS = [
    /** GetObject, HeadObject, and the source side of CopyObject and UploadPartCopy. */
    "oss:GetObject",
    /** PutObject, CopyObject, InitiateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload. */
    "oss:PutObject",
    /** DeleteObject and each key of DeleteObjects (DeleteMultipleObjects). */
    "oss:DeleteObject",
    "oss:AbortMultipartUpload",
    "oss:ListParts",
] as const;

export const OSS_BUCKET_ACTIONS = [
    /** ListObjects and ListObjectsV2: the registry walks repositories, tags and uploads by prefix. */
    "oss:ListObjects",
    /** A resumed upload (every PATCH and PUT after the first) finds its multipart upload this way. */
    "oss:ListMultipartUploads",
] as const;

/** The policy document granting the registry's actions on `bucket` and its objects, nothing else. */
export function renderRegistryBucketPolicy(bucket: string): string {
    if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket)) throw new Error(`not an OSS bucket name: ${JSON.stringify(bucket)}`);
    return JSON.stringify(
        {
            Version: "1",
            Statement: [
                { Effect: "Allow", Action: [...OSS_BUCKET_ACTIONS], Resource: [`acs:oss:*:*:${bucket}`] },
                { Effect: "Allow", Action: [...OSS_OBJECT_ACTIONS], Resource: [`acs:oss:*:*:${bucket}/*`] },
            ],
        },
        null,
        2,
    );
}

/**
 * OSS's S3-compatible endpoint inside the region's VPCs, as Alibaba Cloud documents it for S3 SDKs
 * (`https://s3.oss-REGION-internal.aliyuncs.com`). Requests from the VPC to it cost no traffic;
 * clients outside cannot reach it, which is why the registry never redirects them there.
 */
export function ossInternalS3Endpoint(region: string): string {
    return `https://s3.oss-${region}-internal.aliyuncs.com`;
}

/**
 * The bucket's name: known at preview (the registry's storage settings carry it as plain text),
 * the same on every run, and unique in practice although OSS names are global: the prefix, then a
 * digest of the project, the stack and the registry's first hostname, a name under a DNS zone the
 * stack's owner controls. 3-63 of a-z 0-9 -, as OSS requires (a prefix is at most 40 characters).
 */
export function registryBucketName(input: { namePrefix: string; project: string; stack: string; hostname: string }): string {
    const digest = createHash("sha256").update(`${input.project}/${input.stack}/${input.hostname}`).digest("hex").slice(0, 12);
    return `${input.namePrefix}-${digest}`;
}
