/**
 * Distribution 3's `registry` binary (github.com/distribution/distribution/v3 v3.1.2 from the Go
 * module proxy), built and cached by scripts/build-tools.sh (406 s cold here, 243 s with the
 * modules already downloaded; docs/testing.md). REGISTRY3_BIN names a binary to use instead.
 */
import { builtTool } from "./builtTools";

export const registry3Binary = () => builtTool("registry3", "registry", "REGISTRY3_BIN");
