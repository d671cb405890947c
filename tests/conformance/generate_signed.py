#!/usr/bin/env python3
"""Writes the signed conformance cases: WebAuthn ceremonies (14-webauthn.json) and trusted
publishing ID tokens (15-trusted-publishing.json).

Keys are fixed (P-256 and Ed25519 from constant scalars/seeds, RSA from the PEM files in
keys/), signatures are deterministic (RFC 6979 ECDSA, Ed25519, PKCS#1 v1.5), and everything is
built with Python's `cryptography` package and a small CBOR encoder below — an implementation
independent of the Rust engine, so the cases cross-check it. Expectations are written by hand.

Run: python3 tests/conformance/generate.py   (it runs this too; then commit the JSON files)
"""
import base64, hashlib, json, os, struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = 1780315200  # 2026-06-01T12:00:00Z, as in generate.py


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sha256(b):
    return hashlib.sha256(b).digest()


# ---------- minimal canonical CBOR encoder ----------
def cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | info]) + struct.pack(fmt, n)
    raise ValueError(n)


def cbor(v):
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return cbor_head(0, v) if v >= 0 else cbor_head(1, -1 - v)
    if isinstance(v, bytes):
        return cbor_head(2, len(v)) + v
    if isinstance(v, str):
        e = v.encode()
        return cbor_head(3, len(e)) + e
    if isinstance(v, list):
        return cbor_head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return cbor_head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(v)


# ---------- fixed keys ----------
P256 = ec.derive_private_key(0x5E1F_0001_C0FF_EE00_1234_5678_9ABC_DEF0, ec.SECP256R1())
ED = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
load_pem = lambda n: serialization.load_pem_private_key(open(os.path.join(HERE, "keys", n), "rb").read(), None)
RSA = load_pem("rsa-2048.pem")
RSA_SMALL = load_pem("rsa-1024.pem")
P256_OTHER = ec.derive_private_key(0xBAD_C0DE, ec.SECP256R1())


def int_bytes(i, n=None):
    n = n or (i.bit_length() + 7) // 8
    return i.to_bytes(n, "big")


def cose_key(key):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        pn = key.public_key().public_numbers()
        return {1: 2, 3: -7, -1: 1, -2: int_bytes(pn.x, 32), -3: int_bytes(pn.y, 32)}
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {1: 1, 3: -8, -1: 6, -2: raw}
    pn = key.public_key().public_numbers()
    return {1: 3, 3: -257, -1: int_bytes(pn.n), -2: int_bytes(pn.e)}


