//! The CI providers' signing keys for trusted publishing, kept current. A provider named with
//! `--oidc-issuer github=https://token.actions.githubusercontent.com` has its keys fetched from
//! its issuer's discovery document (`/.well-known/openid-configuration` → `jwks_uri`, HTTPS
//! only, verified against the system's roots and `--ca-file`), cached for the answer's
//! `Cache-Control: max-age` (bounded), and fetched again early when an ID token names a key id
//! none of its keys has — a provider that rotated — at most once per `min_refresh`, so tokens with
//! made-up key ids cannot make the server hammer an issuer. A failed fetch keeps the last keys.
//! Key sets from files (`--oidc-jwks github=FILE`) stay for air-gapped installs and are merged
//! in unchanged. Each set stays bound to its provider (SPEC §9.7): the engine verifies a token
//! only with the keys of the provider whose issuer it claims.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, Uri, header};
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::error::ServeError;

/// Largest discovery document or key set read.
const MAX_DOCUMENT: usize = 1 << 20;
/// How long one fetch (each of its two requests) may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Cache lifetime bounds: an answer without `max-age` is kept for an hour; none is kept for
/// less than a minute or more than a day.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3_600);
const MIN_MAX_AGE: Duration = Duration::from_secs(60);
const MAX_MAX_AGE: Duration = Duration::from_secs(86_400);

/// The CI providers a key set may be bound to.
pub const PROVIDERS: [&str; 3] = ["github", "gitlab", "circleci"];

#[derive(Debug, Default)]
struct Fetched {
    keys: Vec<Value>,
    /// When the keys are due for a fetch (`None`: never fetched).
    fresh_until: Option<Instant>,
    /// When a fetch was last tried (the unknown-key refresh's rate limit).
    tried: Option<Instant>,
}

#[derive(Debug)]
struct Source {
    provider: String,
    issuer: String,
    state: tokio::sync::Mutex<Fetched>,
}

/// Every provider's keys: from files, and fetched from issuers.
#[derive(Debug)]
pub struct Jwks {
    files: BTreeMap<String, Vec<Value>>,
    sources: Vec<Source>,
    client: Client<HttpsConnector<HttpConnector>, Body>,
    min_refresh: Duration,
    /// Fetches made (metrics and tests).
    fetches: std::sync::atomic::AtomicU64,
}

fn provider_of<'a>(
    entry: &'a str,
    flag: &str,
    what: &str,
) -> Result<(&'a str, &'a str), ServeError> {
    entry
        .split_once('=')
        .filter(|(p, v)| PROVIDERS.contains(p) && !v.is_empty())
        .ok_or_else(|| {
            ServeError::Io(format!(
                "{flag} {entry}: bind the {what} to its provider, e.g. {flag} github=… (github, gitlab or circleci)"
            ))
        })
}

/// The key ids of a `{"keys": [...]}` list.
fn has_kid(keys: &[Value], kid: &str) -> bool {
    keys.iter()
        .any(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
}

/// `max-age` of a `Cache-Control` value, bounded.
fn max_age(cache_control: Option<&str>) -> Duration {
    cache_control
        .into_iter()
        .flat_map(|v| v.split(','))
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|s| s.trim().parse::<u64>().ok())
        .map_or(DEFAULT_MAX_AGE, Duration::from_secs)
        .clamp(MIN_MAX_AGE, MAX_MAX_AGE)
}

