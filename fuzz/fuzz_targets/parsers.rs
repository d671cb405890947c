//! The small parsers: CIDR, base32, a TOTP secret. No panic; what parses prints back and
//! parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepup_core::contract::cidr::Cidr;
use stepup_core::wire::encoding::{base32_decode, base32_encode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(c) = Cidr::parse(text) {
        assert_eq!(Cidr::parse(&c.to_string()), Some(c));
    }
    if let Some(bytes) = base32_decode(text) {
        assert_eq!(base32_decode(&base32_encode(&bytes)), Some(bytes));
    }
    let _ = stepup_core::TotpSecret::from_base32(text);
});
