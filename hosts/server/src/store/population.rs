//! The whole population at once, for the rollout simulator: every account with its 2FA state,
//! every org with its members, every package's publishing access.

use sqlx::Row;

use super::{Account, Store};
use crate::error::ServeError;

/// What the simulator reads besides impact.
#[derive(Debug, Default)]
pub struct PopulationRows {
    /// Every account the gateway keeps.
    pub accounts: Vec<Account>,
    /// `(org, enforces 2FA)`.
    pub orgs: Vec<(String, bool)>,
    /// `(org, account)`.
    pub members: Vec<(String, String)>,
    /// `(package, publishing access)` where one was set.
    pub access: Vec<(String, String)>,
}

impl Store {
    /// Reads the population in four statements.
    pub async fn population_rows(&self) -> Result<PopulationRows, ServeError> {
        let accounts = sqlx::query_as::<_, Account>("SELECT name, tfa_mode, totp_secret, last_step, pending_mode, pending_secret, safeguard_until, email_code, email, fullname, created, (SELECT COUNT(*) FROM webauthn_credentials w WHERE w.account = accounts.name) AS security_keys FROM accounts ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        let orgs = sqlx::query("SELECT name, enforce_tfa FROM orgs ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get::<i64, _>("enforce_tfa")? != 0)))
            .collect::<Result<_, sqlx::Error>>()?;
        let members = sqlx::query(
            "SELECT org, account FROM org_members WHERE accepted = 1 ORDER BY org, account",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("org")?, r.try_get("account")?)))
        .collect::<Result<_, sqlx::Error>>()?;
        let access = sqlx::query("SELECT name, publishing_access FROM packages ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("publishing_access")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(PopulationRows {
            accounts,
            orgs,
            members,
            access,
        })
    }
}
