//! The gate in front of every npm route: before any handler runs, the engine's `classify`
//! (SPEC §9) says what the request is. A refused request is answered here and goes nowhere; an
//! accepted one continues with its URI rewritten to the canonical path, so the router, the
//! handlers and the registry behind the gateway all see the one request the engine read —
//! whatever percent-encoding the client chose.
//!
//! The caller of a large write (a publish carries its tarball) is known before its body is
//! read, every other body is capped at 1 MiB, and a body that trickles in is cut off.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Response, StatusCode, Uri};
use axum::middleware::Next;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use stepup_core::contract::request::Action;

use super::{Caller, error_answer, identity_of, internal, need_login, unknown_token};
use crate::Shared;
use crate::error::ServeError;

/// Largest publish body (the tarball comes base64 inside the JSON document).
pub const MAX_PUBLISH_BODY: usize = 64 << 20;
/// Largest body of every other request.
pub const MAX_BODY: usize = 1 << 20;
/// A body must arrive within this time.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Headers that never enter the engine's input: credentials and codes.
const SECRET_HEADERS: [&str; 4] = ["authorization", "cookie", "npm-otp", "proxy-authorization"];

/// What the engine said a request is (`classify`'s answer), kept on the request.
#[derive(Clone, Debug)]
pub struct Classified {
    /// The catalogue route.
    pub route: String,
    /// The SPEC action, read once from the engine's answer; `None` for routes the gateway
    /// answers itself.
    pub action: Option<Action>,
    /// The canonical package name.
    pub package: Option<String>,
    /// The canonical path (and a read's query) to forward.
    pub path: String,
    /// `METHOD path`.
    pub key: String,
    /// What one accepted code covers (SPEC §9.5), as the engine names it.
    pub operation: Option<String>,
    /// Whether the method writes.
    pub write: bool,
    /// The body's reading depends on the package's current document.
    pub needs_current: bool,
    /// Only the package's maintainers may make this write.
    pub maintainers_only: bool,
    /// The classify input, to ask again with `current`.
    pub input: Value,
}

impl Classified {
    fn from_answer(answer: &Value, input: Value) -> Result<Classified, ServeError> {
        let text = |k: &str| answer.get(k).and_then(Value::as_str).map(str::to_owned);
        let action = match answer.get("action") {
            None | Some(Value::Null) => None,
            Some(a) => Some(Action::deserialize(a).map_err(|e| {
                ServeError::Policy(format!("classify answered an unreadable action: {e}"))
            })?),
        };
        Ok(Classified {
            route: text("route").unwrap_or_default(),
            action,
            package: text("package"),
            path: text("path").unwrap_or_else(|| "/".to_owned()),
            key: text("key").unwrap_or_default(),
            operation: text("operation"),
            write: answer.get("write").and_then(Value::as_bool).unwrap_or(true),
            needs_current: answer
                .get("needs_current")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            maintainers_only: answer
                .get("maintainers_only")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            input,
        })
    }
}

/// Paths of the server's own API and pages: not npm requests, never forwarded.
fn own(path: &str) -> bool {
    path.starts_with("/v1/") || path.starts_with("/-/stepup/")
}

/// Whether the request may carry a publish-sized body: a document `PUT` to a package path or
/// a staged publish. Read from the raw path; the classification that follows decides.
fn large(method: &axum::http::Method, path: &str) -> bool {
    (*method == axum::http::Method::PUT && !path.starts_with("/-/"))
        || (*method == axum::http::Method::POST && path.starts_with("/-/stage/package/"))
}

/// The package a publish-sized write's path names (`/name`, `/@scope/name`, `/@scope%2fname`,
/// `%40` for `@`), read before the request is classified only to read its decision's state
/// ahead: the decision uses that state only when classification names the same package.
fn named_package(path: &str) -> Option<String> {
    let decoded = path
        .strip_prefix('/')?
        .replace("%40", "@")
        .replace("%2f", "/")
        .replace("%2F", "/");
    let mut segments = decoded.split('/');
    let first = segments.next().filter(|s| !s.is_empty())?;
    if first.starts_with('@') {
        let second = segments.next().filter(|s| !s.is_empty())?;
        Some(format!("{first}/{second}"))
    } else {
        Some(first.to_owned())
    }
}

