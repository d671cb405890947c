//! The server's state: accounts and their 2FA secrets, recovery-code records, tokens, package
//! settings, failure times and login sessions, in embedded SQLite (one file) or PostgreSQL (shared
//! by several instances). Every "use once" step is a single conditional statement, so accepting a
//! TOTP step or burning a recovery code is atomic across instances: exactly one request wins.
//! One file per group of tables; this one opens the database and brings its tables up to
//! date with the migrations under `migrations/`.

use sqlx::Row;
use sqlx::any::AnyRow;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, Pool, SqlStr};

type AnyPool = Pool<Any>;
type AnyPoolOptions = sqlx::pool::PoolOptions<Any>;

use crate::error::ServeError;

mod accounts;
mod approvals;
mod claims;
mod decision;
mod failures;
mod identity;
mod impact;
mod local_readers;
mod operations;
mod orgs;
mod packages;
mod population;
mod readers;
mod recovery_codes;
mod security_keys;
mod staged;
mod tokens;
mod web_logins;

pub use accounts::Account;
pub use approvals::Approval;
pub use claims::{Claim, Spent};
pub use decision::DecisionState;
pub use impact::{ImpactRows, ImportedImpact};
pub use orgs::{Acceptance, MemberRow, MemberSet};
pub use population::PopulationRows;
pub use recovery_codes::CodeRow;
pub use security_keys::{KeyInfo, KeyRow, Removal};
pub use staged::{StageLimits, StageRefusal, Staged};
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

    /// Where the hot path's readers connect: SQLite read-only; `None` for an in-memory SQLite
    /// database, which only its own connection sees.
    fn reader_url(&self) -> Option<String> {
        match self {
            StoreUrl::Sqlite(path) if path.is_empty() || path == ":memory:" => None,
            StoreUrl::Sqlite(path) => Some(format!("sqlite://{path}?mode=ro")),
            // Named, so an operator tells them apart in `pg_stat_activity`, and read-only from
            // their first statement (a startup option: it stays with the session).
            StoreUrl::Postgres(url) => Some(format!(
                "{url}{}application_name={READER_NAME}&options[default_transaction_read_only]=on",
                if url.contains('?') { '&' } else { '?' }
            )),
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

/// The PostgreSQL `application_name` of the hot path's readers.
pub const READER_NAME: &str = "stepup-reader";

/// The store.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// Connections outside the pool for the reads of every npm request (`None`: the pool reads).
    readers: Option<std::sync::Arc<readers::Readers>>,
    /// For an SQLite file, readers on the request's own thread for the statements every npm
    /// request makes, asked before `readers`.
    local: Option<std::sync::Arc<local_readers::LocalReaders>>,
    postgres: bool,
    /// The SQLite file and its identity (device, inode) when opened: a file deleted or
    /// replaced under the running server keeps answering from the open descriptor, so
    /// readiness compares.
    file: Option<(std::path::PathBuf, Option<(u64, u64)>)>,
}

/// A file's (device, inode), where the platform has them.
fn identity(path: &std::path::Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The schema's history, oldest first: each step a file under `migrations/`, applied once per
/// store and recorded with its checksum in `_sqlx_migrations`, so a changed step is refused
/// instead of silently diverging. A new column or table is a new file here, never an edit.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "tables",
        include_str!("../../migrations/0001_tables.sql"),
    ),
    (
        2,
        "impact",
        include_str!("../../migrations/0002_impact.sql"),
    ),
    (3, "orgs", include_str!("../../migrations/0003_orgs.sql")),
    (
        4,
        "staged",
        include_str!("../../migrations/0004_staged.sql"),
    ),
    (
        5,
        "org invitations",
        include_str!("../../migrations/0005_org_invitations.sql"),
    ),
    (
        6,
        "probes",
        include_str!("../../migrations/0006_probes.sql"),
    ),
    (
        7,
        "identity",
        include_str!("../../migrations/0007_identity.sql"),
    ),
];

/// The migrator over [`MIGRATIONS`]: built from embedded steps rather than `sqlx::migrate!`,
/// whose macros would compile both SQL drivers a second time for the build host.
fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    (*description).into(),
                    MigrationType::Simple,
                    SqlStr::from_static(sql),
                    false,
                )
            })
            .collect(),
    )
}

