//! The decision document of SPEC §3 and its npm answer.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::contract::error::InputError;
use crate::contract::factor::FactorSet;

/// allow, challenge or deny.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Go ahead.
    Allow,
    /// Ask for a (further) factor.
    Challenge,
    /// Refuse.
    Deny,
}

macro_rules! reasons {
    ($($variant:ident = $name:literal,)*) => {
        /// Stable machine reasons (SPEC §3).
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Reason {
            $(
                #[doc = concat!("`", $name, "`")]
                #[serde(rename = $name)]
                $variant,
            )*
        }
        impl Reason {
            /// Every reason.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];
            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self { $(Reason::$variant => $name,)* }
            }
        }
    };
}

reasons! {
    Allowed = "allowed",
    AllowedWithProof = "allowed-with-proof",
    AllowedBypassToken = "allowed-bypass-token",
    AllowedTrustedPublisher = "allowed-trusted-publisher",
    OtpRequired = "otp-required",
    LoginVerificationRequired = "login-verification-required",
    OtpInvalid = "otp-invalid",
    OtpMalformed = "otp-malformed",
    OtpReplayed = "otp-replayed",
    OtpClockDrift = "otp-clock-drift",
    TokenExpired = "token-expired",
    IpNotAllowed = "ip-not-allowed",
    TokenReadOnly = "token-read-only",
    TokenScope = "token-scope",
    OidcScope = "oidc-scope",
    BypassTokenForbidden = "bypass-token-forbidden",
    TokensDisallowed = "tokens-disallowed",
    PackageRequiresTfa = "package-requires-tfa",
    TfaRequiredToPublish = "tfa-required-to-publish",
    TfaEnforced = "tfa-enforced",
    SafeguardReadOnly = "safeguard-read-only",
    Throttled = "throttled",
}

impl Reason {
    /// The outcome every decision with this reason has.
    pub const fn outcome(self) -> Outcome {
        use Reason::*;
        match self {
            Allowed | AllowedWithProof | AllowedBypassToken | AllowedTrustedPublisher => {
                Outcome::Allow
            }
            OtpRequired
            | LoginVerificationRequired
            | OtpInvalid
            | OtpMalformed
            | OtpReplayed
            | OtpClockDrift => Outcome::Challenge,
            _ => Outcome::Deny,
        }
    }
}

/// A state change for the host to apply (SPEC §8.14).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Effect {
    /// Store `step` as the account's last accepted TOTP step.
    ConsumeTotpStep {
        /// The matched time step.
        step: u64,
    },
    /// Delete the recovery code at `index` of `secrets.recovery_codes`.
    BurnRecoveryCode {
        /// 0-based position.
        index: usize,
    },
    /// Delete the stored email code.
    ConsumeEmailCode,
    /// Count a failed try against the stored email code.
    RecordEmailAttempt,
    /// Record a failed code for the account and the client IP.
    RecordFailure,
    /// Forget the account's failed codes.
    ClearFailures,
    /// Revoke the account's web sessions.
    RevokeWebSessions,
    /// Make the account read-only until `until`.
    StartSafeguard {
        /// Unix seconds.
        until: u64,
    },
    /// Delete the pending WebAuthn challenge (used or failed: a challenge answers once).
    ConsumeWebauthnChallenge,
    /// Store the credential's new signature counter.
    UpdateWebauthnSignCount {
        /// Credential ID, base64url.
        credential_id: String,
        /// The counter the authenticator reported.
        sign_count: u32,
    },
    /// The credential's counter did not grow: log it, alert the owner (possible clone).
    ReportSignCountRegression {
        /// Credential ID, base64url.
        credential_id: String,
        /// The stored counter.
        stored: u32,
        /// The counter presented.
        presented: u32,
    },
    /// Forward this read without the account's credential: the package is outside the
    /// token's axes, so only a public package may be served (SPEC §8.24).
    ReadAnonymously,
}

/// The challenge part of a decision.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Challenge {
    /// Factors that satisfy it, in canonical order.
    pub factors: FactorSet,
}

/// The HTTP answer an npm-compatible server gives (SPEC §8.7).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct NpmAnswer {
    /// HTTP status.
    pub status: u16,
    /// `www-authenticate` header value, if any.
    pub www_authenticate: Option<Cow<'static, str>>,
    /// The `error` body field the npm CLI prints; null on allow.
    pub error: Option<Cow<'static, str>>,
}

/// A decision (SPEC §3).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Decision {
    /// allow / challenge / deny.
    pub outcome: Outcome,
    /// Stable machine reason.
    pub reason: Reason,
    /// The rule that named the decision (SPEC §8.16).
    pub rule: Cow<'static, str>,
    /// Human message, safe to show verbatim.
    pub message: Cow<'static, str>,
    /// What would satisfy a challenge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<Challenge>,
    /// Seconds until a throttled account or IP may try again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// For `otp-clock-drift`: how far the device clock is off, seconds (positive = ahead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift_seconds: Option<i64>,
    /// For a refused WebAuthn assertion: which check failed (`origin`, `signature`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webauthn_problem: Option<&'static str>,
    /// State changes for the host.
    pub effects: Vec<Effect>,
    /// The npm wire answer.
    pub npm: NpmAnswer,
}

impl Decision {
    /// Serializes to the canonical JSON every host emits byte for byte.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"outcome\":\"error\"}"))
    }
}

/// The error document for bad input (SPEC §8.17): `outcome`, `reason`, `error {path, message}`,
/// and the npm answer (400) — in that order, byte for byte in every host.
pub fn error_json(e: &InputError) -> String {
    #[derive(Serialize)]
    struct Path<'a> {
        path: &'a str,
        message: &'a str,
    }
    #[derive(Serialize)]
    struct Npm {
        status: u16,
        www_authenticate: Option<&'static str>,
        error: String,
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        outcome: &'static str,
        reason: &'static str,
        error: Path<'a>,
        npm: Npm,
    }
    let doc = Doc {
        outcome: "error",
        reason: "invalid-input",
        error: Path {
            path: &e.path,
            message: &e.message,
        },
        npm: Npm {
            status: 400,
            www_authenticate: None,
            error: e.to_string(),
        },
    };
    serde_json::to_string(&doc)
        .unwrap_or_else(|_| String::from("{\"outcome\":\"error\",\"reason\":\"invalid-input\"}"))
}
