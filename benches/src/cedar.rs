//! The npm rules as Cedar policies, decided by the `cedar-policy` crate.
//!
//! Entities (accounts, orgs, packages and the action groups) are built once from the shared
//! requests, as a registry would keep them resident; the Cedar request and its context are built
//! from stepup's request on every call, which is the work a host does per decision.

use std::collections::BTreeMap;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityId, EntityTypeName, EntityUid, PolicySet,
    Request as CedarRequest, RestrictedExpression,
};
use serde_json::{Value, json};
use stepup_core::contract::request::{
    Credential, LegacyType, Permission, PublishingAccess, TfaMode,
};
use stepup_core::{ActionClass, ActionKind, Request};

/// The Cedar policies (`npm.cedar`).
pub const POLICIES: &str = include_str!("../npm.cedar");

/// A prepared Cedar engine: parsed policies, resident entities, prebuilt type names.
pub struct CedarNpm {
    policies: PolicySet,
    entities: Entities,
    authorizer: Authorizer,
    user: EntityTypeName,
    package: EntityTypeName,
    account: EntityTypeName,
    action: EntityTypeName,
}

impl CedarNpm {
    /// Parses the policies and builds the entities the given requests refer to.
    pub fn new<'a>(requests: impl IntoIterator<Item = &'a Request>) -> Result<CedarNpm, String> {
        let policies = PolicySet::from_str(POLICIES).map_err(|e| format!("npm.cedar: {e}"))?;
        let entities = Entities::from_json_value(entities_json(requests), None)
            .map_err(|e| format!("entities: {e}"))?;
        let name = |n: &str| EntityTypeName::from_str(n).map_err(|e| format!("{n}: {e}"));
        Ok(CedarNpm {
            policies,
            entities,
            authorizer: Authorizer::new(),
            user: name("Npm::User")?,
            package: name("Npm::Package")?,
            account: name("Npm::Account")?,
            action: name("Npm::Action")?,
        })
    }

    /// Whether Cedar permits the request. Errors while evaluating a policy are returned, not
    /// ignored as Cedar would (a skipped `forbid` would make the comparison meaningless).
    pub fn is_allowed(&self, req: &Request) -> Result<bool, String> {
        let request = self.request(req)?;
        let response = self
            .authorizer
            .is_authorized(&request, &self.policies, &self.entities);
        if let Some(e) = response.diagnostics().errors().next() {
            return Err(e.to_string());
        }
        Ok(response.decision() == Decision::Allow)
    }

    /// Whether Cedar permits the request, without the error check (the benchmarked path).
    pub fn decide(&self, req: &Request) -> Option<Decision> {
        let request = self.request(req).ok()?;
        Some(
            self.authorizer
                .is_authorized(&request, &self.policies, &self.entities)
                .decision(),
        )
    }

    fn request(&self, req: &Request) -> Result<CedarRequest, String> {
        let uid = |t: &EntityTypeName, id: &str| {
            EntityUid::from_type_name_and_id(t.clone(), EntityId::new(id))
        };
        let principal = uid(&self.user, &req.account.id);
        let action = uid(&self.action, req.action.kind.as_str());
        let resource = match &req.action.package {
            Some(p) => uid(&self.package, p),
            None => uid(&self.account, &req.account.id),
        };
        let context = Context::from_pairs(context(req)).map_err(|e| e.to_string())?;
        CedarRequest::new(principal, action, resource, context, None).map_err(|e| e.to_string())
    }
}

fn long(v: u64) -> RestrictedExpression {
    RestrictedExpression::new_long(i64::try_from(v).unwrap_or(i64::MAX))
}

fn strings(v: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(v.iter().cloned().map(RestrictedExpression::new_string))
}

/// The per-request context: the credential, the clock, the freshest proof, the tag.
fn context(req: &Request) -> Vec<(String, RestrictedExpression)> {
    let mut c: Vec<(String, RestrictedExpression)> = Vec::with_capacity(14);
    let mut put = |k: &str, v: RestrictedExpression| c.push((k.to_owned(), v));
    put("now", long(req.now.0));
    let tag = req.action.tag.clone().unwrap_or_default();
    put("tag", RestrictedExpression::new_string(tag));
    let (kind, token, bypass, permission, expires, cidrs, names, scopes, all) =
        match &req.credential {
            Credential::Session => (
                "session",
                false,
                false,
                "",
                None,
                &[][..],
                &[][..],
                &[][..],
                false,
            ),
            Credential::Basic => (
                "basic",
                false,
                false,
                "",
                None,
                &[][..],
                &[][..],
                &[][..],
                false,
            ),
            Credential::LegacyToken {
                token_type,
                expires_at,
                cidr_whitelist,
            } => (
                "legacy-token",
                true,
                *token_type == LegacyType::Automation,
                if *token_type == LegacyType::ReadOnly {
                    "read-only"
                } else {
                    "read-write"
                },
                *expires_at,
                &cidr_whitelist[..],
                &[][..],
                &[][..],
                true,
            ),
            Credential::GranularToken {
                bypass_2fa,
                expires_at,
                cidr_whitelist,
                packages,
                ..
            } => (
                "granular-token",
                true,
                *bypass_2fa,
                match packages.permission {
                    Permission::NoAccess => "no-access",
                    Permission::ReadOnly => "read-only",
                    Permission::ReadWrite => "read-write",
                },
                *expires_at,
                &cidr_whitelist[..],
                &packages.names[..],
                &packages.scopes[..],
                packages.all,
            ),
            Credential::Oidc { expires_at, .. } => (
                "oidc",
                false,
                false,
                "",
                *expires_at,
                &[][..],
                &[][..],
                &[][..],
                false,
            ),
        };
    put("cred", RestrictedExpression::new_string(kind.to_owned()));
    put("token", RestrictedExpression::new_bool(token));
    put("bypass", RestrictedExpression::new_bool(bypass));
    put(
        "permission",
        RestrictedExpression::new_string(permission.to_owned()),
    );
    put("all", RestrictedExpression::new_bool(all));
    put("names", strings(names));
    put("scopes", strings(scopes));
    if let Some(t) = expires {
        put("expires_at", long(t.0));
    }
    // Cedar has no quantifier over a set of ranges: the shared requests use one network at most.
    if let Some(net) = cidrs.first() {
        put("cidr", RestrictedExpression::new_ip(net.to_string()));
    }
    if let Some(ip) = &req.client.ip {
        put("ip", RestrictedExpression::new_ip(ip.0.to_string()));
    }
    if let Some(p) = req.proofs.iter().map(|p| p.verified_at.0).max() {
        put("proof_at", long(p));
    }
    c
}

