//! Core types ⇄ the component's WIT types (host side). Fields move; nothing is decided here.

use std::borrow::Cow;
use std::net::IpAddr;

use stepup_core::codes::single_use::{
    CodeRecord, Digest32, EmailRecord, HexBytes, IssuedEmailCode, IssuedRecoveryCodes,
};
use stepup_core::codes::totp::TotpEnrollment;
use stepup_core::contract::cidr::Cidr;
use stepup_core::contract::decision::{Challenge, NpmAnswer};
use stepup_core::contract::request as c;
use stepup_core::contract::time::Timestamp;
use stepup_core::{
    ActionKind, Decision, Effect, Factor, FactorSet, InputError, Outcome, Presented, Reason,
    Secrets,
};

use crate::bindings::exports::stepup::policy::types as w;

macro_rules! enum_out {
    ($name:ident, $c:ty => $w:ty, [$($v:ident),* $(,)?]) => {
        fn $name(x: $c) -> $w {
            match x { $(<$c>::$v => <$w>::$v,)* }
        }
    };
}

macro_rules! enum_in {
    ($name:ident, $w:ty => $c:ty, [$($v:ident),* $(,)?]) => {
        fn $name(x: $w) -> $c {
            match x { $(<$w>::$v => <$c>::$v,)* }
        }
    };
}

enum_out!(action_kind, ActionKind => w::ActionKind, [
    PackageRead, ProfileRead, TokenList, OrgRead, Login, ProfileUpdate, EmailChange, PasswordChange, TfaEnable,
    TfaModeChange, TfaDisable, RecoveryCodesRegenerate, TokenCreate, TokenRevoke, PackagePublish, PackageStagePublish,
    PackageUnpublish, PackageDeprecate, DistTagAdd, DistTagRemove, PackageStar, OwnerAdd, OwnerRemove, AccessVisibility,
    AccessGrant, AccessRevoke, AccessPublishingSetting, TrustConfigure, PackageStageApprove, OrgMemberAdd, OrgMemberRemove,
    OrgTeamChange, OrgTfaEnforcement,
]);
enum_out!(factor_out, Factor => w::Factor, [Webauthn, Totp, RecoveryCode, EmailOtp]);
enum_in!(factor_in, w::Factor => Factor, [Webauthn, Totp, RecoveryCode, EmailOtp]);
enum_out!(tfa_mode, c::TfaMode => w::TfaMode, [Disabled, AuthOnly, AuthAndWrites]);
enum_out!(legacy_type, c::LegacyType => w::LegacyType, [Publish, ReadOnly, Automation]);
enum_out!(permission, c::Permission => w::Permission, [NoAccess, ReadOnly, ReadWrite]);
enum_out!(oidc_permission, c::OidcPermission => w::OidcPermission, [CreatePackage, CreateStagedPackage]);
enum_out!(publishing_access, c::PublishingAccess => w::PublishingAccess, [None, TfaOrToken, TfaNoTokens]);
enum_in!(outcome, w::Outcome => Outcome, [Allow, Challenge, Deny]);
enum_in!(reason, w::Reason => Reason, [
    Allowed, AllowedWithProof, AllowedBypassToken, AllowedTrustedPublisher, OtpRequired, LoginVerificationRequired,
    OtpInvalid, OtpMalformed, OtpReplayed, OtpClockDrift, TokenExpired, IpNotAllowed, TokenReadOnly, TokenScope,
    OidcScope, BypassTokenForbidden, TokensDisallowed, PackageRequiresTfa, TfaRequiredToPublish, TfaEnforced,
    SafeguardReadOnly, Throttled,
]);

/// The component's error as the core error.
pub fn error(e: w::InputError) -> InputError {
    InputError {
        path: e.path,
        message: e.message,
    }
}

fn ip(a: IpAddr) -> w::IpAddress {
    match a {
        IpAddr::V4(v4) => w::IpAddress::V4(u32::from(v4)),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            w::IpAddress::V6(((bits >> 64) as u64, bits as u64))
        }
    }
}

fn cidr(x: &Cidr) -> w::Cidr {
    match *x {
        Cidr::V4(net, prefix) => w::Cidr {
            address: w::IpAddress::V4(net),
            prefix,
        },
        Cidr::V6(net, prefix) => w::Cidr {
            address: w::IpAddress::V6(((net >> 64) as u64, net as u64)),
            prefix,
        },
    }
}

