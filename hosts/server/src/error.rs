//! Why the server could not start, reload or answer. Messages name what to fix and never carry a
//! secret (keys, codes, tokens and passwords are described, not quoted).

use std::fmt;

/// A server failure.
#[derive(Debug)]
pub enum ServeError {
    /// The sealing key is missing or malformed, or a stored secret does not open with it.
    Key(String),
    /// The database could not be reached or refused a statement.
    Store(String),
    /// The policy component or configuration could not be loaded.
    Policy(String),
    /// The upstream registry could not be reached.
    Upstream(String),
    /// A file or socket operation failed.
    Io(String),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Key(m) => write!(f, "secret key: {m}"),
            ServeError::Store(m) => write!(f, "store: {m}"),
            ServeError::Policy(m) => write!(f, "policy: {m}"),
            ServeError::Upstream(m) => write!(f, "upstream: {m}"),
            ServeError::Io(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for ServeError {}

impl From<sqlx::Error> for ServeError {
    fn from(e: sqlx::Error) -> Self {
        // sqlx errors name statements and columns, never bound values.
        ServeError::Store(e.to_string())
    }
}
