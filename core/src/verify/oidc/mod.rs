//! Trusted publishing: an OIDC ID token from a CI provider, verified inside the engine against
//! the JWKS the host passes in and matched against the package's trust configuration (the
//! array `npm trust` writes). The result is SPEC's `oidc` credential; the token's `jti` comes
//! back as an effect so the host can make it single-use atomically.

pub mod jwt;
mod provider;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::contract::error::InputError;
use crate::contract::time::Timestamp;
use jwt::{Jwks, JwtError};
pub use provider::{Provider, TrustEntry};

/// `config.trusted_publishing`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustedPublishingConfig {
    /// The `aud` a token must carry, `npm:<registry host>`; a host may pass it per call instead.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 256)))]
    pub audience: Option<String>,
    /// Clock leeway for `exp`, `nbf` and `iat` (seconds, at most 300).
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 300)))]
    pub leeway_seconds: u64,
    /// Lifetime of the publish token a host mints after an exchange.
    #[cfg_attr(feature = "schema", schemars(range(min = 60, max = 86400)))]
    pub token_ttl_seconds: u64,
    /// GitHub `event_name`s refused (workflows that run untrusted code with secrets).
    pub refuse_events: Vec<String>,
    /// Refuse tokens from self-hosted runners (`runner_environment`).
    pub require_hosted_runner: bool,
    /// Issuer per provider; CircleCI's is this prefix followed by the organisation id.
    pub issuers: Issuers,
}

/// Expected `iss` per provider.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Issuers {
    /// GitHub Actions.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^https://")))]
    pub github: String,
    /// GitLab CI/CD.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^https://")))]
    pub gitlab: String,
    /// CircleCI prefix (`…/org/`), completed with `oidc.circleci.com/org-id`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^https://")))]
    pub circleci: String,
}

impl Default for Issuers {
    fn default() -> Self {
        Issuers {
            github: "https://token.actions.githubusercontent.com".into(),
            gitlab: "https://gitlab.com".into(),
            circleci: "https://oidc.circleci.com/org/".into(),
        }
    }
}

impl Default for TrustedPublishingConfig {
    fn default() -> Self {
        TrustedPublishingConfig {
            audience: None,
            leeway_seconds: 60,
            token_ttl_seconds: 900,
            refuse_events: vec!["pull_request_target".into(), "workflow_run".into()],
            require_hosted_runner: true,
            issuers: Issuers::default(),
        }
    }
}

