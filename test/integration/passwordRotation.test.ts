/**
 * Password rotation against the real software: the htpasswd files the program renders before and
 * after a `passwordRotation` change (under mocks, test/harness), served by Debian's Distribution
 * behind Debian's nginx with the rendered configs. The stack replaces the registry container when
 * the file changes; here the registry process is restarted with the new file on the same data.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mkdirSync, writeFileSync } from "fs";
import { join } from "path";
import { renderEdgeConfig } from "../../components/render/edgeConfig";
import { renderRegistryConfig } from "../../components/render/registryConfig";
import { devStackConfig, evaluateProgram, EvaluationResult } from "../../scripts/lib/program/evaluate";
import { CONTAINER, inputsOf, isolateHome, upload } from "../harness/inspect";
import { issueTestCertificates } from "../../scripts/lib/program/fakeProviders";
import { freePort, loopbackEdgeInput, startNginx, startRegistry } from "../../scripts/lib/loopbackServers";
import { makeTempDir, run, runCleanups } from "../../scripts/lib/processes";

isolateHome("pr-rotation-int-");
const HOST = "registry.test";

const passwordsOf = (result: EvaluationResult): Record<string, string> =>
    Object.fromEntries((result.outputs.credentials.value as { username: string; password: string }[]).map((u) => [u.username, u.password]));
const htpasswdOf = (result: EvaluationResult): string => upload(inputsOf(result, CONTAINER, "registry-registry-secrets"), "/auth/htpasswd");

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

    const serveRegistry = (htpasswd: string) => {
        writeFileSync(join(dir, "htpasswd"), htpasswd);
        return startRegistry(
            dir,
            renderRegistryConfig({
                listenAddress: `127.0.0.1:${registryPort}`,
                htpasswdPath: join(dir, "htpasswd"),
                realm: "private-registry",
                deleteEnabled: false,
            }),
            registryPort,
        );
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
        [registryPort, httpsPort] = await Promise.all([freePort(), freePort()]);
        const httpPort = await freePort();
        const pki = issueTestCertificates([HOST], ["127.0.0.1"]);
        writeFileSync(join(dir, "server.crt"), pki.certificatePem);
        writeFileSync(join(dir, "server.key"), pki.privateKeyPem, { mode: 0o600 });
        writeFileSync(join(dir, "ca.crt"), pki.caPem);
        mkdirSync(join(dir, "temp"));
        await startNginx(
            dir,
            renderEdgeConfig(
                loopbackEdgeInput(dir, {
                    serverNames: [HOST],
                    httpsPort,
                    httpPort,
                    registryPort,
                    uiPort: await freePort(),
                }),
            ),
            httpPort,
        );
    });
    after(runCleanups);

    it("before: both users' first passwords work", async () => {
        const registry = await serveRegistry(htpasswdOf(initial));
        assert.equal(await status("admin", before_.admin), 200);
        assert.equal(await status("ci", before_.ci), 200);
        assert.equal(await status("admin", "wrong"), 401);
        await registry.daemon.stop();
    });

    it("after rotating admin: the old password is refused, the new accepted, ci untouched", async () => {
        assert.notEqual(after_.admin, before_.admin);
        const registry = await serveRegistry(htpasswdOf(rotated));
        assert.equal(await status("admin", before_.admin), 401, "old password refused");
        assert.equal(await status("admin", after_.admin), 200, "new password accepted");
        assert.equal(after_.ci, before_.ci);
        assert.equal(await status("ci", before_.ci), 200, "the other user's password still works");
        await registry.daemon.stop();
    });
});
