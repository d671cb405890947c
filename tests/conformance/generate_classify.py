#!/usr/bin/env python3
"""Writes tests/conformance/16-classify.json: conformance vectors for the `classify` entry point
(SPEC §9, docs/CLASSIFICATION.md).

Every expectation below is written by hand from SPEC §9, docs/CLASSIFICATION.md and the npm wire
protocol reference (§2.5-2.7): the request shapes are the ones the npm 10.9.9 and 11.19.1 CLIs
send. Nothing here is derived from an implementation.

Expectations use `result`, `problem` and `match` (a partial match: objects key by key, anything
else exactly; see core/src/wire/expectation.rs `partial`). Only what the docs decide is pinned.

Run: python3 tests/conformance/generate_classify.py   (then commit the JSON file)
"""
import copy, json, os

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------- request builders ----------
UA = {10: "npm/10.9.9 node/v20.20.2 linux x64 workspaces/false",
      11: "npm/11.19.1 node/v22.14.0 linux x64 workspaces/false"}
NPMV = {10: "10.9.9", 11: "11.19.1"}
CORGI = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"


def H(cmd=None, v=11, auth="web", ct=True, accept="*/*", ci=None, **extra):
    """Headers as the npm CLI sends them (authorization, cookie and npm-otp are never passed)."""
    h = {"user-agent": UA[v] + (f" ci/{ci}" if ci else ""), "npm-auth-type": auth, "accept": accept}
    if cmd:
        h["npm-command"] = cmd
    if ct:
        h["content-type"] = "application/json"
    h.update(extra)
    return h


def I(method, path, headers=None, body=None, **extra):
    d = {"method": method, "path": path, "headers": headers if headers is not None else H(ct=False), "body": body}
    d.update(extra)  # current, routes
    return d


def GETH(cmd=None, v=11, accept="*/*"):
    return H(cmd, v, ct=False, accept=accept)


def tarball_name(name, ver):
    return f"{name.split('/')[-1]}-{ver}.tgz"


def manifest(name, ver, v=11, **extra):
    esc = name.replace("/", "%2f")
    m = {"name": name, "version": ver, "description": "demo", "main": "index.js", "license": "MIT",
         "_id": f"{name}@{ver}", "_nodeVersion": "20.20.2" if v == 10 else "22.14.0", "_npmVersion": NPMV[v],
         "dist": {"integrity": "sha512-2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d2f2d==",
                  "shasum": "0123456789abcdef0123456789abcdef01234567",
                  "tarball": f"http://127.0.0.1:4873/{esc}/-/{tarball_name(name, ver)}"}}
    m.update(extra)
    return m


def publish_body(name, ver="1.0.2", v=11, tag="latest", provenance=False, access=None):
    """libnpmpublish's body; the host removed each attachment's `data` and kept `length`."""
    att = {f"{name}-{ver}.tgz": {"content_type": "application/octet-stream", "length": 312}}
    if provenance:
        att[f"{name}-{ver}.sigstore"] = {"content_type": "application/vnd.dev.sigstore.bundle.v0.3+json", "length": 4711}
    return {"_id": name, "name": name, "description": "demo", "dist-tags": {tag: ver},
            "versions": {ver: manifest(name, ver, v)}, "access": access, "_attachments": att}


def MAINT(*names):
    return [{"name": n, "email": f"{n}@example.com"} for n in names]


def full_doc(name, versions=("1.0.0", "1.0.1"), deprecated=None, maintainers=("alice",), users=None,
             rev="7-0a1b2c3d", v=11):
    """The document `GET /<pkg>?write=true` returns (what deprecate/unpublish edit and PUT back)."""
    deprecated = deprecated or {}
    vers = {}
    for ver in versions:
        extra = {"deprecated": deprecated[ver]} if ver in deprecated else {}
        vers[ver] = manifest(name, ver, v, maintainers=MAINT(*maintainers), **extra)
    return {"_id": name, "_rev": rev, "name": name, "description": "demo",
            "dist-tags": {"latest": versions[-1]}, "versions": vers,
            "time": {"created": "2026-01-01T00:00:00.000Z", "modified": "2026-05-01T00:00:00.000Z",
                     **{ver: "2026-0%d-01T00:00:00.000Z" % (i + 1) for i, ver in enumerate(versions)}},
            "maintainers": MAINT(*maintainers), "users": users if users is not None else {"carol": True},
            "readme": "# demo", "readmeFilename": "README.md", "license": "MIT"}


def without_version(doc, ver):
    """libnpmpublish unpublish: the document minus one version (and its tags and time)."""
    d = copy.deepcopy(doc)
    del d["versions"][ver]
    d["time"].pop(ver, None)
    for t, tv in list(d["dist-tags"].items()):
        if tv == ver:
            del d["dist-tags"][t]
    d["dist-tags"]["latest"] = sorted(d["versions"])[-1]
    return d


def deprecated_doc(doc, ver, msg):
    d = copy.deepcopy(doc)
    d["versions"][ver]["deprecated"] = msg
    return d


# ---------- expectation builders ----------
_ = object()


def ok(route=_, action=_, package=_, path=_, key=_, write=_, needs_current=_, maintainers_only=_):
    m = {}
    for k, val in (("route", route), ("action", action), ("package", package), ("path", path), ("key", key),
                   ("write", write), ("needs_current", needs_current), ("maintainers_only", maintainers_only)):
        if val is not _:
            m[k] = val
    return {"result": "classified", "match": m}


# Action kinds of a package that only its maintainers may perform (publish, package writes but
# stars, package governance): the answer's `maintainers_only`.
MAINTAINERS_ONLY = {"package.publish", "package.stage-publish", "package.unpublish", "package.deprecate",
                    "dist-tag.add", "dist-tag.remove", "owner.add", "owner.remove", "access.visibility",
                    "access.grant", "access.revoke", "access.publishing-setting", "trust.configure",
                    "package.stage-approve"}


def W(method, path, route, action, package=None, needs=False):
    """A classified write: canonical path without query, key `METHOD path`."""
    only = bool(action) and action["kind"] in MAINTAINERS_ONLY and "package" in action
    return ok(route, action, package, path, f"{method} {path}", True, needs, only)


def R(path, action=_, package=_, method="GET", route="read"):
    """A classified read (query kept as received); the whole package document is `packument`."""
    if route == "read" and isinstance(package, str) and path.split("?")[0].count("/") == 1:
        route = "packument"
    return ok(route, action, package, path, f"{method} {path}", False, False, False)


def A(kind, **kw):
    return {"kind": kind, **kw}


def OP(expect, kind, package=None, tag=None, org=None, target=None, subject=None):
    """Pins the answer's `operation` (docs/CLASSIFICATION.md): what one accepted code covers,
    the JSON text [kind, [package, tag, org, target_account], subject]."""
    expect["match"]["operation"] = json.dumps([kind, [package, tag, org, target], subject],
                                              separators=(",", ":"))
    return expect


def refused(problem=None, status=400):
    e = {"result": "refused"}
    if problem:
        e["problem"] = problem
    e["match"] = {"status": status}
    return e


cases = []


def case(name, inp, expect):
    cases.append({"name": name, "call": "classify", "input": inp, "expect": expect})


LP, WG = "left-pad", "@acme/widget"
LPE, WGE = "/left-pad", "/@acme%2fwidget"
REV, REV2 = "7-0a1b2c3d", "8-4e5f6a7b"
KEY = "a" * 32 + "0123456789abcdef" * 6  # a sha512 hex token key (128 chars)
TOK = "npm_AbCdEf0123456789AbCdEf0123456789AbCd"
STAGE_ID = "5f1c2b9e-8d3a-4c6f-9a7e-1b2c3d4e5f60"
TRUST_ID = "9b3e1a70-2c4d-4e8f-a1b2-c3d4e5f60718"

