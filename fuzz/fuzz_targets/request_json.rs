//! Request JSON → evaluate: any text is a decision or an error document, never a panic; an
//! error names a field path; a decision serializes and parses back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepup_core::{Policy, Request};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let policy = Policy::default();
    let out = policy.evaluate_json(text);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("every answer is JSON");
    match Request::parse(text) {
        Ok(req) => {
            // The typed path decides exactly as the JSON path.
            assert_eq!(policy.evaluate(&req).to_json(), out);
        }
        Err(e) => {
            assert!(!e.path.is_empty(), "an error without a field path: {e}");
            assert_eq!(doc["outcome"], "error");
        }
    }
});
