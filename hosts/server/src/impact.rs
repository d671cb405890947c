//! Package impact, from the registry's own traffic and manifests: the mandatory-2FA cohorts and
//! the read-only safeguard read it (SPEC §4 rules 3 and 5), so every decision for a maintainer
//! carries its account's impact and the package's own.
//!
//! Downloads are counted in memory, per package per UTC day, and flushed in one transaction
//! every refresh period and at shutdown: a tarball request never waits on a database write.
//! The index the decisions read is rebuilt from the store after each flush and whenever a
//! publish, an import or an owner change alters it, so it is the same on every instance that
//! shares the store, up to one period. The same pass keeps each package's maintainers as npm
//! shows them, which package document reads display without asking the store; a publish or an
//! owner change waits for the rebuild on its own instance, so that instance's next read shows it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use stepup_core::contract::request as req;
use stepup_core::contract::time::Count;
use stepup_core::registry::impact::{Figures, ImpactFacts, ImpactIndex, Imported, index};
use tokio::sync::Notify;

use crate::error::ServeError;
use crate::store::{ImpactRows, Store};

const DAY: i64 = 86_400;

fn count(n: i64) -> Count {
    Count(u64::try_from(n).unwrap_or(0))
}

/// The store's rows as core reads them (core combines, ranks and aggregates).
pub fn facts(rows: &ImpactRows) -> ImpactFacts {
    let mut f = ImpactFacts::default();
    for (p, n) in &rows.downloads {
        f.weekly_downloads.insert(p.clone(), count(*n));
    }
    for (p, n) in &rows.dependents {
        f.dependents.insert(p.clone(), count(*n));
    }
    for (p, weekly, dependents) in &rows.imported {
        f.imported.insert(
            p.clone(),
            Imported {
                weekly_downloads: count(*weekly),
                dependents: count(*dependents),
            },
        );
    }
    for (p, account) in &rows.maintainers {
        f.maintainers
            .entry(p.clone())
            .or_default()
            .push(account.clone());
    }
    f
}

/// Rebuilds the index and the maintainer lists now, after a change this instance made (a
/// publish, an owner change), so its own next read shows the change; a failure is logged and the
/// background rebuild tries again.
pub async fn rebuilt(app: &crate::App) {
    if let Err(e) = app.impact.refresh(&app.store, crate::now()).await {
        tracing::warn!(error = %e, "rebuilding the package-impact index failed; the next period tries again");
        app.impact.changed();
    }
}

/// Each package's `maintainers` value as npm shows it, from the rows.
fn listed(rows: &ImpactRows) -> HashMap<String, serde_json::Value> {
    let emails: HashMap<&str, &str> = rows
        .emails
        .iter()
        .map(|(a, e)| (a.as_str(), e.as_str()))
        .collect();
    let mut out: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    for (package, account) in &rows.maintainers {
        let email = emails.get(account.as_str()).copied().unwrap_or_default();
        out.entry(package.clone())
            .or_default()
            .push(serde_json::json!({"name": account, "email": email}));
    }
    out.into_iter()
        .map(|(p, list)| (p, serde_json::Value::Array(list)))
        .collect()
}

/// Download counts waiting to be flushed, and the index.
#[derive(Debug, Default)]
pub struct Impact {
    pending: Mutex<HashMap<(String, i64), i64>>,
    index: RwLock<Arc<ImpactIndex>>,
    /// Each package's maintainers as npm shows them (`[{name, email}]`), read in the same pass:
    /// what a package document read displays, so such a read never waits on the store.
    listed: RwLock<Arc<HashMap<String, serde_json::Value>>>,
    /// Held from a rebuild's read to its swap, so an older read never replaces a newer one.
    rebuilding: tokio::sync::Mutex<()>,
    changed: Notify,
}

/// The UTC day number of a unix time.
pub fn day_of(t: i64) -> i64 {
    t.div_euclid(DAY)
}

impl Impact {
    /// Counts one tarball download of `package` at `now` (memory only).
    pub fn count_download(&self, package: &str, now: i64) {
        let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        *p.entry((package.to_owned(), day_of(now))).or_insert(0) += 1;
    }

    /// Downloads counted and not yet flushed.
    pub fn unflushed(&self) -> i64 {
        let p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        p.values().sum()
    }

    /// Writes the counted downloads in one transaction; on failure they are kept for the next
    /// flush, so a store outage delays counts and loses none.
    pub async fn flush(&self, store: &Store) -> Result<usize, ServeError> {
        let batch: Vec<(String, i64, i64)> = {
            let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            p.drain().map(|((pkg, day), n)| (pkg, day, n)).collect()
        };
        if let Err(e) = store.add_downloads(&batch).await {
            let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            for (pkg, day, n) in batch {
                *p.entry((pkg, day)).or_insert(0) += n;
            }
            return Err(e);
        }
        Ok(batch.len())
    }

