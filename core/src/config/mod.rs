//! Policy configuration (SPEC §6): a preset plus overrides, validated with field paths.

use serde::{Deserialize, Serialize};

use crate::contract::action::{ActionClass, ActionKind};
use crate::contract::error::{InputError, index, join};
use crate::contract::request::PublishingAccess;
use crate::contract::time::{ConfigDate, Count};
use crate::wire::json::nullable;

/// The named starting points of SPEC §6.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
pub enum Preset {
    /// The seeds' 2022 timeline: legacy tokens, three publishing-access options, no floor.
    #[serde(rename = "npmjs-2022")]
    Npmjs2022,
    /// Today's npm: publish floor, bypass tokens barred from governance, safeguard, 90-day
    /// write tokens.
    #[default]
    #[serde(rename = "npmjs-2026")]
    Npmjs2026,
}

impl Preset {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Preset::Npmjs2022 => "npmjs-2022",
            Preset::Npmjs2026 => "npmjs-2026",
        }
    }
}

/// TOTP hash algorithms.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum TotpAlgorithm {
    /// The default every authenticator supports.
    #[serde(rename = "SHA1")]
    Sha1,
    /// RFC 6238's SHA-256 variant.
    #[serde(rename = "SHA256")]
    Sha256,
    /// RFC 6238's SHA-512 variant.
    #[serde(rename = "SHA512")]
    Sha512,
}

impl TotpAlgorithm {
    /// The name used in otpauth URIs.
    pub const fn as_str(self) -> &'static str {
        match self {
            TotpAlgorithm::Sha1 => "SHA1",
            TotpAlgorithm::Sha256 => "SHA256",
            TotpAlgorithm::Sha512 => "SHA512",
        }
    }
}

/// One throttle window: at most `limit` failures within `window_seconds`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Failures that fill the window.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 100000)))]
    pub limit: u32,
    /// Window length.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 366 * DAY)))]
    pub window_seconds: u64,
}

/// A mandatory-2FA cohort (SPEC §4 rule 5, §8.10).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = cohort_rules))]
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cohort {
    /// Name, used in the rule id `mandatory-2fa.cohort.<name>`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^[a-z0-9-]{1,64}$")))]
    pub name: String,
    /// Enforcement start.
    pub from: ConfigDate,
    /// Holds accounts with `impact.dependents_rank <= N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependents_rank_at_most: Option<Count>,
    /// Holds accounts of high impact (see `high_impact`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub high_impact: bool,
}

/// Thresholds that make an account or package "high impact".
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HighImpact {
    /// Weekly downloads strictly above this.
    pub weekly_downloads_over: Count,
    /// Dependents at or above this.
    pub dependents_at_least: Count,
}

/// Who a login-verification stage or brown-out covers.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Population {
    /// Accounts that have ever had publish rights.
    Publishers,
    /// Every account.
    All,
}

/// A ramp of enhanced login verification.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Who.
    pub population: Population,
    /// Ramp start (0 %).
    pub start: ConfigDate,
    /// Ramp end (100 %); equal to `start` for a switch.
    pub end: ConfigDate,
}

/// A temporary all-in window of login verification.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BrownOut {
    /// Who.
    pub population: Population,
    /// Start.
    pub start: ConfigDate,
    /// Length.
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 366 * DAY)))]
    pub duration_seconds: u64,
}

/// The resolved configuration: every field has a value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    /// The preset the values started from.
    pub preset: Preset,
    /// A proof counts while younger than this.
    pub proof_max_age_seconds: u64,
    /// Publishing requires account 2FA (or a bypass token / OIDC).
    pub publish_floor: bool,
    /// In `auth-and-writes`, dist-tag changes other than `latest` need no code (the old registry
    /// doc's exemption, `npmjs-2022`); `npmjs-2026` asks for every tag, since moving `next` or
    /// `beta` redirects installs too (SPEC §4 rule 7).
    pub exempt_non_latest_dist_tags: bool,
    /// Classes a bypass token may never perform.
    pub bypass_token_forbidden_classes: Vec<ActionClass>,
    /// Publishing access for packages that do not say.
    pub default_publishing_access: PublishingAccess,
    /// Failure windows per account and per IP.
    pub throttle: Throttle,
    /// Temporary read-only safeguard.
    pub safeguard: Safeguard,
    /// High-impact thresholds.
    pub high_impact: HighImpact,
    /// Mandatory-2FA cohorts.
    pub cohorts: Vec<Cohort>,
    /// Enhanced login verification.
    pub login_verification: LoginVerification,
    /// Actions that need a phishing-resistant factor.
    pub strong_factor_actions: Vec<ActionKind>,
    /// TOTP parameters.
    pub totp: TotpConfig,
    /// Recovery-code parameters.
    pub recovery_codes: RecoveryConfig,
    /// Emailed login-code parameters.
    pub email_code: EmailConfig,
    /// Token limits (for token forms).
    pub tokens: TokenLimits,
    /// The WebAuthn relying party.
    pub webauthn: crate::verify::webauthn::WebauthnConfig,
    /// Trusted publishing (OIDC).
    pub trusted_publishing: crate::verify::oidc::TrustedPublishingConfig,
}