impl TrustedPublishingConfig {
    /// Range checks, naming the field (under `trusted_publishing.`).
    pub fn validate(&self) -> Result<(), InputError> {
        let err = |p: &str, m: &str| Err(InputError::new(format!("trusted_publishing.{p}"), m));
        if let Some(a) = &self.audience
            && (a.is_empty() || a.len() > 256)
        {
            return err("audience", "1 to 256 characters, e.g. npm:registry.example");
        }
        if self.leeway_seconds > 300 {
            return err("leeway_seconds", "at most 300");
        }
        if !(60..=86_400).contains(&self.token_ttl_seconds) {
            return err("token_ttl_seconds", "between 60 and 86400");
        }
        for (name, v) in [
            ("github", &self.issuers.github),
            ("gitlab", &self.issuers.gitlab),
            ("circleci", &self.issuers.circleci),
        ] {
            if !v.starts_with("https://") {
                return err(&format!("issuers.{name}"), "expected an https:// URL");
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExchangeInput {
    now: Timestamp,
    token: String,
    jwks: Value,
    package: String,
    #[serde(default)]
    trust: Vec<Value>,
    #[serde(default)]
    used_jtis: Vec<String>,
    #[serde(default)]
    audience: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustInput {
    trust: Vec<Value>,
}

/// `{trust}` → the trust array as the exchange will read it (absent `permissions` filled in),
/// or an error naming the first bad field: what a host checks before storing `npm trust` input.
pub fn check_trust(input: &str) -> Result<String, InputError> {
    let i: TrustInput = crate::wire::json::parse(input)?;
    let entries: Vec<Value> = provider::parse_trust(&i.trust)?
        .into_iter()
        .map(|t| {
            // Claims in a canonical (sorted) order, so the answer does not depend on key order.
            let claims: std::collections::BTreeMap<_, _> = t.claims.into_iter().collect();
            json!({"type": t.provider.name(), "claims": claims, "permissions": t.permissions})
        })
        .collect();
    serde_json::to_string(&entries).map_err(|e| InputError::new(".", e.to_string()))
}

/// A refusal: stable problem code, HTTP status and message npm prints.
struct Refusal {
    problem: &'static str,
    status: u16,
    detail: String,
}

fn refuse(problem: &'static str, status: u16, detail: impl Into<String>) -> Refusal {
    Refusal {
        problem,
        status,
        detail: detail.into(),
    }
}

/// `{now, token, jwks, package, trust, used_jtis?, audience?}` →
/// `{result: "accepted", credential, provider, subject, jti, token_expires_at, effects}` or
/// `{result: "rejected", problem, message, npm: {status, error}}`.
pub fn exchange(cfg: &TrustedPublishingConfig, input: &str) -> Result<String, InputError> {
    let i: ExchangeInput = crate::wire::json::parse(input)?;
    if i.token.len() > jwt::MAX_TOKEN {
        return Err(InputError::new(
            "token",
            format!("longer than {} bytes", jwt::MAX_TOKEN),
        ));
    }
    let jwks = KeySets::parse(&i.jwks)?;
    if i.used_jtis.len() > 1024 {
        return Err(InputError::new("used_jtis", "at most 1024"));
    }
    let trust = provider::parse_trust(&i.trust)?;
    if i.package.is_empty() || i.package.len() > 214 {
        return Err(InputError::new(
            "package",
            "1 to 214 characters (npm's limit)",
        ));
    }
    let audience = i
        .audience
        .as_ref()
        .or(cfg.audience.as_ref())
        .ok_or_else(|| {
            InputError::new(
                "audience",
                "required: pass it or set trusted_publishing.audience (npm:<registry host>)",
            )
        })?;
    let out = match check(cfg, &i, &jwks, &trust, audience) {
        Ok(v) => v,
        Err(r) => {
            let error = match r.status {
                404 => "OIDC token exchange error - package not found".to_owned(),
                403 => format!("OIDC token exchange error - {}", r.detail),
                _ => "OIDC token exchange error - unauthorized".to_owned(),
            };
            json!({
                "result": "rejected",
                "problem": r.problem,
                "message": r.detail,
                "npm": {"status": r.status, "error": error},
            })
        }
    };
    serde_json::to_string(&out).map_err(|e| InputError::new(".", e.to_string()))
}

/// The keys an exchange may verify with: one set for any issuer, or one set per provider,
/// each verifying only tokens that claim that provider's issuer (SPEC §9.7) — so a key of
/// one CI provider can never vouch for a token that says it comes from another.
enum KeySets {
    Any(Jwks),
    ByProvider(Vec<(Provider, Jwks)>),
}

impl KeySets {
    fn parse(v: &Value) -> Result<KeySets, InputError> {
        let one = |v: &Value, path: &str| -> Result<Jwks, InputError> {
            let jwks: Jwks = serde_json::from_value(v.clone())
                .map_err(|e| InputError::new(path, format!("expected a JWKS document: {e}")))?;
            if jwks.keys.len() > jwt::MAX_KEYS {
                return Err(InputError::new(
                    format!("{path}.keys"),
                    format!("at most {}", jwt::MAX_KEYS),
                ));
            }
            Ok(jwks)
        };
        let Some(providers) = v.get("providers") else {
            return one(v, "jwks").map(KeySets::Any);
        };
        let map = providers.as_object().ok_or_else(|| {
            InputError::new("jwks.providers", "expected {github|gitlab|circleci: JWKS}")
        })?;
        let mut sets = Vec::new();
        for (name, keys) in map {
            let path = format!("jwks.providers.{name}");
            let provider = match name.as_str() {
                "github" => Provider::Github,
                "gitlab" => Provider::Gitlab,
                "circleci" => Provider::Circleci,
                _ => return Err(InputError::new(path, "one of github, gitlab, circleci")),
            };
            sets.push((provider, one(keys, &path)?));
        }
        Ok(KeySets::ByProvider(sets))
    }

    /// The set that may verify `token`: for per-provider sets, the one of the provider whose
    /// issuer the token claims.
    fn for_token(&self, cfg: &TrustedPublishingConfig, token: &str) -> Option<&Jwks> {
        match self {
            KeySets::Any(j) => Some(j),
            KeySets::ByProvider(sets) => {
                let claims = jwt::unverified_claims(token)?;
                let iss = claims.get("iss").and_then(Value::as_str)?;
                let provider = Provider::of_issuer(&cfg.issuers, iss, &claims)?;
                sets.iter().find(|(p, _)| *p == provider).map(|(_, j)| j)
            }
        }
    }
}

fn check(
    cfg: &TrustedPublishingConfig,
    i: &ExchangeInput,
    keys: &KeySets,
    trust: &[TrustEntry],
    audience: &str,
) -> Result<Value, Refusal> {
    let jwks = keys.for_token(cfg, &i.token).ok_or_else(|| {
        refuse(
            "key",
            401,
            "No key set is configured for the issuer the ID token claims.",
        )
    })?;
    let verified = jwt::verify(&i.token, jwks).map_err(|e| match e {
        JwtError::Malformed => refuse("malformed", 401, "The ID token is not a valid JWT."),
        JwtError::Algorithm => refuse(
            "algorithm",
            401,
            "The ID token must be signed with RS256 or ES256.",
        ),
        JwtError::NoKey => refuse(
            "key",
            401,
            "No key of the provider's key set matches the ID token.",
        ),
        JwtError::Signature => refuse(
            "signature",
            401,
            "The ID token's signature does not verify.",
        ),
        JwtError::Unverifiable(alg) => refuse(
            "unverifiable",
            501,
            format!(
                "This build of stepup does not verify {} signatures (built without that feature); the server verifies ID tokens.",
                alg.name()
            ),
        ),
    })?;
    let c = &verified.claims;
    let now = i.now.0;
    let leeway = cfg.leeway_seconds;
    let num = |k: &str| c.get(k).and_then(Value::as_u64);
    let exp = num("exp").ok_or_else(|| refuse("malformed", 401, "The ID token has no exp."))?;
    if now >= exp.saturating_add(leeway) {
        return Err(refuse("expired", 401, "The ID token has expired."));
    }
    for k in ["nbf", "iat"] {
        if c.contains_key(k) && num(k).is_none_or(|t| t > now.saturating_add(leeway)) {
            return Err(refuse(
                "not-yet-valid",
                401,
                format!("The ID token's {k} is in the future."),
            ));
        }
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(refuse(
            "audience",
            401,
            format!("The ID token's audience is not {audience}."),
        ));
    }
    let iss = c.get("iss").and_then(Value::as_str).unwrap_or_default();
    let provider = Provider::of_issuer(&cfg.issuers, iss, c).ok_or_else(|| {
        refuse(
            "issuer",
            401,
            "The ID token's issuer is not a trusted CI provider.",
        )
    })?;
    let jti = c.get("jti").and_then(Value::as_str).unwrap_or_default();
    if jti.is_empty() || jti.len() > 256 {
        return Err(refuse("malformed", 401, "The ID token has no usable jti."));
    }
    if i.used_jtis.iter().any(|u| u == jti) {
        return Err(refuse(
            "replayed",
            401,
            "This ID token has already been exchanged.",
        ));
    }
    provider
        .check_runner(cfg, c)
        .map_err(|m| refuse("trigger", 403, m))?;
    let mut last = None;
    let mut found = false;
    for entry in trust.iter().filter(|t| t.provider == provider) {
        found = true;
        match entry.matches(c) {
            Ok(()) => {
                return Ok(json!({
                    "result": "accepted",
                    "credential": {
                        "kind": "oidc",
                        "package": i.package,
                        "permissions": entry.permissions,
                        "expires_at": now.saturating_add(cfg.token_ttl_seconds),
                    },
                    "provider": provider.name(),
                    "subject": c.get("sub").and_then(Value::as_str).unwrap_or_default(),
                    "jti": jti,
                    "token_expires_at": now.saturating_add(cfg.token_ttl_seconds),
                    "effects": [{"kind": "consume-oidc-jti", "jti": jti, "until": exp.saturating_add(leeway)}],
                }));
            }
            Err(m) => last = Some(m),
        }
    }
    Err(refuse(
        if found { "claims" } else { "no-trust" },
        404,
        last.unwrap_or_else(|| {
            format!(
                "{} has no trusted publisher for {}.",
                i.package,
                provider.name()
            )
        }),
    ))
}
