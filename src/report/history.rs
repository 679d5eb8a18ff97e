//! `goldenpath history`: many runs on one page. Reads the `summary.json` of every run
//! directory it is given (or of every run in a directory of runs, such as `reports/`) and
//! writes `history.html` (self-contained, as `report.html`) and `history.md`.
//!
//! What it shows, per group of comparable runs: the verdict of each run and the pass
//! rate; for acceptance runs, every scenario's outcome in every run (passed, failed,
//! flaky, skipped, not run, absent) and which scenarios fail now and then; for load runs,
//! each threshold's result per run and trend charts over the runs (latency percentiles of
//! the whole iteration, of each step and agent event, throughput, error rate, restart
//! downtime, lost and misdelivered counts) with the latency, error-rate and throughput
//! thresholds drawn in.
//!
//! Invariants:
//! - **Comparable runs only.** A group is (kind, a fingerprint of the effective
//!   configuration `environment.config_toml`, and for load runs the model, profile and
//!   users, or the rate of an open model); two groups never share a grid or a chart.
//! - **One column per run.** Within a group runs are ordered by `started_at`, oldest first,
//!   and numbered `#1…#n`; the n-th grid column and the n-th chart point are the same run.
//!   A run found twice (a copied run directory) counts once.
//! - **Nothing unreadable is fatal.** A directory that cannot be read, has no
//!   `summary.json`, a malformed one or another `schema_version` is skipped with its reason
//!   (returned in [`History::skipped`] and written in the page's notes). Only finding no
//!   readable run at all ([`ReportError::NoRuns`]) and I/O on the output are errors.
//! - **Bounded page.** The page grows with runs × (scenarios + steps); failure messages
//!   are cut to one line each and share one budget, so 60 runs stay well under 2 MB.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

use super::format::{count, duration_us, first_line, ms, percent};
use super::markdown::{code, text};
use super::svg::{Chart, Reference, Series, XAxis};
use super::{ReportError, SUMMARY_JSON, write_atomic};
use crate::summary::{
    Distribution, LoadResult, RunKind, RunSummary, SCHEMA_VERSION, ScenarioResult, Status, Verdict,
};

/// File name of the history page, in the output directory.
pub const HISTORY_HTML: &str = "history.html";
/// File name of the history's Markdown summary, in the output directory.
pub const HISTORY_MD: &str = "history.md";

const CSS: &str = concat!(include_str!("report.css"), include_str!("history.css"));
/// A failure message in a cell's title is cut to its first line and this many characters…
const MESSAGE_CHARS: usize = 240;
/// …and all of them together to this many bytes; past it a cell names only its status.
const MESSAGE_BUDGET: usize = 512 * 1024;
/// Dots on every point of a trend chart up to this many runs.
const MARKERS_UP_TO: usize = 100;
/// Colour of threshold lines, apart from every series colour and every cell colour.
const THRESHOLD_COLOR: &str = "#bf3989";

/// What [`history`] reads and where it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryOptions {
    /// Run directories (holding a `summary.json`), a `summary.json` itself, or directories
    /// of runs such as `reports/` (each subdirectory with a `summary.json` is a run;
    /// symbolic links such as `reports/latest` are not followed there).
    pub inputs: Vec<PathBuf>,
    /// Where `history.html` and `history.md` are written (created if needed).
    pub out_dir: PathBuf,
}

/// What [`history`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// `<out_dir>/history.html`.
    pub html: PathBuf,
    /// `<out_dir>/history.md`.
    pub markdown: PathBuf,
    /// Runs on the page.
    pub runs: usize,
    /// Groups of comparable runs on the page.
    pub groups: usize,
    /// What was left out, and why (also written in the page's notes).
    pub skipped: Vec<SkippedRun>,
}

/// A directory that [`history`] could not take as a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRun {
    /// The directory (or file) as found.
    pub path: PathBuf,
    /// Why, e.g. `no summary.json` or `summary.json has schema_version 0; ...`.
    pub reason: String,
}

/// One line: `skipped reports/x: no summary.json`.
impl fmt::Display for SkippedRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "skipped {}: {}", self.path.display(), self.reason)
    }
}

/// Reads every run of `opts.inputs` and writes `history.html` and `history.md` into
/// `opts.out_dir`. Fails only when no run could be read or the output cannot be written.
#[tracing::instrument(skip_all, fields(inputs = opts.inputs.len()))]
pub fn history(opts: &HistoryOptions) -> Result<History, ReportError> {
    let found = collect(&opts.inputs, &opts.out_dir);
    if found.runs.is_empty() {
        return Err(ReportError::NoRuns {
            inputs: opts.inputs.clone(),
            skipped: found.skipped,
        });
    }
    let runs = found.runs.len();
    let groups = group(found.runs);
    let mut budget = MESSAGE_BUDGET;
    let views: Vec<GroupView> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| GroupView::of(i, g, &mut budget))
        .collect();
    let page = Page {
        runs,
        views,
        skipped: &found.skipped,
        notes: &found.notes,
    };
    fs::create_dir_all(&opts.out_dir).map_err(|source| ReportError::Write {
        path: opts.out_dir.clone(),
        source,
    })?;
    let html = opts.out_dir.join(HISTORY_HTML);
    write_atomic(&html, render_html(&page).as_bytes())?;
    let markdown = opts.out_dir.join(HISTORY_MD);
    write_atomic(&markdown, render_markdown(&page).as_bytes())?;
    tracing::info!(html = %html.display(), runs, groups = groups.len(), "history written");
    Ok(History {
        html,
        markdown,
        runs,
        groups: groups.len(),
        skipped: found.skipped,
    })
}

/// The message of [`ReportError::NoRuns`].
pub(crate) fn no_runs_message(inputs: &[PathBuf], skipped: &[SkippedRun]) -> String {
    let inputs: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    let mut m = format!(
        "no readable run to make a history of in {}",
        if inputs.is_empty() {
            "no directory at all".to_owned()
        } else {
            inputs.join(", ")
        }
    );
    match skipped.len() {
        0 => m.push_str(" (no run directory with a summary.json was found)"),
        1 => m.push_str(" (1 directory skipped)"),
        n => {
            let _ = write!(m, " ({n} directories skipped)");
        }
    }
    m
}

// ---------------------------------------------------------------------------------------
// Finding and reading runs
// ---------------------------------------------------------------------------------------

struct Run {
    dir: PathBuf,
    summary: RunSummary,
}

struct Found {
    runs: Vec<Run>,
    skipped: Vec<SkippedRun>,
    notes: Vec<String>,
}

