//! `stepup serve`: the policy component, run by the wasmtime host library, behind an HTTP
//! decision API, plus an npm-compatible account surface and gateway that adds npm-grade 2FA in
//! front of any npm registry. State lives in SQLite (default) or PostgreSQL (several instances),
//! with secrets sealed under the operator's key.

pub mod admin_client;
pub mod api;
pub mod engine;
pub mod error;
pub mod identity;
pub mod impact;
pub mod jwks;
pub mod mail;
pub mod metrics;
pub mod npm;
pub mod rollout;
pub mod sealing;
pub mod settings;
pub mod store;
pub mod tls;
pub mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use sha2::Digest;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use error::ServeError;

use engine::{PolicyHost, PolicySource};
use mail::Outbox;
use sealing::Sealer;
use store::{Store, StoreUrl};
use upstream::Upstream;

/// Unix seconds now (the server is the clock; the engine never reads one).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// SHA-256 of a text.
pub fn sha256(text: &str) -> [u8; 32] {
    sha2::Sha256::digest(text.as_bytes()).into()
}

/// `stepup serve` options: every flag is also an environment variable (`STEPUP_` and the flag
/// in capitals, `-` as `_`; lists comma-separated), the flag winning.
#[derive(Clone, Debug, clap::Args, serde::Serialize)]
pub struct ServeOptions {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787", env = "STEPUP_LISTEN")]
    pub listen: String,
    /// SQLite file (created only with --init-store or --dev); ignored with --database-url.
    #[arg(long, default_value = "stepup.sqlite3", env = "STEPUP_DB")]
    pub db: PathBuf,
    /// PostgreSQL URL, for several instances sharing state (also STEPUP_DATABASE_URL).
    #[arg(long, env = "STEPUP_DATABASE_URL")]
    #[serde(serialize_with = "masked_url")]
    pub database_url: Option<String>,
    /// Policy configuration (JSON or TOML); default: the npmjs-2026 preset. Reloaded on SIGHUP.
    #[arg(long, env = "STEPUP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Policy component (.wasm); default: the one built into this binary. Reloaded on SIGHUP.
    #[arg(long, env = "STEPUP_COMPONENT")]
    pub component: Option<PathBuf>,
    /// Where compiled components are cached; default: `stepup-cache` beside the database.
    #[arg(long, env = "STEPUP_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The npm registry to stand in front of (gateway mode), e.g. http://127.0.0.1:4873.
    #[arg(long, env = "STEPUP_UPSTREAM")]
    pub upstream: Option<String>,
    /// This server's public URL, for web-login links; default: from the request's Host.
    #[arg(long, env = "STEPUP_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// File holding the 32-byte key that seals secrets at rest (hex or base64); or STEPUP_SECRET_KEY.
    #[arg(long, env = "STEPUP_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Development mode: without a key, create one next to the database.
    #[arg(long, env = "STEPUP_DEV")]
    pub dev: bool,
    /// Folder for emailed login codes (one .eml file per message); default: beside the database.
    #[arg(long, env = "STEPUP_MAIL_DIR")]
    pub mail_dir: Option<PathBuf>,
    /// The sender of emailed login codes.
    #[arg(
        long,
        default_value = "stepup <noreply@localhost>",
        env = "STEPUP_MAIL_FROM"
    )]
    pub mail_from: String,
    /// Issuer shown in authenticator apps.
    #[arg(long, default_value = "stepup", env = "STEPUP_ISSUER")]
    pub issuer: String,
    /// A network of proxies you run in front of the gateway (CIDR; repeatable). Requests from
    /// them are attributed to the right-most X-Forwarded-For address outside these networks;
    /// from anywhere else X-Forwarded-For is ignored.
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        env = "STEPUP_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// JSON file of extra write routes the gate forwards, each `{prefix, methods, kind}`:
    /// writes that match no npm route are refused unless named here.
    #[arg(long, env = "STEPUP_GATE_ROUTES")]
    pub gate_routes: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_parser = ["text", "json"], default_value = "text", env = "STEPUP_LOG_FORMAT")]
    pub log_format: String,
    /// File holding the admin API token (or STEPUP_ADMIN_TOKEN); without one the admin API is off.
    #[arg(long, env = "STEPUP_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Warm policy instances (default: one per core).
    #[arg(long, env = "STEPUP_INSTANCES")]
    pub instances: Option<usize>,
    /// A CI provider's JWKS file for trusted publishing, bound to that provider:
    /// `github=FILE`, `gitlab=FILE` or `circleci=FILE` (repeatable), for installs that cannot
    /// reach the provider (read at start). A provider's keys verify only ID tokens that claim
    /// its issuer.
    #[arg(
        long = "oidc-jwks",
        value_name = "PROVIDER=FILE",
        env = "STEPUP_OIDC_JWKS",
        value_delimiter = ','
    )]
    pub oidc_jwks: Vec<String>,
    /// A CI provider whose keys are fetched from its issuer and kept current:
    /// `github=https://token.actions.githubusercontent.com`, `gitlab=https://gitlab.com`,
    /// `circleci=https://oidc.circleci.com/org/ORG-ID` (repeatable). The discovery document's
    /// key set is cached for its `max-age` and asked again when a token names a key it lacks.
    #[arg(
        long = "oidc-issuer",
        value_name = "PROVIDER=URL",
        env = "STEPUP_OIDC_ISSUERS",
        value_delimiter = ','
    )]
    pub oidc_issuers: Vec<String>,
    /// How often counted downloads are written to the store and the package-impact index is
    /// rebuilt from it (seconds); also done at shutdown, and at once after a publish, an owner
    /// change or an import.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400), env = "STEPUP_IMPACT_PERIOD")]
    pub impact_period: u64,
    /// Print the resolved settings (flags, environment, defaults) as JSON, secrets masked, and
    /// exit without starting.
    #[arg(long)]
    #[serde(skip)]
    pub print_config: bool,
    /// PEM certificates trusted besides the system's roots, for an HTTPS upstream and the OIDC
    /// issuers (a private CA).
    #[arg(long, env = "STEPUP_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with `--tls-key`), for installs with no
    /// proxy in front.
    #[arg(long, env = "STEPUP_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, env = "STEPUP_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The id this server's store must have (printed at first start, and recorded beside the
    /// key file when that folder is writable): pins the store where the key file's folder is
    /// read-only (a container secret, a systemd credential).
    #[arg(long, env = "STEPUP_STORE_ID")]
    pub store_id: Option<String>,
    /// The server's settings in TOML, keyed by flag name (`listen = "0.0.0.0:8787"`): used for
    /// whatever the command line and the environment leave unset.
    #[arg(long, env = "STEPUP_SETTINGS", value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Compile the component into the cache folder (`--cache-dir`) and exit without starting:
    /// a container image or a package ships it compiled, so the first start does not compile.
    #[arg(long)]
    #[serde(skip)]
    pub precompile: bool,
    /// File holding a token `/v1/metrics` requires as `Authorization: Bearer`; without one
    /// the metrics are open to whoever reaches the listener.
    #[arg(long, env = "STEPUP_METRICS_TOKEN_FILE")]
    pub metrics_token_file: Option<PathBuf>,
    /// Send an allowed read of a package document or tarball upstream without the account's
    /// credential while the upstream lets anyone read that package, and with it when the
    /// upstream refuses (learned per package). A Verdaccio with its default tokens then hashes
    /// no password for the reads of its open packages. Only for an upstream whose anonymous
    /// answer for a name is the package its authenticated readers get: not a registry that
    /// merges a private and a public repository under one name (a virtual or group repository).
    #[arg(long, env = "STEPUP_READS_WITHOUT_CREDENTIAL")]
    pub reads_without_credential: bool,
    /// Create the store when there is none (a first start). Without it a missing SQLite file
    /// or an empty PostgreSQL database stops the server instead of starting it with every
    /// account's 2FA gone; `--dev` creates one too.
    #[arg(long, env = "STEPUP_INIT_STORE")]
    pub init_store: bool,
    /// Seconds a stopping server (SIGTERM) lets in-flight requests finish before it cuts them
    /// off; the counted downloads are written and the store closed either way.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3_600), env = "STEPUP_DRAIN_TIMEOUT")]
    pub drain_timeout: u64,
    /// Seconds to open a connection to the upstream registry; past it a request answers 503.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600), env = "STEPUP_UPSTREAM_CONNECT_TIMEOUT")]
    pub upstream_connect_timeout: u64,
    /// Seconds the upstream registry may take to start answering (status and headers; a
    /// streamed body then flows at its own pace); past it a request answers 504.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3_600), env = "STEPUP_UPSTREAM_TIMEOUT")]
    pub upstream_timeout: u64,
    /// Days a staged publish waits for a maintainer's approval; then it expires and is deleted.
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u64).range(1..=365), env = "STEPUP_STAGE_TTL_DAYS")]
    pub stage_ttl_days: u64,
    /// Staged publishes one package may have waiting (staging needs no second factor, so it is
    /// bounded).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000), env = "STEPUP_STAGE_LIMIT_PER_PACKAGE")]
    pub stage_limit_per_package: u64,
    /// Megabytes of staged publish documents one account may have waiting.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000_000), env = "STEPUP_STAGE_QUOTA_MB")]
    pub stage_quota_mb: u64,
}

