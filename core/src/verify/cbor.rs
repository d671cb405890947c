//! A strict, allocation-bounded CBOR reader for the WebAuthn structures (attestation objects,
//! COSE keys). Only what CTAP2 canonical encoding uses: definite lengths, integers, byte and
//! text strings, arrays, maps, booleans and null. No tags, no floats, no indefinite lengths,
//! nesting at most [`MAX_DEPTH`]; a length is checked against the bytes left before anything is
//! allocated, so hostile input cannot make it reserve memory it does not hold.

/// Deepest nesting accepted (COSE keys and attestation statements need 3).
pub const MAX_DEPTH: usize = 8;

/// One decoded item, borrowing strings from the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// Major type 0 or 1, as a signed value (`-1 - n` for negatives).
    Int(i128),
    /// Major type 2.
    Bytes(&'a [u8]),
    /// Major type 3.
    Text(&'a str),
    /// Major type 4.
    Array(Vec<Value<'a>>),
    /// Major type 5, in encoded order.
    Map(Vec<(Value<'a>, Value<'a>)>),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl<'a> Value<'a> {
    /// The value under an integer key of a map.
    pub fn get_int(&self, key: i128) -> Option<&Value<'a>> {
        self.entries()?
            .iter()
            .find(|(k, _)| *k == Value::Int(key))
            .map(|(_, v)| v)
    }

    /// The value under a text key of a map.
    pub fn get_text(&self, key: &str) -> Option<&Value<'a>> {
        self.entries()?
            .iter()
            .find(|(k, _)| *k == Value::Text(key))
            .map(|(_, v)| v)
    }

    /// A map's entries.
    pub fn entries(&self) -> Option<&[(Value<'a>, Value<'a>)]> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// An integer's value.
    pub fn int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A byte string's bytes.
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// A text string.
    pub fn text(&self) -> Option<&'a str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// Why decoding stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CborError {
    /// Input ended inside an item.
    Truncated,
    /// A construct outside the accepted subset, or invalid UTF-8.
    Unsupported,
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Bytes left over after the item (for [`decode_all`]).
    Trailing,
}

/// Decodes one item from the front of `input`; returns it and the rest.
pub fn decode(input: &[u8]) -> Result<(Value<'_>, &[u8]), CborError> {
    let mut r = Reader { rest: input };
    let v = r.item(0)?;
    Ok((v, r.rest))
}

/// Decodes exactly one item spanning all of `input`.
pub fn decode_all(input: &[u8]) -> Result<Value<'_>, CborError> {
    match decode(input)? {
        (v, []) => Ok(v),
        _ => Err(CborError::Trailing),
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        if n > self.rest.len() {
            return Err(CborError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        self.take(1)?.first().copied().ok_or(CborError::Truncated)
    }

    fn argument(&mut self, info: u8) -> Result<u64, CborError> {
        let width = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return Err(CborError::Unsupported),
        };
        let bytes = self.take(width)?;
        Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn length(&mut self, info: u8) -> Result<usize, CborError> {
        let n = usize::try_from(self.argument(info)?).map_err(|_| CborError::Truncated)?;
        // Every element takes at least one byte, so a count above what is left is a lie.
        if n > self.rest.len() {
            return Err(CborError::Truncated);
        }
        Ok(n)
    }

    fn item(&mut self, depth: usize) -> Result<Value<'a>, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError::TooDeep);
        }
        let head = self.byte()?;
        let (major, info) = (head >> 5, head & 0x1f);
        Ok(match major {
            0 => Value::Int(i128::from(self.argument(info)?)),
            1 => Value::Int(-1 - i128::from(self.argument(info)?)),
            2 => {
                let n = self.length(info)?;
                Value::Bytes(self.take(n)?)
            }
            3 => {
                let n = self.length(info)?;
                Value::Text(std::str::from_utf8(self.take(n)?).map_err(|_| CborError::Unsupported)?)
            }
            4 => {
                let n = self.length(info)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.item(depth + 1)?);
                }
                Value::Array(items)
            }
            5 => {
                let n = self.length(info)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = self.item(depth + 1)?;
                    let v = self.item(depth + 1)?;
                    entries.push((k, v));
                }
                Value::Map(entries)
            }
            7 => match info {
                20 => Value::Bool(false),
                21 => Value::Bool(true),
                22 => Value::Null,
                _ => return Err(CborError::Unsupported),
            },
            _ => return Err(CborError::Unsupported),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_cose_key_shape() {
        // {1: 2, 3: -7, -1: 1, -2: h'01', -3: h'02'}
        let bytes = [
            0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x41, 0x01, 0x22, 0x41, 0x02,
        ];
        let v = decode_all(&bytes).unwrap();
        assert_eq!(v.get_int(1), Some(&Value::Int(2)));
        assert_eq!(v.get_int(3), Some(&Value::Int(-7)));
        assert_eq!(v.get_int(-2).and_then(Value::bytes), Some(&[1u8][..]));
    }

    #[test]
    fn refuses_lying_lengths_depth_and_trailing_bytes() {
        // byte string claiming 2^32 bytes
        assert_eq!(
            decode_all(&[0x5a, 0xff, 0xff, 0xff, 0xff]),
            Err(CborError::Truncated)
        );
        // array claiming 2^63 items
        assert_eq!(
            decode_all(&[0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(CborError::Truncated)
        );
        let deep = vec![0x81u8; 64];
        assert_eq!(decode_all(&deep), Err(CborError::TooDeep));
        assert_eq!(decode_all(&[0x01, 0x02]), Err(CborError::Trailing));
        assert_eq!(decode_all(&[0x9f]), Err(CborError::Unsupported));
        assert_eq!(decode_all(&[0xc1, 0x01]), Err(CborError::Unsupported));
    }
}
