//! One run, three engines and the floor: every shared request decided by Cedar (policies and
//! entities prebuilt, request built per call), by stepup natively and by stepup's component
//! under wasmtime, and the floor of that typed call (the same requests to a guest that only lifts
//! them); then `authorize` with a TOTP code next to HMAC-SHA1 and a direct ±1-step check.
//! Run: `cargo bench -p stepup-benches --bench peer`; `scripts/bench-report.py` turns the
//! results into docs/BENCHMARKS.md's table and chart.
#![expect(
    clippy::unwrap_used,
    reason = "benchmark setup on fixed, known-good inputs"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{KeyInit, Mac};
use stepup_benches::cedar::CedarNpm;
use stepup_benches::{floor, shared_requests};
use stepup_core::{AuthorizeInput, Policy};
use stepup_wasmtime::{HOSTILE_FIXTURE, Limits, Runtime};

const NOW: u64 = 1_780_315_200;
const KEY: &[u8; 20] = b"12345678901234567890";
const KEY_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// Compiles the component once for both groups (compiling with Cranelift takes a quarter second
/// in release, far longer in the debug build `cargo test` smoke-runs).
fn all(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    peer(c, &runtime);
    floor_and_authorize(c, &runtime);
}

fn peer(c: &mut Criterion, runtime: &Runtime) {
    let shared = shared_requests().unwrap();
    let cedar = CedarNpm::new(shared.iter().map(|s| &s.request)).unwrap();
    let native = Policy::default();
    let mut component = runtime.policy("{}").unwrap();
    // The typed call's floor: the test fixture implements the same world, built with the same
    // profile, and its `evaluate` lifts the request and answers a fixed two-text decision, so
    // it pays the host's lowering, the guest's lifting and the answer's lifting and nothing else.
    let floor_runtime = Runtime::with(HOSTILE_FIXTURE, None, Limits::default()).unwrap();
    let mut lift_only = floor_runtime.policy("{}").unwrap();
    for s in &shared {
        // The agreement test holds the answers equal; here the component must match native.
        assert_eq!(
            component.evaluate(&s.request).unwrap(),
            native.evaluate(&s.request)
        );
    }
    for (engine, group) in [
        ("cedar", "peer_cedar"),
        ("native", "peer_native"),
        ("component", "peer_component"),
        ("lift-only", "peer_component_floor"),
    ] {
        let mut g = c.benchmark_group(group);
        for s in &shared {
            let r = &s.request;
            match engine {
                "cedar" => g.bench_function(&s.name, |b| {
                    b.iter(|| black_box(cedar.decide(black_box(r))))
                }),
                "native" => g.bench_function(&s.name, |b| {
                    b.iter(|| black_box(native.evaluate(black_box(r))))
                }),
                "component" => g.bench_function(&s.name, |b| {
                    b.iter(|| black_box(component.evaluate(black_box(r)).unwrap()))
                }),
                _ => g.bench_function(&s.name, |b| {
                    b.iter(|| black_box(lift_only.evaluate(black_box(r)).unwrap()))
                }),
            };
        }
        g.finish();
    }
}

fn floor_and_authorize(c: &mut Criterion, runtime: &Runtime) {
    let native = Policy::default();
    let code = stepup_core::codes::totp::generate(&native.config().totp, KEY, NOW);
    let publish = include_str!("../../tests/fixtures/bench-publish.json");
    let input = format!(
        r#"{{"request":{publish},"secrets":{{"totp_secret":"{KEY_B32}","last_totp_step":0}},"present":{{"factor":"totp","code":"{code}"}}}}"#
    );
    let a = AuthorizeInput::parse(&input).unwrap();
    let mut component = runtime.policy("{}").unwrap();
    let number: u32 = code.parse().unwrap();
    let keyed = floor::keyed(KEY).unwrap();
    assert!(floor::totp_check(&keyed, NOW, number));

    let mut g = c.benchmark_group("floor");
    g.bench_function("hmac_sha1", |b| {
        b.iter(|| {
            let mut m = <floor::HmacSha1 as KeyInit>::new_from_slice(black_box(KEY)).unwrap();
            m.update(&black_box(NOW / 30).to_be_bytes());
            black_box(m.finalize().into_bytes())
        })
    });
    g.bench_function("hmac_sha1_prekeyed", |b| {
        b.iter(|| black_box(floor::code_at(black_box(&keyed), black_box(NOW / 30))))
    });
    g.bench_function("totp_window_prekeyed", |b| {
        b.iter(|| black_box(floor::totp_check(black_box(&keyed), black_box(NOW), number)))
    });
    g.bench_function("totp_window", |b| {
        b.iter(|| {
            let k = floor::keyed(black_box(KEY)).unwrap();
            black_box(floor::totp_check(&k, black_box(NOW), number))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("peer_authorize");
    g.bench_function("native_totp", |b| {
        b.iter(|| black_box(native.authorize(&a.request, &a.secrets, a.present.as_ref())))
    });
    g.bench_function("component_totp", |b| {
        b.iter(|| {
            black_box(
                component
                    .authorize(&a.request, &a.secrets, a.present.as_ref())
                    .unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .measurement_time(Duration::from_millis(700))
        .warm_up_time(Duration::from_millis(300));
    targets = all
}
criterion_main!(benches);
