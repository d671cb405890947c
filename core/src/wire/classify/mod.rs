//! npm request classification (SPEC §9): what an HTTP request to an npm registry **is** — its
//! action, canonical package, canonical path and request key — or why it is refused.
//!
//! Every host in npm's request path asks this one function, so the gateway and the Verdaccio
//! plugin read a request the same way, and the same way as the registry behind them: the path
//! is decoded exactly once and forwarded in its canonical form, a write that matches no route of
//! npm's catalogue is refused rather than passed through, and a body decides among the writes
//! a route can carry. `docs/CLASSIFICATION.md` is the catalogue.

mod body;
mod name;
mod path;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::contract::action::{ActionClass, ActionKind};
use crate::contract::error::InputError;
use crate::contract::request::operation_key;

pub use name::valid as valid_package_name;

/// Headers that ask a server to treat a request as another method; a gate that decided the
/// method it saw must refuse them.
const METHOD_OVERRIDES: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// The classify input document (see `docs/CLASSIFICATION.md`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyInput {
    /// HTTP method as received.
    pub method: String,
    /// Raw path and query as received.
    pub path: String,
    /// Header names → values (secrets left out by the host).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Parsed JSON body, attachment data removed; `null` when none.
    #[serde(default)]
    pub body: Value,
    /// The package's (or, for a profile update, the account's) current document.
    #[serde(default)]
    pub current: Option<Value>,
    /// Write routes the operator added.
    #[serde(default)]
    pub routes: Vec<ConfiguredRoute>,
}

/// A write route named by the operator's configuration (SPEC §9.3).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfiguredRoute {
    /// Prefix of the canonical path, e.g. `/-/custom/`.
    pub prefix: String,
    /// Methods it covers; empty = every write method.
    #[serde(default)]
    pub methods: Vec<String>,
    /// The action kind to decide it as.
    pub kind: ActionKind,
}

/// Why a request is refused (stable codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    /// A method no npm registry route uses.
    BadMethod,
    /// `X-HTTP-Method-Override` and kin.
    MethodOverride,
    /// A segment still holding `%` after one decoding.
    DoubleEncoding,
    /// `.` or `..`.
    DotSegment,
    /// `;`, a control character, invalid UTF-8, a malformed escape, or no leading `/`.
    BadSegment,
    /// `//` inside the path.
    EmptySegment,
    /// Not a package name by npm's rules.
    BadPackageName,
    /// A lone `@scope` segment written to.
    ScopeWithoutName,
    /// A query string on a write.
    QueryOnWrite,
    /// A write that matches no route.
    UnknownWrite,
    /// A body the route cannot carry.
    BadBody,
}

/// A SPEC §2 action document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionDoc {
    /// The action kind.
    pub kind: ActionKind,
    /// Target package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Dist-tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Target org.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Target account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_account: Option<String>,
}

impl ActionDoc {
    fn of(kind: ActionKind) -> Self {
        Self {
            kind,
            package: None,
            tag: None,
            org: None,
            target_account: None,
        }
    }

    fn on(kind: ActionKind, package: &str) -> Self {
        Self {
            package: Some(package.to_owned()),
            ..Self::of(kind)
        }
    }
}

/// What a request is, or why it is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Classification {
    /// A recognised request.
    Classified {
        /// The catalogue route.
        route: &'static str,
        /// The action to decide, or `null` for routes the host answers without a decision.
        action: Option<ActionDoc>,
        /// The canonical package name.
        package: Option<String>,
        /// The canonical path (and, for reads, the query) to forward.
        path: String,
        /// What one accepted code covers (SPEC §9.5): the action and whatever else names the
        /// request's target, so a host remembers a code for exactly this operation. `null` with
        /// no action.
        operation: Option<String>,
        /// `METHOD path`: the request's identity.
        key: String,
        /// Whether the method writes.
        write: bool,
        /// The reading depends on `current`, which was not given.
        needs_current: bool,
        /// A write that changes a package (publish, package writes but stars, package
        /// governance): only the package's maintainers may make it.
        maintainers_only: bool,
    },
    /// Refused: answer `status` with `error`, forward nothing.
    Refused(Refusal),
}

