//! Connections kept aside for the reads every npm request makes (its token, the package's
//! maintainers, the decision's state). sqlx's pool checks each connection it takes back with a
//! round trip to the connection — on SQLite, to the connection's worker thread — and that check
//! cannot be turned off; on the gateway's hot path it cost as much as the statement itself. These
//! statements are single reads, so a reader that fails one is dropped and the statement asked
//! once more on a fresh connection instead, which is what the pool's check buys.
//!
//! On SQLite the readers are opened read-only: nothing on the hot path can write through them.
//! An in-memory SQLite database belongs to the connection that made it, so there the pool reads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AnyConnection, Connection};
use tokio::sync::Mutex;

use crate::error::ServeError;

/// How long opening a reader may take (a store that is down answers within seconds, as the
/// pool's acquire timeout does).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A statement to run, built afresh for each attempt (sqlx's queries own their arguments).
pub(super) type Query<'q> = sqlx::query::Query<'q, Any, AnyArguments>;

/// The readers: a few lazily opened connections, taken round-robin.
pub(super) struct Readers {
    url: String,
    postgres: bool,
    slots: Vec<Mutex<Option<AnyConnection>>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl Readers {
    /// `count` readers of the store at `url` (`sqlx`'s URL, opened read-only for SQLite).
    pub(super) fn new(url: String, postgres: bool, count: usize) -> Readers {
        Readers {
            url,
            postgres,
            slots: (0..count.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    async fn connect(&self) -> Result<AnyConnection, ServeError> {
        let opened = tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect(&self.url))
            .await
            .map_err(|_| ServeError::Store("the store did not answer in time".to_owned()))?;
        let mut conn = opened?;
        if !self.postgres {
            sqlx::query("PRAGMA busy_timeout=5000")
                .execute(&mut conn)
                .await?;
        }
        Ok(conn)
    }

    /// A free reader when there is one, else the next in turn once it is free.
    async fn take(&self) -> Result<tokio::sync::MutexGuard<'_, Option<AnyConnection>>, ServeError> {
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

    /// Runs `build()`'s statement, answering its rows; a reader that fails is replaced and the
    /// statement asked once more.
    pub(super) async fn fetch_all<'q>(
        &self,
        build: impl Fn() -> Query<'q>,
    ) -> Result<Vec<AnyRow>, ServeError> {
        let mut slot = self.take().await?;
        let mut last = None;
        for _ in 0..2 {
            let conn = match slot.as_mut() {
                Some(c) => c,
                None => slot.insert(self.connect().await?),
            };
            match build().fetch_all(conn).await {
                Ok(rows) => return Ok(rows),
                Err(e) => {
                    *slot = None;
                    last = Some(e);
                }
            }
        }
        Err(last.map_or_else(
            || ServeError::Store("a read failed".to_owned()),
            ServeError::from,
        ))
    }
}
