#!/usr/bin/env bash
# Every benchmark behind docs/BENCHMARKS.md's summary, in one run on one machine, then the table
# and the chart written from that run (scripts/bench-report.py --write). About 40 minutes on the
# 2-core machine kind. Needs what the test command installs (Rust targets, Node packages,
# Chromium, wrk); nothing else runs meanwhile, or the figures measure it too.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/bench
cargo bench -p stepup-benches --bench peer
(cd bindings/node && npm run build >/dev/null)
bash bindings/web/build.sh >/dev/null
(cd bindings/node/bench && npm ci --no-audit --no-fund --loglevel=error && node bench.mjs)
node tests/js/browser-bench.mjs
LOAD_SECONDS=${LOAD_SECONDS:-10} LOAD_ROUNDS=${LOAD_ROUNDS:-3} LOAD_JSON=target/bench/load.json scripts/load.sh
LOAD_SECONDS=8 LOAD_ROUNDS=${LOAD_ROUNDS:-3} LOAD_JSON=target/bench/load-read.json scripts/load-read.sh
python3 scripts/bench-report.py --write