/// A refused request: the answer to give, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// 400 or 405.
    pub status: u16,
    /// The stable problem code.
    pub problem: Problem,
    /// The text the npm CLI prints.
    pub error: String,
}

fn refuse(problem: Problem, detail: &str) -> Refusal {
    let status = match problem {
        Problem::BadMethod | Problem::UnknownWrite => 405,
        _ => 400,
    };
    let error = match problem {
        Problem::BadMethod => format!("stepup: the method {detail} is not used by npm registries."),
        Problem::MethodOverride => format!(
            "stepup: method-override headers ({detail}) are refused; send the method itself."
        ),
        Problem::DoubleEncoding => format!(
            "stepup: the path segment '{detail}' is encoded twice; send each character encoded once."
        ),
        Problem::DotSegment => format!("stepup: the path segment '{detail}' is a dot segment."),
        Problem::BadSegment => format!(
            "stepup: the path segment '{detail}' holds a malformed escape, ';', a control character or invalid UTF-8."
        ),
        Problem::EmptySegment => "stepup: the path has an empty segment ('//').".to_owned(),
        Problem::BadPackageName => format!("stepup: '{detail}' is not a valid package name."),
        Problem::ScopeWithoutName => format!(
            "stepup: '{detail}' is a scope, not a package; scoped packages are named @scope/name."
        ),
        Problem::QueryOnWrite => "stepup: npm writes carry no query string; refused.".to_owned(),
        Problem::UnknownWrite => format!(
            "stepup: {detail} is not a write this registry recognises; refused (an operator can name it in the gate's routes)."
        ),
        Problem::BadBody => format!("stepup: {detail}"),
    };
    Refusal {
        status,
        problem,
        error,
    }
}

/// Parses the input document and classifies it.
pub fn classify_json(input: &str) -> Result<String, InputError> {
    let i: ClassifyInput = crate::wire::json::parse(input)?;
    serde_json::to_string(&classify(&i)).map_err(|e| InputError::new(".", e.to_string()))
}

/// A request being classified: its method, decoded segments and canonical parts.
struct Req<'a> {
    input: &'a ClassifyInput,
    method: &'a str,
    segments: Vec<String>,
    query: Option<&'a str>,
    read: bool,
}

/// The outcome of matching a route.
struct Hit {
    route: &'static str,
    action: Option<ActionDoc>,
    package: Option<String>,
    /// Canonical segments (already encoded).
    canonical: Vec<String>,
    needs_current: bool,
    /// The route accepts a query on any method (the web-login `done` poll).
    keeps_query: bool,
    /// What names the target besides the action's fields (part of the operation).
    subject: Option<String>,
}

impl Hit {
    fn new(route: &'static str, action: Option<ActionDoc>, canonical: Vec<String>) -> Self {
        let package = action.as_ref().and_then(|a| a.package.clone());
        Self {
            route,
            action,
            package,
            canonical,
            needs_current: false,
            keeps_query: false,
            subject: None,
        }
    }

    fn about(mut self, subject: String) -> Self {
        self.subject = Some(subject);
        self
    }
}

/// Classifies one request (SPEC §9).
pub fn classify(input: &ClassifyInput) -> Classification {
    classify_or_refuse(input).unwrap_or_else(Classification::Refused)
}