# =====================================================================================
# 1. The catalogue, as npm 10 and npm 11 send it
# =====================================================================================
for v in (10, 11):
    p = f"npm {v}"
    # --- publish ---
    case(f"{p} publish: PUT /left-pad with a tarball attachment is package.publish",
         I("PUT", LPE, H("publish", v), publish_body(LP, v=v)),
         OP(W("PUT", LPE, "publish", A("package.publish", package=LP, tag="latest"), LP),
            "package.publish", LP, tag="latest"))
    case(f"{p} publish: scoped PUT /@acme%2fwidget is package.publish of @acme/widget",
         I("PUT", WGE, H("publish", v), publish_body(WG, "1.0.0", v=v, access="public")),
         W("PUT", WGE, "publish", A("package.publish", package=WG, tag="latest"), WG))
    # --- deprecate (GET ?write=true, then PUT the whole document to /<pkg>) ---
    dep = deprecated_doc(full_doc(LP, v=v), "1.0.0", "use 1.0.1")
    case(f"{p} deprecate: whole document without current is read strictest (maintainers: owner.add) and needs current",
         I("PUT", LPE, H("deprecate", v), dep),
         W("PUT", LPE, "owner", A("owner.add", package=LP), LP, needs=True))
    case(f"{p} deprecate: whole document with current differing only in deprecated is package.deprecate",
         I("PUT", LPE, H("deprecate", v), dep, current=full_doc(LP, v=v)),
         W("PUT", LPE, "deprecate", A("package.deprecate", package=LP), LP))
    # --- unpublish one version: PUT /<pkg>/-rev/<rev> (doc minus version), then tarball DELETE ---
    unp = without_version(full_doc(LP, v=v), "1.0.1")
    case(f"{p} unpublish version: PUT -rev of the document minus a version, without current, is owner.add and needs current",
         I("PUT", f"{LPE}/-rev/{REV}", H("unpublish", v), unp),
         W("PUT", f"{LPE}/-rev/{REV}", "owner", A("owner.add", package=LP), LP, needs=True))
    case(f"{p} unpublish version: PUT -rev with current holding the extra version is package.unpublish",
         I("PUT", f"{LPE}/-rev/{REV}", H("unpublish", v), unp, current=full_doc(LP, v=v)),
         OP(W("PUT", f"{LPE}/-rev/{REV}", "unpublish", A("package.unpublish", package=LP), LP),
            "package.unpublish", LP))
    # The tarball DELETE is the same operation as the PUT before it: one code covers both.
    case(f"{p} unpublish version: tarball DELETE /left-pad/-/left-pad-1.0.1.tgz/-rev/<rev>",
         I("DELETE", f"{LPE}/-/left-pad-1.0.1.tgz/-rev/{REV2}", H("unpublish", v, ct=False)),
         OP(W("DELETE", f"{LPE}/-/left-pad-1.0.1.tgz/-rev/{REV2}", "unpublish", A("package.unpublish", package=LP), LP),
            "package.unpublish", LP))
    # --- unpublish everything ---
    case(f"{p} unpublish all: DELETE /left-pad/-rev/<rev>",
         I("DELETE", f"{LPE}/-rev/{REV}", H("unpublish", v, ct=False)),
         W("DELETE", f"{LPE}/-rev/{REV}", "unpublish", A("package.unpublish", package=LP), LP))
    # --- owner add / rm: PUT /<pkg>/-rev/<rev> {_id,_rev,maintainers} ---
    case(f"{p} owner add: PUT -rev with {{_id,_rev,maintainers}} without current is owner.add and needs current",
         I("PUT", f"{LPE}/-rev/{REV}", H("owner", v), {"_id": LP, "_rev": REV, "maintainers": MAINT("alice", "bob")}),
         W("PUT", f"{LPE}/-rev/{REV}", "owner", A("owner.add", package=LP), LP, needs=True))
    case(f"{p} owner rm: PUT -rev with fewer maintainers without current is still owner.add (strictest)",
         I("PUT", f"{LPE}/-rev/{REV}", H("owner", v), {"_id": LP, "_rev": REV, "maintainers": MAINT("alice")}),
         W("PUT", f"{LPE}/-rev/{REV}", "owner", A("owner.add", package=LP), LP, needs=True))
    # --- star ---
    case(f"{p} star: PUT /left-pad with only {{_id,_rev,users}} is package.star",
         I("PUT", LPE, H("star", v), {"_id": LP, "_rev": REV, "users": {"carol": True, "alice": True}}),
         W("PUT", LPE, "star", A("package.star", package=LP), LP))
    # --- dist-tag add / rm ---
    case(f"{p} dist-tag add: PUT /-/package/left-pad/dist-tags/beta with body \"1.0.1\"",
         I("PUT", f"/-/package/{LP}/dist-tags/beta", H("dist-tag", v), "1.0.1"),
         W("PUT", f"/-/package/{LP}/dist-tags/beta", "dist-tag", A("dist-tag.add", package=LP, tag="beta"), LP))
    case(f"{p} dist-tag rm: DELETE /-/package/left-pad/dist-tags/beta",
         I("DELETE", f"/-/package/{LP}/dist-tags/beta", H("dist-tag", v)),
         W("DELETE", f"/-/package/{LP}/dist-tags/beta", "dist-tag", A("dist-tag.remove", package=LP, tag="beta"), LP))
    # --- access ---
    case(f"{p} access set mfa=publish is access.publishing-setting",
         I("POST", f"/-/package/{LP}/access", H("access", v), {"publish_requires_tfa": True, "automation_token_overrides_tfa": False}),
         W("POST", f"/-/package/{LP}/access", "access", A("access.publishing-setting", package=LP), LP))
    case(f"{p} access set status=public is access.visibility",
         I("POST", f"/-/package/{LP}/access", H("access", v), {"access": "public"}),
         W("POST", f"/-/package/{LP}/access", "access", A("access.visibility", package=LP), LP))
    case(f"{p} access grant: PUT /-/team/acme/devs/package is access.grant of the body's package",
         I("PUT", "/-/team/acme/devs/package", H("access", v), {"package": WG, "permissions": "read-write"}),
         ok("team-package", A("access.grant", package=WG), path="/-/team/acme/devs/package",
            key="PUT /-/team/acme/devs/package", write=True, needs_current=False))
    case(f"{p} access revoke: DELETE /-/team/acme/devs/package is access.revoke of the body's package",
         I("DELETE", "/-/team/acme/devs/package", H("access", v), {"package": WG}),
         ok("team-package", A("access.revoke", package=WG), path="/-/team/acme/devs/package",
            key="DELETE /-/team/acme/devs/package", write=True, needs_current=False))
    # --- org ---
    case(f"{p} org set: PUT /-/org/acme/user is org.member.add of the body's user",
         I("PUT", "/-/org/acme/user", H("org", v), {"user": "bob", "role": "developer"}),
         OP(W("PUT", "/-/org/acme/user", "org-member", A("org.member.add", org="acme", target_account="bob")),
            "org.member.add", org="acme", target="bob"))
    # A code spent adding bob to acme adds nobody to another org, nor another account.
    case(f"{p} org set into another org is another operation",
         I("PUT", "/-/org/other/user", H("org", v), {"user": "bob", "role": "developer"}),
         OP(W("PUT", "/-/org/other/user", "org-member", A("org.member.add", org="other", target_account="bob")),
            "org.member.add", org="other", target="bob"))
    case(f"{p} org rm: DELETE /-/org/acme/user is org.member.remove of the body's user",
         I("DELETE", "/-/org/acme/user", H("org", v), {"user": "bob"}),
         W("DELETE", "/-/org/acme/user", "org-member", A("org.member.remove", org="acme", target_account="bob")))
    # --- team ---
    case(f"{p} team create: PUT /-/org/acme/team is org.team.change",
         I("PUT", "/-/org/acme/team", H("team", v), {"name": "devs", "description": "Developers"}),
         OP(W("PUT", "/-/org/acme/team", "team", A("org.team.change", org="acme")),
            "org.team.change", org="acme", subject="team devs"))
    case(f"{p} team destroy: DELETE /-/team/acme/devs is org.team.change",
         I("DELETE", "/-/team/acme/devs", H("team", v, ct=False)),
         OP(W("DELETE", "/-/team/acme/devs", "team", A("org.team.change", org="acme")),
            "org.team.change", org="acme", subject="team devs"))
    case(f"{p} team add: PUT /-/team/acme/devs/user is org.team.change",
         I("PUT", "/-/team/acme/devs/user", H("team", v), {"user": "bob"}),
         OP(W("PUT", "/-/team/acme/devs/user", "team", A("org.team.change", org="acme", target_account="bob")),
            "org.team.change", org="acme", target="bob", subject="team devs"))
    case(f"{p} team rm: DELETE /-/team/acme/devs/user is org.team.change",
         I("DELETE", "/-/team/acme/devs/user", H("team", v), {"user": "bob"}),
         W("DELETE", "/-/team/acme/devs/user", "team", A("org.team.change", org="acme")))
    # --- tokens ---
    case(f"{p} token revoke by key: DELETE /-/npm/v1/tokens/token/<key>",
         I("DELETE", f"/-/npm/v1/tokens/token/{KEY}", H("token", v, ct=False)),
         W("DELETE", f"/-/npm/v1/tokens/token/{KEY}", "token-revoke", A("token.revoke")))
    # --- logout ---
    case(f"{p} logout: DELETE /-/user/token/<token> is answered by the host (action null)",
         I("DELETE", f"/-/user/token/{TOK}", H("logout", v, ct=False)),
         W("DELETE", f"/-/user/token/{TOK}", "logout", None))
    # --- couch login ---
    case(f"{p} couch login: PUT /-/user/org.couchdb.user:alice is couch-login (a login of alice)",
         I("PUT", "/-/user/org.couchdb.user:alice", H("login", v, auth="legacy"),
           {"_id": "org.couchdb.user:alice", "name": "alice", "password": "pw", "type": "user", "roles": [],
            "date": "2026-11-23T08:44:55.666Z"}),
         W("PUT", "/-/user/org.couchdb.user:alice", "couch-login", A("login", target_account="alice")))
    # --- web login ---
    case(f"{p} web login: POST /-/v1/login with {{}} is web-login (a login)",
         I("POST", "/-/v1/login", H("login", v), {}),
         W("POST", "/-/v1/login", "web-login", A("login")))
    # --- profile ---
    case(f"{p} profile set fullname without the current profile: the email it carries reads as email.change",
         I("POST", "/-/npm/v1/user", H("profile", v),
           {"email": "alice@example.com", "fullname": "Alice X", "homepage": None, "freenode": None, "twitter": None, "github": None}),
         W("POST", "/-/npm/v1/user", "profile", A("email.change"), needs=True))
    case(f"{p} profile set fullname with the current profile (same email) is profile.update",
         I("POST", "/-/npm/v1/user", H("profile", v),
           {"email": "alice@example.com", "fullname": "Alice X", "homepage": None, "freenode": None, "twitter": None, "github": None},
           current={"email": "alice@example.com"}),
         W("POST", "/-/npm/v1/user", "profile", A("profile.update")))
    case(f"{p} profile set password: {{password:{{old,new}}}} with the other keys is password.change",
         I("POST", "/-/npm/v1/user", H("profile", v),
           {"email": "alice@example.com", "fullname": "Alice", "homepage": None, "freenode": None, "twitter": None,
            "github": None, "password": {"old": "pw", "new": "pw2"}}),
         W("POST", "/-/npm/v1/user", "profile", A("password.change")))
    case(f"{p} profile enable-2fa: {{tfa:{{mode:auth-and-writes,password}}}} is tfa.enable",
         I("POST", "/-/npm/v1/user", H("profile", v), {"tfa": {"mode": "auth-and-writes", "password": "pw"}}),
         W("POST", "/-/npm/v1/user", "profile", A("tfa.enable")))
    case(f"{p} profile enable-2fa confirm: {{tfa:[\"123456\"]}} is tfa.enable",
         I("POST", "/-/npm/v1/user", H("profile", v), {"tfa": ["123456"]}),
         W("POST", "/-/npm/v1/user", "profile", A("tfa.enable")))
    case(f"{p} profile disable-2fa: {{tfa:{{password,mode:disable}}}} is tfa.disable",
         I("POST", "/-/npm/v1/user", H("profile", v), {"tfa": {"password": "pw", "mode": "disable"}}),
         W("POST", "/-/npm/v1/user", "profile", A("tfa.disable")))
    # --- audit (a read sent as POST) ---
    case(f"{p} audit: POST /-/npm/v1/security/advisories/bulk is audit, package.read",
         I("POST", "/-/npm/v1/security/advisories/bulk", H("audit", v), {"left-pad": ["1.3.0"], "@acme/widget": ["1.0.0"]}),
         ok("audit", A("package.read"), None, "/-/npm/v1/security/advisories/bulk",
            "POST /-/npm/v1/security/advisories/bulk", needs_current=False))

