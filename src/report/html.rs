//! `report.html`: one self-contained page (inline CSS, inline SVG, no script, nothing fetched)
//! that a person signs a release off with. Everything from outside (step text, messages, log
//! tails, names, configuration) goes through maud's escaping.

use std::path::Path;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::charts;
use super::format::{count, duration_s, duration_us, error_rate, event_name, ms, percent, tail};
use crate::summary::{
    Distribution, FeatureResult, LoadResult, RestartWindow, RunKind, RunSummary, ScenarioResult,
    Status, ThresholdResult,
};

/// Per failing scenario, at most this much of the stack's log tail…
const LOG_TAIL_LINES: usize = 200;
const LOG_TAIL_BYTES: usize = 32 * 1024;
/// …and at most this much for all of them together, so the page stays small.
const LOG_TAIL_BUDGET: usize = 768 * 1024;
/// A step's failure message is cut past this many bytes.
const MESSAGE_BYTES: usize = 16 * 1024;
const ERROR_GROUPS_SHOWN: usize = 50;
const CONFIG_BYTES: usize = 64 * 1024;

const CSS: &str = include_str!("report.css");

/// The whole page. `run_dir` is where the `.hlog` files are looked up; without it the
/// distribution charts use the summary percentiles.
pub(crate) fn render(summary: &RunSummary, run_dir: Option<&Path>) -> String {
    let verdict = summary.verdict.word();
    let kind = match summary.kind {
        RunKind::Acceptance => "acceptance run",
        RunKind::Load => "load run",
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light";
                meta name="generator" content={ "goldenpath " (summary.environment.goldenpath_version) };
                title { "goldenpath " (verdict) " — " (kind) " " (summary.run_id) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header class={ "verdict " (verdict.to_ascii_lowercase()) } {
                    div.word { (verdict) }
                    div.what {
                        div.kind { "goldenpath " (kind) " " code { (summary.run_id) } }
                        @if summary.reasons.is_empty() {
                            p.reason { "No reasons given." }
                        } @else {
                            ul.reasons {
                                @for r in &summary.reasons { li { (r) } }
                            }
                        }
                        @if !summary.notes.is_empty() {
                            ul.notes {
                                @for n in &summary.notes { li { "Note: " (n) } }
                            }
                        }
                    }
                }
                main {
                    (tested(summary))
                    @if !summary.features.is_empty() {
                        (acceptance(&summary.features))
                    }
                    @if let Some(load) = &summary.load {
                        (load_section(load, run_dir))
                    }
                }
                footer {
                    "Written by goldenpath " (summary.environment.goldenpath_version)
                    ". Rebuild with " code { "goldenpath report RUN_DIR" } "."
                }
            }
        }
    };
    page.into_string()
}

fn tested(s: &RunSummary) -> Markup {
    let env = &s.environment;
    let run_time = match (
        chrono::DateTime::parse_from_rfc3339(&s.started_at),
        chrono::DateTime::parse_from_rfc3339(&s.finished_at),
    ) {
        (Ok(a), Ok(b)) => (b - a)
            .to_std()
            .ok()
            .map(|d| duration_us(d.as_micros() as u64)),
        _ => None,
    };
    let config = super::format::truncate_chars(&env.config_toml, CONFIG_BYTES);
    html! {
        section #tested {
            h2 { "What was tested" }
            table.kv {
                tbody {
                    tr {
                        th { "Target" }
                        td {
                            @match (&env.image, &env.base_url) {
                                (Some(image), _) => {
                                    "image " code { (image) }
                                    @if let Some(id) = &env.image_id { " " code.muted { (id) } }
                                }
                                (None, Some(url)) => { "running stack at " code { (url) } }
                                (None, None) => { (env.target_kind) }
                            }
                            @if env.image.is_some() {
                                @if let Some(url) = &env.base_url { " at " code { (url) } }
                            }
                        }
                    }
                    tr {
                        th { "Faults" }
                        td {
                            @if env.faults.is_empty() { "none" }
                            @else {
                                @for (i, f) in env.faults.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    code { (f) }
                                }
                            }
                        }
                    }
                    tr { th { "goldenpath" } td { (env.goldenpath_version)
                        @if let Some(c) = &env.git_commit { " · commit " code { (c) } } } }
                    tr { th { "When" } td { (s.started_at) " → " (s.finished_at)
                        @if let Some(d) = run_time { " (" (d) ")" } } }
                    tr { th { "Machine" } td { (env.hostname) " · " (env.os) " · " (env.cpus) " CPUs" } }
                    @if !env.command_line.is_empty() {
                        tr { th { "Command" } td { code { (env.command_line) } } }
                    }
                }
            }
            details.config {
                summary { "Configuration" }
                @if env.config_toml.trim().is_empty() {
                    p { "(not recorded)" }
                } @else {
                    pre { (config) }
                }
            }
        }
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
        Status::NotRun => "not run",
    }
}