fn classify_or_refuse(input: &ClassifyInput) -> Result<Classification, Refusal> {
    let method = input.method.as_str();
    if !matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "PUT" | "POST" | "DELETE"
    ) {
        return Err(refuse(Problem::BadMethod, method));
    }
    if let Some(h) = input
        .headers
        .keys()
        .find(|h| METHOD_OVERRIDES.iter().any(|o| h.eq_ignore_ascii_case(o)))
    {
        return Err(refuse(Problem::MethodOverride, h));
    }
    let target = match path::parse(&input.path) {
        Ok(t) => t,
        Err((problem, seg)) => return Err(refuse(problem, &seg)),
    };
    let r = Req {
        input,
        method,
        segments: target.segments,
        query: target.query,
        read: matches!(method, "GET" | "HEAD" | "OPTIONS"),
    };
    let hit = route(&r)?;
    let hit = match hit {
        Some(hit) => hit,
        None => match configured(&r) {
            Some(hit) => hit,
            None => {
                return Err(refuse(
                    Problem::UnknownWrite,
                    &format!("{method} {}", input.path.split('?').next().unwrap_or("")),
                ));
            }
        },
    };
    let query = r.query.filter(|q| !q.is_empty());
    if query.is_some() && !r.read && !hit.keeps_query {
        return Err(refuse(Problem::QueryOnWrite, ""));
    }
    let mut path = format!("/{}", hit.canonical.join("/"));
    if let Some(q) = query.filter(|_| r.read || hit.keeps_query) {
        path.push('?');
        path.push_str(q);
    }
    let maintainers_only = !r.read
        && hit.action.as_ref().is_some_and(|a| {
            a.package.is_some()
                && match a.kind.class() {
                    ActionClass::Publish | ActionClass::PackageGovernance => true,
                    ActionClass::PackageWrite => a.kind != ActionKind::PackageStar,
                    _ => false,
                }
        });
    let operation = hit.action.as_ref().map(|a| {
        operation_key(
            a.kind,
            [
                a.package.as_deref(),
                a.tag.as_deref(),
                a.org.as_deref(),
                a.target_account.as_deref(),
            ],
            hit.subject.as_deref(),
        )
    });
    Ok(Classification::Classified {
        route: hit.route,
        operation,
        key: format!("{method} {path}"),
        path,
        package: hit.package,
        action: hit.action,
        write: !r.read,
        needs_current: hit.needs_current,
        maintainers_only,
    })
}

/// An operator-named write route: the first whose prefix starts the canonical path.
fn configured(r: &Req<'_>) -> Option<Hit> {
    if r.read {
        return None;
    }
    let canonical: Vec<String> = r.segments.iter().map(|s| path::encode(s)).collect();
    let joined = format!("/{}", canonical.join("/"));
    let route = r.input.routes.iter().find(|c| {
        !c.prefix.is_empty()
            && joined.starts_with(&c.prefix)
            && (c.methods.is_empty() || c.methods.iter().any(|m| m == r.method))
    })?;
    Some(Hit::new(
        "configured",
        Some(ActionDoc::of(route.kind)),
        canonical,
    ))
}

/// A package name at `segs[i..]`: one segment (`@scope/name` decoded from `%2f`, or a plain
/// name) or two (`@scope` + `name`). Returns the name and how many segments it took.
fn package_at(segs: &[String], i: usize) -> Result<Option<(String, usize)>, Refusal> {
    let Some(first) = segs.get(i) else {
        return Ok(None);
    };
    let (name, used) = if first.starts_with('@') && !first.contains('/') {
        match segs.get(i + 1) {
            Some(second) => (format!("{first}/{second}"), 2),
            None => return Err(refuse(Problem::ScopeWithoutName, first)),
        }
    } else {
        (first.clone(), 1)
    };
    if !name::valid(&name) {
        return Err(refuse(Problem::BadPackageName, &name));
    }
    Ok(Some((name, used)))
}

fn segs_from(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| path::encode(s)).collect()
}

fn body_object<'a>(r: &'a Req<'_>, what: &str) -> Result<&'a Map<String, Value>, Refusal> {
    r.input
        .body
        .as_object()
        .ok_or_else(|| refuse(Problem::BadBody, &format!("{what} must be a JSON object.")))
}

/// Matches the catalogue. `Ok(None)`: no route (a read is then a plain read, a write refused).
fn route(r: &Req<'_>) -> Result<Option<Hit>, Refusal> {
    let segs: Vec<&str> = r.segments.iter().map(String::as_str).collect();
    if segs.first() == Some(&"-") {
        return special(r, &segs);
    }
    package_route(r)
}

