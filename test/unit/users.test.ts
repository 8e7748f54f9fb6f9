/**
 * Users and roles as the stack config names them: plain names stay push users (stacks written
 * before roles keep working), objects carry a role, and who gets which account.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseStackConfig } from "../../components/config/parse";
import { builderUser, nodeUser, parseUsers } from "../../components/config/users";

function problems(users: string): string[] {
    try {
        parseStackConfig({ users });
    } catch (error) {
        assert.ok(error instanceof ConfigError, String(error));
        return error.problems;
    }
    assert.fail(`users accepted: ${users}`);
}

describe("users and roles", () => {
    it("reads names and {name, role} objects, a plain name being a push user", () => {
        const { users } = parseStackConfig({
            users: JSON.stringify(["ci", { name: "board", role: "pull" }, { name: "release", role: "push" }]),
        });
        assert.deepEqual(users, [
            { name: "ci", role: "push" },
            { name: "board", role: "pull" },
            { name: "release", role: "push" },
        ]);
    });

    it("builders get the first push user, nodes the first pull user", () => {
        const { users } = parseUsers(
            JSON.stringify([{ name: "board", role: "pull" }, "ci", "release", { name: "board2", role: "pull" }]),
            "users",
        );
        assert.equal(builderUser(users).name, "ci");
        assert.equal(nodeUser(users).name, "board");
    });

    it("a stack without a pull user (written before roles) gives nodes the first push user, as before", () => {
        const { users } = parseUsers('["admin","ci"]', "users");
        assert.equal(nodeUser(users).name, "admin");
    });

    it("rejects unknown roles and fields, bad names, repeats and a stack no one can push to, naming the key", () => {
        assert.match(
            problems('[{"name":"x","role":"admin"}]').join("\n"),
            /private-registry:users must be .*\{name, role: push \| pull\}.*; got \{"name":"x","role":"admin"\}/,
        );
        assert.match(problems('[{"name":"x","role":"pull","password":"p"}]').join("\n"), /private-registry:users must be/);
        assert.match(problems('[{"name":"a b","role":"pull"}]').join("\n"), /private-registry:users must be/);
        assert.match(problems('[{"role":"pull"}]').join("\n"), /private-registry:users must be/);
        assert.match(problems('"admin"').join("\n"), /private-registry:users must be/);
        assert.match(
            problems('["node",{"name":"node","role":"pull"}]').join("\n"),
            /private-registry:users must not repeat an entry; "node" is listed twice/,
        );
        assert.match(problems('[{"name":"node","role":"pull"}]').join("\n"), /private-registry:users must have at least one push user/);
    });
});
