//! JSON-shaped entry points that every binding wraps (Cedar's `ffi` pattern): each takes JSON
//! text and returns JSON text or an [`InputError`] with a field path. Bindings convert types and
//! nothing else, so every host answers identically.

use serde::Deserialize;
use serde_json::Value;

use crate::codes::single_use;
use crate::codes::totp;
use crate::contract::error::InputError;
use crate::contract::request::Request;
use crate::contract::time::Timestamp;
use crate::rules::authorize::AuthorizeInput;
use crate::rules::org;
use crate::rules::policy::Policy;
use crate::wire::encoding::hex_decode;

/// JSON Schema of the configuration document.
pub const CONFIG_SCHEMA: &str = include_str!("../../schema/config.schema.json");
/// JSON Schema of the request document.
pub const REQUEST_SCHEMA: &str = include_str!("../../schema/request.schema.json");
/// JSON Schema of the decision document.
pub const DECISION_SCHEMA: &str = include_str!("../../schema/decision.schema.json");

/// The JSON Schema named `config`, `request` or `decision`.
pub fn schema(which: &str) -> Option<&'static str> {
    match which {
        "config" => Some(CONFIG_SCHEMA),
        "request" => Some(REQUEST_SCHEMA),
        "decision" => Some(DECISION_SCHEMA),
        _ => None,
    }
}

/// Why a configuration is refused, as the error document, or `None` when it is valid: a
/// result JS bindings return as a value, so the JS API throws a structured error without
/// reading one out of an exception's message.
pub fn config_error_json(config: &str) -> Option<String> {
    Policy::from_json(config)
        .err()
        .map(|e| crate::contract::decision::error_json(&e))
}

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
    let i: EnrollInput = crate::wire::json::parse(input)?;
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
    let i: EntropyInput = crate::wire::json::parse(input)?;
    to_json(&single_use::issue_recovery_codes(
        policy.config().recovery_codes.count,
        &entropy(&i.entropy)?,
    )?)
}

