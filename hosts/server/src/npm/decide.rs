//! One npm request through the engine: gather the account's state, let the component verify the
//! presented code and decide, then apply the decision's effects. The "use once" effects are
//! claimed atomically in the store; if another request (on any instance) claimed the same step or
//! code first, the request is decided again with the fresh state, so the engine itself says
//! "replayed" — the server never invents an answer.

use serde_json::Value;
use sha2::{Digest, Sha256};
use stepup_core::codes::single_use::EmailRecord;
use stepup_core::contract::cidr::ClientIp;
use stepup_core::contract::decision::{Decision, Effect, Outcome};
use stepup_core::contract::request::{
    self as req, Action, Client, Credential, Failures, Proof, PublishingAccess, TfaMode,
};
use stepup_core::contract::time::{Count, Timestamp};
use stepup_core::verify::webauthn::{ChallengeRecord, StoredCredential, WebauthnSecrets};
use stepup_core::{Factor, InputError, Presented, Request, Secrets};

use crate::App;
use crate::error::ServeError;
use crate::store::{Account, Claim, DecisionState, Spent};

/// How long one accepted code also covers the other requests of the same npm command
/// (unpublish = PUT + DELETE), never the same request twice.
const OPERATION_WINDOW: i64 = 60;

/// Everything about the HTTP request the engine needs.
#[derive(Clone, Debug, Default)]
pub struct Call {
    /// Unix seconds.
    pub now: i64,
    /// Client address.
    pub ip: Option<String>,
    /// `npm-otp`, trimmed; ignored on reads.
    pub code: Option<String>,
    /// `METHOD path`, to tell the requests of one operation apart.
    pub request: String,
    /// The operation the engine's classification named (SPEC §9.5), when the request was
    /// classified as an npm request.
    pub operation: Option<String>,
    /// Whether the method writes.
    pub write: bool,
    /// A WebAuthn assertion (`PublicKeyCredential.toJSON()`) answering the account's pending
    /// `assert` challenge, presented instead of a code.
    pub assertion: Option<Value>,
}

/// Where the pending assertion challenge is kept (one per account).
pub const ASSERT: &str = "assert";

/// The prefix of a one-time token from a browser approval (npm's web OTP flow).
pub const APPROVAL_PREFIX: &str = "stepup-approval-";

/// The operation an accepted code covers (SPEC §9.5): as the engine's classification named it,
/// or, for the server's own routes that build their action in code, the action's own operation.
/// The client's `npm-command` header plays no part.
pub fn operation(call: &Call, action: &Action) -> String {
    call.operation
        .clone()
        .unwrap_or_else(|| action.operation(None))
}

/// The SPEC §2 name of an action class (a metrics label).
fn class_name(class: stepup_core::ActionClass) -> &'static str {
    use stepup_core::ActionClass as C;
    match class {
        C::Read => "read",
        C::Login => "login",
        C::Account => "account",
        C::Tokens => "tokens",
        C::Publish => "publish",
        C::PackageWrite => "package-write",
        C::PackageGovernance => "package-governance",
        C::OrgGovernance => "org-governance",
    }
}

/// The engine's decision.
#[derive(Debug)]
pub struct Decided {
    /// The SPEC decision, typed as the component answered it.
    pub decision: Decision,
    /// What the accepted proof used up: spent already, or (from [`decide_deferred`]) still to
    /// be spent together with the write it pays for.
    pub spent: Spent,
}

/// When a decision's claims are spent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Settle {
    /// Before the decision is answered.
    Now,
    /// By the caller, in the transaction of the write the proof pays for.
    WithWrite,
}

impl Decided {
    /// `true` when the decision allows.
    pub fn allowed(&self) -> bool {
        self.decision.outcome == Outcome::Allow
    }
}

fn code_hash(code: &str) -> String {
    stepup_core::wire::encoding::hex_encode(&Sha256::digest(code.as_bytes()))
}

fn timestamp(t: i64) -> Timestamp {
    Timestamp(u64::try_from(t).unwrap_or(0))
}

