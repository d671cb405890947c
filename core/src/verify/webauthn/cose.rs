//! COSE_Key (RFC 9053) → a verifying key, for the three algorithms stepup accepts.

use crate::verify::cbor::{self, Value};
use crate::verify::sig::{Alg, PublicKey};

/// A credential public key as stored: its algorithm and the parsed key.
#[derive(Clone, Debug)]
pub struct CoseKey {
    /// The key's declared algorithm.
    pub alg: Alg,
    /// Ready to verify.
    pub key: PublicKey,
}

/// Why a COSE key was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoseError {
    /// Not CBOR, or not a map of the expected shape.
    Malformed,
    /// An algorithm or curve stepup does not accept.
    Unsupported,
}

/// Parses a COSE key that is the whole of `bytes`.
pub fn parse(bytes: &[u8]) -> Result<CoseKey, CoseError> {
    let v = cbor::decode_all(bytes).map_err(|_| CoseError::Malformed)?;
    from_value(&v)
}

/// Parses a COSE key from an already-decoded CBOR map.
pub fn from_value(v: &Value<'_>) -> Result<CoseKey, CoseError> {
    let kty = v
        .get_int(1)
        .and_then(Value::int)
        .ok_or(CoseError::Malformed)?;
    let alg = v
        .get_int(3)
        .and_then(Value::int)
        .ok_or(CoseError::Malformed)?;
    let alg = i64::try_from(alg)
        .ok()
        .and_then(Alg::from_cose)
        .ok_or(CoseError::Unsupported)?;
    let bytes = |k: i128| {
        v.get_int(k)
            .and_then(Value::bytes)
            .ok_or(CoseError::Malformed)
    };
    let key = match (kty, alg) {
        // EC2, P-256
        (2, Alg::Es256) => {
            if v.get_int(-1).and_then(Value::int) != Some(1) {
                return Err(CoseError::Unsupported);
            }
            PublicKey::p256(bytes(-2)?, bytes(-3)?).ok_or(CoseError::Malformed)?
        }
        // OKP, Ed25519
        (1, Alg::EdDsa) => {
            if v.get_int(-1).and_then(Value::int) != Some(6) {
                return Err(CoseError::Unsupported);
            }
            PublicKey::ed25519(bytes(-2)?).ok_or(CoseError::Malformed)?
        }
        // RSA
        (3, Alg::Rs256) => PublicKey::rsa(bytes(-1)?, bytes(-2)?).ok_or(CoseError::Unsupported)?,
        _ => return Err(CoseError::Malformed),
    };
    Ok(CoseKey { alg, key })
}
