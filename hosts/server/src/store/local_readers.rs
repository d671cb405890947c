//! Reads of an SQLite store on the request's own thread, for the statements every npm request
//! makes (its token, the decision's state). sqlx runs each SQLite connection on a worker thread
//! of its own, so every statement is a hand-off to that thread and back; under load those
//! thread switches, not the statement, were the gateway's write path (docs/BENCHMARKS.md).
//! SQLite is a library reading a local file, so these readers run the statement where the
//! request already is, with rusqlite over the same bundled SQLite sqlx links.
//!
//! A read here should not hold the request's thread waiting: the connections are read-only and
//! have a busy timeout of zero, and a read they cannot answer for any reason but the row itself
//! is asked of the sqlx readers instead, which wait, time out and report as every other
//! statement does. What is not bounded here is SQLite's own work on the thread: a WAL reader's
//! short retries while a writer moves the log's index, rebuilding that index after a crash, and
//! a file read from a disk that hangs (where the sqlx readers' timeout answered 503). A connection is opened on the file the store opened (its device and
//! inode), and replaced after [`super::readers::MAX_LIFETIME`] as the sqlx readers are.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::Columns;
use crate::error::ServeError;

/// A statement's parameter, bound as `$1`, `$2`, … in order.
#[derive(Clone, Copy, Debug)]
pub(super) enum Param<'a> {
    /// Text, or null.
    Text(Option<&'a str>),
    /// An integer.
    Int(i64),
}

/// The names of the parameters [`Param`]s bind, in order (sqlx's SQLite driver reads `$N` as
/// the N-th argument; SQLite numbers named parameters by first appearance, so they are bound by
/// name here).
const PARAM_NAMES: [&str; 8] = ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8"];

/// Idle connections kept for the next reads: one per runtime thread is what can be in use at
/// once; the rest of a burst's connections are closed when they come back.
const KEEP_IDLE: usize = 8;

/// A local reader's connection, when it was opened, and the column names of each statement it
/// has run: rusqlite finds a column by name by asking SQLite for every column's name in turn, on
/// every read of a column, so the names are asked once per statement and connection instead
/// (every column of these statements has a fixed name).
struct Local {
    conn: Connection,
    opened: Instant,
    columns: Vec<(&'static str, Vec<String>)>,
}

/// A row with its statement's column names, read by name.
struct NamedRow<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    names: &'r [String],
}

impl NamedRow<'_, '_> {
    fn index(&self, col: &str) -> Result<usize, sqlx::Error> {
        self.names
            .iter()
            .position(|n| n == col)
            .ok_or_else(|| sqlx::Error::ColumnNotFound(col.to_owned()))
    }
}

impl Columns for NamedRow<'_, '_> {
    fn text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
        self.row
            .get::<_, Option<String>>(self.index(col)?)
            .map_err(decode(col))
    }

    fn int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        self.row
            .get::<_, Option<i64>>(self.index(col)?)
            .map_err(decode(col))
    }
}

/// The local readers of one SQLite store file.
pub(super) struct LocalReaders {
    path: PathBuf,
    identity: (u64, u64),
    idle: Mutex<Vec<Local>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for LocalReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalReaders")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A column rusqlite could not read, as sqlx reports one (a wrong type names the column).
fn decode(col: &str) -> impl FnOnce(rusqlite::Error) -> sqlx::Error + '_ {
    move |e| sqlx::Error::ColumnDecode {
        index: col.to_owned(),
        source: Box::new(e),
    }
}

impl LocalReaders {
    /// Readers of the SQLite file at `path`, which had `identity` when the store opened it.
    pub(super) fn new(path: PathBuf, identity: (u64, u64)) -> LocalReaders {
        LocalReaders {
            path,
            identity,
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// Opens a read-only connection that waits for no lock, on the file the store opened.
    fn open(&self) -> Option<Local> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).ok()?;
        conn.busy_timeout(Duration::ZERO).ok()?;
        if super::identity(&self.path) != Some(self.identity) {
            return None;
        }
        Some(Local {
            conn,
            opened: Instant::now(),
            columns: Vec::new(),
        })
    }

