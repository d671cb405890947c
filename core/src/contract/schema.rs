//! JSON Schemas of the request, configuration and decision documents, derived from the types
//! that parse and write them (feature `schema`).
//!
//! The types are the contract: `stepup-contract` writes these schemas to `core/schema/` and
//! generates the TypeScript types and the packed codec's field tables from them, and CI fails
//! when a checked-in file differs from what the types give. Limits serde cannot express are
//! written next to the fields (`#[schemars(...)]`) from the same constants the checks use;
//! the per-kind credential rules come from [`crate::contract::request`]'s table of fields per kind.

use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings, json_schema};
use serde_json::{Map, Value, json};

use crate::contract::time::MAX_SAFE_INTEGER;

/// The request document (SPEC §2).
pub fn request() -> Value {
    document::<crate::contract::request::RequestDoc>(
        "stepup:request",
        "stepup decision request (SPEC §2)",
    )
}

/// The configuration document (SPEC §6).
pub fn config() -> Value {
    document::<crate::config::ConfigDoc>(
        "stepup:config",
        "stepup policy configuration (SPEC §6): a preset plus overrides",
    )
}

/// The decision document (SPEC §3).
pub fn decision() -> Value {
    document::<crate::contract::decision::Decision>("stepup:decision", "stepup decision (SPEC §3)")
}

fn document<T: JsonSchema>(id: &str, title: &str) -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.meta_schema = Some("https://json-schema.org/draft/2020-12/schema".into());
    let schema = SchemaGenerator::new(settings).into_root_schema_for::<T>();
    let mut doc = Map::new();
    doc.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    doc.insert("$id".into(), json!(id));
    doc.insert("title".into(), json!(title));
    if let Value::Object(body) = schema.to_value() {
        for (k, v) in body {
            if !matches!(k.as_str(), "$schema" | "title") {
                doc.insert(k, v);
            }
        }
    }
    Value::Object(doc)
}

/// A safe non-negative integer (JavaScript hosts decide exactly as Rust does).
fn safe_integer(description: &str) -> Schema {
    json_schema!({
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_SAFE_INTEGER,
        "description": description,
    })
}

impl JsonSchema for crate::contract::time::Timestamp {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        safe_integer("unix seconds")
    }
}

impl JsonSchema for crate::contract::time::Count {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Count".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        safe_integer("a non-negative integer")
    }
}

impl JsonSchema for crate::contract::time::ConfigDate {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ConfigDate".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "oneOf": [
                {"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER, "description": "unix seconds"},
                {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?$"},
            ]
        })
    }
}

impl JsonSchema for crate::contract::cidr::Cidr {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Cidr".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "IPv4 or IPv6 CIDR, e.g. 192.0.2.0/24 or 2001:db8::/32",
            "pattern": "/[0-9]{1,3}$",
        })
    }
}

impl JsonSchema for crate::contract::cidr::ClientIp {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ClientIp".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "description": "IPv4 or IPv6 address"})
    }
}

impl JsonSchema for crate::contract::factor::FactorSet {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FactorSet".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "array",
            "description": "factors in the canonical order of SPEC §8.2",
            "items": generator.subschema_for::<crate::contract::factor::Factor>(),
            "uniqueItems": true,
        })
    }
}

/// Each credential kind with the fields it takes besides `kind`, for the WIT check.
pub fn credential_kinds() -> Vec<(&'static str, &'static [&'static str])> {
    crate::contract::request::CredentialKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.fields()))
        .collect()
}
