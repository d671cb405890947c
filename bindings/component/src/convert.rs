//! WIT types ⇄ core types. Every check lives in core (`Request::validate`,
//! `Secrets::from_parts`, `Cidr::new`); this module only moves fields.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use stepup_core::codes::single_use::{CodeRecord, EmailRecord};
use stepup_core::contract::cidr::{Cidr, ClientIp};
use stepup_core::contract::request as c;
use stepup_core::contract::time::{Count, Timestamp};
use stepup_core::verify::webauthn::{ChallengeRecord, StoredCredential, WebauthnSecrets};
use stepup_core::{
    ActionKind, Decision, Effect, Factor, InputError, Outcome, Presented, Reason, Secrets,
};

use crate::exports::stepup::policy::types as w;

macro_rules! enum_in {
    ($name:ident, $w:ty => $c:ty, [$($v:ident),* $(,)?]) => {
        fn $name(x: $w) -> $c {
            match x { $(<$w>::$v => <$c>::$v,)* }
        }
    };
}

macro_rules! enum_out {
    ($name:ident, $c:ty => $w:ty, [$($v:ident),* $(,)?]) => {
        fn $name(x: $c) -> $w {
            match x { $(<$c>::$v => <$w>::$v,)* }
        }
    };
}

enum_in!(action_kind, w::ActionKind => ActionKind, [
    PackageRead, ProfileRead, TokenList, OrgRead, Login, ProfileUpdate, EmailChange, PasswordChange, TfaEnable,
    TfaModeChange, TfaDisable, RecoveryCodesRegenerate, TokenCreate, TokenRevoke, PackagePublish, PackageStagePublish,
    PackageUnpublish, PackageDeprecate, DistTagAdd, DistTagRemove, PackageStar, OwnerAdd, OwnerRemove, AccessVisibility,
    AccessGrant, AccessRevoke, AccessPublishingSetting, TrustConfigure, PackageStageApprove, OrgMemberAdd, OrgMemberRemove,
    OrgTeamChange, OrgTfaEnforcement,
]);
enum_in!(factor_in, w::Factor => Factor, [Webauthn, Totp, RecoveryCode, EmailOtp]);
enum_out!(factor_out, Factor => w::Factor, [Webauthn, Totp, RecoveryCode, EmailOtp]);
enum_in!(tfa_mode, w::TfaMode => c::TfaMode, [Disabled, AuthOnly, AuthAndWrites]);
enum_in!(legacy_type, w::LegacyType => c::LegacyType, [Publish, ReadOnly, Automation]);
enum_in!(permission, w::Permission => c::Permission, [NoAccess, ReadOnly, ReadWrite]);
enum_in!(oidc_permission, w::OidcPermission => c::OidcPermission, [CreatePackage, CreateStagedPackage]);
enum_in!(publishing_access, w::PublishingAccess => c::PublishingAccess, [None, TfaOrToken, TfaNoTokens]);
enum_out!(outcome, Outcome => w::Outcome, [Allow, Challenge, Deny]);
enum_out!(reason, Reason => w::Reason, [
    Allowed, AllowedWithProof, AllowedBypassToken, AllowedTrustedPublisher, OtpRequired, LoginVerificationRequired,
    OtpInvalid, OtpMalformed, OtpReplayed, OtpClockDrift, TokenExpired, IpNotAllowed, TokenReadOnly, TokenScope,
    OidcScope, BypassTokenForbidden, TokensDisallowed, PackageRequiresTfa, TfaRequiredToPublish, TfaEnforced,
    SafeguardReadOnly, Throttled,
]);

/// A core error as the WIT record.
pub fn err(e: InputError) -> w::InputError {
    w::InputError {
        path: e.path,
        message: e.message,
    }
}

fn ip(a: w::IpAddress) -> IpAddr {
    match a {
        w::IpAddress::V4(v) => IpAddr::V4(Ipv4Addr::from(v)),
        w::IpAddress::V6((hi, lo)) => {
            IpAddr::V6(Ipv6Addr::from((u128::from(hi) << 64) | u128::from(lo)))
        }
    }
}

