//! Orgs and teams the gateway keeps (`npm org set|rm|ls`, `npm team create|destroy|add|rm|ls`):
//! registries behind it (Verdaccio) have no orgs, and org membership is governance the policy
//! reads (an enforcing org makes 2FA mandatory for its members, SPEC rule 5). Who may change
//! what (owners and admins; an admin never touches an owner; the last owner stays) is checked
//! before the engine's decision, so a refused change spends no code; the engine then decides
//! the change itself as `org.member.add`, `org.member.remove` or `org.team.change`.
//!
//! 2FA enforcement follows the seeds: turning it on shows who would be removed (core's
//! `org-plan`), needs a confirmation, then removes them and mails each one why and how to come
//! back; while it is on, an account without 2FA cannot be added. Owners use
//! `/-/stepup/orgs/ORG/…` with their npm token; operators the admin API and
//! `stepup org enforce|members`.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use stepup_core::ActionKind;
use stepup_core::contract::request::Action;

use super::decide::decide;
use super::{Identity, error_answer, json_answer};
use crate::error::ServeError;
use crate::store::{Acceptance, MemberRow, MemberSet};
use crate::{App, Shared};

/// The org and team routes the gateway answers itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrgRoute {
    /// `/-/org/ORG/user`: members and roles.
    Members(String),
    /// `/-/org/ORG/team`: the org's teams.
    Teams(String),
    /// `/-/team/ORG/TEAM`: one team.
    Team(String, String),
    /// `/-/team/ORG/TEAM/user`: a team's members.
    TeamMembers(String, String),
}

impl OrgRoute {
    /// The org the route names.
    pub fn org(&self) -> &str {
        match self {
            OrgRoute::Members(o) | OrgRoute::Teams(o) => o,
            OrgRoute::Team(o, _) | OrgRoute::TeamMembers(o, _) => o,
        }
    }
}

/// The route of a canonical gateway path, when it is one the gateway keeps.
pub fn route(path: &str) -> Option<OrgRoute> {
    let path = path.split('?').next().unwrap_or_default();
    // Every gateway request asks: most are packages, answered without splitting the path.
    if !(path.starts_with("/-/org/") || path.starts_with("/-/team/")) {
        return None;
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let name = |s: &str| Some(s.trim_start_matches('@').to_owned()).filter(|n| valid_name(n));
    match segs.as_slice() {
        ["-", "org", org, "user"] => Some(OrgRoute::Members(name(org)?)),
        ["-", "org", org, "team"] => Some(OrgRoute::Teams(name(org)?)),
        ["-", "team", org, team] => Some(OrgRoute::Team(name(org)?, name(team)?)),
        ["-", "team", org, team, "user"] => Some(OrgRoute::TeamMembers(name(org)?, name(team)?)),
        _ => None,
    }
}

/// Org and team names as npm allows scope names: lower case, digits, `-`, `.`, `_`.
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 214
        && !n.starts_with('.')
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
}

const ROLES: [&str; 3] = ["owner", "admin", "developer"];

/// The role of a member who accepted; an invited account has none yet.
fn role_of<'a>(members: &'a [MemberRow], account: &str) -> Option<&'a str> {
    members
        .iter()
        .find(|m| m.account == account && m.accepted)
        .map(|m| m.role.as_str())
}

/// The role `account` holds or is invited to.
fn listed<'a>(members: &'a [MemberRow], account: &str) -> Option<&'a str> {
    members
        .iter()
        .find(|m| m.account == account)
        .map(|m| m.role.as_str())
}

fn manages(role: Option<&str>) -> bool {
    matches!(role, Some("owner" | "admin"))
}

fn not_found(org: &str) -> Response<Body> {
    error_answer(
        StatusCode::NOT_FOUND,
        &format!("Org {org} not found, or you are not a member of it."),
    )
}

/// The answer when a change would leave the org without an owner.
fn last_owner(org: &str, user: &str) -> Response<Body> {
    error_answer(
        StatusCode::CONFLICT,
        &format!("{user} is the last owner of {org}; make another owner first."),
    )
}

