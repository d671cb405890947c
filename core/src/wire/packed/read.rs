//! Reading a packed request into a [`Request`] in place.
//!
//! Each field is written where it lives in the request the caller holds, reusing the capacity
//! of the strings and lists already there: with a [`super::Scratch`] kept between calls, a
//! request of the same shape as the last one decodes without allocating (allocation and moving
//! the request's parts between temporaries were most of a decode that built a new one).
//! Soundness does not depend on what the request held before: every field of every object read
//! is either written or reset when its object ends, and a failed read leaves a request that
//! nobody uses (the caller answers "use the JSON path").

use crate::contract::action::ActionKind;
use crate::contract::cidr::{Cidr, ClientIp};
use crate::contract::factor::Factor;
use crate::contract::request::{
    Account, Action, Client, Credential, CredentialDoc, Failures, Impact, Org, OrgsAxis, Package,
    PackagesAxis, Proof, Request, Tfa, TfaMode,
};
use crate::contract::time::{Count, Timestamp};

use super::tags::{
    account, action, client, credential, failures, impact, org, orgs_axis, package, packages_axis,
    proof, request, tfa,
};
use super::{ACCESS, CREDENTIAL_KINDS, LEGACY_TYPES, OIDC_PERMISSIONS, PERMISSIONS, TFA_MODES};

/// A request with every field empty: the starting point of a decode.
pub(super) fn blank() -> Request {
    Request {
        now: Timestamp(0),
        action: Action {
            kind: ActionKind::PackageRead,
            package: None,
            tag: None,
            org: None,
            target_account: None,
        },
        account: Account {
            id: String::new(),
            tfa: None,
            publisher: false,
            impact: None,
            safeguard_until: None,
        },
        credential: Credential::Session,
        client: Client::default(),
        package: None,
        orgs: Vec::new(),
        proofs: Vec::new(),
        failures: Failures::default(),
    }
}

/// Reads `buf` into `req`; `None` = not decodable or refused (the JSON path gives the error).
/// On success `req` equals what parsing the JSON form gives, checks included.
pub(super) fn request_into(buf: &[u8], req: &mut Request) -> Option<()> {
    if buf.len() > super::MAX_INPUT {
        return None;
    }
    let mut r = Reader { buf, pos: 0 };
    if r.u8()? != super::VERSION {
        return None;
    }
    let seen = r.object(|r, tag| {
        match tag {
            request::NOW => req.now = Timestamp(r.int()?),
            request::ACTION => action_into(r, &mut req.action)?,
            request::ACCOUNT => account_into(r, &mut req.account)?,
            request::CREDENTIAL => req.credential = credential(r)?,
            request::CLIENT => {
                let seen = r.object(|r, t| match t {
                    client::IP => {
                        req.client.ip = Some(ClientIp(r.text()?.parse().ok()?));
                        Some(())
                    }
                    _ => None,
                })?;
                if !has(seen, client::IP) {
                    req.client.ip = None;
                }
            }
            request::PACKAGE => package_into(r, req.package.get_or_insert_with(blank_package))?,
            request::ORGS => r.list_into(&mut req.orgs, blank_org, org_into)?,
            request::PROOFS => {
                req.proofs.clear();
                let n = r.u16()?;
                for _ in 0..n {
                    req.proofs.push(proof(r)?);
                }
            }
            request::FAILURES => {
                let seen = r.object(|r, t| {
                    let list = match t {
                        failures::ACCOUNT => &mut req.failures.account,
                        failures::IP => &mut req.failures.ip,
                        _ => return None,
                    };
                    list.clear();
                    let n = r.u16()?;
                    for _ in 0..n {
                        list.push(Timestamp(r.int()?));
                    }
                    Some(())
                })?;
                clear_unless(seen, failures::ACCOUNT, &mut req.failures.account);
                clear_unless(seen, failures::IP, &mut req.failures.ip);
            }
            _ => return None,
        }
        Some(())
    })?;
    if r.pos != buf.len()
        || !(has(seen, request::NOW)
            && has(seen, request::ACTION)
            && has(seen, request::ACCOUNT)
            && has(seen, request::CREDENTIAL))
    {
        return None;
    }
    if !has(seen, request::CLIENT) {
        req.client.ip = None;
    }
    if !has(seen, request::PACKAGE) {
        req.package = None;
    }
    clear_unless(seen, request::ORGS, &mut req.orgs);
    clear_unless(seen, request::PROOFS, &mut req.proofs);
    if !has(seen, request::FAILURES) {
        req.failures.account.clear();
        req.failures.ip.clear();
    }
    req.check_sizes().ok()
}

