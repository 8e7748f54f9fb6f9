/** config.yml as a reviewer sees it (snapshots), plus the properties it must keep. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { renderRegistryConfig } from "../../components/render/registryConfig";
import { matchSnapshot } from "../support/snapshot";

describe("registry config.yml", () => {
    it("registry config.yml", () => {
        const yaml = renderRegistryConfig({
            listenAddress: ":5000",
            htpasswdPath: "/auth/htpasswd",
            realm: "private-registry",
            deleteEnabled: false,
        });
        matchSnapshot("registry-config.yml", yaml);
        const config = parseYaml(yaml);
        assert.equal(config.version, 0.1);
        assert.equal(config.storage.filesystem.rootdirectory, "/var/lib/registry");
        assert.equal(config.http.headers["Access-Control-Allow-Origin"], undefined, "no CORS for a same-origin UI");
    });

    it("registry config.yml on an S3 bucket: storage.s3 and redirect, no data directory, no keys in the file", () => {
        const yaml = renderRegistryConfig({
            listenAddress: ":5000",
            htpasswdPath: "/auth/htpasswd",
            realm: "private-registry",
            deleteEnabled: false,
            storage: {
                kind: "s3",
                endpoint: "https://minio.lan:9000",
                region: "us-east-1",
                bucket: "images",
                forcePathStyle: true,
                redirect: false,
                rootDirectory: "/registry",
            },
        });
        matchSnapshot("registry-config-s3.yml", yaml);
        const storage = parseYaml(yaml).storage;
        assert.deepEqual(storage.s3, {
            region: "us-east-1",
            bucket: "images",
            regionendpoint: "https://minio.lan:9000",
            forcepathstyle: true,
            rootdirectory: "/registry",
        });
        assert.deepEqual(storage.redirect, { disable: true });
        assert.equal(storage.filesystem, undefined, "one driver only: Distribution refuses two");
        assert.doesNotMatch(yaml, /accesskey|secretkey/i);
        const aws = parseYaml(
            renderRegistryConfig({
                listenAddress: ":5000",
                htpasswdPath: "/auth/htpasswd",
                realm: "r",
                deleteEnabled: false,
                storage: { kind: "s3", region: "eu-central-1", bucket: "images", forcePathStyle: false, redirect: true },
            }),
        ).storage;
        assert.deepEqual(aws.s3, { region: "eu-central-1", bucket: "images", forcepathstyle: false }, "AWS itself: no regionendpoint");
        assert.deepEqual(aws.redirect, { disable: false });
    });
});
