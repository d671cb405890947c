//! The stepup engine as a WebAssembly component: `wit/stepup.wit` on the outside,
//! `stepup-core` on the inside. This crate converts types and nothing else.

mod convert;

wit_bindgen::generate!({ path: "../../wit", world: "stepup" });

use exports::stepup::policy::engine::{Guest, GuestPolicy, Policy as PolicyHandle};
use exports::stepup::policy::types as w;
use stepup_core::Policy;
use stepup_core::codes::{single_use, totp};
use stepup_core::wire::ffi;

use convert::err;

/// The component's export table.
pub struct Component;

impl Guest for Component {
    type Policy = Resident;
}

/// A policy kept resident inside the component instance.
pub struct Resident(Policy);

impl GuestPolicy for Resident {
    fn create(config_json: String) -> Result<PolicyHandle, w::InputError> {
        Policy::from_json(&config_json)
            .map(|p| PolicyHandle::new(Resident(p)))
            .map_err(err)
    }

    fn evaluate(&self, req: w::Request) -> Result<w::Decision, w::InputError> {
        let req = convert::request(req).map_err(err)?;
        Ok(convert::decision(self.0.evaluate(&req)))
    }

    fn authorize(
        &self,
        req: w::Request,
        secrets: w::Secrets,
        present: Option<w::Presented>,
    ) -> Result<w::Decision, w::InputError> {
        let req = convert::request(req).map_err(|e| err(e.within("request")))?;
        let secrets = convert::secrets(secrets).map_err(err)?;
        let present = present.map(convert::presented).transpose().map_err(err)?;
        self.0
            .authorize(&req, &secrets, present.as_ref())
            .map(convert::decision)
            .map_err(err)
    }

    fn evaluate_json(&self, request_json: String) -> Result<String, w::InputError> {
        ffi::call(&self.0, "evaluate", &request_json).map_err(err)
    }

    fn authorize_json(&self, input_json: String) -> Result<String, w::InputError> {
        ffi::call(&self.0, "authorize", &input_json).map_err(err)
    }

    fn enroll_totp(
        &self,
        issuer: String,
        account: String,
        entropy: Vec<u8>,
    ) -> Result<w::TotpEnrollment, w::InputError> {
        let e = totp::enroll(&self.0.config().totp, &issuer, &account, &entropy).map_err(err)?;
        Ok(w::TotpEnrollment {
            secret: e.secret.clone(),
            otpauth_uri: e.otpauth_uri.clone(),
            qr_svg: e.qr_svg.clone(),
        })
    }

    fn issue_recovery_codes(
        &self,
        entropy: Vec<u8>,
    ) -> Result<w::IssuedRecoveryCodes, w::InputError> {
        let issued =
            single_use::issue_recovery_codes(self.0.config().recovery_codes.count, &entropy)
                .map_err(err)?;
        Ok(w::IssuedRecoveryCodes {
            codes: issued.codes.clone(),
            records: issued.records.iter().map(convert::code_record).collect(),
        })
    }

    fn issue_email_code(
        &self,
        entropy: Vec<u8>,
        now: u64,
    ) -> Result<w::IssuedEmailCode, w::InputError> {
        let issued = single_use::issue_email_code(&self.0.config().email_code, &entropy, now)
            .map_err(err)?;
        Ok(w::IssuedEmailCode {
            code: issued.code.clone(),
            record: convert::email_record(&issued.record),
        })
    }

    fn totp_code(&self, secret: Vec<u8>, now: u64) -> String {
        totp::generate(&self.0.config().totp, &secret, now)
    }

    fn config_json(&self) -> String {
        ffi::config_json(self.0.config())
    }

    fn verify_totp_json(&self, input_json: String) -> Result<String, w::InputError> {
        ffi::verify_totp_json(&self.0, &input_json).map_err(err)
    }

    fn token_form_json(&self, input_json: String) -> Result<String, w::InputError> {
        ffi::token_form_json(&self.0, &input_json).map_err(err)
    }

    fn call_json(&self, function: String, input_json: String) -> Result<String, w::InputError> {
        ffi::call(&self.0, &function, &input_json).map_err(err)
    }
}

export!(Component);
