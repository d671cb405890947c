//! Org 2FA enforcement: who loses access when an org turns enforcement on, and an adoption
//! audit of a member list (the seeds' "better tools for understanding 2FA adoption").

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::contract::error::InputError;
use crate::contract::factor::Factor;
use crate::contract::request::{Impact, Tfa, TfaMode};
use crate::rules::precedence::is_high_impact;
use crate::wire::json::nullable;

/// Org roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// May change org settings.
    Owner,
    /// Manages members and teams.
    Admin,
    /// Everyone else.
    #[default]
    Developer,
}

/// One org member.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Account id.
    pub id: String,
    /// 2FA state.
    #[serde(default)]
    pub tfa: Option<Tfa>,
    /// Role in the org.
    #[serde(default, deserialize_with = "nullable")]
    pub role: Role,
    /// Reach of the member's packages.
    #[serde(default)]
    pub impact: Option<Impact>,
}

impl Member {
    fn has_tfa(&self) -> bool {
        self.tfa
            .as_ref()
            .is_some_and(|t| t.mode != TfaMode::Disabled)
    }
}

/// Input of the enforcement plan.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// Org name.
    pub org: String,
    /// The account turning enforcement on.
    pub actor: String,
    /// All members, the actor included.
    pub members: Vec<Member>,
}

/// What turning enforcement on would do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Whether the actor may turn it on.
    pub allowed: bool,
    /// Why not, when not: `actor-not-member`, `actor-not-owner`, `actor-without-tfa`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<&'static str>,
    /// Human summary.
    pub message: String,
    /// Members without 2FA, removed from the org (they may be re-invited after enabling 2FA).
    pub remove: Vec<String>,
    /// Members who stay.
    pub keep: Vec<String>,
}

/// Plans enforcement: an owner with 2FA may turn it on; members without 2FA are removed.
pub fn plan(input: &PlanInput) -> Result<Plan, InputError> {
    if input.members.len() > 100_000 {
        return Err(InputError::new("members", "at most 100000 members"));
    }
    let (keep, remove): (Vec<&Member>, Vec<&Member>) =
        input.members.iter().partition(|m| m.has_tfa());
    let ids = |v: Vec<&Member>| v.into_iter().map(|m| m.id.clone()).collect::<Vec<_>>();
    let actor = input.members.iter().find(|m| m.id == input.actor);
    let refused = match actor {
        None => Some("actor-not-member"),
        Some(a) if a.role != Role::Owner => Some("actor-not-owner"),
        Some(a) if !a.has_tfa() => Some("actor-without-tfa"),
        Some(_) => None,
    };
    let message = match refused {
        Some("actor-without-tfa") => format!(
            "Enable two-factor authentication on your own account before enforcing it in {}.",
            input.org
        ),
        Some("actor-not-owner") => format!(
            "Only an owner of {} can turn on 2FA enforcement.",
            input.org
        ),
        Some(_) => format!("{} is not a member of {}.", input.actor, input.org),
        None if remove.is_empty() => format!(
            "Every member of {} has 2FA; enforcement removes no one.",
            input.org
        ),
        None => format!(
            "Enforcing 2FA in {} removes {} member(s) without 2FA; they can be re-invited once they enable it.",
            input.org,
            remove.len()
        ),
    };
    Ok(Plan {
        allowed: refused.is_none(),
        refused,
        message,
        remove: ids(remove),
        keep: ids(keep),
    })
}

/// Input of the adoption audit.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditInput {
    /// Members.
    pub members: Vec<Member>,
}

/// 2FA adoption figures for a member list (integers only, identical in every host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
pub struct Audit {
    /// Members.
    pub total: usize,
    /// With 2FA.
    pub with_tfa: usize,
    /// Without 2FA.
    pub without_tfa: usize,
    /// Adoption in basis points (10000 = everyone).
    pub adoption_basis_points: u64,
    /// In `auth-only`.
    pub auth_only: usize,
    /// In `auth-and-writes`.
    pub auth_and_writes: usize,
    /// With a security key or passkey enrolled (phishing-resistant).
    pub webauthn: usize,
    /// With TOTP only (phishable).
    pub totp_only: usize,
    /// Members without 2FA, by id.
    pub missing: Vec<String>,
    /// Members without 2FA that maintain high-impact packages: enforcement targets.
    pub high_impact_missing: Vec<String>,
    /// Owners without 2FA (they cannot turn on enforcement).
    pub owners_missing: Vec<String>,
}

/// Audits adoption.
pub fn audit(cfg: &Config, input: &AuditInput) -> Result<Audit, InputError> {
    if input.members.len() > 100_000 {
        return Err(InputError::new("members", "at most 100000 members"));
    }
    let mut a = Audit {
        total: input.members.len(),
        ..Audit::default()
    };
    for m in &input.members {
        match m.tfa.as_ref().map(|t| t.mode) {
            Some(TfaMode::AuthOnly) => a.auth_only += 1,
            Some(TfaMode::AuthAndWrites) => a.auth_and_writes += 1,
            _ => {}
        }
        if m.has_tfa() {
            a.with_tfa += 1;
            let factors = m.tfa.as_ref().map(|t| t.factors.as_slice()).unwrap_or(&[]);
            if factors.contains(&Factor::Webauthn) {
                a.webauthn += 1;
            } else if factors.contains(&Factor::Totp) {
                a.totp_only += 1;
            }
        } else {
            a.without_tfa += 1;
            a.missing.push(m.id.clone());
            if m.impact.as_ref().is_some_and(|i| is_high_impact(cfg, i)) {
                a.high_impact_missing.push(m.id.clone());
            }
            if m.role == Role::Owner {
                a.owners_missing.push(m.id.clone());
            }
        }
    }
    a.adoption_basis_points = if a.total == 0 {
        10_000
    } else {
        (a.with_tfa as u64).saturating_mul(10_000) / a.total as u64
    };
    Ok(a)
}
