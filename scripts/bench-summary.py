#!/usr/bin/env python3
"""Prints a markdown table of criterion medians (target/criterion/**/new/estimates.json),
with each row's ratio to a chosen baseline benchmark.

usage: scripts/bench-summary.py [--baseline GROUP/NAME] [GROUP ...]
"""
import json, os, sys, glob

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "criterion")
args = sys.argv[1:]
baseline = None
if args[:1] == ["--baseline"]:
    baseline, args = args[1], args[2:]

rows = {}
for path in sorted(glob.glob(os.path.join(root, "*", "*", "new", "estimates.json"))):
    group, name = path.split(os.sep)[-4:-2]
    if args and group not in args:
        continue
    with open(path) as f:
        est = json.load(f)
    rows[f"{group}/{name}"] = est["median"]["point_estimate"]

def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"

base = rows.get(baseline) if baseline else None
print("| benchmark | median | " + (f"× {baseline} |" if base else "") )
print("|---|---|" + ("---|" if base else ""))
for k, v in rows.items():
    print(f"| `{k}` | {fmt(v)} | " + (f"{v / base:.2f} |" if base else ""))
