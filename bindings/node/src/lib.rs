//! stepup for Node as a native addon. The same JSON-text surface as the wasm-bindgen build
//! (`bindings/web`), so the shared JS layer (`bindings/js/api.js`) gives both one API. Every
//! export catches unwinding, so no Rust panic can reach JavaScript.

use std::cell::RefCell;
use std::sync::Arc;

use napi::bindgen_prelude::External;
use napi::{Error, Result};
use napi_derive::napi;
use stepup_core::contract::decision::error_json;
use stepup_core::wire::ffi;
use stepup_core::wire::packed::Scratch;
use stepup_core::{InputError, Policy};

fn out(r: std::result::Result<String, InputError>) -> String {
    r.unwrap_or_else(|e| error_json(&e))
}

/// A caller-owned `Uint8Array` the packed decision is written into (named so the napi macro
/// takes it by value: napi-rs reads a mutable typed-array slice without copying).
type OutBytes<'a> = &'a mut [u8];

/// A policy kept resident in the addon; JS holds a handle.
#[napi(js_name = "Policy")]
pub struct RawPolicy(Arc<Policy>);

#[napi]
impl RawPolicy {
    /// Parses a configuration; throws an Error whose message is the error document.
    #[napi(constructor, catch_unwind)]
    pub fn new(config_json: String) -> Result<Self> {
        Policy::from_json(&config_json)
            .map(|p| RawPolicy(Arc::new(p)))
            .map_err(|e| Error::from_reason(error_json(&e)))
    }
    /// Request JSON → decision (or error) JSON.
    #[napi(js_name = "evaluateJson", catch_unwind)]
    pub fn evaluate_json(&self, request: String) -> String {
        self.0.evaluate_json(&request)
    }
    /// Packed request → packed decision in `output`; returns its length, 0 = use the JSON path.
    #[napi(js_name = "evaluatePacked", catch_unwind)]
    pub fn evaluate_packed(&self, input: &[u8], output: OutBytes<'_>) -> u32 {
        u32::try_from(ffi::evaluate_packed(&self.0, input, output)).unwrap_or(0)
    }
    /// This policy as a plain external value, for [`evaluate_packed_with`]: a call on a class
    /// instance pays napi-rs's borrow registration of the receiver (a global lock and a
    /// hash-map entry), most of an empty call's cost; a free function taking an external does
    /// not (docs/BENCHMARKS.md). The handle also keeps the packed reader's buffers between calls.
    #[napi(catch_unwind)]
    pub fn handle(&self) -> External<Handle> {
        External::new(Handle {
            policy: Arc::clone(&self.0),
            scratch: RefCell::new(Scratch::default()),
        })
    }
    /// `{request, secrets, present}` JSON → decision (or error) JSON.
    #[napi(js_name = "authorizeJson", catch_unwind)]
    pub fn authorize_json(&self, input: String) -> String {
        self.0.authorize_json(&input)
    }
    /// `{issuer, account, entropy}` → enrolment.
    #[napi(js_name = "enrollTotpJson", catch_unwind)]
    pub fn enroll_totp_json(&self, input: String) -> String {
        out(ffi::enroll_totp_json(&self.0, &input))
    }
    /// `{entropy}` → recovery codes.
    #[napi(js_name = "issueRecoveryCodesJson", catch_unwind)]
    pub fn issue_recovery_codes_json(&self, input: String) -> String {
        out(ffi::issue_recovery_codes_json(&self.0, &input))
    }
    /// `{entropy, now}` → email code.
    #[napi(js_name = "issueEmailCodeJson", catch_unwind)]
    pub fn issue_email_code_json(&self, input: String) -> String {
        out(ffi::issue_email_code_json(&self.0, &input))
    }
    /// `{secret, now}` → code.
    #[napi(js_name = "totpCodeJson", catch_unwind)]
    pub fn totp_code_json(&self, input: String) -> String {
        out(ffi::totp_code_json(&self.0, &input))
    }
    /// `{secret, code, now, last_step?}` → check result.
    #[napi(js_name = "verifyTotpJson", catch_unwind)]
    pub fn verify_totp_json(&self, input: String) -> String {
        out(ffi::verify_totp_json(&self.0, &input))
    }
    /// Any JSON entry point by name (`webauthn-challenge`, `webauthn-register`, `oidc-exchange`).
    #[napi(js_name = "callJson", catch_unwind)]
    pub fn call_json(&self, function: String, input: String) -> String {
        ffi::call_json(&self.0, &function, &input)
    }
    /// `{now, token}` → token-form verdict.
    #[napi(js_name = "tokenFormJson", catch_unwind)]
    pub fn token_form_json(&self, input: String) -> String {
        out(ffi::token_form_json(&self.0, &input))
    }
    /// `{members}` → adoption audit.
    #[napi(js_name = "orgAuditJson", catch_unwind)]
    pub fn org_audit_json(&self, input: String) -> String {
        out(ffi::org_audit_json(&self.0, &input))
    }
    /// A code → `"totp"`, `"email-otp"`, `"recovery-code"` or `null`.
    #[napi(js_name = "classifyCodeJson", catch_unwind)]
    pub fn classify_code_json(&self, code: String) -> String {
        ffi::classify_code_json(&self.0, &code)
    }
    /// The resolved configuration.
    #[napi(js_name = "configJson", catch_unwind)]
    pub fn config_json(&self) -> String {
        ffi::config_json(self.0.config())
    }
}

