//! The end of a run: the [`RunSummary`] (`summary.json`), the thresholds' verdict and
//! the text summary, built from the collector's totals and the workers' final tallies.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::summary::{
    Distribution, Environment, ErrorGroup, LoadResult, RestartWindow, RunKind, RunSummary,
    SCHEMA_VERSION, ShardInfo, ThresholdResult, Verdict,
};

use super::collector::Collector;
use super::config::Threshold;
use super::metrics::{ErrorGroups, Series, SeriesKey, separately_measured};
use super::plan::StepInfo;
use super::restart::{RestartClock, RestartReport, RestartTally};
use super::schedule::{Model, Shape};
use super::thresholds::{LatencyStats, Measured, Rule, format_micros};
use super::vu::LedgerCheck;

/// Everything known at the end of the run besides the histograms.
pub struct RunFacts<'a> {
    pub profile: Option<String>,
    pub shape: &'a Shape,
    pub plan_steps: &'a [StepInfo],
    pub plan_scenarios: Vec<String>,
    pub thresholds: &'a [Threshold],
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: chrono::DateTime<chrono::Utc>,
    /// The run's measured time (iterations were started during it).
    pub measured: Duration,
    /// Until the last user stopped.
    pub elapsed: Duration,
    pub start: Instant,
    pub errors: &'a ErrorGroups,
    pub restart_tally: &'a RestartTally,
    pub clock: &'a RestartClock,
    pub restart_result: Option<&'a Result<RestartReport, String>>,
    pub ledger: LedgerCheck,
    pub users_verified: u64,
    pub users_run: u64,
    pub misdelivered: u64,
    pub interrupted: bool,
    pub environment: Environment,
    pub run_dir: &'a Path,
    /// The shared run id (`--run-id`), else the run directory's name.
    pub run_id: String,
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the schedule started (what the interval logs count from).
    pub schedule_start_wall: std::time::SystemTime,
    /// Behind `start_at`.
    pub lateness: Duration,
    /// Prometheus remote write, when configured.
    pub remote_write: Option<crate::summary::RemoteWriteResult>,
}

pub struct Built {
    pub summary: RunSummary,
    pub passed: bool,
    pub text: String,
}

/// A distribution of one series.
pub fn distribution(name: &str, s: &Series, hlog: Option<String>) -> Distribution {
    distribution_of(name, &s.hist, s.errors, hlog)
}

/// A distribution of one histogram (µs) with `errors` failed samples beside it.
pub fn distribution_of(
    name: &str,
    h: &Histogram<u64>,
    errors: u64,
    hlog: Option<String>,
) -> Distribution {
    let q = |q: f64| {
        if h.is_empty() {
            0
        } else {
            h.value_at_quantile(q)
        }
    };
    Distribution {
        name: name.to_owned(),
        count: h.len(),
        errors,
        min_us: if h.is_empty() { 0 } else { h.min() },
        p50_us: q(0.5),
        p90_us: q(0.9),
        p95_us: q(0.95),
        p99_us: q(0.99),
        p999_us: q(0.999),
        max_us: if h.is_empty() { 0 } else { h.max() },
        mean_us: if h.is_empty() { 0.0 } else { h.mean() },
        hlog,
        not_run: None,
        occurrences: None,
    }
}

fn measured_of(h: &Histogram<u64>, rules: &[Rule], count: u64, errors: u64) -> Measured {
    Measured {
        latency: LatencyStats::from_histogram(h, rules),
        count,
        errors,
        ..Measured::default()
    }
}

