/** The htpasswd file and the hashes in it: bcrypt (Distribution's), `{SSHA}` (the edge's). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compareSync } from "bcryptjs";
import { createHash } from "crypto";
import { bcryptWithSalt, renderHtpasswd, sshaWithSalt } from "../../components/render/htpasswd";

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

    it("{SSHA} with a kept salt: SHA-1 of the password and salt, then the salt, as OpenLDAP and nginx read it", () => {
        const salt = "abcdefghijklmnopqrstuv";
        const hash = sshaWithSalt("password", salt);
        assert.equal(sshaWithSalt("password", salt), hash);
        const raw = Buffer.from(hash.slice("{SSHA}".length), "base64");
        assert.deepEqual(raw.subarray(0, 20), createHash("sha1").update("password").update(salt).digest());
        assert.equal(raw.subarray(20).toString(), salt);
        assert.notEqual(sshaWithSalt("Password", salt), hash);
        assert.throws(() => sshaWithSalt("password", "short"), /at least 8 bytes/);
    });

    it("htpasswd accepts bcrypt and {SSHA} entries only", () => {
        const hash = `$2y$05$${"a".repeat(53)}`;
        const ssha = sshaWithSalt("password", "abcdefghijklmnopqrstuv");
        assert.equal(
            renderHtpasswd([
                { username: "ci", hash },
                { username: "node", hash: ssha },
            ]),
            `ci:${hash}\nnode:${ssha}\n`,
        );
        assert.throws(() => renderHtpasswd([{ username: "ci", hash: "{SHA}abc" }]), /neither bcrypt nor \{SSHA\}/);
        assert.throws(() => renderHtpasswd([{ username: "ci", hash: "password" }]), /neither bcrypt nor \{SSHA\}/);
        assert.throws(() => renderHtpasswd([{ username: "c:i", hash }]), /must not contain ':'/);
    });
});
