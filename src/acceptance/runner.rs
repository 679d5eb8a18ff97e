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

use super::not_run::{self, NotRun};
use super::recorder::{Record, Recorder, feature_key};
use super::retries;
use super::sharing::SharedStack;
use super::world::GoldenWorld;
use crate::config::Config;
use crate::provision;
use crate::session::{self, PreflightError, Provenance, StackTarget, StartError, preflight};
use crate::summary::{Environment, RunKind, RunSummary, SCHEMA_VERSION, Status, Verdict};

/// How many lines of the stack's log a failed scenario keeps.
const LOG_TAIL_LINES: usize = 200;

/// What an acceptance run does: which features, which scenarios, against which stack
/// (`config.target`), where the reports go.
///
/// Nothing here is read from the process (arguments, signals): the binary fills
/// `command_line` and sets `handle_interrupts`; a library caller decides for itself.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Feature files or directories.
    pub features: Vec<PathBuf>,
    /// A cucumber tag expression, e.g. `@golden and not @slow`.
    pub tags: Option<String>,
    /// Only scenarios with these exact names (all when empty).
    pub scenario_names: Vec<String>,
    /// The contract and the target (`config.target`: base URL, image, faults, env).
    pub config: Config,
    /// Where `reports/<run-id>/` goes.
    pub reports_dir: PathBuf,
    /// How many scenarios run at once.
    pub concurrency: usize,
    /// Print cucumber's progress on stdout.
    pub progress: bool,
    /// Run a failed scenario again, on a fresh World, up to this many times (0: never).
    /// One that fails and then passes counts as passed, and every report names it as
    /// flaky with each attempt's failure.
    pub retries: usize,
    /// The command line (or test name), for the report. Empty unless the caller sets it.
    pub command_line: String,
    /// The repository whose commit the report names (default: the working directory,
    /// which under `cargo test` is the caller's crate).
    pub repository: Option<PathBuf>,
    /// On Ctrl-C / SIGTERM: write the results so far, remove the run's stacks, and exit
    /// the process (130 / 143). Off by default: a library call installs no signal
    /// handler unless asked ([`crate::run_main`] asks).
    pub handle_interrupts: bool,
}

impl RunOptions {
    /// Options for `features/` against `config.target`, reports in `reports/`.
    pub fn new(config: Config) -> Self {
        Self {
            features: vec![PathBuf::from("features")],
            tags: None,
            scenario_names: Vec::new(),
            config,
            reports_dir: PathBuf::from("reports"),
            concurrency: 8,
            progress: true,
            retries: 0,
            command_line: String::new(),
            repository: std::env::current_dir().ok(),
            handle_interrupts: false,
        }
    }

    /// What the report records about who ran this.
    pub(crate) fn provenance(&self) -> Provenance {
        Provenance {
            command_line: self.command_line.clone(),
            repository: self.repository.clone(),
            config_toml: toml::to_string(&self.config).unwrap_or_default(),
        }
    }
}

