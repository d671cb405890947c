//! Recovery codes and emailed login codes: issued from host entropy, stored only as salted
//! SHA-256 hashes, compared in constant time (SPEC §5, §8.18).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::codes::entropy::Expander;
use crate::config::{Config, EmailConfig};
use crate::contract::error::InputError;
use crate::contract::factor::Factor;
use crate::contract::time::Timestamp;
use crate::wire::encoding::{hex_decode, hex_encode};

pub use crate::config::RECOVERY_DIGITS;

const SALT_BYTES: usize = 16;

/// A stored code: salt and SHA-256(salt ‖ normalised code), both hex.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRecord {
    /// Hex salt.
    pub salt: HexBytes,
    /// Hex SHA-256.
    pub hash: Digest32,
}

impl fmt::Debug for CodeRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeRecord { .. }")
    }
}

/// A stored emailed login code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailRecord {
    /// Hex salt.
    pub salt: HexBytes,
    /// Hex SHA-256 of salt ‖ code.
    pub hash: Digest32,
    /// Expiry (unix seconds).
    pub expires_at: Timestamp,
    /// Failed tries so far.
    #[serde(default)]
    pub attempts: u32,
}

impl fmt::Debug for EmailRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailRecord")
            .field("expires_at", &self.expires_at)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Bytes written as hex in JSON (at most 64 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct HexBytes(pub Vec<u8>);

/// A SHA-256 digest written as 64 hex characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Digest32(pub [u8; 32]);

impl Serialize for HexBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex_encode(&self.0))
    }
}

impl Serialize for Digest32 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex_encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HexBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("hex, at most 64 bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HexBytes, E> {
                match hex_decode(v) {
                    Some(b) if b.len() <= 64 => Ok(HexBytes(b)),
                    _ => Err(E::invalid_value(
                        de::Unexpected::Other("a string that is not short hex"),
                        &self,
                    )),
                }
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Digest32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Digest32;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a SHA-256 digest as 64 hex characters")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Digest32, E> {
                hex_decode(v)
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .map(Digest32)
                    .ok_or_else(|| {
                        E::invalid_value(
                            de::Unexpected::Other("a string that is not 64 hex characters"),
                            &self,
                        )
                    })
            }
        }
        d.deserialize_str(V)
    }
}

/// Canonical form of a typed recovery or email code: spaces and dashes removed, lower case.
/// `None` when empty, longer than 128 characters, or not alphanumeric.
pub fn normalize(code: &str) -> Option<String> {
    let s: String = code
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(s)
}

/// SHA-256(salt ‖ code).
pub fn hash(salt: &[u8], normalized: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(normalized.as_bytes());
    h.finalize().into()
}

/// Which factor a bare code (an `npm-otp` header) most likely is: TOTP digits, email digits,
/// or anything longer as a recovery code. `None` when it cannot be any of them.
pub fn classify(cfg: &Config, code: &str) -> Option<Factor> {
    let n = normalize(code)?;
    let digits = n.bytes().all(|b| b.is_ascii_digit());
    if digits && n.len() == usize::from(cfg.totp.digits) {
        Some(Factor::Totp)
    } else if digits && n.len() == usize::from(cfg.email_code.digits) {
        Some(Factor::EmailOtp)
    } else if n.len() >= 10 {
        Some(Factor::RecoveryCode)
    } else {
        None
    }
}

/// Result of checking a recovery code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryCheck {
    /// Matches the record at this index.
    Accepted(usize),
    /// Matches nothing.
    Invalid,
    /// Not a code at all.
    Malformed,
}

/// Compares against every record (no early exit), each in constant time.
pub fn verify_recovery(records: &[CodeRecord], code: &str) -> RecoveryCheck {
    let Some(n) = normalize(code) else {
        return RecoveryCheck::Malformed;
    };
    let mut found: Option<usize> = None;
    for (i, r) in records.iter().enumerate() {
        let h = hash(&r.salt.0, &n);
        if bool::from(h.ct_eq(&r.hash.0)) && found.is_none() {
            found = Some(i);
        }
    }
    found.map_or(RecoveryCheck::Invalid, RecoveryCheck::Accepted)
}

/// Result of checking an email code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailCheck {
    /// Right code, in time, with tries left.
    Accepted,
    /// Wrong, expired or exhausted.
    Invalid,
    /// Not `digits` digits.
    Malformed,
}

