//! Native engine vs the wasmtime-hosted component, same requests, same run.
//! Run: `cargo bench -p stepup-wasmtime --bench component`.
#![expect(
    clippy::unwrap_used,
    reason = "benchmark setup on fixed, known-good inputs"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use stepup_core::{AuthorizeInput, Policy, Request};
use stepup_wasmtime::{COMPONENT, Limits, Runtime};

const NOW: u64 = 1_780_315_200;

/// The benchmark request every host measures.
fn publish() -> String {
    include_str!("../../../tests/fixtures/bench-publish.json").to_owned()
}

fn bench(c: &mut Criterion) {
    let text = publish();
    let req = Request::parse(&text).unwrap();
    let native = Policy::default();
    let runtime = Runtime::new().unwrap();
    let mut comp = runtime.policy("{}").unwrap();
    assert_eq!(comp.evaluate(&req).unwrap(), native.evaluate(&req));

    let mut g = c.benchmark_group("evaluate");
    g.bench_function("native", |b| {
        b.iter(|| black_box(native.evaluate(black_box(&req))))
    });
    g.bench_function("component_typed", |b| {
        b.iter(|| black_box(comp.evaluate(black_box(&req)).unwrap()))
    });
    g.bench_function("native_json", |b| {
        b.iter(|| black_box(native.evaluate_json(black_box(&text))))
    });
    g.bench_function("component_json", |b| {
        b.iter(|| black_box(comp.evaluate_json(black_box(&text)).unwrap()))
    });
    g.finish();

    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let code =
        stepup_core::codes::totp::generate(&native.config().totp, b"12345678901234567890", NOW);
    let input = format!(
        r#"{{"request":{text},"secrets":{{"totp_secret":"{secret}","last_totp_step":0}},"present":{{"factor":"totp","code":"{code}"}}}}"#
    );
    let a = AuthorizeInput::parse(&input).unwrap();
    let mut g = c.benchmark_group("authorize");
    g.bench_function("native_totp", |b| {
        b.iter(|| {
            black_box(
                native
                    .authorize(&a.request, &a.secrets, a.present.as_ref())
                    .unwrap(),
            )
        })
    });
    g.bench_function("component_totp", |b| {
        b.iter(|| {
            black_box(
                comp.authorize(&a.request, &a.secrets, a.present.as_ref())
                    .unwrap(),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("lifecycle");
    g.sample_size(30);
    g.bench_function("instantiate", |b| {
        b.iter(|| runtime.instantiate_only().unwrap())
    });
    g.bench_function("instantiate_and_create_policy", |b| {
        b.iter(|| black_box(runtime.policy("{}").unwrap()))
    });
    g.finish();

    let dir = std::env::temp_dir().join(format!("stepup-bench-cwasm-{}", std::process::id()));
    drop(Runtime::with(COMPONENT, Some(&dir), Limits::default()).unwrap());
    let mut g = c.benchmark_group("startup");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("runtime_from_cwasm", |b| {
        b.iter(|| black_box(Runtime::with(COMPONENT, Some(&dir), Limits::default()).unwrap()))
    });
    g.bench_function("runtime_compiling", |b| {
        b.iter(|| black_box(Runtime::with(COMPONENT, None, Limits::default()).unwrap()))
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(60).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
