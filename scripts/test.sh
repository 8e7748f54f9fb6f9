#!/usr/bin/env bash
# `npm test`: type-check, then every test layer. The engine test needs the Pulumi engine built
# from source (scripts/build-engine.sh: ~23 min the first time on 2 cores, cached afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."

npx tsc --noEmit
PULUMI_ENGINE_BIN=$(bash scripts/build-engine.sh)
export PULUMI_ENGINE_BIN
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec \
    test/unit/*.test.ts test/integration/*.test.ts test/e2e/*.test.ts test/engine/*.test.ts
