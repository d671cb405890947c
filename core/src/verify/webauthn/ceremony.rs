//! The three WebAuthn steps a registry needs: a challenge, a registration, an assertion.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::data::{self, AuthData};
use super::{SignCountRegression, UserVerification, WebauthnConfig, cose};
use crate::contract::error::InputError;
use crate::contract::time::Timestamp;
use crate::verify::sig::{Alg, EcdsaEncoding, Verification};
use crate::wire::encoding::{b64url_decode, b64url_encode, hex_decode};

/// Longest encoded field accepted from a browser (attestation objects with certificate chains
/// stay well below this).
const MAX_FIELD: usize = 16 * 1024;
/// Most credentials per account a host may pass in.
const MAX_CREDENTIALS: usize = 64;

/// A pending challenge as the host stores it between the two halves of a ceremony.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRecord {
    /// base64url, 32 bytes.
    pub challenge: String,
    /// Unix seconds; the challenge is dead from then on.
    pub expires_at: Timestamp,
}

/// A registered credential as the host stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredCredential {
    /// Credential ID, base64url.
    pub id: String,
    /// COSE public key, base64url.
    pub public_key: String,
    /// Last sign count seen.
    #[serde(default)]
    pub sign_count: u32,
}

/// `secrets.webauthn` of an authorize document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebauthnSecrets {
    /// The challenge issued for this assertion.
    #[serde(default)]
    pub challenge: Option<ChallengeRecord>,
    /// The account's credentials.
    #[serde(default)]
    pub credentials: Vec<StoredCredential>,
}

/// A `PublicKeyCredential` as `toJSON()` gives it (registration or assertion). Written back
/// out only by hosts that carry it as text across a typed boundary; writing and reading it
/// again gives the same value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionJson {
    /// Credential ID, base64url.
    pub id: String,
    /// The same ID (browsers send both).
    #[serde(default, rename = "rawId")]
    pub raw_id: Option<String>,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `platform` or `cross-platform`; informational.
    #[serde(default, rename = "authenticatorAttachment")]
    pub attachment: Option<String>,
    /// Extension outputs; ignored.
    #[serde(default, rename = "clientExtensionResults")]
    pub extensions: Option<Value>,
    /// The authenticator's response.
    pub response: ResponseJson,
}

/// The `response` member of either ceremony.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseJson {
    /// Client data JSON, base64url.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// Registration: the attestation object.
    #[serde(default, rename = "attestationObject")]
    pub attestation_object: Option<String>,
    /// Assertion (and, redundantly, registration): authenticator data.
    #[serde(default, rename = "authenticatorData")]
    pub authenticator_data: Option<String>,
    /// Assertion: the signature.
    #[serde(default)]
    pub signature: Option<String>,
    /// Assertion: the user handle; ignored (stepup is a second factor).
    #[serde(default, rename = "userHandle")]
    pub user_handle: Option<String>,
    /// Registration: transports hint, stored for later `allowCredentials`.
    #[serde(default)]
    pub transports: Option<Vec<String>>,
    /// Registration: SPKI of the key (redundant with the attestation object); ignored.
    #[serde(default, rename = "publicKey")]
    pub public_key: Option<String>,
    /// Registration: COSE algorithm (redundant); ignored.
    #[serde(default, rename = "publicKeyAlgorithm")]
    pub public_key_algorithm: Option<i64>,
}

fn field(path: &str, text: &str) -> Result<Vec<u8>, InputError> {
    if text.len() > MAX_FIELD {
        return Err(InputError::new(
            path,
            format!("longer than {MAX_FIELD} bytes"),
        ));
    }
    b64url_decode(text).ok_or_else(|| InputError::new(path, "expected base64url"))
}

