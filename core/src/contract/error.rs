//! The one error type every entry point returns for bad input.

use std::fmt;

/// Bad input, reported with the path of the first offending field (SPEC §8.17, §8.21).
///
/// Hosts turn it into the `{"outcome":"error","reason":"invalid-input",...}` document, so a
/// registry can show the operator exactly which field to fix. It never carries secret values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// Dotted path of the field, e.g. `credential.expires_at` or `orgs[1].name`; `.` for the
    /// document itself.
    pub path: String,
    /// What was expected there, e.g. `expected unix seconds`.
    pub message: String,
}

impl InputError {
    /// Builds an error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Prefixes the path with `prefix` (e.g. `config`), so nested documents report full paths.
    #[must_use]
    pub fn within(mut self, prefix: &str) -> Self {
        self.path = if self.path == "." || self.path.is_empty() {
            prefix.to_owned()
        } else if self.path.starts_with('[') {
            format!("{prefix}{}", self.path)
        } else {
            format!("{prefix}.{}", self.path)
        };
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for InputError {}

/// Joins a parent path and a field name the way `serde_path_to_error` does.
pub(crate) fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

/// Joins a parent path and a list index.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}
