//! Package impact as the registry sees it: tarball downloads per package per UTC day, the
//! dependencies each package's latest manifest names (whose reverse is the dependents index),
//! and figures an operator imported. The gateway reads them all at once into its impact index
//! (`crate::impact`), never per request.

use sqlx::Row;

use super::Store;
use crate::error::ServeError;

/// Everything the impact index is built from, read in one pass.
#[derive(Clone, Debug, Default)]
pub struct ImpactRows {
    /// `(package, downloads over the requested days)`.
    pub downloads: Vec<(String, i64)>,
    /// `(package, how many packages depend on it)`.
    pub dependents: Vec<(String, i64)>,
    /// `(package, weekly downloads, dependents)` as imported.
    pub imported: Vec<(String, i64, i64)>,
    /// `(package, account)` for every maintainer the gateway keeps, by package then account.
    pub maintainers: Vec<(String, String)>,
    /// `(account, profile e-mail)` of every account in `maintainers` (empty when it has none).
    pub emails: Vec<(String, String)>,
}

/// An imported figure for one package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedImpact {
    /// Package name.
    pub package: String,
    /// Downloads in a week.
    pub weekly_downloads: i64,
    /// Packages depending on it.
    pub dependents: i64,
}

impl Store {
    /// Adds counted downloads, `(package, day, count)`, in one transaction: a batch lands whole
    /// or not at all, so a failed flush can be retried without counting twice.
    pub async fn add_downloads(&self, batch: &[(String, i64, i64)]) -> Result<(), ServeError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (package, day, count) in batch {
            sqlx::query(
                "INSERT INTO downloads (package, day, count) VALUES ($1, $2, $3) \
                 ON CONFLICT (package, day) DO UPDATE SET count = downloads.count + excluded.count",
            )
            .bind(package)
            .bind(day)
            .bind(count)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Downloads of one package on days `from..to` (UTC day numbers).
    pub async fn downloads(&self, package: &str, from: i64, to: i64) -> Result<i64, ServeError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) AS n FROM downloads \
             WHERE package = $1 AND day >= $2 AND day < $3",
        )
        .bind(package)
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Replaces the dependencies `package` declares (its latest manifest's).
    pub async fn set_dependencies(
        &self,
        package: &str,
        dependencies: &[String],
    ) -> Result<(), ServeError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM dependencies WHERE package = $1")
            .bind(package)
            .execute(&mut *tx)
            .await?;
        for d in dependencies {
            sqlx::query(
                "INSERT INTO dependencies (package, dependency) VALUES ($1, $2) \
                 ON CONFLICT (package, dependency) DO NOTHING",
            )
            .bind(package)
            .bind(d)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every package name the gateway has a fact about: maintained, downloaded, depending or
    /// depended upon, imported.
    pub async fn known_packages(&self) -> Result<Vec<String>, ServeError> {
        let rows = sqlx::query(
            "SELECT package AS name FROM maintainers UNION SELECT package FROM downloads \
             UNION SELECT package FROM dependencies UNION SELECT dependency FROM dependencies \
             UNION SELECT package FROM impact_imports ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("name"))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(ServeError::from)
    }

    /// Stores imported figures; `replace` drops every earlier import first. One transaction.
    pub async fn import_impact(
        &self,
        rows: &[ImportedImpact],
        replace: bool,
        now: i64,
    ) -> Result<(), ServeError> {
        let mut tx = self.pool.begin().await?;
        if replace {
            sqlx::query("DELETE FROM impact_imports")
                .execute(&mut *tx)
                .await?;
        }
        for r in rows {
            sqlx::query(
                "INSERT INTO impact_imports (package, weekly_downloads, dependents, imported) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (package) DO UPDATE SET \
                 weekly_downloads = excluded.weekly_downloads, dependents = excluded.dependents, \
                 imported = excluded.imported",
            )
            .bind(&r.package)
            .bind(r.weekly_downloads)
            .bind(r.dependents)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What the impact index is built from; downloads summed over days `from..to`.
    pub async fn impact_rows(&self, from: i64, to: i64) -> Result<ImpactRows, ServeError> {
        let pairs = |rows: Vec<sqlx::any::AnyRow>, a: &str, b: &str| {
            rows.iter()
                .map(|r| Ok((r.try_get::<String, _>(a)?, r.try_get::<i64, _>(b)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
        };
        let downloads = sqlx::query(
            "SELECT package, CAST(SUM(count) AS BIGINT) AS n FROM downloads \
             WHERE day >= $1 AND day < $2 GROUP BY package",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let dependents = sqlx::query(
            "SELECT dependency, CAST(COUNT(*) AS BIGINT) AS n FROM dependencies GROUP BY dependency",
        )
        .fetch_all(&self.pool)
        .await?;
        let imported =
            sqlx::query("SELECT package, weekly_downloads, dependents FROM impact_imports")
                .fetch_all(&self.pool)
                .await?;
        let maintainers = sqlx::query(
            "SELECT m.package AS package, m.account AS account, COALESCE(a.email, '') AS email \
             FROM maintainers m LEFT JOIN accounts a ON a.name = m.account ORDER BY m.package, m.account",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut emails = maintainers
            .iter()
            .map(|r| Ok((r.try_get("account")?, r.try_get("email")?)))
            .collect::<Result<Vec<(String, String)>, sqlx::Error>>()?;
        emails.sort();
        emails.dedup();
        Ok(ImpactRows {
            downloads: pairs(downloads, "package", "n")?,
            dependents: pairs(dependents, "dependency", "n")?,
            imported: imported
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get("package")?,
                        r.try_get("weekly_downloads")?,
                        r.try_get("dependents")?,
                    ))
                })
                .collect::<Result<_, sqlx::Error>>()?,
            maintainers: maintainers
                .iter()
                .map(|r| Ok((r.try_get("package")?, r.try_get("account")?)))
                .collect::<Result<_, sqlx::Error>>()?,
            emails,
        })
    }

    /// Forgets download days before `day` (the index reads the last seven).
    pub async fn prune_downloads(&self, day: i64) -> Result<(), ServeError> {
        sqlx::query("DELETE FROM downloads WHERE day < $1")
            .bind(day)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
