//! Cedar and stepup must reach the same allow/deny on every shared request; otherwise the peer
//! benchmark would compare engines answering different questions.

use stepup_benches::cedar::CedarNpm;
use stepup_benches::floor;
use stepup_benches::shared_requests;
use stepup_core::{Outcome, Policy};

#[test]
fn cedar_and_stepup_agree_on_every_shared_request() {
    let shared = shared_requests().unwrap();
    assert!(
        shared.len() >= 20,
        "the issue asks for at least 20 requests"
    );
    let cedar = CedarNpm::new(shared.iter().map(|s| &s.request)).unwrap();
    let policy = Policy::default();
    let (mut allows, mut refusals, mut disagreements) = (0, 0, Vec::new());
    for s in &shared {
        let decision = policy.evaluate(&s.request);
        let ours = decision.outcome == Outcome::Allow;
        let theirs = cedar
            .is_allowed(&s.request)
            .unwrap_or_else(|e| panic!("{}: Cedar evaluation error: {e}", s.name));
        if ours {
            allows += 1;
        } else {
            refusals += 1;
        }
        if ours != theirs {
            disagreements.push(format!(
                "{}: stepup {:?} ({}), Cedar {}",
                s.name,
                decision.outcome,
                decision.reason.as_str(),
                if theirs { "allow" } else { "deny" }
            ));
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    // Both answers occur often, so agreement is not a property of a constant answer.
    assert!(
        allows >= 8 && refusals >= 8,
        "allows {allows}, refusals {refusals}"
    );
}

#[test]
fn the_direct_totp_check_accepts_exactly_the_window() {
    let key = b"12345678901234567890";
    let keyed = floor::keyed(key).unwrap();
    // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 → six digits 287082.
    assert_eq!(floor::code_at(&keyed, 1), 287_082);
    let now: u64 = 1_780_315_200;
    let policy = Policy::default();
    for (offset, accepted) in [
        (-60i64, false),
        (-30, true),
        (0, true),
        (30, true),
        (60, false),
    ] {
        let at = now.checked_add_signed(offset).unwrap();
        let code = stepup_core::codes::totp::generate(&policy.config().totp, key, at);
        let code: u32 = code.parse().unwrap();
        assert_eq!(
            floor::totp_check(&keyed, now, code),
            accepted,
            "offset {offset}"
        );
    }
}
