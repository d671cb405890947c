//! Granular-token creation forms: the checks a registry applies before minting a token (npm 11's
//! `POST /-/npm/v1/tokens` body), so a web form and the server refuse the same things with the
//! same messages: CIDRs (IPv4 and IPv6), the preset's expiry limits, and bypass-2FA rules.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::contract::cidr::Cidr;
use crate::contract::error::InputError;
use crate::contract::time::Timestamp;
use crate::wire::json::nullable;

/// npm's limits per token.
pub const MAX_PACKAGES_AND_SCOPES: usize = 50;
/// npm's limit of orgs per token.
pub const MAX_ORGS: usize = 50;

/// A token form as npm 11 sends it (snake_case); `expires` is in days.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenForm {
    /// Token name.
    #[serde(default)]
    pub name: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Exact package names.
    #[serde(default, deserialize_with = "nullable")]
    pub packages: Vec<String>,
    /// Every package the user can access.
    #[serde(default, deserialize_with = "nullable")]
    pub packages_all: bool,
    /// Scopes such as `@acme`.
    #[serde(default, deserialize_with = "nullable")]
    pub scopes: Vec<String>,
    /// Orgs.
    #[serde(default, deserialize_with = "nullable")]
    pub orgs: Vec<String>,
    /// `no-access`, `read-only` or `read-write` on packages and scopes.
    #[serde(default)]
    pub packages_and_scopes_permission: Option<crate::contract::request::Permission>,
    /// The same for orgs.
    #[serde(default)]
    pub orgs_permission: Option<crate::contract::request::Permission>,
    /// Lifetime in days.
    #[serde(default)]
    pub expires: Option<u64>,
    /// IP allow-list.
    #[serde(default, deserialize_with = "nullable")]
    pub cidr_whitelist: Vec<String>,
    /// Skip 2FA where permitted.
    #[serde(default, deserialize_with = "nullable")]
    pub bypass_2fa: bool,
    /// npm 10's legacy form: a read-only token.
    #[serde(default)]
    pub readonly: Option<bool>,
    /// Accepted and ignored here (the server checks it).
    #[serde(default)]
    pub password: Option<String>,
}

/// One problem with a form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Field path, e.g. `cidr_whitelist[1]`.
    pub path: String,
    /// What to change.
    pub message: String,
}

/// The verdict on a form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenCheck {
    /// Whether the token may be created as asked.
    pub ok: bool,
    /// What is wrong, field by field.
    pub problems: Vec<Problem>,
    /// What the user should know even when `ok` (e.g. what a bypass token can never do).
    pub notes: Vec<String>,
    /// The token's credential as a request would carry it (when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<serde_json::Value>,
}

