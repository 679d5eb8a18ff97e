//! `goldenpath compare BASE CURRENT`: did this run get worse than a baseline?
//!
//! Per measured thing (the whole iteration, each step, each agent event) p50/p95/p99 and the
//! error rate are compared within a [`Tolerance`]; per acceptance scenario its status; and
//! the run's own verdict. A latency counts as changed only when it moved by more than the
//! relative tolerance AND more than the absolute floor, so sub-millisecond numbers do not flap.
//!
//! Why one long file: the comparison model, its rules and both renderings (terminal and
//! Markdown) change together whenever a compared figure is added.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::format::{error_rate, ms, percent};
use super::markdown;
use crate::summary::{Distribution, RunSummary, Status, Verdict};

/// How much worse a number may get before it is a regression. Read from `[compare]` in
/// `goldenpath.toml`; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tolerance {
    /// Relative latency increase allowed, as a fraction: `0.10` is 10 %.
    pub latency_relative: f64,
    /// A latency change smaller than this never counts, whatever its relative size.
    #[serde(with = "humantime_serde")]
    pub latency_floor: Duration,
    /// Error-rate increase allowed, in percentage points: `0.1` lets 0.5 % become 0.6 %.
    pub error_rate_pp: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            latency_relative: 0.10,
            latency_floor: Duration::from_millis(5),
            error_rate_pp: 0.1,
        }
    }
}

/// What happened to one compared thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Worse than the baseline beyond the tolerance (or a scenario that now fails, a verdict that
    /// went from PASS to FAIL).
    Regressed,
    /// Better than the baseline beyond the tolerance (or a failed scenario that no longer fails).
    Improved,
    /// Within the tolerance of the baseline.
    Ok,
    /// Only in the current run.
    New,
    /// Only in the baseline.
    Missing,
}

impl Change {
    /// The lower-case word used in the JSON and the rendered tables (`regressed`, `ok`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Regressed => "regressed",
            Change::Improved => "improved",
            Change::Ok => "ok",
            Change::New => "new",
            Change::Missing => "missing",
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Which kind of latency distribution a `LatencyDelta` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyKind {
    /// The whole iteration of a load run.
    Iteration,
    /// The whole iteration of one scenario, when the run has several.
    Scenario,
    /// One planned step of a load run, matched by step name.
    Step,
    /// One agent event type, from the execute request to the event's arrival.
    Event,
}

impl LatencyKind {
    fn as_str(self) -> &'static str {
        match self {
            LatencyKind::Iteration => "iteration",
            LatencyKind::Scenario => "scenario",
            LatencyKind::Step => "step",
            LatencyKind::Event => "event",
        }
    }
}

/// The numbers compared for one latency distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Successful samples (failed ones are not in the percentiles).
    pub count: u64,
    /// Failed samples.
    pub errors: u64,
    /// Median, in µs.
    pub p50_us: u64,
    /// 95th percentile, in µs.
    pub p95_us: u64,
    /// 99th percentile, in µs.
    pub p99_us: u64,
}

impl Latency {
    fn of(d: &Distribution) -> Self {
        Latency {
            count: d.count,
            errors: d.errors,
            p50_us: d.p50_us,
            p95_us: d.p95_us,
            p99_us: d.p99_us,
        }
    }

    /// Error rate in percent.
    pub fn error_rate(&self) -> f64 {
        error_rate(self.errors, self.count)
    }
}

/// One step, event or the iteration, in either run or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyDelta {
    /// What the distribution measures.
    pub kind: LatencyKind,
    /// The distribution's name (a step's or scenario's name, an event type; `scenario` for the
    /// whole iteration).
    pub name: String,
    /// The baseline's numbers; None when only the current run has it.
    pub base: Option<Latency>,
    /// The current run's numbers; None when only the baseline has it.
    pub current: Option<Latency>,
    /// The verdict for this distribution.
    pub change: Change,
    /// What moved past the tolerance, in words (`p95 20.0 → 40.0 ms (+100%)`).
    pub why: Vec<String>,
}

/// One acceptance scenario, keyed by feature path and scenario name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioDelta {
    /// Path of the feature file.
    pub feature: String,
    /// Scenario name; a repeated name (scenario outline) gets ` #2`, ` #3`, ... in order.
    pub scenario: String,
    /// Its status in the baseline; None when the baseline does not have it.
    pub base: Option<Status>,
    /// Its status in the current run; None when the current run does not have it.
    pub current: Option<Status>,
    /// Regressed when it now fails and did not, improved when it failed and no longer does.
    pub change: Change,
}

