//! The WIT is written by hand (it is its own language, and its records are shaped for a
//! typed call: a credential is a variant, the client's address and the failure lists are
//! flattened into the request). This check reads it with `wit-parser` and compares it with
//! the schemas: every enum's cases in order, every record's fields, the credential's kinds and
//! each kind's fields, and the effects, so a field added to the Rust types and not to the WIT
//! fails CI with the name of what is missing.

use std::path::Path;

use serde_json::{Map, Value};
use wit_parser::{Resolve, Type, TypeDefKind};

/// WIT field names that are not the kebab-case of the JSON name, each for a stated reason.
const FIELD_RENAMES: &[(&str, &str)] = &[
    // `type` is a WIT keyword.
    ("type", "token-type"),
    // WIT identifiers cannot hold a digit after a hyphen.
    ("bypass-2fa", "bypass-tfa"),
];

/// WIT type names that are not the kebab-case of the Rust name.
const TYPE_RENAMES: &[(&str, &str)] = &[
    // `package` is a keyword, so the record holding a package's facts is named for what it is.
    ("package", "package-info"),
];

fn renamed(name: String, table: &[(&str, &str)]) -> String {
    table
        .iter()
        .find(|(from, _)| *from == name)
        .map_or(name, |(_, to)| (*to).to_owned())
}

fn field(name: &str) -> String {
    renamed(kebab(name), FIELD_RENAMES)
}

/// The WIT's types by name: enum cases, record fields, or variant cases with payload record.
enum Wit {
    Enum(Vec<String>),
    Record(Vec<String>),
    Variant(Vec<(String, Option<Vec<String>>)>),
}

fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        match c {
            '.' | '_' => out.push('-'),
            c if c.is_ascii_uppercase() => {
                if i > 0 {
                    out.push('-');
                }
                out.push(c.to_ascii_lowercase());
            }
            c => out.push(c),
        }
    }
    out
}

fn load(dir: &Path) -> Result<Vec<(String, Wit)>, String> {
    let mut resolve = Resolve::new();
    resolve
        .push_path(dir)
        .map_err(|e| format!("{}: {e:#}", dir.display()))?;
    let record_fields = |ty: &Type| -> Option<Vec<String>> {
        let Type::Id(id) = ty else { return None };
        match &resolve.types.get(*id)?.kind {
            TypeDefKind::Record(r) => Some(r.fields.iter().map(|f| f.name.clone()).collect()),
            _ => None,
        }
    };
    let mut out = Vec::new();
    for (_, def) in resolve.types.iter() {
        let Some(name) = def.name.clone() else {
            continue;
        };
        let wit = match &def.kind {
            TypeDefKind::Enum(e) => Wit::Enum(e.cases.iter().map(|c| c.name.clone()).collect()),
            TypeDefKind::Record(r) => {
                Wit::Record(r.fields.iter().map(|f| f.name.clone()).collect())
            }
            TypeDefKind::Variant(v) => Wit::Variant(
                v.cases
                    .iter()
                    .map(|c| (c.name.clone(), c.ty.as_ref().and_then(record_fields)))
                    .collect(),
            ),
            _ => continue,
        };
        out.push((name, wit));
    }
    Ok(out)
}

fn find<'a>(wit: &'a [(String, Wit)], name: &str) -> Option<&'a Wit> {
    wit.iter().find(|(n, _)| n == name).map(|(_, w)| w)
}

