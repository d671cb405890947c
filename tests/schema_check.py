#!/usr/bin/env python3
"""Checks the shipped JSON Schemas against the corpus: every request and configuration that the
engine accepts must validate, a sample of documents the engine rejects must not, and every
decision the engine gives for the corpus's requests (and 2,000 generated ones) must validate
against the decision schema. Prints `N passed, N failed`; exits non-zero on any failure."""
import glob, json, os, subprocess, sys, tempfile
import jsonschema

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
load = lambda p: json.load(open(os.path.join(root, p)))
req_schema = jsonschema.Draft202012Validator(load("core/schema/request.schema.json"))
cfg_schema = jsonschema.Draft202012Validator(load("core/schema/config.schema.json"))
dec_schema = jsonschema.Draft202012Validator(load("core/schema/decision.schema.json"))
passed = failed = 0

def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL", what)

for path in sorted(glob.glob(os.path.join(root, "tests/conformance/*.json"))):
    for case in json.load(open(path)):
        name = f"{os.path.basename(path)}: {case['name']}"
        exp = case["expect"]
        path_err = exp.get("error_path", "") if exp.get("outcome") == "error" else None
        if "call" in case:
            # Entry points other than evaluate/authorize: only their configuration has a schema.
            semantic = ("config.webauthn.origins[0]", "config.webauthn.rp_id")  # origin vs rp_id: beyond a schema
            if path_err is not None and path_err.startswith("config.") and path_err not in semantic:
                check(not cfg_schema.is_valid(case["config"]), name + " (config rejected)")
            else:
                check(path_err in semantic or cfg_schema.is_valid(case.get("config", {})), name + " (config valid)")
            continue
        if path_err is None or path_err.startswith(("secrets", "present", "request")):
            check(cfg_schema.is_valid(case.get("config", {})), name + " (config valid)")
            if path_err is None or path_err.startswith(("secrets", "present")):
                check(req_schema.is_valid(case["request"]), name + " (request valid)")
        elif path_err.startswith("config."):
            # Semantic checks (email digits vs totp digits, stage order) are beyond a schema.
            if path_err not in ("config.email_code.digits", "config.login_verification.stages[0].end"):
                check(not cfg_schema.is_valid(case["config"]), name + " (config rejected)")
        elif path_err not in ("client.ip", "credential.cidr_whitelist[1]", "credential.cidr_whitelist[0]"):
            check(not req_schema.is_valid(case["request"]), name + " (request rejected)")

for path in sorted(glob.glob(os.path.join(root, "examples/requests/*.json"))):
    doc = json.load(open(path))
    check(req_schema.is_valid(doc.get("request", doc)), path)
for path in sorted(glob.glob(os.path.join(root, "examples/*.config.json"))):
    check(cfg_schema.is_valid(json.load(open(path))), path)

# Decisions: the engine's answers to the corpus's requests and to generated ones (default
# configuration), through the native engine of the CLI the tests built.
stepup = os.environ.get("STEPUP_BIN", os.path.join(root, "target/debug/stepup"))
requests = []
for path in sorted(glob.glob(os.path.join(root, "tests/conformance/*.json"))):
    for case in json.load(open(path)):
        if "call" not in case and isinstance(case.get("request"), dict):
            requests.append(json.dumps(case["request"]))
generated = subprocess.run([stepup, "differential", "generate", "--count", "2000", "--seed", "19"],
                           check=True, capture_output=True, text=True).stdout.splitlines()
with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
    f.write("\n".join(requests + generated) + "\n")
    lines = f.name
try:
    out = subprocess.run([stepup, "differential", "decide", lines], check=True, capture_output=True, text=True).stdout
finally:
    os.unlink(lines)
decided = errors = 0
for line in out.splitlines():
    doc = json.loads(line)
    if doc.get("outcome") == "error":
        errors += 1
        continue
    decided += 1
    check(dec_schema.is_valid(doc), "decision: " + line[:200])
if decided < 1000:
    check(False, f"only {decided} decisions to check")

print(f"schema: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
