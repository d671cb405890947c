//! The rules of SPEC §4, in precedence order, producing either a final decision or a
//! requirement for a second factor.

use std::borrow::Cow;

use crate::config::Config;
use crate::contract::action::{ActionClass, ActionKind};
use crate::contract::decision::{Challenge, Decision, Effect, Outcome, Reason};
use crate::contract::factor::FactorSet;
use crate::contract::request::{
    Credential, Impact, LegacyType, OidcPermission, Permission, PublishingAccess, Request, TfaMode,
};
use crate::rules::messages::{message, npm_answer};
use crate::rules::rollout::{Enrolment, enrolled};
use crate::rules::throttle;

/// Builds a decision with the reason's standard message and npm answer.
pub(crate) fn decide(reason: Reason, rule: impl Into<Cow<'static, str>>) -> Decision {
    with_message(reason, rule, Cow::Borrowed(message(reason)))
}

/// Builds a decision with a custom message.
pub(crate) fn with_message(
    reason: Reason,
    rule: impl Into<Cow<'static, str>>,
    message: Cow<'static, str>,
) -> Decision {
    let npm = npm_answer(reason, message.clone());
    Decision {
        outcome: reason.outcome(),
        reason,
        rule: rule.into(),
        message,
        challenge: None,
        retry_after: None,
        drift_seconds: None,
        webauthn_problem: None,
        effects: Vec::new(),
        npm,
    }
}

/// A second factor the request still has to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Need {
    /// Factors listed in the challenge (SPEC §8.2).
    pub listed: FactorSet,
    /// The rule that names the decision.
    pub rule: Cow<'static, str>,
    /// Login verification (email code) rather than 2FA.
    pub login_verification: bool,
}

impl Need {
    /// The plain challenge for this need.
    pub fn challenge(&self) -> Decision {
        let reason = if self.login_verification {
            Reason::LoginVerificationRequired
        } else {
            Reason::OtpRequired
        };
        self.challenge_with(reason)
    }

    /// A challenge with another `otp-*` reason (a failed code).
    pub fn challenge_with(&self, reason: Reason) -> Decision {
        let mut d = decide(reason, self.rule.clone());
        d.challenge = Some(Challenge {
            factors: self.listed,
        });
        d
    }
}

/// What the rules say before proofs, throttling and codes are looked at.
pub(crate) enum Verdict {
    /// A deny or a final allow (bypass token, trusted publisher).
    Final(Decision),
    /// A factor is required.
    Need(Need),
    /// Nothing is required.
    Free,
}

