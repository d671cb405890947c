//! Package impact (SPEC §2 `account.impact`, `package.*`; §8.10 cohorts). A host counts what
//! its registry sees — tarball downloads, the dependencies each package's latest manifest
//! declares, figures an operator imported — and core turns them into the figures decisions
//! read, so the gateway and the Verdaccio plugin rank the same packages the same way:
//!
//! - a package's weekly downloads and dependents are the larger of its counted and imported
//!   figures (either source may undercount; mandates should not miss a package);
//! - packages with at least one dependent are ranked by dependents, ties sharing a rank
//!   (1 + how many have more); a package nobody depends on has no rank;
//! - an account's impact is the best figure among the packages it maintains.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::error::InputError;
use crate::contract::request::Impact;
use crate::contract::time::Count;

/// What a host counted and keeps.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpactFacts {
    /// Downloads over the last seven full days, by package.
    #[serde(default)]
    pub weekly_downloads: BTreeMap<String, Count>,
    /// The dependencies each package's latest manifest declares (dependents are counted
    /// from them).
    #[serde(default)]
    pub dependencies: BTreeMap<String, Vec<String>>,
    /// Dependents already counted, by package (a host that counts in its database); added to
    /// those counted from `dependencies`.
    #[serde(default)]
    pub dependents: BTreeMap<String, Count>,
    /// Figures an operator imported.
    #[serde(default)]
    pub imported: BTreeMap<String, Imported>,
    /// Each package's maintainers (account names).
    #[serde(default)]
    pub maintainers: BTreeMap<String, Vec<String>>,
}

/// An imported figure.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imported {
    /// Weekly downloads.
    pub weekly_downloads: Count,
    /// Dependents.
    pub dependents: Count,
}

/// A package's or an account's reach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Weekly downloads.
    pub weekly_downloads: u64,
    /// Dependents.
    pub dependents: u64,
    /// 1 = most depended upon; `None` without dependents.
    pub dependents_rank: Option<u64>,
}

impl Figures {
    /// As the engine reads an account's or a package's impact.
    pub fn impact(&self) -> Impact {
        Impact {
            weekly_downloads: Some(Count(self.weekly_downloads)),
            dependents: Some(Count(self.dependents)),
            dependents_rank: self.dependents_rank.map(Count),
        }
    }
}

/// The figures decisions read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImpactIndex {
    /// By package.
    pub packages: BTreeMap<String, Figures>,
    /// By account: the best figures among the packages it maintains.
    pub accounts: BTreeMap<String, Figures>,
}

/// Builds the index (see the module's rules).
pub fn index(facts: &ImpactFacts) -> ImpactIndex {
    let mut packages: BTreeMap<String, Figures> = BTreeMap::new();
    for (p, n) in &facts.weekly_downloads {
        packages.entry(p.clone()).or_default().weekly_downloads = n.0;
    }
    for (p, n) in &facts.dependents {
        let f = packages.entry(p.clone()).or_default();
        f.dependents = f.dependents.saturating_add(n.0);
    }
    for (p, deps) in &facts.dependencies {
        let mut seen: Vec<&String> = deps.iter().filter(|d| *d != p).collect();
        seen.sort();
        seen.dedup();
        for d in seen {
            let f = packages.entry(d.clone()).or_default();
            f.dependents = f.dependents.saturating_add(1);
        }
    }
    for (p, i) in &facts.imported {
        let f = packages.entry(p.clone()).or_default();
        f.weekly_downloads = f.weekly_downloads.max(i.weekly_downloads.0);
        f.dependents = f.dependents.max(i.dependents.0);
    }
    let mut by_dependents: Vec<u64> = packages
        .values()
        .map(|f| f.dependents)
        .filter(|d| *d > 0)
        .collect();
    by_dependents.sort_unstable_by(|a, b| b.cmp(a));
    for f in packages.values_mut().filter(|f| f.dependents > 0) {
        let more = by_dependents.partition_point(|d| *d > f.dependents);
        f.dependents_rank = Some(u64::try_from(more).unwrap_or(u64::MAX).saturating_add(1));
    }
    let mut accounts: BTreeMap<String, Figures> = BTreeMap::new();
    for (p, names) in &facts.maintainers {
        let Some(f) = packages.get(p) else { continue };
        for account in names {
            let a = accounts.entry(account.clone()).or_default();
            a.weekly_downloads = a.weekly_downloads.max(f.weekly_downloads);
            a.dependents = a.dependents.max(f.dependents);
            a.dependents_rank = match (a.dependents_rank, f.dependents_rank) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
        }
    }
    ImpactIndex { packages, accounts }
}

