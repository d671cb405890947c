//! Security keys (WebAuthn) on the server: a page to register one (password and, when 2FA is
//! already on, a current second factor), and "use a security key" in the browser half of
//! `npm login`. The engine makes the challenges and verifies both ceremonies; this module keeps
//! the pending challenge and the keys, and claims each challenge once.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::decide::{ASSERT, decide};
use super::login::{complete_login, escape, login_decision, page};
use super::{check_password, entropy, internal, json_answer};
use crate::error::ServeError;
use crate::store::KeyRow;
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

/// `GET /-/stepup/security-keys`: register a security key.
pub async fn register_page() -> Response<Body> {
    page(
        "Add a security key",
        "<p>Sign in, then touch your key when the browser asks. If two-factor authentication is already on, enter a current code too.</p>\
         <form><label for=\"name\">Username</label><input id=\"name\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label><input id=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"otp\">One-time password (if 2FA is on)</label><input id=\"otp\" autocomplete=\"one-time-code\" inputmode=\"numeric\">\
         <button type=\"button\" id=\"use-key\" data-stepup=\"register\">Register a security key</button></form>\
         <p id=\"key-note\" class=\"note\" role=\"status\"></p><script src=\"/-/stepup/webauthn.js\" defer></script>",
    )
}

/// The JSON bodies of the key endpoints.
#[derive(Deserialize)]
pub struct KeyForm {
    name: String,
    password: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    credential: Option<Value>,
    #[serde(default)]
    assertion: Option<Value>,
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

/// Runs an engine entry point by name on a warm instance.
fn engine(app: &App, function: &str, input: &Value) -> Result<Value, ServeError> {
    let out = app
        .policy
        .with(|p| p.call_json(function, &input.to_string()))
        .map_err(|e| ServeError::Policy(e.to_string()))?;
    serde_json::from_str(&out).map_err(|e| ServeError::Policy(e.to_string()))
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
        "entropy": stepup_core::encoding::hex_encode(&entropy()?),
        "now": crate::now(),
        "credentials": keys.iter().map(|k| k.id.clone()).collect::<Vec<_>>(),
    });
    if purpose == REGISTER {
        crate::json_set(&mut input, "user", json!({"id": name, "name": name}));
    }
    let out = engine(app, "webauthn-challenge", &input)?;
    let challenge = text(&out, "challenge");
    let expires = out.get("expires_at").and_then(Value::as_i64).unwrap_or(0);
    app.store
        .put_challenge(name, purpose, &challenge, expires)
        .await?;
    Ok(out.get("options").cloned().unwrap_or(Value::Null))
}

/// The JSON error of an npm answer, for the page script.
async fn as_json_error(answer: Response<Body>) -> Response<Body> {
    let status = answer.status();
    let body = axum::body::to_bytes(answer.into_body(), 1 << 16)
        .await
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let msg = v
        .get("message")
        .or_else(|| v.get("error"))
        .and_then(Value::as_str)
        .unwrap_or("refused");
    refused(status, msg)
}

/// `POST /-/stepup/security-keys/options` `{name, password, otp}`: adding a key is
/// `tfa.enable`, decided by the engine (a second factor when 2FA is on); then a challenge.
pub async fn register_options(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(f): Json<KeyForm>,
) -> Response<Body> {
    let run = async {
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
        call.command = "security-key".into();
        call.write = true;
        call.code = Some(f.otp.trim().to_owned()).filter(|c| !c.is_empty());
        let d = decide(
            &app,
            &call,
            &f.name,
            &json!({"kind": "basic"}),
            &json!({"kind": "tfa.enable"}),
        )
        .await?;
        if !d.allowed() {
            return Ok(refused(
                StatusCode::UNAUTHORIZED,
                &text(&d.decision, "message"),
            ));
        }
        let keys = app.store.security_keys(&f.name).await?;
        let options = new_challenge(&app, &f.name, REGISTER, &keys).await?;
        Ok::<_, ServeError>(json_answer(StatusCode::OK, &options))
    };
    run.await.unwrap_or_else(|e| internal(&e))
}

/// `POST /-/stepup/security-keys` `{name, password, credential}`: the engine verifies the
/// registration against the pending challenge; the key is stored.
pub async fn register(State(app): State<Shared>, Json(f): Json<KeyForm>) -> Response<Body> {
    let run = async {
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
        let out = engine(
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
        if !app
            .store
            .add_security_key(&f.name, &key, &alg, crate::now())
            .await?
        {
            return Ok(refused(
                StatusCode::CONFLICT,
                "This security key is already registered.",
            ));
        }
        tracing::info!(account = %f.name, alg = %alg, "security key registered");
        Ok::<_, ServeError>(json_answer(
            StatusCode::CREATED,
            &json!({"id": key.id, "alg": alg, "message": format!("Security key registered for {} ({alg}). Two-factor authentication is on.", f.name)}),
        ))
    };
    run.await.unwrap_or_else(|e| internal(&e))
}

/// `POST /-/stepup/login/ID/key-options` `{name, password}`: a challenge for the account's keys.
pub async fn login_options(
    State(app): State<Shared>,
    Path(id): Path<String>,
    Json(f): Json<KeyForm>,
) -> Response<Body> {
    let run = async {
        if !matches!(app.store.web_login(&id, crate::now()).await?, Some(None)) {
            return Ok(refused(
                StatusCode::GONE,
                "This login has expired or is finished; run npm login again.",
            ));
        }
        if let Err(answer) = check_password(&app, &f.name, Some(&f.password), None).await {
            return Ok(as_json_error(answer).await);
        }
        let keys = app.store.security_keys(&f.name).await?;
        if keys.is_empty() {
            return Ok(refused(
                StatusCode::BAD_REQUEST,
                "No security key is registered for this account.",
            ));
        }
        let options = new_challenge(&app, &f.name, ASSERT, &keys).await?;
        Ok::<_, ServeError>(json_answer(StatusCode::OK, &options))
    };
    run.await.unwrap_or_else(|e| internal(&e))
}

/// `POST /-/stepup/login/ID/key` `{name, password, assertion}`: the login decided with the
/// assertion as the second factor; the CLI's poll then gets its token.
pub async fn login_key(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(f): Json<KeyForm>,
) -> Response<Body> {
    let run = async {
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
        call.command = "login".into();
        call.write = true;
        call.assertion = Some(assertion);
        match login_decision(&app, &call, &f.name, &f.password, None).await? {
            Ok(upstream_token) => {
                if !complete_login(&app, &id, &f.name, &upstream_token).await? {
                    return Ok(refused(
                        StatusCode::GONE,
                        "This login expired meanwhile; run npm login again.",
                    ));
                }
                Ok::<_, ServeError>(json_answer(
                    StatusCode::OK,
                    &json!({"message": format!("Logged in as {} with a security key. You can close this window and return to the terminal.", escape(&f.name))}),
                ))
            }
            Err(answer) => Ok(as_json_error(answer).await),
        }
    };
    run.await.unwrap_or_else(|e| internal(&e))
}
