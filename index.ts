import { readStackConfig } from "./components/config";
import { certificateFor, hostFor, registryOptionsFor } from "./components/hostModes";
import { PrivateRegistry } from "./components/privateRegistry";

const config = readStackConfig();
const modeHost = hostFor(config);

const registry = new PrivateRegistry("registry", {
    host: modeHost.host,
    certificate: certificateFor(config),
    ...config,
}, registryOptionsFor(modeHost));

export const registryEndpoint = registry.registryEndpoint;
export const uiEndpoint = registry.uiEndpoint;
export const caCertificate = registry.caCertificate;
export const credentials = registry.credentials;
export const clientSnippets = registry.clientSnippets;
