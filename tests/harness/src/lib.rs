//! The conformance harness (SPEC §7): loading vector files, running each case through any
//! engine (native, the wasmtime component, ...), and comparing the decision with the case's
//! expectation by the engine's own comparison (`stepup_core::wire::expectation`), so a case
//! means the same thing in every runner. A crate of its own, as Cedar's test harness is, so
//! the engine carries no runner.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use stepup_core::contract::decision::error_json;
use stepup_core::wire::expectation::compare;
use stepup_core::wire::ffi;
use stepup_core::{InputError, Policy};

/// One case of a vector file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub name: String,
    /// Configuration document; absent = `{}` (the default preset).
    #[serde(default)]
    pub config: Option<Value>,
    /// The request (evaluate and authorize cases).
    #[serde(default)]
    pub request: Value,
    /// Another entry point by name (`webauthn-register`, `oidc-exchange`, ...): the case
    /// passes `input` to it and compares its result document.
    #[serde(default)]
    pub call: Option<String>,
    /// The input document of a `call` case.
    #[serde(default)]
    pub input: Option<Value>,
    /// Secret state: makes it an authorize case.
    #[serde(default)]
    pub secrets: Option<Value>,
    /// Presented code: makes it an authorize case.
    #[serde(default)]
    pub present: Option<Value>,
    /// What the decision must show.
    pub expect: Value,
}

impl Case {
    /// Whether the case runs through authorize.
    pub fn is_authorize(&self) -> bool {
        self.secrets.is_some() || self.present.is_some()
    }

    /// The configuration text to build a policy from.
    pub fn config_text(&self) -> String {
        self.config
            .as_ref()
            .map_or_else(|| "{}".to_owned(), Value::to_string)
    }

    /// The evaluate request, the authorize document or the call input, as JSON text.
    pub fn input_text(&self) -> String {
        if self.call.is_some() {
            self.input.as_ref().unwrap_or(&Value::Null).to_string()
        } else if self.is_authorize() {
            let mut m = Map::new();
            m.insert("request".into(), self.request.clone());
            if let Some(s) = &self.secrets {
                m.insert("secrets".into(), s.clone());
            }
            if let Some(p) = &self.present {
                m.insert("present".into(), p.clone());
            }
            Value::Object(m).to_string()
        } else {
            self.request.to_string()
        }
    }
}

/// Parses a vector file (a JSON array of cases).
pub fn load_cases(text: &str) -> Result<Vec<Case>, InputError> {
    serde_json::from_str::<Vec<Value>>(text)
        .map_err(|e| InputError::new(".", e.to_string()))?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            stepup_core::wire::json::from_value::<Case>(v).map_err(|e| e.within(&format!("[{i}]")))
        })
        .collect()
}

/// The error document for a configuration that fails to load: its path is prefixed `config.`.
pub fn config_error_json(e: &InputError) -> String {
    error_json(&e.clone().within("config"))
}

/// Something that turns a configuration and an input into decision JSON: the native engine,
/// the wasmtime component, ...
pub trait CaseEngine {
    /// Evaluates (or authorizes) `input` under `config`; config errors come back as the
    /// `config.`-prefixed error document.
    fn decide(&mut self, config: &str, authorize: bool, input: &str) -> Result<String, String>;

    /// Calls the entry point `function` (see [`ffi::FUNCTIONS`]) under `config`.
    fn call(&mut self, config: &str, function: &str, input: &str) -> Result<String, String>;
}

/// The native engine, caching one policy per distinct configuration text.
#[derive(Default)]
pub struct NativeEngine {
    policies: HashMap<String, Result<Policy, InputError>>,
}

impl CaseEngine for NativeEngine {
    fn decide(&mut self, config: &str, authorize: bool, input: &str) -> Result<String, String> {
        let policy = self
            .policies
            .entry(config.to_owned())
            .or_insert_with(|| Policy::from_json(config));
        Ok(match policy {
            Ok(p) if authorize => p.authorize_json(input),
            Ok(p) => p.evaluate_json(input),
            Err(e) => config_error_json(e),
        })
    }

    fn call(&mut self, config: &str, function: &str, input: &str) -> Result<String, String> {
        let policy = self
            .policies
            .entry(config.to_owned())
            .or_insert_with(|| Policy::from_json(config));
        Ok(match policy {
            Ok(p) => ffi::call_json(p, function, input),
            Err(e) => config_error_json(e),
        })
    }
}

/// Runs one case; `Ok(())` when the decision matches, else the differences.
pub fn run_case(engine: &mut dyn CaseEngine, case: &Case) -> Result<(), Vec<String>> {
    let text = match &case.call {
        Some(f) => engine.call(&case.config_text(), f, &case.input_text()),
        None => engine.decide(&case.config_text(), case.is_authorize(), &case.input_text()),
    }
    .map_err(|e| vec![format!("engine failed: {e}")])?;
    let decision: Value = serde_json::from_str(&text)
        .map_err(|e| vec![format!("decision is not JSON ({e}): {text}")])?;
    let diffs = compare(&case.expect, &decision);
    if diffs.is_empty() { Ok(()) } else { Err(diffs) }
}

/// The decision JSON for a failed comparison, shortened for a report line.
pub fn summary(decision: &Value) -> Value {
    json!({
        "outcome": decision.get("outcome"),
        "reason": decision.get("reason"),
        "rule": decision.get("rule"),
    })
}

/// The README's example, compiled and run with the doc tests so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
