//! What one decision reads about its account, in one statement: the account's row, the
//! package's publishing setting and maintainers, the orgs the account belongs to and the failure
//! times the throttle counts. Every npm request is decided, so these are one round trip to the store
//! instead of one each (which PostgreSQL makes a network round trip each). The orgs and the failure
//! times come back aggregated into one text column each, with a separator no org name (npm's scope
//! characters) or number contains; the maintainers, whose names are whatever the upstream
//! answered, are compared in SQL instead (is any kept, is this account one), never split.

use stepup_core::contract::request::MAX_FAILURES;

use super::failures::FAILURE_HORIZON;
use super::local_readers::Param;
use super::tokens::{TOKEN_PREFIXED_COLUMNS, TokenRow, token_prefixed_columns};
use super::{Account, Columns, Store, opt_str, req_i64};
use crate::error::ServeError;

/// Separates the aggregated items (ASCII unit separator: never in an org's name or a number).
const SEPARATOR: &str = "\u{1f}";

/// The failure times read per list: the newest ones the engine's request may carry. A window
/// is full when its newest `limit` failures fall inside it, so the newest [`MAX_FAILURES`]
/// decide every window whose limit is at most that; more would make the request invalid, and
/// every request of a busy address (or an attacked account) a 400 instead of a decision. Times
/// after `now` (another instance's clock, a request a moment later) are left out, as the engine
/// would leave them out, so they take no place among those read. A literal: with the limit as a
/// bound parameter SQLite runs the statement far slower (docs/BENCHMARKS.md, session 21).
macro_rules! failures_read {
    () => {
        "4096"
    };
}
const _: () = assert!(MAX_FAILURES == 4096, "failures_read! is MAX_FAILURES");

/// The state's columns, with `$agg` the dialect's name for the string aggregate and `$acct` the
/// account's name (a parameter, or the column of the token that names it); statements are made
/// once, at compile time, so every decision does not format one again.
macro_rules! decision_state_columns {
    ($agg:literal, $acct:literal) => {
        concat!(
            "accounts.name AS name, accounts.tfa_mode AS tfa_mode, accounts.totp_secret AS totp_secret, ",
            "accounts.last_step AS last_step, accounts.pending_mode AS pending_mode, ",
            "accounts.pending_secret AS pending_secret, accounts.safeguard_until AS safeguard_until, ",
            "accounts.email_code AS email_code, accounts.email AS email, accounts.fullname AS fullname, ",
            "accounts.created AS created, ",
            "(SELECT COUNT(*) FROM webauthn_credentials w WHERE w.account = accounts.name) AS security_keys, ",
            "(SELECT publishing_access FROM packages WHERE name = $2) AS package_access, ",
            "(SELECT COUNT(*) FROM maintainers WHERE package = $2) AS maintainers_kept, ",
            "(SELECT COUNT(*) FROM maintainers WHERE package = $2 AND account = ", $acct, ") AS maintainer, ",
            "(SELECT ", $agg, "(CAST(o.enforce_tfa AS TEXT) || o.name, $5) FROM org_members m ",
            "JOIN orgs o ON o.name = m.org WHERE m.account = ", $acct, " AND m.accepted = 1) AS orgs, ",
            "(SELECT ", $agg, "(CAST(at AS TEXT), $5) FROM (SELECT at FROM failures ",
            "WHERE account = ", $acct, " AND at > $3 AND at <= $6 ORDER BY at DESC LIMIT ",
            failures_read!(), ") AS f) AS account_failures, ",
            "(SELECT ", $agg, "(CAST(at AS TEXT), $5) FROM (SELECT at FROM failures ",
            "WHERE ip = $4 AND at > $3 AND at <= $6 ORDER BY at DESC LIMIT ",
            failures_read!(), ") AS f) AS ip_failures"
        )
    };
}

/// The state of the account named `$1`.
macro_rules! decision_state_sql {
    ($agg:literal) => {
        concat!(
            "SELECT ",
            decision_state_columns!($agg, "$1"),
            " FROM accounts WHERE name = $1"
        )
    };
}

/// The token whose key is `$1`, and the state of its account beside it (the account's columns
/// null while it has no row yet).
macro_rules! token_state_sql {
    ($agg:literal) => {
        concat!(
            "SELECT ",
            token_prefixed_columns!(),
            ", ",
            decision_state_columns!($agg, "t.account"),
            " FROM tokens t LEFT JOIN accounts ON accounts.name = t.account WHERE t.key = $1"
        )
    };
}

const DECISION_STATE_SQLITE: &str = decision_state_sql!("group_concat");
const DECISION_STATE_POSTGRES: &str = decision_state_sql!("string_agg");
pub(super) const TOKEN_STATE_SQLITE: &str = token_state_sql!("group_concat");
const TOKEN_STATE_POSTGRES: &str = token_state_sql!("string_agg");

