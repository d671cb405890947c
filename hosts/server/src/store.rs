//! The server's state: accounts and their 2FA secrets, recovery-code records, tokens, package
//! settings, failure times and login sessions, in embedded SQLite (one file) or PostgreSQL (shared
//! by several instances). Every "use once" step is a single conditional statement, so accepting a
//! TOTP step or burning a recovery code is atomic across instances: exactly one request wins.

use sqlx::Row;
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Pool};

type AnyPool = Pool<Any>;
type AnyPoolOptions = sqlx::pool::PoolOptions<Any>;

use crate::error::ServeError;

/// Where state lives.
#[derive(Clone, Debug)]
pub enum StoreUrl {
    /// An SQLite file, created when missing.
    Sqlite(String),
    /// A PostgreSQL URL (`postgres://user@host/db`).
    Postgres(String),
}

impl StoreUrl {
    fn connect_url(&self) -> String {
        match self {
            StoreUrl::Sqlite(path) => format!("sqlite://{path}?mode=rwc"),
            StoreUrl::Postgres(url) => url.clone(),
        }
    }
}

/// The SQLite file readable by its owner only (G13): created `0600` before SQLite opens it,
/// and an existing one narrowed to `0600` (SQLite gives its `-wal` and `-shm` files the
/// database file's mode).
fn private_file(path: &std::path::Path) -> Result<(), ServeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if path.as_os_str().is_empty() || path.to_str() == Some(":memory:") {
            return Ok(());
        }
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
                    |e| ServeError::Store(format!("cannot make {} private: {e}", path.display())),
                )?;
            }
            Err(e) => {
                return Err(ServeError::Store(format!(
                    "cannot create {}: {e}",
                    path.display()
                )));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

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

/// The store.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    postgres: bool,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY, tfa_mode TEXT, totp_secret TEXT, last_step BIGINT, pending_mode TEXT, pending_secret TEXT, safeguard_until BIGINT, email_code TEXT, email TEXT NOT NULL DEFAULT '', fullname TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS recovery_codes (account TEXT NOT NULL, idx BIGINT NOT NULL, salt TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (account, idx))",
    "CREATE TABLE IF NOT EXISTS tokens (key TEXT PRIMARY KEY, account TEXT NOT NULL, prefix TEXT NOT NULL, name TEXT, description TEXT, credential TEXT NOT NULL, upstream TEXT, readonly BIGINT NOT NULL, cidr TEXT, created BIGINT NOT NULL, expires BIGINT, session BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS tokens_by_account ON tokens (account)",
    "CREATE TABLE IF NOT EXISTS failures (account TEXT, ip TEXT, at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS failures_by_account ON failures (account, at)",
    "CREATE INDEX IF NOT EXISTS failures_by_ip ON failures (ip, at)",
    "CREATE TABLE IF NOT EXISTS packages (name TEXT PRIMARY KEY, publishing_access TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS operations (account TEXT NOT NULL, op TEXT NOT NULL, code_hash TEXT NOT NULL, until BIGINT NOT NULL, PRIMARY KEY (account, op))",
    "CREATE TABLE IF NOT EXISTS operation_uses (account TEXT NOT NULL, op TEXT NOT NULL, code_hash TEXT NOT NULL, request TEXT NOT NULL, PRIMARY KEY (account, op, code_hash, request))",
    "CREATE TABLE IF NOT EXISTS web_logins (id TEXT PRIMARY KEY, expires BIGINT NOT NULL, token TEXT)",
    "CREATE TABLE IF NOT EXISTS trust (package TEXT PRIMARY KEY, config TEXT NOT NULL, account TEXT NOT NULL, upstream TEXT, updated BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS maintainers (package TEXT NOT NULL, account TEXT NOT NULL, PRIMARY KEY (package, account))",
    "CREATE TABLE IF NOT EXISTS approvals (id TEXT PRIMARY KEY, account TEXT NOT NULL, op TEXT NOT NULL, action TEXT NOT NULL, credential TEXT NOT NULL, expires BIGINT NOT NULL, token_hash TEXT, approved_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS approval_uses (id TEXT NOT NULL, request TEXT NOT NULL, PRIMARY KEY (id, request))",
    "CREATE TABLE IF NOT EXISTS oidc_jtis (jti TEXT PRIMARY KEY, until BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS webauthn_credentials (id TEXT PRIMARY KEY, account TEXT NOT NULL, public_key TEXT NOT NULL, sign_count BIGINT NOT NULL, alg TEXT NOT NULL, created BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS webauthn_by_account ON webauthn_credentials (account)",
    "CREATE TABLE IF NOT EXISTS webauthn_challenges (account TEXT NOT NULL, purpose TEXT NOT NULL, challenge TEXT NOT NULL, expires BIGINT NOT NULL, PRIMARY KEY (account, purpose))",
];

