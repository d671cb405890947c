//! Failure times per account and per client address, for the engine's throttle.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::Store;
use crate::error::ServeError;

/// Failures older than this are never counted (the longest throttle window is a day).
pub(super) const FAILURE_HORIZON: i64 = 86_400;

impl Store {
    /// Records one failed code for the account and the client address.
    pub async fn record_failure(
        &self,
        name: Option<&str>,
        ip: Option<&str>,
        now: i64,
    ) -> Result<(), ServeError> {
        sqlx::query("INSERT INTO failures (account, ip, at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(ip)
            .bind(now)
            .execute(&self.pool)
            .await?;
        // Forget what no window can count any more.
        sqlx::query("DELETE FROM failures WHERE at < $1")
            .bind(now - FAILURE_HORIZON)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Failure times in the last day: for the account and for the address.
    pub async fn failures(
        &self,
        name: &str,
        ip: Option<&str>,
        now: i64,
    ) -> Result<(Vec<i64>, Vec<i64>), ServeError> {
        let since = now - FAILURE_HORIZON;
        let acct =
            sqlx::query("SELECT at FROM failures WHERE account = $1 AND at > $2 ORDER BY at")
                .bind(name)
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
        let addr = match ip {
            Some(ip) => {
                sqlx::query("SELECT at FROM failures WHERE ip = $1 AND at > $2 ORDER BY at")
                    .bind(ip)
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => Vec::new(),
        };
        let times = |rows: Vec<AnyRow>| -> Result<Vec<i64>, ServeError> {
            rows.iter()
                .map(|r| r.try_get::<i64, _>("at").map_err(ServeError::from))
                .collect()
        };
        Ok((times(acct)?, times(addr)?))
    }

    /// Forgets the account's failures (after a correct code).
    pub async fn clear_failures(&self, name: &str) -> Result<(), ServeError> {
        sqlx::query("DELETE FROM failures WHERE account = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