impl Store {
    /// Runs one read of the hot path on a reader (the pool when there are none), answering its
    /// rows.
    async fn read_all<'q>(
        &self,
        build: impl Fn() -> readers::Query<'q>,
    ) -> Result<Vec<AnyRow>, ServeError> {
        match &self.readers {
            Some(r) => r.fetch_all(build).await,
            None => Ok(build().fetch_all(&self.pool).await?),
        }
    }

    /// The first row of `sql` with `params` bound as `$1`, `$2`, …, read by `parse`: on a
    /// local reader when the store has them and it answers, else as [`Store::read_all`] does.
    async fn read_row<T>(
        &self,
        sql: &'static str,
        params: &[local_readers::Param<'_>],
        parse: impl Fn(&dyn Columns) -> Result<T, ServeError>,
    ) -> Result<Option<T>, ServeError> {
        if let Some(local) = &self.local
            && let Some(answer) = local.read_row(sql, params, &parse)
        {
            return answer;
        }
        let row = self
            .read_optional(|| {
                params.iter().fold(sqlx::query(sql), |q, p| match *p {
                    local_readers::Param::Text(t) => q.bind(t),
                    local_readers::Param::Int(n) => q.bind(n),
                })
            })
            .await?;
        row.map(|r| parse(&r)).transpose()
    }

    /// As [`Store::read_all`], for a statement of at most one row.
    async fn read_optional<'q>(
        &self,
        build: impl Fn() -> readers::Query<'q>,
    ) -> Result<Option<AnyRow>, ServeError> {
        Ok(self.read_all(build).await?.into_iter().next())
    }
}

/// A result row's columns by name. The hot path's statements are answered by sqlx's rows or by
/// a local reader's ([`local_readers`]), and each kind of row is read by one function over
/// this, so the two cannot read a row differently.
pub(super) trait Columns {
    /// A text column, `None` when null.
    fn text(&self, col: &str) -> Result<Option<String>, sqlx::Error>;
    /// An integer column, `None` when null.
    fn int(&self, col: &str) -> Result<Option<i64>, sqlx::Error>;
}

impl Columns for AnyRow {
    fn text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get::<Option<String>, _>(col)
    }

    fn int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get::<Option<i64>, _>(col)
    }
}

/// The error of a column that must not be null and is.
fn null_column(col: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: col.to_owned(),
        source: "unexpected null".into(),
    }
}

fn opt_str(row: &(impl Columns + ?Sized), col: &str) -> Result<Option<String>, sqlx::Error> {
    row.text(col)
}

fn opt_i64(row: &(impl Columns + ?Sized), col: &str) -> Result<Option<i64>, sqlx::Error> {
    row.int(col)
}

fn req_str(row: &(impl Columns + ?Sized), col: &str) -> Result<String, sqlx::Error> {
    row.text(col)?.ok_or_else(|| null_column(col))
}

fn req_i64(row: &(impl Columns + ?Sized), col: &str) -> Result<i64, sqlx::Error> {
    row.int(col)?.ok_or_else(|| null_column(col))
}

