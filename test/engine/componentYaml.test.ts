/**
 * A Pulumi YAML program (test/engine/consumers/yaml/Pulumi.yaml, the example docs/component.md
 * shows) deploys the registry from this repository as a component package, under the real engine
 * and the YAML language host; `pulumi package get-schema` runs first. The body is in
 * support/consumerSuite.ts.
 */
import { describeComponentConsumer } from "./support/consumerSuite";

describeComponentConsumer({ language: "yaml", schema: true });
