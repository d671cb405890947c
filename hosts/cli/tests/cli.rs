//! Drives the real `stepup` binary: exit codes, error paths, the conformance report, enrolment.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed setup should fail the test loudly"
)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stepup(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stepup"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmp(name: &str, body: &str) -> String {
    let dir = std::env::temp_dir().join(format!("stepup-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn decide_prints_the_decision() {
    let out = stepup(&["decide", "examples/requests/01-publish-needs-otp.json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a challenge: {}",
        text(&out.stderr)
    );
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["reason"], "otp-required");
    assert_eq!(d["npm"]["status"], 401);
    assert_eq!(d["npm"]["www_authenticate"], "OTP");
}

#[test]
fn decide_under_another_config_changes_the_answer() {
    let out = stepup(&[
        "decide",
        "--config",
        "examples/npmjs-2022.config.json",
        "examples/requests/05-no-2fa-publish.json",
    ]);
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        d["reason"], "allowed",
        "2022 has no publish floor and packages default to access none"
    );
}

#[test]
fn bad_request_is_an_error_document_and_exit_2() {
    let f = tmp(
        "bad.json",
        r#"{"now":1,"action":{"kind":"login"},"account":{"id":"a"},"credential":{"kind":"granular-token","expires_at":"tomorrow"}}"#,
    );
    let out = stepup(&["decide", &f]);
    assert_eq!(out.status.code(), Some(2));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["outcome"], "error");
    assert_eq!(d["error"]["path"], "credential.expires_at");
    assert!(
        d["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expected unix seconds")
    );
    assert_eq!(d["npm"]["status"], 400);
}

/// Exit codes a script can branch on: 0 allow, 3 challenge, 4 deny, 2 invalid input, the
/// strictest of several inputs winning.
#[test]
fn decide_exit_codes_say_the_outcome() {
    let ex = |n: &str| format!("examples/requests/{n}.json");
    for (file, code) in [
        ("02-publish-with-fresh-proof", 0),
        ("01-publish-needs-otp", 3),
        ("10-token-outside-cidr", 4),
    ] {
        let out = stepup(&["decide", &ex(file)]);
        assert_eq!(out.status.code(), Some(code), "{file}");
    }
    let both = stepup(&[
        "decide",
        &ex("01-publish-needs-otp"),
        &ex("02-publish-with-fresh-proof"),
    ]);
    assert_eq!(both.status.code(), Some(3));
    assert_eq!(text(&both.stdout).lines().count(), 2);
    let all = stepup(&[
        "decide",
        &ex("10-token-outside-cidr"),
        &ex("01-publish-needs-otp"),
    ]);
    assert_eq!(all.status.code(), Some(4));
}

/// `-` reads standard input, `--lines` decides NDJSON line by line (one decision per line, a
/// broken line named by its line and column), and a document without `now` is decided at
/// `--now` (or the clock), never refused for it.
#[test]
fn decide_reads_ndjson_from_stdin_and_defaults_now() {
    use std::io::Write;
    let login = r#"{"action":{"kind":"login"},"account":{"id":"a","tfa":{"mode":"auth-and-writes","factors":["totp"]}},"credential":{"kind":"basic"}}"#;
    let input = format!("{login}\n\n{{\"now\": 1, oops}}\n{login}\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepup"))
        .args(["decide", "--lines", "--now", "1700000000", "-"])
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "the broken line is invalid");
    let decisions: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(decisions.len(), 3, "one per non-empty line");
    assert_eq!(decisions[0]["outcome"], "challenge", "{}", decisions[0]);
    assert_eq!(decisions[1]["outcome"], "error");
    assert_eq!(decisions[2], decisions[0]);
    assert!(
        text(&out.stderr).contains("-:3:12: key must be a string"),
        "{}",
        text(&out.stderr)
    );
    // Without --now, the clock: still decided, not "missing field now".
    let f = tmp("nonow.json", login);
    let out = stepup(&["decide", &f]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
}

