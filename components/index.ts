/**
 * The package's entry module: what other Pulumi programs use (package.json `main`, index.js, loads
 * it). Pulumi hosts the components exported here for every language (PulumiPlugin.yaml); the
 * stack's own program is index.ts at the top (Pulumi.yaml `main`).
 */
export { ContainerRegistry } from "./containerRegistry";
export type * from "./containerRegistryArgs";
