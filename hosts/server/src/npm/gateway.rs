//! Gateway mode: every request the gateway does not answer itself is classified, decided by the
//! policy and, when allowed, forwarded upstream with the caller's upstream credential. Challenges
//! and denials are answered here with the decision's npm status, header and error text, so the
//! upstream registry never sees a write that lacked its second factor.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Response, StatusCode};
use serde_json::{Value, json};
use stepup_core::contract::request::{Action, Credential};
use stepup_core::{ActionKind, Effect};

use std::sync::Arc;

use super::decide::decide;
use super::gate::Classified;
use super::read_access;
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
    let (mut parts, body) = req.into_parts();
    // Every npm request reaches this handler through the gate; one that did not (a path under
    // the server's own prefixes that matched none of its routes) is not forwarded.
    let Some(classified) = parts.extensions.remove::<Arc<Classified>>() else {
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
    let run = async {
        let ip = super::client_ip(&app, peer, &parts.headers);
        // The gate's only reference was taken out of the request: owned without a copy.
        let mut classified = Arc::unwrap_or_clone(classified);
        // The body as the gate parsed it (attachment data replaced by lengths): a publish is not
        // parsed a second time. Taken out of the classify input once nothing asks again.
        let mut json_body = Value::Null;
        let read = !classified.write;
        let mut publisher = None;
        // What the request's code used up, given back if the request never reaches the registry.
        let mut spent = None;
        // Orgs and teams are kept here, and nobody reads them anonymously.
        let org_route = super::orgs::route(&classified.path);
        // So are staged publishes.
        let stage_route = super::stage::route(&parts.method, &classified);
        let who = match parts
            .extensions
            .get::<super::Resolved>()
            .and_then(super::Resolved::fresh)
        {
            Some(resolved) => resolved.clone(),
            None => caller(&app, &parts.headers).await?,
        };
        let upstream_auth = match who {
            Caller::Anonymous if read && org_route.is_none() && stage_route.is_none() => None,
            Caller::Anonymous => return Ok(super::need_login()),
            Caller::Unknown => return Ok(unknown_token()),
            who => {
                let id = match identity_of(&app, who).await? {
                    Ok(id) => id,
                    Err(answer) => return Ok(answer),
                };
                // A whole-document write is read against the package as it is now.
                classified = match super::gate::with_current(&app, classified, &id).await? {
                    Ok(c) => c,
                    Err(answer) => return Ok(answer),
                };
                json_body = classified
                    .input
                    .get_mut("body")
                    .map(Value::take)
                    .unwrap_or(Value::Null);
                let Some(mut action) = classified.action.clone() else {
                    return Ok(not_served());
                };
                // A stage id names a staged publish: seen only by its package's maintainers and
                // whoever staged it; approving or rejecting it is decided on its package, and,
                // as core marks package governance on a package, only maintainers may.
                let mut staged = None;
                if let Some(id_of) = stage_route.as_ref().and_then(|r| r.id()) {
                    let Some(item) = app
                        .store
                        .staged(id_of, crate::now() - app.stage_limits.ttl)
                        .await?
                    else {
                        return Ok(super::stage::not_found());
                    };
                    if item.account != id.account
                        && !super::owners::may_write(&app, &item.package, &id.account).await?
                    {
                        return Ok(super::stage::not_found());
                    }
                    // Staged by someone who has since lost the package (`npm owner rm`): never
                    // published on their behalf, and refused before a code is spent; a
                    // maintainer rejects it.
                    if matches!(stage_route, Some(super::stage::StageRoute::Approve(_)))
                        && !super::owners::may_write(&app, &item.package, &item.account).await?
                    {
                        return Ok(error_answer(
                            StatusCode::CONFLICT,
                            &format!(
                                "{} staged this version and no longer maintains {}: reject it instead.",
                                item.account, item.package
                            ),
                        ));
                    }
                    // Every route naming a stage is decided on its package, so a token scoped
                    // to other packages neither reads nor approves it.
                    action.package = Some(item.package.clone());
                    classified.package = Some(item.package.clone());
                    if stage_route
                        .as_ref()
                        .is_some_and(super::stage::StageRoute::decides_package)
                    {
                        classified.maintainers_only = true;
                    }
                    staged = Some(item);
                }
                if let Some(route) = &org_route {
                    // Whether the org exists, who is in it and who may change it are answered
                    // only to a credential that may read the org: the engine says so first
                    // (no code is looked at; HTTP Basic proved a password already and is a
                    // login on every request, so its one code is kept for the decision below).
                    if id.credential != Credential::Basic {
                        let mut look = super::call_for(&app, peer, &classified.key, &parts.headers);
                        look.code = None;
                        look.write = false;
                        let mut read = Action::new(ActionKind::OrgRead);
                        read.org = Some(route.org().to_owned());
                        let d = decide(&app, &look, &id.account, &id.credential, &read).await?;
                        if !d.allowed() {
                            return Ok(super::decision_answer(&d.decision));
                        }
                    }
                    if let Some(answer) =
                        super::orgs::precheck(&app, route, &parts.method, &json_body, &id.account)
                            .await?
                    {
                        return Ok(answer);
                    }
                }
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
                let mut call = super::call_for(&app, peer, &classified.key, &parts.headers);
                call.operation.clone_from(&classified.operation);
                // The decision's state, read once: it carries the package's maintainers too. A
                // publish-sized write's was read with its token, before its body arrived.
                let ahead = parts.extensions.get::<super::Resolved>().and_then(|r| {
                    r.state_for(&id.account, action.package.as_deref(), call.ip.as_deref())
                });
                let state = match ahead {
                    Some(state) => state,
                    None => super::decide::state_for(&app, &call, &id.account, &action).await?,
                };
                // Where the gateway keeps a package's maintainers, only they write to it. The
                // state carries the action's package's list; another package's is read for it.
                if let Some(pkg) = classified.package.as_deref()
                    && classified.maintainers_only
                {
                    let may = if action.package.as_deref() == Some(pkg) {
                        state.may_write()
                    } else {
                        super::owners::may_write(&app, pkg, &id.account).await?
                    };
                    if !may {
                        return Ok(not_a_maintainer(pkg));
                    }
                }
                let d = super::decide::decide_with_state(
                    &app,
                    &call,
                    &id.account,
                    &id.credential,
                    &action,
                    state,
                )
                .await?;
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
                if let Some(route) = &stage_route {
                    // A read outside the token's axes goes out as anyone's would (SPEC §8.24),
                    // and anyone sees no staged publish.
                    if d.decision.effects.contains(&Effect::ReadAnonymously) {
                        return Ok(super::stage::not_found());
                    }
                    let query = parts.uri.query().unwrap_or_default();
                    return super::stage::apply(
                        &app,
                        route,
                        &classified,
                        query,
                        &bytes,
                        &id,
                        &call,
                        staged,
                    )
                    .await;
                }
                if let Some(route) = &org_route {
                    return super::orgs::apply(&app, route, &parts.method, &json_body, &id.account)
                        .await;
                }
                if matches!(action.kind, ActionKind::OwnerAdd | ActionKind::OwnerRemove) {
                    return super::owners::change(&app, &classified, &json_body, &id).await;
                }
                publisher = Some(id.account.clone());
                if !d.spent.is_empty() {
                    spent = Some((id.account.clone(), d.spent));
                }
                // SPEC §8.24: outside the token's axes, a read goes out as anyone's would.
                let anonymous = d.decision.effects.contains(&Effect::ReadAnonymously);
                if anonymous {
                    None
                } else {
                    // Opened only now that the request goes upstream; one that cannot be
                    // opened reaches no registry, so its code is given back.
                    match id.upstream_auth(&app) {
                        Ok(auth) => auth,
                        Err(e) => {
                            if let Some((account, spent)) = &spent {
                                app.store.give_back(account, spent).await?;
                            }
                            return Err(e);
                        }
                    }
                }
            }
        };
        // A full package document shows the maintainers the gateway keeps (from the snapshot
        // the impact rebuild keeps, so the read waits on no store): it is rewritten, so it is
        // asked for unencoded.
        let listed = match classified.package.as_deref() {
            Some(pkg) if full_document_read(&parts.method, &parts.headers, &classified) => {
                app.impact.listed(pkg)
            }
            _ => None,
        };
        let mut headers = parts.headers.clone();
        if listed.is_some() {
            headers.remove(axum::http::header::ACCEPT_ENCODING);
        }
        // An allowed read of a package anyone may read goes out without the account's
        // credential, so the upstream checks no password for it (`read_access`).
        let plain_read = match classified.package.as_deref() {
            Some(pkg)
                if upstream_auth.is_some()
                    && plain_package_read(&parts.method, &classified)
                    && org_route.is_none()
                    && stage_route.is_none() =>
            {
                Some(pkg).filter(|p| app.read_access.try_anonymously(p))
            }
            _ => None,
        };
        let (upstream, method, path, headers, body, ip) = (
            &upstream,
            &parts.method,
            &classified.path,
            &headers,
            &bytes,
            ip.as_str(),
        );
        let forward = |auth: Option<String>| async move {
            upstream
                .forward(
                    method.clone(),
                    path,
                    headers,
                    body.clone(),
                    auth.as_deref(),
                    Some(ip),
                )
                .await
        };
        let mut sent = forward(upstream_auth.clone().filter(|_| plain_read.is_none())).await;
        if let (Some(pkg), Ok(r)) = (plain_read, &sent) {
            if read_access::kept(r.status()) {
                app.read_access.learn(pkg, true);
            } else {
                if read_access::refused(r.status()) {
                    app.read_access.learn(pkg, false);
                }
                sent = forward(upstream_auth.clone()).await;
            }
        }
        let answer = match sent {
            Ok(r) => r,
            Err(e) => {
                // Nothing was sent: the user's retry (npm retries a failed PUT) must find its
                // code unused, not be told it was replayed.
                if let (ServeError::UpstreamUnreached(_), Some((account, spent))) = (&e, &spent) {
                    app.store.give_back(account, spent).await?;
                    tracing::info!(account = %account, "the registry was unreachable: the code is given back");
                }
                return Ok(bad_gateway(&e));
            }
        };
        let ok = answer.status().is_success();
        if let (true, Some(pkg)) = (ok, classified.package.as_deref()) {
            if classified.route == "tarball" && parts.method == axum::http::Method::GET {
                app.impact.count_download(pkg, crate::now());
            }
            if let (Some(account), Some(a)) = (&publisher, &classified.action)
                && a.kind == ActionKind::PackagePublish
            {
                published(&app, pkg, account, &json_body, upstream_auth.as_deref()).await?;
            }
        }
        if let (true, Some(list)) = (answer.status() == axum::http::StatusCode::OK, listed) {
            return Ok(with_maintainers(answer, list).await);
        }
        Ok::<_, ServeError>(answer)
    };
    run.await.unwrap_or_else(internal)
}

