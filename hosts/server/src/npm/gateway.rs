//! Gateway mode: every request the gateway does not answer itself is classified, decided by the
//! policy and, when allowed, forwarded upstream with the caller's upstream credential. Challenges
//! and denials are answered here with the decision's npm status, header and error text, so the
//! upstream registry never sees a write that lacked its second factor.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, Response, StatusCode};
use serde_json::{Value, json};

use super::classify::classify;
use super::decide::decide;
use super::{Caller, caller, decision_answer, error_answer, identity_of, internal, unknown_token};
use crate::Shared;
use crate::error::ServeError;
use crate::upstream::bad_gateway;

/// Largest request body accepted (a publish carries the tarball, base64).
pub const MAX_BODY: usize = 64 << 20;

/// Everything not answered by a route of its own.
pub async fn proxy(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    let Some(upstream) = app.upstream.clone() else {
        return error_answer(
            StatusCode::NOT_FOUND,
            "Not found. (This stepup server runs without --upstream: only the decision API and the account endpoints are served.)",
        );
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error_answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is larger than this gateway accepts (64 MiB).",
        );
    };
    let path = parts.uri.path().to_owned();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(path.clone(), |p| p.as_str().to_owned());
    let json_body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    let mut action = classify(parts.method.as_str(), &path, &json_body);
    let run = async {
        let ip = super::client_ip(&app, peer, &parts.headers);
        let read = action.get("kind").and_then(Value::as_str) == Some("package.read");
        let mut publisher = None;
        let upstream_auth = match caller(&app, &parts.headers).await? {
            Caller::Anonymous if read => None,
            Caller::Anonymous => return Ok(super::need_login()),
            Caller::Unknown => return Ok(unknown_token()),
            who => {
                let id = match identity_of(&app, who).await? {
                    Ok(id) => id,
                    Err(answer) => return Ok(answer),
                };
                if let Some(r) = publishing_setting(
                    &app,
                    &parts.method,
                    &path,
                    &json_body,
                    &id,
                    peer,
                    &parts.headers,
                    &mut action,
                )
                .await?
                {
                    return Ok(r);
                }
                let call = super::call_of(&app, peer, &parts.method, &path, &parts.headers);
                let d = decide(&app, &call, &id.account, &id.credential, &action).await?;
                if !read || !d.allowed() {
                    tracing::info!(account = %id.account, kind = %crate::json_field(&action, "kind"), reason = %crate::json_field(&d.decision, "reason"), rule = %crate::json_field(&d.decision, "rule"), "decided");
                }
                if !d.allowed() {
                    return super::keys::challenge_answer(
                        &app,
                        &parts.headers,
                        &call,
                        &id.account,
                        &id.credential,
                        &action,
                        &d.decision,
                    )
                    .await;
                }
                publisher = Some(id.account.clone());
                id.upstream_auth
            }
        };
        let answer = match upstream
            .forward(
                parts.method.clone(),
                &path_and_query,
                &parts.headers,
                bytes.clone(),
                upstream_auth.as_deref(),
                Some(&ip),
            )
            .await
        {
            Ok(r) => r,
            Err(e) => return Ok(bad_gateway(&e)),
        };
        // Remember who publishes what: trust and publishing settings are for maintainers.
        if answer.status().is_success()
            && crate::json_field(&action, "kind") == "package.publish"
            && let (Some(account), Some(pkg)) =
                (&publisher, action.get("package").and_then(Value::as_str))
        {
            app.store.add_maintainer(pkg, account).await?;
        }
        Ok::<_, ServeError>(answer)
    };
    run.await.unwrap_or_else(|e| internal(&e))
}

/// `POST /-/package/NAME/access` with `publish_requires_tfa`: the gateway keeps this setting
/// itself (the engine reads it), for maintainers of the package upstream.
#[expect(
    clippy::too_many_arguments,
    reason = "the request's parts, passed through"
)]
async fn publishing_setting(
    app: &crate::App,
    method: &Method,
    path: &str,
    body: &Value,
    id: &super::Identity,
    peer: SocketAddr,
    headers: &axum::http::HeaderMap,
    action: &mut Value,
) -> Result<Option<Response<Body>>, ServeError> {
    let segs: Vec<&str> = path.split('/').collect();
    if *method != Method::POST || !matches!(segs.as_slice(), ["", "-", "package", _, "access"]) {
        return Ok(None);
    }
    let Some(requires) = body.get("publish_requires_tfa").and_then(Value::as_bool) else {
        return Ok(None);
    };
    let Some(pkg) = action
        .get("package")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    crate::json_set(action, "kind", json!("access.publishing-setting"));
    let call = super::call_of(app, peer, method, path, headers);
    let d = decide(app, &call, &id.account, &id.credential, action).await?;
    if !d.allowed() {
        return Ok(Some(decision_answer(&d.decision)));
    }
    if super::maintainer_of(app, &pkg, id).await? != super::Maintainer::Yes {
        return Ok(Some(error_answer(
            StatusCode::FORBIDDEN,
            &format!("You may not change the settings of {pkg}."),
        )));
    }
    let access = if !requires {
        "none"
    } else if body
        .get("automation_token_overrides_tfa")
        .and_then(Value::as_bool)
        == Some(true)
    {
        "tfa-or-token"
    } else {
        "tfa-no-tokens"
    };
    app.store.set_package_access(&pkg, access).await?;
    tracing::info!(account = %id.account, package = %pkg, access, "publishing access set");
    Ok(Some(super::json_answer(
        StatusCode::OK,
        &json!({"ok": true}),
    )))
}
