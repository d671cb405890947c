//! Helpers shared by the integration tests.

use serde_json::{Map, Value};

/// Reverses the key order of every object, recursively (decisions must not depend on it).
pub fn reversed(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .rev()
                .map(|(k, v)| (k.clone(), reversed(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(reversed).collect()),
        other => other.clone(),
    }
}

pub mod packed;
