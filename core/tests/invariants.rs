//! Invariants over generated requests (proptest): what must hold for every request, not only
//! for the corpus. Requests are generated as JSON documents (valid by construction), so the
//! same value can be re-ordered, changed in one field and decided again.
#![expect(
    clippy::indexing_slicing,
    reason = "serde_json indexing on documents built here as objects: it inserts, or reads null"
)]

mod common;

use common::reversed;
use proptest::prelude::*;
use serde_json::{Value, json};
use stepup_core::{ActionClass, ActionKind, Outcome, Policy, Reason, Request};

const NOW: u64 = 1_780_315_200;
const PACKAGES: [&str; 4] = ["left-pad", "@acme/x", "old-lib", "@other/y"];

fn action() -> impl Strategy<Value = Value> {
    (
        0..ActionKind::ALL.len(),
        prop::option::of(prop::sample::select(&PACKAGES[..])),
        prop::option::of(prop::sample::select(&["latest", "beta"][..])),
    )
        .prop_map(|(i, package, tag)| {
            let kind = ActionKind::ALL
                .get(i)
                .copied()
                .unwrap_or(ActionKind::PackageRead);
            let mut a = json!({ "kind": kind.as_str() });
            if let Some(p) = package {
                a["package"] = json!(p);
            }
            if let Some(t) = tag {
                a["tag"] = json!(t);
            }
            a
        })
}

fn account() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(&["none", "disabled", "auth-only", "auth-and-writes"][..]),
        prop::sample::subsequence(&["totp", "webauthn", "recovery-code"][..], 0..=3),
        any::<bool>(),
        prop::option::of((0u64..3_000_000, 0u64..2_000, 1u64..1_000)),
        prop::option::of(-3_600i64..3_600),
    )
        .prop_map(|(mode, factors, publisher, impact, safeguard)| {
            let mut a = json!({ "id": "alice", "publisher": publisher });
            if mode != "none" {
                a["tfa"] = json!({ "mode": mode, "factors": factors });
            }
            if let Some((w, d, r)) = impact {
                a["impact"] =
                    json!({ "weekly_downloads": w, "dependents": d, "dependents_rank": r });
            }
            if let Some(s) = safeguard {
                a["safeguard_until"] = json!(NOW.saturating_add_signed(s));
            }
            a
        })
}

fn credential() -> impl Strategy<Value = Value> {
    let expiry =
        prop::option::of(-100i64..100_000).prop_map(|e| e.map(|d| NOW.saturating_add_signed(d)));
    let cidrs = prop::sample::subsequence(
        &["10.0.0.0/8", "2001:db8::/32", "203.0.113.0/24"][..],
        0..=2,
    );
    prop_oneof![
        Just(json!({ "kind": "session" })),
        Just(json!({ "kind": "basic" })),
        (prop::sample::select(&["publish", "read-only", "automation"][..]), expiry.clone(), cidrs.clone()).prop_map(
            |(t, e, c)| {
                let mut v = json!({ "kind": "legacy-token", "type": t });
                if let Some(e) = e {
                    v["expires_at"] = json!(e);
                }
                if !c.is_empty() {
                    v["cidr_whitelist"] = json!(c);
                }
                v
            }
        ),
        (
            any::<bool>(),
            expiry,
            cidrs,
            any::<bool>(),
            prop::sample::subsequence(&PACKAGES[..], 0..=2),
            prop::sample::subsequence(&["@acme", "@other"][..], 0..=2),
            prop::sample::select(&["no-access", "read-only", "read-write"][..]),
        )
            .prop_map(|(bypass, e, c, all, names, scopes, permission)| {
                let mut v = json!({
                    "kind": "granular-token", "bypass_2fa": bypass,
                    "packages": { "all": all, "names": names, "scopes": scopes, "permission": permission },
                    "orgs": { "names": ["acme"], "permission": permission },
                });
                if let Some(e) = e {
                    v["expires_at"] = json!(e);
                }
                if !c.is_empty() {
                    v["cidr_whitelist"] = json!(c);
                }
                v
            }),
        (prop::sample::select(&PACKAGES[..]), prop::sample::subsequence(&["createPackage", "createStagedPackage"][..], 1..=2))
            .prop_map(|(p, perms)| json!({ "kind": "oidc", "package": p, "permissions": perms })),
    ]
}

