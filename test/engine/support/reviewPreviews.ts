/**
 * What a reviewer sees: the typical changes to a deployed stack, each previewed by the real engine
 * (`pulumi preview --diff` for the text a pull request comment shows, `pulumi preview --json` for
 * which resource is replaced and why), and the secrets of that stack, to prove none appears.
 * Used by test/engine/reviewing.test.ts, which asserts on them and renders docs/reviewing.md from them (reviewingDoc.ts).
 */
import { writeFileSync } from "fs";
import { join } from "path";
import { DEFAULT_IMAGES } from "../../../components/config/keys";
import { StackSecrets } from "../../harness/secretLeaks";
import { freePort } from "../../../scripts/lib/loopbackServers";
import { EngineStack, prepareEngineStack } from "./engineStack";

export const REVIEW_HOSTNAME = "registry-review.test";
export const REVIEW_PREFIX = "pr-review";
export const SECOND_HOSTNAME = "registry-alt.test";
/** The bumped registry image of the image scenario, a patch release of the same major (a stand-in is tagged under it). */
export const BUMPED_REGISTRY_IMAGE = "registry:3.1.2";

export interface PreviewStep {
    op: string;
    /** The resource's name (the URN's last part). */
    name: string;
    type: string;
    replaceReasons: string[];
    diffReasons: string[];
    /**
     * A container's uploads by file, before (its state) and after (the program's inputs), as
     * `preview --json` gives them: `[secret]` for a secret, UNKNOWN for a value known only at
     * `pulumi up`. By file, because the engine's text pairs them by position (reviewingDoc.ts).
     */
    uploads?: { old: Record<string, string>; new: Record<string, string> };
}

/** How `preview --json` writes a value known only during `pulumi up`. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface ReviewScenario {
    id: string;
    title: string;
    /** The change as a reviewer meets it in the pull request. */
    change: string;
    apply(stack: EngineStack, context: ScenarioContext): Promise<void>;
    revert(stack: EngineStack, context: ScenarioContext): Promise<void>;
}

export interface ScenarioContext {
    baseConfig: Record<string, unknown>;
    /** The exported state right after `pulumi up` (to put back after a state edit). */
    baseStateFile: string;
    newHttpsPort?: number;
}

export interface CapturedPreview {
    scenario: ReviewScenario;
    /** `pulumi preview --diff --color never`, stdout, as the engine printed it. */
    text: string;
    steps: PreviewStep[];
    seconds: number;
}

export interface ReviewCapture {
    previews: CapturedPreview[];
    secrets: StackSecrets;
    /** Config values that vary per run (free ports), with a stable placeholder for the docs. */
    placeholders: Record<string, string>;
    upSeconds: number;
    /** Names of the resources in the deployed state (a preview lists only what would change). */
    deployedResources: string[];
}

