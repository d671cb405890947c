//! What crosses a boundary: JSON documents with field-path errors, the JSON-shaped entry points
//! every binding wraps (`ffi`), the packed form JS hosts use on the hot path, npm request
//! classification (SPEC §9), and the text encodings of secrets.

#[cfg(feature = "classify")]
pub mod classify;
pub mod encoding;
pub mod expectation;
pub mod ffi;
pub mod json;
pub mod packed;
