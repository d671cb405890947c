//! `stepup org enforce|members`: an org's 2FA enforcement and its per-member audit in a running
//! server, for the operator (the admin API; org owners use the same endpoints with their npm
//! token under `/-/stepup/orgs/`).

use serde_json::{Value, json};
use stepup_server::admin_client::{AdminOptions, Method};
use stepup_server::upstream::encode_component;

use crate::Failure;
use crate::impact::answered;

/// `stepup org enforce ORG [--confirm] [--off]`: without `--confirm`, prints who would be
/// removed and changes nothing.
pub fn enforce(admin: &AdminOptions, org: &str, confirm: bool, off: bool) -> Result<(), Failure> {
    let path = format!("/v1/admin/orgs/{}/tfa-enforcement", encode_component(org));
    let body = json!({"enforce": !off, "confirm": confirm});
    let (status, answer) = admin
        .call(Method::POST, &path, Some(&body))
        .map_err(|e| Failure::Io(e.to_string()))?;
    answered(status, &answer)?;
    if let Some(message) = answer.get("message").and_then(Value::as_str) {
        eprintln!("{message}");
    }
    crate::files::print_json(&answer)
}

/// `stepup org members ORG [--tfa on|off] [--factor totp|webauthn] [--role R]`.
pub fn members(
    admin: &AdminOptions,
    org: &str,
    tfa: Option<&str>,
    factor: Option<&str>,
    role: Option<&str>,
) -> Result<(), Failure> {
    let query: Vec<String> = [("tfa", tfa), ("factor", factor), ("role", role)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode_component(v))))
        .collect();
    let mut path = format!("/v1/admin/orgs/{}/members", encode_component(org));
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let (status, answer) = admin
        .call(Method::GET, &path, None)
        .map_err(|e| Failure::Io(e.to_string()))?;
    answered(status, &answer)?;
    crate::files::print_json(&answer)
}
