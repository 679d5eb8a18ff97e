//! `goldenpath run`: preflight the features, provision the stacks, run cucumber with
//! the terminal, JUnit, Cucumber JSON and recording writers, and write the reports.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use cucumber::gherkin;
use cucumber::tag::Ext as _;
use cucumber::writer::{self, Ext as _};
use cucumber::{World as _, cli, parser};
use futures_util::stream;

use super::context::{RunContext, StackFactory};
use super::preflight::{self, PreflightError};
use super::recorder::{Record, Recorder};
use super::target::{StackTarget, TargetError};
use super::world::GoldenWorld;
use crate::config::Config;
use crate::provision::{self, ImageSource, ProvisionError};
use crate::summary::{Environment, RunKind, RunSummary, SCHEMA_VERSION, Status, Verdict};

/// Which stack a run targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetChoice {
    /// Build the reference stack's image from this workspace and start it.
    Reference,
    /// Start this locally available image.
    Image(String),
    /// Talk to a stack that is already running.
    BaseUrl(String),
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Feature files or directories.
    pub features: Vec<PathBuf>,
    /// A cucumber tag expression, e.g. `@golden and not @slow`.
    pub tags: Option<String>,
    /// Only scenarios with these exact names (all when empty).
    pub scenario_names: Vec<String>,
    pub target: TargetChoice,
    /// Seeded faults for the stacks goldenpath starts (added to `target.faults`).
    pub faults: Vec<String>,
    pub config: Config,
    /// Where `reports/<run-id>/` goes.
    pub reports_dir: PathBuf,
    /// How many scenarios run at once.
    pub concurrency: usize,
    /// Print cucumber's progress on stdout.
    pub progress: bool,
    /// The command line, for the report.
    pub command_line: String,
}

impl RunOptions {
    pub fn new(config: Config) -> Self {
        Self {
            features: vec![PathBuf::from("features")],
            tags: None,
            scenario_names: Vec::new(),
            target: TargetChoice::Reference,
            faults: Vec::new(),
            config,
            reports_dir: PathBuf::from("reports"),
            concurrency: 8,
            progress: true,
            command_line: std::env::args().collect::<Vec<_>>().join(" "),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("invalid tag expression {expr:?}: {message}")]
    Tags { expr: String, message: String },
    #[error("cannot reach the stack at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("cannot write the reports in {}: {source}", path.display())]
    Reports { path: PathBuf, source: io::Error },
}

/// What a run leaves behind.
#[derive(Debug)]
pub struct RunOutcome {
    pub run_dir: PathBuf,
    pub summary: RunSummary,
}

impl RunOutcome {
    pub fn passed(&self) -> bool {
        self.summary.verdict == Verdict::Pass
    }
}

/// A parser that hands cucumber features goldenpath has already parsed and checked.
struct Preparsed;

impl parser::Parser<Vec<gherkin::Feature>> for Preparsed {
    type Cli = cli::Empty;
    type Output = stream::Iter<std::vec::IntoIter<parser::Result<gherkin::Feature>>>;