fn skip(path: &Path, reason: impl Into<String>) -> SkippedRun {
    SkippedRun {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Whether `dir` holds a `summary.json` (or might: anything but "not found" is left to the
/// read, which then says what is wrong).
fn has_summary(dir: &Path) -> bool {
    match fs::metadata(dir.join(SUMMARY_JSON)) {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// Why a directory without a summary.json has none, as far as can be told.
fn no_summary_reason(dir: &Path) -> String {
    let shards = fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("shard-"))
    });
    if shards {
        "no summary.json (a split run's shards? `goldenpath merge` them into one run)".to_owned()
    } else {
        "no summary.json".to_owned()
    }
}

/// The run directories (or summary files) the inputs name, in the order given and, within
/// a directory of runs, by name.
fn candidates(inputs: &[PathBuf], out_dir: &Path) -> (Vec<PathBuf>, Vec<SkippedRun>) {
    let out = fs::canonicalize(out_dir).ok();
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    for input in inputs {
        let meta = match fs::metadata(input) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                skipped.push(skip(input, "does not exist"));
                continue;
            }
            Err(e) => {
                skipped.push(skip(input, format!("cannot be read: {e}")));
                continue;
            }
        };
        if meta.is_file() {
            if input.file_name().is_some_and(|n| n == SUMMARY_JSON) {
                found.push(input.clone());
            } else {
                skipped.push(skip(input, "not a run directory or a summary.json"));
            }
            continue;
        }
        if has_summary(input) {
            found.push(input.clone());
            continue;
        }
        let entries = match fs::read_dir(input) {
            Ok(e) => e,
            Err(e) => {
                skipped.push(skip(input, format!("cannot read the directory: {e}")));
                continue;
            }
        };
        let mut subdirs: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .filter(|p| out.is_none() || fs::canonicalize(p).ok() != out)
            .collect();
        subdirs.sort();
        let (runs, others): (Vec<PathBuf>, Vec<PathBuf>) =
            subdirs.into_iter().partition(|d| has_summary(d));
        if runs.is_empty() {
            // Not a directory of runs: a run directory that has no results.
            skipped.push(skip(input, no_summary_reason(input)));
            continue;
        }
        found.extend(runs);
        for dir in others {
            // Another history page is not a run that went wrong.
            if !dir.join(HISTORY_HTML).is_file() {
                let reason = no_summary_reason(&dir);
                skipped.push(skip(&dir, reason));
            }
        }
    }
    (found, skipped)
}

/// Reads one run; the error is the reason it is skipped.
fn read_run(path: &Path) -> Result<RunSummary, String> {
    let file = if path.is_file() {
        path.to_owned()
    } else {
        path.join(SUMMARY_JSON)
    };
    let bytes = fs::read(&file).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no summary.json".to_owned(),
        _ => format!("cannot read summary.json: {e}"),
    })?;
    let version_error = |v: u32| {
        format!(
            "summary.json has schema_version {v}; this goldenpath reads version {SCHEMA_VERSION} \
             (rebuild it with the goldenpath that wrote it)"
        )
    };
    match serde_json::from_slice::<RunSummary>(&bytes) {
        Ok(s) if s.schema_version == SCHEMA_VERSION => Ok(s),
        Ok(s) => Err(version_error(s.schema_version)),
        Err(e) => {
            // Another version may not parse as this one: say so rather than "malformed".
            #[derive(serde::Deserialize)]
            struct Probe {
                schema_version: u32,
            }
            match serde_json::from_slice::<Probe>(&bytes) {
                Ok(p) if p.schema_version != SCHEMA_VERSION => Err(version_error(p.schema_version)),
                _ => Err(format!("summary.json is not a goldenpath summary: {e}")),
            }
        }
    }
}

fn collect(inputs: &[PathBuf], out_dir: &Path) -> Found {
    let (paths, mut skipped) = candidates(inputs, out_dir);
    let mut runs: Vec<Run> = Vec::new();
    let mut notes = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for path in paths {
        let summary = match read_run(&path) {
            Ok(s) => s,
            Err(reason) => {
                skipped.push(skip(&path, reason));
                continue;
            }
        };
        let dir = if path.is_file() {
            path.parent().map(Path::to_owned).unwrap_or_default()
        } else {
            path
        };
        match by_id.get(&summary.run_id) {
            Some(&i) => {
                // A copy (`cp -r reports/x reports/baseline`): keep the directory named
                // after the run.
                let named = |d: &Path| d.file_name().is_some_and(|n| *n == *summary.run_id);
                let (kept, dropped) = if named(&dir) && !named(&runs[i].dir) {
                    let old = std::mem::replace(&mut runs[i], Run { dir, summary });
                    (runs[i].dir.clone(), old.dir)
                } else {
                    (runs[i].dir.clone(), dir)
                };
                notes.push(format!(
                    "{} holds the same run as {} (run id {}); counted once",
                    dropped.display(),
                    kept.display(),
                    runs[i].summary.run_id
                ));
            }
            None => {
                by_id.insert(summary.run_id.clone(), runs.len());
                runs.push(Run { dir, summary });
            }
        }
    }
    runs.sort_by(|a, b| start_key(&a.summary).cmp(&start_key(&b.summary)));
    Found {
        runs,
        skipped,
        notes,
    }
}

/// Oldest first: by the parsed start (unparsable ones first), then the text, then the id.
fn start_key(s: &RunSummary) -> (Option<i64>, &str, &str) {
    let t = chrono::DateTime::parse_from_rfc3339(&s.started_at)
        .ok()
        .map(|t| t.timestamp_micros());
    (t, &s.started_at, &s.run_id)
}

// ---------------------------------------------------------------------------------------
// Groups of comparable runs
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupKey {
    kind: RunKind,
    fingerprint: String,
    /// Load runs: `closed model, 1,000 users, profile nightly`; empty for acceptance.
    load: String,
}

struct Group {
    key: GroupKey,
    /// Oldest first.
    runs: Vec<Run>,
}

fn fingerprint(config_toml: &str) -> String {
    let digest = Sha256::digest(config_toml.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

fn load_shape(load: &LoadResult) -> String {
    let mut shape = match (load.model.as_str(), load.rate_per_s) {
        // An open model's users are what it happened to need; its rate is what was asked.
        ("open", Some(rate)) => format!("open model, {} iterations/s", trim(rate)),
        (model, _) => format!("{model} model, {} users", count(load.users)),
    };
    if let Some(p) = &load.profile {
        let _ = write!(shape, ", profile {p}");
    }
    shape
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn group(runs: Vec<Run>) -> Vec<Group> {
    // A handful of groups: a linear search finds a run's.
    let mut groups: Vec<Group> = Vec::new();
    for run in runs {
        let s = &run.summary;
        let key = GroupKey {
            kind: s.kind,
            fingerprint: fingerprint(&s.environment.config_toml),
            load: match (s.kind, &s.load) {
                (RunKind::Load, Some(load)) => load_shape(load),
                _ => String::new(),
            },
        };
        match groups.iter_mut().find(|g| g.key == key) {
            Some(g) => g.runs.push(run),
            None => groups.push(Group {
                key,
                runs: vec![run],
            }),
        }
    }
    // Acceptance first, then load; within a kind the most recently run group first.
    fn newest(g: &Group) -> (Option<i64>, &str, &str) {
        start_key(&g.runs.last().expect("a group has a run").summary)
    }
    groups.sort_by(|a, b| {
        (a.key.kind == RunKind::Load)
            .cmp(&(b.key.kind == RunKind::Load))
            .then_with(|| newest(b).cmp(&newest(a)))
    });
    groups
}

fn kind_word(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Acceptance => "acceptance",
        RunKind::Load => "load",
    }
}

fn target_of(s: &RunSummary) -> String {
    let env = &s.environment;
    match (&env.image, &env.base_url) {
        (Some(image), _) => format!("image {image}"),
        (None, Some(url)) => format!("stack at {url}"),
        (None, None) if env.target_kind.is_empty() => "target not recorded".to_owned(),
        (None, None) => env.target_kind.clone(),
    }
}

// ---------------------------------------------------------------------------------------
// What a group shows: cells, rows, charts
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Passed,
    Failed,
    Flaky,
    Skipped,
    NotRun,
    Incomplete,
    Absent,
}

impl State {
    fn class(self) -> &'static str {
        match self {
            State::Passed => "c pass",
            State::Failed => "c fail",
            State::Flaky => "c flaky",
            State::Skipped => "c skip",
            State::NotRun => "c notrun",
            State::Incomplete => "c incomplete",
            State::Absent => "c absent",
        }
    }

    /// The letter in the cell, so that the grid reads without its colours too.
    fn letter(self) -> &'static str {
        match self {
            State::Passed | State::Absent => "",
            State::Failed => "×",
            State::Flaky => "~",
            State::Skipped => "s",
            State::NotRun => "–",
            State::Incomplete => "?",
        }
    }

    fn word(self) -> &'static str {
        match self {
            State::Passed => "passed",
            State::Failed => "failed",
            State::Flaky => "flaky (failed, then passed on a retry)",
            State::Skipped => "skipped",
            State::NotRun => "not run",
            State::Incomplete => "incomplete",
            State::Absent => "not in this run",
        }
    }
}

