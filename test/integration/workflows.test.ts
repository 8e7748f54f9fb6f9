/**
 * The GitHub workflows: actionlint (built from source by scripts/build-tools.sh) accepts them, and
 * the parsed YAML keeps the properties the review flow depends on: a preview with a diff posted
 * on the pull request after the fast tests, `pulumi up` only on main behind an environment, one
 * update at a time per stack, actions pinned by commit, and secrets only in the Pulumi steps' env.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { parse as parseYaml } from "yaml";
import { affectedStacks, ciStacks } from "../../scripts/affected-stacks";
import { makeTempDir, run, runCleanups } from "../../scripts/lib/processes";

const ROOT = resolve(__dirname, "../..");
const WORKFLOWS = join(ROOT, ".github/workflows");
const PULUMI_ACTION = /^pulumi\/actions@/;
/** Engine log flags; at -v=3 and above the log holds every registry password (docs/pull-request-review.md). */
const VERBOSE_FLAG = /(^|\s)(-v(=|\s)?\d|--verbose|--logtostderr|--debug)\b/;

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string>; name?: string };
type Job = {
    if?: string;
    needs?: string | string[];
    steps: Step[];
    "runs-on"?: string;
    environment?: string | { name: string };
    concurrency?: { group: string; "cancel-in-progress"?: boolean | string };
    strategy?: { matrix?: Record<string, unknown> };
    permissions?: Record<string, string>;
};
type Workflow = {
    on: Record<string, unknown>;
    jobs: Record<string, Job>;
    permissions?: Record<string, string>;
    env?: Record<string, string>;
};

/** actionlint's path: scripts/build-tools.sh builds and caches it (the Go module proxy, v1.7.12). */
async function actionlint(): Promise<string> {
    const script = join(ROOT, "scripts/build-tools.sh");
    if (existsSync(script)) {
        const built = await run("bash", [script, "actionlint"], { timeoutMs: 1_800_000 });
        return join(built.stdout.trim().split("\n").pop()!, "actionlint");
    }
    // Until scripts/build-tools.sh is on this branch: the same build, made by hand
    // (`GOBIN=/var/cache/private-registry/tools go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12`).
    const prebuilt = process.env.ACTIONLINT ?? "/var/cache/private-registry/tools/actionlint";
    assert.ok(existsSync(prebuilt), `no scripts/build-tools.sh and no actionlint at ${prebuilt}`);
    return prebuilt;
}

const workflowFiles = () =>
    readdirSync(WORKFLOWS)
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => join(WORKFLOWS, f));
const pulumiStep = (job: Job, command: string) => job.steps.find((s) => PULUMI_ACTION.test(s.uses ?? "") && s.with?.command === command);
const needsOf = (job: Job) => (job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs]);

