/**
 * Password rotation under mocks: a new `passwordRotation` keeper for one user replaces that
 * user's password and bcrypt salt, and nothing else; the snippets carry the new password.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { ConfigError, parseStackConfig } from "../../components/config/parse";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../harness/evaluate";
import { assertSecretsStayHidden, CONTAINER, Inputs, inputsOf, isolateHome, upload } from "../harness/inspect";

isolateHome("pr-rotation-");

const passwordsOf = (result: EvaluationResult): Record<string, string> =>
    Object.fromEntries((result.outputs.credentials.value as { username: string; password: string }[]).map((u) => [u.username, u.password]));
const htpasswdLines = (result: EvaluationResult): Record<string, string> =>
    Object.fromEntries(upload(inputsOf(result, CONTAINER, "registry-registry"), "/auth/htpasswd").trim().split("\n").map((line) => [line.split(":")[0], line]));
const snippets = (result: EvaluationResult): Inputs => result.outputs.clientSnippets.value as Inputs;

describe("password rotation", () => {
    const config = { ...devStackConfig(), users: ["admin", "ci"] };
    let initial: EvaluationResult;
    let rotated: EvaluationResult;
    let again: EvaluationResult;
    let ciRotated: EvaluationResult;

    before(async () => {
        initial = await evaluateProgram({ config });
        assert.equal(initial.error, undefined);
        rotated = await evaluateProgram({ config: { ...config, passwordRotation: { admin: "2026-11-29" } }, previousState: initial.state });
        assert.equal(rotated.error, undefined);
        again = await evaluateProgram({ config: { ...config, passwordRotation: { admin: "2026-11-29" } }, previousState: rotated.state });
        ciRotated = await evaluateProgram({ config: { ...config, passwordRotation: { admin: "2026-11-29", ci: "1" } }, previousState: again.state });
    });

    it("gives the rotated user a new password and hash, and leaves the other user's alone", () => {
        const [before, after] = [passwordsOf(initial), passwordsOf(rotated)];
        assert.notEqual(after.admin, before.admin);
        assert.match(after.admin, /^[A-Za-z0-9]{32}$/);
        assert.equal(after.ci, before.ci);
        const [oldLines, newLines] = [htpasswdLines(initial), htpasswdLines(rotated)];
        assert.notEqual(newLines.admin, oldLines.admin);
        assert.equal(newLines.ci, oldLines.ci, "ci's hash (and salt) unchanged");
        const random = (r: EvaluationResult) => r.resources.filter((x) => x.type.startsWith("random:") && x.name.includes("-ci"));
        assert.deepEqual(random(rotated).map((x) => x.inputs), random(initial).map((x) => x.inputs), "ci's random resources keep their inputs");
    });

    it("puts the new password in the snippets that carry one, and no trace of the old", () => {
        const [oldAdmin, newAdmin] = [passwordsOf(initial).admin, passwordsOf(rotated).admin];
        // The pull secret holds a base64 docker config whose `auth` is base64 again: decode both.
        const decoded = (text: string) => text.replace(/[A-Za-z0-9+/]{16,}={0,2}/g, (b64) => {
            const once = Buffer.from(b64, "base64").toString("utf8");
            return `${b64} ${once} ${once.replace(/[A-Za-z0-9+/]{16,}={0,2}/g, (inner) => Buffer.from(inner, "base64").toString("utf8"))}`;
        });
        for (const name of ["k3s", "imagePullSecret", "nodeSetup"]) {
            const text = decoded(JSON.stringify(snippets(rotated)[name]));
            assert.ok(text.includes(newAdmin), `${name} carries the new password`);
            assert.ok(!text.includes(oldAdmin), `${name} forgets the old`);
            assert.ok(decoded(JSON.stringify(snippets(initial)[name])).includes(oldAdmin), `${name} carried the old one before`);
        }
        assert.ok(assertSecretsStayHidden(rotated) >= 5);
    });

    it("is stable: the same keeper again changes nothing", () => {
        assert.deepEqual(passwordsOf(again), passwordsOf(rotated));
        assert.deepEqual(inputsOf(again, CONTAINER, "registry-registry"), inputsOf(rotated, CONTAINER, "registry-registry"));
    });

    it("rotating the second user leaves the first user's password and the snippets alone", () => {
        assert.equal(passwordsOf(ciRotated).admin, passwordsOf(again).admin);
        assert.notEqual(passwordsOf(ciRotated).ci, passwordsOf(again).ci);
        assert.deepEqual(snippets(ciRotated), snippets(again));
    });

    it("refuses a keeper for a user that does not exist, or a keeper that is not text", () => {
        const problems = (raw: Record<string, string>): string[] => {
            try {
                parseStackConfig(raw);
            } catch (error) {
                assert.ok(error instanceof ConfigError);
                return error.problems;
            }
            assert.fail("accepted");
        };
        assert.match(problems({ users: '["admin"]', passwordRotation: '{"bob":"1"}' }).join("\n"), /passwordRotation names "bob", not in private-registry:users/);
        assert.match(problems({ passwordRotation: '{"admin":3}' }).join("\n"), /passwordRotation must be an object \{USERNAME: KEEPER\}/);
        assert.match(problems({ passwordRotation: '["admin"]' }).join("\n"), /passwordRotation must be/);
        assert.deepEqual(parseStackConfig({ passwordRotation: '{"admin":"2026-11-29"}' }).passwordRotation, { admin: "2026-11-29" });
    });
});
