//! The npm-compatible surface: login (couch and web), whoami, profile and 2FA, tokens, and the
//! gateway that decides and forwards everything else. Answers follow the npm CLI's expectations
//! (wire-protocol reference §2, §5): `error` strings it prints, `www-authenticate: OTP` only on
//! challenges, JSON bodies where it parses them.

pub mod decide;
pub mod gate;
pub mod gateway;
pub mod login;
pub mod orgs;
pub mod owners;
pub mod profile;
pub mod read_access;
pub mod recovery_codes;
pub mod security_keys;
pub mod stage;
pub mod tokens;
pub mod trust;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use stepup_core::InputError;
use stepup_core::contract::decision::{Decision, Outcome};
use stepup_core::contract::request::Credential;

use crate::App;
use crate::error::ServeError;
use crate::store::{DecisionState, TokenRow};

/// A JSON answer.
pub fn json_answer(status: StatusCode, body: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Runs an engine entry point by name (`call-json`) on a warm instance: its result, or its
/// error document, as JSON.
pub fn engine(app: &App, function: &str, input: &Value) -> Result<Value, ServeError> {
    let out = stepup_wasmtime::document(
        app.policy
            .with(|p| p.call_json(function, &input.to_string())),
    )
    .map_err(|e| ServeError::Policy(e.to_string()))?;
    serde_json::from_str(&out).map_err(|e| ServeError::Policy(e.to_string()))
}

/// The sentence an npm answer tells the user (`message`, else `error`), for pages and page
/// scripts that show a refusal in their own shape.
pub async fn answer_message(answer: Response<Body>) -> Option<String> {
    let body = axum::body::to_bytes(answer.into_body(), 1 << 16)
        .await
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&body).ok()?;
    v.get("message")
        .or_else(|| v.get("error"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// An npm error answer: `{"error": message}` (the field the CLI prints).
pub fn error_answer(status: StatusCode, message: &str) -> Response<Body> {
    json_answer(status, &json!({"error": message}))
}

/// A decision as npm's HTTP answer: status, `www-authenticate`, the error text it prints, and an
/// `npm-notice` with the engine's message on challenges.
pub fn decision_answer(d: &Decision) -> Response<Body> {
    decision_answer_with(d, &[])
}

/// [`decision_answer`] with more members in the body (npm's web OTP `authUrl` / `doneUrl`).
pub fn decision_answer_with(d: &Decision, extra: &[(&str, Value)]) -> Response<Body> {
    let status = StatusCode::from_u16(d.npm.status).unwrap_or(StatusCode::FORBIDDEN);
    let mut body = json!({
        "error": d.npm.error,
        "reason": d.reason,
        "message": d.message,
    });
    for (k, v) in extra {
        crate::json_set(&mut body, k, v.clone());
    }
    let mut r = json_answer(status, &body);
    if let Some(v) = d
        .npm
        .www_authenticate
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    if d.outcome == Outcome::Challenge
        && let Ok(m) = HeaderValue::from_str(&d.message)
    {
        r.headers_mut().insert("npm-notice", m);
    }
    if let Some(v) = d.retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(v));
    }
    r
}

/// Input the engine refused (SPEC §8.17) as npm's answer: 400 with the error document's text.
pub fn input_answer(e: &InputError) -> Response<Body> {
    json_answer(
        StatusCode::BAD_REQUEST,
        &json!({"error": e.to_string(), "reason": "invalid-input", "message": null}),
    )
}

/// The credential an engine answer carries (the token form's, the OIDC exchange's) and its
/// expiry as stored; `what` names the answer in the error.
pub fn answered_credential(
    answer: &Value,
    what: &str,
) -> Result<(Credential, Option<i64>), ServeError> {
    let credential = Credential::from_value(answer.get("credential").unwrap_or(&Value::Null))
        .map_err(|e| {
            ServeError::Policy(format!("{what} answered a credential it cannot read: {e}"))
        })?;
    let expires = credential
        .expires_at()
        .and_then(|t| i64::try_from(t.0).ok());
    Ok((credential, expires))
}

/// An internal failure: logged, answered without detail.
pub fn internal(e: ServeError) -> Response<Body> {
    axum::response::IntoResponse::into_response(e)
}

/// SHA-512 hex of a token: the only form tokens are stored and listed in (npm's `key`).
pub fn token_key(token: &str) -> String {
    stepup_core::wire::encoding::hex_encode(&Sha512::digest(token.as_bytes()))
}

/// A fresh token: `npm_` and 36 base62 characters (≈ 214 bits).
pub fn new_token() -> Result<String, ServeError> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::from("npm_");
    let mut buf = [0u8; 64];
    while out.len() < 40 {
        getrandom::fill(&mut buf).map_err(|e| ServeError::Key(format!("no entropy: {e}")))?;
        for b in buf {
            // Rejection sampling keeps the alphabet uniform.
            if b < 248
                && out.len() < 40
                && let Some(&c) = ALPHABET.get(usize::from(b % 62))
            {
                out.push(char::from(c));
            }
        }
    }
    Ok(out)
}

