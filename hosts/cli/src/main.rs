//! `stepup`: decide requests, run the conformance corpus, enrol TOTP and check configs from the
//! command line. Bad input is reported with its field path and a non-zero exit, never a panic.

mod conformance;
mod differential;
mod engine;
mod files;
mod impact;
mod orgs;
mod rollout;
mod totp;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

/// mimalloc instead of the platform allocator: the server's request path allocates from every
/// worker thread at once, where glibc's arenas contend (docs/BENCHMARKS.md, the gateway rows).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Which engine decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// The Rust engine linked into this binary.
    Native,
    /// The WebAssembly component, run by wasmtime (compiled once, cached as .cwasm).
    Component,
}

#[derive(Parser)]
#[command(
    name = "stepup",
    version,
    about = "When must a registry account prove a second factor? Decide, test and enrol."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decide request documents (SPEC §2); an `{request, secrets, present}` document is authorized.
    ///
    /// Exits 0 when every decision allows, 3 when one challenges, 4 when one denies, 2 when an
    /// input is invalid (the strictest wins: 2, then 4, then 3), 1 when reading fails.
    Decide {
        /// Configuration file (JSON or TOML); default: the npmjs-2026 preset.
        #[arg(long)]
        config: Option<String>,
        /// Engine to decide with.
        #[arg(long, value_enum, default_value = "native")]
        engine: EngineKind,
        /// Pretty-print decisions.
        #[arg(long)]
        pretty: bool,
        /// Each input holds one document per line (NDJSON); one decision per line.
        #[arg(long)]
        lines: bool,
        /// Unix seconds to decide at, for documents without `now` (default: the current time).
        #[arg(long)]
        now: Option<u64>,
        /// Request files; `-` reads standard input.
        #[arg(required = true)]
        requests: Vec<String>,
    },
    /// Differential testing across hosts: generate random requests, decide a file of them.
    Differential {
        #[command(subcommand)]
        command: DifferentialCommand,
    },
    /// Run conformance vector files or folders; ends with `N passed, N failed`.
    Conformance {
        /// Engine to run the corpus through.
        #[arg(long, value_enum, default_value = "native")]
        engine: EngineKind,
        /// Vector files or folders of them.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// TOTP enrolment and codes.
    Totp {
        #[command(subcommand)]
        command: TotpCommand,
    },
    /// Configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print a JSON Schema: `config`, `request` or `decision`.
    Schema {
        /// Which document.
        #[arg(value_parser = ["config", "request", "decision"])]
        which: String,
    },
    /// Org 2FA enforcement: plans and audits over files, or enforcement in a running server.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Package impact in a running server: import figures, show the index decisions read.
    Impact {
        #[command(subcommand)]
        command: ImpactCommand,
    },
    /// Rollout planning: replay a policy over the registry's population day by day.
    Rollout {
        #[command(subcommand)]
        command: RolloutCommand,
    },
    /// Serve the decision API and the npm 2FA gateway (the component under wasmtime).
    Serve(Box<stepup_server::ServeOptions>),
    /// Print a shell completion script: `stepup completions bash > /etc/bash_completion.d/stepup`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum TotpCommand {
    /// Create a TOTP secret, its otpauth URI and QR code, and recovery codes.
    Enroll {
        /// Account name shown in the authenticator.
        #[arg(long)]
        account: String,
        /// Issuer shown in the authenticator.
        #[arg(long, default_value = "stepup")]
        issuer: String,
        /// Configuration file (digits, period, algorithm).
        #[arg(long)]
        config: Option<String>,
        /// Print one JSON document (with the hashed records to store) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the code an authenticator shows for a secret.
    Code {
        /// Base32 secret.
        #[arg(long)]
        secret: String,
        /// Unix seconds; default now.
        #[arg(long)]
        at: Option<u64>,
        /// Configuration file (digits, period, algorithm).
        #[arg(long)]
        config: Option<String>,
    },
}

#[derive(Subcommand)]
enum DifferentialCommand {
    /// Print random request documents, one per line (deterministic per seed).
    Generate {
        /// How many.
        #[arg(long, default_value_t = 5_000)]
        count: u64,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Decide every line of a file (default configuration); print one decision per line.
    Decide {
        /// Engine to decide with.
        #[arg(long, value_enum, default_value = "native")]
        engine: EngineKind,
        /// JSON-lines file of requests.
        file: String,
        /// Give each line to this JSON entry point instead (e.g. `classify`) and print its answer.
        #[arg(long)]
        call: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file; errors name the field.
    Check {
        /// JSON or TOML file.
        file: String,
        /// Print one JSON document (`{"file","valid",…}` or `{"file","valid":false,"error"}`).
        #[arg(long)]
        json: bool,
    },
    /// Print the resolved configuration (preset plus overrides).
    Show {
        /// JSON or TOML file; default: the npmjs-2026 preset.
        file: Option<String>,
    },
}

#[derive(Subcommand)]
enum ImpactCommand {
    /// Load weekly downloads and dependents per package (CSV with a header naming `name`,
    /// `weekly_downloads`, `dependents`; or a JSON array of such objects). Each package's figure
    /// becomes the larger of the imported one and the server's own count.
    Import {
        /// CSV or JSON file.
        file: String,
        /// Drop every earlier import first.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        admin: stepup_server::admin_client::AdminOptions,
    },
    /// Re-read the dependents index from the upstream's package documents: every package the
    /// server knows of, and each `--package` (publishes that reached the registry without
    /// passing the gateway are counted this way).
    Rebuild {
        /// A package to read besides those the server knows of (repeatable).
        #[arg(long = "package")]
        packages: Vec<String>,
        #[command(flatten)]
        admin: stepup_server::admin_client::AdminOptions,
    },
    /// Print the impact index: every package, or one package's or account's figures.
    Show {
        /// One package.
        #[arg(long)]
        package: Option<String>,
        /// One account (the best figures among the packages it maintains).
        #[arg(long)]
        account: Option<String>,
        #[command(flatten)]
        admin: stepup_server::admin_client::AdminOptions,
    },
}

#[derive(Subcommand)]
enum RolloutCommand {
    /// How many accounts each day would be enrolled in login verification, challenged and
    /// blocked (cohort, org, publish floor, package), and which packages would be left with no
    /// maintainer able to publish. CSV on standard output; `--html` writes the report.
    Simulate(Box<rollout::SimulateArgs>),
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Who would be removed if the org turned on 2FA enforcement.
    Plan {
        /// `{org, actor, members}` JSON file.
        file: String,
    },
    /// 2FA adoption figures for a member list.
    Audit {
        /// `{members}` JSON file.
        file: String,
        /// Configuration file (high-impact thresholds).
        #[arg(long)]
        config: Option<String>,
    },
    /// Turn an org's 2FA enforcement on in a running server: shows who would be removed;
    /// `--confirm` turns it on, removes them and mails each one.
    Enforce {
        /// The org.
        org: String,
        /// Apply the plan.
        #[arg(long)]
        confirm: bool,
        /// Turn enforcement off instead.
        #[arg(long, conflicts_with = "confirm")]
        off: bool,
        #[command(flatten)]
        admin: stepup_server::admin_client::AdminOptions,
    },
    /// An org's members in a running server with their 2FA mode, factor kinds and last login.
    Members {
        /// The org.
        org: String,
        /// Only members with 2FA `on` or `off`.
        #[arg(long, value_parser = ["on", "off"])]
        tfa: Option<String>,
        /// Only members with this factor.
        #[arg(long, value_parser = ["totp", "webauthn"])]
        factor: Option<String>,
        /// Only members with this role.
        #[arg(long, value_parser = ["owner", "admin", "developer"])]
        role: Option<String>,
        #[command(flatten)]
        admin: stepup_server::admin_client::AdminOptions,
    },
}

/// A failure the CLI reports and exits with.
pub enum Failure {
    /// Reading or writing failed (exit 1).
    Io(String),
    /// The input was invalid (exit 2).
    Input(String),
    /// Tests failed (exit 1), already reported.
    Failed,
    /// Exit with this code, everything already reported (`decide`'s outcomes).
    Exit(u8),
}

/// The command line, with `serve --settings FILE`'s values added where the command line and the
/// environment left a setting unset (parsed again, so they are checked like typed ones).
fn parse() -> Result<Cli, Failure> {
    let cli = Cli::parse();
    let Command::Serve(opts) = &cli.command else {
        return Ok(cli);
    };
    let Some(file) = opts.settings.clone() else {
        return Ok(cli);
    };
    let matches = Cli::command().get_matches();
    let Some(serve) = matches.subcommand_matches("serve") else {
        return Ok(cli);
    };
    let extra = stepup_server::settings::arguments(&file, serve)
        .map_err(|e| Failure::Input(e.to_string()))?;
    Cli::try_parse_from(std::env::args_os().chain(extra)).map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        Failure::Input(format!(
            "--settings {}: {}",
            file.display(),
            first.strip_prefix("error: ").unwrap_or(first)
        ))
    })
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(Failure::Input(m)) => {
            eprintln!("stepup: invalid input: {m}");
            return ExitCode::from(2);
        }
        Err(_) => return ExitCode::from(1),
    };
    let result = match cli.command {
        Command::Decide {
            config,
            engine,
            pretty,
            lines,
            now,
            requests,
        } => engine::decide(
            config.as_deref(),
            engine,
            &engine::DecideOptions { pretty, lines, now },
            &requests,
        ),
        Command::Completions { shell } => {
            // Written whole, so a closed pipe is an error to report, not a panic.
            let mut script = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "stepup",
                &mut script,
            );
            std::io::Write::write_all(&mut std::io::stdout(), &script)
                .map_err(|e| Failure::Io(format!("cannot write the completion script: {e}")))
        }
        Command::Conformance { engine, paths } => conformance::run(engine, &paths),
        Command::Differential {
            command: DifferentialCommand::Generate { count, seed },
        } => differential::generate(count, seed),
        Command::Differential {
            command: DifferentialCommand::Decide { engine, file, call },
        } => match call {
            Some(function) => differential::call(engine, &function, &file),
            None => differential::decide(engine, &file),
        },
        Command::Totp {
            command:
                TotpCommand::Enroll {
                    account,
                    issuer,
                    config,
                    json,
                },
        } => totp::enroll(config.as_deref(), &issuer, &account, json),
        Command::Totp {
            command: TotpCommand::Code { secret, at, config },
        } => totp::code(config.as_deref(), &secret, at),
        Command::Config {
            command: ConfigCommand::Check { file, json },
        } => files::check_config(&file, json),
        Command::Config {
            command: ConfigCommand::Show { file },
        } => files::load_policy(file.as_deref()).and_then(|p| files::print_json(p.config())),
        Command::Schema { which } => match stepup_core::wire::ffi::schema(&which) {
            Some(schema) => {
                println!("{schema}");
                Ok(())
            }
            None => Err(Failure::Input(format!(
                "no schema {which:?}: config, request or decision"
            ))),
        },
        Command::Org {
            command: OrgCommand::Plan { file },
        } => files::read(&file)
            .and_then(|t| files::ffi_out(stepup_core::wire::ffi::org_plan_json(&t))),
        Command::Org {
            command: OrgCommand::Audit { file, config },
        } => files::load_policy(config.as_deref()).and_then(|p| {
            files::read(&file)
                .and_then(|t| files::ffi_out(stepup_core::wire::ffi::org_audit_json(&p, &t)))
        }),
        Command::Org {
            command:
                OrgCommand::Enforce {
                    org,
                    confirm,
                    off,
                    admin,
                },
        } => orgs::enforce(&admin, &org, confirm, off),
        Command::Org {
            command:
                OrgCommand::Members {
                    org,
                    tfa,
                    factor,
                    role,
                    admin,
                },
        } => orgs::members(
            &admin,
            &org,
            tfa.as_deref(),
            factor.as_deref(),
            role.as_deref(),
        ),
        Command::Impact {
            command:
                ImpactCommand::Import {
                    file,
                    replace,
                    admin,
                },
        } => impact::import(&admin, &file, replace),
        Command::Impact {
            command: ImpactCommand::Rebuild { packages, admin },
        } => impact::rebuild(&admin, &packages),
        Command::Impact {
            command:
                ImpactCommand::Show {
                    package,
                    account,
                    admin,
                },
        } => impact::show(&admin, package.as_deref(), account.as_deref()),
        Command::Rollout {
            command: RolloutCommand::Simulate(args),
        } => rollout::simulate_command(&args),
        Command::Serve(opts) => stepup_server::run(&opts).map_err(|e| match e {
            stepup_server::ServeError::Key(_) | stepup_server::ServeError::Policy(_) => {
                Failure::Input(e.to_string())
            }
            _ => Failure::Io(e.to_string()),
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Io(m)) => {
            eprintln!("stepup: {m}");
            ExitCode::from(1)
        }
        Err(Failure::Input(m)) => {
            eprintln!("stepup: invalid input: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Failed) => ExitCode::from(1),
        Err(Failure::Exit(code)) => ExitCode::from(code),
    }
}