fn not_a_maintainer(pkg: &str) -> Response<Body> {
    error_answer(
        StatusCode::FORBIDDEN,
        &format!("You are not a maintainer of {pkg}: ask one of its owners (npm owner ls {pkg})."),
    )
}

/// A `GET` or `HEAD` of a package document (either form) or a tarball: the reads whose answer
/// depends only on the package.
fn plain_package_read(method: &axum::http::Method, classified: &Classified) -> bool {
    (*method == axum::http::Method::GET || *method == axum::http::Method::HEAD)
        && !classified.write
        && matches!(classified.route.as_str(), "packument" | "tarball")
}

/// A `GET` of the whole package document (not npm install's abbreviated one).
fn full_document_read(
    method: &axum::http::Method,
    headers: &axum::http::HeaderMap,
    classified: &Classified,
) -> bool {
    *method == axum::http::Method::GET
        && classified.route == "packument"
        && !headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/vnd.npm.install-v1+json"))
}

/// The upstream's package document with the gateway's maintainers; left as it came when it is
/// not a JSON object.
async fn with_maintainers(answer: Response<Body>, list: Value) -> Response<Body> {
    let (mut parts, body) = answer.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, crate::upstream::MAX_PACKUMENT).await else {
        return error_answer(
            StatusCode::BAD_GATEWAY,
            "stepup: the upstream registry's package document is too large.",
        );
    };
    let Ok(mut doc) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if !doc.is_object() {
        return Response::from_parts(parts, Body::from(bytes));
    }
    crate::json_set(&mut doc, "maintainers", list);
    let text = doc.to_string();
    for h in [
        axum::http::header::CONTENT_LENGTH,
        axum::http::header::ETAG,
        axum::http::header::CONTENT_ENCODING,
    ] {
        parts.headers.remove(h);
    }
    Response::from_parts(parts, Body::from(text))
}