/// A database URL with its password masked.
fn masked_url<S: serde::Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    let masked = url.as_deref().map(|u| match u.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) => {
                let name = user.split_once(':').map_or(user, |(n, _)| n);
                let hidden = if user.contains(':') { ":***" } else { "" };
                format!("{scheme}://{name}{hidden}@{host}")
            }
            None => u.to_owned(),
        },
        None => u.to_owned(),
    });
    serde::Serialize::serialize(&masked, s)
}

/// `stepup serve --print-config`: the settings the server would run with, and whether the
/// secrets read from the environment are set (never their values).
pub fn print_config(opts: &ServeOptions) -> Result<(), ServeError> {
    let mut doc = serde_json::to_value(opts).map_err(|e| ServeError::Io(e.to_string()))?;
    let set = |name: &str| {
        serde_json::Value::String(if std::env::var_os(name).is_some_and(|v| !v.is_empty()) {
            "set (hidden)".into()
        } else {
            "unset".into()
        })
    };
    json_set(&mut doc, "STEPUP_SECRET_KEY", set("STEPUP_SECRET_KEY"));
    json_set(&mut doc, "STEPUP_ADMIN_TOKEN", set("STEPUP_ADMIN_TOKEN"));
    let text = serde_json::to_string_pretty(&doc).map_err(|e| ServeError::Io(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// Shared server state.
#[derive(Debug)]
pub struct App {
    /// The resident policy.
    pub policy: PolicyHost,
    /// State.
    pub store: Store,
    /// Seals secrets at rest.
    pub sealer: Sealer,
    /// The registry behind the gateway.
    pub upstream: Option<Upstream>,
    /// Public base URL.
    pub public_url: Option<String>,
    /// SHA-256 of the admin token.
    pub admin_token: Option<[u8; 32]>,
    /// Authenticator issuer.
    pub issuer: String,
    /// Networks whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<stepup_core::contract::cidr::Cidr>,
    /// The operator's extra write routes (the classify input's `routes`), or `null`.
    pub routes: serde_json::Value,
    /// Wrong passwords per account.
    pub password_failures: npm::PasswordFailures,
    /// Wrong passwords per client address (the gate counts the answers that say so).
    pub client_failures: npm::PasswordFailures,
    /// Emailed codes.
    pub outbox: Outbox,
    /// The trusted CI providers' keys, each set bound to its provider.
    pub oidc: jwks::Jwks,
    /// Downloads counted, and the package-impact index decisions read.
    pub impact: impact::Impact,
    /// How long staged publishes wait and how many may.
    pub stage_limits: store::StageLimits,
    /// Prometheus metrics (`/v1/metrics`).
    pub metrics: Arc<metrics::Metrics>,
    /// SHA-256 of the token `/v1/metrics` asks for, if any.
    pub metrics_token: Option<[u8; 32]>,
    /// Which packages the upstream lets anyone read, learned from its answers.
    pub read_access: npm::read_access::ReadAccess,
}

fn trusted_proxies(list: &[String]) -> Result<Vec<stepup_core::contract::cidr::Cidr>, ServeError> {
    list.iter()
        .map(|t| {
            stepup_core::contract::cidr::Cidr::parse(t.trim()).ok_or_else(|| {
                ServeError::Io(format!(
                    "--trusted-proxy {t}: expected a network such as 10.0.0.0/8"
                ))
            })
        })
        .collect()
}

fn gate_routes(path: Option<&std::path::Path>) -> Result<serde_json::Value, ServeError> {
    let Some(p) = path else {
        return Ok(serde_json::Value::Null);
    };
    let text = std::fs::read_to_string(p)
        .map_err(|e| ServeError::Io(format!("cannot read --gate-routes {}: {e}", p.display())))?;
    let routes: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ServeError::Io(format!("--gate-routes {} is not JSON: {e}", p.display())))?;
    // The engine reads them: a probe classification says now, not at the first request,
    // whether they are well formed.
    let probe = serde_json::json!({"method": "GET", "path": "/", "routes": routes});
    let out = stepup_core::wire::classify::classify_json(&probe.to_string()).map_err(|e| {
        ServeError::Io(format!(
            "--gate-routes {}: {}",
            p.display(),
            e.within("routes")
        ))
    })?;
    drop(out);
    Ok(routes)
}

/// The state handle every handler gets.
pub type Shared = Arc<App>;

/// The sealing key, and the file it came from (the store's id is recorded beside it).
fn sealer(opts: &ServeOptions) -> Result<(Sealer, Option<PathBuf>), ServeError> {
    if let Some(path) = &opts.key_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ServeError::Key(format!("cannot read --key-file {}: {e}", path.display()))
        })?;
        return Ok((Sealer::from_text(&text)?, Some(path.clone())));
    }
    if let Ok(text) = std::env::var("STEPUP_SECRET_KEY") {
        return Ok((Sealer::from_text(&text)?, None));
    }
    if !opts.dev {
        return Err(ServeError::Key(
            "no key to seal secrets at rest: set STEPUP_SECRET_KEY or --key-file (32 bytes, e.g. `openssl rand -hex 32`), or run with --dev".into(),
        ));
    }
    let path = opts.db.with_extension("dev-key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        tracing::warn!(path = %path.display(), "--dev: using the development key file; do not use --dev in production");
        return Ok((Sealer::from_text(&text)?, Some(path)));
    }
    let text = Sealer::generate_text()?;
    write_private(&path, &text)?;
    tracing::warn!(path = %path.display(), "--dev: created a development key file; do not use --dev in production");
    Ok((Sealer::from_text(&text)?, Some(path)))
}