fn forbidden(message: &str) -> Response<Body> {
    error_answer(StatusCode::FORBIDDEN, message)
}

/// The team a `PUT /-/org/ORG/team` body names (`name`, with or without `ORG:`), if valid.
fn team_name(org: &str, body: &Value) -> Option<String> {
    body.get("name")
        .and_then(Value::as_str)
        .map(|t| t.trim_start_matches(&format!("{org}:")).to_owned())
        .filter(|t| valid_name(t))
}

fn bad_team_name() -> Response<Body> {
    error_answer(
        StatusCode::BAD_REQUEST,
        "name: a team name (lower case, digits, -, ., _)",
    )
}

fn team_exists(org: &str, team: &str) -> Response<Body> {
    error_answer(
        StatusCode::CONFLICT,
        &format!("Team {org}:{team} already exists."),
    )
}

fn user_of(body: &Value) -> Option<&str> {
    body.get("user").and_then(Value::as_str)
}

/// Checks who may make the request before anything is decided or spent: `Some(answer)` refuses.
pub async fn precheck(
    app: &App,
    route: &OrgRoute,
    method: &Method,
    body: &Value,
    caller: &str,
) -> Result<Option<Response<Body>>, ServeError> {
    let org = route.org();
    let exists = app.store.org(org).await?;
    let members = match exists {
        Some(_) => app.store.org_members(org).await?,
        None => Vec::new(),
    };
    let mine = role_of(&members, caller);
    let read = matches!(*method, Method::GET | Method::HEAD);
    if exists.is_none() {
        // An org comes into being when an account makes itself its first owner.
        let creating = *method == Method::PUT
            && matches!(route, OrgRoute::Members(_))
            && user_of(body) == Some(caller)
            && body.get("role").and_then(Value::as_str) == Some("owner");
        return Ok((!creating).then(|| {
            error_answer(
                StatusCode::NOT_FOUND,
                &format!(
                    "Org {org} not found. To create it, make yourself its owner: npm org set {org} {caller} owner"
                ),
            )
        }));
    }
    if mine.is_none() {
        return Ok(Some(not_found(org)));
    }
    if read {
        return Ok(None);
    }
    match route {
        OrgRoute::Members(_) => {
            let Some(user) = user_of(body) else {
                return Ok(Some(error_answer(
                    StatusCode::BAD_REQUEST,
                    "user: required",
                )));
            };
            let theirs = listed(&members, user);
            let owners = members
                .iter()
                .filter(|m| m.role == "owner" && m.accepted)
                .count();
            if *method == Method::DELETE {
                if theirs.is_none() {
                    return Ok(Some(error_answer(
                        StatusCode::NOT_FOUND,
                        &format!("{user} is not a member of {org}."),
                    )));
                }
                if user != caller && !manages(mine) {
                    return Ok(Some(forbidden(&format!(
                        "Only owners and admins of {org} can remove members."
                    ))));
                }
                if theirs == Some("owner") && mine != Some("owner") {
                    return Ok(Some(forbidden(&format!(
                        "Only an owner of {org} can remove an owner."
                    ))));
                }
                if theirs == Some("owner") && role_of(&members, user).is_some() && owners == 1 {
                    return Ok(Some(last_owner(org, user)));
                }
                return Ok(None);
            }
            let role = body
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or("developer");
            if !ROLES.contains(&role) {
                return Ok(Some(error_answer(
                    StatusCode::BAD_REQUEST,
                    "role: one of owner, admin, developer",
                )));
            }
            if !manages(mine) {
                return Ok(Some(forbidden(&format!(
                    "Only owners and admins of {org} can add members."
                ))));
            }
            if (role == "owner" || theirs == Some("owner")) && mine != Some("owner") {
                return Ok(Some(forbidden(&format!(
                    "Only an owner of {org} can make or change an owner."
                ))));
            }
            if role_of(&members, user) == Some("owner") && role != "owner" && owners == 1 {
                return Ok(Some(error_answer(
                    StatusCode::CONFLICT,
                    &format!("{user} is the last owner of {org}; make another owner first."),
                )));
            }
            let Some(account) = app.store.account(user).await? else {
                return Ok(Some(error_answer(
                    StatusCode::NOT_FOUND,
                    &format!("User {user} not found: they must log in to this registry once."),
                )));
            };
            if exists == Some(true)
                && account.tfa_mode.is_none()
                && role_of(&members, user).is_none()
            {
                return Ok(Some(forbidden(&format!(
                    "{org} requires two-factor authentication: {user} must turn it on (npm profile enable-2fa auth-and-writes) before joining."
                ))));
            }
            Ok(None)
        }
        OrgRoute::Teams(_) | OrgRoute::Team(..) => {
            if !manages(mine) {
                return Ok(Some(forbidden(&format!(
                    "Only owners and admins of {org} can create or delete teams."
                ))));
            }
            // A team that cannot be made is refused before a code is spent on it.
            if matches!(route, OrgRoute::Teams(_)) && *method == Method::PUT {
                let Some(team) = team_name(org, body) else {
                    return Ok(Some(bad_team_name()));
                };
                if app.store.teams(org).await?.contains(&team) {
                    return Ok(Some(team_exists(org, &team)));
                }
            }
            if let OrgRoute::Team(_, team) = route
                && app.store.team_members(org, team).await?.is_none()
            {
                return Ok(Some(error_answer(
                    StatusCode::NOT_FOUND,
                    &format!("Team {org}:{team} not found."),
                )));
            }
            Ok(None)
        }
        OrgRoute::TeamMembers(_, team) => {
            if !manages(mine) {
                return Ok(Some(forbidden(&format!(
                    "Only owners and admins of {org} can change team members."
                ))));
            }
            let Some(user) = user_of(body) else {
                return Ok(Some(error_answer(
                    StatusCode::BAD_REQUEST,
                    "user: required",
                )));
            };
            if app.store.team_members(org, team).await?.is_none() {
                return Ok(Some(error_answer(
                    StatusCode::NOT_FOUND,
                    &format!("Team {org}:{team} not found."),
                )));
            }
            if *method == Method::PUT && role_of(&members, user).is_none() {
                return Ok(Some(error_answer(
                    StatusCode::NOT_FOUND,
                    &format!("{user} is not a member of {org}; add them to the org first."),
                )));
            }
            Ok(None)
        }
    }
}