fn has(seen: u64, tag: u8) -> bool {
    seen & (1 << tag) != 0
}

fn clear_unless<T>(seen: u64, tag: u8, list: &mut Vec<T>) {
    if !has(seen, tag) {
        list.clear();
    }
}

/// Puts `text` in `slot`, in the string already there when there is one.
fn put(slot: &mut Option<String>, text: &str) {
    match slot {
        Some(s) => {
            s.clear();
            s.push_str(text);
        }
        None => *slot = Some(text.to_owned()),
    }
}

/// Empties the slots of fields the object did not send, so nothing from a previous decode stays.
fn reset(seen: u64, slots: [(u8, &mut Option<String>); 4]) {
    for (tag, slot) in slots {
        if !has(seen, tag) {
            *slot = None;
        }
    }
}

/// Reads `authorize`'s TOTP state written after a packed request (see
/// [`super::authorize_split_in`]): the strings are borrowed from `buf`, the step is the number
/// as sent (the caller checks it as JSON would).
pub(super) fn totp_authorize(buf: &[u8]) -> Option<super::TotpAuthorize<'_>> {
    use super::totp_tags::{CODE, FACTOR, LAST_TOTP_STEP, TOTP_SECRET};
    let mut r = Reader { buf, pos: 0 };
    let mut state = super::TotpAuthorize::default();
    let mut seen = 0u64;
    loop {
        let tag = r.u8()?;
        if tag == 0 {
            break;
        }
        // Known tags only reach the shift (a tag is a byte; the set holds 64).
        if !matches!(tag, TOTP_SECRET | LAST_TOTP_STEP | CODE | FACTOR) || has(seen, tag) {
            return None;
        }
        seen |= 1 << tag;
        match tag {
            TOTP_SECRET => state.totp_secret = Some(r.text()?),
            LAST_TOTP_STEP => state.last_totp_step = Some(r.number()?),
            CODE => state.code = Some(r.text()?),
            _ => state.factor = Some(r.text()?),
        }
    }
    (r.pos == buf.len()).then_some(state)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
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
    /// A JS number as sent.
    fn number(&mut self) -> Option<f64> {
        let b: [u8; 8] = self.take(8)?.try_into().ok()?;
        Some(f64::from_le_bytes(b))
    }
    /// A safe non-negative integer sent as f64 (what a JS number is).
    fn int(&mut self) -> Option<u64> {
        let b: [u8; 8] = self.take(8)?.try_into().ok()?;
        super::safe_count(f64::from_le_bytes(b))
    }
    /// A string borrowed from the buffer.
    fn text(&mut self) -> Option<&'a str> {
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
    /// A list read into `list`, each item into the one already at its place when there is one.
    fn list_into<T>(
        &mut self,
        list: &mut Vec<T>,
        blank: fn() -> T,
        mut item: impl FnMut(&mut Self, &mut T) -> Option<()>,
    ) -> Option<()> {
        let n = self.u16()?;
        for i in 0..n {
            if i == list.len() {
                list.push(blank());
            }
            item(self, list.get_mut(i)?)?;
        }
        list.truncate(n);
        Some(())
    }
    /// Runs `field` for each tag of an object until its end; a tag seen twice is refused.
    /// Returns the tags seen, as bits.
    fn object(&mut self, mut field: impl FnMut(&mut Self, u8) -> Option<()>) -> Option<u64> {
        let mut seen = 0u64;
        loop {
            let tag = self.u8()?;
            if tag == 0 {
                return Some(seen);
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

fn factor(r: &mut Reader<'_>) -> Option<Factor> {
    Factor::ORDER.get(usize::from(r.u8()?)).copied()
}

fn action_into(r: &mut Reader<'_>, a: &mut Action) -> Option<()> {
    let seen = r.object(|r, t| {
        match t {
            action::KIND => a.kind = ActionKind::ALL.get(usize::from(r.u8()?)).copied()?,
            action::PACKAGE => put(&mut a.package, r.text()?),
            action::TAG => put(&mut a.tag, r.text()?),
            action::ORG => put(&mut a.org, r.text()?),
            action::TARGET_ACCOUNT => put(&mut a.target_account, r.text()?),
            _ => return None,
        }
        Some(())
    })?;
    reset(
        seen,
        [
            (action::PACKAGE, &mut a.package),
            (action::TAG, &mut a.tag),
            (action::ORG, &mut a.org),
            (action::TARGET_ACCOUNT, &mut a.target_account),
        ],
    );
    has(seen, action::KIND).then_some(())
}

fn account_into(r: &mut Reader<'_>, a: &mut Account) -> Option<()> {
    let seen = r.object(|r, t| {
        match t {
            account::ID => {
                let id = r.text()?;
                a.id.clear();
                a.id.push_str(id);
            }
            account::TFA => {
                let tfa = a.tfa.get_or_insert_with(|| Tfa {
                    mode: TfaMode::Disabled,
                    factors: Vec::new(),
                });
                let seen = r.object(|r, t| {
                    match t {
                        tfa::MODE => tfa.mode = r.pick(&TFA_MODES)?,
                        tfa::FACTORS => {
                            tfa.factors.clear();
                            let n = r.u16()?;
                            for _ in 0..n {
                                tfa.factors.push(factor(r)?);
                            }
                        }
                        _ => return None,
                    }
                    Some(())
                })?;
                if !has(seen, tfa::MODE) {
                    return None;
                }
                clear_unless(seen, tfa::FACTORS, &mut tfa.factors);
            }
            account::PUBLISHER => a.publisher = r.bool()?,
            account::IMPACT => {
                let mut i = Impact::default();
                r.object(|r, t| {
                    let v = Some(Count(r.int()?));
                    match t {
                        impact::WEEKLY_DOWNLOADS => i.weekly_downloads = v,
                        impact::DEPENDENTS => i.dependents = v,
                        impact::DEPENDENTS_RANK => i.dependents_rank = v,
                        _ => return None,
                    }
                    Some(())
                })?;
                a.impact = Some(i);
            }
            account::SAFEGUARD_UNTIL => a.safeguard_until = Some(Timestamp(r.int()?)),
            _ => return None,
        }
        Some(())
    })?;
    if !has(seen, account::ID) {
        return None;
    }
    if !has(seen, account::TFA) {
        a.tfa = None;
    }
    if !has(seen, account::PUBLISHER) {
        a.publisher = false;
    }
    if !has(seen, account::IMPACT) {
        a.impact = None;
    }
    if !has(seen, account::SAFEGUARD_UNTIL) {
        a.safeguard_until = None;
    }
    Some(())
}

fn blank_package() -> Package {
    Package {
        name: None,
        publishing_access: None,
        weekly_downloads: None,
        dependents: None,
        dependents_rank: None,
    }
}

fn package_into(r: &mut Reader<'_>, p: &mut Package) -> Option<()> {
    let mut fresh = blank_package();
    let seen = r.object(|r, t| {
        match t {
            package::NAME => put(&mut p.name, r.text()?),
            package::PUBLISHING_ACCESS => fresh.publishing_access = Some(r.pick(&ACCESS)?),
            package::WEEKLY_DOWNLOADS => fresh.weekly_downloads = Some(Count(r.int()?)),
            package::DEPENDENTS => fresh.dependents = Some(Count(r.int()?)),
            package::DEPENDENTS_RANK => fresh.dependents_rank = Some(Count(r.int()?)),
            _ => return None,
        }
        Some(())
    })?;
    if !has(seen, package::NAME) {
        p.name = None;
    }
    p.publishing_access = fresh.publishing_access;
    p.weekly_downloads = fresh.weekly_downloads;
    p.dependents = fresh.dependents;
    p.dependents_rank = fresh.dependents_rank;
    Some(())
}

fn blank_org() -> Org {
    Org {
        name: String::new(),
        enforce_tfa: false,
    }
}

fn org_into(r: &mut Reader<'_>, o: &mut Org) -> Option<()> {
    let seen = r.object(|r, t| {
        match t {
            org::NAME => {
                let name = r.text()?;
                o.name.clear();
                o.name.push_str(name);
            }
            org::ENFORCE_TFA => o.enforce_tfa = r.bool()?,
            _ => return None,
        }
        Some(())
    })?;
    if !has(seen, org::ENFORCE_TFA) {
        o.enforce_tfa = false;
    }
    has(seen, org::NAME).then_some(())
}

fn proof(r: &mut Reader<'_>) -> Option<Proof> {
    let (mut f, mut at) = (None, None);
    r.object(|r, t| {
        match t {
            proof::FACTOR => f = Some(factor(r)?),
            proof::VERIFIED_AT => at = Some(Timestamp(r.int()?)),
            _ => return None,
        }
        Some(())
    })?;
    Some(Proof {
        factor: f?,
        verified_at: at?,
    })
}

/// The credential, read as its document and turned into a [`Credential`] with every check
/// parsing makes (a session, the common case, allocates nothing).
fn credential(r: &mut Reader<'_>) -> Option<Credential> {
    let mut kind = None;
    let mut c = CredentialDoc::blank();
    r.object(|r, t| {
        match t {
            credential::KIND => kind = Some(r.pick(&CREDENTIAL_KINDS)?),
            credential::TYPE => c.token_type = Some(r.pick(&LEGACY_TYPES)?),
            credential::BYPASS_2FA => c.bypass_2fa = Some(r.bool()?),
            credential::EXPIRES_AT => c.expires_at = Some(Timestamp(r.int()?)),
            credential::CIDR_WHITELIST => {
                c.cidr_whitelist = Some(r.list(|r| Cidr::parse(r.text()?))?)
            }
            credential::PACKAGES => {
                let mut p = PackagesAxis::default();
                r.object(|r, t| {
                    match t {
                        packages_axis::ALL => p.all = r.bool()?,
                        packages_axis::NAMES => p.names = r.list(Reader::str)?,
                        packages_axis::SCOPES => p.scopes = r.list(Reader::str)?,
                        packages_axis::PERMISSION => p.permission = r.pick(&PERMISSIONS)?,
                        _ => return None,
                    }
                    Some(())
                })?;
                c.packages = Some(p);
            }
            credential::ORGS => {
                let mut o = OrgsAxis::default();
                r.object(|r, t| {
                    match t {
                        orgs_axis::NAMES => o.names = r.list(Reader::str)?,
                        orgs_axis::PERMISSION => o.permission = r.pick(&PERMISSIONS)?,
                        _ => return None,
                    }
                    Some(())
                })?;
                c.orgs = Some(o);
            }
            credential::PACKAGE => c.package = Some(r.str()?),
            credential::PERMISSIONS => c.permissions = Some(r.list(|r| r.pick(&OIDC_PERMISSIONS))?),
            _ => return None,
        }
        Some(())
    })?;
    c.kind = kind?;
    c.into_checked().ok()
}