fn cidrs(list: Vec<w::Cidr>) -> Result<Vec<Cidr>, InputError> {
    list.into_iter()
        .enumerate()
        .map(|(i, x)| {
            Cidr::new(ip(x.address), x.prefix).ok_or_else(|| {
                InputError::new(
                    format!("credential.cidr_whitelist[{i}]"),
                    "prefix length out of range",
                )
            })
        })
        .collect()
}

fn impact(i: w::Impact) -> c::Impact {
    c::Impact {
        weekly_downloads: i.weekly_downloads.map(Count),
        dependents: i.dependents.map(Count),
        dependents_rank: i.dependents_rank.map(Count),
    }
}

/// A WIT request as a validated core request.
pub fn request(r: w::Request) -> Result<c::Request, InputError> {
    let credential = match r.credential {
        w::Credential::Session => c::Credential::Session,
        w::Credential::Basic => c::Credential::Basic,
        w::Credential::LegacyToken(t) => c::Credential::LegacyToken {
            token_type: legacy_type(t.token_type),
            expires_at: t.expires_at.map(Timestamp),
            cidr_whitelist: cidrs(t.cidr_whitelist)?,
        },
        w::Credential::GranularToken(t) => c::Credential::GranularToken {
            bypass_2fa: t.bypass_tfa,
            expires_at: t.expires_at.map(Timestamp),
            cidr_whitelist: cidrs(t.cidr_whitelist)?,
            packages: c::PackagesAxis {
                all: t.packages.all,
                names: t.packages.names,
                scopes: t.packages.scopes,
                permission: permission(t.packages.permission),
            },
            orgs: c::OrgsAxis {
                names: t.orgs.names,
                permission: permission(t.orgs.permission),
            },
        },
        w::Credential::Oidc(o) => c::Credential::Oidc {
            package: o.package,
            permissions: o.permissions.into_iter().map(oidc_permission).collect(),
            expires_at: o.expires_at.map(Timestamp),
        },
    };
    c::Request {
        now: Timestamp(r.now),
        action: c::Action {
            kind: action_kind(r.action.kind),
            package: r.action.package,
            tag: r.action.tag,
            org: r.action.org,
            target_account: r.action.target_account,
        },
        account: c::Account {
            id: r.account.id,
            tfa: r.account.tfa.map(|t| c::Tfa {
                mode: tfa_mode(t.mode),
                factors: t.factors.into_iter().map(factor_in).collect(),
            }),
            publisher: r.account.publisher,
            impact: r.account.impact.map(impact),
            safeguard_until: r.account.safeguard_until.map(Timestamp),
        },
        credential,
        client: c::Client {
            ip: r.client_ip.map(|a| ClientIp(ip(a))),
        },
        package: r.package.map(|p| c::Package {
            name: p.name,
            publishing_access: p.publishing_access.map(publishing_access),
            weekly_downloads: p.weekly_downloads.map(Count),
            dependents: p.dependents.map(Count),
            dependents_rank: p.dependents_rank.map(Count),
        }),
        orgs: r
            .orgs
            .into_iter()
            .map(|o| c::Org {
                name: o.name,
                enforce_tfa: o.enforce_tfa,
            })
            .collect(),
        proofs: r
            .proofs
            .into_iter()
            .map(|p| c::Proof {
                factor: factor_in(p.factor),
                verified_at: Timestamp(p.verified_at),
            })
            .collect(),
        failures: c::Failures {
            account: r.failures_account.into_iter().map(Timestamp).collect(),
            ip: r.failures_ip.into_iter().map(Timestamp).collect(),
        },
    }
    .validate()
}

