//! A compact binary form of the request and the decision, for JavaScript hosts.
//!
//! In Node and browsers, JSON text costs more than the rules: `JSON.stringify` of a request, the
//! engine's parse and `JSON.parse` of the answer take microseconds where the decision takes
//! nanoseconds. This form is written by a small JS encoder straight from the request object and
//! read back into the decision object, so those hosts skip JSON text on the hot path.
//!
//! It is a fast path, not a second contract: the decoder accepts only what the JSON form would
//! accept with the same meaning (it builds the same parsed document and runs the same checks), and
//! anything it does not take — a malformed buffer, a missing field, a value JSON would refuse — is
//! answered "use the JSON path", which then gives the exact error with its field path.
//!
//! Layout (little-endian). A request is `VERSION` then an object. An object is a run of
//! `(field tag: u8, value)` ended by tag 0; fields may come in any order, and an absent field is
//! absent (JSON `null` is sent as absent where JSON treats it so). Values: numbers are f64 and
//! must be safe non-negative integers; booleans one byte 0/1; strings a u16 length and UTF-8;
//! enums one byte indexing the name lists of [`tables_json`]; lists a u16 count and items.
//!
//! A decision's texts are a u16 length, an f64 key and the UTF-8 bytes. The key is non-zero only
//! for the engine's constant texts (rule names, standard messages, npm errors): it is the text's
//! address, which with the length names the same bytes for the life of the process, so the JS
//! decoder can reuse the string it made last time instead of reading the bytes again (reading
//! them cost more than the decision). Texts made per decision have key 0.

mod read;
mod tags;
mod write;

pub use write::encode_decision;

use crate::contract::action::ActionKind;
use crate::contract::decision::{Outcome, Reason};
use crate::contract::factor::Factor;
use crate::contract::request::{
    CredentialKind, LegacyType, OidcPermission, Permission, PublishingAccess, Request, TfaMode,
};
use crate::contract::time::{Count, MAX_SAFE_INTEGER};
use crate::rules::authorize::{Presented, Secrets, TotpSecret};
use crate::rules::policy::Policy;

/// Format version; the first byte of every packed request.
pub const VERSION: u8 = 2;

/// Largest packed request accepted (a JSON request is capped at 1 MiB; a packed one is smaller).
pub const MAX_INPUT: usize = 256 * 1024;

const TFA_MODES: [(&str, TfaMode); 3] = [
    ("disabled", TfaMode::Disabled),
    ("auth-only", TfaMode::AuthOnly),
    ("auth-and-writes", TfaMode::AuthAndWrites),
];
const CREDENTIAL_KINDS: [(&str, CredentialKind); 5] = [
    ("session", CredentialKind::Session),
    ("basic", CredentialKind::Basic),
    ("legacy-token", CredentialKind::LegacyToken),
    ("granular-token", CredentialKind::GranularToken),
    ("oidc", CredentialKind::Oidc),
];
const LEGACY_TYPES: [(&str, LegacyType); 3] = [
    ("publish", LegacyType::Publish),
    ("read-only", LegacyType::ReadOnly),
    ("automation", LegacyType::Automation),
];
const PERMISSIONS: [(&str, Permission); 3] = [
    ("no-access", Permission::NoAccess),
    ("read-only", Permission::ReadOnly),
    ("read-write", Permission::ReadWrite),
];
const ACCESS: [(&str, PublishingAccess); 3] = [
    ("none", PublishingAccess::None),
    ("tfa-or-token", PublishingAccess::TfaOrToken),
    ("tfa-no-tokens", PublishingAccess::TfaNoTokens),
];
const OIDC_PERMISSIONS: [(&str, OidcPermission); 2] = [
    ("createPackage", OidcPermission::CreatePackage),
    ("createStagedPackage", OidcPermission::CreateStagedPackage),
];
const OUTCOMES: [(&str, Outcome); 3] = [
    ("allow", Outcome::Allow),
    ("challenge", Outcome::Challenge),
    ("deny", Outcome::Deny),
];
/// Effect kinds, indexed as [`effect_index`] numbers them.
const EFFECTS: [&str; 12] = [
    "consume-totp-step",
    "burn-recovery-code",
    "consume-email-code",
    "record-email-attempt",
    "record-failure",
    "clear-failures",
    "revoke-web-sessions",
    "start-safeguard",
    "consume-webauthn-challenge",
    "update-webauthn-sign-count",
    "report-sign-count-regression",
    "read-anonymously",
];