/// Throttle windows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Per account.
    pub account: Vec<Window>,
    /// Per client IP.
    pub ip: Vec<Window>,
}

/// Safeguard settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Safeguard {
    /// Emit `start-safeguard` after an email change or recovery-code use on a high-impact account.
    pub start_on_high_impact: bool,
    /// Its length.
    pub hours: u64,
}

/// Login-verification timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoginVerification {
    /// Salt of the rollout bucket.
    pub salt: String,
    /// Ramps.
    pub stages: Vec<Stage>,
    /// Brown-outs.
    pub brown_outs: Vec<BrownOut>,
}

/// TOTP parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TotpConfig {
    /// HMAC hash.
    pub algorithm: TotpAlgorithm,
    /// Code length, 6–8.
    pub digits: u8,
    /// Step length.
    pub period_seconds: u64,
    /// Accepted steps either side of now (0–2).
    pub skew_steps: u8,
    /// Steps either side probed to report clock drift (≥ skew, ≤ 20).
    pub drift_probe_steps: u8,
    /// Bytes of a new secret (≥ 20).
    pub secret_bytes: u8,
}

/// Recovery-code parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RecoveryConfig {
    /// Codes per enrolment.
    pub count: u8,
}

/// Email-code parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct EmailConfig {
    /// Digits.
    pub digits: u8,
    /// Lifetime.
    pub ttl_seconds: u64,
    /// Tries before it is exhausted.
    pub max_attempts: u32,
}

/// Token lifetime limits of the preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TokenLimits {
    /// Longest write-token lifetime; `None` = unlimited.
    pub write_max_ttl_days: Option<u64>,
    /// Lifetime given when none is asked for; `None` = no expiry.
    pub write_default_ttl_days: Option<u64>,
    /// Shortest lifetime.
    pub min_ttl_days: u64,
}

/// The document as written: every field optional, applied over the preset.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(rename = "Config"))]
pub(crate) struct ConfigDoc {
    #[serde(default)]
    preset: Option<Preset>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 7 * DAY)))]
    proof_max_age_seconds: Option<u64>,
    #[serde(default)]
    publish_floor: Option<bool>,
    #[serde(default)]
    exempt_non_latest_dist_tags: Option<bool>,
    #[serde(default)]
    bypass_token_forbidden_classes: Option<Vec<ActionClass>>,
    #[serde(default)]
    default_publishing_access: Option<PublishingAccess>,
    #[serde(default)]
    throttle: Option<ThrottleDoc>,
    #[serde(default)]
    safeguard: Option<SafeguardDoc>,
    #[serde(default)]
    high_impact: Option<HighImpact>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 32)))]
    cohorts: Option<Vec<Cohort>>,
    #[serde(default)]
    login_verification: Option<LoginVerificationDoc>,
    #[serde(default)]
    strong_factor_actions: Option<Vec<ActionKind>>,
    #[serde(default)]
    totp: Option<TotpDoc>,
    #[serde(default)]
    recovery_codes: Option<RecoveryDoc>,
    #[serde(default)]
    email_code: Option<EmailDoc>,
    #[serde(default)]
    tokens: Option<TokensDoc>,
    #[serde(default)]
    webauthn: Option<crate::verify::webauthn::WebauthnConfig>,
    #[serde(default)]
    trusted_publishing: Option<crate::verify::oidc::TrustedPublishingConfig>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "Throttle"))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottleDoc {
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 8)))]
    account: Option<Vec<Window>>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 8)))]
    ip: Option<Vec<Window>>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "Safeguard"))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SafeguardDoc {
    #[serde(default)]
    start_on_high_impact: Option<bool>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 24 * 366)))]
    hours: Option<u64>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "LoginVerification"))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginVerificationDoc {
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 256)))]
    salt: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(length(max = 32)))]
    stages: Option<Vec<Stage>>,
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(length(max = 64)))]
    brown_outs: Option<Vec<BrownOut>>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "TotpSettings"))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TotpDoc {
    #[serde(default)]
    algorithm: Option<TotpAlgorithm>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 6, max = 8)))]
    digits: Option<u8>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 300)))]
    period_seconds: Option<u64>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 2)))]
    skew_steps: Option<u8>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 0, max = 20)))]
    drift_probe_steps: Option<u8>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 20, max = 64)))]
    secret_bytes: Option<u8>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "RecoveryCodeSettings"))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoveryDoc {
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 32)))]
    count: Option<u8>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "EmailCodeSettings"))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailDoc {
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 6, max = 10)))]
    digits: Option<u8>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = DAY)))]
    ttl_seconds: Option<u64>,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 100)))]
    max_attempts: Option<u32>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "TokenLimits"))]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensDoc {
    #[serde(default, deserialize_with = "opt_opt")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 36500)))]
    write_max_ttl_days: Option<Option<u64>>,
    #[serde(default, deserialize_with = "opt_opt")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 36500)))]
    write_default_ttl_days: Option<Option<u64>>,
    #[serde(default)]
    min_ttl_days: Option<u64>,
}

