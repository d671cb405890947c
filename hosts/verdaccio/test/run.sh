#!/usr/bin/env bash
# Installs the e2e dependencies (a real Verdaccio) and runs the Verdaccio + npm CLI tests.
set -euo pipefail
cd "$(dirname "$0")"
# In the repository the plugin runs on the stepup-node built here (linked, not saved): its
# package.json names the published version, which the fresh-project test installs from tarballs.
(cd .. && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error ../../bindings/node)
npm install --no-audit --no-fund --loglevel=error
node --test --test-concurrency=1 e2e.test.mjs
