//! Codes a person types: TOTP (verification, generation, enrolment), single-use recovery and
//! emailed codes (issued, stored as salted hashes, compared in constant time), the entropy
//! they are issued from, and QR codes for enrolment.

pub(crate) mod entropy;
pub mod qr;
pub mod single_use;
pub mod totp;
