//! `stepup serve --settings FILE`: the server's own settings in TOML, keyed by flag name or its
//! plural (`listen = "0.0.0.0:8787"`, `trusted-proxies = ["10.0.0.0/8"]`, `init-store = true`;
//! `_` for `-` too). The file
//! fills in what the command line and the environment left unset: command line, then `STEPUP_`
//! variables, then the file, then the defaults. (`--config` stays the policy file.) The file's
//! values become arguments that clap parses like typed ones, so each is validated the same way;
//! an unknown key or a value of the wrong kind is refused naming the key.

use std::ffi::OsString;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args};

use crate::ServeOptions;
use crate::error::ServeError;

/// The arguments `file` adds to `serve`'s: one `--flag value` per setting the command line and
/// the environment (`matches`) left at its default.
pub fn arguments(file: &Path, matches: &ArgMatches) -> Result<Vec<OsString>, ServeError> {
    let bad = |what: String| ServeError::Io(format!("--settings {}: {what}", file.display()));
    let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let table: toml::Table = text.parse().map_err(|e| bad(format!("{e}")))?;
    let command = ServeOptions::augment_args(clap::Command::new("serve"));
    let mut out = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        let Some(arg) = command
            .get_arguments()
            .find(|a| {
                a.get_long() == Some(long.as_str()) || a.get_id().as_str().replace('_', "-") == long
            })
            .filter(|a| {
                !matches!(
                    a.get_long(),
                    Some("settings" | "print-config" | "precompile")
                )
            })
        else {
            return Err(bad(format!("`{key}` is not a setting of stepup serve")));
        };
        let id = arg.get_id().as_str();
        if !matches!(
            matches.value_source(id),
            None | Some(ValueSource::DefaultValue)
        ) {
            // Given on the command line or in the environment: that wins.
            continue;
        }
        let scalar = |v: &toml::Value| match v {
            toml::Value::String(s) => Ok(s.clone()),
            toml::Value::Integer(i) => Ok(i.to_string()),
            toml::Value::Float(f) => Ok(f.to_string()),
            other => Err(bad(format!(
                "`{key}`: expected a string or a number, found {}",
                other.type_str()
            ))),
        };
        let flag = format!("--{}", arg.get_long().unwrap_or(&long));
        match (arg.get_action(), value) {
            (ArgAction::SetTrue, toml::Value::Boolean(on)) => {
                if *on {
                    out.push(flag.into());
                }
            }
            (ArgAction::SetTrue, other) => {
                return Err(bad(format!(
                    "`{key}`: expected true or false, found {}",
                    other.type_str()
                )));
            }
            (ArgAction::Append, toml::Value::Array(items)) => {
                for item in items {
                    out.push(flag.clone().into());
                    out.push(scalar(item)?.into());
                }
            }
            (_, v) => {
                out.push(flag.into());
                out.push(scalar(v)?.into());
            }
        }
    }
    Ok(out)
}
