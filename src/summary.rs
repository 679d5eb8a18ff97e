//! The machine-readable record of one run: what `reports/<run-id>/summary.json` holds.
//!
//! Every sink that outlives a run reads this one model: the HTML report, `summary.md`,
//! `goldenpath report` (rebuilds from it) and `goldenpath compare` (diffs two of them).
//! Its JSON Schema is committed at `schemas/summary.schema.json` and a test validates
//! real outputs against it. Durations are microseconds unless the field name says otherwise.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Bump when a field changes meaning or disappears; adding optional fields does not.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole record of one run, serialized as `summary.json` in the run directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct RunSummary {
    /// Schema version the file was written with (`SCHEMA_VERSION` at the time).
    pub schema_version: u32,
    /// Name of the run directory under `reports/`, which identifies the run.
    pub run_id: String,
    /// Acceptance (feature files) or load run.
    pub kind: RunKind,
    /// `PASS` or `FAIL` for the run as a whole.
    pub verdict: Verdict,
    /// Why the verdict is what it is, one sentence each ("3 scenarios failed", "p95 of
    /// step X is 412 ms, rule p95 < 300ms").
    pub reasons: Vec<String>,
    /// When the run started, RFC 3339 UTC with milliseconds.
    pub started_at: String,
    /// When the run finished (or was interrupted), RFC 3339 UTC with milliseconds.
    pub finished_at: String,
    /// Where and with what the run was made.
    pub environment: Environment,
    /// Acceptance results: features → scenarios → steps. Empty for a pure load run.
    pub features: Vec<FeatureResult>,
    /// Present for load runs.
    pub load: Option<LoadResult>,
    /// What happened to the stack during the run that a reader should know beside the
    /// verdict: a restart nobody asked for, an outage and how long it lasted, a stack
    /// that never came back. Empty when nothing of the kind happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl RunSummary {
    /// Every scenario of every feature, in order.
    pub fn scenarios(&self) -> impl Iterator<Item = &ScenarioResult> {
        self.features.iter().flat_map(|f| &f.scenarios)
    }
}

/// Which kind of run a summary records.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// Feature files run once each, scenario by scenario (`goldenpath run`).
    Acceptance,
    /// Scenarios repeated by virtual users under a load model (`goldenpath load`).
    Load,
}

/// The outcome of a run, serialized in upper case (`PASS`, `FAIL`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Every check held (acceptance: every scenario passed; load: every threshold passed,
    /// any restart came back, nothing was cut short).
    Pass,
    /// At least one reason in `RunSummary::reasons` says what went wrong.
    Fail,
    /// A merged load run with shards missing (`goldenpath merge --allow-missing`): the
    /// figures cover only the shards that were there; nothing to sign off.
    Incomplete,
}

impl Verdict {
    /// The word every report shows, as `summary.json` spells it: `PASS`, `FAIL`,
    /// `INCOMPLETE`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Incomplete => "INCOMPLETE",
        }
    }
}

/// What was tested, where, by what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, JsonSchema)]
pub struct Environment {
    /// Version of the goldenpath crate that made the run (`CARGO_PKG_VERSION`).
    pub goldenpath_version: String,
    /// `git rev-parse HEAD` of the caller's repository; None outside a git checkout.
    pub git_commit: Option<String>,
    /// `image` (a stack goldenpath started) or `base_url` (a stack already running).
    pub target_kind: String,
    /// Image reference (`name:tag`) the stack ran from; None when `target_kind` is `base_url`.
    pub image: Option<String>,
    /// Engine image id (`sha256:...`) of `image`; None when it is not known.
    pub image_id: Option<String>,
    /// Base URL the stack answered on (the shared stack's, for an image run).
    pub base_url: Option<String>,
    /// Seeded faults (`FAULTS` of the reference stack) the target was started with.
    pub faults: Vec<String>,
    /// Host name of the machine that ran goldenpath (`/etc/hostname`, else `unknown`).
    pub hostname: String,
    /// Operating system and architecture of that machine, e.g. `linux x86_64`.
    pub os: String,
    /// Logical CPUs available to goldenpath on that machine.
    pub cpus: usize,
    /// The effective configuration, as TOML text.
    pub config_toml: String,
    /// The command line (or test name) that started the run.
    pub command_line: String,
}

/// Results of one feature file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct FeatureResult {
    /// The feature's title (`Feature:` line).
    pub name: String,
    /// Path of the feature file as given, or the feature's name when it has no path.
    pub path: String,
    /// Its scenarios, in the order they started.
    pub scenarios: Vec<ScenarioResult>,
}

