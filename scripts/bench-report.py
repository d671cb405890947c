#!/usr/bin/env python3
"""The benchmark report: one table (figure, stepup, peer or floor, ratio, goal, machine, command)
and a chart of per-request latency per host, from the results of one run on one machine:

  cargo bench -p stepup-benches --bench peer        # Cedar, native, component, floor, authorize
  (cd bindings/node/bench && node bench.mjs)        # napi and wasm in Node  -> target/bench/node.json
  node tests/js/browser-bench.mjs                   # wasm in Chromium       -> target/bench/chromium.json
  LOAD_ROUNDS=3 LOAD_JSON=target/bench/load.json scripts/load.sh            # the gateway's write path
  LOAD_ROUNDS=3 LOAD_JSON=target/bench/load-read.json scripts/load-read.sh  # its read path and npm install
  python3 scripts/bench-report.py --write           # table into docs/BENCHMARKS.md, chart SVG

`scripts/bench-all.sh` runs them all in that order.

Without --write the table is printed and nothing is changed. Missing inputs are reported as
missing (the row says so), never filled in.
"""
import glob
import html
import json
import math
import os
import platform
import statistics
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
CRITERION = os.path.join(ROOT, "target", "criterion")
DOC = os.path.join(ROOT, "docs", "BENCHMARKS.md")
SVG = os.path.join(ROOT, "docs", "benchmarks-latency.svg")
START, END = "<!-- bench-report:start -->", "<!-- bench-report:end -->"

PEER = "cargo bench -p stepup-benches --bench peer"
NODE = "cd bindings/node/bench && node bench.mjs"
CHROMIUM = "node tests/js/browser-bench.mjs"
LOAD = "scripts/load.sh"
LOAD_READ = "scripts/load-read.sh"
OTPAUTH = "otpauth validate (prebuilt TOTP)"
VIA_JSON_NAPI = "stepup napi evaluate through JSON text (stringify, evaluateJson, parse)"
VIA_JSON_CHROME = "chromium evaluate through JSON text (stringify, evaluateJson, parse)"


def median_of(group, name):
    path = os.path.join(CRITERION, group, name, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except OSError:
        return None


def group_medians(group):
    out = {}
    for path in sorted(glob.glob(os.path.join(CRITERION, group, "*", "new", "estimates.json"))):
        name = path.split(os.sep)[-3]
        with open(path) as f:
            out[name] = json.load(f)["median"]["point_estimate"]
    return out


def load_json(name):
    try:
        with open(os.path.join(ROOT, "target", "bench", name)) as f:
            return json.load(f)
    except OSError:
        return None


def fmt(ns):
    if ns is None:
        return "not measured"
    if isinstance(ns, str):
        return ns
    if ns >= 1000:
        return f"{ns / 1000:.2f} µs"
    return f"{ns:.0f} ns"


def ratio(a, b, suffix="×"):
    if a is None or b is None or b == 0:
        return "—"
    r = a / b
    return f"{r:.0f}{suffix}" if r >= 20 else f"{r:.2f}{suffix}"


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()}"


def met(value, goal_ns):
    if value is None:
        return "not measured"
    return "met" if value <= goal_ns else "**not met**"


