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

use std::borrow::Cow;

use crate::action::ActionKind;
use crate::cidr::{Cidr, ClientIp};
use crate::decision::{Decision, Effect, Outcome, Reason};
use crate::factor::Factor;
use crate::request::{
    Account, Action, Client, CredentialDoc, CredentialKind, Failures, Impact, LegacyType,
    OidcPermission, Org, OrgsAxis, Package, PackagesAxis, Permission, Proof, PublishingAccess,
    Request, RequestDoc, Tfa, TfaMode,
};
use crate::time::{Count, MAX_SAFE_INTEGER, Timestamp};

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
const EFFECTS: [&str; 11] = [
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
];

/// The name lists the JS encoder and decoder index enums by, so the names live here only.
pub fn tables_json() -> String {
    fn names<T>(list: &[(&'static str, T)]) -> Vec<&'static str> {
        list.iter().map(|(n, _)| *n).collect()
    }
    serde_json::json!({
        "version": VERSION,
        "actions": ActionKind::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "factors": Factor::ORDER.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        "tfa_modes": names(&TFA_MODES),
        "credential_kinds": names(&CREDENTIAL_KINDS),
        "legacy_types": names(&LEGACY_TYPES),
        "permissions": names(&PERMISSIONS),
        "publishing_access": names(&ACCESS),
        "oidc_permissions": names(&OIDC_PERMISSIONS),
        "outcomes": names(&OUTCOMES),
        "reasons": Reason::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "effects": EFFECTS,
    })
    .to_string()
}

/// Reads a packed request. `None` means "not decodable here: decide from the JSON form".
pub fn decode_request(buf: &[u8]) -> Option<Request> {
    if buf.len() > MAX_INPUT {
        return None;
    }
    let mut r = Reader { buf, pos: 0 };
    if r.u8()? != VERSION {
        return None;
    }
    let doc = request_doc(&mut r)?;
    if r.pos != buf.len() {
        return None;
    }
    doc.into_request("").ok()
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<usize> {
        let b = self.take(2)?;
        Some(usize::from(u16::from_le_bytes([*b.first()?, *b.get(1)?])))
    }
    fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    /// A safe non-negative integer sent as f64 (what a JS number is).
    fn int(&mut self) -> Option<u64> {
        let b: [u8; 8] = self.take(8)?.try_into().ok()?;
        let v = f64::from_le_bytes(b);
        let ok = v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= MAX_SAFE_INTEGER as f64;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "checked above: a non-negative integer no larger than 2^53 - 1"
        )]
        ok.then_some(v as u64)
    }
    /// A string borrowed from the buffer, for values parsed further (addresses, networks).
    fn text(&mut self) -> Option<&str> {
        let n = self.u16()?;
        std::str::from_utf8(self.take(n)?).ok()
    }
    fn str(&mut self) -> Option<String> {
        self.text().map(str::to_owned)
    }
    fn pick<T: Copy>(&mut self, table: &[(&str, T)]) -> Option<T> {
        table.get(usize::from(self.u8()?)).map(|(_, v)| *v)
    }
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let n = self.u16()?;
        let mut out = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            out.push(item(self)?);
        }
        Some(out)
    }
    /// Runs `field` for each tag of an object until its end; a tag seen twice is refused.
    fn object(&mut self, mut field: impl FnMut(&mut Self, u8) -> Option<()>) -> Option<()> {
        let mut seen = 0u64;
        loop {
            let tag = self.u8()?;
            if tag == 0 {
                return Some(());
            }
            let bit = 1u64.checked_shl(u32::from(tag))?;
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            field(self, tag)?;
        }
    }
}

fn action_kind(r: &mut Reader<'_>) -> Option<ActionKind> {
    ActionKind::ALL.get(usize::from(r.u8()?)).copied()
}

fn factor(r: &mut Reader<'_>) -> Option<Factor> {
    Factor::ORDER.get(usize::from(r.u8()?)).copied()
}

