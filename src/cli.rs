//! The command line: `goldenpath run | load | merge | report | compare | history | image`. Maps arguments onto
//! the library's option types and outcomes onto exit codes, through the library's
//! public API only; no logic of its own.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use goldenpath::load::{LoadRunOptions, ProgressMode};
use goldenpath::session::Provenance;
use goldenpath::summary::Verdict;
use goldenpath::{Config, EXIT_FAILED, GoldenWorld, RunOptions, error_exit as error};

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
    Load(Box<LoadArgs>),
    /// Merge the shards of a split load run (`load --shard I/N`) into one run, exactly.
    Merge(MergeArgs),
    /// Rebuild report.html and summary.md of a run from its stored results.
    Report(ReportArgs),
    /// Compare a run against a baseline; exits 1 on a regression.
    Compare(CompareArgs),
    /// Write one page of many runs: pass rates, scenario outcomes per run, load trends.
    History(HistoryArgs),
    /// Package this goldenpath binary, features and configuration as an image, with no
    /// registry (for shards as containers or Kubernetes pods).
    Image(ImageArgs),
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    /// The image's tag.
    #[arg(long, default_value = goldenpath::provision::HARNESS_IMAGE)]
    pub tag: String,
    /// Feature files or directories for /etc/goldenpath/features/.
    #[arg(long = "features", value_name = "PATH", default_value = "features")]
    pub features: Vec<PathBuf>,
    /// The configuration for /etc/goldenpath/goldenpath.toml (default: ./goldenpath.toml
    /// when present, else the contract's defaults).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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
    pub rate: Option<goldenpath::load::Rate>,
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
    /// Run shard I of N of a split run (default: JOB_COMPLETION_INDEX of a Kubernetes
    /// Indexed Job, with --shards N).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<goldenpath::load::Shard>,
    /// The shard count when the index comes from JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "N", env = "GOLDENPATH_SHARDS")]
    pub shards: Option<u64>,
    /// The run's id, shared by every shard; a shard writes to reports/<run-id>/shard-<I>/.
    #[arg(long, value_name = "ID", env = "GOLDENPATH_RUN_ID")]
    pub run_id: Option<String>,
    /// Send the figures to this Prometheus remote-write receiver while the run goes
    /// (sets load.prometheus.remote_write_url), e.g. http://localhost:9090/api/v1/write.
    #[arg(long, value_name = "URL")]
    pub prometheus_remote_write: Option<String>,
    /// The instant (RFC 3339) at which every shard starts its schedule; default: the
    /// UTC stamp a run id begins with (20261204T020000Z-nightly), if any.
    #[arg(long, value_name = "RFC3339", env = "GOLDENPATH_START_AT")]
    pub start_at: Option<String>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard run directories, or a directory holding them (reports/<run-id>/).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Where the merged run is written.
    #[arg(long, value_name = "DIR")]
    pub run_dir: PathBuf,
    /// Merge the shards that are there; the verdict is then INCOMPLETE.
    #[arg(long)]
    pub allow_missing: bool,
    /// Wait up to this long for every shard's results, e.g. 2h.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub wait: Option<std::time::Duration>,
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

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Run directories, or directories of runs such as reports/ (every subdirectory
    /// holding a summary.json; symbolic links such as reports/latest are left out).
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    /// Where history.html and history.md are written.
    #[arg(long, value_name = "DIR", default_value = "reports/history")]
    pub out: PathBuf,
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
    /// Run a failed scenario again, on a fresh World, up to N times; one that then
    /// passes counts as passed and is named as flaky in every report.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retries: usize,
}

impl TargetArgs {
    /// The configuration file with the flags applied: `--base-url` / `--image` replace
    /// the file's `[target]` choice, `--faults` adds to its faults.
    fn config(&self) -> Result<Config, String> {
        let mut config = Config::load(self.config.as_deref()).map_err(|e| e.to_string())?;
        let target = &mut config.target;
        if let Some(url) = &self.base_url {
            target.base_url = Some(url.clone());
            target.image = None;
        } else if let Some(image) = &self.image {
            target.base_url = None;
            target.image = Some(image.clone());
        }
        target.faults.extend(self.faults.iter().cloned());
        Ok(config)
    }
}

fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

/// Run the parsed command; returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Load(args) => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(load(*args)),
            Err(e) => error(format!("cannot start the async runtime: {e}")),
        },
        Command::Merge(args) => merge(&args),
        Command::Report(args) => report(&args),
        Command::Compare(args) => compare(&args),
        Command::History(args) => history(args),
        Command::Image(args) => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(image(args)),
            Err(e) => error(format!("cannot start the async runtime: {e}")),
        },
    }
}

async fn image(args: ImageArgs) -> ExitCode {
    let binary = match std::env::current_exe() {
        Ok(b) => b,
        Err(e) => return error(format!("cannot find this goldenpath executable: {e}")),
    };
    let config = args.config.or_else(|| {
        let default = PathBuf::from("goldenpath.toml");
        default.is_file().then_some(default)
    });
    let spec = goldenpath::provision::HarnessImage {
        tag: args.tag,
        binary,
        features: args.features,
        config,
    };
    match goldenpath::provision::build_harness_image(&spec).await {
        Ok(tag) => {
            println!("{tag}");
            ExitCode::SUCCESS
        }
        Err(e) => error(e),
    }
}

fn merge(args: &MergeArgs) -> ExitCode {
    let opts = goldenpath::load::MergeOptions {
        inputs: args.inputs.clone(),
        run_dir: args.run_dir.clone(),
        allow_missing: args.allow_missing,
        wait: args.wait,
    };
    match goldenpath::load::merge(&opts) {
        Ok(outcome) => {
            print!("{}", outcome.text);
            println!("reports: {}", outcome.run_dir.display());
            if outcome.summary.verdict == Verdict::Pass {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FAILED)
            }
        }
        Err(e) => error(e),
    }
}

fn report(args: &ReportArgs) -> ExitCode {
    match goldenpath::report::rebuild(&args.run_dir) {
        Ok(paths) => {
            println!("rebuilt {}", paths.html.display());
            println!("        {}", paths.markdown.display());
            ExitCode::SUCCESS
        }
        Err(e) => error(e),
    }
}

fn history(args: HistoryArgs) -> ExitCode {
    let opts = goldenpath::report::HistoryOptions {
        inputs: args.runs,
        out_dir: args.out,
    };
    match goldenpath::report::history(&opts) {
        Ok(h) => {
            for s in &h.skipped {
                eprintln!("{s}");
            }
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            println!(
                "wrote {} ({} run{} in {} group{})",
                h.html.display(),
                h.runs,
                plural(h.runs),
                h.groups,
                plural(h.groups)
            );
            println!("      {}", h.markdown.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            if let goldenpath::report::ReportError::NoRuns { skipped, .. } = &e {
                for s in skipped {
                    eprintln!("{s}");
                }
            }
            error(e)
        }
    }
}

fn summary_path(path: &std::path::Path) -> PathBuf {
    if path.is_dir() {
        path.join(goldenpath::report::SUMMARY_JSON)
    } else {
        path.to_owned()
    }
}

fn compare(args: &CompareArgs) -> ExitCode {
    let tolerance = match Config::load(args.config.as_deref()) {
        Ok(config) => config.compare,
        Err(e) => return error(e),
    };
    let read = |p: &std::path::Path| goldenpath::report::read_summary(&summary_path(p));
    let (base, current) = match (read(&args.base), read(&args.current)) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) | (_, Err(e)) => return error(e),
    };
    let comparison = goldenpath::report::compare(&base, &current, &tolerance);
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