/// `{entropy(hex), now}` → `{code, record}`.
pub fn issue_email_code_json(policy: &Policy, input: &str) -> Result<String, InputError> {
    let i: EntropyInput = crate::wire::json::parse(input)?;
    let now = i
        .now
        .ok_or_else(|| InputError::new("now", "required: unix seconds"))?;
    to_json(&single_use::issue_email_code(
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
    let i: CodeInput = crate::wire::json::parse(input)?;
    let secret = crate::rules::authorize::TotpSecret::from_base32(&i.secret)
        .ok_or_else(|| InputError::new("secret", "expected a base32 secret of 128 to 512 bits"))?;
    to_json(&totp::generate(&policy.config().totp, &secret.0, i.now.0))
}

/// The resolved configuration as JSON (what `stepup config show` prints).
pub fn config_json(config: &crate::Config) -> String {
    serde_json::to_string(config).unwrap_or_else(|_| "{}".to_owned())
}

/// `{now, token}` (npm 11 token body) → `{ok, problems, notes, credential}`.
pub fn token_form_json(policy: &Policy, input: &str) -> Result<String, InputError> {
    to_json(&crate::rules::token_form::check_json(
        policy.config(),
        input,
    )?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyInput {
    secret: String,
    code: String,
    now: Timestamp,
    #[serde(default)]
    last_step: Option<crate::contract::time::Count>,
}

/// `{secret, code, now, last_step?}` → `{result, step?, drift_seconds?, message}`: checks one
/// TOTP code on its own (enrolment's first code, or a form explaining a failed code).
pub fn verify_totp_json(policy: &Policy, input: &str) -> Result<String, InputError> {
    let i: VerifyInput = crate::wire::json::parse(input)?;
    let secret = crate::rules::authorize::TotpSecret::from_base32(&i.secret)
        .ok_or_else(|| InputError::new("secret", "expected a base32 secret of 128 to 512 bits"))?;
    let cfg = &policy.config().totp;
    let check = totp::verify(cfg, &secret.0, &i.code, i.now.0, i.last_step.map(|c| c.0));
    let period = i64::try_from(cfg.period_seconds).unwrap_or(30);
    let v = match check {
        totp::TotpCheck::Accepted { step } => {
            serde_json::json!({"result": "accepted", "step": step, "message": "Code accepted."})
        }
        totp::TotpCheck::Replayed => {
            serde_json::json!({"result": "replayed", "message": crate::rules::messages::message(crate::Reason::OtpReplayed)})
        }
        totp::TotpCheck::Drift { offset } => {
            let s = offset.saturating_mul(period);
            serde_json::json!({"result": "clock-drift", "drift_seconds": s, "message": format!("That code matches a different time: your device clock is {}.", totp::drift_words(s))})
        }
        totp::TotpCheck::Invalid => {
            serde_json::json!({"result": "invalid", "message": crate::rules::messages::message(crate::Reason::OtpInvalid)})
        }
        totp::TotpCheck::Malformed => {
            serde_json::json!({"result": "malformed", "message": format!("A code is {} digits; spaces are fine.", cfg.digits)})
        }
    };
    to_json(&v)
}

/// [`verify_totp_json`]'s result as one number, for the JS hosts' `verifyTotp` (JSON text cost
/// more than the check): `kind + 8 × step`, kind 0 accepted (with its step), 1 replayed,
/// 3 invalid, 4 malformed; `-1` for "ask [`verify_totp_json`]" (input JSON would refuse, and a
/// clock-drift result, whose message is made for its offset). The JS layer takes each kind's
/// fixed message from the JSON answer the first time it meets the kind, so the texts stay here.
pub fn verify_totp_number(
    policy: &Policy,
    secret: &str,
    code: &str,
    now: f64,
    last_step: Option<f64>,
) -> f64 {
    use crate::wire::packed::safe_count;
    let (Some(secret), Some(now)) = (
        crate::rules::authorize::TotpSecret::from_base32(secret),
        safe_count(now),
    ) else {
        return -1.0;
    };
    let last = match last_step {
        Some(v) => match safe_count(v) {
            Some(n) => Some(n),
            None => return -1.0,
        },
        None => None,
    };
    // A code longer than any presented one may be (`Presented::new`) is for JSON to judge: its
    // document cap, counted with escapes, may refuse it.
    if code.len() > 256 {
        return -1.0;
    }
    let (kind, step) = match totp::verify(&policy.config().totp, &secret.0, code, now, last) {
        totp::TotpCheck::Accepted { step } => (0, step),
        totp::TotpCheck::Replayed => (1, 0),
        totp::TotpCheck::Invalid => (3, 0),
        totp::TotpCheck::Malformed => (4, 0),
        totp::TotpCheck::Drift { .. } => return -1.0,
    };
    match step.checked_mul(8).map(|n| n + kind) {
        #[expect(
            clippy::cast_precision_loss,
            reason = "at most 2^53 - 1, which an f64 holds exactly"
        )]
        Some(n) if n <= crate::contract::time::MAX_SAFE_INTEGER => n as f64,
        _ => -1.0,
    }
}

/// Which factor a bare code looks like: `"totp"`, `"email-otp"`, `"recovery-code"` or `null`.
pub fn classify_code_json(policy: &Policy, code: &str) -> String {
    to_json(&crate::codes::single_use::classify(policy.config(), code))
        .unwrap_or_else(|_| "null".into())
}

/// Member list → enforcement plan.
pub fn org_plan_json(input: &str) -> Result<String, InputError> {
    to_json(&org::plan(&crate::wire::json::parse(input)?)?)
}

/// Member list → adoption audit.
pub fn org_audit_json(policy: &Policy, input: &str) -> Result<String, InputError> {
    to_json(&org::audit(
        policy.config(),
        &crate::wire::json::parse(input)?,
    )?)
}

/// `(expect, decision)` → JSON array of differences (empty when the decision matches).
pub fn compare_json(expect: &str, decision: &str) -> Result<String, InputError> {
    let e: Value =
        serde_json::from_str(expect).map_err(|e| InputError::new("expect", e.to_string()))?;
    let d: Value =
        serde_json::from_str(decision).map_err(|e| InputError::new("decision", e.to_string()))?;
    to_json(&crate::wire::expectation::compare(&e, &d))
}

/// `{ceremony, entropy, now, user?, credentials?}` → `{challenge, expires_at, options}`
/// (see [`crate::verify::webauthn::challenge`]).
pub fn webauthn_challenge_json(policy: &Policy, input: &str) -> Result<String, InputError> {
    crate::verify::webauthn::challenge(&policy.config().webauthn, input)
}

/// `{now, challenge, credential, existing?}` → the credential to store, or a refusal
/// (see [`crate::verify::webauthn::register`]).
pub fn webauthn_register_json(policy: &Policy, input: &str) -> Result<String, InputError> {
    crate::verify::webauthn::register(&policy.config().webauthn, input)
}

/// `{now, token, jwks, package, trust, used_jtis?, audience?}` → the `oidc` credential, or a
/// refusal with npm's answer (see [`crate::verify::oidc::exchange`]).
#[cfg(feature = "oidc-exchange")]
pub fn oidc_exchange_json(policy: &Policy, input: &str) -> Result<String, InputError> {
    crate::verify::oidc::exchange(&policy.config().trusted_publishing, input)
}

/// The JSON entry points reachable by name through [`call_json`], so a binding forwards new
/// functions without new glue.
pub const FUNCTIONS: [&str; 17] = [
    "evaluate",
    "authorize",
    "enroll-totp",
    "issue-recovery-codes",
    "issue-email-code",
    "verify-totp",
    "token-form",
    "webauthn-challenge",
    "webauthn-register",
    "oidc-exchange",
    "oidc-trust",
    "classify",
    "impact-index",
    "latest-dependencies",
    "org-plan",
    "org-audit",
    "rollout-simulate",
];

/// Calls the entry point `function` (one of [`FUNCTIONS`]) with JSON `input`: the result as
/// JSON text, or the input error (an unknown function too). Hosts whose boundary carries
/// results (the component's `result<string, input-error>`) use this; [`call_json`] is the
/// same with the error written as the SPEC error document.
///
/// ```
/// use stepup_core::{Policy, wire::ffi};
/// let policy = Policy::default();
/// let answer = ffi::call(&policy, "classify", r#"{"method":"GET","path":"/@acme%2fwidget"}"#);
/// assert!(answer.unwrap().contains(r#""action":{"kind":"package.read","package":"@acme/widget"}"#));
/// let refused = ffi::call(&policy, "evaluate", r#"{"now":-1}"#).unwrap_err();
/// assert_eq!(refused.path, "now");
/// ```
pub fn call(policy: &Policy, function: &str, input: &str) -> Result<String, InputError> {
    match function {
        "evaluate" => Request::parse(input).map(|r| policy.evaluate(&r).to_json()),
        "authorize" => AuthorizeInput::parse(input).and_then(|i| {
            policy
                .authorize(&i.request, &i.secrets, i.present.as_ref())
                .map(|d| d.to_json())
        }),
        "enroll-totp" => enroll_totp_json(policy, input),
        "issue-recovery-codes" => issue_recovery_codes_json(policy, input),
        "issue-email-code" => issue_email_code_json(policy, input),
        "verify-totp" => verify_totp_json(policy, input),
        "token-form" => token_form_json(policy, input),
        "webauthn-challenge" => webauthn_challenge_json(policy, input),
        "webauthn-register" => webauthn_register_json(policy, input),
        #[cfg(feature = "oidc-exchange")]
        "oidc-exchange" => oidc_exchange_json(policy, input),
        "oidc-trust" => crate::verify::oidc::check_trust(input),
        "org-plan" => org_plan_json(input),
        "org-audit" => org_audit_json(policy, input),
        #[cfg(feature = "simulation")]
        "rollout-simulate" => crate::simulation::simulate_json(policy, input),
        #[cfg(not(feature = "simulation"))]
        "rollout-simulate" => Err(InputError::new(
            "function",
            "`rollout-simulate` is a planning tool this build of stepup leaves out (the component and stepup-web's default browser build); the CLI (`stepup rollout simulate`), the Node addon and stepup-web/full have it",
        )),
        #[cfg(feature = "classify")]
        "classify" => crate::wire::classify::classify_json(input),
        #[cfg(feature = "classify")]
        "impact-index" => crate::registry::impact::index_json(input),
        #[cfg(feature = "classify")]
        "latest-dependencies" => crate::registry::impact::latest_dependencies_json(input),
        #[cfg(not(feature = "oidc-exchange"))]
        "oidc-exchange" => Err(left_out("oidc-exchange")),
        #[cfg(not(feature = "classify"))]
        "classify" | "impact-index" | "latest-dependencies" => Err(left_out(function)),
        _ => Err(InputError::new(
            "function",
            format!("unknown function; one of {}", FUNCTIONS.join(", ")),
        )),
    }
}

/// A server-side entry point a build leaves out (its cargo feature is off).
#[cfg(not(all(feature = "oidc-exchange", feature = "classify")))]
fn left_out(function: &str) -> InputError {
    InputError::new(
        "function",
        format!(
            "`{function}` is a server-side entry point this build of stepup leaves out (stepup-web's default browser build); the full build has it"
        ),
    )
}

/// [`call`], with an input error written as the SPEC error document (§8.17), so the answer is
/// always JSON text, byte for byte what every host gives.
pub fn call_json(policy: &Policy, function: &str, input: &str) -> String {
    call(policy, function, input).unwrap_or_else(|e| crate::contract::decision::error_json(&e))
}

/// Decides a packed request (see [`crate::wire::packed`]) and writes the packed decision into
/// `output`. Returns the number of bytes written, or 0 when the request should be decided from
/// its JSON form instead (not decodable here, or refused: JSON gives the error with its path).
pub fn evaluate_packed(policy: &Policy, input: &[u8], output: &mut [u8]) -> usize {
    crate::wire::packed::evaluate_in(
        policy,
        &mut crate::wire::packed::Scratch::default(),
        input,
        output,
    )
}

/// [`evaluate_packed`] with buffers kept between calls (see [`crate::wire::packed::Scratch`]): what
/// a host calls on every request.
pub fn evaluate_packed_in(
    policy: &Policy,
    scratch: &mut crate::wire::packed::Scratch,
    input: &[u8],
    output: &mut [u8],
) -> usize {
    crate::wire::packed::evaluate_in(policy, scratch, input, output)
}

/// `authorize` on a packed request (the first `split` bytes of `input`) followed by a TOTP
/// account state (see [`crate::wire::packed::authorize_split_in`]): the packed decision's
/// length, 0 = use the JSON path.
pub fn authorize_packed_in(
    policy: &Policy,
    scratch: &mut crate::wire::packed::Scratch,
    input: &[u8],
    split: usize,
    output: &mut [u8],
) -> usize {
    crate::wire::packed::authorize_split_in(policy, scratch, input, split, output)
}

/// The enum name lists of the packed form, for the JS encoder and decoder.
pub fn packed_tables_json() -> String {
    crate::wire::packed::tables_json()
}
