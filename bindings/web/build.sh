#!/usr/bin/env bash
# Builds the wasm-bindgen package: pkg/web and pkg/full (ES modules for browsers; Node loads
# the full one synchronously from disk: raw-node.js),
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
rm -rf "$here/pkg"
# Two builds of the same crate: pkg/web without the server-side parts (signature verifiers, npm
# request classification, the trusted-publishing exchange), what browsers load by default, and
# pkg/full with them (Node, and browsers that ask for `stepup-web/full`).
# No component linker here: wasm-bindgen needs a core module.
for name in web full; do
  args=(--profile web-small)
  [ "$name" = full ] && args=(--profile web --features full)
  env -u CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER cargo rustc --locked -q -p stepup-web \
    --target wasm32-unknown-unknown --crate-type cdylib --target-dir "$root/target/web" "${args[@]}"
  wasm="$root/target/web/wasm32-unknown-unknown/${args[1]}/stepup_web.wasm"
  wasm-bindgen --remove-name-section --remove-producers-section --target web --out-dir "$here/pkg/$name" "$wasm"
  bg="$here/pkg/$name/stepup_web_bg.wasm"
  echo "stepup-web ($name): raw $(wc -c < "$wasm") B; $(basename "$bg") $(wc -c < "$bg") B, gzip -9 $(gzip -9 -c "$bg" | wc -c) B"
done
cp "$root/bindings/js/api.js" "$root/bindings/js/packed.js" "$root/bindings/js/conformance.js" "$root/bindings/js/index.d.ts" "$here/pkg/"