def sign(key, msg, raw_ecdsa=False):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(msg, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        if not raw_ecdsa:
            return der
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        r, s = decode_dss_signature(der)
        return int_bytes(r, 32) + int_bytes(s, 32)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(msg)
    return key.sign(msg, padding.PKCS1v15(), hashes.SHA256())


# ---------- WebAuthn ----------
RP = "registry.example"
ORIGIN = "https://registry.example"
WCFG = {"webauthn": {"rp_id": RP, "origins": [ORIGIN]}}
UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def challenge_of(seed):
    """What the engine derives from entropy: SHA-256 of (the first 32 bytes of) it."""
    return b64u(sha256(seed[:32]))


SEED = bytes(range(100, 132))
CHAL = challenge_of(SEED)
CHAL_REC = {"challenge": CHAL, "expires_at": NOW + 300}


def client_data(kind, challenge=CHAL, origin=ORIGIN, **extra):
    d = {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
    d.update(extra)
    return json.dumps(d, separators=(",", ":")).encode()


def cred_id(key):
    return sha256(b"credential " + cose(key))[:16]


def cose(key):
    return cbor(cose_key(key))


def registration(key, fmt="none", flags=UP | AT, rp=RP, count=0, cd=None, bad_sig=False, stmt_alg=None):
    cid = cred_id(key)
    auth = sha256(rp.encode()) + bytes([flags]) + struct.pack(">I", count) + bytes(16) + struct.pack(">H", len(cid)) + cid + cose(key)
    cd = cd or client_data("webauthn.create")
    if fmt == "none":
        stmt = {}
    else:
        sig = sign(key, auth + sha256(cd))
        if bad_sig:
            sig = sign(key, auth + sha256(cd + b" "))
        stmt = {"alg": stmt_alg or cose_key(key)[3], "sig": sig}
    att = cbor({"fmt": fmt, "attStmt": stmt, "authData": auth})
    return {"id": b64u(cid), "rawId": b64u(cid), "type": "public-key", "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
            "response": {"clientDataJSON": b64u(cd), "attestationObject": b64u(att), "transports": ["usb"]}}


def stored(key, count=0):
    return {"id": b64u(cred_id(key)), "public_key": b64u(cose(key)), "sign_count": count}


def assertion(key, count=1, flags=UP, rp=RP, cd=None, tamper=False, signer=None):
    auth = sha256(rp.encode()) + bytes([flags]) + struct.pack(">I", count)
    cd = cd or client_data("webauthn.get")
    sig = sign(signer or key, auth + sha256(cd))
    if tamper:
        auth = auth[:-1] + bytes([auth[-1] ^ 1])
    cid = b64u(cred_id(key))
    return {"id": cid, "rawId": cid, "type": "public-key", "clientExtensionResults": {},
            "response": {"clientDataJSON": b64u(cd), "authenticatorData": b64u(auth), "signature": b64u(sig), "userHandle": None}}


def publish_req(factors=("webauthn",)):
    return {"now": NOW, "action": {"kind": "package.publish", "package": "left-pad"},
            "account": {"id": "alice", "tfa": {"mode": "auth-and-writes", "factors": list(factors)}},
            "credential": {"kind": "session"}}


def wsecrets(*creds, challenge=CHAL_REC):
    return {"webauthn": {"challenge": challenge, "credentials": list(creds)}}


def call(name, function, inp, expect, config=WCFG):
    c = {"name": name}
    if config is not None:
        c["config"] = config
    c.update({"call": function, "input": inp, "expect": expect})
    return c


def auth_case(name, present, secrets, expect, config=WCFG, request=None):
    c = {"name": name}
    if config is not None:
        c["config"] = config
    c.update({"request": request or publish_req(), "secrets": secrets, "present": present, "expect": expect})
    return c


def rejected(problem):
    return {"result": "rejected", "problem": problem}


def reg_input(cred, now=NOW, challenge=CHAL_REC, existing=None):
    d = {"now": now, "challenge": challenge, "credential": cred}
    if existing is not None:
        d["existing"] = existing
    return d


def user_handle(uid):
    return b64u(sha256(b"stepup webauthn user handle\0" + uid.encode())[:16])


W = []
# challenges
W.append(call("webauthn challenge: registration options for the browser", "webauthn-challenge",
              {"ceremony": "registration", "entropy": SEED.hex(), "now": NOW, "user": {"id": "alice", "name": "alice"}},
              {"match": {"challenge": CHAL, "expires_at": NOW + 300, "options": {
                  "challenge": CHAL, "rp": {"id": RP, "name": "stepup"},
                  "user": {"id": user_handle("alice"), "name": "alice", "displayName": "alice"},
                  "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -8}, {"type": "public-key", "alg": -257}],
                  "timeout": 300000, "attestation": "none", "excludeCredentials": [],
                  "authenticatorSelection": {"userVerification": "preferred"}}}}))
W.append(call("webauthn challenge: authentication lists the account's credentials", "webauthn-challenge",
              {"ceremony": "authentication", "entropy": (SEED * 2).hex(), "now": NOW, "credentials": [stored(P256)["id"]]},
              {"match": {"challenge": CHAL, "options": {"rpId": RP, "userVerification": "preferred",
                                                        "allowCredentials": [{"type": "public-key", "id": stored(P256)["id"]}]}}}))
W.append(call("webauthn challenge: ttl and user verification come from config", "webauthn-challenge",
              {"ceremony": "authentication", "entropy": SEED.hex(), "now": NOW},
              {"match": {"expires_at": NOW + 60, "options": {"timeout": 60000, "userVerification": "required"}}},
              config={"webauthn": {"rp_id": RP, "challenge_ttl_seconds": 60, "user_verification": "required"}}))
W.append(call("webauthn challenge: 15 bytes of entropy are refused", "webauthn-challenge",
              {"ceremony": "authentication", "entropy": SEED[:15].hex(), "now": NOW}, {"outcome": "error", "error_path": "entropy"}))
W.append(call("webauthn challenge: registration needs a user", "webauthn-challenge",
              {"ceremony": "registration", "entropy": SEED.hex(), "now": NOW}, {"outcome": "error", "error_path": "user"}))

# registration
def reg_accept(key, alg, attestation, **kw):
    return {"result": "accepted", "credential": {"id": b64u(cred_id(key)), "public_key": b64u(cose(key)), "alg": alg,
                                                 "sign_count": 0, "attestation": attestation, "transports": ["usb"], **kw}}

W.append(call("webauthn register: ES256, attestation none", "webauthn-register", reg_input(registration(P256)),
              {"match": reg_accept(P256, "ES256", "none", user_verified=False, backup_eligible=False)}))
W.append(call("webauthn register: EdDSA, packed self-attestation", "webauthn-register", reg_input(registration(ED, "packed")),
              {"match": reg_accept(ED, "EdDSA", "self")}))
W.append(call("webauthn register: RS256, packed self-attestation", "webauthn-register", reg_input(registration(RSA, "packed")),
              {"match": reg_accept(RSA, "RS256", "self")}))
W.append(call("webauthn register: flags are reported (UV, backup-eligible passkey)", "webauthn-register",
              reg_input(registration(P256, flags=UP | UV | BE | BS | AT)),
              {"match": reg_accept(P256, "ES256", "none", user_verified=True, backup_eligible=True, backed_up=True)}))
W.append(call("webauthn register: self-attestation signature over other data", "webauthn-register",
              reg_input(registration(P256, "packed", bad_sig=True)), rejected("attestation")))
W.append(call("webauthn register: self-attestation alg differs from the key's", "webauthn-register",
              reg_input(registration(P256, "packed", stmt_alg=-257)), rejected("attestation")))
W.append(call("webauthn register: another origin", "webauthn-register",
              reg_input(registration(P256, cd=client_data("webauthn.create", origin="https://registry.example.evil"))), rejected("origin")))
W.append(call("webauthn register: a cross-origin frame", "webauthn-register",
              reg_input(registration(P256, cd=client_data("webauthn.create", crossOrigin=True))), rejected("origin")))
W.append(call("webauthn register: key made for another RP ID", "webauthn-register",
              reg_input(registration(P256, rp="evil.example")), rejected("rp-id")))
W.append(call("webauthn register: expired challenge", "webauthn-register",
              reg_input(registration(P256), now=NOW + 300), rejected("challenge-expired")))
W.append(call("webauthn register: answers another challenge", "webauthn-register",
              reg_input(registration(P256, cd=client_data("webauthn.create", challenge=b64u(b"x" * 32)))), rejected("challenge-mismatch")))
W.append(call("webauthn register: an assertion's client data", "webauthn-register",
              reg_input(registration(P256, cd=client_data("webauthn.get"))), rejected("type")))
W.append(call("webauthn register: user not present", "webauthn-register",
              reg_input(registration(P256, flags=AT)), rejected("user-presence")))
W.append(call("webauthn register: UV required and missing", "webauthn-register",
              reg_input(registration(P256)), rejected("user-verification"),
              config={"webauthn": {"rp_id": RP, "origins": [ORIGIN], "user_verification": "required"}}))
W.append(call("webauthn register: same key twice", "webauthn-register",
              reg_input(registration(P256), existing=[stored(P256)["id"]]), rejected("credential-exists")))
W.append(call("webauthn register: algorithm not in config", "webauthn-register",
              reg_input(registration(ED)), rejected("algorithm"),
              config={"webauthn": {"rp_id": RP, "origins": [ORIGIN], "algorithms": ["ES256"]}}))
W.append(call("webauthn register: RSA 1024 is refused", "webauthn-register",
              reg_input(registration(RSA_SMALL)), rejected("algorithm")))
W.append(call("webauthn register: client data not base64url", "webauthn-register",
              reg_input(dict(registration(P256), response={"clientDataJSON": "a+b/", "attestationObject": "AA"})),
              {"outcome": "error", "error_path": "credential.response.clientDataJSON"}))
W.append(call("webauthn register: attestation object missing", "webauthn-register",
              reg_input(dict(registration(P256), response={"clientDataJSON": b64u(client_data("webauthn.create"))})),
              {"outcome": "error", "error_path": "credential.response.attestationObject"}))
W.append(call("webauthn register: unknown field", "webauthn-register",
              dict(reg_input(registration(P256)), mood="happy"), {"outcome": "error", "error_path": "mood"}))
W.append(call("config: webauthn origin outside the RP ID", "webauthn-register", reg_input(registration(P256)),
              {"outcome": "error", "error_path": "config.webauthn.origins[0]"},
              config={"webauthn": {"rp_id": RP, "origins": ["https://elsewhere.example"]}}))
W.append(call("config: webauthn RP ID may not be an IP address", "webauthn-challenge",
              {"ceremony": "authentication", "entropy": SEED.hex(), "now": NOW},
              {"outcome": "error", "error_path": "config.webauthn.rp_id"}, config={"webauthn": {"rp_id": "127.0.0.1"}}))
W.append(call("config: webauthn plain http only for localhost", "webauthn-register", reg_input(registration(P256)),
              {"outcome": "error", "error_path": "config.webauthn.origins[0]"},
              config={"webauthn": {"rp_id": RP, "origins": ["http://registry.example"]}}))

# assertions through authorize
ok = lambda cid, n: {"outcome": "allow", "reason": "allowed-with-proof", "rule": "account-mode.auth-and-writes", "npm_status": 200,
                     "effects": [{"kind": "consume-webauthn-challenge"},
                                 {"kind": "update-webauthn-sign-count", "credential_id": cid, "sign_count": n},
                                 {"kind": "clear-failures"}]}
bad = lambda problem: {"outcome": "challenge", "reason": "otp-invalid", "webauthn_problem": problem, "npm_status": 401,
                       "effects": [{"kind": "record-failure"}, {"kind": "consume-webauthn-challenge"}]}
W.append(auth_case("webauthn assertion (ES256) allows a publish", {"assertion": assertion(P256, 5)},
                   wsecrets(stored(P256, 4)), ok(stored(P256)["id"], 5)))
W.append(auth_case("webauthn assertion (EdDSA) with factor named", {"factor": "webauthn", "assertion": assertion(ED, 1)},
                   wsecrets(stored(P256), stored(ED)), ok(stored(ED)["id"], 1)))
W.append(auth_case("webauthn assertion (RS256)", {"assertion": assertion(RSA, 9)}, wsecrets(stored(RSA, 8)), ok(stored(RSA)["id"], 9)))
W.append(auth_case("webauthn passkey without a counter (0 and 0) is fine", {"assertion": assertion(P256, 0, flags=UP | BE | BS)},
                   wsecrets(stored(P256, 0)), ok(stored(P256)["id"], 0)))
STRONG_REQ = dict(publish_req(), action={"kind": "package.deprecate", "package": "left-pad"},
                  account={"id": "alice", "tfa": {"mode": "auth-only", "factors": ["webauthn", "totp"]}})
W.append(auth_case("webauthn satisfies strong_factor_actions", {"assertion": assertion(P256, 1)}, wsecrets(stored(P256)),
                   {"outcome": "allow", "reason": "allowed-with-proof", "rule": "strong-factor-actions"},
                   config=dict(WCFG, strong_factor_actions=["package.deprecate"]), request=STRONG_REQ))
W.append(auth_case("a TOTP code does not satisfy strong_factor_actions", {"factor": "totp", "code": "123456"}, wsecrets(stored(P256)),
                   {"outcome": "challenge", "reason": "otp-required", "rule": "strong-factor-actions", "challenge": {"factors": ["webauthn"]}},
                   config=dict(WCFG, strong_factor_actions=["package.deprecate"]), request=STRONG_REQ))
W.append(auth_case("webauthn signature over other data", {"assertion": assertion(P256, 2, tamper=True)}, wsecrets(stored(P256, 1)), bad("signature")))
W.append(auth_case("webauthn signed by another key", {"assertion": assertion(P256, 2, signer=P256_OTHER)}, wsecrets(stored(P256, 1)), bad("signature")))
W.append(auth_case("webauthn counter went backwards: refused and reported", {"assertion": assertion(P256, 5)}, wsecrets(stored(P256, 10)),
                   {"outcome": "challenge", "reason": "otp-invalid", "webauthn_problem": "sign-count",
                    "effects": [{"kind": "report-sign-count-regression", "credential_id": stored(P256)["id"], "stored": 10, "presented": 5}]}))
W.append(auth_case("webauthn equal counter is a regression too", {"assertion": assertion(P256, 10)}, wsecrets(stored(P256, 10)), bad("sign-count")))
W.append(auth_case("webauthn counter regression with policy report: allowed and reported", {"assertion": assertion(P256, 5)}, wsecrets(stored(P256, 10)),
                   {"outcome": "allow", "reason": "allowed-with-proof",
                    "effects": [{"kind": "report-sign-count-regression", "credential_id": stored(P256)["id"], "stored": 10, "presented": 5}]},
                   config={"webauthn": {"rp_id": RP, "origins": [ORIGIN], "sign_count_regression": "report"}}))
W.append(auth_case("webauthn key not registered to the account", {"assertion": assertion(ED, 1)}, wsecrets(stored(P256)), bad("unknown-credential")))
W.append(auth_case("webauthn user not present", {"assertion": assertion(P256, 1, flags=0)}, wsecrets(stored(P256)), bad("user-presence")))
W.append(auth_case("webauthn UV required and missing", {"assertion": assertion(P256, 1)}, wsecrets(stored(P256)), bad("user-verification"),
                   config={"webauthn": {"rp_id": RP, "origins": [ORIGIN], "user_verification": "required"}}))
W.append(auth_case("webauthn UV required and present", {"assertion": assertion(P256, 1, flags=UP | UV)}, wsecrets(stored(P256)),
                   {"outcome": "allow", "reason": "allowed-with-proof"},
                   config={"webauthn": {"rp_id": RP, "origins": [ORIGIN], "user_verification": "required"}}))
W.append(auth_case("webauthn phishing origin", {"assertion": assertion(P256, 1, cd=client_data("webauthn.get", origin="https://registry-example.evil"))},
                   wsecrets(stored(P256)), bad("origin")))
W.append(auth_case("webauthn other RP ID", {"assertion": assertion(P256, 1, rp="evil.example")}, wsecrets(stored(P256)), bad("rp-id")))
W.append(auth_case("webauthn challenge expired", {"assertion": assertion(P256, 1)},
                   wsecrets(stored(P256), challenge={"challenge": CHAL, "expires_at": NOW}), bad("challenge-expired")))
W.append(auth_case("webauthn registration client data replayed as an assertion", {"assertion": assertion(P256, 1, cd=client_data("webauthn.create"))},
                   wsecrets(stored(P256)), bad("type")))
W.append(auth_case("webauthn assertion when only totp is enrolled leaves the challenge", {"assertion": assertion(P256, 1)}, wsecrets(stored(P256)),
                   {"outcome": "challenge", "reason": "otp-required", "challenge": {"factors": ["totp", "recovery-code"]}, "effects_exact": []},
                   request=publish_req(["totp"])))
W.append(auth_case("webauthn assertion is ignored when nothing is needed", {"assertion": assertion(P256, 1)}, wsecrets(stored(P256)),
                   {"outcome": "allow", "reason": "allowed", "effects_exact": []},
                   request=dict(publish_req(), action={"kind": "package.read", "package": "left-pad"})))
W.append(auth_case("webauthn assertion without secrets.webauthn", {"assertion": assertion(P256, 1)}, {},
                   {"outcome": "error", "error_path": "secrets.webauthn"}))
W.append(auth_case("webauthn assertion presented as factor totp", {"factor": "totp", "assertion": assertion(P256, 1)}, wsecrets(stored(P256)),
                   {"outcome": "error", "error_path": "present.factor"}))
W.append(auth_case("webauthn stored key is not COSE", {"assertion": assertion(P256, 1)},
                   wsecrets(dict(stored(P256), public_key=b64u(b"\xa0"))),
                   {"outcome": "error", "error_path": "secrets.webauthn.credentials[0].public_key"}))
W.append(auth_case("webauthn signature not base64url", {"assertion": dict(assertion(P256, 1), response=dict(assertion(P256, 1)["response"], signature="!!"))},
                   wsecrets(stored(P256)), {"outcome": "error", "error_path": "present.assertion.response.signature"}))

# ---------- trusted publishing ----------
AUD = "npm:registry.example"
TCFG = {"trusted_publishing": {"audience": AUD}}
GH_ISS = "https://token.actions.githubusercontent.com"
GL_ISS = "https://gitlab.com"
CIRCLE_ORG = "8a4d6d8e-0b5c-4e0d-9d3b-0c1f2b3a4d5e"


def jwk_of(key, kid):
    pn = key.public_key().public_numbers()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                "x": b64u(int_bytes(pn.x, 32)), "y": b64u(int_bytes(pn.y, 32))}
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64u(int_bytes(pn.n)), "e": b64u(int_bytes(pn.e)),
            "x5t": "ignored-by-stepup"}


