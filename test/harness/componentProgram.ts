/**
 * A program that deploys the ContainerRegistry component, for the program tests
 * (test/unit/containerRegistry.test.ts): its args are the config object `componentArgs`, as a program in
 * any language would hand them over (secrets in plain text too, which the component must keep
 * secret), and its exports are the component's outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { ContainerRegistry, ContainerRegistryArgs } from "../../components";

const registry = new ContainerRegistry("team", new pulumi.Config("private-registry").requireObject<ContainerRegistryArgs>("componentArgs"));

export const registryEndpoint = registry.registryEndpoint;
export const uiEndpoint = registry.uiEndpoint;
export const caCertificate = registry.caCertificate;
export const credentials = registry.credentials;
export const clientSnippets = registry.clientSnippets;
export const mirrorEndpoint = registry.mirrorEndpoint;
export const alicloudPlacement = registry.alicloudPlacement;