struct Cell {
    state: State,
    /// The failure, the measured value, why it was not run; may be empty.
    note: String,
}

impl Cell {
    fn new(state: State) -> Cell {
        Cell {
            state,
            note: String::new(),
        }
    }

    fn title(&self, run: usize) -> String {
        if self.note.is_empty() {
            format!("#{run} {}", self.state.word())
        } else {
            format!("#{run} {}: {}", self.state.word(), self.note)
        }
    }
}

/// One line of a grid: a scenario or a threshold over the runs of a group.
struct Row {
    label: String,
    cells: Vec<Cell>,
}

/// How a row's runs went.
struct Tally {
    /// Runs in which it ran to an outcome (passed, failed or flaky).
    ran: usize,
    failed: usize,
    flaky: usize,
    /// 1-based number of the newest run it failed in.
    last_failed: Option<usize>,
}

impl Row {
    fn tally(&self) -> Tally {
        let mut t = Tally {
            ran: 0,
            failed: 0,
            flaky: 0,
            last_failed: None,
        };
        for (i, c) in self.cells.iter().enumerate() {
            match c.state {
                State::Passed => t.ran += 1,
                State::Failed | State::Incomplete => {
                    t.ran += 1;
                    t.failed += 1;
                    t.last_failed = Some(i + 1);
                }
                State::Flaky => {
                    t.ran += 1;
                    t.flaky += 1;
                }
                State::Skipped | State::NotRun | State::Absent => {}
            }
        }
        t
    }
}

impl Tally {
    /// `fails one run in 3 (failed 4 of 12 runs, last in #11)`, or None when it never failed.
    fn failing_phrase(&self) -> Option<String> {
        if self.failed == 0 {
            return None;
        }
        let last = self
            .last_failed
            .map(|n| format!(", last in #{n}"))
            .unwrap_or_default();
        if self.failed == self.ran {
            return Some(format!(
                "fails every run ({} of {}{last})",
                self.failed, self.ran
            ));
        }
        let one_in = self.ran as f64 / self.failed as f64;
        let head = if one_in >= 1.5 {
            format!("fails one run in {}", one_in.round() as u64)
        } else {
            "fails most runs".to_owned()
        };
        Some(format!(
            "{head} (failed {} of {} runs{last})",
            self.failed, self.ran
        ))
    }

    fn flaky_phrase(&self) -> Option<String> {
        (self.flaky > 0).then(|| {
            format!(
                "flaky in {} of {} runs (failed, then passed on a retry)",
                self.flaky, self.ran
            )
        })
    }
}

/// A message for a cell's title, within the page's budget.
fn budgeted(budget: &mut usize, message: String) -> String {
    if message.len() <= *budget {
        *budget -= message.len();
        message
    } else {
        "message left out to keep the page small; see the run's report.html".to_owned()
    }
}

fn scenario_failure(s: &ScenarioResult) -> String {
    match s.steps.iter().find(|st| st.status == Status::Failed) {
        Some(st) => {
            let mut m = format!("step \"{} {}\"", st.keyword.trim(), st.text);
            if let Some(e) = &st.error {
                m.push_str(": ");
                m.push_str(&first_line(e, MESSAGE_CHARS));
            }
            m
        }
        None => "no step failed (a hook or a timeout)".to_owned(),
    }
}

fn flaky_note(s: &ScenarioResult) -> String {
    let tries = s.attempts.len();
    let mut m = format!(
        "{tries} failed attempt{} before the pass",
        if tries == 1 { "" } else { "s" }
    );
    if let Some(a) = s.attempts.first() {
        if let Some(step) = &a.failed_step {
            let _ = write!(m, "; first at step \"{step}\"");
        }
        if let Some(e) = &a.error {
            let _ = write!(m, ": {}", first_line(e, MESSAGE_CHARS));
        }
    }
    m
}

fn scenario_cell(s: &ScenarioResult, budget: &mut usize) -> Cell {
    match s.status {
        Status::Passed if s.flaky => Cell {
            state: State::Flaky,
            note: budgeted(budget, flaky_note(s)),
        },
        Status::Passed => Cell::new(State::Passed),
        Status::Failed => Cell {
            state: State::Failed,
            note: budgeted(budget, scenario_failure(s)),
        },
        Status::Skipped => Cell::new(State::Skipped),
        Status::NotRun => Cell {
            state: State::NotRun,
            note: s.not_run.clone().unwrap_or_default(),
        },
    }
}

/// Every scenario of the group's runs, in the newest run's order, then those that only
/// older runs had. A scenario is `(feature, name, k)`: the k-th of that name in its
/// feature (outline examples share a name).
fn scenario_rows(runs: &[Run], budget: &mut usize) -> Vec<Row> {
    let n = runs.len();
    let mut rows: Vec<Row> = Vec::new();
    let mut index: HashMap<(String, String, usize), usize> = HashMap::new();
    for (j, run) in runs.iter().enumerate().rev() {
        let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
        for f in &run.summary.features {
            for s in &f.scenarios {
                let k = seen.entry((&f.name, &s.name)).or_insert(0);
                let key = (f.name.clone(), s.name.clone(), *k);
                *k += 1;
                let row = *index.entry(key).or_insert_with_key(|key| {
                    let label = if key.2 == 0 {
                        format!("{}: {}", key.0, key.1)
                    } else {
                        format!("{}: {} ({})", key.0, key.1, key.2 + 1)
                    };
                    rows.push(Row {
                        label,
                        cells: (0..n).map(|_| Cell::new(State::Absent)).collect(),
                    });
                    rows.len() - 1
                });
                rows[row].cells[j] = scenario_cell(s, budget);
            }
        }
    }
    rows
}

