/**
 * The OSS storage component in this process under the fake providers: what it hands the registry
 * (kind s3, OSS's internal S3 endpoint, virtual-hosted style, no redirect) and that both halves of
 * the access key reach it as secrets; the RAM policy's reach (that bucket only, the calls
 * Distribution's s3 driver makes); the bucket's settings.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as alicloud from "@pulumi/alicloud";
import * as pulumi from "@pulumi/pulumi";
import { FakeProviders } from "../../scripts/lib/program/fakeProviders";
import {
    OSS_BUCKET_ACTIONS,
    OSS_OBJECT_ACTIONS,
    ossInternalS3Endpoint,
    registryBucketName,
    renderRegistryBucketPolicy,
} from "../../components/render/ossPolicy";

const providers = new FakeProviders();
const value = <T>(output: pulumi.Input<T>) => new Promise<T>((done) => pulumi.output(output).apply((v) => done(v as T)));

describe("OSS storage for the registry", () => {
    let storage: import("../../components/config/types").RegistryStorage;
    before(async () => {
        await pulumi.runtime.setMocks(providers, "private-registry", "dev", false, "organization");
        // Imported after the mocks are set: the component's module binds the runtime on load.
        const { OssRegistryStorage } = await import("../../components/storage/ossStorage");
        const provider = new alicloud.Provider("test-provider", { region: "cn-hongkong" });
        storage = new OssRegistryStorage("storage", {
            bucketName: "private-registry-0123456789ab",
            region: "cn-hongkong",
            provider,
            namePrefix: "private-registry",
            retainDataOnDestroy: true,
        }).storage;
        if (storage.kind !== "s3") throw new Error("expected kind s3");
        await value(storage.secretAccessKey);
    });

    it("hands the registry OSS's S3 API inside the VPC, virtual-hosted style, and never sends clients to the bucket", () => {
        assert.equal(storage.kind, "s3");
        if (storage.kind !== "s3") return;
        assert.equal(storage.endpoint, "https://s3.oss-cn-hongkong-internal.aliyuncs.com");
        assert.equal(storage.endpoint, ossInternalS3Endpoint("cn-hongkong"));
        assert.equal(storage.region, "cn-hongkong");
        assert.equal(storage.bucket, "private-registry-0123456789ab");
        assert.equal(storage.forcePathStyle, false, "OSS refuses path-style requests");
        assert.equal(storage.redirect, false, "clients cannot reach the internal endpoint");
    });

    it("hands over the access key's ID and secret as secrets, the very ones RAM issued", async () => {
        if (storage.kind !== "s3") return;
        assert.equal(await pulumi.isSecret(pulumi.output(storage.secretAccessKey)), true);
        assert.equal(await pulumi.isSecret(pulumi.output(storage.accessKeyId)), true);
        const key = providers.resources.find((r) => r.type === "alicloud:ram/accessKey:AccessKey");
        assert.ok(key);
        assert.equal(await value(storage.secretAccessKey), key.state.secret);
        assert.equal(await value(storage.accessKeyId), key.id);
        assert.match(key.id, /^LTAI/);
        const user = providers.resources.find((r) => r.type === "alicloud:ram/user:User");
        assert.equal(key.inputs.userName, user?.inputs.name, "the key is the registry user's");
    });

    it("creates a private, encrypted, unversioned bucket that aborts abandoned multipart uploads", () => {
        const bucket = providers.resources.find((r) => r.type === "alicloud:oss/bucket:Bucket")?.inputs as Record<string, any>;
        assert.equal(bucket.bucket, "private-registry-0123456789ab");
        assert.deepEqual(bucket.serverSideEncryptionRule, { sseAlgorithm: "AES256" });
        assert.equal(bucket.versioning, undefined, "versioning never enabled");
        assert.equal(bucket.acl, undefined, "the ACL is its own resource (the field is deprecated)");
        assert.deepEqual(bucket.lifecycleRules[0].abortMultipartUploads, [{ days: 7 }]);
        assert.equal(bucket.forceDestroy, false, "kept data is never force-deleted");
        const acl = providers.resources.find((r) => r.type === "alicloud:oss/bucketAcl:BucketAcl")?.inputs;
        assert.deepEqual(acl, { bucket: "private-registry-0123456789ab", acl: "private" });
        const block = providers.resources.find((r) => r.type === "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock")?.inputs;
        assert.deepEqual(block, { bucket: "private-registry-0123456789ab", blockPublicAccess: true });
    });

    it("attaches the registry policy, and only it, to the registry user", () => {
        const policy = providers.resources.find((r) => r.type === "alicloud:ram/policy:Policy")?.inputs as Record<string, any>;
        assert.equal(policy.policyDocument, renderRegistryBucketPolicy("private-registry-0123456789ab"));
        const attachments = providers.resources
            .filter((r) => r.type === "alicloud:ram/userPolicyAttachment:UserPolicyAttachment")
            .map((r) => r.inputs);
        const user = providers.resources.find((r) => r.type === "alicloud:ram/user:User")?.inputs as Record<string, any>;
        assert.deepEqual(attachments, [{ policyName: policy.policyName, policyType: "Custom", userName: user.name }]);
    });
});

describe("the registry bucket's RAM policy", () => {
    const document = JSON.parse(renderRegistryBucketPolicy("private-registry-0123456789ab"));

    it("reaches that bucket and its objects only, with no wildcard action and no bucket administration", () => {
        const resources = document.Statement.flatMap((s: { Resource: string[] }) => s.Resource).sort();
        assert.deepEqual(resources, ["acs:oss:*:*:private-registry-0123456789ab", "acs:oss:*:*:private-registry-0123456789ab/*"]);
        const actions: string[] = document.Statement.flatMap((s: { Action: string[] }) => s.Action);
        assert.ok(
            actions.every((a) => /^oss:[A-Za-z]+$/.test(a)),
            "no wildcards",
        );
        for (const admin of ["oss:DeleteBucket", "oss:PutBucketAcl", "oss:PutBucketPolicy", "oss:PutBucketLifecycle", "oss:ListBuckets"])
            assert.ok(!actions.includes(admin), admin);
        assert.ok(document.Statement.every((s: { Effect: string }) => s.Effect === "Allow"));
    });

    it("allows every call Distribution's s3 driver makes: list, read, write, delete, multipart", () => {
        const on = (resource: string) =>
            document.Statement.filter((s: { Resource: string[] }) => s.Resource.includes(resource))
                .flatMap((s: { Action: string[] }) => s.Action)
                .sort();
        assert.deepEqual(on("acs:oss:*:*:private-registry-0123456789ab"), [...OSS_BUCKET_ACTIONS].sort());
        assert.deepEqual(on("acs:oss:*:*:private-registry-0123456789ab/*"), [...OSS_OBJECT_ACTIONS].sort());
        assert.deepEqual([...OSS_BUCKET_ACTIONS].sort(), ["oss:ListMultipartUploads", "oss:ListObjects"]);
        assert.deepEqual([...OSS_OBJECT_ACTIONS].sort(), [
            "oss:AbortMultipartUpload",
            "oss:DeleteObject",
            "oss:GetObject",
            "oss:ListParts",
            "oss:PutObject",
        ]);
        assert.throws(() => renderRegistryBucketPolicy("*"), /not an OSS bucket name/, "a wildcard cannot slip in as a name");
    });

    it("names the bucket the same on every run, apart per stack and per registry name, within OSS's limits", () => {
        const name = (stack: string, hostname = "registry.example.com", namePrefix = "private-registry") =>
            registryBucketName({ namePrefix, project: "private-registry", stack, hostname });
        assert.equal(name("prod"), name("prod"));
        assert.notEqual(name("prod"), name("staging"));
        assert.notEqual(name("prod"), name("prod", "registry.example.org"));
        assert.match(name("prod"), /^private-registry-[0-9a-f]{12}$/);
        const longest = name("prod", "registry.example.com", "a".repeat(40));
        assert.ok(longest.length <= 63 && /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(longest), longest);
    });
});
