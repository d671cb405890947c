//! Parsing JSON documents with size limits and field-path errors.

use serde::de::DeserializeOwned;

use crate::error::InputError;

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
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
    de.end().map_err(|e| InputError::new(".", clean(&e)))?;
    Ok(value)
}

/// Deserializes an already-parsed JSON value into `T` with path errors.
pub fn from_value<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, InputError> {
    serde_path_to_error::deserialize(value).map_err(path_error)
}

fn path_error(e: serde_path_to_error::Error<serde_json::Error>) -> InputError {
    let path = e.path().to_string();
    InputError::new(path, clean(e.inner()))
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

/// Deserializes `null` as the type's default, for lists and objects that may be absent or null.
pub(crate) fn nullable<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}