fn verdict_row(runs: &[Run]) -> Row {
    Row {
        label: "Verdict".to_owned(),
        cells: runs
            .iter()
            .map(|r| {
                let s = &r.summary;
                let state = match s.verdict {
                    Verdict::Pass => State::Passed,
                    Verdict::Fail => State::Failed,
                    Verdict::Incomplete => State::Incomplete,
                };
                let mut note = format!("{} {}", s.verdict.word(), s.run_id);
                if let Some(reason) = s.reasons.first() {
                    let _ = write!(note, ": {}", first_line(reason, MESSAGE_CHARS));
                }
                Cell { state, note }
            })
            .collect(),
    }
}

/// Every (rule, scope) any run of the group checked, newest run's first.
fn threshold_keys(runs: &[Run]) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    let mut seen = HashSet::new();
    for run in runs.iter().rev() {
        for t in run.summary.load.iter().flat_map(|l| &l.thresholds) {
            if seen.insert((t.rule.clone(), t.scope.clone())) {
                keys.push((t.rule.clone(), t.scope.clone()));
            }
        }
    }
    keys
}

fn threshold_rows(runs: &[Run], keys: &[(String, String)]) -> Vec<Row> {
    keys.iter()
        .map(|(rule, scope)| Row {
            label: format!("{rule} ({scope})"),
            cells: runs
                .iter()
                .map(|r| {
                    let found = r
                        .summary
                        .load
                        .iter()
                        .flat_map(|l| &l.thresholds)
                        .find(|t| t.rule == *rule && t.scope == *scope);
                    match found {
                        Some(t) => Cell {
                            state: if t.passed {
                                State::Passed
                            } else {
                                State::Failed
                            },
                            note: format!("measured {}", t.measured),
                        },
                        None => Cell::new(State::Absent),
                    }
                })
                .collect(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Threshold rules, as far as a chart can draw them
// ---------------------------------------------------------------------------------------

/// A latency figure of a [`Distribution`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lat {
    Min,
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    Mean,
}

impl Lat {
    /// Drawn on every latency trend chart.
    const ALWAYS: [Lat; 3] = [Lat::P50, Lat::P95, Lat::P99];

    fn name(self) -> &'static str {
        match self {
            Lat::Min => "min",
            Lat::P50 => "p50",
            Lat::P90 => "p90",
            Lat::P95 => "p95",
            Lat::P99 => "p99",
            Lat::P999 => "p99.9",
            Lat::Max => "max",
            Lat::Mean => "mean",
        }
    }

    /// Palette index: p50 blue, p95 orange, p99 red, as on report.html's timeline.
    fn color(self) -> usize {
        match self {
            Lat::P50 => 0,
            Lat::P95 => 1,
            Lat::P90 => 2,
            Lat::P99 => 3,
            Lat::P999 => 4,
            Lat::Max => 5,
            Lat::Mean => 7,
            Lat::Min => 9,
        }
    }

    fn of_us(self, d: &Distribution) -> f64 {
        match self {
            Lat::Min => d.min_us as f64,
            Lat::P50 => d.p50_us as f64,
            Lat::P90 => d.p90_us as f64,
            Lat::P95 => d.p95_us as f64,
            Lat::P99 => d.p99_us as f64,
            Lat::P999 => d.p999_us as f64,
            Lat::Max => d.max_us as f64,
            Lat::Mean => d.mean_us,
        }
    }
}

/// What a rule bounds, in the unit of the chart it is drawn on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Limit {
    /// Milliseconds.
    Latency(Lat, f64),
    /// Percent.
    ErrorRate(f64),
    /// Iterations per second.
    Throughput(f64),
    LostMessages(f64),
    MisdeliveredEvents(f64),
}

/// Reads a rule such as `p95 < 300ms`, `error_rate < 1%` or `throughput >= 50/s` with
/// the load mode's own parser ([`crate::rule::Rule`]); None for anything no chart shows
/// (`errors < 10`, `p75 < 1s`).
fn parse_rule(rule: &str) -> Option<Limit> {
    use crate::rule::{Bound, Metric, Rule};
    let rule: Rule = rule.parse().ok()?;
    let ms = |us: u64| us as f64 / 1000.0;
    match (rule.metric, rule.bound) {
        (Metric::Quantile(q), Bound::Micros(us)) => {
            let lat = match q {
                500 => Lat::P50,
                900 => Lat::P90,
                950 => Lat::P95,
                990 => Lat::P99,
                999 => Lat::P999,
                _ => return None,
            };
            Some(Limit::Latency(lat, ms(us)))
        }
        (Metric::Min, Bound::Micros(us)) => Some(Limit::Latency(Lat::Min, ms(us))),
        (Metric::Max, Bound::Micros(us)) => Some(Limit::Latency(Lat::Max, ms(us))),
        (Metric::Mean, Bound::Micros(us)) => Some(Limit::Latency(Lat::Mean, ms(us))),
        // Parts per million to percent.
        (Metric::ErrorRate, Bound::Ppm(ppm)) => Some(Limit::ErrorRate(ppm as f64 / 10_000.0)),
        (Metric::Throughput, Bound::MilliPerSecond(m)) => {
            Some(Limit::Throughput(m as f64 / 1000.0))
        }
        (Metric::LostMessages, Bound::Count(n)) => Some(Limit::LostMessages(n as f64)),
        (Metric::MisdeliveredEvents, Bound::Count(n)) => Some(Limit::MisdeliveredEvents(n as f64)),
        _ => None,
    }
}

/// The threshold lines of one chart, and the extra latency series they call for.
#[derive(Default)]
struct Lines {
    references: Vec<Reference>,
    extra: Vec<Lat>,
}

impl Lines {
    fn add(&mut self, y: f64, label: &str) {
        if !self.references.iter().any(|r| r.label == label) {
            self.references.push(Reference {
                y,
                label: label.to_owned(),
                color: THRESHOLD_COLOR,
            });
        }
    }
}

/// Where each threshold of a group is drawn.
#[derive(Default)]
struct Placed {
    iteration: Lines,
    steps: HashMap<String, Lines>,
    events: HashMap<String, Lines>,
    throughput: Lines,
    error_rate: Lines,
    counts: Lines,
    /// Rules no chart shows, as `rule (scope)`.
    not_drawn: Vec<String>,
}

fn place_thresholds(keys: &[(String, String)], steps: &[String], events: &[String]) -> Placed {
    let mut placed = Placed::default();
    for (rule, scope) in keys {
        let global = scope == "global";
        let lines = match parse_rule(rule) {
            Some(Limit::Latency(lat, y)) => {
                let lines = if global {
                    Some(&mut placed.iteration)
                } else if steps.contains(scope) {
                    Some(placed.steps.entry(scope.clone()).or_default())
                } else if events.contains(scope) {
                    Some(placed.events.entry(scope.clone()).or_default())
                } else {
                    None
                };
                lines.map(|l| {
                    if !Lat::ALWAYS.contains(&lat) && !l.extra.contains(&lat) {
                        l.extra.push(lat);
                    }
                    (l, y)
                })
            }
            Some(Limit::ErrorRate(y)) if global => Some((&mut placed.error_rate, y)),
            Some(Limit::Throughput(y)) if global => Some((&mut placed.throughput, y)),
            Some(Limit::LostMessages(y) | Limit::MisdeliveredEvents(y)) if global => {
                Some((&mut placed.counts, y))
            }
            _ => None,
        };
        match lines {
            Some((l, y)) => l.add(y, rule),
            None => placed.not_drawn.push(format!("{rule} ({scope})")),
        }
    }
    placed
}

// ---------------------------------------------------------------------------------------
// Trend charts of a load group
// ---------------------------------------------------------------------------------------

/// Points at each run's index; a run without a value breaks the line.
fn segments(values: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(y) => out.last_mut().expect("never empty").push((i as f64, *y)),
            None if !out.last().is_some_and(Vec::is_empty) => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn series(name: &str, color: usize, values: &[Option<f64>]) -> Series {
    let mut s = Series::new(name, color, Vec::new());
    s.segments = segments(values);
    s.markers = values.len() <= MARKERS_UP_TO;
    s
}

fn run_labels(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("#{i}")).collect()
}

fn trend_chart(title: String, y_unit: &str, n: usize, series: Vec<Series>, lines: Lines) -> Chart {
    Chart {
        title,
        y_unit: y_unit.to_owned(),
        x: XAxis::Runs {
            labels: run_labels(n),
        },
        series,
        band: None,
        note: None,
        y_log: false,
        references: lines.references,
    }
}

/// p50/p95/p99 (and what the thresholds name) of one measured thing over the runs.
fn latency_chart(title: String, dists: &[Option<&Distribution>], lines: Lines) -> Chart {
    let measured = |d: &&Distribution| d.not_run.is_none() && d.count > 0;
    let mut lats: Vec<Lat> = Lat::ALWAYS.to_vec();
    lats.extend(lines.extra.iter().copied());
    let all: Vec<Series> = lats
        .iter()
        .map(|lat| {
            let values: Vec<Option<f64>> = dists
                .iter()
                .map(|d| d.filter(measured).map(|d| lat.of_us(d) / 1000.0))
                .collect();
            series(lat.name(), lat.color(), &values)
        })
        .collect();
    // A fast median beside a slow tail leaves the median flat on the floor.
    let ys = || {
        all.iter()
            .flat_map(|s| s.segments.iter().flatten())
            .map(|p| p.1)
    };
    let smallest = ys().filter(|y| *y > 0.0).fold(f64::INFINITY, f64::min);
    let largest = ys().fold(0.0, f64::max);
    let mut chart = trend_chart(title, "ms", dists.len(), all, lines);
    chart.y_log = smallest.is_finite() && largest > smallest * 30.0;
    chart
}

/// Names of the steps (or events) of a group, newest run's order first.
fn names(runs: &[&LoadResult], pick: fn(&LoadResult) -> &[Distribution]) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for load in runs.iter().rev() {
        for d in pick(load) {
            if seen.insert(d.name.clone()) {
                out.push(d.name.clone());
            }
        }
    }
    out
}