/// Routes under `/-/`.
fn special(r: &Req<'_>, segs: &[&str]) -> Result<Option<Hit>, Refusal> {
    let m = r.method;
    let enc = |parts: &[&str]| segs_from(parts);
    let read = |kind: ActionKind| Hit::new("read", Some(ActionDoc::of(kind)), segs_from(segs));
    let rest = segs.get(1..).unwrap_or(&[]);
    match rest {
        ["v1", "done"] => {
            let mut hit = Hit::new("web-done", None, enc(segs));
            hit.keeps_query = true;
            return Ok(Some(hit));
        }
        ["v1", "login"] if m == "POST" => {
            return Ok(Some(Hit::new(
                "web-login",
                Some(ActionDoc::of(ActionKind::Login)),
                enc(segs),
            )));
        }
        ["user", couch] | ["user", couch, "-rev", _] if couch.starts_with("org.couchdb.user:") => {
            if r.read {
                return Ok(Some(read(ActionKind::ProfileRead)));
            }
            if m == "PUT" {
                let name = couch.trim_start_matches("org.couchdb.user:");
                let mut a = ActionDoc::of(ActionKind::Login);
                a.target_account = Some(name.to_owned());
                return Ok(Some(Hit::new("couch-login", Some(a), enc(segs))));
            }
        }
        ["user", "token", _] if m == "DELETE" => {
            return Ok(Some(Hit::new("logout", None, enc(segs))));
        }
        ["whoami"] if r.read => return Ok(Some(read(ActionKind::ProfileRead))),
        ["npm", "v1", "user"] => {
            if r.read {
                return Ok(Some(read(ActionKind::ProfileRead)));
            }
            if m == "POST" {
                return profile(r, segs).map(Some);
            }
        }
        ["npm", "v1", "tokens"] => {
            if r.read {
                return Ok(Some(read(ActionKind::TokenList)));
            }
            if m == "POST" {
                return Ok(Some(Hit::new(
                    "token-create",
                    Some(ActionDoc::of(ActionKind::TokenCreate)),
                    enc(segs),
                )));
            }
        }
        ["npm", "v1", "tokens", "token", _] if m == "DELETE" => {
            return Ok(Some(Hit::new(
                "token-revoke",
                Some(ActionDoc::of(ActionKind::TokenRevoke)),
                enc(segs),
            )));
        }
        ["npm", "v1", "oidc", "token", "exchange", "package", ..] if m == "POST" => {
            if let Some((name, used)) = package_at(&r.segments, 7)?
                && used + 7 == segs.len()
            {
                let mut hit = Hit::new(
                    "oidc-exchange",
                    None,
                    [
                        enc(segs.get(..7).unwrap_or(&[])),
                        vec![path::encode_package(&name)],
                    ]
                    .concat(),
                );
                hit.package = Some(name);
                return Ok(Some(hit));
            }
        }
        ["npm", "v1", "security", "advisories", "bulk"]
        | ["npm", "v1", "security", "audits"]
        | ["npm", "v1", "security", "audits", "quick"]
            if m == "POST" =>
        {
            return Ok(Some(Hit::new(
                "audit",
                Some(ActionDoc::of(ActionKind::PackageRead)),
                enc(segs),
            )));
        }
        ["package", ..] => return package_settings(r, segs),
        ["team", scope, team, tail @ ..] => {
            let canonical = enc(segs);
            let org_action = |kind: ActionKind| {
                let mut a = ActionDoc::of(kind);
                a.org = Some(scope.trim_start_matches('@').to_owned());
                a
            };
            if r.read {
                return Ok(Some(Hit::new(
                    "read",
                    Some(org_action(ActionKind::OrgRead)),
                    canonical,
                )));
            }
            match (m, tail) {
                ("PUT" | "DELETE", ["package"]) => {
                    let kind = if m == "PUT" {
                        ActionKind::AccessGrant
                    } else {
                        ActionKind::AccessRevoke
                    };
                    let b = body_object(r, "A team package grant")?;
                    let mut a = org_action(kind);
                    let Some(p) = b.get("package").and_then(Value::as_str) else {
                        return Err(refuse(
                            Problem::BadBody,
                            "a team package grant names its package.",
                        ));
                    };
                    if !name::valid(p) {
                        return Err(refuse(Problem::BadPackageName, p));
                    }
                    a.package = Some(p.to_owned());
                    return Ok(Some(
                        Hit::new("team-package", Some(a), canonical).about(team_subject(team)),
                    ));
                }
                ("DELETE", []) | ("PUT" | "DELETE", ["user"]) => {
                    let mut a = org_action(ActionKind::OrgTeamChange);
                    a.target_account = r
                        .input
                        .body
                        .get("user")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    return Ok(Some(
                        Hit::new("team", Some(a), canonical).about(team_subject(team)),
                    ));
                }
                _ => {}
            }
        }
        ["org", org, tail @ ..] => {
            let canonical = enc(segs);
            let org_action = |kind: ActionKind| {
                let mut a = ActionDoc::of(kind);
                a.org = Some(org.trim_start_matches('@').to_owned());
                a
            };
            if r.read {
                return Ok(Some(Hit::new(
                    "read",
                    Some(org_action(ActionKind::OrgRead)),
                    canonical,
                )));
            }
            match (m, tail) {
                ("PUT" | "DELETE", ["user"]) => {
                    let kind = if m == "PUT" {
                        ActionKind::OrgMemberAdd
                    } else {
                        ActionKind::OrgMemberRemove
                    };
                    let mut a = org_action(kind);
                    let Some(user) = r.input.body.get("user").and_then(Value::as_str) else {
                        return Err(refuse(
                            Problem::BadBody,
                            "an org membership change names its user.",
                        ));
                    };
                    a.target_account = Some(user.to_owned());
                    return Ok(Some(Hit::new("org-member", Some(a), canonical)));
                }
                ("PUT", ["team"]) => {
                    let team = r
                        .input
                        .body
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    return Ok(Some(
                        Hit::new(
                            "team",
                            Some(org_action(ActionKind::OrgTeamChange)),
                            canonical,
                        )
                        .about(team_subject(team)),
                    ));
                }
                _ => {}
            }
        }
        ["stage", "package", ..] if m == "POST" => {
            if let Some((name, used)) = package_at(&r.segments, 3)?
                && used + 3 == segs.len()
            {
                let canonical = [
                    enc(segs.get(..3).unwrap_or(&[])),
                    vec![path::encode_package(&name)],
                ]
                .concat();
                return Ok(Some(Hit::new(
                    "stage-publish",
                    Some(ActionDoc::on(ActionKind::PackageStagePublish, &name)),
                    canonical,
                )));
            }
        }
        // Rejecting is decided as approving is (a maintainer with a second factor, SPEC §2), but
        // it is its own route and its own operation: a code spent rejecting approves nothing.
        ["stage", id, "approve"] if m == "POST" => {
            return Ok(Some(
                Hit::new(
                    "stage-approve",
                    Some(ActionDoc::of(ActionKind::PackageStageApprove)),
                    enc(segs),
                )
                .about(format!("approve {id}")),
            ));
        }
        ["stage", id] if m == "DELETE" => {
            return Ok(Some(
                Hit::new(
                    "stage-reject",
                    Some(ActionDoc::of(ActionKind::PackageStageApprove)),
                    enc(segs),
                )
                .about(format!("reject {id}")),
            ));
        }
        _ => {}
    }
    if r.read {
        return Ok(Some(read(ActionKind::PackageRead)));
    }
    Ok(None)
}

