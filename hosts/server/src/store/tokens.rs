//! Tokens: only their SHA-512 is stored, with the SPEC credential they present and the
//! sealed upstream credential.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::local_readers::Param;
use super::{Columns, Store, opt_i64, opt_str, req_i64, req_str};
use crate::error::ServeError;

/// A token's row; the token itself is never stored, only its SHA-512 `key`.
#[derive(Clone, Debug)]
pub struct TokenRow {
    /// SHA-512 hex of the token.
    pub key: String,
    /// Owner.
    pub account: String,
    /// Display prefix.
    pub prefix: String,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// The SPEC credential JSON this token presents.
    pub credential: String,
    /// The upstream registry credential, sealed.
    pub upstream: Option<String>,
    /// Read-only token.
    pub readonly: bool,
    /// CIDR allow-list JSON array, or `None`.
    pub cidr: Option<String>,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub expires: Option<i64>,
}

impl Store {
    /// Stores a new token.
    pub async fn insert_token(&self, t: &TokenRow, session: bool) -> Result<(), ServeError> {
        let mut conn = self.pool.acquire().await?;
        insert(&mut conn, t, session).await
    }
}

/// Inserts a token row on `conn` (alone, or inside the transaction that spends its proof).
pub(super) async fn insert(
    conn: &mut sqlx::AnyConnection,
    t: &TokenRow,
    session: bool,
) -> Result<(), ServeError> {
    sqlx::query("INSERT INTO tokens (key, account, prefix, name, description, credential, upstream, readonly, cidr, created, expires, session) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
            .bind(&t.key)
            .bind(&t.account)
            .bind(&t.prefix)
            .bind(t.name.as_deref())
            .bind(t.description.as_deref())
            .bind(&t.credential)
            .bind(t.upstream.as_deref())
            .bind(i64::from(t.readonly))
            .bind(t.cidr.as_deref())
            .bind(t.created)
            .bind(t.expires)
            .bind(i64::from(session))
            .execute(conn)
            .await?;
    Ok(())
}

impl sqlx::FromRow<'_, AnyRow> for TokenRow {
    fn from_row(r: &AnyRow) -> Result<TokenRow, sqlx::Error> {
        TokenRow::from_columns(r, &TOKEN_COLUMNS)
    }
}

/// The names [`token_columns!`] reads back.
const TOKEN_COLUMNS: [&str; 11] = [
    "key",
    "account",
    "prefix",
    "name",
    "description",
    "credential",
    "upstream",
    "readonly",
    "cidr",
    "created",
    "expires",
];

/// The same columns as [`token_prefixed_columns!`] names them beside an account's row.
pub(super) const TOKEN_PREFIXED_COLUMNS: [&str; 11] = [
    "t_key",
    "t_account",
    "t_prefix",
    "t_name",
    "t_description",
    "t_credential",
    "t_upstream",
    "t_readonly",
    "t_cidr",
    "t_created",
    "t_expires",
];

impl TokenRow {
    /// The token read from columns named `cols` (in [`TOKEN_COLUMNS`]'s order).
    pub(super) fn from_columns(
        r: &(impl Columns + ?Sized),
        cols: &[&str; 11],
    ) -> Result<TokenRow, sqlx::Error> {
        let [
            key,
            account,
            prefix,
            name,
            description,
            credential,
            upstream,
            readonly,
            cidr,
            created,
            expires,
        ] = cols;
        Ok(TokenRow {
            key: req_str(r, key)?,
            account: req_str(r, account)?,
            prefix: req_str(r, prefix)?,
            name: opt_str(r, name)?,
            description: opt_str(r, description)?,
            credential: req_str(r, credential)?,
            upstream: opt_str(r, upstream)?,
            readonly: req_i64(r, readonly)? != 0,
            cidr: opt_str(r, cidr)?,
            created: req_i64(r, created)?,
            expires: opt_i64(r, expires)?,
        })
    }
}

/// A token row's columns, as a literal so statements can be made at compile time.
macro_rules! token_columns {
    () => {
        "key, account, prefix, name, description, credential, upstream, readonly, cidr, created, expires"
    };
}

/// The token row's columns of `tokens t`, renamed apart from an account row's beside them.
macro_rules! token_prefixed_columns {
    () => {
        concat!(
            "t.key AS t_key, t.account AS t_account, t.prefix AS t_prefix, t.name AS t_name, ",
            "t.description AS t_description, t.credential AS t_credential, t.upstream AS t_upstream, ",
            "t.readonly AS t_readonly, t.cidr AS t_cidr, t.created AS t_created, t.expires AS t_expires"
        )
    };
}
pub(super) use token_prefixed_columns;

impl Store {
    /// The token with this key.
    pub async fn token(&self, key: &str) -> Result<Option<TokenRow>, ServeError> {
        const SQL: &str = concat!("SELECT ", token_columns!(), " FROM tokens WHERE key = $1");
        self.read_row(SQL, &[Param::Text(Some(key))], |r| {
            Ok(TokenRow::from_columns(r, &TOKEN_COLUMNS)?)
        })
        .await
    }

    /// One page of the account's tokens, newest first, and the total.
    pub async fn tokens(
        &self,
        name: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<TokenRow>, i64), ServeError> {
        const SQL: &str = concat!(
            "SELECT ",
            token_columns!(),
            " FROM tokens WHERE account = $1 ORDER BY created DESC, key LIMIT $2 OFFSET $3"
        );
        let list = sqlx::query_as::<_, TokenRow>(SQL)
            .bind(name)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM tokens WHERE account = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok((list, total))
    }

    /// Deletes one of the account's tokens; `false` when it had none with that key.
    pub async fn delete_token(&self, name: &str, key: &str) -> Result<bool, ServeError> {
        let r = sqlx::query("DELETE FROM tokens WHERE account = $1 AND key = $2")
            .bind(name)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Ends every login session of the account (tokens created by `npm token create` stay).
    pub async fn revoke_sessions(&self, name: &str) -> Result<u64, ServeError> {
        let r = sqlx::query("DELETE FROM tokens WHERE account = $1 AND session = 1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}
