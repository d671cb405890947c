//! The registry behind the gateway. It keeps owning passwords and packages: the gateway checks a
//! password by logging in upstream (and keeps the upstream token it gets, sealed), and forwards
//! every allowed request with that upstream credential in place of the gateway's own token.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, header,
};
use base64::Engine as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::error::ServeError;

/// Largest upstream answer read into memory (login answers; proxied bodies are streamed).
const MAX_LOGIN_ANSWER: usize = 1 << 20;
/// Largest package document read (to check maintainers before a trust change).
pub const MAX_PACKUMENT: usize = 32 << 20;

/// An upstream registry, over HTTP beside the gateway or over HTTPS (verified against the system's
/// roots and `--ca-file`).
#[derive(Clone, Debug)]
pub struct Upstream {
    base: String,
    client: Client<HttpsConnector<HttpConnector>, Body>,
    /// How long an answer's head (and a small answer's body) may take: a frozen registry
    /// costs its callers this long, not forever.
    response_timeout: Duration,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

/// How long the gateway waits for the registry behind it.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// To open a connection.
    pub connect: Duration,
    /// For an answer's status and headers (a streamed body then flows at its own pace).
    pub response: Duration,
}

/// What upstream said to a password check.
#[derive(Debug)]
pub enum PasswordCheck {
    /// Correct; upstream's own token for the account.
    Ok(String),
    /// Wrong password or unknown user.
    Refused,
    /// The upstream is rate-limiting logins: not a verdict on the password.
    Throttled,
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

impl Upstream {
    /// `url` = `http[s]://host[:port][/prefix]`; `tls` verifies an `https` one.
    pub fn new(
        url: &str,
        timeouts: Timeouts,
        tls: &rustls::ClientConfig,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
    ) -> Result<Upstream, ServeError> {
        let base = url.trim_end_matches('/').to_owned();
        let uri: Uri = base
            .parse()
            .map_err(|e| ServeError::Upstream(format!("--upstream {url}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(ServeError::Upstream(format!(
                "--upstream {url}: expected http[s]://host[:port][/prefix]"
            )));
        }
        let client = Client::builder(TokioExecutor::new()).build(crate::tls::connector(
            tls,
            timeouts.connect,
            false,
        ));
        Ok(Upstream {
            base,
            client,
            response_timeout: timeouts.response,
            metrics,
        })
    }

