#!/usr/bin/env bash
# Packs every JS package and installs the tarballs into new projects outside the repository:
# Node 20 (this machine's) with Verdaccio 6.8, Node 22 and 24 (the npm registry's `node`
# package) with the newest Verdaccio 6.10.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
packs="$root/target/packs"
node "$root/tests/packaging/pack.mjs" "$packs"
versions="$root/target/node-versions"
for major in 22 24; do
  if [ ! -x "$versions/$major/node_modules/node/bin/node" ]; then
    mkdir -p "$versions/$major"
    (cd "$versions/$major" && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node@$major" >/dev/null)
  fi
done
node "$root/tests/packaging/fresh.mjs" "$packs" 6.8.0 "$(command -v node)"
for major in 22 24; do
  node "$root/tests/packaging/fresh.mjs" "$packs" 6.10 "$versions/$major/node_modules/node/bin/node"
done
