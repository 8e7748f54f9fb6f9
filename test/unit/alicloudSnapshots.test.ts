/**
 * alicloud mode under mocks: the data disk's automatic snapshot policy, its retention from
 * `alicloud.snapshotRetentionDays`, and no policy at 0.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseStackConfig } from "../../components/config/parse";
import { evaluateProgram, findResource } from "../../scripts/lib/program/evaluate";
import { declared, inputsOf, isolateHome, stateOf } from "../harness/inspect";

isolateHome("pr-snapshots-home-");

const POLICY = "alicloud:ecs/autoSnapshotPolicy:AutoSnapshotPolicy";
const ATTACHMENT = "alicloud:ecs/ecsAutoSnapshotPolicyAttachment:EcsAutoSnapshotPolicyAttachment";
const DISK = "alicloud:ecs/ecsDisk:EcsDisk";

const config = (alicloud: Record<string, unknown> = {}) => ({
    mode: "alicloud",
    hostnames: ["registry.example.com"],
    alicloud: { region: "cn-hongkong", dnsZone: "example.com", adminCidr: "203.0.113.7/32", ...alicloud },
    acme: { email: "ops@example.com" },
});

describe("alicloud: automatic snapshots of the data disk", () => {
    it("snapshots the data disk daily, kept 7 days by default, kept N days when asked, none at 0", async () => {
        const [byDefault, thirty, off] = await Promise.all([
            evaluateProgram({ config: config() }),
            evaluateProgram({ config: config({ snapshotRetentionDays: 30 }) }),
            evaluateProgram({ config: config({ snapshotRetentionDays: 0 }) }),
        ]);
        for (const result of [byDefault, thirty, off]) assert.equal(result.error, undefined);

        const policy = inputsOf(byDefault, POLICY, "alicloud-snapshots");
        assert.equal(policy.retentionDays, 7);
        assert.deepEqual(policy.repeatWeekdays, ["1", "2", "3", "4", "5", "6", "7"], "every day");
        assert.equal(policy.timePoints.length, 1);
        assert.equal(policy.autoSnapshotPolicyName, "private-registry-data");
        const attachment = inputsOf(byDefault, ATTACHMENT, "alicloud-data-snapshots");
        assert.equal(attachment.diskId, findResource(byDefault, DISK, "alicloud-data").id, "attached to the data disk");
        assert.equal(attachment.autoSnapshotPolicyId, findResource(byDefault, POLICY, "alicloud-snapshots").id);
        assert.equal(inputsOf(byDefault, DISK, "alicloud-data").deleteAutoSnapshot, false, "snapshots outlive the disk");
        assert.ok(stateOf(byDefault, DISK, "alicloud-data"));

        assert.equal(inputsOf(thirty, POLICY, "alicloud-snapshots").retentionDays, 30);
        assert.ok(!declared(off).some((r) => r.startsWith(POLICY) || r.startsWith(ATTACHMENT)), "0: no policy");
    });

    it("refuses a retention outside 0-65536, naming the key", () => {
        const raw = { mode: "alicloud", hostnames: '["registry.example.com"]', acme: '{"email":"ops@example.com"}' };
        for (const bad of ["-1", "65537", '"week"']) {
            assert.throws(
                () =>
                    parseStackConfig({
                        ...raw,
                        alicloud: `{"region":"cn-hongkong","dnsZone":"example.com","adminCidr":"203.0.113.7/32","snapshotRetentionDays":${bad}}`,
                    }),
                (error: unknown) =>
                    error instanceof ConfigError &&
                    /alicloud\.snapshotRetentionDays must be an integer number of days, 0-65536/.test(error.problems.join("\n")),
                bad,
            );
        }
    });
});