    fn parse(self, input: Vec<gherkin::Feature>, _: cli::Empty) -> Self::Output {
        stream::iter(input.into_iter().map(Ok).collect::<Vec<_>>())
    }
}

/// Scenarios that restart or saturate their stack get a stack of their own.
pub fn needs_own_stack(
    feature: &gherkin::Feature,
    rule: Option<&gherkin::Rule>,
    scenario: &gherkin::Scenario,
) -> bool {
    feature
        .tags
        .iter()
        .chain(rule.iter().flat_map(|r| &r.tags))
        .chain(&scenario.tags)
        .any(|t| t == "restart" || t == "own-stack")
}

/// Run the acceptance features once.
pub async fn run(opts: RunOptions) -> Result<RunOutcome, RunError> {
    let started_at = chrono::Utc::now();
    let features = preflight::check::<GoldenWorld>(&opts.features)?;
    let tags = opts
        .tags
        .as_deref()
        .map(|expr| {
            expr.parse::<gherkin::tagexpr::TagOperation>()
                .map_err(|e| RunError::Tags {
                    expr: expr.to_owned(),
                    message: e.to_string(),
                })
        })
        .transpose()?;

    let run_id = provision::new_run_id();
    let run_dir = opts.reports_dir.join(&run_id);
    std::fs::create_dir_all(run_dir.join("logs")).map_err(|source| RunError::Reports {
        path: run_dir.clone(),
        source,
    })?;

    let (context, environment) = provision_run(&opts, &run_id, &run_dir).await?;
    let record = context.record.clone();

    let junit = create(&run_dir.join("junit.xml"))?;
    let json = create(&run_dir.join("cucumber.json"))?;
    let out: Box<dyn io::Write> = if opts.progress {
        Box::new(io::stdout())
    } else {
        Box::new(io::sink())
    };
    let writer = writer::Basic::raw(out, writer::Coloring::Auto, 0)
        .summarized()
        .tee::<GoldenWorld, _>(writer::JUnit::for_tee(junit, 0))
        .tee::<GoldenWorld, _>(writer::Json::for_tee(json))
        .tee::<GoldenWorld, _>(
            Recorder::new(record.clone())
                .discard_stats_writes()
                .discard_arbitrary_writes(),
        )
        .normalized();

    let before_ctx = context.clone();
    let after_ctx = context.clone();
    let cucumber = GoldenWorld::cucumber::<&str>()
        .with_parser(Preparsed)
        .with_writer(writer)
        .with_cli(cli::Opts::<_, _, _, cli::Empty>::default())
        .max_concurrent_scenarios(opts.concurrency.max(1))
        .before(move |feature, rule, scenario, world| {
            let ctx = before_ctx.clone();
            let own = needs_own_stack(feature, rule, scenario);
            Box::pin(async move { world.bind(ctx, own).await })
        })
        .after(move |feature, _rule, scenario, finished, world| {
            let ctx = after_ctx.clone();
            Box::pin(async move {
                let failed = !matches!(finished, cucumber::event::ScenarioFinished::StepPassed);
                if let Some(world) = world {
                    if failed {
                        ctx.attach_log_tail(world.stack(), feature, scenario).await;
                    }
                    world.release().await;
                }
            })
        });

    let names = opts.scenario_names.clone();
    let filter = move |feature: &gherkin::Feature,
                       rule: Option<&gherkin::Rule>,
                       scenario: &gherkin::Scenario| {
        let named = names.is_empty() || names.contains(&scenario.name);
        named
            && tags.as_ref().is_none_or(|t| {
                t.eval(
                    feature
                        .tags
                        .iter()
                        .chain(rule.iter().flat_map(|r| &r.tags))
                        .chain(&scenario.tags),
                )
            })
    };

    // Ctrl-C / SIGTERM: write what was recorded so far, then provisioning removes the
    // stacks and exits (see `provision::cleanup`).
    let partial = Partial {
        run_id: run_id.clone(),
        started_at,
        environment: environment.clone(),
        record: record.clone(),
        run_dir: run_dir.clone(),
    };
    provision::on_interrupt(Box::new(move || {
        Box::pin(async move {
            match partial.write(true) {
                Ok(()) => eprintln!(
                    "goldenpath: partial results in {}",
                    partial.run_dir.display()
                ),
                Err(e) => eprintln!("goldenpath: {e}"),
            }
        })
    }));

    cucumber.filter_run(features, filter).await;
    if provision::shutting_down() {
        // The signal handler writes the partial results, removes the stacks and exits.
        std::future::pending::<()>().await;
    }
    provision::clear_interrupt_hook();

    if let Err(e) = context.shared.clone().shutdown().await {
        tracing::warn!("removing the shared stack: {e}");
    }
    drop(context);

    let partial = Partial {
        run_id,
        started_at,
        environment,
        record,
        run_dir,
    };
    partial.write(false)?;
    let summary = partial.summary(false);
    Ok(RunOutcome {
        run_dir: partial.run_dir,
        summary,
    })
}

/// Everything needed to write the reports of a run, finished or not.
struct Partial {
    run_id: String,
    started_at: chrono::DateTime<chrono::Utc>,
    environment: Environment,
    record: Record,
    run_dir: PathBuf,
}

impl Partial {
    fn summary(&self, interrupted: bool) -> RunSummary {
        summarize(
            &self.run_id,
            self.started_at,
            self.environment.clone(),
            &self.record,
            interrupted,
        )
    }

