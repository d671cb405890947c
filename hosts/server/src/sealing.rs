//! Secrets at rest: every TOTP secret and upstream credential the server stores is sealed with
//! ChaCha20-Poly1305 under the operator's key, bound to the row it belongs to (associated data),
//! so a database dump alone yields nothing and a sealed value copied to another row fails to open.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::error::ServeError;

const VERSION: &str = "v1";
const NONCE_BYTES: usize = 12;

/// The sealing key; never printed (its `Debug` says nothing about it).
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A key from its text form: 64 hex digits or base64 of 32 bytes (what `openssl rand` prints).
    pub fn from_text(text: &str) -> Result<Sealer, ServeError> {
        let t = text.trim();
        let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            stepup_core::wire::encoding::hex_decode(t)
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .ok()
                .or_else(|| B64.decode(t).ok())
        };
        match bytes {
            Some(b) if b.len() == 32 => match Key::try_from(b.as_slice()) {
                Ok(k) => Ok(Sealer {
                    cipher: ChaCha20Poly1305::new(&k),
                }),
                Err(_) => Err(ServeError::Key("the secret key must be 32 bytes".into())),
            },
            _ => Err(ServeError::Key(
                "the secret key must be 32 bytes, as 64 hex digits or base64 (e.g. `openssl rand -hex 32`)".into(),
            )),
        }
    }

    /// A fresh random key in hex (what `--dev` writes when no key exists).
    pub fn generate_text() -> Result<String, ServeError> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(|e| ServeError::Key(format!("no entropy: {e}")))?;
        Ok(stepup_core::wire::encoding::hex_encode(&k))
    }

    /// Seals `plain` for the row named by `context` (e.g. `totp:alice`).
    pub fn seal(&self, context: &str, plain: &[u8]) -> Result<String, ServeError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| ServeError::Key(format!("no entropy: {e}")))?;
        let ct = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| ServeError::Key("sealing failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_BYTES + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(format!("{VERSION}.{}", B64.encode(out)))
    }

    /// Seals text for `context` (the stored form of code records: a copied database gives no
    /// hash to brute-force offline, G13).
    pub fn seal_text(&self, context: &str, text: &str) -> Result<String, ServeError> {
        self.seal(context, text.as_bytes())
    }

    /// Opens text stored by [`Sealer::seal_text`]; a value stored before records were sealed
    /// (plain text, no version prefix) is read as it is, and sealed again when next written.
    pub fn open_text(&self, context: &str, stored: &str) -> Result<String, ServeError> {
        if !stored.starts_with(&format!("{VERSION}.")) {
            return Ok(stored.to_owned());
        }
        Ok(String::from_utf8_lossy(&self.open(context, stored)?).into_owned())
    }

    /// Opens a value sealed for `context`; a wrong key, row or a tampered value is an error.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, ServeError> {
        let bad = || {
            ServeError::Key(format!(
                "a stored secret ({}) does not open with this key: the key differs from the one it was sealed with, or the row was altered",
                context.split(':').next().unwrap_or("secret")
            ))
        };
        let body = sealed
            .strip_prefix(VERSION)
            .and_then(|s| s.strip_prefix('.'))
            .ok_or_else(bad)?;
        let raw = B64.decode(body).map_err(|_| bad())?;
        let (nonce, ct) = raw.split_at_checked(NONCE_BYTES).ok_or_else(bad)?;
        let nonce = Nonce::try_from(nonce).map_err(|_| bad())?;
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn seals_and_opens_bound_to_context() {
        let s = Sealer::from_text(KEY).unwrap();
        let sealed = s.seal("totp:alice", b"JBSWY3DPEHPK3PXP").unwrap();
        assert!(!sealed.contains("JBSW"));
        assert_eq!(s.open("totp:alice", &sealed).unwrap(), b"JBSWY3DPEHPK3PXP");
        assert!(s.open("totp:mallory", &sealed).is_err());
        let other = Sealer::from_text(&Sealer::generate_text().unwrap()).unwrap();
        assert!(other.open("totp:alice", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.push('A');
        assert!(s.open("totp:alice", &tampered).is_err());
    }

    #[test]
    fn key_text_forms() {
        assert!(Sealer::from_text(KEY).is_ok());
        assert!(Sealer::from_text("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").is_ok());
        let e = Sealer::from_text("short").unwrap_err().to_string();
        assert!(e.contains("32 bytes"), "{e}");
        assert!(!e.contains("short"), "the key text must not be echoed: {e}");
    }
}
