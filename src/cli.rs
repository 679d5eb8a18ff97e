//! The command line: `goldenpath run | load | report | compare`. Parses arguments into
//! the library's option types and maps outcomes to exit codes; no logic of its own.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::acceptance::{self, RunOptions, TargetChoice};
use crate::config::Config;

/// Exit codes: 0 all passed, 1 a scenario or threshold failed, 2 the run could not
/// start or finish (bad input, no Docker engine, unreachable stack).
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "goldenpath",
    version,
    about = "Workflow-as-tests harness and load generator for agent-chat backends"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the acceptance features against a stack and write reports.
    Run(RunArgs),
    /// Run scenarios (default: tagged @load) as many concurrent virtual users.
    Load(LoadArgs),
    /// Rebuild report.html and summary.md of a run from its stored results.
    Report(ReportArgs),
    /// Compare a run against a baseline; exits 1 on a regression.
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Feature files or directories (default: the profile's, else features/).
    pub features: Vec<PathBuf>,
    /// Tag expression selecting the scenarios (default: the profile's, else @load).
    #[arg(long, value_name = "EXPR")]
    pub tags: Option<String>,
    /// A named profile of goldenpath.toml [load.profiles] (smoke, nightly, ...).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Closed model: this many virtual users, each running iterations back to back.
    #[arg(long, value_name = "N")]
    pub users: Option<u64>,
    /// Closed model: start the users evenly over this long, e.g. 30s.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub ramp_up: Option<std::time::Duration>,
    /// How long the measured run lasts, e.g. 10m.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Stop after this many iterations in all.
    #[arg(long, value_name = "N")]
    pub iterations: Option<u64>,
    /// Open model: start iterations at this rate, e.g. 50/s; latency counts from the
    /// scheduled start.
    #[arg(long, value_name = "R/s")]
    pub rate: Option<crate::load::Rate>,
    /// Open model: at most this many virtual users; an arrival with none free is dropped.
    #[arg(long, value_name = "N")]
    pub max_users: Option<u64>,
    /// Restart the backend (as an administrator) this far into the run.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub restart_at: Option<std::time::Duration>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Where reports/<run-id>/ is written.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
    /// Write this run's results exactly here instead of reports/<run-id>/.
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run directory, e.g. reports/latest.
    pub run_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline: a run directory or its summary.json.
    pub base: PathBuf,
    /// The run to judge: a run directory or its summary.json.
    pub current: PathBuf,
    /// Configuration file holding the [compare] tolerance.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also write the comparison as Markdown to this file.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

/// Where the stack under test comes from, and how it is configured.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// A stack that is already running (e.g. staging); nothing is started.
    #[arg(long, value_name = "URL", conflicts_with = "image")]
    pub base_url: Option<String>,
    /// A locally available image to start instead of building the reference stack.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Seeded faults for the stacks goldenpath starts (comma-separated, CONTRACT §9).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub faults: Vec<String>,
    /// Configuration file (default: ./goldenpath.toml when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Feature files or directories.
    #[arg(default_value = "features")]
    pub features: Vec<PathBuf>,
    /// Tag expression selecting scenarios, e.g. `@golden` or `not @engine`.
    #[arg(long, value_name = "EXPR")]
    pub tags: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Where reports/<run-id>/ is written.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports: PathBuf,
    /// How many scenarios run at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
}

impl TargetArgs {
    pub fn load_config(&self) -> Result<Config, String> {
        Config::load(self.config.as_deref()).map_err(|e| e.to_string())
    }

    pub fn choice(&self, config: &Config) -> TargetChoice {
        match (&self.base_url, &self.image) {
            (Some(url), _) => TargetChoice::BaseUrl(url.clone()),
            (None, Some(image)) => TargetChoice::Image(image.clone()),
            (None, None) => match (&config.target.base_url, &config.target.image) {
                (Some(url), _) => TargetChoice::BaseUrl(url.clone()),
                (None, Some(image)) => TargetChoice::Image(image.clone()),
                (None, None) => TargetChoice::Reference,
            },
        }
    }
}

/// Run the parsed command; returns the process exit code.
pub async fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => run(args).await,
        Command::Load(args) => load(args).await,
        Command::Report(args) => report(&args),
        Command::Compare(args) => compare(&args),
    }
}

fn report(args: &ReportArgs) -> ExitCode {
    match crate::report::rebuild(&args.run_dir) {
        Ok(paths) => {
            println!("rebuilt {}", paths.html.display());
            println!("        {}", paths.markdown.display());
            ExitCode::SUCCESS
        }
        Err(e) => error(e),
    }
}

fn summary_path(path: &std::path::Path) -> PathBuf {
    if path.is_dir() {
        path.join(crate::report::SUMMARY_JSON)
    } else {
        path.to_owned()
    }
}

