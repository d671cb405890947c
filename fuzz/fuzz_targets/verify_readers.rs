//! The readers of what authenticators and CI providers send: CBOR (WebAuthn attestation
//! objects and COSE keys) and compact JWS (OIDC ID tokens). No input panics; a CBOR item that
//! decodes whole decodes again to the same item; a token signed by no key of the set is never
//! verified.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepup_core::cbor;
use stepup_core::oidc::jwt::{self, Jwks};

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
        // Fuzzed bytes cannot carry a signature by these keys (the private keys are not here).
        assert!(jwt::verify(text, &jwks).is_err());
    }
});
