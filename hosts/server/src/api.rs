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
use crate::npm::{error_answer, json_answer};

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

/// `GET /v1/health`: 200 when the store answers, 503 otherwise; what policy is loaded.
pub async fn health(State(app): State<Shared>) -> Response<Body> {
    let store = app.store.ping().await;
    let body = json!({
        "status": if store.is_ok() { "ok" } else { "degraded" },
        "store": app.store.backend(),
        "store_ok": store.is_ok(),
        "gateway": app.upstream.is_some(),
        "policy": app.policy.loaded(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    json_answer(
        if store.is_ok() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        &body,
    )
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

/// `POST /v1/admin/reload`: reloads component and configuration; the old policy keeps serving
/// if the new one fails. Needs the admin token (`STEPUP_ADMIN_TOKEN`) as a bearer token.
pub async fn reload(State(app): State<Shared>, headers: HeaderMap) -> Response<Body> {
    let Some(expected) = &app.admin_token else {
        return error_answer(
            StatusCode::NOT_FOUND,
            "The admin API is off: start the server with STEPUP_ADMIN_TOKEN set.",
        );
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let given_hash = crate::sha256(given);
    if !bool::from(given_hash.ct_eq(expected)) {
        let mut r = error_answer(StatusCode::UNAUTHORIZED, "A valid admin token is required.");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"stepup-admin\""),
        );
        return r;
    }
    let policy = app.clone();
    match tokio::task::spawn_blocking(move || policy.policy.reload()).await {
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
