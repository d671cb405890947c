//! Reading files and configurations.

use stepup_core::{InputError, Policy};

use crate::Failure;

/// Reads a UTF-8 file.
pub fn read(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::Io(format!("cannot read {path}: {e}")))
}

/// A configuration file as JSON text: TOML (by extension) is converted, JSON is passed through.
pub fn config_json(path: &str) -> Result<String, Failure> {
    stepup_server::engine::config_text(std::path::Path::new(path)).map_err(Failure::Input)
}

/// Loads a configuration (JSON, or TOML by extension) into a policy; `None` = the default preset.
pub fn load_policy(path: Option<&str>) -> Result<Policy, Failure> {
    let Some(path) = path else {
        return Ok(Policy::default());
    };
    Policy::from_json(&config_json(path)?)
        .map_err(|e: InputError| Failure::Input(format!("{path}: {e}")))
}

/// `stepup config check`: a line of text, or with `json` one document; exit 2 when invalid.
pub fn check_config(file: &str, json: bool) -> Result<(), Failure> {
    let policy = match load_policy(Some(file)) {
        Ok(p) => p,
        Err(Failure::Input(message)) if json => {
            print_json(&serde_json::json!({"file": file, "valid": false, "error": message}))?;
            return Err(Failure::Exit(2));
        }
        Err(e) => return Err(e),
    };
    let c = policy.config();
    if json {
        return print_json(&serde_json::json!({
            "file": file,
            "valid": true,
            "preset": c.preset.as_str(),
            "cohorts": c.cohorts.len(),
            "login_verification_stages": c.login_verification.stages.len(),
        }));
    }
    println!(
        "{file}: valid ({} preset, {} cohorts, {} login-verification stages)",
        c.preset.as_str(),
        c.cohorts.len(),
        c.login_verification.stages.len()
    );
    Ok(())
}

/// Prints a value as pretty JSON.
pub fn print_json<T: serde::Serialize>(v: &T) -> Result<(), Failure> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Failure::Io(e.to_string()))?;
    println!("{s}");
    Ok(())
}

/// Prints the JSON result of an ffi call, or reports its input error.
pub fn ffi_out(r: Result<String, InputError>) -> Result<(), Failure> {
    let text = r.map_err(|e| Failure::Input(e.to_string()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Failure::Io(e.to_string()))?;
    print_json(&v)
}