JWKS = {"keys": [jwk_of(RSA, "gh-1"), jwk_of(P256, "gl-1"), jwk_of(RSA_SMALL, "small")]}


def jwt(claims, key=RSA, kid="gh-1", alg=None, header_extra=None, tamper=False):
    alg = alg or ("ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256")
    header = {"alg": alg, "typ": "JWT", "kid": kid}
    header.update(header_extra or {})
    h = b64u(json.dumps(header, separators=(",", ":")).encode())
    p = b64u(json.dumps(claims, separators=(",", ":")).encode())
    signing = f"{h}.{p}".encode()
    sig = b"" if alg == "none" else sign(key, signing, raw_ecdsa=True)
    if tamper:
        p = b64u(json.dumps(dict(claims, repository="mallory/left-pad"), separators=(",", ":")).encode())
    return f"{h}.{p}.{b64u(sig)}"


def gh_claims(**kw):
    c = {"iss": GH_ISS, "aud": AUD, "sub": "repo:acme/left-pad:environment:npm", "jti": "gh-jti-1",
         "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 290, "repository": "acme/left-pad", "repository_owner": "acme",
         "workflow_ref": "acme/left-pad/.github/workflows/release.yml@refs/tags/v1.2.3",
         "job_workflow_ref": "acme/left-pad/.github/workflows/release.yml@refs/tags/v1.2.3",
         "environment": "npm", "event_name": "push", "ref": "refs/tags/v1.2.3", "runner_environment": "github-hosted"}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def gl_claims(**kw):
    c = {"iss": GL_ISS, "aud": AUD, "sub": "project_path:acme/left-pad:ref_type:tag:ref:v1.2.3", "jti": "gl-jti-1",
         "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 290, "project_path": "acme/left-pad",
         "ci_config_ref_uri": "gitlab.com/acme/left-pad//.gitlab-ci.yml@refs/tags/v1.2.3",
         "environment": "production", "runner_environment": "gitlab-hosted"}
    c.update(kw)
    return c


