//! npm request classification (SPEC §9): no input panics, and the canonical form is a fixed
//! point — classifying a request again by the `path` it was classified to gives the same
//! route, action, package and key. If it did not, the gate would decide one request and the
//! upstream, handed the canonical path, could read another.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(out) = stepup_core::wire::classify::classify_json(text) else {
        return;
    };
    let first: Value = serde_json::from_str(&out).expect("classify answers JSON");
    if first["result"] != "classified" {
        assert!(
            matches!(first["status"].as_u64(), Some(400 | 405)),
            "{first}"
        );
        return;
    }
    let mut again: Value = serde_json::from_str(text).expect("the input was JSON");
    again["path"] = first["path"].clone();
    let second: Value = serde_json::from_str(
        &stepup_core::wire::classify::classify_json(&again.to_string())
            .expect("same document shape"),
    )
    .expect("classify answers JSON");
    for k in [
        "result", "route", "action", "package", "path", "key", "write",
    ] {
        assert_eq!(
            first[k], second[k],
            "{k} changed on the canonical path: {first} vs {second}"
        );
    }
});
