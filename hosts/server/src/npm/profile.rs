//! `GET/POST /-/npm/v1/user`: the profile, and 2FA enrolment, mode change and removal exactly as
//! npm 10 and npm 11 drive them (wire-protocol reference §2.7.2–2.7.4).

use std::net::SocketAddr;
use stepup_core::ActionKind;
use stepup_core::contract::request::Action;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, Response, StatusCode};
use serde_json::{Value, json};

use super::decide::decide;
use super::recovery_codes::{IssuedCodes, recovery_codes};
use super::{
    Authenticated, check_password, decision_answer, error_answer, iso, json_answer, npm_major,
};
use crate::error::ServeError;
use crate::store::Account;
use crate::{App, Shared};

fn profile_json(a: &Account) -> Value {
    let tfa = match (&a.tfa_mode, &a.pending) {
        (Some(mode), _) => json!({"mode": mode, "pending": false}),
        (None, Some((mode, _))) => json!({"mode": mode, "pending": true}),
        _ => Value::Bool(false),
    };
    json!({
        "name": a.name, "email": a.email, "email_verified": false, "fullname": a.fullname,
        "created": iso(a.created), "updated": iso(a.created), "tfa": tfa, "cidr_whitelist": null,
    })
}

/// `GET /-/npm/v1/user`.
pub async fn get(
    State(app): State<Shared>,
    Authenticated(id): Authenticated,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response<Body>, ServeError> {
    // The profile is read with the token's expiry and allow-list applied (G11).
    let call = super::call_of(&app, peer, &Method::GET, "/-/npm/v1/user", &headers);
    let d = super::decide::decide(
        &app,
        &call,
        &id.account,
        &id.credential,
        &Action::new(ActionKind::ProfileRead),
    )
    .await?;
    if !d.allowed() {
        return Ok(super::decision_answer(&d.decision));
    }
    let acct = app
        .store
        .account_or_create(&id.account, crate::now())
        .await?;
    Ok::<_, ServeError>(json_answer(StatusCode::OK, &profile_json(&acct)))
}

/// `POST /-/npm/v1/user`.
pub async fn post(
    State(app): State<Shared>,
    Authenticated(id): Authenticated,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response<Body>, ServeError> {
    let name = id.account.as_str();
    let call = super::call_of(&app, peer, &Method::POST, "/-/npm/v1/user", &headers);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(doc) = body.as_object() else {
        return Ok(error_answer(
            StatusCode::BAD_REQUEST,
            "Expected a JSON object.",
        ));
    };
    let acct = app.store.account_or_create(name, call.now).await?;
    let Some(tfa) = doc.get("tfa") else {
        // Plain profile fields.
        if doc.get("password").is_some_and(|p| !p.is_null()) {
            return Ok(error_answer(
                StatusCode::BAD_REQUEST,
                "Passwords are managed by the registry behind this gateway; change yours there.",
            ));
        }
        let email = doc
            .get("email")
            .and_then(Value::as_str)
            .unwrap_or(&acct.email)
            .to_owned();
        if email != acct.email && !crate::mail::valid_address(&email) {
            return Ok(error_answer(
                StatusCode::BAD_REQUEST,
                "That is not an email address this registry can send to (one @, no spaces or control characters, at most 254 characters).",
            ));
        }
        let fullname = doc
            .get("fullname")
            .and_then(Value::as_str)
            .unwrap_or(&acct.fullname)
            .to_owned();
        let action = Action::new(if email != acct.email {
            ActionKind::EmailChange
        } else {
            ActionKind::ProfileUpdate
        });
        if let Err(answer) = super::security_keys::decide_or_answer(
            &app,
            &headers,
            &call,
            name,
            &id.credential,
            &action,
        )
        .await?
        {
            return Ok(answer);
        }
        app.store.set_profile(name, &email, &fullname).await?;
        // Package documents show maintainers' addresses from the impact rebuild's snapshot.
        app.impact.changed();
        let acct = app.store.account(name).await?.unwrap_or_default();
        return Ok(json_answer(StatusCode::OK, &profile_json(&acct)));
    };
    if let Some(codes) = tfa.as_array() {
        return finish_enrolment(&app, name, &acct, codes.first(), call.now).await;
    }
    if let Err(answer) = check_password(
        &app,
        name,
        tfa.get("password").and_then(Value::as_str),
        None,
    )
    .await
    {
        return Ok(answer);
    }
    let mode = tfa.get("mode").and_then(Value::as_str).unwrap_or("");
    if mode == "disable" {
        if acct.tfa_mode.is_none() {
            // Nothing to turn off (a pending enrolment goes); no enforcing org has this member.
            app.store.disable_tfa(name).await?;
            return Ok(json_answer(StatusCode::OK, &json!({"tfa": false})));
        }
        if let Err(answer) = super::security_keys::decide_or_answer(
            &app,
            &headers,
            &call,
            name,
            &id.credential,
            &Action::new(ActionKind::TfaDisable),
        )
        .await?
        {
            return Ok(answer);
        }
        if !app.store.disable_tfa(name).await? {
            return Ok(error_answer(
                StatusCode::FORBIDDEN,
                "An org you belong to now requires two-factor authentication: it stays on.",
            ));
        }
        tracing::info!(account = name, "2FA disabled");
        return Ok(json_answer(StatusCode::OK, &json!({"tfa": false})));
    }
    if mode != "auth-only" && mode != "auth-and-writes" {
        return Ok(error_answer(
            StatusCode::BAD_REQUEST,
            &format!("Invalid two-factor authentication mode \"{mode}\"."),
        ));
    }
    if acct.tfa_mode.is_some() {
        if let Err(answer) = super::security_keys::decide_or_answer(
            &app,
            &headers,
            &call,
            name,
            &id.credential,
            &Action::new(ActionKind::TfaModeChange),
        )
        .await?
        {
            return Ok(answer);
        }
        app.store.set_mode(name, mode).await?;
        // npm 10 treats {tfa:null} as success, npm 11 {tfa:{mode}} (wire reference 2.7.4).
        let answer = if npm_major(&headers).is_some_and(|m| m <= 10) {
            json!({"tfa": null})
        } else {
            json!({"tfa": {"mode": mode, "pending": false}})
        };
        return Ok(json_answer(StatusCode::OK, &answer));
    }
    let d = decide(
        &app,
        &call,
        name,
        &id.credential,
        &Action::new(ActionKind::TfaEnable),
    )
    .await?;
    if !d.allowed() {
        return Ok(decision_answer(&d.decision));
    }
    let entropy = super::entropy()?;
    let e = app
        .policy
        .with(|p| p.enroll_totp(&app.issuer, name, &entropy))
        .map_err(|e| ServeError::Policy(e.to_string()))?;
    let sealed = app
        .sealer
        .seal(&format!("totp:{name}"), e.secret.as_bytes())?;
    app.store.set_pending(name, mode, &sealed).await?;
    Ok::<_, ServeError>(json_answer(StatusCode::OK, &json!({"tfa": e.otpauth_uri})))
}

/// `{"tfa": ["123456"]}`: the first code turns the pending enrolment on and returns the
/// recovery codes, once.
async fn finish_enrolment(
    app: &App,
    name: &str,
    acct: &Account,
    code: Option<&Value>,
    now: i64,
) -> Result<Response<Body>, ServeError> {
    let Some((_, sealed)) = &acct.pending else {
        return Ok(error_answer(
            StatusCode::BAD_REQUEST,
            "No two-factor authentication enrolment is pending. Run `npm profile enable-2fa` first.",
        ));
    };
    let secret = app.sealer.open(&format!("totp:{name}"), sealed)?;
    let code = code.and_then(Value::as_str).unwrap_or("");
    let input = json!({"secret": String::from_utf8_lossy(&secret), "code": code, "now": now});
    let out = app.policy.with(|p| p.verify_totp_json(&input.to_string()));
    // A malformed first code is answered as a wrong one, from the engine's message.
    let out = stepup_wasmtime::document(out).map_err(|e| ServeError::Policy(e.to_string()))?;
    let v: Value = serde_json::from_str(&out).map_err(|e| ServeError::Policy(e.to_string()))?;
    if v.get("result").and_then(Value::as_str) != Some("accepted") {
        let msg = v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("That code is not valid.");
        return Ok(error_answer(
            StatusCode::BAD_REQUEST,
            &format!("{msg} Two-factor authentication was not enabled."),
        ));
    }
    let step = v.get("step").and_then(Value::as_i64).unwrap_or(0);
    let IssuedCodes(codes, records) = recovery_codes(app, name)?;
    if !app.store.enable_tfa(name, sealed, step, &records).await? {
        return Ok(error_answer(
            StatusCode::CONFLICT,
            "This enrolment was finished or restarted meanwhile.",
        ));
    }
    tracing::info!(account = name, "2FA enabled");
    Ok(json_answer(StatusCode::OK, &json!({"tfa": codes})))
}
