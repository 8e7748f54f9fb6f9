/**
 * Day-two changes under load with the real engine, bridge networking (a dockerd in a network
 * namespace, the clients in it too): the body is in support/dayTwoSuite.ts.
 */
import { describeDayTwo } from "./support/dayTwoSuite";

describeDayTwo("bridge");