/// The CSS class of a status: its word, with no space.
fn status_class(s: Status) -> &'static str {
    match s {
        Status::NotRun => "not-run",
        other => status_word(other),
    }
}

fn badge(s: Status) -> Markup {
    html! { span class={ "badge " (status_class(s)) } { (status_word(s)) } }
}

#[derive(Default, Clone, Copy)]
struct Counts {
    passed: usize,
    failed: usize,
    skipped: usize,
    not_run: usize,
    duration_us: u64,
}

fn counts<'a>(scenarios: impl IntoIterator<Item = &'a ScenarioResult>) -> Counts {
    let mut c = Counts::default();
    for s in scenarios {
        match s.status {
            Status::Passed => c.passed += 1,
            Status::Failed => c.failed += 1,
            Status::Skipped => c.skipped += 1,
            Status::NotRun => c.not_run += 1,
        }
        c.duration_us += s.duration_us;
    }
    c
}

/// Log tails to show, cut per scenario and within one budget for the page, in page order.
fn log_tails(features: &[FeatureResult]) -> Vec<Vec<Option<(String, String)>>> {
    let mut budget = LOG_TAIL_BUDGET;
    features
        .iter()
        .map(|f| {
            f.scenarios
                .iter()
                .map(|s| {
                    let text = s.stack_log_tail.as_deref()?;
                    let where_full = s
                        .stack_log_file
                        .as_deref()
                        .map(|p| format!("; full tail in {p}"))
                        .unwrap_or_default();
                    if budget == 0 {
                        return Some((
                            String::new(),
                            format!("omitted to keep the page small{where_full}"),
                        ));
                    }
                    let (kept, dropped) = tail(text, LOG_TAIL_LINES, LOG_TAIL_BYTES.min(budget));
                    budget = budget.saturating_sub(kept.len());
                    let lines = kept.lines().count();
                    let label = if dropped > 0 {
                        format!(
                            "last {lines} lines ({dropped} earlier lines not shown{where_full})"
                        )
                    } else {
                        format!("{lines} lines{where_full}")
                    };
                    Some((kept, label))
                })
                .collect()
        })
        .collect()
}