/// Distinguishes an absent field (keep the preset) from `null` (no limit).
fn opt_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

/// Digits of a recovery code: fixed, so an email code (whose length is configured) can never
/// be mistaken for one.
pub const RECOVERY_DIGITS: usize = 25;

/// A cohort names its members by rank or by impact: one of the two is required.
#[cfg(feature = "schema")]
pub(crate) fn cohort_rules(schema: &mut schemars::Schema) {
    schema.insert(
        "anyOf".into(),
        serde_json::json!([
            {"required": ["dependents_rank_at_most"]},
            {"required": ["high_impact"], "properties": {"high_impact": {"const": true}}},
        ]),
    );
}

const DAY: u64 = 86_400;

fn date(y: &str) -> ConfigDate {
    ConfigDate(crate::contract::time::parse_date(y).unwrap_or(0))
}

impl Config {
    /// The preset's values, before any override.
    pub fn preset(preset: Preset) -> Config {
        let modern = preset == Preset::Npmjs2026;
        let w = |limit, window_seconds| Window {
            limit,
            window_seconds,
        };
        Config {
            preset,
            proof_max_age_seconds: 300,
            publish_floor: modern,
            exempt_non_latest_dist_tags: !modern,
            bypass_token_forbidden_classes: if modern {
                vec![
                    ActionClass::Account,
                    ActionClass::Tokens,
                    ActionClass::PackageGovernance,
                    ActionClass::OrgGovernance,
                ]
            } else {
                Vec::new()
            },
            default_publishing_access: if modern {
                PublishingAccess::TfaOrToken
            } else {
                PublishingAccess::None
            },
            throttle: Throttle {
                account: vec![w(5, 300), w(20, 3600), w(50, DAY)],
                ip: vec![w(10, 300), w(50, 3600)],
            },
            safeguard: Safeguard {
                start_on_high_impact: modern,
                hours: 72,
            },
            high_impact: HighImpact {
                weekly_downloads_over: Count(1_000_000),
                dependents_at_least: Count(500),
            },
            cohorts: vec![
                Cohort {
                    name: "top-100".into(),
                    from: date("2022-02-01"),
                    dependents_rank_at_most: Some(Count(100)),
                    high_impact: false,
                },
                Cohort {
                    name: "top-500".into(),
                    from: date("2022-05-31"),
                    dependents_rank_at_most: Some(Count(500)),
                    high_impact: false,
                },
                Cohort {
                    name: "high-impact".into(),
                    from: date("2022-11-01"),
                    dependents_rank_at_most: None,
                    high_impact: true,
                },
            ],
            login_verification: LoginVerification {
                salt: String::new(),
                stages: vec![
                    Stage {
                        population: Population::Publishers,
                        start: date("2021-12-07"),
                        end: date("2022-01-04"),
                    },
                    Stage {
                        population: Population::All,
                        start: date("2022-03-01"),
                        end: date("2022-03-01"),
                    },
                ],
                brown_outs: vec![
                    BrownOut {
                        population: Population::All,
                        start: date("2022-02-16"),
                        duration_seconds: DAY,
                    },
                    BrownOut {
                        population: Population::All,
                        start: date("2022-02-23"),
                        duration_seconds: DAY,
                    },
                ],
            },
            strong_factor_actions: Vec::new(),
            totp: TotpConfig {
                algorithm: TotpAlgorithm::Sha1,
                digits: 6,
                period_seconds: 30,
                skew_steps: 1,
                drift_probe_steps: 10,
                secret_bytes: 20,
            },
            recovery_codes: RecoveryConfig { count: 10 },
            email_code: EmailConfig {
                digits: 8,
                ttl_seconds: 600,
                max_attempts: 5,
            },
            tokens: TokenLimits {
                write_max_ttl_days: modern.then_some(90),
                write_default_ttl_days: modern.then_some(7),
                min_ttl_days: 1,
            },
            webauthn: crate::verify::webauthn::WebauthnConfig::default(),
            trusted_publishing: crate::verify::oidc::TrustedPublishingConfig::default(),
        }
    }

