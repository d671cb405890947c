//! Logging in: npm's couch login (`PUT /-/user/org.couchdb.user:NAME`, with an OTP retry), the
//! web login (`POST /-/v1/login`, a page in the browser, the CLI polling `doneUrl`), `whoami` and
//! `logout`. Passwords are checked by the upstream registry; the second factor by the engine.

use std::net::SocketAddr;
use stepup_core::contract::request::{Action, Credential, LegacyType, PackagesAxis, Permission};
use stepup_core::{ActionKind, Decision, Reason};

use axum::Form;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

use super::decide::{Call, decide, decide_deferred, lost_answer};
use super::{
    Caller, caller, decision_answer, error_answer, internal, json_answer, need_login, token_key,
    unknown_token,
};
use crate::error::ServeError;
use crate::store::{Claim, Spent, TokenRow};
use crate::{App, Shared};

/// How long a web login waits for the browser.
const WEB_LOGIN_TTL: i64 = 600;

/// Mints a token for `account` and stores it (hashed) with its sealed upstream credential.
#[expect(clippy::too_many_arguments, reason = "one row's worth of fields")]
pub async fn mint(
    app: &App,
    account: &str,
    credential: &Credential,
    session: bool,
    upstream_token: Option<&str>,
    name: Option<String>,
    description: Option<String>,
    expires: Option<i64>,
    claims: &[Claim],
) -> Result<Option<(String, TokenRow)>, ServeError> {
    let token = super::new_token()?;
    let key = token_key(&token);
    let upstream = upstream_token
        .map(|t| app.sealer.seal(&format!("upstream:{key}"), t.as_bytes()))
        .transpose()?;
    let readonly = matches!(
        credential,
        Credential::LegacyToken {
            token_type: LegacyType::ReadOnly,
            ..
        } | Credential::GranularToken {
            packages: PackagesAxis {
                permission: Permission::ReadOnly,
                ..
            },
            ..
        }
    );
    let cidr = Some(credential.cidr_whitelist())
        .filter(|c| !c.is_empty())
        .map(|c| json!(c).to_string());
    let row = TokenRow {
        key,
        account: account.to_owned(),
        prefix: token.chars().take(8).collect(),
        name,
        description,
        credential: credential.to_json(),
        upstream,
        readonly,
        cidr,
        created: crate::now(),
        expires,
    };
    // The proof the token was created with is spent in the same transaction: a crash never
    // leaves a code used up and its token missing.
    if !app
        .store
        .insert_token_claiming(&row, session, claims)
        .await?
    {
        return Ok(None);
    }
    Ok(Some((token, row)))
}

/// Sends an emailed login code when the engine asks for one and none is pending.
pub(super) async fn maybe_send_code(
    app: &App,
    account: &str,
    decision: &Decision,
    now: i64,
) -> Result<(), ServeError> {
    if decision.reason != Reason::LoginVerificationRequired {
        return Ok(());
    }
    let Some(acct) = app.store.account(account).await? else {
        return Ok(());
    };
    let context = format!("email-code:{account}");
    let pending = acct
        .email_code
        .as_deref()
        .map(|r| app.sealer.open_text(&context, r))
        .transpose()?
        .and_then(|r| serde_json::from_str::<Value>(&r).ok())
        .and_then(|v| v.get("expires_at").and_then(Value::as_i64))
        .is_some_and(|exp| exp > now);
    if pending {
        return Ok(());
    }
    // A code that cannot be delivered is the caller's problem to see, not an internal error.
    if !crate::mail::valid_address(&acct.email) {
        return Err(ServeError::Input(stepup_core::InputError::new(
            "account.email",
            "this account has no email address to send its login code to; ask the registry's operator to add one",
        )));
    }
    let entropy = super::entropy()?;
    let now_u = u64::try_from(now).unwrap_or(0);
    let issued = app
        .policy
        .with(|p| p.issue_email_code(&entropy, now_u))
        .map_err(|e| ServeError::Policy(e.to_string()))?;
    let record =
        serde_json::to_string(&issued.record).map_err(|e| ServeError::Policy(e.to_string()))?;
    app.store
        .set_email_code(account, &app.sealer.seal_text(&context, &record)?)
        .await?;
    app.outbox
        .send_login_code(account, &acct.email, &issued.code, now, &app.issuer)?;
    tracing::info!(account, "emailed login code sent");
    Ok(())
}

