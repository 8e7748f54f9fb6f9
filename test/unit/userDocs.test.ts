/**
 * The README and docs/ speak to the people who run the registry. A short list of words gives away
 * text written for whoever builds and tests the project instead (where the tests ran, what stood
 * in for what, how long a build took, what a module proxy refused); that text belongs in
 * CONTRIBUTING.md or docs/testing.md, which this test does not read. docs/testing.md lists the
 * words and why each is on the list; keep the two in step.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { existsSync, readdirSync, readFileSync } from "fs";
import { dirname, join, relative, resolve } from "path";

const ROOT = resolve(__dirname, "../..");

/** The user docs: README.md and every page under docs/ but the testing one. */
const USER_DOCS = [
    "README.md",
    ...readdirSync(join(ROOT, "docs"))
        .filter((file) => file.endsWith(".md") && file !== "testing.md")
        .map((file) => `docs/${file}`),
];

/** Each word, and what it gives away. */
const TESTERS_WORDS: { word: RegExp; why: string }[] = [
    { word: /\bthis machine\b/i, why: "the machine the project is developed and tested on, not the reader's" },
    { word: /\bhere\b/i, why: '"proved here", "cannot reach it from here": the test machine again' },
    { word: /\bstand-?ins?\b|\bstood in\b|\bstands? in for\b/i, why: "the test images and services that replace the real ones" },
    { word: /\bcold (run|build|start of the suite)\b/i, why: "how long the project's own build or test run took" },
    {
        word: /\b403 Forbidden\b|\bmodule proxy refus|\bproxy refused\b|\bnot served by the (Go )?module proxy\b/i,
        why: "what the test machine's module proxy refused",
    },
    { word: /\bload average\b/i, why: "how busy the test machine was (docs/benchmarks.md states its machine once)" },
];

/** Where a list word may appear: docs/benchmarks.md describes the machine its figures come from. */
const ALLOWED: Record<string, RegExp[]> = {
    "docs/benchmarks.md": [/\bload average\b/i],
};

describe("user docs speak to users", () => {
    for (const file of USER_DOCS) {
        it(`${file} uses none of the testers' words`, () => {
            const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
            const found: string[] = [];
            lines.forEach((line, index) => {
                for (const { word, why } of TESTERS_WORDS) {
                    if ((ALLOWED[file] ?? []).some((allowed) => allowed.source === word.source)) continue;
                    const match = word.exec(line);
                    if (match) found.push(`${file}:${index + 1}: "${match[0]}" (${why}): ${line.trim().slice(0, 160)}`);
                }
            });
            assert.deepEqual(found, [], `move this to docs/testing.md or reword it for users:\n${found.join("\n")}`);
        });
    }

    it("the list catches what it is for, and passes plain instructions", () => {
        const hits = (text: string) => TESTERS_WORDS.filter(({ word }) => word.test(text)).length;
        assert.equal(hits("Proved here by the real engine."), 1);
        assert.equal(hits("this machine cannot download the Pulumi CLI"), 1);
        assert.equal(hits("the registry stand-in is Debian's 2.8"), 1);
        assert.equal(hits("`pulumi-language-nodejs/v3@v3.260.0.info: 403 Forbidden`"), 1);
        assert.equal(hits("Set `hostnames[0]` to the name boards use, then run `npm run dev`."), 0);
        assert.equal(hits("with `192.168.1.10` standing for the registry computer's address"), 0);
        assert.equal(hits("Where the CLI cannot be downloaded, build it from source."), 0);
    });

    it("docs/testing.md lists every word", () => {
        const testing = readFileSync(join(ROOT, "docs/testing.md"), "utf8");
        for (const { why } of TESTERS_WORDS) assert.ok(testing.includes(why), `docs/testing.md does not explain: ${why}`);
    });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
function slug(heading: string): string {
    return heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, "")
        .replace(/ /g, "-");
}

function anchors(file: string): Set<string> {
    const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
    return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])));
}

describe("links between the docs", () => {
    const files = [...USER_DOCS, "CONTRIBUTING.md", "docs/testing.md"];
    for (const file of files) {
        it(`${file}: every relative link names a file that exists, and a heading in it`, () => {
            const text = readFileSync(join(ROOT, file), "utf8").replace(/```[\s\S]*?```/g, "");
            const broken: string[] = [];
            for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
                if (/^[a-z]+:/.test(target)) continue;
                const [path, anchor] = target.split("#");
                const resolved = path === "" ? join(ROOT, file) : resolve(dirname(join(ROOT, file)), path);
                if (!existsSync(resolved)) broken.push(`${target}: no ${relative(ROOT, resolved)}`);
                else if (anchor !== undefined && resolved.endsWith(".md") && !anchors(resolved).has(anchor))
                    broken.push(`${target}: no heading #${anchor} in ${relative(ROOT, resolved)}`);
            }
            assert.deepEqual(broken, []);
        });
    }
});
