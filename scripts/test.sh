#!/usr/bin/env bash
# Runs every stepup test, installing what it needs on a fresh machine. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says how much disk is left: CI machines' disks vary, and a full one fails a link.
step() { printf '\n== %s (disk free: %s)\n' "$*" "$(df -h --output=avail . | tail -n 1 | tr -d ' ')"; }
# Incremental caches double the debug build's size on disk and a fresh clone never reuses them.
export CARGO_INCREMENTAL=0
log=$(mktemp -d)
trap 'rm -rf "$log"; scripts/postgres.sh stop' EXIT
# Runs a command, shows its output, and keeps its last line for the summary.
keep() { local name=$1; shift; "$@" | tee "$log/$name"; }

step "toolchain and tools"
rustup target add wasm32-unknown-unknown x86_64-unknown-linux-musl aarch64-unknown-linux-gnu
# Cross toolchains for stepup-node's other platform packages (musl, arm64), qemu to run the
# arm64 one, and systemd-analyze to check deploy/stepup.service.
missing=()
for pkg in musl-tools gcc-aarch64-linux-gnu libc6-dev-arm64-cross libstdc++6-arm64-cross qemu-user systemd; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python3 -c 'import jsonschema' 2>/dev/null || python3 -m pip install --quiet jsonschema

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The engine as the default browser build compiles it: no signature verifiers, no server-side
# entry points.
cargo clippy -p stepup-core --lib --no-default-features --locked -- -D warnings

step "the contract: JSON Schemas, TypeScript types, packed field tables and WIT match the Rust types"
cargo run -q --locked -p stepup-contract -- check

step "docs/SECURITY.md names only files, functions and tests that exist"
python3 scripts/check-security-doc.py

step "PostgreSQL for the server's shared-store tests (Debian's packages)"
STEPUP_TEST_DATABASE_URL=$(scripts/postgres.sh)
export STEPUP_TEST_DATABASE_URL STEPUP_REQUIRE_POSTGRES=1

step "unit, integration, doc and bench-smoke tests"
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
cargo test -p stepup-core --lib --no-default-features --locked

step "Rust crates from their packaged form (cargo package --workspace, each verified by a build)"
scripts/package-crates.sh | tee "$log/crates"

step "conformance corpus through the native engine"
# `cargo test` above built target/debug/stepup with the workspace's features; `cargo build -p`
# would resolve features for one package and build wasmtime and its dependencies a second time.
test -x target/debug/stepup
keep native ./target/debug/stepup conformance tests/conformance

step "deploy/: the Dockerfile (hadolint) and the systemd unit (systemd-analyze), no engine needed"
deploy/check.sh target/debug/stepup

step "conformance corpus through the wasmtime-hosted component (JSON and typed entry points)"
STEPUP_CWASM_CACHE="$PWD/target/cwasm" keep component ./target/debug/stepup conformance --engine component tests/conformance
wasm=target/component/wasm32-unknown-unknown/component/stepup_component.wasm
echo "component: $(wc -c < "$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) gzipped"

step "wasm-bindgen build for browsers and Node"
bindings/web/build.sh

step "fuzzing (cargo-fuzz, libFuzzer): every target for a bounded time, seeded from the corpus"
# Nightly is on this machine kind; cargo-fuzz comes from the crate registry.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
node fuzz/seed.mjs
cargo +nightly fuzz build -O
for target in request_json config_json authorize_json parsers packed classify verify_readers; do
  cargo +nightly fuzz run -O "$target" "fuzz/corpus/$target" -- \
    -max_total_time="${STEPUP_FUZZ_SECONDS:-30}" -max_len=65536 -rss_limit_mb=2048 2>&1 \
    | grep -E '^Done|SUMMARY|panicked' | sed "s/^/fuzz $target: /"
done
# The sanitizer build is not used again; its half gigabyte is better left to the next builds.
rm -rf fuzz/target

step "JS tooling: npm packages and Debian's Chromium"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
if ! command -v chromium >/dev/null; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

