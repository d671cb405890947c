//! One npm request through the engine: gather the account's state, let the component verify the
//! presented code and decide, then apply the decision's effects. The "use once" effects are
//! claimed atomically in the store; if another request (on any instance) claimed the same step or
//! code first, the request is decided again with the fresh state, so the engine itself says
//! "replayed" — the server never invents an answer.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use stepup_core::contract::decision::Effect;

use crate::App;
use crate::error::ServeError;
use crate::store::Account;

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
    /// `npm-command` header.
    pub command: String,
    /// `METHOD path`, to tell the requests of one operation apart.
    pub request: String,
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

/// The operation an accepted code covers (SPEC §9.5): one action kind on one package — never
/// another kind, so a code spent on `token.create` cannot disable 2FA. The client's
/// `npm-command` header plays no part.
pub fn operation(_call: &Call, action: &Value) -> String {
    let kind = action.get("kind").and_then(Value::as_str).unwrap_or("");
    let package = action.get("package").and_then(Value::as_str).unwrap_or("");
    format!("{kind} {package}")
}

/// The decision document.
#[derive(Debug)]
pub struct Decided {
    /// SPEC decision (or error document) JSON.
    pub decision: Value,
}

impl Decided {
    /// `true` when the decision allows.
    pub fn allowed(&self) -> bool {
        self.decision.get("outcome").and_then(Value::as_str) == Some("allow")
    }
}

fn code_hash(code: &str) -> String {
    stepup_core::wire::encoding::hex_encode(&Sha256::digest(code.as_bytes()))
}

fn tfa_json(a: &Account) -> Value {
    let mut factors = Vec::new();
    if a.totp_secret.is_some() {
        factors.push("totp");
    }
    if a.security_keys > 0 {
        factors.push("webauthn");
    }
    factors.push("recovery-code");
    match &a.tfa_mode {
        Some(mode) => json!({"mode": mode, "factors": factors}),
        None => Value::Null,
    }
}