def circle_claims(**kw):
    c = {"iss": "https://oidc.circleci.com/org/" + CIRCLE_ORG, "aud": AUD, "sub": "org/x/project/y/user/z", "jti": "cc-jti-1",
         "iat": NOW - 10, "exp": NOW + 290, "oidc.circleci.com/org-id": CIRCLE_ORG,
         "oidc.circleci.com/project-id": "11111111-2222-3333-4444-555555555555",
         "oidc.circleci.com/vcs-origin": "github.com/acme/left-pad",
         "oidc.circleci.com/context-ids": ["c1", "c2"]}
    c.update(kw)
    return c


GH_TRUST = [{"type": "github", "claims": {"repository": "acme/left-pad", "workflow_ref": {"file": "release.yml"}, "environment": "npm"},
             "permissions": ["createPackage"]}]
GL_TRUST = [{"type": "gitlab", "claims": {"project_path": "acme/left-pad", "ci_config_ref_uri": {"file": ".gitlab-ci.yml"}}}]
CC_TRUST = [{"type": "circleci", "claims": {"oidc.circleci.com/org-id": CIRCLE_ORG,
                                            "oidc.circleci.com/project-id": "11111111-2222-3333-4444-555555555555",
                                            "oidc.circleci.com/context-ids": ["c2"]}}]