/// Compares the WIT in `dir` with the schemas; the problems found, empty when in step.
pub fn check(dir: &Path, schemas: &[&Value]) -> Result<Vec<String>, String> {
    let wit = load(dir)?;
    let mut problems = Vec::new();
    for schema in schemas {
        let empty = Map::new();
        let defs = schema
            .get("$defs")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let root = [(
            schema
                .get("$id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim_start_matches("stepup:")
                .to_owned(),
            (*schema).clone(),
        )];
        for (name, def) in defs.iter().map(|(k, v)| (k.clone(), v.clone())).chain(root) {
            check_def(&wit, &name, &def, &mut problems);
        }
    }
    Ok(problems)
}

fn enum_values(def: &Value) -> Option<Vec<String>> {
    if let Some(e) = def.get("enum").and_then(Value::as_array) {
        return Some(e.iter().filter_map(Value::as_str).map(kebab).collect());
    }
    let members = def.get("oneOf").and_then(Value::as_array)?;
    members
        .iter()
        .map(|m| {
            m.get("const")
                .or_else(|| m.pointer("/properties/kind/const"))
                .and_then(Value::as_str)
                .map(kebab)
        })
        .collect()
}

fn props(def: &Value) -> Vec<String> {
    def.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(|k| field(k)).collect())
        .unwrap_or_default()
}

fn check_def(wit: &[(String, Wit)], name: &str, def: &Value, problems: &mut Vec<String>) {
    let wit_name = renamed(kebab(name), TYPE_RENAMES);
    // Types that only the JSON form has: the credential kind is the variant's case, the client
    // and the failures are flattened into the request, the challenge is its factor list, and
    // the configuration is passed as JSON (it is read once, not per call).
    if matches!(
        name,
        "CredentialKind" | "Client" | "Failures" | "Challenge" | "FactorSet"
    ) || !is_request_or_decision(name)
    {
        return;
    }
    let found = find(wit, &wit_name);
    if let Some(values) = enum_values(def) {
        match found {
            Some(Wit::Enum(cases)) if *cases == values => {}
            Some(Wit::Variant(cases))
                if cases.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>() == values => {}
            Some(_) => problems.push(format!(
                "WIT {wit_name} does not list {values:?} in this order"
            )),
            None => problems.push(format!("WIT has no {wit_name} for {name}")),
        }
        return;
    }
    if name == "Credential" {
        check_credential(found, problems);
        return;
    }
    let Some(Wit::Record(fields)) = found else {
        problems.push(format!("WIT has no record {wit_name} for {name}"));
        return;
    };
    for field in props(def) {
        let flattened = |f: &str| fields.iter().any(|w| w.starts_with(&format!("{f}-")));
        if !fields.contains(&field) && !flattened(&field) {
            problems.push(format!(
                "WIT record {wit_name} has no field {field} ({name})"
            ));
        }
    }
}

/// The documents whose types cross the WIT; configuration types stay JSON.
fn is_request_or_decision(name: &str) -> bool {
    !matches!(
        name,
        "Preset"
            | "ActionClass"
            | "Throttle"
            | "Window"
            | "Safeguard"
            | "HighImpact"
            | "Cohort"
            | "LoginVerification"
            | "Stage"
            | "Population"
            | "BrownOut"
            | "TotpSettings"
            | "TotpAlgorithm"
            | "RecoveryCodeSettings"
            | "EmailCodeSettings"
            | "TokenLimits"
            | "WebauthnConfig"
            | "UserVerification"
            | "AlgName"
            | "SignCountRegression"
            | "TrustedPublishingConfig"
            | "Issuers"
            | "config"
    )
}

fn check_credential(found: Option<&Wit>, problems: &mut Vec<String>) {
    let Some(Wit::Variant(cases)) = found else {
        problems.push("WIT has no variant credential".into());
        return;
    };
    for (kind, fields) in stepup_core::contract::schema::credential_kinds() {
        let Some((_, payload)) = cases.iter().find(|(c, _)| *c == kind) else {
            problems.push(format!("WIT credential has no case {kind}"));
            continue;
        };
        let want: Vec<String> = fields.iter().map(|f| field(f)).collect();
        let have = payload.clone().unwrap_or_default();
        let (mut a, mut b) = (want.clone(), have.clone());
        a.sort();
        b.sort();
        if a != b {
            problems.push(format!(
                "WIT credential case {kind} has fields {have:?}; the type takes {want:?}"
            ));
        }
    }
}