/// The body with each attachment's `data` replaced by its length (SPEC §9.1).
pub fn without_attachment_data(mut b: Value) -> Value {
    if let Some(atts) = b.get_mut("_attachments").and_then(Value::as_object_mut) {
        for att in atts.values_mut() {
            if let Some(a) = att.as_object_mut()
                && let Some(data) = a.remove("data")
            {
                let len = data.as_str().map_or(0, str::len);
                a.insert("length".into(), json!(len));
            }
        }
    }
    b
}

/// The headers the engine may read, lower-case names (secrets left out).
fn header_doc(headers: &HeaderMap) -> Value {
    let mut m = Map::new();
    for (name, value) in headers {
        let n = name.as_str();
        if SECRET_HEADERS.contains(&n) {
            continue;
        }
        if let Ok(v) = value.to_str() {
            m.insert(n.to_owned(), Value::String(v.to_owned()));
        }
    }
    Value::Object(m)
}

/// Asks the engine what a request is; `Err(answer)` when it is refused.
pub fn classify(
    app: &crate::App,
    input: &Value,
) -> Result<Result<Value, Response<Body>>, ServeError> {
    let out = super::engine(app, "classify", input)?;
    if out.get("outcome").and_then(Value::as_str) == Some("error") {
        return Err(ServeError::Policy(format!(
            "classify refused its input: {out}"
        )));
    }
    if out.get("result").and_then(Value::as_str) == Some("refused") {
        let status = out
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        let error = out
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("refused");
        tracing::info!(problem = %crate::json_field(&out, "problem"), "request refused by the gate");
        let mut r = error_answer(status, error);
        if status == StatusCode::METHOD_NOT_ALLOWED {
            r.headers_mut().insert(
                axum::http::header::ALLOW,
                axum::http::HeaderValue::from_static("GET, HEAD, OPTIONS, PUT, POST, DELETE"),
            );
        }
        return Ok(Err(r));
    }
    Ok(Ok(out))
}

/// Asks again with the package's current document, when the first answer needed it.
pub async fn with_current(
    app: &crate::App,
    c: Classified,
    id: &super::Identity,
) -> Result<Result<Classified, Response<Body>>, ServeError> {
    let (Some(pkg), Some(upstream), true) = (&c.package, &app.upstream, c.needs_current) else {
        return Ok(Ok(c));
    };
    let current = upstream
        .packument(pkg, id.upstream_auth(app)?.as_deref())
        .await?
        .unwrap_or_else(|| json!({}));
    // The document as clients are shown it: an owner change is read against the gateway's list.
    let current = super::owners::with_listed(app, pkg, current).await?;
    // The first input moves into the second ask (its publish body is not copied).
    let mut input = c.input;
    crate::json_set(&mut input, "current", current);
    match classify(app, &input)? {
        Ok(out) => Classified::from_answer(&out, input).map(Ok),
        Err(answer) => Ok(Err(answer)),
    }
}

fn too_large(cap: usize) -> Response<Body> {
    error_answer(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "stepup: the request body is larger than this route accepts ({} MiB).",
            cap >> 20
        ),
    )
}

/// The middleware: classify, refuse or rewrite, continue.
pub async fn gate(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response<Body> {
    // Wrong passwords are also limited per client, across accounts (G8): a client over its
    // limit is answered here, without a password being checked upstream.
    let client = super::client_from(&app.trusted_proxies, peer.ip(), req.headers());
    let now = crate::now();
    if let Some(wait) =
        app.client_failures
            .blocked_after(&client, now, super::PasswordFailures::CLIENT_LIMIT)
    {
        let mut r = error_answer(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong passwords from this address; try again later.",
        );
        r.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(wait),
        );
        return r;
    }
    let answer = gated(&app, req, next, &client).await;
    if answer.status() == StatusCode::UNAUTHORIZED
        && answer
            .headers()
            .get(axum::http::header::WWW_AUTHENTICATE)
            .is_some_and(|v| v == super::WRONG_PASSWORD_CHALLENGE)
        || answer.extensions().get::<super::WrongPassword>().is_some()
    {
        app.client_failures.record(&client, now);
    }
    answer
}

