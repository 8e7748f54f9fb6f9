/**
 * `npm run docs:config`: rewrites what is generated from the declarations of the config keys
 * (components/config/keys.ts) and of the stack outputs (components/outputs.ts): Pulumi.yaml's
 * `template:` and `config:` sections (the end of the file), the README's configuration and
 * outputs tables between their markers (`<!-- config-table:begin -->` ... `<!-- config-table:end -->`,
 * the same for `outputs-table`), and the ContainerRegistry component's args
 * (components/containerRegistryArgs.ts); the rest of the README and Pulumi.yaml stays as written.
 * test/unit/config.test.ts and test/unit/containerRegistry.test.ts fail when one is stale.
 */
import { readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { componentArgsSource, configTable, pulumiConfigSection, pulumiTemplateSection } from "../components/config/reference";
import { outputsTable } from "../components/outputs";

const ROOT = resolve(__dirname, "..");

export interface GeneratedFiles {
    readme: string;
    pulumiYaml: string;
    componentArgs: string;
}

/** Where each generated file lives. */
const FILES: Record<keyof GeneratedFiles, string> = {
    readme: "README.md",
    pulumiYaml: "Pulumi.yaml",
    componentArgs: "components/containerRegistryArgs.ts",
};

/** Where Pulumi.yaml's generated end begins: its template comment, else `template:`, else `config:`. */
function generatedStart(pulumiYaml: string): number {
    for (const start of [/^# Generated from components\/config\/keys\.ts like the config/m, /^template:$/m, /^config:$/m]) {
        const at = pulumiYaml.search(start);
        if (at >= 0) return at;
    }
    throw new Error("Pulumi.yaml has no template: or config: section");
}

/** `text` with what stands between the markers of `name` replaced by `content`. */
function betweenMarkers(text: string, name: string, content: string): string {
    const [begin, end] = [`<!-- ${name}:begin -->`, `<!-- ${name}:end -->`];
    const start = text.indexOf(begin);
    const stop = text.indexOf(end);
    if (start < 0 || stop < start) throw new Error(`README.md has no ${begin} ... ${end} markers`);
    return `${text.slice(0, start + begin.length)}\n${content}\n${text.slice(stop)}`;
}

/** The files as they must read: their generated parts regenerated, everything else as given. */
export function regenerated(files: GeneratedFiles): GeneratedFiles {
    return {
        readme: betweenMarkers(betweenMarkers(files.readme, "config-table", configTable()), "outputs-table", outputsTable()),
        pulumiYaml: `${files.pulumiYaml.slice(0, generatedStart(files.pulumiYaml))}${pulumiTemplateSection()}${pulumiConfigSection()}`,
        componentArgs: componentArgsSource(),
    };
}

export function readGeneratedFiles(): GeneratedFiles {
    const read = (file: string) => readFileSync(join(ROOT, file), "utf8");
    return { readme: read(FILES.readme), pulumiYaml: read(FILES.pulumiYaml), componentArgs: read(FILES.componentArgs) };
}

if (require.main === module) {
    const files = readGeneratedFiles();
    const updated = regenerated(files);
    for (const [key, file] of Object.entries(FILES) as [keyof GeneratedFiles, string][]) {
        if (updated[key] !== files[key]) {
            writeFileSync(join(ROOT, file), updated[key]);
            console.log(`${file}: regenerated`);
        } else {
            console.log(`${file}: up to date`);
        }
    }
}
