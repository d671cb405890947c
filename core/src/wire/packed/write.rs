//! Writing a decision in the packed form.

use std::borrow::Cow;

use crate::contract::decision::{Decision, Effect, Outcome, Reason};
use crate::contract::factor::Factor;
use crate::contract::time::MAX_SAFE_INTEGER;

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
        Effect::ReadAnonymously => 11,
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
