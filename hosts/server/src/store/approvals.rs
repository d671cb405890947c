//! Browser approvals of one npm operation (web OTP), each request served once.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, opt_i64};
use crate::error::ServeError;

/// A browser approval of one npm operation (web OTP).
#[derive(Clone, Debug)]
pub struct Approval {
    /// Random id (also the web-login id whose `doneUrl` hands the token to the CLI).
    pub id: String,
    /// The account.
    pub account: String,
    /// `npm-command package`, as in the operation window.
    pub op: String,
    /// The SPEC action JSON being approved.
    pub action: String,
    /// The SPEC credential JSON the request presented.
    pub credential: String,
    /// Unix seconds.
    pub expires: i64,
}

impl sqlx::FromRow<'_, AnyRow> for Approval {
    fn from_row(r: &AnyRow) -> Result<Approval, sqlx::Error> {
        Ok(Approval {
            id: r.try_get("id")?,
            account: r.try_get("account")?,
            op: r.try_get("op")?,
            action: r.try_get("action")?,
            credential: r.try_get("credential")?,
            expires: r.try_get("expires")?,
        })
    }
}

impl Store {
    /// Records a pending browser approval of one npm operation (npm's web OTP flow).
    pub async fn create_approval(&self, a: &Approval) -> Result<(), ServeError> {
        sqlx::query("INSERT INTO approvals (id, account, op, action, credential, expires) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&a.id)
            .bind(&a.account)
            .bind(&a.op)
            .bind(&a.action)
            .bind(&a.credential)
            .bind(a.expires)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A pending (not yet approved, not expired) approval.
    pub async fn pending_approval(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<Approval>, ServeError> {
        Ok(sqlx::query_as::<_, Approval>("SELECT id, account, op, action, credential, expires FROM approvals WHERE id = $1 AND expires > $2 AND token_hash IS NULL")
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Marks an approval approved with the hash of its one-time token; `false` if it already was.
    pub async fn approve(&self, id: &str, token_hash: &str, now: i64) -> Result<bool, ServeError> {
        let r = sqlx::query("UPDATE approvals SET token_hash = $2, approved_at = $3 WHERE id = $1 AND token_hash IS NULL")
            .bind(id)
            .bind(token_hash)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Spends an approval token on one request of its operation: the approval time, once per
    /// distinct request (npm retries each request of the command with the token).
    pub async fn use_approval(
        &self,
        account: &str,
        op: &str,
        token_hash: &str,
        request: &str,
        now: i64,
    ) -> Result<Option<i64>, ServeError> {
        let row = sqlx::query("SELECT id, approved_at FROM approvals WHERE account = $1 AND op = $2 AND token_hash = $3 AND expires > $4")
            .bind(account)
            .bind(op)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let id: String = r.try_get("id")?;
        let at = opt_i64(&r, "approved_at")?;
        let used = sqlx::query("INSERT INTO approval_uses (id, request) VALUES ($1, $2) ON CONFLICT (id, request) DO NOTHING")
            .bind(&id)
            .bind(request)
            .execute(&self.pool)
            .await?;
        Ok(at.filter(|_| used.rows_affected() == 1))
    }
}