pub fn build(f: &RunFacts<'_>, c: &Collector) -> Built {
    let totals = &c.totals;
    let empty = Series::new();
    let series = |k: &SeriesKey| totals.series.get(k).unwrap_or(&empty);
    let counters = totals.counters;
    let measured_s = f.measured.as_secs_f64().max(1e-6);
    let throughput = counters.iterations as f64 / measured_s;

    let scenario = distribution(
        "scenario",
        series(&SeriesKey::Scenario),
        c.hlog_path(&SeriesKey::Scenario),
    );
    let scenarios: Vec<Distribution> = (0..separately_measured(f.plan_scenarios.len()))
        .map(|i| {
            let key = SeriesKey::ScenarioOf(i);
            distribution(&c.names().name(&key), series(&key), c.hlog_path(&key))
        })
        .collect();
    let steps: Vec<Distribution> = f
        .plan_steps
        .iter()
        .enumerate()
        .map(|(i, s)| match s.not_run {
            Some(reason) => Distribution {
                not_run: Some(reason.to_owned()),
                ..distribution(&s.name, series(&SeriesKey::Step(i)), None)
            },
            None => distribution(
                &s.name,
                series(&SeriesKey::Step(i)),
                c.hlog_path(&SeriesKey::Step(i)),
            ),
        })
        .collect();
    let events: Vec<Distribution> = totals
        .series
        .iter()
        .filter_map(|(k, s)| match k {
            SeriesKey::Event(name) => Some(Distribution {
                occurrences: Some(s.occurrences),
                ..distribution(name, s, c.hlog_path(k))
            }),
            _ => None,
        })
        .collect();
    let errors: Vec<ErrorGroup> = f
        .errors
        .sorted()
        .into_iter()
        .map(|(key, count, example)| ErrorGroup {
            kind: match key.step {
                Some(i) => format!(
                    "{}: {}",
                    f.plan_steps.get(i).map_or("?", |s| s.name.as_str()),
                    key.class
                ),
                None => format!("iteration: {}", key.class),
            },
            count,
            example: example.to_owned(),
        })
        .collect();

    // Restart window.
    let restart = f.clock.requested().map(|requested| {
        let back = f.clock.back();
        let window_end = match (back, f.restart_tally.last_reconnect) {
            (Some(b), Some(r)) => b.max(r),
            (Some(b), None) => b,
            (None, _) => f.start + f.elapsed,
        };
        let since_start = |t: Instant| t.saturating_duration_since(f.start).as_secs_f64();
        let reconnect_series = series(&SeriesKey::Reconnect);
        RestartWindow {
            requested_at_s: since_start(requested),
            back_at_s: back.map(since_start),
            downtime_ms: back.map(|b| b.saturating_duration_since(requested).as_millis() as u64),
            failed_requests: f.restart_tally.failed_in(requested, window_end),
            reconnect: (!reconnect_series.hist.is_empty()).then(|| {
                distribution(
                    "reconnect",
                    reconnect_series,
                    c.hlog_path(&SeriesKey::Reconnect),
                )
            }),
            lost_messages: f.ledger.lost,
        }
    });

    let rules = with_implicit_rules(f.thresholds);
    let scenario_series = series(&SeriesKey::Scenario);
    let global = GlobalFigures {
        scenario: &scenario_series.hist,
        iterations: counters.iterations,
        iterations_failed: counters.iterations_failed,
        throughput_per_s: throughput,
        dropped: counters.dropped,
        lost_messages: f.ledger.lost,
        misdelivered_events: f.misdelivered,
    };
    let step_figures: Vec<StepFigures<'_>> = f
        .plan_steps
        .iter()
        .enumerate()
        .map(|(i, info)| {
            let s = series(&SeriesKey::Step(i));
            StepFigures {
                name: &info.name,
                selected_by: Box::new(move |selector| info.matches(selector)),
                hist: &s.hist,
                errors: s.errors,
            }
        })
        .collect();
    let threshold_results = judge(&rules, &global, &step_figures);
    let passed = threshold_results.iter().all(|t| t.passed);
    let mut reasons = threshold_reasons(&threshold_results);
    if let Some(Err(e)) = f.restart_result {
        reasons.push(format!("the backend restart failed: {e}"));
    }
    if f.users_verified < f.users_run {
        reasons.push(format!(
            "messages were read back for {} of {} users (time limit)",
            f.users_verified, f.users_run
        ));
    }
    if f.interrupted {
        reasons.push("the run was interrupted (Ctrl-C); results cover the time until then".into());
    }
    let restart_failed = matches!(f.restart_result, Some(Err(_)));
    let verdict = if passed && !restart_failed && !f.interrupted && f.users_verified == f.users_run
    {
        Verdict::Pass
    } else {
        Verdict::Fail
    };

    let shard = f.shape.shard;
    let (rate_per_s, users) = match f.shape.model {
        Model::Closed { users, .. } => (None, shard.share(users)),
        Model::Open { rate, max_users } => (
            Some(rate.as_per_second() / shard.count as f64),
            shard.share(max_users),
        ),
    };
    let run_id = f.run_id.clone();
    let millis =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let shard_info = shard.is_split().then(|| ShardInfo {
        index: shard.index,
        count: shard.count,
        run_id: run_id.clone(),
        start_at: f.start_at.map(millis),
        started_schedule_at: millis(f.schedule_start_wall.into()),
        lateness_ms: u64::try_from(f.lateness.as_millis()).unwrap_or(u64::MAX),
        host: f.environment.hostname.clone(),
        users,
        iterations: counters.iterations,
        iterations_failed: counters.iterations_failed,
    });
    let load = LoadResult {
        model: f.shape.model.name().to_owned(),
        profile: f.profile.clone(),
        users,
        rate_per_s,
        duration_s: f.measured.as_secs_f64(),
        iterations: counters.iterations,
        iterations_failed: counters.iterations_failed,
        iterations_interrupted: counters.interrupted,
        dropped: counters.dropped,
        throughput_per_s: throughput,
        scenario,
        scenarios,
        steps,
        events,
        errors,
        misdelivered_events: f.misdelivered,
        lost_messages: f.ledger.lost,
        acknowledged_messages: f.ledger.acknowledged,
        thresholds: threshold_results,
        timeline: c.timeline.clone(),
        restart,
        shard: shard_info,
        shards: Vec::new(),
        missing_shards: Vec::new(),
        remote_write: f.remote_write.clone(),
    };
    let mut notes = Vec::new();
    if let Some(rw) = &f.remote_write
        && (rw.pushes_failed > 0 || rw.pushes_dropped > 0)
    {
        notes.push(format!(
            "warning: Prometheus remote write to {}: {} of {} pushes failed, {} dropped ({}); the run itself is not affected",
            rw.url,
            rw.pushes_failed,
            rw.pushes_sent + rw.pushes_failed,
            rw.pushes_dropped,
            rw.last_error.as_deref().unwrap_or("no error text")
        ));
    }
    let summary = RunSummary {
        schema_version: SCHEMA_VERSION,
        run_id,
        kind: RunKind::Load,
        verdict,
        reasons,
        started_at: f
            .started_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        finished_at: f
            .finished_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        environment: f.environment.clone(),
        features: Vec::new(),
        load: Some(load),
        notes,
    };
    let text = render_text(&summary, f);
    Built {
        passed: verdict == Verdict::Pass,
        summary,
        text,
    }
}

