//! Security keys (WebAuthn) on the server: a page to register one (password and, when 2FA is
//! already on, a current second factor), and "use a security key" in the browser half of
//! `npm login`. The engine makes the challenges and verifies both ceremonies; this module keeps
//! the pending challenge and the keys, and claims each challenge once.

use std::net::SocketAddr;
use stepup_core::contract::request::{Action, Credential};
use stepup_core::{ActionKind, Decision, Factor, Outcome};

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::decide::{
    APPROVAL_PREFIX, ASSERT, Call, decide, decide_deferred, lost_answer, operation,
};
use super::login::{Completion, complete_login, escape, login_decision, page};
use super::{check_password, entropy, internal, json_answer};
use crate::error::ServeError;
use crate::store::{Approval, KeyRow, Removal, Spent};
use crate::{App, Shared};

const REGISTER: &str = "register";
const SCRIPT: &str = include_str!("../../assets/webauthn.js");

/// `GET /-/stepup/webauthn.js`: the page script (served from here so the pages' CSP can stay
/// `script-src 'self'`).
pub async fn script() -> Response<Body> {
    let mut r = Response::new(Body::from(SCRIPT));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    r
}

/// `GET /-/stepup/security-keys`: register a security key, list the account's keys, remove one.
pub async fn register_page() -> Response<Body> {
    page(
        "Security keys",
        "<p>Sign in, then touch your key when the browser asks. If two-factor authentication is already on, enter a current code too.</p>\
         <form><label for=\"name\">Username</label><input id=\"name\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label><input id=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"otp\">One-time password (if 2FA is on)</label><input id=\"otp\" autocomplete=\"one-time-code\" inputmode=\"numeric\">\
         <button type=\"button\" id=\"use-key\" data-stepup=\"register\">Register a security key</button>\
         <button type=\"button\" id=\"list-keys\">Show my security keys</button></form>\
         <p class=\"note\">Showing or removing keys asks for a second factor each time: the code field if filled, else one of your keys.</p>\
         <ul id=\"keys\"></ul>\
         <p id=\"key-note\" class=\"note\" role=\"status\"></p><script src=\"/-/stepup/webauthn.js\" defer></script>",
    )
}

/// The JSON bodies of the key endpoints.
#[derive(Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    credential: Option<Value>,
    #[serde(default)]
    assertion: Option<Value>,
    /// The key to remove.
    #[serde(default)]
    id: String,
}

/// A string field of a JSON document, or empty.
fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn refused(status: StatusCode, message: &str) -> Response<Body> {
    json_answer(status, &json!({ "error": message }))
}

/// Asks the engine for a challenge and keeps it for `purpose`; the options for the browser.
async fn new_challenge(
    app: &App,
    name: &str,
    purpose: &str,
    keys: &[KeyRow],
) -> Result<Value, ServeError> {
    let mut input = json!({
        "ceremony": if purpose == REGISTER { "registration" } else { "authentication" },
        "entropy": stepup_core::wire::encoding::hex_encode(&entropy()?),
        "now": crate::now(),
        "credentials": keys.iter().map(|k| k.id.clone()).collect::<Vec<_>>(),
    });
    if purpose == REGISTER {
        crate::json_set(&mut input, "user", json!({"id": name, "name": name}));
    }
    let out = super::engine(app, "webauthn-challenge", &input)?;
    let challenge = text(&out, "challenge");
    let expires = out.get("expires_at").and_then(Value::as_i64).unwrap_or(0);
    app.store
        .put_challenge(name, purpose, &challenge, expires)
        .await?;
    Ok(out.get("options").cloned().unwrap_or(Value::Null))
}

/// A fresh assertion challenge for the account's keys, as the browser's request options.
async fn assertion_options(app: &App, account: &str) -> Result<Response<Body>, ServeError> {
    let keys = app.store.security_keys(account).await?;
    if keys.is_empty() {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            "No security key is registered for this account.",
        ));
    }
    let options = new_challenge(app, account, ASSERT, &keys).await?;
    Ok(json_answer(StatusCode::OK, &options))
}

