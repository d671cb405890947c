//! Accounts: 2FA mode and TOTP secret (sealed), the last accepted TOTP step, a pending
//! enrolment, the emailed code (sealed), the read-only safeguard and the profile.

use sqlx::any::AnyRow;

use super::recovery_codes::replace_recovery_codes;
use super::{Columns, Store, opt_i64, opt_str, req_i64, req_str};
use crate::error::ServeError;

/// An account's row.
#[derive(Clone, Debug, Default)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// `auth-only` / `auth-and-writes`, or `None` without 2FA.
    pub tfa_mode: Option<String>,
    /// The TOTP secret, sealed.
    pub totp_secret: Option<String>,
    /// The last accepted TOTP step.
    pub last_step: Option<i64>,
    /// An enrolment waiting for its first code: mode and sealed secret.
    pub pending: Option<(String, String)>,
    /// End of the read-only safeguard.
    pub safeguard_until: Option<i64>,
    /// A pending emailed login code's record (JSON, hashed).
    pub email_code: Option<String>,
    /// Profile e-mail.
    pub email: String,
    /// Profile full name.
    pub fullname: String,
    /// Unix seconds.
    pub created: i64,
    /// How many security keys (WebAuthn credentials) are registered.
    pub security_keys: i64,
}

impl sqlx::FromRow<'_, AnyRow> for Account {
    fn from_row(r: &AnyRow) -> Result<Account, sqlx::Error> {
        Account::from_columns(r)
    }
}

impl Account {
    /// The account in a row's columns (of sqlx or of a local reader).
    pub(super) fn from_columns(r: &(impl Columns + ?Sized)) -> Result<Account, sqlx::Error> {
        let pending = match (opt_str(r, "pending_mode")?, opt_str(r, "pending_secret")?) {
            (Some(m), Some(s)) => Some((m, s)),
            _ => None,
        };
        Ok(Account {
            name: req_str(r, "name")?,
            tfa_mode: opt_str(r, "tfa_mode")?,
            totp_secret: opt_str(r, "totp_secret")?,
            last_step: opt_i64(r, "last_step")?,
            pending,
            safeguard_until: opt_i64(r, "safeguard_until")?,
            email_code: opt_str(r, "email_code")?,
            email: req_str(r, "email")?,
            fullname: req_str(r, "fullname")?,
            created: req_i64(r, "created")?,
            security_keys: req_i64(r, "security_keys")?,
        })
    }
}

impl Store {
    /// The account, if it has ever logged in.
    pub async fn account(&self, name: &str) -> Result<Option<Account>, ServeError> {
        Ok(sqlx::query_as::<_, Account>("SELECT name, tfa_mode, totp_secret, last_step, pending_mode, pending_secret, safeguard_until, email_code, email, fullname, created, (SELECT COUNT(*) FROM webauthn_credentials w WHERE w.account = accounts.name) AS security_keys FROM accounts WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The account, created at first use. Only a first use writes: the lookup comes first, so
    /// the hot path of an existing account is read-only.
    pub async fn account_or_create(&self, name: &str, now: i64) -> Result<Account, ServeError> {
        if let Some(a) = self.account(name).await? {
            return Ok(a);
        }
        sqlx::query(
            "INSERT INTO accounts (name, created) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.account(name)
            .await?
            .ok_or_else(|| ServeError::Store(format!("account {name} vanished")))
    }

    /// Profile fields.
    pub async fn set_profile(
        &self,
        name: &str,
        email: &str,
        fullname: &str,
    ) -> Result<(), ServeError> {
        sqlx::query("UPDATE accounts SET email = $1, fullname = $2 WHERE name = $3")
            .bind(email)
            .bind(fullname)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores a freshly issued emailed login code (replacing any earlier one).
    pub async fn set_email_code(&self, name: &str, record: &str) -> Result<(), ServeError> {
        sqlx::query("UPDATE accounts SET email_code = $1 WHERE name = $2")
            .bind(record)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces the emailed code's record `old` by `new` (`None` = used up); `false` = another
    /// request changed it first.
    pub async fn swap_email_code(
        &self,
        name: &str,
        old: &str,
        new: Option<&str>,
    ) -> Result<bool, ServeError> {
        let r =
            sqlx::query("UPDATE accounts SET email_code = $1 WHERE name = $2 AND email_code = $3")
                .bind(new)
                .bind(name)
                .bind(old)
                .execute(&self.pool)
                .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Starts (or extends) the read-only safeguard.
    pub async fn set_safeguard(&self, name: &str, until: i64) -> Result<(), ServeError> {
        sqlx::query("UPDATE accounts SET safeguard_until = $1 WHERE name = $2")
            .bind(until)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Starts an enrolment: the sealed secret waits for its first code.
    pub async fn set_pending(
        &self,
        name: &str,
        mode: &str,
        sealed: &str,
    ) -> Result<(), ServeError> {
        sqlx::query("UPDATE accounts SET pending_mode = $1, pending_secret = $2 WHERE name = $3")
            .bind(mode)
            .bind(sealed)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Finishes an enrolment: 2FA on, first step consumed, recovery codes replaced, in one
    /// transaction. `false` = the pending enrolment was already finished or replaced.
    pub async fn enable_tfa(
        &self,
        name: &str,
        pending_sealed: &str,
        step: i64,
        codes: &[(String, String)],
    ) -> Result<bool, ServeError> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("UPDATE accounts SET tfa_mode = pending_mode, totp_secret = pending_secret, last_step = $1, pending_mode = NULL, pending_secret = NULL WHERE name = $2 AND pending_secret = $3")
            .bind(step)
            .bind(name)
            .bind(pending_sealed)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        replace_recovery_codes(&mut tx, name, codes).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Changes the 2FA mode of an account that has 2FA.
    pub async fn set_mode(&self, name: &str, mode: &str) -> Result<(), ServeError> {
        sqlx::query("UPDATE accounts SET tfa_mode = $1 WHERE name = $2 AND tfa_mode IS NOT NULL")
            .bind(mode)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Turns 2FA off: secret, pending enrolment and recovery codes go. `false` (nothing
    /// changed) when an org the account belongs to requires 2FA: the decision that allowed it
    /// read the orgs before an enforcement turned on, and the orgs' rows, written first here
    /// as enforcement writes them, order the two.
    pub async fn disable_tfa(&self, name: &str) -> Result<bool, ServeError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE orgs SET enforce_tfa = enforce_tfa WHERE name IN (SELECT org FROM org_members WHERE account = $1 AND accepted = 1)")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let enforcing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_members m JOIN orgs o ON o.name = m.org WHERE m.account = $1 AND m.accepted = 1 AND o.enforce_tfa = 1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        if enforcing > 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE accounts SET tfa_mode = NULL, totp_secret = NULL, last_step = NULL, pending_mode = NULL, pending_secret = NULL WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE account = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM webauthn_credentials WHERE account = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
