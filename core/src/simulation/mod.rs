//! The rollout simulator: a policy replayed over a registry's population day by day, so an
//! operator sees before a date arrives how many accounts a mandate will challenge or block and
//! which packages would be left with nobody able to publish them.
//!
//! Every figure is a decision of [`Policy::evaluate`] on a request built for that day — an
//! interactive login (HTTP Basic, what `npm login` sends) and an interactive publish of each
//! package the account maintains (a session, `latest`) — so the simulator adds no rule of its
//! own and predicts what the hosts will answer. Impact comes from the population's figures
//! through the same index the hosts use ([`crate::registry::impact::index`]).

pub mod report;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::contract::action::ActionKind;
use crate::contract::decision::{Decision, Outcome, Reason};
use crate::contract::error::InputError;
use crate::contract::request::{
    Account, Action, Client, Credential, Failures, Org, Package, PublishingAccess, Request, Tfa,
    TfaMode,
};
use crate::contract::time::{ConfigDate, Count, Timestamp, format_date};
use crate::registry::impact::{ImpactFacts, Imported, index};
use crate::rules::policy::Policy;
use crate::wire::json::nullable;

const DAY: u64 = 86_400;
/// Longest simulated span: ten years of days.
pub const MAX_DAYS: u64 = 3_660;

/// The registry's population: who exists, what they maintain, which orgs they belong to.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Every account, with or without packages.
    #[serde(default, deserialize_with = "nullable")]
    pub accounts: Vec<AccountFacts>,
    /// Every package with its maintainers and reach.
    #[serde(default, deserialize_with = "nullable")]
    pub packages: Vec<PackageFacts>,
    /// Orgs, with their 2FA enforcement now or from a date.
    #[serde(default, deserialize_with = "nullable")]
    pub orgs: Vec<OrgFacts>,
}

/// One account.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountFacts {
    /// Account id (the rollout bucket input, as in requests).
    pub id: String,
    /// 2FA state; absent = none.
    #[serde(default)]
    pub tfa: Option<Tfa>,
    /// Names of the orgs the account belongs to.
    #[serde(default, deserialize_with = "nullable")]
    pub orgs: Vec<String>,
}

/// One package.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageFacts {
    /// Package name.
    pub name: String,
    /// Account ids that may publish it.
    #[serde(default, deserialize_with = "nullable")]
    pub maintainers: Vec<String>,
    /// Weekly downloads.
    #[serde(default, deserialize_with = "nullable")]
    pub weekly_downloads: Count,
    /// Packages depending on it.
    #[serde(default, deserialize_with = "nullable")]
    pub dependents: Count,
    /// Its publishing-access setting; absent = the policy's default.
    #[serde(default)]
    pub publishing_access: Option<PublishingAccess>,
}

/// One org.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgFacts {
    /// Org name.
    pub name: String,
    /// Enforces 2FA today (and so on every simulated day).
    #[serde(default, deserialize_with = "nullable")]
    pub enforce_tfa: bool,
    /// Enforces 2FA from this date: a planned enforcement to try out.
    #[serde(default)]
    pub enforce_from: Option<ConfigDate>,
}

/// What to simulate.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationInput {
    /// The population.
    pub population: Population,
    /// First day (its date; a time of day is ignored).
    pub from: ConfigDate,
    /// Last day, included.
    pub to: ConfigDate,
    /// The instant of each day the decisions are taken, seconds after 00:00 UTC (default noon,
    /// so a mandate dated a day counts on that day).
    #[serde(default)]
    pub at_seconds: Option<u64>,
    /// Renderings to add to the answer (the JSON entry point only).
    #[serde(default, deserialize_with = "nullable")]
    pub formats: Vec<Format>,
}

/// A rendering of the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// One row per day.
    Csv,
    /// The charts, as one self-contained SVG document.
    Svg,
}

impl SimulationInput {
    /// Parses the input document with field paths in errors. `unbounded` lifts the size cap for
    /// a file an operator names on the command line.
    pub fn parse(text: &str, unbounded: bool) -> Result<SimulationInput, InputError> {
        if unbounded {
            crate::wire::json::parse_unbounded(text)
        } else {
            crate::wire::json::parse(text)
        }
    }
}