    /// Whether the registry answers at all (readiness): `GET /-/ping` within a few seconds,
    /// any answer below 500.
    pub async fn ping(&self) -> Result<(), ServeError> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(self.uri("/-/ping")?)
            .body(Body::empty())
            .map_err(|e| ServeError::Upstream(e.to_string()))?;
        let res = self
            .send_within(req, self.response_timeout.min(Duration::from_secs(3)))
            .await?;
        if res.status().is_server_error() {
            return Err(ServeError::Upstream(format!(
                "the upstream registry answers {}",
                res.status()
            )));
        }
        Ok(())
    }

    /// Sends `req`, waiting at most the response timeout for the answer's head.
    async fn send(&self, req: Request<Body>) -> Result<Response<Incoming>, ServeError> {
        self.send_within(req, self.response_timeout).await
    }

    /// Sends `req`, waiting at most `wait` for the answer's head; timed for `/v1/metrics`.
    async fn send_within(
        &self,
        req: Request<Body>,
        wait: Duration,
    ) -> Result<Response<Incoming>, ServeError> {
        let started = std::time::Instant::now();
        let (status, answer) = match tokio::time::timeout(wait, self.client.request(req)).await {
            Ok(Ok(res)) => (crate::metrics::status_class(res.status().as_u16()), Ok(res)),
            Ok(Err(e)) if e.is_connect() => (
                "error".to_owned(),
                Err(ServeError::UpstreamUnreached(format!(
                    "cannot connect to the upstream registry: {e}"
                ))),
            ),
            Ok(Err(e)) => (
                "error".to_owned(),
                Err(ServeError::Upstream(format!(
                    "the upstream registry failed: {e}"
                ))),
            ),
            Err(_) => (
                "timeout".to_owned(),
                Err(ServeError::UpstreamTimeout(format!(
                    "the upstream registry did not answer within {} s",
                    wait.as_secs()
                ))),
            ),
        };
        self.metrics.upstream(&status, started.elapsed());
        answer
    }

    fn uri(&self, path_and_query: &str) -> Result<Uri, ServeError> {
        format!("{}{path_and_query}", self.base)
            .parse()
            .map_err(|e| ServeError::Upstream(format!("bad path: {e}")))
    }

    /// Sends `req` and reads its (login-sized) answer; `what` names it in errors.
    async fn small_answer(
        &self,
        req: Request<Body>,
        what: &str,
    ) -> Result<(StatusCode, Bytes), ServeError> {
        let res = self.send(req).await?;
        let status = res.status();
        let body = http_body_util::Limited::new(res.into_body(), MAX_LOGIN_ANSWER).collect();
        let bytes = tokio::time::timeout(self.response_timeout, body)
            .await
            .map_err(|_| {
                ServeError::UpstreamTimeout(format!("the upstream {what} answer stalled"))
            })?
            .map_err(|e| ServeError::Upstream(format!("upstream {what} answer: {e}")))?
            .to_bytes();
        Ok((status, bytes))
    }

    /// Whether `name:password` is an account upstream, asked without side effects
    /// (`GET /-/whoami` with Basic credentials): a couch login of an unknown name would
    /// create the account.
    pub async fn verify_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<PasswordCheck, ServeError> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(self.uri("/-/whoami")?)
            .header(header::ACCEPT, "application/json")
            .header(header::AUTHORIZATION, basic(name, password))
            .body(Body::empty())
            .map_err(|e| ServeError::Upstream(e.to_string()))?;
        let (status, bytes) = self.small_answer(req, "whoami").await?;
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Ok(PasswordCheck::Throttled);
        }
        if status.is_server_error() {
            return Err(ServeError::Upstream(format!(
                "upstream whoami answered {status}"
            )));
        }
        let who = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("username").and_then(Value::as_str).map(str::to_owned));
        Ok(if status.is_success() && who.as_deref() == Some(name) {
            PasswordCheck::Ok(String::new())
        } else {
            PasswordCheck::Refused
        })
    }

    /// Checks `name`'s password and gets upstream's token for the account (npm's couch login).
    /// Without `email` (a login, not `npm adduser`) the password is verified first, so an
    /// unknown name is refused instead of signed up.
    pub async fn check_password(
        &self,
        name: &str,
        password: &str,
        email: Option<&str>,
    ) -> Result<PasswordCheck, ServeError> {
        if email.is_none() {
            match self.verify_password(name, password).await? {
                PasswordCheck::Ok(_) => {}
                other => return Ok(other),
            }
        }
        let mut body = json!({
            "_id": format!("org.couchdb.user:{name}"),
            "name": name,
            "password": password,
            "type": "user",
            "roles": [],
        });
        if let Some(e) = email {
            crate::json_set(&mut body, "email", Value::String(e.to_owned()));
        }
        let path = format!("/-/user/org.couchdb.user:{}", encode_component(name));
        let req = Request::builder()
            .method(Method::PUT)
            .uri(self.uri(&path)?)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            // Registries (Verdaccio among them) answer an existing account's couch login with
            // 409 unless the credentials also come as Basic auth, as npm's retry sends them.
            .header(header::AUTHORIZATION, basic(name, password))
            .body(Body::from(body.to_string()))
            .map_err(|e| ServeError::Upstream(e.to_string()))?;
        let (status, bytes) = self.small_answer(req, "login").await?;
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Ok(PasswordCheck::Throttled);
        }
        if !status.is_success() {
            if status.is_server_error() {
                return Err(ServeError::Upstream(format!(
                    "upstream login answered {status}"
                )));
            }
            return Ok(PasswordCheck::Refused);
        }
        let token = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_owned));
        match token {
            Some(t) => Ok(PasswordCheck::Ok(t)),
            None => Err(ServeError::Upstream(
                "upstream login answered without a token".into(),
            )),
        }
    }

    /// The package document (packument) as `authorization` sees it; `None` when upstream has
    /// no such package.
    pub async fn packument(
        &self,
        name: &str,
        authorization: Option<&str>,
    ) -> Result<Option<Value>, ServeError> {
        let path = format!("/{}", encode_component(name).replace("%40", "@"));
        let res = self
            .forward(
                Method::GET,
                &path,
                &HeaderMap::new(),
                Bytes::new(),
                authorization,
                None,
            )
            .await?;
        let status = res.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let bytes = http_body_util::Limited::new(res.into_body(), MAX_PACKUMENT)
            .collect()
            .await
            .map_err(|e| ServeError::Upstream(format!("upstream package document: {e}")))?
            .to_bytes();
        if !status.is_success() {
            return Err(ServeError::Upstream(format!(
                "upstream answered {status} for the package document"
            )));
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ServeError::Upstream(format!("upstream package document: {e}")))
    }

    /// Forwards a request: hop-by-hop headers, `authorization` and `npm-otp` are dropped, the
    /// given upstream `authorization` is set, the answer is streamed back.
    pub async fn forward(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: Bytes,
        authorization: Option<&str>,
        client_ip: Option<&str>,
    ) -> Result<Response<Body>, ServeError> {
        let mut req = Request::builder()
            .method(method)
            .uri(self.uri(path_and_query)?);
        if let Some(h) = req.headers_mut() {
            for (name, value) in headers {
                let n = name.as_str();
                if HOP_BY_HOP.contains(&n)
                    || n == "authorization"
                    || n == "npm-otp"
                    || n == "content-length"
                {
                    continue;
                }
                h.append(name.clone(), value.clone());
            }
            if let Some(a) = authorization.and_then(|a| HeaderValue::from_str(a).ok()) {
                h.insert(header::AUTHORIZATION, a);
            }
            if let Some(ip) = client_ip.and_then(|ip| HeaderValue::from_str(ip).ok()) {
                h.insert(HeaderName::from_static("x-forwarded-for"), ip);
            }
        }
        let req = req
            .body(Body::from(body))
            .map_err(|e| ServeError::Upstream(e.to_string()))?;
        let res = self.send(req).await?;
        let (mut parts, incoming) = res.into_parts();
        for h in HOP_BY_HOP {
            parts.headers.remove(*h);
        }
        Ok(Response::from_parts(parts, Body::new(incoming)))
    }
}

/// A Basic `authorization` value.
fn basic(name: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"))
    )
}

/// Percent-encodes a path segment.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The answer when the registry behind the gateway fails: 503 with `Retry-After` when it cannot
/// be reached, 504 when it did not answer in time, in npm's error shape (never a verdict on the
/// caller's password or code).
pub fn bad_gateway(e: &ServeError) -> Response<Body> {
    tracing::warn!(error = %e, "upstream failure");
    let (status, text) = match e {
        ServeError::UpstreamTimeout(_) => (
            StatusCode::GATEWAY_TIMEOUT,
            "The registry behind this gateway did not answer in time; try again later.",
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "The registry behind this gateway is unavailable; try again later.",
        ),
    };
    let body = json!({ "error": text });
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
