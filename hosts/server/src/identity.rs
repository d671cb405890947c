//! Is this the store, and the key, this server had? A wrong `--db` or `--database-url`, a lost
//! volume replaced by another store, or a key that is not the store's all start "fine" and then
//! fail every user: logins with 2FA off, secrets that no longer open. The store carries a random
//! id and a value sealed under its key since it was created; the id is also recorded beside the
//! key file. At start a key that cannot open the value, or a store whose id is not the recorded
//! one, stops the server, naming what differs and what to do.

use std::path::{Path, PathBuf};

use crate::error::ServeError;
use crate::sealing::Sealer;
use crate::store::Store;

/// What the key check seals (its context binds it to the store's id).
const CHECK: &str = "stepup store key check";

/// Where the store's id is recorded beside `key_file`.
pub fn record_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".store-id");
    PathBuf::from(name)
}

/// Checks (and on first start, gives and records) the store's identity against the key and the
/// pinned id (`--store-id`) or the record beside the key file; answers its id.
pub async fn check(
    store: &Store,
    sealer: &Sealer,
    key_file: Option<&Path>,
    pinned: Option<&str>,
    place: &str,
) -> Result<String, ServeError> {
    let (store_id, key_check) = match store.identity().await? {
        Some(known) => known,
        None => {
            let mut raw = [0u8; 16];
            getrandom::fill(&mut raw).map_err(|e| ServeError::Key(format!("no entropy: {e}")))?;
            let id = stepup_core::wire::encoding::hex_encode(&raw);
            let check = sealer.seal(&format!("store:{id}"), CHECK.as_bytes())?;
            store.claim_identity(&id, &check).await?
        }
    };
    let opened = sealer.open(&format!("store:{store_id}"), &key_check);
    if !matches!(opened.as_deref(), Ok(plain) if plain == CHECK.as_bytes()) {
        return Err(ServeError::Key(format!(
            "the key (--key-file or STEPUP_SECRET_KEY) is not the one {place} (store {store_id}) was created with: every secret sealed in it would be unreadable. Start with that store's key."
        )));
    }
    if let Some(pinned) = pinned {
        if pinned.trim() != store_id {
            return Err(ServeError::Store(format!(
                "{place} is store {store_id}, but --store-id (STEPUP_STORE_ID) says {}: a wrong --db or --database-url, or a replaced or restored volume. Check the store's path; if this store is the right one on purpose, set the new id.",
                pinned.trim()
            )));
        }
        return Ok(store_id);
    }
    if let Some(key_file) = key_file {
        let record = record_path(key_file);
        match std::fs::read_to_string(&record) {
            Ok(recorded) if recorded.trim() == store_id => {}
            Ok(recorded) => {
                return Err(ServeError::Store(format!(
                    "{place} is store {store_id}, but {} says this key's store is {}: a wrong --db or --database-url, or a replaced or restored volume. Check the store's path; if this store is the right one on purpose (moved, or restored from a backup), delete {} and start again.",
                    record.display(),
                    recorded.trim(),
                    record.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A read-only secret mount cannot take the record: the key check still holds,
                // and the operator pins the id instead.
                match std::fs::write(&record, format!("{store_id}\n")) {
                    Ok(()) => {
                        tracing::info!(store = %store_id, record = %record.display(), "recorded the store's id beside the key file");
                    }
                    Err(e) => {
                        tracing::warn!(store = %store_id, record = %record.display(), error = %e, "cannot record the store's id beside the key file: set STEPUP_STORE_ID={store_id} to have the server check it is this store");
                    }
                }
            }
            Err(e) => {
                return Err(ServeError::Io(format!(
                    "cannot read {}: {e}",
                    record.display()
                )));
            }
        }
    }
    Ok(store_id)
}