/// Host entropy for the engine's code and secret generation.
pub fn entropy() -> Result<[u8; 32], ServeError> {
    let mut e = [0u8; 32];
    getrandom::fill(&mut e).map_err(|e| ServeError::Key(format!("no entropy: {e}")))?;
    Ok(e)
}

/// Wrong-password times per account, kept in memory: a sliding window of
/// [`PasswordFailures::LIMIT`] failures per [`PasswordFailures::WINDOW`] seconds.
#[derive(Debug, Default)]
pub struct PasswordFailures(std::sync::Mutex<std::collections::HashMap<String, Vec<i64>>>);

impl PasswordFailures {
    /// Failures allowed per window.
    pub const LIMIT: usize = 10;
    /// The window, seconds.
    pub const WINDOW: i64 = 900;
    /// Accounts remembered at most (oldest forgotten first), so names cannot grow the map.
    const ACCOUNTS: usize = 100_000;

    /// Wrong passwords allowed per client address and window, whatever the accounts.
    pub const CLIENT_LIMIT: usize = 30;

    /// Seconds to wait when `name` has used up its window.
    pub fn blocked(&self, name: &str, now: i64) -> Option<u64> {
        self.blocked_after(name, now, Self::LIMIT)
    }

    /// Seconds to wait when `name` has `limit` failures in the window.
    pub fn blocked_after(&self, name: &str, now: i64, limit: usize) -> Option<u64> {
        let map = self.0.lock().ok()?;
        let times = map.get(name)?;
        let recent: Vec<i64> = times
            .iter()
            .copied()
            .filter(|t| *t > now - Self::WINDOW)
            .collect();
        if recent.len() < limit {
            return None;
        }
        let oldest = recent.iter().min().copied().unwrap_or(now);
        u64::try_from(oldest + Self::WINDOW - now)
            .ok()
            .map(|w| w.max(1))
    }

    /// Counts a wrong password for `name`.
    pub fn record(&self, name: &str, now: i64) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() >= Self::ACCOUNTS && !map.contains_key(name) {
            map.retain(|_, v| v.iter().any(|t| *t > now - Self::WINDOW));
        }
        let times = map.entry(name.to_owned()).or_default();
        times.retain(|t| *t > now - Self::WINDOW);
        times.push(now);
    }
}

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Caller {
    /// No credentials.
    Anonymous,
    /// A token this gateway issued.
    Token(TokenRow),
    /// Username and password on the request.
    Basic {
        /// Account.
        name: String,
        /// Password (checked upstream when needed; never logged).
        password: String,
    },
    /// A bearer token this gateway does not know (or revoked).
    Unknown,
}

