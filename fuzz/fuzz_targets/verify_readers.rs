//! The readers of what authenticators and CI providers send: CBOR (WebAuthn attestation
//! objects and COSE keys) and compact JWS (OIDC ID tokens). No input panics; a CBOR item that
//! decodes whole decodes again to the same item; a token that verifies is bound to its bytes:
//! the same claims written differently (the seeds include the corpus's genuinely signed
//! tokens) never verify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepup_core::verify::cbor;
use stepup_core::verify::oidc::jwt::{self, Jwks};
use stepup_core::wire::encoding::{b64url_decode, b64url_encode};

/// The provider keys of the conformance corpus (RSA and P-256), so the verifier reaches its
/// signature checks.
const JWKS: &str = include_str!("jwks.json");

fuzz_target!(|data: &[u8]| {
    if let Ok(item) = cbor::decode_all(data) {
        let (again, rest) = cbor::decode(data).expect("decodes once, decodes twice");
        assert!(rest.is_empty());
        assert_eq!(format!("{item:?}"), format!("{again:?}"));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let jwks: Jwks = serde_json::from_str(JWKS).expect("fixed key set");
        if jwt::verify(text, &jwks).is_ok() {
            let mut parts = text.split('.');
            let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
                panic!("a verified token has three parts");
            };
            let mut payload = b64url_decode(p).expect("a verified payload decodes");
            payload.push(b' ');
            let forged = format!("{h}.{}.{s}", b64url_encode(&payload));
            assert!(
                jwt::verify(&forged, &jwks).is_err(),
                "re-encoded claims verified: {forged}"
            );
        }
    }
});