# --- npm 10 only shapes ---
case("npm 10 token create: legacy body {password,readonly,cidr_whitelist} is token.create",
     I("POST", "/-/npm/v1/tokens", H("token", 10), {"password": "pw", "readonly": False, "cidr_whitelist": []}),
     W("POST", "/-/npm/v1/tokens", "token-create", A("token.create")))
case("npm 10 token create --read-only --cidr: legacy read-only body is token.create",
     I("POST", "/-/npm/v1/tokens", H("token", 10), {"password": "pw", "readonly": True, "cidr_whitelist": ["10.0.0.0/8"]}),
     W("POST", "/-/npm/v1/tokens", "token-create", A("token.create")))
case("npm 10 profile enable-2fa mode change to auth-only is tfa.enable",
     I("POST", "/-/npm/v1/user", H("profile", 10), {"tfa": {"mode": "auth-only", "password": "pw"}}),
     W("POST", "/-/npm/v1/user", "profile", A("tfa.enable")))
case("npm 10 token revoke by legacy uuid token",
     I("DELETE", "/-/npm/v1/tokens/token/2a3c4e5f-6789-4abc-8def-0123456789ab", H("token", 10, ct=False)),
     W("DELETE", "/-/npm/v1/tokens/token/2a3c4e5f-6789-4abc-8def-0123456789ab", "token-revoke", A("token.revoke")))

# --- npm 11 only shapes ---
case("npm 11 token create: granular body is token.create",
     I("POST", "/-/npm/v1/tokens", H("token"),
       {"name": "ci-token", "password": "pw", "description": "for ci", "packages": ["demo-2fa-pkg", "@alice/x"],
        "scopes": ["@alice"], "orgs": ["acme"], "packages_and_scopes_permission": "read-write",
        "orgs_permission": "read-only", "expires": 30, "cidr_whitelist": ["10.0.0.0/8", "192.168.1.0/24"],
        "bypass_2fa": True}),
     W("POST", "/-/npm/v1/tokens", "token-create", A("token.create")))
case("npm 11 token create --read-only: bare {name:null,password} is token.create",
     I("POST", "/-/npm/v1/tokens", H("token"), {"name": None, "password": "pw"}),
     W("POST", "/-/npm/v1/tokens", "token-create", A("token.create")))
case("npm 11 token revoke by full token value",
     I("DELETE", f"/-/npm/v1/tokens/token/{TOK}", H("token", ct=False)),
     W("DELETE", f"/-/npm/v1/tokens/token/{TOK}", "token-revoke", A("token.revoke")))
case("npm 11 trust github: POST /-/package/left-pad/trust is trust.configure",
     I("POST", f"/-/package/{LP}/trust", H("trust"),
       [{"type": "github", "claims": {"repository": "owner/repo", "workflow_ref": {"file": "publish.yml"}, "environment": "prod"},
         "permissions": ["createPackage", "createStagedPackage"]}]),
     W("POST", f"/-/package/{LP}/trust", "trust", A("trust.configure", package=LP), LP))
case("npm 11 trust gitlab: scoped POST /-/package/@acme%2fwidget/trust is trust.configure",
     I("POST", f"/-/package/@acme%2fwidget/trust", H("trust"),
       [{"type": "gitlab", "claims": {"project_path": "group/project", "ci_config_ref_uri": {"file": ".gitlab-ci.yml"}, "environment": "prod"},
         "permissions": ["createPackage"]}]),
     W("POST", "/-/package/@acme%2fwidget/trust", "trust", A("trust.configure", package=WG), WG))
case("npm 11 trust circleci: POST /-/package/left-pad/trust is trust.configure",
     I("POST", f"/-/package/{LP}/trust", H("trust"),
       [{"type": "circleci", "claims": {"oidc.circleci.com/org-id": "0d1e2f30-4152-4637-8899-aabbccddeeff",
                                        "oidc.circleci.com/project-id": "1e2f3041-5263-4748-99aa-bbccddeeff00",
                                        "oidc.circleci.com/pipeline-definition-id": "2f304152-6374-4859-aabb-ccddeeff0011",
                                        "oidc.circleci.com/vcs-origin": "github.com/org/repo",
                                        "oidc.circleci.com/context-ids": ["30415263-7485-496a-bbcc-ddeeff001122"]},
         "permissions": ["createPackage"]}]),
     W("POST", f"/-/package/{LP}/trust", "trust", A("trust.configure", package=LP), LP))
case("npm 11 trust revoke: DELETE /-/package/left-pad/trust/<id> is trust.configure",
     I("DELETE", f"/-/package/{LP}/trust/{TRUST_ID}", H("trust", ct=False)),
     W("DELETE", f"/-/package/{LP}/trust/{TRUST_ID}", "trust", A("trust.configure", package=LP), LP))
case("npm 11 stage publish: POST /-/stage/package/left-pad with the publish body is package.stage-publish",
     I("POST", f"/-/stage/package/{LP}", H("stage"), publish_body(LP)),
     W("POST", f"/-/stage/package/{LP}", "stage-publish", A("package.stage-publish", package=LP), LP))
case("npm 11 stage publish: scoped POST /-/stage/package/@acme%2fwidget",
     I("POST", "/-/stage/package/@acme%2fwidget", H("stage"), publish_body(WG, "1.0.0")),
     W("POST", "/-/stage/package/@acme%2fwidget", "stage-publish", A("package.stage-publish", package=WG), WG))
case("npm 11 stage approve: POST /-/stage/<id>/approve is package.stage-approve of that stage id",
     I("POST", f"/-/stage/{STAGE_ID}/approve", H("stage", ct=False)),
     OP(W("POST", f"/-/stage/{STAGE_ID}/approve", "stage-approve", A("package.stage-approve")),
        "package.stage-approve", subject=f"approve {STAGE_ID}"))
case("npm 11 stage approve of another stage id is another operation",
     I("POST", f"/-/stage/{TRUST_ID}/approve", H("stage", ct=False)),
     OP(W("POST", f"/-/stage/{TRUST_ID}/approve", "stage-approve", A("package.stage-approve")),
        "package.stage-approve", subject=f"approve {TRUST_ID}"))
# Rejecting is decided as approving is (SPEC §2 has one kind), but a code spent rejecting
# approves nothing: its own route and operation.
case("npm 11 stage reject: DELETE /-/stage/<id> is the stage-reject route, decided as package.stage-approve",
     I("DELETE", f"/-/stage/{STAGE_ID}", H("stage", ct=False)),
     OP(W("DELETE", f"/-/stage/{STAGE_ID}", "stage-reject", A("package.stage-approve")),
        "package.stage-approve", subject=f"reject {STAGE_ID}"))
case("npm 11 OIDC exchange: POST /-/npm/v1/oidc/token/exchange/package/left-pad (no body) is oidc-exchange",
     I("POST", f"/-/npm/v1/oidc/token/exchange/package/{LP}", H("publish", ct=False, ci="gitlab-ci")),
     W("POST", f"/-/npm/v1/oidc/token/exchange/package/{LP}", "oidc-exchange", None, LP))
case("npm 11 OIDC exchange: scoped package @acme%2fwidget",
     I("POST", "/-/npm/v1/oidc/token/exchange/package/@acme%2fwidget", H("publish", ct=False, ci="github-actions")),
     W("POST", "/-/npm/v1/oidc/token/exchange/package/@acme%2fwidget", "oidc-exchange", None, WG))
case("npm 11 publish --tag beta: tag is the body's only dist-tag",
     I("PUT", LPE, H("publish"), publish_body(LP, "2.0.0-beta.1", tag="beta")),
     W("PUT", LPE, "publish", A("package.publish", package=LP, tag="beta"), LP))
case("npm 11 publish with provenance: tarball and .sigstore attachments is package.publish",
     I("PUT", WGE, H("publish", ci="github-actions"), publish_body(WG, "1.1.0", provenance=True, access="public")),
     W("PUT", WGE, "publish", A("package.publish", package=WG, tag="latest"), WG))
