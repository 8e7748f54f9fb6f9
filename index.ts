/**
 * The stack: its config, validated (errors name the key) → the registry deployment
 * (components/registryDeployment.ts, which the ContainerRegistry component deploys too) at the
 * stack's root → the stack outputs.
 */
import { readStackConfig, readStackSecrets } from "./components/config";
import { deployRegistry } from "./components/registryDeployment";

const config = readStackConfig();
const registry = deployRegistry({ name: (part) => part }, config, readStackSecrets(config));

export const registryEndpoint = registry.registryEndpoint;
export const uiEndpoint = registry.uiEndpoint;
export const caCertificate = registry.caCertificate;
export const credentials = registry.credentials;
export const clientSnippets = registry.clientSnippets;
/** alicloud mode: the instance type, zone and image the VM runs on, read back by the next run (PLACEMENT_OUTPUT). */
export const alicloudPlacement = registry.alicloudPlacement;
export const mirrorEndpoint = registry.mirrorEndpoint;
