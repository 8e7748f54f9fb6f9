/**
 * Where the alicloud VM runs (hosts/alicloudPlacement.ts), under mocks: the instance type, zone and
 * image looked up on the first deployment, exported, and read back and kept on every later one.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readFileSync } from "fs";
import { join, resolve } from "path";
import { chooseInstanceType, isBurstable, PLACEMENT_OUTPUT, previousPlacement } from "../../components/hosts/alicloudPlacement";
import { evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { FAKE_INSTANCE_TYPES } from "../../scripts/lib/program/fakeProviders";
import { inputsOf, isolateHome } from "../harness/inspect";
import { MINIMAL_ALICLOUD_CONFIG } from "../support/fixtures";

const ROOT = resolve(__dirname, "../..");
const INSTANCE = "alicloud:ecs/instance:Instance";
const DISK = "alicloud:ecs/ecsDisk:EcsDisk";
const INSTANCE_TYPES = "alicloud:ecs/getInstanceTypes:getInstanceTypes";
const ZONES = "alicloud:index/getZones:getZones";
const IMAGES = "alicloud:ecs/getImages:getImages";

// The SSH key files stay under a temp HOME.
isolateHome("pr-alicloud-placement-home-");

const tokens = (result: EvaluationResult) => (result.invokes ?? []).map((i) => i.token);

describe("alicloud mode: instance type and placement", () => {
    it("chooses the cheapest non-burstable type sold with an ESSD system disk, then a zone and image for it", async () => {
        const result = await evaluateProgram({ config: MINIMAL_ALICLOUD_CONFIG });
        assert.equal(result.error, undefined);
        assert.equal(FAKE_INSTANCE_TYPES[0].id, "ecs.t6-c1m2.large", "the fake region lists a burstable type first, as a price sort does");
        assert.equal(inputsOf(result, INSTANCE).instanceType, "ecs.u1-c1m2.large");
        const lookup = result.invokes?.find((i) => i.token === INSTANCE_TYPES);
        assert.ok(lookup);
        assert.equal(lookup.inputs.systemDiskCategory, "cloud_essd");
        assert.equal(lookup.inputs.sortedBy, "Price");
        assert.deepEqual([lookup.inputs.cpuCoreCount, lookup.inputs.memorySize], [2, 4]);
        const zones = result.invokes?.find((i) => i.token === ZONES);
        assert.deepEqual([zones?.inputs.availableInstanceType, zones?.inputs.availableDiskCategory], ["ecs.u1-c1m2.large", "cloud_essd"]);
        assert.equal(result.invokes?.find((i) => i.token === IMAGES)?.inputs.instanceType, "ecs.u1-c1m2.large");
        assert.deepEqual(result.outputs[PLACEMENT_OUTPUT].value, {
            instanceType: "ecs.u1-c1m2.large",
            zoneId: "cn-hongkong-b",
            imageId: "debian_12_8_x64_20G_alibase_20250101.vhd",
        });
        assert.equal(result.outputs[PLACEMENT_OUTPUT].secret, false);
        assert.deepEqual(
            result.resources.filter((r) => r.type === "pulumi:pulumi:StackReference").map((r) => r.inputs.name),
            ["organization/private-registry/dev"],
        );
    });

    it("an existing stack keeps the exported placement and looks nothing up, so a sold-out type cannot fail its preview", async () => {
        const soldOut = {
            [INSTANCE_TYPES]: { instanceTypes: [], ids: [] },
            [ZONES]: { zones: [], ids: [] },
            [IMAGES]: { images: [], ids: [] },
        };
        const kept = { instanceType: "ecs.c7.large", zoneId: "cn-hongkong-c", imageId: "m-kept-debian" };
        const fresh = await evaluateProgram({ config: MINIMAL_ALICLOUD_CONFIG, invokeResults: soldOut });
        assert.match(
            fresh.error ?? "",
            /no non-burstable instance type .* is sold in cn-hongkong; set alicloud\.instanceType/,
            "a new stack does fail, naming the key",
        );

        const existing = await evaluateProgram({
            config: MINIMAL_ALICLOUD_CONFIG,
            invokeResults: soldOut,
            previousOutputs: { [PLACEMENT_OUTPUT]: kept },
        });
        assert.equal(existing.error, undefined);
        assert.deepEqual(
            tokens(existing).filter((t) => t.startsWith("alicloud:")),
            [],
            "no lookup at all",
        );
        const vm = inputsOf(existing, INSTANCE);
        assert.deepEqual(
            [vm.instanceType, vm.imageId, inputsOf(existing, DISK).zoneId, inputsOf(existing, "alicloud:vpc/switch:Switch").zoneId],
            ["ecs.c7.large", "m-kept-debian", "cn-hongkong-c", "cn-hongkong-c"],
        );
        assert.deepEqual(existing.outputs[PLACEMENT_OUTPUT].value, kept);
    });

    it("a configured type is checked against the offer once, in the kept zone; a burstable one is the user's call", async () => {
        const notSold = await evaluateProgram({
            config: {
                ...MINIMAL_ALICLOUD_CONFIG,
                alicloud: { ...MINIMAL_ALICLOUD_CONFIG.alicloud, instanceType: "ecs.g7.large", zoneId: "cn-hongkong-b" },
            },
        });
        assert.match(
            notSold.error ?? "",
            /alicloud\.instanceType ecs\.g7\.large is not sold in zone cn-hongkong-b with an ESSD system disk/,
        );

        const burstable = await evaluateProgram({
            config: { ...MINIMAL_ALICLOUD_CONFIG, alicloud: { ...MINIMAL_ALICLOUD_CONFIG.alicloud, instanceType: "ecs.t6-c1m2.large" } },
        });
        assert.equal(burstable.error, undefined);
        assert.equal(inputsOf(burstable, INSTANCE).instanceType, "ecs.t6-c1m2.large");
        assert.equal(burstable.invokes?.find((i) => i.token === INSTANCE_TYPES)?.inputs.instanceType, "ecs.t6-c1m2.large");

        const unchanged = await evaluateProgram({
            config: { ...MINIMAL_ALICLOUD_CONFIG, alicloud: { ...MINIMAL_ALICLOUD_CONFIG.alicloud, instanceType: "ecs.c7.large" } },
            previousOutputs: { [PLACEMENT_OUTPUT]: { instanceType: "ecs.c7.large", zoneId: "cn-hongkong-c", imageId: "m-kept" } },
            invokeResults: { [INSTANCE_TYPES]: { instanceTypes: [], ids: [] } },
        });
        assert.equal(unchanged.error, undefined, "the type the VM already runs is not checked again");
    });

    it("a looked-up type and image are kept on the VM (ignoreChanges), a configured image replaces it", () => {
        // The options are not visible to mocks: read them from the source, whitespace aside (a formatter may wrap them).
        const source = readFileSync(join(ROOT, "components/hosts/alicloudVm.ts"), "utf8").replace(/\s+/g, "");
        assert.match(
            source,
            /ignoreChanges:\[\.\.\.\(args\.imageId===undefined\?\["imageId"\]:\[\]\),\.\.\.\(args\.instanceType===undefined\?\["instanceType"\]:\[\]\),?\]/,
        );
    });

    it("the choice and the read-back are pure", () => {
        assert.equal(isBurstable({ id: "x", family: "ecs.t5", availabilityZones: ["z"] }), true);
        assert.equal(
            isBurstable({ id: "x", family: "ecs.c7", availabilityZones: ["z"], burstableInstance: { initialCredit: "30" } }),
            true,
        );
        assert.equal(
            isBurstable({
                id: "x",
                family: "ecs.c7",
                availabilityZones: ["z"],
                burstableInstance: { initialCredit: "", baselineCredit: "0" },
            }),
            false,
        );
        assert.equal(
            chooseInstanceType(
                [
                    { id: "ecs.c7.large", family: "ecs.c7", availabilityZones: [] },
                    { id: "ecs.g7.large", family: "ecs.g7", availabilityZones: ["z"] },
                ],
                "r",
            ),
            "ecs.g7.large",
            "a type sold in no zone is skipped",
        );
        assert.deepEqual(previousPlacement(undefined), {});
        assert.deepEqual(previousPlacement({ instanceType: "a", zoneId: "", imageId: 3 }), { instanceType: "a" });
    });
});