/// Makes the (allowed) change or answers the read, in the shapes the npm CLI reads.
pub async fn apply(
    app: &App,
    route: &OrgRoute,
    method: &Method,
    body: &Value,
    caller: &str,
) -> Result<Response<Body>, ServeError> {
    let now = crate::now();
    let answer = match (route, method.as_str()) {
        (OrgRoute::Members(org), "GET" | "HEAD") => {
            let roster: serde_json::Map<String, Value> = app
                .store
                .org_members(org)
                .await?
                .into_iter()
                .filter(|m| m.accepted)
                .map(|m| (m.account, Value::String(m.role)))
                .collect();
            json_answer(StatusCode::OK, &Value::Object(roster))
        }
        (OrgRoute::Members(org), "PUT") => {
            let user = user_of(body).unwrap_or_default();
            let role = body
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or("developer");
            // A caller who is no member was let through only to create the org (precheck).
            let members = app.store.org_members(org).await?;
            let creating = role_of(&members, caller).is_none();
            let invited = user != caller && listed(&members, user).is_none();
            let created = match app
                .store
                .set_org_member(org, user, role, creating, user == caller, now)
                .await?
            {
                MemberSet::Done(created) => created,
                MemberSet::Taken => {
                    return Ok(error_answer(
                        StatusCode::CONFLICT,
                        &format!("Org {org} was created by someone else meanwhile."),
                    ));
                }
                MemberSet::LastOwner => return Ok(last_owner(org, user)),
            };
            let after = app.store.org_members(org).await?;
            let size = after.iter().filter(|m| m.accepted).count();
            tracing::info!(org = %org, account = %user, role, by = %caller, created, invited, "org member set");
            // Nobody joins an org without saying so: the account is mailed the invitation and
            // joins when it accepts it with its own credential.
            if invited {
                let email = after
                    .iter()
                    .find(|m| m.account == user)
                    .map(|m| m.email.clone())
                    .unwrap_or_default();
                let invitation = crate::mail::Invitation {
                    org,
                    role,
                    by: caller,
                };
                if let Err(e) =
                    app.outbox
                        .send_org_invitation(user, &email, &invitation, now, &app.issuer)
                {
                    tracing::warn!(org = %org, account = %user, error = %e, "invitation mail not sent");
                }
            }
            json_answer(
                StatusCode::OK,
                &json!({"org": {"name": org, "size": size}, "user": user, "role": role}),
            )
        }
        (OrgRoute::Members(org), "DELETE") => {
            let user = user_of(body).unwrap_or_default();
            if app.store.remove_org_member(org, user).await?.is_none() {
                return Ok(last_owner(org, user));
            }
            tracing::info!(org = %org, account = %user, by = %caller, "org member removed");
            json_answer(StatusCode::OK, &json!({}))
        }
        (OrgRoute::Teams(org), "GET" | "HEAD") => {
            let teams: Vec<String> = app
                .store
                .teams(org)
                .await?
                .into_iter()
                .map(|t| format!("{org}:{t}"))
                .collect();
            json_answer(StatusCode::OK, &json!(teams))
        }
        (OrgRoute::Teams(org), "PUT") => {
            let Some(team) = team_name(org, body) else {
                return Ok(bad_team_name());
            };
            let description = body
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !app.store.create_team(org, &team, description).await? {
                return Ok(team_exists(org, &team));
            }
            json_answer(
                StatusCode::CREATED,
                &json!({"name": team, "description": description}),
            )
        }
        (OrgRoute::Team(org, team), "DELETE") => {
            if !app.store.destroy_team(org, team).await? {
                return Ok(error_answer(
                    StatusCode::NOT_FOUND,
                    &format!("Team {org}:{team} not found."),
                ));
            }
            json_answer(StatusCode::OK, &json!({}))
        }
        (OrgRoute::TeamMembers(org, team), "GET" | "HEAD") => {
            match app.store.team_members(org, team).await? {
                Some(list) => json_answer(StatusCode::OK, &json!(list)),
                None => error_answer(
                    StatusCode::NOT_FOUND,
                    &format!("Team {org}:{team} not found."),
                ),
            }
        }
        (OrgRoute::TeamMembers(org, team), "PUT" | "DELETE") => {
            let user = user_of(body).unwrap_or_default();
            app.store
                .set_team_member(org, team, user, *method == Method::PUT)
                .await?;
            json_answer(StatusCode::OK, &json!({}))
        }
        _ => error_answer(
            StatusCode::METHOD_NOT_ALLOWED,
            "stepup: this org route does not take that method.",
        ),
    };
    Ok(answer)
}