/// The state a decision reads.
#[derive(Clone, Debug, Default)]
pub struct DecisionState {
    /// The account's row.
    pub account: Account,
    /// The package's publishing setting, when one is kept.
    pub package_access: Option<String>,
    /// Whether the gateway keeps maintainers for the package.
    pub maintainers_kept: bool,
    /// Whether the account is one of them.
    pub maintainer: bool,
    /// `(org, enforces 2FA)`, by name.
    pub orgs: Vec<(String, bool)>,
    /// The account's failure times in the last day, oldest first: the newest
    /// [`MAX_FAILURES`] of them.
    pub account_failures: Vec<i64>,
    /// The client address's failure times in the last day, oldest first: the newest
    /// [`MAX_FAILURES`] of them.
    pub ip_failures: Vec<i64>,
}

impl DecisionState {
    /// Whether the account may write to the package by the gateway's list: it keeps none (the
    /// upstream's own rules decide) or lists the account, the rule `owners::may_write` reads
    /// from the list itself.
    pub fn may_write(&self) -> bool {
        !self.maintainers_kept || self.maintainer
    }
}

impl Store {
    /// What deciding a request of `account` (on `package`, from `ip`) at `now` reads; the
    /// account is created at its first use, as [`Store::account_or_create`] does.
    pub async fn decision_state(
        &self,
        account: &str,
        package: Option<&str>,
        ip: Option<&str>,
        now: i64,
    ) -> Result<DecisionState, ServeError> {
        if let Some(state) = self.read_decision_state(account, package, ip, now).await? {
            return Ok(state);
        }
        self.account_or_create(account, now).await?;
        self.read_decision_state(account, package, ip, now)
            .await?
            .ok_or_else(|| ServeError::Store(format!("account {account} vanished")))
    }

    async fn read_decision_state(
        &self,
        account: &str,
        package: Option<&str>,
        ip: Option<&str>,
        now: i64,
    ) -> Result<Option<DecisionState>, ServeError> {
        let sql = if self.postgres {
            DECISION_STATE_POSTGRES
        } else {
            DECISION_STATE_SQLITE
        };
        self.read_state_row(sql, account, package, ip, now, state_from_row)
            .await
    }

    /// Runs a statement of [`decision_state_columns!`] and reads its row with `parse`: `$1` is
    /// `first` (the account's name, or the key of the token that names it), the state's other
    /// parameters bound after it.
    async fn read_state_row<T>(
        &self,
        sql: &'static str,
        first: &str,
        package: Option<&str>,
        ip: Option<&str>,
        now: i64,
        parse: impl Fn(&dyn Columns) -> Result<T, ServeError>,
    ) -> Result<Option<T>, ServeError> {
        let params = [
            Param::Text(Some(first)),
            Param::Text(package),
            Param::Int(now - FAILURE_HORIZON),
            Param::Text(ip),
            Param::Text(Some(SEPARATOR)),
            Param::Int(now),
        ];
        self.read_row(sql, &params, parse).await
    }

    /// The token whose key is `key` and, in the same statement, the state deciding a request of
    /// its account (on `package`, from `ip`, at `now`) reads: the gateway's one round trip for
    /// a write's credential and decision. The state is `None` while the account has no row
    /// ([`Store::decision_state`] makes it).
    pub async fn token_and_state(
        &self,
        key: &str,
        package: Option<&str>,
        ip: Option<&str>,
        now: i64,
    ) -> Result<Option<(TokenRow, Option<DecisionState>)>, ServeError> {
        let sql = if self.postgres {
            TOKEN_STATE_POSTGRES
        } else {
            TOKEN_STATE_SQLITE
        };
        self.read_state_row(sql, key, package, ip, now, |row| {
            let token = TokenRow::from_columns(row, &TOKEN_PREFIXED_COLUMNS)?;
            let state = match opt_str(row, "name")? {
                Some(_) => Some(state_from_row(row)?),
                None => None,
            };
            Ok((token, state))
        })
        .await
    }
}

/// The state in a row of [`decision_state_columns!`].
fn state_from_row(row: &dyn Columns) -> Result<DecisionState, ServeError> {
    let account_row = Account::from_columns(row)?;
    let items = |col: &str| -> Result<Vec<String>, ServeError> {
        Ok(opt_str(row, col)?
            .map(|s| {
                s.split(SEPARATOR)
                    .filter(|i| !i.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    };
    let times = |col: &str| -> Result<Vec<i64>, ServeError> {
        let mut out = items(col)?
            .iter()
            .map(|t| {
                t.parse::<i64>()
                    .map_err(|_| ServeError::Store(format!("{col}: {t} is not a time")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_unstable();
        Ok(out)
    };
    let mut orgs = items("orgs")?
        .into_iter()
        .map(|i| match i.split_at_checked(1) {
            Some((flag, name)) => Ok((name.to_owned(), flag != "0")),
            None => Err(ServeError::Store(format!(
                "org membership {i} is malformed"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    orgs.sort();
    let package_access = opt_str(row, "package_access")?;
    let count = |col: &str| -> Result<i64, ServeError> { Ok(req_i64(row, col)?) };
    let maintainers_kept = count("maintainers_kept")? > 0;
    let maintainer = count("maintainer")? > 0;
    Ok(DecisionState {
        account: account_row,
        package_access,
        maintainers_kept,
        maintainer,
        orgs,
        account_failures: times("account_failures")?,
        ip_failures: times("ip_failures")?,
    })
}