/// Result of one scenario of a feature.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ScenarioResult {
    /// The scenario's title (`Scenario:` line).
    pub name: String,
    /// Line of the `Scenario:` keyword in the feature file (1-based).
    pub line: usize,
    /// Tags of the feature and of the scenario, each with its leading `@`.
    pub tags: Vec<String>,
    /// Failed if any step or hook failed, else skipped if any step was skipped, else passed.
    pub status: Status,
    /// Wall-clock time from the scenario's start to its end, in µs.
    pub duration_us: u64,
    /// Its steps (background first) in the order they ran; a failed hook adds a `Hook` step.
    pub steps: Vec<StepResult>,
    /// Tail of the stack's log, attached when the scenario failed.
    pub stack_log_tail: Option<String>,
    /// Where the full log tail was saved, relative to the run directory.
    pub stack_log_file: Option<String>,
    /// Why the scenario was not run (status `not_run`); absent for every other status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
    /// With `--retries`: every attempt before the last, oldest first (the scenario's own
    /// fields are its last attempt). Empty when it ran once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    /// It failed and then passed on a retry: it counts as passed, and is named as flaky.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flaky: bool,
}

/// One earlier attempt of a retried scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Attempt {
    /// How it ended (failed, for every attempt that was retried).
    pub status: Status,
    /// Its wall-clock time, in µs.
    pub duration_us: u64,
    /// The failing step, keyword and text, or `Hook` for a failed hook.
    pub failed_step: Option<String>,
    /// The failure's message.
    pub error: Option<String>,
}

/// Result of one step of a scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct StepResult {
    /// The step's keyword without surrounding spaces (`Given`, `When`, `Then`, `And`, ...), or
    /// `Hook`.
    pub keyword: String,
    /// The step's text after the keyword.
    pub text: String,
    /// Line of the step in the feature file (1-based).
    pub line: usize,
    /// Whether the step passed, failed or was skipped.
    pub status: Status,
    /// Time from the step's start to its end, in µs (0 for a failed hook).
    pub duration_us: u64,
    /// The failure message (panic text or step error); None unless the step failed.
    pub error: Option<String>,
}

/// Outcome of a scenario or a step.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Ran to completion without a failure.
    Passed,
    /// Failed: an assertion, an error, a panic or a failed hook.
    Failed,
    /// Not run: cucumber found no step definition matching the step's text.
    Skipped,
    /// Not run because it cannot run against this target (it needs the container
    /// engine, and the run targets a stack goldenpath did not start); the scenario's
    /// `not_run` says why.
    NotRun,
}

/// Latency distribution of one measured thing (a step, a whole scenario, an event).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Distribution {
    /// What was measured: `scenario`, a scenario's or step's name, an event type, or `reconnect`.
    pub name: String,
    /// Successful samples in the histogram (failures are not in the percentiles).
    pub count: u64,
    /// Failed samples (steps or iterations), counted apart from the histogram.
    pub errors: u64,
    /// Fastest successful sample, in µs (0 when there is none).
    pub min_us: u64,
    /// Median, in µs (0 when there is no sample).
    pub p50_us: u64,
    /// 90th percentile, in µs.
    pub p90_us: u64,
    /// 95th percentile, in µs.
    pub p95_us: u64,
    /// 99th percentile, in µs.
    pub p99_us: u64,
    /// 99.9th percentile, in µs.
    pub p999_us: u64,
    /// Slowest successful sample, in µs.
    pub max_us: u64,
    /// Arithmetic mean of the successful samples, in µs.
    pub mean_us: f64,
    /// The `.hlog` file holding the full histogram, relative to the run directory.
    pub hlog: Option<String>,
    /// Why this step was not run under load (virtual users leave whole-stack steps
    /// such as a restart to the profile); its figures are then all zero and mean
    /// nothing. Absent for every measured thing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
    /// Agent events only: every event of this type that arrived, repeats within a run
    /// included (an agent that thinks twice counts two). `count` is the runs it arrived
    /// in, and the percentiles time the first of each run. Absent for everything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrences: Option<u64>,
}

