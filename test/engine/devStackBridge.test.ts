/**
 * The real Pulumi engine deploys the dev stack with the default bridge networking, on a dockerd
 * in a network namespace the test creates (a real bridge, iptables, published ports, no route
 * out). The body is shared with the host run (devStack.test.ts); see support/engineSuite.ts.
 */
import { describeEngineDeploy } from "./support/engineSuite";

describeEngineDeploy("bridge");