    /// Parses and validates a configuration document (JSON).
    pub fn parse(text: &str) -> Result<Config, InputError> {
        let doc: ConfigDoc = crate::wire::json::parse(text)?;
        Config::from_doc(doc)
    }

    /// Validates an already-parsed JSON value (e.g. converted from TOML).
    pub fn from_value(value: &serde_json::Value) -> Result<Config, InputError> {
        let doc: ConfigDoc = crate::wire::json::from_value(value)?;
        Config::from_doc(doc)
    }

    fn from_doc(d: ConfigDoc) -> Result<Config, InputError> {
        let mut c = Config::preset(d.preset.unwrap_or_default());
        if let Some(v) = d.proof_max_age_seconds {
            c.proof_max_age_seconds = v;
        }
        if let Some(v) = d.publish_floor {
            c.publish_floor = v;
        }
        if let Some(v) = d.exempt_non_latest_dist_tags {
            c.exempt_non_latest_dist_tags = v;
        }
        if let Some(v) = d.bypass_token_forbidden_classes {
            c.bypass_token_forbidden_classes = v;
        }
        if let Some(v) = d.default_publishing_access {
            c.default_publishing_access = v;
        }
        if let Some(t) = d.throttle {
            if let Some(v) = t.account {
                c.throttle.account = v;
            }
            if let Some(v) = t.ip {
                c.throttle.ip = v;
            }
        }
        if let Some(s) = d.safeguard {
            if let Some(v) = s.start_on_high_impact {
                c.safeguard.start_on_high_impact = v;
            }
            if let Some(v) = s.hours {
                c.safeguard.hours = v;
            }
        }
        if let Some(v) = d.high_impact {
            c.high_impact = v;
        }
        if let Some(v) = d.cohorts {
            c.cohorts = v;
        }
        if let Some(l) = d.login_verification {
            if let Some(v) = l.salt {
                c.login_verification.salt = v;
            }
            if let Some(v) = l.stages {
                c.login_verification.stages = v;
            }
            if let Some(v) = l.brown_outs {
                c.login_verification.brown_outs = v;
            }
        }
        if let Some(v) = d.strong_factor_actions {
            c.strong_factor_actions = v;
        }
        if let Some(t) = d.totp {
            let tc = &mut c.totp;
            tc.algorithm = t.algorithm.unwrap_or(tc.algorithm);
            tc.digits = t.digits.unwrap_or(tc.digits);
            tc.period_seconds = t.period_seconds.unwrap_or(tc.period_seconds);
            tc.skew_steps = t.skew_steps.unwrap_or(tc.skew_steps);
            tc.drift_probe_steps = t.drift_probe_steps.unwrap_or(tc.drift_probe_steps);
            tc.secret_bytes = t.secret_bytes.unwrap_or(tc.secret_bytes);
        }
        if let Some(r) = d.recovery_codes {
            c.recovery_codes.count = r.count.unwrap_or(c.recovery_codes.count);
        }
        if let Some(e) = d.email_code {
            let ec = &mut c.email_code;
            ec.digits = e.digits.unwrap_or(ec.digits);
            ec.ttl_seconds = e.ttl_seconds.unwrap_or(ec.ttl_seconds);
            ec.max_attempts = e.max_attempts.unwrap_or(ec.max_attempts);
        }
        if let Some(t) = d.tokens {
            if let Some(v) = t.write_max_ttl_days {
                c.tokens.write_max_ttl_days = v;
            }
            if let Some(v) = t.write_default_ttl_days {
                c.tokens.write_default_ttl_days = v;
            }
            if let Some(v) = t.min_ttl_days {
                c.tokens.min_ttl_days = v;
            }
        }
        if let Some(w) = d.webauthn {
            c.webauthn = w;
        }
        if let Some(t) = d.trusted_publishing {
            c.trusted_publishing = t;
        }
        c.validate()?;
        Ok(c)
    }

