//! Small, fuzzable codecs: base32 (RFC 4648, for TOTP secrets) and hex (for hashes and salts).

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Encodes bytes as unpadded upper-case base32, the form authenticator apps expect.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(b32_char(buf >> bits));
        }
        buf &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(b32_char(buf << (5 - bits)));
    }
    out
}

fn b32_char(v: u32) -> char {
    B32.get((v & 31) as usize).map_or('A', |&c| char::from(c))
}

/// Decodes base32, ignoring case, spaces, dashes and trailing `=` padding. `None` on any other
/// character or on trailing bits that are not zero.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    let trimmed = text.trim_end_matches('=');
    for c in trimmed.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            b' ' | b'-' => continue,
            _ => return None,
        };
        buf = (buf << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
        buf &= (1 << bits) - 1;
    }
    if buf != 0 {
        return None;
    }
    Some(out)
}

/// Encodes bytes as lower-case hex.
pub fn hex_encode(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        for nibble in [b >> 4, b & 15] {
            s.push(H.get(usize::from(nibble)).map_or('0', |&c| char::from(c)));
        }
    }
    s
}

/// Decodes hex (either case); `None` on odd length or a non-hex character.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    b.chunks_exact(2)
        .map(|p| match p {
            [h, l] => Some((nib(*h)? << 4) | nib(*l)?),
            _ => None,
        })
        .collect()
}

/// Encodes bytes as unpadded base64url, the form WebAuthn and JOSE use on the wire.
pub fn b64url_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url with or without padding (browsers and JOSE libraries differ). `None` on
/// any character outside the alphabet, including standard base64's `+` and `/`.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let trimmed = text.trim_end_matches('=');
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_round_trips_rfc4648_vectors() {
        for (raw, enc) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(raw.as_bytes()), enc);
            assert_eq!(base32_decode(enc).as_deref(), Some(raw.as_bytes()));
        }
        assert_eq!(
            base32_decode("mzxw6ytboi======").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(
            base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").as_deref(),
            Some(&b"12345678901234567890"[..])
        );
        assert_eq!(base32_decode("MZ1"), None);
        assert_eq!(base32_decode("MY"), Some(b"f".to_vec()));
        assert_eq!(
            base32_decode("MZ"),
            None,
            "non-zero trailing bits are rejected"
        );
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex_encode(&[0, 1, 0xab, 0xff]), "0001abff");
        assert_eq!(hex_decode("0001ABff"), Some(vec![0, 1, 0xab, 0xff]));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
    }
}