/// Checks an email code: expired when `now >= expires_at`, exhausted when `attempts >= max`.
pub fn verify_email(
    cfg: &EmailConfig,
    record: Option<&EmailRecord>,
    code: &str,
    now: u64,
) -> EmailCheck {
    let Some(n) = normalize(code)
        .filter(|n| n.len() == usize::from(cfg.digits) && n.bytes().all(|b| b.is_ascii_digit()))
    else {
        return EmailCheck::Malformed;
    };
    let Some(r) = record else {
        return EmailCheck::Invalid;
    };
    let matches = bool::from(hash(&r.salt.0, &n).ct_eq(&r.hash.0));
    if now >= r.expires_at.0 || r.attempts >= cfg.max_attempts || !matches {
        return EmailCheck::Invalid;
    }
    EmailCheck::Accepted
}

/// Freshly issued recovery codes: the plain codes to show once and the records to store.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct IssuedRecoveryCodes {
    /// Show once, never store.
    pub codes: Vec<String>,
    /// Store these (same order); the index is what `burn-recovery-code` names.
    pub records: Vec<CodeRecord>,
}

impl fmt::Debug for IssuedRecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IssuedRecoveryCodes {{ {} codes }}", self.codes.len())
    }
}

/// Issues `count` recovery codes from host entropy. Regenerating means replacing every record.
pub fn issue_recovery_codes(count: u8, entropy: &[u8]) -> Result<IssuedRecoveryCodes, InputError> {
    let mut ex = Expander::new(entropy)?;
    let mut codes = Vec::with_capacity(usize::from(count));
    let mut records = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let code = ex.digits("recovery-code", RECOVERY_DIGITS);
        let salt = ex.bytes("recovery-salt", SALT_BYTES);
        let h = hash(&salt, &code);
        records.push(CodeRecord {
            salt: HexBytes(salt),
            hash: Digest32(h),
        });
        codes.push(code);
    }
    Ok(IssuedRecoveryCodes { codes, records })
}

/// A freshly issued email code: the code to email and the record to store.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct IssuedEmailCode {
    /// Email this; never store it.
    pub code: String,
    /// Store this.
    pub record: EmailRecord,
}

impl fmt::Debug for IssuedEmailCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedEmailCode")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// Issues an email login code valid for the configured TTL from `now`.
pub fn issue_email_code(
    cfg: &EmailConfig,
    entropy: &[u8],
    now: u64,
) -> Result<IssuedEmailCode, InputError> {
    let mut ex = Expander::new(entropy)?;
    let code = ex.digits("email-code", usize::from(cfg.digits));
    let salt = ex.bytes("email-salt", SALT_BYTES);
    let record = EmailRecord {
        hash: Digest32(hash(&salt, &code)),
        salt: HexBytes(salt),
        expires_at: Timestamp(now.saturating_add(cfg.ttl_seconds)),
        attempts: 0,
    };
    Ok(IssuedEmailCode { code, record })
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: [u8; 32] = [7; 32];

    #[test]
    fn recovery_codes_verify_once_each() {
        let issued = issue_recovery_codes(10, &E).unwrap_or_else(|_| IssuedRecoveryCodes {
            codes: vec![],
            records: vec![],
        });
        assert_eq!(issued.codes.len(), 10);
        assert!(
            issued
                .codes
                .iter()
                .all(|c| c.len() == RECOVERY_DIGITS && c.bytes().all(|b| b.is_ascii_digit()))
        );
        let third = issued.codes.get(2).cloned().unwrap_or_default();
        let spaced: String = third
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                if i > 0 && i % 5 == 0 {
                    vec![' ', c]
                } else {
                    vec![c]
                }
            })
            .collect();
        assert_eq!(
            verify_recovery(&issued.records, &spaced),
            RecoveryCheck::Accepted(2)
        );
        assert_eq!(
            verify_recovery(&issued.records, "1234567890123456789012345"),
            RecoveryCheck::Invalid
        );
        assert_eq!(
            verify_recovery(&issued.records, "  "),
            RecoveryCheck::Malformed
        );
        assert!(issue_recovery_codes(10, &[1; 31]).is_err());
    }

    #[test]
    fn email_code_expiry_and_attempts() {
        let cfg = EmailConfig {
            digits: 8,
            ttl_seconds: 600,
            max_attempts: 5,
        };
        let issued = issue_email_code(&cfg, &E, 1000).unwrap();
        assert_eq!(issued.record.expires_at, Timestamp(1600));
        assert_eq!(
            verify_email(&cfg, Some(&issued.record), &issued.code, 1599),
            EmailCheck::Accepted
        );
        assert_eq!(
            verify_email(&cfg, Some(&issued.record), &issued.code, 1600),
            EmailCheck::Invalid
        );
        let mut spent = issued.record.clone();
        spent.attempts = 5;
        assert_eq!(
            verify_email(&cfg, Some(&spent), &issued.code, 1001),
            EmailCheck::Invalid
        );
        assert_eq!(
            verify_email(&cfg, Some(&issued.record), "1234567", 1001),
            EmailCheck::Malformed
        );
    }
}
