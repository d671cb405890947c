//! Signature verification for WebAuthn (COSE algorithms) and OIDC (JOSE algorithms): one place
//! that knows the three algorithms stepup accepts, so both ceremonies refuse the same weak ones.
//!
//! Each algorithm's verifier is a cargo feature (`es256`, `eddsa`, `rs256`, together
//! `signatures`). Without one, keys of that algorithm are still checked for their shape and
//! come out as [`PublicKey::Unverifiable`]; verifying with one says so
//! ([`Verification::Unverifiable`]) rather than pass or fail, so a browser build can run a
//! ceremony's other checks and leave the signature to the server.

#[cfg(feature = "es256")]
use p256::ecdsa::signature::Verifier as _;
#[cfg(all(feature = "rs256", not(feature = "es256")))]
use rsa::signature::Verifier as _;
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
    #[cfg(feature = "es256")]
    P256(Box<p256::ecdsa::VerifyingKey>),
    /// Ed25519 point (32 bytes).
    #[cfg(feature = "eddsa")]
    Ed25519(Box<ed25519_dalek::VerifyingKey>),
    /// RSA modulus and exponent.
    #[cfg(feature = "rs256")]
    Rsa(Box<rsa::PublicKey>),
    /// A key of the right shape for an algorithm this build does not verify.
    #[cfg(not(all(feature = "es256", feature = "eddsa", feature = "rs256")))]
    Unverifiable(Alg),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            #[cfg(feature = "es256")]
            PublicKey::P256(_) => f.write_str("PublicKey::P256"),
            #[cfg(feature = "eddsa")]
            PublicKey::Ed25519(_) => f.write_str("PublicKey::Ed25519"),
            #[cfg(feature = "rs256")]
            PublicKey::Rsa(_) => f.write_str("PublicKey::Rsa"),
            #[cfg(not(all(feature = "es256", feature = "eddsa", feature = "rs256")))]
            PublicKey::Unverifiable(alg) => write!(f, "PublicKey::Unverifiable({})", alg.name()),
        }
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

/// What checking a signature found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The signature verifies.
    Valid,
    /// It does not (wrong key type, bad encoding, bad signature): callers report one problem.
    Invalid,
    /// This build does not verify `Alg` signatures (its feature is off).
    #[cfg_attr(
        all(feature = "es256", feature = "eddsa", feature = "rs256"),
        expect(dead_code, reason = "only builds without a verifier construct it")
    )]
    Unverifiable(Alg),
}

impl PublicKey {
    /// A P-256 key from its affine coordinates (32 bytes each).
    pub fn p256(x: &[u8], y: &[u8]) -> Option<PublicKey> {
        if x.len() != 32 || y.len() != 32 {
            return None;
        }
        #[cfg(feature = "es256")]
        {
            let mut sec1 = Vec::with_capacity(65);
            sec1.push(4);
            sec1.extend_from_slice(x);
            sec1.extend_from_slice(y);
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                .ok()
                .map(|k| PublicKey::P256(Box::new(k)))
        }
        #[cfg(not(feature = "es256"))]
        Some(PublicKey::Unverifiable(Alg::Es256))
    }

    /// An Ed25519 key from its 32-byte encoding; small-order points are refused.
    pub fn ed25519(x: &[u8]) -> Option<PublicKey> {
        let bytes = <[u8; 32]>::try_from(x).ok()?;
        #[cfg(feature = "eddsa")]
        {
            let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok()?;
            (!key.is_weak()).then(|| PublicKey::Ed25519(Box::new(key)))
        }
        #[cfg(not(feature = "eddsa"))]
        {
            let _ = bytes;
            Some(PublicKey::Unverifiable(Alg::EdDsa))
        }
    }

    /// An RSA key from big-endian modulus and exponent, 2048 to 8192 bits.
    pub fn rsa(n: &[u8], e: &[u8]) -> Option<PublicKey> {
        let n = strip_zeros(n);
        let e = strip_zeros(e);
        let bits = n.len().checked_mul(8)?;
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) || e.is_empty() || e.len() > 8 {
            return None;
        }
        #[cfg(feature = "rs256")]
        {
            let precision = u32::try_from(bits).ok()?;
            let n = rsa::BoxedUint::from_be_slice(n, precision).ok()?;
            let e = rsa::BoxedUint::from_be_slice(e, 64).ok()?;
            rsa::PublicKey::new(n, e)
                .ok()
                .map(|k| PublicKey::Rsa(Box::new(k)))
        }
        #[cfg(not(feature = "rs256"))]
        Some(PublicKey::Unverifiable(Alg::Rs256))
    }

    /// The algorithm of a key this build cannot verify with, if it is one.
    pub fn unverifiable(&self) -> Option<Alg> {
        match self {
            #[cfg(not(all(feature = "es256", feature = "eddsa", feature = "rs256")))]
            PublicKey::Unverifiable(alg) => Some(*alg),
            #[cfg(any(feature = "es256", feature = "eddsa", feature = "rs256"))]
            _ => None,
        }
    }

    /// Verifies `sig` over `msg` with `alg`.
    pub fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8], ecdsa: EcdsaEncoding) -> Verification {
        let valid = match (self, alg) {
            #[cfg(feature = "es256")]
            (PublicKey::P256(key), Alg::Es256) => {
                let parsed = match ecdsa {
                    EcdsaEncoding::Der => p256::ecdsa::Signature::from_der(sig),
                    EcdsaEncoding::Raw => p256::ecdsa::Signature::from_slice(sig),
                };
                parsed.is_ok_and(|s| key.verify(msg, &s).is_ok())
            }
            #[cfg(feature = "eddsa")]
            (PublicKey::Ed25519(key), Alg::EdDsa) => ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|s| key.verify_strict(msg, &s).is_ok()),
            #[cfg(feature = "rs256")]
            (PublicKey::Rsa(key), Alg::Rs256) => {
                let verifier =
                    rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.as_ref().clone());
                rsa::pkcs1v15::Signature::try_from(sig)
                    .is_ok_and(|s| verifier.verify(msg, &s).is_ok())
            }
            #[cfg(not(all(feature = "es256", feature = "eddsa", feature = "rs256")))]
            (PublicKey::Unverifiable(key_alg), alg) if *key_alg == alg => {
                let _ = (msg, sig, ecdsa);
                return Verification::Unverifiable(alg);
            }
            _ => false,
        };
        if valid {
            Verification::Valid
        } else {
            Verification::Invalid
        }
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key of an algorithm the build leaves out is neither valid nor invalid: the ceremony
    /// must say it could not check, never that the signature failed or passed.
    #[test]
    fn a_left_out_algorithm_is_unverifiable_not_invalid() {
        let (n, e) = ([0xC5u8; 256], [1u8, 0, 1]);
        let key = PublicKey::rsa(&n, &e).unwrap();
        let verdict = key.verify(Alg::Rs256, b"signed", &[0u8; 256], EcdsaEncoding::Der);
        #[cfg(feature = "rs256")]
        assert_eq!(verdict, Verification::Invalid);
        #[cfg(not(feature = "rs256"))]
        assert_eq!(verdict, Verification::Unverifiable(Alg::Rs256));
        // The shape is checked in every build: a 1024-bit modulus is refused.
        assert!(PublicKey::rsa(&[0xC5u8; 128], &e).is_none());
        // A key answers only for its own algorithm.
        assert_eq!(
            key.verify(Alg::Es256, b"signed", &[0u8; 64], EcdsaEncoding::Raw),
            Verification::Invalid
        );
    }
}