    /// An idle connection young enough to use, or a new one.
    fn take(&self) -> Option<Local> {
        let kept = self.idle.lock().ok()?.pop();
        match kept {
            Some(local) if local.opened.elapsed() < super::readers::MAX_LIFETIME => Some(local),
            _ => self.open(),
        }
    }

    /// Gives a connection back for the next read (closed instead when the store is closing
    /// or enough are idle).
    fn give_back(&self, local: Local) {
        // Checked under the lock `close` clears the list under, so a connection given back
        // while the store closes is closed, never kept.
        if let Ok(mut idle) = self.idle.lock()
            && !self.closed.load(Ordering::Acquire)
            && idle.len() < KEEP_IDLE
        {
            idle.push(local);
        }
    }

    /// Runs `sql` with `params` and reads its first row with `parse`: `Some` with the answer
    /// when this reader could run it (`Ok(None)`: no row), `None` when it could not — the
    /// store closed, the file not openable or busy, the statement refused — and the sqlx
    /// readers are to be asked instead. What `parse` answers is the row's own, answered as is.
    pub(super) fn read_row<T>(
        &self,
        sql: &'static str,
        params: &[Param<'_>],
        parse: impl FnOnce(&dyn Columns) -> Result<T, ServeError>,
    ) -> Option<Result<Option<T>, ServeError>> {
        if self.closed.load(Ordering::Acquire) || params.len() > PARAM_NAMES.len() {
            return None;
        }
        let mut local = self.take()?;
        let answer = run(&mut local, sql, params, parse);
        // A connection whose statement failed is not kept: its state is unknown.
        if answer.is_some() {
            self.give_back(local);
        }
        answer
    }

    /// Closes the idle connections, and every one still in use as it comes back (graceful
    /// shutdown); a read after this is asked of the sqlx readers, which refuse it.
    pub(super) fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            self.closed.store(true, Ordering::Release);
            idle.clear();
        } else {
            self.closed.store(true, Ordering::Release);
        }
    }
}