/// Why a publisher cannot publish on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Block {
    /// A dated mandatory-2FA cohort (`tfa-enforced`, `mandatory-2fa.cohort.*`).
    Cohort,
    /// An org enforcing 2FA (`tfa-enforced`, `mandatory-2fa.org`).
    Org,
    /// The publish floor (`tfa-required-to-publish`).
    Floor,
    /// The package's own setting (`package-requires-tfa`).
    Package,
    /// Any other refusal.
    Other,
}

impl Block {
    fn of(d: &Decision) -> Block {
        match d.reason {
            Reason::TfaEnforced if d.rule == "mandatory-2fa.org" => Block::Org,
            Reason::TfaEnforced => Block::Cohort,
            Reason::TfaRequiredToPublish => Block::Floor,
            Reason::PackageRequiresTfa => Block::Package,
            _ => Block::Other,
        }
    }
}

/// One simulated day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The instant decided, unix seconds.
    pub now: u64,
    /// Accounts whose login asks for an emailed code (enhanced login verification).
    pub enrolled: u64,
    /// Accounts whose login or a publish asks for a second factor or an emailed code.
    pub challenged: u64,
    /// Publishers refused by a dated cohort.
    pub blocked_cohort: u64,
    /// Publishers refused by an enforcing org.
    pub blocked_org: u64,
    /// Publishers refused by the publish floor.
    pub blocked_floor: u64,
    /// Publishers refused by a package's own 2FA setting.
    pub blocked_package: u64,
    /// Publishers refused for another reason.
    pub blocked_other: u64,
    /// Packages none of whose maintainers may publish.
    pub orphaned_packages: u64,
    /// Publishers refused, by cohort name.
    pub cohorts: BTreeMap<String, u64>,
}

impl Day {
    /// Publishers refused for any reason.
    pub fn blocked(&self) -> u64 {
        self.blocked_cohort
            + self.blocked_org
            + self.blocked_floor
            + self.blocked_package
            + self.blocked_other
    }
}

/// The first day something happens to an account or a package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Account id or package name.
    pub name: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Why (for a package: why its last able maintainer was refused).
    pub why: Block,
    /// The decision's rule.
    pub rule: String,
}

/// The simulation's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Simulation {
    /// First day.
    pub from: String,
    /// Last day.
    pub to: String,
    /// Accounts simulated.
    pub accounts: u64,
    /// Accounts with 2FA on.
    pub with_tfa: u64,
    /// Accounts maintaining at least one package.
    pub publishers: u64,
    /// Packages.
    pub packages: u64,
    /// Decisions taken.
    pub decisions: u64,
    /// Day by day.
    pub days: Vec<Day>,
    /// Each publisher refused on some day: the first such day.
    pub blocked: Vec<Change>,
    /// Each package left without an able maintainer: the first such day.
    pub orphaned: Vec<Change>,
    /// The CSV rendering, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv: Option<String>,
    /// The SVG rendering, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svg: Option<String>,
}

/// An account's requests, built once and re-dated each day.
struct Prepared {
    id: String,
    login: Request,
    /// `(package index, publish request)`.
    publishes: Vec<(usize, Request)>,
    /// Indices into the population's orgs, in `login.orgs` order.
    orgs: Vec<usize>,
    first_blocked: Option<Change>,
}

/// A package's state through the replay.
#[derive(Clone, Default)]
struct PackageState {
    /// A maintainer may publish it today (perhaps after a challenge).
    able: bool,
    /// Today's last refusal of one of its maintainers.
    refusal: Option<(Block, String)>,
    first_orphaned: Option<Change>,
}