prop_compose! {
    fn request()(
        action in action(),
        account in account(),
        credential in credential(),
        ip in prop::option::of(prop::sample::select(&["10.1.2.3", "192.0.2.1", "2001:db8::7", "203.0.113.9"][..])),
        access in prop::option::of(prop::sample::select(&["none", "tfa-or-token", "tfa-no-tokens"][..])),
        enforce in prop::option::of(any::<bool>()),
        proof in prop::option::of((prop::sample::select(&["totp", "webauthn", "recovery-code", "email-otp"][..]), 0u64..600)),
        failures in prop::collection::vec(0u64..4_000, 0..8),
    ) -> Value {
        let mut r = json!({ "now": NOW, "action": action, "account": account, "credential": credential });
        if let Some(ip) = ip {
            r["client"] = json!({ "ip": ip });
        }
        if let (Some(p), Some(a)) = (r["action"].get("package").cloned(), access) {
            r["package"] = json!({ "name": p, "publishing_access": a });
        }
        if let Some(e) = enforce {
            r["orgs"] = json!([{ "name": "acme", "enforce_tfa": e }]);
        }
        if let Some((f, age)) = proof {
            r["proofs"] = json!([{ "factor": f, "verified_at": NOW - age }]);
        }
        r["failures"] = json!({ "account": failures.iter().map(|a| NOW - a).collect::<Vec<_>>(), "ip": [] });
        r
    }
}

/// Decides a generated document; a document the engine refuses is discarded (none should be).
fn decide(policy: &Policy, doc: &Value) -> Result<stepup_core::Decision, TestCaseError> {
    match Request::parse(&doc.to_string()) {
        Ok(r) => Ok(policy.evaluate(&r)),
        Err(e) => Err(TestCaseError::fail(format!(
            "generated request refused: {e}: {doc}"
        ))),
    }
}

