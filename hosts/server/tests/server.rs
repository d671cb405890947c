//! The server over real HTTP: the decision API against the native engine, the OpenAPI document,
//! hot reload, and "one code, one winner" with two instances sharing one store (SQLite file, and
//! PostgreSQL when `STEPUP_TEST_DATABASE_URL` is set — the test script starts one).
#![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "test helpers")]

use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use stepup_server::{Running, ServeOptions, start};

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

struct Http(Client<HttpConnector, Body>);

impl Http {
    fn new() -> Http {
        Http(Client::builder(TokioExecutor::new()).build(HttpConnector::new()))
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> (StatusCode, HeaderMap, String) {
        let mut b = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let res = self.0.request(b.body(body.into()).unwrap()).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    async fn json(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut h = headers.to_vec();
        h.push(("content-type", "application/json"));
        let (s, hm, text) = self.send(method, url, &h, body.to_string()).await;
        (
            s,
            hm,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn options(dir: &Path) -> ServeOptions {
    let key = dir.join("key");
    std::fs::write(&key, KEY).unwrap();
    ServeOptions {
        listen: "127.0.0.1:0".into(),
        db: dir.join("stepup.sqlite3"),
        database_url: None,
        config: None,
        component: None,
        cache_dir: Some(cache_dir()),
        upstream: None,
        public_url: None,
        key_file: Some(key),
        dev: false,
        mail_dir: Some(dir.join("mail")),
        issuer: "test".into(),
        trusted_proxies: Vec::new(),
        gate_routes: None,
        mail_from: "stepup <noreply@localhost>".into(),
        log_format: "text".into(),
        admin_token_file: None,
        instances: Some(2),
        oidc_jwks: Vec::new(),
        oidc_issuers: Vec::new(),
        impact_period: 60,
        metrics_token_file: None,
        init_store: true,
        reads_without_credential: false,
        print_config: false,
        precompile: false,
        store_id: None,
        settings: None,
        ca_file: None,
        tls_cert: None,
        tls_key: None,
        drain_timeout: 30,
        upstream_connect_timeout: 5,
        upstream_timeout: 60,
        stage_ttl_days: 14,
        stage_limit_per_package: 20,
        stage_quota_mb: 256,
    }
}

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stepup-cache")
}

fn tempdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn url(r: &Running, path: &str) -> String {
    format!("http://{}{path}", r.addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_api_matches_the_native_engine_and_the_openapi_document() {
    let dir = tempdir("api");
    let server = start(&options(&dir)).await.unwrap();
    let http = Http::new();
    let native = stepup_core::Policy::default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let request = std::fs::read_to_string(root.join("tests/fixtures/bench-publish.json")).unwrap();
    let (s, _, body) = http
        .send(
            Method::POST,
            &url(&server, "/v1/evaluate"),
            &[],
            request.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body,
        native.evaluate_json(&request),
        "the component over HTTP and the native engine disagree"
    );
    // Hostile documents: nested 100,000 deep, and 2 MiB (the engine's limit is 1 MiB).
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let huge = format!(r#"{{"now":1,"pad":"{}"}}"#, "x".repeat(2 << 20));
    for bad in [
        "{\"now\": 1}",
        "not json",
        "{\"now\":1,\"action\":{\"kind\":\"package.teleport\"}}",
        deep.as_str(),
        huge.as_str(),
    ] {
        let (s, _, body) = http
            .send(
                Method::POST,
                &url(&server, "/v1/evaluate"),
                &[],
                bad.to_owned(),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body, native.evaluate_json(bad));
    }
    // Every conformance case's authorize document decides the same over HTTP.
    let case = json!({"request": serde_json::from_str::<Value>(&request).unwrap(), "secrets": {"totp_secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}, "present": {"code": "000000"}});
    let (s, _, body) = http
        .send(
            Method::POST,
            &url(&server, "/v1/authorize"),
            &[],
            case.to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, native.authorize_json(&case.to_string()));

    let (s, _, health) = http
        .json(Method::GET, &url(&server, "/v1/health"), &[], &Value::Null)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(health["store"], "sqlite");
    assert_eq!(health["policy"]["preset"], "npmjs-2026");

    let (s, _, doc) = http
        .json(
            Method::GET,
            &url(&server, "/v1/openapi.json"),
            &[],
            &Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let router_src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in router_src
        .lines()
        .filter(|l| l.trim_start().starts_with(".route(\""))
    {
        let path = line.split('"').nth(1).unwrap();
        assert!(
            paths.contains_key(path),
            "route {path} is missing from openapi.json"
        );
    }
    // Answers carry what the document says they carry.
    let schemas = &doc["components"]["schemas"];
    let decision: Value = serde_json::from_str(&native.evaluate_json(&request)).unwrap();
    for field in schemas["Decision"]["required"].as_array().unwrap() {
        assert!(
            decision.get(field.as_str().unwrap()).is_some(),
            "decision lacks {field}"
        );
    }
    for field in schemas["Health"]["required"].as_array().unwrap() {
        assert!(
            health.get(field.as_str().unwrap()).is_some(),
            "health lacks {field}"
        );
    }
    // Without --upstream, npm traffic is not proxied anywhere.
    let (s, _, _) = http
        .send(Method::GET, &url(&server, "/left-pad"), &[], Body::empty())
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_the_policy_and_keeps_the_old_one_when_the_new_one_fails() {
    let dir = tempdir("reload");
    let config = dir.join("policy.json");
    std::fs::write(&config, r#"{"preset": "npmjs-2026"}"#).unwrap();
    let admin = dir.join("admin");
    std::fs::write(&admin, "let-me-reload\n").unwrap();
    let mut opts = options(&dir);
    opts.config = Some(config.clone());
    opts.admin_token_file = Some(admin);
    let server = start(&opts).await.unwrap();
    let http = Http::new();
    let reload = |token: &'static str| {
        let http = &http;
        let u = url(&server, "/v1/admin/reload");
        async move {
            http.json(Method::POST, &u, &[("authorization", token)], &Value::Null)
                .await
        }
    };
    let (s, h, _) = reload("Bearer wrong").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(h.get("www-authenticate").is_some());

    std::fs::write(&config, r#"{"preset": "npmjs-2022"}"#).unwrap();
    let (s, _, body) = reload("Bearer let-me-reload").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["policy"]["preset"], "npmjs-2022");
    assert_eq!(body["policy"]["generation"], 1);

    std::fs::write(&config, r#"{"preset": "npmjs-2030"}"#).unwrap();
    let (s, _, body) = reload("Bearer let-me-reload").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap().contains("preset"), "{body}");
    assert_eq!(
        body["policy"]["preset"], "npmjs-2022",
        "the running policy must stay"
    );
    let (_, _, health) = http
        .json(Method::GET, &url(&server, "/v1/health"), &[], &Value::Null)
        .await;
    assert_eq!(health["policy"]["preset"], "npmjs-2022");
    let request = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/bench-publish.json"),
    )
    .unwrap();
    let (s, _, _) = http
        .send(Method::POST, &url(&server, "/v1/evaluate"), &[], request)
        .await;
    assert_eq!(s, StatusCode::OK, "still serving after a refused reload");
    // A refused reload is more than a log line: the instance is not ready until one succeeds.
    let (s, _, ready) = http
        .json(Method::GET, &url(&server, "/v1/ready"), &[], &Value::Null)
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["policy"]["last_reload"]["ok"], false);
    assert!(
        ready["policy"]["last_reload"]["error"]
            .as_str()
            .unwrap()
            .contains("preset"),
        "{ready}"
    );
    std::fs::write(&config, r#"{"preset": "npmjs-2026"}"#).unwrap();
    let (s, _, _) = reload("Bearer let-me-reload").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, ready) = http
        .json(Method::GET, &url(&server, "/v1/ready"), &[], &Value::Null)
        .await;
    assert_eq!(s, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "ready");
    server.shutdown().await.unwrap();
}

/// An upstream registry that knows one password ("pw") for everyone.
/// The Basic user whose password is `pw`, if the header carries one.
fn basic_user(headers: &HeaderMap) -> Option<String> {
    use base64::Engine as _;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let decoded = auth
        .strip_prefix("Basic ")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    match decoded.split_once(':') {
        Some((user, "pw")) => Some(user.to_owned()),
        _ => None,
    }
}

/// A registry whose every account has the password `pw`: `whoami` answers Basic credentials
/// (the gateway's side-effect-free password check), the couch login hands out a token.
async fn fake_upstream() -> (String, tokio::task::JoinHandle<()>) {
    serve_registry(registry_routes()).await
}

/// The fake registry's routes, for a test to add its own to.
fn registry_routes() -> axum::Router {
    use axum::routing::{get, put};
    axum::Router::new()
        .route(
            "/{pkg}/-/{file}",
            get(|| async { (StatusCode::OK, "tarball bytes") }),
        )
        .route(
            "/-/package/{pkg}/dist-tags/{tag}",
            put(|| async { (StatusCode::CREATED, json!({"ok": true}).to_string()) }),
        )
        .route(
            "/-/whoami",
            get(|headers: HeaderMap| async move {
                match basic_user(&headers) {
                    Some(user) => (StatusCode::OK, json!({"username": user}).to_string()),
                    None => (
                        StatusCode::UNAUTHORIZED,
                        json!({"error": "unauthorized access"}).to_string(),
                    ),
                }
            }),
        )
        .route(
            "/-/user/{id}",
            put(|headers: HeaderMap, _body: Bytes| async move {
                match basic_user(&headers) {
                    Some(user) => (
                        StatusCode::CREATED,
                        json!({"ok": true, "token": format!("up-{user}")}).to_string(),
                    ),
                    None => (
                        StatusCode::UNAUTHORIZED,
                        json!({"error": "unauthorized access"}).to_string(),
                    ),
                }
            }),
        )
}

/// Serves `app` on a loopback port.
async fn serve_registry(app: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), task)
}

async fn login(
    http: &Http,
    server: &Running,
    name: &str,
    otp: Option<&str>,
) -> (StatusCode, Value) {
    let mut headers = vec![("npm-command", "login")];
    if let Some(o) = otp {
        headers.push(("npm-otp", o));
    }
    let body = json!({"name": name, "password": "pw"});
    let (s, _, v) = http
        .json(
            Method::PUT,
            &url(server, &format!("/-/user/org.couchdb.user:{name}")),
            &headers,
            &body,
        )
        .await;
    (s, v)
}

/// Fires `n` identical logins carrying `code` at the two servers at once; returns how many won.
async fn race(a: &Running, b: &Running, name: &str, code: &str, n: usize) -> usize {
    let mut tasks = Vec::new();
    for i in 0..n {
        let target = url(
            if i % 2 == 0 { a } else { b },
            &format!("/-/user/org.couchdb.user:{name}"),
        );
        let code = code.to_owned();
        tasks.push(tokio::spawn(async move {
            let http = Http::new();
            let (s, _, _) = http
                .json(
                    Method::PUT,
                    &target,
                    &[("npm-command", "login"), ("npm-otp", &code)],
                    &json!({"name": "x", "password": "pw"}),
                )
                .await;
            s
        }));
    }
    let mut won = 0;
    for t in tasks {
        let s = t.await.unwrap();
        assert!(
            s == StatusCode::CREATED || s == StatusCode::UNAUTHORIZED,
            "unexpected {s}"
        );
        if s == StatusCode::CREATED {
            won += 1;
        }
    }
    won
}

/// Logs `name` in and turns 2FA on (`auth-and-writes`): its bearer token, TOTP secret and
/// recovery codes.
async fn enrol(http: &Http, server: &Running, name: &str) -> (String, Vec<u8>, Vec<String>) {
    let cfg = stepup_core::Policy::default().config().totp;
    let (s, v) = login(http, server, name, None).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = format!("Bearer {}", v["token"].as_str().unwrap());
    let profile = url(server, "/-/npm/v1/user");
    let (s, _, enrol) = http
        .json(
            Method::POST,
            &profile,
            &[("authorization", &token)],
            &json!({"tfa": {"password": "pw", "mode": "auth-and-writes"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{enrol}");
    let uri = enrol["tfa"].as_str().unwrap();
    let secret_b32 = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let secret = stepup_core::wire::encoding::base32_decode(secret_b32).unwrap();
    let now = u64::try_from(stepup_server::now()).unwrap();
    let first = stepup_core::codes::totp::generate(&cfg, &secret, now);
    let (s, _, codes) = http
        .json(
            Method::POST,
            &profile,
            &[("authorization", &token)],
            &json!({"tfa": [first]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{codes}");
    let recovery = codes["tfa"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (token, secret, recovery)
}

async fn one_code_one_winner(dir: &Path, database_url: Option<String>) {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let (upstream, _task) = fake_upstream().await;
    // No emailed login codes and no throttling here: this test is about replay across instances.
    let config = unthrottled_policy(dir);
    let mut opts = options(dir);
    opts.upstream = Some(upstream);
    opts.config = Some(config);
    opts.database_url = database_url;
    let a = start(&opts).await.unwrap();
    let b = start(&opts).await.unwrap();
    let http = Http::new();
    let cfg = stepup_core::Policy::default().config().totp;
    let run = std::process::id();
    for k in 0..6 {
        let name = format!("racer{run}x{k}");
        let (_, secret, recovery) = enrol(&http, &a, &name).await;
        let recovery = recovery[0].clone();
        let now = u64::try_from(stepup_server::now()).unwrap();
        // Without a code, a login is challenged.
        let (s, _) = login(&http, &b, &name, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        // The next step's code (inside the ±1 window): sixteen at once, one winner.
        let next = stepup_core::codes::totp::generate(&cfg, &secret, now + 30);
        assert_eq!(
            race(&a, &b, &name, &next, 16).await,
            1,
            "TOTP step accepted more than once ({name})"
        );
        assert_eq!(
            race(&a, &b, &name, &recovery, 16).await,
            1,
            "recovery code accepted more than once ({name})"
        );
        // Both stay used.
        assert_eq!(
            login(&http, &b, &name, Some(&recovery)).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_one_winner_across_two_instances_sqlite() {
    one_code_one_winner(&tempdir("race-sqlite"), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_one_winner_across_two_instances_postgres() {
    let Some(url) = std::env::var("STEPUP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            std::env::var("STEPUP_REQUIRE_POSTGRES").is_err(),
            "STEPUP_REQUIRE_POSTGRES is set but STEPUP_TEST_DATABASE_URL is not"
        );
        eprintln!("SKIPPED: set STEPUP_TEST_DATABASE_URL to run against PostgreSQL");
        return;
    };
    one_code_one_winner(&tempdir("race-postgres"), Some(url)).await;
}

/// G10: a client that trickles its headers is disconnected after the header read timeout,
/// while a prompt request on another connection is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempdir("trickle");
    let server = start(&options(&dir)).await.unwrap();
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let started = std::time::Instant::now();
    slow.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One more header byte per second: each byte arrives well inside any idle timeout.
    let writer = tokio::spawn(async move {
        for _ in 0..30 {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            if slow.write_all(b"X").await.is_err() {
                break;
            }
        }
        slow
    });
    let (s, _, _) = Http::new()
        .json(Method::GET, &url(&server, "/v1/health"), &[], &Value::Null)
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "a trickling client does not hold up others"
    );
    let mut slow = writer.await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut rest),
    )
    .await;
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(25),
        "still connected after {waited:?}"
    );
    assert!(
        waited >= stepup_server::HEADER_READ_TIMEOUT,
        "cut off before the timeout: {waited:?}"
    );
    server.shutdown().await.unwrap();
}

/// G8: guessing passwords stops at the gateway (per account), and an upstream that limits or
/// fails is passed on as 429 / 503 with `Retry-After` — never as a wrong password, which npm
/// would show as "Incorrect or missing password".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_limits_and_failures_are_not_wrong_passwords() {
    use axum::routing::{get, put};
    // An upstream that rate-limits `limited`, fails for `broken`, and knows nobody else.
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    let app = axum::Router::new()
        .route(
            "/{pkg}/-/{file}",
            get(|| async { (StatusCode::OK, "tarball bytes") }),
        )
        .route(
            "/-/whoami",
            get(move |headers: HeaderMap| {
                let seen = seen.clone();
                async move {
                    seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    match basic_user(&headers).as_deref() {
                        Some("limited") => (StatusCode::TOO_MANY_REQUESTS, "{}".to_owned()),
                        Some("broken") => (StatusCode::INTERNAL_SERVER_ERROR, "{}".to_owned()),
                        _ => (StatusCode::UNAUTHORIZED, "{}".to_owned()),
                    }
                }
            }),
        )
        .route(
            "/-/user/{id}",
            put(|| async { (StatusCode::CONFLICT, "{}".to_owned()) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempdir("upstream-limits");
    let mut opts = options(&dir);
    opts.upstream = Some(upstream);
    let server = start(&opts).await.unwrap();
    let http = Http::new();
    let login = |name: &'static str, password: &'static str| {
        let http = &http;
        let target = url(&server, &format!("/-/user/org.couchdb.user:{name}"));
        async move {
            http.json(
                Method::PUT,
                &target,
                &[("npm-command", "login")],
                &json!({"name": name, "password": password}),
            )
            .await
        }
    };
    let (s, h, _) = login("limited", "pw").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(h.get("retry-after").is_some());
    let (s, h, _) = login("broken", "pw").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert!(h.get("retry-after").is_some());
    // Ten wrong passwords for one account, then the gateway answers without asking upstream.
    for _ in 0..stepup_server::npm::PasswordFailures::LIMIT {
        let (s, h, _) = login("guessed", "wrong").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_ne!(
            h.get("www-authenticate").map(|v| v.to_str().unwrap()),
            Some("OTP")
        );
    }
    let before = calls.load(std::sync::atomic::Ordering::SeqCst);
    let (s, h, _) = login("guessed", "right-this-time").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(h.get("retry-after").is_some());
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "the upstream was not asked"
    );
    // Another account is not held up...
    let (s, _, _) = login("someone-else", "wrong").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // ...but one client guessing across accounts is: 11 wrong passwords so far, 19 more.
    for i in 0..19 {
        let target = url(&server, &format!("/-/user/org.couchdb.user:spray{i}"));
        let (s, _, _) = http
            .json(
                Method::PUT,
                &target,
                &[],
                &json!({"name": format!("spray{i}"), "password": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let before = calls.load(std::sync::atomic::Ordering::SeqCst);
    let (s, h, v) = login("fresh-account", "pw").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(h.get("retry-after").is_some());
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "the upstream was not asked"
    );
    server.shutdown().await.unwrap();
}

/// A failure of the policy component itself (here a guest that traps) is the server's fault:
/// `/v1/evaluate` answers 503 with `Retry-After`, not the 400 that tells a caller its input was
/// wrong; the same server still answers 400 for bad input and decides what the guest can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_component_is_a_503_not_bad_input() {
    let dir = tempdir("hostile");
    let component = dir.join("hostile.wasm");
    std::fs::write(&component, stepup_wasmtime::HOSTILE_FIXTURE).unwrap();
    let mut opts = options(&dir);
    opts.component = Some(component);
    opts.upstream = None;
    let server = start(&opts).await.unwrap();
    let http = Http::new();
    let trap = r#"{"now":1,"action":{"kind":"login"},"account":{"id":"trap"},"credential":{"kind":"session"}}"#;
    let (s, headers, body) = http
        .send(
            Method::POST,
            &url(&server, "/v1/evaluate"),
            &[],
            trap.to_owned(),
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        headers.get("retry-after").map(|v| v.to_str().unwrap()),
        Some("1")
    );
    assert!(body.contains("trapped"), "{body}");
    let ok = trap.replace("\"trap\"", "\"ok\"");
    let (s, _, _) = http
        .send(Method::POST, &url(&server, "/v1/evaluate"), &[], ok)
        .await;
    assert_eq!(s, StatusCode::OK);
    // The trapped instances were discarded and made afresh: an operator sees it.
    let (_, _, text) = http
        .send(Method::GET, &url(&server, "/v1/metrics"), &[], "")
        .await;
    let restarts: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("stepup_component_restarts_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(restarts >= 1, "{text}");
    assert!(text.contains("stepup_component_failures_total 1"), "{text}");
}

/// The schema is applied by tracked migrations: a new store records each step once, a store
/// made before steps were tracked (tables present, no record) keeps its rows and is brought
/// under tracking, and a recorded step whose text changed since is refused at start rather
/// than silently diverging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_are_migrated_once_and_older_stores_keep_their_rows() {
    use stepup_server::store::{Store, StoreUrl};
    let dir = tempdir("migrations");
    let fresh = StoreUrl::Sqlite(dir.join("fresh.db").display().to_string());
    let store = Store::open(&fresh).await.expect("a new store opens");
    assert_eq!(
        store.schema_versions().await.unwrap(),
        vec![1, 2, 3, 4, 5, 6, 7]
    );
    store.close().await;
    let again = Store::open(&fresh)
        .await
        .expect("a migrated store opens again");
    assert_eq!(
        again.schema_versions().await.unwrap(),
        vec![1, 2, 3, 4, 5, 6, 7]
    );
    again.close().await;

    // A store from before migrations were tracked: the same tables, one account, no record.
    let old_path = dir.join("old.db");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}?mode=rwc", old_path.display()))
        .await
        .unwrap();
    sqlx::raw_sql(include_str!("../migrations/0001_tables.sql"))
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO accounts (name, tfa_mode, created) VALUES ('old', 'auth-only', 1)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let old = StoreUrl::Sqlite(old_path.display().to_string());
    let store = Store::open(&old).await.expect("an untracked store opens");
    // Step 1 is recorded as it is, the steps after it are applied.
    assert_eq!(
        store.schema_versions().await.unwrap(),
        vec![1, 2, 3, 4, 5, 6, 7]
    );
    let account = store
        .account("old")
        .await
        .unwrap()
        .expect("the row is kept");
    assert_eq!(account.tfa_mode.as_deref(), Some("auth-only"));
    // Later steps' columns are there for old rows too.
    store
        .record_login("old", 5)
        .await
        .expect("last_login exists");
    store.close().await;

    // The recorded step no longer matches what it recorded: refused, with the reason.
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", old_path.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let refused = Store::open(&old)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    let message = refused.expect_err("a changed step is refused");
    assert!(message.contains("up to date"), "{message}");
}

/// Package impact: tarball downloads are counted in memory and written at shutdown (none
/// lost), weekly figures read the seven full days before today, imported figures raise counted
/// ones, and the admin API shows the index decisions read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_are_counted_written_at_shutdown_and_combined_with_imports() {
    use stepup_server::store::{Store, StoreUrl};
    let (upstream, _task) = fake_upstream().await;
    let dir = tempdir("impact");
    let token = dir.join("admin-token");
    std::fs::write(&token, "admin-secret").unwrap();
    let mut opts = options(&dir);
    opts.upstream = Some(upstream);
    opts.admin_token_file = Some(token);
    // No tick during the test: what reaches the store is what shutdown wrote.
    opts.impact_period = 3600;
    let server = start(&opts).await.unwrap();
    let http = Http::new();
    for path in [
        "/left-pad/-/left-pad-1.3.0.tgz",
        "/left-pad/-/left-pad-1.3.0.tgz",
        "/%40acme%2fwidget/-/widget-1.0.0.tgz",
        "/@acme/widget/-/widget-1.0.0.tgz",
        "/left-pad/-/left-pad-1.3.0.tgz",
    ] {
        let (s, _, body) = http.send(Method::GET, &url(&server, path), &[], "").await;
        assert_eq!(
            (s, body.as_str()),
            (StatusCode::OK, "tarball bytes"),
            "{path}"
        );
    }
    // A packument read is no download.
    let _ = http
        .send(Method::GET, &url(&server, "/left-pad"), &[], "")
        .await;
    assert_eq!(server.app.impact.unflushed(), 5);
    server.shutdown().await.unwrap();

    let today = stepup_server::impact::day_of(stepup_server::now());
    let store = Store::open(&StoreUrl::Sqlite(opts.db.display().to_string()))
        .await
        .unwrap();
    assert_eq!(
        store.downloads("left-pad", today, today + 1).await.unwrap(),
        3
    );
    assert_eq!(
        store
            .downloads("@acme/widget", today, today + 1)
            .await
            .unwrap(),
        2
    );
    // Last week's traffic, and today's, which the weekly figure leaves out.
    store
        .add_downloads(&[
            ("left-pad".into(), today - 1, 1_500_000),
            ("left-pad".into(), today - 7, 100),
            ("left-pad".into(), today - 8, 999_999_999),
            ("@acme/widget".into(), today - 2, 40),
        ])
        .await
        .unwrap();
    store
        .set_dependencies("@acme/widget", &["left-pad".into()])
        .await
        .unwrap();
    store
        .set_dependencies("@acme/gadget", &["left-pad".into(), "@acme/widget".into()])
        .await
        .unwrap();
    store.add_maintainer("left-pad", "alice").await.unwrap();
    store.add_maintainer("@acme/widget", "bob").await.unwrap();
    store.close().await;

    let server = start(&opts).await.unwrap();
    let admin = [("authorization", "Bearer admin-secret")];
    let (s, _, v) = http
        .json(
            Method::GET,
            &url(&server, "/v1/admin/impact?package=left-pad&account=bob"),
            &admin,
            &Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["package"],
        json!({"weekly_downloads": 1_500_100, "dependents": 2, "dependents_rank": 1})
    );
    assert_eq!(
        v["account"],
        json!({"weekly_downloads": 40, "dependents": 1, "dependents_rank": 2})
    );
    // Imported figures raise the counted ones; bad rows are refused whole, naming the row.
    let (s, _, v) = http
        .json(Method::POST, &url(&server, "/v1/admin/impact"), &admin,
            &json!({"packages": [{"name": "@acme/widget", "weekly_downloads": 10, "dependents": 900}, {"name": "../x", "weekly_downloads": 1, "dependents": 1}]}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"].as_str().unwrap().starts_with("packages[1].name"),
        "{v}"
    );
    let (s, _, v) = http
        .json(Method::POST, &url(&server, "/v1/admin/impact"), &admin,
            &json!({"packages": [{"name": "@acme/widget", "weekly_downloads": 10, "dependents": 900}]}))
        .await;
    assert_eq!((s, &v["imported"]), (StatusCode::OK, &json!(1)), "{v}");
    let (_, _, v) = http
        .json(
            Method::GET,
            &url(&server, "/v1/admin/impact?account=bob"),
            &admin,
            &Value::Null,
        )
        .await;
    assert_eq!(
        v["account"],
        json!({"weekly_downloads": 40, "dependents": 900, "dependents_rank": 1})
    );
    let (s, _, _) = http
        .json(
            Method::GET,
            &url(&server, "/v1/admin/impact"),
            &[("authorization", "Bearer wrong")],
            &Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    server.shutdown().await.unwrap();
}

/// Orgs in the store, on SQLite and (when `STEPUP_TEST_DATABASE_URL` is set) PostgreSQL:
/// membership and roles, teams, what decisions read, and turning enforcement on removing, in
/// one transaction, exactly the members still without 2FA (and their team places).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orgs_enforcement_removes_exactly_the_members_without_2fa() {
    use stepup_server::store::{MemberSet, Store};
    for url in store_urls(&tempdir("orgs")) {
        let store = Store::open(&url).await.unwrap();
        // Names unique per run: a PostgreSQL store outlives the test.
        let org = format!("acme-{}", std::process::id());
        for name in ["o1", "d1", "d2"] {
            store.account_or_create(name, 1).await.unwrap();
        }
        // Unique per run: the invitee joins for good below.
        let inv = format!("inv-{}", std::process::id());
        store.account_or_create(&inv, 1).await.unwrap();
        let key = |id: &str| stepup_server::store::KeyRow {
            id: format!("{id}-{}", std::process::id()),
            public_key: "AQ".into(),
            sign_count: 0,
        };
        // A first security key turns 2FA on.
        store
            .add_security_key("o1", &key("o1"), "ES256", &[], 1)
            .await
            .unwrap();
        assert_eq!(
            store
                .set_org_member(&org, "o1", "owner", true, true, 1)
                .await
                .unwrap(),
            MemberSet::Done(true)
        );
        // A second account creating the same org finds it taken and joins nothing.
        assert_eq!(
            store
                .set_org_member(&org, "d2", "owner", true, true, 1)
                .await
                .unwrap(),
            MemberSet::Taken
        );
        assert_eq!(
            store
                .set_org_member(&org, "d1", "admin", false, true, 1)
                .await
                .unwrap(),
            MemberSet::Done(false)
        );
        for (who, role) in [
            ("d1", "developer"),
            ("d2", "developer"),
            ("ghost", "developer"),
        ] {
            store
                .set_org_member(&org, who, role, false, true, 1)
                .await
                .unwrap();
        }
        // An account added by someone else is only invited: no member for decisions until it
        // accepts, and never removed (or mailed) by enforcement while it has not.
        store
            .set_org_member(&org, &inv, "developer", false, false, 1)
            .await
            .unwrap();
        assert!(store.orgs_of(&inv).await.unwrap().is_empty());
        assert_eq!(
            store.org_invitations(&inv).await.unwrap(),
            [(org.clone(), "developer".to_owned())]
        );
        let roles: Vec<(String, String)> = store
            .org_members(&org)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.accepted)
            .map(|m| (m.account, m.role))
            .collect();
        assert_eq!(
            roles,
            [
                ("d1", "developer"),
                ("d2", "developer"),
                ("ghost", "developer"),
                ("o1", "owner")
            ]
            .map(|(a, r)| (a.to_owned(), r.to_owned()))
        );
        assert!(store.create_team(&org, "devs", "").await.unwrap());
        assert!(!store.create_team(&org, "devs", "").await.unwrap());
        store
            .set_team_member(&org, "devs", "d1", true)
            .await
            .unwrap();
        store
            .set_team_member(&org, "devs", "o1", true)
            .await
            .unwrap();
        // d2 turns 2FA on after the plan: it stays.
        store
            .add_security_key("d2", &key("d2"), "ES256", &[], 1)
            .await
            .unwrap();
        let removed = store.set_enforce_tfa(&org, true).await.unwrap();
        assert_eq!(removed, ["d1", "ghost"]);
        // The invitation stays, and cannot be accepted without 2FA while the org enforces it;
        // with 2FA it can, once.
        use stepup_server::store::Acceptance;
        assert_eq!(
            store.accept_org_invitation(&org, &inv).await.unwrap(),
            Acceptance::NeedsTfa
        );
        assert!(store.orgs_of(&inv).await.unwrap().is_empty());
        store
            .add_security_key(&inv, &key(&inv), "ES256", &[], 1)
            .await
            .unwrap();
        assert_eq!(
            store.accept_org_invitation(&org, &inv).await.unwrap(),
            Acceptance::Joined
        );
        assert_eq!(
            store.accept_org_invitation(&org, &inv).await.unwrap(),
            Acceptance::NotInvited
        );
        assert!(
            store
                .orgs_of(&inv)
                .await
                .unwrap()
                .contains(&(org.clone(), true))
        );
        assert!(!store.decline_org_invitation(&org, &inv).await.unwrap());
        assert_eq!(store.org(&org).await.unwrap(), Some(true));
        assert!(
            store
                .orgs_of("o1")
                .await
                .unwrap()
                .contains(&(org.clone(), true))
        );
        // (Only this org: a PostgreSQL store keeps other runs' orgs.)
        assert!(
            !store
                .orgs_of("d1")
                .await
                .unwrap()
                .iter()
                .any(|(o, _)| o == &org)
        );
        assert_eq!(
            store.team_members(&org, "devs").await.unwrap(),
            Some(vec!["o1".to_owned()])
        );
        // While the org enforces 2FA, a member's 2FA stays on whatever a decision read before.
        assert!(!store.disable_tfa(&inv).await.unwrap());
        assert!(
            store
                .account(&inv)
                .await
                .unwrap()
                .unwrap()
                .tfa_mode
                .is_some()
        );
        // The org always keeps an owner: demoting the only one is refused, and of two owners
        // removing each other at once, exactly one removal happens.
        assert_eq!(
            store
                .set_org_member(&org, "o1", "developer", false, true, 1)
                .await
                .unwrap(),
            MemberSet::LastOwner
        );
        store
            .set_org_member(&org, &inv, "owner", false, true, 1)
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            store.remove_org_member(&org, "o1"),
            store.remove_org_member(&org, &inv)
        );
        let done = [a.unwrap(), b.unwrap()];
        assert_eq!(
            done.iter().filter(|r| **r == Some(true)).count(),
            1,
            "{done:?}"
        );
        assert_eq!(done.iter().filter(|r| r.is_none()).count(), 1, "{done:?}");
        let left: Vec<String> = store
            .org_members(&org)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.role == "owner")
            .map(|m| m.account)
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
        // Put o1 back as the owner for what follows.
        if left[0] != "o1" {
            store
                .set_org_member(&org, "o1", "owner", false, true, 1)
                .await
                .unwrap();
            store.remove_org_member(&org, &inv).await.unwrap();
        }
        assert!(store.set_enforce_tfa(&org, false).await.unwrap().is_empty());
        assert_eq!(store.org(&org).await.unwrap(), Some(false));
        assert!(store.destroy_team(&org, "devs").await.unwrap());
        assert_eq!(store.team_members(&org, "devs").await.unwrap(), None);
        store.close().await;
    }
}

/// Staged publishes in the store, on SQLite and (when set) PostgreSQL: each account sees the
/// staged versions of the packages it maintains and those it staged, page by page; a package
/// and an account have bounded room (staging needs no code); expired ones are unseen, then
/// pruned; and a staged publish is claimed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_publishes_are_seen_by_maintainers_and_claimed_once() {
    use stepup_server::store::{StageLimits, StageRefusal, Staged, Store};
    let limits = StageLimits {
        ttl: 100,
        per_package: 3,
        bytes_per_account: 10_000,
    };
    for url in store_urls(&tempdir("staged")) {
        let store = Store::open(&url).await.unwrap();
        let run = std::process::id();
        let pkg = format!("staged-{run}");
        let (maint, ci, other) = (format!("m-{run}"), format!("ci-{run}"), format!("x-{run}"));
        store.add_maintainer(&pkg, &maint).await.unwrap();
        let item = |n: i64, who: &str| Staged {
            id: format!("{run}-{n}"),
            package: pkg.clone(),
            version: format!("1.0.{n}"),
            tag: "latest".into(),
            account: who.to_owned(),
            actor_type: "user".into(),
            shasum: String::new(),
            created: 1000 + n,
            body: "{}".into(),
        };
        for n in 0..3 {
            store.stage(&item(n, &ci), &limits).await.unwrap().unwrap();
        }
        // The package is full: the fourth is refused and not kept.
        assert_eq!(
            store.stage(&item(3, &ci), &limits).await.unwrap(),
            Err(StageRefusal::PackageFull)
        );
        // Another package, but more bytes than the account may have waiting.
        let mut big = item(4, &ci);
        big.package = format!("other-{run}");
        big.body = "x".repeat(10_000);
        assert_eq!(
            store.stage(&big, &limits).await.unwrap(),
            Err(StageRefusal::AccountFull)
        );
        assert_eq!(store.staged_list(&ci, None, 0, 0, 100).await.unwrap().1, 3);
        // Expired (staged at or before `since`): unseen.
        assert!(
            store
                .staged(&format!("{run}-0"), 1000)
                .await
                .unwrap()
                .is_none()
        );
        let (young, n) = store
            .staged_list(&maint, Some(&pkg), 1001, 0, 100)
            .await
            .unwrap();
        assert_eq!((young.len(), n), (1, 1));
        let (page, total) = store
            .staged_list(&maint, Some(&pkg), 0, 0, 2)
            .await
            .unwrap();
        assert_eq!(total, 3);
        assert_eq!(
            page.iter().map(|s| s.version.as_str()).collect::<Vec<_>>(),
            ["1.0.0", "1.0.1"]
        );
        let (rest, _) = store
            .staged_list(&maint, Some(&pkg), 0, 1, 2)
            .await
            .unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(store.staged_list(&ci, None, 0, 0, 100).await.unwrap().1, 3);
        assert_eq!(
            store.staged_list(&other, None, 0, 0, 100).await.unwrap().1,
            0
        );
        let kept = store.staged(&format!("{run}-1"), 0).await.unwrap().unwrap();
        assert_eq!(kept.body, "{}");
        assert!(store.unstage(&kept.id).await.unwrap());
        assert!(!store.unstage(&kept.id).await.unwrap());
        // Pruning deletes what expired and nothing younger.
        assert_eq!(store.prune_staged(1000).await.unwrap(), 1);
        assert!(
            store
                .staged(&format!("{run}-2"), 0)
                .await
                .unwrap()
                .is_some()
        );
        store.unstage(&format!("{run}-2")).await.unwrap();
        store.close().await;
    }
}

/// The gateway's stores to run a test on: SQLite (`None`), and PostgreSQL when
/// `STEPUP_TEST_DATABASE_URL` is set.
fn gateway_databases() -> Vec<Option<String>> {
    std::iter::once(None)
        .chain(
            std::env::var("STEPUP_TEST_DATABASE_URL")
                .ok()
                .filter(|u| !u.is_empty())
                .map(Some),
        )
        .collect()
}

/// A policy file in `dir` with no emailed login codes and no throttle windows, for tests about
/// codes rather than their throttling.
fn unthrottled_policy(dir: &Path) -> PathBuf {
    let config = dir.join("policy.json");
    std::fs::write(
        &config,
        r#"{"login_verification": {"stages": [], "brown_outs": []}, "throttle": {"account": [], "ip": []}}"#,
    )
    .unwrap();
    config
}

/// A new SQLite store in `dir`, and the PostgreSQL one when `STEPUP_TEST_DATABASE_URL` is set.
fn store_urls(dir: &Path) -> Vec<stepup_server::store::StoreUrl> {
    use stepup_server::store::StoreUrl;
    let mut urls = vec![StoreUrl::Sqlite(dir.join("store.db").display().to_string())];
    if let Some(url) = std::env::var("STEPUP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        urls.push(StoreUrl::Postgres(url));
    }
    urls
}

/// The rollout simulator's population read from a real store: 2FA as decisions see it,
/// maintainers (one who never logged in here), org membership, access settings and imported
/// impact; then replayed, each mandate blocks whom it should from its date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_population_comes_from_the_store_and_replays() {
    use stepup_core::contract::time::parse_date;
    use stepup_core::simulation::{Block, SimulationInput, simulate};
    use stepup_server::store::{ImportedImpact, KeyRow, Store, StoreUrl};
    let dir = tempdir("rollout");
    let store = Store::open(&StoreUrl::Sqlite(
        dir.join("store.db").display().to_string(),
    ))
    .await
    .unwrap();
    for name in ["keeper", "solo", "member"] {
        store.account_or_create(name, 1).await.unwrap();
    }
    let key = KeyRow {
        id: "keeper-key".into(),
        public_key: "AQ".into(),
        sign_count: 0,
    };
    store
        .add_security_key("keeper", &key, "ES256", &[], 1)
        .await
        .unwrap();
    for (package, account) in [
        ("big", "solo"),
        ("shared", "keeper"),
        ("shared", "solo"),
        ("acme-lib", "member"),
        ("elsewhere", "ghost"),
    ] {
        store.add_maintainer(package, account).await.unwrap();
    }
    store
        .set_package_access("acme-lib", "tfa-or-token")
        .await
        .unwrap();
    store
        .set_org_member("acme", "keeper", "owner", true, true, 1)
        .await
        .unwrap();
    store
        .set_org_member("acme", "member", "developer", false, true, 1)
        .await
        .unwrap();
    store
        .import_impact(
            &[ImportedImpact {
                package: "big".into(),
                weekly_downloads: 2_000_000,
                dependents: 3,
            }],
            false,
            1,
        )
        .await
        .unwrap();
    let now = 1_800_000_000;
    let mut population = stepup_server::rollout::population(&store, now)
        .await
        .unwrap();
    store.close().await;

    let ids: Vec<&str> = population.accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["ghost", "keeper", "member", "solo"]);
    let keeper = &population.accounts[1];
    assert_eq!(
        keeper.tfa.as_ref().map(|t| t.factors.len()),
        Some(2),
        "a security key and recovery codes"
    );
    assert!(population.accounts[0].tfa.is_none());
    assert_eq!(population.accounts[2].orgs, ["acme"]);
    let big = population
        .packages
        .iter()
        .find(|p| p.name == "big")
        .unwrap();
    assert_eq!(
        (big.weekly_downloads.0, big.maintainers.as_slice()),
        (2_000_000, &["solo".to_owned()][..])
    );
    let lib = population
        .packages
        .iter()
        .find(|p| p.name == "acme-lib")
        .unwrap();
    assert_eq!(
        lib.publishing_access.map(|a| a.as_str()),
        Some("tfa-or-token")
    );
    assert_eq!(population.orgs.len(), 1);
    population.orgs[0].enforce_from = Some(stepup_core::contract::time::ConfigDate(
        parse_date("2027-02-01").unwrap(),
    ));

    let policy = stepup_core::Policy::from_json(
        r#"{"preset":"npmjs-2026","publish_floor":false,"default_publishing_access":"none",
            "cohorts":[{"name":"high-impact","from":"2027-01-15","high_impact":true}],
            "login_verification":{"stages":[],"brown_outs":[]}}"#,
    )
    .unwrap();
    let input = SimulationInput {
        population,
        from: stepup_core::contract::time::ConfigDate(parse_date("2027-01-01").unwrap()),
        to: stepup_core::contract::time::ConfigDate(parse_date("2027-02-28").unwrap()),
        at_seconds: None,
        formats: Vec::new(),
    };
    let sim = simulate(&policy, &input).unwrap();
    let first = |name: &str| {
        sim.blocked
            .iter()
            .find(|c| c.name == name)
            .map(|c| (c.date.as_str(), c.why))
    };
    assert_eq!(first("solo"), Some(("2027-01-15", Block::Cohort)));
    assert_eq!(first("member"), Some(("2027-01-01", Block::Package)));
    assert_eq!(first("keeper"), None);
    let day = |d: &str| sim.days.iter().find(|x| x.date == d).unwrap();
    assert_eq!(
        day("2027-02-01").blocked_org,
        1,
        "member, from the org's date"
    );
    let orphaned: Vec<(&str, &str)> = sim
        .orphaned
        .iter()
        .map(|c| (c.name.as_str(), c.date.as_str()))
        .collect();
    assert_eq!(
        orphaned,
        [("acme-lib", "2027-01-01"), ("big", "2027-01-15")]
    );
    assert_eq!(
        day("2027-02-28").orphaned_packages,
        2,
        "`shared` keeps a maintainer with 2FA; `elsewhere`'s upstream maintainer publishes without a mandate"
    );
}

/// The server's own JSON forms: a wrong password counts against the client as on npm's routes
/// (one password tried against many accounts is throttled), and bodies are capped at 1 MiB
/// before anyone is authenticated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_forms_count_wrong_passwords_per_client_and_cap_bodies() {
    let (upstream, _task) = fake_upstream().await;
    let dir = tempdir("own-forms");
    let mut opts = options(&dir);
    opts.upstream = Some(upstream);
    let server = start(&opts).await.unwrap();
    let http = Http::new();
    // A declared 2 MiB body is refused after its first kilobyte, without waiting for the rest
    // (sent raw: a client still writing a body the server refused may lose the answer).
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut raw = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let head = format!(
            "POST /-/stepup/security-keys/options HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            server.addr,
            2 << 20
        );
        raw.write_all(head.as_bytes()).await.unwrap();
        raw.write_all(&[b'{'; 1024]).await.unwrap();
        let mut answer = vec![0u8; 64];
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), raw.read(&mut answer))
            .await
            .expect("answered without the rest of the body")
            .unwrap();
        let line = String::from_utf8_lossy(&answer[..n]).into_owned();
        assert!(line.starts_with("HTTP/1.1 413"), "{line}");
    }
    let target = url(&server, "/-/stepup/security-keys/sign-in");
    for i in 0..stepup_server::npm::PasswordFailures::CLIENT_LIMIT {
        let name = format!("sprayed{i}");
        let (s, h, _) = http
            .json(
                Method::POST,
                &target,
                &[],
                &json!({"name": name, "password": "wrong"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
        assert!(h.get("www-authenticate").is_none(), "no browser dialog");
    }
    let (s, h, _) = http
        .json(
            Method::POST,
            &target,
            &[],
            &json!({"name": "sprayed-last", "password": "pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(h.get("retry-after").is_some());
}

/// The registry behind the gateway frozen (it accepts connections and never answers, as a
/// stopped process does): a request costs the configured response timeout and answers 504 with
/// `Retry-After`, never hangs; a registry that refuses connections answers 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_upstream_answers_504_in_time_and_a_closed_one_503() {
    let frozen = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let frozen_addr = frozen.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = frozen.accept().await {
            held.push(c);
        }
    });
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let http = Http::new();
    for (upstream, want) in [
        (frozen_addr, StatusCode::GATEWAY_TIMEOUT),
        (closed, StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let dir = tempdir(&format!("upstream-{}", want.as_u16()));
        let mut opts = options(&dir);
        opts.upstream = Some(format!("http://{upstream}"));
        opts.upstream_timeout = 1;
        opts.upstream_connect_timeout = 1;
        let server = start(&opts).await.unwrap();
        let started = std::time::Instant::now();
        let (s, h, body) = http
            .send(Method::GET, &url(&server, "/left-pad"), &[], "")
            .await;
        let took = started.elapsed();
        assert_eq!(s, want, "{body}");
        assert!(h.get("retry-after").is_some(), "{want}: Retry-After");
        assert!(body.contains("registry behind this gateway"), "{body}");
        assert!(took < std::time::Duration::from_secs(10), "{took:?}");
        if want == StatusCode::GATEWAY_TIMEOUT {
            assert!(took >= std::time::Duration::from_millis(900), "{took:?}");
        }
        server.shutdown().await.unwrap();
    }
    // Stopping while a request waits on the frozen registry: the drain deadline, not the
    // request, decides when the server is gone.
    let dir = tempdir("drain");
    let mut opts = options(&dir);
    opts.upstream = Some(format!("http://{frozen_addr}"));
    opts.upstream_timeout = 600;
    opts.drain_timeout = 1;
    let server = start(&opts).await.unwrap();
    let target = url(&server, "/left-pad");
    // Its answer (or the cut) is not the point: a raw request, so a cut is no panic.
    let waiting = tokio::spawn(async move {
        let req = Request::builder().uri(target).body(Body::empty()).unwrap();
        Http::new().0.request(req).await.map(|r| r.status())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    tokio::time::timeout(std::time::Duration::from_secs(10), server.shutdown())
        .await
        .expect("the drain deadline ends the shutdown")
        .unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    waiting.abort();
    hold.abort();
}

/// Readiness tells the truth where liveness cannot: a store file deleted under the running
/// server (SQLite still answers from the open descriptor, so `/v1/health` says ok) and a frozen
/// upstream registry each make `/v1/ready` answer 503 naming the failing check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_on_a_deleted_store_file_and_a_frozen_upstream() {
    let (upstream, _task) = fake_upstream().await;
    let dir = tempdir("ready");
    let mut opts = options(&dir);
    opts.upstream = Some(upstream);
    let server = start(&opts).await.unwrap();
    let http = Http::new();
    let ready = || async {
        http.json(Method::GET, &url(&server, "/v1/ready"), &[], &Value::Null)
            .await
    };
    let (s, _, body) = ready().await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["store"]["ok"], true);
    assert_eq!(body["upstream"]["ok"], true);
    std::fs::remove_file(&opts.db).unwrap();
    let (s, _, body) = ready().await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["store"]["error"].as_str().unwrap().contains("is gone"),
        "{body}"
    );
    let (s, _, _) = http
        .json(Method::GET, &url(&server, "/v1/health"), &[], &Value::Null)
        .await;
    assert_eq!(s, StatusCode::OK, "liveness is not readiness");
    server.shutdown().await.unwrap();

    let frozen = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let frozen_addr = frozen.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = frozen.accept().await {
            held.push(c);
        }
    });
    let dir = tempdir("ready-frozen");
    let mut opts = options(&dir);
    opts.upstream = Some(format!("http://{frozen_addr}"));
    let server = start(&opts).await.unwrap();
    let (s, _, body) = http
        .json(Method::GET, &url(&server, "/v1/ready"), &[], &Value::Null)
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["store"]["ok"], true);
    assert_eq!(body["upstream"]["ok"], false);
    server.shutdown().await.unwrap();
    hold.abort();
}

/// A missing store is an error, not a new empty one: without `--init-store` (or `--dev`) the
/// server refuses to start on a missing SQLite file, naming the flag; with it the store is
/// created, and later starts open it without the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_store_is_refused_unless_initialising() {
    let dir = tempdir("init-store");
    let mut opts = options(&dir);
    opts.init_store = false;
    let refused = start(&opts).await.map(|_| ()).map_err(|e| e.to_string());
    let message = refused.expect_err("no store, no --init-store");
    assert!(message.contains("does not exist"), "{message}");
    assert!(message.contains("--init-store"), "{message}");
    assert!(!opts.db.exists(), "nothing created");
    opts.init_store = true;
    start(&opts).await.unwrap().shutdown().await.unwrap();
    opts.init_store = false;
    start(&opts).await.unwrap().shutdown().await.unwrap();
}

/// A store failure is the server's, not the caller's: a request whose statement fails (here the
/// tokens table dropped under the running server) answers 503 with `Retry-After`, not a 500 or
/// a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_answers_503_with_retry_after() {
    let (upstream, _task) = fake_upstream().await;
    let dir = tempdir("store-down");
    let mut opts = options(&dir);
    opts.upstream = Some(upstream);
    let server = start(&opts).await.unwrap();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", opts.db.display()))
        .await
        .unwrap();
    sqlx::query("DROP TABLE tokens")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (s, h, body) = Http::new()
        .send(
            Method::GET,
            &url(&server, "/-/whoami"),
            &[(
                "authorization",
                "Bearer npm_0123456789abcdefghijklmnopqrstuvwxyz",
            )],
            "",
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(h.get("retry-after").is_some());
    assert!(body.contains("store is unavailable"), "{body}");
    assert!(!body.contains("tokens"), "no internals: {body}");
    server.shutdown().await.unwrap();
}

/// `/v1/metrics`: Prometheus text with the decisions (by outcome, reason and class), the
/// upstream calls they made (by status class, with latency), the answers given, and reloads;
/// behind its bearer token when one is configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_decisions_upstream_calls_and_reloads() {
    let (upstream, _task) = fake_upstream().await;
    let dir = tempdir("metrics");
    let token = dir.join("metrics-token");
    std::fs::write(&token, "scrape-me\n").unwrap();
    let admin = dir.join("admin-token");
    std::fs::write(&admin, "admin-me").unwrap();
    let config = dir.join("policy.json");
    std::fs::write(
        &config,
        r#"{"login_verification": {"stages": [], "brown_outs": []}}"#,
    )
    .unwrap();
    let mut opts = options(&dir);
    opts.config = Some(config);
    opts.upstream = Some(upstream);
    opts.metrics_token_file = Some(token);
    opts.admin_token_file = Some(admin);
    let server = start(&opts).await.unwrap();
    let http = Http::new();
    // A login (decided, and its password checked upstream), then a reload.
    let (s, v) = login(&http, &server, "mia", None).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let bearer = format!("Bearer {}", v["token"].as_str().unwrap());
    let (s, _, _) = http
        .send(
            Method::GET,
            &url(&server, "/-/whoami"),
            &[("authorization", &bearer)],
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = http
        .json(
            Method::POST,
            &url(&server, "/v1/admin/reload"),
            &[("authorization", "Bearer admin-me")],
            &Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, h, _) = http
        .send(Method::GET, &url(&server, "/v1/metrics"), &[], "")
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(h.get("www-authenticate").is_some());
    let (s, h, text) = http
        .send(
            Method::GET,
            &url(&server, "/v1/metrics"),
            &[("authorization", "Bearer scrape-me")],
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h.get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{h:?}"
    );
    for want in [
        r#"stepup_decisions_total{outcome="allow",reason="allowed",class="login"} 1"#,
        r#"stepup_upstream_request_duration_seconds_count{status="2xx"}"#,
        r#"stepup_http_request_duration_seconds_count{status="2xx"}"#,
        r#"stepup_policy_reloads_total{result="ok"} 1"#,
        "stepup_component_failures_total 0",
        "stepup_component_restarts_total 0",
        r#"stepup_store_duration_seconds_count{op="decision-read"}"#,
        r#"stepup_store_duration_seconds_count{op="credential"}"#,
    ] {
        assert!(text.contains(want), "missing {want}:\n{text}");
    }
    assert!(!text.contains("mia"), "no account names in labels");
    server.shutdown().await.unwrap();
}

/// A publish reads its token and its decision's state in one statement, before its body: the
/// `credential` read is counted and no `decision-read`; and the state so read decides as the
/// decision's own would (a challenge without a code, a recovery code accepted once, wrong codes
/// counted up to the throttle).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_reads_its_token_and_decision_state_in_one_statement() {
    use axum::routing::put;
    let (upstream, _task) = serve_registry(registry_routes().route(
        "/{pkg}",
        put(|_body: Bytes| async { (StatusCode::CREATED, json!({"ok": true}).to_string()) }).get(
            || async {
                (
                    StatusCode::NOT_FOUND,
                    json!({"error": "not found"}).to_string(),
                )
            },
        ),
    ))
    .await;
    let dir = tempdir("read-ahead");
    let metrics = dir.join("metrics-token");
    std::fs::write(&metrics, "scrape-me\n").unwrap();
    let config = dir.join("policy.json");
    std::fs::write(
        &config,
        r#"{"login_verification": {"stages": [], "brown_outs": []}}"#,
    )
    .unwrap();
    let mut opts = options(&dir);
    opts.config = Some(config);
    opts.upstream = Some(upstream);
    opts.metrics_token_file = Some(metrics);
    let server = start(&opts).await.unwrap();
    let http = Http::new();
    let name = format!("ahead{}", std::process::id());
    let (token, _, recovery) = enrol(&http, &server, &name).await;
    let counts = || async {
        let (s, _, text) = Http::new()
            .send(
                Method::GET,
                &url(&server, "/v1/metrics"),
                &[("authorization", "Bearer scrape-me")],
                "",
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let count = |op: &str| -> u64 {
            let prefix = format!("stepup_store_duration_seconds_count{{op=\"{op}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .map_or(0, |n| n.trim().parse().unwrap())
        };
        (
            count("credential"),
            count("decision-read"),
            count("recovery-codes"),
        )
    };
    let doc = |version: &str| {
        json!({
            "_id": format!("ahead-{name}"), "name": format!("ahead-{name}"),
            "dist-tags": {"latest": version},
            "versions": {version: {"name": format!("ahead-{name}"), "version": version}},
            "_attachments": {format!("ahead-{name}-{version}.tgz"): {"content_type": "application/octet-stream", "data": "AAAA", "length": 3}}
        })
    };
    let target = url(&server, &format!("/ahead-{name}"));
    let (credential, decision, codes) = counts().await;
    let (s, h, v) = http
        .json(
            Method::PUT,
            &target,
            &[("authorization", &token)],
            &doc("1.0.0"),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert!(
        h.get("www-authenticate")
            .is_some_and(|w| w.to_str().unwrap().starts_with("OTP")),
        "{h:?}"
    );
    let (s, _, v) = http
        .json(
            Method::PUT,
            &target,
            &[("authorization", &token), ("npm-otp", &recovery[0])],
            &doc("1.0.0"),
        )
        .await;
    assert!(s.is_success(), "{s}: {v}");
    let (s, _, v) = http
        .json(
            Method::PUT,
            &target,
            &[("authorization", &token), ("npm-otp", &recovery[0])],
            &doc("1.0.1"),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a spent recovery code: {v}");
    let (after_credential, after_decision, after_codes) = counts().await;
    assert_eq!(
        after_credential - credential,
        3,
        "one token read per publish"
    );
    assert_eq!(after_decision, decision, "no decision read of its own");
    // The recovery codes are read only where a code is presented.
    assert_eq!(after_codes - codes, 2);
    // Wrong codes, counted in the state read ahead, reach the account's throttle (5 in 5 min).
    let mut last = StatusCode::OK;
    for i in 0..6 {
        let (s, _, _) = http
            .json(
                Method::PUT,
                &target,
                &[("authorization", &token), ("npm-otp", "000000")],
                &doc(&format!("1.1.{i}")),
            )
            .await;
        last = s;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    server.shutdown().await.unwrap();
}

/// A proof's claims are spent together or not at all, together with the token they pay for,
/// and given back exactly: a restore never undoes a later use (SQLite and PostgreSQL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_spend_with_their_token_or_not_at_all_and_are_given_back() {
    use stepup_server::store::{Claim, Spent, Store, TokenRow};
    for url in store_urls(&tempdir("claims")) {
        let store = Store::open(&url).await.unwrap();
        let run = std::process::id();
        let name = format!("claimer-{run}-{}", store.backend());
        store.account_or_create(&name, 1).await.unwrap();
        store
            .set_pending(&name, "auth-and-writes", "sealed")
            .await
            .unwrap();
        let codes = [
            ("s0".to_owned(), "h0".to_owned()),
            ("s1".into(), "h1".into()),
        ];
        assert!(store.enable_tfa(&name, "sealed", 5, &codes).await.unwrap());
        let rows = store.recovery_codes(&name).await.unwrap();
        let token = |key: &str| TokenRow {
            key: format!("{key}-{name}"),
            account: name.clone(),
            prefix: "npm_0000".into(),
            name: None,
            description: None,
            credential: "{}".into(),
            upstream: None,
            readonly: false,
            cidr: None,
            created: 1,
            expires: None,
        };
        // The recovery code's burn comes first, the stale step second: the step loses, so the
        // burn is rolled back and no token exists.
        let stale = vec![
            Claim::RecoveryCode(rows[0].clone()),
            Claim::TotpStep {
                step: 5,
                before: Some(5),
            },
        ];
        assert!(
            !store
                .insert_token_claiming(&token("lost"), false, &stale)
                .await
                .unwrap()
        );
        assert!(
            store
                .token(&format!("lost-{name}"))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.recovery_codes(&name).await.unwrap().len(), 2);
        // Both win: the token and both spends land together.
        let won = vec![
            Claim::RecoveryCode(rows[0].clone()),
            Claim::TotpStep {
                step: 6,
                before: Some(5),
            },
        ];
        assert!(
            store
                .insert_token_claiming(&token("won"), false, &won)
                .await
                .unwrap()
        );
        assert!(store.token(&format!("won-{name}")).await.unwrap().is_some());
        assert_eq!(store.recovery_codes(&name).await.unwrap().len(), 1);
        let acct = store.account(&name).await.unwrap().unwrap();
        assert_eq!(acct.last_step, Some(6));
        // Spent again: lost, nothing changes.
        assert!(!store.claim(&name, &won).await.unwrap());
        // Given back: the code and the step are unused again.
        let spent = Spent {
            claims: won.clone(),
            operation: None,
        };
        store.give_back(&name, &spent).await.unwrap();
        assert_eq!(store.recovery_codes(&name).await.unwrap().len(), 2);
        assert_eq!(
            store.account(&name).await.unwrap().unwrap().last_step,
            Some(5)
        );
        // A later step used meanwhile is never undone by giving back an earlier one.
        assert!(store.claim(&name, &won).await.unwrap());
        let later = [Claim::TotpStep {
            step: 9,
            before: Some(6),
        }];
        assert!(store.claim(&name, &later).await.unwrap());
        store.give_back(&name, &spent).await.unwrap();
        assert_eq!(
            store.account(&name).await.unwrap().unwrap().last_step,
            Some(9)
        );
        store.close().await;
    }
}

/// A TCP relay in front of the fake registry: taken down, its port is closed and its
/// connections cut (a registry whose host is gone); brought back, it listens on the same port.
struct Relay {
    addr: std::net::SocketAddr,
    target: std::net::SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn to(target: &str) -> Relay {
        let target = target.trim_start_matches("http://").parse().unwrap();
        let mut r = Relay {
            addr: "127.0.0.1:0".parse().unwrap(),
            target,
            task: None,
        };
        r.up().await;
        r
    }

    async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.addr = listener.local_addr().unwrap();
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            // Owned by this task: aborting it drops the set, which aborts every connection.
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                conns.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    async fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

/// A code spent on a write that never reached the registry (no connection could be made) is
/// given back: npm's retry of the same command with the same code goes through. A code spent
/// on a write the registry did receive stays spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_is_given_back_when_the_registry_cannot_be_reached() {
    let (upstream, _task) = fake_upstream().await;
    let mut relay = Relay::to(&upstream).await;
    let dir = tempdir("give-back");
    let config = unthrottled_policy(&dir);
    let mut opts = options(&dir);
    opts.upstream = Some(format!("http://{}", relay.addr));
    opts.config = Some(config);
    opts.upstream_connect_timeout = 2;
    let server = start(&opts).await.unwrap();
    let http = Http::new();
    let name = format!("giver{}", std::process::id());
    let (token, secret, recovery) = enrol(&http, &server, &name).await;
    let tag = url(&server, &format!("/-/package/gb-{name}/dist-tags/next"));
    let put = |code: String| {
        let (http, tag, token) = (&http, tag.clone(), token.clone());
        async move {
            http.json(
                Method::PUT,
                &tag,
                &[("authorization", &token), ("npm-otp", &code)],
                &json!("1.0.0"),
            )
            .await
        }
    };
    let cfg = stepup_core::Policy::default().config().totp;
    let now = u64::try_from(stepup_server::now()).unwrap();
    let totp = stepup_core::codes::totp::generate(&cfg, &secret, now + 30);
    for code in [totp, recovery[1].clone()] {
        relay.down().await;
        let (s, h, v) = put(code.clone()).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert!(h.get("retry-after").is_some());
        relay.up().await;
        // The retry with the same code: accepted, as if the first attempt had never happened.
        let (s, _, v) = put(code.clone()).await;
        assert_eq!(s, StatusCode::CREATED, "{code}: {v}");
        // Reached the registry: spent for good.
        let (s, _, v) = put(code.clone()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{code}: {v}");
    }
    server.shutdown().await.unwrap();
}

/// A token's upstream credential is opened only when a request goes upstream: while it cannot
/// be opened, a write without a code is still challenged as before, and one with a valid code
/// fails as the server's fault without spending the code, which goes through once the
/// credential is readable again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_credential_is_opened_only_for_a_request_that_goes_upstream() {
    let (upstream, _task) = fake_upstream().await;
    let dir = tempdir("lazy-upstream");
    let mut opts = options(&dir);
    opts.upstream = Some(upstream);
    opts.config = Some(unthrottled_policy(&dir));
    let server = start(&opts).await.unwrap();
    let http = Http::new();
    let name = format!("lazy{}", std::process::id());
    let (token, secret, _) = enrol(&http, &server, &name).await;
    let db = rusqlite::Connection::open(dir.join("stepup.sqlite3")).unwrap();
    let sealed: String = db
        .query_row(
            "SELECT upstream FROM tokens WHERE account = ?1 AND upstream IS NOT NULL",
            [&name],
            |r| r.get(0),
        )
        .unwrap();
    let set = |v: &str| {
        db.execute(
            "UPDATE tokens SET upstream = ?1 WHERE account = ?2 AND upstream IS NOT NULL",
            [v, name.as_str()],
        )
        .unwrap()
    };
    assert_eq!(set("not a sealed value"), 1);
    let tag = url(&server, &format!("/-/package/lazy-{name}/dist-tags/next"));
    let put = |code: Option<String>| {
        let (http, tag, token) = (&http, tag.clone(), token.clone());
        async move {
            let mut headers = vec![("authorization", token.as_str())];
            if let Some(c) = &code {
                headers.push(("npm-otp", c.as_str()));
            }
            http.json(Method::PUT, &tag, &headers, &json!("1.0.0"))
                .await
        }
    };
    let (s, _, v) = put(None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let cfg = stepup_core::Policy::default().config().totp;
    let now = u64::try_from(stepup_server::now()).unwrap();
    let code = stepup_core::codes::totp::generate(&cfg, &secret, now + 30);
    let (s, _, v) = put(Some(code.clone())).await;
    assert!(s.is_server_error(), "{s}: {v}");
    assert_eq!(set(&sealed), 1);
    let (s, _, v) = put(Some(code.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _, v) = put(Some(code)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    server.shutdown().await.unwrap();
}

/// One code, one acceptance per request, while other codes of the same account are accepted
/// for the same npm command at the same moment (the window of SPEC §9.5 keyed by code): rounds
/// of concurrent writes, two recovery codes each, on SQLite and PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_codes_for_one_command_at_once_are_each_accepted_once() {
    let (upstream, _task) = fake_upstream().await;
    for (n, database_url) in gateway_databases().into_iter().enumerate() {
        let dir = tempdir(&format!("window-race-{n}"));
        let config = unthrottled_policy(&dir);
        let mut opts = options(&dir);
        opts.upstream = Some(upstream.clone());
        opts.config = Some(config);
        opts.database_url = database_url;
        let a = start(&opts).await.unwrap();
        let b = start(&opts).await.unwrap();
        let http = Http::new();
        let mut rounds = 0;
        for k in 0..5 {
            let name = format!("window{}x{n}x{k}", std::process::id());
            let (token, _, recovery) = enrol(&http, &a, &name).await;
            for pair in recovery.chunks_exact(2) {
                let mut tasks = Vec::new();
                for i in 0..8 {
                    let server = if i % 2 == 0 { &a } else { &b };
                    let target = url(server, &format!("/-/package/w-{name}/dist-tags/next"));
                    let code = pair[i / 4].clone();
                    let token = token.clone();
                    tasks.push(tokio::spawn(async move {
                        let (s, _, _) = Http::new()
                            .json(
                                Method::PUT,
                                &target,
                                &[("authorization", &token), ("npm-otp", &code)],
                                &json!("1.0.0"),
                            )
                            .await;
                        (code, s)
                    }));
                }
                let mut accepted = std::collections::HashMap::new();
                for t in tasks {
                    let (code, s) = t.await.unwrap();
                    assert!(
                        s == StatusCode::CREATED || s == StatusCode::UNAUTHORIZED,
                        "unexpected {s}"
                    );
                    if s == StatusCode::CREATED {
                        *accepted.entry(code).or_insert(0) += 1;
                    }
                }
                assert_eq!(
                    accepted.get(&pair[0]),
                    Some(&1),
                    "round {rounds}: {accepted:?}"
                );
                assert_eq!(
                    accepted.get(&pair[1]),
                    Some(&1),
                    "round {rounds}: {accepted:?}"
                );
                rounds += 1;
            }
        }
        assert!(rounds >= 25, "{rounds} rounds");
        a.shutdown().await.unwrap();
        b.shutdown().await.unwrap();
    }
}

/// An address with more failures in a day than a request may carry (many clients behind one
/// address, no throttle configured), and an account guessed at as often, are still decided: a
/// wrong code is a 401, a right one is accepted. Before the store read the newest failures only,
/// each of their requests was a 400 (the engine refuses the oversized list), for everyone there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowded_address_and_a_guessed_at_account_are_still_decided() {
    use stepup_core::contract::request::MAX_FAILURES;
    use stepup_server::store::{Store, StoreUrl};
    let (upstream, _task) = fake_upstream().await;
    for (n, database_url) in gateway_databases().into_iter().enumerate() {
        let dir = tempdir(&format!("crowded-{n}"));
        let config = unthrottled_policy(&dir);
        let mut opts = options(&dir);
        opts.upstream = Some(upstream.clone());
        opts.config = Some(config);
        opts.database_url.clone_from(&database_url);
        let server = start(&opts).await.unwrap();
        let http = Http::new();
        let name = format!("crowded{}x{n}", std::process::id());
        let (token, secret, recovery) = enrol(&http, &server, &name).await;
        // A wrong code of the right shape: not one of the steps the engine accepts now.
        let cfg = stepup_core::Policy::default().config().totp;
        let t = u64::try_from(stepup_server::now()).unwrap();
        let near: Vec<String> = [t - 60, t - 30, t, t + 30, t + 60]
            .iter()
            .map(|&at| stepup_core::codes::totp::generate(&cfg, &secret, at))
            .collect();
        let wrong = ["000000", "111111", "222222", "333333", "444444", "555555"]
            .into_iter()
            .find(|c| !near.iter().any(|n| n == c))
            .unwrap()
            .to_owned();
        // The failures, written beside the running server into its store.
        let store_url = match &database_url {
            Some(u) => StoreUrl::Postgres(u.clone()),
            None => StoreUrl::Sqlite(opts.db.display().to_string()),
        };
        let store = Store::open(&store_url).await.unwrap();
        let now = stepup_server::now();
        for i in 0..MAX_FAILURES + 2 {
            let at = now - 1 - i64::try_from(i).unwrap();
            store
                .record_failure(Some(&name), Some("127.0.0.1"), at)
                .await
                .unwrap();
        }
        store.close().await;
        let target = url(&server, &format!("/-/package/c-{name}/dist-tags/next"));
        let put = |code: String| {
            let (target, token) = (target.clone(), token.clone());
            async move {
                Http::new()
                    .json(
                        Method::PUT,
                        &target,
                        &[("authorization", &token), ("npm-otp", &code)],
                        &json!("1.0.0"),
                    )
                    .await
            }
        };
        let (s, _, v) = put(wrong).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "a wrong code: {v}");
        let (s, _, v) = put(recovery[0].clone()).await;
        assert_eq!(s, StatusCode::CREATED, "a right code: {v}");
        // The account's failures are cleared by the right code; the address's stay, and the
        // next right code is accepted all the same.
        let (s, _, v) = put(recovery[1].clone()).await;
        assert_eq!(s, StatusCode::CREATED, "from the crowded address: {v}");
        server.shutdown().await.unwrap();
    }
}

/// A store opened with another key, or in place of the store recorded beside the key file (a
/// wrong `--db`, a replaced volume), stops the server at start, naming what differs; deleting
/// the record accepts the store on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_is_refused_with_another_key_or_in_place_of_the_recorded_one() {
    let dir = tempdir("identity");
    let opts = options(&dir);
    start(&opts).await.unwrap().shutdown().await.unwrap();
    let record = stepup_server::identity::record_path(opts.key_file.as_ref().unwrap());
    let id = std::fs::read_to_string(&record).unwrap();
    assert_eq!(id.trim().len(), 32, "{id}");
    let refused = |r: Result<Running, stepup_server::ServeError>| match r {
        Ok(_) => panic!("started"),
        Err(e) => e.to_string(),
    };
    // Another key for this store.
    let mut other_key = opts.clone();
    let key = dir.join("other-key");
    std::fs::write(&key, KEY.replace('0', "f")).unwrap();
    other_key.key_file = Some(key);
    let e = refused(start(&other_key).await);
    assert!(e.contains("is not the one") && e.contains(id.trim()), "{e}");
    // Another store with this key: a wrong path that happens to hold (or makes) a store.
    let mut moved = opts.clone();
    moved.db = dir.join("elsewhere.sqlite3");
    let e = refused(start(&moved).await);
    assert!(
        e.contains("says this key's store is") && e.contains(id.trim()),
        "{e}"
    );
    // Accepted on purpose: the record goes, the new store is recorded, the old one refused.
    std::fs::remove_file(&record).unwrap();
    start(&moved).await.unwrap().shutdown().await.unwrap();
    assert_ne!(std::fs::read_to_string(&record).unwrap(), id);
    let e = refused(start(&opts).await);
    assert!(e.contains("says this key's store is"), "{e}");
}

/// `--store-id` pins the store where the key file's folder cannot take the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_store_id_refuses_another_store() {
    let dir = tempdir("pinned");
    let mut opts = options(&dir);
    start(&opts).await.unwrap().shutdown().await.unwrap();
    let record = stepup_server::identity::record_path(opts.key_file.as_ref().unwrap());
    let id = std::fs::read_to_string(&record).unwrap().trim().to_owned();
    std::fs::remove_file(&record).unwrap();
    opts.store_id = Some(id.clone());
    start(&opts).await.unwrap().shutdown().await.unwrap();
    assert!(!record.exists(), "a pinned id needs no record");
    opts.db = dir.join("another.sqlite3");
    match start(&opts).await {
        Ok(_) => panic!("started on another store"),
        Err(e) => assert!(e.to_string().contains(&format!("says {id}")), "{e}"),
    }
}

/// A test CA (PEM) and a `localhost` / `127.0.0.1` certificate it signed: (CA, chain, key).
fn test_pki() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "stepup test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    (ca_cert.pem(), leaf.pem(), leaf_key.serialize_pem())
}

/// An HTTPS client trusting only `ca_pem`.
fn https_client(ca_pem: &str) -> Client<hyper_rustls::HttpsConnector<HttpConnector>, Body> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// TLS both ways, with a private CA: the gateway reaches an HTTPS registry it verifies against
/// `--ca-file` (and refuses one it cannot verify: 503, the request never left), and serves HTTPS
/// itself with `--tls-cert` / `--tls-key`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstream_verified_with_the_ca_file_and_an_https_listener() {
    let (ca, chain, key) = test_pki();
    let dir = tempdir("tls");
    std::fs::write(dir.join("ca.pem"), &ca).unwrap();
    std::fs::write(dir.join("cert.pem"), &chain).unwrap();
    std::fs::write(dir.join("key.pem"), &key).unwrap();
    // The registry behind, over HTTPS with the test CA's certificate.
    let (registry_port, served) = serve_https(&dir, |_, path| {
        (json!({"name": "left-pad", "path": path}), "no-store")
    })
    .await;
    let mut opts = options(&dir);
    opts.upstream = Some(format!("https://localhost:{registry_port}"));
    opts.ca_file = Some(dir.join("ca.pem"));
    opts.tls_cert = Some(dir.join("cert.pem"));
    opts.tls_key = Some(dir.join("key.pem"));
    let server = start(&opts).await.unwrap();
    let client = https_client(&ca);
    let get = |path: &str| {
        let req = Request::builder()
            .uri(format!("https://localhost:{}{path}", server.addr.port()))
            .body(Body::empty())
            .unwrap();
        client.request(req)
    };
    let res = get("/left-pad").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["name"],
        "left-pad"
    );
    let res = get("/v1/health").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Plain HTTP to the HTTPS listener gets no answer it could mistake for one.
    let plain = Http::new()
        .0
        .request(
            Request::builder()
                .uri(url(&server, "/v1/health"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != StatusCode::OK);
    server.shutdown().await.unwrap();
    // Without the CA, the registry's certificate does not verify: 503, nothing forwarded.
    let dir = tempdir("tls-untrusted");
    let mut opts = options(&dir);
    opts.upstream = Some(format!("https://localhost:{registry_port}"));
    let server = start(&opts).await.unwrap();
    let (s, h, body) = Http::new()
        .send(Method::GET, &url(&server, "/left-pad"), &[], "")
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(h.get("retry-after").is_some());
    server.shutdown().await.unwrap();
    served.abort();
}

/// An HTTPS server on loopback with the certificate and key in `dir` (`cert.pem`, `key.pem`):
/// every request is answered JSON by `answer(port, path)`, with its `Cache-Control`.
async fn serve_https(
    dir: &Path,
    answer: impl Fn(u16, &str) -> (Value, &'static str) + Send + Sync + 'static,
) -> (u16, tokio::task::JoinHandle<()>) {
    let config =
        stepup_server::tls::server_config(&dir.join("cert.pem"), &dir.join("key.pem")).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = std::sync::Arc::new(answer);
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, answer) = (acceptor.clone(), answer.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (body, age) = answer(port, req.uri().path());
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            axum::http::Response::builder()
                                .header("content-type", "application/json")
                                .header("cache-control", age)
                                .body(Body::from(body.to_string()))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (port, task)
}

/// An HTTPS OIDC issuer with the test CA's certificate: its discovery document, and its key set
/// (`keys`, swappable) with `Cache-Control: max-age=120`; counts key-set requests.
async fn issuer(
    chain_pem: &str,
    key_pem: &str,
    keys: std::sync::Arc<std::sync::Mutex<Value>>,
    served: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> (u16, tokio::task::JoinHandle<()>) {
    let dir = tempdir("issuer-pki");
    std::fs::write(dir.join("cert.pem"), chain_pem).unwrap();
    std::fs::write(dir.join("key.pem"), key_pem).unwrap();
    serve_https(&dir, move |port, path| {
        let base = format!("https://localhost:{port}");
        if path == "/.well-known/openid-configuration" {
            return (
                json!({"issuer": base, "jwks_uri": format!("{base}/keys")}),
                "max-age=3600",
            );
        }
        served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        (keys.lock().unwrap().clone(), "public, max-age=120")
    })
    .await
}

fn kids(set: &Value, provider: &str) -> Vec<String> {
    set["providers"][provider]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Trusted publishing's keys come from the issuer and follow its rotation: fetched over HTTPS
/// (verified with the test CA), kept for the answer's max-age, fetched again when a token names
/// a key the set lacks — at most once per interval, whatever the tokens claim — and kept when
/// the issuer is down. A file's set for another provider stays beside them, bound to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_keys_are_fetched_from_the_issuer_and_follow_its_rotation() {
    use std::sync::atomic::Ordering;
    let (ca, chain, key) = test_pki();
    let dir = tempdir("jwks");
    std::fs::write(dir.join("ca.pem"), &ca).unwrap();
    std::fs::write(
        dir.join("gitlab.json"),
        json!({"keys": [{"kty": "RSA", "kid": "gl-1", "n": "AQAB", "e": "AQAB"}]}).to_string(),
    )
    .unwrap();
    let keys = std::sync::Arc::new(std::sync::Mutex::new(
        json!({"keys": [{"kty": "EC", "kid": "gh-1", "crv": "P-256", "x": "AA", "y": "AA"}]}),
    ));
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (port, task) = issuer(&chain, &key, keys.clone(), served.clone()).await;
    let tls = stepup_server::tls::client_config(Some(&dir.join("ca.pem"))).unwrap();
    let interval = std::time::Duration::from_millis(400);
    let jwks = stepup_server::jwks::Jwks::new(
        &[format!("gitlab={}", dir.join("gitlab.json").display())],
        &[format!("github=https://localhost:{port}")],
        &tls,
        interval,
    )
    .unwrap();
    let set = jwks.current(None).await;
    assert_eq!(kids(&set, "github"), ["gh-1"]);
    assert_eq!(
        kids(&set, "gitlab"),
        ["gl-1"],
        "the file's set, bound to gitlab"
    );
    // Fresh for its max-age: no second fetch, and a known key id fetches nothing.
    jwks.current(Some("gh-1")).await;
    jwks.current(Some("gl-1")).await;
    assert_eq!(served.load(Ordering::SeqCst), 1);
    // The provider rotates: a token naming the new key, right away, is within the interval.
    *keys.lock().unwrap() =
        json!({"keys": [{"kty": "EC", "kid": "gh-2", "crv": "P-256", "x": "AA", "y": "AA"}]});
    assert_eq!(kids(&jwks.current(Some("gh-2")).await, "github"), ["gh-1"]);
    assert_eq!(served.load(Ordering::SeqCst), 1, "rate-limited");
    tokio::time::sleep(interval).await;
    assert_eq!(kids(&jwks.current(Some("gh-2")).await, "github"), ["gh-2"]);
    assert_eq!(served.load(Ordering::SeqCst), 2);
    // Made-up key ids, many at once: at most one fetch per interval.
    for _ in 0..20 {
        jwks.current(Some("forged")).await;
    }
    assert_eq!(served.load(Ordering::SeqCst), 2);
    // The issuer goes away: the last keys stay.
    task.abort();
    tokio::time::sleep(interval).await;
    assert_eq!(kids(&jwks.current(Some("gh-3")).await, "github"), ["gh-2"]);
    // An issuer whose certificate the roots cannot verify yields no keys.
    let (port, task) = issuer(&chain, &key, keys.clone(), served.clone()).await;
    let untrusted = stepup_server::jwks::Jwks::new(
        &[],
        &[format!("github=https://localhost:{port}")],
        &stepup_server::tls::client_config(None).unwrap(),
        interval,
    )
    .unwrap();
    assert!(kids(&untrusted.current(None).await, "github").is_empty());
    task.abort();
}

/// Reads of a package anyone may read go upstream without the account's credential; a package
/// the upstream refuses anonymously is asked again with it, at once and from then on, and the
/// caller sees the same answers either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_public_packages_go_upstream_without_the_credential() {
    use axum::routing::get;
    use std::sync::{Arc, Mutex};
    // What authorization each package read arrived with, in order ("-" for none).
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let log = seen.clone();
    let read = move |axum::extract::Path(pkg): axum::extract::Path<String>, headers: HeaderMap| {
        let log = log.clone();
        async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned();
            log.lock().unwrap().push((pkg.clone(), auth.clone()));
            if pkg.starts_with("closed") && !auth.starts_with("Bearer up-") {
                return (
                    StatusCode::UNAUTHORIZED,
                    json!({"error": "unauthorized access"}).to_string(),
                );
            }
            (
                StatusCode::OK,
                json!({"name": pkg, "versions": {}}).to_string(),
            )
        }
    };
    let (upstream, _task) = serve_registry(registry_routes().route("/{pkg}", get(read))).await;
    let dir = tempdir("read-access");
    let config = dir.join("policy.json");
    std::fs::write(
        &config,
        r#"{"login_verification": {"stages": [], "brown_outs": []}}"#,
    )
    .unwrap();
    let mut opts = options(&dir);
    opts.upstream = Some(upstream);
    opts.config = Some(config);
    opts.reads_without_credential = true;
    let server = start(&opts).await.unwrap();
    let http = Http::new();
    let name = format!("reader{}", std::process::id());
    let (s, v) = login(&http, &server, &name, None).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = format!("Bearer {}", v["token"].as_str().unwrap());
    let get = |pkg: &'static str, auth: Option<String>| {
        let (http, target) = (&http, url(&server, &format!("/{pkg}")));
        async move {
            let headers: Vec<(&str, &str)> = auth
                .as_deref()
                .map(|a| ("authorization", a))
                .into_iter()
                .collect();
            http.send(Method::GET, &target, &headers, Body::empty())
                .await
        }
    };
    for _ in 0..2 {
        let (s, _, body) = get("open-pkg", Some(token.clone())).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(body.contains("open-pkg"));
        let (s, _, body) = get("closed-pkg", Some(token.clone())).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(body.contains("closed-pkg"));
    }
    // Anonymously the closed package stays closed: the gateway never lends a credential.
    let (s, _, _) = get("closed-pkg", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let upstream_token = format!("Bearer up-{name}");
    let got: Vec<(String, String)> = seen.lock().unwrap().clone();
    let want: Vec<(String, String)> = [
        ("open-pkg", "-"),
        // Not known yet: asked anonymously, refused, asked again with the credential.
        ("closed-pkg", "-"),
        ("closed-pkg", upstream_token.as_str()),
        ("open-pkg", "-"),
        // Learned: with the credential at once.
        ("closed-pkg", upstream_token.as_str()),
        ("closed-pkg", "-"),
    ]
    .iter()
    .map(|(p, a)| ((*p).to_owned(), (*a).to_owned()))
    .collect();
    assert_eq!(got, want);
    server.shutdown().await.unwrap();
    // Off unless the operator turns it on: every read then carries the credential.
    seen.lock().unwrap().clear();
    opts.reads_without_credential = false;
    let server = start(&opts).await.unwrap();
    let (s, v) = login(&http, &server, &name, None).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = format!("Bearer {}", v["token"].as_str().unwrap());
    let (s, _, _) = http
        .send(
            Method::GET,
            &url(&server, "/open-pkg"),
            &[("authorization", &token)],
            Body::empty(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![("open-pkg".to_owned(), upstream_token.clone())]
    );
    server.shutdown().await.unwrap();
}

/// The one statement a decision reads agrees with the separate reads it replaced, on SQLite and
/// PostgreSQL: the account (created at first use), the package's setting, the accepted orgs
/// with their enforcement, and the failure times per account and per address in the last day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_reads_its_state_in_one_statement() {
    use stepup_server::store::Store;
    let dir = tempdir("decision-state");
    let id = std::process::id();
    let (alice, bob) = (format!("ds-alice-{id}"), format!("ds-bob-{id}"));
    let (pkg, ip) = (
        format!("ds-pkg-{id}"),
        format!("10.9.{}.{}", id % 250, id / 250 % 250),
    );
    let now = stepup_server::now();
    for url in store_urls(&dir) {
        let store = Store::open(&url).await.unwrap();
        // Not there yet: created by the read, with nothing else to read.
        let fresh = store
            .decision_state(&alice, Some(&pkg), Some(&ip), now)
            .await
            .unwrap();
        assert_eq!(fresh.account.name, alice);
        assert_eq!(fresh.account.created, now);
        assert!(fresh.orgs.is_empty() && fresh.account_failures.is_empty());
        assert_eq!(fresh.package_access, None);
        // No maintainers kept: anyone may write (as `owners::may_write` reads the store).
        assert!(!fresh.maintainers_kept && !fresh.maintainer && fresh.may_write());
        store
            .set_maintainers(&pkg, &[bob.clone(), alice.clone()])
            .await
            .unwrap();
        store
            .set_package_access(&pkg, "tfa-no-tokens")
            .await
            .unwrap();
        let orgs = [
            (format!("ds-zeta-{id}"), true),
            (format!("ds-acme-{id}"), true),
            (format!("ds-invited-{id}"), false),
        ];
        for (org, _) in &orgs {
            store
                .set_org_member(org, &bob, "owner", false, true, now)
                .await
                .unwrap();
        }
        // Enforcing before Alice joins (enforcing removes the members without 2FA, so Bob
        // leaves zeta, and Alice joins it as its owner).
        store
            .set_enforce_tfa(&format!("ds-zeta-{id}"), true)
            .await
            .unwrap();
        for (org, accepted) in &orgs {
            store
                .set_org_member(org, &alice, "owner", false, *accepted, now)
                .await
                .unwrap();
        }
        for (who, at) in [
            (Some(alice.as_str()), now - 10),
            (Some(alice.as_str()), now - 20),
            (Some(alice.as_str()), now - 90_000),
            (None, now - 5),
            (Some(bob.as_str()), now - 7),
        ] {
            store.record_failure(who, Some(&ip), at).await.unwrap();
        }
        let state = store
            .decision_state(&alice, Some(&pkg), Some(&ip), now)
            .await
            .unwrap();
        assert_eq!(state.orgs, store.orgs_of(&alice).await.unwrap());
        assert_eq!(
            state.orgs,
            vec![
                (format!("ds-acme-{id}"), false),
                (format!("ds-zeta-{id}"), true)
            ]
        );
        assert_eq!(
            state.package_access,
            store.package_access(&pkg).await.unwrap()
        );
        assert_eq!(state.package_access.as_deref(), Some("tfa-no-tokens"));
        let kept: Vec<String> = store
            .maintainers(&pkg)
            .await
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(kept.len(), 2);
        // Kept, and Alice is one: she writes; Mallory, not on the list, does not. The list is
        // compared in SQL, as `owners::may_write` compares it.
        assert!(state.maintainers_kept && state.maintainer && state.may_write());
        let mallory = format!("ds-mallory-{id}");
        let other = store
            .decision_state(&mallory, Some(&pkg), None, now)
            .await
            .unwrap();
        assert!(other.maintainers_kept && !other.maintainer && !other.may_write());
        // Names are compared whole: one that only begins or ends like a maintainer's is not one,
        // nor a name holding the unit separator an aggregated list would have split on.
        let odd = format!("ds-odd-{id}");
        let joined = format!("{alice}\u{1f}{bob}");
        store
            .set_maintainers(&odd, &[String::new(), joined.clone()])
            .await
            .unwrap();
        for who in [&alice, &bob] {
            let s = store
                .decision_state(who, Some(&odd), None, now)
                .await
                .unwrap();
            assert!(
                s.maintainers_kept && !s.maintainer && !s.may_write(),
                "{who}"
            );
        }
        let s = store
            .decision_state(&joined, Some(&odd), None, now)
            .await
            .unwrap();
        assert!(s.may_write());
        let (fa, fi) = store.failures(&alice, Some(&ip), now).await.unwrap();
        assert_eq!(
            (state.account_failures.clone(), state.ip_failures.clone()),
            (fa, fi)
        );
        assert_eq!(state.account_failures, vec![now - 20, now - 10]);
        assert_eq!(state.ip_failures.len(), 4, "{:?}", state.ip_failures);
        // The same state read beside a token, in the token's statement; none while the
        // token's account has no row yet; nothing for a key no token has.
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let token_of = |key: String, account: &str| stepup_server::store::TokenRow {
            key,
            account: account.to_owned(),
            prefix: "ds".into(),
            name: Some("t".into()),
            description: None,
            credential: r#"{"kind":"session"}"#.into(),
            upstream: None,
            readonly: false,
            cidr: None,
            created: now,
            expires: None,
        };
        let key = format!("ds-key-{id}-{stamp}");
        store
            .insert_token(&token_of(key.clone(), &alice), false)
            .await
            .unwrap();
        let (token, ahead) = store
            .token_and_state(&key, Some(&pkg), Some(&ip), now)
            .await
            .unwrap()
            .unwrap();
        let plain = store.token(&key).await.unwrap().unwrap();
        assert_eq!(format!("{token:?}"), format!("{plain:?}"));
        let ahead = ahead.unwrap();
        assert_eq!(format!("{ahead:?}"), format!("{state:?}"));
        let nobody = format!("ds-nobody-{id}-{stamp}");
        let key2 = format!("ds-key2-{id}-{stamp}");
        store
            .insert_token(&token_of(key2.clone(), &nobody), false)
            .await
            .unwrap();
        let (t2, none) = store
            .token_and_state(&key2, Some(&pkg), None, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t2.account, nobody);
        assert!(none.is_none());
        assert!(
            store
                .token_and_state(&format!("ds-missing-{stamp}"), None, None, now)
                .await
                .unwrap()
                .is_none()
        );
        // More failures than a request may carry (an address many clients share, an account
        // under guessing with no throttle configured): the newest are read, oldest first, so
        // the request stays valid and every window is still counted.
        use stepup_core::contract::request::MAX_FAILURES;
        // Names of this run alone (a PostgreSQL store outlives runs; failures stay a day).
        let salt = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let busy = format!("ds-busy-{id}-{salt}");
        let busy_ip = format!("fd00::{:x}:{:x}", id % 0xffff, salt % 0xffff);
        let extra = 3;
        for i in 0..MAX_FAILURES + extra {
            let at = now - 1_000 - i64::try_from(i).unwrap();
            store
                .record_failure(Some(&busy), Some(&busy_ip), at)
                .await
                .unwrap();
        }
        // Dated after now (another instance's clock): not read, so not in the way either.
        store
            .record_failure(Some(&busy), Some(&busy_ip), now + 60)
            .await
            .unwrap();
        let crowded = store
            .decision_state(&busy, None, Some(&busy_ip), now)
            .await
            .unwrap();
        let newest: Vec<i64> = (0..MAX_FAILURES)
            .rev()
            .map(|i| now - 1_000 - i64::try_from(i).unwrap())
            .collect();
        for list in [&crowded.account_failures, &crowded.ip_failures] {
            assert_eq!(
                (list.len(), list.first(), list.last()),
                (MAX_FAILURES, newest.first(), newest.last())
            );
            assert!(list == &newest);
        }
        let row = store.account(&alice).await.unwrap().unwrap();
        assert_eq!(
            (
                state.account.name,
                state.account.created,
                state.account.security_keys
            ),
            (row.name, row.created, row.security_keys)
        );
        // No package, no address: nothing read for them.
        let bare = store.decision_state(&alice, None, None, now).await.unwrap();
        assert_eq!(bare.package_access, None);
        assert!(bare.ip_failures.is_empty() && !bare.maintainers_kept);
        store.close().await;
    }
}

/// The hot path's reads run on connections outside the pool, which are not checked before use:
/// on PostgreSQL, readers whose connections the database cut are replaced and the read answered,
/// and a write made through the pool is seen by the next read at once. Closing the store closes
/// them: reads are refused after, and SQLite folds its write-ahead log back into the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_survive_their_connections_being_cut() {
    use stepup_server::store::{READER_NAME, Store};
    let dir = tempdir("readers");
    let id = std::process::id();
    let account = format!("rd-{id}");
    let now = stepup_server::now();
    for url in store_urls(&dir) {
        let store = Store::open(&url).await.unwrap();
        let first = store
            .decision_state(&account, None, None, now)
            .await
            .unwrap();
        assert_eq!(first.account.tfa_mode, None);
        if let stepup_server::store::StoreUrl::Postgres(pg) = &url {
            let cut = sqlx::query_scalar::<_, bool>(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
            )
            .bind(READER_NAME);
            let admin = sqlx::PgPool::connect(pg).await.unwrap();
            let cut = cut.fetch_all(&admin).await.unwrap();
            assert!(!cut.is_empty(), "no reader connection to cut");
            admin.close().await;
        }
        // Made through the pool, read through a reader (replaced, on PostgreSQL).
        store
            .set_maintainers(&format!("rd-pkg-{id}"), std::slice::from_ref(&account))
            .await
            .unwrap();
        for _ in 0..8 {
            let state = store
                .decision_state(&account, Some(&format!("rd-pkg-{id}")), None, now)
                .await
                .unwrap();
            assert!(state.maintainers_kept && state.maintainer);
        }
        store.close().await;
        assert!(
            store
                .decision_state(&account, None, None, now)
                .await
                .is_err(),
            "read after close"
        );
        if let stepup_server::store::StoreUrl::Sqlite(path) = &url {
            let wal = format!("{path}-wal");
            assert!(
                !std::path::Path::new(&wal).exists(),
                "{wal} left behind: a connection is still open"
            );
        }
    }
}
