//! Trusted publishing: `npm trust` (`/-/package/NAME/trust`) stores a package's trusted
//! publishers, and the OIDC exchange (`/-/npm/v1/oidc/token/exchange/package/NAME`) turns a CI
//! provider's ID token into a short-lived publish token. The engine (in the component) verifies
//! the token and its claims; this module stores, claims the `jti` once, and mints.

use std::net::SocketAddr;
use stepup_core::ActionKind;
use stepup_core::contract::request::Action;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method, Response, StatusCode};
use serde_json::{Value, json};

use super::decide::decide;
use super::{Authenticated, decision_answer, error_answer, json_answer, new_token, token_key};
use crate::error::ServeError;
use crate::store::TokenRow;
use crate::{App, Shared};

/// `GET /-/package/NAME/trust`: the stored array (empty when none), for the package's maintainers.
pub async fn list(
    State(app): State<Shared>,
    Authenticated(id): Authenticated,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response<Body>, ServeError> {
    let path = format!("/-/package/{name}/trust");
    let call = super::call_of(&app, peer, &Method::GET, &path, &headers);
    let d = decide(
        &app,
        &call,
        &id.account,
        &id.credential,
        &Action::on_package(ActionKind::PackageRead, name.as_str()),
    )
    .await?;
    if !d.allowed() {
        return Ok(decision_answer(&d.decision));
    }
    let config = match app.store.trust(&name).await? {
        Some((text, _, _)) => serde_json::from_str(&text).unwrap_or(json!([])),
        None => json!([]),
    };
    Ok::<_, ServeError>(json_answer(StatusCode::OK, &with_ids(&name, &config)))
}

/// `POST /-/package/NAME/trust` (`npm trust github|gitlab|circleci`): a package-governance
/// action, so the engine asks for a second factor; the array is checked by the engine too.
pub async fn configure(
    State(app): State<Shared>,
    Authenticated(id): Authenticated,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response<Body>, ServeError> {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return Ok(error_answer(
            StatusCode::BAD_REQUEST,
            "trust configuration must be JSON",
        ));
    };
    let entries = match body {
        Value::Array(a) => a,
        one @ Value::Object(_) => vec![one],
        _ => {
            return Ok(error_answer(
                StatusCode::BAD_REQUEST,
                "trust configuration must be an array",
            ));
        }
    };
    // The engine validates the entries, with the exchange's own reader.
    let checked = super::engine(&app, "oidc-trust", &json!({ "trust": entries }))?;
    if let Some(path) = checked.pointer("/error/path").and_then(Value::as_str) {
        let msg = checked
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("invalid");
        return Ok(error_answer(
            StatusCode::BAD_REQUEST,
            &format!("{path}: {msg}"),
        ));
    }
    let path = format!("/-/package/{name}/trust");
    let call = super::call_of(&app, peer, &Method::POST, &path, &headers);
    let d = decide(
        &app,
        &call,
        &id.account,
        &id.credential,
        &Action::on_package(ActionKind::TrustConfigure, name.as_str()),
    )
    .await?;
    if !d.allowed() {
        return Ok(decision_answer(&d.decision));
    }
    // Only a maintainer of an existing package may name its trusted publishers (trusted
    // publishing does not create packages: publish once by hand first).
    match super::maintainer_of(&app, &name, &id).await? {
        super::Maintainer::Yes => {}
        super::Maintainer::Missing => {
            return Ok(error_answer(
                StatusCode::NOT_FOUND,
                &format!(
                    "{name} does not exist yet: publish it once before configuring trusted publishing"
                ),
            ));
        }
        super::Maintainer::No => {
            return Ok(error_answer(
                StatusCode::FORBIDDEN,
                &format!("{} is not a maintainer of {name}", id.account),
            ));
        }
    }
    // Trusted publishes reach the upstream registry as the account that set the trust.
    let upstream = match &id.upstream_auth(&app)? {
        Some(auth) => {
            let raw = auth.strip_prefix("Bearer ").unwrap_or(auth);
            Some(app.sealer.seal(&format!("trust:{name}"), raw.as_bytes())?)
        }
        None => None,
    };
    let config = Value::Array(entries);
    app.store
        .set_trust(
            &name,
            &config.to_string(),
            &id.account,
            upstream.as_deref(),
            crate::now(),
        )
        .await?;
    tracing::info!(account = %id.account, package = %name, "trusted publishers set");
    Ok(json_answer(StatusCode::CREATED, &with_ids(&name, &config)))
}

/// The stored trust array as `npm trust list` shows it: each entry with its id, `NAME#index`.
fn with_ids(name: &str, config: &Value) -> Value {
    config
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.clone();
            crate::json_set(&mut e, "id", json!(format!("{name}#{i}")));
            e
        })
        .collect()
}

