//! Which stepup action an npm request is (wire-protocol reference §2.6). Requests the gateway
//! does not recognise as writes are reads: the credential checks still apply to them.

use serde_json::{Value, json};

fn dec(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let Some(v) =
                stepup_core::encoding::hex_decode(&format!("{}{}", *h as char, *l as char))
            && let Some(&v) = v.first()
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `/<pkg>[/rest...]` → package name and the rest; scoped names come as `@scope%2fname` or
/// `@scope/name`.
pub fn package_path(path: &str) -> Option<(String, Vec<String>)> {
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    let first = *parts.first()?;
    if first.is_empty() {
        return None;
    }
    if first.starts_with('@') && !first.to_ascii_lowercase().contains("%2f") {
        let second = parts.get(1)?;
        let rest = parts.iter().skip(2).map(|s| dec(s)).collect();
        return Some((format!("{}/{}", dec(first), dec(second)), rest));
    }
    Some((dec(first), parts.iter().skip(1).map(|s| dec(s)).collect()))
}

/// The action a request is: a SPEC action object.
pub fn classify(method: &str, path: &str, body: &Value) -> Value {
    let read = |package: Option<String>| match package {
        Some(p) => json!({"kind": "package.read", "package": p}),
        None => json!({"kind": "package.read"}),
    };
    let segs: Vec<&str> = path.split('/').collect();
    let is_read = matches!(method, "GET" | "HEAD" | "OPTIONS");
    if let ["", "-", "package", pkg, "dist-tags", tag] = segs.as_slice() {
        if is_read {
            return read(Some(dec(pkg)));
        }
        let kind = if method == "DELETE" {
            "dist-tag.remove"
        } else {
            "dist-tag.add"
        };
        return json!({"kind": kind, "package": dec(pkg), "tag": dec(tag)});
    }
    if let ["", "-", "package", pkg, ..] = segs.as_slice() {
        return if is_read {
            read(Some(dec(pkg)))
        } else {
            json!({"kind": "access.visibility", "package": dec(pkg)})
        };
    }
    if path.starts_with("/-/") {
        return if is_read {
            read(None)
        } else {
            json!({"kind": "org.team.change"})
        };
    }
    let Some((name, rest)) = package_path(path) else {
        return read(None);
    };
    if is_read {
        return read(Some(name));
    }
    let has = |k: &str| body.get(k).is_some_and(|v| !v.is_null());
    if method == "PUT" && rest.is_empty() {
        let attachments = body
            .get("_attachments")
            .and_then(Value::as_object)
            .is_some_and(|a| !a.is_empty());
        if attachments {
            let tag = body
                .get("dist-tags")
                .and_then(Value::as_object)
                .and_then(|t| t.keys().next().cloned());
            let mut a = json!({"kind": "package.publish", "package": name});
            if let Some(tag) = tag {
                crate::json_set(&mut a, "tag", Value::String(tag));
            }
            return a;
        }
        if has("users") && !has("versions") {
            return json!({"kind": "package.star", "package": name});
        }
        return json!({"kind": "package.deprecate", "package": name});
    }
    if rest.first().map(String::as_str) == Some("-rev") {
        if method == "PUT" && has("maintainers") && !has("versions") {
            return json!({"kind": "owner.add", "package": name});
        }
        return json!({"kind": "package.unpublish", "package": name});
    }
    // Tarball deletes (`/<pkg>/-/<file>/-rev/<rev>`) and anything else that writes.
    json!({"kind": "package.unpublish", "package": name})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(method: &str, path: &str, body: Value) -> (String, Option<String>) {
        let a = classify(method, path, &body);
        (
            a["kind"].as_str().unwrap().to_owned(),
            a.get("package").and_then(Value::as_str).map(str::to_owned),
        )
    }

    #[test]
    fn npm_requests() {
        let publish = json!({"versions": {"1.0.0": {}}, "dist-tags": {"latest": "1.0.0"}, "_attachments": {"x.tgz": {}}});
        assert_eq!(
            kind("PUT", "/@acme%2fwidget", publish.clone()),
            ("package.publish".into(), Some("@acme/widget".into()))
        );
        assert_eq!(
            kind("PUT", "/left-pad", publish),
            ("package.publish".into(), Some("left-pad".into()))
        );
        assert_eq!(kind("GET", "/left-pad", Value::Null).0, "package.read");
        assert_eq!(
            kind("PUT", "/left-pad", json!({"users": {"a": true}})).0,
            "package.star"
        );
        assert_eq!(
            kind(
                "PUT",
                "/left-pad",
                json!({"versions": {"1.0.0": {"deprecated": "x"}}})
            )
            .0,
            "package.deprecate"
        );
        assert_eq!(
            kind("PUT", "/left-pad/-rev/3-abc", json!({"maintainers": []})).0,
            "owner.add"
        );
        assert_eq!(
            kind("PUT", "/left-pad/-rev/3-abc", json!({"versions": {}})).0,
            "package.unpublish"
        );
        assert_eq!(
            kind(
                "DELETE",
                "/left-pad/-/left-pad-1.0.0.tgz/-rev/4-x",
                Value::Null
            )
            .0,
            "package.unpublish"
        );
        assert_eq!(
            kind("PUT", "/-/package/left-pad/dist-tags/beta", json!("1.0.1")),
            ("dist-tag.add".into(), Some("left-pad".into()))
        );
        assert_eq!(
            kind("DELETE", "/-/package/%40a%2fb/dist-tags/beta", Value::Null),
            ("dist-tag.remove".into(), Some("@a/b".into()))
        );
        assert_eq!(
            kind("GET", "/-/package/left-pad/dist-tags", Value::Null).0,
            "package.read"
        );
        assert_eq!(
            kind("PUT", "/-/org/acme/user", json!({})).0,
            "org.team.change"
        );
    }
}