impl Jwks {
    /// From `--oidc-jwks PROVIDER=FILE` (read now) and `--oidc-issuer PROVIDER=URL` (fetched
    /// when first needed, then kept current); `min_refresh` bounds the unknown-key refreshes.
    pub fn new(
        files: &[String],
        issuers: &[String],
        tls: &rustls::ClientConfig,
        min_refresh: Duration,
    ) -> Result<Jwks, ServeError> {
        let mut sets: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for entry in files {
            let (provider, file) = provider_of(entry, "--oidc-jwks", "key set")?;
            let p = std::path::Path::new(file);
            let text = std::fs::read_to_string(p).map_err(|e| {
                ServeError::Io(format!("cannot read --oidc-jwks {}: {e}", p.display()))
            })?;
            let doc: Value = serde_json::from_str(&text).map_err(|e| {
                ServeError::Io(format!("--oidc-jwks {} is not JSON: {e}", p.display()))
            })?;
            let Some(list) = doc.get("keys").and_then(Value::as_array) else {
                return Err(ServeError::Io(format!(
                    "--oidc-jwks {} is not a JWKS (no \"keys\" array)",
                    p.display()
                )));
            };
            sets.entry(provider.to_owned())
                .or_default()
                .extend(list.iter().cloned());
        }
        let mut sources = Vec::new();
        for entry in issuers {
            let (provider, url) = provider_of(entry, "--oidc-issuer", "issuer")?;
            if !url.starts_with("https://") || url.parse::<Uri>().is_err() {
                return Err(ServeError::Io(format!(
                    "--oidc-issuer {entry}: the issuer must be an https:// URL"
                )));
            }
            sources.push(Source {
                provider: provider.to_owned(),
                issuer: url.trim_end_matches('/').to_owned(),
                state: tokio::sync::Mutex::new(Fetched::default()),
            });
        }
        Ok(Jwks {
            files: sets,
            sources,
            client: Client::builder(TokioExecutor::new()).build(crate::tls::connector(
                tls,
                FETCH_TIMEOUT,
                true,
            )),
            min_refresh,
            fetches: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// How many fetches were made.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The key sets for an exchange, as the engine takes them (`{"providers": {…}}`): fetched
    /// sets due for a fetch are fetched first, and when the token names a key id that no set
    /// has, the fetched sets are asked again (rate-limited).
    pub async fn current(&self, kid: Option<&str>) -> Value {
        let unknown = kid.filter(|kid| !self.files.values().any(|keys| has_kid(keys, kid)));
        let mut providers = serde_json::Map::new();
        for (provider, keys) in &self.files {
            providers.insert(provider.clone(), json!({ "keys": keys }));
        }
        for source in &self.sources {
            let mut state = source.state.lock().await;
            let now = Instant::now();
            let due = state.fresh_until.is_none_or(|t| now >= t);
            let rotated = unknown.is_some_and(|kid| !has_kid(&state.keys, kid))
                && state
                    .tried
                    .is_none_or(|t| now.duration_since(t) >= self.min_refresh);
            if due || rotated {
                state.tried = Some(now);
                self.fetches
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                match self.fetch(&source.issuer).await {
                    Ok((keys, age)) => {
                        tracing::info!(provider = %source.provider, keys = keys.len(), max_age = age.as_secs(), "OIDC keys fetched");
                        state.keys = keys;
                        state.fresh_until = Some(now + age);
                    }
                    Err(e) => {
                        // The last keys stay; the next try waits for the rate limit.
                        tracing::warn!(provider = %source.provider, issuer = %source.issuer, error = %e, "fetching OIDC keys failed; keeping the last ones");
                        state.fresh_until = Some(now + self.min_refresh);
                    }
                }
            }
            let set = providers
                .entry(source.provider.clone())
                .or_insert_with(|| json!({"keys": []}));
            if let Some(all) = set.get_mut("keys").and_then(Value::as_array_mut) {
                all.extend(state.keys.iter().cloned());
            }
        }
        json!({ "providers": providers })
    }

    /// The issuer's keys and how long to keep them.
    async fn fetch(&self, issuer: &str) -> Result<(Vec<Value>, Duration), ServeError> {
        let (discovery, _) = self
            .get(&format!("{issuer}/.well-known/openid-configuration"))
            .await?;
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(Value::as_str)
            .filter(|u| u.starts_with("https://"))
            .ok_or_else(|| {
                ServeError::Upstream("the discovery document names no https jwks_uri".into())
            })?;
        let (set, age) = self.get(jwks_uri).await?;
        let keys = set
            .get("keys")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| ServeError::Upstream(format!("{jwks_uri} is not a JWKS")))?;
        Ok((keys, age))
    }

    /// A JSON document and its `max-age`.
    async fn get(&self, url: &str) -> Result<(Value, Duration), ServeError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| ServeError::Upstream(format!("{url}: {e}")))?;
        let req = Request::get(uri)
            .header(header::ACCEPT, "application/json")
            .body(Body::empty())
            .map_err(|e| ServeError::Upstream(e.to_string()))?;
        let read = async {
            let res = self
                .client
                .request(req)
                .await
                .map_err(|e| ServeError::Upstream(format!("{url}: {e}")))?;
            if !res.status().is_success() {
                return Err(ServeError::Upstream(format!("{url}: {}", res.status())));
            }
            let age = max_age(
                res.headers()
                    .get(header::CACHE_CONTROL)
                    .and_then(|v| v.to_str().ok()),
            );
            let body = http_body_util::Limited::new(res.into_body(), MAX_DOCUMENT)
                .collect()
                .await
                .map_err(|e| ServeError::Upstream(format!("{url}: {e}")))?
                .to_bytes();
            let doc = serde_json::from_slice(&body)
                .map_err(|e| ServeError::Upstream(format!("{url}: not JSON: {e}")))?;
            Ok((doc, age))
        };
        tokio::time::timeout(FETCH_TIMEOUT, read)
            .await
            .map_err(|_| ServeError::UpstreamTimeout(format!("{url}: no answer in time")))?
    }
}

/// The `kid` an ID token's header names, if it can be read (the engine verifies everything).
pub fn kid_of(id_token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = id_token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("kid").and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_and_bounded() {
        assert_eq!(
            max_age(Some("public, max-age=300")),
            Duration::from_secs(300)
        );
        assert_eq!(max_age(Some("no-store")), DEFAULT_MAX_AGE);
        assert_eq!(max_age(None), DEFAULT_MAX_AGE);
        assert_eq!(max_age(Some("max-age=1")), MIN_MAX_AGE);
        assert_eq!(max_age(Some("max-age=9999999")), MAX_MAX_AGE);
    }

    #[test]
    fn kid_comes_from_the_header_only() {
        let header = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"alg":"RS256","kid":"k2"}"#,
        );
        assert_eq!(kid_of(&format!("{header}.e30.sig")).as_deref(), Some("k2"));
        assert_eq!(kid_of("not a token"), None);
    }
}
