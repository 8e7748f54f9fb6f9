/**
 * Reading an evaluation (scripts/lib/program/evaluate.ts) the way every program test does: a resource's
 * inputs and state, a container's uploads and env, the declared resource list, and the check that
 * no secret the program holds shows up where a reader without --show-secrets would see it.
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { DOCKER_REDIRECTING_VARIABLES } from "../../components/render/sshAccess";
import { EvaluationResult, ExportedValue, findResource } from "../../scripts/lib/program/evaluate";

// Provider objects are untyped JSON here; `any` keeps the assertions readable.
export type Inputs = Record<string, any>;

export const CONTAINER = "docker:index/container:Container";
export const VOLUME = "docker:index/volume:Volume";
export const PRIVATE_KEY = "tls:index/privateKey:PrivateKey";
export const ACME_CERTIFICATE = "acme:index/certificate:Certificate";
const RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword";
const RAM_ACCESS_KEY = "alicloud:ram/accessKey:AccessKey";

export const inputsOf = (result: EvaluationResult, type: string, name?: string): Inputs =>
    findResource(result, type, name).inputs as Inputs;
export const stateOf = (result: EvaluationResult, type: string, name?: string): Inputs => findResource(result, type, name).state as Inputs;

/** The content a container gets uploaded at `file`. */
export function upload(container: Inputs, file: string): string {
    const found = (container.uploads as { file: string; content: string }[]).find((u) => u.file === file);
    assert.ok(found, `no upload of ${file}`);
    return found.content;
}

/** One file a container gets uploaded: where, what, and its mode. */
export interface Upload {
    file: string;
    content: string;
    permissions?: string;
}

/**
 * The holders of a service's plain files (`service` as its container's resource, e.g.
 * `registry-edge`): its `<service>-files-<file>` containers, the manifest's included, by name
 * (components/services/serviceContainer.ts). Each carries exactly one upload, or this fails.
 */
export function plainHolders(result: EvaluationResult, service: string): Record<string, Inputs> {
    const holders = result.resources.filter((r) => r.type === CONTAINER && r.name.startsWith(`${service}-files-`));
    assert.ok(holders.length > 0, `no plain file holder of ${service}`);
    for (const holder of holders) assert.equal((holder.inputs as Inputs).uploads?.length, 1, `${holder.name} carries one file`);
    return Object.fromEntries(holders.map((holder) => [holder.name, holder.inputs as Inputs]));
}

/** A service's plain files as its holders carry them: each holder's one upload. */
export const plainUploads = (result: EvaluationResult, service: string): Upload[] =>
    Object.values(plainHolders(result, service)).map((holder) => holder.uploads[0] as Upload);

/** The content of a service's plain file at `file` (e.g. `/etc/nginx/files/nginx.conf`). */
export const plainFile = (result: EvaluationResult, service: string, file: string): string =>
    upload({ uploads: plainUploads(result, service) }, file);