/// Checks a form at `now` against the configuration's token limits.
pub fn check(cfg: &Config, form: &TokenForm, now: u64) -> TokenCheck {
    use crate::contract::request::Permission::{NoAccess, ReadOnly, ReadWrite};
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut bad = |path: String, message: String| problems.push(Problem { path, message });

    let legacy = form.readonly.is_some();
    let pkg_perm = form.packages_and_scopes_permission.unwrap_or(if legacy {
        if form.readonly == Some(true) {
            ReadOnly
        } else {
            ReadWrite
        }
    } else {
        NoAccess
    });
    let org_perm = form.orgs_permission.unwrap_or(NoAccess);
    let all = form.packages_all || legacy;
    let writes = pkg_perm == ReadWrite || org_perm == ReadWrite;

    if let Some(n) = &form.name
        && (n.trim().is_empty() || n.len() > 128)
    {
        bad("name".into(), "between 1 and 128 characters".into());
    }
    if form.description.as_ref().is_some_and(|d| d.len() > 1024) {
        bad("description".into(), "at most 1024 characters".into());
    }
    if form.packages_all && !(form.packages.is_empty() && form.scopes.is_empty()) {
        bad(
            "packages_all".into(),
            "covers every package already: leave packages and scopes empty".into(),
        );
    }
    if form.packages.len() + form.scopes.len() > MAX_PACKAGES_AND_SCOPES {
        bad(
            "packages".into(),
            format!("at most {MAX_PACKAGES_AND_SCOPES} packages and scopes together"),
        );
    }
    for (i, p) in form.packages.iter().enumerate() {
        if p.is_empty() || p.len() > 214 || p.contains(char::is_whitespace) {
            bad(format!("packages[{i}]"), "not a package name".into());
        }
    }
    for (i, s) in form.scopes.iter().enumerate() {
        if !s.starts_with('@') || s.len() < 2 || s.contains('/') || s.contains(char::is_whitespace)
        {
            bad(format!("scopes[{i}]"), "a scope looks like @name".into());
        }
    }
    if form.orgs.len() > MAX_ORGS {
        bad("orgs".into(), format!("at most {MAX_ORGS} orgs"));
    }
    if !all && form.packages.is_empty() && form.scopes.is_empty() && pkg_perm != NoAccess {
        bad(
            "packages".into(),
            "name the packages or scopes this permission covers, or set packages_all".into(),
        );
    }
    if form.orgs.is_empty() && org_perm != NoAccess {
        bad("orgs".into(), "name the orgs this permission covers".into());
    }
    if !legacy && pkg_perm == NoAccess && org_perm == NoAccess {
        bad(
            "packages_and_scopes_permission".into(),
            "the token would grant nothing".into(),
        );
    }
    let mut cidrs = Vec::new();
    if form.cidr_whitelist.len() > 1024 {
        bad("cidr_whitelist".into(), "at most 1024 entries".into());
    }
    for (i, c) in form.cidr_whitelist.iter().enumerate() {
        match Cidr::parse(c) {
            Some(n) => cidrs.push(n.to_string()),
            None => bad(
                format!("cidr_whitelist[{i}]"),
                format!("{c:?} is not a CIDR such as 192.0.2.0/24 or 2001:db8::/32"),
            ),
        }
    }
    let lim = &cfg.tokens;
    let days = match form.expires {
        Some(d) => Some(d),
        None if writes => lim.write_default_ttl_days,
        None => None,
    };
    if let Some(d) = days {
        if d < lim.min_ttl_days {
            bad(
                "expires".into(),
                format!("at least {} day(s)", lim.min_ttl_days),
            );
        }
        if writes && lim.write_max_ttl_days.is_some_and(|m| d > m) {
            bad(
                "expires".into(),
                format!(
                    "tokens that can write may live at most {} days",
                    lim.write_max_ttl_days.unwrap_or(0)
                ),
            );
        }
        if d > 36_500 {
            bad("expires".into(), "at most 36500 days".into());
        }
    }
    if form.bypass_2fa && !writes {
        bad(
            "bypass_2fa".into(),
            "only tokens that can write can bypass two-factor authentication".into(),
        );
    }
    if form.bypass_2fa && writes {
        if cfg.bypass_token_forbidden_classes.is_empty() {
            notes.push(
                "This token will skip two-factor authentication for everything it can do.".into(),
            );
        } else {
            let names: Vec<&str> = cfg
                .bypass_token_forbidden_classes
                .iter()
                .map(|c| match c {
                    crate::contract::action::ActionClass::Account => "account changes",
                    crate::contract::action::ActionClass::Tokens => "token management",
                    crate::contract::action::ActionClass::PackageGovernance => {
                        "package governance (owners, access, trust)"
                    }
                    crate::contract::action::ActionClass::OrgGovernance => "org governance",
                    crate::contract::action::ActionClass::Publish => "publishing",
                    crate::contract::action::ActionClass::PackageWrite => "package writes",
                    crate::contract::action::ActionClass::Read => "reads",
                    crate::contract::action::ActionClass::Login => "login",
                })
                .collect();
            notes.push(format!(
                "A token that bypasses 2FA can never perform: {}.",
                names.join(", ")
            ));
        }
        notes.push(
            "Packages set to \"require 2FA and disallow tokens\" refuse this token for publishing."
                .into(),
        );
    }
    if cidrs.is_empty() && writes {
        notes.push("Consider restricting a write token to your CI's IP ranges.".into());
    }
    let ok = problems.is_empty();
    let credential = ok.then(|| {
        let perm = |p: crate::contract::request::Permission| match p {
            NoAccess => "no-access",
            ReadOnly => "read-only",
            ReadWrite => "read-write",
        };
        let mut c = serde_json::json!({
            "kind": "granular-token",
            "bypass_2fa": form.bypass_2fa,
            "cidr_whitelist": cidrs,
            "packages": { "all": all, "names": form.packages, "scopes": form.scopes, "permission": perm(pkg_perm) },
            "orgs": { "names": form.orgs, "permission": perm(org_perm) },
        });
        if let (Some(d), Some(obj)) = (days, c.as_object_mut()) {
            obj.insert("expires_at".into(), serde_json::json!(Timestamp(now.saturating_add(d.saturating_mul(86_400))).0));
        }
        c
    });
    TokenCheck {
        ok,
        problems,
        notes,
        credential,
    }
}

