//! Differential testing across hosts: `stepup differential generate` writes random requests
//! (JSON lines, deterministic per seed), `stepup differential decide` decides a file of them
//! with one engine and prints one decision per line. Every host (this CLI natively and through
//! the component, the Node addon, wasm-bindgen in Node and in Chromium) decides the same file;
//! `tests/js/differential.mjs` compares the outputs byte for byte.

use std::io::{BufRead, BufWriter, Write};

use serde_json::{Value, json};
use stepup_core::{ActionKind, Policy, Request};

use crate::{EngineKind, Failure};

/// A small deterministic generator (SplitMix64): the same seed gives the same requests on
/// every machine, so a disagreement found in CI reproduces anywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0; a negligible bias is fine here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let len = u64::try_from(items.len()).ok()?;
        items.get(usize::try_from(self.below(len)).ok()?)
    }
    fn some<T: Clone>(&mut self, items: &[T], fallback: T) -> T {
        self.pick(items).cloned().unwrap_or(fallback)
    }
    fn subset(&mut self, items: &[&str]) -> Vec<Value> {
        items
            .iter()
            .filter(|_| self.chance(40))
            .map(|s| json!(s))
            .collect()
    }
}

const PACKAGES: [&str; 6] = [
    "left-pad",
    "@acme/x",
    "@acme/locked",
    "old-lib",
    "@other/y",
    "é-pkg",
];
const IPS: [&str; 6] = [
    "10.1.2.3",
    "192.0.2.1",
    "2001:db8::7",
    "203.0.113.9",
    "::ffff:10.9.9.9",
    "fe80::1",
];
const CIDRS: [&str; 5] = [
    "10.0.0.0/8",
    "2001:db8::/32",
    "203.0.113.0/24",
    "::ffff:10.0.0.0/104",
    "0.0.0.0/0",
];
/// Times across the rollout, brown-outs and cohorts of the 2022 timeline, and today.
const TIMES: [u64; 7] = [
    1_638_835_200,
    1_640_000_000,
    1_643_716_800,
    1_645_000_000,
    1_646_092_800,
    1_700_000_000,
    1_780_315_200,
];

/// One random request document; about 3 % are made invalid on purpose, so the error documents
/// are compared across hosts too.
fn request(rng: &mut Rng, n: u64) -> Value {
    let now = rng.some(&TIMES, 1_780_315_200) + rng.below(86_400);
    let kind = rng.some(ActionKind::ALL, ActionKind::PackageRead);
    let mut action = json!({ "kind": kind.as_str() });
    let package = rng.some(&PACKAGES, "left-pad");
    if rng.chance(80) {
        set(&mut action, "package", json!(package));
    }
    if rng.chance(30) {
        set(
            &mut action,
            "tag",
            json!(rng.some(&["latest", "beta", "next"], "latest")),
        );
    }
    if rng.chance(15) {
        set(&mut action, "org", json!("acme"));
    }
    let mut account =
        json!({ "id": format!("user-{}", rng.below(5_000)), "publisher": rng.chance(60) });
    if rng.chance(70) {
        let mode = rng.some(&["disabled", "auth-only", "auth-and-writes"], "auth-only");
        set(
            &mut account,
            "tfa",
            json!({ "mode": mode, "factors": rng.subset(&["totp", "webauthn", "recovery-code"]) }),
        );
    }
    if rng.chance(40) {
        set(
            &mut account,
            "impact",
            json!({
                "weekly_downloads": rng.below(3_000_000),
                "dependents": rng.below(2_000),
                "dependents_rank": 1 + rng.below(1_000),
            }),
        );
    }
    if rng.chance(10) {
        set(
            &mut account,
            "safeguard_until",
            json!(now + rng.below(7_200) - 3_600),
        );
    }
    let credential = credential(rng, now);
    let mut r =
        json!({ "now": now, "action": action, "account": account, "credential": credential });
    if rng.chance(70) {
        set(
            &mut r,
            "client",
            json!({ "ip": rng.some(&IPS, "10.1.2.3") }),
        );
    }
    if rng.chance(60) {
        let mut p = json!({ "name": package });
        if rng.chance(80) {
            set(
                &mut p,
                "publishing_access",
                json!(rng.some(&["none", "tfa-or-token", "tfa-no-tokens"], "none")),
            );
        }
        if rng.chance(30) {
            set(&mut p, "weekly_downloads", json!(rng.below(3_000_000)));
            set(&mut p, "dependents_rank", json!(1 + rng.below(1_000)));
        }
        set(&mut r, "package", p);
    }
    if rng.chance(40) {
        set(
            &mut r,
            "orgs",
            json!([{ "name": "acme", "enforce_tfa": rng.chance(50) }]),
        );
    }
    if rng.chance(40) {
        let factor = rng.some(&["totp", "webauthn", "recovery-code", "email-otp"], "totp");
        set(
            &mut r,
            "proofs",
            json!([{ "factor": factor, "verified_at": now + 30 - rng.below(700) }]),
        );
    }
    if rng.chance(40) {
        let count = rng.below(25);
        let account_failures: Vec<u64> = (0..count).map(|_| now - rng.below(90_000)).collect();
        let ip_failures: Vec<u64> = (0..rng.below(12)).map(|_| now - rng.below(4_000)).collect();
        set(
            &mut r,
            "failures",
            json!({ "account": account_failures, "ip": ip_failures }),
        );
    }
    if n % 33 == 7 {
        spoil(rng, &mut r);
    }
    r
}