/// The configured thresholds plus the correctness rules that always hold
/// (`lost_messages == 0`, `misdelivered_events == 0`) unless configured otherwise.
pub fn with_implicit_rules(configured: &[Threshold]) -> Vec<Threshold> {
    let mut rules = configured.to_vec();
    for implicit in ["lost_messages == 0", "misdelivered_events == 0"] {
        let rule: Rule = implicit
            .parse()
            .unwrap_or_else(|_| unreachable!("valid built-in rule"));
        if !rules
            .iter()
            .any(|t| t.step.is_none() && t.rule.metric == rule.metric)
        {
            rules.push(Threshold { step: None, rule });
        }
    }
    rules
}

/// What global thresholds are evaluated on.
pub struct GlobalFigures<'a> {
    /// Every iteration's time (µs).
    pub scenario: &'a Histogram<u64>,
    pub iterations: u64,
    pub iterations_failed: u64,
    pub throughput_per_s: f64,
    pub dropped: u64,
    pub lost_messages: u64,
    pub misdelivered_events: u64,
}

/// What a step-scoped threshold is evaluated on: one step position.
pub struct StepFigures<'a> {
    /// The step's name in the reports (and a threshold result's scope).
    pub name: &'a str,
    /// Whether a threshold's `step = "..."` designates this step.
    pub selected_by: Box<dyn Fn(&str) -> bool + 'a>,
    /// The step's passed samples (µs).
    pub hist: &'a Histogram<u64>,
    pub errors: u64,
}

