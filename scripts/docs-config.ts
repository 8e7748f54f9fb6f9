/**
 * `npm run docs:config`: rewrites what is generated from the declarations of the config keys
 * (components/config/keys.ts) and of the stack outputs (components/outputs.ts): Pulumi.yaml's
 * `config:` section, and the README's configuration and outputs tables between their markers
 * (`<!-- config-table:begin -->` ... `<!-- config-table:end -->`, the same for `outputs-table`);
 * the rest of both files stays as written. test/unit/config.test.ts fails when they are stale.
 */
import { readFileSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { configTable, pulumiConfigSection } from "../components/config/reference";
import { outputsTable } from "../components/outputs";

const ROOT = resolve(__dirname, "..");

export interface GeneratedFiles {
    readme: string;
    pulumiYaml: string;
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
    const configStart = files.pulumiYaml.search(/^config:$/m);
    if (configStart < 0) throw new Error("Pulumi.yaml has no config: section");
    return {
        readme: betweenMarkers(betweenMarkers(files.readme, "config-table", configTable()), "outputs-table", outputsTable()),
        pulumiYaml: files.pulumiYaml.slice(0, configStart) + pulumiConfigSection(),
    };
}

export function readGeneratedFiles(): GeneratedFiles {
    return {
        readme: readFileSync(join(ROOT, "README.md"), "utf8"),
        pulumiYaml: readFileSync(join(ROOT, "Pulumi.yaml"), "utf8"),
    };
}

if (require.main === module) {
    const files = readGeneratedFiles();
    const updated = regenerated(files);
    for (const [key, file] of [
        ["readme", "README.md"],
        ["pulumiYaml", "Pulumi.yaml"],
    ] as const) {
        if (updated[key] !== files[key]) {
            writeFileSync(join(ROOT, file), updated[key]);
            console.log(`${file}: regenerated`);
        } else {
            console.log(`${file}: up to date`);
        }
    }
}
