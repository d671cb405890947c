//! TOTP (RFC 6238) verification with replay and clock-drift detection, code generation and
//! enrolment (secret, otpauth URI, QR). Verification keys the HMAC once per check and clones the
//! keyed state for each step rather than keying per step (docs/BENCHMARKS.md); the codes shown
//! to users come from totp-rs, and a test holds both to the same codes. Enrolment is written
//! here: the secret comes from the host's entropy (`entropy`), the otpauth URI follows the Key
//! Uri Format with the issuer in label and parameter, and the QR code is `qrcodegen`'s. The
//! window scan checks every candidate step so timing does not reveal which one matched.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde::Serialize;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Totp};

use crate::codes::entropy::Expander;
use crate::config::{TotpAlgorithm, TotpConfig};
use crate::contract::error::InputError;
use crate::wire::encoding::base32_encode;

/// The outcome of checking one presented TOTP code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TotpCheck {
    /// Matched inside the window at this step, newer than the last accepted step.
    Accepted {
        /// The matched time step.
        step: u64,
    },
    /// Matched a step at or before the last accepted one (RFC 6238 §5.2).
    Replayed,
    /// Matched outside the window but within the drift probe: `offset` steps away.
    Drift {
        /// Positive when the device clock is ahead.
        offset: i64,
    },
    /// No match.
    Invalid,
    /// Not `digits` digits (after removing spaces).
    Malformed,
}

fn totp_for(cfg: &TotpConfig, secret: &[u8]) -> Totp {
    let algorithm = match cfg.algorithm {
        TotpAlgorithm::Sha1 => Algorithm::SHA1,
        TotpAlgorithm::Sha256 => Algorithm::SHA256,
        TotpAlgorithm::Sha512 => Algorithm::SHA512,
    };
    // Digits (6–8) and period (≥ 1) are validated with the config, which is what totp-rs's
    // compliance checks would otherwise guard; secrets are checked at parse time.
    Builder::new()
        .with_algorithm(algorithm)
        .with_digits(cfg.digits)
        .with_skew(0)
        .with_step_duration(cfg.period_seconds)
        .with_secret(secret.to_vec())
        .build_noncompliant()
}

