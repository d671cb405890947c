//! The rollout simulator: its figures on a population built so each mandate fires on a known
//! day, and every figure of sampled days recounted from `evaluate` through the JSON entry point
//! with requests this test builds itself.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers: a failed setup should fail the test loudly"
)]

use serde_json::{Value, json};
use stepup_core::Policy;
use stepup_core::contract::time::parse_date;
use stepup_core::simulation::{Block, SimulationInput, simulate};
use stepup_core::wire::ffi;

fn policy() -> Policy {
    Policy::from_json(
        &json!({
            "preset": "npmjs-2022",
            "publish_floor": false,
            "default_publishing_access": "none",
            "high_impact": {"weekly_downloads_over": 1000000, "dependents_at_least": 500},
            "cohorts": [
                {"name": "top-100", "from": "2027-02-01", "dependents_rank_at_most": 100},
                {"name": "high-impact", "from": "2027-03-01", "high_impact": true}
            ],
            "login_verification": {
                "salt": "simulation-test",
                "stages": [{"population": "all", "start": "2027-01-10", "end": "2027-01-20"}],
                "brown_outs": []
            }
        })
        .to_string(),
    )
    .unwrap()
}

/// 240 accounts: every third has 2FA; most maintain a package; a few packages are widely
/// depended upon or downloaded; some accounts belong to an org that enforces 2FA from March 15.
fn population() -> Value {
    let mut accounts = Vec::new();
    let mut packages = Vec::new();
    for i in 0..240u64 {
        let id = format!("user{i}");
        let tfa = (i % 3 == 0).then(|| json!({"mode": "auth-and-writes", "factors": ["totp"]}));
        let orgs: Vec<&str> = if i % 7 == 0 { vec!["acme"] } else { vec![] };
        accounts.push(json!({"id": id, "tfa": tfa, "orgs": orgs}));
        if i % 4 != 3 {
            let mut maintainers = vec![id.clone()];
            if i % 10 == 0 {
                maintainers.push(format!("user{}", (i + 3) % 240));
            }
            let dependents = if i < 12 { 1000 - i } else { i % 50 };
            let downloads = if i % 17 == 0 { 5_000_000 } else { i * 100 };
            let access = if i % 23 == 0 {
                json!("tfa-or-token")
            } else {
                Value::Null
            };
            packages.push(json!({
                "name": format!("pkg-{i}"),
                "maintainers": maintainers,
                "weekly_downloads": downloads,
                "dependents": dependents,
                "publishing_access": access,
            }));
        }
    }
    json!({
        "accounts": accounts,
        "packages": packages,
        "orgs": [{"name": "acme", "enforce_from": "2027-03-15"}],
    })
}

fn run(from: &str, to: &str) -> stepup_core::simulation::Simulation {
    let input = json!({"population": population(), "from": from, "to": to}).to_string();
    simulate(&policy(), &SimulationInput::parse(&input, false).unwrap()).unwrap()
}

