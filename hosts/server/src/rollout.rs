//! The population the rollout simulator replays, read from the gateway's store: accounts with
//! their 2FA as decisions see it, the maintainers the gateway keeps, org membership and
//! enforcement, packages' publishing access, and impact from the same index decisions read —
//! so a simulation of today agrees with what the gateway answers today.

use std::collections::BTreeMap;

use stepup_core::contract::request::PublishingAccess;
use stepup_core::contract::time::Count;
use stepup_core::registry::impact::index;
use stepup_core::simulation::{AccountFacts, OrgFacts, PackageFacts, Population};

use crate::error::ServeError;
use crate::impact::{day_of, facts};
use crate::npm::decide::tfa_of;
use crate::store::Store;

/// Reads the population as of `now` (weekly downloads: the seven full days before it).
pub async fn population(store: &Store, now: i64) -> Result<Population, ServeError> {
    let rows = store.population_rows().await?;
    let today = day_of(now);
    let impact_rows = store.impact_rows(today - 7, today).await?;
    let figures = index(&facts(&impact_rows));

    let mut accounts: BTreeMap<String, AccountFacts> = BTreeMap::new();
    for a in &rows.accounts {
        accounts.insert(
            a.name.clone(),
            AccountFacts {
                id: a.name.clone(),
                tfa: tfa_of(a)?,
                orgs: Vec::new(),
            },
        );
    }
    // A maintainer or member who never logged in through the gateway has no 2FA here.
    fn ensure<'a>(
        accounts: &'a mut BTreeMap<String, AccountFacts>,
        name: &str,
    ) -> &'a mut AccountFacts {
        accounts
            .entry(name.to_owned())
            .or_insert_with(|| AccountFacts {
                id: name.to_owned(),
                tfa: None,
                orgs: Vec::new(),
            })
    }
    let mut maintainers: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (package, account) in &impact_rows.maintainers {
        ensure(&mut accounts, account);
        maintainers
            .entry(package.as_str())
            .or_default()
            .push(account.clone());
    }
    for (org, account) in &rows.members {
        ensure(&mut accounts, account).orgs.push(org.clone());
    }
    let access: BTreeMap<&str, PublishingAccess> = rows
        .access
        .iter()
        .map(|(p, a)| {
            PublishingAccess::from_name(a)
                .map(|a| (p.as_str(), a))
                .ok_or_else(|| ServeError::Store(format!("package {p}: unknown publishing access")))
        })
        .collect::<Result<_, _>>()?;
    // Every package the gateway knows of: those nobody here maintains still rank others.
    let mut names: Vec<&str> = figures.packages.keys().map(String::as_str).collect();
    names.extend(maintainers.keys().copied());
    names.extend(access.keys().copied());
    names.sort_unstable();
    names.dedup();
    let packages = names
        .into_iter()
        .map(|name| {
            let f = figures.packages.get(name).copied().unwrap_or_default();
            PackageFacts {
                name: name.to_owned(),
                maintainers: maintainers.remove(name).unwrap_or_default(),
                weekly_downloads: Count(f.weekly_downloads),
                dependents: Count(f.dependents),
                publishing_access: access.get(name).copied(),
            }
        })
        .collect();
    Ok(Population {
        accounts: accounts.into_values().collect(),
        packages,
        orgs: rows
            .orgs
            .into_iter()
            .map(|(name, enforce_tfa)| OrgFacts {
                name,
                enforce_tfa,
                enforce_from: None,
            })
            .collect(),
    })
}

/// Where the command line reads the population from: the server's own store.
#[derive(Clone, Debug, clap::Args)]
pub struct PopulationStore {
    /// The server's SQLite file (never created: a wrong path is an error, not an empty registry).
    #[arg(long, conflicts_with = "database_url")]
    pub db: Option<std::path::PathBuf>,
    /// The server's PostgreSQL URL.
    #[arg(long, env = "STEPUP_DATABASE_URL")]
    pub database_url: Option<String>,
}

/// [`population`] from a store named on the command line, outside a running server.
pub fn read_population(from: &PopulationStore, now: i64) -> Result<Population, ServeError> {
    let url = match (&from.database_url, &from.db) {
        (Some(u), _) => crate::store::StoreUrl::Postgres(u.clone()),
        (None, Some(path)) => {
            if !path.is_file() {
                return Err(ServeError::Io(format!(
                    "{}: no such store (give the file `stepup serve --db` uses)",
                    path.display()
                )));
            }
            crate::store::StoreUrl::Sqlite(path.display().to_string())
        }
        (None, None) => {
            return Err(ServeError::Io(
                "name the store: --db FILE or --database-url URL".into(),
            ));
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ServeError::Io(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let store = crate::store::Store::open(&url).await?;
        let population = population(&store, now).await;
        store.close().await;
        population
    })
}
