/**
 * End to end with host networking: the dockerd runs on this machine's network without a bridge,
 * and docker pushes and pulls a small image and one with a 1 GiB layer. The body, shared with the
 * bridge run (bridge.test.ts), is in support/stackSuite.ts.
 */
import { describeStackEndToEnd } from "./support/stackSuite";

describeStackEndToEnd({ network: "host", images: { small: 1024 * 1024, big: 1024 ** 3 } });
