//! Config JSON or TOML-free text → policy: refused with a path, or a policy that decides.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepup_core::Policy;

const REQUEST: &str = r#"{"now":1780315200,"action":{"kind":"package.publish","package":"p"},"account":{"id":"a","tfa":{"mode":"auth-and-writes","factors":["totp"]}},"credential":{"kind":"session"}}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_json(text) {
        Ok(policy) => {
            let out = policy.evaluate_json(REQUEST);
            assert!(out.starts_with('{'));
        }
        Err(e) => assert!(!e.path.is_empty(), "an error without a field path: {e}"),
    }
});