#[test]
fn malformed_json_and_missing_files_do_not_panic() {
    let f = tmp("trunc.json", "{\"now\": 1,\n  \"action\":");
    let out = stepup(&["decide", &f]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("panicked"));
    assert!(
        text(&out.stderr).contains("trunc.json:2:11: EOF while parsing a value"),
        "{}",
        text(&out.stderr)
    );
    let out = stepup(&["decide", "/nonexistent/request.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read"));
}

#[test]
fn config_check_names_the_field() {
    let f = tmp(
        "cfg.json",
        r#"{"preset":"npmjs-2026","throttle":{"account":[{"limit":5,"window_seconds":300},{"limit":0,"window_seconds":60}]}}"#,
    );
    let out = stepup(&["config", "check", &f]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("throttle.account[1].limit"),
        "{}",
        text(&out.stderr)
    );
    let out = stepup(&["config", "check", "examples/strict.config.toml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("npmjs-2026"));
    // --json: one document either way, the exit code still telling.
    let out = stepup(&["config", "check", "--json", "examples/strict.config.toml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["preset"], "npmjs-2026");
    let out = stepup(&["config", "check", "--json", &f]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("throttle.account[1].limit"),
        "{v}"
    );
    let t = tmp("cfg.toml", "preset = \"npmjs-2026\"\n[totp]\ndigits = 12\n");
    let out = stepup(&["config", "check", &t]);
    assert!(
        text(&out.stderr).contains("totp.digits"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn conformance_reports_expected_vs_got_and_fails() {
    let f = tmp(
        "vec.json",
        r#"[{"name":"right","request":{"now":1,"action":{"kind":"package.read"},"account":{"id":"a"},"credential":{"kind":"session"}},"expect":{"outcome":"allow"}},
            {"name":"wrong on purpose","request":{"now":1,"action":{"kind":"package.read"},"account":{"id":"a"},"credential":{"kind":"session"}},"expect":{"outcome":"deny","reason":"throttled"}}]"#,
    );
    let out = stepup(&["conformance", &f]);
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out.stdout);
    assert!(s.contains("FAIL") && s.contains("wrong on purpose"), "{s}");
    assert!(
        s.contains(r#"outcome: expected "deny", got "allow""#),
        "{s}"
    );
    assert!(s.trim_end().ends_with("1 passed, 1 failed"), "{s}");
}

#[test]
fn conformance_rejects_unknown_expect_keys() {
    let f = tmp(
        "typo.json",
        r#"[{"name":"typo","request":{"now":1,"action":{"kind":"package.read"},"account":{"id":"a"},"credential":{"kind":"session"}},"expect":{"outcom":"allow"}}]"#,
    );
    let out = stepup(&["conformance", &f]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("unknown expect key"));
}

#[test]
fn enrolment_codes_verify_through_the_engine() {
    let out = stepup(&[
        "totp",
        "enroll",
        "--account",
        "alice@example.com",
        "--issuer",
        "Acme Registry",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let secret = e["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160-bit secret is 32 base32 characters");
    assert!(
        e["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Acme%20Registry:alice%40example.com?secret=")
    );
    assert!(e["qr_svg"].as_str().unwrap().starts_with("<svg"));
    assert_eq!(e["recovery_codes"].as_array().unwrap().len(), 10);
    assert_eq!(e["recovery_records"].as_array().unwrap().len(), 10);

    // The printed code for that secret is accepted by authorize; a recovery code burns.
    let at = "1780315200";
    let code = text(&stepup(&["totp", "code", "--secret", secret, "--at", at]).stdout)
        .trim()
        .to_owned();
    let rc = e["recovery_codes"][4].as_str().unwrap();
    let doc = |present: serde_json::Value| {
        serde_json::json!({
            "request": {"now": 1780315200u64, "action": {"kind": "token.create"}, "account": {"id": "alice", "tfa": {"mode": "auth-only", "factors": ["totp"]}}, "credential": {"kind": "session"}},
            "secrets": {"totp_secret": secret, "recovery_codes": e["recovery_records"]},
            "present": present,
        })
        .to_string()
    };
    let d: serde_json::Value = serde_json::from_slice(
        &stepup(&[
            "decide",
            &tmp("a1.json", &doc(serde_json::json!({"code": code}))),
        ])
        .stdout,
    )
    .unwrap();
    assert_eq!(d["reason"], "allowed-with-proof", "{d}");
    assert_eq!(d["effects"][0]["kind"], "consume-totp-step");
    let d: serde_json::Value = serde_json::from_slice(
        &stepup(&[
            "decide",
            &tmp("a2.json", &doc(serde_json::json!({"code": rc}))),
        ])
        .stdout,
    )
    .unwrap();
    assert_eq!(
        d["effects"][0],
        serde_json::json!({"kind": "burn-recovery-code", "index": 4})
    );
}

#[test]
fn terminal_enrolment_draws_a_qr_code() {
    let out = stepup(&["totp", "enroll", "--account", "bob"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(s.contains('▀') || s.contains('▄'));
    assert!(s.contains("otpauth://totp/stepup:bob?secret="));
    assert_eq!(s.lines().filter(|l| l.starts_with('\t')).count(), 10);
}

#[test]
fn schemas_are_printable_json() {
    for which in ["config", "request"] {
        let out = stepup(&["schema", which]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["type"], "object");
    }
}

#[test]
fn org_plan_and_audit() {
    let f = tmp(
        "org.json",
        r#"{"org":"acme","actor":"olga","members":[{"id":"olga","role":"owner","tfa":{"mode":"auth-and-writes","factors":["webauthn"]}},{"id":"ned","tfa":null,"impact":{"dependents":800}},{"id":"tia","tfa":{"mode":"auth-only","factors":["totp"]}}]}"#,
    );
    let plan: serde_json::Value =
        serde_json::from_slice(&stepup(&["org", "plan", &f]).stdout).unwrap();
    assert_eq!(plan["allowed"], true);
    assert_eq!(plan["remove"], serde_json::json!(["ned"]));
    let a = tmp("audit.json", &serde_json::json!({"members": serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&f).unwrap()).unwrap()["members"]}).to_string());
    let audit: serde_json::Value =
        serde_json::from_slice(&stepup(&["org", "audit", &a]).stdout).unwrap();
    assert_eq!(audit["adoption_basis_points"], 6666);
    assert_eq!(audit["webauthn"], 1);
    assert_eq!(audit["totp_only"], 1);
    assert_eq!(audit["high_impact_missing"], serde_json::json!(["ned"]));
}

#[test]
fn component_engine_decides_like_native() {
    for f in [
        "examples/requests/01-publish-needs-otp.json",
        "examples/requests/11-authorize-totp.json",
        "examples/requests/08-throttled.json",
    ] {
        let native = stepup(&["decide", f]);
        let component = stepup(&["decide", "--engine", "component", f]);
        assert_eq!(component.status.code(), native.status.code(), "{f}");
        assert_eq!(text(&native.stdout), text(&component.stdout), "{f}");
    }
    let bad = tmp("bad-c.json", r#"{"now":"x"}"#);
    let out = stepup(&["decide", "--engine", "component", &bad]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), text(&stepup(&["decide", &bad]).stdout));
}

#[test]
fn rollout_simulate_writes_csv_and_a_self_contained_report() {
    let dir = std::env::temp_dir().join(format!("stepup-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("rollout.html");
    let out = stepup(&[
        "rollout",
        "simulate",
        "--config",
        "examples/npmjs-2022.config.json",
        "--population",
        "examples/population.json",
        "--from",
        "2022-01-01",
        "--to",
        "2022-12-31",
        "--enforce",
        "acme=2022-06-01",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 366);
    assert_eq!(rows[0][0], "date");
    let col = |name: &str| rows[0].iter().position(|c| *c == name).unwrap();
    let on = |date: &str, name: &str| -> u64 {
        rows.iter().find(|r| r[0] == date).unwrap()[col(name)]
            .parse()
            .unwrap()
    };
    // npm's 2022 timeline: the top-100 cohort from February 1.
    assert_eq!(on("2022-01-31", "blocked_cohort"), 0);
    assert!(on("2022-02-01", "blocked_cohort") > 0);
    // The tried enforcement: dee (acme, no 2FA, no dependents) is blocked from June 1.
    assert_eq!(on("2022-05-31", "blocked_org"), 0);
    assert_eq!(on("2022-06-01", "blocked_org"), 1);
    let report = std::fs::read_to_string(&html).unwrap();
    assert!(report.contains("<svg xmlns"));
    assert!(
        !report.contains("<script") && !report.contains("src="),
        "self-contained"
    );
    assert!(report.contains("<td>dee</td><td>2022-06-01</td><td>org</td>"));
    assert!(text(&out.stderr).contains("14 accounts"));

    // Bad input is named: the population's field, the flag, the org.
    let bad = tmp(
        "bad-population.json",
        r#"{"accounts":[{"id":"a"}],"packages":[{"name":"p","maintainers":["zed"]}]}"#,
    );
    let out = stepup(&[
        "rollout",
        "simulate",
        "--population",
        &bad,
        "--from",
        "2022-01-01",
        "--to",
        "2022-01-02",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("population.packages[0].maintainers[0]"),
        "{}",
        text(&out.stderr)
    );
    let out = stepup(&[
        "rollout",
        "simulate",
        "--population",
        "examples/population.json",
        "--from",
        "2022-13-01",
        "--to",
        "2022-01-02",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--from 2022-13-01"));
    let out = stepup(&[
        "rollout",
        "simulate",
        "--population",
        "examples/population.json",
        "--from",
        "2022-01-01",
        "--to",
        "2022-01-02",
        "--enforce",
        "nope=2022-01-01",
    ]);
    assert!(text(&out.stderr).contains("no org `nope`"));
    // A store that is not there is an error, never an empty registry.
    let missing = dir.join("missing.sqlite3");
    let out = stepup(&[
        "rollout",
        "simulate",
        "--db",
        missing.to_str().unwrap(),
        "--from",
        "2022-01-01",
        "--to",
        "2022-01-02",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no such store"),
        "{}",
        text(&out.stderr)
    );
    assert!(!missing.exists());
}

/// Completion scripts for the shells people use, naming the subcommands.
#[test]
fn completions_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = stepup(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for sub in ["decide", "conformance", "serve", "rollout"] {
            assert!(script.contains(sub), "{shell} script lacks {sub}");
        }
    }
    assert_eq!(stepup(&["completions", "tcsh"]).status.code(), Some(2));
}

/// Every serve flag is also an environment variable, the flag winning; `--print-config` shows
/// the resolved settings with the database password and the environment's secrets masked.
#[test]
fn serve_reads_the_environment_and_prints_its_settings_masked() {
    let out = Command::new(env!("CARGO_BIN_EXE_stepup"))
        .args(["serve", "--print-config", "--issuer", "FromFlag"])
        .env("STEPUP_LISTEN", "127.0.0.1:9999")
        .env("STEPUP_ISSUER", "FromEnv")
        .env("STEPUP_TRUSTED_PROXIES", "10.0.0.0/8,192.168.0.0/16")
        .env(
            "STEPUP_DATABASE_URL",
            "postgres://bob:hunter2@db.internal/stepup",
        )
        .env("STEPUP_SECRET_KEY", "0123456789abcdef")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let all = text(&out.stdout);
    assert!(
        !all.contains("hunter2") && !all.contains("0123456789abcdef"),
        "{all}"
    );
    let v: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert_eq!(v["listen"], "127.0.0.1:9999");
    assert_eq!(v["issuer"], "FromFlag");
    assert_eq!(
        v["trusted_proxies"],
        serde_json::json!(["10.0.0.0/8", "192.168.0.0/16"])
    );
    assert_eq!(v["database_url"], "postgres://bob:***@db.internal/stepup");
    assert_eq!(v["STEPUP_SECRET_KEY"], "set (hidden)");
}

/// Logs written to a file or a pipe carry no terminal colour codes.
#[test]
fn serve_logs_plain_text_when_not_a_terminal() {
    use std::io::{BufRead, BufReader};
    let dir = std::env::temp_dir().join(format!("stepup-cli-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepup"))
        .args([
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--instances",
            "1",
        ])
        .arg("--db")
        .arg(dir.join("db.sqlite3"))
        .env("STEPUP_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let serving = line.contains("stepup serving");
        seen.push(line);
        if serving {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen.iter().any(|l| l.contains("stepup serving")),
        "{seen:?}"
    );
    assert!(seen.iter().all(|l| !l.contains('\u{1b}')), "{seen:?}");
}

/// `serve --precompile` (what the container image runs at build time) writes the compiled
/// component into the cache folder and exits without a store, a key or a listener.
#[test]
fn serve_precompile_writes_the_compiled_component_and_exits() {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("precompile-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let out = Command::new(env!("CARGO_BIN_EXE_stepup"))
        .args(["serve", "--precompile", "--cache-dir"])
        .arg(&cache)
        .env_remove("STEPUP_SECRET_KEY")
        .env_remove("STEPUP_DATABASE_URL")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), cache.display().to_string());
    let compiled: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cwasm"))
        .collect();
    assert_eq!(compiled.len(), 1, "{compiled:?}");
}

/// `serve --settings FILE` (TOML, keyed by flag name) fills in what the command line and the
/// environment leave unset; both win over it; an unknown key or a bad value is refused naming it.
#[test]
fn serve_settings_file_fills_what_flags_and_environment_leave() {
    let file = tmp(
        "settings.toml",
        "listen = \"127.0.0.1:9999\"\nupstream = \"http://127.0.0.1:4873\"\ntrusted-proxies = [\"10.0.0.0/8\", \"192.168.0.0/16\"]\ninit_store = true\nupstream-timeout = 30\ndrain-timeout = 7\n",
    );
    let serve = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stepup"));
        c.args(["serve", "--settings", &file, "--print-config"])
            .args(args)
            .env_remove("STEPUP_LISTEN")
            .env_remove("STEPUP_UPSTREAM_TIMEOUT");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = serve(&[], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["listen"], "127.0.0.1:9999");
    assert_eq!(v["upstream"], "http://127.0.0.1:4873");
    assert_eq!(
        v["trusted_proxies"],
        serde_json::json!(["10.0.0.0/8", "192.168.0.0/16"])
    );
    assert_eq!(v["init_store"], true);
    assert_eq!(v["upstream_timeout"], 30);
    // The environment, then the command line, win over the file.
    let out = serve(
        &["--upstream-timeout", "5"],
        &[("STEPUP_LISTEN", "127.0.0.1:7777")],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["listen"], "127.0.0.1:7777");
    assert_eq!(v["upstream_timeout"], 5);
    assert_eq!(v["drain_timeout"], 7);
    for (line, want) in [
        ("bogus = 1", "`bogus` is not a setting of stepup serve"),
        ("dev = \"yes\"", "`dev`: expected true or false"),
        (
            "instances = \"many\"",
            "invalid value 'many' for '--instances",
        ),
        ("listen = [", "TOML parse error"),
    ] {
        let bad = tmp("bad-settings.toml", line);
        let out = Command::new(env!("CARGO_BIN_EXE_stepup"))
            .args(["serve", "--settings", &bad, "--print-config"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{line}");
        let err = text(&out.stderr);
        assert!(
            err.contains(want) && err.contains("bad-settings.toml"),
            "{line}: {err}"
        );
    }
}