case("npm 11 deprecate scoped package with current is package.deprecate",
     I("PUT", WGE, H("deprecate"), deprecated_doc(full_doc(WG), "1.0.0", "no longer supported"), current=full_doc(WG)),
     W("PUT", WGE, "deprecate", A("package.deprecate", package=WG), WG))
case("npm 11 undeprecate: deprecated set to \"\" where current has a message is package.deprecate",
     I("PUT", LPE, H("deprecate"), deprecated_doc(full_doc(LP), "1.0.0", ""),
       current=full_doc(LP, deprecated={"1.0.0": "use 1.0.1"})),
     W("PUT", LPE, "deprecate", A("package.deprecate", package=LP), LP))
case("npm 11 unpublish scoped version: PUT /@acme%2fwidget/-rev/<rev> with current is package.unpublish",
     I("PUT", f"{WGE}/-rev/{REV}", H("unpublish"), without_version(full_doc(WG), "1.0.1"), current=full_doc(WG)),
     W("PUT", f"{WGE}/-rev/{REV}", "unpublish", A("package.unpublish", package=WG), WG))
case("npm 11 unpublish scoped tarball: DELETE /@acme/widget/-/widget-1.0.1.tgz/-rev/<rev> (tarball URL path)",
     I("DELETE", f"/@acme/widget/-/widget-1.0.1.tgz/-rev/{REV2}", H("unpublish", ct=False)),
     W("DELETE", f"{WGE}/-/widget-1.0.1.tgz/-rev/{REV2}", "unpublish", A("package.unpublish", package=WG), WG))
case("npm 11 unpublish scoped all: DELETE /@acme%2fwidget/-rev/<rev>",
     I("DELETE", f"{WGE}/-rev/{REV}", H("unpublish", ct=False)),
     W("DELETE", f"{WGE}/-rev/{REV}", "unpublish", A("package.unpublish", package=WG), WG))
case("npm 11 owner add with current: a maintainer added is owner.add naming them",
     I("PUT", f"{LPE}/-rev/{REV}", H("owner"), {"_id": LP, "_rev": REV, "maintainers": MAINT("alice", "bob")},
       current=full_doc(LP, maintainers=("alice",))),
     W("PUT", f"{LPE}/-rev/{REV}", "owner", A("owner.add", package=LP, target_account="bob"), LP))
case("npm 11 owner rm with current: a maintainer removed is owner.remove naming them",
     I("PUT", f"{LPE}/-rev/{REV}", H("owner"), {"_id": LP, "_rev": REV, "maintainers": MAINT("alice")},
       current=full_doc(LP, maintainers=("alice", "bob"))),
     W("PUT", f"{LPE}/-rev/{REV}", "owner", A("owner.remove", package=LP, target_account="bob"), LP))
case("npm 11 owner add scoped: PUT /@acme/widget/-rev/<rev> (two segments) canonicalises the package",
     I("PUT", f"/@acme/widget/-rev/{REV}", H("owner"), {"_id": WG, "_rev": REV, "maintainers": MAINT("alice", "bob")},
       current=full_doc(WG, maintainers=("alice",))),
     W("PUT", f"{WGE}/-rev/{REV}", "owner", A("owner.add", package=WG, target_account="bob"), WG))
case("npm 11 star with current is package.star and needs nothing more",
     I("PUT", LPE, H("star"), {"_id": LP, "_rev": REV, "users": {"carol": True, "alice": True}}, current=full_doc(LP)),
     W("PUT", LPE, "star", A("package.star", package=LP), LP))
case("npm 11 unstar: users without the account is package.star",
     I("PUT", LPE, H("unstar"), {"_id": LP, "_rev": REV, "users": {}}),
     W("PUT", LPE, "star", A("package.star", package=LP), LP))
case("npm 11 dist-tag add scoped: PUT /-/package/@acme%2fwidget/dist-tags/next",
     I("PUT", "/-/package/@acme%2fwidget/dist-tags/next", H("dist-tag"), "2.0.0"),
     W("PUT", "/-/package/@acme%2fwidget/dist-tags/next", "dist-tag", A("dist-tag.add", package=WG, tag="next"), WG))
case("npm 11 dist-tag rm latest: DELETE /-/package/left-pad/dist-tags/latest",
     I("DELETE", f"/-/package/{LP}/dist-tags/latest", H("dist-tag")),
     W("DELETE", f"/-/package/{LP}/dist-tags/latest", "dist-tag", A("dist-tag.remove", package=LP, tag="latest"), LP))
case("dist-tags: POST /-/package/left-pad/dist-tags moving latest is dist-tag.add latest",
     I("POST", f"/-/package/{LP}/dist-tags", H("dist-tag"), {"latest": "1.0.1", "beta": "2.0.0-beta.1"}),
     W("POST", f"/-/package/{LP}/dist-tags", "dist-tag", A("dist-tag.add", package=LP, tag="latest"), LP))
case("dist-tags: PUT /-/package/left-pad/dist-tags moving latest is dist-tag.add latest",
     I("PUT", f"/-/package/{LP}/dist-tags", H("dist-tag"), {"latest": "1.0.1"}),
     W("PUT", f"/-/package/{LP}/dist-tags", "dist-tag", A("dist-tag.add", package=LP, tag="latest"), LP))
case("dist-tags: POST /-/package/left-pad/dist-tags without latest is dist-tag.add",
     I("POST", f"/-/package/{LP}/dist-tags", H("dist-tag"), {"beta": "2.0.0-beta.1"}),
     W("POST", f"/-/package/{LP}/dist-tags", "dist-tag", A("dist-tag.add", package=LP), LP))
case("npm 11 access set mfa=none is access.publishing-setting",
     I("POST", f"/-/package/{LP}/access", H("access"), {"publish_requires_tfa": False}),
     W("POST", f"/-/package/{LP}/access", "access", A("access.publishing-setting", package=LP), LP))
case("npm 11 access set mfa=automation is access.publishing-setting",
     I("POST", "/-/package/@acme%2fwidget/access", H("access"), {"publish_requires_tfa": True, "automation_token_overrides_tfa": True}),
     W("POST", "/-/package/@acme%2fwidget/access", "access", A("access.publishing-setting", package=WG), WG))
case("npm 11 access set status=private sends restricted: access.visibility",
     I("POST", "/-/package/@acme%2fwidget/access", H("access"), {"access": "restricted"}),
     W("POST", "/-/package/@acme%2fwidget/access", "access", A("access.visibility", package=WG), WG))
case("npm 11 adduser (web): POST /-/v1/login {create:true} is web-login",
     I("POST", "/-/v1/login", H("adduser"), {"create": True}),
     W("POST", "/-/v1/login", "web-login", A("login")))
case("npm 11 adduser (legacy): couch PUT with email is couch-login",
     I("PUT", "/-/user/org.couchdb.user:alice", H("adduser", auth="legacy"),
       {"_id": "org.couchdb.user:alice", "name": "alice", "password": "pw", "email": "alice@example.com", "type": "user",
        "roles": [], "date": "2026-11-23T08:44:55.666Z"}),
     W("PUT", "/-/user/org.couchdb.user:alice", "couch-login", A("login", target_account="alice")))
case("couch login with %3A: PUT /-/user/org.couchdb.user%3Aalice is couch-login with ':' in the canonical path",
     I("PUT", "/-/user/org.couchdb.user%3Aalice", H("login", auth="legacy"),
       {"_id": "org.couchdb.user:alice", "name": "alice", "password": "pw", "type": "user", "roles": [], "date": "2026-11-23T08:44:55.666Z"}),
     W("PUT", "/-/user/org.couchdb.user:alice", "couch-login", A("login", target_account="alice")))
case("couch login with lower-case %3a is couch-login",
     I("PUT", "/-/user/org.couchdb.user%3aalice", H("login", auth="legacy"),
       {"_id": "org.couchdb.user:alice", "name": "alice", "password": "pw", "type": "user", "roles": [], "date": "2026-11-23T08:44:55.666Z"}),
     W("PUT", "/-/user/org.couchdb.user:alice", "couch-login", A("login", target_account="alice")))
case("couch login after 409: PUT /-/user/org.couchdb.user:alice/-rev/<rev> is couch-login",
     I("PUT", "/-/user/org.couchdb.user:alice/-rev/3-9f8e7d", H("login", auth="legacy"),
       {"_id": "org.couchdb.user:alice", "_rev": "3-9f8e7d", "name": "alice", "password": "pw", "type": "user", "roles": [],
        "date": "2026-11-23T08:44:55.666Z"}),
     W("PUT", "/-/user/org.couchdb.user:alice/-rev/3-9f8e7d", "couch-login", A("login", target_account="alice")))
case("npm 11 profile enable-2fa pending reset: {tfa:{password,mode:disable}} is tfa.disable",
     I("POST", "/-/npm/v1/user", H("profile"), {"tfa": {"password": "pw", "mode": "disable"}}),
     W("POST", "/-/npm/v1/user", "profile", A("tfa.disable")))
case("npm 11 profile set email, against the current profile, is email.change",
     I("POST", "/-/npm/v1/user", H("profile"),
       {"email": "alice@new.example", "fullname": "Alice", "homepage": "https://alice.example", "freenode": None,
        "twitter": "alice", "github": "alice"}, current={"email": "alice@example.com"}),
     W("POST", "/-/npm/v1/user", "profile", A("email.change")))
case("npm 11 profile set with email null is profile.update (nothing to compare)",
     I("POST", "/-/npm/v1/user", H("profile"), {"email": None, "fullname": "Alice"}),
     W("POST", "/-/npm/v1/user", "profile", A("profile.update")))
