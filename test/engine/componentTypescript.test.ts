/**
 * A TypeScript program (test/engine/consumers/typescript/, the example docs/component.md shows)
 * deploys the registry from this repository as a component package through the SDK `pulumi
 * package add` generates for it, under the real engine. The body is in support/consumerSuite.ts.
 */
import { describeComponentConsumer } from "./support/consumerSuite";

describeComponentConsumer({ language: "typescript" });