fn compare(args: &CompareArgs) -> ExitCode {
    let tolerance = match Config::load(args.config.as_deref()) {
        Ok(config) => config.compare,
        Err(e) => return error(e),
    };
    let read = |p: &std::path::Path| crate::report::read_summary(&summary_path(p));
    let (base, current) = match (read(&args.base), read(&args.current)) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) | (_, Err(e)) => return error(e),
    };
    let comparison = crate::report::compare(&base, &current, &tolerance);
    println!("{comparison}");
    if let Some(path) = &args.markdown
        && let Err(e) = std::fs::write(path, comparison.to_markdown())
    {
        return error(format!("cannot write {}: {e}", path.display()));
    }
    if comparison.has_regression() {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

fn error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("goldenpath: error: {message}");
    ExitCode::from(EXIT_ERROR)
}

async fn run(args: RunArgs) -> ExitCode {
    let config = match args.target.load_config() {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    let mut opts = RunOptions::new(config.clone());
    opts.target = args.target.choice(&config);
    opts.features = args.features;
    opts.tags = args.tags;
    opts.faults = args.target.faults;
    opts.reports_dir = args.reports;
    opts.concurrency = args.concurrency;
    if matches!(opts.target, TargetChoice::BaseUrl(_)) && opts.tags.is_none() {
        // A running stack cannot be stopped by the engine or given a second copy.
        opts.tags = Some("not @engine and not @own-stack".to_owned());
        eprintln!(
            "goldenpath: against a running stack, scenarios tagged @engine or @own-stack are left out"
        );
    }
    match acceptance::run(opts).await {
        Ok(outcome) => {
            let summary = &outcome.summary;
            println!();
            println!(
                "verdict: {:?} — {}",
                summary.verdict,
                summary.reasons.join("; ")
            );
            println!("reports: {}", outcome.run_dir.display());
            for name in [
                "report.html",
                "summary.md",
                "summary.json",
                "junit.xml",
                "cucumber.json",
            ] {
                println!("  {}", outcome.run_dir.join(name).display());
            }
            if outcome.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FAILED)
            }
        }
        Err(e) => error(e),
    }
}

async fn load(args: LoadArgs) -> ExitCode {
    use crate::acceptance::{GoldenWorld, runner, target::AdminRestart};
    use crate::load::{LoadOptions, ProgressMode, run_load};

    let config = match args.target.load_config() {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    let run_id = crate::provision::new_run_id();
    let run_dir = args
        .run_dir
        .clone()
        .unwrap_or_else(|| args.reports.join(&run_id));
    let mut run_opts = RunOptions::new(config.clone());
    run_opts.target = args.target.choice(&config);
    run_opts.faults = args.target.faults.clone();
    let (context, environment) = match runner::provision_run(&run_opts, &run_id, &run_dir).await {
        Ok(provisioned) => provisioned,
        Err(e) => return error(e),
    };
    let restart = AdminRestart {
        target: context.shared.clone(),
        client: context.client.clone(),
        timeout: config.timeouts.restart_comeback,
    };
    let opts = LoadOptions {
        features: args.features,
        tags: args.tags,
        profile: args.profile,
        users: args.users,
        ramp_up: args.ramp_up,
        duration: args.duration,
        iterations: args.iterations,
        rate: args.rate,
        max_users: args.max_users,
        restart_at: args.restart_at,
        workers: args.workers,
        run_dir,
        config: config.load.clone(),
        environment,
        progress: ProgressMode::Auto,
    };

    // Ctrl-C: stop starting iterations, let run_load write the results so far, then the
    // signal handler removes the stacks and exits.
    let shutdown = tokio_util::sync::CancellationToken::new();
    let (written_tx, written_rx) = tokio::sync::oneshot::channel::<()>();
    let token = shutdown.clone();
    crate::provision::on_interrupt(Box::new(move || {
        Box::pin(async move {
            token.cancel();
            let _ = written_rx.await;
        })
    }));
    let result = run_load::<GoldenWorld>(
        opts,
        context.clone(),
        Some(std::sync::Arc::new(restart)),
        shutdown,
    )
    .await;
    let _ = written_tx.send(());
    if crate::provision::shutting_down() {
        std::future::pending::<()>().await;
    }
    crate::provision::clear_interrupt_hook();
    if let Err(e) = context.shared.clone().shutdown().await {
        tracing::warn!("removing the stack: {e}");
    }
    match result {
        Ok(outcome) => {
            if outcome.thresholds_passed && outcome.summary.verdict == crate::summary::Verdict::Pass
            {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FAILED)
            }
        }
        Err(e) => error(e),
    }
}