fn acceptance(features: &[FeatureResult]) -> Markup {
    let all = counts(features.iter().flat_map(|f| &f.scenarios));
    let steps: usize = features
        .iter()
        .flat_map(|f| &f.scenarios)
        .map(|s| s.steps.len())
        .sum();
    let tails = log_tails(features);
    let flaky = features
        .iter()
        .flat_map(|f| &f.scenarios)
        .filter(|s| s.flaky)
        .count();
    html! {
        section #acceptance {
            h2 { "Scenarios" }
            p.counts {
                (features.len()) " features · "
                span.passed-text { (all.passed) " passed" } " · "
                span.failed-text { (all.failed) " failed" } " · "
                (all.skipped) " skipped · "
                @if all.not_run > 0 { span.not-run-text { (all.not_run) " not run" } " · " }
                @if flaky > 0 { span.flaky-text { (flaky) " flaky" } " · " }
                (steps) " steps · " (duration_us(all.duration_us))
            }
            table.features {
                thead { tr { th { "Feature" } th.num { "Passed" } th.num { "Failed" } th.num { "Skipped" } th.num { "Time" } } }
                tbody {
                    @for f in features {
                        @let c = counts(&f.scenarios);
                        tr class=[(c.failed > 0).then_some("failed")] {
                            td { (f.name) " " span.muted { (f.path) } }
                            td.num { (c.passed) }
                            td.num { (c.failed) }
                            td.num { (c.skipped) }
                            td.num { (duration_us(c.duration_us)) }
                        }
                    }
                }
            }
            @for (fi, f) in features.iter().enumerate() {
                section.feature {
                    h3 { "Feature: " (f.name) " " span.muted { (f.path) } }
                    @for (si, s) in f.scenarios.iter().enumerate() {
                        (scenario(f, s, tails[fi][si].as_ref()))
                    }
                }
            }
        }
    }
}