step "Node native addon (napi-rs): build, package lint"
# npm install, not ci: npm 11 omits other platforms' optional deps of @napi-rs/cli from the lock,
# which npm ci then rejects; install still honours the locked versions.
(cd bindings/node && npm install --no-audit --no-fund --loglevel=error && npm run --silent build && npx publint)

step "conformance corpus through the napi addon"
keep napi node bindings/node/conformance.mjs tests/conformance

step "JS API suite on the napi addon, and its packed fast path"
STEPUP_BACKEND=napi node --test tests/js/api.test.mjs tests/js/packed.test.mjs

step "Verdaccio + verdaccio-stepup + the real npm CLI (pty where npm prompts)"
hosts/verdaccio/test/run.sh

step "stepup serve --upstream in front of a real Verdaccio, driven by npm 10 and npm 11"
(cd tests/gateway && npm ci --no-audit --no-fund --loglevel=error && node --test --test-concurrency=1 gateway.test.mjs governance.test.mjs faults.test.mjs) | tee "$log/gateway"

step "Node benchmark smoke (every contender accepts the same code)"
(cd bindings/node/bench && npm ci --no-audit --no-fund --loglevel=error && BENCH_QUICK=1 node bench.mjs)
BENCH_QUICK=1 node tests/js/browser-bench.mjs

step "conformance corpus through wasm-bindgen in Node"
keep wasmnode node tests/js/conformance.mjs --backend wasm-node tests/conformance

step "JS API suite on wasm-node, and its packed fast path"
STEPUP_BACKEND=wasm-node node --test tests/js/api.test.mjs tests/js/packed.test.mjs

step "packages from their tarballs: pack (contents checked), then new projects outside the repository on Node 20, 22, 24"
(cd bindings/web && npx --prefix ../node publint) && (cd hosts/verdaccio && npx --prefix ../../bindings/node publint)
tests/packaging/run.sh | tee "$log/packaging"

step "headless Chromium: the corpus inside the page, the demo UI (screenshots in test-output/web)"
node --test tests/js/browser.test.mjs | tee "$log/chromium"

step "differential testing: random requests decided by every host, byte for byte"
# The seed changes daily (printed, so any finding reproduces); STEPUP_DIFF_SEED pins it.
keep differential node tests/js/differential.mjs --count "${STEPUP_DIFF_COUNT:-5000}" --seed "${STEPUP_DIFF_SEED:-$(date +%Y%m%d)}"
# The harness's own test: a host made to misanswer must be caught, minimised and reported.
if STEPUP_DIFF_INJECT=1 node tests/js/differential.mjs --count 200 --seed 7 > "$log/inject" 2>&1; then
  echo "an injected disagreement went unnoticed"; exit 1
fi
grep -q 'disagreements; minimised cases' "$log/inject"

step "TypeScript types of the JS API"
(cd tests/js && npx tsc -p tsconfig.json)

step "JSON Schemas against the corpus"
keep schema python3 tests/schema_check.py

step "corpus generator reproduces the committed corpus"
python3 tests/conformance/generate.py
python3 tests/conformance/generate_classify.py
git diff --exit-code --stat -- tests/conformance

step "summary"
echo "native: $(tail -n 1 "$log/native")"
echo "component: $(tail -n 1 "$log/component")"
echo "napi: $(tail -n 1 "$log/napi")"
echo "wasm-node: $(tail -n 1 "$log/wasmnode")"
grep -o 'chromium: .*' "$log/chromium"
grep -o 'chromium default build: .*' "$log/chromium"
grep -E '^pack: |^platform |passed$|installed ' "$log/packaging"
grep '^crate: ' "$log/crates"
tail -n 1 "$log/schema"
grep -E '^differential: [0-9]+ requests|^differential: 0 disagreements' "$log/differential"
echo "gateway e2e: $(grep -E '^# (pass|fail) ' "$log/gateway" | tr '\n' ' ')"