/// The dependencies a package document (a publish body or a packument) declares for its
/// `latest` version; `None` when it carries no manifest of `latest` (a publish under another
/// tag does not change what the package's dependents index reads). A package depending on
/// itself is left out.
pub fn latest_dependencies(doc: &Value) -> Option<Vec<String>> {
    let latest = doc.get("dist-tags")?.get("latest")?.as_str()?;
    let manifest = doc.get("versions")?.get(latest)?;
    let own = doc.get("name").and_then(Value::as_str);
    let mut deps: Vec<String> = manifest
        .get("dependencies")
        .and_then(Value::as_object)
        .map(|d| {
            d.keys()
                .filter(|k| Some(k.as_str()) != own)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    deps.sort();
    Some(deps)
}

/// `impact-index`: facts → `{packages, accounts}`.
pub fn index_json(input: &str) -> Result<String, InputError> {
    let facts: ImpactFacts = crate::wire::json::parse(input)?;
    serde_json::to_string(&index(&facts)).map_err(|e| InputError::new(".", e.to_string()))
}

/// `latest-dependencies`: `{document}` → `{dependencies}` (`null` without a `latest` manifest).
pub fn latest_dependencies_json(input: &str) -> Result<String, InputError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Input {
        document: Value,
    }
    let i: Input = crate::wire::json::parse(input)?;
    if !i.document.is_object() {
        return Err(InputError::new(
            "document",
            "expected a package document (an object)",
        ));
    }
    Ok(serde_json::json!({"dependencies": latest_dependencies(&i.document)}).to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn facts() -> ImpactFacts {
        serde_json::from_value(json!({
            "weekly_downloads": {"a": 10, "b": 2_000_000},
            "dependents": {"a": 1, "c": 3},
            "dependencies": {"x": ["a", "a", "d", "x"], "y": ["a"]},
            "imported": {"a": {"weekly_downloads": 5, "dependents": 700}, "e": {"weekly_downloads": 0, "dependents": 0}},
            "maintainers": {"a": ["alice"], "b": ["alice"], "d": ["bob"], "zzz": ["carol"]}
        }))
        .unwrap_or_default()
    }

    #[test]
    fn imported_figures_raise_counted_ones_never_lower_them() {
        let i = index(&facts());
        let a = i.packages.get("a").copied().unwrap_or_default();
        assert_eq!((a.weekly_downloads, a.dependents), (10, 700));
    }

    #[test]
    fn dependents_count_each_dependent_package_once_and_add_to_counted_ones() {
        let i = index(&facts());
        let deps = |p: &str| i.packages.get(p).map(|f| f.dependents);
        assert_eq!(
            deps("d"),
            Some(1),
            "x depends on d once; x on itself not at all"
        );
        assert_eq!(deps("x"), None);
        assert_eq!(deps("c"), Some(3));
    }

    #[test]
    fn ranks_by_dependents_with_ties_sharing_a_rank() {
        let i = index(&facts());
        let rank = |p: &str| i.packages.get(p).and_then(|f| f.dependents_rank);
        assert_eq!(rank("a"), Some(1));
        assert_eq!(rank("c"), Some(2));
        assert_eq!(rank("d"), Some(3));
        assert_eq!(rank("b"), None, "no dependents, no rank");
        assert_eq!(rank("e"), None);
    }

    #[test]
    fn an_account_has_the_best_figures_of_its_packages() {
        let i = index(&facts());
        assert_eq!(
            i.accounts.get("alice"),
            Some(&Figures {
                weekly_downloads: 2_000_000,
                dependents: 700,
                dependents_rank: Some(1)
            })
        );
        assert_eq!(
            i.accounts.get("bob").and_then(|f| f.dependents_rank),
            Some(3)
        );
        assert!(
            !i.accounts.contains_key("carol"),
            "a package with no figures"
        );
    }

    #[test]
    fn latest_dependencies_read_the_latest_manifest_only() {
        let publish = json!({"name": "p", "dist-tags": {"latest": "2.0.0"},
            "versions": {"2.0.0": {"dependencies": {"b": "^1", "a": "^1", "p": "*"}}}});
        assert_eq!(
            latest_dependencies(&publish),
            Some(vec!["a".into(), "b".into()])
        );
        let beta = json!({"name": "p", "dist-tags": {"beta": "3.0.0-beta"}, "versions": {"3.0.0-beta": {}}});
        assert_eq!(latest_dependencies(&beta), None);
        let none =
            json!({"name": "p", "dist-tags": {"latest": "1.0.0"}, "versions": {"1.0.0": {}}});
        assert_eq!(latest_dependencies(&none), Some(vec![]));
    }

    #[test]
    fn bad_facts_name_the_field() {
        let e = index_json(r#"{"weekly_downloads": {"a": -1}}"#)
            .err()
            .map(|e| e.path);
        assert_eq!(e.as_deref(), Some("weekly_downloads.a"));
        let e = latest_dependencies_json(r#"{"document": []}"#)
            .err()
            .map(|e| e.path);
        assert_eq!(e.as_deref(), Some("document"));
    }
}
