#!/usr/bin/env bash
# Packages the publishable crates as a crate registry would receive them, and builds each one
# from its packaged form (`cargo package`'s verification, against the others' packages): what a
# user of the registry would build. stepup-wasmtime cannot build its component outside the
# workspace, so it ships the one the workspace built (its build.rs embeds `prebuilt/` there).
set -euo pipefail
cd "$(dirname "$0")/.."
# Brings the workspace's component up to date (a no-op after the workspace's tests).
cargo build --workspace --locked --quiet
wasm=target/component/wasm32-unknown-unknown/component/stepup_component.wasm
mkdir -p hosts/wasmtime/prebuilt
cp "$wasm" hosts/wasmtime/prebuilt/stepup_component.wasm
# The members that are not published: bindings packaged by npm, fixtures, tools, benches.
# --allow-dirty: the prebuilt component is packaged but, being a build output, never committed.
rm -f target/package/*.crate
# Cargo extracts the packaged crates of its verification registry under CARGO_HOME once per
# version and reuses an extraction it finds, so a second run from the same checkout path would
# build against the first run's sources. Our own crates' extractions (never crates.io's) go.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/stepup-*
log=target/package-crates.log
if ! cargo package --workspace --locked --allow-dirty \
  --exclude stepup-benches --exclude stepup-component --exclude stepup-contract \
  --exclude stepup-hostile-guest --exclude stepup-node --exclude stepup-web > "$log" 2>&1; then
  cat "$log"
  exit 1
fi
grep -E '^\s*(Packag|Verifying|Finished)|^warning: ignoring' "$log"
for crate in target/package/*.crate; do
  echo "crate: $(basename "$crate") $(wc -c < "$crate") B"
done
