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

/// How `stepup decide` reads and prints.
pub struct DecideOptions {
    /// Pretty-print decisions.
    pub pretty: bool,
    /// One document per line.
    pub lines: bool,
    /// Unix seconds for documents without `now` (default: the clock).
    pub now: Option<u64>,
}

/// What one input decided, strictest last: the exit code's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Allow,
    Challenge,
    Deny,
    Invalid,
}

impl Verdict {
    fn of(outcome: Option<&str>) -> Verdict {
        match outcome {
            Some("allow") => Verdict::Allow,
            Some("challenge") => Verdict::Challenge,
            Some("deny") => Verdict::Deny,
            _ => Verdict::Invalid,
        }
    }

    /// The documented exit codes: 0 allow, 3 challenge, 4 deny, 2 invalid input.
    fn code(self) -> u8 {
        match self {
            Verdict::Allow => 0,
            Verdict::Challenge => 3,
            Verdict::Deny => 4,
            Verdict::Invalid => 2,
        }
    }
}

/// `stepup decide`: one decision per document; `{request, secrets, present}` documents are
/// authorized. A document without `now` is decided at `--now`, or now. The exit code says the
/// strictest outcome (see [`Verdict::code`]); JSON syntax errors are reported with their line
/// and column on standard error, beside the engine's error document.
pub fn decide(
    config: Option<&str>,
    kind: EngineKind,
    opts: &DecideOptions,
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
    let mut worst = Verdict::Allow;
    let named = files_in.len() > 1;
    let now = match opts.now {
        Some(t) => t,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    for path in files_in {
        let text = if path == "-" {
            let mut t = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
                .map_err(|e| Failure::Io(format!("cannot read standard input: {e}")))?;
            t
        } else {
            files::read(path)?
        };
        let docs: Vec<(usize, &str)> = if opts.lines {
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| (i + 1, l))
                .collect()
        } else {
            vec![(1, text.as_str())]
        };
        for (line, doc) in docs {
            let (input, authorize) = match serde_json::from_str::<serde_json::Value>(doc) {
                Ok(mut v) => {
                    let authorize = v.get("request").is_some();
                    let request = if authorize {
                        v.get_mut("request")
                    } else {
                        Some(&mut v)
                    };
                    if let Some(serde_json::Value::Object(r)) = request
                        && !r.contains_key("now")
                    {
                        r.insert("now".into(), now.into());
                    }
                    (v.to_string(), authorize)
                }
                Err(e) => {
                    let at = if opts.lines { line } else { e.line() };
                    let text = e.to_string();
                    let what = text
                        .rsplit_once(" at line ")
                        .map_or(text.as_str(), |(w, _)| w);
                    eprintln!("stepup: {path}:{at}:{}: {what}", e.column());
                    (doc.to_owned(), false)
                }
            };
            let out = engine
                .decide(&config_text, authorize, &input)
                .map_err(Failure::Io)?;
            let v: serde_json::Value =
                serde_json::from_str(&out).map_err(|e| Failure::Io(e.to_string()))?;
            worst = worst.max(Verdict::of(v.get("outcome").and_then(|o| o.as_str())));
            let shown = if opts.pretty {
                serde_json::to_string_pretty(&v).unwrap_or(out)
            } else {
                out
            };
            if named {
                println!("{path}: {shown}");
            } else {
                println!("{shown}");
            }
        }
    }
    match worst {
        Verdict::Allow => Ok(()),
        other => Err(Failure::Exit(other.code())),
    }
}