case("npm 11 audit quick: POST /-/npm/v1/security/audits/quick is audit, package.read",
     I("POST", "/-/npm/v1/security/audits/quick", H("audit"),
       {"name": "app", "version": "1.0.0", "requires": {"left-pad": "^1.3.0"},
        "dependencies": {"left-pad": {"version": "1.3.0", "integrity": "sha512-x"}}}),
     ok("audit", A("package.read"), None, "/-/npm/v1/security/audits/quick", "POST /-/npm/v1/security/audits/quick",
        needs_current=False))
case("audit full: POST /-/npm/v1/security/audits is audit, package.read",
     I("POST", "/-/npm/v1/security/audits", H("audit"), {"name": "app", "version": "1.0.0", "requires": {}, "dependencies": {}}),
     ok("audit", A("package.read"), None, "/-/npm/v1/security/audits", "POST /-/npm/v1/security/audits", needs_current=False))
case("web done: GET /-/v1/done?authId=<id> is web-done, a read keeping its query",
     I("GET", f"/-/v1/done?authId={STAGE_ID}", GETH("publish")),
     ok("web-done", None, None, f"/-/v1/done?authId={STAGE_ID}", f"GET /-/v1/done?authId={STAGE_ID}", False, False))
case("web done: PUT /-/v1/done?authId=<id> with body \"1.0.1\" (dist-tag add poll quirk) is web-done",
     I("PUT", f"/-/v1/done?authId={STAGE_ID}", H("dist-tag"), "1.0.1"),
     ok("web-done", None, None, write=True))
case("web done: DELETE /-/v1/done?authId=<id> (dist-tag rm poll quirk) is web-done",
     I("DELETE", f"/-/v1/done?authId={STAGE_ID}", H("dist-tag")),
     ok("web-done", None, None, write=True))
case("web done: GET /-/v1/done?sessionId=<id> (web login poll) is web-done",
     I("GET", f"/-/v1/done?sessionId={STAGE_ID}", GETH("login")),
     ok("web-done", None, None, f"/-/v1/done?sessionId={STAGE_ID}", f"GET /-/v1/done?sessionId={STAGE_ID}", False, False))

# =====================================================================================
# 2. Reads
# =====================================================================================
PR = lambda pkg: A("package.read", package=pkg)
for v in (10, 11):
    case(f"npm {v} read: GET /left-pad packument (corgi accept) is package.read",
         I("GET", LPE, GETH("install", v, CORGI)), R(LPE, PR(LP), LP))
for raw in ("/@acme%2fwidget", "/@acme%2Fwidget", "/%40acme%2fwidget", "/%40acme%2Fwidget", "/@acme/widget", "/%40acme/widget"):
    case(f"read: scoped packument GET {raw} is package.read of @acme/widget at /@acme%2fwidget",
         I("GET", raw, GETH("install", 11, CORGI)), R(WGE, PR(WG), WG))
case("read: tarball GET /left-pad/-/left-pad-1.3.0.tgz is route tarball (hosts count downloads by it)",
     I("GET", f"{LPE}/-/left-pad-1.3.0.tgz", GETH("install")), R(f"{LPE}/-/left-pad-1.3.0.tgz", PR(LP), LP, route="tarball"))
case("read: scoped tarball GET /@acme/widget/-/widget-1.0.0.tgz",
     I("GET", "/@acme/widget/-/widget-1.0.0.tgz", GETH("install")), R(f"{WGE}/-/widget-1.0.0.tgz", PR(WG), WG, route="tarball"))
case("read: scoped tarball GET /@acme%2fwidget/-/widget-1.0.0.tgz",
     I("GET", f"{WGE}/-/widget-1.0.0.tgz", GETH("install")), R(f"{WGE}/-/widget-1.0.0.tgz", PR(WG), WG, route="tarball"))
case("read: GET /left-pad?write=true is a read keeping its query",
     I("GET", f"{LPE}?write=true", GETH("deprecate")), R(f"{LPE}?write=true", PR(LP), LP))
case("read: GET /@acme%2fwidget?write=true is a read keeping its query",
     I("GET", f"{WGE}?write=true", GETH("unpublish")), R(f"{WGE}?write=true", PR(WG), WG))
case("read: GET /left-pad/1.3.0 version manifest",
     I("GET", f"{LPE}/1.3.0", GETH("view")), R(f"{LPE}/1.3.0", PR(LP), LP))
case("read: HEAD /left-pad", I("HEAD", LPE, GETH()), R(LPE, PR(LP), LP, method="HEAD"))
case("read: HEAD tarball", I("HEAD", f"{LPE}/-/left-pad-1.3.0.tgz", GETH()),
     R(f"{LPE}/-/left-pad-1.3.0.tgz", PR(LP), LP, method="HEAD", route="tarball"))
case("read: OPTIONS /left-pad", I("OPTIONS", LPE, GETH()), R(LPE, PR(LP), LP, method="OPTIONS"))
case("read: OPTIONS on a write route path is a read", I("OPTIONS", "/-/npm/v1/tokens", GETH()),
     R("/-/npm/v1/tokens", method="OPTIONS"))
for v in (10, 11):
    case(f"npm {v} read: GET /-/whoami is profile.read", I("GET", "/-/whoami", GETH("whoami", v)),
         R("/-/whoami", A("profile.read"), None))
    case(f"npm {v} read: profile get GET /-/npm/v1/user is profile.read", I("GET", "/-/npm/v1/user", GETH("profile", v)),
         R("/-/npm/v1/user", A("profile.read"), None))
    case(f"npm {v} read: token list GET /-/npm/v1/tokens is token.list", I("GET", "/-/npm/v1/tokens", GETH("token", v)),
         R("/-/npm/v1/tokens", A("token.list"), None))
case("read: token list next page keeps its query", I("GET", "/-/npm/v1/tokens?page=1&perPage=10", GETH("token")),
     R("/-/npm/v1/tokens?page=1&perPage=10", A("token.list"), None))
for pth in ("/-/org/acme/package", "/-/org/acme/user", "/-/org/acme/team", "/-/team/acme/devs/package", "/-/team/acme/devs/user"):
    case(f"read: GET {pth} is org.read", I("GET", pth, GETH("access")), R(pth, A("org.read")))
case("read: dist-tag ls GET /-/package/left-pad/dist-tags", I("GET", f"/-/package/{LP}/dist-tags", GETH("dist-tag")),
     R(f"/-/package/{LP}/dist-tags", PR(LP), LP))
case("read: dist-tag ls scoped GET /-/package/%40acme%2fwidget/dist-tags",
     I("GET", "/-/package/%40acme%2fwidget/dist-tags", GETH("dist-tag")),
     R("/-/package/@acme%2fwidget/dist-tags", PR(WG), WG))
case("read: access get status GET /-/package/left-pad/visibility", I("GET", f"/-/package/{LP}/visibility", GETH("access")),
     R(f"/-/package/{LP}/visibility", PR(LP), LP))
case("read: access list collaborators GET /-/package/left-pad/collaborators",
     I("GET", f"/-/package/{LP}/collaborators", GETH("access")), R(f"/-/package/{LP}/collaborators", PR(LP), LP))
case("read: trust list GET /-/package/left-pad/trust", I("GET", f"/-/package/{LP}/trust", GETH("trust")),
     R(f"/-/package/{LP}/trust", PR(LP), LP))
case("read: search GET /-/v1/search?text=left-pad&size=20 is package.read without a package",
     I("GET", "/-/v1/search?text=left-pad&size=20", GETH("search")),
     R("/-/v1/search?text=left-pad&size=20", A("package.read"), None))
case("read: stage list GET /-/stage?page=0&perPage=10 is package.read",
     I("GET", "/-/stage?page=0&perPage=10", GETH("stage")), R("/-/stage?page=0&perPage=10", A("package.read")))
case("read: lone scope GET /@acme is package.read without a package",
     I("GET", "/@acme", GETH()), R("/@acme", A("package.read"), None))
case("read: trailing slash GET /left-pad/ is /left-pad", I("GET", "/left-pad/", GETH()), R(LPE, PR(LP), LP))
case("read: trailing slash before the query GET /left-pad/?write=true", I("GET", "/left-pad/?write=true", GETH()),
     R(f"{LPE}?write=true", PR(LP), LP))
case("read: GET /-/ping", I("GET", "/-/ping", GETH("ping")), R("/-/ping", A("package.read"), None))
case("read: owner add pre-check GET /-/user/org.couchdb.user:bob is a read",
     I("GET", "/-/user/org.couchdb.user:bob", GETH("owner")), R("/-/user/org.couchdb.user:bob"))
case("read: upper-case package name is allowed (existing packages)", I("GET", "/JSONStream", GETH()),
     R("/JSONStream", PR("JSONStream"), "JSONStream"))
case("read: sub-delims in a name are re-encoded: GET /wow! is /wow%21", I("GET", "/wow!", GETH()),
     R("/wow%21", PR("wow!"), "wow!"))
case("read: tilde is unreserved and kept: GET /%7Etilde-pkg is /~tilde-pkg", I("GET", "/%7Etilde-pkg", GETH()),
     R("/~tilde-pkg", PR("~tilde-pkg"), "~tilde-pkg"))
case("read: query is kept exactly as received (not decoded)", I("GET", "/-/v1/search?text=left%20pad&size=1", GETH("search")),
     R("/-/v1/search?text=left%20pad&size=1", A("package.read"), None))

