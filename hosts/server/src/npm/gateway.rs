//! Gateway mode: every request the gateway does not answer itself is classified, decided by the
//! policy and, when allowed, forwarded upstream with the caller's upstream credential. Challenges
//! and denials are answered here with the decision's npm status, header and error text, so the
//! upstream registry never sees a write that lacked its second factor.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Response, StatusCode};
use serde_json::{Value, json};
use stepup_core::contract::request::Action;
use stepup_core::{ActionKind, Effect};

use std::sync::Arc;

use super::decide::decide;
use super::gate::Classified;
use super::{Caller, caller, decision_answer, error_answer, identity_of, internal, unknown_token};
use crate::Shared;
use crate::error::ServeError;
use crate::upstream::bad_gateway;

/// Everything not answered by a route of its own: classified by the gate already.
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
    // Every npm request reaches this handler through the gate; one that did not (a path under
    // the server's own prefixes that matched none of its routes) is not forwarded.
    let Some(classified) = parts.extensions.get::<Arc<Classified>>().cloned() else {
        return error_answer(StatusCode::NOT_FOUND, "stepup: not found.");
    };
    if classified.action.is_none() {
        return not_served();
    }
    let Ok(bytes) = axum::body::to_bytes(body, super::gate::MAX_PUBLISH_BODY).await else {
        return error_answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            "stepup: the request body is too large.",
        );
    };
    // The body as the gate parsed it (attachment data replaced by lengths): a publish is not
    // parsed a second time.
    let json_body = classified.input.get("body").cloned().unwrap_or(Value::Null);
    let run = async {
        let ip = super::client_ip(&app, peer, &parts.headers);
        let mut classified = (*classified).clone();
        let read = !classified.write;
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
                // A whole-document write is read against the package as it is now.
                classified =
                    match super::gate::with_current(&app, &classified, id.upstream_auth.as_deref())
                        .await?
                    {
                        Ok(c) => c,
                        Err(answer) => return Ok(answer),
                    };
                let Some(action) = classified.action.clone() else {
                    return Ok(not_served());
                };
                if let Some(r) = publishing_setting(
                    &app,
                    &classified,
                    &json_body,
                    &id,
                    peer,
                    &parts.headers,
                    &action,
                )
                .await?
                {
                    return Ok(r);
                }
                let call = super::call_for(&app, peer, &classified.key, &parts.headers);
                let d = decide(&app, &call, &id.account, &id.credential, &action).await?;
                if !read || !d.allowed() {
                    tracing::info!(account = %id.account, kind = action.kind.as_str(), key = %classified.key, reason = d.decision.reason.as_str(), rule = %d.decision.rule, "decided");
                }
                if !d.allowed() {
                    // HTTP Basic is a login on every request: its emailed code goes out here.
                    super::login::maybe_send_code(&app, &id.account, &d.decision, call.now).await?;
                    return super::security_keys::challenge_answer(
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
                // SPEC §8.24: outside the token's axes, a read goes out as anyone's would.
                let anonymous = d.decision.effects.contains(&Effect::ReadAnonymously);
                if anonymous { None } else { id.upstream_auth }
            }
        };
        let answer = match upstream
            .forward(
                parts.method.clone(),
                &classified.path,
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
            && classified
                .action
                .as_ref()
                .is_some_and(|a| a.kind == ActionKind::PackagePublish)
            && let (Some(account), Some(pkg)) = (&publisher, &classified.package)
        {
            app.store.add_maintainer(pkg, account).await?;
        }
        Ok::<_, ServeError>(answer)
    };
    run.await.unwrap_or_else(internal)
}

/// Routes answered by the gateway's own handlers (logout, the done poll, the OIDC exchange)
/// are never forwarded, whatever path they arrived by.
fn not_served() -> Response<Body> {
    error_answer(StatusCode::NOT_FOUND, "stepup: not served at this path.")
}

/// `POST /-/package/NAME/access` with `publish_requires_tfa`: the gateway keeps this setting
/// itself (the engine reads it), for maintainers of the package upstream.
async fn publishing_setting(
    app: &crate::App,
    classified: &Classified,
    body: &Value,
    id: &super::Identity,
    peer: SocketAddr,
    headers: &axum::http::HeaderMap,
    action: &Action,
) -> Result<Option<Response<Body>>, ServeError> {
    if action.kind != ActionKind::AccessPublishingSetting {
        return Ok(None);
    }
    let Some(requires) = body.get("publish_requires_tfa").and_then(Value::as_bool) else {
        return Ok(None);
    };
    let Some(pkg) = classified.package.clone() else {
        return Ok(None);
    };
    let call = super::call_for(app, peer, &classified.key, headers);
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