/// The name lists the JS encoder and decoder index enums by, so the names live here only.
pub fn tables_json() -> String {
    fn names<T>(list: &[(&'static str, T)]) -> Vec<&'static str> {
        list.iter().map(|(n, _)| *n).collect()
    }
    serde_json::json!({
        "version": VERSION,
        "ActionKind": ActionKind::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "Factor": Factor::ORDER.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        "TfaMode": names(&TFA_MODES),
        "CredentialKind": names(&CREDENTIAL_KINDS),
        "LegacyType": names(&LEGACY_TYPES),
        "Permission": names(&PERMISSIONS),
        "PublishingAccess": names(&ACCESS),
        "OidcPermission": names(&OIDC_PERMISSIONS),
        "Outcome": names(&OUTCOMES),
        "Reason": Reason::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "Effect": EFFECTS,
    })
    .to_string()
}

/// Reads a packed request. `None` means "not decodable here: decide from the JSON form".
pub fn decode_request(buf: &[u8]) -> Option<Request> {
    let mut req = read::blank();
    decode_into(buf, &mut req)?;
    Some(req)
}

/// Reads a packed request into `req`, which need hold nothing in particular: every field is
/// written or reset, and the strings and lists already there are refilled rather than made
/// again. On `None` (as [`decode_request`]) `req` holds a partial request and must not be used.
pub fn decode_into(buf: &[u8], req: &mut Request) -> Option<()> {
    read::request_into(buf, req)
}

/// What a host keeps between packed calls: the last request's strings and lists, refilled in
/// place, and the decision's bytes. A host holds one per thread or per policy handle.
pub struct Scratch {
    request: Request,
    decision: Vec<u8>,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            request: read::blank(),
            decision: Vec::with_capacity(512),
        }
    }
}

/// Requests up to this size leave their buffers in the scratch; a larger one is decoded into
/// a fresh request, so an odd huge request does not stay resident.
const KEPT_INPUT: usize = 4096;

/// Decides a packed request and writes the packed decision into `output`, using `scratch`'s
/// buffers. Returns the number of bytes written, or 0 when the request should be decided from
/// its JSON form instead (not decodable here, or refused: JSON gives the error with its path).
pub fn evaluate_in(
    policy: &Policy,
    scratch: &mut Scratch,
    input: &[u8],
    output: &mut [u8],
) -> usize {
    if input.len() > KEPT_INPUT {
        return decide(policy, &mut Scratch::default(), input, output);
    }
    decide(policy, scratch, input, output)
}

fn decide(policy: &Policy, scratch: &mut Scratch, input: &[u8], output: &mut [u8]) -> usize {
    let Scratch { request, decision } = scratch;
    if read::request_into(input, request).is_none() {
        return 0;
    }
    answer(&policy.evaluate(request), decision, output)
}

/// Writes `d` packed into `output` through the kept `decision` buffer: its length, or 0 when it
/// cannot be written there (the caller then uses the JSON path).
fn answer(
    d: &crate::contract::decision::Decision,
    decision: &mut Vec<u8>,
    output: &mut [u8],
) -> usize {
    decision.clear();
    if encode_decision(d, decision).is_none() {
        return 0;
    }
    match output.get_mut(..decision.len()) {
        Some(dst) => {
            dst.copy_from_slice(decision);
            decision.len()
        }
        None => 0,
    }
}

/// What `authorize`'s packed path takes beside the packed request: the account's TOTP secret
/// (base32) and last accepted step, and the presented code with its factor's name. These are
/// the state of the common second-factor check; an account state with more (recovery codes, an
/// emailed code, security keys) or an assertion takes the JSON path, which accepts everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct TotpAuthorize<'a> {
    /// `secrets.totp_secret`.
    pub totp_secret: Option<&'a str>,
    /// `secrets.last_totp_step`, as the JS number it was (checked like JSON checks it).
    pub last_totp_step: Option<f64>,
    /// `present.code`; `None` = nothing presented.
    pub code: Option<&'a str>,
    /// `present.factor`, by its SPEC name.
    pub factor: Option<&'a str>,
}

/// Tags of the [`TotpAuthorize`] object that follows the request in [`authorize_split_in`]'s
/// buffer (its own layout, not a request type's, so not generated with the request's tags).
pub mod totp_tags {
    /// `secrets.totp_secret`: a string.
    pub const TOTP_SECRET: u8 = 1;
    /// `secrets.last_totp_step`: a number.
    pub const LAST_TOTP_STEP: u8 = 2;
    /// `present.code`: a string.
    pub const CODE: u8 = 3;
    /// `present.factor`: a string.
    pub const FACTOR: u8 = 4;
}