/// Every member as core's org functions take them (`{id, tfa, role}`).
fn core_members(members: &[MemberRow]) -> Vec<Value> {
    members
        .iter()
        .filter(|m| m.accepted)
        .map(|m| json!({"id": m.account, "role": m.role, "tfa": tfa_doc(m)}))
        .collect()
}

fn factors(m: &MemberRow) -> Vec<&'static str> {
    let mut f = Vec::new();
    if m.tfa_mode.is_some() {
        if m.totp {
            f.push("totp");
        }
        if m.security_keys > 0 {
            f.push("webauthn");
        }
    }
    f
}

fn tfa_doc(m: &MemberRow) -> Value {
    match &m.tfa_mode {
        Some(mode) => json!({"mode": mode, "factors": factors(m)}),
        None => Value::Null,
    }
}

/// The query of the members audit: filters, each optional.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    /// `on` or `off`.
    #[serde(default)]
    pub tfa: Option<String>,
    /// `totp` or `webauthn`.
    #[serde(default)]
    pub factor: Option<String>,
    /// `owner`, `admin` or `developer`.
    #[serde(default)]
    pub role: Option<String>,
}

/// The per-member audit: core's adoption figures over every member, then the members that
/// pass the filters with their 2FA mode, factor kinds and last login.
pub async fn audit(app: &App, org: &str, q: &AuditQuery) -> Result<Response<Body>, ServeError> {
    let Some(enforcing) = app.store.org(org).await? else {
        return Ok(error_answer(
            StatusCode::NOT_FOUND,
            &format!("Org {org} not found."),
        ));
    };
    for (field, value, allowed) in [
        ("tfa", &q.tfa, &["on", "off"][..]),
        ("factor", &q.factor, &["totp", "webauthn"][..]),
        ("role", &q.role, &ROLES[..]),
    ] {
        if let Some(v) = value
            && !allowed.contains(&v.as_str())
        {
            return Ok(error_answer(
                StatusCode::BAD_REQUEST,
                &format!("{field}: one of {}", allowed.join(", ")),
            ));
        }
    }
    let members = app.store.org_members(org).await?;
    let figures = super::engine(
        app,
        "org-audit",
        &json!({"members": core_members(&members)}),
    )?;
    let rows: Vec<Value> = members
        .iter()
        // An invitee never agreed to show the org anything about itself: it is listed by
        // name and offered role only, and no 2FA filter selects it.
        .filter(|m| m.accepted || (q.tfa.is_none() && q.factor.is_none()))
        .filter(|m| match q.tfa.as_deref() {
            Some("on") => m.tfa_mode.is_some(),
            Some("off") => m.tfa_mode.is_none(),
            _ => true,
        })
        .filter(|m| q.factor.as_deref().is_none_or(|f| factors(m).contains(&f)))
        .filter(|m| q.role.as_deref().is_none_or(|r| m.role == r))
        .map(|m| {
            if !m.accepted {
                return json!({"name": m.account, "role": m.role, "invited": true});
            }
            json!({
                "name": m.account,
                "role": m.role,
                "tfa": m.tfa_mode,
                "factors": factors(m),
                "last_login": m.last_login,
            })
        })
        .collect();
    Ok(json_answer(
        StatusCode::OK,
        &json!({"org": org, "enforce_tfa": enforcing, "audit": figures, "members": rows}),
    ))
}

