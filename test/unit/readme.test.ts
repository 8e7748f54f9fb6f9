/**
 * CONTRIBUTING.md's layout section names every directory a newcomer finds in the tree, and only
 * those; the README's marked blocks are where the tests that read them look; its outputs table
 * (generated from components/outputs.ts, test/unit/config.test.ts checks it is not stale) names
 * what the program really exports.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { existsSync, readdirSync, readFileSync } from "fs";
import { join, resolve } from "path";
import { STACK_OUTPUTS } from "../../components/outputs";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { MINIMAL_ALICLOUD_CONFIG } from "../support/fixtures";

const ROOT = resolve(__dirname, "../..");

function layoutBlock(): string {
    const contributing = readFileSync(join(ROOT, "CONTRIBUTING.md"), "utf8");
    const section = contributing.slice(contributing.indexOf("## Layout"));
    return section.slice(section.indexOf("```") + 3, section.indexOf("```", section.indexOf("```") + 3));
}

describe("CONTRIBUTING.md layout", () => {
    it("names only paths that exist", () => {
        const named = layoutBlock()
            .split("\n")
            .map((line) => line.trim().split(/\s+/)[0])
            .filter((path) => path && /[/.]/.test(path));
        assert.ok(named.length >= 10);
        for (const path of named) assert.ok(existsSync(join(ROOT, path)), `CONTRIBUTING.md layout names ${path}, which is not in the tree`);
    });

    it("names every folder under components/ and test/", () => {
        const block = layoutBlock();
        for (const parent of ["components", "test"]) {
            for (const entry of readdirSync(join(ROOT, parent), { withFileTypes: true }).filter((e) => e.isDirectory())) {
                assert.ok(block.includes(`${parent}/${entry.name}/`), `CONTRIBUTING.md layout does not mention ${parent}/${entry.name}/`);
            }
        }
    });
});

describe("README's marked blocks", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");

    it("has the quick start's four shell blocks, each right after its marker (test/engine/quickStart.test.ts runs them)", () => {
        for (const name of ["deploy", "push", "lan", "node"]) {
            const marker = `<!-- quick-start:${name} -->`;
            assert.equal(readme.split(marker).length, 2, `README.md has ${marker} once`);
            assert.match(
                readme.slice(readme.indexOf(marker) + marker.length),
                /^\s*```sh\n[\s\S]+?\n```/,
                `${marker} is followed by a sh block`,
            );
        }
        const deploy = /<!-- quick-start:deploy -->\s*```sh\n([\s\S]*?)\n```/.exec(readme)![1];
        assert.ok(
            deploy.split("\n").filter((line) => line.trim() && !line.trim().startsWith("#")).length <= 2,
            "the quick start is two commands at most",
        );
    });

    it("keeps the generated tables between their markers, in order", () => {
        for (const table of ["outputs-table", "config-table"]) {
            const begin = readme.indexOf(`<!-- ${table}:begin -->`);
            const end = readme.indexOf(`<!-- ${table}:end -->`);
            assert.ok(begin >= 0 && end > begin, `README.md has <!-- ${table}:begin --> before <!-- ${table}:end -->`);
            assert.match(readme.slice(begin, end), /\n\|[^\n]+\|\n\|[-| ]+\|\n/, `a table between the ${table} markers`);
        }
    });
});

describe("README outputs (components/outputs.ts)", () => {
    /** The outputs an evaluation exports with a value, `clientSnippets.MEMBER` for the snippets, each with whether it is secret. */
    function exported(result: EvaluationResult): Record<string, boolean> {
        assert.equal(result.error, undefined);
        const found: Record<string, boolean> = {};
        for (const [name, output] of Object.entries(result.outputs)) {
            if (output.value === undefined || output.value === null) continue;
            if (name !== "clientSnippets") found[name] = output.secret;
            else {
                const members = output.secretChildren as Record<string, boolean>;
                for (const member of Object.keys(output.value as object)) found[`${name}.${member}`] = members[member];
            }
        }
        return found;
    }

    /** The declared outputs present when the stack is in these cases (`when`), with whether each is secret. */
    const declared = (...cases: string[]) =>
        Object.fromEntries(
            STACK_OUTPUTS.filter((o) => o.when === undefined || cases.includes(o.when)).map((o) => [o.name, o.secret === true]),
        );

    it("the program exports exactly the declared outputs, each secret where the table says so", async () => {
        const [local, alicloud] = await Promise.all([
            evaluateProgram({ config: { ...devStackConfig(), mirror: {} } }),
            evaluateProgram({ config: MINIMAL_ALICLOUD_CONFIG }),
        ]);
        assert.deepEqual(exported(local), declared("with `mirror`", "without `acme`"));
        assert.deepEqual(exported(alicloud), declared("alicloud mode"));
        // Every export is declared, set or not.
        const names = new Set(STACK_OUTPUTS.map((o) => o.name.split(".")[0]));
        assert.deepEqual(new Set(Object.keys(local.outputs)), names);
    });
});