/// The subject of a team route: which team of the org.
fn team_subject(team: &str) -> String {
    format!("team {team}")
}

/// `POST /-/npm/v1/user`: profile changes, password, 2FA enrolment and removal.
fn profile(r: &Req<'_>, segs: &[&str]) -> Result<Hit, Refusal> {
    let b = body_object(r, "A profile update")?;
    let mut kinds = Vec::new();
    let mut needs_current = false;
    match b.get("tfa") {
        Some(Value::Object(t)) => kinds.push(
            if t.get("mode").and_then(Value::as_str) == Some("disable") {
                ActionKind::TfaDisable
            } else {
                ActionKind::TfaEnable
            },
        ),
        Some(Value::Array(_)) => kinds.push(ActionKind::TfaEnable),
        Some(Value::Null) | None => {}
        Some(_) => {
            return Err(refuse(
                Problem::BadBody,
                "tfa must be an object, an array of codes or null.",
            ));
        }
    }
    if b.get("password").is_some_and(|p| !p.is_null()) {
        kinds.push(ActionKind::PasswordChange);
    }
    // npm sends every writable key with its current value: whether the email changes is
    // known only against the account's current profile.
    if let Some(email) = b.get("email").filter(|e| !e.is_null()) {
        match &r.input.current {
            Some(cur) => {
                if cur.get("email") != Some(email) {
                    kinds.push(ActionKind::EmailChange);
                }
            }
            None => {
                needs_current = true;
                kinds.push(ActionKind::EmailChange);
            }
        }
    }
    kinds.push(ActionKind::ProfileUpdate);
    // All are account actions; the order says which one names the request.
    const ORDER: [ActionKind; 5] = [
        ActionKind::TfaDisable,
        ActionKind::TfaEnable,
        ActionKind::PasswordChange,
        ActionKind::EmailChange,
        ActionKind::ProfileUpdate,
    ];
    let kind = ORDER
        .into_iter()
        .find(|k| kinds.contains(k))
        .unwrap_or(ActionKind::ProfileUpdate);
    let mut hit = Hit::new("profile", Some(ActionDoc::of(kind)), segs_from(segs));
    // The current profile matters only where it could make the request milder.
    hit.needs_current = needs_current && kind == ActionKind::EmailChange;
    Ok(hit)
}