/// The body of an enforcement request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnforceForm {
    /// Turn enforcement on (`true`) or off.
    pub enforce: bool,
    /// Without it, turning enforcement on only shows the plan.
    #[serde(default)]
    pub confirm: bool,
}

/// Plans or applies enforcement. `actor` is the owner asking (the plan's checks apply to
/// them), or `None` for the operator through the admin API.
pub async fn enforce(
    app: &App,
    org: &str,
    form: &EnforceForm,
    actor: Option<&str>,
) -> Result<Response<Body>, ServeError> {
    let Some(enforcing) = app.store.org(org).await? else {
        return Ok(error_answer(
            StatusCode::NOT_FOUND,
            &format!("Org {org} not found."),
        ));
    };
    let members = app.store.org_members(org).await?;
    if !form.enforce {
        if enforcing {
            app.store.set_enforce_tfa(org, false).await?;
            tracing::info!(org = %org, by = actor.unwrap_or("operator"), "org 2FA enforcement off");
        }
        return Ok(json_answer(
            StatusCode::OK,
            &json!({"org": org, "enforce_tfa": false, "message": format!("{org} no longer requires two-factor authentication.")}),
        ));
    }
    // Core plans it; the operator is not a member, so for them only its lists count.
    let owner = members
        .iter()
        .find(|m| m.role == "owner" && m.accepted)
        .map(|m| m.account.clone())
        .unwrap_or_default();
    let plan = super::engine(
        app,
        "org-plan",
        &json!({"org": org, "actor": actor.unwrap_or(&owner), "members": core_members(&members)}),
    )?;
    let remove: Vec<String> = plan
        .get("remove")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if actor.is_some() && plan.get("allowed") != Some(&Value::Bool(true)) {
        return Ok(json_answer(
            StatusCode::FORBIDDEN,
            &json!({"error": plan.get("message"), "refused": plan.get("refused")}),
        ));
    }
    if !form.confirm {
        let message = if remove.is_empty() {
            format!(
                "Every member of {org} has 2FA: enforcing it removes no one. Confirm to turn it on."
            )
        } else {
            format!(
                "Enforcing 2FA in {org} removes {} member(s) without 2FA: {}. Confirm to turn it on; each is mailed why and how to come back.",
                remove.len(),
                remove.join(", ")
            )
        };
        return Ok(json_answer(
            StatusCode::OK,
            &json!({"org": org, "enforce_tfa": enforcing, "confirmed": false, "remove": remove, "keep": plan.get("keep"), "message": message}),
        ));
    }
    let removed = app.store.set_enforce_tfa(org, true).await?;
    let now = crate::now();
    for account in &removed {
        let email = members
            .iter()
            .find(|m| &m.account == account)
            .map(|m| m.email.clone())
            .unwrap_or_default();
        // A member the gateway has no address for is still removed; the audit log says so.
        if let Err(e) = app
            .outbox
            .send_org_removal(account, &email, org, now, &app.issuer)
        {
            tracing::warn!(org = %org, account = %account, error = %e, "removal mail not sent");
        }
    }
    tracing::info!(org = %org, by = actor.unwrap_or("operator"), removed = removed.len(), "org 2FA enforcement on");
    Ok(json_answer(
        StatusCode::OK,
        &json!({"org": org, "enforce_tfa": true, "confirmed": true, "removed": removed,
                "message": format!("{org} now requires two-factor authentication; {} member(s) removed.", removed.len())}),
    ))
}

