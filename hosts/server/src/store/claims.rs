//! Spending a proof: the conditional writes that use up a code, a recovery code or a security
//! key's challenge, run in one transaction — on their own, or together with the write the proof
//! pays for (a token), so a crash can never leave a code spent and its token missing — and the
//! transaction that gives them back when the request they paid for never reached the registry.

use sqlx::AnyConnection;

use super::{CodeRow, Store, TokenRow};
use crate::error::ServeError;

/// One conditional write that spends a proof; each loses (and the whole spend with it) when a
/// concurrent request spent the same proof first.
#[derive(Clone, Debug)]
pub enum Claim {
    /// The account's last used TOTP step moves forward.
    TotpStep {
        /// The step the accepted code was for.
        step: i64,
        /// The last used step before it (restored on giving back).
        before: Option<i64>,
    },
    /// One recovery code is burned (its row is kept here to give it back).
    RecoveryCode(CodeRow),
    /// The emailed login code is used up.
    EmailCode {
        /// Its sealed record, as stored.
        record: String,
    },
    /// The pending WebAuthn challenge is taken.
    Challenge {
        /// `assert` or `register`.
        purpose: &'static str,
        /// The challenge the assertion answered.
        challenge: String,
        /// When it expires (restored with it).
        expires: i64,
    },
    /// A security key's signature counter moves forward.
    SignCount {
        /// The credential id.
        id: String,
        /// The stored counter.
        old: i64,
        /// The counter the assertion carried.
        new: i64,
    },
}

/// What one accepted proof used up, so it can be given back: its claims and the rows of the
/// one-code-one-operation window it wrote (SPEC §9.5).
#[derive(Clone, Debug, Default)]
pub struct Spent {
    /// The conditional writes, in the order they were (or are to be) applied.
    pub claims: Vec<Claim>,
    /// The window's use of this request: `(op, code hash, request, opened)`, `opened` when
    /// this request opened the window (the first of its operation).
    pub operation: Option<(String, String, String, bool)>,
}

impl Spent {
    /// Whether nothing was used up.
    pub fn is_empty(&self) -> bool {
        self.claims.is_empty() && self.operation.is_none()
    }
}

/// Applies `claims` on `conn` (inside the caller's transaction); `false` = one was lost.
async fn apply(
    conn: &mut AnyConnection,
    account: &str,
    claims: &[Claim],
) -> Result<bool, ServeError> {
    for claim in claims {
        let q = match claim {
            Claim::TotpStep { step, .. } => sqlx::query("UPDATE accounts SET last_step = $1 WHERE name = $2 AND tfa_mode IS NOT NULL AND (last_step IS NULL OR last_step < $1)")
                .bind(*step)
                .bind(account),
            Claim::RecoveryCode(row) => {
                sqlx::query("DELETE FROM recovery_codes WHERE account = $1 AND idx = $2")
                    .bind(account)
                    .bind(row.idx)
            }
            Claim::EmailCode { record } => sqlx::query(
                "UPDATE accounts SET email_code = NULL WHERE name = $1 AND email_code = $2",
            )
            .bind(account)
            .bind(record.as_str()),
            Claim::Challenge {
                purpose, challenge, ..
            } => sqlx::query("DELETE FROM webauthn_challenges WHERE account = $1 AND purpose = $2 AND challenge = $3")
                .bind(account)
                .bind(*purpose)
                .bind(challenge.as_str()),
            Claim::SignCount { id, old, new } => sqlx::query(
                "UPDATE webauthn_credentials SET sign_count = $3 WHERE id = $1 AND sign_count = $2",
            )
            .bind(id.as_str())
            .bind(*old)
            .bind(*new),
        };
        if q.execute(&mut *conn).await?.rows_affected() != 1 {
            return Ok(false);
        }
    }
    Ok(true)
}

impl Store {
    /// Spends `claims` together; `false` (and nothing spent) when a concurrent request won one.
    pub async fn claim(&self, account: &str, claims: &[Claim]) -> Result<bool, ServeError> {
        if claims.is_empty() {
            return Ok(true);
        }
        let mut tx = self.pool.begin().await?;
        if !apply(&mut tx, account, claims).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Stores a token and spends the proof it was created with in one transaction; `false`
    /// (no token, nothing spent) when a concurrent request spent the proof first.
    pub async fn insert_token_claiming(
        &self,
        t: &TokenRow,
        session: bool,
        claims: &[Claim],
    ) -> Result<bool, ServeError> {
        let mut tx = self.pool.begin().await?;
        if !apply(&mut tx, &t.account, claims).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        super::tokens::insert(&mut tx, t, session).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Gives back what `spent` used up, in one transaction: the request it paid for never
    /// reached the registry, so the user's retry must find the code unused. Each restore is
    /// conditional on nothing having moved since, so giving back never undoes a later use.
    pub async fn give_back(&self, account: &str, spent: &Spent) -> Result<(), ServeError> {
        let mut tx = self.pool.begin().await?;
        for claim in spent.claims.iter().rev() {
            let q = match claim {
                Claim::TotpStep { step, before } => sqlx::query(
                    "UPDATE accounts SET last_step = $1 WHERE name = $2 AND last_step = $3",
                )
                .bind(*before)
                .bind(account)
                .bind(*step),
                Claim::RecoveryCode(row) => sqlx::query("INSERT INTO recovery_codes (account, idx, salt, hash) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                    .bind(account)
                    .bind(row.idx)
                    .bind(row.salt.as_str())
                    .bind(row.hash.as_str()),
                Claim::EmailCode { record } => sqlx::query(
                    "UPDATE accounts SET email_code = $1 WHERE name = $2 AND email_code IS NULL",
                )
                .bind(record.as_str())
                .bind(account),
                Claim::Challenge {
                    purpose,
                    challenge,
                    expires,
                } => sqlx::query("INSERT INTO webauthn_challenges (account, purpose, challenge, expires) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                    .bind(account)
                    .bind(*purpose)
                    .bind(challenge.as_str())
                    .bind(*expires),
                Claim::SignCount { id, old, new } => sqlx::query(
                    "UPDATE webauthn_credentials SET sign_count = $2 WHERE id = $1 AND sign_count = $3",
                )
                .bind(id.as_str())
                .bind(*old)
                .bind(*new),
            };
            q.execute(&mut *tx).await?;
        }
        if let Some((op, code_hash, request, opened)) = &spent.operation {
            sqlx::query("DELETE FROM operation_uses WHERE account = $1 AND op = $2 AND code_hash = $3 AND request = $4")
                .bind(account)
                .bind(op.as_str())
                .bind(code_hash.as_str())
                .bind(request.as_str())
                .execute(&mut *tx)
                .await?;
            if *opened {
                sqlx::query("DELETE FROM operations WHERE account = $1 AND op = $2 AND code_hash = $3 AND NOT EXISTS (SELECT 1 FROM operation_uses u WHERE u.account = $1 AND u.op = $2 AND u.code_hash = $3)")
                    .bind(account)
                    .bind(op.as_str())
                    .bind(code_hash.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