/// `/-/package/<pkg>/…`: dist-tags, access, trust; reads of its settings.
fn package_settings(r: &Req<'_>, segs: &[&str]) -> Result<Option<Hit>, Refusal> {
    let m = r.method;
    let Some((name, used)) = package_at(&r.segments, 2)? else {
        return Ok(r.read.then(|| {
            Hit::new(
                "read",
                Some(ActionDoc::of(ActionKind::PackageRead)),
                segs_from(segs),
            )
        }));
    };
    let tail = segs.get(2 + used..).unwrap_or(&[]);
    let canonical = [
        segs_from(&["-", "package"]),
        vec![path::encode_package(&name)],
        segs_from(tail),
    ]
    .concat();
    let hit = |route: &'static str, a: ActionDoc| Hit::new(route, Some(a), canonical.clone());
    if r.read {
        return Ok(Some(hit(
            "read",
            ActionDoc::on(ActionKind::PackageRead, &name),
        )));
    }
    let mut a = ActionDoc::on(ActionKind::DistTagAdd, &name);
    Ok(match (m, tail) {
        ("PUT", ["dist-tags", tag]) => {
            a.tag = Some((*tag).to_owned());
            Some(hit("dist-tag", a))
        }
        ("DELETE", ["dist-tags", tag]) => {
            a.kind = ActionKind::DistTagRemove;
            a.tag = Some((*tag).to_owned());
            Some(hit("dist-tag", a))
        }
        ("POST" | "PUT", ["dist-tags"]) => {
            let tags = body_object(r, "A dist-tags document")?;
            a.tag = body_tag(tags.keys());
            Some(hit("dist-tag", a))
        }
        ("POST", ["access"]) => {
            let b = body_object(r, "An access setting")?;
            let kind = if b.contains_key("publish_requires_tfa") {
                ActionKind::AccessPublishingSetting
            } else {
                ActionKind::AccessVisibility
            };
            Some(hit("access", ActionDoc::on(kind, &name)))
        }
        ("POST", ["trust"]) | ("DELETE", ["trust", _]) => Some(hit(
            "trust",
            ActionDoc::on(ActionKind::TrustConfigure, &name),
        )),
        _ => None,
    })
}

fn body_tag<'a>(tags: impl Iterator<Item = &'a String>) -> Option<String> {
    let tags: Vec<&String> = tags.collect();
    if tags.iter().any(|t| t.as_str() == "latest") {
        return Some("latest".to_owned());
    }
    tags.first().map(|t| (*t).clone())
}