fn access_name(a: PublishingAccess) -> &'static str {
    match a {
        PublishingAccess::None => "none",
        PublishingAccess::TfaOrToken => "tfa-or-token",
        PublishingAccess::TfaNoTokens => "tfa-no-tokens",
    }
}

/// The action groups the policies are written against, per SPEC §2's classes.
fn action_groups(kind: ActionKind) -> Vec<&'static str> {
    let class = kind.class();
    let mut g = Vec::new();
    match class {
        ActionClass::Read => g.push("read"),
        ActionClass::Login => {}
        _ => g.push("mutating"),
    }
    if matches!(class, ActionClass::Account | ActionClass::Tokens) {
        g.push("session-step-up");
    }
    if matches!(
        class,
        ActionClass::Account
            | ActionClass::Tokens
            | ActionClass::PackageGovernance
            | ActionClass::OrgGovernance
    ) {
        g.push("bypass-forbidden");
    }
    if class == ActionClass::Publish {
        g.push("publish");
    }
    if matches!(class, ActionClass::Publish | ActionClass::PackageWrite) {
        g.push("package-writes");
    }
    if matches!(
        kind,
        ActionKind::PackageStar | ActionKind::DistTagAdd | ActionKind::DistTagRemove
    ) {
        g.push("light-write");
    }
    if matches!(
        class,
        ActionClass::Publish | ActionClass::PackageWrite | ActionClass::PackageGovernance
    ) || matches!(
        kind,
        ActionKind::EmailChange | ActionKind::OwnerAdd | ActionKind::OrgMemberAdd
    ) {
        g.push("enforced");
    }
    g
}

/// Entities JSON: users in their orgs, enforcing orgs in `Enforcement::"tfa"`, packages, the
/// per-account resource of account-level actions, and every action in its groups.
fn entities_json<'a>(requests: impl IntoIterator<Item = &'a Request>) -> Value {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    let uid = |t: &str, id: &str| json!({"type": t, "id": id});
    for r in requests {
        let a = &r.account;
        let mode = a
            .tfa
            .as_ref()
            .map(|t| t.mode)
            .filter(|m| *m != TfaMode::Disabled)
            .map_or("none", TfaMode::as_str);
        let mut attrs = json!({"tfa": mode});
        if let (Some(t), Some(obj)) = (a.safeguard_until, attrs.as_object_mut()) {
            obj.insert("safeguard_until".into(), json!(t.0));
        }
        let parents: Vec<Value> = r.orgs.iter().map(|o| uid("Npm::Org", &o.name)).collect();
        out.insert(
            format!("user {}", a.id),
            json!({"uid": uid("Npm::User", &a.id), "attrs": attrs, "parents": parents}),
        );
        out.insert(
            format!("account {}", a.id),
            json!({"uid": uid("Npm::Account", &a.id), "attrs": {}, "parents": []}),
        );
        for o in &r.orgs {
            let parents: Vec<Value> = if o.enforce_tfa {
                vec![uid("Npm::Enforcement", "tfa")]
            } else {
                Vec::new()
            };
            out.insert(
                format!("org {}", o.name),
                json!({"uid": uid("Npm::Org", &o.name), "attrs": {}, "parents": parents}),
            );
        }
        if let Some(p) = &r.package {
            let name = p.name.clone().unwrap_or_default();
            let scope = name
                .strip_prefix('@')
                .and_then(|s| s.split_once('/'))
                .map(|(s, _)| format!("@{s}"))
                .unwrap_or_default();
            let access = access_name(p.publishing_access.unwrap_or(PublishingAccess::TfaOrToken));
            out.insert(
                format!("package {name}"),
                json!({"uid": uid("Npm::Package", &name),
                       "attrs": {"name": name, "scope": scope, "access": access}, "parents": []}),
            );
        }
    }
    for kind in ActionKind::ALL {
        let parents: Vec<Value> = action_groups(*kind)
            .into_iter()
            .map(|g| uid("Npm::Action", g))
            .collect();
        out.insert(
            format!("action {}", kind.as_str()),
            json!({"uid": uid("Npm::Action", kind.as_str()), "attrs": {}, "parents": parents}),
        );
    }
    Value::Array(out.into_values().collect())
}
