//! The packed request form (JS hosts): arbitrary bytes are refused or decode to a request that
//! decides; a decoded request decides exactly as its JSON-free typed form does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepup_core::Policy;

fuzz_target!(|data: &[u8]| {
    let policy = Policy::default();
    let mut out = vec![0u8; 1024];
    let n = stepup_core::ffi::evaluate_packed(&policy, data, &mut out);
    if let Some(req) = stepup_core::packed::decode_request(data) {
        let mut again = Vec::new();
        stepup_core::packed::encode_decision(&policy.evaluate(&req), &mut again);
        if n > 0 {
            assert_eq!(out.get(..n), Some(&again[..]));
        }
    } else {
        assert_eq!(n, 0);
    }
});