struct LoadView {
    thresholds: Vec<Row>,
    not_drawn: Vec<String>,
    overall: Vec<Chart>,
    steps: Vec<Chart>,
    events: Vec<Chart>,
    /// Steps or events never measured under load in any run.
    unmeasured: Vec<String>,
    /// Markdown rows: what, oldest value, newest value, min, max.
    trends: Vec<[String; 5]>,
}

/// The Markdown table of a load group: per measure its oldest, newest, lowest and
/// highest value.
#[derive(Default)]
struct Trends(Vec<[String; 5]>);

impl Trends {
    fn add(&mut self, what: String, values: &[Option<f64>], fmt: &dyn Fn(f64) -> String) {
        let known: Vec<f64> = values.iter().flatten().copied().collect();
        if known.is_empty() {
            return;
        }
        let min = known.iter().copied().fold(f64::INFINITY, f64::min);
        let max = known.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let at = |v: Option<&Option<f64>>| v.copied().flatten().map_or("–".to_owned(), fmt);
        self.0.push([
            what,
            at(values.first()),
            at(values.last()),
            fmt(min),
            fmt(max),
        ]);
    }
}

fn ms_text(v: f64) -> String {
    format!("{} ms", ms((v * 1000.0).round() as u64))
}

fn load_view(runs: &[Run]) -> LoadView {
    let loads: Vec<Option<&LoadResult>> = runs.iter().map(|r| r.summary.load.as_ref()).collect();
    let present: Vec<&LoadResult> = loads.iter().flatten().copied().collect();
    let n = runs.len();
    let keys = threshold_keys(runs);
    let step_names = names(&present, |l| &l.steps);
    let event_names = names(&present, |l| &l.events);
    let mut placed = place_thresholds(&keys, &step_names, &event_names);
    let mut trends = Trends::default();
    let per_run = |f: &dyn Fn(&LoadResult) -> Option<f64>| -> Vec<Option<f64>> {
        loads.iter().map(|l| l.and_then(f)).collect()
    };

    let mut overall = Vec::new();
    let iteration: Vec<Option<&Distribution>> =
        loads.iter().map(|l| l.map(|l| &l.scenario)).collect();
    let chart = latency_chart(
        "Whole iteration: latency per run".to_owned(),
        &iteration,
        std::mem::take(&mut placed.iteration),
    );
    for s in &chart.series {
        trends.add(
            format!("whole iteration {}", s.name),
            &values_of(s, n),
            &ms_text,
        );
    }
    overall.push(chart);

    let throughput = per_run(&|l| Some(l.throughput_per_s));
    trends.add("throughput".into(), &throughput, &|v| {
        format!("{v:.1} iterations/s")
    });
    overall.push(trend_chart(
        "Throughput per run".to_owned(),
        "iterations/s",
        n,
        vec![series("iterations/s", 2, &throughput)],
        std::mem::take(&mut placed.throughput),
    ));

    let error_rate = per_run(&|l| {
        (l.iterations > 0).then(|| l.iterations_failed as f64 * 100.0 / l.iterations as f64)
    });
    trends.add(
        "error rate (failed iterations)".into(),
        &error_rate,
        &percent,
    );
    overall.push(trend_chart(
        "Error rate per run: failed / finished iterations".to_owned(),
        "%",
        n,
        vec![series("error rate", 3, &error_rate)],
        std::mem::take(&mut placed.error_rate),
    ));

    if present.iter().any(|l| l.restart.is_some()) {
        overall.push(downtime_chart(&loads, &mut trends));
    }

    let lost = per_run(&|l| Some(l.lost_messages as f64));
    let misdelivered = per_run(&|l| Some(l.misdelivered_events as f64));
    trends.add("lost messages".into(), &lost, &|v| count(v as u64));
    trends.add("misdelivered events".into(), &misdelivered, &|v| {
        count(v as u64)
    });
    let mut chart = trend_chart(
        "Lost messages and misdelivered events per run (must be 0)".to_owned(),
        "count",
        n,
        vec![
            series("lost messages", 3, &lost),
            series("misdelivered events", 4, &misdelivered),
        ],
        std::mem::take(&mut placed.counts),
    );
    chart.series[1].dashed = true;
    overall.push(chart);

    let mut unmeasured = Vec::new();
    let mut things = |kind: &str,
                      names: &[String],
                      pick: fn(&LoadResult) -> &[Distribution],
                      lines: &mut HashMap<String, Lines>| {
        let mut charts = Vec::new();
        for name in names {
            let dists: Vec<Option<&Distribution>> = loads
                .iter()
                .map(|l| l.and_then(|l| pick(l).iter().find(|d| d.name == *name)))
                .collect();
            let measured = |d: &&Distribution| d.not_run.is_none() && d.count > 0;
            if !dists.iter().flatten().any(measured) {
                unmeasured.push(format!("{kind} {name}"));
                continue;
            }
            let chart = latency_chart(
                format!("{kind} {name}: latency per run"),
                &dists,
                lines.remove(name).unwrap_or_default(),
            );
            if let Some(p95) = chart.series.iter().find(|s| s.name == "p95") {
                trends.add(format!("{kind} {name} p95"), &values_of(p95, n), &ms_text);
            }
            charts.push(chart);
        }
        charts
    };
    let steps = things("Step", &step_names, |l| &l.steps, &mut placed.steps);
    let events = things(
        "Agent event",
        &event_names,
        |l| &l.events,
        &mut placed.events,
    );
    LoadView {
        thresholds: threshold_rows(runs, &keys),
        not_drawn: placed.not_drawn,
        overall,
        steps,
        events,
        unmeasured,
        trends: trends.0,
    }
}

