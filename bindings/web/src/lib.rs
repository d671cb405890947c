//! stepup for JavaScript via wasm-bindgen. Every function takes and returns what
//! `stepup_core::wire::ffi` does — JSON text, or for `evaluate`'s fast path the packed form, here
//! through scratch buffers in wasm memory — so the shared JS layer (`bindings/js/api.js`) gives
//! the browser build, the Node wasm build and the napi addon one identical API. Errors come back
//! as the SPEC §8.17 error document, never as a panic.

use std::cell::RefCell;

use stepup_core::contract::decision::error_json;
use stepup_core::wire::ffi;
use stepup_core::wire::packed::MAX_INPUT;
use stepup_core::{InputError, Policy};
use wasm_bindgen::prelude::*;

fn out(r: Result<String, InputError>) -> String {
    r.unwrap_or_else(|e| error_json(&e))
}

/// A policy kept resident in wasm memory; JS holds a handle.
#[wasm_bindgen(js_name = Policy)]
pub struct RawPolicy(Policy);

#[wasm_bindgen(js_class = Policy)]
impl RawPolicy {
    /// Parses a configuration; throws the error document (a JSON string) when invalid.
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str) -> Result<RawPolicy, JsValue> {
        Policy::from_json(config_json)
            .map(RawPolicy)
            .map_err(|e| JsValue::from_str(&error_json(&e)))
    }
    /// Request JSON → decision (or error) JSON.
    #[wasm_bindgen(js_name = evaluateJson)]
    pub fn evaluate_json(&self, request: &str) -> String {
        self.0.evaluate_json(request)
    }
    /// `{request, secrets, present}` JSON → decision (or error) JSON.
    #[wasm_bindgen(js_name = authorizeJson)]
    pub fn authorize_json(&self, input: &str) -> String {
        self.0.authorize_json(input)
    }
    /// Packed request → packed decision in `output`; returns its length, 0 = use the JSON path.
    #[wasm_bindgen(js_name = evaluatePacked)]
    pub fn evaluate_packed(&self, input: &[u8], output: &mut [u8]) -> u32 {
        u32::try_from(ffi::evaluate_packed(&self.0, input, output)).unwrap_or(0)
    }
    /// [`Self::evaluate_packed`] on the scratch buffers: the request's first `len` bytes of
    /// [`packed_input`] in, the decision in [`packed_output`].
    #[wasm_bindgen(js_name = evaluatePackedScratch)]
    pub fn evaluate_packed_scratch(&self, len: u32) -> u32 {
        with_scratch(len, usize::MAX, |decoded, request, output| {
            ffi::evaluate_packed_in(&self.0, decoded, request, output)
        })
    }
    /// `authorize` on the scratch buffers (as [`Self::evaluate_packed_scratch`]): the packed
    /// request in the first `split` of `len` bytes, then a TOTP account state (core
    /// `packed::authorize_split_in`). The packed decision's length, 0 = use the JSON path. The
    /// state's bytes (a secret, a code) are zeroed in the scratch before this returns.
    #[wasm_bindgen(js_name = authorizePackedScratch)]
    pub fn authorize_packed_scratch(&self, len: u32, split: u32) -> u32 {
        let Ok(split) = usize::try_from(split) else {
            return 0;
        };
        with_scratch(len, split, |decoded, input, output| {
            ffi::authorize_packed_in(&self.0, decoded, input, split, output)
        })
    }
    /// `verifyTotp` as one number (`ffi::verify_totp_number`): `kind + 8 × step`, or -1 to ask
    /// `verifyTotpJson`.
    #[wasm_bindgen(js_name = verifyTotpNumber)]
    pub fn verify_totp_number(
        &self,
        secret: &str,
        code: &str,
        now: f64,
        last_step: Option<f64>,
    ) -> f64 {
        ffi::verify_totp_number(&self.0, secret, code, now, last_step)
    }
    /// [`Self::verify_totp_number`] on the scratch input: the secret's `secret_len` bytes, then
    /// the code's `code_len` (UTF-8), zeroed before this returns. Two strings passed as
    /// arguments were each allocated, encoded and freed by the generated glue, which cost more
    /// than the check.
    #[wasm_bindgen(js_name = verifyTotpScratch)]
    pub fn verify_totp_scratch(
        &self,
        secret_len: u32,
        code_len: u32,
        now: f64,
        last_step: Option<f64>,
    ) -> f64 {
        let (Ok(s), Ok(c)) = (usize::try_from(secret_len), usize::try_from(code_len)) else {
            return -1.0;
        };
        let Some(len) = s.checked_add(c).and_then(|n| u32::try_from(n).ok()) else {
            return -1.0;
        };
        let mut answer = -1.0;
        with_scratch(len, 0, |_, input, _| {
            if let Some((secret, code)) = input.split_at_checked(s)
                && let (Ok(secret), Ok(code)) =
                    (std::str::from_utf8(secret), std::str::from_utf8(code))
            {
                answer = ffi::verify_totp_number(&self.0, secret, code, now, last_step);
            }
            0
        });
        answer
    }
    /// `{issuer, account, entropy}` → enrolment.
    #[wasm_bindgen(js_name = enrollTotpJson)]
    pub fn enroll_totp_json(&self, input: &str) -> String {
        out(ffi::enroll_totp_json(&self.0, input))
    }
    /// `{entropy}` → recovery codes.
    #[wasm_bindgen(js_name = issueRecoveryCodesJson)]
    pub fn issue_recovery_codes_json(&self, input: &str) -> String {
        out(ffi::issue_recovery_codes_json(&self.0, input))
    }
    /// `{entropy, now}` → email code.
    #[wasm_bindgen(js_name = issueEmailCodeJson)]
    pub fn issue_email_code_json(&self, input: &str) -> String {
        out(ffi::issue_email_code_json(&self.0, input))
    }
    /// `{secret, now}` → code.
    #[wasm_bindgen(js_name = totpCodeJson)]
    pub fn totp_code_json(&self, input: &str) -> String {
        out(ffi::totp_code_json(&self.0, input))
    }
    /// `{secret, code, now, last_step?}` → check result.
    #[wasm_bindgen(js_name = verifyTotpJson)]
    pub fn verify_totp_json(&self, input: &str) -> String {
        out(ffi::verify_totp_json(&self.0, input))
    }
    /// Any JSON entry point by name (`webauthn-challenge`, `webauthn-register`, `oidc-exchange`).
    #[wasm_bindgen(js_name = callJson)]
    pub fn call_json(&self, function: &str, input: &str) -> String {
        ffi::call_json(&self.0, function, input)
    }
    /// `{now, token}` → token-form verdict.
    #[wasm_bindgen(js_name = tokenFormJson)]
    pub fn token_form_json(&self, input: &str) -> String {
        out(ffi::token_form_json(&self.0, input))
    }
    /// `{members}` → adoption audit.
    #[wasm_bindgen(js_name = orgAuditJson)]
    pub fn org_audit_json(&self, input: &str) -> String {
        out(ffi::org_audit_json(&self.0, input))
    }
    /// A code → `"totp"`, `"email-otp"`, `"recovery-code"` or `null`.
    #[wasm_bindgen(js_name = classifyCodeJson)]
    pub fn classify_code_json(&self, code: &str) -> String {
        ffi::classify_code_json(&self.0, code)
    }
    /// The resolved configuration.
    #[wasm_bindgen(js_name = configJson)]
    pub fn config_json(&self) -> String {
        ffi::config_json(self.0.config())
    }
}

