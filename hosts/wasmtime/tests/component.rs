//! The component under wasmtime: same decisions as native, contained when hostile.
#![expect(
    clippy::unwrap_used,
    reason = "test setup: failures should fail loudly"
)]

use std::time::{Duration, Instant};

use stepup_conformance::{load_cases, run_case};
use stepup_core::{Policy, Request};
use stepup_wasmtime::conformance::ComponentEngine;
use stepup_wasmtime::{COMPONENT, HOSTILE_FIXTURE, HostError, Limits, Runtime, component_imports};

const REQ: &str = r#"{"now":1780315200,"action":{"kind":"package.publish","package":"left-pad"},
  "account":{"id":"alice","tfa":{"mode":"auth-and-writes","factors":["totp"]}},"credential":{"kind":"session"}}"#;

fn req_for(id: &str) -> Request {
    Request::parse(&REQ.replace("alice", id)).unwrap()
}

#[test]
fn component_imports_nothing_and_is_a_component() {
    assert_eq!(
        COMPONENT.get(..8),
        Some(&[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00][..]),
        "component-model binary header"
    );
    assert_eq!(component_imports(COMPONENT).unwrap(), Vec::<String>::new());
}

#[test]
fn whole_corpus_matches_through_json_and_typed_entry_points() {
    let mut engine = ComponentEngine::new(Runtime::new().unwrap());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/conformance");
    let (mut passed, mut failed) = (0, Vec::new());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for f in files {
        for case in load_cases(&std::fs::read_to_string(&f).unwrap()).unwrap() {
            match run_case(&mut engine, &case) {
                Ok(()) => passed += 1,
                Err(d) => failed.push(format!("{}: {d:?}", case.name)),
            }
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(passed >= 300, "{passed}");
}

#[test]
fn typed_decisions_equal_native_bytes() {
    let runtime = Runtime::new().unwrap();
    let mut p = runtime.policy("{}").unwrap();
    let native = Policy::default();
    for id in ["alice", "bob"] {
        let r = req_for(id);
        assert_eq!(
            p.evaluate(&r).unwrap().to_json(),
            native.evaluate(&r).to_json()
        );
    }
}

#[test]
fn bad_config_is_an_input_error_with_its_path() {
    let runtime = Runtime::new().unwrap();
    match runtime.policy(r#"{"totp":{"digits":11}}"#) {
        Err(HostError::Input(e)) => assert_eq!(e.path, "totp.digits"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn enrolment_through_the_component_matches_native() {
    let runtime = Runtime::new().unwrap();
    let mut p = runtime.policy("{}").unwrap();
    let entropy = [9u8; 32];
    let via = p.enroll_totp("Acme", "alice", &entropy).unwrap();
    let native = stepup_core::codes::totp::enroll(
        &Policy::default().config().totp,
        "Acme",
        "alice",
        &entropy,
    )
    .unwrap();
    assert_eq!(via, native);
    let codes = p.issue_recovery_codes(&entropy).unwrap();
    assert_eq!(
        codes,
        stepup_core::codes::single_use::issue_recovery_codes(10, &entropy).unwrap()
    );
    let secret = stepup_core::wire::encoding::base32_decode(&via.secret).unwrap();
    assert_eq!(
        p.totp_code(&secret, 59).unwrap(),
        stepup_core::codes::totp::generate(&Policy::default().config().totp, &secret, 59)
    );
    assert!(
        matches!(p.enroll_totp("Acme", "alice", &[1u8; 8]), Err(HostError::Input(e)) if e.path == "entropy")
    );
}

fn hostile() -> Runtime {
    Runtime::with(
        HOSTILE_FIXTURE,
        None,
        Limits {
            memory_bytes: 32 << 20,
            deadline: Duration::from_millis(10),
            slow_deadline: Duration::from_millis(100),
            tick: Duration::from_millis(1),
        },
    )
    .unwrap()
}

#[test]
fn infinite_loop_is_stopped_by_the_deadline_and_the_host_keeps_serving() {
    let runtime = hostile();
    let mut p = runtime.policy("{}").unwrap();
    assert!(p.evaluate(&req_for("ok")).is_ok());
    for _ in 0..3 {
        let t = Instant::now();
        let r = p.evaluate(&req_for("loop"));
        let took = t.elapsed();
        assert!(
            matches!(&r, Err(HostError::Trap(m)) if m.contains("interrupt")),
            "{r:?}"
        );
        assert!(took < Duration::from_millis(250), "stopped after {took:?}");
        // The next call gets a fresh instance and succeeds.
        assert_eq!(
            p.evaluate(&req_for("ok")).unwrap().reason.as_str(),
            "allowed"
        );
    }
}

#[test]
fn unbounded_memory_growth_hits_the_cap_and_the_host_keeps_serving() {
    let runtime = hostile();
    let mut p = runtime.policy("{}").unwrap();
    let r = p.evaluate(&req_for("grow"));
    assert!(matches!(&r, Err(HostError::Trap(_))), "{r:?}");
    assert!(p.evaluate(&req_for("ok")).is_ok());
}

#[test]
fn guest_trap_is_an_error_not_a_host_panic() {
    let runtime = hostile();
    let mut p = runtime.policy("{}").unwrap();
    assert!(matches!(
        p.evaluate(&req_for("trap")),
        Err(HostError::Trap(_))
    ));
    assert!(matches!(
        p.evaluate_json(r#"{"account":{"id":"trap"}}"#),
        Err(HostError::Trap(_))
    ));
    assert!(p.evaluate(&req_for("ok")).is_ok());
}

#[test]
fn cwasm_cache_is_written_reused_and_survives_corruption() {
    let dir = std::env::temp_dir().join(format!("stepup-cwasm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    let first = Runtime::with(COMPONENT, Some(&dir), Limits::default()).unwrap();
    let compile = t.elapsed();
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert!(files[0].extension().is_some_and(|x| x == "cwasm"));
    let t = Instant::now();
    let second = Runtime::with(COMPONENT, Some(&dir), Limits::default()).unwrap();
    let load = t.elapsed();
    assert!(
        load < compile,
        "cached load {load:?} should beat compile {compile:?}"
    );
    let r = req_for("alice");
    assert_eq!(
        first.policy("{}").unwrap().evaluate(&r).unwrap(),
        second.policy("{}").unwrap().evaluate(&r).unwrap()
    );
    std::fs::write(&files[0], b"not a cwasm").unwrap();
    let third = Runtime::with(COMPONENT, Some(&dir), Limits::default()).unwrap();
    assert!(third.policy("{}").unwrap().evaluate(&r).is_ok());
    assert!(
        std::fs::metadata(&files[0]).unwrap().len() > 1000,
        "rewritten after corruption"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The cache is best effort: a folder that cannot be written (here a path under a regular
/// file) must not stop the runtime. Two runtimes compiling at once into one folder hit the same
/// path in production: with one temporary name per process, the later rename failed and a
/// server instance did not start (seen once in the PostgreSQL race test).
#[test]
fn an_unwritable_cache_folder_does_not_stop_the_runtime() {
    let file = std::env::temp_dir().join(format!("stepup-cwasm-file-{}", std::process::id()));
    std::fs::write(&file, b"a file, not a folder").unwrap();
    let runtime = Runtime::with(COMPONENT, Some(&file.join("cache")), Limits::default());
    let _ = std::fs::remove_file(&file);
    let r = req_for("alice");
    assert!(runtime.unwrap().policy("{}").unwrap().evaluate(&r).is_ok());
}
