#!/usr/bin/env python3
"""Writes the conformance corpus (SPEC §7) into tests/conformance/*.json.

Every expectation below is written by hand from SPEC.md. TOTP codes, recovery/email code hashes
and rollout buckets are computed here with Python's own hmac/hashlib — an implementation
independent of the Rust engine — so the corpus cross-checks it rather than echoing it.

Run: python3 tests/conformance/generate.py   (then commit the JSON files)
"""
import base64, calendar, copy, hashlib, hmac, json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))

def ts(s):
    fmt = "%Y-%m-%dT%H:%M:%SZ" if "T" in s else "%Y-%m-%d"
    import time
    return calendar.timegm(time.strptime(s, fmt))

NOW = ts("2026-06-01T12:00:00Z")
DAY, HOUR = 86400, 3600
P22 = {"preset": "npmjs-2022"}
P26 = {"preset": "npmjs-2026"}

# ---------- independent crypto helpers ----------
def hotp(secret, counter, digits=6, alg="sha1"):
    mac = hmac.new(secret, struct.pack(">Q", counter), alg).digest()
    o = mac[-1] & 15
    v = struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF
    return str(v % 10 ** digits).zfill(digits)

def totp(secret, t, digits=6, alg="sha1", period=30):
    return hotp(secret, t // period, digits, alg)

def b32(raw):
    return base64.b32encode(raw).decode().rstrip("=")

def code_record(salt_hex, code):
    norm = code.replace(" ", "").replace("-", "").lower()
    return {"salt": salt_hex, "hash": hashlib.sha256(bytes.fromhex(salt_hex) + norm.encode()).hexdigest()}

def bucket(salt, ident):
    return int.from_bytes(hashlib.sha256((salt + ident).encode()).digest()[:8], "big")

SEED = b"12345678901234567890"
SEED_B32 = b32(SEED)
SEC2 = bytes(range(1, 21))
SEC2_B32 = b32(SEC2)

# ---------- request builders ----------
def req(kind="package.publish", now=NOW, mode="auth-and-writes", factors=("totp",), cred=None, **kw):
    action = {"kind": kind}
    for k in ("package", "tag", "org", "target_account"):
        if k in kw:
            action[k] = kw.pop(k)
    if kind in ("package.publish", "package.stage-publish", "package.unpublish", "package.deprecate",
                "dist-tag.add", "dist-tag.remove", "owner.add", "owner.remove", "access.grant",
                "access.publishing-setting", "package.stage-approve", "package.star") and "package" not in action:
        action["package"] = "left-pad"
    account = {"id": kw.pop("id", "alice")}
    if mode is not None:
        account["tfa"] = None if mode == "none" else {"mode": mode, "factors": list(factors)}
    for k in ("publisher", "impact", "safeguard_until"):
        if k in kw:
            account[k] = kw.pop(k)
    r = {"now": now, "action": action, "account": account, "credential": cred or {"kind": "session"}}
    for k in ("client", "package_info", "orgs", "proofs", "failures"):
        if k in kw:
            r["package" if k == "package_info" else k] = kw.pop(k)
    assert not kw, kw
    return r

def case(name, request, expect, config=None, secrets=None, present=None):
    c = {"name": name}
    if config is not None:
        c["config"] = config
    c["request"] = request
    if secrets is not None:
        c["secrets"] = secrets
    if present is not None:
        c["present"] = present
    c["expect"] = expect
    return c

def allow(reason="allowed", rule=None, **e):
    d = {"outcome": "allow", "reason": reason, "npm_status": 200}
    if rule:
        d["rule"] = rule
    d.update(e)
    return d

DENY_STATUS = {"token-expired": 401, "ip-not-allowed": 401, "throttled": 429}  # SPEC §8.7

def deny(reason, rule=None, status=None, **e):
    d = {"outcome": "deny", "reason": reason, "npm_status": status or DENY_STATUS.get(reason, 403)}
    if rule:
        d["rule"] = rule
    d.update(e)
    return d

def chal(reason="otp-required", rule=None, factors=None, **e):
    d = {"outcome": "challenge", "reason": reason, "npm_status": 401, "npm_www_authenticate": "OTP"}
    if rule:
        d["rule"] = rule
    if factors is not None:
        d["challenge"] = {"factors": factors}
    d.update(e)
    return d

def err(path):
    return {"outcome": "error", "error_path": path}

TF = ["totp", "recovery-code"]
ALL3 = ["webauthn", "totp", "recovery-code"]
GT = lambda **k: dict({"kind": "granular-token"}, **k)
RW_ALL = {"all": True, "permission": "read-write"}

files = {}

# ---------- 01 credential (rule 1) ----------
c = []
exp = NOW + 10
c += [
    case("granular token one second before expiry is not expired", req("package.read", cred=GT(expires_at=NOW + 1, packages=RW_ALL)), allow("allowed", "default")),
    case("granular token at expires_at is expired (now >= expires_at)", req("package.read", cred=GT(expires_at=NOW, packages=RW_ALL)), deny("token-expired", "credential.expired", 401, npm_www_authenticate=None)),
    case("expired token is refused even for a publish a bypass token could do", req(cred=GT(expires_at=NOW - 1, bypass_2fa=True, packages=RW_ALL)), deny("token-expired", "credential.expired", 401)),
    case("legacy token with expiry in the past is expired", req("package.read", cred={"kind": "legacy-token", "type": "publish", "expires_at": NOW - 100}), deny("token-expired", "credential.expired", 401)),
    case("oidc credential at its expiry is expired", req(cred={"kind": "oidc", "package": "left-pad", "expires_at": NOW}), deny("token-expired", "credential.expired", 401)),
]
for ip, inside in [("192.0.2.0", True), ("192.0.2.255", True), ("192.0.3.0", False), ("192.0.1.255", False), ("::ffff:192.0.2.9", True), ("2001:db8::1", False)]:
    cred = {"kind": "legacy-token", "type": "publish", "cidr_whitelist": ["192.0.2.0/24"]}
    r = req("package.read", cred=cred, client={"ip": ip})
    c.append(case(f"IPv4 allow-list 192.0.2.0/24, client {ip}", r,
                  allow("allowed", "default") if inside else deny("ip-not-allowed", "credential.ip-allowlist", 401, npm_www_authenticate="ipaddress")))
for ip, inside in [("2001:db8::", True), ("2001:db8:ffff:ffff::1", True), ("2001:db9::", False), ("2001:db7:ffff::1", False), ("192.0.2.1", False)]:
    cred = GT(packages={"all": True, "permission": "read-only"}, cidr_whitelist=["2001:db8::/32"])
    r = req("package.read", cred=cred, client={"ip": ip})
    c.append(case(f"IPv6 allow-list 2001:db8::/32, client {ip}", r, allow("allowed") if inside else deny("ip-not-allowed", "credential.ip-allowlist", 401)))
c += [
    case("allow-list with no client ip is ip-not-allowed", req("package.read", cred=GT(packages=RW_ALL, cidr_whitelist=["10.0.0.0/8"])), deny("ip-not-allowed", "credential.ip-allowlist", 401, npm_www_authenticate="ipaddress")),
    case("empty allow-list allows any client", req("package.read", cred=GT(packages=RW_ALL, cidr_whitelist=[]), client={"ip": "203.0.113.7"}), allow()),
    case("several CIDRs: second one matches", req("package.read", cred=GT(packages=RW_ALL, cidr_whitelist=["10.0.0.0/8", "203.0.113.0/28"]), client={"ip": "203.0.113.15"}), allow()),
    case("several CIDRs: just outside the /28", req("package.read", cred=GT(packages=RW_ALL, cidr_whitelist=["10.0.0.0/8", "203.0.113.0/28"]), client={"ip": "203.0.113.16"}), deny("ip-not-allowed")),
    case("expiry is checked before the allow-list", req("package.read", cred=GT(packages=RW_ALL, expires_at=NOW, cidr_whitelist=["10.0.0.0/8"])), deny("token-expired", "credential.expired", 401)),
    case("legacy read-only token may read", req("package.read", cred={"kind": "legacy-token", "type": "read-only"}), allow()),
    case("legacy read-only token may not publish", req(cred={"kind": "legacy-token", "type": "read-only"}), deny("token-read-only", "credential.read-only")),
    case("legacy read-only token may not log in (login is not a read)", req("login", cred={"kind": "legacy-token", "type": "read-only"}), deny("token-read-only")),
    case("legacy read-only token may not star", req("package.star", cred={"kind": "legacy-token", "type": "read-only"}), deny("token-read-only")),
    case("granular token covering the package by name publishes (with OTP)", req(cred=GT(packages={"names": ["left-pad"], "permission": "read-write"})), chal("otp-required", "account-mode.auth-and-writes", TF)),
    case("granular token not covering the package is token-scope", req(cred=GT(packages={"names": ["right-pad"], "permission": "read-write"})), deny("token-scope", "credential.scope")),
    case("scope @acme covers @acme/widgets", req(package="@acme/widgets", cred=GT(packages={"scopes": ["@acme"], "permission": "read-write"})), chal("otp-required")),
    case("scope @acme does not cover @acme-evil/widgets", req(package="@acme-evil/widgets", cred=GT(packages={"scopes": ["@acme"], "permission": "read-write"})), deny("token-scope")),
    case("scope @acme does not cover the unscoped name acme", req(package="acme", cred=GT(packages={"scopes": ["@acme"], "permission": "read-write"})), deny("token-scope")),
    case("packages.all covers any package", req(package="anything", cred=GT(packages=RW_ALL)), chal("otp-required")),
    case("covered with no-access is token-scope (coverage first)", req("package.unpublish", package="left-pad", cred=GT(packages={"names": ["left-pad"], "permission": "no-access"})), deny("token-scope", "credential.scope")),
    case("SPEC 8.24: a read covered with no-access goes out anonymously", req("package.read", package="left-pad", cred=GT(packages={"names": ["left-pad"], "permission": "no-access"})), allow("allowed", "credential.scope", effects=[{"kind": "read-anonymously"}])),
    case("SPEC 8.24: a read outside the token's names goes out anonymously", req("package.read", package="lodash", cred=GT(packages={"names": ["left-pad"], "permission": "read-write"})), allow("allowed", "credential.scope", effects=[{"kind": "read-anonymously"}])),
    case("SPEC 8.24: a read outside the token's scopes goes out anonymously", req("package.read", package="@other/x", cred=GT(packages={"scopes": ["@acme"], "permission": "read-only"})), allow("allowed", "credential.scope", effects=[{"kind": "read-anonymously"}])),
    case("SPEC 8.24: a covered read carries no anonymous effect", req("package.read", package="@acme/x", cred=GT(packages={"scopes": ["@acme"], "permission": "read-only"})), allow("allowed", "default", effects_exact=[])),
    case("SPEC 8.24: an expired token's read is still refused (expiry before scope)", req("package.read", package="lodash", cred=GT(packages={"names": ["left-pad"], "permission": "read-only"}, expires_at=NOW - 1)), deny("token-expired")),
    case("covered read-only token may read the package", req("package.read", package="left-pad", cred=GT(packages={"names": ["left-pad"], "permission": "read-only"})), allow()),
    case("covered read-only token may not publish", req(cred=GT(packages={"names": ["left-pad"], "permission": "read-only"})), deny("token-read-only", "credential.read-only")),
    case("uncovered read-only token publishing is token-scope, not read-only", req(cred=GT(packages={"names": ["x"], "permission": "read-only"})), deny("token-scope")),
    case("granular token without a packages axis cannot touch packages", req("package.deprecate", package="left-pad", cred=GT()), deny("token-scope")),
    case("SPEC 8.24: granular token without a packages axis reads anonymously", req("package.read", package="left-pad", cred=GT()), allow("allowed", "credential.scope", effects=[{"kind": "read-anonymously"}])),
    case("package.read with no target package skips coverage (SPEC 8.5)", req("package.read", cred=GT()), allow()),
    case("target package comes from package.name when action has none", {**req("package.unpublish", cred=GT(packages={"names": ["from-package"], "permission": "read-write"})), "action": {"kind": "package.unpublish"}, "package": {"name": "from-package"}}, chal("otp-required")),
    case("org axis covers org governance of that org", req("org.member.add", org="acme", cred=GT(orgs={"names": ["acme"], "permission": "read-write"})), chal("otp-required", "account-mode.auth-and-writes")),
    case("org axis does not cover another org", req("org.member.add", org="other", cred=GT(orgs={"names": ["acme"], "permission": "read-write"})), deny("token-scope")),
    case("org read-only token may read the org", req("org.read", org="acme", cred=GT(orgs={"names": ["acme"], "permission": "read-only"})), allow()),
    case("org read-only token may not remove members", req("org.member.remove", org="acme", cred=GT(orgs={"names": ["acme"], "permission": "read-only"})), deny("token-read-only")),
    case("org permission never covers the org's packages", req(package="@acme/x", cred=GT(orgs={"names": ["acme"], "permission": "read-write"})), deny("token-scope")),
    case("no target: token.create with a read-write axis is not read-only", req("token.create", cred=GT(packages=RW_ALL)), chal("otp-required", "account-mode.auth-and-writes")),
    case("no target: token.create with only read-only axes is read-only", req("token.create", cred=GT(packages={"all": True, "permission": "read-only"}, orgs={"names": ["acme"], "permission": "read-only"})), deny("token-read-only")),
    case("no target: profile.read with read-only token is fine", req("profile.read", cred=GT(packages={"all": True, "permission": "read-only"})), allow()),
    case("oidc publishes its own package", req(cred={"kind": "oidc", "package": "left-pad", "permissions": ["createPackage"]}), allow("allowed-trusted-publisher", "trusted-publisher")),
    case("oidc absent permissions means createPackage", req(cred={"kind": "oidc", "package": "left-pad"}), allow("allowed-trusted-publisher")),
    case("oidc for another package is oidc-scope", req(package="right-pad", cred={"kind": "oidc", "package": "left-pad"}), deny("oidc-scope", "credential.oidc-scope")),
    case("oidc stage-publish needs createStagedPackage", req("package.stage-publish", cred={"kind": "oidc", "package": "left-pad"}), deny("oidc-scope")),
    case("oidc stage-publish with createStagedPackage", req("package.stage-publish", cred={"kind": "oidc", "package": "left-pad", "permissions": ["createStagedPackage"]}), allow("allowed-trusted-publisher")),
    case("oidc with only createStagedPackage cannot publish", req(cred={"kind": "oidc", "package": "left-pad", "permissions": ["createStagedPackage"]}), deny("oidc-scope")),
    case("oidc cannot unpublish", req("package.unpublish", cred={"kind": "oidc", "package": "left-pad"}), deny("oidc-scope")),
    case("oidc cannot read the profile (whoami)", req("profile.read", cred={"kind": "oidc", "package": "left-pad"}), deny("oidc-scope")),
    case("oidc cannot approve a staged publish", req("package.stage-approve", cred={"kind": "oidc", "package": "left-pad", "permissions": ["createPackage", "createStagedPackage"]}), deny("oidc-scope")),
    case("oidc target from package.name", {**req(cred={"kind": "oidc", "package": "pkg-b"}), "action": {"kind": "package.publish"}, "package": {"name": "pkg-b"}}, allow("allowed-trusted-publisher")),
]
files["01-credential"] = c

# ---------- 02 throttle (rule 2) ----------
c = []
def fails(*offsets):
    return [NOW - o for o in offsets]
c += [
    case("4 account failures in 5 minutes: still a challenge", req(failures={"account": fails(10, 20, 30, 40)}), chal("otp-required")),
    case("5 account failures in 5 minutes: throttled until the oldest leaves", req(failures={"account": fails(10, 20, 30, 40, 50)}), deny("throttled", "throttle.account", 429, retry_after=250)),
    case("failure exactly 300 s ago is outside the 5-minute window", req(failures={"account": fails(0, 10, 20, 30, 300)}), chal("otp-required")),
    case("failure 299 s ago is inside the 5-minute window", req(failures={"account": fails(0, 10, 20, 30, 299)}), deny("throttled", retry_after=1)),
    case("future failure times do not count", req(failures={"account": fails(10, 20, 30, 40) + [NOW + 5]}), chal("otp-required")),
    case("20 account failures in an hour", req(failures={"account": [NOW - 3000 + i * 100 for i in range(20)]}), deny("throttled", "throttle.account", 429, retry_after=600)),
    case("19 account failures in an hour", req(failures={"account": [NOW - 3000 + i * 150 for i in range(19)]}), chal("otp-required")),
    case("50 account failures in a day", req(failures={"account": [NOW - 80000 + i * 1000 for i in range(50)]}), deny("throttled", "throttle.account", retry_after=6400)),
    case("10 IP failures in 5 minutes", req(failures={"ip": fails(*range(10, 110, 10))}), deny("throttled", "throttle.ip", 429, retry_after=200)),
    case("9 IP failures in 5 minutes", req(failures={"ip": fails(*range(10, 100, 10))}), chal("otp-required")),
    case("account and IP both full: the larger retry_after wins (ip)", req(failures={"account": fails(250, 260, 270, 280, 290), "ip": fails(*range(10, 110, 10))}), deny("throttled", "throttle.ip", retry_after=200)),
    case("account and IP both full: the larger retry_after wins (account)", req(failures={"account": fails(10, 20, 30, 40, 50), "ip": fails(*range(200, 300, 10))}), deny("throttled", "throttle.account", retry_after=250)),
    case("throttling does not touch a decision that needs no code", req("package.read", failures={"account": fails(10, 20, 30, 40, 50)}), allow()),
    case("throttling does not turn a deny into throttled", req(cred={"kind": "legacy-token", "type": "read-only"}, failures={"account": fails(1, 2, 3, 4, 5)}), deny("token-read-only")),
    case("a fresh proof allows despite a full window", req(failures={"account": fails(1, 2, 3, 4, 5)}, proofs=[{"factor": "totp", "verified_at": NOW - 10}]), allow("allowed-with-proof")),
    case("login verification challenge is throttled too", req("login", mode="none", publisher=True, failures={"account": fails(1, 2, 3, 4, 5)}), deny("throttled", "throttle.account", retry_after=295)),
    case("custom window: 3 per minute", req(failures={"account": fails(5, 10, 15)}), deny("throttled", retry_after=45), config={"throttle": {"account": [{"limit": 3, "window_seconds": 60}]}}),
    case("custom window: no IP windows", req(failures={"ip": fails(*range(1, 30))}), chal("otp-required"), config={"throttle": {"ip": []}}),
]
files["02-throttle"] = c

# ---------- 03 safeguard (rule 3) ----------
c = []
SG = NOW + 3600
c += [
    case("safeguard: publish is refused", req(safeguard_until=SG), deny("safeguard-read-only", "safeguard")),
    case("safeguard: reads pass", req("package.read", safeguard_until=SG), allow()),
    case("safeguard: login passes (and is stepped up)", req("login", safeguard_until=SG), chal("otp-required", "account-mode.auth-and-writes")),
    case("safeguard: token.create is refused", req("token.create", safeguard_until=SG), deny("safeguard-read-only")),
    case("safeguard: email.change is refused", req("email.change", safeguard_until=SG), deny("safeguard-read-only")),
    case("safeguard: org membership change is refused", req("org.member.add", org="acme", safeguard_until=SG), deny("safeguard-read-only")),
    case("safeguard: unpublish is refused", req("package.unpublish", safeguard_until=SG), deny("safeguard-read-only")),
    case("safeguard: access.visibility is refused", req("access.visibility", safeguard_until=SG), deny("safeguard-read-only")),
    case("safeguard ends at safeguard_until (now == until is not active)", req(safeguard_until=NOW), chal("otp-required")),
    case("safeguard one second before it ends", req(safeguard_until=NOW + 1), deny("safeguard-read-only")),
    case("safeguard beats a bypass token", req(safeguard_until=SG, cred=GT(bypass_2fa=True, packages=RW_ALL)), deny("safeguard-read-only")),
    case("safeguard beats trusted publishing", req(safeguard_until=SG, cred={"kind": "oidc", "package": "left-pad"}), deny("safeguard-read-only")),
    case("credential checks come before the safeguard", req(safeguard_until=SG, cred=GT(expires_at=NOW, packages=RW_ALL)), deny("token-expired")),
    case("safeguard null means none", req(safeguard_until=None), chal("otp-required")),
]
files["03-safeguard"] = c

# ---------- 04 bypass tokens and trusted publishers (rule 4) ----------
c = []
BYP = GT(bypass_2fa=True, packages=RW_ALL, orgs={"names": ["acme"], "permission": "read-write"})
AUTO = {"kind": "legacy-token", "type": "automation"}
c += [
    case("bypass token publishes without OTP", req(cred=BYP), allow("allowed-bypass-token", "bypass-token")),
    case("bypass token publishes for an account without 2FA", req(mode="none", cred=BYP), allow("allowed-bypass-token")),
    case("bypass token unpublishes without OTP", req("package.unpublish", cred=BYP), allow("allowed-bypass-token")),
    case("bypass token deprecates without OTP", req("package.deprecate", cred=BYP), allow("allowed-bypass-token")),
    case("bypass token may not create tokens (2026)", req("token.create", cred=BYP), deny("bypass-token-forbidden", "bypass-token.forbidden")),
    case("bypass token may not change email (2026)", req("email.change", cred=BYP), deny("bypass-token-forbidden")),
    case("bypass token may not disable 2FA (2026)", req("tfa.disable", cred=BYP), deny("bypass-token-forbidden")),
    case("bypass token may not add owners (2026)", req("owner.add", cred=BYP), deny("bypass-token-forbidden")),
    case("bypass token may not configure trust (2026)", req("trust.configure", cred=BYP), deny("bypass-token-forbidden")),
    case("bypass token may not change org membership (2026)", req("org.member.add", org="acme", cred=BYP), deny("bypass-token-forbidden")),
    case("bypass token may create tokens under npmjs-2022", req("token.create", cred=BYP), allow("allowed-bypass-token"), config=P22),
    case("bypass token may add owners under npmjs-2022", req("owner.add", cred=BYP), allow("allowed-bypass-token"), config=P22),
    case("bypass restriction configurable off", req("token.create", cred=BYP), allow("allowed-bypass-token"), config={"bypass_token_forbidden_classes": []}),
    case("bypass restriction configurable per class", req("package.unpublish", cred=BYP), deny("bypass-token-forbidden"), config={"bypass_token_forbidden_classes": ["package-write"]}),
    case("bypass token to a tfa-no-tokens package is tokens-disallowed", req(cred=BYP, package_info={"name": "left-pad", "publishing_access": "tfa-no-tokens"}), deny("tokens-disallowed", "package-access.tfa-no-tokens")),
    case("bypass token may unpublish a tfa-no-tokens package (setting is about publishing)", req("package.unpublish", cred=BYP, package_info={"name": "left-pad", "publishing_access": "tfa-no-tokens"}), allow("allowed-bypass-token")),
    case("legacy automation token publishes without OTP", req(cred=AUTO), allow("allowed-bypass-token", "bypass-token")),
    case("legacy automation token to tfa-no-tokens is tokens-disallowed", req(cred=AUTO, package_info={"publishing_access": "tfa-no-tokens"}), deny("tokens-disallowed")),
    case("legacy automation token may not create tokens (2026)", req("token.create", cred=AUTO), deny("bypass-token-forbidden")),
    case("non-bypass granular token to tfa-no-tokens is tokens-disallowed", req(cred=GT(packages=RW_ALL), package_info={"publishing_access": "tfa-no-tokens"}), deny("tokens-disallowed", "package-access.tfa-no-tokens")),
    case("legacy publish token to tfa-no-tokens is tokens-disallowed", req(cred={"kind": "legacy-token", "type": "publish"}, package_info={"publishing_access": "tfa-no-tokens"}), deny("tokens-disallowed")),
    case("session to tfa-no-tokens is challenged", req(package_info={"publishing_access": "tfa-no-tokens"}), chal("otp-required", "account-mode.auth-and-writes")),
    case("oidc to tfa-no-tokens is still trusted", req(cred={"kind": "oidc", "package": "left-pad"}, package_info={"publishing_access": "tfa-no-tokens"}), allow("allowed-trusted-publisher", "trusted-publisher")),
    case("oidc for an account without 2FA is trusted (floor does not apply)", req(mode="none", cred={"kind": "oidc", "package": "left-pad"}), allow("allowed-trusted-publisher")),
    case("bypass flag false is an ordinary granular token", req(cred=GT(bypass_2fa=False, packages=RW_ALL)), chal("otp-required")),
    case("bypass token reading is allowed-bypass-token", req("package.read", cred=BYP), allow("allowed-bypass-token")),
    case("bypass token beats mandatory 2FA cohort (rule 4 before 5)", req(mode="none", cred=BYP, impact={"dependents_rank": 5}), allow("allowed-bypass-token")),
    case("bypass token stage-publish to tfa-no-tokens is tokens-disallowed", req("package.stage-publish", cred=BYP, package_info={"publishing_access": "tfa-no-tokens"}), deny("tokens-disallowed")),
]
files["04-bypass"] = c

# ---------- 05 mandatory 2FA (rule 5) ----------
c = []
T100 = ts("2022-02-01")
T500 = ts("2022-05-31")
THI = ts("2022-11-01")
NO = dict(mode="none")
c += [
    case("top-100 maintainer without 2FA cannot publish once the cohort starts", req(now=T100, **NO, impact={"dependents_rank": 100}), deny("tfa-enforced", "mandatory-2fa.cohort.top-100", effects=[{"kind": "revoke-web-sessions"}]), config=P22),
    case("top-100 cohort one second before it starts", req(now=T100 - 1, **NO, impact={"dependents_rank": 100}, package_info={"publishing_access": "none"}), allow(), config=P22),
    case("rank 101 is not top-100 in February 2022", req(now=T100, **NO, impact={"dependents_rank": 101}, package_info={"publishing_access": "none"}), allow(), config=P22),
    case("rank 500 enters with top-500 on 2022-05-31", req(now=T500, **NO, impact={"dependents_rank": 500}), deny("tfa-enforced", "mandatory-2fa.cohort.top-500"), config=P22),
    case("rank 500 a second before top-500 starts", req(now=T500 - 1, **NO, impact={"dependents_rank": 500}, package_info={"publishing_access": "none"}), allow(), config=P22),
    case("rank 501 is not top-500", req(now=T500 + DAY, **NO, impact={"dependents_rank": 501}, package_info={"publishing_access": "none"}), allow(), config=P22),
    case("exactly 1,000,000 weekly downloads is not high impact", req(now=THI, **NO, impact={"weekly_downloads": 1000000}, package_info={"publishing_access": "none"}), allow(), config=P22),
    case("1,000,001 weekly downloads is high impact from 2022-11-01", req(now=THI, **NO, impact={"weekly_downloads": 1000001}), deny("tfa-enforced", "mandatory-2fa.cohort.high-impact"), config=P22),
    case("high impact by downloads a second before the cohort", req(now=THI - 1, **NO, impact={"weekly_downloads": 5000000}, package_info={"publishing_access": "none"}), allow(), config=P22),
    case("499 dependents is not high impact", req(now=THI, **NO, impact={"dependents": 499}, package_info={"publishing_access": "none"}), allow(), config=P22),
    case("500 dependents is high impact", req(now=THI, **NO, impact={"dependents": 500}), deny("tfa-enforced", "mandatory-2fa.cohort.high-impact"), config=P22),
    case("earliest-dated cohort names the decision (top-100 over high-impact)", req(**NO, impact={"dependents_rank": 3, "weekly_downloads": 90000000, "dependents": 90000}), deny("tfa-enforced", "mandatory-2fa.cohort.top-100", effects=[{"kind": "revoke-web-sessions"}])),
    case("cohort member cannot change email", req("email.change", **NO, impact={"dependents_rank": 10}), deny("tfa-enforced")),
    case("cohort member cannot add owners", req("owner.add", **NO, impact={"dependents_rank": 10}), deny("tfa-enforced")),
    case("cohort member cannot add org members", req("org.member.add", org="acme", **NO, impact={"dependents_rank": 10}), deny("tfa-enforced")),
    case("cohort member cannot unpublish", req("package.unpublish", **NO, impact={"dependents_rank": 10}), deny("tfa-enforced")),
    case("cohort member cannot grant access", req("access.grant", **NO, impact={"dependents_rank": 10}), deny("tfa-enforced")),
    case("cohort member cannot stage-publish", req("package.stage-publish", **NO, impact={"dependents_rank": 10}), deny("tfa-enforced")),
    case("cohort member can still enable 2FA", req("tfa.enable", **NO, impact={"dependents_rank": 10}), allow()),
    case("cohort member can still log in", req("login", **NO, impact={"dependents_rank": 10}, publisher=True), chal("login-verification-required", "login-verification.stage", ["email-otp"])),
    case("cohort member can remove org members (not listed)", req("org.member.remove", org="acme", **NO, impact={"dependents_rank": 10}), allow()),
    case("cohort member can update the profile", req("profile.update", **NO, impact={"dependents_rank": 10}), allow()),
    case("cohort member can read", req("package.read", **NO, impact={"dependents_rank": 10}), allow()),
    case("cohort member with 2FA is simply stepped up", req(impact={"dependents_rank": 10}), chal("otp-required")),
    case("member of a 2FA-enforcing org cannot publish", req(**NO, orgs=[{"name": "acme", "enforce_tfa": True}]), deny("tfa-enforced", "mandatory-2fa.org", effects=[{"kind": "revoke-web-sessions"}])),
    case("member of a non-enforcing org falls through to the publish floor", req(**NO, orgs=[{"name": "acme", "enforce_tfa": False}]), deny("tfa-required-to-publish", "publish-floor")),
    case("cohort names the decision before org enforcement", req(**NO, impact={"dependents_rank": 10}, orgs=[{"name": "acme", "enforce_tfa": True}]), deny("tfa-enforced", "mandatory-2fa.cohort.top-100")),
    case("member with 2FA cannot disable it while in an enforcing org", req("tfa.disable", orgs=[{"name": "acme", "enforce_tfa": True}]), deny("tfa-enforced", "mandatory-2fa.org")),
    case("member with 2FA may disable it (with OTP) outside enforcing orgs", req("tfa.disable", orgs=[{"name": "acme", "enforce_tfa": False}]), chal("otp-required", "account-mode.auth-and-writes")),
    case("custom cohort with a later date", req(now=ts("2026-07-01"), **NO, impact={"dependents_rank": 900}), deny("tfa-enforced", "mandatory-2fa.cohort.top-1000"), config={"cohorts": [{"name": "top-1000", "from": "2026-07-01", "dependents_rank_at_most": 1000}]}),
    case("custom cohort not yet in force", req(now=ts("2026-06-30"), **NO, impact={"dependents_rank": 900}, package_info={"publishing_access": "none"}), allow(), config={"preset": "npmjs-2022", "cohorts": [{"name": "top-1000", "from": "2026-07-01", "dependents_rank_at_most": 1000}]}),
    case("custom high-impact thresholds", req(**NO, impact={"weekly_downloads": 20001}), deny("tfa-enforced", "mandatory-2fa.cohort.high-impact"), config={"high_impact": {"weekly_downloads_over": 20000, "dependents_at_least": 50}}),
]
files["05-mandatory-2fa"] = c

# ---------- 06 publish floor (rule 6) ----------
c = []
c += [
    case("2026: publishing without 2FA is refused by the floor", req(**NO), deny("tfa-required-to-publish", "publish-floor", 403)),
    case("2026: floor error string is npm's", req(**NO), {"outcome": "deny", "message_contains": "Two-factor authentication or granular access token with bypass 2fa enabled is required to publish packages."}),
    case("2026: floor applies to stage-publish too", req("package.stage-publish", **NO), deny("tfa-required-to-publish")),
    case("2026: floor applies to a package with access none", req(**NO, package_info={"publishing_access": "none"}), deny("tfa-required-to-publish")),
    case("2026: tfa mode disabled counts as no 2FA", req(mode="disabled", factors=["totp"]), deny("tfa-required-to-publish")),
    case("2026: floor does not gate unpublish", req("package.unpublish", **NO), allow()),
    case("2022: tfa-or-token package without 2FA is package-requires-tfa", req(**NO, package_info={"publishing_access": "tfa-or-token"}), deny("package-requires-tfa", "package-access.requires-tfa", 403), config=P22),
    case("2022: tfa-no-tokens package without 2FA is package-requires-tfa", req(**NO, package_info={"publishing_access": "tfa-no-tokens"}), deny("package-requires-tfa"), config=P22),
    case("2022: npm's package-requires-tfa text", req(**NO, package_info={"publishing_access": "tfa-or-token"}), {"outcome": "deny", "message_contains": "This package requires that publishers enable TFA and provide an OTP to publish."}, config=P22),
    case("2022: access none without 2FA publishes", req(**NO, package_info={"publishing_access": "none"}), allow("allowed", "default"), config=P22),
    case("2022: absent publishing_access means none", req(**NO), allow("allowed", "default"), config=P22),
    case("2022 with publish_floor on", req(**NO), deny("tfa-required-to-publish"), config={"preset": "npmjs-2022", "publish_floor": True}),
    case("2026 with publish_floor off falls to the package setting", req(**NO), deny("package-requires-tfa"), config={"publish_floor": False}),
    case("2026 with publish_floor off and access none", req(**NO, package_info={"publishing_access": "none"}), allow(), config={"publish_floor": False}),
    case("2026: default_publishing_access override to none", req(mode="auth-only"), allow(), config={"default_publishing_access": "none"}),
]
files["06-publish-floor"] = c

# ---------- 07 step-up (rule 7) ----------
c = []
AO = dict(mode="auth-only")
for kind, needs in [("login", True), ("profile.update", True), ("email.change", True), ("password.change", True), ("tfa.mode-change", True), ("recovery-codes.regenerate", True), ("token.create", True), ("token.revoke", True),
                    ("package.read", False), ("token.list", False), ("package.unpublish", False), ("owner.add", False), ("org.member.add", False), ("dist-tag.add", False)]:
    extra = {"org": "acme"} if kind.startswith("org.") else {}
    c.append(case(f"auth-only: {kind}", req(kind, **AO, **extra), chal("otp-required", "account-mode.auth-only", TF) if needs else allow("allowed", "default")))
for kind, extra, needs in [("package.publish", {}, True), ("package.unpublish", {}, True), ("package.deprecate", {}, True), ("dist-tag.add", {"tag": "latest"}, True), ("dist-tag.add", {}, True),
                           ("dist-tag.add", {"tag": "beta"}, True), ("dist-tag.remove", {"tag": "next"}, True), ("dist-tag.remove", {"tag": "latest"}, True), ("package.star", {}, False),
                           ("owner.add", {}, True), ("owner.remove", {}, True), ("access.visibility", {}, True), ("access.publishing-setting", {}, True), ("trust.configure", {}, True),
                           ("org.member.add", {"org": "acme"}, True), ("org.team.change", {"org": "acme"}, True), ("org.tfa-enforcement", {"org": "acme"}, True), ("package.read", {}, False), ("org.read", {"org": "acme"}, False)]:
    label = kind + (f" tag={extra['tag']}" if "tag" in extra else "")
    c.append(case(f"auth-and-writes: {label}", req(kind, **extra), chal("otp-required", "account-mode.auth-and-writes", TF) if needs else allow("allowed", "default")))
c += [
    case("2026: auth-only publish is stepped up by the package setting", req(**AO), chal("otp-required", "package-access.publish", TF)),
    case("2022: auth-only publish to an access-none package needs nothing", req(**AO, package_info={"publishing_access": "none"}), allow(), config=P22),
    case("2022: auth-only publish to a tfa-or-token package is stepped up", req(**AO, package_info={"publishing_access": "tfa-or-token"}), chal("otp-required", "package-access.publish"), config=P22),
    case("auth-and-writes publish: account mode names the decision before the package setting", req(), chal("otp-required", "account-mode.auth-and-writes")),
    case("basic auth with 2FA: even a read is stepped up", req("package.read", **AO, cred={"kind": "basic"}), chal("otp-required", "credential.basic", TF)),
    case("basic auth login with 2FA: account mode names it", req("login", **AO, cred={"kind": "basic"}), chal("otp-required", "account-mode.auth-only")),
    case("rule 8 amended: basic auth without 2FA is a login on every request (a read too)", req("package.read", **NO, cred={"kind": "basic"}), chal("login-verification-required", "login-verification.stage", ["email-otp"])),
    case("rule 8 amended: basic auth without 2FA publishing is refused by the floor first", req(**NO, cred={"kind": "basic"}), deny("tfa-required-to-publish", "publish-floor")),
    case("rule 8 amended: basic auth without 2FA, token create, needs the emailed code", req("token.create", **NO, cred={"kind": "basic"}), chal("login-verification-required", "login-verification.stage", ["email-otp"])),
    case("rule 8 amended: basic auth before the rollout needs nothing", req("package.read", now=ts("2021-12-01"), **NO, cred={"kind": "basic"}), allow("allowed", "default"), config=P22),
    case("rule 8 amended: basic auth during a brown-out is verified", req("package.read", now=ts("2022-02-16T06:00:00Z"), id="zz-not-in-ramp", **NO, cred={"kind": "basic"}, publisher=False), chal("login-verification-required"), config=P22),
    case("email change without 2FA needs the emailed code (the address receives the next one)", req("email.change", **NO), chal("login-verification-required", "login-verification.stage", ["email-otp"])),
    case("email change with 2FA needs a second factor", req("email.change", **AO), chal("otp-required", "account-mode.auth-only", TF)),
    case("rule 7: 2022 exempts dist-tags other than latest", req("dist-tag.add", tag="beta"), allow("allowed", "default"), config=P22),
    case("rule 7: 2022 still asks for a code to move latest", req("dist-tag.add", tag="latest"), chal("otp-required", "account-mode.auth-and-writes"), config=P22),
    case("rule 7: 2026 asks for a code to move any dist-tag", req("dist-tag.remove", tag="beta"), chal("otp-required", "account-mode.auth-and-writes", TF)),
    case("rule 7: 2026 with exempt_non_latest_dist_tags restores the exemption", req("dist-tag.add", tag="next"), allow("allowed", "default"), config={"exempt_non_latest_dist_tags": True}),
    case("stage-publish never needs a proof", req("package.stage-publish"), allow("allowed", "default")),
    case("stage-publish never needs a proof even with strong factor config", req("package.stage-publish"), allow(), config={"strong_factor_actions": ["package.stage-publish"]}),
    case("stage-approve always needs one (auth-only)", req("package.stage-approve", **AO), chal("otp-required", "stage-approve", TF)),
    case("stage-approve in auth-and-writes is named by the account mode", req("package.stage-approve"), chal("otp-required", "account-mode.auth-and-writes")),
    case("stage-approve by an account without 2FA lists every factor (2022)", req("package.stage-approve", **NO), chal("otp-required", "stage-approve", ALL3), config=P22),
    case("factors: webauthn-only account", req(factors=["webauthn"]), chal("otp-required", factors=["webauthn", "recovery-code"])),
    case("factors: webauthn and totp", req(factors=["totp", "webauthn"]), chal("otp-required", factors=ALL3)),
    case("factors: none enrolled lists the policy's factors", req(factors=[]), chal("otp-required", factors=ALL3)),
    case("factors: recovery-code alone does not enrol recovery codes for itself", req(factors=["recovery-code"]), chal("otp-required", factors=["recovery-code"])),
    case("strong factor action: totp-only account is asked for webauthn", req(), chal("otp-required", "account-mode.auth-and-writes", ["webauthn"]), config={"strong_factor_actions": ["package.publish"]}),
    case("strong factor action: a fresh totp proof does not count", req(proofs=[{"factor": "totp", "verified_at": NOW - 5}]), chal("otp-required", factors=["webauthn"]), config={"strong_factor_actions": ["package.publish"]}),
    case("strong factor action: a fresh webauthn proof does", req(factors=["webauthn", "totp"], proofs=[{"factor": "webauthn", "verified_at": NOW - 5}]), allow("allowed-with-proof", "account-mode.auth-and-writes"), config={"strong_factor_actions": ["package.publish"]}),
    case("strong factor action alone names the rule (auth-only unpublish)", req("package.unpublish", **AO, factors=["webauthn"]), chal("otp-required", "strong-factor-actions", ["webauthn"]), config={"strong_factor_actions": ["package.unpublish"]}),
    case("strong factor action for an account without 2FA (2022 access none)", req("package.unpublish", **NO), chal("otp-required", "strong-factor-actions", ["webauthn"]), config={"preset": "npmjs-2022", "strong_factor_actions": ["package.unpublish"]}),
    case("proof 299 s old counts", req(proofs=[{"factor": "totp", "verified_at": NOW - 299}]), allow("allowed-with-proof", "account-mode.auth-and-writes")),
    case("proof 300 s old does not", req(proofs=[{"factor": "totp", "verified_at": NOW - 300}]), chal("otp-required")),
    case("proof from the future does not count", req(proofs=[{"factor": "totp", "verified_at": NOW + 1}]), chal("otp-required")),
    case("proof verified exactly now counts", req(proofs=[{"factor": "totp", "verified_at": NOW}]), allow("allowed-with-proof")),
    case("proof_max_age_seconds 600: 599 s counts", req(proofs=[{"factor": "totp", "verified_at": NOW - 599}]), allow("allowed-with-proof"), config={"proof_max_age_seconds": 600}),
    case("proof_max_age_seconds 600: 600 s does not", req(proofs=[{"factor": "totp", "verified_at": NOW - 600}]), chal("otp-required"), config={"proof_max_age_seconds": 600}),
    case("an unlisted factor's proof does not count", req(factors=["totp"], proofs=[{"factor": "email-otp", "verified_at": NOW - 1}]), chal("otp-required")),
    case("a recovery-code proof counts for a totp account", req(proofs=[{"factor": "recovery-code", "verified_at": NOW - 1}]), allow("allowed-with-proof")),
    case("one fresh proof among stale ones", req(proofs=[{"factor": "totp", "verified_at": NOW - 4000}, {"factor": "totp", "verified_at": NOW - 30}]), allow("allowed-with-proof")),
    case("decision carries npm's challenge text", req(), {"outcome": "challenge", "npm_status": 401, "npm_www_authenticate": "OTP", "message_contains": "one-time password"}),
]
files["07-step-up"] = c

# ---------- 08 login verification (rule 8) ----------
c = []
R0, R1 = ts("2021-12-07"), ts("2022-01-04")
MID = R0 + (R1 - R0) // 2  # share = 1/2 exactly
share_num, share_den = MID - R0, R1 - R0
def in_ramp(ident, now, salt=""):
    return bucket(salt, ident) * (R1 - R0) < (now - R0) * 2 ** 64
inside = next(f"user{i}" for i in range(1000) if in_ramp(f"user{i}", MID))
outside = next(f"user{i}" for i in range(1000) if not in_ramp(f"user{i}", MID))
# an account whose bucket sits just above the share at MID but below it an hour later
edge = next(f"acct{i}" for i in range(200000) if not in_ramp(f"acct{i}", MID) and in_ramp(f"acct{i}", MID + HOUR))
LV = dict(mode="none", publisher=True)
c += [
    case("publisher before the ramp starts logs in freely", req("login", now=R0 - 1, **LV), allow("allowed", "default"), config=P22),
    case(f"mid-ramp: {inside} is inside (bucket below the share)", req("login", now=MID, id=inside, **LV), chal("login-verification-required", "login-verification.stage", ["email-otp"]), config=P22),
    case(f"mid-ramp: {outside} is outside (bucket above the share)", req("login", now=MID, id=outside, **LV), allow(), config=P22),
    case(f"ramp grows: {edge} is out at mid-ramp", req("login", now=MID, id=edge, **LV), allow(), config=P22),
    case(f"ramp grows: {edge} is in an hour later", req("login", now=MID + HOUR, id=edge, **LV), chal("login-verification-required", "login-verification.stage"), config=P22),
    case("ramp end: every publisher is in", req("login", now=R1, id=outside, **LV), chal("login-verification-required", "login-verification.stage", ["email-otp"]), config=P22),
    case("non-publisher is not in the publishers ramp", req("login", now=R1 + DAY, mode="none", publisher=False), allow(), config=P22),
    case("brown-out 2022-02-16 enrols everyone", req("login", now=ts("2022-02-16"), mode="none"), chal("login-verification-required", "login-verification.brown-out", ["email-otp"]), config=P22),
    case("brown-out lasts 24 h: last second", req("login", now=ts("2022-02-17") - 1, mode="none"), chal("login-verification-required", "login-verification.brown-out"), config=P22),
    case("brown-out over at 2022-02-17 00:00", req("login", now=ts("2022-02-17"), mode="none"), allow(), config=P22),
    case("second brown-out 2022-02-23", req("login", now=ts("2022-02-23T13:00:00Z"), mode="none"), chal("login-verification-required", "login-verification.brown-out"), config=P22),
    case("between brown-outs a non-publisher logs in freely", req("login", now=ts("2022-02-20"), mode="none"), allow(), config=P22),
    case("stage names the decision before a brown-out (publisher on 2022-02-16)", req("login", now=ts("2022-02-16T06:00:00Z"), **LV), chal("login-verification-required", "login-verification.stage"), config=P22),
    case("all accounts from 2022-03-01", req("login", now=ts("2022-03-01"), mode="none"), chal("login-verification-required", "login-verification.stage"), config=P22),
    case("a second before 2022-03-01 a non-publisher is free", req("login", now=ts("2022-03-01") - 1, mode="none"), allow(), config=P22),
    case("2026 keeps the 2022 timeline: everyone without 2FA", req("login", mode="none"), chal("login-verification-required", "login-verification.stage", ["email-otp"])),
    case("accounts with 2FA are exempt (stepped up by their mode instead)", req("login", **AO), chal("otp-required", "account-mode.auth-only", TF)),
    case("a fresh email-otp proof completes login verification", req("login", mode="none", proofs=[{"factor": "email-otp", "verified_at": NOW - 60}]), allow("allowed-with-proof", "login-verification.stage")),
    case("a totp proof does not complete login verification", req("login", mode="none", proofs=[{"factor": "totp", "verified_at": NOW - 60}]), chal("login-verification-required")),
    case("login verification answers like an OTP challenge for the npm CLI", req("login", mode="none"), {"outcome": "challenge", "npm_status": 401, "npm_www_authenticate": "OTP"}),
    case("login verification only gates login", req("profile.update", mode="none"), allow()),
    case("custom salt changes who is in mid-ramp", req("login", now=MID, id=inside, **LV), allow() if not in_ramp(inside, MID, "s1") else chal("login-verification-required"), config={"preset": "npmjs-2022", "login_verification": {"salt": "s1"}}),
    case("no stages and no brown-outs: nobody", req("login", mode="none"), allow(), config={"login_verification": {"stages": [], "brown_outs": []}}),
]
files["08-login-verification"] = c

# ---------- 09 totp (authorize) ----------
c = []
def asec(secret_b32=SEED_B32, last=None, **kw):
    s = {"totp_secret": secret_b32}
    if last is not None:
        s["last_totp_step"] = last
    s.update(kw)
    return s
T = lambda code: {"factor": "totp", "code": code}
assert totp(SEED, 59) == "287082"
CONSUME = lambda st: {"kind": "consume-totp-step", "step": st}
c += [
    case("RFC 6238 code at t=59 is accepted and its step consumed", req(now=59), allow("allowed-with-proof", "account-mode.auth-and-writes", effects=[CONSUME(1), {"kind": "clear-failures"}]), secrets=asec(last=0), present=T("287082")),
    case("same code again after step 1 was consumed is a replay", req(now=59), chal("otp-replayed", factors=TF, effects=[{"kind": "record-failure"}]), secrets=asec(last=1), present=T("287082")),
    case("replay of an older step", req(now=61), chal("otp-replayed"), secrets=asec(last=2), present=T(totp(SEED, 31))),
    case("code of the previous step is inside the ±1 window", req(now=60), allow("allowed-with-proof", effects=[CONSUME(1)]), secrets=asec(), present=T(totp(SEED, 59))),
    case("code of the next step is inside the window", req(now=NOW), allow("allowed-with-proof", effects=[CONSUME(NOW // 30 + 1)]), secrets=asec(), present=T(totp(SEED, NOW + 30))),
    case("code two steps old is clock drift, not accepted", req(now=NOW), chal("otp-clock-drift", drift_seconds=-60, effects=[{"kind": "record-failure"}]), secrets=asec(), present=T(totp(SEED, NOW - 60))),
    case("code 8 steps ahead: device clock about 4 minutes ahead", req(now=NOW), chal("otp-clock-drift", drift_seconds=240, message_contains="about 4 minutes ahead"), secrets=asec(), present=T(totp(SEED, NOW + 240))),
    case("code 10 steps behind is still reported as drift", req(now=NOW), chal("otp-clock-drift", drift_seconds=-300, message_contains="behind"), secrets=asec(), present=T(totp(SEED, NOW - 300))),
    case("code 11 steps away is simply invalid", req(now=NOW), chal("otp-invalid", effects=[{"kind": "record-failure"}]), secrets=asec(), present=T(totp(SEED, NOW - 330))),
    case("wrong code is invalid and recorded", req(now=59), chal("otp-invalid", "account-mode.auth-and-writes", TF, effects=[{"kind": "record-failure"}]), secrets=asec(), present=T("000000" if totp(SEED, 59) != "000000" else "111111")),
    case("five digits is malformed", req(now=59), chal("otp-malformed", effects=[{"kind": "record-failure"}]), secrets=asec(), present=T("28708")),
    case("letters are malformed", req(now=59), chal("otp-malformed"), secrets=asec(), present=T("28708a")),
    case("spaces are ignored (the npm prompt allows them)", req(now=59), allow("allowed-with-proof", effects=[CONSUME(1)]), secrets=asec(), present=T("287 082")),
    case("factor detected from a 6-digit code", req(now=59), allow("allowed-with-proof", effects=[CONSUME(1)]), secrets=asec(), present={"code": "287082"}),
    case("RFC 6238 SHA1 8 digits at 1111111109 (leading zero)", req(now=1111111109), allow("allowed-with-proof", effects=[CONSUME(0x23523EC)]), config={"totp": {"digits": 8}, "email_code": {"digits": 10}}, secrets=asec(), present=T("07081804")),
    case("RFC 6238 SHA1 8 digits at 20000000000 (counter above 2^32)", req(now=20000000000), allow("allowed-with-proof", effects=[CONSUME(0x27BC86AA)]), config={"totp": {"digits": 8}, "email_code": {"digits": 10}}, secrets=asec(), present=T("65353130")),
    case("RFC 6238 SHA256 8 digits at 1234567890", req(now=1234567890), allow("allowed-with-proof", effects=[CONSUME(0x273EF07)]), config={"totp": {"digits": 8, "algorithm": "SHA256"}, "email_code": {"digits": 10}}, secrets=asec(b32(b"12345678901234567890123456789012")), present=T("91819424")),
    case("RFC 6238 SHA512 8 digits at 2000000000", req(now=2000000000), allow("allowed-with-proof", effects=[CONSUME(0x3F940AA)]), config={"totp": {"digits": 8, "algorithm": "SHA512"}, "email_code": {"digits": 10}}, secrets=asec(b32(b"1234567890" * 6 + b"1234")), present=T("38618901")),
    case("RFC 6238 SHA1 8 digits at 1111111111", req(now=1111111111), allow("allowed-with-proof"), config={"totp": {"digits": 8}, "email_code": {"digits": 10}}, secrets=asec(), present=T("14050471")),
    case("another secret, lower-case base32 with padding", req(now=NOW), allow("allowed-with-proof"), secrets=asec(SEC2_B32.lower() + "===="), present=T(totp(SEC2, NOW))),
    case("skew 0: previous step's code is drift", req(now=60), chal("otp-clock-drift", drift_seconds=-30), config={"totp": {"skew_steps": 0}}, secrets=asec(), present=T(totp(SEED, 59))),
    case("60 s period", req(now=NOW), allow("allowed-with-proof", effects=[CONSUME(NOW // 60)]), config={"totp": {"period_seconds": 60}}, secrets=asec(), present=T(totp(SEED, NOW, period=60))),
    case("code is ignored when no factor is needed", req("package.read", now=NOW), allow("allowed", "default", effects_exact=[]), secrets=asec(), present=T("000000")),
    case("code is ignored on a deny", req(now=NOW, cred={"kind": "legacy-token", "type": "read-only"}), deny("token-read-only", effects_exact=[]), secrets=asec(), present=T(totp(SEED, NOW))),
    case("code is ignored when a fresh proof already allows", req(now=NOW, proofs=[{"factor": "totp", "verified_at": NOW - 10}]), allow("allowed-with-proof", effects_exact=[]), secrets=asec(), present=T(totp(SEED, NOW))),
    case("throttled: the code is not checked", req(now=NOW, failures={"account": fails(1, 2, 3, 4, 5)}), deny("throttled", "throttle.account", 429, retry_after=295, effects_exact=[]), secrets=asec(), present=T(totp(SEED, NOW))),
    case("totp presented where only webauthn counts leaves the plain challenge", req(now=NOW), chal("otp-required", factors=["webauthn"], effects_exact=[]), config={"strong_factor_actions": ["package.publish"]}, secrets=asec(), present=T(totp(SEED, NOW))),
    case("no code presented: plain challenge", req(now=NOW), chal("otp-required", effects_exact=[]), secrets=asec()),
    case("empty code counts as none", req(now=NOW), chal("otp-required", effects_exact=[]), secrets=asec(), present=T("  ")),
    case("SPEC 8.23: an empty code is no code (nothing recorded)", req(now=NOW), chal("otp-required", effects_exact=[]), secrets=asec(), present={"code": ""}),
    case("SPEC 8.23: an empty recovery code is no code", req(now=NOW), chal("otp-required", effects_exact=[]), secrets=asec(), present={"factor": "recovery-code", "code": " "}),
    case("SPEC 8.22: a consumed step found by the drift probe is a replay, not drift", req(now=NOW), chal("otp-replayed", effects=[{"kind": "record-failure"}]), secrets=asec(last=NOW // 30), present=T(totp(SEED, NOW - 90))),
    case("SPEC 8.22: a code 8 steps back, at or before the last step, is a replay", req(now=NOW), chal("otp-replayed"), secrets=asec(last=NOW // 30 - 8), present=T(totp(SEED, NOW - 240))),
    case("SPEC 8.22: a code 8 steps back after the last step is still drift", req(now=NOW), chal("otp-clock-drift", drift_seconds=-240), secrets=asec(last=NOW // 30 - 9), present=T(totp(SEED, NOW - 240))),
    case("SPEC 8.22: a future code past the last step is drift", req(now=NOW), chal("otp-clock-drift", drift_seconds=120), secrets=asec(last=NOW // 30), present=T(totp(SEED, NOW + 120))),
    case("valid code completes an auth-only login", req("login", now=NOW, **AO), allow("allowed-with-proof", "account-mode.auth-only"), secrets=asec(), present=T(totp(SEED, NOW))),
    case("valid code completes an auth-only publish of a tfa-or-token package", req(now=NOW, **AO), allow("allowed-with-proof", "package-access.publish"), secrets=asec(), present=T(totp(SEED, NOW))),
    case("totp for an account without a stored secret is an input error", req(now=NOW), err("secrets.totp_secret"), secrets={}, present=T("123456")),
]
files["09-totp"] = c

# ---------- 10 recovery codes ----------
c = []
RC = ["0123456789012345678901234", "1111122222333334444455555", "9876543210987654321098765", "5555566666777778888899999"]
RECS = [code_record(f"{i:02x}" * 16, code) for i, code in enumerate(RC)]
R = lambda code: {"factor": "recovery-code", "code": code}
HI = {"weekly_downloads": 5000000}
c += [
    case("recovery code #2 is accepted and burned", req(now=NOW), allow("allowed-with-proof", effects=[{"kind": "burn-recovery-code", "index": 2}, {"kind": "clear-failures"}]), secrets={"recovery_codes": RECS}, present=R(RC[2])),
    case("recovery code typed in groups of five", req(now=NOW), allow("allowed-with-proof", effects=[{"kind": "burn-recovery-code", "index": 1}]), secrets={"recovery_codes": RECS}, present=R("11111 22222 33333 44444 55555")),
    case("recovery code typed with dashes", req(now=NOW), allow("allowed-with-proof", effects=[{"kind": "burn-recovery-code", "index": 0}]), secrets={"recovery_codes": RECS}, present=R("01234-56789-01234-56789-01234")),
    case("burned recovery code (removed by the host) is invalid", req(now=NOW), chal("otp-invalid", effects=[{"kind": "record-failure"}]), secrets={"recovery_codes": RECS[:2] + RECS[3:]}, present=R(RC[2])),
    case("unknown recovery code is invalid", req(now=NOW), chal("otp-invalid"), secrets={"recovery_codes": RECS}, present=R("2222233333444445555566666")),
    case("recovery code detected by its length", req(now=NOW), allow("allowed-with-proof", effects=[{"kind": "burn-recovery-code", "index": 3}]), secrets={"recovery_codes": RECS}, present={"code": RC[3]}),
    case("recovery code with punctuation is malformed", req(now=NOW), chal("otp-malformed"), secrets={"recovery_codes": RECS}, present=R("0123456789.0123456789")),
    case("no recovery codes left: invalid", req(now=NOW), chal("otp-invalid"), secrets={"recovery_codes": []}, present=R(RC[0])),
    case("recovery code on a high-impact account starts the safeguard (2026)", req(now=NOW, impact=HI), allow("allowed-with-proof", effects=[{"kind": "burn-recovery-code", "index": 0}, {"kind": "start-safeguard", "until": NOW + 72 * HOUR}]), secrets={"recovery_codes": RECS}, present=R(RC[0])),
    case("recovery code on a high-impact account under 2022: no safeguard", req(now=NOW, impact=HI), allow("allowed-with-proof", effects_exact=[{"kind": "burn-recovery-code", "index": 0}, {"kind": "clear-failures"}]), config=P22, secrets={"recovery_codes": RECS}, present=R(RC[0])),
    case("recovery code on an ordinary account: no safeguard", req(now=NOW, impact={"weekly_downloads": 10}), allow("allowed-with-proof", effects_exact=[{"kind": "burn-recovery-code", "index": 0}, {"kind": "clear-failures"}]), secrets={"recovery_codes": RECS}, present=R(RC[0])),
    case("safeguard length is configurable", req(now=NOW, impact={"dependents": 600}), allow("allowed-with-proof", effects=[{"kind": "start-safeguard", "until": NOW + 24 * HOUR}]), config={"safeguard": {"hours": 24}}, secrets={"recovery_codes": RECS}, present=R(RC[0])),
    case("recovery code does not complete login verification", req("login", now=NOW, mode="none"), chal("login-verification-required", effects_exact=[]), secrets={"recovery_codes": RECS}, present=R(RC[0])),
    case("recovery code completes an auth-only token creation", req("token.create", now=NOW, **AO), allow("allowed-with-proof", "account-mode.auth-only"), secrets={"recovery_codes": RECS}, present=R(RC[1])),
]
files["10-recovery-codes"] = c

# ---------- 11 email codes ----------
c = []
EC = "48213907"
ESALT = "ab" * 16
erec = lambda expires=NOW + 300, attempts=0: dict(code_record(ESALT, EC), expires_at=expires, attempts=attempts)
EM = lambda code: {"factor": "email-otp", "code": code}
LVR = dict(mode="none")
c += [
    case("emailed login code accepted and consumed", req("login", now=NOW, **LVR), allow("allowed-with-proof", "login-verification.stage", effects=[{"kind": "consume-email-code"}, {"kind": "clear-failures"}]), secrets={"email_code": erec()}, present=EM(EC)),
    case("email code detected by its 8 digits", req("login", now=NOW, **LVR), allow("allowed-with-proof", effects=[{"kind": "consume-email-code"}]), secrets={"email_code": erec()}, present={"code": EC}),
    case("email code one second before expiry", req("login", now=NOW, **LVR), allow("allowed-with-proof"), secrets={"email_code": erec(expires=NOW + 1)}, present=EM(EC)),
    case("email code at expires_at is expired", req("login", now=NOW, **LVR), chal("otp-invalid", "login-verification.stage", ["email-otp"], effects=[{"kind": "record-failure"}, {"kind": "record-email-attempt"}]), secrets={"email_code": erec(expires=NOW)}, present=EM(EC)),
    case("email code with 4 failed attempts still works", req("login", now=NOW, **LVR), allow("allowed-with-proof"), secrets={"email_code": erec(attempts=4)}, present=EM(EC)),
    case("email code with 5 failed attempts is exhausted", req("login", now=NOW, **LVR), chal("otp-invalid", effects=[{"kind": "record-email-attempt"}]), secrets={"email_code": erec(attempts=5)}, present=EM(EC)),
    case("wrong email code", req("login", now=NOW, **LVR), chal("otp-invalid", effects=[{"kind": "record-failure"}, {"kind": "record-email-attempt"}]), secrets={"email_code": erec()}, present=EM("48213908")),
    case("seven digits is malformed", req("login", now=NOW, **LVR), chal("otp-malformed"), secrets={"email_code": erec()}, present=EM("4821390")),
    case("no email code issued: invalid", req("login", now=NOW, **LVR), chal("otp-invalid"), secrets={}, present=EM(EC)),
    case("email code does not satisfy a 2FA step-up", req("login", now=NOW, **AO), chal("otp-required", effects_exact=[]), secrets={"email_code": erec()}, present=EM(EC)),
    case("email code with spaces", req("login", now=NOW, **LVR), allow("allowed-with-proof"), secrets={"email_code": erec()}, present=EM("4821 3907")),
    case("max_attempts configurable", req("login", now=NOW, **LVR), chal("otp-invalid"), config={"email_code": {"max_attempts": 3}}, secrets={"email_code": erec(attempts=3)}, present=EM(EC)),
]
files["11-email-codes"] = c

# ---------- 12 presets and effects ----------
c = []
c += [
    case("absent preset is npmjs-2026 (publish floor)", req(**NO), deny("tfa-required-to-publish"), config={}),
    case("npmjs-2022 default publishing access is none", req(**AO), allow(), config=P22),
    case("npmjs-2026 default publishing access is tfa-or-token", req(**AO), chal("otp-required", "package-access.publish"), config=P26),
    case("allowed email change on a high-impact account starts the safeguard (2026)", req("email.change", impact=HI, proofs=[{"factor": "totp", "verified_at": NOW - 5}]), allow("allowed-with-proof", effects=[{"kind": "start-safeguard", "until": NOW + 72 * HOUR}])),
    case("allowed email change on a high-impact account under 2022: no safeguard", req("email.change", impact=HI, proofs=[{"factor": "totp", "verified_at": NOW - 5}]), allow("allowed-with-proof", effects_exact=[]), config=P22),
    case("email change without 2FA on a high-impact account is refused (cohort)", req("email.change", **NO, impact=HI), deny("tfa-enforced", "mandatory-2fa.cohort.high-impact")),
    case("email change of an ordinary account: no safeguard", req("email.change", proofs=[{"factor": "totp", "verified_at": NOW - 5}]), allow("allowed-with-proof", effects_exact=[])),
    case("challenged email change emits nothing", req("email.change", impact=HI), chal("otp-required", effects_exact=[])),
    case("email change authorized with a code on a high-impact account", req("email.change", now=NOW, impact=HI), allow("allowed-with-proof", effects=[CONSUME(NOW // 30), {"kind": "clear-failures"}, {"kind": "start-safeguard", "until": NOW + 72 * HOUR}]), secrets=asec(), present=T(totp(SEED, NOW))),
    case("safeguard start can be switched off", req("email.change", impact=HI, proofs=[{"factor": "totp", "verified_at": NOW - 5}]), allow("allowed-with-proof", effects_exact=[]), config={"safeguard": {"start_on_high_impact": False}}),
    case("2022: automation token can do account actions", req("password.change", cred=AUTO), allow("allowed-bypass-token"), config=P22),
    case("config in TOML-equivalent shape with dates as unix seconds", req(now=ts("2022-02-01"), **NO, impact={"dependents_rank": 1}), deny("tfa-enforced", "mandatory-2fa.cohort.early"), config={"cohorts": [{"name": "early", "from": ts("2022-02-01"), "dependents_rank_at_most": 1}]}),
    case("config dates with a time of day", req(now=ts("2022-02-01T11:59:59Z"), **NO, impact={"dependents_rank": 1}, package_info={"publishing_access": "none"}), allow(), config={"preset": "npmjs-2022", "cohorts": [{"name": "noon", "from": "2022-02-01T12:00:00Z", "dependents_rank_at_most": 1}]}),
]
files["12-presets"] = c

# ---------- 13 bad input ----------
c = []
base = req("package.read")
def bad(name, mutate, path, config=None, **kw):
    r = copy.deepcopy(base)
    mutate(r)
    c.append(case(name, r, err(path), config=config, **kw))
def setp(path, value):
    def f(r):
        cur = r
        for k in path[:-1]:
            cur = cur[k]
        cur[path[-1]] = value
    return f
def delp(path):
    def f(r):
        cur = r
        for k in path[:-1]:
            cur = cur[k]
        del cur[path[-1]]
    return f
bad("now as a string", setp(["now"], "soon"), "now")
bad("negative now", setp(["now"], -1), "now")
bad("fractional now", setp(["now"], 1.5), "now")
bad("now beyond 2^53 - 1", setp(["now"], 2 ** 53), "now")
bad("missing now", delp(["now"]), ".")
bad("unknown action kind", setp(["action", "kind"], "package.yank"), "action.kind")
bad("missing account", delp(["account"]), ".")
bad("account id not a string", setp(["account", "id"], 7), "account.id")
bad("unknown tfa mode", setp(["account", "tfa"], {"mode": "always", "factors": []}), "account.tfa.mode")
bad("unknown factor", setp(["account", "tfa"], {"mode": "auth-only", "factors": ["sms"]}), "account.tfa.factors[0]")
bad("unknown credential kind", setp(["credential"], {"kind": "cookie"}), "credential.kind")
bad("legacy token without type", setp(["credential"], {"kind": "legacy-token"}), "credential.type")
bad("session with bypass_2fa", setp(["credential"], {"kind": "session", "bypass_2fa": True}), "credential.bypass_2fa")
bad("oidc without package", setp(["credential"], {"kind": "oidc"}), "credential.package")
bad("bad CIDR", setp(["credential"], {"kind": "granular-token", "cidr_whitelist": ["10.0.0.0/8", "10.0.0.0/33"]}), "credential.cidr_whitelist[1]")
bad("CIDR without prefix length", setp(["credential"], {"kind": "granular-token", "cidr_whitelist": ["10.0.0.1"]}), "credential.cidr_whitelist[0]")
bad("expires_at as a date string", setp(["credential"], {"kind": "granular-token", "expires_at": "2026-01-01"}), "credential.expires_at")
bad("unknown permission", setp(["credential"], {"kind": "granular-token", "packages": {"all": True, "permission": "admin"}}), "credential.packages.permission")
bad("bad scope", setp(["credential"], {"kind": "granular-token", "packages": {"scopes": ["acme"], "permission": "read-only"}}), "credential.packages")
bad("unknown oidc permission", setp(["credential"], {"kind": "oidc", "package": "x", "permissions": ["publish"]}), "credential.permissions[0]")
bad("bad client ip", setp(["client"], {"ip": "300.1.1.1"}), "client.ip")
bad("unknown publishing access", setp(["package"], {"publishing_access": "maybe"}), "package.publishing_access")
bad("negative downloads", setp(["package"], {"weekly_downloads": -5}), "package.weekly_downloads")
bad("org without name", setp(["orgs"], [{"name": "a"}, {"enforce_tfa": True}]), "orgs[1]")
bad("proof with unknown factor", setp(["proofs"], [{"factor": "sms", "verified_at": 1}]), "proofs[0].factor")
bad("failure time as a string", setp(["failures"], {"account": [1, 2, "three"]}), "failures.account[2]")
bad("unknown top-level field", setp(["mood"], "happy"), "mood")
bad("unknown account field", setp(["account", "karma"], 3), "account.karma")
bad("first invalid field in document order wins", lambda r: (setp(["now"], "x")(r), setp(["client"], {"ip": "nope"})(r)), "now")
bad("config: unknown preset", lambda r: None, "config.preset", config={"preset": "npmjs-2030"})
bad("config: totp digits 9", lambda r: None, "config.totp.digits", config={"totp": {"digits": 9}})
bad("config: throttle limit 0", lambda r: None, "config.throttle.account[0].limit", config={"throttle": {"account": [{"limit": 0, "window_seconds": 60}]}})
bad("config: unknown key", lambda r: None, "config.publish_flor", config={"publish_flor": True})
bad("config: cohort name with a space", lambda r: None, "config.cohorts[0].name", config={"cohorts": [{"name": "top 5", "from": "2022-01-01", "dependents_rank_at_most": 5}]})
bad("config: cohort date not a date", lambda r: None, "config.cohorts[0].from", config={"cohorts": [{"name": "x", "from": "Feb 1", "high_impact": True}]})
bad("config: stage ending before it starts", lambda r: None, "config.login_verification.stages[0].end", config={"login_verification": {"stages": [{"population": "all", "start": "2022-02-01", "end": "2022-01-01"}]}})
bad("config: unknown strong-factor action", lambda r: None, "config.strong_factor_actions[0]", config={"strong_factor_actions": ["package.yank"]})
bad("config: email digits equal to totp digits", lambda r: None, "config.email_code.digits", config={"email_code": {"digits": 6}})
bad("config: skew 3", lambda r: None, "config.totp.skew_steps", config={"totp": {"skew_steps": 3}})
bad("authorize: totp secret not base32", lambda r: None, "secrets.totp_secret", secrets={"totp_secret": "not base32!"}, present={"factor": "totp", "code": "123456"})
bad("authorize: totp secret too short", lambda r: None, "secrets.totp_secret", secrets={"totp_secret": "GEZDGNBV"}, present={"factor": "totp", "code": "123456"})
bad("authorize: recovery hash too short", lambda r: None, "secrets.recovery_codes[0].hash", secrets={"recovery_codes": [{"salt": "00", "hash": "abcd"}]}, present={"factor": "recovery-code", "code": "1"})
bad("authorize: unknown present factor", lambda r: None, "present.factor", secrets={}, present={"factor": "sms", "code": "123456"})
bad("authorize: request errors are under request", setp(["now"], "x"), "request.now", secrets={}, present={"factor": "totp", "code": "123456"})
c.append(case("authorize: webauthn cannot be presented as a code", req(now=NOW, factors=["webauthn"]), err("present.assertion"), secrets={}, present={"factor": "webauthn", "code": "123456"}))
c.append(case("error answers 400 for npm", {"now": "x"}, {"outcome": "error", "npm_status": 400, "error_path": "now"}))
files["13-bad-input"] = c

total = 0
for name, cases in files.items():
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    total += len(cases)
print(f"wrote {total} cases in {len(files)} files")

import generate_signed  # noqa: E402  (WebAuthn and trusted-publishing cases, signed with fixed keys)
generate_signed.main()