/// `{org, actor, members}` → enforcement plan.
#[wasm_bindgen(js_name = orgPlanJson)]
pub fn org_plan_json(input: &str) -> String {
    out(ffi::org_plan_json(input))
}

/// `(expect, decision)` → JSON array of differences.
#[wasm_bindgen(js_name = compareJson)]
pub fn compare_json(expect: &str, decision: &str) -> String {
    out(ffi::compare_json(expect, decision))
}

/// The JSON Schema of `config`, `request` or `decision`; `undefined` for any other name.
#[wasm_bindgen]
pub fn schema(which: &str) -> Option<String> {
    ffi::schema(which).map(str::to_owned)
}

/// The error document of an invalid configuration, or `undefined` when it is valid.
#[wasm_bindgen(js_name = configError)]
pub fn config_error(config_json: &str) -> Option<String> {
    ffi::config_error_json(config_json)
}

/// The enum name lists of the packed request and decision form.
#[wasm_bindgen(js_name = packedTables)]
pub fn packed_tables() -> String {
    ffi::packed_tables_json()
}

/// Request and decision buffers that stay in wasm memory, so the JS layer writes a packed
/// request straight into one and copies only the decision's bytes out of the other. Passing
/// `&[u8]` and `&mut [u8]` made the generated glue allocate, copy and free both buffers on every
/// call, which cost more than the decision.
struct Scratch {
    input: Vec<u8>,
    output: Vec<u8>,
    /// The last request's strings and lists, refilled by the next one.
    decoded: stepup_core::wire::packed::Scratch,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        input: Vec::new(),
        output: vec![0; 1024],
        decoded: stepup_core::wire::packed::Scratch::default(),
    });
}

/// Runs a packed call on the scratch buffers: the input buffer's first `len` bytes in, the
/// decision in the output buffer; the decision's length, 0 = use the JSON path. The input's
/// bytes after its first `keep` are zeroed after the call, so a TOTP secret or a code written
/// there does not stay in wasm memory (a request alone keeps all: `usize::MAX`).
fn with_scratch(
    len: u32,
    keep: usize,
    call: impl FnOnce(&mut stepup_core::wire::packed::Scratch, &[u8], &mut [u8]) -> usize,
) -> u32 {
    SCRATCH.with_borrow_mut(|s| {
        let Scratch {
            input,
            output,
            decoded,
        } = s;
        let Ok(n) = usize::try_from(len) else {
            return 0;
        };
        let answer = input
            .get(..n)
            .map_or(0, |request| call(decoded, request, output));
        let end = n.min(input.len());
        if let Some(secret) = input.get_mut(keep.min(end)..end) {
            secret.fill(0);
        }
        u32::try_from(answer).unwrap_or(0)
    })
}

fn address(p: *const u8) -> u32 {
    u32::try_from(p as usize).unwrap_or(0)
}

/// The address of the scratch request buffer, made at least `len` bytes long; 0 when `len` is
/// more than a packed request may be (the caller then uses the JSON path).
#[wasm_bindgen(js_name = packedInput)]
pub fn packed_input(len: u32) -> u32 {
    let Some(n) = usize::try_from(len).ok().filter(|n| *n <= MAX_INPUT) else {
        return 0;
    };
    SCRATCH.with_borrow_mut(|s| {
        if s.input.len() < n {
            s.input.resize(n, 0);
        }
        address(s.input.as_ptr())
    })
}

/// The address and length of the scratch decision buffer (fixed for the module's life).
#[wasm_bindgen(js_name = packedOutput)]
pub fn packed_output() -> Vec<u32> {
    SCRATCH.with_borrow(|s| {
        vec![
            address(s.output.as_ptr()),
            u32::try_from(s.output.len()).unwrap_or(0),
        ]
    })
}

/// The module's memory, for views over the scratch buffers.
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}
