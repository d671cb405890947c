//! Orgs the gateway keeps: members and roles, teams, 2FA enforcement, and each member's 2FA
//! state and last login for the org audit.

use sqlx::Row;

use super::{Store, opt_i64, opt_str};
use crate::error::ServeError;

/// One org member as the audit shows them.
#[derive(Clone, Debug)]
pub struct MemberRow {
    /// Account name.
    pub account: String,
    /// `owner`, `admin` or `developer`.
    pub role: String,
    /// The account's 2FA mode, `None` without 2FA (or never seen by the gateway).
    pub tfa_mode: Option<String>,
    /// Whether an authenticator app is enrolled.
    pub totp: bool,
    /// Security keys registered.
    pub security_keys: i64,
    /// Unix seconds of the last login through the gateway.
    pub last_login: Option<i64>,
    /// The account's address (for mail).
    pub email: String,
    /// `false` while the account is only invited: another member added it and it has not
    /// accepted. An invited account is no member for decisions, roles or enforcement, and the
    /// audit shows nothing about it but its name and role.
    pub accepted: bool,
}

/// What setting a member did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberSet {
    /// Done; `true` when the org was created by it.
    Done(bool),
    /// `create_only`, and the org existed by then.
    Taken,
    /// It would have left the org without an owner who accepted (a concurrent change took
    /// the other owner): nothing changed.
    LastOwner,
}

/// What accepting an org invitation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acceptance {
    /// The account is now a member.
    Joined,
    /// There was no pending invitation for it.
    NotInvited,
    /// The org requires 2FA and the account has none: the invitation stays.
    NeedsTfa,
}