/// The account's 2FA state as the engine reads it: the stored mode and the factors enrolled.
pub(crate) fn tfa_of(a: &Account) -> Result<Option<req::Tfa>, ServeError> {
    let Some(name) = &a.tfa_mode else {
        return Ok(None);
    };
    let mode = TfaMode::from_name(name)
        .ok_or_else(|| ServeError::Store(format!("account {}: unknown 2FA mode", a.name)))?;
    let mut factors = Vec::new();
    if a.totp_secret.is_some() {
        factors.push(Factor::Totp);
    }
    if a.security_keys > 0 {
        factors.push(Factor::Webauthn);
    }
    factors.push(Factor::RecoveryCode);
    Ok(Some(req::Tfa { mode, factors }))
}

/// The account's secrets, opened from the store for one decision and checked as the engine's
/// typed entry points check them.
fn secrets_of(
    app: &App,
    account: &str,
    acct: &Account,
    codes: &[crate::store::CodeRow],
    webauthn: Option<WebauthnSecrets>,
) -> Result<Secrets, ServeError> {
    let malformed =
        |what: &str| ServeError::Store(format!("account {account}: {what} is malformed"));
    let totp = match &acct.totp_secret {
        Some(sealed) => {
            let text = app.sealer.open(&format!("totp:{account}"), sealed)?;
            let secret = stepup_core::TotpSecret::from_base32(&String::from_utf8_lossy(&text))
                .ok_or_else(|| malformed("the TOTP secret"))?;
            Some(secret.0)
        }
        None => None,
    };
    let context = format!("recovery:{account}");
    let hex = stepup_core::wire::encoding::hex_decode;
    let mut recovery = Vec::with_capacity(codes.len());
    for c in codes {
        let hash = app.sealer.open_text(&context, &c.hash)?;
        let (Some(salt), Some(hash)) = (hex(&c.salt), hex(&hash)) else {
            return Err(malformed("a recovery code"));
        };
        recovery.push((salt, hash));
    }
    let email = match &acct.email_code {
        Some(sealed) => {
            let text = app
                .sealer
                .open_text(&format!("email-code:{account}"), sealed)?;
            let r: EmailRecord =
                serde_json::from_str(&text).map_err(|_| malformed("the emailed code"))?;
            Some((r.salt.0, r.hash.0.to_vec(), r.expires_at.0, r.attempts))
        }
        None => None,
    };
    let last_step = acct.last_step.and_then(|s| u64::try_from(s).ok());
    Secrets::from_parts(totp, last_step, recovery, email, webauthn)
        .map_err(|e| ServeError::Store(format!("account {account}: {}", e.message)))
}

/// Decides `action` for `account` presenting `credential`, applying the effects.
pub async fn decide(
    app: &App,
    call: &Call,
    account: &str,
    credential: &Credential,
    action: &Action,
) -> Result<Decided, ServeError> {
    decide_settling(app, call, account, credential, action, Settle::Now, None).await
}

/// What deciding `action` for `account` reads from the store, read ahead so a gateway check on
/// the same state (the package's maintainers) costs no statement of its own; hand it to
/// [`decide_with_state`].
pub async fn state_for(
    app: &App,
    call: &Call,
    account: &str,
    action: &Action,
) -> Result<DecisionState, ServeError> {
    let read = std::time::Instant::now();
    let state = app
        .store
        .decision_state(
            account,
            action.package.as_deref(),
            call.ip.as_deref(),
            call.now,
        )
        .await?;
    app.metrics.store("decision-read", read.elapsed());
    Ok(state)
}

/// As [`decide`], with the state [`state_for`] read for the same call, account and action.
/// Should a claim be lost to a concurrent request, the state is read again, as it always is.
pub async fn decide_with_state(
    app: &App,
    call: &Call,
    account: &str,
    credential: &Credential,
    action: &Action,
    state: DecisionState,
) -> Result<Decided, ServeError> {
    decide_settling(
        app,
        call,
        account,
        credential,
        action,
        Settle::Now,
        Some(state),
    )
    .await
}

/// As [`decide`], but an accepted proof's claims are left in [`Decided::spent`] for the caller
/// to spend in the transaction of the write they pay for (`Store::insert_token_claiming`).
pub async fn decide_deferred(
    app: &App,
    call: &Call,
    account: &str,
    credential: &Credential,
    action: &Action,
) -> Result<Decided, ServeError> {
    decide_settling(
        app,
        call,
        account,
        credential,
        action,
        Settle::WithWrite,
        None,
    )
    .await
}