/// Evaluates every rule: a global one on `global`, a step-scoped one on each step it
/// designates (failing when it designates none). One place for a run and a merge.
pub fn judge(
    rules: &[Threshold],
    global: &GlobalFigures<'_>,
    steps: &[StepFigures<'_>],
) -> Vec<ThresholdResult> {
    let all_rules: Vec<Rule> = rules.iter().map(|t| t.rule).collect();
    let global = Measured {
        throughput_per_s: global.throughput_per_s,
        dropped: global.dropped,
        lost_messages: global.lost_messages,
        misdelivered_events: global.misdelivered_events,
        ..measured_of(
            global.scenario,
            &all_rules,
            global.iterations - global.iterations_failed,
            global.iterations_failed,
        )
    };
    let mut results = Vec::new();
    for t in rules {
        let Some(selector) = &t.step else {
            let e = t.rule.evaluate(&global);
            results.push(ThresholdResult {
                rule: t.rule.to_string(),
                scope: "global".into(),
                measured: e.measured,
                passed: e.passed,
            });
            continue;
        };
        let matching: Vec<&StepFigures<'_>> =
            steps.iter().filter(|s| (s.selected_by)(selector)).collect();
        if matching.is_empty() || !t.rule.metric.step_scoped() {
            results.push(ThresholdResult {
                rule: t.rule.to_string(),
                scope: selector.clone(),
                measured: if matching.is_empty() {
                    "no step of the run matches".into()
                } else {
                    format!("{} cannot be scoped to a step", t.rule.metric)
                },
                passed: false,
            });
            continue;
        }
        for s in matching {
            let e = t
                .rule
                .evaluate(&measured_of(s.hist, &all_rules, s.hist.len(), s.errors));
            results.push(ThresholdResult {
                rule: t.rule.to_string(),
                scope: s.name.to_owned(),
                measured: e.measured,
                passed: e.passed,
            });
        }
    }
    results
}

/// One line per threshold and how it came out, for the text summaries.
pub fn threshold_lines(results: &[ThresholdResult]) -> String {
    let mut o = String::new();
    for t in results {
        let _ = writeln!(
            o,
            "  {} {} [{}]: measured {}",
            if t.passed { "ok  " } else { "FAIL" },
            t.rule,
            t.scope,
            t.measured
        );
    }
    o
}

/// One line per failed threshold, for the verdict's reasons.
pub fn threshold_reasons(results: &[ThresholdResult]) -> Vec<String> {
    results
        .iter()
        .filter(|t| !t.passed)
        .map(|t| {
            format!(
                "{} is {}, rule {} ({})",
                measured_name(&t.rule),
                t.measured,
                t.rule,
                t.scope
            )
        })
        .collect()
}

fn measured_name(rule: &str) -> &str {
    rule.split_whitespace().next().unwrap_or(rule)
}

/// Writes `summary.json`, `report.html` and `summary.md` (the report module's one call).
pub fn write(run_dir: &Path, summary: &RunSummary) -> Result<(), crate::report::ReportError> {
    crate::report::write_reports(run_dir, summary).map(|_| ())
}

/// The text printed at the end of a run.
pub fn render_text(s: &RunSummary, f: &RunFacts<'_>) -> String {
    let Some(l) = &s.load else {
        return String::new();
    };
    let mut o = String::new();
    let _ = writeln!(o, "\n== goldenpath load: {} ==", s.run_id);
    let model = match (l.model.as_str(), l.rate_per_s) {
        ("open", Some(r)) => format!("open model, {r}/s arrivals, up to {} users", l.users),
        _ => format!("closed model, {} users", l.users),
    };
    let _ = writeln!(
        o,
        "{model}{}; {:.1}s; scenarios: {}",
        l.profile
            .as_ref()
            .map_or(String::new(), |p| format!(", profile {p}")),
        l.duration_s,
        f.plan_scenarios.join(" | ")
    );
    let _ = writeln!(
        o,
        "iterations {} ({} failed, {} interrupted, {} dropped), {:.1} iterations/s",
        l.iterations, l.iterations_failed, l.iterations_interrupted, l.dropped, l.throughput_per_s
    );
    let _ = writeln!(
        o,
        "\n{:<60} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "latency", "count", "errors", "p50", "p95", "p99", "max"
    );
    let row = |o: &mut String, d: &Distribution| {
        let mut name: String = d.name.chars().take(58).collect();
        if d.name.chars().count() > 58 {
            name.push('…');
        }
        let _ = writeln!(
            o,
            "{:<60} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9}",
            name,
            d.count,
            d.errors,
            format_micros(d.p50_us),
            format_micros(d.p95_us),
            format_micros(d.p99_us),
            format_micros(d.max_us)
        );
    };
    row(&mut o, &l.scenario);
    for d in &l.scenarios {
        row(&mut o, d);
    }
    for d in &l.steps {
        row(&mut o, d);
    }
    if !l.events.is_empty() {
        let _ = writeln!(o, "events (from the execute request to arrival):");
        for d in &l.events {
            row(&mut o, d);
        }
    }
    if !l.errors.is_empty() {
        let _ = writeln!(o, "\nerrors:");
        for e in &l.errors {
            let example: String = e
                .example
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(160)
                .collect();
            let _ = writeln!(
                o,
                "  {:>6} × {}\n           e.g. {example}",
                e.count, e.kind
            );
        }
    }
    let _ = writeln!(
        o,
        "\ncorrectness: {} misdelivered events, {} of {} acknowledged messages lost ({} of {} users read back)",
        l.misdelivered_events,
        l.lost_messages,
        l.acknowledged_messages,
        f.users_verified,
        f.users_run
    );
    if let Some(r) = &l.restart {
        let _ = writeln!(
            o,
            "restart: requested at {:.1}s, back at {}, downtime {}, {} failed requests in the window, {} messages lost",
            r.requested_at_s,
            r.back_at_s
                .map_or_else(|| "never".to_owned(), |b| format!("{b:.1}s")),
            r.downtime_ms
                .map_or_else(|| "-".to_owned(), |d| format!("{d}ms")),
            r.failed_requests,
            r.lost_messages
        );
        if let Some(d) = &r.reconnect {
            let _ = writeln!(
                o,
                "  reconnect ({} of {} users): p50 {} p95 {} p99 {} max {}",
                d.count,
                f.restart_tally.active_users,
                format_micros(d.p50_us),
                format_micros(d.p95_us),
                format_micros(d.p99_us),
                format_micros(d.max_us)
            );
        }
    }
    let _ = writeln!(o, "\nthresholds:");
    o.push_str(&threshold_lines(&l.thresholds));
    if let Some(rw) = &l.remote_write {
        let _ = writeln!(
            o,
            "\nprometheus remote write: {} pushes sent, {} failed, {} dropped ({})",
            rw.pushes_sent, rw.pushes_failed, rw.pushes_dropped, rw.url
        );
    }
    for n in &s.notes {
        let _ = writeln!(o, "note: {n}");
    }
    let _ = writeln!(o, "\nverdict: {:?}", s.verdict);
    for r in &s.reasons {
        let _ = writeln!(o, "  - {r}");
    }
    let _ = writeln!(o, "results: {}", f.run_dir.display());
    o
}
