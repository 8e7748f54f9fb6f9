/**
 * Password rotation against the real software: the users' files the program renders for the edge
 * before and after a `passwordRotation` change (under mocks, test/harness), read by Debian's nginx
 * with the rendered nginx.conf in front of Debian's Distribution (which checks no password). The
 * edge's applier replaces the files with one rename (edgeApplier.ts); here the test does, and the
 * next request already meets the new password, with neither process restarted.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chmodSync, mkdirSync, writeFileSync } from "fs";
import { join } from "path";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { renderRegistryConfig } from "../../components/render/registryConfig";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { CONTAINER, inputsOf, isolateHome, plainFile, upload } from "../harness/inspect";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import { freePort, installEdgeAccess, loopbackEdgeInput, startNginx, startRegistry } from "../../scripts/lib/loopbackServers";
import { makeTempDir, run, runCleanups } from "../../scripts/lib/processes";

isolateHome("pr-rotation-int-");
const HOST = "registry.test";

const passwordsOf = (result: EvaluationResult): Record<string, string> =>
    Object.fromEntries((result.outputs.credentials.value as { username: string; password: string }[]).map((u) => [u.username, u.password]));
/** The edge's files as the program renders them: every user's hash, and who may push. */
const usersOf = (result: EvaluationResult) => ({
    htpasswd: upload(inputsOf(result, CONTAINER, "registry-edge-secrets"), "/etc/nginx/secrets/users"),
    pushUsers: plainFile(result, "registry-edge", "/etc/nginx/files/push-users").split("\n").filter(Boolean),
});

describe("password rotation, real registry behind the real edge", () => {
    let dir: string;
    let registryPort: number;
    let httpsPort: number;
    let before_: Record<string, string>;
    let after_: Record<string, string>;
    let rotated: EvaluationResult;
    let initial: EvaluationResult;

    /** The status of an authenticated GET /v2/ through the edge. */
    const status = async (username: string, password: string): Promise<number> => {
        const result = await run(
            "curl",
            [
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "20",
                "--cacert",
                join(dir, "ca.crt"),
                "--resolve",
                `${HOST}:${httpsPort}:127.0.0.1`,
                "-u",
                `${username}:${password}`,
                `https://${HOST}:${httpsPort}/v2/`,
            ],
            { allowFailure: true },
        );
        return Number(result.stdout);
    };

    const edgeUsers = (result: EvaluationResult) => {
        const { htpasswd, pushUsers } = usersOf(result);
        return installEdgeAccess(join(dir, "access"), "private-registry", htpasswd, pushUsers);
    };

    before(async () => {
        const config = {
            ...devStackConfig(),
            users: [
                { name: "admin", role: "push" },
                { name: "ci", role: "push" },
            ],
        };
        initial = await evaluateProgram({ config });
        rotated = await evaluateProgram({ config: { ...config, passwordRotation: { admin: "2026-11-29" } }, previousState: initial.state });
        assert.equal(rotated.error, undefined);
        [before_, after_] = [passwordsOf(initial), passwordsOf(rotated)];

        dir = makeTempDir("pr-rotation-");
        // nginx's workers (not root) read the users' file per request, as in the edge container.
        chmodSync(dir, 0o711);
        [registryPort, httpsPort] = await Promise.all([freePort(), freePort()]);
        const httpPort = await freePort();
        const pki = issueTestCertificates([HOST], ["127.0.0.1"]);
        writeFileSync(join(dir, "server.crt"), pki.certificatePem);
        writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
        writeFileSync(join(dir, "ca.crt"), pki.caPem);
        mkdirSync(join(dir, "temp"));
        await startRegistry(dir, renderRegistryConfig({ listenAddress: `127.0.0.1:${registryPort}`, deleteEnabled: false }), registryPort);
        await startNginx(
            dir,
            renderEdgeConfig(
                loopbackEdgeInput(dir, { httpsPort, httpPort, registryPort, uiPort: await freePort(), access: edgeUsers(initial) }),
            ),
            httpPort,
        );
    });
    after(runCleanups);

    it("before: both users' first passwords work", async () => {
        assert.equal(await status("admin", before_.admin), 200);
        assert.equal(await status("ci", before_.ci), 200);
        assert.equal(await status("admin", "wrong"), 401);
    });

    it("after rotating admin: the old password is refused at the next request, the new accepted, ci untouched", async () => {
        assert.notEqual(after_.admin, before_.admin);
        edgeUsers(rotated);
        assert.equal(await status("admin", before_.admin), 401, "old password refused");
        assert.equal(await status("admin", after_.admin), 200, "new password accepted");
        assert.equal(after_.ci, before_.ci);
        assert.equal(await status("ci", before_.ci), 200, "the other user's password still works");
    });
});
