//! Pending browser logins (`npm login --auth-type=web`).

use super::{Store, opt_str};
use crate::error::ServeError;

impl Store {
    /// Opens a web login waiting for the browser.
    pub async fn create_web_login(&self, id: &str, expires: i64) -> Result<(), ServeError> {
        sqlx::query("INSERT INTO web_logins (id, expires) VALUES ($1, $2)")
            .bind(id)
            .bind(expires)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// `None` = unknown or expired; `Some(None)` = waiting; `Some(Some(sealed token))` = done.
    pub async fn web_login(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<Option<String>>, ServeError> {
        let row = sqlx::query("SELECT token FROM web_logins WHERE id = $1 AND expires > $2")
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| opt_str(&r, "token"))
            .transpose()
            .map_err(ServeError::from)
    }

    /// Completes a waiting web login with the minted token (sealed); `false` if not waiting.
    pub async fn complete_web_login(
        &self,
        id: &str,
        sealed: &str,
        now: i64,
    ) -> Result<bool, ServeError> {
        let r = sqlx::query(
            "UPDATE web_logins SET token = $1 WHERE id = $2 AND token IS NULL AND expires > $3",
        )
        .bind(sealed)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Hands the token out once: deletes the finished login and says whether this call did.
    pub async fn take_web_login(&self, id: &str) -> Result<bool, ServeError> {
        let r = sqlx::query("DELETE FROM web_logins WHERE id = $1 AND token IS NOT NULL")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
