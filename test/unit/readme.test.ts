/** The README's layout section names every directory a newcomer finds in the tree, and only those. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { existsSync, readdirSync, readFileSync } from "fs";
import { join, resolve } from "path";

const ROOT = resolve(__dirname, "../..");

function layoutBlock(): string {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Layout"));
    return section.slice(section.indexOf("```") + 3, section.indexOf("```", section.indexOf("```") + 3));
}

describe("README layout", () => {
    it("names only paths that exist", () => {
        const named = layoutBlock()
            .split("\n")
            .map((line) => line.trim().split(/\s+/)[0])
            .filter((path) => path && /[/.]/.test(path));
        assert.ok(named.length >= 10);
        for (const path of named) assert.ok(existsSync(join(ROOT, path)), `README layout names ${path}, which is not in the tree`);
    });

    it("names every folder under components/ and test/", () => {
        const block = layoutBlock();
        for (const parent of ["components", "test"]) {
            for (const entry of readdirSync(join(ROOT, parent), { withFileTypes: true }).filter((e) => e.isDirectory())) {
                assert.ok(block.includes(`${parent}/${entry.name}/`), `README layout does not mention ${parent}/${entry.name}/`);
            }
        }
    });
});