/// Replaces an account's recovery codes inside a transaction (regenerating invalidates all).
async fn replace_recovery_codes(
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

/// Failures older than this are never counted (the longest throttle window is a day).
const FAILURE_HORIZON: i64 = 86_400;

fn opt_str(row: &AnyRow, col: &str) -> Result<Option<String>, sqlx::Error> {
    row.try_get::<Option<String>, _>(col)
}

fn opt_i64(row: &AnyRow, col: &str) -> Result<Option<i64>, sqlx::Error> {
    row.try_get::<Option<i64>, _>(col)
}

impl Store {
    /// Connects and creates the tables when missing (concurrent starts are serialised on
    /// PostgreSQL by an advisory lock).
    pub async fn open(url: &StoreUrl) -> Result<Store, ServeError> {
        if let StoreUrl::Sqlite(path) = url {
            private_file(std::path::Path::new(path))?;
        }
        sqlx::any::install_default_drivers();
        let postgres = matches!(url, StoreUrl::Postgres(_));
        let pool = AnyPoolOptions::new()
            .max_connections(if postgres { 16 } else { 4 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if !postgres {
                        sqlx::query("PRAGMA journal_mode=WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout=5000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous=NORMAL")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url.connect_url())
            .await
            .map_err(|e| ServeError::Store(format!("cannot open the store: {e}")))?;
        let store = Store { pool, postgres };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), ServeError> {
        let mut tx = self.pool.begin().await?;
        if self.postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(72657870)")
                .execute(&mut *tx)
                .await?;
        }
        for stmt in SCHEMA {
            sqlx::query(*stmt).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Which database this is, for logs and health.
    pub fn backend(&self) -> &'static str {
        if self.postgres { "postgres" } else { "sqlite" }
    }

    /// A round trip to the database (health checks).
    pub async fn ping(&self) -> Result<(), ServeError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The account, if it has ever logged in.
    pub async fn account(&self, name: &str) -> Result<Option<Account>, ServeError> {
        let row = sqlx::query("SELECT name, tfa_mode, totp_secret, last_step, pending_mode, pending_secret, safeguard_until, email_code, email, fullname, created, (SELECT COUNT(*) FROM webauthn_credentials w WHERE w.account = accounts.name) AS security_keys FROM accounts WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        let pending = match (opt_str(&r, "pending_mode")?, opt_str(&r, "pending_secret")?) {
            (Some(m), Some(s)) => Some((m, s)),
            _ => None,
        };
        Ok(Some(Account {
            name: r.try_get("name")?,
            tfa_mode: opt_str(&r, "tfa_mode")?,
            totp_secret: opt_str(&r, "totp_secret")?,
            last_step: opt_i64(&r, "last_step")?,
            pending,
            safeguard_until: opt_i64(&r, "safeguard_until")?,
            email_code: opt_str(&r, "email_code")?,
            email: r.try_get("email")?,
            fullname: r.try_get("fullname")?,
            created: r.try_get("created")?,
            security_keys: r.try_get("security_keys")?,
        }))
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

    /// The account's unused recovery codes, in index order.
    pub async fn recovery_codes(&self, name: &str) -> Result<Vec<CodeRow>, ServeError> {
        let rows = sqlx::query(
            "SELECT idx, salt, hash FROM recovery_codes WHERE account = $1 ORDER BY idx",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CodeRow {
                    idx: r.try_get("idx")?,
                    salt: r.try_get("salt")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(ServeError::from)
    }

    /// Accepts TOTP `step` for the account only if it is later than the last accepted one.
    /// `false` = another request (on any instance) got there first.
    pub async fn consume_step(&self, name: &str, step: i64) -> Result<bool, ServeError> {
        let r = sqlx::query("UPDATE accounts SET last_step = $1 WHERE name = $2 AND tfa_mode IS NOT NULL AND (last_step IS NULL OR last_step < $1)")
            .bind(step)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Burns one recovery code; `false` = it was already burned (a concurrent use won).
    pub async fn burn_code(&self, name: &str, idx: i64) -> Result<bool, ServeError> {
        let r = sqlx::query("DELETE FROM recovery_codes WHERE account = $1 AND idx = $2")
            .bind(name)
            .bind(idx)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records one failed code for the account and the client address.
    pub async fn record_failure(
        &self,
        name: Option<&str>,
        ip: Option<&str>,
        now: i64,
    ) -> Result<(), ServeError> {
        sqlx::query("INSERT INTO failures (account, ip, at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(ip)
            .bind(now)
            .execute(&self.pool)
            .await?;
        // Forget what no window can count any more.
        sqlx::query("DELETE FROM failures WHERE at < $1")
            .bind(now - FAILURE_HORIZON)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Failure times in the last day: for the account and for the address.
    pub async fn failures(
        &self,
        name: &str,
        ip: Option<&str>,
        now: i64,
    ) -> Result<(Vec<i64>, Vec<i64>), ServeError> {
        let since = now - FAILURE_HORIZON;
        let acct =
            sqlx::query("SELECT at FROM failures WHERE account = $1 AND at > $2 ORDER BY at")
                .bind(name)
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
        let addr = match ip {
            Some(ip) => {
                sqlx::query("SELECT at FROM failures WHERE ip = $1 AND at > $2 ORDER BY at")
                    .bind(ip)
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => Vec::new(),
        };
        let times = |rows: Vec<AnyRow>| -> Result<Vec<i64>, ServeError> {
            rows.iter()
                .map(|r| r.try_get::<i64, _>("at").map_err(ServeError::from))
                .collect()
        };
        Ok((times(acct)?, times(addr)?))
    }

    /// Forgets the account's failures (after a correct code).
    pub async fn clear_failures(&self, name: &str) -> Result<(), ServeError> {
        sqlx::query("DELETE FROM failures WHERE account = $1")
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

    /// Turns 2FA off: secret, pending enrolment and recovery codes go.
    pub async fn disable_tfa(&self, name: &str) -> Result<(), ServeError> {
        let mut tx = self.pool.begin().await?;
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
        Ok(())
    }

    /// The account's security keys.
    pub async fn security_keys(&self, name: &str) -> Result<Vec<KeyRow>, ServeError> {
        let rows = sqlx::query("SELECT id, public_key, sign_count FROM webauthn_credentials WHERE account = $1 ORDER BY created, id")
            .bind(name)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| -> Result<KeyRow, sqlx::Error> {
                Ok(KeyRow {
                    id: r.try_get("id")?,
                    public_key: r.try_get("public_key")?,
                    sign_count: r.try_get("sign_count")?,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(ServeError::from)
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

    /// Stores a key's new signature counter if it still has `old` (a concurrent assertion
    /// that got there first wins); `false` when it lost.
    pub async fn set_sign_count(&self, id: &str, old: i64, new: i64) -> Result<bool, ServeError> {
        let r = sqlx::query(
            "UPDATE webauthn_credentials SET sign_count = $3 WHERE id = $1 AND sign_count = $2",
        )
        .bind(id)
        .bind(old)
        .bind(new)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
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

    /// Replaces a package's trusted publishers (the `npm trust` array), remembering who set
    /// them and that account's sealed upstream credential, which trusted publishes then use.
    pub async fn set_trust(
        &self,
        package: &str,
        config: &str,
        account: &str,
        upstream: Option<&str>,
        now: i64,
    ) -> Result<(), ServeError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM trust WHERE package = $1")
            .bind(package)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO trust (package, config, account, upstream, updated) VALUES ($1, $2, $3, $4, $5)")
            .bind(package)
            .bind(config)
            .bind(account)
            .bind(upstream)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A package's trusted publishers: `(config, account, sealed upstream credential)`.
    pub async fn trust(
        &self,
        package: &str,
    ) -> Result<Option<(String, String, Option<String>)>, ServeError> {
        let row = sqlx::query("SELECT config, account, upstream FROM trust WHERE package = $1")
            .bind(package)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| -> Result<_, sqlx::Error> {
            Ok((
                r.try_get("config")?,
                r.try_get("account")?,
                opt_str(&r, "upstream")?,
            ))
        })
        .transpose()
        .map_err(ServeError::from)
    }

    /// Records that `account` published `package` through this gateway (upstream registries
    /// such as Verdaccio 6 keep no maintainer list of their own).
    pub async fn add_maintainer(&self, package: &str, account: &str) -> Result<(), ServeError> {
        sqlx::query("INSERT INTO maintainers (package, account) VALUES ($1, $2) ON CONFLICT (package, account) DO NOTHING")
            .bind(package)
            .bind(account)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether `account` published `package` through this gateway.
    pub async fn is_maintainer(&self, package: &str, account: &str) -> Result<bool, ServeError> {
        let row =
            sqlx::query("SELECT 1 AS one FROM maintainers WHERE package = $1 AND account = $2")
                .bind(package)
                .bind(account)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

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
        let row = sqlx::query("SELECT id, account, op, action, credential, expires FROM approvals WHERE id = $1 AND expires > $2 AND token_hash IS NULL")
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| -> Result<Approval, sqlx::Error> {
            Ok(Approval {
                id: r.try_get("id")?,
                account: r.try_get("account")?,
                op: r.try_get("op")?,
                action: r.try_get("action")?,
                credential: r.try_get("credential")?,
                expires: r.try_get("expires")?,
            })
        })
        .transpose()
        .map_err(ServeError::from)
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

    /// Marks an ID token's `jti` used until `until`; `false` when it already was (a replay).
    pub async fn claim_jti(&self, jti: &str, until: i64) -> Result<bool, ServeError> {
        let r = sqlx::query(
            "INSERT INTO oidc_jtis (jti, until) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Stores a new token.
    pub async fn insert_token(&self, t: &TokenRow, session: bool) -> Result<(), ServeError> {
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
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn token_row(r: &AnyRow) -> Result<TokenRow, sqlx::Error> {
        Ok(TokenRow {
            key: r.try_get("key")?,
            account: r.try_get("account")?,
            prefix: r.try_get("prefix")?,
            name: opt_str(r, "name")?,
            description: opt_str(r, "description")?,
            credential: r.try_get("credential")?,
            upstream: opt_str(r, "upstream")?,
            readonly: r.try_get::<i64, _>("readonly")? != 0,
            cidr: opt_str(r, "cidr")?,
            created: r.try_get("created")?,
            expires: opt_i64(r, "expires")?,
        })
    }

    const TOKEN_COLUMNS: &'static str = "key, account, prefix, name, description, credential, upstream, readonly, cidr, created, expires";

    /// The token with this key.
    pub async fn token(&self, key: &str) -> Result<Option<TokenRow>, ServeError> {
        let q = format!("SELECT {} FROM tokens WHERE key = $1", Self::TOKEN_COLUMNS);
        let row = sqlx::query(AssertSqlSafe(q))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map(Self::token_row)
            .transpose()
            .map_err(ServeError::from)
    }

    /// One page of the account's tokens, newest first, and the total.
    pub async fn tokens(
        &self,
        name: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<TokenRow>, i64), ServeError> {
        let q = format!(
            "SELECT {} FROM tokens WHERE account = $1 ORDER BY created DESC, key LIMIT $2 OFFSET $3",
            Self::TOKEN_COLUMNS
        );
        let rows = sqlx::query(AssertSqlSafe(q))
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
        let list = rows.iter().map(Self::token_row).collect::<Result<_, _>>()?;
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

    /// A package's publishing-access setting.
    pub async fn package_access(&self, name: &str) -> Result<Option<String>, ServeError> {
        let row = sqlx::query("SELECT publishing_access FROM packages WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("publishing_access"))
            .transpose()
            .map_err(ServeError::from)
    }

    /// Sets a package's publishing-access setting.
    pub async fn set_package_access(&self, name: &str, access: &str) -> Result<(), ServeError> {
        sqlx::query("INSERT INTO packages (name, publishing_access) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET publishing_access = $2")
            .bind(name)
            .bind(access)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

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

    /// Opens a web login waiting for the browser.
    pub async fn create_web_login(&self, id: &str, expires: i64) -> Result<(), ServeError> {
        sqlx::query("INSERT INTO web_logins (id, expires) VALUES ($1, $2)")
            .bind(id)
            .bind(expires)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// `None` = unknown or expired; `Some(None)` = waiting; `Some(Some(sealed token))` = done.
    pub async fn web_login(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<Option<String>>, ServeError> {
        let row = sqlx::query("SELECT token FROM web_logins WHERE id = $1 AND expires > $2")
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| opt_str(&r, "token"))
            .transpose()
            .map_err(ServeError::from)
    }

    /// Completes a waiting web login with the minted token (sealed); `false` if not waiting.
    pub async fn complete_web_login(
        &self,
        id: &str,
        sealed: &str,
        now: i64,
    ) -> Result<bool, ServeError> {
        let r = sqlx::query(
            "UPDATE web_logins SET token = $1 WHERE id = $2 AND token IS NULL AND expires > $3",
        )
        .bind(sealed)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Hands the token out once: deletes the finished login and says whether this call did.
    pub async fn take_web_login(&self, id: &str) -> Result<bool, ServeError> {
        let r = sqlx::query("DELETE FROM web_logins WHERE id = $1 AND token IS NOT NULL")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Drops expired web logins.
    pub async fn prune(&self, now: i64) -> Result<(), ServeError> {
        sqlx::query("DELETE FROM web_logins WHERE expires <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM operations WHERE until <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "DELETE FROM approval_uses WHERE id IN (SELECT id FROM approvals WHERE expires <= $1)",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM approvals WHERE expires <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM webauthn_challenges WHERE expires <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM oidc_jtis WHERE until <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes the pool (graceful shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
