//! authorize: verify a presented code and decide in one call (SPEC §5, §8.13).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::codes::{self, CodeRecord, EmailCheck, EmailRecord, RecoveryCheck};
use crate::config::Config;
use crate::decision::{Decision, Effect, Reason};
use crate::encoding::base32_decode;
use crate::error::InputError;
use crate::factor::Factor;
use crate::json::nullable;
use crate::request::{MAX_LIST, Request};
use crate::rules::{
    Need, Verdict, decide, finish_allow, has_fresh_proof, start_safeguard, throttled, verdict,
};
use crate::time::Count;
use crate::totp::{self, TotpCheck};

/// The account's secret state, passed in by the host for one call (SPEC §8.15).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// TOTP secret (base32 in JSON).
    #[serde(default)]
    pub totp_secret: Option<TotpSecret>,
    /// Last accepted TOTP step.
    #[serde(default)]
    pub last_totp_step: Option<Count>,
    /// Unburned recovery codes.
    #[serde(default, deserialize_with = "nullable")]
    pub recovery_codes: Vec<CodeRecord>,
    /// The pending emailed login code.
    #[serde(default)]
    pub email_code: Option<EmailRecord>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field(
                "totp_secret",
                &self.totp_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("last_totp_step", &self.last_totp_step)
            .field("recovery_codes", &self.recovery_codes.len())
            .field("email_code", &self.email_code)
            .finish()
    }
}

/// Raw TOTP secret bytes; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(pub Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// Parses base32 (case-insensitive, padding and spaces ignored); 128 to 512 bits.
    pub fn from_base32(text: &str) -> Option<TotpSecret> {
        base32_decode(text)
            .filter(|b| (16..=64).contains(&b.len()))
            .map(TotpSecret)
    }
}

impl<'de> Deserialize<'de> for TotpSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TotpSecret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base32 secret of 128 to 512 bits")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TotpSecret, E> {
                // The value is secret: the error names what was wrong, not what was sent.
                TotpSecret::from_base32(v)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Other("another string"), &self))
            }
        }
        d.deserialize_str(V)
    }
}

/// The code the user typed, and which factor it is (detected when absent).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Presented {
    /// Which factor; absent = detect from the code's shape.
    #[serde(default)]
    pub factor: Option<Factor>,
    /// The code as typed.
    pub code: String,
}

impl fmt::Debug for Presented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presented")
            .field("factor", &self.factor)
            .finish_non_exhaustive()
    }
}

/// The authorize document: `{request, secrets, present}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeInput {
    /// The request.
    pub request: Request,
    /// The account's secret state.
    #[serde(default, deserialize_with = "nullable")]
    pub secrets: Secrets,
    /// The presented code, if any.
    #[serde(default)]
    pub present: Option<Presented>,
}

impl AuthorizeInput {
    /// Parses and checks an authorize document.
    pub fn parse(text: &str) -> Result<AuthorizeInput, InputError> {
        let input: AuthorizeInput =
            crate::json::parse(text).map_err(crate::request::fix_credential_path)?;
        input.checked()
    }

    /// Checks an already-parsed JSON value.
    pub fn from_value(value: &serde_json::Value) -> Result<AuthorizeInput, InputError> {
        let input: AuthorizeInput =
            crate::json::from_value(value).map_err(crate::request::fix_credential_path)?;
        input.checked()
    }

    fn checked(mut self) -> Result<AuthorizeInput, InputError> {
        self.request = self.request.checked().map_err(|e| e.within("request"))?;
        if self.secrets.recovery_codes.len() > MAX_LIST {
            return Err(InputError::new(
                "secrets.recovery_codes",
                format!("at most {MAX_LIST} entries"),
            ));
        }
        if let Some(p) = &self.present
            && p.code.len() > 256
        {
            return Err(InputError::new("present.code", "longer than 256 bytes"));
        }
        Ok(self)
    }
}