fn impact(i: &c::Impact) -> w::Impact {
    w::Impact {
        weekly_downloads: i.weekly_downloads.map(|v| v.0),
        dependents: i.dependents.map(|v| v.0),
        dependents_rank: i.dependents_rank.map(|v| v.0),
    }
}

/// A core request as the WIT record.
pub fn request(r: &c::Request) -> w::Request {
    let credential = match &r.credential {
        c::Credential::Session => w::Credential::Session,
        c::Credential::Basic => w::Credential::Basic,
        c::Credential::LegacyToken {
            token_type,
            expires_at,
            cidr_whitelist,
        } => w::Credential::LegacyToken(w::LegacyToken {
            token_type: legacy_type(*token_type),
            expires_at: expires_at.map(|t| t.0),
            cidr_whitelist: cidr_whitelist.iter().map(cidr).collect(),
        }),
        c::Credential::GranularToken {
            bypass_2fa,
            expires_at,
            cidr_whitelist,
            packages,
            orgs,
        } => w::Credential::GranularToken(w::GranularToken {
            bypass_tfa: *bypass_2fa,
            expires_at: expires_at.map(|t| t.0),
            cidr_whitelist: cidr_whitelist.iter().map(cidr).collect(),
            packages: w::PackagesAxis {
                all: packages.all,
                names: packages.names.clone(),
                scopes: packages.scopes.clone(),
                permission: permission(packages.permission),
            },
            orgs: w::OrgsAxis {
                names: orgs.names.clone(),
                permission: permission(orgs.permission),
            },
        }),
        c::Credential::Oidc {
            package,
            permissions,
            expires_at,
        } => w::Credential::Oidc(w::Oidc {
            package: package.clone(),
            permissions: permissions.iter().copied().map(oidc_permission).collect(),
            expires_at: expires_at.map(|t| t.0),
        }),
    };
    let a = &r.action;
    w::Request {
        now: r.now.0,
        action: w::Action {
            kind: action_kind(a.kind),
            package: a.package.clone(),
            tag: a.tag.clone(),
            org: a.org.clone(),
            target_account: a.target_account.clone(),
        },
        account: w::Account {
            id: r.account.id.clone(),
            tfa: r.account.tfa.as_ref().map(|t| w::Tfa {
                mode: tfa_mode(t.mode),
                factors: t.factors.iter().copied().map(factor_out).collect(),
            }),
            publisher: r.account.publisher,
            impact: r.account.impact.as_ref().map(impact),
            safeguard_until: r.account.safeguard_until.map(|t| t.0),
        },
        credential,
        client_ip: r.client.ip.map(|i| ip(i.0)),
        package: r.package.as_ref().map(|p| w::PackageInfo {
            name: p.name.clone(),
            publishing_access: p.publishing_access.map(publishing_access),
            weekly_downloads: p.weekly_downloads.map(|v| v.0),
            dependents: p.dependents.map(|v| v.0),
            dependents_rank: p.dependents_rank.map(|v| v.0),
        }),
        orgs: r
            .orgs
            .iter()
            .map(|o| w::Org {
                name: o.name.clone(),
                enforce_tfa: o.enforce_tfa,
            })
            .collect(),
        proofs: r
            .proofs
            .iter()
            .map(|p| w::Proof {
                factor: factor_out(p.factor),
                verified_at: p.verified_at.0,
            })
            .collect(),
        failures_account: r.failures.account.iter().map(|t| t.0).collect(),
        failures_ip: r.failures.ip.iter().map(|t| t.0).collect(),
    }
}

/// Core secrets as the WIT record.
pub fn secrets(s: &Secrets) -> w::Secrets {
    w::Secrets {
        totp_secret: s.totp_secret.as_ref().map(|t| t.0.clone()),
        last_totp_step: s.last_totp_step.map(|c| c.0),
        recovery_codes: s
            .recovery_codes
            .iter()
            .map(|r| w::CodeRecord {
                salt: r.salt.0.clone(),
                hash: r.hash.0.to_vec(),
            })
            .collect(),
        email_code: s.email_code.as_ref().map(|e| w::EmailRecord {
            salt: e.salt.0.clone(),
            hash: e.hash.0.to_vec(),
            expires_at: e.expires_at.0,
            attempts: e.attempts,
        }),
        webauthn: s.webauthn.as_ref().map(|k| w::WebauthnSecrets {
            challenge: k.challenge.as_ref().map(|c| w::ChallengeRecord {
                challenge: c.challenge.clone(),
                expires_at: c.expires_at.0,
            }),
            credentials: k
                .credentials
                .iter()
                .map(|c| w::StoredCredential {
                    id: c.id.clone(),
                    public_key: c.public_key.clone(),
                    sign_count: c.sign_count,
                })
                .collect(),
        }),
    }
}

