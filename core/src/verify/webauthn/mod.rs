//! WebAuthn (security keys and passkeys) verified inside the engine: challenges from host
//! entropy, registration (`none` and `packed` self-attestation) and assertions, with origin,
//! RP ID, user-presence / user-verification and sign-count checks. A host passes what it
//! stored and gets back what to store; no browser's or host's word is taken for a signature.

mod ceremony;
mod cose;
mod data;

pub use ceremony::{
    AssertionCheck, AssertionJson, ChallengeRecord, RegisterInput, StoredCredential,
    WebauthnSecrets, challenge, register, verify_assertion,
};

use serde::{Deserialize, Serialize};

use crate::contract::error::InputError;
use crate::verify::sig::Alg;

/// Every problem code a refused ceremony can carry (stable API, like reason codes).
pub const PROBLEMS: [&str; 14] = [
    "malformed",
    "type",
    "challenge-mismatch",
    "challenge-expired",
    "origin",
    "rp-id",
    "user-presence",
    "user-verification",
    "algorithm",
    "attestation",
    "credential-exists",
    "unknown-credential",
    "signature",
    "unverifiable",
];

/// The static name of a problem code (`sign-count` included), for hosts that receive it as text.
pub fn problem_name(text: &str) -> Option<&'static str> {
    PROBLEMS
        .iter()
        .copied()
        .chain(["sign-count"])
        .find(|p| *p == text)
}

/// How strongly the authenticator must verify the user (PIN, biometric), per WebAuthn.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserVerification {
    /// The UV flag must be set; otherwise the response is refused.
    Required,
    /// Asked for, not enforced (a second factor after a password needs presence only).
    #[default]
    Preferred,
    /// Not asked for.
    Discouraged,
}

/// What a sign count that did not grow means (a cloned authenticator, or a buggy one).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignCountRegression {
    /// Refuse the assertion and report it.
    #[default]
    Reject,
    /// Accept it and report it (for fleets with known-bad authenticators).
    Report,
}

/// The relying party and what it accepts (`config.webauthn`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnConfig {
    /// The RP ID: the registry's host name (or a registrable suffix of it).
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = "^[a-z0-9-]+(\\.[a-z0-9-]+)*$"), length(max = 253))
    )]
    pub rp_id: String,
    /// Shown by the browser while registering.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 64)))]
    pub rp_name: String,
    /// Exact origins (`scheme://host[:port]`) the browser may report; empty = `https://<rp_id>`.
    #[cfg_attr(
        feature = "schema",
        schemars(
            length(max = 16),
            inner(regex(pattern = "^https?://[a-z0-9.-]+(:[0-9]{1,5})?$"))
        )
    )]
    pub origins: Vec<String>,
    /// User verification policy.
    pub user_verification: UserVerification,
    /// How long a challenge stays usable.
    #[cfg_attr(feature = "schema", schemars(range(min = 30, max = 3600)))]
    pub challenge_ttl_seconds: u64,
    /// Signature algorithms accepted, in the order offered to the authenticator.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 3)))]
    pub algorithms: Vec<AlgName>,
    /// What a non-increasing sign count does.
    pub sign_count_regression: SignCountRegression,
}

/// An algorithm as written in configuration.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlgName {
    /// ECDSA P-256 / SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
    /// RSASSA-PKCS1-v1_5 / SHA-256.
    #[serde(rename = "RS256")]
    Rs256,
}

impl AlgName {
    /// The verifier's algorithm.
    pub fn alg(self) -> Alg {
        match self {
            AlgName::Es256 => Alg::Es256,
            AlgName::EdDsa => Alg::EdDsa,
            AlgName::Rs256 => Alg::Rs256,
        }
    }
}

impl Default for WebauthnConfig {
    fn default() -> Self {
        WebauthnConfig {
            rp_id: "localhost".into(),
            rp_name: "stepup".into(),
            origins: Vec::new(),
            user_verification: UserVerification::Preferred,
            challenge_ttl_seconds: 300,
            algorithms: vec![AlgName::Es256, AlgName::EdDsa, AlgName::Rs256],
            sign_count_regression: SignCountRegression::Reject,
        }
    }
}

impl WebauthnConfig {
    /// The origins a client may report.
    pub fn allowed_origins(&self) -> Vec<String> {
        if self.origins.is_empty() {
            vec![format!("https://{}", self.rp_id)]
        } else {
            self.origins.clone()
        }
    }

    /// Range and shape checks, naming the field (under `webauthn.`).
    pub fn validate(&self) -> Result<(), InputError> {
        let err = |p: &str, m: String| Err(InputError::new(format!("webauthn.{p}"), m));
        if !is_host(&self.rp_id) || self.rp_id.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return err(
                "rp_id",
                "expected a host name such as registry.example (WebAuthn forbids IP addresses)"
                    .into(),
            );
        }
        if self.rp_name.is_empty() || self.rp_name.len() > 64 {
            return err("rp_name", "1 to 64 characters".into());
        }
        if self.origins.len() > 16 {
            return err("origins", "at most 16 origins".into());
        }
        for (i, o) in self.origins.iter().enumerate() {
            let Some(host) = origin_host(o) else {
                return err(
                    &format!("origins[{i}]"),
                    "expected scheme://host[:port] with no path".into(),
                );
            };
            if !(host == self.rp_id || host.ends_with(&format!(".{}", self.rp_id))) {
                return err(
                    &format!("origins[{i}]"),
                    format!(
                        "the host must be rp_id {:?} or a subdomain of it",
                        self.rp_id
                    ),
                );
            }
            if o.starts_with("http://") && host != "localhost" {
                return err(
                    &format!("origins[{i}]"),
                    "plain http is only allowed for localhost".into(),
                );
            }
        }
        if !(30..=3600).contains(&self.challenge_ttl_seconds) {
            return err("challenge_ttl_seconds", "between 30 and 3600".into());
        }
        if self.algorithms.is_empty() || self.algorithms.len() > 3 {
            return err("algorithms", "one to three of ES256, EdDSA, RS256".into());
        }
        Ok(())
    }
}

fn is_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The host of an origin `scheme://host[:port]`, when it is one.
pub(crate) fn origin_host(origin: &str) -> Option<&str> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))?;
    let (host, port) = match rest.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    is_host(host).then_some(host)
}