def ex(token, trust=GH_TRUST, **kw):
    d = {"now": NOW, "token": token, "jwks": JWKS, "package": "left-pad", "trust": trust}
    d.update(kw)
    return d


def oidc_ok(jti, exp, permissions=("createPackage",), provider="github"):
    return {"result": "accepted", "match": {
        "credential": {"kind": "oidc", "package": "left-pad", "permissions": list(permissions), "expires_at": NOW + 900},
        "provider": provider, "jti": jti, "token_expires_at": NOW + 900,
        "effects": [{"kind": "consume-oidc-jti", "jti": jti, "until": exp + 60}]}}


def oidc_no(problem, status):
    return {"result": "rejected", "problem": problem, "match": {"npm": {"status": status}}}


T = []
tc = lambda name, inp, expect, config=TCFG, function="oidc-exchange": T.append(call(name, function, inp, expect, config=config))
tc("oidc: GitHub Actions token (RS256) for the trusted workflow", ex(jwt(gh_claims())), oidc_ok("gh-jti-1", NOW + 290))
tc("oidc: GitLab token (ES256)", ex(jwt(gl_claims(), key=P256, kid="gl-1"), trust=GL_TRUST), oidc_ok("gl-jti-1", NOW + 290, provider="gitlab"))
tc("oidc: CircleCI token with the trusted context", ex(jwt(circle_claims()), trust=CC_TRUST), oidc_ok("cc-jti-1", NOW + 290, provider="circleci"))
tc("oidc: CircleCI token missing a trusted context", ex(jwt(circle_claims(**{"oidc.circleci.com/context-ids": ["c1"]})), trust=CC_TRUST), oidc_no("claims", 404))
tc("oidc: CircleCI issuer for another org", ex(jwt(circle_claims(iss="https://oidc.circleci.com/org/other")), trust=CC_TRUST), oidc_no("issuer", 401))
# SPEC §9.7: a key set bound to its provider verifies only tokens claiming that provider's issuer.
BY_PROVIDER = {"providers": {"github": {"keys": [jwk_of(RSA, "gh-1")]}, "gitlab": {"keys": [jwk_of(P256, "gl-1")]}}}
tc("oidc: per-provider key sets: a GitHub token verifies with GitHub's keys", ex(jwt(gh_claims()), jwks=BY_PROVIDER), oidc_ok("gh-jti-1", NOW + 290))
tc("oidc: per-provider key sets: a GitLab token verifies with GitLab's keys", ex(jwt(gl_claims(), key=P256, kid="gl-1"), trust=GL_TRUST, jwks=BY_PROVIDER),
   oidc_ok("gl-jti-1", NOW + 290, provider="gitlab"))