impl Store {
    /// Whether the org exists and, if so, whether it enforces 2FA.
    pub async fn org(&self, org: &str) -> Result<Option<bool>, ServeError> {
        let row = sqlx::query("SELECT enforce_tfa FROM orgs WHERE name = $1")
            .bind(org)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>("enforce_tfa"))
            .transpose()?
            .map(|v| v != 0))
    }

    /// The orgs an account belongs to, with each one's enforcement (what decisions read).
    pub async fn orgs_of(&self, account: &str) -> Result<Vec<(String, bool)>, ServeError> {
        let rows = sqlx::query("SELECT o.name, o.enforce_tfa FROM org_members m JOIN orgs o ON o.name = m.org WHERE m.account = $1 AND m.accepted = 1 ORDER BY o.name")
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get::<i64, _>("enforce_tfa")? != 0)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(ServeError::from)
    }

    /// The org's members with their 2FA state, by name.
    pub async fn org_members(&self, org: &str) -> Result<Vec<MemberRow>, ServeError> {
        let rows = sqlx::query(
            "SELECT m.account, m.role, m.accepted, a.tfa_mode, a.totp_secret, a.last_login, COALESCE(a.email, '') AS email, \
             (SELECT COUNT(*) FROM webauthn_credentials w WHERE w.account = m.account) AS security_keys \
             FROM org_members m LEFT JOIN accounts a ON a.name = m.account WHERE m.org = $1 ORDER BY m.account",
        )
        .bind(org)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MemberRow {
                    account: r.try_get("account")?,
                    role: r.try_get("role")?,
                    tfa_mode: opt_str(r, "tfa_mode")?,
                    totp: opt_str(r, "totp_secret")?.is_some(),
                    security_keys: r.try_get("security_keys")?,
                    last_login: opt_i64(r, "last_login")?,
                    email: r.try_get("email")?,
                    accepted: r.try_get::<i64, _>("accepted")? != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(ServeError::from)
    }

    /// Adds `account` to the org with `role` (or changes its role, keeping whether it accepted),
    /// creating the org when it does not exist yet. A new member is `accepted` only when it adds
    /// itself; anyone else is invited. With `create_only` (an account making itself the owner
    /// of a new org) nothing happens when the org exists by then: two accounts creating one org
    /// at once do not both become its owner. `Some(created)`, or `None` when `create_only`
    /// found it.
    pub async fn set_org_member(
        &self,
        org: &str,
        account: &str,
        role: &str,
        create_only: bool,
        accepted: bool,
        now: i64,
    ) -> Result<MemberSet, ServeError> {
        let mut tx = self.pool.begin().await?;
        let created = sqlx::query(
            "INSERT INTO orgs (name, enforce_tfa, created) VALUES ($1, 0, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(org)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if create_only && !created {
            return Ok(MemberSet::Taken);
        }
        lock_org(&mut tx, org).await?;
        sqlx::query("INSERT INTO org_members (org, account, role, accepted) VALUES ($1, $2, $3, $4) ON CONFLICT (org, account) DO UPDATE SET role = excluded.role")
            .bind(org)
            .bind(account)
            .bind(role)
            .bind(i64::from(accepted))
            .execute(&mut *tx)
            .await?;
        if owners(&mut tx, org).await? == 0 {
            return Ok(MemberSet::LastOwner);
        }
        tx.commit().await?;
        Ok(MemberSet::Done(created))
    }

    /// Accepts `account`'s invitation to `org`. The org's row is written first, so an
    /// enforcement being turned on at the same moment (which writes it too) is ordered before
    /// or after this on every store, never between the check and the join.
    pub async fn accept_org_invitation(
        &self,
        org: &str,
        account: &str,
    ) -> Result<Acceptance, ServeError> {
        let mut tx = self.pool.begin().await?;
        lock_org(&mut tx, org).await?;
        let enforcing: Option<i64> =
            sqlx::query_scalar("SELECT enforce_tfa FROM orgs WHERE name = $1")
                .bind(org)
                .fetch_optional(&mut *tx)
                .await?;
        let tfa: Option<Option<String>> =
            sqlx::query_scalar("SELECT tfa_mode FROM accounts WHERE name = $1")
                .bind(account)
                .fetch_optional(&mut *tx)
                .await?;
        if enforcing == Some(1) && tfa.flatten().is_none() {
            return Ok(Acceptance::NeedsTfa);
        }
        let r = sqlx::query(
            "UPDATE org_members SET accepted = 1 WHERE org = $1 AND account = $2 AND accepted = 0",
        )
        .bind(org)
        .bind(account)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(if r.rows_affected() == 1 {
            Acceptance::Joined
        } else {
            Acceptance::NotInvited
        })
    }

    /// Declines (deletes) `account`'s pending invitation to `org`; `false` if there was none.
    pub async fn decline_org_invitation(
        &self,
        org: &str,
        account: &str,
    ) -> Result<bool, ServeError> {
        let r =
            sqlx::query("DELETE FROM org_members WHERE org = $1 AND account = $2 AND accepted = 0")
                .bind(org)
                .bind(account)
                .execute(&self.pool)
                .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The orgs that invited `account` and are waiting for its answer, with the role offered.
    pub async fn org_invitations(
        &self,
        account: &str,
    ) -> Result<Vec<(String, String)>, ServeError> {
        let rows = sqlx::query(
            "SELECT org, role FROM org_members WHERE account = $1 AND accepted = 0 ORDER BY org",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("org")?, r.try_get("role")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(ServeError::from)
    }

    /// Removes `account` from the org and its teams; `Some(false)` if it was not a member,
    /// `None` (nothing changed) if that would leave the org without an owner who accepted —
    /// two owners removing each other at once leave one.
    pub async fn remove_org_member(
        &self,
        org: &str,
        account: &str,
    ) -> Result<Option<bool>, ServeError> {
        let mut tx = self.pool.begin().await?;
        lock_org(&mut tx, org).await?;
        let gone = remove_member(&mut tx, org, account).await?;
        if owners(&mut tx, org).await? == 0 {
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(gone))
    }

    /// Turns enforcement on or off. Turning it on removes, in the same transaction, the members
    /// who still have no 2FA (one who enabled it since the plan stays); the removed, by name.
    pub async fn set_enforce_tfa(&self, org: &str, on: bool) -> Result<Vec<String>, ServeError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE orgs SET enforce_tfa = $2 WHERE name = $1")
            .bind(org)
            .bind(i64::from(on))
            .execute(&mut *tx)
            .await?;
        let mut removed = Vec::new();
        if on {
            let without: Vec<String> = sqlx::query_scalar(
                "SELECT m.account FROM org_members m LEFT JOIN accounts a ON a.name = m.account \
                 WHERE m.org = $1 AND m.accepted = 1 AND a.tfa_mode IS NULL ORDER BY m.account",
            )
            .bind(org)
            .fetch_all(&mut *tx)
            .await?;
            for account in without {
                if remove_member(&mut tx, org, &account).await? {
                    removed.push(account);
                }
            }
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// Creates a team; `false` if it exists.
    pub async fn create_team(
        &self,
        org: &str,
        team: &str,
        description: &str,
    ) -> Result<bool, ServeError> {
        let r = sqlx::query("INSERT INTO teams (org, name, description) VALUES ($1, $2, $3) ON CONFLICT (org, name) DO NOTHING")
            .bind(org)
            .bind(team)
            .bind(description)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Deletes a team and its memberships; `false` if there was none.
    pub async fn destroy_team(&self, org: &str, team: &str) -> Result<bool, ServeError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM team_members WHERE org = $1 AND team = $2")
            .bind(org)
            .bind(team)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query("DELETE FROM teams WHERE org = $1 AND name = $2")
            .bind(org)
            .bind(team)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// The org's teams, by name.
    pub async fn teams(&self, org: &str) -> Result<Vec<String>, ServeError> {
        Ok(
            sqlx::query_scalar("SELECT name FROM teams WHERE org = $1 ORDER BY name")
                .bind(org)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// A team's members, or `None` when there is no such team.
    pub async fn team_members(
        &self,
        org: &str,
        team: &str,
    ) -> Result<Option<Vec<String>>, ServeError> {
        if sqlx::query("SELECT 1 FROM teams WHERE org = $1 AND name = $2")
            .bind(org)
            .bind(team)
            .fetch_optional(&self.pool)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        Ok(Some(
            sqlx::query_scalar(
                "SELECT account FROM team_members WHERE org = $1 AND team = $2 ORDER BY account",
            )
            .bind(org)
            .bind(team)
            .fetch_all(&self.pool)
            .await?,
        ))
    }

    /// Adds or removes a team member; `false` when nothing changed.
    pub async fn set_team_member(
        &self,
        org: &str,
        team: &str,
        account: &str,
        add: bool,
    ) -> Result<bool, ServeError> {
        let q = if add {
            "INSERT INTO team_members (org, team, account) VALUES ($1, $2, $3) ON CONFLICT (org, team, account) DO NOTHING"
        } else {
            "DELETE FROM team_members WHERE org = $1 AND team = $2 AND account = $3"
        };
        let r = sqlx::query(q)
            .bind(org)
            .bind(team)
            .bind(account)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a login, for the org audit's "last login".
    pub async fn record_login(&self, account: &str, now: i64) -> Result<(), ServeError> {
        sqlx::query("UPDATE accounts SET last_login = $2 WHERE name = $1")
            .bind(account)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Writes the org's row (changing nothing) so that every change of the org's membership,
/// owners and enforcement that starts with it is ordered against the others: on PostgreSQL the
/// row lock holds until the transaction ends, on SQLite the write lock does.
pub(super) async fn lock_org(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org: &str,
) -> Result<(), ServeError> {
    sqlx::query("UPDATE orgs SET enforce_tfa = enforce_tfa WHERE name = $1")
        .bind(org)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Owners of the org who accepted.
async fn owners(tx: &mut sqlx::Transaction<'_, sqlx::Any>, org: &str) -> Result<i64, ServeError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM org_members WHERE org = $1 AND role = 'owner' AND accepted = 1",
    )
    .bind(org)
    .fetch_one(&mut **tx)
    .await?)
}

async fn remove_member(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org: &str,
    account: &str,
) -> Result<bool, ServeError> {
    sqlx::query("DELETE FROM team_members WHERE org = $1 AND account = $2")
        .bind(org)
        .bind(account)
        .execute(&mut **tx)
        .await?;
    let r = sqlx::query("DELETE FROM org_members WHERE org = $1 AND account = $2")
        .bind(org)
        .bind(account)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}