/// The result of `goldenpath compare`: every difference between a baseline and a current run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Run id of the baseline.
    pub base_run: String,
    /// Run id of the current run.
    pub current_run: String,
    /// The baseline's verdict.
    pub base_verdict: Verdict,
    /// The current run's verdict.
    pub current_verdict: Verdict,
    /// A run that passed and now fails is a regression by itself (a threshold, lost messages).
    pub verdict_change: Change,
    /// The tolerance the comparison used.
    pub tolerance: Tolerance,
    /// Every acceptance scenario of either run: the current run's first, then those only in the
    /// baseline.
    pub scenarios: Vec<ScenarioDelta>,
    /// Every load distribution of either run: the current run's first, then those only in the
    /// baseline.
    pub latencies: Vec<LatencyDelta>,
}

/// Compares `current` against the baseline `base`. Order: the current run's, then what only
/// the baseline has.
pub fn compare(base: &RunSummary, current: &RunSummary, tolerance: &Tolerance) -> Comparison {
    let verdict_change = match (base.verdict, current.verdict) {
        (Verdict::Pass, Verdict::Fail | Verdict::Incomplete) => Change::Regressed,
        (Verdict::Fail | Verdict::Incomplete, Verdict::Pass) => Change::Improved,
        _ => Change::Ok,
    };
    Comparison {
        base_run: base.run_id.clone(),
        current_run: current.run_id.clone(),
        base_verdict: base.verdict,
        current_verdict: current.verdict,
        verdict_change,
        tolerance: tolerance.clone(),
        scenarios: compare_scenarios(base, current),
        latencies: compare_latencies(base, current, tolerance),
    }
}

fn scenario_keys(s: &RunSummary) -> Vec<((String, String), Status)> {
    let mut seen: std::collections::HashMap<(String, String), usize> = Default::default();
    s.features
        .iter()
        .flat_map(|f| f.scenarios.iter().map(move |sc| (f, sc)))
        .map(|(f, sc)| {
            // Scenario outlines repeat a name: number the repeats so they pair in order.
            let n = seen.entry((f.path.clone(), sc.name.clone())).or_default();
            *n += 1;
            let name = if *n == 1 {
                sc.name.clone()
            } else {
                format!("{} #{n}", sc.name)
            };
            ((f.path.clone(), name), sc.status)
        })
        .collect()
}

fn compare_scenarios(base: &RunSummary, current: &RunSummary) -> Vec<ScenarioDelta> {
    let base_keys = scenario_keys(base);
    let current_keys = scenario_keys(current);
    let find = |keys: &[((String, String), Status)], k: &(String, String)| {
        keys.iter().find(|(key, _)| key == k).map(|(_, s)| *s)
    };
    let mut out: Vec<ScenarioDelta> = current_keys
        .iter()
        .map(|(key, now)| {
            let before = find(&base_keys, key);
            let change = match (before, *now) {
                (None, _) => Change::New,
                (Some(b), n) if b != Status::Failed && n == Status::Failed => Change::Regressed,
                (Some(Status::Failed), n) if n != Status::Failed => Change::Improved,
                _ => Change::Ok,
            };
            ScenarioDelta {
                feature: key.0.clone(),
                scenario: key.1.clone(),
                base: before,
                current: Some(*now),
                change,
            }
        })
        .collect();
    for (key, before) in &base_keys {
        if find(&current_keys, key).is_none() {
            out.push(ScenarioDelta {
                feature: key.0.clone(),
                scenario: key.1.clone(),
                base: Some(*before),
                current: None,
                change: Change::Missing,
            });
        }
    }
    out
}

fn distributions(s: &RunSummary) -> Vec<(LatencyKind, &Distribution)> {
    let Some(load) = &s.load else {
        return Vec::new();
    };
    std::iter::once((LatencyKind::Iteration, &load.scenario))
        .chain(load.scenarios.iter().map(|d| (LatencyKind::Scenario, d)))
        .chain(load.steps.iter().map(|d| (LatencyKind::Step, d)))
        .chain(load.events.iter().map(|d| (LatencyKind::Event, d)))
        .collect()
}