/// The JSON error of an npm answer, for the page script.
async fn as_json_error(answer: Response<Body>) -> Response<Body> {
    let status = answer.status();
    let wrong_password = answer
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .is_some_and(|v| v == super::WRONG_PASSWORD_CHALLENGE);
    let msg = super::answer_message(answer)
        .await
        .unwrap_or_else(|| "refused".into());
    let mut r = refused(status, &msg);
    if wrong_password {
        r.extensions_mut().insert(super::WrongPassword);
    }
    r
}

/// `POST /-/stepup/security-keys/options` `{name, password, otp}`: adding a key is
/// `tfa.enable`, decided by the engine (a second factor when 2FA is on); then a challenge.
pub async fn register_options(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(f): Json<KeyForm>,
) -> Result<Response<Body>, ServeError> {
    if let Err(answer) = check_password(&app, &f.name, Some(&f.password), None).await {
        return Ok(as_json_error(answer).await);
    }
    let mut call = super::call_of(
        &app,
        peer,
        &Method::POST,
        "/-/stepup/security-keys",
        &headers,
    );
    call.write = true;
    call.code = Some(f.otp.trim().to_owned()).filter(|c| !c.is_empty());
    let d = decide(
        &app,
        &call,
        &f.name,
        &Credential::Basic,
        &Action::new(ActionKind::TfaEnable),
    )
    .await?;
    if !d.allowed() {
        // The form carries the password: for an account without 2FA that is a login, and
        // its emailed code goes out here (the page takes it in the code field).
        super::login::maybe_send_code(&app, &f.name, &d.decision, call.now).await?;
        return Ok(refused(StatusCode::UNAUTHORIZED, &d.decision.message));
    }
    let keys = app.store.security_keys(&f.name).await?;
    let options = new_challenge(&app, &f.name, REGISTER, &keys).await?;
    Ok::<_, ServeError>(json_answer(StatusCode::OK, &options))
}

/// `POST /-/stepup/security-keys` `{name, password, credential}`: the engine verifies the
/// registration against the pending challenge; the key is stored.
pub async fn register(
    State(app): State<Shared>,
    Json(f): Json<KeyForm>,
) -> Result<Response<Body>, ServeError> {
    if let Err(answer) = check_password(&app, &f.name, Some(&f.password), None).await {
        return Ok(as_json_error(answer).await);
    }
    let Some(credential) = f.credential else {
        return Ok(refused(StatusCode::BAD_REQUEST, "credential: required"));
    };
    let Some((challenge, expires)) = app.store.challenge(&f.name, REGISTER).await? else {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            "No registration is pending; start again.",
        ));
    };
    let keys = app.store.security_keys(&f.name).await?;
    let out = super::engine(
        &app,
        "webauthn-register",
        &json!({"now": crate::now(), "challenge": {"challenge": challenge, "expires_at": expires},
                "credential": credential, "existing": keys.iter().map(|k| k.id.clone()).collect::<Vec<_>>()}),
    )?;
    if !app
        .store
        .take_challenge(&f.name, REGISTER, &challenge)
        .await?
    {
        return Ok(refused(
            StatusCode::CONFLICT,
            "This registration was already used; start again.",
        ));
    }
    match out.get("result").and_then(Value::as_str) {
        Some("accepted") => {}
        Some(_) => {
            tracing::info!(account = %f.name, problem = %text(&out, "problem"), "security key refused");
            return Ok(refused(StatusCode::BAD_REQUEST, &text(&out, "message")));
        }
        None => {
            let msg = out
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("invalid");
            let path = out
                .pointer("/error/path")
                .and_then(Value::as_str)
                .unwrap_or(".");
            return Ok(refused(StatusCode::BAD_REQUEST, &format!("{path}: {msg}")));
        }
    }
    let c = out.get("credential").cloned().unwrap_or(Value::Null);
    let key = KeyRow {
        id: text(&c, "id"),
        public_key: text(&c, "public_key"),
        sign_count: c.get("sign_count").and_then(Value::as_i64).unwrap_or(0),
    };
    let alg = text(&c, "alg");
    // The first key turns 2FA on: it comes with recovery codes, shown once, as with TOTP.
    let first = app
        .store
        .account(&f.name)
        .await?
        .is_some_and(|a| a.tfa_mode.is_none());
    let super::recovery_codes::IssuedCodes(codes, records) = if first {
        super::recovery_codes::recovery_codes(&app, &f.name)?
    } else {
        super::recovery_codes::IssuedCodes(Vec::new(), Vec::new())
    };
    let Some(turned_on) = app
        .store
        .add_security_key(&f.name, &key, &alg, &records, crate::now())
        .await?
    else {
        return Ok(refused(
            StatusCode::CONFLICT,
            "This security key is already registered.",
        ));
    };
    tracing::info!(account = %f.name, alg = %alg, tfa_turned_on = turned_on, "security key registered");
    let mut body = json!({"id": key.id, "alg": alg, "message": format!("Security key registered for {} ({alg}). Two-factor authentication is on.", f.name)});
    if turned_on {
        crate::json_set(&mut body, "recovery_codes", json!(codes));
    }
    Ok::<_, ServeError>(json_answer(StatusCode::CREATED, &body))
}

