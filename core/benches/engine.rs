//! Engine benchmarks: evaluate on several request shapes, the JSON round trip, parsing, and
//! authorize with a right and a wrong code. The floor (HMAC-SHA1) and the peer (Cedar) are
//! measured in `benches/` (`cargo bench -p stepup-benches`). Run: `cargo bench -p stepup-core --bench engine`.
#![expect(
    clippy::unwrap_used,
    reason = "benchmark setup on fixed, known-good inputs"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use stepup_core::{AuthorizeInput, Policy, Request};

const NOW: u64 = 1_780_315_200; // 2026-06-01T12:00:00Z
const SEED_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn request(body: &str) -> Request {
    Request::parse(body).unwrap()
}

/// The benchmark request every host measures (also used by the component and Node benches).
fn publish_challenge() -> String {
    include_str!("../../tests/fixtures/bench-publish.json").to_owned()
}

/// `tests/fixtures/bench-publish.json` in the packed form (see `stepup_core::wire::packed`).
fn packed_publish() -> Vec<u8> {
    fn s(b: &mut Vec<u8>, text: &str) {
        b.extend_from_slice(&(text.len() as u16).to_le_bytes());
        b.extend_from_slice(text.as_bytes());
    }
    let n = |b: &mut Vec<u8>, v: f64| b.extend_from_slice(&v.to_le_bytes());
    let mut b = vec![stepup_core::wire::packed::VERSION, 1];
    n(&mut b, NOW as f64);
    b.extend_from_slice(&[2, 1, 14, 2]);
    s(&mut b, "left-pad");
    b.push(3);
    s(&mut b, "latest");
    b.extend_from_slice(&[0, 3, 1]);
    s(&mut b, "alice");
    b.extend_from_slice(&[2, 1, 2, 2, 1, 0, 1, 0, 3, 1, 4, 1]);
    n(&mut b, 2_500_000.0);
    b.push(2);
    n(&mut b, 900.0);
    b.push(3);
    n(&mut b, 42.0);
    b.extend_from_slice(&[0, 0, 4, 1, 0, 0, 5, 1]);
    s(&mut b, "203.0.113.7");
    b.extend_from_slice(&[0, 6, 1]);
    s(&mut b, "left-pad");
    b.extend_from_slice(&[2, 1, 0, 7, 1, 0, 1]);
    s(&mut b, "acme");
    b.extend_from_slice(&[2, 1, 0, 8, 0, 0, 9, 1, 2, 0]);
    n(&mut b, 1_780_315_100.0);
    n(&mut b, 1_780_315_150.0);
    b.extend_from_slice(&[2, 0, 0, 0, 0]);
    b
}

fn bench(c: &mut Criterion) {
    let policy = Policy::default();
    let publish = publish_challenge();
    let cases = [
        ("publish_challenge", request(&publish)),
        (
            "read_allowed",
            request(&format!(
                r#"{{"now":{NOW},"action":{{"kind":"package.read","package":"left-pad"}},"account":{{"id":"bob"}},"credential":{{"kind":"session"}}}}"#
            )),
        ),
        (
            "bypass_token_publish",
            request(&format!(
                r#"{{"now":{NOW},"action":{{"kind":"package.publish","package":"@acme/x"}},"account":{{"id":"ci"}},
                "credential":{{"kind":"granular-token","bypass_2fa":true,"expires_at":{exp},"cidr_whitelist":["10.0.0.0/8","2001:db8::/32"],
                "packages":{{"scopes":["@acme"],"permission":"read-write"}}}},"client":{{"ip":"10.1.2.3"}}}}"#,
                exp = NOW + 86_400
            )),
        ),
        (
            "login_verification",
            request(&format!(
                r#"{{"now":{NOW},"action":{{"kind":"login"}},"account":{{"id":"carol","publisher":true}},"credential":{{"kind":"basic"}}}}"#
            )),
        ),
    ];
    let mut g = c.benchmark_group("evaluate");
    for (name, req) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| black_box(policy.evaluate(black_box(req))))
        });
    }
    g.bench_function("json_publish_challenge", |b| {
        b.iter(|| black_box(policy.evaluate_json(black_box(&publish))))
    });
    g.finish();

    // authorize with the valid TOTP code of the current step.
    let secret = stepup_core::TotpSecret::from_base32(SEED_B32).unwrap();
    let code = stepup_core::codes::totp::generate(&policy.config().totp, &secret.0, NOW);
    let input = format!(
        r#"{{"request":{publish},"secrets":{{"totp_secret":"{SEED_B32}","last_totp_step":0}},"present":{{"factor":"totp","code":"{code}"}}}}"#
    );
    let parsed = AuthorizeInput::parse(&input).unwrap();
    let wrong = AuthorizeInput::parse(
        &input.replace(&code, if code == "000000" { "111111" } else { "000000" }),
    )
    .unwrap();
    let mut g = c.benchmark_group("authorize");
    g.bench_function("totp_accepted", |b| {
        b.iter(|| {
            black_box(policy.authorize(&parsed.request, &parsed.secrets, parsed.present.as_ref()))
        })
    });
    g.bench_function("totp_wrong_with_drift_probe", |b| {
        b.iter(|| {
            black_box(policy.authorize(&wrong.request, &wrong.secrets, wrong.present.as_ref()))
        })
    });
    g.finish();

    // The packed form the JS hosts use: the same request, encoded as bindings/js/packed.js does.
    let packed = packed_publish();
    assert_eq!(
        stepup_core::wire::packed::decode_request(&packed),
        Some(request(&publish))
    );
    let mut g = c.benchmark_group("packed");
    g.bench_function("decode", |b| {
        b.iter(|| {
            black_box(stepup_core::wire::packed::decode_request(black_box(
                &packed,
            )))
        })
    });
    // What any decode into the owned request type pays at least: building the same document
    // (its strings and lists allocated and copied) and dropping it.
    let parsed = request(&publish);
    g.bench_function("owned_request_clone", |b| {
        b.iter(|| black_box(black_box(&parsed).clone()))
    });
    // The same bytes read into the request the last call filled (what hosts do per call).
    let mut kept = request(&publish);
    g.bench_function("decode_into_kept", |b| {
        b.iter(|| {
            black_box(stepup_core::wire::packed::decode_into(
                black_box(&packed),
                &mut kept,
            ))
        })
    });
    let mut out = vec![0u8; 1024];
    let mut scratch = stepup_core::wire::packed::Scratch::default();
    g.bench_function("evaluate_packed_kept", |b| {
        b.iter(|| {
            black_box(stepup_core::wire::ffi::evaluate_packed_in(
                &policy,
                &mut scratch,
                black_box(&packed),
                &mut out,
            ))
        })
    });
    g.bench_function("evaluate_packed", |b| {
        b.iter(|| {
            black_box(stepup_core::wire::ffi::evaluate_packed(
                &policy,
                black_box(&packed),
                &mut out,
            ))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("parse");
    g.bench_function("request_json", |b| {
        b.iter(|| black_box(Request::parse(black_box(&publish))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(60).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