    fn write(&self, interrupted: bool) -> Result<(), RunError> {
        crate::report::write_reports(&self.run_dir, &self.summary(interrupted))
            .map(|_| ())
            .map_err(|e| RunError::Reports {
                path: self.run_dir.clone(),
                source: io::Error::other(e.to_string()),
            })
    }
}

/// Make the run's stacks ready: check a running one is reachable, or build (or find)
/// the image and start the shared stack. Shared by acceptance and load runs.
pub async fn provision_run(
    opts: &RunOptions,
    run_id: &str,
    run_dir: &Path,
) -> Result<(Arc<RunContext>, Environment), RunError> {
    let config = Arc::new(opts.config.clone());
    let mut faults = config.target.faults.clone();
    faults.extend(opts.faults.iter().cloned());

    let mut environment = environment(opts, &config, &faults);
    let (shared, factory) = match &opts.target {
        TargetChoice::BaseUrl(url) => {
            check_reachable(url, &config).await?;
            (StackTarget::external(url), None)
        }
        choice => {
            let source = match choice {
                TargetChoice::Image(image) => ImageSource::Prebuilt(image.clone()),
                _ => ImageSource::Reference,
            };
            let image = provision::ensure_image(&source).await?;
            environment.image = Some(image.reference());
            let factory = StackFactory::new(image, &config, &faults, run_id);
            let shared = factory.start().await?;
            (shared, Some(factory))
        }
    };
    environment.base_url = Some(shared.base_url());
    let client =
        crate::client::StackClient::new(&shared.base_url(), config.clone()).map_err(|e| {
            RunError::Unreachable {
                url: shared.base_url(),
                detail: e.to_string(),
            }
        })?;
    let context = Arc::new(RunContext {
        client,
        config,
        shared,
        factory,
        record: Record::default(),
        run_dir: run_dir.to_owned(),
    });
    Ok((context, environment))
}

fn create(path: &Path) -> Result<std::fs::File, RunError> {
    std::fs::File::create(path).map_err(|source| RunError::Reports {
        path: path.to_owned(),
        source,
    })
}

/// Any HTTP answer from the health path will do: a stack that answers 500 is
/// reachable, and the features say what is wrong with it.
async fn check_reachable(url: &str, config: &Arc<Config>) -> Result<(), RunError> {
    let unreachable = |e: crate::client::ClientError| RunError::Unreachable {
        url: url.to_owned(),
        detail: match e {
            crate::client::ClientError::Unreachable { reason, .. } => reason,
            other => other.to_string(),
        },
    };
    let client = crate::client::StackClient::new(url, config.clone()).map_err(unreachable)?;
    client
        .send(crate::client::RawRequest::get(config.paths.health.as_str()))
        .await
        .map(drop)
        .map_err(unreachable)
}

fn environment(opts: &RunOptions, config: &Config, faults: &[String]) -> Environment {
    Environment {
        goldenpath_version: env!("CARGO_PKG_VERSION").to_owned(),
        git_commit: git_commit(),
        target_kind: match opts.target {
            TargetChoice::BaseUrl(_) => "base_url",
            _ => "image",
        }
        .to_owned(),
        image: match &opts.target {
            TargetChoice::Image(i) => Some(i.clone()),
            _ => None,
        },
        image_id: None,
        base_url: None,
        faults: faults.to_vec(),
        hostname: hostname(),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        config_toml: toml::to_string(config).unwrap_or_default(),
        command_line: opts.command_line.clone(),
    }
}

/// The commit goldenpath runs from, when it runs from a git checkout.
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn summarize(
    run_id: &str,
    started_at: chrono::DateTime<chrono::Utc>,
    environment: Environment,
    record: &Record,
    interrupted: bool,
) -> RunSummary {
    let features = record.features();
    let scenarios: Vec<_> = features.iter().flat_map(|f| &f.scenarios).collect();
    let failed = scenarios
        .iter()
        .filter(|s| s.status == Status::Failed)
        .count();
    let skipped = scenarios
        .iter()
        .filter(|s| s.status == Status::Skipped)
        .count();
    let mut reasons = Vec::new();
    if interrupted {
        reasons.push("the run was interrupted before every scenario had run".to_owned());
    }
    if scenarios.is_empty() {
        reasons.push("no scenario ran (check the feature paths and --tags)".to_owned());
    }
    for err in record.parse_errors() {
        reasons.push(format!("a feature file did not parse: {err}"));
    }
    if failed > 0 {
        reasons.push(format!("{failed} of {} scenarios failed", scenarios.len()));
    }
    if skipped > 0 {
        reasons.push(format!("{skipped} scenarios were skipped"));
    }
    let verdict = if reasons.is_empty() {
        reasons.push(format!("all {} scenarios passed", scenarios.len()));
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    RunSummary {
        schema_version: SCHEMA_VERSION,
        run_id: run_id.to_owned(),
        kind: RunKind::Acceptance,
        verdict,
        reasons,
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        finished_at: chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        environment,
        features,
        load: None,
    }
}
