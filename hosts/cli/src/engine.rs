//! Engine selection and `stepup decide`.

use stepup_conformance::{CaseEngine, NativeEngine};
use stepup_core::Policy;

use crate::{EngineKind, Failure, files};

/// Builds the engine the flag names.
pub fn make(kind: EngineKind) -> Result<Box<dyn CaseEngine>, Failure> {
    match kind {
        EngineKind::Native => Ok(Box::new(NativeEngine::default())),
        EngineKind::Component => Ok(Box::new(
            stepup_wasmtime::conformance::ComponentEngine::new(runtime()?),
        )),
    }
}

/// The wasmtime runtime, its compiled component cached under `STEPUP_CWASM_CACHE` (default: a
/// folder in the temp dir).
fn runtime() -> Result<stepup_wasmtime::Runtime, Failure> {
    let cache = std::env::var_os("STEPUP_CWASM_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("stepup-cwasm"));
    stepup_wasmtime::Runtime::with(
        stepup_wasmtime::COMPONENT,
        Some(&cache),
        stepup_wasmtime::Limits::default(),
    )
    .map_err(|e| Failure::Io(e.to_string()))
}

/// A warm component policy with `config_json` resident.
pub fn component_policy(config_json: &str) -> Result<stepup_wasmtime::ComponentPolicy, Failure> {
    runtime()?
        .policy(config_json)
        .map_err(|e| Failure::Io(e.to_string()))
}

/// `stepup decide`: one decision per file; `{request, secrets, present}` documents are
/// authorized. Exits 2 if any input was invalid.
pub fn decide(
    config: Option<&str>,
    kind: EngineKind,
    pretty: bool,
    files_in: &[String],
) -> Result<(), Failure> {
    let config_text = match config {
        Some(path) => {
            let text = files::config_json(path)?;
            // Validate up front so a bad config is one clear error, not one per request.
            Policy::from_json(&text).map_err(|e| Failure::Input(format!("{path}: {e}")))?;
            text
        }
        None => "{}".to_owned(),
    };
    let mut engine = make(kind)?;
    let mut invalid = false;
    for path in files_in {
        let text = files::read(path)?;
        let authorize = serde_json::from_str::<serde_json::Value>(&text)
            .is_ok_and(|v| v.get("request").is_some());
        let out = engine
            .decide(&config_text, authorize, &text)
            .map_err(Failure::Io)?;
        let v: serde_json::Value =
            serde_json::from_str(&out).map_err(|e| Failure::Io(e.to_string()))?;
        invalid |= v.get("outcome").and_then(|o| o.as_str()) == Some("error");
        let shown = if pretty {
            serde_json::to_string_pretty(&v).unwrap_or(out)
        } else {
            out
        };
        if files_in.len() > 1 {
            println!("{path}: {shown}");
        } else {
            println!("{shown}");
        }
    }
    if invalid {
        Err(Failure::Input(
            "some requests were invalid (see their error documents)".into(),
        ))
    } else {
        Ok(())
    }
}
