//! Parsing JSON documents with size limits and field-path errors.
//!
//! serde_json reports where a document went wrong (line and byte column); [`path_at`] turns
//! that position into the field path by scanning the document up to it. This keeps error paths
//! exact without a path-tracking deserializer wrapper, which would be monomorphised for every
//! type and more than double the size of the WebAssembly component.

use serde::de::DeserializeOwned;

use crate::contract::error::InputError;

/// Largest JSON document any entry point accepts. Requests are a few hundred bytes; the cap
/// keeps a hostile caller from making the engine allocate without bound.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// Parses `text` into `T`, reporting the first invalid field (in document order) with its path.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, InputError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(InputError::new(
            ".",
            format!(
                "document is {} bytes; the limit is {MAX_DOCUMENT_BYTES}",
                text.len()
            ),
        ));
    }
    parse_unbounded(text)
}

/// [`parse`] without the size cap, for documents an operator hands a command-line tool (a
/// registry's whole population), never for what arrives over a binding.
pub fn parse_unbounded<T: DeserializeOwned>(text: &str) -> Result<T, InputError> {
    serde_json::from_str(text)
        .map_err(|e| InputError::new(path_at(text, offset(text, e.line(), e.column())), clean(&e)))
}

/// Deserializes an already-parsed JSON value into `T` with path errors (the value is written
/// out and parsed, so paths and document order are exactly those of [`parse`]).
pub fn from_value<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, InputError> {
    parse(&value.to_string())
}

/// serde_json appends " at line L column C"; the path already says where, and hosts that
/// built the JSON themselves have no lines to point at.
fn clean(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text.get(..i).unwrap_or(&text).to_owned(),
        None => text,
    }
}

/// Byte offset of a serde_json (line, column) position: column counts bytes from the line start.
fn offset(text: &str, line: usize, column: usize) -> usize {
    if line == 0 {
        return text.len();
    }
    let start = text
        .match_indices('\n')
        .nth(line.saturating_sub(2))
        .map_or(0, |(i, _)| i + 1);
    if line == 1 {
        column
    } else {
        start.saturating_add(column)
    }
}

enum Frame<'a> {
    Object {
        key: Option<&'a str>,
        want_key: bool,
    },
    Array {
        index: usize,
    },
}

/// The field path of the value being read at byte `end` of `text`: `a.b[2].c`, or `.` at the
/// top level. Strings are skipped whole (escapes included), so braces inside them do not count.
pub fn path_at(text: &str, end: usize) -> String {
    let bytes = text.as_bytes();
    let end = end.min(bytes.len());
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut i = 0;
    while i < end {
        match bytes.get(i) {
            Some(b'{') => stack.push(Frame::Object {
                key: None,
                want_key: true,
            }),
            Some(b'[') => stack.push(Frame::Array { index: 0 }),
            Some(b'}' | b']') => {
                stack.pop();
            }
            Some(b',') => match stack.last_mut() {
                Some(Frame::Array { index }) => *index += 1,
                Some(Frame::Object { want_key, .. }) => *want_key = true,
                None => {}
            },
            Some(b':') => {
                if let Some(Frame::Object { want_key, .. }) = stack.last_mut() {
                    *want_key = false;
                }
            }
            Some(b'"') => {
                let start = i + 1;
                let mut j = start;
                while let Some(&c) = bytes.get(j) {
                    match c {
                        b'"' => break,
                        b'\\' => j += 2,
                        _ => j += 1,
                    }
                }
                if let Some(Frame::Object {
                    key,
                    want_key: true,
                }) = stack.last_mut()
                {
                    *key = text.get(start..j.min(bytes.len()));
                }
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for f in &stack {
        match f {
            Frame::Object { key: Some(k), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            Frame::Object { key: None, .. } => {}
            Frame::Array { index } => {
                path.push('[');
                path.push_str(&index.to_string());
                path.push(']');
            }
        }
    }
    if path.is_empty() {
        ".".to_owned()
    } else {
        path
    }
}

/// Deserializes `null` as the type's default, for lists and objects that may be absent or null.
pub(crate) fn nullable<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_document() {
        let doc = r#"{"a":{"b":[1,{"c":"x}]"}],"d":2}}"#;
        let at = |needle: &str| path_at(doc, doc.find(needle).unwrap() + needle.len());
        assert_eq!(at(r#""c":"x}]""#), "a.b[1].c");
        assert_eq!(at("[1"), "a.b[0]");
        assert_eq!(at(r#""d":2"#), "a.d");
        assert_eq!(at(r#""d""#), "a.d");
        assert_eq!(path_at(doc, doc.len()), ".");
        assert_eq!(path_at("", 0), ".");
    }

    #[test]
    fn multi_line_positions() {
        #[derive(serde::Deserialize, Debug)]
        struct T {
            #[expect(dead_code, reason = "only the error is inspected")]
            a: Vec<u8>,
        }
        let e = parse::<T>("{\n  \"a\": [1,\n 2, 300]\n}").unwrap_err();
        assert_eq!(e.path, "a[2]");
        let e = parse::<T>("{\"ä\":\"ü\",\n\"a\":[1,2,300]}").unwrap_err();
        assert_eq!(
            e.path, "a[2]",
            "columns are bytes, so non-ASCII text before the error is fine"
        );
    }
}