/// Runs authorize with typed input (SPEC §8.13).
pub(crate) fn authorize(
    cfg: &Config,
    cohort_rules: &[String],
    req: &Request,
    secrets: &Secrets,
    present: Option<&Presented>,
) -> Result<Decision, InputError> {
    let need = match verdict(cfg, cohort_rules, req) {
        Verdict::Final(mut d) => {
            finish_allow(cfg, req, &mut d);
            return Ok(d);
        }
        Verdict::Free => {
            let mut d = decide(Reason::Allowed, "default");
            finish_allow(cfg, req, &mut d);
            return Ok(d);
        }
        Verdict::Need(n) => n,
    };
    if has_fresh_proof(cfg, req, &need) {
        let mut d = decide(Reason::AllowedWithProof, need.rule.clone());
        finish_allow(cfg, req, &mut d);
        return Ok(d);
    }
    if let Some(d) = throttled(cfg, req) {
        return Ok(d);
    }
    let Some(present) = present.filter(|p| !p.code.trim().is_empty()) else {
        return Ok(need.challenge());
    };
    let Some(factor) = present
        .factor
        .or_else(|| codes::classify(cfg, &present.code))
    else {
        return Ok(failed(&need, Reason::OtpMalformed, Vec::new()));
    };
    if !need.listed.contains(factor) {
        return Ok(need.challenge());
    }
    let now = req.now.0;
    match factor {
        Factor::Totp => {
            let secret = secrets.totp_secret.as_ref().ok_or_else(|| {
                InputError::new("secrets.totp_secret", "required to verify a totp code")
            })?;
            let last = secrets.last_totp_step.map(|c| c.0);
            Ok(
                match totp::verify(&cfg.totp, &secret.0, &present.code, now, last) {
                    TotpCheck::Accepted { step } => {
                        success(cfg, req, &need, Effect::ConsumeTotpStep { step })
                    }
                    TotpCheck::Replayed => failed(&need, Reason::OtpReplayed, Vec::new()),
                    TotpCheck::Malformed => failed(&need, Reason::OtpMalformed, Vec::new()),
                    TotpCheck::Invalid => failed(&need, Reason::OtpInvalid, Vec::new()),
                    TotpCheck::Drift { offset } => {
                        let seconds = offset.saturating_mul(
                            i64::try_from(cfg.totp.period_seconds).unwrap_or(i64::MAX),
                        );
                        let mut d = failed(&need, Reason::OtpClockDrift, Vec::new());
                        d.drift_seconds = Some(seconds);
                        d.message = Cow::Owned(format!(
                            "The one-time password matches a different time: your device clock is {}.",
                            totp::drift_words(seconds)
                        ));
                        d
                    }
                },
            )
        }
        Factor::RecoveryCode => Ok(
            match codes::verify_recovery(&secrets.recovery_codes, &present.code) {
                RecoveryCheck::Accepted(index) => {
                    let mut d = success(cfg, req, &need, Effect::BurnRecoveryCode { index });
                    start_safeguard(cfg, req, &mut d);
                    d
                }
                RecoveryCheck::Invalid => failed(&need, Reason::OtpInvalid, Vec::new()),
                RecoveryCheck::Malformed => failed(&need, Reason::OtpMalformed, Vec::new()),
            },
        ),
        Factor::EmailOtp => Ok(
            match codes::verify_email(
                &cfg.email_code,
                secrets.email_code.as_ref(),
                &present.code,
                now,
            ) {
                EmailCheck::Accepted => success(cfg, req, &need, Effect::ConsumeEmailCode),
                EmailCheck::Invalid => {
                    failed(&need, Reason::OtpInvalid, vec![Effect::RecordEmailAttempt])
                }
                EmailCheck::Malformed => failed(
                    &need,
                    Reason::OtpMalformed,
                    vec![Effect::RecordEmailAttempt],
                ),
            },
        ),
        Factor::Webauthn => Err(InputError::new(
            "present.factor",
            "webauthn is verified by a WebAuthn assertion, not a code",
        )),
    }
}

fn success(cfg: &Config, req: &Request, need: &Need, consume: Effect) -> Decision {
    let mut d = decide(Reason::AllowedWithProof, need.rule.clone());
    d.effects.push(consume);
    d.effects.push(Effect::ClearFailures);
    finish_allow(cfg, req, &mut d);
    d
}

fn failed(need: &Need, reason: Reason, extra: Vec<Effect>) -> Decision {
    let mut d = need.challenge_with(reason);
    d.effects.push(Effect::RecordFailure);
    d.effects.extend(extra);
    d
}
