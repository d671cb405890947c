//! Recovery-code records: salted hashes (sealed), each burned by one conditional delete.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::Store;
use crate::error::ServeError;

/// A stored recovery-code record (salted hash) and its stable index.
#[derive(Clone, Debug)]
pub struct CodeRow {
    /// Stable index within the account's set.
    pub idx: i64,
    /// Hex salt.
    pub salt: String,
    /// Hex SHA-256.
    pub hash: String,
}

impl sqlx::FromRow<'_, AnyRow> for CodeRow {
    fn from_row(r: &AnyRow) -> Result<CodeRow, sqlx::Error> {
        Ok(CodeRow {
            idx: r.try_get("idx")?,
            salt: r.try_get("salt")?,
            hash: r.try_get("hash")?,
        })
    }
}

/// Replaces an account's recovery codes inside a transaction (regenerating invalidates all).
pub(super) async fn replace_recovery_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    name: &str,
    codes: &[(String, String)],
) -> Result<(), ServeError> {
    sqlx::query("DELETE FROM recovery_codes WHERE account = $1")
        .bind(name)
        .execute(&mut **tx)
        .await?;
    for (i, (salt, hash)) in codes.iter().enumerate() {
        sqlx::query(
            "INSERT INTO recovery_codes (account, idx, salt, hash) VALUES ($1, $2, $3, $4)",
        )
        .bind(name)
        .bind(i64::try_from(i).unwrap_or(i64::MAX))
        .bind(salt)
        .bind(hash)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store {
    /// The account's unused recovery codes, in index order.
    pub async fn recovery_codes(&self, name: &str) -> Result<Vec<CodeRow>, ServeError> {
        Ok(sqlx::query_as::<_, CodeRow>(
            "SELECT idx, salt, hash FROM recovery_codes WHERE account = $1 ORDER BY idx",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?)
    }
}