/// What [`RawPolicy::handle`] gives JS: the policy and the buffers its packed calls reuse.
/// A handle lives on the JS thread that made it, so the scratch is never shared.
pub struct Handle {
    policy: Arc<Policy>,
    scratch: RefCell<Scratch>,
}

/// [`RawPolicy::evaluate_packed`] on a policy's [`RawPolicy::handle`]: the call `evaluate`
/// makes on every request.
#[napi(js_name = "evaluatePackedWith", catch_unwind)]
pub fn evaluate_packed_with(handle: &External<Handle>, input: &[u8], output: OutBytes<'_>) -> u32 {
    // A re-entered call (none can happen: nothing here calls into JS) takes the JSON path.
    let Ok(mut scratch) = handle.scratch.try_borrow_mut() else {
        return 0;
    };
    u32::try_from(ffi::evaluate_packed_in(
        &handle.policy,
        &mut scratch,
        input,
        output,
    ))
    .unwrap_or(0)
}

/// `authorize` on one buffer: the packed request in its first `split` bytes, then a TOTP
/// account state (the secret, the last accepted step, the presented code and factor; core
/// `packed::authorize_split_in`): the packed decision's length in `output`, 0 = use the JSON
/// path (`authorizeJson`), which takes every account state.
#[napi(js_name = "authorizePackedWith", catch_unwind)]
pub fn authorize_packed_with(
    handle: &External<Handle>,
    input: &[u8],
    split: u32,
    output: OutBytes<'_>,
) -> u32 {
    let Ok(mut scratch) = handle.scratch.try_borrow_mut() else {
        return 0;
    };
    let Ok(split) = usize::try_from(split) else {
        return 0;
    };
    u32::try_from(ffi::authorize_packed_in(
        &handle.policy,
        &mut scratch,
        input,
        split,
        output,
    ))
    .unwrap_or(0)
}

/// `verifyTotp` as one number (`stepup_core::wire::ffi::verify_totp_number`): `kind + 8 × step`,
/// or -1 to ask `verifyTotpJson`.
#[napi(js_name = "verifyTotpWith", catch_unwind)]
pub fn verify_totp_with(
    handle: &External<Handle>,
    secret: String,
    code: String,
    now: f64,
    last_step: Option<f64>,
) -> f64 {
    ffi::verify_totp_number(&handle.policy, &secret, &code, now, last_step)
}

/// `{org, actor, members}` → enforcement plan.
#[napi(js_name = "orgPlanJson", catch_unwind)]
pub fn org_plan_json(input: String) -> String {
    out(ffi::org_plan_json(&input))
}

/// `(expect, decision)` → JSON array of differences.
#[napi(js_name = "compareJson", catch_unwind)]
pub fn compare_json(expect: String, decision: String) -> String {
    out(ffi::compare_json(&expect, &decision))
}

/// The enum name lists of the packed request and decision form.
#[napi(js_name = "packedTables", catch_unwind)]
pub fn packed_tables() -> String {
    ffi::packed_tables_json()
}

/// The JSON Schema of `config`, `request` or `decision`; `null` for any other name.
#[napi(catch_unwind)]
pub fn schema(which: String) -> Option<String> {
    ffi::schema(&which).map(str::to_owned)
}

/// The error document of an invalid configuration, or `null` when it is valid.
#[napi(js_name = "configError", catch_unwind)]
pub fn config_error(config_json: String) -> Option<String> {
    ffi::config_error_json(&config_json)
}