# =====================================================================================
# 3. The issue's classification findings
# =====================================================================================
case("G1: PUT /%40acme%2fwidget is a publish of @acme/widget",
     I("PUT", "/%40acme%2fwidget", H("publish"), publish_body(WG, "1.0.0")),
     W("PUT", WGE, "publish", A("package.publish", package=WG, tag="latest"), WG))
case("G2: PUT /@acme is refused scope-without-name",
     I("PUT", "/@acme", H("publish"), publish_body(WG, "1.0.0")), refused("scope-without-name"))
case("G2: PUT /%40acme is refused scope-without-name",
     I("PUT", "/%40acme", H("publish"), publish_body(WG, "1.0.0")), refused("scope-without-name"))
case("G2: PUT /@acme/ (trailing slash) is refused scope-without-name",
     I("PUT", "/@acme/", H("publish"), publish_body(WG, "1.0.0")), refused("scope-without-name"))
case("G2: DELETE /@acme/-rev/<rev> is refused (a lone scope is not a package)",
     I("DELETE", f"/@acme/-rev/{REV}", H("unpublish", ct=False)), {"result": "refused"})
for raw in ("/left%2dpad", "/left%2Dpad", "/%6ceft-pad", "/%6C%65ft-pad", "/left-pad/"):
    case(f"G3: PUT {raw} publishes left-pad at the canonical path /left-pad",
         I("PUT", raw, H("publish"), publish_body(LP)),
         W("PUT", LPE, "publish", A("package.publish", package=LP, tag="latest"), LP))
for raw in ("/@acme%2Fwidget", "/%40acme%2fwidget", "/%40acme%2Fwidget", "/@acme/widget", "/%40acme/widget",
            "/%40acme%2fwid%67et", "/@acme%2fwidget/"):
    case(f"G3: PUT {raw} publishes @acme/widget at the canonical path /@acme%2fwidget",
         I("PUT", raw, H("publish"), publish_body(WG, "1.0.0")),
         W("PUT", WGE, "publish", A("package.publish", package=WG, tag="latest"), WG))
case("G3: dist-tag path with an encoded tag /-/package/left%2dpad/dist-tags/%6catest is canonical",
     I("PUT", "/-/package/left%2dpad/dist-tags/%6catest", H("dist-tag"), "1.0.1"),
     W("PUT", f"/-/package/{LP}/dist-tags/latest", "dist-tag", A("dist-tag.add", package=LP, tag="latest"), LP))
case("G3: tarball DELETE with %40 and %2F in the package segment is canonical",
     I("DELETE", f"/%40acme%2Fwidget/-/widget-1.0.1.tgz/-rev/{REV2}", H("unpublish", ct=False)),
     W("DELETE", f"{WGE}/-/widget-1.0.1.tgz/-rev/{REV2}", "unpublish", A("package.unpublish", package=WG), WG))
case("P1: PUT /left-pad/latest (Verdaccio legacy tag route) is dist-tag.add latest",
     I("PUT", f"{LPE}/latest", H("dist-tag"), "1.0.1"),
     W("PUT", f"{LPE}/latest", "dist-tag", A("dist-tag.add", package=LP, tag="latest"), LP))
case("P1: PUT /@acme%2fwidget/beta (legacy tag route, scoped) is dist-tag.add beta",
     I("PUT", f"{WGE}/beta", H("dist-tag"), "1.0.1"),
     W("PUT", f"{WGE}/beta", "dist-tag", A("dist-tag.add", package=WG, tag="beta"), WG))
case("P1: PUT /@acme/widget/beta (legacy tag route, two-segment scope) is dist-tag.add beta",
     I("PUT", "/@acme/widget/beta", H("dist-tag"), "1.0.1"),
     W("PUT", f"{WGE}/beta", "dist-tag", A("dist-tag.add", package=WG, tag="beta"), WG))
case("P1: POST /-/package/left-pad/dist-tags is dist-tag.add",
     I("POST", f"/-/package/{LP}/dist-tags", H("dist-tag"), {"latest": "1.0.1"}),
     W("POST", f"/-/package/{LP}/dist-tags", "dist-tag", A("dist-tag.add", package=LP, tag="latest"), LP))
case("P1: PUT /-/package/@s%2fp/dist-tags/latest is dist-tag.add latest of @s/p",
     I("PUT", "/-/package/@s%2fp/dist-tags/latest", H("dist-tag"), "1.0.1"),
     W("PUT", "/-/package/@s%2fp/dist-tags/latest", "dist-tag", A("dist-tag.add", package="@s/p", tag="latest"), "@s/p"))
case("P1: PUT /-/package/@acme/widget/dist-tags/beta (two-segment scope) is dist-tag.add of @acme/widget",
     I("PUT", "/-/package/@acme/widget/dist-tags/beta", H("dist-tag"), "1.0.1"),
     W("PUT", "/-/package/@acme%2fwidget/dist-tags/beta", "dist-tag", A("dist-tag.add", package=WG, tag="beta"), WG))
case("P1: trailing slash PUT /pkg/ is a publish of pkg at /pkg",
     I("PUT", "/pkg/", H("publish"), publish_body("pkg")),
     W("PUT", "/pkg", "publish", A("package.publish", package="pkg", tag="latest"), "pkg"))
case("P1: PUT /%40scope/pkg is a publish of @scope/pkg",
     I("PUT", "/%40scope/pkg", H("publish"), publish_body("@scope/pkg")),
     W("PUT", "/@scope%2fpkg", "publish", A("package.publish", package="@scope/pkg", tag="latest"), "@scope/pkg"))
case("P1: PUT /@x is refused scope-without-name",
     I("PUT", "/@x", H("publish"), publish_body("@x/y")), refused("scope-without-name"))
case("P1: POST /-/npm/v1/tokens/ (trailing slash) is token-create",
     I("POST", "/-/npm/v1/tokens/", H("token"), {"name": None, "password": "pw"}),
     W("POST", "/-/npm/v1/tokens", "token-create", A("token.create")))
case("P1: DELETE /-/package/left-pad/dist-tags/beta/ (trailing slash) is dist-tag.remove",
     I("DELETE", f"/-/package/{LP}/dist-tags/beta/", H("dist-tag")),
     W("DELETE", f"/-/package/{LP}/dist-tags/beta", "dist-tag", A("dist-tag.remove", package=LP, tag="beta"), LP))
case("P2: PUT /-/user/org.couchdb.user%3Aname is couch-login",
     I("PUT", "/-/user/org.couchdb.user%3Aname", H("login", auth="legacy"),
       {"_id": "org.couchdb.user:name", "name": "name", "password": "pw", "type": "user", "roles": [], "date": "2026-11-23T08:44:55.666Z"}),
     W("PUT", "/-/user/org.couchdb.user:name", "couch-login", A("login", target_account="name")))
case("encoded route keyword: POST /-/npm/v1/%75ser is the profile route",
     I("POST", "/-/npm/v1/%75ser", H("profile"), {"tfa": {"password": "pw", "mode": "disable"}}),
     W("POST", "/-/npm/v1/user", "profile", A("tfa.disable")))
case("encoded route keyword: DELETE /-/npm/v1/tokens/%74oken/<key> is token-revoke",
     I("DELETE", f"/-/npm/v1/tokens/%74oken/{KEY}", H("token", ct=False)),
     W("DELETE", f"/-/npm/v1/tokens/token/{KEY}", "token-revoke", A("token.revoke")))
case("encoded %2f inside a token segment stays one segment, re-encoded",
     I("DELETE", "/-/npm/v1/tokens/token/abc%2Fdef", H("token", ct=False)),
     W("DELETE", "/-/npm/v1/tokens/token/abc%2fdef", "token-revoke", A("token.revoke")))

# =====================================================================================
# 4. Encodings and attacks
# =====================================================================================
PB = publish_body(LP)
for raw in ("/left%252fpad", "/%2540acme%252fwidget", "/@acme%252fwidget", "/left%2525pad"):
    case(f"double encoding: PUT {raw} is refused", I("PUT", raw, H("publish"), PB), refused("double-encoding"))
case("double encoding: GET /%2540acme%252fwidget is refused (reads too)",
     I("GET", "/%2540acme%252fwidget", GETH()), refused("double-encoding"))
case("double encoding: DELETE /-/npm/v1/tokens/token/%2561 is refused",
     I("DELETE", "/-/npm/v1/tokens/token/%2561", H("token", ct=False)), refused("double-encoding"))
for raw in ("/.", "/..", "/%2e", "/%2E%2E", "/left-pad/..", "/-/npm/v1/security/audits/../../user", "/.%2e/left-pad",
            "/left-pad/%2e/-rev/1-a"):
    meth = "POST" if "audits" in raw else "PUT"
    case(f"dot segment: {meth} {raw} is refused", I(meth, raw, H("publish"), PB), refused("dot-segment"))
case("dot segment: GET /left-pad/%2e%2e/%2e%2e/admin is refused (reads too)",
     I("GET", "/left-pad/%2e%2e/%2e%2e/admin", GETH()), refused("dot-segment"))
case("dot segment: configured prefix cannot be escaped with ..",
     I("POST", "/-/custom/../npm/v1/user", H(), {"tfa": {"password": "pw", "mode": "disable"}},
       routes=[{"prefix": "/-/custom/", "methods": ["POST"], "kind": "org.team.change"}]),
     refused("dot-segment"))