export const REVIEW_SCENARIOS: ReviewScenario[] = [
    {
        id: "add-user",
        title: "Add a user",
        change: "`users:` the dev stack's users plus `ci`",
        apply: async (stack, { baseConfig }) => stack.setConfig({ users: [...(baseConfig.users as unknown[]), "ci"] }),
        revert: async (stack, { baseConfig }) => stack.replaceConfig(baseConfig),
    },
    {
        id: "https-port",
        title: "Change httpsPort",
        change: "`httpsPort: <httpsPort>` → `httpsPort: <newHttpsPort>`",
        apply: async (stack, context) => stack.setConfig({ httpsPort: context.newHttpsPort }),
        revert: async (stack, { baseConfig }) => stack.replaceConfig(baseConfig),
    },
    {
        id: "delete-enabled",
        title: "Turn on deleteEnabled",
        change: "`deleteEnabled: false` (default) → `deleteEnabled: true`",
        apply: async (stack) => stack.setConfig({ deleteEnabled: true }),
        revert: async (stack, { baseConfig }) => stack.replaceConfig(baseConfig),
    },
    {
        id: "gc-schedule",
        title: "Turn on a collection schedule",
        change: '`gc: {schedule: "30 3 * * 0"}` (unset by default)',
        apply: async (stack) => stack.setConfig({ gc: { schedule: "30 3 * * 0" } }),
        revert: async (stack, { baseConfig }) => stack.replaceConfig(baseConfig),
    },
    {
        id: "add-hostname",
        title: "Add a hostname",
        change: `\`hostnames: [${REVIEW_HOSTNAME}]\` → \`hostnames: [${REVIEW_HOSTNAME}, ${SECOND_HOSTNAME}]\``,
        apply: async (stack) => stack.setConfig({ hostnames: [REVIEW_HOSTNAME, SECOND_HOSTNAME] }),
        revert: async (stack, { baseConfig }) => stack.replaceConfig(baseConfig),
    },
    {
        id: "certificate-renewal",
        title: "Certificate renewal inside its window",
        change: "no code change: the server certificate has 10 days left, inside `certificateRenewBeforeDays: 30` (simulated: its `validityEndTime` in the state moved to 10 days from now, `pulumi stack import`)",
        apply: async (stack) => {
            const state = JSON.parse((await stack.pulumi(["stack", "export"])).stdout);
            const certificates = state.deployment.resources.filter(
                (r: { type: string; urn: string }) => r.type === "tls:index/locallySignedCert:LocallySignedCert",
            );
            if (certificates.length !== 1) throw new Error(`expected one LocallySignedCert in the state, found ${certificates.length}`);
            certificates[0].outputs.validityEndTime = new Date(Date.now() + 10 * 86_400_000).toISOString();
            const file = join(stack.work, "state-renewal.json");
            writeFileSync(file, JSON.stringify(state));
            await stack.pulumi(["stack", "import", "--file", file]);
        },
        revert: async (stack, { baseStateFile }) => {
            await stack.pulumi(["stack", "import", "--file", baseStateFile]);
        },
    },
    {
        id: "registry-image",
        title: "Bump the registry image",
        change: `\`images: {registry: ${DEFAULT_IMAGES.registry}}\` (default) → \`images: {registry: ${BUMPED_REGISTRY_IMAGE}}\``,
        apply: async (stack) => {
            stack.setConfig({ images: { registry: BUMPED_REGISTRY_IMAGE } });
            // Preview resolves no image, but tag the stand-in anyway, as a real bump would find it.
            await stack.docker(["tag", DEFAULT_IMAGES.registry, BUMPED_REGISTRY_IMAGE]);
        },
        revert: async (stack, { baseConfig }) => stack.replaceConfig(baseConfig),
    },
];

type Uploads = { file: string; content?: unknown }[] | unknown;
/** A secret or unknown list of uploads (not an array in the JSON) has no files to tell apart. */
const byFile = (uploads: Uploads): Record<string, string> =>
    Object.fromEntries(
        (Array.isArray(uploads) ? (uploads as { file: string; content?: unknown }[]) : []).map((u) => [
            u.file,
            typeof u.content === "string" ? u.content : JSON.stringify(u.content),
        ]),
    );

function parseSteps(json: string): PreviewStep[] {
    const parsed = JSON.parse(json) as {
        steps: {
            op: string;
            urn: string;
            replaceReasons?: string[];
            diffReasons?: string[];
            oldState?: { outputs?: { uploads?: Uploads } };
            newState?: { inputs?: { uploads?: Uploads } };
        }[];
    };
    return parsed.steps.map((step) => {
        const [type, name] = step.urn.split("::").slice(-2);
        const olds = step.oldState?.outputs?.uploads;
        const news = step.newState?.inputs?.uploads;
        return {
            op: step.op,
            name,
            type: type.split("$").pop()!,
            replaceReasons: step.replaceReasons ?? [],
            diffReasons: step.diffReasons ?? [],
            ...(olds === undefined && news === undefined ? {} : { uploads: { old: byFile(olds), new: byFile(news) } }),
        };
    });
}

