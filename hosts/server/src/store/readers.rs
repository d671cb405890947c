//! Connections kept aside for the reads every npm request makes (its token, the package's
//! maintainers, the decision's state). sqlx's pool checks each connection it takes back with a
//! round trip to the connection — on SQLite, to the connection's worker thread — and that check
//! cannot be turned off; on the gateway's hot path it cost as much as the statement itself. These
//! statements are single reads, so a reader whose connection is lost is replaced and the
//! statement asked once more on a fresh connection instead, which is what the pool's check buys;
//! a reader idle long enough for the network to have dropped it is checked first, and every read
//! is bounded in time as the pool's acquire timeout bounds the other statements.
//!
//! The readers are read-only (SQLite opens them so; PostgreSQL sessions default to read-only
//! transactions): nothing on the hot path can write through them.
//! An in-memory SQLite database belongs to the connection that made it, so there the pool reads.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AnyConnection, Connection};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::error::ServeError;

/// How long opening a reader may take (a store that is down answers within seconds, as the
/// pool's acquire timeout does).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one read may take in all, waiting for a reader included: what the pool's acquire
/// timeout bounds for the other statements. A connection the network dropped without a word
/// would otherwise hold its requests until the kernel gives up on it.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A reader unused for this long is checked before its next read (firewalls and proxies drop
/// idle connections silently); one in steady use is not, which is the point of readers.
const IDLE_CHECK_AFTER: Duration = Duration::from_secs(30);

/// How long that check may take before the reader is replaced instead.
const IDLE_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// A reader is replaced after this long in any case, as sqlx's pool replaces its connections:
/// a server-side state that went bad (a cached plan a migration outdated) or a SQLite file put
/// in the store's place (checked at every connect) does not outlive it.
pub(super) const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// A statement to run, built afresh for each attempt (sqlx's queries own their arguments).
pub(super) type Query<'q> = sqlx::query::Query<'q, Any, AnyArguments>;

/// One reader's connection, when it was opened and when it last answered.
struct Reader {
    conn: AnyConnection,
    opened: Instant,
    used: Instant,
}

/// The readers: a few lazily opened connections, taken round-robin.
pub(super) struct Readers {
    url: String,
    postgres: bool,
    /// The SQLite file and its (device, inode) when the store was opened: a reader opened
    /// later must open that same file, not one put in its place.
    file: Option<(PathBuf, (u64, u64))>,
    slots: Vec<Mutex<Option<Reader>>>,
    next: AtomicUsize,
    closed: AtomicBool,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// Whether an error is the connection's, not the statement's: the connection is lost, or its
/// server-side state is stale, so a fresh connection may answer where this one cannot (a
/// statement that fails on its own would fail there again, and is not asked twice).
fn fresh_connection_may_answer(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => true,
        // PostgreSQL's connection exceptions (08xxx), its shutdowns (57P01-57P03), a cached
        // plan a schema change outdated (0A000) and a prepared statement it no longer has
        // (26000).
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08") || c.starts_with("57P0") || c == "0A000" || c == "26000"
        }),
        _ => false,
    }
}

fn timed_out() -> ServeError {
    ServeError::Store("the store did not answer in time".to_owned())
}

impl Readers {
    /// `count` readers of the store at `url` (`sqlx`'s URL, opened read-only for SQLite), of
    /// the SQLite `file` with that identity when there is one.
    pub(super) fn new(
        url: String,
        postgres: bool,
        file: Option<(PathBuf, (u64, u64))>,
        count: usize,
    ) -> Readers {
        Readers {
            url,
            postgres,
            file,
            slots: (0..count.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        }
    }

    async fn connect(&self) -> Result<AnyConnection, ServeError> {
        let opened = tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect(&self.url))
            .await
            .map_err(|_| timed_out())?;
        let mut conn = opened?;
        // PostgreSQL readers are read-only by their URL's startup options (never a session `SET`,
        // which a transaction-mode pooler would leave on a connection the pool's writers share).
        if !self.postgres {
            sqlx::query("PRAGMA busy_timeout=5000")
                .execute(&mut conn)
                .await?;
            if let Some((path, opened)) = &self.file
                && super::identity(path).as_ref() != Some(opened)
            {
                let _ = conn.close().await;
                return Err(ServeError::Store(format!(
                    "the store file {} was replaced under the running server",
                    path.display()
                )));
            }
        }
        Ok(conn)
    }