/// The org's owner or admin behind an npm token, or the answer refusing the caller.
async fn manager(
    app: &App,
    peer: SocketAddr,
    headers: &HeaderMap,
    org: &str,
    owners_only: bool,
) -> Result<Result<Identity, Response<Body>>, ServeError> {
    let id = match super::identity_of(app, super::caller(app, headers).await?).await? {
        Ok(id) => id,
        Err(answer) => return Ok(Err(answer)),
    };
    // What the credential may do is the engine's to say (an expired, IP-restricted or
    // package-scoped token reads no org's audit), and it says it before the org's members are
    // looked at, so a refused caller learns nothing about the org.
    let call = super::call_for(
        app,
        peer,
        &format!("GET /-/stepup/orgs/{org}/members"),
        headers,
    );
    let mut read = Action::new(ActionKind::OrgRead);
    read.org = Some(org.to_owned());
    let d = decide(app, &call, &id.account, &id.credential, &read).await?;
    if !d.allowed() {
        return Ok(Err(super::decision_answer(&d.decision)));
    }
    let members = app.store.org_members(org).await?;
    let role = role_of(&members, &id.account);
    if role.is_none() {
        return Ok(Err(not_found(org)));
    }
    if (owners_only && role != Some("owner")) || !manages(role) {
        return Ok(Err(forbidden(&format!(
            "Only {} of {org} can do that.",
            if owners_only {
                "owners"
            } else {
                "owners and admins"
            }
        ))));
    }
    Ok(Ok(id))
}

/// `GET /-/stepup/orgs/ORG/members[?tfa=on|off][&factor=…][&role=…]`: the audit, for the org's
/// owners and admins (npm token).
pub async fn members_endpoint(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(org): Path<String>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response<Body> {
    let run = async {
        if let Err(answer) = manager(&app, peer, &headers, &org, false).await? {
            return Ok(answer);
        }
        audit(&app, &org, &q).await
    };
    run.await.unwrap_or_else(super::internal)
}

/// `POST /-/stepup/orgs/ORG/tfa-enforcement` `{enforce, confirm}`: for the org's owners (npm
/// token). The plan is free; the confirmed change is `org.tfa-enforcement`, decided by the
/// policy (a second factor in `npm-otp`).
pub async fn enforce_endpoint(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(org): Path<String>,
    headers: HeaderMap,
    Json(form): Json<EnforceForm>,
) -> Response<Body> {
    let run = async {
        let id = match manager(&app, peer, &headers, &org, true).await? {
            Ok(id) => id,
            Err(answer) => return Ok(answer),
        };
        if form.confirm || !form.enforce {
            let call = super::call_for(
                &app,
                peer,
                &format!("POST /-/stepup/orgs/{org}/tfa-enforcement"),
                &headers,
            );
            let mut action = Action::new(ActionKind::OrgTfaEnforcement);
            action.org = Some(org.clone());
            let d = decide(&app, &call, &id.account, &id.credential, &action).await?;
            if !d.allowed() {
                return Ok(super::decision_answer(&d.decision));
            }
        }
        enforce(&app, &org, &form, Some(&id.account)).await
    };
    run.await.unwrap_or_else(super::internal)
}

/// The body of an invitation answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationForm {
    /// `true` joins the org, `false` declines (the invitation is deleted).
    pub accept: bool,
}