/// Replays `policy` over the population, day by day.
pub fn simulate(policy: &Policy, input: &SimulationInput) -> Result<Simulation, InputError> {
    let pop = &input.population;
    let at = input.at_seconds.unwrap_or(DAY / 2);
    if at >= DAY {
        return Err(InputError::new(
            "at_seconds",
            "seconds after midnight: less than 86400",
        ));
    }
    let first = input.from.0 - input.from.0 % DAY;
    let last = input.to.0 - input.to.0 % DAY;
    if last < first {
        return Err(InputError::new("to", "the last day comes before the first"));
    }
    let span = (last - first) / DAY + 1;
    if span > MAX_DAYS {
        return Err(InputError::new(
            "to",
            format!("{span} days; at most {MAX_DAYS} can be simulated at once"),
        ));
    }
    let mut accounts = prepare(pop)?;
    let mut packages = vec![PackageState::default(); pop.packages.len()];
    let mut days = Vec::new();
    let mut decisions = 0u64;
    for n in 0..span {
        let now = first + n * DAY + at;
        let date = format_date(now);
        let enforcing: Vec<bool> = pop
            .orgs
            .iter()
            .map(|o| o.enforce_tfa || o.enforce_from.is_some_and(|d| d.0 <= now))
            .collect();
        for p in &mut packages {
            p.able = false;
            p.refusal = None;
        }
        let mut day = Day {
            date: date.clone(),
            now,
            ..Day::default()
        };
        for a in &mut accounts {
            for (org, i) in a.login.orgs.iter_mut().zip(&a.orgs) {
                org.enforce_tfa = enforcing.get(*i).copied().unwrap_or(false);
            }
            a.login.now = Timestamp(now);
            let login = policy.evaluate(&a.login);
            decisions += 1;
            let mut challenged = login.outcome == Outcome::Challenge;
            if login.reason == Reason::LoginVerificationRequired {
                day.enrolled += 1;
            }
            let mut refused: Option<(Block, String)> = None;
            for (pkg, req) in &mut a.publishes {
                req.now = Timestamp(now);
                req.orgs.clone_from(&a.login.orgs);
                let d = policy.evaluate(req);
                decisions += 1;
                let state = packages.get_mut(*pkg);
                if d.outcome == Outcome::Deny {
                    let why = Block::of(&d);
                    if refused.as_ref().is_none_or(|(b, _)| why < *b) {
                        refused = Some((why, d.rule.to_string()));
                    }
                    if let Some(s) = state {
                        s.refusal = Some((why, d.rule.into_owned()));
                    }
                } else {
                    challenged |= d.outcome == Outcome::Challenge;
                    if let Some(s) = state {
                        s.able = true;
                    }
                }
            }
            day.challenged += u64::from(challenged);
            if let Some((why, rule)) = refused {
                match why {
                    Block::Cohort => {
                        day.blocked_cohort += 1;
                        let name = rule.strip_prefix("mandatory-2fa.cohort.").unwrap_or(&rule);
                        *day.cohorts.entry(name.to_owned()).or_default() += 1;
                    }
                    Block::Org => day.blocked_org += 1,
                    Block::Floor => day.blocked_floor += 1,
                    Block::Package => day.blocked_package += 1,
                    Block::Other => day.blocked_other += 1,
                }
                if a.first_blocked.is_none() {
                    a.first_blocked = Some(Change {
                        name: a.id.clone(),
                        date: date.clone(),
                        why,
                        rule,
                    });
                }
            }
        }
        for (facts, state) in pop.packages.iter().zip(&mut packages) {
            if facts.maintainers.is_empty() || state.able {
                continue;
            }
            day.orphaned_packages += 1;
            if state.first_orphaned.is_none()
                && let Some((why, rule)) = state.refusal.take()
            {
                state.first_orphaned = Some(Change {
                    name: facts.name.clone(),
                    date: date.clone(),
                    why,
                    rule,
                });
            }
        }
        days.push(day);
    }
    let by_date = |a: &Change, b: &Change| a.date.cmp(&b.date).then_with(|| a.name.cmp(&b.name));
    let publishers = accounts.iter().filter(|a| !a.publishes.is_empty()).count();
    let mut blocked: Vec<Change> = accounts
        .into_iter()
        .filter_map(|a| a.first_blocked)
        .collect();
    blocked.sort_by(by_date);
    let mut orphaned: Vec<Change> = packages
        .into_iter()
        .filter_map(|p| p.first_orphaned)
        .collect();
    orphaned.sort_by(by_date);
    Ok(Simulation {
        from: format_date(first),
        to: format_date(last),
        accounts: count(pop.accounts.len()),
        with_tfa: count(
            pop.accounts
                .iter()
                .filter(|a| a.tfa.as_ref().is_some_and(|t| t.mode != TfaMode::Disabled))
                .count(),
        ),
        publishers: count(publishers),
        packages: count(pop.packages.len()),
        decisions,
        days,
        blocked,
        orphaned,
        csv: None,
        svg: None,
    })
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Checks the population's references and builds each account's requests.
fn prepare(pop: &Population) -> Result<Vec<Prepared>, InputError> {
    let mut account_at: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, a) in pop.accounts.iter().enumerate() {
        if account_at.insert(a.id.as_str(), i).is_some() {
            return Err(InputError::new(
                format!("population.accounts[{i}].id"),
                format!("`{}` is listed twice", a.id),
            ));
        }
    }
    let mut org_at: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, o) in pop.orgs.iter().enumerate() {
        if org_at.insert(o.name.as_str(), i).is_some() {
            return Err(InputError::new(
                format!("population.orgs[{i}].name"),
                format!("`{}` is listed twice", o.name),
            ));
        }
    }
    let mut facts = ImpactFacts::default();
    // Package indices by account index.
    let mut maintains: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut seen_packages: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, p) in pop.packages.iter().enumerate() {
        if seen_packages.insert(p.name.as_str(), i).is_some() {
            return Err(InputError::new(
                format!("population.packages[{i}].name"),
                format!("`{}` is listed twice", p.name),
            ));
        }
        for (j, m) in p.maintainers.iter().enumerate() {
            let Some(&a) = account_at.get(m.as_str()) else {
                return Err(InputError::new(
                    format!("population.packages[{i}].maintainers[{j}]"),
                    format!("`{m}` is not in population.accounts"),
                ));
            };
            let list = maintains.entry(a).or_default();
            if !list.contains(&i) {
                list.push(i);
            }
        }
        facts.imported.insert(
            p.name.clone(),
            Imported {
                weekly_downloads: p.weekly_downloads,
                dependents: p.dependents,
            },
        );
        facts
            .maintainers
            .insert(p.name.clone(), p.maintainers.clone());
    }
    let impact = index(&facts);
    let mut prepared = Vec::with_capacity(pop.accounts.len());
    for (i, a) in pop.accounts.iter().enumerate() {
        let mut orgs = Vec::with_capacity(a.orgs.len());
        let mut request_orgs = Vec::with_capacity(a.orgs.len());
        for (j, name) in a.orgs.iter().enumerate() {
            let Some(&o) = org_at.get(name.as_str()) else {
                return Err(InputError::new(
                    format!("population.accounts[{i}].orgs[{j}]"),
                    format!("`{name}` is not in population.orgs"),
                ));
            };
            orgs.push(o);
            request_orgs.push(Org {
                name: name.clone(),
                enforce_tfa: false,
            });
        }
        let packages = maintains.remove(&i).unwrap_or_default();
        let account = Account {
            id: a.id.clone(),
            tfa: a.tfa.clone(),
            publisher: !packages.is_empty(),
            impact: impact.accounts.get(&a.id).map(|f| f.impact()),
            safeguard_until: None,
        };
        let request = |action: Action, credential: Credential, package: Option<Package>| Request {
            now: Timestamp(0),
            action,
            account: account.clone(),
            credential,
            client: Client::default(),
            package,
            orgs: request_orgs.clone(),
            proofs: Vec::new(),
            failures: Failures::default(),
        };
        let publishes = packages
            .iter()
            .filter_map(|&k| {
                let p = pop.packages.get(k)?;
                let f = impact.packages.get(&p.name).copied().unwrap_or_default();
                let mut action = Action::new(ActionKind::PackagePublish);
                action.package = Some(p.name.clone());
                action.tag = Some("latest".to_owned());
                let package = Package {
                    name: Some(p.name.clone()),
                    publishing_access: p.publishing_access,
                    weekly_downloads: Some(Count(f.weekly_downloads)),
                    dependents: Some(Count(f.dependents)),
                    dependents_rank: f.dependents_rank.map(Count),
                };
                Some((k, request(action, Credential::Session, Some(package))))
            })
            .collect();
        prepared.push(Prepared {
            id: a.id.clone(),
            login: request(Action::new(ActionKind::Login), Credential::Basic, None),
            publishes,
            orgs,
            first_blocked: None,
        });
    }
    Ok(prepared)
}

/// `rollout-simulate`: [`SimulationInput`] → [`Simulation`], with the renderings `formats`
/// asks for under their names (`csv`, `svg`).
pub fn simulate_json(policy: &Policy, input: &str) -> Result<String, InputError> {
    let input = SimulationInput::parse(input, false)?;
    let mut sim = simulate(policy, &input)?;
    for f in &input.formats {
        match f {
            Format::Csv => sim.csv = Some(report::csv(&sim)),
            Format::Svg => sim.svg = Some(report::svg(&sim)),
        }
    }
    serde_json::to_string(&sim).map_err(|e| InputError::new(".", e.to_string()))
}
