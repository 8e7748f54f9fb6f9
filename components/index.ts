/**
 * The package's entry module (package.json `main`): what other Pulumi programs use. Pulumi hosts
 * the components exported here for every language (PulumiPlugin.yaml); the stack's own program is
 * index.ts at the top (Pulumi.yaml `main`).
 */
export { ContainerRegistry } from "./containerRegistry";
export type * from "./containerRegistryArgs";
