//! Reading a packed request into a [`Request`] in place.
//!
//! Each field is written where it lives in the request the caller holds, reusing the capacity
//! of the strings and lists already there: with a [`super::Scratch`] kept between calls, a
//! request of the same shape as the last one decodes without allocating (allocation and moving
//! the request's parts between temporaries were two thirds of a decode that built a new one).
//! Soundness does not depend on what the request held before: every field of every object read
//! is either written or reset when its object ends, and a failed read leaves a request that
//! nobody uses (the caller answers "use the JSON path").

use crate::action::ActionKind;
use crate::cidr::{Cidr, ClientIp};
use crate::factor::Factor;
use crate::request::{
    Account, Action, Client, Credential, CredentialDoc, Failures, Impact, Org, OrgsAxis, Package,
    PackagesAxis, Proof, Request, Tfa, TfaMode,
};
use crate::time::{Count, MAX_SAFE_INTEGER, Timestamp};

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
            1 => req.now = Timestamp(r.int()?),
            2 => action_into(r, &mut req.action)?,
            3 => account_into(r, &mut req.account)?,
            4 => req.credential = credential(r)?,
            5 => {
                let seen = r.object(|r, t| match t {
                    1 => {
                        req.client.ip = Some(ClientIp(r.text()?.parse().ok()?));
                        Some(())
                    }
                    _ => None,
                })?;
                if !has(seen, 1) {
                    req.client.ip = None;
                }
            }
            6 => package_into(r, req.package.get_or_insert_with(blank_package))?,
            7 => r.list_into(&mut req.orgs, blank_org, org_into)?,
            8 => {
                req.proofs.clear();
                let n = r.u16()?;
                for _ in 0..n {
                    req.proofs.push(proof(r)?);
                }
            }
            9 => {
                let seen = r.object(|r, t| {
                    let list = match t {
                        1 => &mut req.failures.account,
                        2 => &mut req.failures.ip,
                        _ => return None,
                    };
                    list.clear();
                    let n = r.u16()?;
                    for _ in 0..n {
                        list.push(Timestamp(r.int()?));
                    }
                    Some(())
                })?;
                clear_unless(seen, 1, &mut req.failures.account);
                clear_unless(seen, 2, &mut req.failures.ip);
            }
            _ => return None,
        }
        Some(())
    })?;
    if r.pos != buf.len() || !(has(seen, 1) && has(seen, 2) && has(seen, 3) && has(seen, 4)) {
        return None;
    }
    if !has(seen, 5) {
        req.client.ip = None;
    }
    if !has(seen, 6) {
        req.package = None;
    }
    clear_unless(seen, 7, &mut req.orgs);
    clear_unless(seen, 8, &mut req.proofs);
    if !has(seen, 9) {
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
            1 => a.kind = ActionKind::ALL.get(usize::from(r.u8()?)).copied()?,
            2 => put(&mut a.package, r.text()?),
            3 => put(&mut a.tag, r.text()?),
            4 => put(&mut a.org, r.text()?),
            5 => put(&mut a.target_account, r.text()?),
            _ => return None,
        }
        Some(())
    })?;
    reset(
        seen,
        [
            (2, &mut a.package),
            (3, &mut a.tag),
            (4, &mut a.org),
            (5, &mut a.target_account),
        ],
    );
    has(seen, 1).then_some(())
}

fn account_into(r: &mut Reader<'_>, a: &mut Account) -> Option<()> {
    let seen = r.object(|r, t| {
        match t {
            1 => {
                let id = r.text()?;
                a.id.clear();
                a.id.push_str(id);
            }
            2 => {
                let tfa = a.tfa.get_or_insert_with(|| Tfa {
                    mode: TfaMode::Disabled,
                    factors: Vec::new(),
                });
                let seen = r.object(|r, t| {
                    match t {
                        1 => tfa.mode = r.pick(&TFA_MODES)?,
                        2 => {
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
                if !has(seen, 1) {
                    return None;
                }
                clear_unless(seen, 2, &mut tfa.factors);
            }
            3 => a.publisher = r.bool()?,
            4 => {
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
                a.impact = Some(i);
            }
            5 => a.safeguard_until = Some(Timestamp(r.int()?)),
            _ => return None,
        }
        Some(())
    })?;
    if !has(seen, 1) {
        return None;
    }
    if !has(seen, 2) {
        a.tfa = None;
    }
    if !has(seen, 3) {
        a.publisher = false;
    }
    if !has(seen, 4) {
        a.impact = None;
    }
    if !has(seen, 5) {
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
            1 => put(&mut p.name, r.text()?),
            2 => fresh.publishing_access = Some(r.pick(&ACCESS)?),
            3 => fresh.weekly_downloads = Some(Count(r.int()?)),
            4 => fresh.dependents = Some(Count(r.int()?)),
            5 => fresh.dependents_rank = Some(Count(r.int()?)),
            _ => return None,
        }
        Some(())
    })?;
    if !has(seen, 1) {
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
            1 => {
                let name = r.text()?;
                o.name.clear();
                o.name.push_str(name);
            }
            2 => o.enforce_tfa = r.bool()?,
            _ => return None,
        }
        Some(())
    })?;
    if !has(seen, 2) {
        o.enforce_tfa = false;
    }
    has(seen, 1).then_some(())
}

fn proof(r: &mut Reader<'_>) -> Option<Proof> {
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
}

/// The credential, read as its document and turned into a [`Credential`] with every check
/// parsing makes (a session, the common case, allocates nothing).
fn credential(r: &mut Reader<'_>) -> Option<Credential> {
    let mut kind = None;
    let mut c = CredentialDoc::blank();
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
    c.into_checked().ok()
}
