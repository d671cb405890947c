//! Security keys (WebAuthn credentials) and their pending challenges, each claimed once.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::Store;
use super::recovery_codes::replace_recovery_codes;
use crate::error::ServeError;

/// A registered security key, as the engine takes it back (`secrets.webauthn.credentials`).
#[derive(Clone, Debug)]
pub struct KeyRow {
    /// Credential ID, base64url.
    pub id: String,
    /// COSE public key, base64url.
    pub public_key: String,
    /// Last signature counter seen.
    pub sign_count: i64,
}

impl sqlx::FromRow<'_, AnyRow> for KeyRow {
    fn from_row(r: &AnyRow) -> Result<KeyRow, sqlx::Error> {
        Ok(KeyRow {
            id: r.try_get("id")?,
            public_key: r.try_get("public_key")?,
            sign_count: r.try_get("sign_count")?,
        })
    }
}

/// A registered key as its owner sees it: enough to tell keys apart, nothing secret.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KeyInfo {
    /// Credential ID, base64url.
    pub id: String,
    /// Signature algorithm (`ES256`, `EdDSA`, `RS256`).
    pub alg: String,
    /// Unix seconds when it was registered.
    pub created: i64,
    /// Signatures the key has reported (its counter; 0 for keys that keep none).
    pub sign_count: i64,
}

/// What removing a key came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Removal {
    /// The key is gone.
    Removed,
    /// The account has no key with that ID.
    NotFound,
    /// It is the account's only second factor: removing it would turn 2FA off, which is
    /// `npm profile disable-2fa`'s decision, not a key page's.
    LastFactor,
}

impl Store {
    /// The account's security keys, oldest first.
    pub async fn security_key_list(&self, name: &str) -> Result<Vec<KeyInfo>, ServeError> {
        let rows = sqlx::query("SELECT id, alg, created, sign_count FROM webauthn_credentials WHERE account = $1 ORDER BY created, id")
            .bind(name)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyInfo {
                    id: r.try_get("id")?,
                    alg: r.try_get("alg")?,
                    created: r.try_get("created")?,
                    sign_count: r.try_get("sign_count")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(ServeError::from)
    }

    /// Removes one of the account's keys unless it is the account's last second factor (no
    /// TOTP and no other key). The account row is locked first so two removals at once cannot
    /// each see the other key and leave none.
    pub async fn remove_security_key(&self, name: &str, id: &str) -> Result<Removal, ServeError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE accounts SET name = name WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let totp: Option<Option<String>> =
            sqlx::query_scalar("SELECT totp_secret FROM accounts WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let totp = totp.flatten().is_some();
        let keys: Vec<String> =
            sqlx::query_scalar("SELECT id FROM webauthn_credentials WHERE account = $1")
                .bind(name)
                .fetch_all(&mut *tx)
                .await?;
        if !keys.iter().any(|k| k == id) {
            return Ok(Removal::NotFound);
        }
        if !totp && keys.len() == 1 {
            return Ok(Removal::LastFactor);
        }
        sqlx::query("DELETE FROM webauthn_credentials WHERE account = $1 AND id = $2")
            .bind(name)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Removal::Removed)
    }

    /// The account's security keys.
    pub async fn security_keys(&self, name: &str) -> Result<Vec<KeyRow>, ServeError> {
        Ok(sqlx::query_as::<_, KeyRow>("SELECT id, public_key, sign_count FROM webauthn_credentials WHERE account = $1 ORDER BY created, id")
            .bind(name)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Registers a security key and, for an account without 2FA, turns 2FA on
    /// (`auth-and-writes`, as npm does when the first key is added) with `codes` as its
    /// recovery codes. `None` if the key exists, else whether 2FA was turned on.
    pub async fn add_security_key(
        &self,
        name: &str,
        key: &KeyRow,
        alg: &str,
        codes: &[(String, String)],
        now: i64,
    ) -> Result<Option<bool>, ServeError> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("INSERT INTO webauthn_credentials (id, account, public_key, sign_count, alg, created) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING")
            .bind(&key.id)
            .bind(name)
            .bind(&key.public_key)
            .bind(key.sign_count)
            .bind(alg)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() != 1 {
            return Ok(None);
        }
        let on = sqlx::query(
            "UPDATE accounts SET tfa_mode = 'auth-and-writes' WHERE name = $1 AND tfa_mode IS NULL",
        )
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if on {
            replace_recovery_codes(&mut tx, name, codes).await?;
        }
        tx.commit().await?;
        Ok(Some(on))
    }

    /// Stores a pending WebAuthn challenge (`register` or `assert`), replacing the previous.
    pub async fn put_challenge(
        &self,
        name: &str,
        purpose: &str,
        challenge: &str,
        expires: i64,
    ) -> Result<(), ServeError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM webauthn_challenges WHERE account = $1 AND purpose = $2")
            .bind(name)
            .bind(purpose)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO webauthn_challenges (account, purpose, challenge, expires) VALUES ($1, $2, $3, $4)")
            .bind(name)
            .bind(purpose)
            .bind(challenge)
            .bind(expires)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The pending challenge: `(challenge, expires)`.
    pub async fn challenge(
        &self,
        name: &str,
        purpose: &str,
    ) -> Result<Option<(String, i64)>, ServeError> {
        let row = sqlx::query(
            "SELECT challenge, expires FROM webauthn_challenges WHERE account = $1 AND purpose = $2",
        )
        .bind(name)
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| -> Result<_, sqlx::Error> {
            Ok((r.try_get("challenge")?, r.try_get("expires")?))
        })
        .transpose()
        .map_err(ServeError::from)
    }

    /// Deletes the pending challenge if it is still `challenge`; `true` for the one caller that
    /// did (a challenge answers once).
    pub async fn take_challenge(
        &self,
        name: &str,
        purpose: &str,
        challenge: &str,
    ) -> Result<bool, ServeError> {
        let r = sqlx::query("DELETE FROM webauthn_challenges WHERE account = $1 AND purpose = $2 AND challenge = $3")
            .bind(name)
            .bind(purpose)
            .bind(challenge)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