fn run(args: RunArgs) -> ExitCode {
    let config = match args.target.config() {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    let mut opts = RunOptions::new(config);
    opts.features = args.features;
    opts.tags = args.tags;
    opts.reports_dir = args.reports;
    opts.concurrency = args.concurrency;
    opts.retries = args.retries;
    opts.command_line = command_line();
    goldenpath::run_main(opts)
}

async fn load(args: LoadArgs) -> ExitCode {
    let config = match args.target.config() {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    let split = match Split::of(&args) {
        Ok(s) => s,
        Err(e) => return error(e),
    };
    let run_dir = args
        .run_dir
        .clone()
        .unwrap_or_else(|| split.run_dir(&args.reports));
    let provenance = Provenance {
        command_line: command_line(),
        repository: std::env::current_dir().ok(),
        config_toml: toml::to_string(&config).unwrap_or_default(),
    };
    let mut load_config = config.load;
    if let Some(url) = &args.prometheus_remote_write {
        match &mut load_config.prometheus {
            Some(p) => p.remote_write_url = url.clone(),
            None => load_config.prometheus = Some(goldenpath::load::PrometheusConfig::new(url)),
        }
    }
    let mut opts = LoadRunOptions::new(config.contract, config.target, load_config, run_dir);
    let load = &mut opts.load;
    load.features = args.features;
    load.tags = args.tags;
    load.profile = args.profile;
    load.users = args.users;
    load.ramp_up = args.ramp_up;
    load.duration = args.duration;
    load.iterations = args.iterations;
    load.rate = args.rate;
    load.max_users = args.max_users;
    load.restart_at = args.restart_at;
    load.workers = args.workers;
    load.progress = ProgressMode::Auto;
    load.shard = split.shard;
    load.run_id = split.run_id.clone();
    load.start_at = split.start_at;
    opts.provenance = provenance;
    opts.handle_interrupts = true;
    let sharded = split.shard.is_split();
    match goldenpath::load::run::<GoldenWorld>(opts).await {
        // A shard's own figures are a part of the run: `merge` judges the whole, and a
        // shard that exited 1 would fail an Indexed Job and stop its sibling shards.
        Ok(_) if sharded => {
            println!(
                "shard {}: results written; the run's verdict is `goldenpath merge`'s",
                split.shard
            );
            ExitCode::SUCCESS
        }
        Ok(outcome) => {
            if outcome.thresholds_passed && outcome.summary.verdict == Verdict::Pass {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FAILED)
            }
        }
        Err(e) => error(e),
    }
}

/// How a load run is split: the shard, the shared run id and start instant.
struct Split {
    shard: goldenpath::load::Shard,
    run_id: Option<String>,
    start_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Split {
    fn of(args: &LoadArgs) -> Result<Split, String> {
        use goldenpath::load::shard;
        let shard = goldenpath::load::Shard::from_flags_or_env(args.shard, args.shards, |k| {
            std::env::var(k).ok()
        })?;
        let run_id = args.run_id.clone().filter(|id| !id.trim().is_empty());
        if shard.is_split() && run_id.is_none() {
            return Err(format!(
                "shard {shard} needs the run id every shard shares: give --run-id or {}",
                shard::RUN_ID_ENV
            ));
        }
        if let Some(id) = &run_id
            && (id.contains('/') || id.contains('\\') || id == "." || id == "..")
        {
            return Err(format!(
                "--run-id {id:?} must be usable as a directory name"
            ));
        }
        let start_at = match args.start_at.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(shard::parse_start_at(s)?),
            None => run_id.as_deref().and_then(shard::start_named_by),
        };
        Ok(Split {
            shard,
            run_id,
            start_at,
        })
    }

    /// reports/<run-id>/ for a whole run, reports/<run-id>/shard-<I>/ for a shard.
    fn run_dir(&self, reports: &std::path::Path) -> PathBuf {
        let id = self
            .run_id
            .clone()
            .unwrap_or_else(goldenpath::provision::new_run_id);
        if self.shard.is_split() {
            reports.join(id).join(format!("shard-{}", self.shard.index))
        } else {
            reports.join(id)
        }
    }
}
