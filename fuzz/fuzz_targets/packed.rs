//! The packed request form (JS hosts): arbitrary bytes are refused or decode to a request that
//! decides; a decoded request decides exactly as its JSON-free typed form does; and deciding
//! through buffers kept from every earlier input (as the hosts do) answers as fresh buffers do.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use stepup_core::Policy;
use stepup_core::wire::packed::Scratch;

thread_local! {
    static KEPT: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fuzz_target!(|data: &[u8]| {
    let policy = Policy::default();
    let mut out = vec![0u8; 1024];
    let n = stepup_core::wire::ffi::evaluate_packed(&policy, data, &mut out);
    let mut kept_out = vec![0u8; 1024];
    let kept_n = KEPT.with_borrow_mut(|kept| {
        stepup_core::wire::ffi::evaluate_packed_in(&policy, kept, data, &mut kept_out)
    });
    assert_eq!(out.get(..n), kept_out.get(..kept_n));
    if let Some(req) = stepup_core::wire::packed::decode_request(data) {
        let mut again = Vec::new();
        stepup_core::wire::packed::encode_decision(&policy.evaluate(&req), &mut again);
        if n > 0 {
            assert_eq!(out.get(..n), Some(&again[..]));
        }
    } else {
        assert_eq!(n, 0);
    }
});