/// The answer when a deferred proof lost at commit (a concurrent request spent it first):
/// the engine decides again, now seeing it spent, and says so ("replayed"); the server never
/// invents the refusal.
pub async fn lost_answer(
    app: &App,
    call: &Call,
    account: &str,
    credential: &Credential,
    action: &Action,
) -> Result<axum::response::Response, ServeError> {
    let d = decide(app, call, account, credential, action).await?;
    if d.allowed() {
        return Err(ServeError::Store(
            "a proof was spent by a concurrent request; try again".into(),
        ));
    }
    Ok(super::decision_answer(&d.decision))
}

async fn decide_settling(
    app: &App,
    call: &Call,
    account: &str,
    credential: &Credential,
    action: &Action,
    settle: Settle,
    mut read_ahead: Option<DecisionState>,
) -> Result<Decided, ServeError> {
    let package = action.package.as_deref();
    let op = operation(call, action);
    let weighed = call.assertion.is_some()
        || (call.write && call.code.as_deref().is_some_and(|c| !c.is_empty()));
    // npm sends `--otp` on reads too, so a code is looked at on writes only — except with HTTP
    // Basic, where every request is a login (SPEC rule 8) and a read needs its emailed code.
    let basic = *credential == Credential::Basic;
    let mut code = call
        .code
        .as_deref()
        .filter(|c| (call.write || basic) && !c.is_empty());
    // A code already accepted for another request of this same npm command counts as a proof.
    let mut proofs = Vec::new();
    // A token from a browser approval of this operation: the security key was the proof.
    if let Some(c) = code
        && c.starts_with(APPROVAL_PREFIX)
    {
        if let Some(at) = app
            .store
            .use_approval(account, &op, &code_hash(c), &call.request, call.now)
            .await?
        {
            proofs.push(Proof {
                factor: Factor::Webauthn,
                verified_at: timestamp(at),
            });
        }
        code = None;
    }
    let mut present = code;
    let mut window_use = None;
    if let Some(c) = code
        && app
            .store
            .claim_operation(account, &op, &code_hash(c), &call.request, call.now)
            .await?
    {
        proofs.push(Proof {
            factor: Factor::Totp,
            verified_at: timestamp(call.now),
        });
        window_use = Some((op.clone(), code_hash(c), call.request.clone(), false));
        present = None;
    }
    let ip = match &call.ip {
        Some(ip) => Some(ClientIp(ip.parse().map_err(|_| {
            ServeError::Input(InputError::new(
                "client.ip",
                "expected an IPv4 or IPv6 address",
            ))
        })?)),
        None => None,
    };
    // What the caller presents: an assertion, else the code (read once; the loop re-reads state).
    let presented = match (&call.assertion, present) {
        (Some(assertion), _) => Some(Presented::assertion(None, &assertion.to_string())),
        (None, Some(c)) => Some(Presented::new(None, c.to_owned())),
        (None, None) => None,
    }
    .transpose()
    .map_err(ServeError::Input)?;
    for _ in 0..4 {
        let state = match read_ahead.take() {
            Some(state) => state,
            None => state_for(app, call, account, action).await?,
        };
        let acct = state.account;
        // The engine reads secrets only to verify what is presented (SPEC §8.13): a request
        // presenting nothing (nearly every read) neither reads the recovery codes nor opens a
        // sealed secret.
        let codes = if presented.is_some() {
            let read = std::time::Instant::now();
            let codes = app.store.recovery_codes(account).await?;
            app.metrics.store("recovery-codes", read.elapsed());
            codes
        } else {
            Vec::new()
        };
        let package_access = match (package, &state.package_access) {
            (Some(name), Some(access)) => {
                Some(PublishingAccess::from_name(access).ok_or_else(|| {
                    ServeError::Store(format!("package {name}: unknown publishing access"))
                })?)
            }
            _ => None,
        };
        // The orgs the account belongs to: an enforcing one makes 2FA mandatory (SPEC rule 5).
        let orgs: Vec<req::Org> = state
            .orgs
            .into_iter()
            .map(|(name, enforce_tfa)| req::Org { name, enforce_tfa })
            .collect();
        let request = Request {
            now: timestamp(call.now),
            action: action.clone(),
            account: req::Account {
                id: account.to_owned(),
                tfa: tfa_of(&acct)?,
                publisher: true,
                impact: app.impact.account(account),
                safeguard_until: acct.safeguard_until.map(timestamp),
            },
            credential: credential.clone(),
            client: Client { ip },
            package: package.map(|name| {
                let figures = app.impact.package(name);
                req::Package {
                    name: Some(name.to_owned()),
                    publishing_access: package_access,
                    weekly_downloads: figures.map(|f| Count(f.weekly_downloads)),
                    dependents: figures.map(|f| Count(f.dependents)),
                    dependents_rank: figures.and_then(|f| f.dependents_rank).map(Count),
                }
            }),
            orgs,
            proofs: proofs.clone(),
            failures: Failures {
                account: state.account_failures.into_iter().map(timestamp).collect(),
                ip: state.ip_failures.into_iter().map(timestamp).collect(),
            },
        };
        // Keys and the pending challenge matter only to an assertion: other decisions skip both
        // reads, and the challenge verified is the one claimed afterwards.
        let mut keys = Vec::new();
        let mut pending = None;
        let mut pending_expires = 0;
        let mut webauthn = None;
        if call.assertion.is_some() {
            keys = app.store.security_keys(account).await?;
            // No pending challenge (never asked, or already answered): an empty one, which the
            // engine refuses as a mismatch, so it is still the engine that answers.
            let (challenge, expires) = app
                .store
                .challenge(account, ASSERT)
                .await?
                .unwrap_or_default();
            pending = Some(challenge.clone()).filter(|c| !c.is_empty());
            pending_expires = expires;
            webauthn = Some(WebauthnSecrets {
                challenge: Some(ChallengeRecord {
                    challenge,
                    expires_at: timestamp(expires),
                }),
                credentials: keys
                    .iter()
                    .map(|k| StoredCredential {
                        id: k.id.clone(),
                        public_key: k.public_key.clone(),
                        sign_count: u32::try_from(k.sign_count).unwrap_or(u32::MAX),
                    })
                    .collect(),
            });
        }
        let secrets = if presented.is_some() {
            secrets_of(app, account, &acct, &codes, webauthn)?
        } else {
            Secrets::default()
        };
        let decision = app
            .policy
            .with(|p| p.authorize(&request, &secrets, presented.as_ref()))
            .map_err(ServeError::from)?;
        let webauthn = WebauthnState {
            keys: &keys,
            challenge: pending.as_deref(),
            expires: pending_expires,
        };
        match apply(
            app,
            call,
            account,
            &acct,
            &codes,
            &webauthn,
            &decision.effects,
            settle,
        )
        .await?
        {
            Applied::Lost => continue,
            Applied::Done { claims } => {
                let mut spent = Spent {
                    claims,
                    operation: window_use.clone(),
                };
                // A deferred proof opens no window: its write is one request, and the window
                // must never name a code whose spending may still lose.
                if !spent.claims.is_empty()
                    && settle == Settle::Now
                    && let Some(c) = present
                {
                    app.store
                        .remember_operation(
                            account,
                            &op,
                            &code_hash(c),
                            &call.request,
                            call.now + OPERATION_WINDOW,
                        )
                        .await?;
                    spent.operation = Some((op.clone(), code_hash(c), call.request.clone(), true));
                }
                if action.kind == stepup_core::ActionKind::Login
                    && decision.outcome == Outcome::Allow
                {
                    app.store.record_login(account, call.now).await?;
                }
                let outcome = match decision.outcome {
                    Outcome::Allow => "allow",
                    Outcome::Challenge => "challenge",
                    Outcome::Deny => "deny",
                };
                app.metrics.decision(
                    outcome,
                    decision.reason.as_str(),
                    class_name(action.kind.class()),
                    weighed,
                );
                return Ok(Decided { decision, spent });
            }
        }
    }
    Err(ServeError::Store(
        "a code kept being claimed concurrently; try again".into(),
    ))
}