/// Reads a request body of at most `cap` bytes within [`BODY_TIMEOUT`]: a declared length over
/// the cap is refused before a byte is read or waited for, and a body that stalls is not
/// waited for past the deadline.
async fn read_capped(
    headers: &axum::http::HeaderMap,
    body: Body,
    cap: usize,
) -> Result<Bytes, Response<Body>> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(too_large(cap));
    }
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, cap)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(too_large(cap)),
        Err(_) => Err(error_answer(
            StatusCode::REQUEST_TIMEOUT,
            "stepup: the request body did not arrive in time.",
        )),
    }
}

/// The gate proper: classify, refuse or rewrite, continue (`client`: the caller's address, as
/// [`super::client_ip`] reads it).
async fn gated(app: &Shared, req: Request, next: Next, client: &str) -> Response<Body> {
    if own(req.uri().path()) {
        // The server's own pages and forms take small JSON documents, read before anyone is
        // authenticated: the same cap as every other small body (the admin API keeps the
        // router's, for large imports).
        if req.uri().path().starts_with("/-/stepup/") {
            let (parts, body) = req.into_parts();
            return match read_capped(&parts.headers, body, MAX_BODY).await {
                Ok(bytes) => {
                    next.run(Request::from_parts(parts, Body::from(bytes)))
                        .await
                }
                Err(answer) => answer,
            };
        }
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let raw = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let big = large(&parts.method, parts.uri.path());
    if big {
        // Who is sending a publish-sized body is known before a byte of it is read; a token's
        // statement also reads what the write's decision will (one round trip, not two).
        let package = named_package(parts.uri.path());
        let ahead = super::Ahead {
            package: package.as_deref(),
            ip: Some(client),
            now: crate::now(),
        };
        let (who, read_ahead) = match super::caller_ahead(app, &parts.headers, Some(ahead)).await {
            Ok(w) => w,
            Err(e) => return internal(e),
        };
        match &who {
            Caller::Anonymous => return need_login(),
            Caller::Unknown => return unknown_token(),
            Caller::Token(_) => {}
            basic @ Caller::Basic { .. } => match identity_of(app, basic.clone()).await {
                Ok(Ok(_)) => {}
                Ok(Err(answer)) => return answer,
                Err(e) => return internal(e),
            },
        }
        parts.extensions.insert(super::Resolved(
            who,
            std::time::Instant::now(),
            read_ahead.map(std::sync::Arc::new),
        ));
    }
    let cap = if big { MAX_PUBLISH_BODY } else { MAX_BODY };
    let bytes = match read_capped(&parts.headers, body, cap).await {
        Ok(b) => b,
        Err(answer) => return answer,
    };
    let body_json: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    let mut input = json!({
        "method": parts.method.as_str(),
        "path": raw,
        "headers": header_doc(&parts.headers),
        "body": without_attachment_data(body_json),
    });
    if !app.routes.is_null() {
        crate::json_set(&mut input, "routes", app.routes.clone());
    }
    let out = match classify(app, &input) {
        Ok(Ok(out)) => out,
        Ok(Err(answer)) => return answer,
        Err(e) => return internal(e),
    };
    let classified = match Classified::from_answer(&out, input) {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    match classified.path.parse::<Uri>() {
        Ok(uri) => parts.uri = uri,
        Err(e) => return internal(ServeError::Policy(format!("canonical path: {e}"))),
    }
    parts.extensions.insert(Arc::new(classified));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::named_package;

    #[test]
    fn the_package_a_publish_path_names() {
        for (path, want) in [
            ("/left-pad", Some("left-pad")),
            ("/@acme/tools", Some("@acme/tools")),
            ("/@acme%2ftools", Some("@acme/tools")),
            ("/%40acme%2Ftools", Some("@acme/tools")),
            ("/left-pad/-rev/3-abc", Some("left-pad")),
            ("/@acme", None),
            ("/", None),
            ("", None),
        ] {
            assert_eq!(named_package(path).as_deref(), want, "{path}");
        }
    }
}