fn admin_token(opts: &ServeOptions) -> Result<Option<[u8; 32]>, ServeError> {
    let text = match &opts.admin_token_file {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
            ServeError::Key(format!(
                "cannot read --admin-token-file {}: {e}",
                p.display()
            ))
        })?),
        None => std::env::var("STEPUP_ADMIN_TOKEN").ok(),
    };
    Ok(text
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .map(|t| sha256(&t)))
}

/// SHA-256 of the token in `path`, if given.
fn secret_file(path: Option<&std::path::Path>, flag: &str) -> Result<Option<[u8; 32]>, ServeError> {
    let Some(p) = path else { return Ok(None) };
    let text = std::fs::read_to_string(p)
        .map_err(|e| ServeError::Key(format!("cannot read {flag} {}: {e}", p.display())))?;
    let t = text.trim();
    if t.is_empty() {
        return Err(ServeError::Key(format!("{flag} {} is empty", p.display())));
    }
    Ok(Some(sha256(t)))
}

fn write_private(path: &std::path::Path, text: &str) -> Result<(), ServeError> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| ServeError::Key(format!("cannot write {}: {e}", path.display())))
}

/// The routes, behind the gate.
fn routes(app: Shared) -> Router {
    Router::new()
        .route("/v1/evaluate", post(api::evaluate))
        .route("/v1/authorize", post(api::authorize))
        .route("/v1/health", get(api::health))
        .route("/v1/ready", get(api::ready))
        .route("/v1/metrics", get(api::metrics))
        .route("/v1/openapi.json", get(api::openapi))
        .route("/v1/admin/reload", post(api::reload))
        .route(
            "/v1/admin/impact",
            get(api::impact).post(api::import_impact),
        )
        .route("/v1/admin/impact/rebuild", post(api::rebuild_impact))
        .route("/v1/admin/orgs/{org}/members", get(api::org_members))
        .route(
            "/v1/admin/orgs/{org}/tfa-enforcement",
            post(api::org_enforce),
        )
        .route(
            "/-/user/{id}",
            get(npm::owners::user).put(npm::login::couch_login),
        )
        .route(
            "/-/user/token/{token}",
            axum::routing::delete(npm::login::logout),
        )
        .route("/-/whoami", get(npm::login::whoami))
        .route("/-/v1/login", post(npm::login::web_login_start))
        .route("/-/v1/done", any(npm::login::web_login_done))
        .route(
            "/-/stepup/login/{id}",
            get(npm::login::web_login_page).post(npm::login::web_login_submit),
        )
        .route(
            "/-/npm/v1/user",
            get(npm::profile::get).post(npm::profile::post),
        )
        .route(
            "/-/npm/v1/tokens",
            get(npm::tokens::list).post(npm::tokens::create),
        )
        .route(
            "/-/npm/v1/tokens/token/{which}",
            axum::routing::delete(npm::tokens::revoke),
        )
        .route("/-/stepup/webauthn.js", get(npm::security_keys::script))
        .route(
            "/-/stepup/security-keys",
            get(npm::security_keys::register_page).post(npm::security_keys::register),
        )
        .route(
            "/-/stepup/security-keys/options",
            post(npm::security_keys::register_options),
        )
        .route(
            "/-/stepup/security-keys/sign-in",
            post(npm::security_keys::manage_options),
        )
        .route(
            "/-/stepup/security-keys/list",
            post(npm::security_keys::list),
        )
        .route(
            "/-/stepup/security-keys/remove",
            post(npm::security_keys::remove),
        )
        .route(
            "/-/stepup/orgs/{org}/members",
            get(npm::orgs::members_endpoint),
        )
        .route(
            "/-/stepup/orgs/{org}/tfa-enforcement",
            post(npm::orgs::enforce_endpoint),
        )
        .route(
            "/-/stepup/orgs/{org}/invitation",
            post(npm::orgs::invitation_endpoint),
        )
        .route(
            "/-/stepup/login/{id}/key-options",
            post(npm::security_keys::login_options),
        )
        .route(
            "/-/stepup/login/{id}/key",
            post(npm::security_keys::login_key),
        )
        .route(
            "/-/stepup/approve/{id}",
            get(npm::security_keys::approve_page),
        )
        .route(
            "/-/stepup/approve/{id}/key-options",
            post(npm::security_keys::approve_options),
        )
        .route(
            "/-/stepup/approve/{id}/key",
            post(npm::security_keys::approve),
        )
        .route(
            "/-/package/{name}/trust",
            get(npm::trust::list).post(npm::trust::configure),
        )
        .route(
            "/-/npm/v1/oidc/token/exchange/package/{name}",
            post(npm::trust::exchange),
        )
        .fallback(npm::gateway::proxy)
        .layer(DefaultBodyLimit::max(npm::gate::MAX_PUBLISH_BODY))
        .with_state(app)
}