impl Store {
    /// Whether a store is already at `url`: an SQLite file with content, or a PostgreSQL
    /// database holding the tables. The server asks before opening, so a wrong `--db` path or a
    /// lost volume is an error rather than a new, empty store in which every account's 2FA,
    /// tokens and replay state are gone.
    pub async fn exists(url: &StoreUrl) -> Result<bool, ServeError> {
        match url {
            StoreUrl::Sqlite(path) => {
                Ok(std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0))
            }
            StoreUrl::Postgres(u) => {
                sqlx::any::install_default_drivers();
                let pool = AnyPoolOptions::new()
                    .max_connections(1)
                    .connect(u)
                    .await
                    .map_err(|e| ServeError::Store(format!("cannot open the store: {e}")))?;
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'accounts'",
                )
                .fetch_one(&pool)
                .await?;
                pool.close().await;
                Ok(n > 0)
            }
        }
    }

    /// Connects and creates the tables when missing (concurrent starts are serialised on
    /// PostgreSQL by an advisory lock).
    pub async fn open(url: &StoreUrl) -> Result<Store, ServeError> {
        if let StoreUrl::Sqlite(path) = url {
            private_file(std::path::Path::new(path))?;
        }
        sqlx::any::install_default_drivers();
        let postgres = matches!(url, StoreUrl::Postgres(_));
        let file = match url {
            StoreUrl::Sqlite(path) if path != ":memory:" => {
                let p = std::path::PathBuf::from(path);
                let id = identity(&p);
                Some((p, id))
            }
            _ => None,
        };
        // Every connection opened later (the pool replaces its connections from time to time)
        // must open this same file: one put in its place would take the writes while readers
        // went on reading the old one.
        let opened = file
            .as_ref()
            .and_then(|(p, id)| id.map(|id| (std::sync::Arc::new(p.clone()), id)));
        // A store that is down answers within seconds (503), not after sqlx's default 30 s.
        let pool = AnyPoolOptions::new()
            .max_connections(if postgres { 16 } else { 4 })
            .acquire_timeout(std::time::Duration::from_secs(5))
            // An SQLite connection is a file handle on a worker thread, never dropped by a
            // network: asking it whether it is alive before every statement only adds a round
            // trip to that thread. A PostgreSQL connection may have been cut: it is still asked.
            .test_before_acquire(postgres)
            .after_connect(move |conn, _| {
                let opened = opened.clone();
                Box::pin(async move {
                    if let Some((path, id)) = opened
                        && identity(&path) != Some(id)
                    {
                        return Err(sqlx::Error::Configuration(
                            format!(
                                "the store file {} was replaced or removed under the running server",
                                path.display()
                            )
                            .into(),
                        ));
                    }
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
        let reader_file = file
            .as_ref()
            .and_then(|(p, id)| id.map(|id| (p.clone(), id)));
        let readers = url
            .reader_url()
            .map(|u| std::sync::Arc::new(readers::Readers::new(u, postgres, reader_file, 4)));
        let local = file.as_ref().and_then(|(p, id)| {
            id.map(|id| std::sync::Arc::new(local_readers::LocalReaders::new(p.clone(), id)))
        });
        let store = Store {
            pool,
            readers,
            local,
            postgres,
            file,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the steps this store has not seen; on PostgreSQL the migrator holds an advisory
    /// lock, so instances starting together apply each step once.
    async fn migrate(&self) -> Result<(), ServeError> {
        migrator().run(&self.pool).await.map_err(|e| {
            ServeError::Store(format!("cannot bring the store's tables up to date: {e}"))
        })
    }

    /// The schema versions this store has applied, oldest first (health and tests).
    pub async fn schema_versions(&self) -> Result<Vec<i64>, ServeError> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Which database this is, for logs and health.
    pub fn backend(&self) -> &'static str {
        if self.postgres { "postgres" } else { "sqlite" }
    }

    /// Whether the store takes a write (readiness): the SQLite file is still the one opened,
    /// and a row is written and committed.
    pub async fn check_writable(&self, now: i64) -> Result<(), ServeError> {
        if let Some((path, opened)) = &self.file {
            let seen = identity(path);
            if !path.exists() {
                return Err(ServeError::Store(format!(
                    "the store file {} is gone (deleted or unmounted under the running server)",
                    path.display()
                )));
            }
            if opened.is_some() && seen != *opened {
                return Err(ServeError::Store(format!(
                    "the store file {} was replaced under the running server",
                    path.display()
                )));
            }
        }
        sqlx::query(
            "INSERT INTO probes (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        // The hot path's reads run on readers: they must answer too, and see the row written
        // (its time may be another instance's by now).
        let seen = self
            .read_row("SELECT at FROM probes WHERE id = 1", &[], |r| {
                Ok(opt_i64(r, "at")?)
            })
            .await?;
        if seen.is_none() {
            return Err(ServeError::Store(
                "the store's readers do not see its writes".to_owned(),
            ));
        }
        Ok(())
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
        // Five weeks of daily downloads: the index reads one, operators may look further back.
        self.prune_downloads(now.div_euclid(86_400) - 35).await?;
        Ok(())
    }

    /// Closes the readers, then the pool (graceful shutdown).
    pub async fn close(&self) {
        if let Some(l) = &self.local {
            l.close();
        }
        if let Some(r) = &self.readers {
            r.close().await;
        }
        self.pool.close().await;
    }
}