/// Outcome of a load run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct LoadResult {
    /// `closed` or `open`.
    pub model: String,
    /// The load profile named on the command line or in the config, if any.
    pub profile: Option<String>,
    /// Closed model: number of virtual users; open model: the most users kept at once.
    pub users: u64,
    /// Open model: target arrival rate, in iterations per second; None for the closed model.
    pub rate_per_s: Option<f64>,
    /// Length of the measured run, in seconds (iterations were started during it).
    pub duration_s: f64,
    /// Iterations that finished (passed or failed) during the run.
    pub iterations: u64,
    /// Iterations (of `iterations`) in which a step failed.
    pub iterations_failed: u64,
    /// Iterations cut short by the end of the graceful stop or by Ctrl-C: neither
    /// passed nor failed, and not in `iterations`.
    #[serde(default)]
    pub iterations_interrupted: u64,
    /// Open model: scheduled iterations that found no free user.
    pub dropped: u64,
    /// Finished iterations per second of measured time.
    pub throughput_per_s: f64,
    /// The whole iteration, all scenarios together.
    pub scenario: Distribution,
    /// The whole iteration of each scenario, in plan order, when the run has several
    /// (empty when `scenario` is the only one).
    #[serde(default)]
    pub scenarios: Vec<Distribution>,
    /// One distribution per planned step, in plan order (only passed steps in the percentiles).
    pub steps: Vec<Distribution>,
    /// One per agent event type: from the execute request to the event's arrival.
    pub events: Vec<Distribution>,
    /// Failures grouped by step and kind, most frequent first.
    pub errors: Vec<ErrorGroup>,
    /// Events delivered to a user that did not start the run (must be 0).
    pub misdelivered_events: u64,
    /// Acknowledged messages missing when read back at the end (must be 0).
    pub lost_messages: u64,
    /// Messages acknowledged during the run (posted messages, execute prompts, agent
    /// answers): what `lost_messages` checks.
    pub acknowledged_messages: u64,
    /// Every threshold rule checked, configured ones plus the implicit correctness rules.
    pub thresholds: Vec<ThresholdResult>,
    /// One point per second.
    pub timeline: Vec<TimelinePoint>,
    /// What the backend restart under load cost; None when no restart was requested.
    pub restart: Option<RestartWindow>,
    /// This run is one shard of a split run (`goldenpath load --shard I/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// A merged run (`goldenpath merge`): every shard that was merged, by index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardInfo>,
    /// A merged run: the shard indices that were missing (`--allow-missing`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_shards: Vec<u64>,
    /// What was sent to Prometheus during the run (`[load.prometheus]`), when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_write: Option<RemoteWriteResult>,
}

/// Prometheus remote write during a load run: how many pushes got through. Failures
/// never fail the run; they are counted here and named in the notes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct RemoteWriteResult {
    /// The receiver.
    pub url: String,
    /// Pushes the receiver accepted.
    pub pushes_sent: u64,
    /// Pushes it refused or that got no answer in time.
    pub pushes_failed: u64,
    /// Pushes not sent because the previous ones were still queued (a slow receiver).
    pub pushes_dropped: u64,
    /// The last failure, as said.
    pub last_error: Option<String>,
}

/// One shard of a split load run, as it ran.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ShardInfo {
    /// 0-based shard index.
    pub index: u64,
    /// How many shards the run was split into.
    pub count: u64,
    /// The run id every shard of the run shares.
    pub run_id: String,
    /// The shared start instant (RFC 3339), when there was one.
    pub start_at: Option<String>,
    /// When this shard's schedule started (RFC 3339, milliseconds).
    pub started_schedule_at: String,
    /// How far behind the shared start this shard's schedule began.
    pub lateness_ms: u64,
    /// The host the shard ran on.
    pub host: String,
    /// This shard's virtual users (its share of the run's).
    pub users: u64,
    /// Iterations this shard started.
    pub iterations: u64,
    /// Of those, failed.
    pub iterations_failed: u64,
}

/// One kind of failure seen during a load run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ErrorGroup {
    /// Where and what: `<step name>: <error class>`, or `iteration: <error class>`.
    pub kind: String,
    /// How many times it happened.
    pub count: u64,
    /// The message of the first occurrence.
    pub example: String,
}

/// One threshold rule checked at the end of a load run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ThresholdResult {
    /// The rule as written in the config, e.g. `p95 < 300ms`.
    pub rule: String,
    /// What it applies to: `global` or a step name.
    pub scope: String,
    /// The value measured for the rule, as text (e.g. `412ms`), or why it could not be measured.
    pub measured: String,
    /// Whether the measured value satisfies the rule.
    pub passed: bool,
}

/// One second of a load run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct TimelinePoint {
    /// Seconds since the start of the measured run.
    pub t_s: f64,
    /// Iterations that finished in that second.
    pub iterations: u64,
    /// Iterations that failed in that second.
    pub errors: u64,
    /// Median iteration time in that second, in µs (0 without a passed iteration).
    pub p50_us: u64,
    /// 95th percentile iteration time in that second, in µs.
    pub p95_us: u64,
    /// 99th percentile iteration time in that second, in µs.
    pub p99_us: u64,
}

/// A backend restart requested during a load run, and what it cost.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct RestartWindow {
    /// Seconds since the start of the run when the restart was requested.
    pub requested_at_s: f64,
    /// When `/health` answered again with a new boot id.
    pub back_at_s: Option<f64>,
    /// Time from the request until `/health` answered with a new boot id, in ms; None when it never
    /// came back.
    pub downtime_ms: Option<u64>,
    /// Steps that failed between the request and the end of the window (the last reconnect, or the
    /// end of the run).
    pub failed_requests: u64,
    /// Time of each user's reconnect, from the request until it worked again; None when no user
    /// reconnected.
    pub reconnect: Option<Distribution>,
    /// Acknowledged messages missing when read back at the end of the run (the same count as
    /// `LoadResult::lost_messages`).
    pub lost_messages: u64,
}