/// What an assertion was checked against: the account's keys and the pending challenge.
struct WebauthnState<'a> {
    keys: &'a [crate::store::KeyRow],
    challenge: Option<&'a str>,
    /// When the pending challenge expires (kept to give it back).
    expires: i64,
}

enum Applied {
    /// The decision's effects are applied; `claims` are what its proof used up (spent, or to be
    /// spent by the caller when deferred).
    Done { claims: Vec<Claim> },
    /// A concurrent request spent the same proof first: decide again.
    Lost,
}

/// The claims a decision's "use once" effects make; `None` when one cannot be made (the
/// effect names a recovery code or key that is no longer there), which loses like a race.
fn claims_of(
    acct: &Account,
    codes: &[crate::store::CodeRow],
    webauthn: &WebauthnState<'_>,
    effects: &[Effect],
) -> Option<Vec<Claim>> {
    let mut claims = Vec::new();
    for e in effects {
        claims.push(match e {
            Effect::ConsumeTotpStep { step } => Claim::TotpStep {
                step: i64::try_from(*step).unwrap_or(i64::MAX),
                before: acct.last_step,
            },
            Effect::BurnRecoveryCode { index } => Claim::RecoveryCode(codes.get(*index)?.clone()),
            Effect::ConsumeEmailCode => Claim::EmailCode {
                record: acct.email_code.clone()?,
            },
            Effect::ConsumeWebauthnChallenge => match webauthn.challenge {
                Some(c) => Claim::Challenge {
                    purpose: ASSERT,
                    challenge: c.to_owned(),
                    expires: webauthn.expires,
                },
                // Nothing to consume: the engine already refused the assertion.
                None => continue,
            },
            Effect::UpdateWebauthnSignCount {
                credential_id,
                sign_count,
            } => {
                let k = webauthn.keys.iter().find(|k| k.id == *credential_id)?;
                Claim::SignCount {
                    id: k.id.clone(),
                    old: k.sign_count,
                    new: i64::from(*sign_count),
                }
            }
            _ => continue,
        });
    }
    Some(claims)
}

