/**
 * A stack already running in alicloud mode must see no diff from the code that added replicas and
 * object storage: the default alicloud stack's resource graph (every resource, parent, option and
 * input, random values named by their source; test/harness/graph.ts) is compared with the one
 * recorded before that change (`__snapshots__/alicloud-default.graph.json`, written by this test
 * at commit 8e6eccf, main before this change; re-recorded when Distribution 3 became the default
 * registry image, a change meant to alter it: image, config path, draintimeout, OTEL env; and
 * when the edge gained `/readyz`, its nginx.conf; and when its TLS curves were fixed to Mozilla's intermediate list). `UPDATE_SNAPSHOTS=1` rewrites it for a change
 * meant to alter the graph.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { existsSync, readFileSync } from "fs";
import { join } from "path";
import { evaluateProgram } from "../../scripts/lib/program/evaluate";
import { GraphNode, resourceGraph } from "../harness/graph";
import { isolateHome } from "../harness/inspect";
import { matchSnapshot } from "../support/snapshot";
import { MINIMAL_ALICLOUD_CONFIG } from "../support/fixtures";

const HOME = isolateHome("pr-alicloud-graph-home-");
const SNAPSHOT = "alicloud-default.graph.json";

describe("alicloud: the default stack's resource graph", () => {
    it("is the graph recorded before replicas and object storage existed: same resources, parents, options and inputs", async () => {
        const result = await evaluateProgram({ config: MINIMAL_ALICLOUD_CONFIG });
        assert.equal(result.error, undefined);
        // As JSON holds it (an unset option is left out), so the comparison is like for like.
        const graph = JSON.parse(JSON.stringify(resourceGraph(result, HOME))) as Record<string, GraphNode>;
        const path = join(__dirname, "__snapshots__", SNAPSHOT);
        if (process.env.UPDATE_SNAPSHOTS !== "1" && existsSync(path)) {
            const before = JSON.parse(readFileSync(path, "utf8")) as Record<string, GraphNode>;
            assert.deepEqual(Object.keys(graph), Object.keys(before), "the same resources, no more, no fewer");
            for (const [key, node] of Object.entries(graph)) assert.deepEqual(node, before[key], `${key} differs from the recorded graph`);
        }
        matchSnapshot(SNAPSHOT, `${JSON.stringify(graph, null, 1)}\n`);
    });
});
