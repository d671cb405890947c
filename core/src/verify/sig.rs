//! Signature verification for WebAuthn (COSE algorithms) and OIDC (JOSE algorithms): one place
//! that knows the three algorithms stepup accepts, so both ceremonies refuse the same weak ones.

use p256::ecdsa::signature::Verifier as _;
use serde::Serialize;

/// A signature algorithm stepup verifies. Anything else (RSA-PSS, ES384, `none`, HMAC) is
/// refused before any key is touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Alg {
    /// ECDSA over P-256 with SHA-256 (COSE -7).
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519 (COSE -8).
    #[serde(rename = "EdDSA")]
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (COSE -257).
    #[serde(rename = "RS256")]
    Rs256,
}

impl Alg {
    /// From a COSE algorithm identifier.
    pub fn from_cose(id: i64) -> Option<Alg> {
        match id {
            -7 => Some(Alg::Es256),
            -8 => Some(Alg::EdDsa),
            -257 => Some(Alg::Rs256),
            _ => None,
        }
    }

    /// The COSE algorithm identifier.
    pub fn cose(self) -> i64 {
        match self {
            Alg::Es256 => -7,
            Alg::EdDsa => -8,
            Alg::Rs256 => -257,
        }
    }

    /// The JOSE / display name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
            Alg::Rs256 => "RS256",
        }
    }

    /// From a JOSE `alg` header value.
    pub fn from_jose(name: &str) -> Option<Alg> {
        match name {
            "ES256" => Some(Alg::Es256),
            "EdDSA" => Some(Alg::EdDsa),
            "RS256" => Some(Alg::Rs256),
            _ => None,
        }
    }
}

/// RSA moduli below this are refused (NIST: 2048 bits minimum).
pub const MIN_RSA_BITS: usize = 2048;
/// RSA moduli above this are refused: verification cost grows with the square of the size.
pub const MAX_RSA_BITS: usize = 8192;

/// A public key in a form ready to verify with.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// P-256 point, SEC1 uncompressed (65 bytes).
    P256(Box<p256::ecdsa::VerifyingKey>),
    /// Ed25519 point (32 bytes).
    Ed25519(Box<ed25519_dalek::VerifyingKey>),
    /// RSA modulus and exponent.
    Rsa(Box<rsa::PublicKey>),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PublicKey::P256(_) => "PublicKey::P256",
            PublicKey::Ed25519(_) => "PublicKey::Ed25519",
            PublicKey::Rsa(_) => "PublicKey::Rsa",
        })
    }
}

/// How an ECDSA signature is encoded: WebAuthn uses ASN.1 DER, JOSE the raw `r ‖ s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EcdsaEncoding {
    /// ASN.1 DER `SEQUENCE { r, s }`.
    Der,
    /// 64 bytes, `r ‖ s`.
    Raw,
}

impl PublicKey {
    /// A P-256 key from its affine coordinates (32 bytes each).
    pub fn p256(x: &[u8], y: &[u8]) -> Option<PublicKey> {
        if x.len() != 32 || y.len() != 32 {
            return None;
        }
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(4);
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
            .ok()
            .map(|k| PublicKey::P256(Box::new(k)))
    }

    /// An Ed25519 key from its 32-byte encoding; small-order points are refused.
    pub fn ed25519(x: &[u8]) -> Option<PublicKey> {
        let bytes = <[u8; 32]>::try_from(x).ok()?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok()?;
        (!key.is_weak()).then(|| PublicKey::Ed25519(Box::new(key)))
    }

    /// An RSA key from big-endian modulus and exponent, 2048 to 8192 bits.
    pub fn rsa(n: &[u8], e: &[u8]) -> Option<PublicKey> {
        let n = strip_zeros(n);
        let e = strip_zeros(e);
        let bits = n.len().checked_mul(8)?;
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) || e.is_empty() || e.len() > 8 {
            return None;
        }
        let precision = u32::try_from(bits).ok()?;
        let n = rsa::BoxedUint::from_be_slice(n, precision).ok()?;
        let e = rsa::BoxedUint::from_be_slice(e, 64).ok()?;
        rsa::PublicKey::new(n, e)
            .ok()
            .map(|k| PublicKey::Rsa(Box::new(k)))
    }

    /// Verifies `sig` over `msg` with `alg`. Any mismatch (wrong key type, bad encoding,
    /// bad signature) is simply `false`: callers report one "signature" problem.
    pub fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8], ecdsa: EcdsaEncoding) -> bool {
        match (self, alg) {
            (PublicKey::P256(key), Alg::Es256) => {
                let parsed = match ecdsa {
                    EcdsaEncoding::Der => p256::ecdsa::Signature::from_der(sig),
                    EcdsaEncoding::Raw => p256::ecdsa::Signature::from_slice(sig),
                };
                parsed.is_ok_and(|s| key.verify(msg, &s).is_ok())
            }
            (PublicKey::Ed25519(key), Alg::EdDsa) => ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|s| key.verify_strict(msg, &s).is_ok()),
            (PublicKey::Rsa(key), Alg::Rs256) => {
                let verifier =
                    rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.as_ref().clone());
                rsa::pkcs1v15::Signature::try_from(sig)
                    .is_ok_and(|s| verifier.verify(msg, &s).is_ok())
            }
            _ => false,
        }
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}
