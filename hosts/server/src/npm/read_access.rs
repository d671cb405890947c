//! Which packages the registry behind the gateway lets anyone read, learned from its own answers.
//!
//! With `--reads-without-credential`, an allowed read of a package document or tarball goes
//! upstream without the account's credential while the package is known (or not yet known) to
//! be readable anonymously, and is asked again with the credential when the upstream answers
//! anything but a success (401, 403 or 404 also mark the package as needing it). A registry that
//! checks a password hash on every authenticated request (Verdaccio's default tokens carry the
//! password) then pays it only for the packages that need it, and a caller sees exactly what it
//! would have seen with its credential: the anonymous answer is kept only when it is a success,
//! which the credential could only have widened, never narrowed. SPEC §8.24's
//! `read-anonymously` is the same idea decided by the engine; this one is learned per package.
//! It is the operator's choice, off by default: it holds only where a name's anonymous answer is
//! the package its authenticated readers get, which a registry merging a private and a public
//! repository under one name (a virtual or group repository) does not promise.
//!
//! The map is the gateway's own memory, not the store's: it holds nothing a decision reads, so an
//! instance that has not learned a package yet only costs one extra upstream request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a package that needed a credential is sent with one before it is tried anonymously
/// again (a registry may open a package to everyone).
const NEEDS_CREDENTIAL_FOR: Duration = Duration::from_secs(300);

/// The most packages remembered; past it the map starts again (every entry is relearned with at
/// most one extra upstream request each).
const MAX_PACKAGES: usize = 100_000;

/// What is known about one package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readable {
    /// Not learned yet, or learned long enough ago to try again: ask anonymously first.
    Unknown,
    /// The upstream answered an anonymous read with a success.
    Anonymously,
    /// The upstream refused an anonymous read: send the credential.
    WithCredential,
}

/// The learned map.
#[derive(Debug, Default)]
pub struct ReadAccess {
    /// Whether the operator turned this on (`--reads-without-credential`).
    enabled: bool,
    packages: Mutex<HashMap<String, (bool, Instant)>>,
}

impl ReadAccess {
    /// The map, tried only when `enabled`.
    pub fn new(enabled: bool) -> ReadAccess {
        ReadAccess {
            enabled,
            packages: Mutex::default(),
        }
    }

    /// Whether a read of `package` goes out without the credential first.
    pub fn try_anonymously(&self, package: &str) -> bool {
        self.enabled && self.of(package) != Readable::WithCredential
    }

    /// What is known about `package` now.
    pub fn of(&self, package: &str) -> Readable {
        let Ok(map) = self.packages.lock() else {
            return Readable::WithCredential;
        };
        match map.get(package) {
            Some((true, _)) => Readable::Anonymously,
            Some((false, at)) if at.elapsed() < NEEDS_CREDENTIAL_FOR => Readable::WithCredential,
            _ => Readable::Unknown,
        }
    }

    /// Records what an anonymous read of `package` got: `true` for a success.
    pub fn learn(&self, package: &str, anonymously: bool) {
        let Ok(mut map) = self.packages.lock() else {
            return;
        };
        if map.len() >= MAX_PACKAGES && !map.contains_key(package) {
            map.clear();
        }
        map.insert(package.to_owned(), (anonymously, Instant::now()));
    }
}

/// Whether the upstream's answer to an anonymous read means the package needs a credential
/// (a private package answers 401 or 403 to anyone, or 404 where the registry hides it).
pub fn refused(status: axum::http::StatusCode) -> bool {
    matches!(status.as_u16(), 401 | 403 | 404)
}

/// Whether an anonymous answer is the one to give: a success (or "not modified"). Anything else
/// (a refusal, a redirect to a login page, a rate limit that counts the gateway's address) is
/// asked again with the credential, so the caller gets what its credential would have got.
pub fn kept(status: axum::http::StatusCode) -> bool {
    status.is_success() || status == axum::http::StatusCode::NOT_MODIFIED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_is_tried_anonymously_until_refused_and_again_later() {
        let access = ReadAccess::new(true);
        assert!(!ReadAccess::new(false).try_anonymously("a"));
        assert!(access.try_anonymously("a"));
        assert_eq!(access.of("a"), Readable::Unknown);
        access.learn("a", true);
        assert_eq!(access.of("a"), Readable::Anonymously);
        access.learn("a", false);
        assert_eq!(access.of("a"), Readable::WithCredential);
        if let Ok(mut map) = access.packages.lock()
            && let Some(e) = map.get_mut("a")
        {
            e.1 = Instant::now() - NEEDS_CREDENTIAL_FOR - Duration::from_secs(1);
        }
        assert_eq!(access.of("a"), Readable::Unknown);
        assert!(refused(axum::http::StatusCode::NOT_FOUND));
        assert!(refused(axum::http::StatusCode::UNAUTHORIZED));
        assert!(!refused(axum::http::StatusCode::OK));
        assert!(!refused(axum::http::StatusCode::SERVICE_UNAVAILABLE));
        assert!(kept(axum::http::StatusCode::NOT_MODIFIED));
        assert!(!kept(axum::http::StatusCode::FOUND));
        assert!(!kept(axum::http::StatusCode::TOO_MANY_REQUESTS));
    }
}
