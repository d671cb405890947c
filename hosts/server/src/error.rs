//! Why the server could not start, reload or answer. Messages name what to fix and never carry a
//! secret (keys, codes, tokens and passwords are described, not quoted).

use axum::body::Body;
use axum::http::{Response, StatusCode};
use axum::response::IntoResponse;

/// A server failure.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The sealing key is missing or malformed, or a stored secret does not open with it.
    #[error("secret key: {0}")]
    Key(String),
    /// The database could not be reached or refused a statement.
    #[error("store: {0}")]
    Store(String),
    /// A database statement failed (sqlx errors name statements and columns, never bound
    /// values).
    #[error("store: {0}")]
    Sql(#[from] sqlx::Error),
    /// The policy component or configuration could not be loaded.
    #[error("policy: {0}")]
    Policy(String),
    /// The policy component failed while answering.
    #[error("policy: {0}")]
    Host(#[from] stepup_wasmtime::HostError),
    /// The upstream registry could not be reached.
    #[error("upstream: {0}")]
    Upstream(String),
    /// A file or socket operation failed.
    #[error("{0}")]
    Io(String),
}

/// A failure inside a handler is the server's: logged with its cause, answered 500 in npm's
/// error shape without the details (the log has them).
impl IntoResponse for ServeError {
    fn into_response(self) -> Response<Body> {
        tracing::error!(error = %self, "request failed");
        crate::npm::error_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "stepup: internal error; the server log says more.",
        )
    }
}
