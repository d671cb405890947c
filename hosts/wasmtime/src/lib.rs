//! # stepup-wasmtime
//!
//! Runs the stepup policy component (`wit/stepup.wit`) under wasmtime, deciding exactly as the
//! native engine does. The component is compiled once (or loaded from a `.cwasm` cache), linked
//! and type-checked once (`InstancePre`), and each [`ComponentPolicy`] keeps a warm instance with
//! its configuration resident. Every call runs under a memory cap and an epoch deadline; a guest
//! that traps, loops or exhausts memory is reported as [`HostError::Trap`] and replaced by a fresh
//! instance on the next call, so the host keeps serving.

mod convert;
mod runtime;

pub mod conformance;

pub use runtime::{ComponentPolicy, HostError, Limits, Runtime, component_imports, document};

/// The stepup component built with this crate (`bindings/component`), WASI-free.
pub const COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/stepup_component.wasm"));

/// A hostile stand-in implementing the same world (loops, grows memory or traps on demand),
/// for tests that prove the limits hold. Built in the stepup workspace only.
#[cfg(feature = "test-fixtures")]
#[doc(hidden)]
pub const HOSTILE_FIXTURE: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/stepup_hostile_guest.wasm"));

/// Generated host bindings for the `stepup` world.
pub(crate) mod bindings {
    wasmtime::component::bindgen!({ path: "wit", world: "stepup" });
}

/// The README's example, compiled and run with the doc tests so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
