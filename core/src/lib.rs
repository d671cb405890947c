//! # stepup-core
//!
//! The rules that decide when a package-registry account must prove a second factor, written
//! once and run identically in every host (wasmtime component, Node addon, browser).
//!
//! The engine is pure: no clock, no random source, no I/O. Time and entropy come in as
//! arguments; state changes come out as [`Effect`]s for the host to apply. A [`Policy`] is built
//! once from a configuration and kept resident, so a decision pays only for its request.
//!
//! ```
//! use stepup_core::{Policy, Request};
//! let policy = Policy::from_json(r#"{"preset":"npmjs-2026"}"#).unwrap();
//! let req = Request::parse(r#"{"now":1767225600,"action":{"kind":"package.publish","package":"left-pad"},
//!   "account":{"id":"alice","tfa":{"mode":"auth-and-writes","factors":["totp"]}},
//!   "credential":{"kind":"session"}}"#).unwrap();
//! let d = policy.evaluate(&req);
//! assert_eq!(d.reason.as_str(), "otp-required");
//! assert_eq!(d.npm.status, 401);
//! ```

pub mod action;
pub mod authorize;
pub mod cbor;
pub mod cidr;
pub mod classify;
pub mod codes;
pub mod config;
pub mod conformance;
pub mod decision;
pub mod encoding;
pub mod entropy;
pub mod error;
pub mod factor;
pub mod ffi;
pub mod json;
pub mod messages;
pub mod oidc;
pub mod org;
pub mod packed;
pub mod policy;
pub mod qr;
pub mod request;
pub mod rollout;
mod rules;
#[cfg(feature = "schema")]
pub mod schema;
pub mod sig;
pub mod throttle;
pub mod time;
pub mod token_form;
pub mod totp;
pub mod webauthn;

pub use action::{ActionClass, ActionKind};
pub use authorize::{AuthorizeInput, Presented, Secrets, TotpSecret};
pub use config::{Config, Preset};
pub use decision::{Decision, Effect, Outcome, Reason};
pub use error::InputError;
pub use factor::{Factor, FactorSet};
pub use policy::Policy;
pub use request::Request;