/// Password check upstream, then the engine's login decision: the upstream token and what the
/// proof is to spend with the session token it pays for. `Ok(Err(answer))` = refused.
pub(super) async fn login_decision(
    app: &App,
    call: &Call,
    name: &str,
    password: &str,
    email: Option<&str>,
) -> Result<Result<(String, Spent), Response<Body>>, ServeError> {
    if app.upstream.is_none() {
        return Ok(Err(error_answer(
            StatusCode::NOT_IMPLEMENTED,
            "This stepup server checks passwords with its upstream registry, and none is configured (--upstream).",
        )));
    }
    let upstream_token = match super::check_password(app, name, Some(password), email).await {
        Ok(t) => t,
        Err(answer) => return Ok(Err(answer)),
    };
    // `npm adduser` names the address the login codes go to: recorded for an account that has
    // none yet, never changed here (changing it is an `email.change`, decided as one).
    if let Some(e) = email {
        let acct = app.store.account_or_create(name, call.now).await?;
        if acct.email.is_empty() {
            if !crate::mail::valid_address(e) {
                return Ok(Err(error_answer(
                    StatusCode::BAD_REQUEST,
                    "That is not an email address this registry can send to.",
                )));
            }
            app.store.set_profile(name, e, &acct.fullname).await?;
        }
    }
    let d = decide_deferred(
        app,
        call,
        name,
        &Credential::Basic,
        &Action::new(ActionKind::Login),
    )
    .await?;
    tracing::info!(account = name, reason = d.decision.reason.as_str(), rule = %d.decision.rule, "login");
    if !d.allowed() {
        maybe_send_code(app, name, &d.decision, call.now).await?;
        return Ok(Err(decision_answer(&d.decision)));
    }
    Ok(Ok((upstream_token, d.spent)))
}

/// `PUT /-/user/org.couchdb.user:NAME`: npm's couch login and adduser.
pub async fn couch_login(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let Some(name) = id.strip_prefix("org.couchdb.user:") else {
        return error_answer(StatusCode::NOT_FOUND, "Not found.");
    };
    let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(password) = doc.get("password").and_then(Value::as_str) else {
        return error_answer(StatusCode::BAD_REQUEST, "A login needs a password.");
    };
    let email = doc.get("email").and_then(Value::as_str);
    let call = super::call_of(&app, peer, &axum::http::Method::PUT, "/-/user", &headers);
    let run = async {
        let (upstream_token, spent) =
            match login_decision(&app, &call, name, password, email).await? {
                Ok(t) => t,
                Err(answer) => return Ok(answer),
            };
        let Some((token, _)) = mint(
            &app,
            name,
            &Credential::Session,
            true,
            Some(&upstream_token),
            Some("login".into()),
            None,
            None,
            &spent.claims,
        )
        .await?
        else {
            let login = Action::new(ActionKind::Login);
            return lost_answer(&app, &call, name, &Credential::Basic, &login).await;
        };
        Ok::<_, ServeError>(json_answer(
            StatusCode::CREATED,
            &json!({"ok": true, "id": format!("org.couchdb.user:{name}"), "rev": "_we_dont_use_revs_any_more", "token": token}),
        ))
    };
    run.await.unwrap_or_else(internal)
}

