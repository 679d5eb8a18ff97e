//! `junit.xml` of an acceptance run, written from the [`RunSummary`] with `quick-junit`
//! (the crate cargo-nextest writes its JUnit with).
//!
//! One test suite per feature, one test case per scenario. A scenario retried with
//! `--retries` is written as Maven Surefire and nextest write a rerun test: passed on a
//! retry, a success with a `<flakyFailure>` for each failed attempt (CI tools count it as
//! passed and show it as flaky); failed every time, the first failure in `<failure>` and
//! each later one in `<rerunFailure>`. Not-run scenarios are skipped with the reason.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use crate::summary::{Attempt, RunSummary, ScenarioResult, Status};

/// The JUnit XML of an acceptance run.
pub(crate) fn render(summary: &RunSummary) -> String {
    let mut report = Report::new(format!("goldenpath {}", summary.run_id));
    for feature in &summary.features {
        let mut suite = TestSuite::new(format!("Feature: {}: {}", feature.name, feature.path));
        for s in &feature.scenarios {
            suite.add_test_case(test_case(&feature.name, &feature.path, s));
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit.xml could not be written: {e} -->\n"))
}

fn test_case(feature: &str, path: &str, s: &ScenarioResult) -> TestCase {
    let last = Attempt {
        status: s.status,
        duration_us: s.duration_us,
        failed_step: failed_step(s).map(|(step, _)| step),
        error: failed_step(s).and_then(|(_, error)| error),
    };
    let status = match s.status {
        Status::Passed => {
            let mut status = TestCaseStatus::success();
            status.add_reruns(s.attempts.iter().map(rerun));
            status
        }
        Status::Failed => {
            // Surefire's order: the first failure is the test's, later ones reruns.
            let mut all = s.attempts.iter().chain(std::iter::once(&last));
            let first = all.next().unwrap_or(&last);
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_type(failure_type(first))
                .set_message(first_line(first.error.as_deref()))
                .set_description(describe(first));
            status.add_reruns(all.map(rerun));
            status
        }
        Status::Skipped => {
            let mut status = TestCaseStatus::skipped();
            status.set_message("a step was skipped");
            status
        }
        Status::NotRun => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(format!(
                "not run: {}",
                s.not_run
                    .as_deref()
                    .unwrap_or("it cannot run against this target")
            ));
            status
        }
    };
    let mut case = TestCase::new(format!("Scenario: {}: {path}:{}", s.name, s.line), status);
    case.set_classname(format!("Feature: {feature}"))
        .set_time(Duration::from_micros(s.duration_us))
        .set_system_out(steps_text(s));
    case
}

fn rerun(a: &Attempt) -> TestRerun {
    let mut r = TestRerun::new(NonSuccessKind::Failure);
    r.set_type(failure_type(a))
        .set_message(first_line(a.error.as_deref()))
        .set_stack_trace(describe(a))
        .set_time(Duration::from_micros(a.duration_us));
    r
}

fn failed_step(s: &ScenarioResult) -> Option<(String, Option<String>)> {
    s.steps
        .iter()
        .find(|st| st.status == Status::Failed)
        .map(|st| (format!("{} {}", st.keyword, st.text), st.error.clone()))
}

fn failure_type(a: &Attempt) -> &'static str {
    match a.failed_step.as_deref() {
        Some(step) if step.starts_with("Hook") => "Hook Failed",
        _ => "Step Failed",
    }
}

fn first_line(error: Option<&str>) -> String {
    error
        .and_then(|e| e.lines().next())
        .unwrap_or("failed")
        .to_owned()
}

fn describe(a: &Attempt) -> String {
    format!(
        "{}\n{}",
        a.failed_step.as_deref().unwrap_or("(no step)"),
        a.error.as_deref().unwrap_or("")
    )
}

/// The scenario's steps and how each ended, as the test case's output.
fn steps_text(s: &ScenarioResult) -> String {
    let mut out = String::new();
    for st in &s.steps {
        out.push_str(&format!(
            "{:<8} {} {}\n",
            format!("{:?}", st.status).to_lowercase(),
            st.keyword,
            st.text
        ));
        if let Some(e) = &st.error {
            for line in e.lines() {
                out.push_str(&format!("           {line}\n"));
            }
        }
    }
    out
}
