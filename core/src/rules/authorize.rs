//! authorize: verify a presented code and decide in one call (SPEC §5, §8.13).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::codes::single_use::{self, CodeRecord, EmailCheck, EmailRecord, RecoveryCheck};
use crate::codes::totp::{self, TotpCheck};
use crate::config::Config;
use crate::contract::decision::{Decision, Effect, Reason};
use crate::contract::error::InputError;
use crate::contract::factor::Factor;
use crate::contract::request::{MAX_LIST, Request, RequestDoc};
use crate::contract::time::Count;
use crate::rules::precedence::{
    Need, Verdict, decide, finish_allow, has_fresh_proof, start_safeguard, throttled, verdict,
};
use crate::verify::webauthn::{AssertionCheck, AssertionJson, WebauthnSecrets, verify_assertion};
use crate::wire::encoding::base32_decode;
use crate::wire::json::nullable;

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
    /// WebAuthn credentials and the pending assertion challenge.
    #[serde(default)]
    pub webauthn: Option<WebauthnSecrets>,
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
            .field(
                "webauthn",
                &self.webauthn.as_ref().map(|w| w.credentials.len()),
            )
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

impl Secrets {
    /// Builds secrets from raw parts (typed bindings) with the checks JSON parsing applies:
    /// a 128–512-bit TOTP secret, salts of at most 64 bytes, 32-byte digests, list sizes.
    pub fn from_parts(
        totp_secret: Option<Vec<u8>>,
        last_totp_step: Option<u64>,
        recovery_codes: Vec<(Vec<u8>, Vec<u8>)>,
        email_code: Option<(Vec<u8>, Vec<u8>, u64, u32)>,
        webauthn: Option<WebauthnSecrets>,
    ) -> Result<Secrets, InputError> {
        if let Some(c) = webauthn.as_ref().and_then(|w| w.challenge.as_ref())
            && c.expires_at.0 > crate::contract::time::MAX_SAFE_INTEGER
        {
            return Err(InputError::new(
                "secrets.webauthn.challenge.expires_at",
                "expected an integer of at most 2^53 - 1",
            ));
        }
        let totp_secret = match totp_secret {
            Some(b) if (16..=64).contains(&b.len()) => Some(TotpSecret(b)),
            Some(_) => {
                return Err(InputError::new(
                    "secrets.totp_secret",
                    "expected a secret of 128 to 512 bits",
                ));
            }
            None => None,
        };
        if last_totp_step.is_some_and(|s| s > crate::contract::time::MAX_SAFE_INTEGER) {
            return Err(InputError::new(
                "secrets.last_totp_step",
                "expected an integer of at most 2^53 - 1",
            ));
        }
        if recovery_codes.len() > MAX_LIST {
            return Err(InputError::new(
                "secrets.recovery_codes",
                format!("at most {MAX_LIST} entries"),
            ));
        }
        let record = |salt: Vec<u8>,
                      hash: Vec<u8>,
                      path: String|
         -> Result<(single_use::HexBytes, single_use::Digest32), InputError> {
            if salt.len() > 64 {
                return Err(InputError::new(format!("{path}.salt"), "at most 64 bytes"));
            }
            let hash = <[u8; 32]>::try_from(hash).map_err(|_| {
                InputError::new(format!("{path}.hash"), "expected a 32-byte SHA-256 digest")
            })?;
            Ok((single_use::HexBytes(salt), single_use::Digest32(hash)))
        };
        let recovery_codes = recovery_codes
            .into_iter()
            .enumerate()
            .map(|(i, (salt, hash))| {
                record(salt, hash, format!("secrets.recovery_codes[{i}]"))
                    .map(|(salt, hash)| CodeRecord { salt, hash })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let email_code = match email_code {
            Some((salt, hash, expires_at, attempts)) => {
                if expires_at > crate::contract::time::MAX_SAFE_INTEGER {
                    return Err(InputError::new(
                        "secrets.email_code.expires_at",
                        "expected an integer of at most 2^53 - 1",
                    ));
                }
                let (salt, hash) = record(salt, hash, "secrets.email_code".to_owned())?;
                Some(EmailRecord {
                    salt,
                    hash,
                    expires_at: crate::contract::time::Timestamp(expires_at),
                    attempts,
                })
            }
            None => None,
        };
        Ok(Secrets {
            totp_secret,
            last_totp_step: last_totp_step.map(Count),
            recovery_codes,
            email_code,
            webauthn,
        })
    }
}

impl Presented {
    /// A WebAuthn assertion presented as the browser's `PublicKeyCredential.toJSON()` text
    /// (typed hosts carry it as text: it is the browser's document, read only by the engine).
    pub fn assertion(factor: Option<Factor>, assertion: &str) -> Result<Presented, InputError> {
        let parsed: AssertionJson =
            crate::wire::json::parse(assertion).map_err(|e| e.within("present.assertion"))?;
        Presented::checked(factor, String::new(), Some(Box::new(parsed)))
    }

    /// A code or an assertion with the checks both forms share: an assertion is a webauthn
    /// proof, and a code and an assertion are not given together.
    fn checked(
        factor: Option<Factor>,
        code: String,
        assertion: Option<Box<AssertionJson>>,
    ) -> Result<Presented, InputError> {
        if assertion.is_some() && factor.is_some_and(|f| f != Factor::Webauthn) {
            return Err(InputError::new(
                "present.factor",
                "an assertion is a webauthn proof",
            ));
        }
        if assertion.is_some() && !code.is_empty() {
            return Err(InputError::new(
                "present.code",
                "give a code or an assertion, not both",
            ));
        }
        Presented::new(factor, code).map(|mut p| {
            p.assertion = assertion;
            p
        })
    }

    /// A presented code (typed bindings), with the length limit JSON parsing applies.
    pub fn new(factor: Option<Factor>, code: String) -> Result<Presented, InputError> {
        if code.len() > 256 {
            return Err(InputError::new("present.code", "longer than 256 bytes"));
        }
        Ok(Presented {
            factor,
            code,
            assertion: None,
        })
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
    #[serde(default)]
    pub code: String,
    /// A WebAuthn assertion (`PublicKeyCredential.toJSON()`), for factor `webauthn`.
    #[serde(default)]
    pub assertion: Option<Box<AssertionJson>>,
}

impl fmt::Debug for Presented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presented")
            .field("factor", &self.factor)
            .finish_non_exhaustive()
    }
}

/// The authorize document: `{request, secrets, present}`.
#[derive(Clone, Debug)]
pub struct AuthorizeInput {
    /// The request.
    pub request: Request,
    /// The account's secret state.
    pub secrets: Secrets,
    /// The presented code, if any.
    pub present: Option<Presented>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizeDoc {
    request: RequestDoc,
    #[serde(default, deserialize_with = "nullable")]
    secrets: Secrets,
    #[serde(default)]
    present: Option<Presented>,
}

impl AuthorizeDoc {
    fn into_input(self) -> Result<AuthorizeInput, InputError> {
        let request = self.request.into_request("request")?;
        if self.secrets.recovery_codes.len() > MAX_LIST {
            return Err(InputError::new(
                "secrets.recovery_codes",
                format!("at most {MAX_LIST} entries"),
            ));
        }
        let present = self
            .present
            .map(|p| Presented::checked(p.factor, p.code, p.assertion))
            .transpose()?;
        Ok(AuthorizeInput {
            request,
            secrets: self.secrets,
            present,
        })
    }
}

impl AuthorizeInput {
    /// Parses and checks an authorize document.
    pub fn parse(text: &str) -> Result<AuthorizeInput, InputError> {
        crate::wire::json::parse::<AuthorizeDoc>(text)?.into_input()
    }