/// `POST /-/stepup/security-keys/sign-in` `{name, password}`: a challenge for the account's
/// keys, so listing or removing keys can be proved with a key instead of a code.
pub async fn manage_options(
    State(app): State<Shared>,
    Json(f): Json<KeyForm>,
) -> Result<Response<Body>, ServeError> {
    if let Err(answer) = check_password(&app, &f.name, Some(&f.password), None).await {
        return Ok(as_json_error(answer).await);
    }
    assertion_options(&app, &f.name).await
}

/// The password and a second factor (a code, or an assertion for the pending challenge),
/// decided by the engine as `kind` with a `basic` credential: the form sends the password, so
/// every request is a login (SPEC rule 8) and an account with 2FA proves a factor each time.
async fn manage_decision(
    app: &App,
    peer: SocketAddr,
    headers: &HeaderMap,
    path: &str,
    f: &KeyForm,
    kind: ActionKind,
    removing: Option<&str>,
) -> Result<Option<Response<Body>>, ServeError> {
    if let Err(answer) = check_password(app, &f.name, Some(&f.password), None).await {
        return Ok(Some(as_json_error(answer).await));
    }
    // A removal that cannot happen (no such key; the account's only factor) is refused before
    // a code is spent on it; the removal itself checks again, in its transaction.
    if let Some(id) = removing {
        let keys = app.store.security_key_list(&f.name).await?;
        if !keys.iter().any(|k| k.id == id) {
            return Ok(Some(removal_answer(Removal::NotFound)));
        }
        let totp = app
            .store
            .account(&f.name)
            .await?
            .is_some_and(|a| a.totp_secret.is_some());
        if keys.len() == 1 && !totp {
            return Ok(Some(removal_answer(Removal::LastFactor)));
        }
    }
    let mut call = super::call_of(app, peer, &Method::POST, path, headers);
    call.write = kind != ActionKind::ProfileRead;
    call.code = Some(f.otp.trim().to_owned()).filter(|c| !c.is_empty());
    call.assertion = f.assertion.clone();
    let d = decide(app, &call, &f.name, &Credential::Basic, &Action::new(kind)).await?;
    if d.allowed() {
        return Ok(None);
    }
    super::login::maybe_send_code(app, &f.name, &d.decision, call.now).await?;
    let status = if d.decision.outcome == Outcome::Deny {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNAUTHORIZED
    };
    Ok(Some(refused(status, &d.decision.message)))
}

/// The keys as the page and scripts show them.
async fn key_list(app: &App, name: &str) -> Result<Value, ServeError> {
    let keys = app.store.security_key_list(name).await?;
    let totp = app
        .store
        .account(name)
        .await?
        .is_some_and(|a| a.totp_secret.is_some());
    Ok(json!({ "keys": keys, "totp": totp }))
}

/// `POST /-/stepup/security-keys/list` `{name, password, otp | assertion}`: the account's keys
/// (`profile.read`).
pub async fn list(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(f): Json<KeyForm>,
) -> Result<Response<Body>, ServeError> {
    let path = "/-/stepup/security-keys/list";
    if let Some(answer) = manage_decision(
        &app,
        peer,
        &headers,
        path,
        &f,
        ActionKind::ProfileRead,
        None,
    )
    .await?
    {
        return Ok(answer);
    }
    Ok(json_answer(StatusCode::OK, &key_list(&app, &f.name).await?))
}