/// `DELETE /-/user/token/TOKEN`: `npm logout`.
pub async fn logout(
    State(app): State<Shared>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response<Body>, ServeError> {
    let who = caller(&app, &headers).await?;
    let Some(account) = who.account() else {
        return Ok(need_login());
    };
    app.store.delete_token(account, &token_key(&token)).await?;
    Ok::<_, ServeError>(json_answer(StatusCode::OK, &json!({"ok": true})))
}

/// `GET /-/whoami`.
pub async fn whoami(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response<Body>, ServeError> {
    let t = match caller(&app, &headers).await? {
        Caller::Token(t) => t,
        Caller::Unknown => return Ok(unknown_token()),
        _ => return Ok(need_login()),
    };
    let account = t.account.clone();
    // Even "who am I" is the token's to answer only where the token may be used (its
    // expiry and allow-list, G11): decided like every other read.
    let id = match super::identity_of(&app, Caller::Token(t)).await? {
        Ok(id) => id,
        Err(answer) => return Ok(answer),
    };
    let call = super::call_of(&app, peer, &axum::http::Method::GET, "/-/whoami", &headers);
    let d = decide(
        &app,
        &call,
        &account,
        &id.credential,
        &Action::new(ActionKind::ProfileRead),
    )
    .await?;
    if !d.allowed() {
        return Ok(decision_answer(&d.decision));
    }
    Ok::<_, ServeError>(json_answer(StatusCode::OK, &json!({"username": account})))
}

pub(super) fn base_url(app: &App, headers: &HeaderMap) -> String {
    if let Some(u) = &app.public_url {
        return u.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// `POST /-/v1/login`: starts a web login.
pub async fn web_login_start(
    State(app): State<Shared>,
    headers: HeaderMap,
) -> Result<Response<Body>, ServeError> {
    let id = stepup_core::wire::encoding::hex_encode(&super::entropy()?);
    app.store
        .create_web_login(&id, crate::now() + WEB_LOGIN_TTL)
        .await?;
    let base = base_url(&app, &headers);
    Ok::<_, ServeError>(json_answer(
        StatusCode::OK,
        &json!({"loginUrl": format!("{base}/-/stepup/login/{id}"), "doneUrl": format!("{base}/-/v1/done?sessionId={id}")}),
    ))
}

/// `GET <doneUrl>` (any method: `npm dist-tag` polls with PUT/DELETE): 202 while waiting, the
/// token once, 404 when unknown or expired.
pub async fn web_login_done(
    State(app): State<Shared>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response<Body> {
    let Some(id) = q.get("sessionId").or_else(|| q.get("authId")) else {
        return error_answer(StatusCode::BAD_REQUEST, "sessionId is required.");
    };
    let run = async {
        match app.store.web_login(id, crate::now()).await? {
            None => Ok(error_answer(
                StatusCode::NOT_FOUND,
                "This login has expired or was already used; run `npm login` again.",
            )),
            Some(None) => {
                let mut r = json_answer(StatusCode::ACCEPTED, &json!({}));
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                Ok(r)
            }
            Some(Some(sealed)) => {
                if !app.store.take_web_login(id).await? {
                    return Ok(error_answer(
                        StatusCode::NOT_FOUND,
                        "This login was already used; run `npm login` again.",
                    ));
                }
                let token = app.sealer.open(&format!("web-login:{id}"), &sealed)?;
                Ok::<_, ServeError>(json_answer(
                    StatusCode::OK,
                    &json!({"token": String::from_utf8_lossy(&token)}),
                ))
            }
        }
    };
    run.await.unwrap_or_else(internal)
}

pub(super) fn page(title: &str, body: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title><style>body{{font:16px system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}}label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;padding:.4rem;font:inherit}}button{{margin-top:1rem;padding:.5rem 1rem;font:inherit}}.note{{color:#a33}}</style></head><body><h1>{title}</h1>{body}</body></html>"
    );
    let mut r = Response::new(Body::from(html));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; form-action 'self'",
        ),
    );
    r
}

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn form(note: &str, name: &str, ask_code: bool) -> String {
    let note = if note.is_empty() {
        String::new()
    } else {
        format!("<p class=\"note\" role=\"alert\">{}</p>", escape(note))
    };
    let code = if ask_code {
        "<label for=\"otp\">One-time password</label><input id=\"otp\" name=\"otp\" autocomplete=\"one-time-code\" inputmode=\"numeric\" autofocus>"
    } else {
        "<input type=\"hidden\" name=\"otp\" value=\"\">"
    };
    format!(
        "{note}<form method=\"post\"><label for=\"name\">Username</label><input id=\"name\" name=\"name\" value=\"{}\" autocomplete=\"username\" required><label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>{code}<button type=\"submit\">Log in</button> <button type=\"button\" id=\"use-key\" data-stepup=\"login\">Use a security key</button></form><p id=\"key-note\" class=\"note\" role=\"status\"></p><script src=\"/-/stepup/webauthn.js\" defer></script>",
        escape(name)
    )
}

/// `GET /-/stepup/login/ID`: the browser half of a web login.
pub async fn web_login_page(State(app): State<Shared>, Path(id): Path<String>) -> Response<Body> {
    match app.store.web_login(&id, crate::now()).await {
        Ok(Some(None)) => page("Log in to the registry", &form("", "", false)),
        Ok(_) => page(
            "Login expired",
            "<p>This login has expired or is finished. Run <code>npm login</code> again.</p>",
        ),
        Err(e) => internal(e),
    }
}

/// How a web login ended.
pub(super) enum Completion {
    /// The session token waits for the polling CLI.
    Done,
    /// The login expired meanwhile.
    Expired,
    /// A concurrent request spent the proof first: no token was made.
    Lost,
}

/// Mints the session token of a finished web login (spending `claims` with it) and hands it to
/// the polling CLI.
pub(super) async fn complete_login(
    app: &App,
    id: &str,
    name: &str,
    upstream_token: &str,
    claims: &[Claim],
) -> Result<Completion, ServeError> {
    let Some((token, _)) = mint(
        app,
        name,
        &Credential::Session,
        true,
        Some(upstream_token),
        Some("web login".into()),
        None,
        None,
        claims,
    )
    .await?
    else {
        return Ok(Completion::Lost);
    };
    let sealed = app
        .sealer
        .seal(&format!("web-login:{id}"), token.as_bytes())?;
    Ok(
        if app
            .store
            .complete_web_login(id, &sealed, crate::now())
            .await?
        {
            Completion::Done
        } else {
            Completion::Expired
        },
    )
}

/// The login form's fields.
#[derive(serde::Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    #[serde(default)]
    otp: String,
}

/// `POST /-/stepup/login/ID`: checks the password and the second factor, finishes the login.
pub async fn web_login_submit(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response<Body>, ServeError> {
    if !matches!(app.store.web_login(&id, crate::now()).await?, Some(None)) {
        return Ok(page(
            "Login expired",
            "<p>This login has expired or is finished. Run <code>npm login</code> again.</p>",
        ));
    }
    let mut call = super::call_of(
        &app,
        peer,
        &axum::http::Method::POST,
        "/-/stepup/login",
        &headers,
    );
    call.write = true;
    call.code = Some(f.otp.trim().to_owned()).filter(|c| !c.is_empty());
    let refused = match login_decision(&app, &call, &f.name, &f.password, None).await? {
        Ok((upstream_token, spent)) => {
            match complete_login(&app, &id, &f.name, &upstream_token, &spent.claims).await? {
                Completion::Done => {
                    return Ok(page(
                        "Logged in",
                        &format!(
                            "<p id=\"done\">Logged in as <b>{}</b>. You can close this window and return to the terminal.</p>",
                            escape(&f.name)
                        ),
                    ));
                }
                Completion::Expired => {
                    return Ok(page(
                        "Login expired",
                        "<p>This login expired meanwhile. Run <code>npm login</code> again.</p>",
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
    let status = refused.status();
    let challenged = refused
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .is_some_and(|v| v == "OTP");
    let msg = super::answer_message(refused)
        .await
        .unwrap_or_else(|| "Login refused.".into());
    let mut r = page("Log in to the registry", &form(&msg, &f.name, challenged));
    *r.status_mut() = if challenged { StatusCode::OK } else { status };
    Ok(r)
}