/// Removes the spaces the npm prompt allows; the code's value unless exactly `digits` ASCII
/// digits remain (leading zeros are part of the length, so the value identifies the code).
fn normalize(code: &str, digits: u8) -> Option<u32> {
    let mut n = 0usize;
    let mut value = 0u32;
    for b in code.bytes().filter(|b| *b != b' ') {
        if !b.is_ascii_digit() || n >= usize::from(digits) {
            return None;
        }
        n += 1;
        value = value.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    (n == usize::from(digits)).then_some(value)
}

/// An HMAC keyed with the secret once; each step's code is computed from a clone (RFC 4226 §5.3
/// dynamic truncation), so the key is hashed once per check rather than once per step.
enum Keyed {
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
    Sha512(Hmac<sha2::Sha512>),
}

impl Keyed {
    fn new(algorithm: TotpAlgorithm, secret: &[u8]) -> Option<Keyed> {
        Some(match algorithm {
            TotpAlgorithm::Sha1 => Keyed::Sha1(Hmac::new_from_slice(secret).ok()?),
            TotpAlgorithm::Sha256 => Keyed::Sha256(Hmac::new_from_slice(secret).ok()?),
            TotpAlgorithm::Sha512 => Keyed::Sha512(Hmac::new_from_slice(secret).ok()?),
        })
    }

    /// The code of counter `step` with `digits` digits, as a number.
    fn code(&self, step: u64, digits: u8) -> u32 {
        fn truncate(h: &[u8], digits: u8) -> u32 {
            let offset = usize::from(h.last().copied().unwrap_or(0) & 0x0f);
            let word = h.get(offset..).and_then(|b| b.first_chunk::<4>());
            let bin = word.map_or(0, |b| u32::from_be_bytes(*b) & 0x7fff_ffff);
            // Digits are 6–8 (config validation), so the power always exists.
            10u32
                .checked_pow(u32::from(digits))
                .map_or(bin, |m| bin % m)
        }
        let counter = step.to_be_bytes();
        match self {
            Keyed::Sha1(k) => truncate(
                &k.clone().chain_update(counter).finalize().into_bytes(),
                digits,
            ),
            Keyed::Sha256(k) => truncate(
                &k.clone().chain_update(counter).finalize().into_bytes(),
                digits,
            ),
            Keyed::Sha512(k) => truncate(
                &k.clone().chain_update(counter).finalize().into_bytes(),
                digits,
            ),
        }
    }
}

/// Checks `code` at `now` against the window and, failing that, the drift probe.
pub fn verify(
    cfg: &TotpConfig,
    secret: &[u8],
    code: &str,
    now: u64,
    last_step: Option<u64>,
) -> TotpCheck {
    let Some(code) = normalize(code, cfg.digits) else {
        return TotpCheck::Malformed;
    };
    let Some(keyed) = Keyed::new(cfg.algorithm, secret) else {
        return TotpCheck::Invalid;
    };
    let origin = now / cfg.period_seconds;
    let matches_at = |offset: i64| -> bool {
        origin
            .checked_add_signed(offset)
            .is_some_and(|step| bool::from(keyed.code(step, cfg.digits).ct_eq(&code)))
    };
    let skew = i64::from(cfg.skew_steps);
    // Every window step is computed (no early exit); preference is now, then -1, +1, ...
    // skew_steps is at most 2 (config validation), so the window fits in five slots.
    const OFFSETS: [i64; 5] = [0, -1, 1, -2, 2];
    let window = OFFSETS.get(..(2 * skew as usize + 1)).unwrap_or(&OFFSETS);
    let mut hits = [(0i64, false); 5];
    for (slot, &o) in hits.iter_mut().zip(window) {
        *slot = (o, matches_at(o));
    }
    let mut replayed = false;
    for &(offset, hit) in hits.iter().take(window.len()) {
        if !hit {
            continue;
        }
        let Some(step) = origin.checked_add_signed(offset) else {
            continue;
        };
        if last_step.is_some_and(|l| step <= l) {
            replayed = true;
        } else {
            return TotpCheck::Accepted { step };
        }
    }
    if replayed {
        return TotpCheck::Replayed;
    }
    // SPEC §8.22: a match at or before the last accepted step is a replay wherever it lies (a
    // command re-run from shell history), never a clock to fix.
    for k in (skew + 1)..=i64::from(cfg.drift_probe_steps) {
        for offset in [-k, k] {
            if matches_at(offset) {
                let step = origin.checked_add_signed(offset);
                if last_step.is_some_and(|l| step.is_some_and(|s| s <= l)) {
                    return TotpCheck::Replayed;
                }
                return TotpCheck::Drift { offset };
            }
        }
    }
    TotpCheck::Invalid
}

/// The code an authenticator shows at `now` (for tests, demos and the CLI).
pub fn generate(cfg: &TotpConfig, secret: &[u8], now: u64) -> String {
    totp_for(cfg, secret).generate(now).to_string()
}

/// A new TOTP enrolment: what the user scans and what the host stores.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TotpEnrollment {
    /// The secret, base32 (store encrypted; show once).
    pub secret: String,
    /// `otpauth://totp/...` for authenticator apps.
    pub otpauth_uri: String,
    /// The URI as a QR code, SVG.
    pub qr_svg: String,
}

impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrollment { .. }")
    }
}

/// Creates a secret from host entropy and the URI and QR code for it.
pub fn enroll(
    cfg: &TotpConfig,
    issuer: &str,
    account: &str,
    entropy: &[u8],
) -> Result<TotpEnrollment, InputError> {
    for (field, v) in [("issuer", issuer), ("account", account)] {
        if v.is_empty() || v.len() > 128 {
            return Err(InputError::new(field, "between 1 and 128 bytes"));
        }
        if v.contains(':') {
            return Err(InputError::new(
                field,
                "must not contain ':' (otpauth label separator)",
            ));
        }
        if v.chars().any(char::is_control) {
            return Err(InputError::new(
                field,
                "must not contain control characters",
            ));
        }
    }
    let mut ex = Expander::new(entropy)?;
    let secret = base32_encode(&ex.bytes("totp-secret", usize::from(cfg.secret_bytes)));
    let otpauth_uri = otpauth_uri(cfg, issuer, account, &secret);
    let qr_svg = crate::codes::qr::svg(&otpauth_uri)?;
    Ok(TotpEnrollment {
        secret,
        otpauth_uri,
        qr_svg,
    })
}

/// `otpauth://totp/Issuer:account?secret=...&issuer=...&algorithm=...&digits=...&period=...`
/// (Key URI format), percent-encoding label and issuer.
pub fn otpauth_uri(cfg: &TotpConfig, issuer: &str, account: &str, secret_b32: &str) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm={}&digits={}&period={}",
        pct(issuer),
        pct(account),
        secret_b32,
        pct(issuer),
        cfg.algorithm.as_str(),
        cfg.digits,
        cfg.period_seconds
    )
}

fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Human wording of a drift: "about 4 minutes ahead".
pub fn drift_words(seconds: i64) -> String {
    let dir = if seconds >= 0 { "ahead" } else { "behind" };
    let abs = seconds.unsigned_abs();
    if abs < 120 {
        format!("about {abs} seconds {dir}")
    } else {
        format!("about {} minutes {dir}", (abs + 30) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pre-keyed codes `verify` compares are the codes totp-rs generates (and authenticators
    /// show), for every algorithm and length, across steps, secrets and leading zeros.
    #[test]
    fn keyed_codes_are_totp_rs_codes() {
        let secrets: [&[u8]; 3] = [SHA1_SEED, b"a 32-byte secret for sha256 ....", &[0u8; 64]];
        for alg in [
            TotpAlgorithm::Sha1,
            TotpAlgorithm::Sha256,
            TotpAlgorithm::Sha512,
        ] {
            for digits in 6..=8 {
                let c = cfg(digits, alg);
                for secret in secrets {
                    let keyed = Keyed::new(alg, secret).unwrap();
                    for step in (0..2000u64).chain([59_333_333, u64::from(u32::MAX)]) {
                        let shown = generate(&c, secret, step * c.period_seconds);
                        let ours = format!(
                            "{:0width$}",
                            keyed.code(step, digits),
                            width = usize::from(digits)
                        );
                        assert_eq!(ours, shown, "{alg:?} {digits} step {step}");
                        assert_eq!(normalize(&shown, digits), Some(keyed.code(step, digits)));
                    }
                }
            }
        }
    }

    #[test]
    fn normalize_takes_exactly_the_digits() {
        assert_eq!(normalize("012 345", 6), Some(12345));
        assert_eq!(normalize(" 000000 ", 6), Some(0));
        for bad in [
            "12345",
            "1234567",
            "12345a",
            "１２３４５６",
            "",
            "99999999999999999999",
        ] {
            assert_eq!(normalize(bad, 6), None, "{bad}");
        }
        assert_eq!(normalize("99999999", 8), Some(99_999_999));
    }

    const SHA1_SEED: &[u8] = b"12345678901234567890";

    fn cfg(digits: u8, alg: TotpAlgorithm) -> TotpConfig {
        TotpConfig {
            algorithm: alg,
            digits,
            period_seconds: 30,
            skew_steps: 1,
            drift_probe_steps: 10,
            secret_bytes: 20,
        }
    }

    #[test]
    fn rfc6238_appendix_b() {
        let sha256 = b"12345678901234567890123456789012";
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234";
        let rows: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        for (t, a, b, c) in rows {
            assert_eq!(generate(&cfg(8, TotpAlgorithm::Sha1), SHA1_SEED, t), a);
            assert_eq!(generate(&cfg(8, TotpAlgorithm::Sha256), sha256, t), b);
            assert_eq!(generate(&cfg(8, TotpAlgorithm::Sha512), sha512, t), c);
        }
    }

    #[test]
    fn window_replay_and_drift() {
        let c = cfg(6, TotpAlgorithm::Sha1);
        assert_eq!(
            verify(&c, SHA1_SEED, "287082", 59, None),
            TotpCheck::Accepted { step: 1 }
        );
        assert_eq!(
            verify(&c, SHA1_SEED, "287 082", 59, Some(0)),
            TotpCheck::Accepted { step: 1 }
        );
        assert_eq!(
            verify(&c, SHA1_SEED, "287082", 59, Some(1)),
            TotpCheck::Replayed
        );
        // HOTP counter 1 seen from step 2 (one behind) is in the window; from step 3 it is drift.
        assert_eq!(
            verify(&c, SHA1_SEED, "287082", 60, None),
            TotpCheck::Accepted { step: 1 }
        );
        assert_eq!(
            verify(&c, SHA1_SEED, "287082", 90, None),
            TotpCheck::Drift { offset: -2 }
        );
        // Counter 9 (520489) seen from step 1: device 8 steps ahead.
        assert_eq!(
            verify(&c, SHA1_SEED, "520489", 30, None),
            TotpCheck::Drift { offset: 8 }
        );
        assert_eq!(
            verify(&c, SHA1_SEED, "000000", 59, None),
            TotpCheck::Invalid
        );
        assert_eq!(
            verify(&c, SHA1_SEED, "28708", 59, None),
            TotpCheck::Malformed
        );
        assert_eq!(
            verify(&c, SHA1_SEED, "28708a", 59, None),
            TotpCheck::Malformed
        );
    }

    #[test]
    fn uri_is_percent_encoded() {
        let c = cfg(6, TotpAlgorithm::Sha1);
        assert_eq!(
            otpauth_uri(&c, "Acme Registry", "alice@example.com", "JBSWY3DPEHPK3PXP"),
            "otpauth://totp/Acme%20Registry:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Acme%20Registry&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(drift_words(240), "about 4 minutes ahead");
        assert_eq!(drift_words(-60), "about 60 seconds behind");
    }
}