fn class(doc: &Value) -> ActionClass {
    let name = doc["action"]["kind"].as_str().unwrap_or_default();
    ActionKind::ALL
        .iter()
        .find(|k| k.as_str() == name)
        .map_or(ActionClass::Read, |k| k.class())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn read_only_or_expired_credentials_never_allow_a_write(doc in request()) {
        let policy = Policy::default();
        let d = decide(&policy, &doc)?;
        let c = &doc["credential"];
        let expired = c.get("expires_at").and_then(Value::as_u64).is_some_and(|e| NOW >= e);
        let read_only = c["type"] == "read-only"
            || (c["kind"] == "granular-token" && c["packages"]["permission"] == "read-only" && doc["action"].get("package").is_some());
        if expired {
            prop_assert_ne!(d.outcome, Outcome::Allow, "expired credential allowed: {}", doc);
        }
        if read_only && class(&doc) != ActionClass::Read {
            prop_assert_ne!(d.outcome, Outcome::Allow, "read-only credential allowed a write: {}", doc);
        }
    }

    #[test]
    fn bypass_tokens_never_pass_governance_under_npmjs_2026(doc in request()) {
        let d = decide(&Policy::default(), &doc)?;
        let c = &doc["credential"];
        let bypass = c["bypass_2fa"] == true || c["type"] == "automation";
        if bypass && matches!(class(&doc), ActionClass::PackageGovernance | ActionClass::OrgGovernance | ActionClass::Account | ActionClass::Tokens) {
            prop_assert_ne!(d.outcome, Outcome::Allow, "{}", doc);
        }
    }

    #[test]
    fn a_fresh_acceptable_proof_never_makes_things_worse(doc in request(), factor in prop::sample::select(&["totp", "webauthn", "recovery-code"][..])) {
        let policy = Policy::default();
        let before = decide(&policy, &doc)?;
        let mut with = doc.clone();
        let mut proofs = with["proofs"].as_array().cloned().unwrap_or_default();
        proofs.push(json!({ "factor": factor, "verified_at": NOW }));
        with["proofs"] = Value::Array(proofs);
        let after = decide(&policy, &with)?;
        if before.outcome != Outcome::Deny {
            prop_assert_ne!(after.outcome, Outcome::Deny, "proof turned {:?} into deny: {}", before.reason, with);
        }
        if before.outcome == Outcome::Allow {
            prop_assert_eq!(after.outcome, Outcome::Allow, "{}", with);
        }
    }

    #[test]
    fn removing_2fa_never_allows_a_publish_that_needed_a_code(doc in request()) {
        let policy = Policy::default();
        let before = decide(&policy, &doc)?;
        if before.reason == Reason::OtpRequired && class(&doc) == ActionClass::Publish {
            let mut without = doc.clone();
            if let Some(a) = without["account"].as_object_mut() {
                a.remove("tfa");
            }
            let after = decide(&policy, &without)?;
            prop_assert_ne!(after.outcome, Outcome::Allow, "{}", without);
        }
    }

    #[test]
    fn decisions_do_not_depend_on_key_order(doc in request()) {
        let policy = Policy::default();
        prop_assert_eq!(policy.evaluate_json(&doc.to_string()), policy.evaluate_json(&reversed(&doc).to_string()));
    }

    #[test]
    fn a_replayed_totp_step_is_never_accepted(doc in request(), back in 0u64..3) {
        let policy = Policy::default();
        let key = b"12345678901234567890";
        let step = NOW / 30;
        let code = stepup_core::codes::totp::generate(&policy.config().totp, key, NOW);
        let input = json!({
            "request": doc,
            "secrets": { "totp_secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "last_totp_step": step + 1 - back.min(1) },
            "present": { "factor": "totp", "code": code },
        });
        let out: Value = serde_json::from_str(&policy.authorize_json(&input.to_string())).unwrap_or(Value::Null);
        // A proof the host already verified may allow on its own; the replayed code never may.
        if decide(&policy, &doc)?.outcome != Outcome::Allow {
            prop_assert_ne!(&out["outcome"], "allow", "{}", input);
        }
        let consumed = out["effects"].as_array().is_some_and(|e| e.iter().any(|x| x["kind"] == "consume-totp-step"));
        prop_assert!(!consumed, "{}", input);
    }
}

/// Optional fields a test may remove from a generated request (pointer, and key to remove).
const OPTIONAL: [(&str, &str); 14] = [
    ("/action", "package"),
    ("/action", "tag"),
    ("/account", "tfa"),
    ("/account/tfa", "factors"),
    ("/account", "publisher"),
    ("/account", "impact"),
    ("/account/impact", "dependents"),
    ("/account", "safeguard_until"),
    ("/client", "ip"),
    ("/package", "publishing_access"),
    ("/package", "name"),
    ("/orgs/0", "enforce_tfa"),
    ("/failures", "account"),
    ("", "failures"),
];

/// `doc` without the optional fields whose bit is set in `mask`.
fn thinned(doc: &Value, mask: u16) -> Value {
    let mut doc = doc.clone();
    for (i, (at, key)) in OPTIONAL.iter().enumerate() {
        if mask & (1 << i) != 0
            && let Some(Value::Object(o)) = doc.pointer_mut(at)
        {
            o.remove(*key);
        }
    }
    doc
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// A packed request decoded into the request a previous one was decoded into equals the
    /// request parsed from its JSON: no field of the previous one survives the reuse.
    #[test]
    fn a_reused_packed_request_keeps_nothing_of_the_last(
        first in request(), second in request(), drop_first in any::<u16>(), drop_second in any::<u16>(),
    ) {
        let (first, second) = (thinned(&first, drop_first), thinned(&second, drop_second));
        let encode = |d: &Value| common::packed::encode(d).ok_or_else(|| TestCaseError::fail(format!("not packable: {d}")));
        let mut kept = stepup_core::wire::packed::decode_request(&encode(&first)?)
            .ok_or_else(|| TestCaseError::fail(format!("refused: {first}")))?;
        prop_assert!(stepup_core::wire::packed::decode_into(&encode(&second)?, &mut kept).is_some(), "refused: {}", second);
        prop_assert_eq!(kept, Request::parse(&second.to_string()).map_err(|e| TestCaseError::fail(e.to_string()))?, "{}", second);
    }
}
