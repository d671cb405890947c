#!/usr/bin/env bash
# The read path next to the registry behind it. Two real Verdaccios (the e2e's): one with its
# default (legacy) tokens, which carry the password and cost it a bcrypt on every authenticated
# request, one with JWT tokens; `stepup serve --reads-without-credential` in front of each, all
# on loopback.
#  - wrk reads one package document and its tarball directly and through the gateway,
#    anonymously and with a token, in alternating rounds so both sides see the same machine;
#  - `npm install` of a tree of LOAD_TREE packages (published into both Verdaccios by this
#    script), with the account's token and an empty cache, directly and through the gateway.
# Prints each round, the medians and the gateway/direct ratios; with LOAD_JSON=FILE also writes
# them as JSON (scripts/bench-report.py reads it).
# Reproduce: `scripts/load-read.sh` (LOAD_SECONDS per wrk run, LOAD_ROUNDS rounds; docs/BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
[ -x tests/gateway/node_modules/.bin/verdaccio ] || (cd tests/gateway && npm ci --no-audit --no-fund --loglevel=error)
cargo build --release --locked -q -p stepup-cli
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
seconds=${LOAD_SECONDS:-8}
rounds=${LOAD_ROUNDS:-3}
tree=${LOAD_TREE:-120}
echo '{"login_verification": {"stages": [], "brown_outs": []}, "publish_floor": false, "default_publishing_access": "none"}' > "$dir/policy.json"

# start KIND VERDACCIO_PORT GATEWAY_PORT: a Verdaccio with KIND tokens and a gateway in front.
start() {
  local kind=$1 vport=$2 gport=$3 d="$dir/$1"
  mkdir -p "$d"
  local jwt=""
  [ "$kind" = jwt ] && jwt=$'security:\n  api:\n    jwt:\n      sign:\n        expiresIn: 1d'
  cat > "$d/config.yaml" <<YAML
storage: $d/storage
auth:
  htpasswd:
    file: $d/htpasswd
    max_users: 100
$jwt
uplinks: {}
max_body_size: 50mb
packages:
  '**': { access: \$all, publish: \$authenticated, unpublish: \$authenticated }
log: { type: stdout, format: json, level: error }
YAML
  node tests/gateway/node_modules/verdaccio/bin/verdaccio --config "$d/config.yaml" --listen "127.0.0.1:$vport" > "$d/verdaccio.log" 2>&1 &
  until curl -sf "http://127.0.0.1:$vport/-/ping" >/dev/null; do sleep 0.2; done
  STEPUP_SECRET_KEY=$(openssl rand -hex 32) STEPUP_LOG=warn target/release/stepup serve --init-store --listen "127.0.0.1:$gport" \
    --db "$d/db.sqlite3" --config "$dir/policy.json" --upstream "http://127.0.0.1:$vport" --reads-without-credential > "$d/stepup.log" 2>&1 &
  until curl -sf "http://127.0.0.1:$gport/v1/health" >/dev/null; do sleep 0.2; done
  # One account, logged in on each side; one package with a tarball published through the
  # gateway; the install tree published straight into Verdaccio.
  python3 - "$vport" "$gport" "$tree" "$d" <<'PY'
import base64, hashlib, io, json, sys, tarfile, urllib.request
vport, gport, tree, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def call(port, method, path, body, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=json.dumps(body).encode(),
        headers={"content-type": "application/json", **({"authorization": "Bearer " + token} if token else {})})
    return json.load(urllib.request.urlopen(req))
def login(port):
    return call(port, "PUT", "/-/user/org.couchdb.user:reader", {"name": "reader", "password": "reader-pass-1", "type": "user", "roles": []})["token"]
direct, gateway = login(vport), login(gport)
def publish(port, token, name, deps):
    manifest = {"name": name, "version": "1.0.0", "dependencies": deps}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for path, text in [("package/package.json", json.dumps(manifest)), ("package/index.js", f"module.exports = {json.dumps(name)};\n")]:
            data = text.encode()
            info = tarfile.TarInfo(path); info.size = len(data); info.mtime = 0
            t.addfile(info, io.BytesIO(data))
    tgz = buf.getvalue()
    file = f"{name}-1.0.0.tgz"
    doc = {"_id": name, "name": name, "dist-tags": {"latest": "1.0.0"},
           "versions": {"1.0.0": {**manifest, "_id": f"{name}@1.0.0", "dist": {
               "tarball": f"http://127.0.0.1:{port}/{name}/-/{file}",
               "shasum": hashlib.sha1(tgz).hexdigest(),
               "integrity": "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode()}}},
           "_attachments": {file: {"content_type": "application/octet-stream", "data": base64.b64encode(tgz).decode(), "length": len(tgz)}}}
    call(port, "PUT", "/" + name, doc, token)
publish(gport, gateway, "read-pkg", {})
# A tree: ten top-level packages, each depending on its share of the leaves.
leaves = [f"tree-leaf-{i:03}" for i in range(tree - 11)]
for leaf in leaves:
    publish(vport, direct, leaf, {})
tops = [f"tree-top-{i}" for i in range(10)]
for i, top in enumerate(tops):
    publish(vport, direct, top, {l: "1.0.0" for l in leaves[i::10]})
publish(vport, direct, "tree-root", {t: "1.0.0" for t in tops})
open(f"{d}/tokens", "w").write(f"{direct} {gateway}\n")
PY
  for side in "$vport" "$gport"; do
    test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$side/read-pkg")" = 200
    test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$side/read-pkg/-/read-pkg-1.0.0.tgz")" = 200
  done
}

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
  # A legacy-token run straight to Verdaccio leaves it a queue of password hashes to work off:
  # the next run waits for it, so it is not charged for them.
  case $1 in legacy/*-token-direct) sleep 3 ;; esac
  echo "wrk $1 $rps $p50 $p99 ${errors:-0}" >> "$dir/results"
  printf '%-42s %10s req/s  p50 %-9s p99 %-9s non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "${errors:-0}"
}

install() { # name port token
  local p="$dir/install-$1" started took
  rm -rf "$p" && mkdir -p "$p"
  printf '{"name":"bench-app","version":"1.0.0","private":true,"dependencies":{"tree-root":"1.0.0"}}\n' > "$p/package.json"
  printf 'registry=http://127.0.0.1:%s/\n//127.0.0.1:%s/:_authToken=%s\n' "$2" "$2" "$3" > "$p/.npmrc"
  started=$(date +%s%N)
  (cd "$p" && npm install --no-audit --no-fund --loglevel=error --cache "$p/cache" --prefer-online >/dev/null)
  took=$(( ($(date +%s%N) - started) / 1000000 ))
  test "$(find "$p/node_modules" -name package.json -path '*/tree-*' | wc -l)" -eq "$tree"
  echo "install $1 $took" >> "$dir/results"
  printf '%-42s %10s ms\n' "npm install ($tree packages) $1" "$took"
}

start legacy 18873 18788
start jwt 18874 18789
for r in $(seq 1 "$rounds"); do
  echo "== round $r (wrk -t2 -c16, ${seconds}s each; npm install of $tree packages)"
  for kind in legacy jwt; do
    case $kind in legacy) vport=18873 gport=18788 ;; jwt) vport=18874 gport=18789 ;; esac
    read -r direct_token gateway_token < "$dir/$kind/tokens"
    run "$kind/packument-anonymous-direct" "http://127.0.0.1:$vport/read-pkg"
    run "$kind/packument-anonymous-gateway" "http://127.0.0.1:$gport/read-pkg"
    run "$kind/packument-token-direct" "http://127.0.0.1:$vport/read-pkg" "$direct_token"
    run "$kind/packument-token-gateway" "http://127.0.0.1:$gport/read-pkg" "$gateway_token"
    run "$kind/tarball-token-direct" "http://127.0.0.1:$vport/read-pkg/-/read-pkg-1.0.0.tgz" "$direct_token"
    run "$kind/tarball-token-gateway" "http://127.0.0.1:$gport/read-pkg/-/read-pkg-1.0.0.tgz" "$gateway_token"
    install "$kind/direct" "$vport" "$direct_token"
    install "$kind/gateway" "$gport" "$gateway_token"
  done
