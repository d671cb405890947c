//! The two structures an authenticator response carries: the browser's client data (JSON) and
//! the authenticator's data (binary, WebAuthn §6.1).

use serde::Deserialize;

use super::cose::{self, CoseError, CoseKey};
use crate::verify::cbor;

/// `collectedClientData`, the fields stepup checks. Browsers may add more (`other_keys_can_be_added_here`).
#[derive(Deserialize)]
pub struct ClientData {
    /// `webauthn.create` or `webauthn.get`.
    #[serde(rename = "type")]
    pub kind: String,
    /// base64url of the challenge the browser was given.
    pub challenge: String,
    /// The page's origin.
    pub origin: String,
    /// Set when the ceremony ran in a cross-origin iframe.
    #[serde(default, rename = "crossOrigin")]
    pub cross_origin: Option<bool>,
}

/// Parses client data JSON; `None` when it is not the expected object.
pub fn client_data(bytes: &[u8]) -> Option<ClientData> {
    serde_json::from_slice(bytes).ok()
}

/// Authenticator data flags (WebAuthn §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(pub u8);

impl Flags {
    /// User present.
    pub fn up(self) -> bool {
        self.0 & 0x01 != 0
    }
    /// User verified.
    pub fn uv(self) -> bool {
        self.0 & 0x04 != 0
    }
    /// Backup eligible (a syncable passkey).
    pub fn be(self) -> bool {
        self.0 & 0x08 != 0
    }
    /// Backed up.
    pub fn bs(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// Attested credential data present.
    pub fn at(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// Extension data present.
    pub fn ed(self) -> bool {
        self.0 & 0x80 != 0
    }
}

/// The parts of authenticator data stepup reads.
pub struct AuthData<'a> {
    /// SHA-256 of the RP ID the authenticator used.
    pub rp_id_hash: &'a [u8],
    /// Flags.
    pub flags: Flags,
    /// Signature counter.
    pub sign_count: u32,
    /// On registration: the new credential.
    pub attested: Option<Attested<'a>>,
}

/// Attested credential data.
pub struct Attested<'a> {
    /// Authenticator model.
    pub aaguid: &'a [u8],
    /// Credential ID.
    pub credential_id: &'a [u8],
    /// The credential public key's COSE encoding, as stored.
    pub public_key_cose: &'a [u8],
    /// The parsed key.
    pub public_key: CoseKey,
}

/// Why authenticator data was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthDataError {
    /// Wrong length or shape.
    Malformed,
    /// The credential key uses an algorithm stepup does not accept.
    UnsupportedKey,
}

/// Longest credential ID WebAuthn allows.
pub const MAX_CREDENTIAL_ID: usize = 1023;

/// Parses authenticator data; every byte must be accounted for.
pub fn auth_data(bytes: &[u8]) -> Result<AuthData<'_>, AuthDataError> {
    let m = AuthDataError::Malformed;
    let (rp_id_hash, rest) = bytes.split_at_checked(32).ok_or(m)?;
    let (&flags, rest) = rest.split_first().ok_or(m)?;
    let (count, mut rest) = rest.split_at_checked(4).ok_or(m)?;
    let sign_count = u32::from_be_bytes(<[u8; 4]>::try_from(count).map_err(|_| m)?);
    let flags = Flags(flags);
    let attested = if flags.at() {
        let (aaguid, r) = rest.split_at_checked(16).ok_or(m)?;
        let (len, r) = r.split_at_checked(2).ok_or(m)?;
        let len = usize::from(u16::from_be_bytes(<[u8; 2]>::try_from(len).map_err(|_| m)?));
        if len == 0 || len > MAX_CREDENTIAL_ID {
            return Err(m);
        }
        let (credential_id, r) = r.split_at_checked(len).ok_or(m)?;
        let (value, after) = cbor::decode(r).map_err(|_| m)?;
        let used = r.len().checked_sub(after.len()).ok_or(m)?;
        let public_key_cose = r.get(..used).ok_or(m)?;
        let public_key = cose::from_value(&value).map_err(|e| match e {
            CoseError::Malformed => AuthDataError::Malformed,
            CoseError::Unsupported => AuthDataError::UnsupportedKey,
        })?;
        rest = after;
        Some(Attested {
            aaguid,
            credential_id,
            public_key_cose,
            public_key,
        })
    } else {
        None
    };
    if flags.ed() {
        let (_, after) = cbor::decode(rest).map_err(|_| m)?;
        rest = after;
    }
    if !rest.is_empty() {
        return Err(m);
    }
    Ok(AuthData {
        rp_id_hash,
        flags,
        sign_count,
        attested,
    })
}