/// One day's figures from requests built here and decided by `evaluate` as JSON.
fn recount(policy: &Policy, pop: &Value, now: u64) -> [u64; 8] {
    let packages = pop["packages"].as_array().unwrap();
    let mut facts = json!({"imported": {}, "maintainers": {}});
    for p in packages {
        let name = p["name"].as_str().unwrap();
        facts["imported"][name] =
            json!({"weekly_downloads": p["weekly_downloads"], "dependents": p["dependents"]});
        facts["maintainers"][name] = p["maintainers"].clone();
    }
    let index: Value =
        serde_json::from_str(&ffi::call(policy, "impact-index", &facts.to_string()).unwrap())
            .unwrap();
    let enforcing = now >= parse_date("2027-03-15").unwrap();
    let decide = |doc: Value| -> Value {
        serde_json::from_str(&ffi::call(policy, "evaluate", &doc.to_string()).unwrap()).unwrap()
    };
    let mut figures = [0u64; 8];
    let mut able = vec![false; packages.len()];
    for a in pop["accounts"].as_array().unwrap() {
        let id = a["id"].as_str().unwrap();
        let orgs: Vec<Value> = a["orgs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| json!({"name": o, "enforce_tfa": enforcing}))
            .collect();
        let mine: Vec<usize> = (0..packages.len())
            .filter(|k| {
                packages[*k]["maintainers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m == id)
            })
            .collect();
        let account = |impact: Option<&Value>| {
            let mut acc = json!({"id": id, "tfa": a["tfa"], "publisher": !mine.is_empty()});
            if let Some(f) = impact {
                acc["impact"] = f.clone();
            }
            acc
        };
        let impact = index["accounts"].get(id);
        let login = decide(json!({"now": now, "action": {"kind": "login"},
            "account": account(impact), "credential": {"kind": "basic"}, "orgs": orgs}));
        let mut challenged = login["outcome"] == "challenge";
        if login["reason"] == "login-verification-required" {
            figures[0] += 1;
        }
        let mut worst: Option<Block> = None;
        for &k in &mine {
            let p = &packages[k];
            let name = p["name"].as_str().unwrap();
            let f = &index["packages"][name];
            let d = decide(json!({"now": now,
                "action": {"kind": "package.publish", "package": name, "tag": "latest"},
                "account": account(impact), "credential": {"kind": "session"}, "orgs": orgs,
                "package": {"name": name, "publishing_access": p["publishing_access"],
                    "weekly_downloads": f["weekly_downloads"], "dependents": f["dependents"],
                    "dependents_rank": f["dependents_rank"]}}));
            if d["outcome"] == "deny" {
                let why = match (d["reason"].as_str().unwrap(), d["rule"].as_str().unwrap()) {
                    ("tfa-enforced", "mandatory-2fa.org") => Block::Org,
                    ("tfa-enforced", _) => Block::Cohort,
                    ("tfa-required-to-publish", _) => Block::Floor,
                    ("package-requires-tfa", _) => Block::Package,
                    _ => Block::Other,
                };
                worst = Some(worst.map_or(why, |w| w.min(why)));
            } else {
                able[k] = true;
                challenged |= d["outcome"] == "challenge";
            }
        }
        figures[1] += u64::from(challenged);
        if let Some(w) = worst {
            figures[2 + w as usize] += 1;
        }
    }
    figures[7] = (0..packages.len()).filter(|k| !able[*k]).count() as u64;
    figures
}

#[test]
fn sampled_days_match_evaluate_request_by_request() {
    let sim = run("2027-01-01", "2027-04-30");
    let policy = policy();
    let pop = population();
    // Before, inside and after the ramp; each cohort's first day; the org's; the last day.
    for date in [
        "2027-01-01",
        "2027-01-14",
        "2027-01-25",
        "2027-02-01",
        "2027-03-01",
        "2027-03-14",
        "2027-03-15",
        "2027-04-30",
    ] {
        let day = sim.days.iter().find(|d| d.date == date).unwrap();
        let got = [
            day.enrolled,
            day.challenged,
            day.blocked_cohort,
            day.blocked_org,
            day.blocked_floor,
            day.blocked_package,
            day.blocked_other,
            day.orphaned_packages,
        ];
        assert_eq!(got, recount(&policy, &pop, day.now), "{date}");
    }
}

#[test]
fn each_mandate_fires_on_its_day() {
    let sim = run("2027-01-01", "2027-04-30");
    let day = |date: &str| sim.days.iter().find(|d| d.date == date).unwrap();
    assert_eq!(sim.days.len(), 120);
    assert_eq!((sim.accounts, sim.with_tfa, sim.packages), (240, 80, 180));

    // The ramp enrols nobody before it starts and every account without 2FA once it ends.
    assert_eq!(day("2027-01-09").enrolled, 0);
    let mid = day("2027-01-15").enrolled;
    assert!(mid > 20 && mid < 140, "half way through the ramp: {mid}");
    assert_eq!(day("2027-01-20").enrolled, 160);
    let ramp: Vec<u64> = sim.days.iter().take(25).map(|d| d.enrolled).collect();
    assert!(ramp.windows(2).all(|w| w[0] <= w[1]), "{ramp:?}");

    // Nobody is blocked by a cohort before February; the top-100 cohort from its date, then
    // the high-impact one adds those over the download threshold.
    assert_eq!(day("2027-01-31").blocked_cohort, 0);
    let feb = day("2027-02-01");
    assert!(feb.blocked_cohort > 0);
    assert_eq!(feb.cohorts.get("top-100"), Some(&feb.blocked_cohort));
    let mar = day("2027-03-01");
    assert!(mar.blocked_cohort > feb.blocked_cohort);
    assert!(mar.cohorts.contains_key("high-impact"));

    // The org's enforcement from its date.
    assert_eq!(day("2027-03-14").blocked_org, 0);
    assert!(day("2027-03-15").blocked_org > 0);

    // Packages that require 2FA refuse their maintainers without it until a cohort, which
    // comes first in precedence, takes them over.
    assert!(sim.days.iter().take(31).all(|d| d.blocked_package > 0));
    assert!(
        sim.days
            .iter()
            .all(|d| d.blocked_package <= day("2027-01-01").blocked_package)
    );
    assert!(sim.days.iter().all(|d| d.blocked_other == 0));

    // First days are reported once per account and package, in date order.
    let first = |name: &str| sim.blocked.iter().find(|c| c.name == name);
    // user1: no 2FA, rank 2 by dependents → top-100 cohort from February 1.
    let u1 = first("user1").unwrap();
    assert_eq!(
        (u1.date.as_str(), u1.why, u1.rule.as_str()),
        ("2027-02-01", Block::Cohort, "mandatory-2fa.cohort.top-100")
    );
    assert!(first("user3").is_none(), "user3 has 2FA");
    let orphan = sim.orphaned.iter().find(|c| c.name == "pkg-1").unwrap();
    assert_eq!(orphan.date, "2027-02-01");
    // pkg-0 is kept by user0 (2FA) and user3 (2FA): never orphaned.
    assert!(sim.orphaned.iter().all(|c| c.name != "pkg-0"));
    let dates: Vec<&str> = sim.blocked.iter().map(|c| c.date.as_str()).collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(
        sim.days.last().unwrap().orphaned_packages,
        sim.orphaned.len() as u64
    );
}

#[test]
fn renderings_carry_every_day() {
    let sim = run("2027-01-01", "2027-01-31");
    let csv = stepup_core::simulation::report::csv(&sim);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 32);
    assert!(lines[0].starts_with("date,enrolled,challenged,blocked,"));
    assert!(lines[20].starts_with("2027-01-20,160,"), "{}", lines[20]);
    let svg = stepup_core::simulation::report::svg(&sim);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_eq!(svg.matches("<polyline").count(), 7);
    assert!(
        !svg.contains("http://") || svg.matches("http://").count() == 1,
        "only the namespace"
    );
    let html = stepup_core::simulation::report::html(&sim, "<title> & test");
    assert!(html.contains("&lt;title&gt; &amp; test"));
    assert!(!html.contains("<script"));
    assert!(html.contains("<td>2027-01-20</td><td>160</td>"));
}

#[test]
fn bad_input_is_named_by_its_path() {
    let policy = policy();
    let call = |doc: Value| ffi::call(&policy, "rollout-simulate", &doc.to_string()).unwrap_err();
    let e = call(
        json!({"population": {"accounts": [{"id": "a"}], "packages": [{"name": "p", "maintainers": ["b"]}]}, "from": "2027-01-01", "to": "2027-01-02"}),
    );
    assert_eq!(e.path, "population.packages[0].maintainers[0]");
    assert!(
        e.message.contains("`b` is not in population.accounts"),
        "{}",
        e.message
    );
    let e = call(
        json!({"population": {"accounts": [{"id": "a", "orgs": ["x"]}]}, "from": "2027-01-01", "to": "2027-01-02"}),
    );
    assert_eq!(e.path, "population.accounts[0].orgs[0]");
    let e = call(json!({"population": {}, "from": "2027-01-02", "to": "2027-01-01"}));
    assert_eq!(e.path, "to");
    let e = call(json!({"population": {}, "from": "2027-01-01", "to": "2047-01-01"}));
    assert!(e.message.contains("at most 3660"), "{}", e.message);
    let e = call(
        json!({"population": {"accounts": [{"id": "a", "tfa": {"mode": "sometimes"}}]}, "from": "2027-01-01", "to": "2027-01-01"}),
    );
    assert_eq!(e.path, "population.accounts[0].tfa.mode");
    let e = call(
        json!({"population": {}, "from": "2027-01-01", "to": "2027-01-01", "formats": ["pdf"]}),
    );
    assert_eq!(e.path, "formats[0]");
    let ok: Value = serde_json::from_str(
        &ffi::call(&policy, "rollout-simulate", &json!({"population": {}, "from": "2027-01-01", "to": "2027-01-03", "formats": ["csv", "svg"]}).to_string()).unwrap(),
    )
    .unwrap();
    assert_eq!(ok["days"].as_array().unwrap().len(), 3);
    assert_eq!(ok["csv"].as_str().unwrap().lines().count(), 4);
    assert!(ok["svg"].as_str().unwrap().starts_with("<svg"));
}
