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

pub mod codes;
pub mod config;
pub mod contract;
#[cfg(any(feature = "classify", feature = "simulation"))]
pub mod registry;
pub mod rules;
#[cfg(feature = "simulation")]
pub mod simulation;
pub mod verify;
pub mod wire;

pub use config::{Config, Preset};
pub use contract::action::{ActionClass, ActionKind};
pub use contract::decision::{Decision, Effect, Outcome, Reason};
pub use contract::error::InputError;
pub use contract::factor::{Factor, FactorSet};
pub use contract::request::Request;
pub use rules::authorize::{AuthorizeInput, Presented, Secrets, TotpSecret};
pub use rules::policy::Policy;

/// The README's example, compiled and run with the doc tests so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