    /// Range checks, in document order, naming the field.
    fn validate(&self) -> Result<(), InputError> {
        let err = |p: &str, m: &str| Err(InputError::new(p, m));
        if self.proof_max_age_seconds > 7 * DAY {
            return err("proof_max_age_seconds", "at most 604800 (7 days)");
        }
        for (axis, windows) in [
            ("account", &self.throttle.account),
            ("ip", &self.throttle.ip),
        ] {
            let base = join("throttle", axis);
            if windows.len() > 8 {
                return err(&base, "at most 8 windows");
            }
            for (i, w) in windows.iter().enumerate() {
                let p = index(&base, i);
                if w.limit == 0 || w.limit > 100_000 {
                    return err(&join(&p, "limit"), "between 1 and 100000");
                }
                if w.window_seconds == 0 || w.window_seconds > 366 * DAY {
                    return err(
                        &join(&p, "window_seconds"),
                        "between 1 and 31622400 (366 days)",
                    );
                }
            }
        }
        if self.safeguard.hours == 0 || self.safeguard.hours > 24 * 366 {
            return err("safeguard.hours", "between 1 and 8784");
        }
        if self.cohorts.len() > 32 {
            return err("cohorts", "at most 32 cohorts");
        }
        for (i, c) in self.cohorts.iter().enumerate() {
            let p = index("cohorts", i);
            let valid_name = !c.name.is_empty()
                && c.name.len() <= 64
                && c.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid_name {
                return err(&join(&p, "name"), "1–64 characters of a-z, 0-9 and -");
            }
            if self.cohorts.iter().take(i).any(|o| o.name == c.name) {
                return err(&join(&p, "name"), "duplicate cohort name");
            }
            if c.dependents_rank_at_most.is_none() && !c.high_impact {
                return err(
                    &p,
                    "a cohort needs dependents_rank_at_most or high_impact: true",
                );
            }
        }
        let lv = &self.login_verification;
        if lv.salt.len() > 256 {
            return err("login_verification.salt", "at most 256 bytes");
        }
        if lv.stages.len() > 32 {
            return err("login_verification.stages", "at most 32 stages");
        }
        for (i, s) in lv.stages.iter().enumerate() {
            if s.end < s.start {
                return err(
                    &join(&index("login_verification.stages", i), "end"),
                    "must not be before start",
                );
            }
        }
        if lv.brown_outs.len() > 64 {
            return err("login_verification.brown_outs", "at most 64 brown-outs");
        }
        for (i, b) in lv.brown_outs.iter().enumerate() {
            if b.duration_seconds > 366 * DAY {
                return err(
                    &join(
                        &index("login_verification.brown_outs", i),
                        "duration_seconds",
                    ),
                    "at most 366 days",
                );
            }
        }
        let t = &self.totp;
        if !(6..=8).contains(&t.digits) {
            return err("totp.digits", "between 6 and 8");
        }
        if t.period_seconds == 0 || t.period_seconds > 300 {
            return err("totp.period_seconds", "between 1 and 300");
        }
        if t.skew_steps > 2 {
            return err("totp.skew_steps", "at most 2");
        }
        if t.drift_probe_steps < t.skew_steps || t.drift_probe_steps > 20 {
            return err("totp.drift_probe_steps", "between skew_steps and 20");
        }
        if t.secret_bytes < 20 || t.secret_bytes > 64 {
            return err("totp.secret_bytes", "between 20 (160 bits) and 64");
        }
        if self.recovery_codes.count == 0 || self.recovery_codes.count > 32 {
            return err("recovery_codes.count", "between 1 and 32");
        }
        let e = &self.email_code;
        if !(6..=10).contains(&e.digits)
            || e.digits == t.digits
            || usize::from(e.digits) == RECOVERY_DIGITS
        {
            return err(
                "email_code.digits",
                "between 6 and 10, and different from totp.digits",
            );
        }
        if e.ttl_seconds == 0 || e.ttl_seconds > DAY {
            return err("email_code.ttl_seconds", "between 1 and 86400");
        }
        if e.max_attempts == 0 || e.max_attempts > 100 {
            return err("email_code.max_attempts", "between 1 and 100");
        }
        let k = &self.tokens;
        if let Some(max) = k.write_max_ttl_days {
            if max < k.min_ttl_days || max > 36_500 {
                return err(
                    "tokens.write_max_ttl_days",
                    "between min_ttl_days and 36500",
                );
            }
            if k.write_default_ttl_days.is_none_or(|d| d > max) {
                return err(
                    "tokens.write_default_ttl_days",
                    "must be set and at most write_max_ttl_days",
                );
            }
        }
        if let Some(d) = k.write_default_ttl_days
            && (d < k.min_ttl_days || d > 36_500)
        {
            return err(
                "tokens.write_default_ttl_days",
                "between min_ttl_days and 36500",
            );
        }
        self.webauthn.validate()?;
        self.trusted_publishing.validate()
    }
}
