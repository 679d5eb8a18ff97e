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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct RunSummary {
    pub schema_version: u32,
    pub run_id: String,
    pub kind: RunKind,
    pub verdict: Verdict,
    /// Why the verdict is what it is, one sentence each ("3 scenarios failed", "p95 of
    /// step X is 412 ms, rule p95 < 300ms").
    pub reasons: Vec<String>,
    pub started_at: String,
    pub finished_at: String,
    pub environment: Environment,
    /// Acceptance results: features → scenarios → steps. Empty for a pure load run.
    pub features: Vec<FeatureResult>,
    /// Present for load runs.
    pub load: Option<LoadResult>,
}

impl RunSummary {
    /// Every scenario of every feature, in order.
    pub fn scenarios(&self) -> impl Iterator<Item = &ScenarioResult> {
        self.features.iter().flat_map(|f| &f.scenarios)
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Acceptance,
    Load,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Fail,
}

/// What was tested, where, by what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, JsonSchema)]
pub struct Environment {
    pub goldenpath_version: String,
    pub git_commit: Option<String>,
    /// `image` (a stack goldenpath started) or `base_url` (a stack already running).
    pub target_kind: String,
    pub image: Option<String>,
    pub image_id: Option<String>,
    pub base_url: Option<String>,
    pub faults: Vec<String>,
    pub hostname: String,
    pub os: String,
    pub cpus: usize,
    /// The effective configuration, as TOML text.
    pub config_toml: String,
    pub command_line: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct FeatureResult {
    pub name: String,
    pub path: String,
    pub scenarios: Vec<ScenarioResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ScenarioResult {
    pub name: String,
    pub line: usize,
    pub tags: Vec<String>,
    pub status: Status,
    pub duration_us: u64,
    pub steps: Vec<StepResult>,
    /// Tail of the stack's log, attached when the scenario failed.
    pub stack_log_tail: Option<String>,
    /// Where the full log tail was saved, relative to the run directory.
    pub stack_log_file: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct StepResult {
    pub keyword: String,
    pub text: String,
    pub line: usize,
    pub status: Status,
    pub duration_us: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
}

/// Latency distribution of one measured thing (a step, a whole scenario, an event).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Distribution {
    pub name: String,
    pub count: u64,
    pub errors: u64,
    pub min_us: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
    /// The `.hlog` file holding the full histogram, relative to the run directory.
    pub hlog: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct LoadResult {
    /// `closed` or `open`.
    pub model: String,
    pub profile: Option<String>,
    pub users: u64,
    pub rate_per_s: Option<f64>,
    pub duration_s: f64,
    pub iterations: u64,
    pub iterations_failed: u64,
    /// Iterations cut short by the end of the graceful stop or by Ctrl-C: neither
    /// passed nor failed, and not in `iterations`.
    #[serde(default)]
    pub iterations_interrupted: u64,
    /// Open model: scheduled iterations that found no free user.
    pub dropped: u64,
    pub throughput_per_s: f64,
    /// The whole iteration, all scenarios together.
    pub scenario: Distribution,
    /// The whole iteration of each scenario, in plan order, when the run has several
    /// (empty when `scenario` is the only one).
    #[serde(default)]
    pub scenarios: Vec<Distribution>,
    pub steps: Vec<Distribution>,
    pub events: Vec<Distribution>,
    pub errors: Vec<ErrorGroup>,
    /// Events delivered to a user that did not start the run (must be 0).
    pub misdelivered_events: u64,
    /// Acknowledged messages missing when read back at the end (must be 0).
    pub lost_messages: u64,
    pub acknowledged_messages: u64,
    pub thresholds: Vec<ThresholdResult>,
    /// One point per second.
    pub timeline: Vec<TimelinePoint>,
    pub restart: Option<RestartWindow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ErrorGroup {
    pub kind: String,
    pub count: u64,
    pub example: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ThresholdResult {
    /// The rule as written in the config, e.g. `p95 < 300ms`.
    pub rule: String,
    /// What it applies to: `global` or a step name.
    pub scope: String,
    pub measured: String,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct TimelinePoint {
    /// Seconds since the start of the measured run.
    pub t_s: f64,
    pub iterations: u64,
    pub errors: u64,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct RestartWindow {
    /// Seconds since the start of the run when the restart was requested.
    pub requested_at_s: f64,
    /// When `/health` answered again with a new boot id.
    pub back_at_s: Option<f64>,
    pub downtime_ms: Option<u64>,
    pub failed_requests: u64,
    pub reconnect: Option<Distribution>,
    pub lost_messages: u64,
}
