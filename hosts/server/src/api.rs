//! The decision API: SPEC JSON in, SPEC JSON out, decided by the component. A decision answers
//! 200 whatever its outcome; bad input answers 400 with the error document and its field path;
//! a failure of the host itself (a trapped or unavailable component) answers 503 with
//! `Retry-After`, never as if the caller's input were wrong.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde_json::json;
use stepup_core::InputError;
use stepup_core::contract::decision::error_json;
use stepup_wasmtime::HostError;
use subtle::ConstantTimeEq;

use crate::Shared;
use crate::npm::{bearer_required, error_answer, json_answer};

/// The OpenAPI document of every route this server answers.
pub const OPENAPI: &str = include_str!("../openapi.json");

fn decision_response(result: Result<String, HostError>) -> Response<Body> {
    let (status, text) = match result {
        Ok(decision) => (StatusCode::OK, decision),
        Err(HostError::Input(e)) => (StatusCode::BAD_REQUEST, error_json(&e)),
        Err(e) => {
            tracing::error!(error = %e, "the policy component failed");
            let doc = error_json(&InputError::new(".", e.to_string()));
            (StatusCode::SERVICE_UNAVAILABLE, doc)
        }
    };
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// `POST /v1/evaluate`: a request document.
pub async fn evaluate(State(app): State<Shared>, body: Bytes) -> Response<Body> {
    let text = String::from_utf8_lossy(&body);
    decision_response(app.policy.evaluate_result(&text))
}

/// `POST /v1/authorize`: `{request, secrets, present}`.
pub async fn authorize(State(app): State<Shared>, body: Bytes) -> Response<Body> {
    let text = String::from_utf8_lossy(&body);
    decision_response(app.policy.authorize_result(&text))
}

/// `GET /v1/health`: liveness — 200 whenever the process answers, with the store's reachability
/// and the loaded policy in the body. A store outage is not a reason to restart the process
/// (a supervisor acting on this check would restart every instance at once and fix nothing): it
/// is `/v1/ready`'s 503. The store is asked for at most a second, so a probe's own timeout
/// never sees a live process hang behind a stalled database.
pub async fn health(State(app): State<Shared>) -> Response<Body> {
    let store_ok = matches!(
        tokio::time::timeout(std::time::Duration::from_secs(1), app.store.ping()).await,
        Ok(Ok(()))
    );
    let body = json!({
        "status": if store_ok { "ok" } else { "degraded" },
        "store": app.store.backend(),
        "store_ok": store_ok,
        "gateway": app.upstream.is_some(),
        "policy": app.policy.loaded(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    json_answer(StatusCode::OK, &body)
}

/// `GET /v1/ready`: whether this instance should get traffic — the store takes a write (and
/// its SQLite file is the one opened), the upstream registry answers, a policy is loaded, and how
/// the last reload went. 200 when every check passes, 503 with the failing checks otherwise;
/// `/v1/health` stays the liveness check.
pub async fn ready(State(app): State<Shared>) -> Response<Body> {
    let check = |r: Result<(), crate::error::ServeError>| match r {
        Ok(()) => (true, json!({"ok": true})),
        Err(e) => (false, json!({"ok": false, "error": e.to_string()})),
    };
    let (store_ok, store) = check(app.store.check_writable(crate::now()).await);
    let (upstream_ok, upstream) = match &app.upstream {
        Some(u) => check(u.ping().await),
        None => (true, serde_json::Value::Null),
    };
    let last_reload = app.policy.last_reload();
    let ok = store_ok && upstream_ok && last_reload.as_ref().is_none_or(|r| r.ok);
    let body = json!({
        "status": if ok { "ready" } else { "not-ready" },
        "store": store,
        "upstream": upstream,
        "policy": {"loaded": app.policy.loaded(), "last_reload": last_reload},
    });
    json_answer(
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        &body,
    )
}

/// `GET /v1/metrics`: the Prometheus metrics (OpenMetrics text), behind the metrics token when
/// one is configured. Not `/metrics`: in front of a registry that path is the package `metrics`.
pub async fn metrics(State(app): State<Shared>, headers: HeaderMap) -> Response<Body> {
    if let Some(expected) = &app.metrics_token
        && !bearer_matches(&headers, expected)
    {
        return bearer_required(
            "A valid metrics token is required.",
            "Bearer realm=\"stepup-metrics\"",
        );
    }
    let mut r = Response::new(Body::from(app.metrics.render()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

/// `GET /v1/openapi.json`.
pub async fn openapi() -> Response<Body> {
    let mut r = Response::new(Body::from(OPENAPI));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Whether the request's bearer token hashes to `expected` (compared in constant time).
fn bearer_matches(headers: &HeaderMap, expected: &[u8; 32]) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    bool::from(crate::sha256(given).ct_eq(expected))
}

/// `Err(answer)` unless the request carries the admin token (`STEPUP_ADMIN_TOKEN`) as a
/// bearer token; the admin API is off (404) without one configured.
fn admin(app: &crate::App, headers: &HeaderMap) -> Result<(), Box<Response<Body>>> {
    let Some(expected) = &app.admin_token else {
        return Err(Box::new(error_answer(
            StatusCode::NOT_FOUND,
            "The admin API is off: start the server with STEPUP_ADMIN_TOKEN set.",
        )));
    };
    if !bearer_matches(headers, expected) {
        return Err(Box::new(bearer_required(
            "A valid admin token is required.",
            "Bearer realm=\"stepup-admin\"",
        )));
    }
    Ok(())
}

/// `POST /v1/admin/reload`: reloads component and configuration; the old policy keeps serving
/// if the new one fails.
pub async fn reload(State(app): State<Shared>, headers: HeaderMap) -> Response<Body> {
    if let Err(r) = admin(&app, &headers) {
        return *r;
    }
    let policy = app.clone();
    let reloaded = tokio::task::spawn_blocking(move || policy.policy.reload()).await;
    app.metrics.reload(matches!(reloaded, Ok(Ok(_))));
    match reloaded {
        Ok(Ok(loaded)) => {
            tracing::info!(generation = loaded.generation, component = %loaded.component, config = %loaded.config, "policy reloaded");
            json_answer(StatusCode::OK, &json!({"reloaded": true, "policy": loaded}))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "reload refused; the running policy stays");
            json_answer(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({"reloaded": false, "error": e.to_string(), "policy": app.policy.loaded()}),
            )
        }
        Err(e) => json_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"reloaded": false, "error": e.to_string()}),
        ),
    }
}

/// `GET /v1/admin/orgs/ORG/members[?tfa=on|off][&factor=totp|webauthn][&role=R]`: the org's
/// per-member 2FA audit, for the operator.
pub async fn org_members(
    State(app): State<Shared>,
    axum::extract::Path(org): axum::extract::Path<String>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<crate::npm::orgs::AuditQuery>,
) -> Response<Body> {
    if let Err(r) = admin(&app, &headers) {
        return *r;
    }
    crate::npm::orgs::audit(&app, &org, &q)
        .await
        .unwrap_or_else(crate::npm::internal)
}

/// `POST /v1/admin/orgs/ORG/tfa-enforcement` `{enforce, confirm}`: the operator's
/// `stepup org enforce` — the plan first, the change on `confirm`.
pub async fn org_enforce(
    State(app): State<Shared>,
    axum::extract::Path(org): axum::extract::Path<String>,
    headers: HeaderMap,
    axum::Json(form): axum::Json<crate::npm::orgs::EnforceForm>,
) -> Response<Body> {
    if let Err(r) = admin(&app, &headers) {
        return *r;
    }
    crate::npm::orgs::enforce(&app, &org, &form, None)
        .await
        .unwrap_or_else(crate::npm::internal)
}

/// `GET /v1/admin/impact[?package=P][&account=A]`: the package-impact index as decisions read
/// it — one package's or account's figures, or every package's, most depended upon first.
pub async fn impact(
    State(app): State<Shared>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response<Body> {
    if let Err(r) = admin(&app, &headers) {
        return *r;
    }
    let index = app.impact.index();
    let mut body = serde_json::Map::new();
    if let Some(p) = q.get("package") {
        body.insert("package".into(), json!(index.packages.get(p)));
    }
    if let Some(a) = q.get("account") {
        body.insert("account".into(), json!(index.accounts.get(a)));
    }
    if body.is_empty() {
        let mut all: Vec<_> = index.packages.iter().collect();
        all.sort_by(|(an, a), (bn, b)| {
            (
                a.dependents_rank.unwrap_or(u64::MAX),
                std::cmp::Reverse(a.weekly_downloads),
                an,
            )
                .cmp(&(
                    b.dependents_rank.unwrap_or(u64::MAX),
                    std::cmp::Reverse(b.weekly_downloads),
                    bn,
                ))
        });
        let list: Vec<_> = all
            .into_iter()
            .map(|(name, f)| json!({"name": name, "weekly_downloads": f.weekly_downloads, "dependents": f.dependents, "dependents_rank": f.dependents_rank}))
            .collect();
        body.insert("packages".into(), serde_json::Value::Array(list));
    }
    json_answer(StatusCode::OK, &serde_json::Value::Object(body))
}

/// `POST /v1/admin/impact/rebuild` `{"packages": [NAME...]}` (optional): rebuilds the dependents
/// index from the upstream's package documents (see [`crate::impact::rebuild_dependencies`]),
/// then the index decisions read.
pub async fn rebuild_impact(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RebuildBody {
        #[serde(default)]
        packages: Vec<String>,
    }
    if let Err(r) = admin(&app, &headers) {
        return *r;
    }
    let doc: RebuildBody = if body.is_empty() {
        RebuildBody {
            packages: Vec::new(),
        }
    } else {
        match serde_json::from_slice(&body) {
            Ok(d) => d,
            Err(e) => {
                return error_answer(
                    StatusCode::BAD_REQUEST,
                    &format!("expected {{\"packages\": [NAME, ...]}}: {e}"),
                );
            }
        }
    };
    if let Some((i, n)) = doc
        .packages
        .iter()
        .enumerate()
        .find(|(_, n)| !stepup_core::wire::classify::valid_package_name(n))
    {
        return error_answer(
            StatusCode::BAD_REQUEST,
            &format!("packages[{i}]: {n:?} is not an npm package name"),
        );
    }
    let Some(upstream) = &app.upstream else {
        return error_answer(
            StatusCode::CONFLICT,
            "this server has no --upstream to read package documents from",
        );
    };
    let run = async {
        let rebuilt =
            crate::impact::rebuild_dependencies(&app.store, upstream, &doc.packages).await?;
        app.impact.refresh(&app.store, crate::now()).await?;
        Ok::<_, crate::error::ServeError>(rebuilt)
    };
    match run.await {
        Ok(r) => {
            tracing::info!(
                read = r.read,
                missing = r.missing.len(),
                failed = r.failed.len(),
                "dependents index rebuilt from the upstream"
            );
            let failed: Vec<_> = r
                .failed
                .iter()
                .map(|(name, why)| json!({"name": name, "error": why}))
                .collect();
            json_answer(
                StatusCode::OK,
                &json!({"read": r.read, "missing": r.missing, "failed": failed}),
            )
        }
        Err(e) => crate::npm::internal(e),
    }
}

/// The body of `POST /v1/admin/impact`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportBody {
    packages: Vec<ImportRow>,
    #[serde(default)]
    replace: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportRow {
    name: String,
    weekly_downloads: u64,
    dependents: u64,
}

/// `POST /v1/admin/impact` `{"packages": [{name, weekly_downloads, dependents}], "replace"}`:
/// better figures than the gateway's own counts (a mirror of public download counts, say).
/// Each package's figure is the larger of the imported and the counted one; `replace` drops
/// every earlier import. The index is rebuilt before the answer.
pub async fn import_impact(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    if let Err(r) = admin(&app, &headers) {
        return *r;
    }
    let doc: ImportBody = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => {
            return error_answer(
                StatusCode::BAD_REQUEST,
                &format!(
                    "expected {{\"packages\": [{{\"name\", \"weekly_downloads\", \"dependents\"}}], \"replace\": bool}}: {e}"
                ),
            );
        }
    };
    let mut rows = Vec::with_capacity(doc.packages.len());
    for (i, r) in doc.packages.into_iter().enumerate() {
        let bad =
            |what: &str| error_answer(StatusCode::BAD_REQUEST, &format!("packages[{i}].{what}"));
        if !stepup_core::wire::classify::valid_package_name(&r.name) {
            return bad(&format!("name: {:?} is not an npm package name", r.name));
        }
        let (Ok(weekly), Ok(dependents)) = (
            i64::try_from(r.weekly_downloads),
            i64::try_from(r.dependents),
        ) else {
            return bad("weekly_downloads: too large");
        };
        rows.push(crate::store::ImportedImpact {
            package: r.name,
            weekly_downloads: weekly,
            dependents,
        });
    }
    let run = async {
        app.store
            .import_impact(&rows, doc.replace, crate::now())
            .await?;
        app.impact.refresh(&app.store, crate::now()).await?;
        Ok::<_, crate::error::ServeError>(())
    };
    match run.await {
        Ok(()) => {
            tracing::info!(
                packages = rows.len(),
                replace = doc.replace,
                "impact figures imported"
            );
            json_answer(
                StatusCode::OK,
                &json!({"imported": rows.len(), "replace": doc.replace}),
            )
        }
        Err(e) => crate::npm::internal(e),
    }
}