fn request_doc(r: &mut Reader<'_>) -> Option<RequestDoc> {
    let (mut now, mut action, mut account, mut credential) = (None, None, None, None);
    let mut doc_client = Client::default();
    let (mut package, mut orgs, mut proofs) = (None, Vec::new(), Vec::new());
    let mut failures = Failures::default();
    r.object(|r, tag| {
        match tag {
            1 => now = Some(Timestamp(r.int()?)),
            2 => action = Some(action_of(r)?),
            3 => account = Some(account_of(r)?),
            4 => credential = Some(credential_of(r)?),
            5 => {
                r.object(|r, t| match t {
                    1 => {
                        let ip = r.text()?.parse().ok()?;
                        doc_client.ip = Some(ClientIp(ip));
                        Some(())
                    }
                    _ => None,
                })?;
            }
            6 => package = Some(package_of(r)?),
            7 => {
                orgs = r.list(|r| {
                    let (mut name, mut enforce_tfa) = (None, false);
                    r.object(|r, t| {
                        match t {
                            1 => name = Some(r.str()?),
                            2 => enforce_tfa = r.bool()?,
                            _ => return None,
                        }
                        Some(())
                    })?;
                    Some(Org {
                        name: name?,
                        enforce_tfa,
                    })
                })?
            }
            8 => {
                proofs = r.list(|r| {
                    let (mut f, mut at) = (None, None);
                    r.object(|r, t| {
                        match t {
                            1 => f = Some(factor(r)?),
                            2 => at = Some(Timestamp(r.int()?)),
                            _ => return None,
                        }
                        Some(())
                    })?;
                    Some(Proof {
                        factor: f?,
                        verified_at: at?,
                    })
                })?
            }
            9 => {
                r.object(|r, t| {
                    let list = r.list(|r| r.int().map(Timestamp))?;
                    match t {
                        1 => failures.account = list,
                        2 => failures.ip = list,
                        _ => return None,
                    }
                    Some(())
                })?;
            }
            _ => return None,
        }
        Some(())
    })?;
    Some(RequestDoc {
        now: now?,
        action: action?,
        account: account?,
        credential: credential?,
        client: doc_client,
        package,
        orgs,
        proofs,
        failures,
    })
}

fn action_of(r: &mut Reader<'_>) -> Option<Action> {
    let mut a = Action {
        kind: ActionKind::PackageRead,
        package: None,
        tag: None,
        org: None,
        target_account: None,
    };
    let mut kind = None;
    r.object(|r, t| {
        match t {
            1 => kind = Some(action_kind(r)?),
            2 => a.package = Some(r.str()?),
            3 => a.tag = Some(r.str()?),
            4 => a.org = Some(r.str()?),
            5 => a.target_account = Some(r.str()?),
            _ => return None,
        }
        Some(())
    })?;
    a.kind = kind?;
    Some(a)
}

fn account_of(r: &mut Reader<'_>) -> Option<Account> {
    let (mut id, mut tfa, mut publisher, mut impact, mut safeguard) =
        (None, None, false, None, None);
    r.object(|r, t| {
        match t {
            1 => id = Some(r.str()?),
            2 => {
                let (mut mode, mut factors) = (None, Vec::new());
                r.object(|r, t| {
                    match t {
                        1 => mode = Some(r.pick(&TFA_MODES)?),
                        2 => factors = r.list(factor)?,
                        _ => return None,
                    }
                    Some(())
                })?;
                tfa = Some(Tfa {
                    mode: mode?,
                    factors,
                });
            }
            3 => publisher = r.bool()?,
            4 => impact = Some(impact_of(r)?),
            5 => safeguard = Some(Timestamp(r.int()?)),
            _ => return None,
        }
        Some(())
    })?;
    Some(Account {
        id: id?,
        tfa,
        publisher,
        impact,
        safeguard_until: safeguard,
    })
}

fn impact_of(r: &mut Reader<'_>) -> Option<Impact> {
    let mut i = Impact::default();
    r.object(|r, t| {
        let v = Some(Count(r.int()?));
        match t {
            1 => i.weekly_downloads = v,
            2 => i.dependents = v,
            3 => i.dependents_rank = v,
            _ => return None,
        }
        Some(())
    })?;
    Some(i)
}