/// Restart downtime per run; a run with no restart has no point, one whose stack never
/// came back is named under the chart.
fn downtime_chart(loads: &[Option<&LoadResult>], trends: &mut Trends) -> Chart {
    let downtime: Vec<Option<f64>> = loads
        .iter()
        .map(|l| {
            l.and_then(|l| l.restart.as_ref()?.downtime_ms)
                .map(|d| d as f64)
        })
        .collect();
    trends.add("restart downtime".into(), &downtime, &|v| {
        duration_us((v * 1000.0).round() as u64)
    });
    let never: Vec<String> = loads
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            l.and_then(|l| l.restart.as_ref())
                .is_some_and(|r| r.downtime_ms.is_none())
        })
        .map(|(i, _)| format!("#{}", i + 1))
        .collect();
    let mut chart = trend_chart(
        "Restart downtime per run".to_owned(),
        "ms",
        loads.len(),
        vec![series("downtime", 4, &downtime)],
        Lines::default(),
    );
    let mut note = "From the restart request until /health answered with a new boot id; \
                    no point where a run had no restart."
        .to_owned();
    if !never.is_empty() {
        let _ = write!(note, " Never came back: {}.", never.join(", "));
    }
    chart.note = Some(note);
    chart
}

/// A series' value at each run back from its segments (None in the gaps).
fn values_of(s: &Series, n: usize) -> Vec<Option<f64>> {
    let mut values = vec![None; n];
    for &(x, y) in s.segments.iter().flatten() {
        if let Some(v) = values.get_mut(x as usize) {
            *v = Some(y);
        }
    }
    values
}

// ---------------------------------------------------------------------------------------
// A group, ready to render
// ---------------------------------------------------------------------------------------

struct RunColumn {
    number: usize,
    run_id: String,
    started_at: String,
    /// `MM-DD` of the start.
    day: String,
    verdict: Verdict,
    reasons: Vec<String>,
    dir: PathBuf,
}

struct GroupView {
    id: String,
    kind: RunKind,
    /// `Acceptance · image x · config 3f2a9c1d`.
    title: String,
    columns: Vec<RunColumn>,
    verdicts: Row,
    scenarios: Vec<Row>,
    load: Option<LoadView>,
}

impl GroupView {
    fn of(i: usize, g: &Group, budget: &mut usize) -> GroupView {
        let newest = &g.runs.last().expect("a group has a run").summary;
        let mut title = if g.key.kind == RunKind::Acceptance {
            "Acceptance".to_owned()
        } else {
            format!("Load · {}", g.key.load.replace(", ", " · "))
        };
        let _ = write!(title, " · {}", target_of(newest));
        let targets: HashSet<String> = g.runs.iter().map(|r| target_of(&r.summary)).collect();
        if targets.len() > 1 {
            let _ = write!(title, " (newest; {} targets in all)", targets.len());
        }
        let _ = write!(title, " · config {}", g.key.fingerprint);
        let columns = g
            .runs
            .iter()
            .enumerate()
            .map(|(j, r)| {
                let s = &r.summary;
                let day = chrono::DateTime::parse_from_rfc3339(&s.started_at)
                    .map(|t| t.format("%m-%d").to_string())
                    .unwrap_or_else(|_| s.started_at.chars().take(10).collect());
                RunColumn {
                    number: j + 1,
                    run_id: s.run_id.clone(),
                    started_at: s.started_at.clone(),
                    day,
                    verdict: s.verdict,
                    reasons: s.reasons.clone(),
                    dir: r.dir.clone(),
                }
            })
            .collect();
        GroupView {
            id: format!("group-{}", i + 1),
            kind: g.key.kind,
            title,
            columns,
            verdicts: verdict_row(&g.runs),
            scenarios: if g.key.kind == RunKind::Acceptance {
                scenario_rows(&g.runs, budget)
            } else {
                Vec::new()
            },
            load: (g.key.kind == RunKind::Load).then(|| load_view(&g.runs)),
        }
    }

    fn passed(&self) -> usize {
        self.columns
            .iter()
            .filter(|c| c.verdict == Verdict::Pass)
            .count()
    }

    /// `66.67 % (2 of 3 runs)`.
    fn pass_rate(&self) -> String {
        let n = self.columns.len();
        format!(
            "{} ({} of {} run{})",
            percent(self.passed() as f64 * 100.0 / n as f64),
            self.passed(),
            n,
            if n == 1 { "" } else { "s" }
        )
    }

    fn recent_rate(&self) -> Option<String> {
        const RECENT: usize = 10;
        let n = self.columns.len();
        (n > RECENT).then(|| {
            let passed = self.columns[n - RECENT..]
                .iter()
                .filter(|c| c.verdict == Verdict::Pass)
                .count();
            format!("{passed} of the last {RECENT}")
        })
    }

    /// Scenarios that failed in some runs but not all, or were flaky: most failures first.
    fn unstable(&self) -> Vec<(&Row, Tally)> {
        let mut rows: Vec<(&Row, Tally)> = self
            .scenarios
            .iter()
            .map(|r| (r, r.tally()))
            .filter(|(_, t)| (t.failed > 0 && t.failed < t.ran) || t.flaky > 0)
            .collect();
        rows.sort_by_key(|(_, t)| std::cmp::Reverse((t.failed, t.flaky)));
        rows
    }

    fn always_failing(&self) -> Vec<(&Row, Tally)> {
        self.scenarios
            .iter()
            .map(|r| (r, r.tally()))
            .filter(|(_, t)| t.failed > 0 && t.failed == t.ran)
            .collect()
    }
}

struct Page<'a> {
    runs: usize,
    views: Vec<GroupView>,
    skipped: &'a [SkippedRun],
    notes: &'a [String],
}

// ---------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------

