//! Enhanced login verification: the deterministic rollout bucket, ramps and brown-outs
//! (SPEC §4 rule 8, §8.12).

use sha2::{Digest, Sha256};

use crate::config::{LoginVerification, Population};

/// `bucket(id)`: the first 8 bytes of SHA-256(salt ‖ id), big-endian. Every host computes the
/// same value, so every host enrols the same accounts.
pub fn bucket(salt: &str, id: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(id.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    for (dst, src) in b.iter_mut().zip(d.iter()) {
        *dst = *src;
    }
    u64::from_be_bytes(b)
}

/// Which part of the timeline enrols an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enrolment {
    /// A ramp stage (`login-verification.stage`).
    Stage,
    /// A brown-out window (`login-verification.brown-out`).
    BrownOut,
}

/// Whether the account is inside the rollout on `now`; stages are checked before brown-outs
/// (SPEC §8.19).
pub fn enrolled(lv: &LoginVerification, id: &str, publisher: bool, now: u64) -> Option<Enrolment> {
    let covers = |p: Population| p == Population::All || publisher;
    let mut bucket_cache = None;
    for s in &lv.stages {
        if !covers(s.population) || now < s.start.0 {
            continue;
        }
        if now >= s.end.0 {
            return Some(Enrolment::Stage);
        }
        // start <= now < end: in iff bucket * (end - start) < (now - start) * 2^64.
        let b = *bucket_cache.get_or_insert_with(|| bucket(&lv.salt, id));
        let lhs = u128::from(b) * u128::from(s.end.0 - s.start.0);
        let rhs = u128::from(now - s.start.0) << 64;
        if lhs < rhs {
            return Some(Enrolment::Stage);
        }
    }
    lv.brown_outs
        .iter()
        .any(|w| {
            covers(w.population)
                && now >= w.start.0
                && now < w.start.0.saturating_add(w.duration_seconds)
        })
        .then_some(Enrolment::BrownOut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_is_sha256_prefix() {
        // SHA-256("") = e3b0c44298fc1c14...
        assert_eq!(bucket("", ""), 0xe3b0_c442_98fc_1c14);
        // SHA-256("abc") = ba7816bf8f01cfea...
        assert_eq!(bucket("a", "bc"), 0xba78_16bf_8f01_cfea);
    }
}