tc("oidc: per-provider key sets: a token claiming GitHub signed with GitLab's key is refused",
   ex(jwt(gh_claims(), key=P256, kid="gl-1"), jwks=BY_PROVIDER), oidc_no("key", 401))
tc("oidc: per-provider key sets: GitHub's key cannot vouch for a GitLab token",
   ex(jwt(gl_claims(), key=RSA, kid="gh-1"), trust=GL_TRUST, jwks={"providers": {"github": {"keys": [jwk_of(RSA, "gh-1")]}}}), oidc_no("key", 401))
tc("oidc: per-provider key sets: no set for the claimed issuer is refused",
   ex(jwt(circle_claims()), trust=CC_TRUST, jwks=BY_PROVIDER), oidc_no("key", 401))
tc("oidc: per-provider key sets: an unknown provider name is bad input",
   ex(jwt(gh_claims()), jwks={"providers": {"jenkins": {"keys": []}}}), {"outcome": "error", "error_path": "jwks.providers.jenkins"})
tc("oidc: staged-publish permission carried to the credential",
   ex(jwt(gh_claims()), trust=[dict(GH_TRUST[0], permissions=["createStagedPackage"])]), oidc_ok("gh-jti-1", NOW + 290, ["createStagedPackage"]))
tc("oidc: absent permissions mean createPackage", ex(jwt(gh_claims()), trust=[{"type": "github", "claims": GH_TRUST[0]["claims"]}]),
   oidc_ok("gh-jti-1", NOW + 290))