fn render_html(page: &Page<'_>) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let starts: Vec<&str> = page
        .views
        .iter()
        .flat_map(|v| &v.columns)
        .map(|c| c.started_at.as_str())
        .collect();
    let first = starts.iter().min().copied().unwrap_or("");
    let last = starts.iter().max().copied().unwrap_or("");
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light";
                meta name="generator" content={ "goldenpath " (version) };
                title { "goldenpath history — " (page.runs) " runs" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header.verdict.history {
                    div.word { "History" }
                    div.what {
                        div.kind {
                            "goldenpath: " (page.runs) " runs in " (page.views.len())
                            " group" @if page.views.len() != 1 { "s" } " of comparable runs"
                        }
                        p.reason { "From " (first) " to " (last) "." }
                        @if !page.skipped.is_empty() {
                            ul.notes { li { (page.skipped.len()) " run director"
                                (if page.skipped.len() == 1 { "y" } else { "ies" })
                                " skipped; see the notes below." } }
                        }
                    }
                }
                main {
                    section #groups {
                        h2 { "Groups" }
                        table.groups {
                            thead { tr { th { "Group" } th.num { "Runs" } th { "Newest" } th { "Pass rate" } } }
                            tbody {
                                @for v in &page.views {
                                    @let newest = v.columns.last().expect("a group has a run");
                                    tr {
                                        td { a href={ "#" (v.id) } { (v.title) } }
                                        td.num { (v.columns.len()) }
                                        td { (verdict_badge(newest.verdict)) " " (newest.started_at) }
                                        td { (v.pass_rate()) }
                                    }
                                }
                            }
                        }
                    }
                    @if !page.skipped.is_empty() || !page.notes.is_empty() {
                        section #notes {
                            h2 { "Notes" }
                            ul.history-notes {
                                @for s in page.skipped { li { (s.to_string()) } }
                                @for n in page.notes { li { (n) } }
                            }
                        }
                    }
                    @for v in &page.views { (group_section(v)) }
                }
                footer {
                    "Written by goldenpath " (version) ". Rebuild with "
                    code { "goldenpath history RUN_DIR…" } "."
                }
            }
        }
    };
    markup.into_string()
}

fn verdict_badge(v: Verdict) -> Markup {
    let class = match v {
        Verdict::Pass => "badge passed",
        Verdict::Fail => "badge failed",
        Verdict::Incomplete => "badge skipped",
    };
    html! { span class=(class) { (v.word()) } }
}

fn group_section(v: &GroupView) -> Markup {
    let n = v.columns.len();
    html! {
        section.group id=(v.id) data-kind=(kind_word(v.kind)) {
            h2 { (v.title) " " span.count { "— " (n) " run" @if n != 1 { "s" } } }
            p.rate {
                "Pass rate " strong { (v.pass_rate()) }
                @if let Some(recent) = v.recent_rate() { " · " (recent) }
                @if let Some(newest) = v.columns.last() {
                    " · newest " (verdict_badge(newest.verdict)) " " code { (newest.run_id) }
                }
            }
            @if v.kind == RunKind::Acceptance {
                (acceptance_part(v))
            }
            @if let Some(load) = &v.load {
                (load_part(v, load))
            }
            (runs_table(v))
        }
    }
}

fn acceptance_part(v: &GroupView) -> Markup {
    let unstable = v.unstable();
    let always = v.always_failing();
    html! {
        @if !unstable.is_empty() {
            h3 { "Scenarios that fail now and then" }
            ul.unstable {
                @for (row, t) in &unstable {
                    li {
                        strong { (row.label) } " — "
                        @if let Some(f) = t.failing_phrase() { (f) }
                        @if t.failed > 0 && t.flaky > 0 { "; " }
                        @if let Some(f) = t.flaky_phrase() { (f) }
                    }
                }
            }
        }
        @if !always.is_empty() {
            h3 { "Scenarios that fail in every run" }
            ul.unstable {
                @for (row, t) in &always {
                    li { strong { (row.label) } " — " (t.failing_phrase().unwrap_or_default()) }
                }
            }
        }
        h3 { "Scenarios per run" }
        (legend(&[State::Passed, State::Failed, State::Flaky, State::Skipped, State::NotRun, State::Absent]))
        (grid(v, &v.scenarios, "Scenario", true))
    }
}

fn load_part(v: &GroupView, load: &LoadView) -> Markup {
    html! {
        h3 { "Verdict and thresholds per run" }
        (legend(&[State::Passed, State::Failed, State::Incomplete, State::Absent]))
        (grid(v, &load.thresholds, "Threshold (applies to)", false))
        @if !load.not_drawn.is_empty() {
            p.note { "Not drawn on a chart (no chart shows what they measure): "
                @for (i, t) in load.not_drawn.iter().enumerate() {
                    @if i > 0 { ", " } code { (t) }
                }
                "." }
        }
        h3 { "Trends over the runs" }
        p.note { "One point per run, oldest left; dashed lines are thresholds. A gap: the run "
            "did not measure it (not in that run, not run under load, or no passed sample)." }
        div.charts { @for c in &load.overall { (c.render()) } }
        @if !load.steps.is_empty() {
            h3 { "Steps" }
            div.charts { @for c in &load.steps { (c.render()) } }
        }
        @if !load.events.is_empty() {
            h3 { "Agent events" }
            div.charts { @for c in &load.events { (c.render()) } }
        }
        @if !load.unmeasured.is_empty() {
            p.note { "Never measured under load in these runs: " (load.unmeasured.join(", ")) "." }
        }
    }
}

fn legend(states: &[State]) -> Markup {
    html! {
        ul.cell-legend {
            @for s in states {
                li { span class=(s.class()) { (s.letter()) } " " (s.word()) }
            }
        }
    }
}

/// The verdict row, then `rows`: the name, one column per run, then how often it failed
/// (and was flaky, for scenarios). The box scrolls and starts at its right end, so the
/// newest runs and the counts show first; the names stay in view while it scrolls.
fn grid(v: &GroupView, rows: &[Row], what: &str, flaky: bool) -> Markup {
    let newest = v.columns.len();
    let verdicts = v.verdicts.tally();
    html! {
        div.scroll {
            table.grid {
                thead {
                    tr {
                        th.name { (what) }
                        @for c in &v.columns {
                            th.run.newest[c.number == newest]
                                title={ "#" (c.number) " " (c.run_id) ", started " (c.started_at) ", " (c.verdict.word()) } {
                                span { "#" (c.number) " " (c.day) }
                            }
                        }
                        th.n title="runs it failed in" { "Failed" }
                        @if flaky {
                            th.n title="runs it was flaky in: failed, then passed on a retry" { "Flaky" }
                        }
                    }
                }
                tbody {
                    tr.verdicts {
                        th.name { div { "Verdict of the run" } }
                        @for (j, c) in v.verdicts.cells.iter().enumerate() {
                            td class=(c.state.class()) title=(c.title(j + 1)) { (c.state.letter()) }
                        }
                        td.n { @if verdicts.failed > 0 { (verdicts.failed) } }
                        @if flaky { td.n {} }
                    }
                    @for row in rows {
                        @let t = row.tally();
                        tr.unstable[t.failed > 0 || t.flaky > 0] {
                            th.name { div title=(row.label) { (row.label) } }
                            @for (j, c) in row.cells.iter().enumerate() {
                                td class=(c.state.class()) title=(c.title(j + 1)) { (c.state.letter()) }
                            }
                            td.n { @if t.failed > 0 { (t.failed) } }
                            @if flaky { td.n { @if t.flaky > 0 { (t.flaky) } } }
                        }
                    }
                }
            }
        }
    }
}