impl Caller {
    /// The account name, if any.
    pub fn account(&self) -> Option<&str> {
        match self {
            Caller::Token(t) => Some(&t.account),
            Caller::Basic { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// The caller the gate resolved already (before reading a publish-sized body) and when, kept on
/// the request so the handler does not look its token up a second time — unless the body took
/// long enough to arrive that the token may have been revoked meanwhile ([`Resolved::fresh`]).
/// With it, the decision's state read in the token's statement ([`Ahead`]), trusted as long.
#[derive(Clone, Debug)]
pub struct Resolved(
    pub Caller,
    pub std::time::Instant,
    pub Option<Arc<ReadAhead>>,
);

impl Resolved {
    /// How long a resolved caller is trusted without looking its token up again.
    const FOR: std::time::Duration = std::time::Duration::from_secs(1);

    /// The caller, while it was resolved less than a second ago.
    pub fn fresh(&self) -> Option<&Caller> {
        (self.1.elapsed() < Self::FOR).then_some(&self.0)
    }

    /// The decision state read with the token, while fresh, when it was read for this account,
    /// package and client address: otherwise the decision reads its own.
    pub fn state_for(
        &self,
        account: &str,
        package: Option<&str>,
        ip: Option<&str>,
    ) -> Option<DecisionState> {
        let ahead = self.2.as_deref()?;
        (self.fresh().is_some()
            && ahead.state.account.name == account
            && ahead.package.as_deref() == package
            && ahead.ip.as_deref() == ip)
            .then(|| ahead.state.clone())
    }
}

/// What a write's decision will read, asked for in the statement that looks its token up.
#[derive(Clone, Copy, Debug)]
pub struct Ahead<'a> {
    /// The package the request names, as far as its path says before it is classified.
    pub package: Option<&'a str>,
    /// The client's address.
    pub ip: Option<&'a str>,
    /// Now, unix seconds.
    pub now: i64,
}

/// The decision state read with a token, and what it was read for.
#[derive(Debug)]
pub struct ReadAhead {
    package: Option<String>,
    ip: Option<String>,
    state: DecisionState,
}

/// Resolves the `authorization` header.
pub async fn caller(app: &App, headers: &HeaderMap) -> Result<Caller, ServeError> {
    Ok(caller_ahead(app, headers, None).await?.0)
}

/// As [`caller`]; for a token, with `ahead`, the decision's state read in the same statement
/// (when the account has a row).
pub async fn caller_ahead(
    app: &App,
    headers: &HeaderMap,
    ahead: Option<Ahead<'_>>,
) -> Result<(Caller, Option<ReadAhead>), ServeError> {
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok((Caller::Anonymous, None));
    };
    let (scheme, rest) = auth.split_once(' ').unwrap_or((auth, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        let started = std::time::Instant::now();
        let key = token_key(rest.trim());
        let found = match ahead {
            Some(a) => app
                .store
                .token_and_state(&key, a.package, a.ip, a.now)
                .await?
                .map(|(token, state)| {
                    let read = state.map(|state| ReadAhead {
                        package: a.package.map(str::to_owned),
                        ip: a.ip.map(str::to_owned),
                        state,
                    });
                    (token, read)
                }),
            None => app.store.token(&key).await?.map(|t| (t, None)),
        };
        app.metrics.store("credential", started.elapsed());
        return Ok(match found {
            Some((t, read)) => (Caller::Token(t), read),
            None => (Caller::Unknown, None),
        });
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        if let Some((name, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
            return Ok((
                Caller::Basic {
                    name: name.to_owned(),
                    password: password.to_owned(),
                },
                None,
            ));
        }
    }
    Ok((Caller::Unknown, None))
}

/// A 401 asking for a bearer token, `challenge` its `WWW-Authenticate` (`Bearer realm=…`).
pub fn bearer_required(message: &str, challenge: &'static str) -> Response<Body> {
    let mut r = error_answer(StatusCode::UNAUTHORIZED, message);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

/// The answer to a token this gateway does not know: npm tells the user to log in again.
pub fn unknown_token() -> Response<Body> {
    bearer_required(
        "Unable to authenticate, your authentication token seems to be invalid.",
        "Bearer realm=\"stepup\"",
    )
}

/// The `www-authenticate` of a wrong password (the gate counts these per client).
pub const WRONG_PASSWORD_CHALLENGE: &str = "Basic realm=\"stepup\"";

/// Marks an answer to a wrong password that carries no Basic challenge (a JSON form's, which a
/// browser must not answer with its password dialog): the gate counts it per client all the
/// same, so one password tried against many accounts is throttled.
#[derive(Clone, Copy, Debug)]
pub struct WrongPassword;

/// The answer to a wrong password: `Basic`, never `OTP` (the CLI prints "Incorrect or missing password.").
pub fn wrong_password() -> Response<Body> {
    let mut r = json_answer(
        StatusCode::UNAUTHORIZED,
        &json!({"ok": false, "error": "Incorrect or missing password."}),
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(WRONG_PASSWORD_CHALLENGE),
    );
    r
}

/// The answer when an operation needs an account.
pub fn need_login() -> Response<Body> {
    bearer_required(
        "You must be logged in to do that. Run `npm login`.",
        "Bearer realm=\"stepup\"",
    )
}

/// The client's address (SPEC §9.6): the socket peer, unless the peer is one of the operator's
/// trusted proxies; then the right-most `x-forwarded-for` address that is not a trusted proxy
/// (the left-most hops are whatever the client wrote). Several `x-forwarded-for` headers read
/// as one list, in order.
pub fn client_ip(app: &App, peer: SocketAddr, headers: &HeaderMap) -> String {
    client_from(&app.trusted_proxies, peer.ip(), headers)
}

/// [`client_ip`] for a list of trusted proxy networks.
pub fn client_from(
    proxies: &[stepup_core::contract::cidr::Cidr],
    peer: std::net::IpAddr,
    headers: &HeaderMap,
) -> String {
    let peer = peer.to_canonical();
    let trusted = |ip: std::net::IpAddr| proxies.iter().any(|c| c.contains(ip));
    if !trusted(peer) {
        return peer.to_string();
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) if trusted(ip.to_canonical()) => continue,
            Ok(ip) => return ip.to_canonical().to_string(),
            // An unreadable hop: nothing left of it can be believed; the last proxy is the client.
            Err(_) => break,
        }
    }
    peer.to_string()
}

/// The engine's view of the HTTP request at `path` (a canonical path: the gate rewrote it).
pub fn call_of(
    app: &App,
    peer: SocketAddr,
    method: &axum::http::Method,
    path: &str,
    headers: &HeaderMap,
) -> decide::Call {
    call_for(app, peer, &format!("{method} {path}"), headers)
}

/// The engine's view of a request whose canonical key (`METHOD path`) is `key`.
pub fn call_for(app: &App, peer: SocketAddr, key: &str, headers: &HeaderMap) -> decide::Call {
    let write = !matches!(key.split(' ').next(), Some("GET" | "HEAD" | "OPTIONS"));
    decide::Call {
        now: crate::now(),
        ip: Some(client_ip(app, peer, headers)),
        code: headers
            .get("npm-otp")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        request: key.to_owned(),
        operation: None,
        write,
        assertion: None,
    }
}

/// The npm major version from `user-agent` (`npm/10.9.9 node/...`).
pub fn npm_major(headers: &HeaderMap) -> Option<u32> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.strip_prefix("npm/"))
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
}

/// An authenticated caller. Its `Debug` leaves the upstream credential out.
pub struct Identity {
    /// Account name.
    pub account: String,
    /// The SPEC credential it presents, parsed once when the caller is resolved.
    pub credential: Credential,
    /// The upstream `authorization` header: HTTP Basic's from the password check, set at
    /// once; a token's is its sealed upstream credential, opened by [`Identity::upstream_auth`]
    /// the first time a request goes upstream (a refused or challenged request never opens
    /// it) and kept for the request's later upstream calls.
    upstream: std::sync::OnceLock<Option<String>>,
    /// The token, when it is one of ours.
    pub token: Option<TokenRow>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("account", &self.account)
            .field("credential", &self.credential)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The `authorization` header to send upstream for this caller.
    pub fn upstream_auth(&self, app: &App) -> Result<Option<String>, ServeError> {
        if let Some(auth) = self.upstream.get() {
            return Ok(auth.clone());
        }
        let opened = match self
            .token
            .as_ref()
            .and_then(|t| t.upstream.as_ref().map(|u| (&t.key, u)))
        {
            Some((key, sealed)) => {
                let raw = app.sealer.open(&format!("upstream:{key}"), sealed)?;
                Some(format!("Bearer {}", String::from_utf8_lossy(&raw)))
            }
            None => None,
        };
        Ok(self.upstream.get_or_init(|| opened).clone())
    }
}

/// Whether an account may change a package's settings.
#[derive(Debug, PartialEq, Eq)]
pub enum Maintainer {
    /// Published it through this gateway, or upstream names it a maintainer or publisher.
    Yes,
    /// The package exists and the account is none of those.
    No,
    /// Upstream has no such package.
    Missing,
}

/// Whether `id` maintains `pkg`: the gateway's list says so when it keeps one for the package
/// (`npm owner` edits it); otherwise the upstream packument lists it in `maintainers` or as a
/// version's `_npmUser`.
pub async fn maintainer_of(app: &App, pkg: &str, id: &Identity) -> Result<Maintainer, ServeError> {
    let Some(upstream) = &app.upstream else {
        return Ok(Maintainer::No);
    };
    let doc = match upstream
        .packument(pkg, id.upstream_auth(app)?.as_deref())
        .await?
    {
        Some(doc) => doc,
        None => return Ok(Maintainer::Missing),
    };
    let listed = app.store.maintainers(pkg).await?;
    if !listed.is_empty() {
        return Ok(if listed.iter().any(|(n, _)| *n == id.account) {
            Maintainer::Yes
        } else {
            Maintainer::No
        });
    }
    let named = |v: &Value| v.get("name").and_then(Value::as_str) == Some(id.account.as_str());
    let in_list = |v: Option<&Value>| {
        v.and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(named))
    };
    let upstream_says = in_list(doc.get("maintainers"))
        || doc
            .get("versions")
            .and_then(Value::as_object)
            .is_some_and(|vs| {
                vs.values()
                    .any(|v| in_list(v.get("maintainers")) || v.get("_npmUser").is_some_and(named))
            });
    Ok(if upstream_says {
        Maintainer::Yes
    } else {
        Maintainer::No
    })
}

