//! What a package-document write changes (SPEC §9.4). `PUT /<pkg>` and `PUT /<pkg>/-rev/<rev>`
//! carry a whole or partial package document: the same route publishes, unpublishes versions,
//! deprecates, changes owners, moves dist-tags or stars, depending on the body. Every kind the
//! body carries is collected and the strictest decides, so a body cannot pass as a milder write
//! than the one it performs.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::contract::action::{ActionClass, ActionKind};

/// What a document write is.
#[derive(Debug, PartialEq, Eq)]
pub struct DocumentWrite {
    /// The strictest kind the body carries.
    pub kind: ActionKind,
    /// The dist-tag a publish or tag move sets.
    pub tag: Option<String>,
    /// The one account an owner change adds or removes, when exactly one.
    pub target_account: Option<String>,
    /// The reading depended on the package's current document, which was not given.
    pub needs_current: bool,
}

/// Precedence: classes strictest first (§9.4), then, within a class, the kinds in this order.
const ORDER: [ActionKind; 8] = [
    ActionKind::OwnerAdd,
    ActionKind::OwnerRemove,
    ActionKind::PackagePublish,
    ActionKind::PackageUnpublish,
    ActionKind::DistTagAdd,
    ActionKind::DistTagRemove,
    ActionKind::PackageDeprecate,
    ActionKind::PackageStar,
];

fn rank(kind: ActionKind) -> (u8, usize) {
    let class = match kind.class() {
        ActionClass::OrgGovernance => 0,
        ActionClass::PackageGovernance => 1,
        ActionClass::Publish => 2,
        ActionClass::PackageWrite => 3,
        _ => 4,
    };
    (
        class,
        ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len()),
    )
}

/// Names in a `maintainers` list (`[{name, email}]`, or plain strings).
fn maintainers(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("name").and_then(Value::as_str).or_else(|| m.as_str()))
        .map(str::to_owned)
        .collect()
}

fn object(v: Option<&Value>) -> Option<&Map<String, Value>> {
    v.and_then(Value::as_object)
}

/// The tag a `dist-tags` change sets: `latest` when it moves, else the first changed one.
fn moved_tag<'a>(changed: impl Iterator<Item = &'a String>) -> Option<String> {
    let changed: Vec<&String> = changed.collect();
    if changed.iter().any(|t| t.as_str() == "latest") {
        return Some("latest".to_owned());
    }
    changed.first().map(|t| (*t).clone())
}