/// Decides `action` for `account` presenting `credential`, applying the effects.
pub async fn decide(
    app: &App,
    call: &Call,
    account: &str,
    credential: &Value,
    action: &Value,
) -> Result<Decided, ServeError> {
    let package = action.get("package").and_then(Value::as_str);
    let op = operation(call, action);
    // npm sends `--otp` on reads too, so a code is looked at on writes only — except with HTTP
    // Basic, where every request is a login (SPEC rule 8) and a read needs its emailed code.
    let basic = credential.get("kind").and_then(Value::as_str) == Some("basic");
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
            proofs.push(json!({"factor": "webauthn", "verified_at": at}));
        }
        code = None;
    }
    let mut present = code;
    if let Some(c) = code
        && app
            .store
            .claim_operation(account, &op, &code_hash(c), &call.request, call.now)
            .await?
    {
        proofs.push(json!({"factor": "totp", "verified_at": call.now}));
        present = None;
    }
    for _ in 0..4 {
        let mut present_doc: Option<Value> = None;
        let acct = app.store.account_or_create(account, call.now).await?;
        let codes = app.store.recovery_codes(account).await?;
        let (fa, fi) = app
            .store
            .failures(account, call.ip.as_deref(), call.now)
            .await?;
        let mut request = json!({
            "now": call.now,
            "action": action,
            "account": {"id": account, "tfa": tfa_json(&acct), "publisher": true, "safeguard_until": acct.safeguard_until},
            "credential": credential,
            "client": call.ip.as_ref().map_or_else(|| json!({}), |ip| json!({"ip": ip})),
            "proofs": proofs,
            "failures": {"account": fa, "ip": fi},
        });
        if let Some(name) = package {
            let mut p = json!({"name": name});
            if let Some(access) = app.store.package_access(name).await? {
                crate::json_set(&mut p, "publishing_access", Value::String(access));
            }
            crate::json_set(&mut request, "package", p);
        }
        let mut secrets = serde_json::Map::new();
        if let Some(sealed) = &acct.totp_secret {
            let secret = app.sealer.open(&format!("totp:{account}"), sealed)?;
            secrets.insert(
                "totp_secret".into(),
                Value::String(String::from_utf8_lossy(&secret).into_owned()),
            );
        }
        if let Some(step) = acct.last_step {
            secrets.insert("last_totp_step".into(), json!(step));
        }
        if !codes.is_empty() {
            let context = format!("recovery:{account}");
            let mut list = Vec::with_capacity(codes.len());
            for c in &codes {
                let hash = app.sealer.open_text(&context, &c.hash)?;
                list.push(json!({"salt": c.salt, "hash": hash}));
            }
            secrets.insert("recovery_codes".into(), Value::Array(list));
        }
        if let Some(record) = &acct.email_code
            && let Ok(v) = serde_json::from_str::<Value>(
                &app.sealer
                    .open_text(&format!("email-code:{account}"), record)?,
            )
        {
            secrets.insert("email_code".into(), v);
        }
        // Keys and the pending challenge matter only to an assertion: other decisions skip both
        // reads, and the challenge verified is the one claimed afterwards.
        let mut keys = Vec::new();
        let mut pending = None;
        if let Some(assertion) = &call.assertion {
            keys = app.store.security_keys(account).await?;
            // No pending challenge (never asked, or already answered): an empty one, which the
            // engine refuses as a mismatch, so it is still the engine that answers.
            let (challenge, expires) = app
                .store
                .challenge(account, ASSERT)
                .await?
                .unwrap_or_default();
            pending = Some(challenge.clone()).filter(|c| !c.is_empty());
            secrets.insert(
                "webauthn".into(),
                json!({
                    "challenge": {"challenge": challenge, "expires_at": expires.max(0)},
                    "credentials": keys.iter().map(|k| json!({"id": k.id, "public_key": k.public_key, "sign_count": k.sign_count})).collect::<Vec<_>>(),
                }),
            );
            present_doc = Some(json!({"assertion": assertion}));
        }
        let input = json!({
            "request": request,
            "secrets": secrets,
            "present": present_doc.clone().or_else(|| present.map(|c| json!({"code": c}))),
        });
        let text = app.policy.authorize_json(&input.to_string());
        let decision: Value = serde_json::from_str(&text)
            .map_err(|e| ServeError::Policy(format!("the component answered non-JSON: {e}")))?;
        let effects: Vec<Effect> = decision
            .get("effects")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| ServeError::Policy(format!("unknown effect: {e}")))?
            .unwrap_or_default();
        let webauthn = WebauthnState {
            keys: &keys,
            challenge: pending.as_deref(),
        };
        match apply(app, call, account, &acct, &codes, &webauthn, &effects).await? {
            Applied::Lost => continue,
            Applied::Done { accepted } => {
                if accepted && let Some(c) = present {
                    app.store
                        .remember_operation(
                            account,
                            &op,
                            &code_hash(c),
                            &call.request,
                            call.now + OPERATION_WINDOW,
                        )
                        .await?;
                }
                return Ok(Decided { decision });
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
}

enum Applied {
    Done { accepted: bool },
    Lost,
}

async fn apply(
    app: &App,
    call: &Call,
    account: &str,
    acct: &Account,
    codes: &[crate::store::CodeRow],
    webauthn: &WebauthnState<'_>,
    effects: &[Effect],
) -> Result<Applied, ServeError> {
    let mut accepted = false;
    // Claims first: if one is lost, nothing else of this decision may happen.
    for e in effects {
        let won = match e {
            Effect::ConsumeTotpStep { step } => {
                app.store
                    .consume_step(account, i64::try_from(*step).unwrap_or(i64::MAX))
                    .await?
            }
            Effect::BurnRecoveryCode { index } => match codes.get(*index) {
                Some(row) => app.store.burn_code(account, row.idx).await?,
                None => false,
            },
            Effect::ConsumeEmailCode => match &acct.email_code {
                Some(old) => app.store.swap_email_code(account, old, None).await?,
                None => false,
            },
            Effect::ConsumeWebauthnChallenge => match webauthn.challenge {
                Some(c) => app.store.take_challenge(account, ASSERT, c).await?,
                // Nothing to consume: the engine already refused the assertion.
                None => continue,
            },
            Effect::UpdateWebauthnSignCount {
                credential_id,
                sign_count,
            } => match webauthn.keys.iter().find(|k| k.id == *credential_id) {
                Some(k) => {
                    app.store
                        .set_sign_count(&k.id, k.sign_count, i64::from(*sign_count))
                        .await?
                }
                None => false,
            },
            _ => continue,
        };
        if !won {
            return Ok(Applied::Lost);
        }
        accepted = true;
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
                    && let Ok(mut v) =
                        serde_json::from_str::<Value>(&app.sealer.open_text(&context, old)?)
                {
                    let n = v.get("attempts").and_then(Value::as_u64).unwrap_or(0);
                    crate::json_set(&mut v, "attempts", json!(n.saturating_add(1)));
                    let next = app.sealer.seal_text(&context, &v.to_string())?;
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
    Ok(Applied::Done { accepted })
}
