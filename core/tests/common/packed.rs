//! A packed-request writer for tests, from the JSON document, field for field as the JS
//! encoder (`bindings/js/packed.js`) writes it: object keys in document order, `null` left out,
//! enums by their index in the engine's name tables. `None` where the JS encoder bails.

use serde_json::Value;

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Str,
    Bool,
    Enum(&'static str),
    Obj(&'static str),
    List(&'static Kind),
}

/// Each object's fields: tag and kind, as `packed.js` numbers them.
fn field(obj: &str, key: &str) -> Option<(u8, Kind)> {
    use Kind::*;
    Some(match (obj, key) {
        ("request", "now") => (1, Int),
        ("request", "action") => (2, Obj("action")),
        ("request", "account") => (3, Obj("account")),
        ("request", "credential") => (4, Obj("credential")),
        ("request", "client") => (5, Obj("client")),
        ("request", "package") => (6, Obj("package")),
        ("request", "orgs") => (7, List(&Obj("org"))),
        ("request", "proofs") => (8, List(&Obj("proof"))),
        ("request", "failures") => (9, Obj("failures")),
        ("action", "kind") => (1, Enum("ActionKind")),
        ("action", "package") => (2, Str),
        ("action", "tag") => (3, Str),
        ("action", "org") => (4, Str),
        ("action", "target_account") => (5, Str),
        ("account", "id") => (1, Str),
        ("account", "tfa") => (2, Obj("tfa")),
        ("account", "publisher") => (3, Bool),
        ("account", "impact") => (4, Obj("impact")),
        ("account", "safeguard_until") => (5, Int),
        ("tfa", "mode") => (1, Enum("TfaMode")),
        ("tfa", "factors") => (2, List(&Enum("Factor"))),
        ("impact", "weekly_downloads") => (1, Int),
        ("impact", "dependents") => (2, Int),
        ("impact", "dependents_rank") => (3, Int),
        ("credential", "kind") => (1, Enum("CredentialKind")),
        ("credential", "type") => (2, Enum("LegacyType")),
        ("credential", "bypass_2fa") => (3, Bool),
        ("credential", "expires_at") => (4, Int),
        ("credential", "cidr_whitelist") => (5, List(&Str)),
        ("credential", "packages") => (6, Obj("packages")),
        ("credential", "orgs") => (7, Obj("orgs_axis")),
        ("credential", "package") => (8, Str),
        ("credential", "permissions") => (9, List(&Enum("OidcPermission"))),
        ("packages", "all") => (1, Bool),
        ("packages", "names") => (2, List(&Str)),
        ("packages", "scopes") => (3, List(&Str)),
        ("packages", "permission") => (4, Enum("Permission")),
        ("orgs_axis", "names") => (1, List(&Str)),
        ("orgs_axis", "permission") => (2, Enum("Permission")),
        ("client", "ip") => (1, Str),
        ("package", "name") => (1, Str),
        ("package", "publishing_access") => (2, Enum("PublishingAccess")),
        ("package", "weekly_downloads") => (3, Int),
        ("package", "dependents") => (4, Int),
        ("package", "dependents_rank") => (5, Int),
        ("org", "name") => (1, Str),
        ("org", "enforce_tfa") => (2, Bool),
        ("proof", "factor") => (1, Enum("Factor")),
        ("proof", "verified_at") => (2, Int),
        ("failures", "account") => (1, List(&Int)),
        ("failures", "ip") => (2, List(&Int)),
        _ => return None,
    })
}

/// The packed form of a request document, or `None` where the JS encoder would use JSON.
pub fn encode(request: &Value) -> Option<Vec<u8>> {
    let tables: Value = serde_json::from_str(&stepup_core::wire::packed::tables_json()).ok()?;
    let mut out = vec![stepup_core::wire::packed::VERSION];
    value(&tables, &mut out, Kind::Obj("request"), request)?;
    Some(out)
}

fn value(tables: &Value, out: &mut Vec<u8>, kind: Kind, v: &Value) -> Option<()> {
    match kind {
        Kind::Int => {
            let n = v.as_u64().filter(|n| *n < 1 << 53)?;
            out.extend_from_slice(&(n as f64).to_le_bytes());
        }
        Kind::Str => {
            let s = v.as_str().filter(|s| s.is_ascii())?;
            out.extend_from_slice(&u16::try_from(s.len()).ok()?.to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Kind::Bool => out.push(u8::from(v.as_bool()?)),
        Kind::Enum(table) => {
            let name = v.as_str()?;
            let i = tables
                .get(table)?
                .as_array()?
                .iter()
                .position(|n| n == name)?;
            out.push(u8::try_from(i).ok()?);
        }
        Kind::List(item) => {
            let items = v.as_array()?;
            out.extend_from_slice(&u16::try_from(items.len()).ok()?.to_le_bytes());
            for i in items {
                value(tables, out, *item, i)?;
            }
        }
        Kind::Obj(name) => {
            for (k, v) in v.as_object()? {
                if v.is_null() {
                    continue;
                }
                let (tag, kind) = field(name, k)?;
                out.push(tag);
                value(tables, out, kind, v)?;
            }
            out.push(0);
        }
    }
    Some(())
}
