/**
 * A program's resource graph in a form two evaluations can be compared by: every resource by type
 * and name, with its parent, the options that decide replacement and deletion, and its inputs,
 * where what is random in each evaluation (IDs, generated keys and passwords, the HOME the test
 * gave it) is replaced by a name for where it came from, and what is derived from random values
 * with a random salt or key (bcrypt hashes, keyed fingerprints) by its kind. Two evaluations of the same program with
 * the same config give the same graph; a changed input, option, parent or resource shows.
 */
import { createHash } from "crypto";
import { parse as parseYaml } from "yaml";
import type { EvaluationResult } from "../../scripts/lib/program/evaluate";

export interface GraphNode {
    parent: string | null;
    options: EvaluationResult["options"][string];
    secretInputPaths: string[];
    inputs: unknown;
}

/** Outputs of these types are drawn at random in every evaluation. */
const RANDOM_TYPES = /^(tls|random|acme):/;

export function resourceGraph(result: EvaluationResult, home: string): Record<string, GraphNode> {
    const replacements: [string, string][] = [];
    for (const resource of result.resources) {
        const where = `${resource.type} ${resource.name}`;
        replacements.push([resource.id, `<id of ${where}>`]);
        // An ECS disk's serial, as the VM sees it, is its ID without `d-`.
        if (resource.id.startsWith("d-")) replacements.push([resource.id.slice(2), `<serial of ${where}>`]);
        if (!RANDOM_TYPES.test(resource.type)) continue;
        for (const [field, value] of Object.entries(resource.state)) {
            if (typeof value === "string" && value.length >= 8)
                replacements.push([value, `<${field} of ${where}>`], [value.trim(), `<${field} of ${where}>`]);
        }
    }
    // Longest first, so a key is replaced whole before any shorter value inside it.
    replacements.sort(([a], [b]) => b.length - a.length);
    const normalizeText = (text: string): string => {
        // Hashes first: a bcrypt hash holds its salt, a random value, which would otherwise be
        // named inside it and leave the rest of the hash varying.
        let out = text
            .replace(/\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}/g, "<bcrypt hash>")
            .replace(/hmac-sha256:[0-9a-f]+/g, "hmac-sha256:<keyed fingerprint>");
        out = out.split(home).join("<HOME>");
        for (const [value, name] of replacements) if (value !== "") out = out.split(value).join(name);
        return out;
    };
    const normalize = (value: unknown, key = ""): unknown => {
        if (typeof value === "string") {
            // Base64 cloud-config: compared parsed, so the keys inside are named too.
            if (key === "userData") {
                const text = Buffer.from(value, "base64").toString("utf8");
                return { base64CloudConfig: normalize(text.startsWith("#cloud-config\n") ? parseYaml(text) : text) };
            }
            return normalizeText(value);
        }
        if (Array.isArray(value)) return value.map((v) => normalize(v));
        if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v, k)]));
        return value;
    };
    const graph: Record<string, GraphNode> = {};
    for (const resource of result.resources) {
        const key = `${resource.type}::${resource.name}`;
        graph[key] = {
            parent: result.parents[key] ?? null,
            options: result.options[key],
            secretInputPaths: [...resource.secretInputPaths].sort(),
            inputs: normalize(resource.inputs),
        };
    }
    return Object.fromEntries(Object.entries(graph).sort(([a], [b]) => a.localeCompare(b)));
}

/** A short digest of a graph node, for messages. */
export function nodeDigest(node: GraphNode): string {
    return createHash("sha256").update(JSON.stringify(node)).digest("hex").slice(0, 12);
}
