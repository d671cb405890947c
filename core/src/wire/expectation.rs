//! What a conformance case's `expect` means (SPEC §7): the comparison of a decision document
//! with an expectation. It is in the engine, not only in the test harness, because every host
//! exposes it (`compareExpectation` in JS, `compare-expectation` in the component), so a case
//! means the same thing in every runner.

use serde_json::Value;

/// Compares a decision document with a case's `expect`; returns one line per difference.
pub fn compare(expect: &Value, decision: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(exp) = expect.as_object() else {
        return vec!["expect must be an object".to_owned()];
    };
    fn check(out: &mut Vec<String>, what: &str, want: &Value, got: Option<&Value>) {
        let got = got.unwrap_or(&Value::Null);
        if want != got {
            out.push(format!("{what}: expected {want}, got {got}"));
        }
    }
    for (key, want) in exp {
        match key.as_str() {
            "outcome" | "reason" | "rule" | "retry_after" | "drift_seconds"
            | "webauthn_problem" | "result" | "problem" => {
                check(&mut out, key, want, decision.get(key))
            }
            "match" => partial(&mut out, "", want, decision),
            "npm_status" => check(&mut out, key, want, decision.pointer("/npm/status")),
            "npm_www_authenticate" => check(
                &mut out,
                key,
                want,
                decision.pointer("/npm/www_authenticate"),
            ),
            "error_path" => check(&mut out, key, want, decision.pointer("/error/path")),
            "challenge" => match want.get("factors") {
                Some(f) => check(
                    &mut out,
                    "challenge.factors",
                    f,
                    decision.pointer("/challenge/factors"),
                ),
                None => check(&mut out, "challenge", want, decision.get("challenge")),
            },
            "message_contains" => {
                let msg = decision
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !want.as_str().is_some_and(|w| msg.contains(w)) {
                    out.push(format!("message: expected to contain {want}, got {msg:?}"));
                }
            }
            "effects" => {
                let got = decision
                    .get("effects")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for e in want.as_array().into_iter().flatten() {
                    if !got.contains(e) {
                        out.push(format!(
                            "effects: expected {e} among {}",
                            Value::Array(got.clone())
                        ));
                    }
                }
            }
            "effects_exact" => check(&mut out, "effects", want, decision.get("effects")),
            other => out.push(format!("unknown expect key {other:?}")),
        }
    }
    out
}

/// Every key of `want` must be in `got` with a matching value: objects are compared key by
/// key (extra keys in `got` are fine), anything else exactly.
fn partial(out: &mut Vec<String>, path: &str, want: &Value, got: &Value) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                partial(out, &p, wv, g.get(k).unwrap_or(&Value::Null));
            }
        }
        _ if want == got => {}
        _ => out.push(format!("{path}: expected {want}, got {got}")),
    }
}
