#!/usr/bin/env bash
# Load on loopback with wrk (Debian's package): the decision API, and a challenged publish through
# the gateway (token lookup, account state from the store, the component's decision, npm's 401).
# Prints wrk's report for each and the medians over LOAD_ROUNDS rounds (LOAD_JSON=FILE: also as
# JSON for scripts/bench-report.py); docs/BENCHMARKS.md records the figures. The store is a new
# SQLite file, or with LOAD_DATABASE_URL=postgres://… that PostgreSQL database (an account of
# its own per run; LOAD_SECRET_KEY: the key that database was created with).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --locked -q -p stepup-cli
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
duration=${LOAD_SECONDS:-15}
# A stand-in upstream that accepts password "pw" (the gateway checks passwords upstream: first
# `GET /-/whoami` with Basic credentials, which has no side effects, then the couch login).
python3 - "$dir/up.port" <<'PY' &
import http.server, json, sys, base64
class H(http.server.BaseHTTPRequestHandler):
    def user(self):
        user, _, pw = base64.b64decode(self.headers.get("authorization", "Basic ")[6:] or b"").decode().partition(":")
        return user if pw == "pw" else None
    def answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status); self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_GET(self):
        user = self.user()
        self.answer(200, {"username": user}) if user else self.answer(401, {"error": "unauthorized"})
    def do_PUT(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        user = self.user()
        self.answer(201, {"ok": True, "token": "up-" + user}) if user else self.answer(401, {"error": "unauthorized"})
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
while [ ! -s "$dir/up.port" ]; do sleep 0.1; done
echo '{"login_verification": {"stages": [], "brown_outs": []}}' > "$dir/policy.json"
# A server left on the port (an earlier run that did not stop) would be measured instead.
if curl -s -o /dev/null http://127.0.0.1:18787/v1/health; then
  echo "load.sh: 127.0.0.1:18787 is taken (a server from an earlier run?); stop it first" >&2
  exit 1
fi
STEPUP_SECRET_KEY=${LOAD_SECRET_KEY:-$(openssl rand -hex 32 2>/dev/null || python3 -c 'import secrets;print(secrets.token_hex(32))')} \
  STEPUP_LOG=warn target/release/stepup serve --init-store --listen 127.0.0.1:18787 --db "$dir/db.sqlite3" \
  ${LOAD_DATABASE_URL:+--database-url "$LOAD_DATABASE_URL"} --config "$dir/policy.json" --upstream "http://127.0.0.1:$(cat "$dir/up.port")" &
server=$!
until curl -sf http://127.0.0.1:18787/v1/health >/dev/null; do
  kill -0 "$server" 2>/dev/null || { echo "load.sh: the server did not start" >&2; exit 1; }
  sleep 0.2
done
# An account with 2FA (auth-and-writes) and a session token, set up over the npm API.
token=$(LOAD_ACCOUNT="loadtest-$$-$(date +%s)" python3 - <<'PY'
import base64, hmac, json, os, struct, time, urllib.request
base = "http://127.0.0.1:18787"
def call(method, path, body, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method, headers={"content-type": "application/json", **({"authorization": "Bearer " + token} if token else {})})
    return json.load(urllib.request.urlopen(req))
name = os.environ["LOAD_ACCOUNT"]
tok = call("PUT", "/-/user/org.couchdb.user:" + name, {"name": name, "password": "pw"})["token"]
uri = call("POST", "/-/npm/v1/user", {"tfa": {"password": "pw", "mode": "auth-and-writes"}}, tok)["tfa"]
secret = uri.split("secret=")[1].split("&")[0]
key = base64.b32decode(secret + "=" * (-len(secret) % 8))
mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), "sha1").digest()
o = mac[-1] & 15
code = str((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 10 ** 6).zfill(6)
call("POST", "/-/npm/v1/user", {"tfa": [code]}, tok)
print(tok)
PY
)
cat > "$dir/publish.json" <<'JSON'
{"_id":"load-pkg","name":"load-pkg","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"load-pkg","version":"1.0.0"}},"_attachments":{"load-pkg-1.0.0.tgz":{"content_type":"application/octet-stream","data":"H4sIAAAAAAAAA+3BAQ0AAADCoPdPbQ8HFAAAAAAAAAAAAAAAAAAAgLsDmt4gNgAoAAA=","length":40}}}
JSON
test "$(curl -s -o /dev/null -w '%{http_code}' -XPUT -H "authorization: Bearer $token" -H 'content-type: application/json' --data-binary @"$dir/publish.json" http://127.0.0.1:18787/load-pkg)" = 401
# The two figures alternate over LOAD_ROUNDS rounds, so both see the same machine.
rounds=${LOAD_ROUNDS:-1}
for r in $(seq 1 "$rounds"); do
  echo "== round $r: POST /v1/evaluate (tests/fixtures/bench-publish.json), ${duration}s"
  WRK_BODY=tests/fixtures/bench-publish.json wrk -t2 -c32 -d"${duration}s" --latency -s scripts/load/post.lua http://127.0.0.1:18787/v1/evaluate | tee "$dir/evaluate-$r"
  echo "== round $r: PUT /load-pkg through the gateway without a code (401 OTP challenge), ${duration}s"
  WRK_BODY="$dir/publish.json" WRK_METHOD=PUT WRK_AUTH="Bearer $token" wrk -t2 -c32 -d"${duration}s" --latency -s scripts/load/post.lua http://127.0.0.1:18787/load-pkg | tee "$dir/publish-$r"
done
# Medians over the rounds; with LOAD_JSON=FILE also as JSON (scripts/bench-report.py reads it).
python3 - "$dir" "$rounds" "${LOAD_JSON:-}" <<'PY'
import json, re, statistics, sys
d, rounds, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
res = {"rounds": rounds}
for name in ["evaluate", "publish"]:
    rps, p50, p99 = [], [], []
    for r in range(1, rounds + 1):
        text = open(f"{d}/{name}-{r}").read()
        rps.append(float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)))
        p50.append(ms(re.search(r"\s50%\s+(\S+)", text).group(1)))
        p99.append(ms(re.search(r"\s99%\s+(\S+)", text).group(1)))
    res[name] = {"rps": statistics.median(rps), "p50_ms": statistics.median(p50), "p99_ms": statistics.median(p99)}
    print(f"{name:9} median of {rounds}: {res[name]['rps']:9.0f} req/s  p50 {res[name]['p50_ms']:.2f} ms  p99 {res[name]['p99_ms']:.2f} ms")
if out:
    json.dump(res, open(out, "w"), indent=1)
PY