fn package_of(r: &mut Reader<'_>) -> Option<Package> {
    let mut p = Package {
        name: None,
        publishing_access: None,
        weekly_downloads: None,
        dependents: None,
        dependents_rank: None,
    };
    r.object(|r, t| {
        match t {
            1 => p.name = Some(r.str()?),
            2 => p.publishing_access = Some(r.pick(&ACCESS)?),
            3 => p.weekly_downloads = Some(Count(r.int()?)),
            4 => p.dependents = Some(Count(r.int()?)),
            5 => p.dependents_rank = Some(Count(r.int()?)),
            _ => return None,
        }
        Some(())
    })?;
    Some(p)
}

fn credential_of(r: &mut Reader<'_>) -> Option<CredentialDoc> {
    let mut kind = None;
    let mut c = CredentialDoc {
        kind: CredentialKind::Session,
        token_type: None,
        bypass_2fa: None,
        expires_at: None,
        cidr_whitelist: None,
        packages: None,
        orgs: None,
        package: None,
        permissions: None,
    };
    r.object(|r, t| {
        match t {
            1 => kind = Some(r.pick(&CREDENTIAL_KINDS)?),
            2 => c.token_type = Some(r.pick(&LEGACY_TYPES)?),
            3 => c.bypass_2fa = Some(r.bool()?),
            4 => c.expires_at = Some(Timestamp(r.int()?)),
            5 => c.cidr_whitelist = Some(r.list(|r| Cidr::parse(r.text()?))?),
            6 => {
                let mut p = PackagesAxis::default();
                r.object(|r, t| {
                    match t {
                        1 => p.all = r.bool()?,
                        2 => p.names = r.list(Reader::str)?,
                        3 => p.scopes = r.list(Reader::str)?,
                        4 => p.permission = r.pick(&PERMISSIONS)?,
                        _ => return None,
                    }
                    Some(())
                })?;
                c.packages = Some(p);
            }
            7 => {
                let mut o = OrgsAxis::default();
                r.object(|r, t| {
                    match t {
                        1 => o.names = r.list(Reader::str)?,
                        2 => o.permission = r.pick(&PERMISSIONS)?,
                        _ => return None,
                    }
                    Some(())
                })?;
                c.orgs = Some(o);
            }
            8 => c.package = Some(r.str()?),
            9 => c.permissions = Some(r.list(|r| r.pick(&OIDC_PERMISSIONS))?),
            _ => return None,
        }
        Some(())
    })?;
    c.kind = kind?;
    Some(c)
}