done
echo "== medians over $rounds rounds; ratio = gateway / direct (requests per second; wall time for npm install)"
python3 - "$dir/results" "${LOAD_JSON:-}" "$rounds" "$seconds" "$tree" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kind, name, *vals = line.split()
    rows.setdefault((kind, name), []).append(vals)
out = {"rounds": int(sys.argv[3]), "seconds": int(sys.argv[4]), "tree": int(sys.argv[5]), "reads": [], "installs": []}
for tokens in ["legacy", "jwt"]:
    for what in ["packument-anonymous", "packument-token", "tarball-token"]:
        d = [float(v[0]) for v in rows[("wrk", f"{tokens}/{what}-direct")]]
        g = [float(v[0]) for v in rows[("wrk", f"{tokens}/{what}-gateway")]]
        bad = sum(int(v[3]) for side in ["direct", "gateway"] for v in rows[("wrk", f"{tokens}/{what}-{side}")])
        dm, gm = statistics.median(d), statistics.median(g)
        out["reads"].append({"tokens": tokens, "read": what, "direct": dm, "gateway": gm, "ratio": gm / dm, "non_2xx": bad})
        print(f"{tokens:7} {what:22} direct {dm:9.0f} req/s  gateway {gm:9.0f} req/s  ratio {gm / dm:.2f}  non-2xx {bad}")
    d = statistics.median(float(v[0]) for v in rows[("install", f"{tokens}/direct")])
    g = statistics.median(float(v[0]) for v in rows[("install", f"{tokens}/gateway")])
    out["installs"].append({"tokens": tokens, "direct_ms": d, "gateway_ms": g, "ratio": g / d})
    print(f"{tokens:7} npm install ({out['tree']} packages)   direct {d:7.0f} ms  gateway {g:7.0f} ms  ratio {g / d:.2f}")
if sys.argv[2]:
    json.dump(out, open(sys.argv[2], "w"), indent=1)
PY