fn runs_table(v: &GroupView) -> Markup {
    html! {
        details.runs {
            summary { "The " (v.columns.len()) " runs of this group" }
            table.runs {
                thead { tr { th.num { "#" } th { "Run" } th { "Started" } th { "Verdict" } th { "Why" } th { "Directory" } } }
                tbody {
                    @for c in v.columns.iter().rev() {
                        tr {
                            td.num { (c.number) }
                            td { code { (c.run_id) } }
                            td { (c.started_at) }
                            td { (verdict_badge(c.verdict)) }
                            td { @for r in c.reasons.iter().take(3) { div { (first_line(r, MESSAGE_CHARS)) } } }
                            td { code { (c.dir.display().to_string()) } }
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------

fn render_markdown(page: &Page<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# goldenpath history: {} runs in {} group{}\n",
        page.runs,
        page.views.len(),
        if page.views.len() == 1 { "" } else { "s" }
    );
    for s in page.skipped {
        let _ = writeln!(out, "- {}", text(&s.to_string()));
    }
    for n in page.notes {
        let _ = writeln!(out, "- Note: {}", text(n));
    }
    if !page.skipped.is_empty() || !page.notes.is_empty() {
        out.push('\n');
    }
    for v in &page.views {
        let newest = v.columns.last().expect("a group has a run");
        let _ = writeln!(out, "## {} — {} runs\n", text(&v.title), v.columns.len());
        let _ = write!(out, "Pass rate: {}", v.pass_rate());
        if let Some(recent) = v.recent_rate() {
            let _ = write!(out, ", {recent}");
        }
        let _ = writeln!(
            out,
            "; newest: {} {} ({})\n",
            newest.verdict.word(),
            code(&newest.run_id),
            text(&newest.started_at)
        );
        let strip: String = v
            .columns
            .iter()
            .map(|c| match c.verdict {
                Verdict::Pass => "✅",
                Verdict::Fail => "❌",
                Verdict::Incomplete => "⚠️",
            })
            .collect();
        let _ = writeln!(out, "Runs, oldest to newest: {strip}\n");
        let unstable = v.unstable();
        if !unstable.is_empty() {
            out.push_str("Scenarios that fail now and then:\n\n");
            for (row, t) in &unstable {
                let phrases: Vec<String> = [t.failing_phrase(), t.flaky_phrase()]
                    .into_iter()
                    .flatten()
                    .collect();
                let _ = writeln!(out, "- **{}**: {}", text(&row.label), phrases.join("; "));
            }
            out.push('\n');
        }
        let always = v.always_failing();
        if !always.is_empty() {
            out.push_str("Scenarios that fail in every run:\n\n");
            for (row, t) in &always {
                let _ = writeln!(
                    out,
                    "- **{}**: {}",
                    text(&row.label),
                    t.failing_phrase().unwrap_or_default()
                );
            }
            out.push('\n');
        }
        if let Some(load) = &v.load {
            let failing: Vec<(&Row, Tally)> = load
                .thresholds
                .iter()
                .map(|r| (r, r.tally()))
                .filter(|(_, t)| t.failed > 0)
                .collect();
            if !failing.is_empty() {
                out.push_str("Thresholds that failed:\n\n");
                for (row, t) in failing {
                    let _ = writeln!(
                        out,
                        "- {}: failed in {} of {} runs{}",
                        code(&row.label),
                        t.failed,
                        t.ran,
                        t.last_failed
                            .map(|n| format!(", last in #{n}"))
                            .unwrap_or_default()
                    );
                }
                out.push('\n');
            }
            if !load.trends.is_empty() {
                let n = v.columns.len();
                let _ = writeln!(
                    out,
                    "| Measure | #1 (oldest) | #{n} (newest) | lowest | highest |\n|---|---:|---:|---:|---:|"
                );
                for [what, first, last, min, max] in &load.trends {
                    let _ = writeln!(out, "| {} | {first} | {last} | {min} | {max} |", text(what));
                }
                out.push('\n');
            }
        }
    }
    out.push_str("Grids and charts: `history.html` beside this file.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_map_to_chart_units() {
        assert_eq!(
            parse_rule("p95 < 300ms"),
            Some(Limit::Latency(Lat::P95, 300.0))
        );
        assert_eq!(
            parse_rule("p99.9 <= 1.5s"),
            Some(Limit::Latency(Lat::P999, 1500.0))
        );
        assert_eq!(
            parse_rule("mean < 800us"),
            Some(Limit::Latency(Lat::Mean, 0.8))
        );
        assert_eq!(
            parse_rule("max < 2m"),
            Some(Limit::Latency(Lat::Max, 120_000.0))
        );
        assert_eq!(parse_rule("error_rate < 1%"), Some(Limit::ErrorRate(1.0)));
        assert_eq!(
            parse_rule("error_rate < 0.001"),
            Some(Limit::ErrorRate(0.1))
        );
        assert_eq!(
            parse_rule("throughput >= 12.5/s"),
            Some(Limit::Throughput(12.5))
        );
        assert_eq!(
            parse_rule("lost_messages == 0"),
            Some(Limit::LostMessages(0.0))
        );
        assert_eq!(parse_rule("errors < 10"), None);
        assert_eq!(parse_rule("p75 < 1s"), None);
        assert_eq!(parse_rule("p95 < fast"), None);
        assert_eq!(parse_rule("nonsense"), None);
    }

    fn tally(failed: usize, flaky: usize, ran: usize, last: Option<usize>) -> Tally {
        Tally {
            ran,
            failed,
            flaky,
            last_failed: last,
        }
    }

    #[test]
    fn failures_are_named_one_run_in_n() {
        assert_eq!(
            tally(4, 0, 12, Some(11)).failing_phrase().unwrap(),
            "fails one run in 3 (failed 4 of 12 runs, last in #11)"
        );
        assert_eq!(
            tally(3, 0, 3, Some(3)).failing_phrase().unwrap(),
            "fails every run (3 of 3, last in #3)"
        );
        assert_eq!(
            tally(3, 0, 4, Some(4)).failing_phrase().unwrap(),
            "fails most runs (failed 3 of 4 runs, last in #4)"
        );
        assert!(tally(0, 1, 3, None).failing_phrase().is_none());
        assert_eq!(
            tally(0, 1, 3, None).flaky_phrase().unwrap(),
            "flaky in 1 of 3 runs (failed, then passed on a retry)"
        );
    }

    #[test]
    fn a_missing_value_breaks_the_line() {
        assert_eq!(
            segments(&[Some(1.0), None, None, Some(2.0), Some(3.0)]),
            vec![vec![(0.0, 1.0)], vec![(3.0, 2.0), (4.0, 3.0)]]
        );
        assert!(segments(&[None, None]).is_empty());
    }

    #[test]
    fn the_fingerprint_is_short_and_stable() {
        assert_eq!(fingerprint("a = 1\n"), fingerprint("a = 1\n"));
        assert_ne!(fingerprint("a = 1\n"), fingerprint("a = 2\n"));
        assert_eq!(fingerprint("").len(), 8);
    }
}
