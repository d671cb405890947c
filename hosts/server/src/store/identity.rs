//! The store's identity row (migration 0007): its id and the key check sealed at creation.

use sqlx::Row;

use super::Store;
use crate::error::ServeError;

impl Store {
    /// The store's id and key check, once given.
    pub async fn identity(&self) -> Result<Option<(String, String)>, ServeError> {
        let row = sqlx::query("SELECT store_id, key_check FROM identity WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("store_id")?, r.try_get("key_check")?)))
            .transpose()
    }

    /// Gives the store an identity unless it has one (two instances starting at once: the
    /// first wins) and answers the one it has.
    pub async fn claim_identity(
        &self,
        store_id: &str,
        key_check: &str,
    ) -> Result<(String, String), ServeError> {
        sqlx::query("INSERT INTO identity (id, store_id, key_check) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
            .bind(store_id)
            .bind(key_check)
            .execute(&self.pool)
            .await?;
        self.identity()
            .await?
            .ok_or_else(|| ServeError::Store("the store's identity row vanished".into()))
    }
}
