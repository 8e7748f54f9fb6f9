/**
 * Text snapshots for rendered files, so a change to nginx.conf or config.yml shows up as a
 * reviewable diff in the pull request. `UPDATE_SNAPSHOTS=1 npm run test:unit` rewrites them.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";

const DIR = resolve(__dirname, "../unit/__snapshots__");

export function matchSnapshot(name: string, actual: string): void {
    const path = join(DIR, name);
    if (process.env.UPDATE_SNAPSHOTS === "1" || !existsSync(path)) {
        if (process.env.CI === "true" && !existsSync(path))
            assert.fail(`snapshot ${name} is missing; run UPDATE_SNAPSHOTS=1 npm run test:unit and commit it`);
        mkdirSync(DIR, { recursive: true });
        writeFileSync(path, actual);
        return;
    }
    assert.equal(actual, readFileSync(path, "utf8"), `${name} changed; if intended, run UPDATE_SNAPSHOTS=1 npm run test:unit`);
}