/// The server: every npm request is classified by the gate, and refused or rewritten to its
/// canonical path, before routing (a layer on the routes themselves would run after routing).
pub fn router(app: Shared) -> Router {
    use tower_layer::Layer as _;
    let gated = axum::middleware::from_fn_with_state(app.clone(), npm::gate::gate)
        .layer(routes(app.clone()));
    let timed = axum::middleware::from_fn_with_state(app, timed).layer(gated);
    Router::new().fallback_service(timed)
}

/// Times every answer for `/v1/metrics`.
async fn timed(
    axum::extract::State(app): axum::extract::State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let answer = next.run(req).await;
    app.metrics
        .http(answer.status().as_u16(), started.elapsed());
    answer
}

/// How long a client may take to send a request's headers; a connection that trickles them is
/// closed (bodies have their own limit in the gate).
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Accepts connections until `stopped`, then lets in-flight requests finish. Each connection is
/// served by hyper with a header read timeout (G10), which `axum::serve` does not offer, and
/// carries its peer address as axum's `ConnectInfo`.
async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    stopped: oneshot::Receiver<()>,
    drain: std::time::Duration,
) -> Result<(), ServeError> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let builder = builder.http1_only();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors and the like: wait, do not spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let svc = router
                    .clone()
                    .layer(axum::Extension(axum::extract::ConnectInfo(peer)));
                let svc = hyper_util::service::TowerToHyperService::new(svc);
                let Some(acceptor) = &tls else {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
                    let conn = graceful.watch(conn.into_owned());
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                    continue;
                };
                // The handshake runs in the connection's own task, within the header read
                // timeout: a client that stalls it holds nothing but its socket.
                let handshake = acceptor.accept(stream);
                let (builder, watcher) = (builder.clone(), graceful.watcher());
                tokio::spawn(async move {
                    let stream = match tokio::time::timeout(HEADER_READ_TIMEOUT, handshake).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = &mut stopped => break,
        }
    }
    drop(listener);
    // In-flight requests finish, but not forever: one hung behind a frozen client or registry
    // does not keep a stopping server alive.
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            seconds = drain.as_secs(),
            "requests still in flight at the drain deadline are cut off"
        );
    }
    Ok(())
}