tc("oidc: no kid tries every key of the algorithm", ex(jwt(gh_claims(), header_extra={"kid": None})), oidc_ok("gh-jti-1", NOW + 290))
tc("oidc: audience in the input overrides config", ex(jwt(gh_claims(aud="npm:other.example")), audience="npm:other.example"), oidc_ok("gh-jti-1", NOW + 290))
tc("oidc: audience as a list", ex(jwt(gh_claims(aud=["x", AUD]))), oidc_ok("gh-jti-1", NOW + 290))
tc("oidc: expired beyond the 60 s leeway", ex(jwt(gh_claims()), now=NOW + 350), oidc_no("expired", 401))
tc("oidc: expired but within leeway", ex(jwt(gh_claims()), now=NOW + 349), {"result": "accepted"})
tc("oidc: nbf in the future beyond leeway", ex(jwt(gh_claims(nbf=NOW + 61, iat=NOW))), oidc_no("not-yet-valid", 401))
tc("oidc: wrong audience", ex(jwt(gh_claims(aud="npm:registry.example.evil"))), oidc_no("audience", 401))
tc("oidc: GitHub enterprise issuer is not GitHub", ex(jwt(gh_claims(iss=GH_ISS + "/acme-enterprise"))),
   {"result": "rejected", "problem": "issuer", "match": {"npm": {"status": 401, "error": "OIDC token exchange error - unauthorized"}}})
tc("oidc: tampered payload", ex(jwt(gh_claims(), tamper=True)), oidc_no("signature", 401))
tc("oidc: alg none", ex(jwt(gh_claims(), alg="none")), oidc_no("algorithm", 401))
tc("oidc: alg HS256", ex(jwt(gh_claims(), alg="HS256")), oidc_no("algorithm", 401))
tc("oidc: crit header", ex(jwt(gh_claims(), header_extra={"crit": ["exp"]})), oidc_no("algorithm", 401))
tc("oidc: kid not in the key set", ex(jwt(gh_claims(), kid="gh-2")), oidc_no("key", 401))
tc("oidc: 1024-bit RSA key is not used", ex(jwt(gh_claims(), key=RSA_SMALL, kid="small")), oidc_no("key", 401))
tc("oidc: not a JWT", ex("not.a-jwt"), oidc_no("malformed", 401))
tc("oidc: jti already exchanged", ex(jwt(gh_claims()), used_jtis=["gh-jti-1"]), oidc_no("replayed", 401))
tc("oidc: no jti", ex(jwt(gh_claims(jti=None))), oidc_no("malformed", 401))
tc("oidc: pull_request_target may not publish", ex(jwt(gh_claims(event_name="pull_request_target"))), oidc_no("trigger", 403))
tc("oidc: refused triggers are configurable", ex(jwt(gh_claims(event_name="pull_request_target"))), {"result": "accepted"},
   config={"trusted_publishing": {"audience": AUD, "refuse_events": []}})
