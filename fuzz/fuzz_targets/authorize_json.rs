//! `{request, secrets, present}` → authorize with arbitrary codes and secrets: an answer,
//! never a panic; a code is never accepted for a step at or before the last accepted one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepup_core::{AuthorizeInput, Effect, Policy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let policy = Policy::default();
    let out = policy.authorize_json(text);
    assert!(out.starts_with('{'));
    if let Ok(input) = AuthorizeInput::parse(text) {
        if let Ok(d) = policy.authorize(&input.request, &input.secrets, input.present.as_ref()) {
            for e in &d.effects {
                if let (Effect::ConsumeTotpStep { step }, Some(last)) =
                    (e, input.secrets.last_totp_step)
                {
                    assert!(
                        *step > last.0,
                        "replayed step {step} accepted after {}",
                        last.0
                    );
                }
            }
        }
    }
});