/// Runs rules 1 and 3–8 (SPEC §4). Throttling (rule 2) only matters when the answer would be a
/// challenge, so callers apply it to `Verdict::Need`.
pub(crate) fn verdict(cfg: &Config, cohort_rules: &[String], req: &Request) -> Verdict {
    let now = req.now.0;
    let kind = req.action.kind;
    let class = kind.class();

    // 1. Credential.
    if let Some(d) = credential(req, kind, class) {
        return Verdict::Final(d);
    }

    // 3. Safeguard.
    if req.account.safeguard_until.is_some_and(|u| now < u.0) && class.mutates() {
        return Verdict::Final(decide(Reason::SafeguardReadOnly, "safeguard"));
    }

    // 4. Bypass tokens and trusted publishers.
    let access = req
        .package
        .as_ref()
        .and_then(|p| p.publishing_access)
        .unwrap_or(cfg.default_publishing_access);
    let cred = &req.credential;
    if cred.is_bypass() {
        if cfg.bypass_token_forbidden_classes.contains(&class) {
            return Verdict::Final(decide(
                Reason::BypassTokenForbidden,
                "bypass-token.forbidden",
            ));
        }
        if class == ActionClass::Publish && access == PublishingAccess::TfaNoTokens {
            return Verdict::Final(decide(
                Reason::TokensDisallowed,
                "package-access.tfa-no-tokens",
            ));
        }
        return Verdict::Final(decide(Reason::AllowedBypassToken, "bypass-token"));
    }
    if cred.is_token() && class == ActionClass::Publish && access == PublishingAccess::TfaNoTokens {
        return Verdict::Final(decide(
            Reason::TokensDisallowed,
            "package-access.tfa-no-tokens",
        ));
    }
    if matches!(cred, Credential::Oidc { .. }) {
        return Verdict::Final(decide(Reason::AllowedTrustedPublisher, "trusted-publisher"));
    }

    // 5. Mandatory 2FA.
    let has_tfa = req.account.has_tfa();
    let enforcing_org = req.orgs.iter().any(|o| o.enforce_tfa);
    if !has_tfa {
        let gated = matches!(
            kind,
            ActionKind::EmailChange | ActionKind::OwnerAdd | ActionKind::OrgMemberAdd
        ) || matches!(
            class,
            ActionClass::Publish | ActionClass::PackageWrite | ActionClass::PackageGovernance
        );
        if gated {
            let rule = cohort(cfg, cohort_rules, req.account.impact.as_ref(), now)
                .map(|r| Cow::Owned(r.to_owned()))
                .or_else(|| enforcing_org.then_some(Cow::Borrowed("mandatory-2fa.org")));
            if let Some(rule) = rule {
                let mut d = decide(Reason::TfaEnforced, rule);
                d.effects.push(Effect::RevokeWebSessions);
                return Verdict::Final(d);
            }
        }
    } else if kind == ActionKind::TfaDisable && enforcing_org {
        return Verdict::Final(decide(Reason::TfaEnforced, "mandatory-2fa.org"));
    }

    // 6. Publish floor.
    if class == ActionClass::Publish && !has_tfa {
        if cfg.publish_floor {
            return Verdict::Final(decide(Reason::TfaRequiredToPublish, "publish-floor"));
        }
        if access != PublishingAccess::None {
            return Verdict::Final(decide(
                Reason::PackageRequiresTfa,
                "package-access.requires-tfa",
            ));
        }
    }

    // 7. Step-up, and 8. enhanced login verification.
    let mut need: Option<(FactorSet, Cow<'static, str>)> = None;
    let mut add = |set: FactorSet, rule: &'static str| match &mut need {
        None => need = Some((set, Cow::Borrowed(rule))),
        Some((s, _)) => {
            let both = s.and(set);
            if !both.is_empty() {
                *s = both;
            }
        }
    };
    if kind != ActionKind::PackageStagePublish {
        let mode = req.account.mode();
        if mode != TfaMode::Disabled {
            let mode_rule = match mode {
                TfaMode::AuthOnly => "account-mode.auth-only",
                _ => "account-mode.auth-and-writes",
            };
            let write = matches!(
                class,
                ActionClass::Publish
                    | ActionClass::PackageWrite
                    | ActionClass::PackageGovernance
                    | ActionClass::OrgGovernance
            );
            if matches!(
                class,
                ActionClass::Login | ActionClass::Account | ActionClass::Tokens
            ) || (mode == TfaMode::AuthAndWrites
                && write
                && !write_exempt(cfg, kind, req.action.tag.as_deref()))
            {
                add(FactorSet::SECOND_FACTORS, mode_rule);
            }
            if matches!(cred, Credential::Basic) {
                add(FactorSet::SECOND_FACTORS, "credential.basic");
            }
        }
        if kind == ActionKind::PackagePublish && access != PublishingAccess::None {
            add(FactorSet::SECOND_FACTORS, "package-access.publish");
        }
        if kind == ActionKind::PackageStageApprove {
            add(FactorSet::SECOND_FACTORS, "stage-approve");
        }
        if cfg.strong_factor_actions.contains(&kind) {
            add(FactorSet::STRONG, "strong-factor-actions");
        }
        // Rule 8 (amended): HTTP Basic sends the password, so every such request is a login.
        // An email change is verified the same way: the address is where the next login code
        // goes, so whoever holds a session must not move it without the current one.
        let verified = kind == ActionKind::Login
            || kind == ActionKind::EmailChange
            || matches!(cred, Credential::Basic);
        if verified && !has_tfa {
            match enrolled(
                &cfg.login_verification,
                &req.account.id,
                req.account.publisher,
                now,
            ) {
                Some(Enrolment::Stage) => add(FactorSet::EMAIL, "login-verification.stage"),
                Some(Enrolment::BrownOut) => add(FactorSet::EMAIL, "login-verification.brown-out"),
                None => {}
            }
        }
    }
    match need {
        None => Verdict::Free,
        Some((policy, rule)) => {
            let login_verification = policy == FactorSet::EMAIL;
            let filtered = policy.and(req.account.enrolled());
            let listed = if filtered.is_empty() {
                policy
            } else {
                filtered
            };
            Verdict::Need(Need {
                listed,
                rule,
                login_verification,
            })
        }
    }
}