/** Every secret of the deployed stack, read where it lives: state, the registry's files, the edge's key. */
async function collectSecrets(stack: EngineStack): Promise<StackSecrets> {
    const values: StackSecrets["values"] = [];
    const state = JSON.parse((await stack.pulumi(["stack", "export", "--show-secrets"])).stdout);
    const plain = (value: unknown): string => {
        if (typeof value === "string") return value;
        const wrapped = value as { plaintext?: string } | undefined;
        return wrapped?.plaintext !== undefined ? (JSON.parse(wrapped.plaintext) as string) : "";
    };
    for (const resource of state.deployment.resources as { type: string; urn: string; outputs?: Record<string, unknown> }[]) {
        const name = resource.urn.split("::").pop();
        if (resource.type === "random:index/randomPassword:RandomPassword") {
            values.push({ what: `password ${name}`, value: plain(resource.outputs?.result) });
            values.push({ what: `bcrypt hash of ${name}`, value: plain(resource.outputs?.bcryptHash) });
        }
        if (resource.type === "random:index/randomString:RandomString")
            values.push({ what: `bcrypt salt ${name}`, value: plain(resource.outputs?.result) });
        if (resource.type === "tls:index/privateKey:PrivateKey")
            values.push({ what: `private key ${name}`, value: plain(resource.outputs?.privateKeyPem) });
    }
    // The users' hashes, as the edge reads them (its live set).
    const users = (await stack.docker(["exec", `${REVIEW_PREFIX}-edge`, "cat", "/run/edge/live/users"])).stdout;
    for (const line of users.split("\n").filter(Boolean))
        values.push({ what: `users entry of ${line.split(":")[0]}`, value: line.slice(line.indexOf(":") + 1) });
    const env = JSON.parse((await stack.docker(["inspect", "-f", "{{json .Config.Env}}", `${REVIEW_PREFIX}-registry`])).stdout) as string[];
    const httpSecret = env.find((e) => e.startsWith("REGISTRY_HTTP_SECRET="));
    if (!httpSecret) throw new Error("the registry has no REGISTRY_HTTP_SECRET");
    values.push({ what: "http.secret", value: httpSecret.slice("REGISTRY_HTTP_SECRET=".length) });
    values.push({
        what: "the edge's private key file",
        value: (await stack.docker(["exec", `${REVIEW_PREFIX}-edge`, "cat", "/etc/nginx/secrets/server.key"])).stdout,
    });
    const empty = values.filter((v) => v.value.length < 16);
    if (empty.length > 0) throw new Error(`secrets not found or too short to check: ${empty.map((v) => v.what).join(", ")}`);
    return { values };
}

/**
 * Deploys one stack (the caller's test owns cleanups) and previews every scenario against it,
 * each from the deployed state and config.
 */
export async function captureReviewPreviews(): Promise<{ stack: EngineStack; capture: ReviewCapture }> {
    const stack = await prepareEngineStack({ hostname: REVIEW_HOSTNAME, namePrefix: REVIEW_PREFIX, stack: "review" });
    const started = Date.now();
    await stack.pulumi(["up", "--yes", "--skip-preview"]);
    const upSeconds = (Date.now() - started) / 1000;
    const baseConfig = stack.config();
    const baseStateFile = join(stack.work, "state-base.json");
    const exported = (await stack.pulumi(["stack", "export"])).stdout;
    writeFileSync(baseStateFile, exported);
    const deployedResources = (JSON.parse(exported).deployment.resources as { urn: string }[]).map((r) => r.urn.split("::").pop()!);
    const context: ScenarioContext = { baseConfig, baseStateFile, newHttpsPort: await freePort() };
    const secrets = await collectSecrets(stack);

    const previews: CapturedPreview[] = [];
    for (const scenario of REVIEW_SCENARIOS) {
        await scenario.apply(stack, context);
        const began = Date.now();
        const text = (await stack.pulumi(["preview", "--diff", "--color", "never"])).stdout;
        const steps = parseSteps((await stack.pulumi(["preview", "--json"])).stdout);
        previews.push({ scenario, text, steps, seconds: (Date.now() - began) / 1000 });
        await scenario.revert(stack, context);
    }
    const placeholders: Record<string, string> = {};
    for (const key of ["httpsPort", "httpPort", "uiPort", "metricsPort"]) placeholders[String(baseConfig[key])] = `<${key}>`;
    placeholders[String(context.newHttpsPort)] = "<newHttpsPort>";
    return { stack, capture: { previews, secrets, placeholders, upSeconds, deployedResources } };
}