fn exchange_error(status: u16, message: &str) -> Response<Body> {
    json_answer(
        StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED),
        &json!({"message": message}),
    )
}

/// The audience npm asks GitHub for: `npm:` and the registry's host name (no port), from the
/// configured public URL only (SPEC §9.7). A `Host` header is the client's to choose: taking
/// the audience from it would accept an ID token minted for any other registry.
fn audience(app: &App) -> Option<String> {
    let u = app.public_url.as_ref()?;
    let host = u.split("://").nth(1).unwrap_or(u).to_owned();
    let host = host.split('/').next().unwrap_or_default();
    let name = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    Some(format!("npm:{name}"))
}

/// `POST /-/npm/v1/oidc/token/exchange/package/NAME` with `authorization: Bearer <ID token>`:
/// 201 `{token}` valid for trusted publishes of NAME, or npm's error shapes.
pub async fn exchange(
    State(app): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response<Body>, ServeError> {
    let Some(id_token) = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
    else {
        return Ok(exchange_error(
            401,
            "OIDC token exchange error - unauthorized",
        ));
    };
    let Some((config, account, upstream)) = app.store.trust(&name).await? else {
        return Ok(exchange_error(
            404,
            "OIDC token exchange error - package not found",
        ));
    };
    let trust: Value = serde_json::from_str(&config)
        .map_err(|e| ServeError::Store(format!("trust config is not JSON: {e}")))?;
    let now = crate::now();
    let jwks = app
        .oidc
        .current(crate::jwks::kid_of(id_token).as_deref())
        .await;
    let mut input =
        json!({"now": now, "token": id_token, "jwks": jwks, "package": name, "trust": trust});
    if app.policy.loaded().audience.is_none() {
        let Some(aud) = audience(&app) else {
            tracing::warn!(package = %name, "oidc exchange refused: no audience configured");
            return Ok(exchange_error(
                401,
                "OIDC token exchange error - this registry has no trusted-publishing audience configured (set --public-url or trusted_publishing.audience)",
            ));
        };
        crate::json_set(&mut input, "audience", json!(aud));
    }
    let out = super::engine(&app, "oidc-exchange", &input)?;
    match out.get("result").and_then(Value::as_str) {
        Some("accepted") => {}
        Some(_) => {
            let status = out
                .pointer("/npm/status")
                .and_then(Value::as_u64)
                .unwrap_or(401);
            let problem = out.get("problem").and_then(Value::as_str).unwrap_or("?");
            tracing::info!(package = %name, problem, "oidc exchange refused");
            let msg = out
                .pointer("/npm/error")
                .and_then(Value::as_str)
                .unwrap_or("OIDC token exchange error - unauthorized");
            return Ok(exchange_error(u16::try_from(status).unwrap_or(401), msg));
        }
        None => {
            let msg = out
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("bad input");
            return Ok(exchange_error(
                400,
                &format!("OIDC token exchange error - {msg}"),
            ));
        }
    }
    let jti = out.get("jti").and_then(Value::as_str).unwrap_or_default();
    let until = out
        .pointer("/effects/0/until")
        .and_then(Value::as_i64)
        .unwrap_or(now);
    if !app.store.claim_jti(jti, until).await? {
        tracing::info!(package = %name, "oidc exchange refused: jti replayed");
        return Ok(exchange_error(
            401,
            "OIDC token exchange error - unauthorized",
        ));
    }
    let token = new_token()?;
    let key = token_key(&token);
    let upstream = match upstream {
        Some(sealed) => {
            let raw = app.sealer.open(&format!("trust:{name}"), &sealed)?;
            Some(app.sealer.seal(&format!("upstream:{key}"), &raw)?)
        }
        None => None,
    };
    let (credential, expires) = super::answered_credential(&out, "the exchange")?;
    let row = TokenRow {
        key,
        account,
        prefix: token.chars().take(8).collect(),
        name: Some(format!("trusted publishing: {name}")),
        description: None,
        credential: credential.to_json(),
        upstream,
        readonly: false,
        cidr: None,
        created: now,
        expires,
    };
    // Stored as a session token: it never shows in `npm token list`.
    app.store.insert_token(&row, true).await?;
    let provider = out.get("provider").and_then(Value::as_str).unwrap_or("?");
    tracing::info!(package = %name, provider, "oidc exchange: publish token minted");
    Ok::<_, ServeError>(json_answer(StatusCode::CREATED, &json!({"token": token})))
}
