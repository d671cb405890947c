//! Properties of the JSON surface that single vectors cannot show.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed setup should fail the test loudly"
)]

mod common;

use common::reversed;
use serde_json::Value;
use stepup_conformance::load_cases;
use stepup_core::{AuthorizeInput, Policy};

fn corpus() -> Vec<stepup_conformance::Case> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance");
    let mut all = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for f in files {
        all.extend(load_cases(&std::fs::read_to_string(f).unwrap()).unwrap());
    }
    all
}

#[test]
fn decisions_do_not_depend_on_key_order() {
    let mut checked = 0;
    for case in corpus() {
        if case.expect.get("outcome") == Some(&Value::from("error")) {
            continue; // which invalid field comes first legitimately depends on order
        }
        let Ok(policy) = Policy::from_json(&case.config_text()) else {
            continue;
        };
        let text = case.input_text();
        let flipped = reversed(&serde_json::from_str(&text).unwrap()).to_string();
        let (a, b) = if let Some(f) = &case.call {
            (
                stepup_core::wire::ffi::call_json(&policy, f, &text),
                stepup_core::wire::ffi::call_json(&policy, f, &flipped),
            )
        } else if case.is_authorize() {
            (
                policy.authorize_json(&text),
                policy.authorize_json(&flipped),
            )
        } else {
            (policy.evaluate_json(&text), policy.evaluate_json(&flipped))
        };
        assert_eq!(a, b, "{}", case.name);
        checked += 1;
    }
    assert!(checked > 250, "only {checked} cases checked");
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let doc = format!(
        r#"{{"request":{{"now":59,"action":{{"kind":"login"}},"account":{{"id":"a","tfa":{{"mode":"auth-only","factors":["totp"]}}}},"credential":{{"kind":"session"}}}},
            "secrets":{{"totp_secret":"{secret}","recovery_codes":[{{"salt":"00","hash":"{h}"}}]}},"present":{{"factor":"totp","code":"287082"}}}}"#,
        h = "ab".repeat(32)
    );
    let input = AuthorizeInput::parse(&doc).unwrap();
    let debug = format!("{input:?}");
    assert!(
        !debug.contains(secret) && !debug.contains("287082") && !debug.contains(&"ab".repeat(32)),
        "{debug}"
    );

    let bad = doc.replace(secret, "SECRET-VALUE-1!");
    let err = AuthorizeInput::parse(&bad).unwrap_err();
    assert_eq!(err.path, "secrets.totp_secret");
    assert!(!err.to_string().contains("SECRET-VALUE-1"), "{err}");
}

#[test]
fn hostile_documents_are_errors_not_crashes() {
    let policy = Policy::default();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(policy.evaluate_json(&deep).contains(r#""outcome":"error""#));
    let nested_obj = format!(
        r#"{{"now":1,"action":{}{}}}"#,
        r#"{"kind":"#.repeat(5_000),
        "}".repeat(5_000)
    );
    assert!(
        policy
            .evaluate_json(&nested_obj)
            .contains(r#""outcome":"error""#)
    );
    let huge = format!(r#"{{"now":1,"pad":"{}"}}"#, "x".repeat(2 << 20));
    let out = policy.evaluate_json(&huge);
    assert!(
        out.contains(r#""path":".""#) && out.contains("limit"),
        "{out}"
    );
    for junk in ["", "null", "[]", "\"x\"", "{", "{\"now\":1e400}", "\u{0}"] {
        assert!(
            policy.evaluate_json(junk).contains(r#""outcome":"error""#),
            "{junk:?}"
        );
        assert!(
            policy.authorize_json(junk).contains(r#""outcome":"error""#),
            "{junk:?}"
        );
    }
}

#[test]
fn presets_resolve_to_their_documented_values() {
    let p22 = Policy::from_json(r#"{"preset":"npmjs-2022"}"#).unwrap();
    let p26 = Policy::from_json("{}").unwrap();
    assert!(!p22.config().publish_floor && p26.config().publish_floor);
    assert_eq!(p26.config().tokens.write_max_ttl_days, Some(90));
    assert_eq!(p22.config().tokens.write_max_ttl_days, None);
    assert_eq!(p26.config().throttle.account.len(), 3);
    assert_eq!(
        p26.config()
            .cohorts
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["top-100", "top-500", "high-impact"]
    );
}

/// The packed form decodes every corpus request to what its JSON parses to (and refuses what
/// JSON refuses), and decoding into a request that held any other corpus request first gives
/// the same: nothing of the previous request survives in the reused one.
#[test]
fn packed_requests_decode_like_json_into_any_previous_request() {
    let requests: Vec<(Value, Vec<u8>)> = corpus()
        .into_iter()
        .filter(|c| c.call.is_none() && c.request.is_object())
        .filter_map(|c| common::packed::encode(&c.request).map(|b| (c.request, b)))
        .collect();
    assert!(
        requests.len() > 250,
        "only {} requests encoded",
        requests.len()
    );
    let mut decoded = 0;
    for (doc, bytes) in &requests {
        let json = stepup_core::Request::from_value(doc).ok();
        decoded += usize::from(json.is_some());
        assert_eq!(
            stepup_core::wire::packed::decode_request(bytes),
            json,
            "{doc}"
        );
    }
    assert!(decoded > 250, "only {decoded} requests valid");
    // Every request after every other one (forward and backward through the corpus, and each
    // after the largest), into one request kept throughout.
    let largest = requests.iter().max_by_key(|(_, b)| b.len()).unwrap();
    let orders = [
        requests.iter().collect::<Vec<_>>(),
        requests.iter().rev().collect(),
        requests.iter().flat_map(|r| [largest, r]).collect(),
    ];
    for order in orders {
        let mut kept = stepup_core::wire::packed::decode_request(&largest.1).unwrap();
        for (doc, bytes) in order {
            let fresh = stepup_core::wire::packed::decode_request(bytes);
            let ok = stepup_core::wire::packed::decode_into(bytes, &mut kept).is_some();
            assert_eq!(ok, fresh.is_some(), "{doc}");
            if let Some(fresh) = fresh {
                assert_eq!(kept, fresh, "{doc}");
            }
        }
    }
}