/// A running server (tests and embedding).
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Shared state.
    pub app: Shared,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, closes the store.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.map_err(|e| ServeError::Io(e.to_string()))?
    }
}

/// `name` in the SQLite file's folder (the working folder when it has none).
fn beside_db(opts: &ServeOptions, name: &str) -> PathBuf {
    opts.db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from(name), |p| p.join(name))
}

/// Where the policy comes from: the component (built in unless named), the configuration, and
/// the compiled-component cache (default: `stepup-cache` beside the SQLite file).
fn policy_source(opts: &ServeOptions) -> PolicySource {
    PolicySource {
        component: opts.component.clone(),
        config: opts.config.clone(),
        cache_dir: Some(
            opts.cache_dir
                .clone()
                .unwrap_or_else(|| beside_db(opts, "stepup-cache")),
        ),
    }
}

/// Opens the store, loads the policy and starts listening.
pub async fn start(opts: &ServeOptions) -> Result<Running, ServeError> {
    let (sealer, key_file) = sealer(opts)?;
    let database_url = opts.database_url.clone().or_else(|| {
        std::env::var("STEPUP_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
    });
    let url = match database_url {
        Some(u) => StoreUrl::Postgres(u),
        None => StoreUrl::Sqlite(opts.db.display().to_string()),
    };
    if !(opts.init_store || opts.dev || Store::exists(&url).await?) {
        let place = match &url {
            StoreUrl::Sqlite(p) => format!("{p} does not exist"),
            StoreUrl::Postgres(_) => "the PostgreSQL database holds no stepup tables".to_owned(),
        };
        return Err(ServeError::Store(format!(
            "{place}. A new store starts empty: every account's 2FA, tokens and replay state would be gone. If the store should be there, check --db / --database-url and the volume; to create a new one, start once with --init-store."
        )));
    }
    let store = Store::open(&url).await?;
    let place = match &url {
        StoreUrl::Sqlite(p) => p.clone(),
        StoreUrl::Postgres(_) => "the PostgreSQL database".to_owned(),
    };
    identity::check(
        &store,
        &sealer,
        key_file.as_deref(),
        opts.store_id.as_deref(),
        &place,
    )
    .await?;
    let source = policy_source(opts);
    let instances = opts
        .instances
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let policy = tokio::task::spawn_blocking(move || PolicyHost::load(source, instances))
        .await
        .map_err(|e| ServeError::Policy(e.to_string()))??;
    let client_tls = tls::client_config(opts.ca_file.as_deref())?;
    let timeouts = upstream::Timeouts {
        connect: std::time::Duration::from_secs(opts.upstream_connect_timeout),
        response: std::time::Duration::from_secs(opts.upstream_timeout),
    };
    let metrics = Arc::new(metrics::Metrics::new(
        policy.failures.clone(),
        policy.restarts.clone(),
    ));
    let upstream = opts
        .upstream
        .as_deref()
        .map(|u| Upstream::new(u, timeouts, &client_tls, metrics.clone()))
        .transpose()?;
    let mail_dir = opts
        .mail_dir
        .clone()
        .unwrap_or_else(|| beside_db(opts, "stepup-mail"));
    let app = Arc::new(App {
        policy,
        store,
        sealer,
        upstream,
        public_url: opts
            .public_url
            .as_ref()
            .map(|u| u.trim_end_matches('/').to_owned()),
        admin_token: admin_token(opts)?,
        issuer: opts.issuer.clone(),
        trusted_proxies: trusted_proxies(&opts.trusted_proxies)?,
        routes: gate_routes(opts.gate_routes.as_deref())?,
        password_failures: npm::PasswordFailures::default(),
        client_failures: npm::PasswordFailures::default(),
        outbox: Outbox::new(mail_dir, &opts.mail_from)?,
        oidc: jwks::Jwks::new(
            &opts.oidc_jwks,
            &opts.oidc_issuers,
            &client_tls,
            std::time::Duration::from_secs(30),
        )?,
        impact: impact::Impact::default(),
        stage_limits: store::StageLimits {
            ttl: i64::try_from(opts.stage_ttl_days.saturating_mul(86_400)).unwrap_or(i64::MAX),
            per_package: i64::try_from(opts.stage_limit_per_package).unwrap_or(i64::MAX),
            bytes_per_account: i64::try_from(opts.stage_quota_mb.saturating_mul(1 << 20))
                .unwrap_or(i64::MAX),
        },
        metrics,
        metrics_token: secret_file(opts.metrics_token_file.as_deref(), "--metrics-token-file")?,
        read_access: npm::read_access::ReadAccess::new(opts.reads_without_credential),
    });
    app.impact.refresh(&app.store, now()).await?;
    let listener = TcpListener::bind(&opts.listen)
        .await
        .map_err(|e| ServeError::Io(format!("cannot listen on {}: {e}", opts.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Io(e.to_string()))?;
    let loaded = app.policy.loaded();
    tracing::info!(%addr, store = app.store.backend(), gateway = app.upstream.is_some(), component = %loaded.component, config = %loaded.config, preset = %loaded.preset, "stepup serving");
    let acceptor = match (&opts.tls_cert, &opts.tls_key) {
        (Some(cert), Some(key)) => Some(tokio_rustls::TlsAcceptor::from(tls::server_config(
            cert, key,
        )?)),
        _ => None,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let impact_period = opts.impact_period;
    let drain = std::time::Duration::from_secs(opts.drain_timeout);
    let service = router(app.clone());
    let state = app.clone();
    let task = tokio::spawn(async move {
        let pruner = {
            let state = state.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                    if let Err(e) = state.store.prune(now()).await {
                        tracing::warn!(error = %e, "pruning expired rows failed");
                    }
                    match state
                        .store
                        .prune_staged(now().saturating_sub(state.stage_limits.ttl))
                        .await
                    {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(expired = n, "staged publishes expired"),
                        Err(e) => {
                            tracing::warn!(error = %e, "pruning expired staged publishes failed")
                        }
                    }
                }
            })
        };
        let impact = {
            let state = state.clone();
            let period = std::time::Duration::from_secs(impact_period);
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(period) => {}
                        () = state.impact.wait_changed() => {}
                    }
                    impact_tick(&state).await;
                }
            })
        };
        let r = serve(listener, acceptor, service, stopped, drain).await;
        pruner.abort();
        impact.abort();
        // Counted downloads are written before the store closes: a stop loses none.
        if let Err(e) = state.impact.flush(&state.store).await {
            tracing::error!(error = %e, unflushed = state.impact.unflushed(), "could not write the counted downloads at shutdown");
        }
        state.store.close().await;
        r
    });
    Ok(Running {
        addr,
        app,
        stop: Some(stop),
        task,
    })
}