/// Why an acceptance run could not start or finish. Every variant is exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A feature file is missing or malformed, or a step has no definition.
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    /// The stack could not be started or reached.
    #[error(transparent)]
    Start(Box<StartError>),
    /// `--tags` is not a tag expression.
    #[error("invalid tag expression {expr:?}: {message}")]
    Tags {
        /// The expression given.
        expr: String,
        /// The parser's complaint.
        message: String,
    },
    /// The run directory could not be written.
    #[error("cannot write the reports in {}: {source}", path.display())]
    Reports {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

impl From<StartError> for RunError {
    fn from(e: StartError) -> Self {
        RunError::Start(Box::new(e))
    }
}

/// What a run leaves behind.
#[derive(Debug)]
pub struct RunOutcome {
    /// `reports/<run-id>/`, holding every report.
    pub run_dir: PathBuf,
    /// The results, as `summary.json` holds them.
    pub summary: RunSummary,
}

impl RunOutcome {
    /// Whether every scenario passed.
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

/// Scenarios that restart or saturate their stack get a stack of their own (and,
/// against a stack goldenpath did not start, run alone on it).
fn needs_own_stack(
    feature: &gherkin::Feature,
    rule: Option<&gherkin::Rule>,
    scenario: &gherkin::Scenario,
) -> bool {
    has_tag(feature, rule, scenario, "restart") || has_tag(feature, rule, scenario, "own-stack")
}

/// Whether the scenario, its rule or its feature carries `@tag`.
fn has_tag(
    feature: &gherkin::Feature,
    rule: Option<&gherkin::Rule>,
    scenario: &gherkin::Scenario,
    tag: &str,
) -> bool {
    feature
        .tags
        .iter()
        .chain(rule.iter().flat_map(|r| &r.tags))
        .chain(&scenario.tags)
        .any(|t| t == tag)
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

    let (context, environment) = session::start(
        &opts.config.contract,
        &opts.config.target,
        &opts.provenance(),
        &run_id,
        &run_dir,
    )
    .await?;
    let record = Record::default();

    let json = create(&run_dir.join("cucumber.json"))?;
    let out: Box<dyn io::Write> = if opts.progress {
        Box::new(io::stdout())
    } else {
        Box::new(io::sink())
    };
    let writer = writer::Basic::raw(out, writer::Coloring::Auto, 0)
        .summarized()
        .tee::<GoldenWorld, _>(writer::Json::for_tee(json))
        .tee::<GoldenWorld, _>(
            Recorder::new(record.clone())
                .discard_stats_writes()
                .discard_arbitrary_writes(),
        )
        .normalized();

    let sharing = Arc::new(SharedStack::new(context.clone()).await);
    let before_ctx = context.clone();
    let before_sharing = sharing.clone();
    let after_sharing = sharing.clone();
    let after_record = record.clone();
    let after_dir = run_dir.clone();
    let managed = context.factory.is_some();
    let cucumber = GoldenWorld::cucumber::<&str>()
        .with_parser(Preparsed)
        .with_writer(writer)
        .with_cli(cli::Opts::<_, _, _, cli::Empty>::default())
        .max_concurrent_scenarios(opts.concurrency.max(1))
        .retries((opts.retries > 0).then_some(opts.retries))
        .before(move |feature, rule, scenario, world| {
            let ctx = before_ctx.clone();
            let sharing = before_sharing.clone();
            let own = needs_own_stack(feature, rule, scenario);
            let key = (feature_key(feature), scenario.position.line);
            Box::pin(async move {
                // On its own stack a scenario disturbs no other; on the shared one, a
                // scenario that would have had its own stack runs alone.
                if !(own && managed)
                    && let Err(reason) = sharing.enter(key, own).await
                {
                    panic!("{reason}");
                }
                world.bind(ctx, own).await;
            })
        })
        .after(move |feature, rule, scenario, finished, world| {
            let (record, run_dir) = (after_record.clone(), after_dir.clone());
            let sharing = after_sharing.clone();
            let own = needs_own_stack(feature, rule, scenario);
            let key = (feature_key(feature), scenario.position.line);
            Box::pin(async move {
                let failed = !matches!(finished, cucumber::event::ScenarioFinished::StepPassed);
                // A restart the scenario made and saw through is no news.
                let restarted_to = world.as_ref().and_then(|w| w.boot_after_restart.clone());
                if let Some(world) = world {
                    if failed {
                        attach_log_tail(&record, &run_dir, world.stack(), feature, scenario).await;
                    }
                    world.release().await;
                }
                if !(own && managed) {
                    sharing
                        .leave(&key, &scenario.name, restarted_to.as_deref())
                        .await;
                }
            })
        });

    let names = opts.scenario_names.clone();
    let selected = move |feature: &gherkin::Feature,
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
    // What cannot run against this target is left out, and recorded as not run.
    let cannot_run = move |feature: &gherkin::Feature,
                           rule: Option<&gherkin::Rule>,
                           scenario: &gherkin::Scenario| {
        (!managed && has_tag(feature, rule, scenario, "engine")).then_some(not_run::NEEDS_ENGINE)
    };
    let mut left_out = Vec::new();
    for feature in &features {
        for (rule, scenario) in not_run::scenarios(feature) {
            if selected(feature, rule, scenario)
                && let Some(reason) = cannot_run(feature, rule, scenario)
            {
                record.add_not_run(feature, rule, scenario, reason);
                left_out.push(NotRun::new(feature, rule, scenario, reason));
            }
        }
    }
    let filter = move |feature: &gherkin::Feature,
                       rule: Option<&gherkin::Rule>,
                       scenario: &gherkin::Scenario| {
        selected(feature, rule, scenario) && cannot_run(feature, rule, scenario).is_none()
    };

    // Ctrl-C / SIGTERM: write what was recorded so far, then provisioning removes the
    // stacks and exits (see `provision::cleanup`).
    let partial = Partial {
        run_id: run_id.clone(),
        started_at,
        environment: environment.clone(),
        record: record.clone(),
        run_dir: run_dir.clone(),
        notes: Notes::Live(sharing.clone()),
    };
    if opts.handle_interrupts {
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
    }

    // The parsed features, for trimming retried scenarios in cucumber.json afterwards.
    let parsed = features.clone();
    cucumber.filter_run(features, filter).await;
    if opts.handle_interrupts {
        if provision::shutting_down() {
            // The signal handler writes the partial results, removes the stacks and exits.
            std::future::pending::<()>().await;
        }
        provision::clear_interrupt_hook();
    }
    let cucumber_json = run_dir.join("cucumber.json");
    not_run::add_to_cucumber_json(&cucumber_json, &left_out)
        .and_then(|()| retries::keep_last_attempts(&cucumber_json, &parsed, &record.features()))
        .map_err(|source| RunError::Reports {
            path: run_dir.clone(),
            source,
        })?;

    let notes = sharing.notes();
    drop(sharing);
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
        notes: Notes::Final(notes),
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
    notes: Notes,
}

/// The notes about the shared stack: still being gathered (a run cut short), or final.
enum Notes {
    Live(Arc<SharedStack>),
    Final(Vec<String>),
}

impl Notes {
    fn get(&self) -> Vec<String> {
        match self {
            Notes::Live(sharing) => sharing.notes(),
            Notes::Final(notes) => notes.clone(),
        }
    }
}

impl Partial {
    fn summary(&self, interrupted: bool) -> RunSummary {
        let mut summary = summarize(
            &self.run_id,
            self.started_at,
            self.environment.clone(),
            &self.record,
            interrupted,
        );
        summary.notes = self.notes.get();
        summary
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

fn create(path: &Path) -> Result<std::fs::File, RunError> {
    std::fs::File::create(path).map_err(|source| RunError::Reports {
        path: path.to_owned(),
        source,
    })
}

/// Save the stack's log tail beside the report and attach it to the scenario.
async fn attach_log_tail(
    record: &Record,
    run_dir: &Path,
    stack: Option<&StackTarget>,
    feature: &gherkin::Feature,
    scenario: &gherkin::Scenario,
) {
    let Some(stack) = stack else { return };
    let Some(tail) = stack.logs_tail(LOG_TAIL_LINES).await else {
        return;
    };
    let stem = feature
        .path
        .as_ref()
        .and_then(|p| p.file_stem())
        .map_or_else(
            || "feature".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
    let file = format!("logs/{stem}-line{}.log", scenario.position.line);
    if let Err(e) = std::fs::write(run_dir.join(&file), &tail) {
        tracing::warn!("saving the stack log of a failed scenario: {e}");
    }
    record.attach_log(feature, scenario, tail, file);
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
    let not_run = scenarios
        .iter()
        .filter(|s| s.status == Status::NotRun)
        .count();
    let ran = scenarios.len() - not_run;
    let mut reasons = Vec::new();
    if interrupted {
        reasons.push("the run was interrupted before every scenario had run".to_owned());
    }
    if ran == 0 {
        reasons.push("no scenario ran (check the feature paths and --tags)".to_owned());
    }
    for err in record.parse_errors() {
        reasons.push(format!("a feature file did not parse: {err}"));
    }
    if failed > 0 {
        reasons.push(format!("{failed} of {ran} scenarios failed"));
    }
    if skipped > 0 {
        reasons.push(format!("{skipped} scenarios were skipped"));
    }
    let flaky: Vec<String> = scenarios
        .iter()
        .filter(|s| s.flaky)
        .map(|s| format!("{:?} ({} failed attempt(s))", s.name, s.attempts.len()))
        .collect();
    let verdict = if reasons.is_empty() {
        reasons.push(format!("all {ran} scenarios passed"));
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    if !flaky.is_empty() {
        reasons.push(format!(
            "{} flaky: passed on a retry after failing: {}",
            flaky.len(),
            flaky.join(", ")
        ));
    }
    if not_run > 0 {
        reasons.push(format!(
            "{not_run} not run: they cannot run against this target (each says why)"
        ));
    }
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
        notes: Vec::new(),
    }
}