fn required<'a>(path: &str, v: Option<&'a String>) -> Result<&'a str, InputError> {
    v.map(String::as_str)
        .ok_or_else(|| InputError::new(path, "required"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserJson {
    id: String,
    name: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Ceremony {
    Registration,
    Authentication,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeInput {
    ceremony: Ceremony,
    entropy: String,
    now: Timestamp,
    #[serde(default)]
    user: Option<UserJson>,
    #[serde(default)]
    credentials: Vec<String>,
}

/// The WebAuthn user handle for an account: opaque, stable, and not the account name
/// (WebAuthn §14.6.1: no personal data in the handle).
fn user_handle(id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"stepup webauthn user handle\0");
    h.update(id.as_bytes());
    b64url_encode(h.finalize().get(..16).unwrap_or_default())
}

/// `{ceremony, entropy(hex), now, user?, credentials?}` → `{challenge, expires_at, options}`:
/// a fresh challenge and the `PublicKeyCredential{Creation,Request}Options` (JSON form, for
/// `PublicKeyCredential.parse*OptionsFromJSON`) to hand to the browser.
pub fn challenge(cfg: &WebauthnConfig, input: &str) -> Result<String, InputError> {
    let i: ChallengeInput = crate::wire::json::parse(input)?;
    let entropy =
        hex_decode(&i.entropy).ok_or_else(|| InputError::new("entropy", "expected hex"))?;
    if entropy.len() < 16 {
        return Err(InputError::new("entropy", "at least 16 bytes"));
    }
    let seed = entropy.get(..32).unwrap_or(&entropy);
    let challenge = b64url_encode(&Sha256::digest(seed));
    let expires_at = i.now.0.saturating_add(cfg.challenge_ttl_seconds);
    if i.credentials.len() > MAX_CREDENTIALS {
        return Err(InputError::new(
            "credentials",
            format!("at most {MAX_CREDENTIALS}"),
        ));
    }
    let creds: Vec<Value> = i
        .credentials
        .iter()
        .enumerate()
        .map(|(n, id)| {
            field(&format!("credentials[{n}]"), id)?;
            Ok(json!({"type": "public-key", "id": id}))
        })
        .collect::<Result<_, InputError>>()?;
    let uv = cfg.user_verification;
    let timeout = cfg.challenge_ttl_seconds.saturating_mul(1000);
    let options = match i.ceremony {
        Ceremony::Registration => {
            let user = i
                .user
                .ok_or_else(|| InputError::new("user", "required for registration"))?;
            if user.name.is_empty() || user.name.len() > 128 {
                return Err(InputError::new("user.name", "1 to 128 characters"));
            }
            let params: Vec<Value> = cfg
                .algorithms
                .iter()
                .map(|a| json!({"type": "public-key", "alg": a.alg().cose()}))
                .collect();
            json!({
                "challenge": challenge,
                "rp": {"id": cfg.rp_id, "name": cfg.rp_name},
                "user": {
                    "id": user_handle(&user.id),
                    "name": user.name,
                    "displayName": user.display_name.unwrap_or(user.name.clone()),
                },
                "pubKeyCredParams": params,
                "timeout": timeout,
                "attestation": "none",
                "excludeCredentials": creds,
                "authenticatorSelection": {
                    "residentKey": "discouraged",
                    "requireResidentKey": false,
                    "userVerification": uv,
                },
            })
        }
        Ceremony::Authentication => json!({
            "challenge": challenge,
            "rpId": cfg.rp_id,
            "timeout": timeout,
            "userVerification": uv,
            "allowCredentials": creds,
        }),
    };
    serde_json::to_string(&json!({
        "challenge": challenge,
        "expires_at": expires_at,
        "options": options,
    }))
    .map_err(|e| InputError::new(".", e.to_string()))
}

/// A refused ceremony: a stable problem code and a sentence for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Stable code, e.g. `origin`, `signature`, `challenge-expired`.
    pub problem: &'static str,
    /// What to tell the user.
    pub message: String,
}

fn refuse(problem: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        problem,
        message: message.into(),
    }
}

/// The end of a ceremony in a build without `alg`'s verifier: every other check passed.
fn unverifiable(alg: Alg) -> Refusal {
    refuse(
        "unverifiable",
        format!(
            "This build of stepup does not verify {} signatures (built without that feature); the server verifies security keys.",
            alg.name()
        ),
    )
}

/// Checks the client data common to both ceremonies.
fn check_client_data(
    cfg: &WebauthnConfig,
    bytes: &[u8],
    kind: &str,
    challenge: &ChallengeRecord,
    now: u64,
) -> Result<(), Refusal> {
    let cd = data::client_data(bytes)
        .ok_or_else(|| refuse("malformed", "The browser's client data is not valid."))?;
    if cd.kind != kind {
        return Err(refuse(
            "type",
            format!("Expected a {kind} response, got {}.", cd.kind),
        ));
    }
    let sent = b64url_decode(&cd.challenge).unwrap_or_default();
    let issued = b64url_decode(&challenge.challenge).unwrap_or_default();
    if issued.is_empty() || !bool::from(sent.ct_eq(&issued)) {
        return Err(refuse(
            "challenge-mismatch",
            "The response answers a different challenge; start again.",
        ));
    }
    if now >= challenge.expires_at.0 {
        return Err(refuse(
            "challenge-expired",
            "The security-key challenge has expired; start again.",
        ));
    }
    if !cfg.allowed_origins().contains(&cd.origin) {
        return Err(refuse(
            "origin",
            format!(
                "The response comes from {}, which this registry does not serve.",
                cd.origin
            ),
        ));
    }
    if cd.cross_origin == Some(true) {
        return Err(refuse(
            "origin",
            "The response comes from a cross-origin frame.",
        ));
    }
    Ok(())
}

fn check_auth_data(cfg: &WebauthnConfig, ad: &AuthData<'_>) -> Result<(), Refusal> {
    let expected = Sha256::digest(cfg.rp_id.as_bytes());
    if !bool::from(ad.rp_id_hash.ct_eq(expected.as_slice())) {
        return Err(refuse(
            "rp-id",
            "The security key answered for a different site.",
        ));
    }
    if !ad.flags.up() {
        return Err(refuse(
            "user-presence",
            "The security key did not confirm that you are present; touch it and try again.",
        ));
    }
    if cfg.user_verification == UserVerification::Required && !ad.flags.uv() {
        return Err(refuse(
            "user-verification",
            "This registry requires a security key that verifies you (PIN or biometric).",
        ));
    }
    if ad.flags.bs() && !ad.flags.be() {
        return Err(refuse("malformed", "Inconsistent backup flags."));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterDoc {
    now: Timestamp,
    challenge: ChallengeRecord,
    credential: AssertionJson,
    #[serde(default)]
    existing: Vec<String>,
}

/// The registration document, for typed callers.
pub type RegisterInput = str;

/// `{now, challenge, credential, existing?}` → `{result: "accepted", credential}` or
/// `{result: "rejected", problem, message}`. The credential is what the host stores.
pub fn register(cfg: &WebauthnConfig, input: &RegisterInput) -> Result<String, InputError> {
    let d: RegisterDoc = crate::wire::json::parse(input)?;
    if d.existing.len() > MAX_CREDENTIALS {
        return Err(InputError::new(
            "existing",
            format!("at most {MAX_CREDENTIALS}"),
        ));
    }
    let r = &d.credential.response;
    let client_data = field("credential.response.clientDataJSON", &r.client_data_json)?;
    let att = field(
        "credential.response.attestationObject",
        required(
            "credential.response.attestationObject",
            r.attestation_object.as_ref(),
        )?,
    )?;
    let id = field("credential.id", &d.credential.id)?;
    let out = match verify_registration(cfg, &d, &client_data, &att, &id) {
        Ok(v) => v,
        Err(r) => json!({"result": "rejected", "problem": r.problem, "message": r.message}),
    };
    serde_json::to_string(&out).map_err(|e| InputError::new(".", e.to_string()))
}

fn verify_registration(
    cfg: &WebauthnConfig,
    d: &RegisterDoc,
    client_data: &[u8],
    att: &[u8],
    id: &[u8],
) -> Result<Value, Refusal> {
    if d.credential.kind != "public-key" {
        return Err(refuse("malformed", "Not a public-key credential."));
    }
    check_client_data(cfg, client_data, "webauthn.create", &d.challenge, d.now.0)?;
    let malformed = || refuse("malformed", "The attestation object is not valid.");
    let obj = crate::verify::cbor::decode_all(att).map_err(|_| malformed())?;
    let fmt = obj
        .get_text("fmt")
        .and_then(|v| v.text())
        .ok_or_else(malformed)?;
    let stmt = obj.get_text("attStmt").ok_or_else(malformed)?;
    let auth_bytes = obj
        .get_text("authData")
        .and_then(|v| v.bytes())
        .ok_or_else(malformed)?;
    let ad = data::auth_data(auth_bytes).map_err(|e| match e {
        data::AuthDataError::Malformed => malformed(),
        data::AuthDataError::UnsupportedKey => refuse(
            "algorithm",
            "The security key offered an algorithm this registry does not accept.",
        ),
    })?;
    check_auth_data(cfg, &ad)?;
    let attested = ad.attested.as_ref().ok_or_else(malformed)?;
    if attested.credential_id != id {
        return Err(refuse(
            "malformed",
            "The credential ID does not match the key's.",
        ));
    }
    let alg = attested.public_key.alg;
    if !cfg.algorithms.iter().any(|a| a.alg() == alg) {
        return Err(refuse(
            "algorithm",
            format!("{} keys are not accepted here.", alg.name()),
        ));
    }
    let id_text = b64url_encode(id);
    if d.existing
        .iter()
        .any(|e| b64url_decode(e).as_deref() == Some(id))
    {
        return Err(refuse(
            "credential-exists",
            "This security key is already registered.",
        ));
    }
    let attestation = match fmt {
        "none" => {
            if stmt.entries().is_none_or(|e| !e.is_empty()) {
                return Err(malformed());
            }
            "none"
        }
        "packed" if stmt.get_text("x5c").is_none() => {
            let stmt_alg = stmt.get_text("alg").and_then(|v| v.int());
            let sig = stmt
                .get_text("sig")
                .and_then(|v| v.bytes())
                .ok_or_else(malformed)?;
            if stmt_alg != Some(i128::from(alg.cose())) {
                return Err(refuse(
                    "attestation",
                    "The self-attestation uses a different algorithm than the key.",
                ));
            }
            let mut signed = auth_bytes.to_vec();
            signed.extend_from_slice(&Sha256::digest(client_data));
            match attested
                .public_key
                .key
                .verify(alg, &signed, sig, EcdsaEncoding::Der)
            {
                Verification::Valid => {}
                Verification::Invalid => {
                    return Err(refuse(
                        "attestation",
                        "The self-attestation signature does not verify.",
                    ));
                }
                Verification::Unverifiable(alg) => return Err(unverifiable(alg)),
            }
            "self"
        }
        // Full attestation (certificate chains) is not evaluated: the registry asked for
        // `none`, and trust in the key comes from the origin-bound ceremony, as with `none`.
        _ => "unverified",
    };
    // A build that cannot verify this algorithm could not check the key either: it never
    // accepts one.
    if let Some(alg) = attested.public_key.key.unverifiable() {
        return Err(unverifiable(alg));
    }
    Ok(json!({
        "result": "accepted",
        "credential": {
            "id": id_text,
            "public_key": b64url_encode(attested.public_key_cose),
            "sign_count": ad.sign_count,
            "alg": alg.name(),
            "aaguid": crate::wire::encoding::hex_encode(attested.aaguid),
            "attestation": attestation,
            "user_verified": ad.flags.uv(),
            "backup_eligible": ad.flags.be(),
            "backed_up": ad.flags.bs(),
            "transports": d.credential.response.transports.clone().unwrap_or_default(),
        },
    }))
}

/// What an assertion check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssertionCheck {
    /// Valid; store `sign_count` for `credential_id`.
    Accepted {
        /// Which stored credential answered.
        credential_id: String,
        /// The new counter.
        sign_count: u32,
        /// `(stored, presented)` when the counter did not grow (policy said report).
        regression: Option<(u32, u32)>,
    },
    /// Refused.
    Rejected {
        /// Why.
        refusal: Refusal,
        /// `(credential_id, stored, presented)` when the counter did not grow.
        regression: Option<(String, u32, u32)>,
    },
}

/// Verifies an assertion against the account's stored credentials and pending challenge.
/// Bad encodings are input errors (with paths); everything else is a refusal.
pub fn verify_assertion(
    cfg: &WebauthnConfig,
    secrets: Option<&WebauthnSecrets>,
    a: &AssertionJson,
    now: u64,
) -> Result<AssertionCheck, InputError> {
    let p = "present.assertion";
    let secrets = secrets
        .ok_or_else(|| InputError::new("secrets.webauthn", "required to verify an assertion"))?;
    if secrets.credentials.len() > MAX_CREDENTIALS {
        return Err(InputError::new(
            "secrets.webauthn.credentials",
            format!("at most {MAX_CREDENTIALS}"),
        ));
    }
    let challenge = secrets.challenge.as_ref().ok_or_else(|| {
        InputError::new(
            "secrets.webauthn.challenge",
            "required to verify an assertion",
        )
    })?;
    let r = &a.response;
    let client_data = field(&format!("{p}.response.clientDataJSON"), &r.client_data_json)?;
    let ad_path = format!("{p}.response.authenticatorData");
    let auth_bytes = field(&ad_path, required(&ad_path, r.authenticator_data.as_ref())?)?;
    let sig_path = format!("{p}.response.signature");
    let sig = field(&sig_path, required(&sig_path, r.signature.as_ref())?)?;
    let id = field(&format!("{p}.id"), &a.id)?;
    let rejected = |refusal| {
        Ok(AssertionCheck::Rejected {
            refusal,
            regression: None,
        })
    };
    if a.kind != "public-key" {
        return rejected(refuse("malformed", "Not a public-key credential."));
    }
    let mut stored = None;
    for (i, c) in secrets.credentials.iter().enumerate() {
        let cid = field(&format!("secrets.webauthn.credentials[{i}].id"), &c.id)?;
        if cid == id {
            stored = Some((i, c));
            break;
        }
    }
    let Some((index, stored)) = stored else {
        return rejected(refuse(
            "unknown-credential",
            "This security key is not registered to your account.",
        ));
    };
    let key_path = format!("secrets.webauthn.credentials[{index}].public_key");
    let key = cose::parse(&field(&key_path, &stored.public_key)?)
        .map_err(|_| InputError::new(&key_path, "expected a COSE key (ES256, EdDSA or RS256)"))?;
    if let Err(r) = check_client_data(cfg, &client_data, "webauthn.get", challenge, now) {
        return rejected(r);
    }
    let ad = match data::auth_data(&auth_bytes) {
        Ok(ad) if ad.attested.is_none() => ad,
        _ => {
            return rejected(refuse("malformed", "The authenticator data is not valid."));
        }
    };
    if let Err(r) = check_auth_data(cfg, &ad) {
        return rejected(r);
    }
    let mut signed = auth_bytes.clone();
    signed.extend_from_slice(&Sha256::digest(&client_data));
    match key.key.verify(key.alg, &signed, &sig, EcdsaEncoding::Der) {
        Verification::Valid => {}
        Verification::Invalid => {
            return rejected(refuse(
                "signature",
                "The security key's signature does not verify.",
            ));
        }
        Verification::Unverifiable(alg) => return rejected(unverifiable(alg)),
    }
    // WebAuthn §7.2 step 21: a counter that is in use must grow.
    let regressed =
        (ad.sign_count != 0 || stored.sign_count != 0) && ad.sign_count <= stored.sign_count;
    let id_text = b64url_encode(&id);
    if regressed && cfg.sign_count_regression == SignCountRegression::Reject {
        return Ok(AssertionCheck::Rejected {
            refusal: refuse(
                "sign-count",
                "This security key's counter went backwards; it may have been cloned. Use another key or contact support.",
            ),
            regression: Some((id_text, stored.sign_count, ad.sign_count)),
        });
    }
    Ok(AssertionCheck::Accepted {
        credential_id: id_text,
        sign_count: ad.sign_count,
        regression: regressed.then_some((stored.sign_count, ad.sign_count)),
    })
}
