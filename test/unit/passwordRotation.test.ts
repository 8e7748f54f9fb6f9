/**
 * Password rotation under mocks: a new `passwordRotation` keeper for one user replaces that
 * user's password and salt, and nothing else; the nodes' snippets, which carry the pull
 * user's password, carry the new one.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { ConfigError, parseStackConfig } from "../../components/config/parse";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { assertSecretsStayHidden, CONTAINER, Inputs, inputsOf, isolateHome, plainHolders, upload } from "../harness/inspect";

isolateHome("pr-rotation-");

const passwordsOf = (result: EvaluationResult): Record<string, string> =>
    Object.fromEntries((result.outputs.credentials.value as { username: string; password: string }[]).map((u) => [u.username, u.password]));
const htpasswdLines = (result: EvaluationResult): Record<string, string> =>
    Object.fromEntries(
        upload(inputsOf(result, CONTAINER, "registry-edge-secrets"), "/etc/nginx/secrets/users")
            .trim()
            .split("\n")
            .map((line) => [line.split(":")[0], line]),
    );
const snippets = (result: EvaluationResult): Inputs => result.outputs.clientSnippets.value as Inputs;

describe("password rotation", () => {
    // admin pushes (builders), node pulls (the nodes' snippets carry its password).
    const config = {
        ...devStackConfig(),
        users: [
            { name: "admin", role: "push" },
            { name: "node", role: "pull" },
        ],
    };
    let initial: EvaluationResult;
    let rotated: EvaluationResult;
    let again: EvaluationResult;
    let adminRotated: EvaluationResult;

    before(async () => {
        initial = await evaluateProgram({ config });
        assert.equal(initial.error, undefined);
        rotated = await evaluateProgram({ config: { ...config, passwordRotation: { node: "2026-11-29" } }, previousState: initial.state });
        assert.equal(rotated.error, undefined);
        again = await evaluateProgram({ config: { ...config, passwordRotation: { node: "2026-11-29" } }, previousState: rotated.state });
        adminRotated = await evaluateProgram({
            config: { ...config, passwordRotation: { node: "2026-11-29", admin: "1" } },
            previousState: again.state,
        });
    });

    it("gives the rotated user a new password and hash, and leaves the other user's alone", () => {
        const [before, after] = [passwordsOf(initial), passwordsOf(rotated)];
        assert.notEqual(after.node, before.node);
        assert.match(after.node, /^[A-Za-z0-9]{32}$/);
        assert.equal(after.admin, before.admin);
        const [oldLines, newLines] = [htpasswdLines(initial), htpasswdLines(rotated)];
        assert.notEqual(newLines.node, oldLines.node);
        assert.equal(newLines.admin, oldLines.admin, "admin's hash (and salt) unchanged");
        const random = (r: EvaluationResult) => r.resources.filter((x) => x.type.startsWith("random:") && x.name.includes("-admin"));
        assert.deepEqual(
            random(rotated).map((x) => x.inputs),
            random(initial).map((x) => x.inputs),
            "admin's random resources keep their inputs",
        );
    });

    it("puts the new password in the snippets that carry one, and no trace of the old", () => {
        const [oldNode, newNode] = [passwordsOf(initial).node, passwordsOf(rotated).node];
        // The pull secret holds a base64 docker config whose `auth` is base64 again: decode both.
        const decoded = (text: string) =>
            text.replace(/[A-Za-z0-9+/]{16,}={0,2}/g, (b64) => {
                const once = Buffer.from(b64, "base64").toString("utf8");
                return `${b64} ${once} ${once.replace(/[A-Za-z0-9+/]{16,}={0,2}/g, (inner) => Buffer.from(inner, "base64").toString("utf8"))}`;
            });
        for (const name of ["k3s", "imagePullSecret", "nodeSetup"]) {
            const text = decoded(JSON.stringify(snippets(rotated)[name]));
            assert.ok(text.includes(newNode), `${name} carries the new password`);
            assert.ok(!text.includes(oldNode), `${name} forgets the old`);
            assert.ok(decoded(JSON.stringify(snippets(initial)[name])).includes(oldNode), `${name} carried the old one before`);
        }
        assert.ok(assertSecretsStayHidden(rotated) >= 5);
    });

    it("is stable: the same keeper again changes nothing", () => {
        assert.deepEqual(passwordsOf(again), passwordsOf(rotated));
        for (const name of ["registry-registry", "registry-edge", "registry-edge-secrets"])
            assert.deepEqual(inputsOf(again, CONTAINER, name), inputsOf(rotated, CONTAINER, name), name);
        assert.deepEqual(plainHolders(again, "registry-edge"), plainHolders(rotated, "registry-edge"), "the edge's plain files");
    });

    it("restarts nothing: the registry and edge containers stay as they were, only the edge's file holders change", () => {
        for (const name of ["registry-registry", "registry-edge", "registry-ui"])
            assert.deepEqual(inputsOf(rotated, CONTAINER, name), inputsOf(initial, CONTAINER, name), `${name} is not replaced`);
        assert.notDeepEqual(inputsOf(rotated, CONTAINER, "registry-edge-secrets"), inputsOf(initial, CONTAINER, "registry-edge-secrets"));
        const initialHolders = plainHolders(initial, "registry-edge");
        assert.deepEqual(
            Object.entries(plainHolders(rotated, "registry-edge"))
                .filter(([name, inputs]) => JSON.stringify(inputs) !== JSON.stringify(initialHolders[name]))
                .map(([name]) => name),
            ["registry-edge-files-manifest"],
            "of the plain holders, only the manifest's: it names the new set",
        );
    });

    it("rotating the push user leaves the pull user's password and the nodes' snippets alone", () => {
        assert.equal(passwordsOf(adminRotated).node, passwordsOf(again).node);
        assert.notEqual(passwordsOf(adminRotated).admin, passwordsOf(again).admin);
        assert.deepEqual(snippets(adminRotated), snippets(again));
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
        assert.match(
            problems({ users: '["admin"]', passwordRotation: '{"bob":"1"}' }).join("\n"),
            /passwordRotation names "bob", not in private-registry:users/,
        );
        assert.match(problems({ passwordRotation: '{"admin":3}' }).join("\n"), /passwordRotation must be an object \{USERNAME: KEEPER\}/);
        assert.match(problems({ passwordRotation: '["admin"]' }).join("\n"), /passwordRotation must be/);
        assert.deepEqual(parseStackConfig({ passwordRotation: '{"admin":"2026-11-29"}' }).passwordRotation, { admin: "2026-11-29" });
    });
});