/// `package.star`, and under `exempt_non_latest_dist_tags` dist-tags other than `latest`, need
/// no factor in auth-and-writes.
fn write_exempt(cfg: &Config, kind: ActionKind, tag: Option<&str>) -> bool {
    match kind {
        ActionKind::PackageStar => true,
        ActionKind::DistTagAdd | ActionKind::DistTagRemove => {
            cfg.exempt_non_latest_dist_tags && tag.is_some_and(|t| t != "latest")
        }
        _ => false,
    }
}

/// Rule 1: expiry, IP allow-list, read-only and scope, OIDC scope.
fn credential(req: &Request, kind: ActionKind, class: ActionClass) -> Option<Decision> {
    let cred = &req.credential;
    if cred.expires_at().is_some_and(|e| req.now.0 >= e.0) {
        return Some(decide(Reason::TokenExpired, "credential.expired"));
    }
    let cidrs = cred.cidr_whitelist();
    if !cidrs.is_empty()
        && !req
            .client
            .ip
            .is_some_and(|ip| cidrs.iter().any(|c| c.contains(ip.0)))
    {
        return Some(decide(Reason::IpNotAllowed, "credential.ip-allowlist"));
    }
    let read = class == ActionClass::Read;
    match cred {
        Credential::LegacyToken {
            token_type: LegacyType::ReadOnly,
            ..
        } if !read => Some(decide(Reason::TokenReadOnly, "credential.read-only")),
        Credential::GranularToken { packages, orgs, .. } => {
            let (covered, permission) =
                if class.targets_package() || kind == ActionKind::PackageRead {
                    match req.target_package() {
                        Some(name) => {
                            let hit = packages.all
                                || packages.names.iter().any(|n| n == name)
                                || packages.scopes.iter().any(|s| {
                                    name.strip_prefix(s.as_str())
                                        .is_some_and(|r| r.starts_with('/'))
                                });
                            (Some(hit), packages.permission)
                        }
                        None => (None, Permission::NoAccess),
                    }
                } else if class == ActionClass::OrgGovernance || kind == ActionKind::OrgRead {
                    match req.action.org.as_deref() {
                        Some(org) => (Some(orgs.names.iter().any(|n| n == org)), orgs.permission),
                        None => (None, Permission::NoAccess),
                    }
                } else {
                    (None, Permission::NoAccess)
                };
            // SPEC §8.24: the axes limit what the token writes and which non-public packages it
            // reads; a public package stays readable, so the read goes out anonymously.
            let outside = covered == Some(false)
                || (covered == Some(true) && permission == Permission::NoAccess);
            if outside && kind == ActionKind::PackageRead {
                let mut d = decide(Reason::Allowed, "credential.scope");
                d.effects.push(Effect::ReadAnonymously);
                return Some(d);
            }
            match covered {
                Some(false) => Some(decide(Reason::TokenScope, "credential.scope")),
                Some(true) if permission == Permission::NoAccess => {
                    Some(decide(Reason::TokenScope, "credential.scope"))
                }
                Some(true) => (!read && permission != Permission::ReadWrite)
                    .then(|| decide(Reason::TokenReadOnly, "credential.read-only")),
                None => {
                    let writable = packages.permission == Permission::ReadWrite
                        || orgs.permission == Permission::ReadWrite;
                    (!read && !writable)
                        .then(|| decide(Reason::TokenReadOnly, "credential.read-only"))
                }
            }
        }
        Credential::Oidc {
            package,
            permissions,
            ..
        } => {
            let needed = match kind {
                ActionKind::PackagePublish => Some(OidcPermission::CreatePackage),
                ActionKind::PackageStagePublish => Some(OidcPermission::CreateStagedPackage),
                _ => None,
            };
            let ok = needed.is_some_and(|p| permissions.contains(&p))
                && req.target_package() == Some(package.as_str());
            (!ok).then(|| decide(Reason::OidcScope, "credential.oidc-scope"))
        }
        _ => None,
    }
}

