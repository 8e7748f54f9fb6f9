import { readStackConfig, StackConfig } from "./components/config";
import { RegistryHost, ServerCertificate } from "./components/contracts";
import { LocalDockerHost } from "./components/localHost";
import { PrivateRegistry } from "./components/privateRegistry";
import { SelfSignedCertificate } from "./components/selfSignedCertificate";

const config = readStackConfig();

function hostFor(config: StackConfig): RegistryHost {
    switch (config.mode) {
        case "local":
            return new LocalDockerHost("local", { dockerHost: config.dockerHost });
        default:
            throw new Error(`mode ${config.mode} is not built yet`);
    }
}

function certificateFor(config: StackConfig): ServerCertificate {
    return new SelfSignedCertificate("tls", {
        dnsNames: [...config.hostnames, ...(config.uiHostname ? [config.uiHostname] : [])],
        ipAddresses: config.ipAddresses,
        validityDays: config.certificateValidityDays,
        renewBeforeDays: config.certificateRenewBeforeDays,
    });
}

const registry = new PrivateRegistry("registry", {
    host: hostFor(config),
    certificate: certificateFor(config),
    ...config,
});

export const registryEndpoint = registry.registryEndpoint;
export const uiEndpoint = registry.uiEndpoint;
export const caCertificate = registry.caCertificate;
export const credentials = registry.credentials;
export const clientSnippets = registry.clientSnippets;