def main():
    write = "--write" in sys.argv[1:]
    cedar, native, comp = (group_medians(g) for g in ("peer_cedar", "peer_native", "peer_component"))
    lift = group_medians("peer_component_floor")
    shared = sorted(set(cedar) & set(native) & set(comp))
    med = lambda d: statistics.median(d[k] for k in shared) if shared and all(k in d for k in shared) else None
    cedar_m, native_m, comp_m, lift_m = med(cedar), med(native), med(comp), med(lift)
    per_req_ratio = statistics.median(cedar[k] / native[k] for k in shared) if shared else None
    floor = group_medians("floor")
    auth = group_medians("peer_authorize")
    node = (load_json("node.json") or {}).get("median_ns", {})
    chrome_doc = load_json("chromium.json") or {}
    chrome = chrome_doc.get("median_ns", {})
    pub = "publish_challenge"
    m = machine()
    load = load_json("load.json") or {}
    reads = load_json("load-read.json") or {}
    ev, publish = load.get("evaluate"), load.get("publish")
    per_s = lambda d: f"{d['rps']:,.0f} req/s, p99 {d['p99_ms']:.2f} ms" if d else None
    read_rows = []
    for r in reads.get("reads", []):
        read_rows.append((f"gateway read: {r['read'].replace('-', ' ')}, Verdaccio with {r['tokens']} tokens", f"{r['gateway']:,.0f} req/s",
                          "straight to Verdaccio", f"{r['direct']:,.0f} req/s", f"{r['ratio']:.2f}× direct",
                          f"≥ 0.9× direct: {'met' if r['ratio'] >= 0.9 else '**not met**'}", LOAD_READ))
    for r in reads.get("installs", []):
        read_rows.append((f"gateway: `npm install` of a {reads.get('tree')}-package tree with a token, Verdaccio with {r['tokens']} tokens",
                          f"{r['gateway_ms'] / 1000:.2f} s", "straight to Verdaccio", f"{r['direct_ms'] / 1000:.2f} s",
                          f"{r['ratio']:.2f}× direct's time", f"≤ 1.1× direct: {'met' if r['ratio'] <= 1.1 else '**not met**'}", LOAD_READ))
    otp = node.get(OTPAUTH)
    speedup = lambda name: ratio(otp, node.get(name))

    rows = [
        ("evaluate, native, median of the shared requests' medians", native_m, "Cedar", cedar_m,
         f"Cedar ÷ stepup {ratio(cedar_m, native_m)} (per request: median {ratio(per_req_ratio, 1)})",
         f"≤ 300 ns and ≥ 50× Cedar: {'met' if native_m and native_m <= 300 and per_req_ratio and per_req_ratio >= 50 else '**not met**'}", PEER),
        ("evaluate, component (wasmtime, typed records), same requests", comp_m, "Cedar", cedar_m,
         f"Cedar ÷ component {ratio(cedar_m, comp_m)}", "", PEER),
        ("evaluate, component, next to its floor: the same requests to a guest that only lifts them and answers a fixed decision", comp_m,
         "typed call alone (the floor)", lift_m, f"{ratio(comp_m, lift_m)} the floor",
         f"≤ 1.2× the floor: {'met' if comp_m and lift_m and comp_m <= 1.2 * lift_m else '**not met**'}", PEER),
        ("evaluate, native, the benchmark request (publish, challenged)", native.get(pub), "Cedar, same request", cedar.get(pub),
         f"Cedar ÷ stepup {ratio(cedar.get(pub), native.get(pub))}", "", PEER),
        ("authorize, valid TOTP code (±1 step, replay state, effects), native", auth.get("native_totp"),
         "direct ±1-step TOTP check, pre-keyed", floor.get("totp_window_prekeyed"),
         f"{ratio(auth.get('native_totp'), floor.get('totp_window_prekeyed'))} the direct check; "
         f"{ratio(auth.get('native_totp'), 3 * floor['hmac_sha1_prekeyed'] if 'hmac_sha1_prekeyed' in floor else None)} three pre-keyed HMACs",
         f"≤ 1 µs and ≤ 2.5× three pre-keyed HMACs: {'met' if auth.get('native_totp') and 'hmac_sha1_prekeyed' in floor and auth['native_totp'] <= 1000 and auth['native_totp'] <= 2.5 * 3 * floor['hmac_sha1_prekeyed'] else '**not met**'}", PEER),
        ("authorize, valid TOTP code, component", auth.get("component_totp"), "native authorize", auth.get("native_totp"),
         ratio(auth.get("component_totp"), auth.get("native_totp")), "", PEER),
        ("floor: HMAC-SHA1, 20-byte key, 8-byte counter", floor.get("hmac_sha1"), "pre-keyed (state cloned)",
         floor.get("hmac_sha1_prekeyed"), ratio(floor.get("hmac_sha1"), floor.get("hmac_sha1_prekeyed")), "", PEER),
        ("floor: direct ±1-step TOTP check, keyed per call", floor.get("totp_window"), "pre-keyed",
         floor.get("totp_window_prekeyed"), ratio(floor.get("totp_window"), floor.get("totp_window_prekeyed")), "", PEER),
        ("Node: napi `evaluate` (object in, object out)", node.get("stepup napi evaluate (object)"),
         "native evaluate, same request", native.get(pub),
         ratio(node.get("stepup napi evaluate (object)"), native.get(pub)),
         f"≤ 1.5 µs: {met(node.get('stepup napi evaluate (object)'), 1500)}", NODE),
        ("Node: napi `evaluate` before the packed path (stringify, `evaluateJson`, parse)", node.get(VIA_JSON_NAPI),
         "napi `evaluate` (packed)", node.get("stepup napi evaluate (object)"),
         f"packed is {ratio(node.get(VIA_JSON_NAPI), node.get('stepup napi evaluate (object)'))} faster", "", NODE),
        ("Node: napi `evaluateJson` (text in, text out)", node.get("stepup napi evaluateJson (text)"),
         "native evaluate, same request", native.get(pub), ratio(node.get("stepup napi evaluateJson (text)"), native.get(pub)), "", NODE),
        ("Node: napi `verifyTotp` (valid code, ±1 step)", node.get("stepup napi verifyTotp"), "otpauth `validate`", otp,
         f"{speedup('stepup napi verifyTotp')} faster than otpauth",
         f"≥ 3× otpauth: {'met' if otp and node.get('stepup napi verifyTotp') and otp >= 3 * node['stepup napi verifyTotp'] else '**not met**'}", NODE),
        ("Node: wasm-bindgen `verifyTotp`", node.get("stepup wasm verifyTotp"), "otpauth `validate`", otp,
         f"{speedup('stepup wasm verifyTotp')} faster than otpauth",
         f"≥ 3× otpauth: {'met' if otp and node.get('stepup wasm verifyTotp') and otp >= 3 * node['stepup wasm verifyTotp'] else '**not met**'}", NODE),
        ("Node: napi `authorize` (TOTP code, packed request)", node.get("stepup napi authorize (TOTP)"),
         "the same through JSON text", node.get("stepup napi authorize through JSON text (authorizeJson, parse)"),
         f"packed is {ratio(node.get('stepup napi authorize through JSON text (authorizeJson, parse)'), node.get('stepup napi authorize (TOTP)'))} faster",
         f"≤ 2 µs: {met(node.get('stepup napi authorize (TOTP)'), 2000)}", NODE),
        ("Node: wasm-bindgen `authorize` (TOTP code, packed request)", node.get("stepup wasm authorize (TOTP)"),
         "napi authorize", node.get("stepup napi authorize (TOTP)"),
         ratio(node.get("stepup wasm authorize (TOTP)"), node.get("stepup napi authorize (TOTP)")),
         f"≤ 2 µs: {met(node.get('stepup wasm authorize (TOTP)'), 2000)}", NODE),
        ("Node: wasm-bindgen `evaluate` (object)", node.get("stepup wasm evaluate (object)"),
         "napi evaluate", node.get("stepup napi evaluate (object)"),
         ratio(node.get("stepup wasm evaluate (object)"), node.get("stepup napi evaluate (object)")), "", NODE),
        ("Chromium: wasm-bindgen `evaluate` (object)", chrome.get("chromium evaluate (object)"),
         "native evaluate, same request", native.get(pub), ratio(chrome.get("chromium evaluate (object)"), native.get(pub)),
         f"≤ 3 µs: {met(chrome.get('chromium evaluate (object)'), 3000)}", CHROMIUM),
        ("Chromium: `evaluate` before the packed path (stringify, `evaluateJson`, parse)", chrome.get(VIA_JSON_CHROME),
         "Chromium `evaluate` (packed)", chrome.get("chromium evaluate (object)"),
         f"packed is {ratio(chrome.get(VIA_JSON_CHROME), chrome.get('chromium evaluate (object)'))} faster", "", CHROMIUM),
        ("Chromium: wasm-bindgen `evaluateJson` (text)", chrome.get("chromium evaluateJson (text)"),
         "native evaluate, same request", native.get(pub), ratio(chrome.get("chromium evaluateJson (text)"), native.get(pub)), "", CHROMIUM),
        ("gateway: challenged publish (`PUT` without a code → 401 OTP), wrk -c32", per_s(publish),
         "`POST /v1/evaluate`, same server", per_s(ev),
         f"{publish['rps'] / ev['rps']:.2f}× its throughput" if publish and ev else "—",
         f"≥ 10k req/s and p99 ≤ 5 ms: {'met' if publish and publish['rps'] >= 10_000 and publish['p99_ms'] <= 5 else '**not met**' if publish else 'not measured'}", LOAD),
        *read_rows,
    ]
    lines = [
        f"Machine: {m}. Node {(load_json('node.json') or {}).get('node', 'not measured')}; "
        f"Chromium {chrome_doc.get('userAgent', 'not measured').split('Chrome/')[-1].split(' ')[0]}. "
        f"Shared requests: {len(shared)} (`benches/requests.json`). Medians"
        + (f"; the gateway's over {load.get('rounds')} rounds (write) and {reads.get('rounds')} rounds (read)" if load or reads else "") + ".",
        "",
        "| figure | stepup | peer / floor | peer / floor median | ratio | goal | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for fig, ours, what, theirs, r, goal, cmd in rows:
        lines.append(f"| {fig} | {fmt(ours)} | {what} | {fmt(theirs)} | {r} | {goal} | `{cmd}` |")
    table = "\n".join(lines)
    print(table)

    bars = [
        ("Cedar 4.14 (Rust, native)", cedar.get(pub)),
        ("Chromium: wasm evaluate (object, packed)", chrome.get("chromium evaluate (object)")),
        ("Chromium: wasm evaluate through JSON text", chrome.get(VIA_JSON_CHROME)),
        ("Chromium: wasm evaluateJson (text)", chrome.get("chromium evaluateJson (text)")),
        ("Node: wasm evaluate (object, packed)", node.get("stepup wasm evaluate (object)")),
        ("Node: napi evaluate (object, packed)", node.get("stepup napi evaluate (object)")),
        ("Node: napi evaluate through JSON text", node.get(VIA_JSON_NAPI)),
        ("Node: napi evaluateJson (text)", node.get("stepup napi evaluateJson (text)")),
        ("wasmtime: component, typed", comp.get(pub)),
        ("Rust: native evaluate", native.get(pub)),
    ]
    svg = chart([(k, v) for k, v in bars if v is not None], m)
    if write:
        with open(SVG, "w") as f:
            f.write(svg)
        with open(DOC) as f:
            doc = f.read()
        if START not in doc or END not in doc:
            sys.exit(f"{DOC}: markers {START} … {END} not found")
        head, rest = doc.split(START, 1)
        _, tail = rest.split(END, 1)
        with open(DOC, "w") as f:
            f.write(f"{head}{START}\n{table}\n{END}{tail}")
        print(f"\nwrote {os.path.relpath(SVG, ROOT)} and the table in {os.path.relpath(DOC, ROOT)}")


def chart(bars, machine_name):
    """Horizontal bars, log scale (10 ns … 100 µs), one per host, for the benchmark request."""
    w, left, right, top, bar, gap = 960, 330, 90, 50, 22, 10
    h = top + len(bars) * (bar + gap) + 50
    lo, hi = 1.0, 5.0  # log10 ns
    x = lambda ns: left + (math.log10(max(ns, 10)) - lo) / (hi - lo) * (w - left - right)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14" font-weight="bold">One decision (publish, challenged): median latency per host, log scale</text>',
           f'<text x="{left}" y="36" fill="#555">{html.escape(machine_name)}; red: the peer, grey: the JSON path evaluate replaced</text>']
    for e in range(int(lo), int(hi) + 1):
        gx = x(10 ** e)
        label = {1: "10 ns", 2: "100 ns", 3: "1 µs", 4: "10 µs", 5: "100 µs"}[e]
        out.append(f'<line x1="{gx:.1f}" y1="{top - 5}" x2="{gx:.1f}" y2="{h - 40}" stroke="#ddd"/>')
        out.append(f'<text x="{gx:.1f}" y="{h - 25}" text-anchor="middle" fill="#555">{label}</text>')
    for i, (name, ns) in enumerate(bars):
        y = top + i * (bar + gap)
        colour = "#c0504d" if name.startswith("Cedar") else "#a6a6a6" if "through JSON" in name else "#4f81bd"
        out.append(f'<text x="{left - 8}" y="{y + bar * 0.7:.1f}" text-anchor="end">{html.escape(name)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{x(ns) - left:.1f}" height="{bar}" fill="{colour}"/>')
        out.append(f'<text x="{x(ns) + 6:.1f}" y="{y + bar * 0.7:.1f}">{html.escape(fmt(ns))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
