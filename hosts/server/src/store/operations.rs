//! The one-code-one-operation window (SPEC §9.5): which canonical requests an accepted code
//! has already served.

use sqlx::Row;

use super::Store;
use crate::error::ServeError;

impl Store {
    /// Remembers that a code was accepted for one request of a multi-request npm operation.
    pub async fn remember_operation(
        &self,
        name: &str,
        op: &str,
        code_hash: &str,
        request: &str,
        until: i64,
    ) -> Result<(), ServeError> {
        // Uses are keyed by their code: a second code opening the window never erases what the
        // first one already served (which would let the first be accepted again).
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO operations (account, op, code_hash, until) VALUES ($1, $2, $3, $4) ON CONFLICT (account, op) DO UPDATE SET code_hash = $3, until = $4")
            .bind(name)
            .bind(op)
            .bind(code_hash)
            .bind(until)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO operation_uses (account, op, code_hash, request) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(op)
            .bind(code_hash)
            .bind(request)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether `code_hash` was accepted for another request of the same operation within its
    /// window; claims this request atomically, so each request of an operation passes once.
    pub async fn claim_operation(
        &self,
        name: &str,
        op: &str,
        code_hash: &str,
        request: &str,
        now: i64,
    ) -> Result<bool, ServeError> {
        let row = sqlx::query(
            "SELECT code_hash FROM operations WHERE account = $1 AND op = $2 AND until > $3",
        )
        .bind(name)
        .bind(op)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(false) };
        let stored: String = r.try_get("code_hash")?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            stored.as_bytes(),
            code_hash.as_bytes(),
        )) {
            return Ok(false);
        }
        let ins = sqlx::query("INSERT INTO operation_uses (account, op, code_hash, request) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(op)
            .bind(code_hash)
            .bind(request)
            .execute(&self.pool)
            .await?;
        Ok(ins.rows_affected() == 1)
    }
}