/// `POST /-/stepup/security-keys/remove` `{name, password, otp | assertion, id}`: removes one
/// key, decided as `tfa.mode-change` (a second factor; refused read-only under the safeguard).
/// The account's last second factor is not removed here: that would turn 2FA off, which is
/// `npm profile disable-2fa`'s `tfa.disable` (refused by the engine in an enforcing org).
pub async fn remove(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(f): Json<KeyForm>,
) -> Result<Response<Body>, ServeError> {
    if f.id.is_empty() {
        return Ok(refused(StatusCode::BAD_REQUEST, "id: required"));
    }
    let path = "/-/stepup/security-keys/remove";
    if let Some(answer) = manage_decision(
        &app,
        peer,
        &headers,
        path,
        &f,
        ActionKind::TfaModeChange,
        Some(&f.id),
    )
    .await?
    {
        return Ok(answer);
    }
    match app.store.remove_security_key(&f.name, &f.id).await? {
        Removal::Removed => {
            tracing::info!(account = %f.name, key = %f.id, "security key removed");
            let mut body = key_list(&app, &f.name).await?;
            crate::json_set(&mut body, "message", json!("Security key removed."));
            Ok(json_answer(StatusCode::OK, &body))
        }
        other => Ok(removal_answer(other)),
    }
}

/// The answer to a removal, without the remaining keys.
fn removal_answer(r: Removal) -> Response<Body> {
    match r {
        Removal::NotFound => refused(
            StatusCode::NOT_FOUND,
            "No security key with this ID is registered for this account.",
        ),
        Removal::Removed => {
            json_answer(StatusCode::OK, &json!({"message": "Security key removed."}))
        }
        Removal::LastFactor => refused(
            StatusCode::CONFLICT,
            "This key is your only second factor: add another key or an authenticator app first, or turn two-factor authentication off with `npm profile disable-2fa`.",
        ),
    }
}

/// `POST /-/stepup/login/ID/key-options` `{name, password}`: a challenge for the account's keys.
pub async fn login_options(
    State(app): State<Shared>,
    Path(id): Path<String>,
    Json(f): Json<KeyForm>,
) -> Result<Response<Body>, ServeError> {
    if !matches!(app.store.web_login(&id, crate::now()).await?, Some(None)) {
        return Ok(refused(
            StatusCode::GONE,
            "This login has expired or is finished; run npm login again.",
        ));
    }
    if let Err(answer) = check_password(&app, &f.name, Some(&f.password), None).await {
        return Ok(as_json_error(answer).await);
    }
    assertion_options(&app, &f.name).await
}

/// `POST /-/stepup/login/ID/key` `{name, password, assertion}`: the login decided with the
/// assertion as the second factor; the CLI's poll then gets its token.
pub async fn login_key(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(f): Json<KeyForm>,
) -> Result<Response<Body>, ServeError> {
    if !matches!(app.store.web_login(&id, crate::now()).await?, Some(None)) {
        return Ok(refused(
            StatusCode::GONE,
            "This login has expired or is finished; run npm login again.",
        ));
    }
    let Some(assertion) = f.assertion else {
        return Ok(refused(StatusCode::BAD_REQUEST, "assertion: required"));
    };
    let mut call = super::call_of(&app, peer, &Method::POST, "/-/stepup/login", &headers);
    call.write = true;
    call.assertion = Some(assertion);
    let answer = match login_decision(&app, &call, &f.name, &f.password, None).await? {
        Ok((upstream_token, spent)) => {
            match complete_login(&app, &id, &f.name, &upstream_token, &spent.claims).await? {
                Completion::Done => {
                    return Ok(json_answer(
                        StatusCode::OK,
                        &json!({"message": format!("Logged in as {} with a security key. You can close this window and return to the terminal.", escape(&f.name))}),
                    ));
                }
                Completion::Expired => {
                    return Ok(refused(
                        StatusCode::GONE,
                        "This login expired meanwhile; run npm login again.",
                    ));
                }
                Completion::Lost => {
                    let login = Action::new(ActionKind::Login);
                    lost_answer(&app, &call, &f.name, &Credential::Basic, &login).await?
                }
            }
        }
        Err(answer) => answer,
    };
    Ok(as_json_error(answer).await)
}

/// How long a browser approval of an npm operation stays open.
const APPROVAL_TTL: i64 = 300;

