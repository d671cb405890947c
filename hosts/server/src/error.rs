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
    /// The engine refused what the request carried (a code or assertion it cannot read): the
    /// caller's to fix, answered 400 with the SPEC error document's text.
    #[error("input: {}: {}", .0.path, .0.message)]
    Input(stepup_core::InputError),
    /// The policy component failed while answering (never `HostError::Input`: that is
    /// [`ServeError::Input`], see the `From` below).
    #[error("policy: {0}")]
    Host(stepup_wasmtime::HostError),
    /// The upstream registry failed after the request may have reached it.
    #[error("upstream: {0}")]
    Upstream(String),
    /// No connection to the upstream registry could be made: the request never left, so what
    /// its proof used up is given back.
    #[error("upstream: {0}")]
    UpstreamUnreached(String),
    /// The upstream registry did not answer in time.
    #[error("upstream: {0}")]
    UpstreamTimeout(String),
    /// A file or socket operation failed.
    #[error("{0}")]
    Io(String),
}

/// Input the component refused is the caller's; anything else it reports is its own failure.
impl From<stepup_wasmtime::HostError> for ServeError {
    fn from(e: stepup_wasmtime::HostError) -> ServeError {
        match e {
            stepup_wasmtime::HostError::Input(e) => ServeError::Input(e),
            other => ServeError::Host(other),
        }
    }
}

/// A 503 the client may retry after `retry_after` seconds.
fn unavailable(message: &str, retry_after: &'static str) -> Response<Body> {
    let mut r = crate::npm::error_answer(StatusCode::SERVICE_UNAVAILABLE, message);
    r.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static(retry_after),
    );
    r
}

/// A failure inside a handler is the server's: logged with its cause, answered 500 in npm's
/// error shape without the details (the log has them). Bad input is the caller's: 400 with the
/// error document's npm text. A component that failed while answering is a 503 the client may
/// retry.
impl IntoResponse for ServeError {
    fn into_response(self) -> Response<Body> {
        match self {
            ServeError::Input(e) => return crate::npm::input_answer(&e),
            ServeError::Host(e) => {
                tracing::error!(error = %e, "the policy component failed");
                return unavailable("stepup: the policy could not answer; try again.", "1");
            }
            // The registry behind the gateway failed, not the caller: 503 or 504 with
            // `Retry-After`, never a 500 or a 400.
            ServeError::Upstream(_)
            | ServeError::UpstreamUnreached(_)
            | ServeError::UpstreamTimeout(_) => {
                return crate::upstream::bad_gateway(&self);
            }
            // The store is down or refused a statement: the caller did nothing wrong, and may
            // retry.
            ServeError::Store(_) | ServeError::Sql(_) => {
                tracing::error!(error = %self, "the store failed");
                return unavailable(
                    "stepup: the server's store is unavailable; try again shortly.",
                    "5",
                );
            }
            _ => {}
        }
        tracing::error!(error = %self, "request failed");
        crate::npm::error_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "stepup: internal error; the server log says more.",
        )
    }
}