/// WIT secrets as checked core secrets.
pub fn secrets(s: w::Secrets) -> Result<Secrets, InputError> {
    Secrets::from_parts(
        s.totp_secret,
        s.last_totp_step,
        s.recovery_codes
            .into_iter()
            .map(|r| (r.salt, r.hash))
            .collect(),
        s.email_code
            .map(|e| (e.salt, e.hash, e.expires_at, e.attempts)),
        s.webauthn.map(|w| WebauthnSecrets {
            challenge: w.challenge.map(|c| ChallengeRecord {
                challenge: c.challenge,
                expires_at: Timestamp(c.expires_at),
            }),
            credentials: w
                .credentials
                .into_iter()
                .map(|k| StoredCredential {
                    id: k.id,
                    public_key: k.public_key,
                    sign_count: k.sign_count,
                })
                .collect(),
        }),
    )
}

/// A WIT presented code or assertion as a core one.
pub fn presented(p: w::Presented) -> Result<Presented, InputError> {
    let factor = p.factor.map(factor_in);
    match p.assertion {
        Some(assertion) if p.code.is_empty() => Presented::assertion(factor, &assertion),
        Some(_) => Err(InputError::new(
            "present.code",
            "give a code or an assertion, not both",
        )),
        None => Presented::new(factor, p.code),
    }
}

fn effect(e: &Effect) -> w::Effect {
    match e {
        Effect::ConsumeTotpStep { step } => w::Effect::ConsumeTotpStep(*step),
        Effect::BurnRecoveryCode { index } => {
            w::Effect::BurnRecoveryCode(u32::try_from(*index).unwrap_or(u32::MAX))
        }
        Effect::ConsumeEmailCode => w::Effect::ConsumeEmailCode,
        Effect::RecordEmailAttempt => w::Effect::RecordEmailAttempt,
        Effect::RecordFailure => w::Effect::RecordFailure,
        Effect::ClearFailures => w::Effect::ClearFailures,
        Effect::RevokeWebSessions => w::Effect::RevokeWebSessions,
        Effect::StartSafeguard { until } => w::Effect::StartSafeguard(*until),
        Effect::ConsumeWebauthnChallenge => w::Effect::ConsumeWebauthnChallenge,
        Effect::ReadAnonymously => w::Effect::ReadAnonymously,
        Effect::UpdateWebauthnSignCount {
            credential_id,
            sign_count,
        } => w::Effect::UpdateWebauthnSignCount(w::SignCount {
            credential_id: credential_id.clone(),
            sign_count: *sign_count,
        }),
        Effect::ReportSignCountRegression {
            credential_id,
            stored,
            presented,
        } => w::Effect::ReportSignCountRegression(w::SignCountRegression {
            credential_id: credential_id.clone(),
            stored: *stored,
            presented: *presented,
        }),
    }
}

/// A core decision as the WIT record.
pub fn decision(d: Decision) -> w::Decision {
    w::Decision {
        outcome: outcome(d.outcome),
        reason: reason(d.reason),
        rule: d.rule.into_owned(),
        message: d.message.into_owned(),
        challenge: d
            .challenge
            .map(|c| c.factors.iter().map(factor_out).collect()),
        retry_after: d.retry_after,
        drift_seconds: d.drift_seconds,
        webauthn_problem: d.webauthn_problem.map(str::to_owned),
        effects: d.effects.iter().map(effect).collect(),
        npm: w::NpmAnswer {
            status: d.npm.status,
            www_authenticate: d.npm.www_authenticate.map(|h| h.into_owned()),
            error: d.npm.error.map(|e| e.into_owned()),
        },
    }
}

/// A stored recovery-code record.
pub fn code_record(r: &CodeRecord) -> w::CodeRecord {
    w::CodeRecord {
        salt: r.salt.0.clone(),
        hash: r.hash.0.to_vec(),
    }
}

/// A stored email-code record.
pub fn email_record(r: &EmailRecord) -> w::EmailRecord {
    w::EmailRecord {
        salt: r.salt.0.clone(),
        hash: r.hash.0.to_vec(),
        expires_at: r.expires_at.0,
        attempts: r.attempts,
    }
}
