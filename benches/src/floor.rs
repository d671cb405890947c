//! The floor a TOTP check cannot go under, written as directly as possible: HMAC-SHA1 of the
//! 8-byte big-endian step counter under a 20-byte key, dynamic truncation, six digits, and the
//! ±1-step window (three HMACs). No replay state, no drift probe, no effects: what is left when
//! everything stepup adds is taken away.

use hmac::{KeyInit, Mac};

/// HMAC-SHA1, the RFC 6238 default.
pub type HmacSha1 = hmac::Hmac<sha1::Sha1>;

/// The six-digit code of one step from a keyed HMAC state (cloned, so the key is hashed once).
pub fn code_at(keyed: &HmacSha1, step: u64) -> u32 {
    let mut m = keyed.clone();
    m.update(&step.to_be_bytes());
    let h = m.finalize().into_bytes();
    let offset = usize::from(h.get(19).copied().unwrap_or(0) & 0x0f);
    let word = h.get(offset..offset + 4).map_or(0, |b| {
        u32::from_be_bytes([
            b.first().copied().unwrap_or(0),
            b.get(1).copied().unwrap_or(0),
            b.get(2).copied().unwrap_or(0),
            b.get(3).copied().unwrap_or(0),
        ])
    });
    (word & 0x7fff_ffff) % 1_000_000
}

/// Whether `code` is the code of the current 30-second step or one either side. Every step is
/// computed, as a constant-time check must.
pub fn totp_check(keyed: &HmacSha1, now: u64, code: u32) -> bool {
    let step = now / 30;
    let mut ok = false;
    for s in [step.saturating_sub(1), step, step + 1] {
        ok |= code_at(keyed, s) == code;
    }
    ok
}

/// A keyed state from a raw secret (the part a per-secret cache saves).
pub fn keyed(secret: &[u8]) -> Option<HmacSha1> {
    <HmacSha1 as KeyInit>::new_from_slice(secret).ok()
}
