/**
 * Which stacks a change affects, for the pull-request preview and the deploy on main
 * (.github/workflows/stacks.yml): prints a JSON array of stack names.
 *
 *   node --import tsx scripts/affected-stacks.ts BASE_SHA HEAD_SHA
 *
 * A stack is deployed from CI when its `Pulumi.<stack>.yaml` exists and its mode is not `local`
 * (local mode deploys to the Docker daemon of the machine running it, which in CI is a throwaway
 * runner). A change to the program (index.ts, components/, the package files, Pulumi.yaml)
 * affects every such stack; a change to one `Pulumi.<stack>.yaml` affects that stack. Tests, docs
 * and the workflows themselves affect none. When BASE is missing or unknown (a new branch, a
 * force push), every CI stack counts as affected.
 */
import { execFileSync } from "child_process";
import { existsSync, readdirSync, readFileSync } from "fs";
import { join, resolve } from "path";
import { parse as parseYaml } from "yaml";

const PROGRAM_FILES = [/^index\.ts$/, /^components\//, /^package(-lock)?\.json$/, /^Pulumi\.yaml$/, /^tsconfig\.json$/];
const STACK_FILE = /^Pulumi\.([A-Za-z0-9._-]+)\.yaml$/;

/** Stacks whose config file names a mode other than `local` (the default). */
export function ciStacks(root: string): string[] {
    return readdirSync(root)
        .map((file) => STACK_FILE.exec(file)?.[1])
        .filter((stack): stack is string => stack !== undefined)
        .filter((stack) => {
            const config = (parseYaml(readFileSync(join(root, `Pulumi.${stack}.yaml`), "utf8")) ?? {}).config ?? {};
            return (config["private-registry:mode"] ?? "local") !== "local";
        })
        .sort();
}

/** The CI stacks a list of changed paths affects; `undefined` changes means "unknown: all". */
export function affectedStacks(stacks: string[], changedFiles: string[] | undefined): string[] {
    if (changedFiles === undefined || changedFiles.some((file) => PROGRAM_FILES.some((pattern) => pattern.test(file)))) return [...stacks];
    const touched = new Set(changedFiles.map((file) => STACK_FILE.exec(file)?.[1]).filter((s) => s !== undefined));
    return stacks.filter((stack) => touched.has(stack));
}

function changedFiles(root: string, base: string | undefined, head: string): string[] | undefined {
    if (!base || /^0+$/.test(base)) return undefined;
    try {
        return execFileSync("git", ["diff", "--name-only", `${base}...${head}`], {
            cwd: root,
            encoding: "utf8",
            stdio: ["ignore", "pipe", "ignore"],
        })
            .split("\n")
            .filter(Boolean);
    } catch {
        return undefined;
    }
}

if (require.main === module) {
    const root = resolve(__dirname, "..");
    const [base, head = "HEAD"] = process.argv.slice(2);
    if (!existsSync(join(root, "Pulumi.yaml"))) throw new Error(`no Pulumi.yaml in ${root}`);
    process.stdout.write(`${JSON.stringify(affectedStacks(ciStacks(root), changedFiles(root, base, head)))}\n`);
}