fn scenario(f: &FeatureResult, s: &ScenarioResult, log_tail: Option<&(String, String)>) -> Markup {
    let failed = s.status == Status::Failed;
    html! {
        details class={ "scenario " (status_class(s.status)) @if s.flaky { " flaky" } } open[failed || s.flaky] {
            summary {
                (badge(s.status)) " "
                @if s.flaky { span.badge.flaky { "flaky" } " " }
                strong { (s.name) }
                " " span.muted { (f.path) ":" (s.line) }
                @for t in &s.tags { " " span.tag { (t) } }
                span.dur { (duration_us(s.duration_us)) }
            }
            @if let Some(reason) = &s.not_run {
                p.not-run-reason { "Not run: " (reason) }
            }
            @if !s.attempts.is_empty() {
                div.attempts {
                    p { (s.attempts.len() + 1) " attempts; the steps below are the last one's."
                        @if s.flaky { " It failed, then passed on a retry: flaky." } }
                    ol {
                        @for a in &s.attempts {
                            li { (badge(a.status)) " " (duration_us(a.duration_us)) " · "
                                span.kw { (a.failed_step.as_deref().unwrap_or("(no step)")) }
                                @if let Some(e) = &a.error {
                                    pre.error { (super::format::truncate_chars(e, MESSAGE_BYTES)) }
                                }
                            }
                        }
                    }
                }
            }
            table.steps {
                thead { tr { th.status { "Status" } th { "Step" } th.num { "Line" } th.num { "Time" } } }
                tbody {
                    @for step in &s.steps {
                        tr class=(status_class(step.status)) {
                            td.status { (badge(step.status)) }
                            td { span.kw { (step.keyword.trim()) } " " (step.text) }
                            td.num { (step.line) }
                            td.num { (duration_us(step.duration_us)) }
                        }
                        @if let Some(err) = &step.error {
                            tr.error {
                                td colspan="4" {
                                    pre.error { (super::format::truncate_chars(err, MESSAGE_BYTES)) }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some((text, label)) = log_tail {
                details.log {
                    summary { "Stack log tail — " (label) }
                    @if !text.is_empty() { pre.log { (text) } }
                }
            }
        }
    }
}

fn scoped<'a>(thresholds: &'a [ThresholdResult], name: &str) -> Vec<&'a ThresholdResult> {
    thresholds.iter().filter(|t| t.scope == name).collect()
}

fn threshold_badges(thresholds: &[&ThresholdResult]) -> Markup {
    html! {
        @for t in thresholds {
            span class={ "badge " (if t.passed { "passed" } else { "failed" }) } title=(t.measured) {
                (t.rule) @if !t.passed { " ✗" }
            }
            " "
        }
    }
}

fn distribution_table(
    title: &str,
    rows: &[&Distribution],
    thresholds: &[ThresholdResult],
) -> Markup {
    html! {
        h3 { (title) }
        table.dist {
            thead {
                tr {
                    th { "Name" } th.num { "Count" } th.num { "Errors" } th.num { "Error rate" }
                    th.num { "p50" } th.num { "p90" } th.num { "p95" } th.num { "p99" }
                    th.num { "p99.9" } th.num { "max" } th { "Thresholds" }
                }
            }
            tbody {
                @for d in rows {
                    @let mine = scoped(thresholds, &d.name);
                    @let bad = d.errors > 0 || mine.iter().any(|t| !t.passed);
                    @if let Some(reason) = &d.not_run {
                        tr.not-run {
                            td { (d.name) }
                            td colspan="10" { span class="badge not-run" { "not run" } " under load: " (reason) }
                        }
                    } @else {
                    tr class=[bad.then_some("failed")] {
                        td { (event_name(d)) }
                        td.num { (count(d.count)) }
                        td.num { (count(d.errors)) }
                        td.num { (percent(error_rate(d.errors, d.count))) }
                        td.num { (ms(d.p50_us)) }
                        td.num { (ms(d.p90_us)) }
                        td.num { (ms(d.p95_us)) }
                        td.num { (ms(d.p99_us)) }
                        td.num { (ms(d.p999_us)) }
                        td.num { (ms(d.max_us)) }
                        td { (threshold_badges(&mine)) }
                    }
                    }
                }
            }
        }
        p.note { "Latencies in milliseconds." }
    }
}

fn load_section(load: &LoadResult, run_dir: Option<&Path>) -> Markup {
    let charts = charts::load_charts(load, run_dir);
    let scenario_rows: Vec<&Distribution> = std::iter::once(&load.scenario)
        .chain(&load.scenarios)
        .collect();
    let step_rows: Vec<&Distribution> = load.steps.iter().collect();
    let event_rows: Vec<&Distribution> = load.events.iter().collect();
    html! {
        section #load {
            h2 { "Load" }
            table.kv {
                tbody {
                    tr { th { "Model" } td { (load.model)
                        @if let Some(p) = &load.profile { " · profile " code { (p) } }
                        " · " (count(load.users)) " users"
                        @if let Some(r) = load.rate_per_s { " · " (r) " iterations/s scheduled" } } }
                    tr { th { "Duration" } td { (duration_s(load.duration_s)) } }
                    tr { th { "Iterations" } td { (count(load.iterations)) " ("
                        span class=[(load.iterations_failed > 0).then_some("failed-text")] { (count(load.iterations_failed)) " failed" }
                        ", " (count(load.iterations_interrupted)) " interrupted, "
                        (count(load.dropped)) " dropped) · "
                        (format!("{:.1}", load.throughput_per_s)) " iterations/s" } }
                    tr class=[(load.misdelivered_events > 0).then_some("failed")] {
                        th { "Misdelivered events" } td { (count(load.misdelivered_events)) " (must be 0)" } }
                    tr class=[(load.lost_messages > 0).then_some("failed")] {
                        th { "Lost messages" } td { (count(load.lost_messages)) " of "
                            (count(load.acknowledged_messages)) " acknowledged (must be 0)" } }
                }
            }
            @if !load.thresholds.is_empty() {
                h3 { "Thresholds" }
                table.thresholds {
                    thead { tr { th { "Result" } th { "Rule" } th { "Applies to" } th { "Measured" } } }
                    tbody {
                        @for t in &load.thresholds {
                            tr class=[(!t.passed).then_some("failed")] {
                                td { span class={ "badge " (if t.passed { "passed" } else { "failed" }) } {
                                    (if t.passed { "pass" } else { "FAIL" }) } }
                                td { code { (t.rule) } }
                                td { (t.scope) }
                                td { (t.measured) }
                            }
                        }
                    }
                }
            }
            @if let Some(r) = &load.restart { (restart(r)) }
            @if let Some(sh) = &load.shard {
                p.note { "Shard " (sh.index) " of " (sh.count) " of run " code { (sh.run_id) }
                    " (users, rate and iterations are this shard's share); "
                    code { "goldenpath merge" } " adds the shards up and judges the thresholds on the whole." }
            }
            @if !load.shards.is_empty() || !load.missing_shards.is_empty() { (shards_table(load)) }
            (distribution_table("Whole iteration", &scenario_rows, &load.thresholds))
            @if !step_rows.is_empty() {
                (distribution_table("Steps", &step_rows, &load.thresholds))
            }
            @if !event_rows.is_empty() {
                (distribution_table("Agent events", &event_rows, &load.thresholds))
            }
            @if !charts.is_empty() {
                h3 { "Charts" }
                div.charts {
                    @for c in &charts { (c.render()) }
                }
            }
            @if !load.errors.is_empty() {
                h3 { "Errors" }
                table.errors {
                    thead { tr { th { "Kind" } th.num { "Count" } th { "Example" } } }
                    tbody {
                        @for e in load.errors.iter().take(ERROR_GROUPS_SHOWN) {
                            tr {
                                td { code { (e.kind) } }
                                td.num { (count(e.count)) }
                                td { pre.error { (super::format::truncate_chars(&e.example, 2048)) } }
                            }
                        }
                    }
                }
                @if load.errors.len() > ERROR_GROUPS_SHOWN {
                    p.note { (load.errors.len() - ERROR_GROUPS_SHOWN) " more error kinds in summary.json." }
                }
            }
        }
    }
}

/// A merged run's shards: what each ran, where, and how late it started.
fn shards_table(load: &LoadResult) -> Markup {
    html! {
        h3 { "Shards" }
        @if !load.missing_shards.is_empty() {
            p.failed-text { "Missing: shard(s) "
                (load.missing_shards.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
                ". The figures cover only the shards below." }
        }
        table.shards {
            thead { tr { th.num { "Shard" } th { "Host" } th.num { "Users" } th.num { "Iterations" }
                th.num { "Failed" } th { "Schedule started" } th.num { "Start lateness" } } }
            tbody {
                @for sh in &load.shards {
                    tr class=[(sh.iterations_failed > 0).then_some("failed")] {
                        td.num { (sh.index) " / " (sh.count) }
                        td { code { (sh.host) } }
                        td.num { (count(sh.users)) }
                        td.num { (count(sh.iterations)) }
                        td.num { (count(sh.iterations_failed)) }
                        td { (sh.started_schedule_at) }
                        td.num { (sh.lateness_ms) " ms" }
                    }
                }
            }
        }
    }
}

fn restart(r: &RestartWindow) -> Markup {
    html! {
        h3 { "Restart" }
        table.kv {
            tbody {
                tr { th { "Requested at" } td { (duration_s(r.requested_at_s)) " into the run" } }
                tr class=[r.back_at_s.is_none().then_some("failed")] {
                    th { "Back at" }
                    td {
                        @match r.back_at_s {
                            Some(b) => { (duration_s(b)) " (health answered with a new boot id)" }
                            None => { "never came back" }
                        }
                    }
                }
                @if let Some(d) = r.downtime_ms { tr { th { "Downtime" } td { (duration_us(d * 1000)) } } }
                tr { th { "Failed requests" } td { (count(r.failed_requests)) } }
                tr class=[(r.lost_messages > 0).then_some("failed")] {
                    th { "Lost messages" } td { (count(r.lost_messages)) " (must be 0)" } }
                @if let Some(d) = &r.reconnect {
                    tr { th { "Reconnect" } td { (count(d.count)) " reconnects · p50 " (ms(d.p50_us))
                        " ms · p95 " (ms(d.p95_us)) " ms · p99 " (ms(d.p99_us)) " ms · max " (ms(d.max_us)) " ms" } }
                }
            }
        }
    }
}
