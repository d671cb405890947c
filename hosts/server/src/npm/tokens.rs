//! `/-/npm/v1/tokens`: list, create (npm 10's legacy and npm 11's granular bodies, checked by the
//! engine's token-form rules) and revoke. Tokens are stored only as SHA-512 keys; the full token
//! is shown once, in the create answer.

use std::collections::HashMap;
use std::net::SocketAddr;
use stepup_core::ActionKind;
use stepup_core::contract::request::Action;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, Method, Response, StatusCode};
use serde_json::{Value, json};

use super::decide::{decide, lost_answer};
use super::login::mint;
use super::{
    Authenticated, check_password, decision_answer, error_answer, iso, json_answer, token_key,
};
use crate::Shared;
use crate::error::ServeError;
use crate::store::TokenRow;

fn token_json(t: &TokenRow) -> Value {
    let cidr: Value = t
        .cidr
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(Value::Null);
    let mut v = json!({
        "key": t.key, "token": t.prefix, "name": t.name, "description": t.description,
        "created": iso(t.created), "updated": iso(t.created), "readonly": t.readonly, "cidr_whitelist": cidr,
    });
    if let Some(e) = t.expires {
        crate::json_set(&mut v, "expires", Value::String(iso(e)));
    }
    v
}

/// `GET /-/npm/v1/tokens?page=&perPage=`.
pub async fn list(
    State(app): State<Shared>,
    Authenticated(id): Authenticated,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response<Body>, ServeError> {
    let call = super::call_of(&app, peer, &Method::GET, "/-/npm/v1/tokens", &headers);
    let d = decide(
        &app,
        &call,
        &id.account,
        &id.credential,
        &Action::new(ActionKind::TokenList),
    )
    .await?;
    if !d.allowed() {
        return Ok(decision_answer(&d.decision));
    }
    let per_page: i64 = q
        .get("perPage")
        .and_then(|p| p.parse().ok())
        .unwrap_or(10)
        .clamp(1, 9999);
    let page: i64 = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
        .max(0);
    let (rows, total) = app
        .store
        .tokens(&id.account, page * per_page, per_page)
        .await?;
    let mut urls = json!({});
    if (page + 1) * per_page < total {
        crate::json_set(
            &mut urls,
            "next",
            Value::String(format!(
                "/-/npm/v1/tokens?page={}&perPage={per_page}",
                page + 1
            )),
        );
    }
    if page > 0 {
        crate::json_set(
            &mut urls,
            "prev",
            Value::String(format!(
                "/-/npm/v1/tokens?page={}&perPage={per_page}",
                page - 1
            )),
        );
    }
    let objects: Vec<Value> = rows.iter().map(token_json).collect();
    Ok::<_, ServeError>(json_answer(
        StatusCode::OK,
        &json!({"objects": objects, "total": total, "urls": urls}),
    ))
}

/// `POST /-/npm/v1/tokens`.
pub async fn create(
    State(app): State<Shared>,
    Authenticated(id): Authenticated,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response<Body>, ServeError> {
    let Ok(Value::Object(mut form)) = serde_json::from_slice::<Value>(&body) else {
        return Ok(error_answer(
            StatusCode::BAD_REQUEST,
            "Expected a JSON object.",
        ));
    };
    let password = form.remove("password");
    let upstream_token = match check_password(
        &app,
        &id.account,
        password.as_ref().and_then(Value::as_str),
        None,
    )
    .await
    {
        Ok(t) => t,
        Err(answer) => return Ok(answer),
    };
    let call = super::call_of(&app, peer, &Method::POST, "/-/npm/v1/tokens", &headers);
    let action = Action::new(ActionKind::TokenCreate);
    let spent = match super::security_keys::decide_deferred_or_answer(
        &app,
        &headers,
        &call,
        &id.account,
        &id.credential,
        &action,
    )
    .await?
    {
        Ok(spent) => spent,
        Err(answer) => return Ok(answer),
    };
    if form.get("name").is_some_and(Value::is_null) {
        form.remove("name");
    }
    // npm 11 sends only {name, password} for a plain `npm token create`: a full write token.
    if !form.contains_key("packages_and_scopes_permission") && !form.contains_key("readonly") {
        form.insert("packages_all".into(), Value::Bool(true));
        form.insert(
            "packages_and_scopes_permission".into(),
            Value::String("read-write".into()),
        );
    }
    let input = json!({"now": call.now, "token": form});
    let out = match app.policy.with(|p| p.token_form_json(&input.to_string())) {
        Ok(out) => out,
        Err(stepup_wasmtime::HostError::Input(e)) => {
            return Ok(error_answer(StatusCode::BAD_REQUEST, &e.to_string()));
        }
        Err(e) => return Err(ServeError::Policy(e.to_string())),
    };
    let check: Value = serde_json::from_str(&out).map_err(|e| ServeError::Policy(e.to_string()))?;
    if check.get("ok").and_then(Value::as_bool) != Some(true) {
        let problems: Vec<String> = crate::json_field(&check, "problems")
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| {
                        format!(
                            "{}: {}",
                            crate::json_field(p, "path").as_str().unwrap_or(""),
                            crate::json_field(p, "message").as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        return Ok(error_answer(StatusCode::BAD_REQUEST, &problems.join("; ")));
    }
    let (credential, expires) = super::answered_credential(&check, "the token form")?;
    let name = form.get("name").and_then(Value::as_str).map(str::to_owned);
    let description = form
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    // The code is spent in the token's own transaction: both or neither.
    let Some((token, row)) = mint(
        &app,
        &id.account,
        &credential,
        false,
        Some(&upstream_token),
        name,
        description,
        expires,
        &spent.claims,
    )
    .await?
    else {
        return lost_answer(&app, &call, &id.account, &id.credential, &action).await;
    };
    tracing::info!(account = %id.account, key = %row.key.get(..12).unwrap_or(""), "token created");
    let mut v = token_json(&row);
    crate::json_set(&mut v, "token", Value::String(token));
    Ok::<_, ServeError>(json_answer(StatusCode::OK, &v))
}

/// `DELETE /-/npm/v1/tokens/token/KEY-OR-TOKEN`: 204.
pub async fn revoke(
    State(app): State<Shared>,
    Authenticated(id): Authenticated,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(which): Path<String>,
    headers: HeaderMap,
) -> Result<Response<Body>, ServeError> {
    let call = super::call_of(
        &app,
        peer,
        &Method::DELETE,
        "/-/npm/v1/tokens/token",
        &headers,
    );
    if let Err(answer) = super::security_keys::decide_or_answer(
        &app,
        &headers,
        &call,
        &id.account,
        &id.credential,
        &Action::new(ActionKind::TokenRevoke),
    )
    .await?
    {
        return Ok(answer);
    }
    let key = if which.len() == 128 && which.bytes().all(|b| b.is_ascii_hexdigit()) {
        which.to_ascii_lowercase()
    } else {
        token_key(&which)
    };
    if !app.store.delete_token(&id.account, &key).await? {
        return Ok(error_answer(StatusCode::NOT_FOUND, "No such token."));
    }
    tracing::info!(account = %id.account, "token revoked");
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok::<_, ServeError>(r)
}