/// After a publish the upstream accepted: the publisher maintains the package (the first
/// publish through the gateway of a package that existed before also keeps the maintainers
/// the upstream named), and the dependencies of a new `latest` feed the dependents index.
pub(crate) async fn published(
    app: &crate::App,
    pkg: &str,
    account: &str,
    body: &Value,
    auth: Option<&str>,
) -> Result<(), ServeError> {
    if app.store.maintainers(pkg).await?.is_empty()
        && let Some(upstream) = &app.upstream
        && let Some(doc) = upstream.packument(pkg, auth).await?
    {
        for name in upstream_maintainers(&doc) {
            app.store.add_maintainer(pkg, &name).await?;
        }
    }
    app.store.add_maintainer(pkg, account).await?;
    if let Some(deps) = stepup_core::registry::impact::latest_dependencies(body) {
        app.store.set_dependencies(pkg, &deps).await?;
    }
    crate::impact::rebuilt(app).await;
    Ok(())
}

/// Who the upstream says maintains a package: its `maintainers` and each version's `_npmUser`.
fn upstream_maintainers(doc: &Value) -> Vec<String> {
    let name = |v: &Value| v.get("name").and_then(Value::as_str).map(str::to_owned);
    let mut out: Vec<String> = doc
        .get("maintainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(name)
        .collect();
    if let Some(vs) = doc.get("versions").and_then(Value::as_object) {
        out.extend(vs.values().filter_map(|v| v.get("_npmUser").and_then(name)));
    }
    out.sort();
    out.dedup();
    out
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
    let mut call = super::call_for(app, peer, &classified.key, headers);
    call.operation.clone_from(&classified.operation);
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
