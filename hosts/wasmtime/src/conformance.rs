//! The conformance corpus through the component: every case goes through the JSON entry point
//! (the component parses and decides), and every case whose input is valid also goes through
//! the typed entry point, which must give the same bytes.

use std::collections::HashMap;

use stepup_conformance::{CaseEngine, config_error_json};
use stepup_core::contract::decision::error_json;
use stepup_core::{AuthorizeInput, Request};

use crate::{ComponentPolicy, HostError, Runtime};

/// What one configuration gave: a warm policy, the config's error document, or a broken setup.
enum Entry {
    Ready(Box<ComponentPolicy>),
    InvalidConfig(String),
    Broken(String),
}

/// A [`CaseEngine`] backed by the wasmtime-hosted component.
pub struct ComponentEngine {
    runtime: Runtime,
    policies: HashMap<String, Entry>,
}

impl ComponentEngine {
    /// Uses `runtime` for every case.
    pub fn new(runtime: Runtime) -> Self {
        ComponentEngine {
            runtime,
            policies: HashMap::new(),
        }
    }
}

fn typed_json(r: Result<stepup_core::Decision, HostError>) -> Result<String, String> {
    match r {
        Ok(d) => Ok(d.to_json()),
        Err(HostError::Input(e)) => Ok(error_json(&e)),
        Err(e) => Err(e.to_string()),
    }
}

impl ComponentEngine {
    fn entry(&mut self, config: &str) -> Result<Result<&mut ComponentPolicy, String>, String> {
        let runtime = &self.runtime;
        let entry = self.policies.entry(config.to_owned()).or_insert_with(|| {
            match runtime.policy(config) {
                Ok(p) => Entry::Ready(Box::new(p)),
                Err(HostError::Input(e)) => Entry::InvalidConfig(config_error_json(&e)),
                Err(e) => Entry::Broken(e.to_string()),
            }
        });
        match entry {
            Entry::Ready(p) => Ok(Ok(p)),
            Entry::InvalidConfig(doc) => Ok(Err(doc.clone())),
            Entry::Broken(e) => Err(e.clone()),
        }
    }
}

impl CaseEngine for ComponentEngine {
    fn call(&mut self, config: &str, function: &str, input: &str) -> Result<String, String> {
        match self.entry(config)? {
            Ok(p) => crate::document(p.call_json(function, input)).map_err(|e| e.to_string()),
            Err(doc) => Ok(doc),
        }
    }

    fn decide(&mut self, config: &str, authorize: bool, input: &str) -> Result<String, String> {
        let policy = match self.entry(config)? {
            Ok(p) => p,
            Err(doc) => return Ok(doc),
        };
        let via_json = crate::document(if authorize {
            policy.authorize_json(input)
        } else {
            policy.evaluate_json(input)
        })
        .map_err(|e| e.to_string())?;
        // Same case through the typed records, when the input is valid enough to build them.
        let via_typed = if authorize {
            AuthorizeInput::parse(input)
                .ok()
                .map(|i| typed_json(policy.authorize(&i.request, &i.secrets, i.present.as_ref())))
        } else {
            Request::parse(input)
                .ok()
                .map(|r| typed_json(policy.evaluate(&r)))
        };
        match via_typed {
            Some(Ok(t)) if t != via_json => Err(format!(
                "typed and JSON entry points disagree:\n      json:  {via_json}\n      typed: {t}"
            )),
            Some(Err(e)) => Err(e),
            _ => Ok(via_json),
        }
    }
}