/// The earliest-dated cohort in force on `now` that holds the account (SPEC §8.10, §8.19).
fn cohort<'a>(
    cfg: &Config,
    rules: &'a [String],
    impact: Option<&Impact>,
    now: u64,
) -> Option<&'a str> {
    let impact = impact?;
    cfg.cohorts
        .iter()
        .zip(rules)
        .filter(|(c, _)| c.from.0 <= now)
        .filter(|(c, _)| {
            let by_rank = c
                .dependents_rank_at_most
                .is_some_and(|n| impact.dependents_rank.is_some_and(|r| r <= n));
            by_rank || (c.high_impact && is_high_impact(cfg, impact))
        })
        .min_by_key(|(c, _)| c.from)
        .map(|(_, r)| r.as_str())
}

/// High impact: more than the download threshold or at least the dependents threshold.
pub(crate) fn is_high_impact(cfg: &Config, impact: &Impact) -> bool {
    let hi = &cfg.high_impact;
    impact
        .weekly_downloads
        .is_some_and(|d| d > hi.weekly_downloads_over)
        || impact
            .dependents
            .is_some_and(|d| d >= hi.dependents_at_least)
}

/// Whether a proof in the request satisfies `need` (SPEC §8.8).
pub(crate) fn has_fresh_proof(cfg: &Config, req: &Request, need: &Need) -> bool {
    let now = req.now.0;
    req.proofs.iter().any(|p| {
        need.listed.contains(p.factor)
            && p.verified_at.0 <= now
            && now - p.verified_at.0 < cfg.proof_max_age_seconds
    })
}

/// Rule 2: a full failure window turns a challenge into `throttled`.
pub(crate) fn throttled(cfg: &Config, req: &Request) -> Option<Decision> {
    let now = req.now.0;
    let acct = throttle::check(&cfg.throttle.account, &req.failures.account, now);
    let ip = throttle::check(&cfg.throttle.ip, &req.failures.ip, now);
    let (full, rule) = match (acct, ip) {
        (Some(a), Some(i)) if i.retry_after > a.retry_after => (i, "throttle.ip"),
        (Some(a), _) => (a, "throttle.account"),
        (None, Some(i)) => (i, "throttle.ip"),
        (None, None) => return None,
    };
    let msg = format!(
        "Too many failed one-time passwords. Try again in {} seconds.",
        full.retry_after
    );
    let mut d = with_message(Reason::Throttled, rule, Cow::Owned(msg));
    d.retry_after = Some(full.retry_after);
    Some(d)
}

/// Effects every allow may carry: an email change on a high-impact account starts the
/// safeguard (SPEC §8.11).
pub(crate) fn finish_allow(cfg: &Config, req: &Request, d: &mut Decision) {
    if d.outcome == Outcome::Allow && req.action.kind == ActionKind::EmailChange {
        start_safeguard(cfg, req, d);
    }
}

/// Emits `start-safeguard` once, if the account is high impact and the config asks for it.
pub(crate) fn start_safeguard(cfg: &Config, req: &Request, d: &mut Decision) {
    if !cfg.safeguard.start_on_high_impact
        || !req
            .account
            .impact
            .as_ref()
            .is_some_and(|i| is_high_impact(cfg, i))
    {
        return;
    }
    if d.effects
        .iter()
        .any(|e| matches!(e, Effect::StartSafeguard { .. }))
    {
        return;
    }
    let until = req
        .now
        .0
        .saturating_add(cfg.safeguard.hours.saturating_mul(3600));
    d.effects.push(Effect::StartSafeguard { until });
}