/// Reads a [`TotpAuthorize`] written as an object of the packed form (fields tagged by
/// [`totp_tags`], each at most once, ended by tag 0, nothing after); `None` when it is not one.
pub fn decode_totp_authorize(buf: &[u8]) -> Option<TotpAuthorize<'_>> {
    read::totp_authorize(buf)
}

/// `authorize` on one buffer: the packed request in its first `split` bytes, then the
/// [`TotpAuthorize`] state as one more object ([`decode_totp_authorize`]). One buffer instead of
/// four typed arguments beside it: in Node each string argument was converted and copied on its
/// own, which cost more than the code's check. Returns as [`authorize_in`] does.
pub fn authorize_split_in(
    policy: &Policy,
    scratch: &mut Scratch,
    input: &[u8],
    split: usize,
    output: &mut [u8],
) -> usize {
    let (Some(request), Some(rest)) = (input.get(..split), input.get(split..)) else {
        return 0;
    };
    match read::totp_authorize(rest) {
        Some(state) => authorize_in(policy, scratch, request, state, output),
        None => 0,
    }
}

/// A JS number JSON would read as a count: a safe non-negative integer.
pub fn safe_count(v: f64) -> Option<u64> {
    let ok = v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= MAX_SAFE_INTEGER as f64;
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "checked above: a non-negative integer no larger than 2^53 - 1"
    )]
    ok.then_some(v as u64)
}

/// `authorize` on a packed request and the [`TotpAuthorize`] state, the packed decision in
/// `output`. Returns its length, or 0 for "use the JSON path" (as [`evaluate_in`]): anything the
/// JSON form would refuse is refused here too, so JSON gives the error with its path.
pub fn authorize_in(
    policy: &Policy,
    scratch: &mut Scratch,
    input: &[u8],
    state: TotpAuthorize<'_>,
    output: &mut [u8],
) -> usize {
    if input.len() > KEPT_INPUT {
        return authorize(policy, &mut Scratch::default(), input, state, output);
    }
    authorize(policy, scratch, input, state, output)
}

fn authorize(
    policy: &Policy,
    scratch: &mut Scratch,
    input: &[u8],
    state: TotpAuthorize<'_>,
    output: &mut [u8],
) -> usize {
    let Scratch { request, decision } = scratch;
    if read::request_into(input, request).is_none() {
        return 0;
    }
    let Some(secrets) = totp_secrets(&state) else {
        return 0;
    };
    let factor = match state.factor {
        Some(name) => match Factor::ORDER.iter().find(|f| f.as_str() == name) {
            Some(f) => Some(*f),
            None => return 0,
        },
        None => None,
    };
    let present = match state.code {
        Some(code) => match Presented::new(factor, code.to_owned()) {
            Ok(p) => Some(p),
            Err(_) => return 0,
        },
        None if factor.is_some() => return 0,
        None => None,
    };
    match policy.authorize(request, &secrets, present.as_ref()) {
        Ok(d) => answer(&d, decision, output),
        Err(_) => 0,
    }
}

