//! The packed request form (JS hosts): arbitrary bytes are refused or decode to a request that
//! decides; a decoded request decides exactly as its JSON-free typed form does; and deciding
//! through buffers kept from every earlier input (as the hosts do) answers as fresh buffers do.
//! `authorize`'s packed path, on the same bytes with a TOTP state, answers as the typed call, and
//! its one-buffer form (request, then the state) answers as the state passed beside it.
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
    // The code presented: six digits made from the input's first bytes.
    let code: String = data
        .iter()
        .take(6)
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    let state = stepup_core::wire::packed::TotpAuthorize {
        totp_secret: Some("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
        last_totp_step: data.first().map(|b| f64::from(*b)),
        code: Some(&code),
        factor: None,
    };
    let mut auth_out = vec![0u8; 1024];
    let auth_n = KEPT.with_borrow_mut(|kept| {
        stepup_core::wire::packed::authorize_in(&policy, kept, data, state, &mut auth_out)
    });
    match stepup_core::wire::packed::decode_request(data) {
        Some(req) => {
            let secrets = stepup_core::Secrets {
                totp_secret: stepup_core::TotpSecret::from_base32(
                    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
                ),
                last_totp_step: data
                    .first()
                    .map(|b| stepup_core::contract::time::Count(u64::from(*b))),
                ..stepup_core::Secrets::default()
            };
            let present = stepup_core::Presented::new(None, code.clone()).ok();
            if let Ok(d) = policy.authorize(&req, &secrets, present.as_ref()) {
                let mut again = Vec::new();
                stepup_core::wire::packed::encode_decision(&d, &mut again);
                if auth_n > 0 {
                    assert_eq!(auth_out.get(..auth_n), Some(&again[..]));
                }
            } else {
                assert_eq!(auth_n, 0);
            }
        }
        None => assert_eq!(auth_n, 0),
    }
    // The one-buffer form: the request, then the state as an object of its own. Split where the
    // last byte says; it answers as the state read from the rest, passed beside the request.
    let split = data.last().map_or(0, |b| usize::from(*b) * data.len() / 256);
    let mut split_out = vec![0u8; 1024];
    let split_n = KEPT.with_borrow_mut(|kept| {
        stepup_core::wire::ffi::authorize_packed_in(&policy, kept, data, split, &mut split_out)
    });
    match stepup_core::wire::packed::decode_totp_authorize(&data[split..]) {
        Some(state) => {
            let mut beside = vec![0u8; 1024];
            let n = stepup_core::wire::packed::authorize_in(
                &policy,
                &mut Scratch::default(),
                &data[..split],
                state,
                &mut beside,
            );
            assert_eq!(split_out.get(..split_n), beside.get(..n));
        }
        None => assert_eq!(split_n, 0),
    }
});
