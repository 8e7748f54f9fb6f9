/**
 * End to end with the default bridge networking: the dockerd runs in a network namespace the test
 * creates (a real bridge, iptables, published ports, no route out), and every client runs in that
 * namespace. The body is shared with the host run (stack.test.ts); the 1 GiB layer is pushed only
 * there, since it exercises the edge, not the network.
 */
import { describeStackEndToEnd } from "./support/stackSuite";

describeStackEndToEnd({ network: "bridge", images: { small: 1024 * 1024 } });
