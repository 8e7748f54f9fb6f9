/**
 * Day-two changes under load with the real engine, host networking: the body, shared with the
 * bridge run (dayTwoBridge.test.ts), is in support/dayTwoSuite.ts.
 */
import { describeDayTwo } from "./support/dayTwoSuite";

describeDayTwo("host");
