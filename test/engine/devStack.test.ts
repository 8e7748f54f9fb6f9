/**
 * The real Pulumi engine deploys the dev stack with host networking, on a dockerd without a
 * bridge. The body, shared with the bridge run (devStackBridge.test.ts), is in
 * support/engineSuite.ts.
 */
import { describeEngineDeploy } from "./support/engineSuite";

describeEngineDeploy("host");