for raw, what in (("/left-pad;x", "';'"), ("/left-pad%3bx", "encoded ';'"), ("/left-pad%00", "NUL"),
                  ("/left-pad%0a", "LF"), ("/left-pad%0d%0aX-Injected:%201", "CRLF"), ("/left-pad%09", "TAB"),
                  ("/left-pad%1f", "C0 0x1f"), ("/left-pad%7f", "DEL"), ("/left-pad%ff", "invalid UTF-8 %ff"),
                  ("/caf%c3%28", "invalid UTF-8 %c3%28"), ("/%c0%ae%c0%ae", "overlong UTF-8 dots"),
                  ("/left%c0%afpad", "overlong UTF-8 slash"), ("/x%ed%a0%80", "UTF-8 surrogate"),
                  ("/left-pad%zz", "bad escape %zz"), ("/left-pad%4", "truncated escape %4"),
                  ("/left-pad%", "lone %"), ("/left%g0pad", "bad escape %g0")):
    case(f"bad segment ({what}): PUT {raw} is refused", I("PUT", raw, H("publish"), PB), refused("bad-segment"))
case("bad segment: ';' in a read GET /left-pad;jsessionid=1 is refused", I("GET", "/left-pad;jsessionid=1", GETH()),
     refused("bad-segment"))
case("bad segment: NUL in a tarball read is refused", I("GET", "/left-pad/-/left-pad-1.3.0.tgz%00.json", GETH()),
     refused("bad-segment"))
case("bad segment: a path not starting with / is refused", I("PUT", "left-pad", H("publish"), PB), refused("bad-segment"))
case("bad segment: absolute-form target http://evil.example/left-pad is refused",
     I("GET", "http://evil.example/left-pad", GETH()), refused("bad-segment"))
case("bad segment: an empty path is refused", I("GET", "", GETH()), refused("bad-segment"))
for raw in ("//left-pad", "/a//b", "/left-pad//", "/-/npm/v1//tokens", "/left-pad/-rev//1-a"):
    meth = "POST" if "tokens" in raw else "PUT"
    case(f"empty segment: {meth} {raw} is refused", I(meth, raw, H("publish"), PB), refused("empty-segment"))
case("empty segment: GET //left-pad is refused (reads too)", I("GET", "//left-pad", GETH()), refused("empty-segment"))
for hname in ("x-http-method-override", "x-http-method", "x-method-override"):
    case(f"method override: POST /-/npm/v1/user with {hname}: DELETE is refused",
         I("POST", "/-/npm/v1/user", H("profile", **{hname: "DELETE"}), {"fullname": "A"}), refused("method-override"))
    case(f"method override: GET /left-pad with {hname}: PUT is refused",
         I("GET", LPE, GETH() | {hname: "PUT"}), refused("method-override"))
case("method override: header naming the same method is still refused",
     I("PUT", LPE, H("publish", **{"x-http-method-override": "PUT"}), PB), refused("method-override"))
for meth in ("PATCH", "TRACE", "PROPFIND", "CONNECT", "MKCOL"):
    case(f"unknown method: {meth} /left-pad is refused 405", I(meth, LPE, H(), {"name": LP}), refused("bad-method", 405))
case("unknown method: lower-case 'put' is not PUT (case-sensitive) and is refused 405",
     I("put", LPE, H("publish"), PB), refused("bad-method", 405))
case("unknown method: lower-case 'get' is refused 405", I("get", LPE, GETH()), refused("bad-method", 405))
for meth, raw, body in (("POST", LPE, PB), ("DELETE", "/-/whatever", None), ("PUT", "/-/npm/v1/user", {"fullname": "A"}),
                        ("POST", "/-/verdaccio/sec/login", {"username": "alice", "password": "pw"}),
                        ("DELETE", LPE, None), ("DELETE", f"{LPE}/latest", None),
                        ("DELETE", f"{LPE}/-/left-pad-1.0.1.tgz", None),
                        ("PUT", f"{LPE}/-/left-pad-1.0.1.tgz/-rev/{REV}", None),
                        ("PUT", f"{LPE}/beta/extra", "1.0.1"),
                        ("POST", f"/-/package/{LP}/dist-tags/beta", "1.0.1"),
                        ("PUT", f"/-/package/{LP}/access", {"access": "public"}),
                        ("POST", "/-/user/org.couchdb.user:alice", {"name": "alice"}),
                        ("DELETE", "/-/user/org.couchdb.user:alice", None),
                        ("PUT", "/-/user/token/abc", None),
                        ("PUT", "/-/v1/login", {}),
                        ("POST", "/-/v1/login/cli/abc", {}),
                        ("PUT", "/-/npm/v1/tokens", {"password": "pw"}),
                        ("DELETE", "/-/npm/v1/tokens", None),
                        ("POST", "/-/npm/v1/tokens/token/abc", None),
                        ("POST", "/-/npm%2fv1/tokens", {"password": "pw"}),
                        ("PUT", "/-/org/acme/package", {"package": LP}),
                        ("POST", "/-/stage/package", {}),
                        ("POST", "/-/custom/thing", {})):
    case(f"unknown write: {meth} {raw} is refused 405", I(meth, raw, H(), body), refused("unknown-write", 405))
for meth, raw, body in (("PUT", f"{LPE}?x=1", PB), ("PUT", f"{WGE}?write=true", publish_body(WG, "1.0.0")),
                        ("POST", "/-/npm/v1/tokens?x=1", {"password": "pw"}),
                        ("DELETE", f"{LPE}/-rev/{REV}?force=true", None),
                        ("PUT", f"/-/package/{LP}/dist-tags/beta?x=1", "1.0.1")):
    case(f"query on write: {meth} {raw} is refused", I(meth, raw, H(), body), refused("query-on-write"))
LONG214 = "a" * 214
LONG215 = "a" * 215
case("package name of 214 characters is accepted", I("PUT", "/" + LONG214, H("publish"), publish_body(LONG214)),
     W("PUT", "/" + LONG214, "publish", A("package.publish", package=LONG214, tag="latest"), LONG214))
case("package name of 215 characters is refused", I("PUT", "/" + LONG215, H("publish"), publish_body(LONG215)),
     refused("bad-package-name"))
case("scoped package name of 215 characters is refused",
     I("PUT", "/@acme%2f" + "a" * 209, H("publish"), publish_body("@acme/" + "a" * 209)), refused("bad-package-name"))
case("upper-case package name is allowed for a write: PUT /LeftPad",
     I("PUT", "/LeftPad", H("publish"), publish_body("LeftPad")),
     W("PUT", "/LeftPad", "publish", A("package.publish", package="LeftPad", tag="latest"), "LeftPad"))
for raw, what in (("/.npmrc", "leading ."), ("/_session", "leading _"), ("/left%20pad", "space"),
                  ("/%3Cscript%3E", "'<' and '>'"), ("/caf%C3%A9", "non-ASCII"), ("/left+pad", "'+'"),
                  ("/left%24pad", "'$'"), ("/@ac%20me%2fwidget", "space in the scope"),
                  ("/@acme%2fwid%3Cget", "'<' in a scoped name"), ("/@%2fwidget", "empty scope")):
    case(f"bad package name ({what}): PUT {raw} is refused", I("PUT", raw, H("publish"), PB), refused("bad-package-name"))
case("bad package name: DELETE /_users/-rev/<rev> (CouchDB system database) is refused",
     I("DELETE", f"/_users/-rev/{REV}", H("unpublish", ct=False)), refused("bad-package-name"))
case("bad package name: dist-tag on /-/package/.hidden/dist-tags/latest is refused",
     I("PUT", "/-/package/.hidden/dist-tags/latest", H("dist-tag"), "1.0.0"), refused("bad-package-name"))
case("bad package name: OIDC exchange for /-/npm/v1/oidc/token/exchange/package/_x is refused",
     I("POST", "/-/npm/v1/oidc/token/exchange/package/_x", H("publish", ct=False)), refused("bad-package-name"))
case("encoded slash in an unscoped name (left-pad%2f..%2fadmin) is refused",
     I("PUT", "/left-pad%2f..%2fadmin", H("publish"), PB), refused())
case("encoded slash then .. as a scoped name (@acme%2f..) is refused",
     I("PUT", "/@acme%2f..", H("publish"), PB), refused())
case("encoded '?' in the package segment is not a query: PUT /left-pad%3fx=1 is refused",
     I("PUT", "/left-pad%3fx=1", H("publish"), PB), refused())
case("empty scoped name: PUT /@acme%2f is refused", I("PUT", "/@acme%2f", H("publish"), PB), refused())

# --- operator-configured routes ---
CUSTOM = [{"prefix": "/-/custom/", "methods": ["POST"], "kind": "org.team.change"}]
case("configured route: POST under a configured prefix is decided as the configured kind",
     I("POST", "/-/custom/thing", H(), {"x": 1}, routes=CUSTOM),
     ok("configured", {"kind": "org.team.change"}, path="/-/custom/thing", key="POST /-/custom/thing", write=True,
        needs_current=False))
case("configured route: the prefix matches the canonical path (POST /-/%63ustom/thing)",
     I("POST", "/-/%63ustom/thing", H(), {"x": 1}, routes=CUSTOM),
     ok("configured", {"kind": "org.team.change"}, path="/-/custom/thing", key="POST /-/custom/thing", write=True))
case("configured route: a method not configured is refused 405",
     I("DELETE", "/-/custom/thing", H(), None, routes=CUSTOM), refused("unknown-write", 405))
case("configured route: a path outside the prefix is refused 405",
     I("POST", "/-/customer/thing", H(), {"x": 1}, routes=CUSTOM), refused("unknown-write", 405))
case("configured route: several methods and kinds",
     I("DELETE", "/-/mirror/left-pad", H(), None,
       routes=[{"prefix": "/-/mirror/", "methods": ["PUT", "DELETE"], "kind": "package.unpublish"}]),
     ok("configured", {"kind": "package.unpublish"}, path="/-/mirror/left-pad", key="DELETE /-/mirror/left-pad", write=True))