    /// A free reader when there is one, else the next in turn once it is free.
    async fn take(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Reader>>, ServeError> {
        let n = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n.max(1);
        let turn = || self.slots.iter().cycle().skip(start).take(n);
        if let Some(guard) = turn().find_map(|slot| slot.try_lock().ok()) {
            return Ok(guard);
        }
        match turn().next() {
            Some(slot) => Ok(slot.lock().await),
            None => Err(ServeError::Store("the store has no readers".to_owned())),
        }
    }

    /// Runs `build()`'s statement, answering its rows, within [`READ_TIMEOUT`]. A reader whose
    /// connection is lost is replaced and the statement asked once more; one that does not
    /// answer in time is dropped (its connection's state is unknown).
    pub(super) async fn fetch_all<'q>(
        &self,
        build: impl Fn() -> Query<'q>,
    ) -> Result<Vec<AnyRow>, ServeError> {
        let deadline = Instant::now() + READ_TIMEOUT;
        let mut slot = tokio::time::timeout_at(deadline, self.take())
            .await
            .map_err(|_| timed_out())??;
        if self.closed.load(Ordering::Acquire) {
            return Err(ServeError::Store("the store is closed".to_owned()));
        }
        let mut last = None;
        for _ in 0..2 {
            if slot
                .as_ref()
                .is_some_and(|r| r.opened.elapsed() >= MAX_LIFETIME)
                && let Some(old) = slot.take()
            {
                let _ = tokio::time::timeout_at(deadline, old.conn.close()).await;
            }
            let idle = slot
                .as_ref()
                .is_some_and(|r| r.used.elapsed() >= IDLE_CHECK_AFTER);
            if idle && let Some(mut reader) = slot.take() {
                let by = deadline.min(Instant::now() + IDLE_CHECK_TIMEOUT);
                let check = tokio::time::timeout_at(by, reader.conn.ping()).await;
                if matches!(check, Ok(Ok(()))) {
                    *slot = Some(reader);
                }
            }
            let reader = match slot.as_mut() {
                Some(r) => r,
                None => {
                    let conn = tokio::time::timeout_at(deadline, self.connect())
                        .await
                        .map_err(|_| timed_out())??;
                    let now = Instant::now();
                    slot.insert(Reader {
                        conn,
                        opened: now,
                        used: now,
                    })
                }
            };
            match tokio::time::timeout_at(deadline, build().fetch_all(&mut reader.conn)).await {
                Ok(Ok(rows)) => {
                    reader.used = Instant::now();
                    // Closed while this read ran (close gave up waiting for it): not kept.
                    if self.closed.load(Ordering::Acquire)
                        && let Some(r) = slot.take()
                    {
                        let _ = tokio::time::timeout(CONNECT_TIMEOUT, r.conn.close()).await;
                    }
                    return Ok(rows);
                }
                Ok(Err(e)) if fresh_connection_may_answer(&e) => {
                    *slot = None;
                    last = Some(e);
                }
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => {
                    *slot = None;
                    return Err(timed_out());
                }
            }
        }
        Err(last.map_or_else(
            || ServeError::Store("a read failed".to_owned()),
            ServeError::from,
        ))
    }

    /// Closes every reader (graceful shutdown): PostgreSQL ends their sessions, and SQLite
    /// can fold its write-ahead log back into the file once the pool closes too. A read after
    /// this is refused.
    pub(super) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for slot in &self.slots {
            let taken = tokio::time::timeout(CONNECT_TIMEOUT, slot.lock())
                .await
                .ok()
                .and_then(|mut s| s.take());
            if let Some(reader) = taken {
                let _ = tokio::time::timeout(CONNECT_TIMEOUT, reader.conn.close()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Store, StoreUrl};

    /// Readers read and cannot write, on SQLite (opened read-only) and PostgreSQL (read-only
    /// sessions from their startup options); a statement that fails is not a lost connection.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_read_and_cannot_write() {
        let dir = std::env::temp_dir().join(format!("stepup-readers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut urls = vec![StoreUrl::Sqlite(dir.join("store.db").display().to_string())];
        if let Ok(url) = std::env::var("STEPUP_TEST_DATABASE_URL")
            && !url.is_empty()
        {
            urls.push(StoreUrl::Postgres(url));
        }
        for url in urls {
            let store = Store::open(&url).await.unwrap();
            let readers = store.readers.as_ref().unwrap();
            let rows = readers
                .fetch_all(|| sqlx::query("SELECT COUNT(*) AS n FROM accounts"))
                .await
                .unwrap();
            assert_eq!(rows.len(), 1);
            let write = readers
                .fetch_all(|| sqlx::query("INSERT INTO probes (id, at) VALUES (7, 0)"))
                .await;
            assert!(write.is_err(), "{url:?}: a reader wrote");
            let failing = sqlx::query("SELECT no_such_column FROM accounts");
            let Err(err) = failing.fetch_all(&store.pool).await else {
                panic!("{url:?}: a missing column was read");
            };
            assert!(!super::fresh_connection_may_answer(&err), "{err}");
            store.close().await;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