fn compare_latencies(base: &RunSummary, current: &RunSummary, t: &Tolerance) -> Vec<LatencyDelta> {
    let before = distributions(base);
    let now = distributions(current);
    let find = |list: &[(LatencyKind, &Distribution)], kind: LatencyKind, name: &str| {
        list.iter()
            .find(|(k, d)| *k == kind && (kind == LatencyKind::Iteration || d.name == name))
            .map(|(_, d)| Latency::of(d))
    };
    let mut out: Vec<LatencyDelta> = now
        .iter()
        .map(|(kind, d)| {
            let cur = Latency::of(d);
            let b = find(&before, *kind, &d.name);
            let (change, why) = match &b {
                None => (Change::New, Vec::new()),
                Some(b) => judge(b, &cur, t),
            };
            LatencyDelta {
                kind: *kind,
                name: d.name.clone(),
                base: b,
                current: Some(cur),
                change,
                why,
            }
        })
        .collect();
    for (kind, d) in &before {
        if find(&now, *kind, &d.name).is_none() {
            out.push(LatencyDelta {
                kind: *kind,
                name: d.name.clone(),
                base: Some(Latency::of(d)),
                current: None,
                change: Change::Missing,
                why: Vec::new(),
            });
        }
    }
    out
}

fn relative(b: u64, c: u64) -> String {
    if b == 0 {
        "new".to_owned()
    } else {
        format!("{:+.0}%", (c as f64 - b as f64) * 100.0 / b as f64)
    }
}

fn judge(b: &Latency, c: &Latency, t: &Tolerance) -> (Change, Vec<String>) {
    let floor = t.latency_floor.as_micros() as f64;
    let mut worse = Vec::new();
    let mut better = Vec::new();
    if b.count > 0 && c.count > 0 {
        for (name, bv, cv) in [
            ("p50", b.p50_us, c.p50_us),
            ("p95", b.p95_us, c.p95_us),
            ("p99", b.p99_us, c.p99_us),
        ] {
            let (bf, cf) = (bv as f64, cv as f64);
            let words = || format!("{name} {} → {} ms ({})", ms(bv), ms(cv), relative(bv, cv));
            if cf - bf > floor && cf > bf * (1.0 + t.latency_relative) {
                worse.push(words());
            } else if bf - cf > floor && bf > cf * (1.0 + t.latency_relative) {
                better.push(words());
            }
        }
    }
    let (br, cr) = (b.error_rate(), c.error_rate());
    let words = || format!("error rate {} → {}", percent(br), percent(cr));
    if cr - br > t.error_rate_pp + 1e-9 {
        worse.push(words());
    } else if br - cr > t.error_rate_pp + 1e-9 {
        better.push(words());
    }
    if !worse.is_empty() {
        (Change::Regressed, worse)
    } else if !better.is_empty() {
        (Change::Improved, better)
    } else {
        (Change::Ok, Vec::new())
    }
}

fn status_word(s: Option<Status>) -> &'static str {
    match s {
        Some(Status::Passed) => "passed",
        Some(Status::Failed) => "failed",
        Some(Status::Skipped) => "skipped",
        Some(Status::NotRun) => "not run",
        None => "—",
    }
}

impl Comparison {
    /// True when anything got worse than the tolerance allows: the caller exits non-zero.
    pub fn has_regression(&self) -> bool {
        self.verdict_change == Change::Regressed
            || self.scenarios.iter().any(|s| s.change == Change::Regressed)
            || self.latencies.iter().any(|l| l.change == Change::Regressed)
    }

