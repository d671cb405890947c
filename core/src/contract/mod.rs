//! The vocabulary every host speaks: the request (SPEC §2), the decision (SPEC §3), their
//! parts, and the one input error. These types are the contract: the JSON Schemas, the
//! TypeScript types and the packed codec's field tables are generated from them
//! (`stepup-contract`), and the WIT is checked against them.

pub mod action;
pub mod cidr;
pub mod decision;
pub mod error;
pub mod factor;
pub mod request;
#[cfg(feature = "schema")]
pub mod schema;
pub mod time;
