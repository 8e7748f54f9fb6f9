/**
 * One alicloud VM under mocks (hosts/alicloudVm.ts): replacing it releases the data disk first
 * (the readiness command and the disk attachment are deleted before they are replaced), the disk
 * grows online, and no key or password reaches a plain output or input.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { evaluateProgram, EvaluationResult, findResource } from "../../scripts/lib/program/evaluate";
import { assertSecretsStayHidden, inputsOf, isolateHome } from "../harness/inspect";
import { MINIMAL_ALICLOUD_CONFIG } from "../support/fixtures";

const INSTANCE = "alicloud:ecs/instance:Instance";
const DISK = "alicloud:ecs/ecsDisk:EcsDisk";
const ATTACHMENT = "alicloud:ecs/ecsDiskAttachment:EcsDiskAttachment";
const COMMAND = "command:remote:Command";

// The SSH key files stay under a temp HOME.
isolateHome("pr-alicloud-vm-home-");

describe("alicloud mode: replacing the VM releases the data disk first", () => {
    let result: EvaluationResult;

    before(async () => {
        result = await evaluateProgram({ config: MINIMAL_ALICLOUD_CONFIG });
        assert.equal(result.error, undefined);
    });

    it("keeps every key and password out of plain outputs and inputs", () => {
        assert.ok(assertSecretsStayHidden(result) >= 8);
    });

    it("the readiness command takes the disk attachment's ID as an input (a property dependency), not only dependsOn", () => {
        const attachment = findResource(result, ATTACHMENT);
        const ready = inputsOf(result, COMMAND, "alicloud-ready");
        assert.ok(
            (ready.triggers as string[]).includes(attachment.id),
            `triggers ${JSON.stringify(ready.triggers)} lack the attachment ${attachment.id}`,
        );
        assert.ok((ready.triggers as string[]).includes(findResource(result, INSTANCE).id));
        assert.ok((ready.triggers as string[]).includes(findResource(result, DISK).id));
        assert.equal(result.options[`${COMMAND}::alicloud-ready`].deleteBeforeReplace, true);
        assert.equal(result.options[`${ATTACHMENT}::alicloud-data-attachment`].deleteBeforeReplace, true);
    });

    it("grows the data disk online, so resize2fs on the running VM finds the new space", () => {
        assert.equal(inputsOf(result, DISK).type, "online");
    });
});