#[expect(
    clippy::too_many_arguments,
    reason = "the state one decision read, passed as it was read"
)]
async fn apply(
    app: &App,
    call: &Call,
    account: &str,
    acct: &Account,
    codes: &[crate::store::CodeRow],
    webauthn: &WebauthnState<'_>,
    effects: &[Effect],
    settle: Settle,
) -> Result<Applied, ServeError> {
    // Claims first, all in one transaction: if one is lost, nothing of this decision happens.
    let Some(claims) = claims_of(acct, codes, webauthn, effects) else {
        return Ok(Applied::Lost);
    };
    if settle == Settle::Now && !claims.is_empty() {
        let started = std::time::Instant::now();
        let won = app.store.claim(account, &claims).await?;
        app.metrics.store("claim", started.elapsed());
        if !won {
            return Ok(Applied::Lost);
        }
    }
    for e in effects {
        match e {
            Effect::RecordFailure => {
                app.store
                    .record_failure(Some(account), call.ip.as_deref(), call.now)
                    .await?;
            }
            Effect::ClearFailures => app.store.clear_failures(account).await?,
            Effect::RevokeWebSessions => {
                let n = app.store.revoke_sessions(account).await?;
                tracing::info!(account, sessions = n, "web sessions revoked by policy");
            }
            Effect::StartSafeguard { until } => {
                app.store
                    .set_safeguard(account, i64::try_from(*until).unwrap_or(i64::MAX))
                    .await?;
            }
            Effect::RecordEmailAttempt => {
                let context = format!("email-code:{account}");
                if let Some(old) = &acct.email_code
                    && let Ok(mut record) =
                        serde_json::from_str::<EmailRecord>(&app.sealer.open_text(&context, old)?)
                {
                    record.attempts = record.attempts.saturating_add(1);
                    let text = serde_json::to_string(&record)
                        .map_err(|e| ServeError::Store(format!("emailed code record: {e}")))?;
                    let next = app.sealer.seal_text(&context, &text)?;
                    // Losing this race only means a concurrent attempt was counted instead.
                    app.store.swap_email_code(account, old, Some(&next)).await?;
                }
            }
            Effect::ConsumeTotpStep { .. }
            | Effect::BurnRecoveryCode { .. }
            | Effect::ConsumeEmailCode => {}
            Effect::ReportSignCountRegression {
                credential_id,
                stored,
                presented,
            } => {
                tracing::warn!(
                    account,
                    credential = %credential_id,
                    stored,
                    presented,
                    "security key counter did not grow: possibly a cloned authenticator"
                );
            }
            Effect::ConsumeWebauthnChallenge | Effect::UpdateWebauthnSignCount { .. } => {}
            // The gateway reads this one off the decision when it forwards the read.
            Effect::ReadAnonymously => {}
        }
    }
    Ok(Applied::Done { claims })
}
