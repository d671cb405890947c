//! A client of a running server's admin API, for the command-line tools that act on a server
//! rather than on files (`stepup impact import`): the same token, the same answers an operator
//! would get with curl.

use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::error::ServeError;

pub use axum::http::Method;

/// Where the server is and how to prove the caller is its operator.
#[derive(Clone, Debug, clap::Args)]
pub struct AdminOptions {
    /// The running server's base URL.
    #[arg(long, env = "STEPUP_SERVER", default_value = "http://127.0.0.1:8787")]
    pub server: String,
    /// File holding the admin token; default: the STEPUP_ADMIN_TOKEN environment variable.
    #[arg(long)]
    pub admin_token_file: Option<std::path::PathBuf>,
}

impl AdminOptions {
    fn token(&self) -> Result<String, ServeError> {
        let text = match &self.admin_token_file {
            Some(p) => std::fs::read_to_string(p).map_err(|e| {
                ServeError::Key(format!(
                    "cannot read --admin-token-file {}: {e}",
                    p.display()
                ))
            })?,
            None => std::env::var("STEPUP_ADMIN_TOKEN").map_err(|_| {
                ServeError::Key(
                    "no admin token: set STEPUP_ADMIN_TOKEN or --admin-token-file".into(),
                )
            })?,
        };
        Ok(text.trim().to_owned())
    }

    /// Sends `body` (JSON) to `path` and returns the status and the JSON answer.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ServeError> {
        let token = self.token()?;
        let url = format!("{}{path}", self.server.trim_end_matches('/'));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ServeError::Io(format!("cannot start the runtime: {e}")))?;
        rt.block_on(async {
            let client: Client<HttpConnector, Body> =
                Client::builder(TokioExecutor::new()).build(HttpConnector::new());
            let req = Request::builder()
                .method(method)
                .uri(&url)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.map(Value::to_string).unwrap_or_default()))
                .map_err(|e| ServeError::Io(format!("{url}: {e}")))?;
            let res = client
                .request(req)
                .await
                .map_err(|e| ServeError::Io(format!("cannot reach {url}: {e}")))?;
            let status = res.status().as_u16();
            let bytes = res
                .into_body()
                .collect()
                .await
                .map_err(|e| ServeError::Io(format!("{url}: {e}")))?
                .to_bytes();
            let doc = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            Ok((status, doc))
        })
    }
}