describe("GitHub workflows", () => {
    let linter: string;
    let workflow: Workflow;
    let previewJob: Job;
    let upJob: Job;

    before(async () => {
        linter = await actionlint();
        workflow = parseYaml(readFileSync(join(WORKFLOWS, "stacks.yml"), "utf8")) as Workflow;
        const jobs = Object.values(workflow.jobs);
        previewJob = jobs.find((j) => pulumiStep(j, "preview")) ?? assert.fail("no job runs pulumi/actions preview");
        upJob = jobs.find((j) => pulumiStep(j, "up")) ?? assert.fail("no job runs pulumi/actions up");
    });

    after(async () => {
        await runCleanups();
    });

    it("actionlint accepts every workflow, and rejects a broken one", async () => {
        const files = workflowFiles();
        assert.ok(files.length > 0);
        const lint = await run(linter, ["-no-color", ...files], { cwd: ROOT, allowFailure: true });
        assert.equal(lint.code, 0, `actionlint:\n${lint.stdout}${lint.stderr}`);

        const scratch = makeTempDir("pr-actionlint-");
        mkdirSync(join(scratch, ".github/workflows"), { recursive: true });
        const broken = readFileSync(join(WORKFLOWS, "stacks.yml"), "utf8").replace(
            "needs: [fast-tests, affected]",
            "needs: [fast-test, affected]",
        );
        writeFileSync(join(scratch, ".github/workflows/stacks.yml"), broken);
        const rejected = await run(linter, ["-no-color", ".github/workflows/stacks.yml"], { cwd: scratch, allowFailure: true });
        assert.notEqual(rejected.code, 0);
        assert.match(rejected.stdout, /fast-test/, "actionlint names the unknown job");
    });

    it("previews pull requests with a diff posted on the PR, after npm ci and the fast tests", () => {
        assert.ok(
            "pull_request" in workflow.on && !("pull_request_target" in workflow.on),
            "pull_request, never pull_request_target (fork code with secrets)",
        );
        const preview = pulumiStep(previewJob, "preview")!;
        assert.equal(preview.with?.diff, true);
        assert.equal(preview.with?.["comment-on-pr"], true);
        assert.match(String(previewJob.if), /github\.event_name == 'pull_request'/);
        assert.equal(previewJob.permissions?.["pull-requests"], "write", "the comment needs pull-requests: write");
        const npmCi = previewJob.steps.findIndex((s) => /^npm ci\b/.test(s.run ?? ""));
        assert.ok(npmCi >= 0 && npmCi < previewJob.steps.indexOf(preview), "npm ci before the preview");
        const testJobs = needsOf(previewJob).map((name) => workflow.jobs[name]);
        assert.ok(
            testJobs.some(
                (j) => j.steps.some((s) => s.run === "npm run test:unit") && j.steps.some((s) => /tsc --noEmit/.test(s.run ?? "")),
            ),
            "the preview waits for a job running the type check and the unit tests",
        );
    });

    it("runs pulumi up only on main, behind the stack's environment, one update at a time per stack", () => {
        assert.deepEqual((workflow.on.push as { branches: string[] }).branches, ["main"]);
        assert.match(String(upJob.if), /github\.event_name == 'push' && github\.ref == 'refs\/heads\/main'/);
        const environment = typeof upJob.environment === "string" ? upJob.environment : upJob.environment?.name;
        assert.equal(environment, "${{ matrix.stack }}", "an environment per stack (its required reviewers approve the update)");
        assert.ok(upJob.strategy?.matrix?.stack, "one matrix entry per affected stack");
        assert.match(upJob.concurrency?.group ?? "", /\$\{\{ matrix\.stack \}\}/, "the concurrency group is per stack");
        assert.equal(upJob.concurrency?.["cancel-in-progress"], false, "a running update is never cancelled");
        assert.ok(!/\$\{\{ *github\.(sha|run_id|ref|event)/.test(upJob.concurrency!.group), "nothing per-run in the group");
        assert.equal(pulumiStep(upJob, "up")!.with?.["stack-name"], "${{ matrix.stack }}");
        assert.equal(pulumiStep(previewJob, "preview")!.with?.["stack-name"], "${{ matrix.stack }}");
    });

    it("pins every action by full commit SHA", () => {
        for (const file of workflowFiles()) {
            const parsed = parseYaml(readFileSync(file, "utf8")) as Workflow;
            for (const [name, job] of Object.entries(parsed.jobs)) {
                for (const step of job.steps.filter((s) => s.uses))
                    assert.match(step.uses!, /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/, `${file} ${name}: ${step.uses}`);
            }
        }
    });

    it("gives secrets only to the Pulumi steps, through env, and never prints them", () => {
        for (const file of workflowFiles()) {
            const parsed = parseYaml(readFileSync(file, "utf8")) as Workflow;
            const secretVariables = new Set<string>();
            for (const job of Object.values(parsed.jobs)) {
                for (const step of job.steps) {
                    for (const [variable, value] of Object.entries(step.env ?? {}))
                        if (/secrets\./.test(value)) secretVariables.add(variable);
                }
            }
            assert.ok(secretVariables.has("PULUMI_CONFIG_PASSPHRASE") || file !== join(WORKFLOWS, "stacks.yml"));
            for (const [name, job] of Object.entries(parsed.jobs)) {
                const { steps, ...rest } = job;
                assert.ok(!/secrets\./.test(JSON.stringify(rest)), `${name}: secrets only at step level`);
                for (const step of steps) {
                    const where = `${file} ${name} ${step.name ?? step.uses ?? step.run}`;
                    const hasSecret = Object.values(step.env ?? {}).some((v) => /secrets\./.test(v));
                    if (hasSecret) assert.match(step.uses ?? "", PULUMI_ACTION, `${where}: only the Pulumi steps get secrets`);
                    assert.ok(!/secrets\./.test(JSON.stringify(step.with ?? {})), `${where}: no secret in with: (inputs can be logged)`);
                    assert.ok(
                        step.with?.debug === undefined && step.with?.["log-verbosity"] === undefined,
                        `${where}: no verbose engine logs`,
                    );
                    const script = step.run ?? "";
                    assert.ok(!/secrets\./.test(script), `${where}: no secret expanded into a script`);
                    for (const variable of secretVariables) {
                        assert.ok(!new RegExp(`\\$\\{?${variable}\\b`).test(script), `${where}: ${variable} used in a script`);
                    }
                    assert.ok(!/\bset -x\b|ACTIONS_STEP_DEBUG|ACTIONS_RUNNER_DEBUG/.test(script), `${where}: no tracing`);
                }
            }
        }
    });
    it("pins the Pulumi CLI that docs/reviewing.md was captured with", () => {
        const reviewing = readFileSync(join(ROOT, "docs/reviewing.md"), "utf8");
        const captured =
            /Captured with pulumi v(\d+\.\d+\.\d+)/.exec(reviewing)?.[1] ?? assert.fail("docs/reviewing.md names no CLI version");
        assert.equal(workflow.env?.PULUMI_VERSION, captured, "the previews a reviewer reads come from the CLI the workflow runs");
        for (const job of [previewJob, upJob]) {
            for (const step of job.steps.filter((s) => PULUMI_ACTION.test(s.uses ?? "")))
                assert.equal(step.with?.["pulumi-version"], "${{ env.PULUMI_VERSION }}");
        }
    });

    it("runs the preview and the deploy on the runner that reaches the server (docs/pull-request-review.md)", () => {
        for (const job of [previewJob, upJob]) assert.equal(job["runs-on"], "${{ vars.PULUMI_RUNNER || 'ubuntu-24.04' }}");
        assert.match(readFileSync(join(ROOT, "docs/pull-request-review.md"), "utf8"), /`PULUMI_RUNNER`/);
    });

    it("never turns on verbose engine logs, which print the registry passwords in clear", () => {
        assert.ok(VERBOSE_FLAG.test("pulumi up -v=3 --logtostderr") && VERBOSE_FLAG.test("pulumi preview --verbose 9"));
        assert.ok(!VERBOSE_FLAG.test("pulumi preview --diff --stack v3"));
        for (const file of workflowFiles()) {
            const text = readFileSync(file, "utf8").replace(/^\s*#.*$/gm, "");
            const parsed = parseYaml(text) as Workflow;
            const inputs = Object.values(parsed.jobs).flatMap((job) =>
                job.steps.flatMap((step) => [step.run ?? "", ...Object.values(step.with ?? {}).map(String)]),
            );
            for (const input of inputs) assert.ok(!VERBOSE_FLAG.test(input), `${file}: ${input}`);
            const envKeys = [
                ...Object.keys(parsed.env ?? {}),
                ...Object.values(parsed.jobs).flatMap((job) => job.steps.flatMap((step) => Object.keys(step.env ?? {}))),
            ];
            for (const key of envKeys) assert.ok(!/^(TF_LOG|TF_LOG_PROVIDER|PULUMI_DEBUG_\w+)$/.test(key), `${file}: env ${key}`);
        }
    });
});

describe("affected stacks (scripts/affected-stacks.ts)", () => {
    it("counts only stacks not in local mode", () => {
        const dir = makeTempDir("pr-stacks-");
        writeFileSync(join(dir, "Pulumi.yaml"), "name: private-registry\n");
        writeFileSync(join(dir, "Pulumi.dev.yaml"), "config:\n  private-registry:mode: local\n");
        writeFileSync(join(dir, "Pulumi.lab.yaml"), "config:\n  private-registry:users: [admin]\n");
        writeFileSync(join(dir, "Pulumi.prod.yaml"), "config:\n  private-registry:mode: alicloud\n");
        writeFileSync(join(dir, "Pulumi.edge.yaml"), "config:\n  private-registry:mode: ssh\n");
        assert.deepEqual(ciStacks(dir), ["edge", "prod"]);
        assert.deepEqual(ciStacks(ROOT), [], "the repository's only stack, dev, is local");
    });

    it("maps changed files to stacks", () => {
        const stacks = ["edge", "prod"];
        assert.deepEqual(affectedStacks(stacks, ["components/services/edge.ts"]), stacks, "a program change affects every stack");
        assert.deepEqual(affectedStacks(stacks, ["package-lock.json"]), stacks);
        assert.deepEqual(affectedStacks(stacks, ["Pulumi.prod.yaml", "docs/state.md"]), ["prod"]);
        assert.deepEqual(affectedStacks(stacks, ["Pulumi.dev.yaml"]), [], "a local stack is never deployed from CI");
        assert.deepEqual(affectedStacks(stacks, ["test/unit/program.test.ts", "README.md", ".github/workflows/stacks.yml"]), []);
        assert.deepEqual(affectedStacks(stacks, undefined), stacks, "unknown base: everything");
    });
});

describe("the state bucket's RAM policy (docs/state.md)", () => {
    it("is valid JSON and grants only object access under .pulumi/ plus listing of that one bucket", () => {
        const doc = readFileSync(join(ROOT, "docs/state.md"), "utf8");
        const block = /```json\n([\s\S]*?)\n```/.exec(doc)?.[1] ?? assert.fail("no json block in docs/state.md");
        const policy = JSON.parse(block) as { Version: string; Statement: { Effect: string; Action: string[]; Resource: string[] }[] };
        assert.equal(policy.Version, "1");
        const bucket = /BUCKET=([\w-]+)/.exec(doc)?.[1] ?? assert.fail("no BUCKET= in docs/state.md");
        const granted = policy.Statement.flatMap((s) =>
            s.Action.flatMap((action) => s.Resource.map((resource) => `${s.Effect} ${action} ${resource}`)),
        ).sort();
        assert.deepEqual(granted, [
            `Allow oss:DeleteObject acs:oss:*:*:${bucket}/.pulumi/*`,
            `Allow oss:GetBucketInfo acs:oss:*:*:${bucket}`,
            `Allow oss:GetObject acs:oss:*:*:${bucket}/.pulumi/*`,
            `Allow oss:ListObjects acs:oss:*:*:${bucket}`,
            `Allow oss:PutObject acs:oss:*:*:${bucket}/.pulumi/*`,
        ]);
    });
});