/// `POST /-/stepup/orgs/ORG/invitation` `{accept}`: the invited account, with its own npm token,
/// joins the org or declines. Decided as `org.member.add` / `org.member.remove` of itself (a
/// second factor where the policy asks one for org governance); joining an org that requires
/// 2FA needs 2FA, checked in the same transaction that joins.
pub async fn invitation_endpoint(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(org): Path<String>,
    headers: HeaderMap,
    Json(form): Json<InvitationForm>,
) -> Response<Body> {
    let run = async {
        let id = match super::identity_of(&app, super::caller(&app, &headers).await?).await? {
            Ok(id) => id,
            Err(answer) => return Ok(answer),
        };
        let call = super::call_for(
            &app,
            peer,
            &format!("POST /-/stepup/orgs/{org}/invitation"),
            &headers,
        );
        let kind = if form.accept {
            ActionKind::OrgMemberAdd
        } else {
            ActionKind::OrgMemberRemove
        };
        let mut action = Action::new(kind);
        action.org = Some(org.clone());
        action.target_account = Some(id.account.clone());
        let d = decide(&app, &call, &id.account, &id.credential, &action).await?;
        if !d.allowed() {
            return Ok(super::decision_answer(&d.decision));
        }
        let none = || {
            error_answer(
                StatusCode::NOT_FOUND,
                &format!("No invitation to {org} is waiting for {}.", id.account),
            )
        };
        if !form.accept {
            if !app.store.decline_org_invitation(&org, &id.account).await? {
                return Ok(none());
            }
            tracing::info!(org = %org, account = %id.account, "org invitation declined");
            return Ok(json_answer(
                StatusCode::OK,
                &json!({"org": org, "user": id.account, "joined": false}),
            ));
        }
        match app.store.accept_org_invitation(&org, &id.account).await? {
            Acceptance::Joined => {
                tracing::info!(org = %org, account = %id.account, "org invitation accepted");
                Ok(json_answer(
                    StatusCode::OK,
                    &json!({"org": org, "user": id.account, "joined": true}),
                ))
            }
            Acceptance::NotInvited => Ok(none()),
            Acceptance::NeedsTfa => Ok(forbidden(&format!(
                "{org} requires two-factor authentication: turn it on (npm profile enable-2fa auth-and-writes), then accept again."
            ))),
        }
    };
    run.await.unwrap_or_else(super::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_routes_are_the_ones_npm_uses() {
        assert_eq!(
            route("/-/org/acme/user"),
            Some(OrgRoute::Members("acme".into()))
        );
        assert_eq!(
            route("/-/org/acme/team?format=cli"),
            Some(OrgRoute::Teams("acme".into()))
        );
        assert_eq!(
            route("/-/team/acme/devs/user"),
            Some(OrgRoute::TeamMembers("acme".into(), "devs".into()))
        );
        assert_eq!(route("/-/team/%40acme/devs"), None, "canonical paths only");
        assert_eq!(
            route("/-/team/@acme/devs"),
            Some(OrgRoute::Team("acme".into(), "devs".into()))
        );
        for other in [
            "/-/org/acme/package",
            "/-/org/Acme/user",
            "/-/org/../user",
            "/-/team/acme/devs/package",
        ] {
            assert_eq!(route(other), None, "{other}");
        }
    }
}