/// Reads a document write. `rev`: the path had `/-rev/<rev>` (npm's unpublish and owner
/// changes); `current`: the package's current document, when the host fetched it.
pub fn read(body: &Map<String, Value>, current: Option<&Value>, rev: bool) -> DocumentWrite {
    let mut kinds: Vec<(ActionKind, Option<String>)> = Vec::new();
    let mut target = None;
    let mut needs_current = false;
    let attachments = object(body.get("_attachments")).is_some_and(|a| !a.is_empty());
    let body_tags = object(body.get("dist-tags"));
    if attachments {
        let tag = moved_tag(body_tags.into_iter().flat_map(|t| t.keys()));
        kinds.push((ActionKind::PackagePublish, tag));
    }
    if body.get("maintainers").is_some_and(|m| !m.is_null()) {
        match current {
            Some(cur) => {
                let now = maintainers(cur.get("maintainers"));
                let next = maintainers(body.get("maintainers"));
                if now != next {
                    let added: Vec<&String> = next.difference(&now).collect();
                    let removed: Vec<&String> = now.difference(&next).collect();
                    let kind = if added.is_empty() {
                        ActionKind::OwnerRemove
                    } else {
                        ActionKind::OwnerAdd
                    };
                    if let ([one], []) | ([], [one]) = (added.as_slice(), removed.as_slice()) {
                        target = Some((*one).clone());
                    }
                    kinds.push((kind, None));
                }
            }
            None => {
                needs_current = true;
                kinds.push((ActionKind::OwnerAdd, None));
            }
        }
    }
    if let Some(versions) = object(body.get("versions")).filter(|_| !attachments) {
        match current {
            Some(cur) => {
                let now = object(cur.get("versions"));
                let old = now.into_iter().flat_map(|m| m.iter());
                let mut removed = false;
                let mut deprecated = false;
                for (v, doc) in old {
                    match versions.get(v) {
                        None => removed = true,
                        Some(next) => {
                            deprecated |= next.get("deprecated") != doc.get("deprecated");
                        }
                    }
                }
                let added = versions
                    .keys()
                    .any(|v| !now.is_some_and(|m| m.contains_key(v)));
                if added {
                    kinds.push((ActionKind::PackagePublish, None));
                }
                if removed {
                    kinds.push((ActionKind::PackageUnpublish, None));
                }
                if deprecated {
                    kinds.push((ActionKind::PackageDeprecate, None));
                }
            }
            None => {
                needs_current = true;
                let kind = if rev {
                    ActionKind::PackageUnpublish
                } else {
                    ActionKind::PackageDeprecate
                };
                kinds.push((kind, None));
            }
        }
    }
    if let Some(tags) = body_tags.filter(|_| !attachments) {
        match current {
            Some(cur) => {
                let now = object(cur.get("dist-tags"));
                let changed = tags
                    .iter()
                    .filter(|(t, v)| now.and_then(|m| m.get(*t)) != Some(*v))
                    .map(|(t, _)| t);
                if let Some(tag) = moved_tag(changed) {
                    kinds.push((ActionKind::DistTagAdd, Some(tag)));
                }
                let dropped = now
                    .into_iter()
                    .flat_map(|m| m.keys())
                    .filter(|t| !tags.contains_key(*t));
                if let Some(tag) = moved_tag(dropped) {
                    kinds.push((ActionKind::DistTagRemove, Some(tag)));
                }
            }
            None => {
                needs_current = true;
                // Which tag moves is unknown: no tag, so no tag's exemption applies.
                kinds.push((ActionKind::DistTagAdd, None));
            }
        }
    }
    let only_users = body.contains_key("users")
        && body
            .keys()
            .all(|k| matches!(k.as_str(), "_id" | "_rev" | "name" | "users"));
    if only_users {
        kinds.push((ActionKind::PackageStar, None));
    }
    let (kind, tag) = kinds
        .into_iter()
        .min_by_key(|(k, _)| rank(*k))
        .unwrap_or((ActionKind::PackageDeprecate, None));
    DocumentWrite {
        kind,
        tag,
        target_account: target
            .filter(|_| matches!(kind, ActionKind::OwnerAdd | ActionKind::OwnerRemove)),
        needs_current,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn strictest_kind_wins() {
        let publish = doc(
            json!({"versions": {"1.0.0": {}}, "dist-tags": {"beta": "1.0.0"},
            "_attachments": {"x-1.0.0.tgz": {"length": 3}}}),
        );
        let w = read(&publish, None, false);
        assert_eq!(
            (w.kind, w.tag.as_deref()),
            (ActionKind::PackagePublish, Some("beta"))
        );
        assert!(!w.needs_current);

        let cur = json!({"versions": {"1.0.0": {}, "1.0.1": {}}, "maintainers": [{"name": "alice"}],
            "dist-tags": {"latest": "1.0.1"}});
        let unpublish = doc(
            json!({"versions": {"1.0.0": {}}, "maintainers": [{"name": "alice"}],
            "dist-tags": {"latest": "1.0.1"}}),
        );
        assert_eq!(
            read(&unpublish, Some(&cur), true).kind,
            ActionKind::PackageUnpublish
        );
        let w = read(&unpublish, None, true);
        assert_eq!(w.kind, ActionKind::OwnerAdd);
        assert!(w.needs_current);

        let sneaky = doc(
            json!({"versions": {"1.0.0": {}, "1.0.1": {}}, "dist-tags": {"latest": "1.0.1"},
            "maintainers": [{"name": "alice"}, {"name": "mallory"}]}),
        );
        let w = read(&sneaky, Some(&cur), false);
        assert_eq!(
            (w.kind, w.target_account.as_deref()),
            (ActionKind::OwnerAdd, Some("mallory"))
        );

        let retag = doc(
            json!({"versions": {"1.0.0": {}, "1.0.1": {}}, "maintainers": [{"name": "alice"}],
            "dist-tags": {"latest": "1.0.0"}}),
        );
        let w = read(&retag, Some(&cur), false);
        assert_eq!(
            (w.kind, w.tag.as_deref()),
            (ActionKind::DistTagAdd, Some("latest"))
        );

        let deprecate = doc(
            json!({"versions": {"1.0.0": {"deprecated": "old"}, "1.0.1": {}},
            "maintainers": [{"name": "alice"}], "dist-tags": {"latest": "1.0.1"}}),
        );
        assert_eq!(
            read(&deprecate, Some(&cur), false).kind,
            ActionKind::PackageDeprecate
        );

        let star = doc(json!({"_id": "x", "_rev": "1", "users": {"bob": true}}));
        assert_eq!(read(&star, None, false).kind, ActionKind::PackageStar);
        let star_and_more = doc(json!({"users": {"bob": true}, "dist-tags": {"latest": "9.9.9"}}));
        assert_eq!(
            read(&star_and_more, None, false).kind,
            ActionKind::DistTagAdd
        );
    }
}
