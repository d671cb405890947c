#!/usr/bin/env bash
# Builds the wasm-bindgen package: pkg/web (an ES module for browsers, which Node loads too,
# synchronously, from the same wasm: raw-node.js),
# plus the shared JS layer and types. Installs wasm-bindgen-cli 0.2.130 if it is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ver=0.2.130
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! wasm-bindgen --version 2>/dev/null | grep -q " $ver\$"; then
  # Not --locked: that fails for this version (see shared/reference/toolchain.md).
  cargo install wasm-bindgen-cli --version "=$ver" --quiet
fi
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
# No component linker here: wasm-bindgen needs a core module.
env -u CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER cargo rustc --locked -q -p stepup-web \
  --target wasm32-unknown-unknown --profile web --crate-type cdylib --target-dir "$root/target/web"
wasm="$root/target/web/wasm32-unknown-unknown/web/stepup_web.wasm"
rm -rf "$here/pkg"
wasm-bindgen --remove-name-section --remove-producers-section --target web --out-dir "$here/pkg/web" "$wasm"
cp "$root/bindings/js/api.js" "$root/bindings/js/packed.js" "$root/bindings/js/conformance.js" "$root/bindings/js/index.d.ts" "$here/pkg/"
bg="$here/pkg/web/stepup_web_bg.wasm"
echo "stepup-web: raw $(wc -c < "$wasm") B; $(basename "$bg") $(wc -c < "$bg") B, gzip -9 $(gzip -9 -c "$bg" | wc -c) B"
