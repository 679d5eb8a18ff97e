//! `summary.md`: the few lines a CI step summary shows (`$GITHUB_STEP_SUMMARY`).
//!
//! Deterministic: the order is the summary's, nothing depends on the clock or the machine,
//! so golden files can hold it (with durations normalised).

use std::fmt::Write as _;

use super::format::{
    count, duration_s, duration_us, error_rate, event_name, first_line, ms_unit, percent,
};
use crate::summary::{Distribution, LoadResult, RunKind, RunSummary, Status, Verdict};

/// Failed scenarios listed one by one; past this only their number.
const FAILED_LISTED: usize = 30;
const MESSAGE_CHARS: usize = 200;

/// Escapes text from outside for a Markdown line or table cell (GitHub flavour).
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A code span that survives backticks and table pipes in its content.
pub(crate) fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ").replace('|', "\\|");
    let mut fence = "`".to_owned();
    while s.contains(&fence) {
        fence.push('`');
    }
    if fence.len() > 1 || s.starts_with('`') || s.ends_with('`') {
        format!("{fence} {s} {fence}")
    } else {
        format!("`{s}`")
    }
}

pub(crate) fn render(s: &RunSummary) -> String {
    let mut out = String::new();
    let (icon, word) = match s.verdict {
        Verdict::Pass => ("✅", "PASS"),
        Verdict::Fail => ("❌", "FAIL"),
        Verdict::Incomplete => ("⚠️", "INCOMPLETE"),
    };
    let kind = match s.kind {
        RunKind::Acceptance => "acceptance run",
        RunKind::Load => "load run",
    };
    let _ = writeln!(
        out,
        "## {icon} {word}: goldenpath {kind} {}\n",
        code(&s.run_id)
    );
    for r in &s.reasons {
        let _ = writeln!(out, "- {}", text(r));
    }
    for n in &s.notes {
        let _ = writeln!(out, "- Note: {}", text(n));
    }
    if !s.reasons.is_empty() || !s.notes.is_empty() {
        out.push('\n');
    }

    let env = &s.environment;
    let mut target = match (&env.image, &env.base_url) {
        (Some(image), _) => format!("image {}", code(image)),
        (None, Some(url)) => format!("stack at {}", code(url)),
        (None, None) => text(&env.target_kind),
    };
    if let (Some(_), Some(id)) = (&env.image, &env.image_id) {
        let short: String = id.chars().take(19).collect();
        let _ = write!(target, " ({})", code(&short));
    }
    let faults = if env.faults.is_empty() {
        "none".to_owned()
    } else {
        env.faults
            .iter()
            .map(|f| code(f))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let commit = env
        .git_commit
        .as_deref()
        .map(|c| {
            format!(
                " (commit {})",
                code(&c.chars().take(12).collect::<String>())
            )
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Target: {target} · faults: {faults} · goldenpath {}{commit}\n",
        text(&env.goldenpath_version)
    );

    if !s.features.is_empty() {
        acceptance(&mut out, s);
    }
    if let Some(load) = &s.load {
        load_part(&mut out, load);
    }
    out.push_str("Full report: `report.html` in the run directory.\n");
    out
}

fn acceptance(out: &mut String, s: &RunSummary) {
    let all: Vec<_> = s.features.iter().flat_map(|f| &f.scenarios).collect();
    let n = |st: Status| all.iter().filter(|x| x.status == st).count();
    let not_run = n(Status::NotRun);
    let _ = writeln!(
        out,
        "### Scenarios: {} passed, {} failed, {} skipped{}\n",
        n(Status::Passed),
        n(Status::Failed),
        n(Status::Skipped),
        if not_run > 0 {
            format!(", {not_run} not run")
        } else {
            String::new()
        }
    );
    for sc in all.iter().filter(|x| x.status == Status::NotRun) {
        let _ = writeln!(
            out,
            "- Not run: {} ({})",
            text(&sc.name),
            text(sc.not_run.as_deref().unwrap_or_default())
        );
    }
    if not_run > 0 {
        out.push('\n');
    }
    let flaky: Vec<_> = all.iter().filter(|x| x.flaky).collect();
    for sc in &flaky {
        let _ = writeln!(
            out,
            "- Flaky: {} passed on attempt {} after: {}",
            text(&sc.name),
            sc.attempts.len() + 1,
            sc.attempts
                .iter()
                .map(|a| text(
                    a.error
                        .as_deref()
                        .and_then(|e| e.lines().next())
                        .unwrap_or("a failure")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    if !flaky.is_empty() {
        out.push('\n');
    }
    out.push_str("| Feature | Passed | Failed | Skipped |\n|---|---:|---:|---:|\n");
    for f in &s.features {
        let n = |st: Status| f.scenarios.iter().filter(|x| x.status == st).count();
        let failed = n(Status::Failed);
        let _ = writeln!(
            out,
            "| {}{} | {} | {} | {} |",
            if failed > 0 { "❌ " } else { "" },
            text(&f.name),
            n(Status::Passed),
            failed,
            n(Status::Skipped)
        );
    }
    out.push('\n');

    let failed: Vec<_> = s
        .features
        .iter()
        .flat_map(|f| f.scenarios.iter().map(move |sc| (f, sc)))
        .filter(|(_, sc)| sc.status == Status::Failed)
        .collect();
    if failed.is_empty() {
        return;
    }
    out.push_str("### Failed scenarios\n\n");
    for (f, sc) in failed.iter().take(FAILED_LISTED) {
        let _ = write!(
            out,
            "- **{} › {}** ({})",
            text(&f.name),
            text(&sc.name),
            code(&format!("{}:{}", f.path, sc.line))
        );
        match sc.steps.iter().find(|st| st.status == Status::Failed) {
            Some(step) => {
                let _ = write!(
                    out,
                    ": step {}",
                    code(&format!("{} {}", step.keyword.trim(), step.text))
                );
                if let Some(e) = &step.error {
                    let _ = write!(out, ": {}", text(&first_line(e, MESSAGE_CHARS)));
                }
            }
            None => out.push_str(": no step failed (hook or timeout)"),
        }
        out.push('\n');
    }
    if failed.len() > FAILED_LISTED {
        let _ = writeln!(out, "- … and {} more", failed.len() - FAILED_LISTED);
    }
    out.push('\n');
}

fn dist_row(out: &mut String, name: &str, d: &Distribution) {
    if let Some(reason) = &d.not_run {
        let _ = writeln!(
            out,
            "| {name} | not run under load: {} | | | | |",
            text(reason)
        );
        return;
    }
    let _ = writeln!(
        out,
        "| {} | {} | {} ({}) | {} | {} | {} |",
        name,
        count(d.count),
        count(d.errors),
        percent(error_rate(d.errors, d.count)),
        ms_unit(d.p50_us),
        ms_unit(d.p95_us),
        ms_unit(d.p99_us)
    );
}

fn load_part(out: &mut String, load: &LoadResult) {
    let _ = writeln!(
        out,
        "### Load: {} users, {} model{}, {}\n",
        count(load.users),
        text(&load.model),
        load.profile
            .as_deref()
            .map(|p| format!(", profile {}", code(p)))
            .unwrap_or_default(),
        duration_s(load.duration_s)
    );
    let _ = writeln!(
        out,
        "{} iterations ({} failed, {} interrupted, {} dropped), {:.1} iterations/s; misdelivered events: {}; lost messages: {} of {} acknowledged\n",
        count(load.iterations),
        count(load.iterations_failed),
        count(load.iterations_interrupted),
        count(load.dropped),
        load.throughput_per_s,
        count(load.misdelivered_events),
        count(load.lost_messages),
        count(load.acknowledged_messages)
    );
    out.push_str("| Step | Count | Errors | p50 | p95 | p99 |\n|---|---:|---:|---:|---:|---:|\n");
    dist_row(out, "*whole iteration*", &load.scenario);
    for d in &load.scenarios {
        dist_row(out, &format!("*{}*", text(&d.name)), d);
    }
    for d in &load.steps {
        dist_row(out, &text(&d.name), d);
    }
    out.push('\n');
    if !load.events.is_empty() {
        out.push_str(
            "| Agent event | Count | Errors | p50 | p95 | p99 |\n|---|---:|---:|---:|---:|---:|\n",
        );
        for d in &load.events {
            dist_row(out, &text(&event_name(d)), d);
        }
        out.push('\n');
    }
    if !load.thresholds.is_empty() {
        out.push_str("| Threshold | Applies to | Measured | Result |\n|---|---|---|---|\n");
        for t in &load.thresholds {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                code(&t.rule),
                text(&t.scope),
                text(&t.measured),
                if t.passed { "✅ pass" } else { "❌ FAIL" }
            );
        }
        out.push('\n');
    }
    if let Some(sh) = &load.shard {
        let _ = writeln!(
            out,
            "Shard {} of {} of run {}: users, rate and iterations are this shard's share; `goldenpath merge` judges the whole.\n",
            sh.index,
            sh.count,
            code(&sh.run_id)
        );
    }
    if !load.missing_shards.is_empty() {
        let missing: Vec<String> = load.missing_shards.iter().map(u64::to_string).collect();
        let _ = writeln!(
            out,
            "**Missing shards: {}.** The figures cover only the shards below.\n",
            missing.join(", ")
        );
    }
    if !load.shards.is_empty() {
        out.push_str("| Shard | Host | Users | Iterations | Failed | Start lateness |\n|---:|---|---:|---:|---:|---:|\n");
        for sh in &load.shards {
            let _ = writeln!(
                out,
                "| {} / {} | {} | {} | {} | {} | {} ms |",
                sh.index,
                sh.count,
                code(&sh.host),
                count(sh.users),
                count(sh.iterations),
                count(sh.iterations_failed),
                sh.lateness_ms
            );
        }
        out.push('\n');
    }
    if let Some(r) = &load.restart {
        let back = match r.back_at_s {
            Some(b) => format!("back at {}", duration_s(b)),
            None => "**never came back**".to_owned(),
        };
        let downtime = r
            .downtime_ms
            .map(|d| format!(", downtime {}", duration_us(d * 1000)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "Restart: requested at {}, {back}{downtime}, {} failed requests, {} lost messages\n",
            duration_s(r.requested_at_s),
            count(r.failed_requests),
            count(r.lost_messages)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markdown_and_html() {
        assert_eq!(text("a|b <script>*x*"), "a\\|b &lt;script&gt;\\*x\\*");
        assert_eq!(code("p95 < 300ms"), "`p95 < 300ms`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("x|y"), "`x\\|y`");
    }
}
