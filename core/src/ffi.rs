//! JSON-shaped entry points that every binding wraps (Cedar's `ffi` pattern): each takes JSON
//! text and returns JSON text or an [`InputError`] with a field path. Bindings convert types and
//! nothing else, so every host answers identically.

use serde::Deserialize;
use serde_json::Value;

use crate::codes;
use crate::encoding::hex_decode;
use crate::error::InputError;
use crate::org;
use crate::policy::Policy;
use crate::time::Timestamp;
use crate::totp;

/// JSON Schema of the configuration document.
pub const CONFIG_SCHEMA: &str = include_str!("../schema/config.schema.json");
/// JSON Schema of the request document.
pub const REQUEST_SCHEMA: &str = include_str!("../schema/request.schema.json");

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, InputError> {
    serde_json::to_string(v).map_err(|e| InputError::new(".", e.to_string()))
}

fn entropy(hex: &str) -> Result<Vec<u8>, InputError> {
    hex_decode(hex).ok_or_else(|| InputError::new("entropy", "expected hex"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrollInput {
    issuer: String,
    account: String,
    entropy: String,
}

/// `{issuer, account, entropy(hex)}` → `{secret, otpauth_uri, qr_svg}`.
pub fn enroll_totp_json(policy: &Policy, input: &str) -> Result<String, InputError> {
    let i: EnrollInput = crate::json::parse(input)?;
    to_json(&totp::enroll(
        &policy.config().totp,
        &i.issuer,
        &i.account,
        &entropy(&i.entropy)?,
    )?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntropyInput {
    entropy: String,
    #[serde(default)]
    now: Option<Timestamp>,
}

/// `{entropy(hex)}` → `{codes, records}`.
pub fn issue_recovery_codes_json(policy: &Policy, input: &str) -> Result<String, InputError> {
    let i: EntropyInput = crate::json::parse(input)?;
    to_json(&codes::issue_recovery_codes(
        policy.config().recovery_codes.count,
        &entropy(&i.entropy)?,
    )?)
}

/// `{entropy(hex), now}` → `{code, record}`.
pub fn issue_email_code_json(policy: &Policy, input: &str) -> Result<String, InputError> {
    let i: EntropyInput = crate::json::parse(input)?;
    let now = i
        .now
        .ok_or_else(|| InputError::new("now", "required: unix seconds"))?;
    to_json(&codes::issue_email_code(
        &policy.config().email_code,
        &entropy(&i.entropy)?,
        now.0,
    )?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeInput {
    secret: String,
    now: Timestamp,
}

/// `{secret(base32), now}` → `"123456"`: the code an authenticator shows (tests and demos).
pub fn totp_code_json(policy: &Policy, input: &str) -> Result<String, InputError> {
    let i: CodeInput = crate::json::parse(input)?;
    let secret = crate::authorize::TotpSecret::from_base32(&i.secret)
        .ok_or_else(|| InputError::new("secret", "expected a base32 secret of 128 to 512 bits"))?;
    to_json(&totp::generate(&policy.config().totp, &secret.0, i.now.0))
}

/// The resolved configuration as JSON (what `stepup config show` prints).
pub fn config_json(config: &crate::Config) -> String {
    serde_json::to_string(config).unwrap_or_else(|_| "{}".to_owned())
}

/// Member list → enforcement plan.
pub fn org_plan_json(input: &str) -> Result<String, InputError> {
    to_json(&org::plan(&crate::json::parse(input)?)?)
}

/// Member list → adoption audit.
pub fn org_audit_json(policy: &Policy, input: &str) -> Result<String, InputError> {
    to_json(&org::audit(policy.config(), &crate::json::parse(input)?)?)
}

/// `(expect, decision)` → JSON array of differences (empty when the decision matches).
pub fn compare_json(expect: &str, decision: &str) -> Result<String, InputError> {
    let e: Value =
        serde_json::from_str(expect).map_err(|e| InputError::new("expect", e.to_string()))?;
    let d: Value =
        serde_json::from_str(decision).map_err(|e| InputError::new("decision", e.to_string()))?;
    to_json(&crate::conformance::compare(&e, &d))
}
