import * as pulumi from "@pulumi/pulumi";
import { ContainerRegistry } from "@pulumi/private-registry";

const config = new pulumi.Config();
const registry = new ContainerRegistry("registry", {
    mode: "local",
    // The name clients reach the registry by, e.g. registry.lan.
    hostnames: [config.require("registryName")],
    users: [
        { name: "ci", role: "push" },
        { name: "node", role: "pull" },
    ],
    // A Docker Hub account for the pull-through mirror (a token keeps its pull limit high).
    mirror: { username: config.require("dockerHubUser"), password: config.requireSecret("dockerHubToken") },
});

export const registryEndpoint = registry.registryEndpoint;
export const mirrorEndpoint = registry.mirrorEndpoint;
export const caCertificate = registry.caCertificate;
export const credentials = registry.credentials;
export const dockerSetup = registry.clientSnippets.docker.script;