/// `/<pkg>[/…]`: reads, document writes, tag writes and unpublishes.
fn package_route(r: &Req<'_>) -> Result<Option<Hit>, Refusal> {
    let m = r.method;
    let segs: Vec<&str> = r.segments.iter().map(String::as_str).collect();
    let found = match package_at(&r.segments, 0) {
        Ok(found) => found,
        // A lone `@scope` read is no package (the registry answers it); a write is refused.
        Err(_) if r.read && segs.len() == 1 && segs.first().is_some_and(|s| s.starts_with('@')) => {
            None
        }
        Err(refusal) => return Err(refusal),
    };
    let Some((name, used)) = found else {
        return Ok(r.read.then(|| {
            Hit::new(
                "read",
                Some(ActionDoc::of(ActionKind::PackageRead)),
                segs_from(&segs),
            )
        }));
    };
    let tail = segs.get(used..).unwrap_or(&[]);
    let canonical = [vec![path::encode_package(&name)], segs_from(tail)].concat();
    let hit = |route: &'static str, a: ActionDoc| Hit::new(route, Some(a), canonical.clone());
    if r.read {
        // Named apart: the whole package document (hosts show the maintainers they keep in it)
        // and a tarball download (hosts count downloads by it, for package impact).
        let route = match tail {
            [] => "packument",
            ["-", file] if !file.is_empty() => "tarball",
            _ => "read",
        };
        return Ok(Some(hit(
            route,
            ActionDoc::on(ActionKind::PackageRead, &name),
        )));
    }
    Ok(match (m, tail) {
        ("PUT", []) | ("PUT", ["-rev", _]) => {
            let b = body_object(r, "A package document")?;
            let w = body::read(b, r.input.current.as_ref(), !tail.is_empty());
            let route = match w.kind {
                ActionKind::PackagePublish => "publish",
                ActionKind::PackageUnpublish => "unpublish",
                ActionKind::OwnerAdd | ActionKind::OwnerRemove => "owner",
                ActionKind::PackageStar => "star",
                ActionKind::DistTagAdd | ActionKind::DistTagRemove => "dist-tag",
                _ => "deprecate",
            };
            let mut a = ActionDoc::on(w.kind, &name);
            a.tag = w.tag;
            a.target_account = w.target_account;
            let mut h = hit(route, a);
            h.needs_current = w.needs_current && r.input.current.is_none();
            Some(h)
        }
        ("PUT", [tag]) if !tag.starts_with('-') => {
            let mut a = ActionDoc::on(ActionKind::DistTagAdd, &name);
            a.tag = Some((*tag).to_owned());
            Some(hit("dist-tag", a))
        }
        ("DELETE", ["-rev", _]) | ("DELETE", ["-", _, "-rev", _]) => Some(hit(
            "unpublish",
            ActionDoc::on(ActionKind::PackageUnpublish, &name),
        )),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn run(method: &str, path: &str, body: Value) -> Value {
        let input: ClassifyInput = serde_json::from_value(json!({
            "method": method, "path": path, "body": body,
        }))
        .unwrap();
        serde_json::to_value(classify(&input)).unwrap()
    }

    #[test]
    fn every_encoding_of_a_scoped_publish_is_one_request() {
        let body = json!({"versions": {"1.0.0": {}}, "dist-tags": {"latest": "1.0.0"},
            "_attachments": {"w-1.0.0.tgz": {"length": 1}}});
        for p in [
            "/@acme%2fwidget",
            "/%40acme%2fwidget",
            "/%40acme/widget",
            "/@acme/widget",
            "/@acme%2Fwidget/",
        ] {
            let c = run("PUT", p, body.clone());
            assert_eq!(c["action"]["kind"], "package.publish", "{p}");
            assert_eq!(c["package"], "@acme/widget", "{p}");
            assert_eq!(c["key"], "PUT /@acme%2fwidget", "{p}");
        }
    }

    #[test]
    fn fails_closed() {
        assert_eq!(
            run("PUT", "/@acme", json!({}))["problem"],
            "scope-without-name"
        );
        assert_eq!(run("POST", "/left-pad", json!({}))["status"], 405);
        assert_eq!(
            run("PATCH", "/left-pad", json!({}))["problem"],
            "bad-method"
        );
        assert_eq!(
            run("PUT", "/left-pad?x=1", json!({}))["problem"],
            "query-on-write"
        );
        assert_eq!(
            run("GET", "/left-pad?write=true", Value::Null)["action"]["kind"],
            "package.read"
        );
        assert_eq!(
            run("PUT", "/left-pad/latest", json!("1.0.0"))["action"]["tag"],
            "latest"
        );
        assert_eq!(
            run("POST", "/-/npm/v1/tokens/", json!({}))["action"]["kind"],
            "token.create"
        );
        assert_eq!(
            run("PUT", "/-/user/org.couchdb.user%3Aalice", json!({}))["route"],
            "couch-login"
        );
    }
}
