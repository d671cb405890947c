//! Package facts the gate keeps: publishing access, maintainers, trusted publishers, and the
//! OIDC token ids already exchanged.

use sqlx::Row;

use super::{Store, opt_str};
use crate::error::ServeError;

impl Store {
    /// Replaces a package's trusted publishers (the `npm trust` array), remembering who set
    /// them and that account's sealed upstream credential, which trusted publishes then use.
    pub async fn set_trust(
        &self,
        package: &str,
        config: &str,
        account: &str,
        upstream: Option<&str>,
        now: i64,
    ) -> Result<(), ServeError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM trust WHERE package = $1")
            .bind(package)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO trust (package, config, account, upstream, updated) VALUES ($1, $2, $3, $4, $5)")
            .bind(package)
            .bind(config)
            .bind(account)
            .bind(upstream)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A package's trusted publishers: `(config, account, sealed upstream credential)`.
    pub async fn trust(
        &self,
        package: &str,
    ) -> Result<Option<(String, String, Option<String>)>, ServeError> {
        let row = sqlx::query("SELECT config, account, upstream FROM trust WHERE package = $1")
            .bind(package)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| -> Result<_, sqlx::Error> {
            Ok((
                r.try_get("config")?,
                r.try_get("account")?,
                opt_str(&r, "upstream")?,
            ))
        })
        .transpose()
        .map_err(ServeError::from)
    }

    /// Records that `account` published `package` through this gateway (upstream registries
    /// such as Verdaccio 6 keep no maintainer list of their own).
    pub async fn add_maintainer(&self, package: &str, account: &str) -> Result<(), ServeError> {
        sqlx::query("INSERT INTO maintainers (package, account) VALUES ($1, $2) ON CONFLICT (package, account) DO NOTHING")
            .bind(package)
            .bind(account)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The maintainers the gateway keeps for `package`, with their profile e-mail, by name.
    pub async fn maintainers(&self, package: &str) -> Result<Vec<(String, String)>, ServeError> {
        let rows = self
            .read_all(|| {
                sqlx::query(
                    "SELECT m.account AS account, COALESCE(a.email, '') AS email FROM maintainers m \
                     LEFT JOIN accounts a ON a.name = m.account WHERE m.package = $1 ORDER BY m.account",
                )
                .bind(package)
            })
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("account")?, r.try_get("email")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(ServeError::from)
    }

    /// Replaces `package`'s maintainers (an owner change), in one transaction.
    pub async fn set_maintainers(
        &self,
        package: &str,
        accounts: &[String],
    ) -> Result<(), ServeError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM maintainers WHERE package = $1")
            .bind(package)
            .execute(&mut *tx)
            .await?;
        for a in accounts {
            sqlx::query("INSERT INTO maintainers (package, account) VALUES ($1, $2)")
                .bind(package)
                .bind(a)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks an ID token's `jti` used until `until`; `false` when it already was (a replay).
    pub async fn claim_jti(&self, jti: &str, until: i64) -> Result<bool, ServeError> {
        let r = sqlx::query(
            "INSERT INTO oidc_jtis (jti, until) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// A package's publishing-access setting.
    pub async fn package_access(&self, name: &str) -> Result<Option<String>, ServeError> {
        let row = sqlx::query("SELECT publishing_access FROM packages WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("publishing_access"))
            .transpose()
            .map_err(ServeError::from)
    }

    /// Sets a package's publishing-access setting.
    pub async fn set_package_access(&self, name: &str, access: &str) -> Result<(), ServeError> {
        sqlx::query("INSERT INTO packages (name, publishing_access) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET publishing_access = $2")
            .bind(name)
            .bind(access)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