/// A presented code or assertion as the WIT record (an assertion as its JSON text).
pub fn presented(p: &Presented) -> w::Presented {
    w::Presented {
        factor: p.factor.map(factor_out),
        code: p.code.clone(),
        assertion: p
            .assertion
            .as_ref()
            .and_then(|a| serde_json::to_string(a).ok()),
    }
}

fn effect(e: w::Effect) -> Effect {
    match e {
        w::Effect::ConsumeTotpStep(step) => Effect::ConsumeTotpStep { step },
        w::Effect::BurnRecoveryCode(index) => Effect::BurnRecoveryCode {
            index: index as usize,
        },
        w::Effect::ConsumeEmailCode => Effect::ConsumeEmailCode,
        w::Effect::RecordEmailAttempt => Effect::RecordEmailAttempt,
        w::Effect::RecordFailure => Effect::RecordFailure,
        w::Effect::ClearFailures => Effect::ClearFailures,
        w::Effect::RevokeWebSessions => Effect::RevokeWebSessions,
        w::Effect::StartSafeguard(until) => Effect::StartSafeguard { until },
        w::Effect::ConsumeWebauthnChallenge => Effect::ConsumeWebauthnChallenge,
        w::Effect::ReadAnonymously => Effect::ReadAnonymously,
        w::Effect::UpdateWebauthnSignCount(c) => Effect::UpdateWebauthnSignCount {
            credential_id: c.credential_id,
            sign_count: c.sign_count,
        },
        w::Effect::ReportSignCountRegression(r) => Effect::ReportSignCountRegression {
            credential_id: r.credential_id,
            stored: r.stored,
            presented: r.presented,
        },
    }
}

/// The component's decision as a core decision (so it serializes exactly as native).
pub fn decision(d: w::Decision) -> Decision {
    Decision {
        outcome: outcome(d.outcome),
        reason: reason(d.reason),
        rule: Cow::Owned(d.rule),
        message: Cow::Owned(d.message),
        challenge: d.challenge.map(|f| Challenge {
            factors: f.into_iter().map(factor_in).collect::<FactorSet>(),
        }),
        retry_after: d.retry_after,
        drift_seconds: d.drift_seconds,
        webauthn_problem: d
            .webauthn_problem
            .and_then(|p| stepup_core::verify::webauthn::problem_name(&p)),
        effects: d.effects.into_iter().map(effect).collect(),
        npm: NpmAnswer {
            status: d.npm.status,
            www_authenticate: d.npm.www_authenticate.map(Cow::Owned),
            error: d.npm.error.map(Cow::Owned),
        },
    }
}

/// An enrolment from the component.
pub fn enrollment(e: w::TotpEnrollment) -> TotpEnrollment {
    TotpEnrollment {
        secret: e.secret,
        otpauth_uri: e.otpauth_uri,
        qr_svg: e.qr_svg,
    }
}

fn record(salt: Vec<u8>, hash: Vec<u8>) -> Result<(HexBytes, Digest32), InputError> {
    let hash = <[u8; 32]>::try_from(hash).map_err(|_| {
        InputError::new(
            "record.hash",
            "component returned a digest that is not 32 bytes",
        )
    })?;
    Ok((HexBytes(salt), Digest32(hash)))
}

/// Recovery codes from the component.
pub fn issued_recovery(i: w::IssuedRecoveryCodes) -> Result<IssuedRecoveryCodes, InputError> {
    let records = i
        .records
        .into_iter()
        .map(|r| record(r.salt, r.hash).map(|(salt, hash)| CodeRecord { salt, hash }))
        .collect::<Result<_, _>>()?;
    Ok(IssuedRecoveryCodes {
        codes: i.codes,
        records,
    })
}

/// An email code from the component.
pub fn issued_email(i: w::IssuedEmailCode) -> Result<IssuedEmailCode, InputError> {
    let (salt, hash) = record(i.record.salt, i.record.hash)?;
    Ok(IssuedEmailCode {
        code: i.code,
        record: EmailRecord {
            salt,
            hash,
            expires_at: Timestamp(i.record.expires_at),
            attempts: i.record.attempts,
        },
    })
}