fn totp_secrets(state: &TotpAuthorize<'_>) -> Option<Secrets> {
    let totp_secret = match state.totp_secret {
        Some(text) => Some(TotpSecret::from_base32(text)?),
        None => None,
    };
    let last_totp_step = match state.last_totp_step {
        Some(v) => Some(Count(safe_count(v)?)),
        None => None,
    };
    Some(Secrets {
        totp_secret,
        last_totp_step,
        ..Secrets::default()
    })
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::contract::decision::Effect;

    /// The name tables are the serde names: each deserializes to the variant listed with it.
    #[test]
    fn tables_match_serde_names() {
        fn check<T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + Copy>(
            list: &[(&str, T)],
        ) {
            for (name, v) in list {
                let parsed: T = serde_json::from_str(&format!("\"{name}\"")).unwrap();
                assert_eq!(parsed, *v, "{name}");
            }
        }
        check(&TFA_MODES);
        check(&CREDENTIAL_KINDS);
        check(&LEGACY_TYPES);
        check(&PERMISSIONS);
        check(&ACCESS);
        check(&OIDC_PERMISSIONS);
        check(&OUTCOMES);
        for (i, name) in EFFECTS.iter().enumerate() {
            let e = sample_effect(i);
            let json = serde_json::to_value(&e).unwrap();
            assert_eq!(json["kind"], *name);
        }
    }

    fn sample_effect(i: usize) -> Effect {
        match i {
            0 => Effect::ConsumeTotpStep { step: 1 },
            1 => Effect::BurnRecoveryCode { index: 0 },
            2 => Effect::ConsumeEmailCode,
            3 => Effect::RecordEmailAttempt,
            4 => Effect::RecordFailure,
            5 => Effect::ClearFailures,
            6 => Effect::RevokeWebSessions,
            7 => Effect::StartSafeguard { until: 1 },
            8 => Effect::ConsumeWebauthnChallenge,
            9 => Effect::UpdateWebauthnSignCount {
                credential_id: "a".into(),
                sign_count: 1,
            },
            10 => Effect::ReportSignCountRegression {
                credential_id: "a".into(),
                stored: 2,
                presented: 1,
            },
            _ => Effect::ReadAnonymously,
        }
    }

    fn put_str(b: &mut Vec<u8>, s: &str) {
        b.extend_from_slice(&(s.len() as u16).to_le_bytes());
        b.extend_from_slice(s.as_bytes());
    }

    /// A hand-packed request decodes to exactly what the JSON form parses to.
    #[test]
    fn decodes_like_json() {
        let mut b = vec![VERSION, 1];
        b.extend_from_slice(&1_780_315_200f64.to_le_bytes());
        b.extend_from_slice(&[2, 1, 14]); // action.kind = package.publish
        b.push(2);
        put_str(&mut b, "left-pad");
        b.extend_from_slice(&[0, 3, 1]); // end action; account.id
        put_str(&mut b, "alice");
        b.extend_from_slice(&[2, 1, 2, 2, 1, 0, 1, 0]); // tfa {auth-and-writes, [totp]}
        b.extend_from_slice(&[3, 1, 0]); // publisher; end account
        b.extend_from_slice(&[4, 1, 3, 4]); // credential granular-token, expires_at
        b.extend_from_slice(&1_780_400_000f64.to_le_bytes());
        b.extend_from_slice(&[5, 1, 0]);
        put_str(&mut b, "10.0.0.0/8");
        b.extend_from_slice(&[0, 5, 1]); // end credential; client.ip
        put_str(&mut b, "10.1.2.3");
        b.extend_from_slice(&[0, 0]); // end client; end request
        let packed = decode_request(&b).unwrap();
        let json = Request::parse(
            r#"{"now":1780315200,"action":{"kind":"package.publish","package":"left-pad"},
            "account":{"id":"alice","tfa":{"mode":"auth-and-writes","factors":["totp"]},"publisher":true},
            "credential":{"kind":"granular-token","expires_at":1780400000,"cidr_whitelist":["10.0.0.0/8"]},
            "client":{"ip":"10.1.2.3"}}"#,
        )
        .unwrap();
        assert_eq!(packed, json);
        // Every strict prefix is refused (no partial decode), as is trailing data.
        for n in 0..b.len() {
            assert!(decode_request(&b[..n]).is_none(), "prefix {n}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(decode_request(&longer).is_none());
    }

    /// What JSON refuses, the packed form refuses too (the caller then asks JSON for the error).
    #[test]
    fn refuses_what_json_refuses() {
        let base = |kind: u8, extra: &[u8]| {
            let mut b = vec![VERSION, 1];
            b.extend_from_slice(&1f64.to_le_bytes());
            b.extend_from_slice(&[2, 1, 0, 0, 3, 1]);
            put_str(&mut b, "a");
            b.extend_from_slice(&[0, 4, 1, kind]);
            b.extend_from_slice(extra);
            b.extend_from_slice(&[0, 0]);
            b
        };
        assert!(decode_request(&base(0, &[])).is_some());
        // session with a cidr_whitelist (even empty): JSON says "not allowed for kind session".
        assert!(decode_request(&base(0, &[5, 0, 0])).is_none());
        // legacy-token without type.
        assert!(decode_request(&base(2, &[])).is_none());
        // an unknown enum index, a repeated tag, a non-integer number.
        assert!(decode_request(&base(9, &[])).is_none());
        assert!(decode_request(&base(0, &[1, 0])).is_none());
        let mut frac = base(0, &[]);
        frac[2..10].copy_from_slice(&1.5f64.to_le_bytes());
        assert!(decode_request(&frac).is_none());
        let mut other = base(0, &[]);
        other[0] = VERSION + 1;
        assert!(decode_request(&other).is_none(), "other version");
    }

    /// `authorize`'s one-buffer form reads the TOTP state after the request exactly, refuses
    /// anything else in its place, and answers as the state passed beside the request does.
    #[test]
    fn authorize_reads_its_state_after_the_request() {
        let policy = crate::Policy::default();
        let mut request = vec![VERSION, 1];
        request.extend_from_slice(&1_780_315_200f64.to_le_bytes());
        request.extend_from_slice(&[2, 1, 14, 2]); // action: package.publish of "p"
        put_str(&mut request, "p");
        request.extend_from_slice(&[0, 3, 1]);
        put_str(&mut request, "alice");
        // tfa {auth-and-writes, [totp]}; end account; credential session; end request.
        request.extend_from_slice(&[2, 1, 2, 2, 1, 0, 1, 0, 0, 4, 1, 0, 0, 0]);
        assert!(decode_request(&request).is_some());
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let code = crate::codes::totp::generate(
            &policy.config().totp,
            &TotpSecret::from_base32(secret).unwrap().0,
            1_780_315_200,
        );
        let mut state = vec![totp_tags::TOTP_SECRET];
        put_str(&mut state, secret);
        state.push(totp_tags::LAST_TOTP_STEP);
        state.extend_from_slice(&7f64.to_le_bytes());
        state.push(totp_tags::CODE);
        put_str(&mut state, &code);
        state.push(totp_tags::FACTOR);
        put_str(&mut state, "totp");
        state.push(0);
        let read = decode_totp_authorize(&state).unwrap();
        assert_eq!(
            (
                read.totp_secret,
                read.last_totp_step,
                read.code,
                read.factor
            ),
            (Some(secret), Some(7.0), Some(code.as_str()), Some("totp"))
        );
        let beside = {
            let mut out = vec![0; 1024];
            let n = authorize_in(&policy, &mut Scratch::default(), &request, read, &mut out);
            out.truncate(n);
            out
        };
        assert!(!beside.is_empty());
        let mut both = request.clone();
        both.extend_from_slice(&state);
        let mut out = vec![0; 1024];
        let n = authorize_split_in(
            &policy,
            &mut Scratch::default(),
            &both,
            request.len(),
            &mut out,
        );
        assert_eq!(
            out.get(..n),
            Some(&beside[..]),
            "one buffer answers as the state beside it"
        );
        // A wrong split, a prefix of the state, a byte after it, a repeated or unknown tag
        // (any byte, none may panic) are all "use the JSON path".
        for split in [0, request.len() - 1, request.len() + 1, both.len() + 1] {
            let n = authorize_split_in(&policy, &mut Scratch::default(), &both, split, &mut out);
            assert_eq!(n, 0, "split {split}");
        }
        for n in 0..state.len() {
            assert!(decode_totp_authorize(&state[..n]).is_none(), "prefix {n}");
        }
        let mut longer = state.clone();
        longer.push(0);
        assert!(decode_totp_authorize(&longer).is_none());
        let mut twice = vec![totp_tags::CODE];
        put_str(&mut twice, &code);
        twice.extend_from_slice(&twice.clone());
        twice.push(0);
        assert!(decode_totp_authorize(&twice).is_none());
        for tag in 5..=u8::MAX {
            assert!(
                decode_totp_authorize(&[tag, 0, 0, 0]).is_none(),
                "tag {tag}"
            );
        }
        assert!(
            decode_totp_authorize(&[0]).is_some(),
            "no state at all is a state"
        );
    }

    /// Reads one decision text: (key, text) and the rest.
    fn text(b: &[u8]) -> (u64, &str, &[u8]) {
        let n = usize::from(u16::from_le_bytes([b[0], b[1]]));
        let key = f64::from_le_bytes(b[2..10].try_into().unwrap());
        let (t, rest) = b[10..].split_at(n);
        (key as u64, std::str::from_utf8(t).unwrap(), rest)
    }

    /// Constant texts carry the same non-zero key in every decision; texts made for one
    /// decision carry 0. The JS decoder reuses strings by key, so this is what makes it sound.
    #[test]
    fn constant_texts_are_keyed() {
        let policy = crate::Policy::default();
        let req = Request::parse(include_str!(
            "../../../../tests/fixtures/bench-publish.json"
        ))
        .unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        encode_decision(&policy.evaluate(&req), &mut a).unwrap();
        encode_decision(&policy.evaluate(&req), &mut b).unwrap();
        assert_eq!(a, b);
        let (rule_key, rule, rest) = text(&a[2..]);
        let (message_key, message, _) = text(rest);
        assert!(rule_key != 0 && message_key != 0 && rule_key != message_key);
        assert_eq!(rule, policy.evaluate(&req).rule);
        assert_eq!(message, policy.evaluate(&req).message);

        let mut owned = policy.evaluate(&req);
        owned.message = Cow::Owned(owned.message.to_string());
        let mut c = Vec::new();
        encode_decision(&owned, &mut c).unwrap();
        let (_, _, rest) = text(&c[2..]);
        let (key, same, _) = text(rest);
        assert_eq!((key, same), (0, message));
    }
}
