#!/usr/bin/env bash
# The read path next to the registry behind it: a real Verdaccio (the e2e's, JWT tokens) and
# `stepup serve` in front of it, both on loopback. wrk reads one package document and its tarball
# directly and through the gateway, anonymously and with a token, in alternating rounds so both
# sides see the same machine; prints each round and the medians, and the gateway/direct ratios.
# Reproduce: `scripts/load-read.sh` (LOAD_SECONDS per run, LOAD_ROUNDS rounds; docs/BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
[ -x tests/gateway/node_modules/.bin/verdaccio ] || (cd tests/gateway && npm ci --no-audit --no-fund --loglevel=error)
cargo build --release --locked -q -p stepup-cli
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
seconds=${LOAD_SECONDS:-8}
rounds=${LOAD_ROUNDS:-3}
vport=18873
gport=18788
cat > "$dir/config.yaml" <<YAML
storage: $dir/storage
auth:
  htpasswd:
    file: $dir/htpasswd
    max_users: 100
security:
  api:
    jwt:
      sign:
        expiresIn: 1d
uplinks: {}
packages:
  '**': { access: \$all, publish: \$authenticated, unpublish: \$authenticated }
log: { type: stdout, format: json, level: error }
YAML
node tests/gateway/node_modules/verdaccio/bin/verdaccio --config "$dir/config.yaml" --listen "127.0.0.1:$vport" > "$dir/verdaccio.log" 2>&1 &
until curl -sf "http://127.0.0.1:$vport/-/ping" >/dev/null; do sleep 0.2; done
echo '{"login_verification": {"stages": [], "brown_outs": []}, "publish_floor": false, "default_publishing_access": "none"}' > "$dir/policy.json"
STEPUP_SECRET_KEY=$(openssl rand -hex 32) STEPUP_LOG=warn target/release/stepup serve --init-store --listen "127.0.0.1:$gport" \
  --db "$dir/db.sqlite3" --config "$dir/policy.json" --upstream "http://127.0.0.1:$vport" > "$dir/stepup.log" 2>&1 &
until curl -sf "http://127.0.0.1:$gport/v1/health" >/dev/null; do sleep 0.2; done
# One account, logged in on each side; one package with a tarball, published through the gateway.
read -r direct_token gateway_token < <(python3 - "$vport" "$gport" <<'PY'
import json, sys, urllib.request
def login(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/-/user/org.couchdb.user:reader", method="PUT",
        data=json.dumps({"name": "reader", "password": "reader-pass-1", "type": "user", "roles": []}).encode(),
        headers={"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req))["token"]
d = login(sys.argv[1])
print(d, login(sys.argv[2]))
PY
)
cat > "$dir/publish.json" <<'JSON'
{"_id":"read-pkg","name":"read-pkg","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"read-pkg","version":"1.0.0","dist":{"tarball":"http://127.0.0.1/read-pkg/-/read-pkg-1.0.0.tgz","shasum":"8923d71a72031bbc345b97f6f317e487ff050424"}}},"_attachments":{"read-pkg-1.0.0.tgz":{"content_type":"application/octet-stream","data":"H4sIAAAAAAAAA+3BAQ0AAADCoPdPbQ8HFAAAAAAAAAAAAAAAAAAAgLsDmt4gNgAoAAA=","length":40}}}
JSON
code=$(curl -s -o "$dir/publish.out" -w '%{http_code}' -XPUT -H "authorization: Bearer $gateway_token" \
  -H 'content-type: application/json' --data-binary @"$dir/publish.json" "http://127.0.0.1:$gport/read-pkg")
[ "$code" = 201 ] || { echo "publish through the gateway: $code $(cat "$dir/publish.out")"; exit 1; }
for side in "$vport" "$gport"; do
  test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$side/read-pkg")" = 200
  test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$side/read-pkg/-/read-pkg-1.0.0.tgz")" = 200
done

run() { # name url [token]
  local out
  if [ -n "${3:-}" ]; then
    out=$(wrk -t2 -c16 -d"${seconds}s" --latency -H "authorization: Bearer $3" "$2")
  else
    out=$(wrk -t2 -c16 -d"${seconds}s" --latency "$2")
  fi
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$1 $rps $p50 $p99 ${errors:-0}" >> "$dir/results"
  printf '%-34s %10s req/s  p50 %-9s p99 %-9s non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "${errors:-0}"
}
for r in $(seq 1 "$rounds"); do
  echo "== round $r (wrk -t2 -c16, ${seconds}s each)"
  run packument-anonymous-direct "http://127.0.0.1:$vport/read-pkg"
  run packument-anonymous-gateway "http://127.0.0.1:$gport/read-pkg"
  run packument-token-direct "http://127.0.0.1:$vport/read-pkg" "$direct_token"
  run packument-token-gateway "http://127.0.0.1:$gport/read-pkg" "$gateway_token"
  run tarball-token-direct "http://127.0.0.1:$vport/read-pkg/-/read-pkg-1.0.0.tgz" "$direct_token"
  run tarball-token-gateway "http://127.0.0.1:$gport/read-pkg/-/read-pkg-1.0.0.tgz" "$gateway_token"
done
echo "== medians over $rounds rounds; ratio = gateway / direct requests per second"
python3 - "$dir/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99, errors = line.split()
    rows.setdefault(name, []).append((float(rps), p50, p99, int(errors)))
med = {n: statistics.median(r[0] for r in v) for n, v in rows.items()}
for what in ["packument-anonymous", "packument-token", "tarball-token"]:
    d, g = med[f"{what}-direct"], med[f"{what}-gateway"]
    bad = sum(r[3] for r in rows[f"{what}-direct"] + rows[f"{what}-gateway"])
    print(f"{what:22} direct {d:9.0f} req/s  gateway {g:9.0f} req/s  ratio {g / d:.2f}  non-2xx {bad}")
PY
