/** The htpasswd file and the bcrypt hashes in it. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compareSync } from "bcryptjs";
import { bcryptWithSalt, renderHtpasswd } from "../../components/render/htpasswd";

describe("htpasswd", () => {
    it("bcrypt with a kept salt gives the same hash every run, at the per-request cost", () => {
        const salt = "abcdefghijklmnopqrstuv";
        const hash = bcryptWithSalt("password", salt);
        assert.equal(bcryptWithSalt("password", salt), hash);
        assert.match(hash, /^\$2b\$05\$abcdefghijklmnopqrstu/);
        assert.notEqual(bcryptWithSalt("password", "bbcdefghijklmnopqrstuv"), hash);
        assert.ok(compareSync("password", hash) && !compareSync("Password", hash));
        assert.throws(() => bcryptWithSalt("password", "short"), /22 characters/);
    });

    it("htpasswd accepts only bcrypt entries", () => {
        const hash = `$2y$05$${"a".repeat(53)}`;
        assert.equal(renderHtpasswd([{ username: "ci", bcryptHash: hash }]), `ci:${hash}\n`);
        assert.throws(() => renderHtpasswd([{ username: "ci", bcryptHash: "{SHA}abc" }]), /not a bcrypt hash/);
        assert.throws(() => renderHtpasswd([{ username: "c:i", bcryptHash: hash }]), /must not contain ':'/);
    });
});