tc("oidc: self-hosted runner", ex(jwt(gh_claims(runner_environment="self-hosted"))), oidc_no("trigger", 403))
tc("oidc: workflow file differs", ex(jwt(gh_claims(workflow_ref="acme/left-pad/.github/workflows/ci.yml@refs/heads/main"))),
   {"result": "rejected", "problem": "claims", "match": {"npm": {"status": 404, "error": "OIDC token exchange error - package not found"}}})
tc("oidc: workflow file matching is case-sensitive", ex(jwt(gh_claims(workflow_ref="acme/left-pad/.github/workflows/Release.yml@refs/tags/v1"))), oidc_no("claims", 404))
tc("oidc: another repository", ex(jwt(gh_claims(repository="mallory/left-pad"))), oidc_no("claims", 404))
tc("oidc: environment differs", ex(jwt(gh_claims(environment="staging"))), oidc_no("claims", 404))
tc("oidc: GitLab pipeline file differs", ex(jwt(gl_claims(ci_config_ref_uri="gitlab.com/acme/left-pad//other.yml@refs/heads/main"), key=P256, kid="gl-1"), trust=GL_TRUST),
   oidc_no("claims", 404))
tc("oidc: no trusted publisher for this provider", ex(jwt(gh_claims()), trust=GL_TRUST), oidc_no("no-trust", 404))
tc("oidc: no trusted publisher at all", ex(jwt(gh_claims()), trust=[]), oidc_no("no-trust", 404))
tc("oidc trust check: entries as the exchange reads them (absent permissions = createPackage)", {"trust": GL_TRUST + GH_TRUST},
   {"match": [dict(GL_TRUST[0], claims=dict(sorted(GL_TRUST[0]["claims"].items())), permissions=["createPackage"]),
              dict(GH_TRUST[0], claims=dict(sorted(GH_TRUST[0]["claims"].items())))]}, function="oidc-trust")
tc("oidc trust check: an unknown field is named", {"trust": [dict(GH_TRUST[0], id="left-pad#0")]},
   {"outcome": "error", "error_path": "trust[0].id"}, function="oidc-trust")
tc("oidc: unknown trust type", ex(jwt(gh_claims()), trust=[{"type": "jenkins", "claims": {}}]), {"outcome": "error", "error_path": "trust[0].type"})
tc("oidc: GitHub trust without a workflow", ex(jwt(gh_claims()), trust=[{"type": "github", "claims": {"repository": "acme/left-pad"}}]),
   {"outcome": "error", "error_path": "trust[0].claims.workflow_ref"})
tc("oidc: unknown permission", ex(jwt(gh_claims()), trust=[dict(GH_TRUST[0], permissions=["admin"])]), {"outcome": "error", "error_path": "trust[0].permissions"})
tc("oidc: no audience anywhere", ex(jwt(gh_claims())), {"outcome": "error", "error_path": "audience"}, config=None)
tc("oidc: key set is not a JWKS", ex(jwt(gh_claims()), jwks={"kty": "RSA"}), {"outcome": "error", "error_path": "jwks"})
tc("config: trusted_publishing leeway above 300", ex(jwt(gh_claims())), {"outcome": "error", "error_path": "config.trusted_publishing.leeway_seconds"},
   config={"trusted_publishing": {"audience": AUD, "leeway_seconds": 301}})

# the exchanged credential then decides a publish (SPEC §4 rule 1 / trusted-publisher)
T.append({"name": "oidc: the exchanged credential publishes its package", "request": {
    "now": NOW, "action": {"kind": "package.publish", "package": "left-pad"}, "account": {"id": "acme-ci", "tfa": None},
    "credential": {"kind": "oidc", "package": "left-pad", "permissions": ["createPackage"], "expires_at": NOW + 900}},
    "expect": {"outcome": "allow", "reason": "allowed-trusted-publisher", "rule": "trusted-publisher"}})


def write(name, cases):
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    return len(cases)


def main():
    n = write("14-webauthn", W) + write("15-trusted-publishing", T)
    print(f"wrote {n} signed cases in 2 files")


if __name__ == "__main__":
    main()