case("configured route: a catalogue route keeps its own classification",
     I("POST", "/-/npm/v1/tokens", H("token"), {"name": None, "password": "pw"},
       routes=[{"prefix": "/-/npm/v1/", "methods": ["POST"], "kind": "package.read"}]),
     W("POST", "/-/npm/v1/tokens", "token-create", A("token.create")))
case("configured route: still refuses method-override headers",
     I("POST", "/-/custom/thing", H(**{"x-http-method-override": "DELETE"}), {"x": 1}, routes=CUSTOM),
     refused("method-override"))

# =====================================================================================
# 5. Bodies of PUT /<pkg>[/-rev/<rev>]: kinds, strictest, needs_current, current
# =====================================================================================
CUR = full_doc(LP)  # versions 1.0.0, 1.0.1; maintainers [alice]
case("body: attachments + changed maintainers with current is owner.add (governance beats publish)",
     I("PUT", LPE, H("publish"), {**publish_body(LP), "maintainers": MAINT("alice", "mallory")}, current=CUR),
     W("PUT", LPE, "owner", A("owner.add", package=LP, target_account="mallory"), LP))
case("body: attachments + maintainers without current is owner.add",
     I("PUT", LPE, H("publish"), {**publish_body(LP), "maintainers": MAINT("alice", "mallory")}),
     ok("owner", A("owner.add", package=LP), LP, LPE, f"PUT {LPE}", True))
case("body: attachments with current (other versions not in the body) is still package.publish",
     I("PUT", LPE, H("publish"), publish_body(LP, "1.0.2"), current=CUR),
     W("PUT", LPE, "publish", A("package.publish", package=LP, tag="latest"), LP))
case("body: attachments + unchanged maintainers with current is package.publish",
     I("PUT", LPE, H("publish"), {**publish_body(LP, "1.0.2"), "maintainers": MAINT("alice")}, current=CUR),
     W("PUT", LPE, "publish", A("package.publish", package=LP, tag="latest"), LP))
case("body: a version removed and another deprecated (with current) is package.unpublish",
     I("PUT", f"{LPE}/-rev/{REV}", H("unpublish"), deprecated_doc(without_version(CUR, "1.0.1"), "1.0.0", "old"), current=CUR),
     W("PUT", f"{LPE}/-rev/{REV}", "unpublish", A("package.unpublish", package=LP), LP))
case("body: deprecated changed and maintainers changed (with current) is owner.add",
     I("PUT", LPE, H("deprecate"), {**deprecated_doc(CUR, "1.0.0", "old"), "maintainers": MAINT("alice", "bob")}, current=CUR),
     W("PUT", LPE, "owner", A("owner.add", package=LP, target_account="bob"), LP))
case("body: a version removed on /<pkg> (no -rev) with current is package.unpublish",
     I("PUT", LPE, H("deprecate"), without_version(CUR, "1.0.1"), current=CUR),
     W("PUT", LPE, "unpublish", A("package.unpublish", package=LP), LP))
case("body: star body carrying maintainers is owner.add",
     I("PUT", LPE, H("star"), {"_id": LP, "_rev": REV, "users": {"alice": True}, "maintainers": MAINT("alice", "mallory")}),
     W("PUT", LPE, "owner", A("owner.add", package=LP), LP, needs=True))
case("body: star body carrying versions on /<pkg> without current is package.deprecate",
     I("PUT", LPE, H("star"), {"_id": LP, "_rev": REV, "users": {"alice": True}, "versions": {"1.0.0": manifest(LP, "1.0.0")}}),
     W("PUT", LPE, "deprecate", A("package.deprecate", package=LP), LP, needs=True))
case("body: users changed together with deprecated (with current) is package.deprecate, not star",
     I("PUT", LPE, H("star"), {**deprecated_doc(CUR, "1.0.0", "old"), "users": {"carol": True, "alice": True}}, current=CUR),
     W("PUT", LPE, "deprecate", A("package.deprecate", package=LP), LP))
case("body: star body with name is package.star",
     I("PUT", LPE, H("star"), {"_id": LP, "_rev": REV, "name": LP, "users": {"alice": True}}),
     W("PUT", LPE, "star", A("package.star", package=LP), LP))
case("body: versions on a -rev path without maintainers or current is package.unpublish and needs current",
     I("PUT", f"{LPE}/-rev/{REV}", H("unpublish"), {"_id": LP, "_rev": REV, "name": LP, "versions": {"1.0.0": manifest(LP, "1.0.0")}}),
     W("PUT", f"{LPE}/-rev/{REV}", "unpublish", A("package.unpublish", package=LP), LP, needs=True))
case("body: versions on /<pkg> without maintainers or current is package.deprecate and needs current",
     I("PUT", LPE, H("deprecate"), {"_id": LP, "_rev": REV, "name": LP,
                                    "versions": {"1.0.0": manifest(LP, "1.0.0", deprecated="old")}}),
     W("PUT", LPE, "deprecate", A("package.deprecate", package=LP), LP, needs=True))
case("body: explicit current null is no current (needs current)",
     I("PUT", LPE, H("deprecate"), {"_id": LP, "_rev": REV, "name": LP, "versions": {"1.0.0": manifest(LP, "1.0.0")}}, current=None),
     W("PUT", LPE, "deprecate", A("package.deprecate", package=LP), LP, needs=True))
case("body: empty _attachments is not a publish: its dist-tags read as a tag move (needs current)",
     I("PUT", LPE, H("publish"), {**publish_body(LP), "_attachments": {}}),
     W("PUT", LPE, "dist-tag", A("dist-tag.add", package=LP), LP, needs=True))
case("body: nothing recognisable ({_id,_rev}) is package.deprecate",
     I("PUT", f"{LPE}/-rev/{REV}", H(), {"_id": LP, "_rev": REV}),
     W("PUT", f"{LPE}/-rev/{REV}", "deprecate", A("package.deprecate", package=LP), LP))
case("body: identical document with current is package.deprecate (nothing recognisable)",
     I("PUT", LPE, H("deprecate"), copy.deepcopy(CUR), current=CUR),
     W("PUT", LPE, "deprecate", A("package.deprecate", package=LP), LP))
case("body: a publish with npm-command star is still package.publish (the header never lowers)",
     I("PUT", LPE, H("star"), publish_body(LP)),
     W("PUT", LPE, "publish", A("package.publish", package=LP, tag="latest"), LP))
case("body: a deprecate document with npm-command star is still owner.add without current",
     I("PUT", LPE, H("star"), deprecated_doc(CUR, "1.0.0", "old")),
     W("PUT", LPE, "owner", A("owner.add", package=LP), LP, needs=True))
case("body: publish on a -rev path is package.publish and does not need current",
     I("PUT", f"{LPE}/-rev/{REV}", H("publish"), publish_body(LP)),
     W("PUT", f"{LPE}/-rev/{REV}", "publish", A("package.publish", package=LP, tag="latest"), LP))
case("body: current with the same maintainers in the body and a version removed on -rev is package.unpublish",
     I("PUT", f"{WGE}/-rev/{REV}", H("unpublish"), without_version(full_doc(WG, versions=("1.0.0", "1.1.0", "2.0.0")), "1.1.0"),
       current=full_doc(WG, versions=("1.0.0", "1.1.0", "2.0.0"))),
     W("PUT", f"{WGE}/-rev/{REV}", "unpublish", A("package.unpublish", package=WG), WG))
case("body: a non-object body on PUT /<pkg> is refused bad-body",
     I("PUT", LPE, H("publish"), "1.0.0"), refused("bad-body"))
case("body: a missing body on PUT /<pkg> is refused bad-body",
     I("PUT", LPE, H("publish"), None), refused("bad-body"))
case("body: an array body on PUT /<pkg>/-rev/<rev> is refused bad-body",
     I("PUT", f"{LPE}/-rev/{REV}", H("owner"), [{"name": "alice"}]), refused("bad-body"))
case("body: profile POST with several kinds: tfa disable wins over password and profile",
     I("POST", "/-/npm/v1/user", H("profile"), {"fullname": "A", "password": {"old": "pw", "new": "pw2"},
                                                "tfa": {"password": "pw", "mode": "disable"}}),
     W("POST", "/-/npm/v1/user", "profile", A("tfa.disable")))
case("body: profile POST with password and tfa enable is tfa.enable",
     I("POST", "/-/npm/v1/user", H("profile"), {"password": {"old": "pw", "new": "pw2"}, "tfa": {"mode": "auth-only", "password": "pw"}}),
     W("POST", "/-/npm/v1/user", "profile", A("tfa.enable")))
case("body: a non-object profile body is refused bad-body",
     I("POST", "/-/npm/v1/user", H("profile"), "x"), refused("bad-body"))
case("body: org set without a user is refused bad-body",
     I("PUT", "/-/org/acme/user", H("org"), {"role": "developer"}), refused("bad-body"))
case("body: access grant without a package is refused bad-body",
     I("PUT", "/-/team/acme/devs/package", H("access"), {"permissions": "read-write"}), refused("bad-body"))

# ---------- write ----------
names = [c["name"] for c in cases]
dups = sorted({n for n in names if names.count(n) > 1})
assert not dups, f"duplicate case names: {dups}"
with open(os.path.join(HERE, "16-classify.json"), "w") as f:
    json.dump(cases, f, indent=1)
    f.write("\n")
print(f"wrote {len(cases)} cases in 16-classify.json")