/// Checks `name`'s password with the upstream registry: its token for the account, or the npm
/// answer to give (a wrong or missing password, or an unreachable upstream).
pub async fn check_password(
    app: &App,
    name: &str,
    password: Option<&str>,
    email: Option<&str>,
) -> Result<String, Response<Body>> {
    let (Some(upstream), Some(password)) = (&app.upstream, password) else {
        return Err(wrong_password());
    };
    // Wrong passwords are counted here, per account, so guessing stops at the gateway and
    // never trips the upstream's own limit (which would lock every user out, G8).
    let now = crate::now();
    if let Some(wait) = app.password_failures.blocked(name, now) {
        let mut r = error_answer(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong passwords for this account; try again later.",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return Err(r);
    }
    match upstream.check_password(name, password, email).await {
        Ok(crate::upstream::PasswordCheck::Ok(t)) => Ok(t),
        Ok(crate::upstream::PasswordCheck::Refused) => {
            app.password_failures.record(name, now);
            Err(wrong_password())
        }
        Ok(crate::upstream::PasswordCheck::Throttled) => {
            let mut r = error_answer(
                StatusCode::TOO_MANY_REQUESTS,
                "The registry behind this gateway is limiting login attempts; try again in a minute.",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            Err(r)
        }
        Err(e) => Err(crate::upstream::bad_gateway(&e)),
    }
}

/// Resolves and checks the caller; `Err(answer)` when it is not an account.
pub async fn identify(
    app: &App,
    headers: &HeaderMap,
) -> Result<Result<Identity, Response<Body>>, ServeError> {
    identity_of(app, caller(app, headers).await?).await
}

/// The account a request acts for, resolved before the handler runs; a request without one is
/// answered as npm expects ("log in first", "unknown token") and never reaches the handler, so
/// handlers that need an account take this instead of resolving the caller themselves.
#[derive(Debug)]
pub struct Authenticated(pub Identity);

impl axum::extract::FromRequestParts<crate::Shared> for Authenticated {
    type Rejection = Response<Body>;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &crate::Shared,
    ) -> Result<Self, Self::Rejection> {
        match identify(app, &parts.headers).await {
            Ok(Ok(id)) => Ok(Authenticated(id)),
            Ok(Err(answer)) => Err(answer),
            Err(e) => Err(axum::response::IntoResponse::into_response(e)),
        }
    }
}

/// Checks an already resolved caller; `Err(answer)` when it is not an account.
pub async fn identity_of(
    app: &App,
    who: Caller,
) -> Result<Result<Identity, Response<Body>>, ServeError> {
    match who {
        Caller::Anonymous => Ok(Err(need_login())),
        Caller::Unknown => Ok(Err(unknown_token())),
        Caller::Token(t) => {
            let credential = Credential::parse(&t.credential).map_err(|e| {
                ServeError::Store(format!("token {}: stored credential: {e}", t.prefix))
            })?;
            Ok(Ok(Identity {
                account: t.account.clone(),
                credential,
                upstream: std::sync::OnceLock::new(),
                token: Some(t),
            }))
        }
        Caller::Basic { name, password } => Ok(check_password(app, &name, Some(&password), None)
            .await
            .map(|t| Identity {
                account: name,
                credential: Credential::Basic,
                upstream: std::sync::OnceLock::from(Some(format!("Bearer {t}"))),
                token: None,
            })),
    }
}

/// Unix seconds as npm's ISO-8601 (`2026-11-23T08:44:55.000Z`); the date is core's
/// [`format_date`](stepup_core::contract::time::format_date). Times here are the host's clock
/// and rows it stored, never before 1970.
pub fn iso(t: i64) -> String {
    let t = u64::try_from(t).unwrap_or(0);
    let secs = t % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}.000Z",
        stepup_core::contract::time::format_date(t),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates() {
        assert_eq!(super::iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::iso(1_643_716_800), "2022-02-01T12:00:00.000Z");
        assert_eq!(super::iso(1_795_430_695), "2026-11-23T10:44:55.000Z");
    }

    #[test]
    fn client_is_the_right_most_untrusted_hop() {
        use axum::http::HeaderMap;
        let proxies = [stepup_core::contract::cidr::Cidr::parse("10.0.0.0/8").unwrap()];
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert("x-forwarded-for", v.parse().unwrap());
            m
        };
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        // From an untrusted peer the header is the client's own words: ignored.
        assert_eq!(
            super::client_from(&proxies, ip("203.0.113.9"), &h("10.1.2.3")),
            "203.0.113.9"
        );
        // Through the proxy: the right-most hop outside the proxies, not the client's left-most.
        assert_eq!(
            super::client_from(
                &proxies,
                ip("10.0.0.1"),
                &h("10.9.9.9, 198.51.100.7, 10.0.0.2")
            ),
            "198.51.100.7"
        );
        assert_eq!(
            super::client_from(&proxies, ip("10.0.0.1"), &h("1.1.1.1, 198.51.100.7")),
            "198.51.100.7"
        );
        // Nothing but proxies, or garbage: the peer.
        assert_eq!(
            super::client_from(&proxies, ip("10.0.0.1"), &h("10.0.0.3")),
            "10.0.0.1"
        );
        assert_eq!(
            super::client_from(&proxies, ip("10.0.0.1"), &h("nonsense")),
            "10.0.0.1"
        );
        assert_eq!(
            super::client_from(&[], ip("::ffff:192.0.2.1"), &HeaderMap::new()),
            "192.0.2.1"
        );
    }

    #[test]
    fn wrong_passwords_are_limited_per_account() {
        let f = super::PasswordFailures::default();
        for i in 0..super::PasswordFailures::LIMIT {
            assert_eq!(f.blocked("alice", 1000), None);
            f.record("alice", 1000 + i as i64);
        }
        let wait = f.blocked("alice", 1010).unwrap();
        assert_eq!(wait, 890);
        assert_eq!(f.blocked("bob", 1010), None);
        assert_eq!(
            f.blocked("alice", 1000 + super::PasswordFailures::WINDOW + 1),
            None
        );
    }

    #[test]
    fn tokens_are_fresh_and_well_formed() {
        let a = super::new_token().unwrap();
        let b = super::new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 40);
        assert!(
            a.strip_prefix("npm_")
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
        assert_eq!(super::token_key(&a).len(), 128);
    }
}