fn credential(rng: &mut Rng, now: u64) -> Value {
    let expiry = |rng: &mut Rng| now + rng.below(200_000) - 100;
    match rng.below(5) {
        0 => json!({ "kind": "session" }),
        1 => json!({ "kind": "basic" }),
        2 => {
            let mut c = json!({ "kind": "legacy-token", "type": rng.some(&["publish", "read-only", "automation"], "publish") });
            if rng.chance(30) {
                set(
                    &mut c,
                    "cidr_whitelist",
                    json!([rng.some(&CIDRS, "10.0.0.0/8")]),
                );
            }
            c
        }
        3 => {
            let permission = rng.some(&["no-access", "read-only", "read-write"], "read-write");
            let mut c = json!({
                "kind": "granular-token",
                "bypass_2fa": rng.chance(50),
                "packages": {
                    "all": rng.chance(20),
                    "names": rng.subset(&PACKAGES),
                    "scopes": rng.subset(&["@acme", "@other"]),
                    "permission": permission,
                },
                "orgs": { "names": rng.subset(&["acme", "other"]), "permission": permission },
            });
            if rng.chance(80) {
                set(&mut c, "expires_at", json!(expiry(rng)));
            }
            if rng.chance(30) {
                set(&mut c, "cidr_whitelist", json!(rng.subset(&CIDRS)));
            }
            c
        }
        _ => json!({
            "kind": "oidc",
            "package": rng.some(&PACKAGES, "left-pad"),
            "permissions": rng.subset(&["createPackage", "createStagedPackage"]),
            "expires_at": expiry(rng),
        }),
    }
}

/// Sets `key` of an object (the documents built here are objects).
fn set(v: &mut Value, key: &str, x: Value) {
    if let Some(m) = v.as_object_mut() {
        m.insert(key.to_owned(), x);
    }
}

/// Makes a request invalid in one of the ways callers get wrong.
fn spoil(rng: &mut Rng, r: &mut Value) {
    match rng.below(6) {
        0 => set(r, "now", json!("yesterday")),
        1 => set(r, "surprise", json!(true)),
        2 => {
            if let Some(a) = r.get_mut("action") {
                set(a, "kind", json!("package.steal"));
            }
        }
        3 => set(r, "credential", json!({ "kind": "legacy-token" })),
        4 => set(r, "client", json!({ "ip": "300.1.1.1" })),
        _ => set(r, "now", json!(9_007_199_254_740_992u64)),
    }
}

/// Writes `count` requests, one JSON document per line.
pub fn generate(count: u64, seed: u64) -> Result<(), Failure> {
    let mut rng = Rng(seed);
    let out = std::io::stdout();
    let mut w = BufWriter::new(out.lock());
    for n in 0..count {
        writeln!(w, "{}", request(&mut rng, n)).map_err(|e| Failure::Io(e.to_string()))?;
    }
    w.flush().map_err(|e| Failure::Io(e.to_string()))
}

/// Gives every line of `file` to the JSON entry point `function` with `engine` (default
/// configuration) and prints the answers, one per line (the classifier's differential run).
pub fn call(engine: EngineKind, function: &str, file: &str) -> Result<(), Failure> {
    answer_lines(engine, file, |native, component, line| match component {
        None => Ok(stepup_core::wire::ffi::call_json(native, function, line)),
        Some(c) => stepup_wasmtime::document(c.call_json(function, line))
            .map_err(|e| Failure::Io(e.to_string())),
    })
}

/// Answers every line of `file` with `answer` (given the native policy and, for the
/// component engine, the component's) and prints the answers, one per line.
fn answer_lines(
    engine: EngineKind,
    file: &str,
    mut answer: impl FnMut(
        &Policy,
        Option<&mut stepup_wasmtime::ComponentPolicy>,
        &str,
    ) -> Result<String, Failure>,
) -> Result<(), Failure> {
    let f = std::fs::File::open(file).map_err(|e| Failure::Io(format!("{file}: {e}")))?;
    let out = std::io::stdout();
    let mut w = BufWriter::new(out.lock());
    let native = Policy::default();
    let mut component = match engine {
        EngineKind::Native => None,
        EngineKind::Component => Some(crate::engine::component_policy("{}")?),
    };
    for line in std::io::BufReader::new(f).lines() {
        let line = line.map_err(|e| Failure::Io(format!("{file}: {e}")))?;
        let text = answer(&native, component.as_mut(), &line)?;
        writeln!(w, "{text}").map_err(|e| Failure::Io(e.to_string()))?;
    }
    w.flush().map_err(|e| Failure::Io(e.to_string()))
}

/// Decides every line of `file` with `engine` (default configuration) and prints the
/// decisions, one per line. The component decides through its JSON entry point, and through
/// its typed one when the line parses; a typed answer that differs is a failure.
pub fn decide(engine: EngineKind, file: &str) -> Result<(), Failure> {
    let mut typed_mismatches = 0u64;
    answer_lines(engine, file, |native, component, line| match component {
        None => Ok(native.evaluate_json(line)),
        Some(c) => {
            let text = stepup_wasmtime::document(c.evaluate_json(line))
                .map_err(|e| Failure::Io(e.to_string()))?;
            if let Ok(req) = Request::parse(line) {
                let typed = c.evaluate(&req).map_err(|e| Failure::Io(e.to_string()))?;
                if typed.to_json() != text {
                    typed_mismatches += 1;
                    eprintln!("typed and JSON entry points differ for: {line}");
                }
            }
            Ok(text)
        }
    })?;
    if typed_mismatches > 0 {
        return Err(Failure::Input(format!(
            "{typed_mismatches} typed/JSON mismatches in the component"
        )));
    }
    Ok(())
}