/// Writes the counted downloads and rebuilds the impact index; a failure is logged and retried
/// at the next tick (the counts stay in memory).
async fn impact_tick(app: &App) {
    if let Err(e) = app.impact.flush(&app.store).await {
        tracing::warn!(error = %e, unflushed = app.impact.unflushed(), "writing counted downloads failed; kept for the next try");
    }
    if let Err(e) = app.impact.refresh(&app.store, now()).await {
        tracing::warn!(error = %e, "rebuilding the package-impact index failed; the previous one stays");
    }
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STEPUP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal: a log file or a journal gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Runs the server until SIGINT/SIGTERM (graceful) — SIGHUP reloads the policy.
pub fn run(opts: &ServeOptions) -> Result<(), ServeError> {
    if opts.print_config {
        return print_config(opts);
    }
    init_logs(&opts.log_format);
    if opts.precompile {
        let source = policy_source(opts);
        let cache = source.cache_dir.clone();
        PolicyHost::load(source, 1)?;
        if let Some(dir) = cache {
            println!("{}", dir.display());
        }
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServeError::Io(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        let running = start(opts).await?;
        let app = running.app.clone();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hup = signal(SignalKind::hangup()).map_err(|e| ServeError::Io(e.to_string()))?;
            let mut term = signal(SignalKind::terminate()).map_err(|e| ServeError::Io(e.to_string()))?;
            loop {
                tokio::select! {
                    _ = hup.recv() => {
                        let a = app.clone();
                        let reloaded = tokio::task::spawn_blocking(move || a.policy.reload()).await;
                        app.metrics.reload(matches!(reloaded, Ok(Ok(_))));
                        match reloaded {
                            Ok(Ok(l)) => tracing::info!(generation = l.generation, component = %l.component, config = %l.config, "SIGHUP: policy reloaded"),
                            Ok(Err(e)) => tracing::warn!(error = %e, "SIGHUP: reload refused; the running policy stays"),
                            Err(e) => tracing::warn!(error = %e, "SIGHUP: reload failed"),
                        }
                    }
                    _ = term.recv() => break,
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
        running.shutdown().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

static JSON_NULL: serde_json::Value = serde_json::Value::Null;

/// `v[key]` without a panic path: `null` when absent or `v` is no object.
pub fn json_field<'a>(v: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    v.get(key).unwrap_or(&JSON_NULL)
}

/// `v[key] = value` without a panic path (ignored when `v` is no object).
pub fn json_set(v: &mut serde_json::Value, key: &str, value: serde_json::Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert(key.to_owned(), value);
    }
}

/// The README's example, compiled with the doc tests so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