/** A container's `envs` as a map. */
export function envOf(container: Inputs): Record<string, string> {
    return Object.fromEntries((container.envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

/** Every declared resource as `type name`, sorted. */
export const declared = (result: EvaluationResult): string[] => result.resources.map((r) => `${r.type} ${r.name}`).sort();

/**
 * The environment the evaluations of this test file inherit (they run in child processes): HOME
 * in a temp dir, because the program writes SSH keys for the Docker CLI under ~/.private-registry,
 * and none of the developer's or CI's DOCKER_* variables, which the ssh and alicloud modes refuse.
 * Returns the HOME.
 */
export function isolateHome(prefix: string): string {
    const home = mkdtempSync(join(tmpdir(), prefix));
    process.env.HOME = home;
    for (const variable of DOCKER_REDIRECTING_VARIABLES) delete process.env[variable];
    after(() => rmSync(home, { recursive: true, force: true }));
    return home;
}

/** Everything a reader of `pulumi stack output` sees without --show-secrets. */
export function plainOutputText(outputs: Record<string, ExportedValue>): string {
    const visible = Object.entries(outputs).flatMap(([name, output]) => {
        if (output.secret) return [];
        const children = output.secretChildren;
        if (children && typeof output.value === "object" && output.value !== null) {
            const value = output.value as Record<string, unknown>;
            return [[name, Object.fromEntries(Object.entries(value).filter(([key]) => !(children as Record<string, boolean>)[key]))]];
        }
        return [[name, output.value]];
    });
    return JSON.stringify(Object.fromEntries(visible));
}

/**
 * What would betray a secret in JSON text: the whole value, raw or JSON-escaped, and a PEM's inner
 * body lines (found whatever the newlines became). The first and last lines are left out: they
 * can hold only a fixed header or public-key bytes, which public certificates share. So is a line
 * found in `publicTexts`: an RSA private key's body holds the modulus, which its public key shows.
 */
function secretFragments(secret: string, publicTexts: string[]): string[] {
    const body = secret
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.length > 0 && !l.startsWith("-----"));
    const flatPublic = publicTexts.map((t) => t.replace(/\s+/g, ""));
    return [
        secret.trim(),
        JSON.stringify(secret.trim()).slice(1, -1),
        ...body.slice(1, -1).filter((line) => !flatPublic.some((t) => t.includes(line))),
    ];
}

export function assertNoSecretIn(text: string, secrets: Record<string, string>, publicTexts: string[] = []): void {
    for (const [what, secret] of Object.entries(secrets)) {
        for (const fragment of secretFragments(secret, publicTexts))
            assert.ok(!text.includes(fragment), `${what} leaks into a plain value`);
    }
}

/** The public halves of the program's keys: they may appear anywhere. */
function publicTextsOf(result: EvaluationResult): string[] {
    return result.resources
        .filter((r) => r.type === PRIVATE_KEY)
        .flatMap((key) => [(key.state as Inputs).publicKeyOpenssh ?? "", (key.state as Inputs).publicKeyPem ?? ""]);
}

/** Private keys and passwords the program holds, by where they come from. */
export function secretsOf(result: EvaluationResult): Record<string, string> {
    const secrets: Record<string, string> = {};
    for (const key of result.resources.filter((r) => r.type === PRIVATE_KEY)) {
        secrets[`${key.name} (PEM)`] = (key.state as Inputs).privateKeyPem;
        secrets[`${key.name} (OpenSSH)`] = (key.state as Inputs).privateKeyOpenssh;
    }
    for (const certificate of result.resources.filter((r) => r.type === ACME_CERTIFICATE))
        secrets[`${certificate.name} key`] = (certificate.state as Inputs).privateKeyPem;
    for (const password of result.resources.filter((r) => r.type === RANDOM_PASSWORD))
        secrets[password.name] = (password.state as Inputs).result;
    for (const key of result.resources.filter((r) => r.type === RAM_ACCESS_KEY)) {
        secrets[`${key.name} secret`] = (key.state as Inputs).secret;
        secrets[`${key.name} ID`] = key.id;
    }
    return secrets;
}

/** A copy of `inputs` without the values at `paths` (`uploads.2`, `connection`). */
function withoutPaths(inputs: Record<string, unknown>, paths: string[]): unknown {
    const copy = JSON.parse(JSON.stringify(inputs)) as Record<string, unknown>;
    for (const path of paths) {
        const parts = path.split(".");
        const last = parts.pop() as string;
        let node: unknown = copy;
        for (const part of parts) node = node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined;
        if (node && typeof node === "object") (node as Record<string, unknown>)[last] = "[secret]";
    }
    return copy;
}

/**
 * The secret-leak check every program test runs: no private key or password the program holds
 * (plus `extra`, e.g. the configured SSH key) in a plain stack output, nor in any resource input
 * that did not arrive as a secret (the state stores those in clear text). Returns how many
 * secrets it looked for, so a test can tell the check had something to find.
 */
export function assertSecretsStayHidden(result: EvaluationResult, extra: Record<string, string> = {}): number {
    const secrets = { ...secretsOf(result), ...extra };
    const publicTexts = publicTextsOf(result);
    assertNoSecretIn(plainOutputText(result.outputs), secrets, publicTexts);
    for (const resource of result.resources) {
        const plainInputs = JSON.stringify(withoutPaths(resource.inputs, resource.secretInputPaths));
        try {
            assertNoSecretIn(plainInputs, secrets, publicTexts);
        } catch (error) {
            assert.fail(`${resource.type} ${resource.name}: ${(error as Error).message}`);
        }
    }
    return Object.keys(secrets).length;
}
