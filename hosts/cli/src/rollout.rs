//! `stepup rollout simulate`: a policy replayed over a registry's population day by day (core's
//! simulator), from a population file or the server's own store; CSV out, and a self-contained
//! HTML report with the charts.

use std::io::Write as _;

use stepup_core::contract::time::{ConfigDate, parse_date};
use stepup_core::simulation::{Population, SimulationInput, report, simulate};
use stepup_server::rollout::{PopulationStore, read_population};

use crate::Failure;
use crate::files;

/// `stepup rollout simulate` arguments.
#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The policy to replay (JSON or TOML); default: the npmjs-2026 preset.
    #[arg(long)]
    pub config: Option<String>,
    /// Population file: `{accounts, packages, orgs}` JSON (see README).
    #[arg(long, conflicts_with_all = ["db", "database_url"], required_unless_present_any = ["db", "database_url"])]
    pub population: Option<String>,
    #[command(flatten)]
    pub store: PopulationStore,
    /// First day, `YYYY-MM-DD`.
    #[arg(long)]
    pub from: String,
    /// Last day, `YYYY-MM-DD` (included).
    #[arg(long)]
    pub to: String,
    /// Time of day the decisions are taken, `HH:MM` UTC.
    #[arg(long, default_value = "12:00")]
    pub at: String,
    /// Try an org's 2FA enforcement from a date: `ORG=YYYY-MM-DD` (repeatable).
    #[arg(long, value_name = "ORG=DATE")]
    pub enforce: Vec<String>,
    /// Write the CSV here instead of standard output.
    #[arg(long)]
    pub csv: Option<String>,
    /// Write the HTML report here.
    #[arg(long)]
    pub html: Option<String>,
    /// Write the whole answer (days, first days blocked and orphaned) as JSON here.
    #[arg(long)]
    pub json: Option<String>,
}

fn date(flag: &str, text: &str) -> Result<ConfigDate, Failure> {
    parse_date(text)
        .map(ConfigDate)
        .ok_or_else(|| Failure::Input(format!("--{flag} {text}: expected YYYY-MM-DD")))
}

fn at_seconds(text: &str) -> Result<u64, Failure> {
    let bad = || Failure::Input(format!("--at {text}: expected HH:MM (UTC)"));
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let h: u64 = h.parse().map_err(|_| bad())?;
    let m: u64 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60)
}

fn write(path: &str, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure::Io(format!("cannot write {path}: {e}")))
}

/// Runs the simulation and writes what was asked for.
pub fn simulate_command(args: &SimulateArgs) -> Result<(), Failure> {
    let policy = files::load_policy(args.config.as_deref())?;
    let from = date("from", &args.from)?;
    let to = date("to", &args.to)?;
    let at_seconds = at_seconds(&args.at)?;
    let mut population: Population = match &args.population {
        Some(path) => {
            let text = files::read(path)?;
            stepup_core::wire::json::parse_unbounded(&text)
                .map_err(|e| Failure::Input(format!("{path}: {}: {}", e.path, e.message)))?
        }
        None => read_population(&args.store, stepup_server::now())
            .map_err(|e| Failure::Io(e.to_string()))?,
    };
    for e in &args.enforce {
        let (org, day) = e
            .split_once('=')
            .ok_or_else(|| Failure::Input(format!("--enforce {e}: expected ORG=YYYY-MM-DD")))?;
        let day = date("enforce", day)?;
        let o = population
            .orgs
            .iter_mut()
            .find(|o| o.name == org)
            .ok_or_else(|| {
                Failure::Input(format!("--enforce {e}: no org `{org}` in the population"))
            })?;
        o.enforce_from = Some(day);
    }
    let input = SimulationInput {
        population,
        from,
        to,
        at_seconds: Some(at_seconds),
        formats: Vec::new(),
    };
    let sim = simulate(&policy, &input).map_err(|e| Failure::Input(e.to_string()))?;
    let csv = report::csv(&sim);
    match &args.csv {
        Some(path) => write(path, &csv)?,
        None => std::io::stdout()
            .write_all(csv.as_bytes())
            .map_err(|e| Failure::Io(e.to_string()))?,
    }
    if let Some(path) = &args.html {
        let title = format!("Rollout simulation, {} to {}", sim.from, sim.to);
        write(path, &report::html(&sim, &title))?;
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&sim).map_err(|e| Failure::Io(e.to_string()))?;
        write(path, &text)?;
    }
    let last = sim.days.last();
    eprintln!(
        "{} to {}: {} accounts, {} decisions; on the last day {} enrolled, {} challenged, {} blocked; {} packages without an able maintainer",
        sim.from,
        sim.to,
        sim.accounts,
        sim.decisions,
        last.map_or(0, |d| d.enrolled),
        last.map_or(0, |d| d.challenged),
        last.map_or(0, stepup_core::simulation::Day::blocked),
        last.map_or(0, |d| d.orphaned_packages),
    );
    Ok(())
}