    /// Checks an already-parsed JSON value.
    pub fn from_value(value: &serde_json::Value) -> Result<AuthorizeInput, InputError> {
        crate::wire::json::from_value::<AuthorizeDoc>(value)?.into_input()
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
    let Some(present) = present.filter(|p| !p.code.trim().is_empty() || p.assertion.is_some())
    else {
        return Ok(need.challenge());
    };
    if let Some(assertion) = &present.assertion {
        if !need.listed.contains(Factor::Webauthn) {
            return Ok(need.challenge());
        }
        return webauthn(cfg, req, &need, secrets, assertion);
    }
    let Some(factor) = present
        .factor
        .or_else(|| single_use::classify(cfg, &present.code))
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
            match single_use::verify_recovery(&secrets.recovery_codes, &present.code) {
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
            match single_use::verify_email(
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
            "present.assertion",
            "required: webauthn is verified by a WebAuthn assertion, not a code",
        )),
    }
}

/// Verifies a WebAuthn assertion as the presented proof (only phishing-resistant factor).
fn webauthn(
    cfg: &Config,
    req: &Request,
    need: &Need,
    secrets: &Secrets,
    assertion: &AssertionJson,
) -> Result<Decision, InputError> {
    let check = verify_assertion(
        &cfg.webauthn,
        secrets.webauthn.as_ref(),
        assertion,
        req.now.0,
    )?;
    Ok(match check {
        AssertionCheck::Accepted {
            credential_id,
            sign_count,
            regression,
        } => {
            let mut d = success(cfg, req, need, Effect::ConsumeWebauthnChallenge);
            d.effects.insert(
                1,
                Effect::UpdateWebauthnSignCount {
                    credential_id: credential_id.clone(),
                    sign_count,
                },
            );
            if let Some((stored, presented)) = regression {
                d.effects.push(Effect::ReportSignCountRegression {
                    credential_id,
                    stored,
                    presented,
                });
            }
            d
        }
        AssertionCheck::Rejected {
            refusal,
            regression,
        } => {
            let mut extra = vec![Effect::ConsumeWebauthnChallenge];
            if let Some((credential_id, stored, presented)) = regression {
                extra.push(Effect::ReportSignCountRegression {
                    credential_id,
                    stored,
                    presented,
                });
            }
            // A build without the key's verifier (the default browser build) could not check
            // the assertion: no failure is counted and the challenge is not spent, so a host
            // that applied these effects anyway would lock nobody out.
            let mut d = if refusal.problem == "unverifiable" {
                need.challenge_with(Reason::OtpInvalid)
            } else {
                failed(need, Reason::OtpInvalid, extra)
            };
            d.message = Cow::Owned(refusal.message);
            d.webauthn_problem = Some(refusal.problem);
            d
        }
    })
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
