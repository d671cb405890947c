//! The server's state: accounts and their 2FA secrets, recovery-code records, tokens, package
//! settings, failure times and login sessions, in embedded SQLite (one file) or PostgreSQL (shared
//! by several instances). Every "use once" step is a single conditional statement, so accepting a
//! TOTP step or burning a recovery code is atomic across instances: exactly one request wins.
//! One file per group of tables; this one opens the database and creates the tables.

use sqlx::Row;
use sqlx::any::AnyRow;
use sqlx::{Any, Pool};

type AnyPool = Pool<Any>;
type AnyPoolOptions = sqlx::pool::PoolOptions<Any>;

use crate::error::ServeError;

mod accounts;
mod approvals;
mod failures;
mod operations;
mod packages;
mod recovery_codes;
mod security_keys;
mod tokens;
mod web_logins;

pub use accounts::Account;
pub use approvals::Approval;
pub use recovery_codes::CodeRow;
pub use security_keys::KeyRow;
pub use tokens::TokenRow;

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