/// npm's web OTP flow for accounts with security keys: a challenged write from the npm CLI
/// (`npm-auth-type: web`) gets `authUrl` / `doneUrl` in its 401, the browser approves the
/// operation with a key, and the CLI retries with the one-time token `doneUrl` hands out.
/// Other answers pass through unchanged.
pub async fn challenge_answer(
    app: &App,
    headers: &HeaderMap,
    call: &Call,
    account: &str,
    credential: &Credential,
    action: &Action,
    decision: &Decision,
) -> Result<Response<Body>, ServeError> {
    let web = headers
        .get("npm-auth-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "web");
    let factors = decision
        .challenge
        .is_some_and(|c| c.factors.contains(Factor::Webauthn));
    if !web || !factors || decision.outcome != Outcome::Challenge {
        return Ok(super::decision_answer(decision));
    }
    let Some(acct) = app.store.account(account).await? else {
        return Ok(super::decision_answer(decision));
    };
    if acct.security_keys == 0 {
        return Ok(super::decision_answer(decision));
    }
    let id = stepup_core::wire::encoding::hex_encode(&entropy()?);
    let expires = call.now + APPROVAL_TTL;
    app.store
        .create_approval(&Approval {
            id: id.clone(),
            account: account.to_owned(),
            op: operation(call, action),
            action: serde_json::to_string(action)
                .map_err(|e| ServeError::Store(format!("approval action: {e}")))?,
            credential: credential.to_json(),
            expires,
        })
        .await?;
    // The CLI polls the same doneUrl a web login does.
    app.store.create_web_login(&id, expires).await?;
    let base = super::login::base_url(app, headers);
    Ok(super::decision_answer_with(
        decision,
        &[
            ("authUrl", json!(format!("{base}/-/stepup/approve/{id}"))),
            ("doneUrl", json!(format!("{base}/-/v1/done?authId={id}"))),
        ],
    ))
}

/// Decides `action`; when it is not allowed, the npm answer to give (with the web-OTP
/// approval URLs for accounts with security keys).
pub async fn decide_or_answer(
    app: &App,
    headers: &HeaderMap,
    call: &Call,
    account: &str,
    credential: &Credential,
    action: &Action,
) -> Result<Result<(), Response<Body>>, ServeError> {
    let d = decide(app, call, account, credential, action).await?;
    Ok(
        allowed_or_challenged(app, headers, call, account, credential, action, d)
            .await?
            .map(|_| ()),
    )
}

/// As [`decide_or_answer`], but an accepted proof is not spent yet: its claims come back, to
/// be spent in the transaction of the write it pays for.
pub async fn decide_deferred_or_answer(
    app: &App,
    headers: &HeaderMap,
    call: &Call,
    account: &str,
    credential: &Credential,
    action: &Action,
) -> Result<Result<Spent, Response<Body>>, ServeError> {
    let d = decide_deferred(app, call, account, credential, action).await?;
    allowed_or_challenged(app, headers, call, account, credential, action, d).await
}

/// What an allowing decision's proof used up, or the challenge answer of one that does not.
async fn allowed_or_challenged(
    app: &App,
    headers: &HeaderMap,
    call: &Call,
    account: &str,
    credential: &Credential,
    action: &Action,
    d: super::decide::Decided,
) -> Result<Result<Spent, Response<Body>>, ServeError> {
    if d.allowed() {
        return Ok(Ok(d.spent));
    }
    challenge_answer(app, headers, call, account, credential, action, &d.decision)
        .await
        .map(Err)
}

/// `GET /-/stepup/approve/ID`: approve one npm operation with a security key.
pub async fn approve_page(State(app): State<Shared>, Path(id): Path<String>) -> Response<Body> {
    match app.store.pending_approval(&id, crate::now()).await {
        Ok(Some(a)) => {
            let what = match approval_subject(&app, &a).await {
                Ok(what) => what,
                Err(e) => return internal(e),
            };
            page(
                "Approve with your security key",
                &format!(
                    "<p>The npm CLI asks to run <b>{}</b> as <b>{}</b>. If that was you, touch your key.</p>\
                     <button type=\"button\" id=\"use-key\" data-stepup=\"approve\">Approve with a security key</button>\
                     <p id=\"key-note\" class=\"note\" role=\"status\"></p><script src=\"/-/stepup/webauthn.js\" defer></script>",
                    escape(&what),
                    escape(&a.account)
                ),
            )
        }
        Ok(None) => page(
            "Approval expired",
            "<p>This approval has expired or is finished. Run the npm command again.</p>",
        ),
        Err(e) => internal(e),
    }
}

/// What an approval covers, in words: the action and every target it names — package, dist-tag,
/// org, account, team — and for a staged publish which version is approved or rejected, so the
/// key approves what the reader sees and nothing else.
async fn approval_subject(app: &App, a: &Approval) -> Result<String, ServeError> {
    let action: Action = serde_json::from_str(&a.action)
        .map_err(|e| ServeError::Store(format!("approval action: {e}")))?;
    let subject = stepup_core::contract::request::operation_subject(&a.op);
    let mut what = action.kind.as_str().to_owned();
    if let Some(p) = &action.package {
        what.push_str(&format!(" of {p}"));
    }
    if let Some(t) = &action.tag {
        what.push_str(&format!(" (dist-tag {t})"));
    }
    if let Some(o) = &action.org {
        what.push_str(&format!(" in org {o}"));
    }
    if let Some(t) = &action.target_account {
        what.push_str(&format!(" for account {t}"));
    }
    match subject.as_deref().and_then(|s| s.split_once(' ')) {
        Some((verb @ ("approve" | "reject"), id)) => {
            let version = app
                .store
                .staged(id, crate::now() - app.stage_limits.ttl)
                .await?
                .map(|s| format!("{}@{}", s.package, s.version))
                .unwrap_or_else(|| "a staged version no longer pending".to_owned());
            what = format!("{what}: {verb} staged {version} (stage {id})");
        }
        Some(("team", team)) => what.push_str(&format!(", team {team}")),
        _ => {}
    }
    Ok(what)
}

/// `POST /-/stepup/approve/ID/key-options`: a challenge for the approving account's keys.
pub async fn approve_options(
    State(app): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response<Body>, ServeError> {
    let Some(a) = app.store.pending_approval(&id, crate::now()).await? else {
        return Ok(refused(
            StatusCode::GONE,
            "This approval has expired or is finished.",
        ));
    };
    assertion_options(&app, &a.account).await
}

/// `POST /-/stepup/approve/ID/key` `{assertion}`: the engine decides the approved action with
/// the assertion as the proof; on allow, the CLI's `doneUrl` poll gets a one-time token.
pub async fn approve(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(f): Json<KeyForm>,
) -> Result<Response<Body>, ServeError> {
    let now = crate::now();
    let Some(a) = app.store.pending_approval(&id, now).await? else {
        return Ok(refused(
            StatusCode::GONE,
            "This approval has expired or is finished.",
        ));
    };
    let Some(assertion) = f.assertion else {
        return Ok(refused(StatusCode::BAD_REQUEST, "assertion: required"));
    };
    let action: Action = serde_json::from_str(&a.action)
        .map_err(|e| ServeError::Store(format!("approval action: {e}")))?;
    let credential = Credential::parse(&a.credential)
        .map_err(|e| ServeError::Store(format!("approval credential: {e}")))?;
    let mut call = super::call_of(
        &app,
        peer,
        &Method::POST,
        &format!("/-/stepup/approve/{id}"),
        &headers,
    );
    call.operation = Some(a.op.clone());
    call.write = true;
    call.assertion = Some(assertion);
    let d = decide(&app, &call, &a.account, &credential, &action).await?;
    if !d.allowed() {
        return Ok(refused(StatusCode::UNAUTHORIZED, &d.decision.message));
    }
    let token = format!(
        "{APPROVAL_PREFIX}{}",
        stepup_core::wire::encoding::hex_encode(&entropy()?)
    );
    let hash = stepup_core::wire::encoding::hex_encode(&<sha2::Sha256 as sha2::Digest>::digest(
        token.as_bytes(),
    ));
    if !app.store.approve(&id, &hash, now).await? {
        return Ok(refused(
            StatusCode::GONE,
            "This approval was already given.",
        ));
    }
    let sealed = app
        .sealer
        .seal(&format!("web-login:{id}"), token.as_bytes())?;
    app.store.complete_web_login(&id, &sealed, now).await?;
    tracing::info!(account = %a.account, op = %a.op, "operation approved with a security key");
    Ok::<_, ServeError>(json_answer(
        StatusCode::OK,
        &json!({"message": "Approved. You can close this window and return to the terminal."}),
    ))
}