/// [`LocalReaders::read_row`] on one connection.
fn run<T>(
    local: &mut Local,
    sql: &'static str,
    params: &[Param<'_>],
    parse: impl FnOnce(&dyn Columns) -> Result<T, ServeError>,
) -> Option<Result<Option<T>, ServeError>> {
    let mut stmt = local.conn.prepare_cached(sql).ok()?;
    // Every parameter the statement has is one bound below (`$N` names only): a statement
    // written with other placeholders is left to sqlx rather than read with nulls.
    if stmt.parameter_count() != params.len() {
        return None;
    }
    let same = |(s, _): &&(&'static str, Vec<String>)| std::ptr::eq(*s, sql) || *s == sql;
    if !local.columns.iter().any(|c| same(&c)) {
        let names = stmt.column_names().into_iter().map(str::to_owned).collect();
        local.columns.push((sql, names));
    }
    let (_, names) = local.columns.iter().find(same)?;
    for (param, name) in params.iter().zip(PARAM_NAMES) {
        let Some(index) = stmt.parameter_index(name).ok()? else {
            continue;
        };
        match *param {
            Param::Text(text) => stmt.raw_bind_parameter(index, text),
            Param::Int(n) => stmt.raw_bind_parameter(index, n),
        }
        .ok()?;
    }
    let mut rows = stmt.raw_query();
    match rows.next() {
        Ok(Some(row)) => Some(parse(&NamedRow { row, names }).map(Some)),
        Ok(None) => Some(Ok(None)),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Store, StoreUrl, TokenRow};
    use super::Param;

    fn temp_store_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("stepup-local-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("store.db")
    }

    /// A store with an account that has 2FA, a token, two orgs, failures and a package whose
    /// maintainers the gateway keeps: every column the decision's statement reads has a value.
    async fn populated(path: &std::path::Path, now: i64) -> Store {
        let store = Store::open(&StoreUrl::Sqlite(path.display().to_string()))
            .await
            .unwrap();
        store.account_or_create("ada", now - 100).await.unwrap();
        let token = TokenRow {
            key: "k1".into(),
            account: "ada".into(),
            prefix: "npm_ab".into(),
            name: Some("ci".into()),
            description: None,
            credential: r#"{"kind":"session"}"#.into(),
            upstream: Some("sealed".into()),
            readonly: false,
            cidr: None,
            created: now - 50,
            expires: Some(now + 3600),
        };
        store.insert_token(&token, true).await.unwrap();
        for statement in [
            "UPDATE accounts SET tfa_mode = 'auth-and-writes', totp_secret = 's', last_step = 7 WHERE name = 'ada'",
            "INSERT INTO orgs (name, enforce_tfa, created) VALUES ('acme', 1, 0), ('zeta', 0, 0)",
            "INSERT INTO org_members (org, account, role) VALUES ('acme', 'ada', 'owner'), ('zeta', 'ada', 'developer')",
            "INSERT INTO packages (name, publishing_access) VALUES ('pkg', 'require-2fa')",
            "INSERT INTO maintainers (package, account) VALUES ('pkg', 'ada')",
        ] {
            sqlx::query(statement).execute(&store.pool).await.unwrap();
        }
        for at in [now - 30, now - 20, now - 10] {
            store
                .record_failure(Some("ada"), Some("10.0.0.1"), at)
                .await
                .unwrap();
        }
        store
    }

    /// The local readers answer the hot path's statements, and read each row exactly as the
    /// sqlx readers do (the same statement through both, compared field by field).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn local_readers_read_rows_as_sqlx_does() {
        let now = 1_800_000_000;
        let path = temp_store_path("alike");
        let store = populated(&path, now).await;
        let local = store
            .local
            .clone()
            .expect("an SQLite file has local readers");
        let mut plain = store.clone();
        plain.local = None;

        let sql = super::super::decision::TOKEN_STATE_SQLITE;
        let params = [
            Param::Text(Some("k1")),
            Param::Text(Some("pkg")),
            Param::Int(now - 86_400),
            Param::Text(Some("10.0.0.1")),
            Param::Text(Some("\u{1f}")),
            Param::Int(now),
        ];
        let answered = local.read_row(sql, &params, |r| Ok(super::super::req_str(r, "t_key")?));
        assert_eq!(answered.map(|a| a.unwrap()), Some(Some("k1".to_owned())));

        for (key, package) in [("k1", Some("pkg")), ("k1", None), ("nope", Some("pkg"))] {
            let a = store
                .token_and_state(key, package, Some("10.0.0.1"), now)
                .await
                .unwrap();
            let b = plain
                .token_and_state(key, package, Some("10.0.0.1"), now)
                .await
                .unwrap();
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{key} {package:?}");
            if key == "k1" {
                let (_, state) = a.unwrap();
                let state = state.unwrap();
                assert_eq!(state.account_failures, vec![now - 30, now - 20, now - 10]);
                assert_eq!(
                    state.orgs,
                    vec![("acme".into(), true), ("zeta".into(), false)]
                );
                assert_eq!(state.package_access.is_some(), package.is_some());
            }
        }
        let a = store
            .decision_state("ada", Some("pkg"), None, now)
            .await
            .unwrap();
        let b = plain
            .decision_state("ada", Some("pkg"), None, now)
            .await
            .unwrap();
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert!(a.maintainer && a.account.totp_secret.is_some());
        let a = store.token("k1").await.unwrap();
        let b = plain.token("k1").await.unwrap();
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let kept = a.expect("the token is read");

        // Every read sees the writes committed before it: a statement left open would keep
        // its snapshot, and a revoked token or a used TOTP step would still be read.
        assert!(store.delete_token("ada", "k1").await.unwrap());
        sqlx::query("UPDATE accounts SET last_step = 8 WHERE name = 'ada'")
            .execute(&store.pool)
            .await
            .unwrap();
        assert!(
            store.token("k1").await.unwrap().is_none(),
            "a revoked token was read"
        );
        let state = store.decision_state("ada", None, None, now).await.unwrap();
        assert_eq!(state.account.last_step, Some(8));
        // The local reader itself answered that, not the sqlx readers behind it.
        let answered = local.read_row(sql, &params, |r| Ok(super::super::req_str(r, "t_key")?));
        assert_eq!(answered.map(|a| a.unwrap()), Some(None));
        // One connection, two statements with a write between them: the second reads after
        // the write, so the first ended its read when its row was read.
        let one = super::LocalReaders::new(path.clone(), super::super::identity(&path).unwrap());
        let count = |sql: &'static str| {
            one.read_row(sql, &[], |r| Ok(super::super::req_i64(r, "n")?))
                .map(|a| a.unwrap())
        };
        assert_eq!(count("SELECT COUNT(*) AS n FROM tokens"), Some(Some(0)));
        let mut again = kept;
        again.key = "k2".into();
        store.insert_token(&again, false).await.unwrap();
        assert_eq!(
            count("SELECT COUNT(*) AS n FROM tokens WHERE key <> ''"),
            Some(Some(1))
        );

        store.close().await;
        assert!(
            local.read_row("SELECT 1 AS n", &[], |_| Ok(())).is_none(),
            "a closed store's local reader answered"
        );
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// A local reader never waits for a lock: with the file locked by a writer it gives the
    /// read up at once (to the sqlx readers, which wait and report), where rusqlite's default
    /// would hold the request's thread for five seconds. A store's file is in WAL mode, where
    /// a writer does not lock readers out; a file in rollback-journal mode, whose writer does,
    /// stands in for the rare moments a WAL reader is refused.
    #[test]
    fn a_local_reader_gives_up_on_a_locked_file_at_once() {
        let path = temp_store_path("locked");
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder
            .execute_batch(
                "CREATE TABLE accounts (name TEXT); INSERT INTO accounts VALUES ('ada');",
            )
            .unwrap();
        let local = super::LocalReaders::new(path.clone(), super::super::identity(&path).unwrap());
        let read = || {
            local.read_row(
                "SELECT name FROM accounts WHERE name = $1",
                &[Param::Text(Some("ada"))],
                |r| Ok(super::super::req_str(r, "name")?),
            )
        };
        assert_eq!(read().map(|a| a.unwrap()), Some(Some("ada".to_owned())));
        holder
            .execute_batch("BEGIN EXCLUSIVE; UPDATE accounts SET name = 'bob';")
            .unwrap();
        let started = std::time::Instant::now();
        let answer = read();
        assert!(answer.is_none(), "read a locked file: {answer:?}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "waited {:?}",
            started.elapsed()
        );
        holder.execute_batch("ROLLBACK").unwrap();
        assert_eq!(read().map(|a| a.unwrap()), Some(Some("ada".to_owned())));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// A reader opened after the store file was replaced refuses it: the read goes to the sqlx
    /// readers, which report the replacement, instead of answering from the new file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_local_reader_does_not_read_a_replaced_file() {
        let now = 1_800_000_000;
        let path = temp_store_path("replaced");
        let store = populated(&path, now).await;
        let local = store.local.clone().unwrap();
        let other = path.with_file_name("other.db");
        std::fs::copy(&path, &other).unwrap();
        std::fs::rename(&other, &path).unwrap();
        let answer = local.read_row("SELECT 1 AS n", &[], |_| Ok(()));
        assert!(answer.is_none(), "a replaced file was read");
        store.close().await;
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
