//! Expanding caller entropy into secrets. The engine has no random source of its own: the host
//! passes at least 32 bytes, and HMAC-SHA256 keyed by them over `label ‖ 0 ‖ counter` (a
//! counter-mode KDF in the manner of NIST SP 800-108, not HKDF) turns them into as many
//! independent bytes as a secret, salt or code needs. The construction is kept as it is
//! because hosts' tests pin the secrets and codes it derives from fixed entropy.

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::contract::error::InputError;

/// The least entropy any issuing call accepts.
pub const MIN_ENTROPY_BYTES: usize = 32;

type HmacSha256 = hmac::Hmac<Sha256>;

/// A deterministic byte stream keyed by the caller's entropy.
pub struct Expander {
    mac: HmacSha256,
    counter: u64,
}

impl Expander {
    /// Keys the stream; fewer than 32 bytes is an input error at `entropy`.
    pub fn new(entropy: &[u8]) -> Result<Self, InputError> {
        if entropy.len() < MIN_ENTROPY_BYTES {
            return Err(InputError::new(
                "entropy",
                format!(
                    "need at least {MIN_ENTROPY_BYTES} bytes of host entropy, got {}",
                    entropy.len()
                ),
            ));
        }
        let mac = <HmacSha256 as KeyInit>::new_from_slice(entropy)
            .map_err(|_| InputError::new("entropy", "unusable key"))?;
        Ok(Self { mac, counter: 0 })
    }

    /// Fills `out` with bytes bound to `label`, so different uses never share bytes.
    pub fn fill(&mut self, label: &str, out: &mut [u8]) {
        for chunk in out.chunks_mut(32) {
            let mut m = self.mac.clone();
            m.update(label.as_bytes());
            m.update(&[0]);
            m.update(&self.counter.to_be_bytes());
            self.counter = self.counter.wrapping_add(1);
            let block = m.finalize().into_bytes();
            for (d, s) in chunk.iter_mut().zip(block.iter()) {
                *d = *s;
            }
        }
    }

    /// `n` bytes bound to `label`.
    pub fn bytes(&mut self, label: &str, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(label, &mut v);
        v
    }

    /// A uniform decimal string of `digits` digits (rejection sampling, no bias).
    pub fn digits(&mut self, label: &str, digits: usize) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            let mut b = [0u8; 32];
            self.fill(label, &mut b);
            for &x in &b {
                // 250 = 25 * 10: accept 0..250 for an unbiased digit.
                if x < 250 && s.len() < digits {
                    s.push(char::from(b'0' + x % 10));
                }
            }
        }
        s
    }
}