/// Parses a form document (`{now, token}`) and checks it.
pub fn check_json(cfg: &Config, input: &str) -> Result<TokenCheck, InputError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        now: Timestamp,
        token: TokenForm,
    }
    let d: Doc = crate::wire::json::parse(input)?;
    Ok(check(cfg, &d.token, d.now.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;

    fn form(json: &str) -> TokenForm {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn write_token_expiry_follows_the_preset() {
        let c26 = Config::preset(Preset::Npmjs2026);
        let c22 = Config::preset(Preset::Npmjs2022);
        let f = form(
            r#"{"packages_all":true,"packages_and_scopes_permission":"read-write","expires":91}"#,
        );
        assert_eq!(check(&c26, &f, 0).problems[0].path, "expires");
        assert!(check(&c22, &f, 0).ok);
        let f = form(
            r#"{"packages_all":true,"packages_and_scopes_permission":"read-write","expires":90}"#,
        );
        let r = check(&c26, &f, 1000);
        assert!(r.ok, "{r:?}");
        assert_eq!(r.credential.unwrap()["expires_at"], 1000 + 90 * 86_400);
        let f = form(r#"{"packages_all":true,"packages_and_scopes_permission":"read-write"}"#);
        assert_eq!(
            check(&c26, &f, 0).credential.unwrap()["expires_at"],
            7 * 86_400,
            "7-day default"
        );
        let f = form(
            r#"{"packages_all":true,"packages_and_scopes_permission":"read-only","expires":400}"#,
        );
        assert!(check(&c26, &f, 0).ok, "read-only tokens are not capped");
    }

    #[test]
    fn cidrs_bypass_and_scopes() {
        let c = Config::preset(Preset::Npmjs2026);
        let f = form(
            r#"{"scopes":["@acme","acme"],"packages_and_scopes_permission":"read-write","cidr_whitelist":["10.0.0.0/8","2001:db8::/32","10.0.0.1"],"expires":7}"#,
        );
        let r = check(&c, &f, 0);
        let paths: Vec<&str> = r.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["scopes[1]", "cidr_whitelist[2]"]);
        let f = form(
            r#"{"packages_all":true,"packages_and_scopes_permission":"read-only","bypass_2fa":true}"#,
        );
        assert_eq!(check(&c, &f, 0).problems[0].path, "bypass_2fa");
        let f = form(
            r#"{"packages_all":true,"packages_and_scopes_permission":"read-write","bypass_2fa":true,"expires":30}"#,
        );
        let r = check(&c, &f, 0);
        assert!(
            r.ok && r.notes.iter().any(|n| n.contains("never perform")),
            "{r:?}"
        );
    }

    #[test]
    fn npm10_legacy_form() {
        let c = Config::preset(Preset::Npmjs2026);
        let r = check(
            &c,
            &form(r#"{"password":"pw","readonly":true,"cidr_whitelist":[]}"#),
            0,
        );
        assert!(r.ok, "{r:?}");
        assert_eq!(r.credential.unwrap()["packages"]["permission"], "read-only");
    }
}