    /// The process exit code for `goldenpath compare`: 1 on a regression, else 0.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.has_regression())
    }

    fn tally(&self) -> String {
        let all = (self.scenarios.iter().map(|s| s.change))
            .chain(self.latencies.iter().map(|l| l.change))
            .collect::<Vec<_>>();
        let n = |c: Change| all.iter().filter(|x| **x == c).count();
        format!(
            "{} regressed, {} improved, {} ok, {} new, {} missing",
            n(Change::Regressed),
            n(Change::Improved),
            n(Change::Ok),
            n(Change::New),
            n(Change::Missing)
        )
    }

    fn tolerance_words(&self) -> String {
        format!(
            "latency +{:.0}% and +{} ms, error rate +{} pp",
            self.tolerance.latency_relative * 100.0,
            ms(self.tolerance.latency_floor.as_micros() as u64),
            self.tolerance.error_rate_pp
        )
    }

    /// Scenario rows worth showing: everything but unchanged ones.
    fn scenario_rows(&self) -> Vec<&ScenarioDelta> {
        self.scenarios
            .iter()
            .filter(|s| s.change != Change::Ok)
            .collect()
    }

    fn latency_cells(l: &LatencyDelta) -> [String; 4] {
        let cell = |pick: fn(&Latency) -> u64| match (&l.base, &l.current) {
            (Some(b), Some(c)) => {
                format!(
                    "{} → {} ({})",
                    ms(pick(b)),
                    ms(pick(c)),
                    relative(pick(b), pick(c))
                )
            }
            (None, Some(c)) => format!("— → {}", ms(pick(c))),
            (Some(b), None) => format!("{} → —", ms(pick(b))),
            (None, None) => String::new(),
        };
        let errors = match (&l.base, &l.current) {
            (Some(b), Some(c)) => {
                format!("{} → {}", percent(b.error_rate()), percent(c.error_rate()))
            }
            (None, Some(c)) => format!("— → {}", percent(c.error_rate())),
            (Some(b), None) => format!("{} → —", percent(b.error_rate())),
            (None, None) => String::new(),
        };
        [
            cell(|x| x.p50_us),
            cell(|x| x.p95_us),
            cell(|x| x.p99_us),
            errors,
        ]
    }

    /// The comparison as GitHub-flavoured Markdown (for a CI step summary or a PR comment).
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let icon = if self.has_regression() {
            "❌ regression"
        } else {
            "✅ no regression"
        };
        out.push_str(&format!(
            "## {icon}: {} ({}) → {} ({})\n\n{}. Tolerance: {}.\n\n",
            markdown::code(&self.base_run),
            self.base_verdict.word(),
            markdown::code(&self.current_run),
            self.current_verdict.word(),
            self.tally(),
            self.tolerance_words()
        ));
        let rows = self.scenario_rows();
        if !rows.is_empty() {
            out.push_str(
                "| Change | Feature | Scenario | Base | Current |\n|---|---|---|---|---|\n",
            );
            for s in rows {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    s.change,
                    markdown::code(&s.feature),
                    markdown::text(&s.scenario),
                    status_word(s.base),
                    status_word(s.current)
                ));
            }
            let same = self.scenarios.len() - self.scenario_rows().len();
            out.push_str(&format!("\n{same} scenarios unchanged.\n\n"));
        } else if !self.scenarios.is_empty() {
            out.push_str(&format!(
                "All {} scenarios unchanged.\n\n",
                self.scenarios.len()
            ));
        }
        if !self.latencies.is_empty() {
            out.push_str(
                "| Change | Kind | Name | p50 ms | p95 ms | p99 ms | Error rate |\n|---|---|---|---:|---:|---:|---:|\n",
            );
            for l in &self.latencies {
                let [p50, p95, p99, errors] = Self::latency_cells(l);
                let change = if l.change == Change::Regressed {
                    "**regressed**".to_owned()
                } else {
                    l.change.to_string()
                };
                out.push_str(&format!(
                    "| {change} | {} | {} | {p50} | {p95} | {p99} | {errors} |\n",
                    l.kind.as_str(),
                    markdown::text(&l.name)
                ));
            }
            out.push('\n');
        }
        out
    }
}

/// Lays out rows under headers with aligned columns.
fn text_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            let pad = widths[i] - cell.chars().count();
            if i + 1 < widths.len() {
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(&mut headers.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// The terminal table.
impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: base {} ({}) → current {} ({})",
            if self.has_regression() {
                "REGRESSION"
            } else {
                "no regression"
            },
            self.base_run,
            self.base_verdict.word(),
            self.current_run,
            self.current_verdict.word(),
        )?;
        writeln!(f, "{}; tolerance: {}", self.tally(), self.tolerance_words())?;
        let rows = self.scenario_rows();
        if !rows.is_empty() {
            writeln!(f)?;
            let rows: Vec<Vec<String>> = rows
                .iter()
                .map(|s| {
                    vec![
                        s.change.to_string(),
                        format!("{} › {}", s.feature, s.scenario),
                        format!("{} → {}", status_word(s.base), status_word(s.current)),
                    ]
                })
                .collect();
            f.write_str(&text_table(&["CHANGE", "SCENARIO", "STATUS"], &rows))?;
        }
        if !self.latencies.is_empty() {
            writeln!(f)?;
            let rows: Vec<Vec<String>> = self
                .latencies
                .iter()
                .map(|l| {
                    let [p50, p95, p99, errors] = Self::latency_cells(l);
                    vec![
                        l.change.to_string(),
                        l.kind.as_str().to_owned(),
                        l.name.clone(),
                        p50,
                        p95,
                        p99,
                        errors,
                    ]
                })
                .collect();
            f.write_str(&text_table(
                &[
                    "CHANGE",
                    "KIND",
                    "NAME",
                    "P50 MS",
                    "P95 MS",
                    "P99 MS",
                    "ERROR RATE",
                ],
                &rows,
            ))?;
        }
        Ok(())
    }
}
