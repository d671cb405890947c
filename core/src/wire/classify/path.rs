//! The canonical form of a request path (SPEC §9.2): split, decoded exactly once, checked, and
//! written back in one encoding, so that what the engine decides and what the upstream receives
//! are the same request whatever encoding the client chose.
//!
//! Escapes are validated here before `percent-encoding` decodes them: that crate passes a
//! malformed escape (`%zz`) through as text, and a registry behind the gate might read it
//! differently, so a malformed escape must be refused rather than guessed at.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::Problem;

/// Characters written as they are in a canonical segment: RFC 3986 unreserved, plus `@` and `:`
/// (npm writes `@scope%2fname` and `org.couchdb.user:name` literally). Everything else, `/`,
/// `%` and the sub-delimiters included, is escaped, with lower-case hex as npm writes `%2f`.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@')
    .remove(b':');

/// A request target split into decoded path segments and its raw query.
#[derive(Debug)]
pub struct Target<'a> {
    /// Decoded segments; a trailing `/` is dropped, the root is none.
    pub segments: Vec<String>,
    /// The query after `?`, exactly as received (may be empty).
    pub query: Option<&'a str>,
}

/// A refused path: the problem and the offending raw segment.
pub type Refusal = (Problem, String);

/// Splits and decodes `raw` (path and query as received).
pub fn parse(raw: &str) -> Result<Target<'_>, Refusal> {
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw, None),
    };
    let Some(rest) = path.strip_prefix('/') else {
        return Err((Problem::BadSegment, path.to_owned()));
    };
    let mut raw_segments: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    // One trailing slash is ignored (`/pkg/` is `/pkg`); any other empty segment is refused.
    if raw_segments.len() > 1 && raw_segments.last() == Some(&"") {
        raw_segments.pop();
    }
    let mut segments = Vec::with_capacity(raw_segments.len());
    for seg in raw_segments {
        segments.push(decode(seg).map_err(|p| (p, seg.to_owned()))?);
    }
    Ok(Target { segments, query })
}

/// Decodes one segment exactly once and checks what it decodes to.
fn decode(seg: &str) -> Result<String, Problem> {
    if seg.is_empty() {
        return Err(Problem::EmptySegment);
    }
    if seg == "." || seg == ".." {
        return Err(Problem::DotSegment);
    }
    let bytes = seg.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Err(Problem::BadSegment);
            }
        }
    }
    let decoded = percent_decode_str(seg)
        .decode_utf8()
        .map_err(|_| Problem::BadSegment)?
        .into_owned();
    if decoded.contains('%') {
        return Err(Problem::DoubleEncoding);
    }
    if decoded == "." || decoded == ".." {
        return Err(Problem::DotSegment);
    }
    if decoded.is_empty() || decoded.chars().any(|c| c == ';' || c.is_control()) {
        return Err(Problem::BadSegment);
    }
    Ok(decoded)
}

/// One decoded segment in the canonical encoding.
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for piece in utf8_percent_encode(segment, KEEP) {
        if piece.starts_with('%') {
            out.push_str(&piece.to_ascii_lowercase());
        } else {
            out.push_str(piece);
        }
    }
    out
}

/// A package name as one canonical segment: `@scope%2fname` for a scoped name (npm's
/// `escapedName`), the name itself otherwise.
pub fn encode_package(name: &str) -> String {
    match name.split_once('/') {
        Some((scope, rest)) => format!("{}%2f{}", encode(scope), encode(rest)),
        None => encode(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(raw: &str) -> Result<Vec<String>, Problem> {
        parse(raw).map(|t| t.segments).map_err(|(p, _)| p)
    }

    #[test]
    fn decodes_once() {
        assert_eq!(segs("/%40a%2fb").unwrap(), ["@a/b"]);
        assert_eq!(segs("/%6ceft-pad/").unwrap(), ["left-pad"]);
        assert_eq!(segs("/").unwrap(), Vec::<String>::new());
        assert_eq!(segs("/%252f"), Err(Problem::DoubleEncoding));
        assert_eq!(segs("/%2e%2e"), Err(Problem::DotSegment));
        assert_eq!(segs("/a//b"), Err(Problem::EmptySegment));
        assert_eq!(segs("/a//"), Err(Problem::EmptySegment));
        assert_eq!(segs("/a%zz"), Err(Problem::BadSegment));
        assert_eq!(segs("/a%4"), Err(Problem::BadSegment));
        assert_eq!(segs("/a%ff"), Err(Problem::BadSegment));
        assert_eq!(segs("/a;b"), Err(Problem::BadSegment));
        assert_eq!(segs("/a%00"), Err(Problem::BadSegment));
        assert_eq!(segs("a"), Err(Problem::BadSegment));
    }

    #[test]
    fn encodes_one_way() {
        assert_eq!(encode("left-pad"), "left-pad");
        assert_eq!(encode("a/b c+d!"), "a%2fb%20c%2bd%21");
        assert_eq!(encode_package("@acme/widget"), "@acme%2fwidget");
        assert_eq!(encode("org.couchdb.user:alice"), "org.couchdb.user:alice");
    }
}
