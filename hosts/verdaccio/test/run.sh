#!/usr/bin/env bash
# Installs the e2e dependencies (a real Verdaccio) and runs the Verdaccio + npm CLI tests.
set -euo pipefail
cd "$(dirname "$0")"
(cd .. && npm install --no-audit --no-fund --loglevel=error)
npm install --no-audit --no-fund --loglevel=error
node --test --test-concurrency=1 e2e.test.mjs
