//! Checking what others signed: WebAuthn ceremonies (with their CBOR and COSE readers),
//! trusted-publishing OIDC tokens, and the signature algorithms both accept.

pub mod cbor;
pub mod oidc;
pub(crate) mod sig;
pub mod webauthn;
