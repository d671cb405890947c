//! Compact JWS (RFC 7515) parsing and signature verification against a JWKS (RFC 7517), for
//! RS256 and ES256 only: `none`, HMAC and everything else are refused before a key is chosen.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::verify::sig::{Alg, EcdsaEncoding, PublicKey, Verification};
use crate::wire::encoding::b64url_decode;

/// Longest token accepted.
pub const MAX_TOKEN: usize = 16 * 1024;
/// Most keys a JWKS may hold.
pub const MAX_KEYS: usize = 32;

/// A token whose signature verified, with its claims.
#[derive(Debug)]
pub struct Verified {
    /// The payload's claims.
    pub claims: Map<String, Value>,
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts with JSON header and payload.
    Malformed,
    /// `alg` other than RS256 / ES256, or a `crit` header.
    Algorithm,
    /// No key in the JWKS fits the header.
    NoKey,
    /// The signature does not verify.
    Signature,
    /// This build does not verify the token's algorithm (a build without that feature).
    Unverifiable(Alg),
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// One JSON Web Key; providers add fields stepup does not need (`x5c`, `x5t`, ...).
#[derive(Clone, Debug, Deserialize)]
pub struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

/// A key set as providers publish it.
#[derive(Clone, Debug, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl Jwk {
    fn public_key(&self) -> Option<(Alg, PublicKey)> {
        let dec = |v: &Option<String>| v.as_deref().and_then(b64url_decode);
        match self.kty.as_str() {
            "RSA" => Some((Alg::Rs256, PublicKey::rsa(&dec(&self.n)?, &dec(&self.e)?)?)),
            "EC" if self.crv.as_deref() == Some("P-256") => {
                Some((Alg::Es256, PublicKey::p256(&dec(&self.x)?, &dec(&self.y)?)?))
            }
            _ => None,
        }
    }
}

fn json_part(part: &str) -> Result<Vec<u8>, JwtError> {
    b64url_decode(part).ok_or(JwtError::Malformed)
}

/// The claims a token says it has, unverified: only to choose which provider's keys may
/// verify it (a key set is bound to its provider's issuer, SPEC §9.7). `None` when malformed.
pub fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    if token.len() > MAX_TOKEN {
        return None;
    }
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&json_part(payload).ok()?).ok()
}

/// Verifies `token` with a key of `jwks` and returns its claims. Claims are not judged here.
pub fn verify(token: &str, jwks: &Jwks) -> Result<Verified, JwtError> {
    if token.len() > MAX_TOKEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: Header = serde_json::from_slice(&json_part(h)?).map_err(|_| JwtError::Malformed)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&json_part(p)?).map_err(|_| JwtError::Malformed)?;
    let sig = json_part(s)?;
    if header.crit.is_some() {
        return Err(JwtError::Algorithm);
    }
    let alg = match Alg::from_jose(&header.alg) {
        Some(a @ (Alg::Rs256 | Alg::Es256)) => a,
        _ => return Err(JwtError::Algorithm),
    };
    let signed = token
        .len()
        .checked_sub(s.len() + 1)
        .and_then(|end| token.get(..end))
        .ok_or(JwtError::Malformed)?;
    let candidates = jwks.keys.iter().take(MAX_KEYS).filter(|k| {
        header
            .kid
            .as_ref()
            .is_none_or(|kid| k.kid.as_ref() == Some(kid))
            && k.alg.as_deref().is_none_or(|a| a == alg.name())
            && k.use_.as_deref().is_none_or(|u| u == "sig")
    });
    let mut found = JwtError::NoKey;
    for k in candidates {
        let Some((key_alg, key)) = k.public_key() else {
            continue;
        };
        if key_alg != alg {
            continue;
        }
        match key.verify(alg, signed.as_bytes(), &sig, EcdsaEncoding::Raw) {
            Verification::Valid => return Ok(Verified { claims }),
            Verification::Invalid if found == JwtError::NoKey => found = JwtError::Signature,
            Verification::Invalid => {}
            Verification::Unverifiable(a) => found = JwtError::Unverifiable(a),
        }
    }
    Err(found)
}