/// Writes a decision in the packed form the JS decoder reads back into the very object
/// `JSON.parse` would give for [`Decision::to_json`] (same keys, same order, same values).
pub fn encode_decision(d: &Decision, out: &mut Vec<u8>) -> Option<()> {
    let mut w = Writer(out);
    w.u8(outcome_index(d.outcome));
    w.u8(reason_index(d.reason)?);
    w.text(&d.rule)?;
    w.text(&d.message)?;
    let flags = u8::from(d.challenge.is_some())
        | u8::from(d.retry_after.is_some()) << 1
        | u8::from(d.drift_seconds.is_some()) << 2
        | u8::from(d.webauthn_problem.is_some()) << 3;
    w.u8(flags);
    if let Some(c) = &d.challenge {
        w.u8(u8::try_from(c.factors.iter().count()).ok()?);
        for f in c.factors.iter() {
            w.u8(u8::try_from(Factor::ORDER.iter().position(|x| *x == f)?).ok()?);
        }
    }
    if let Some(s) = d.retry_after {
        w.num(s)?;
    }
    if let Some(s) = d.drift_seconds {
        // Signed: sent as f64 directly (|drift| is bounded by the drift window).
        w.0.extend_from_slice(&(s as f64).to_le_bytes());
    }
    if let Some(p) = d.webauthn_problem {
        w.text(&Cow::Borrowed(p))?;
    }
    w.u8(u8::try_from(d.effects.len()).ok()?);
    for e in &d.effects {
        effect(&mut w, e)?;
    }
    w.0.extend_from_slice(&d.npm.status.to_le_bytes());
    let (www, error) = (&d.npm.www_authenticate, &d.npm.error);
    w.u8(u8::from(www.is_some()) | u8::from(error.is_some()) << 1);
    if let Some(h) = www {
        w.text(h)?;
    }
    if let Some(e) = error {
        w.text(e)?;
    }
    Some(())
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn str(&mut self, s: &str) -> Option<()> {
        self.keyed(s, 0)
    }
    /// A decision text: keyed by its address when it is one of the engine's constants.
    #[expect(
        clippy::ptr_arg,
        reason = "the variant is the point: only a borrowed text is a constant"
    )]
    fn text(&mut self, s: &Cow<'static, str>) -> Option<()> {
        let key = match s {
            Cow::Borrowed(c) => u64::try_from(c.as_ptr() as usize).unwrap_or(0),
            Cow::Owned(_) => 0,
        };
        // An address that f64 cannot hold exactly is sent as "not a constant".
        self.keyed(s, if key > MAX_SAFE_INTEGER { 0 } else { key })
    }
    fn keyed(&mut self, s: &str, key: u64) -> Option<()> {
        let n = u16::try_from(s.len()).ok()?;
        self.0.extend_from_slice(&n.to_le_bytes());
        #[expect(
            clippy::cast_precision_loss,
            reason = "the caller keeps keys at or below 2^53 - 1"
        )]
        self.0.extend_from_slice(&(key as f64).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
        Some(())
    }
    /// An unsigned value as f64; refused above 2^53 - 1 (JSON would print it exactly).
    fn num(&mut self, v: u64) -> Option<()> {
        if v > MAX_SAFE_INTEGER {
            return None;
        }
        #[expect(
            clippy::cast_precision_loss,
            reason = "checked above: exact below 2^53"
        )]
        self.0.extend_from_slice(&(v as f64).to_le_bytes());
        Some(())
    }
}

fn outcome_index(o: Outcome) -> u8 {
    match o {
        Outcome::Allow => 0,
        Outcome::Challenge => 1,
        Outcome::Deny => 2,
    }
}

fn reason_index(r: Reason) -> Option<u8> {
    u8::try_from(Reason::ALL.iter().position(|x| *x == r)?).ok()
}

fn effect(w: &mut Writer<'_>, e: &Effect) -> Option<()> {
    let kind = match e {
        Effect::ConsumeTotpStep { .. } => 0,
        Effect::BurnRecoveryCode { .. } => 1,
        Effect::ConsumeEmailCode => 2,
        Effect::RecordEmailAttempt => 3,
        Effect::RecordFailure => 4,
        Effect::ClearFailures => 5,
        Effect::RevokeWebSessions => 6,
        Effect::StartSafeguard { .. } => 7,
        Effect::ConsumeWebauthnChallenge => 8,
        Effect::UpdateWebauthnSignCount { .. } => 9,
        Effect::ReportSignCountRegression { .. } => 10,
    };
    w.u8(kind);
    match e {
        Effect::ConsumeTotpStep { step } => w.num(*step),
        Effect::BurnRecoveryCode { index } => w.num(u64::try_from(*index).ok()?),
        Effect::StartSafeguard { until } => w.num(*until),
        Effect::UpdateWebauthnSignCount {
            credential_id,
            sign_count,
        } => {
            w.str(credential_id)?;
            w.num(u64::from(*sign_count))
        }
        Effect::ReportSignCountRegression {
            credential_id,
            stored,
            presented,
        } => {
            w.str(credential_id)?;
            w.num(u64::from(*stored))?;
            w.num(u64::from(*presented))
        }
        _ => Some(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            _ => Effect::ReportSignCountRegression {
                credential_id: "a".into(),
                stored: 2,
                presented: 1,
            },
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
        let req = Request::parse(include_str!("../../tests/fixtures/bench-publish.json")).unwrap();
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
