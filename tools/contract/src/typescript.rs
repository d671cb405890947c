//! TypeScript types from the JSON Schemas.
//!
//! Written here rather than with a schema-to-TypeScript package because the schemas say two
//! things such packages drop: a credential's fields per kind are `if`/`then` rules, which
//! become a discriminated union here, and a field that may be absent or `null` stays
//! `field?: T | null`, as the engine reads it. The subset of JSON Schema schemars writes is
//! small (objects, enums, consts, unions, arrays, references), and anything outside it is an
//! error, not a silent `unknown`.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{Map, Value};

/// Named types collected from several schemas, in first-seen order.
#[derive(Default)]
pub struct Types {
    order: Vec<String>,
    defs: BTreeMap<String, String>,
}

impl Types {
    /// Adds a document's `$defs` and its root under `root_name`.
    pub fn add(&mut self, schema: &Value, root_name: &str) -> Result<(), String> {
        let empty = Map::new();
        let defs = schema
            .get("$defs")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (name, def) in defs {
            self.define(name, def)?;
        }
        self.define(root_name, schema)
    }

    fn define(&mut self, name: &str, schema: &Value) -> Result<(), String> {
        let mut text = String::new();
        if let Some(d) = schema.get("description").and_then(Value::as_str) {
            doc(&mut text, d, "");
        }
        let body = ts(schema, "").map_err(|e| format!("{name}: {e}"))?;
        if body.starts_with('{')
            && schema.get("properties").is_some()
            && schema.get("allOf").is_none()
        {
            let _ = writeln!(text, "export interface {name} {body}");
        } else {
            let sep = if body.starts_with('\n') { "" } else { " " };
            let _ = writeln!(text, "export type {name} ={sep}{body};");
        }
        match self.defs.get(name) {
            Some(existing) if *existing != text => {
                Err(format!("two different types are both named {name}"))
            }
            Some(_) => Ok(()),
            None => {
                self.order.push(name.to_owned());
                self.defs.insert(name.to_owned(), text);
                Ok(())
            }
        }
    }

    /// The declarations, one per type, in the order first seen.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for name in &self.order {
            if let Some(text) = self.defs.get(name) {
                out.push_str(text);
                out.push('\n');
            }
        }
        out
    }
}

fn doc(out: &mut String, text: &str, indent: &str) {
    let text = text.replace("*/", "* /");
    if text.contains('\n') {
        let _ = writeln!(out, "{indent}/**");
        for line in text.lines() {
            let _ = writeln!(out, "{indent} * {line}");
        }
        let _ = writeln!(out, "{indent} */");
    } else {
        let _ = writeln!(out, "{indent}/** {text} */");
    }
}

fn literal(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(format!(
            "'{}'",
            s.replace('\\', "\\\\").replace('\'', "\\'")
        )),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Null => Ok("null".into()),
        _ => Err(format!("unsupported literal {v}")),
    }
}

fn union(parts: Vec<String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for p in parts {
        if !seen.contains(&p) {
            seen.push(p);
        }
    }
    seen.join(" | ")
}

/// The TypeScript for one schema node.
fn ts(s: &Value, indent: &str) -> Result<String, String> {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return r
            .strip_prefix("#/$defs/")
            .map(str::to_owned)
            .ok_or_else(|| format!("unsupported reference {r}"));
    }
    if let Some(c) = s.get("const") {
        return literal(c);
    }
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(literal)
            .collect::<Result<Vec<_>, _>>()
            .map(union);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(members) = s.get(key).and_then(Value::as_array)
            && s.get("properties").is_none()
        {
            let inner = format!("{indent}  ");
            let parts = members
                .iter()
                .map(|m| ts(m, &inner))
                .collect::<Result<Vec<_>, _>>()?;
            if parts.iter().any(|p| p.contains('\n')) {
                let sep = format!("\n{indent}  | ");
                return Ok(format!("{sep}{}", parts.join(&sep)));
            }
            return Ok(union(parts));
        }
    }
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        None if s.get("properties").is_some() => vec!["object"],
        _ => return Err(format!("no type in {s}")),
    };
    let mut parts = Vec::new();
    for t in types {
        parts.push(match t {
            "string" => "string".to_owned(),
            "integer" | "number" => "number".to_owned(),
            "boolean" => "boolean".to_owned(),
            "null" => "null".to_owned(),
            "array" => {
                let item = s
                    .get("items")
                    .ok_or("an array without items")
                    .and_then(|i| ts(i, indent).map_err(|_| "bad items"))?;
                if item.contains(' ') {
                    format!("Array<{item}>")
                } else {
                    format!("{item}[]")
                }
            }
            "object" => object(s, indent)?,
            other => return Err(format!("unsupported type {other}")),
        });
    }
    Ok(union(parts))
}

/// An object; with per-kind `if`/`then` rules, the union of its kinds.
fn object(s: &Value, indent: &str) -> Result<String, String> {
    let empty = Map::new();
    let props = s
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required: Vec<&str> = s
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(rules) = s.get("allOf").and_then(Value::as_array) else {
        return fields(props, &required, None, indent);
    };
    let mut variants = Vec::new();
    for rule in rules {
        let Some(kind) = rule.pointer("/if/properties/kind/const") else {
            return Err("an allOf rule other than a per-kind one".into());
        };
        let refused: Vec<&str> = rule
            .pointer("/then/not/anyOf")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.pointer("/required/0").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        let mut req = required.clone();
        let extra: Vec<&str> = rule
            .pointer("/then/required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        req.extend(&extra);
        let mut taken = Map::new();
        for (k, v) in props {
            if !refused.contains(&k.as_str()) {
                let v = if k == "kind" {
                    serde_json::json!({"const": kind})
                } else if extra.contains(&k.as_str()) {
                    not_null(v)
                } else {
                    v.clone()
                };
                taken.insert(k.clone(), v);
            }
        }
        variants.push(fields(&taken, &req, Some(()), indent)?);
    }
    Ok(format!("\n  | {}", variants.join("\n  | ")))
}

fn fields(
    props: &Map<String, Value>,
    required: &[&str],
    compact: Option<()>,
    indent: &str,
) -> Result<String, String> {
    if props.is_empty() {
        return Ok("Record<string, never>".into());
    }
    let inner = format!("{indent}  ");
    if compact.is_some() {
        let parts = props
            .iter()
            .map(|(k, v)| {
                let opt = if required.contains(&k.as_str()) {
                    ""
                } else {
                    "?"
                };
                ts(v, &inner).map(|t| format!("{k}{opt}: {t}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(format!("{{ {} }}", parts.join("; ")));
    }
    let mut out = String::from("{\n");
    for (k, v) in props {
        if let Some(d) = v.get("description").and_then(Value::as_str) {
            doc(&mut out, d, &inner);
        }
        let opt = if required.contains(&k.as_str()) {
            ""
        } else {
            "?"
        };
        let _ = writeln!(out, "{inner}{k}{opt}: {};", ts(v, &inner)?);
    }
    out.push_str(indent);
    out.push('}');
    Ok(out)
}

/// A field a kind requires: present means not `null`.
fn not_null(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(Value::Array(types)) = v.get_mut("type") {
        types.retain(|t| t != "null");
    }
    if let Some(Value::Array(members)) = v.get_mut("anyOf") {
        members.retain(|m| m.get("type").and_then(Value::as_str) != Some("null"));
    }
    v
}