    /// Rebuilds the index from the store: weekly downloads are the seven full UTC days before
    /// `now`'s (today's count is still growing).
    pub async fn refresh(&self, store: &Store, now: i64) -> Result<(), ServeError> {
        let _one_at_a_time = self.rebuilding.lock().await;
        let today = day_of(now);
        let rows = store.impact_rows(today - 7, today).await?;
        let index = Arc::new(index(&facts(&rows)));
        let listed = Arc::new(listed(&rows));
        *self.index.write().unwrap_or_else(PoisonError::into_inner) = index;
        *self.listed.write().unwrap_or_else(PoisonError::into_inner) = listed;
        Ok(())
    }

    /// A package's maintainers as npm shows them, as of the last rebuild; `None` when the
    /// gateway keeps none for it.
    pub fn listed(&self, package: &str) -> Option<serde_json::Value> {
        self.listed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(package)
            .cloned()
    }

    /// The index as of its last rebuild.
    pub fn index(&self) -> Arc<ImpactIndex> {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// An account's impact, as the engine reads it; `None` when it maintains nothing with reach.
    pub fn account(&self, account: &str) -> Option<req::Impact> {
        self.index().accounts.get(account).map(Figures::impact)
    }

    /// A package's figures.
    pub fn package(&self, package: &str) -> Option<Figures> {
        self.index().packages.get(package).copied()
    }

    /// Asks the background task to rebuild the index now (a publish, an import, an owner change).
    pub fn changed(&self) {
        self.changed.notify_one();
    }

    /// Waits until [`Impact::changed`] is called.
    pub async fn wait_changed(&self) {
        self.changed.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accumulate_per_package_and_day() {
        let imp = Impact::default();
        imp.count_download("a", 0);
        imp.count_download("a", DAY - 1);
        imp.count_download("a", DAY);
        assert_eq!(imp.unflushed(), 3);
        let p = imp.pending.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(p.get(&("a".to_owned(), 0)), Some(&2));
        assert_eq!(p.get(&("a".to_owned(), 1)), Some(&1));
    }

    #[test]
    fn rows_become_facts_core_ranks() {
        let rows = ImpactRows {
            downloads: vec![("a".into(), 3)],
            dependents: vec![("a".into(), 2)],
            imported: vec![("b".into(), 5, 9)],
            maintainers: vec![("a".into(), "alice".into()), ("b".into(), "alice".into())],
            emails: vec![("alice".into(), "alice@example.org".into())],
        };
        assert_eq!(
            listed(&rows).get("b"),
            Some(&serde_json::json!([{"name": "alice", "email": "alice@example.org"}]))
        );
        let i = index(&facts(&rows));
        assert_eq!(
            i.accounts.get("alice"),
            Some(&Figures {
                weekly_downloads: 5,
                dependents: 9,
                dependents_rank: Some(1)
            })
        );
    }
}

/// What a rebuild of the dependents index read.
#[derive(Debug, Default, serde::Serialize)]
pub struct Rebuilt {
    /// Package documents read.
    pub read: usize,
    /// Packages the upstream does not have (their dependencies are dropped).
    pub missing: Vec<String>,
    /// Packages whose document could not be read (private ones the upstream keeps from
    /// anonymous readers, say), with why; what the index had for them stays.
    pub failed: Vec<(String, String)>,
}

/// Rebuilds the dependents index from the upstream's package documents: each package the
/// gateway knows of, and `extra`, read anonymously (what everyone may depend on), its `latest`
/// manifest's dependencies replacing what the index had. Publishes that reached the upstream
/// without passing the gateway are counted this way. One package at a time: an operator's
/// occasional request should not load the registry behind.
pub async fn rebuild_dependencies(
    store: &Store,
    upstream: &crate::upstream::Upstream,
    extra: &[String],
) -> Result<Rebuilt, ServeError> {
    let mut names = store.known_packages().await?;
    names.extend(extra.iter().cloned());
    names.sort();
    names.dedup();
    let mut out = Rebuilt::default();
    for name in names {
        match upstream.packument(&name, None).await {
            Ok(Some(doc)) => {
                out.read += 1;
                if let Some(deps) = stepup_core::registry::impact::latest_dependencies(&doc) {
                    store.set_dependencies(&name, &deps).await?;
                }
            }
            Ok(None) => {
                store.set_dependencies(&name, &[]).await?;
                out.missing.push(name);
            }
            Err(e) => out.failed.push((name, e.to_string())),
        }
    }
    Ok(out)
}
