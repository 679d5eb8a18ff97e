//! `--retries`: a scenario that fails and then passes is flaky, not failed.
//!
//! The reference stack runs in-process (a stack goldenpath did not start). A feature of
//! this test's own has three scenarios: one whose check fails on its first attempt only
//! (a step of this test binary, registered on `GoldenWorld` as a team's would be), one
//! whose check fails every time, and a steady one. Without retries the first one fails
//! (nothing changes); with `retries = 2` it passes and is named flaky in summary.json,
//! report.html, summary.md and junit.xml (`<flakyFailure>`, as Maven Surefire and
//! nextest write it), cucumber.json keeps only its passing attempt, and the one that
//! always fails is failed with `<rerunFailure>`s; without that one the verdict is PASS.
//! `harness = false`: the step must be registered in this binary's own `main`.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Mutex, PoisonError};

use cucumber::then;
use goldenpath::summary::{RunSummary, ScenarioResult, Status, Verdict};
use goldenpath::{Config, GoldenWorld, RunOptions};

mod common;

/// Attempts made so far, by check name.
static ATTEMPTS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

#[then(expr = "the check {string} holds from attempt {int} on")]
async fn holds_from_attempt(_world: &mut GoldenWorld, name: String, from: usize) {
    let attempt = {
        let mut guard = ATTEMPTS.lock().unwrap_or_else(PoisonError::into_inner);
        let n = guard
            .get_or_insert_with(HashMap::new)
            .entry(name.clone())
            .or_insert(0);
        *n += 1;
        *n
    };
    assert!(
        attempt >= from,
        "{name}: attempt {attempt} fails on purpose (it holds from attempt {from} on)"
    );
}

const FEATURE: &str = "Feature: Retries
  Scenario: A dependency that fails once
    When the health endpoint is asked
    Then the check \"once\" holds from attempt 2 on

  Scenario: A dependency that always fails
    When the health endpoint is asked
    Then the check \"always\" holds from attempt 99 on

  Scenario: A steady dependency
    When the health endpoint is asked
    Then the check \"steady\" holds from attempt 1 on
";

async fn run(
    url: &str,
    features: &Path,
    reports: &Path,
    retries: usize,
) -> (RunSummary, std::path::PathBuf) {
    *ATTEMPTS.lock().unwrap_or_else(PoisonError::into_inner) = None;
    let mut config = Config::default();
    config.target.base_url = Some(url.to_owned());
    let mut opts = RunOptions::new(config);
    opts.features = vec![features.to_owned()];
    opts.reports_dir = reports.to_owned();
    opts.progress = false;
    opts.retries = retries;
    let outcome = goldenpath::run(opts).await.expect("the run runs");
    (outcome.summary.clone(), outcome.run_dir.clone())
}

fn scenario<'a>(s: &'a RunSummary, name: &str) -> &'a ScenarioResult {
    s.scenarios()
        .find(|sc| sc.name == name)
        .unwrap_or_else(|| panic!("{name} is in the summary"))
}

fn check(what: &str, ok: bool, failures: &mut Vec<String>) {
    println!("{} {what}", if ok { "ok  " } else { "FAIL" });
    if !ok {
        failures.push(what.to_owned());
    }
}

fn main() -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let failures = runtime.block_on(async {
        let stack = common::stack("").await;
        let dir = tempfile::tempdir().unwrap();
        let features = dir.path().join("features");
        std::fs::create_dir(&features).unwrap();
        std::fs::write(features.join("retries.feature"), FEATURE).unwrap();
        let reports = dir.path().join("reports");
        let mut failures = Vec::new();
        let f = &mut failures;

        // Without --retries nothing changes: the first failure is the scenario's.
        let (s, _) = run(&stack.url, &features, &reports, 0).await;
        let once = scenario(&s, "A dependency that fails once");
        check("without retries the flaky scenario fails", once.status == Status::Failed && once.attempts.is_empty() && !once.flaky, f);
        check("without retries the verdict is FAIL", s.verdict == Verdict::Fail, f);

        // With two retries: flaky passes, the broken one fails after three attempts.
        let (s, run_dir) = run(&stack.url, &features, &reports, 2).await;
        let once = scenario(&s, "A dependency that fails once");
        check("with retries the flaky scenario passed", once.status == Status::Passed, f);
        check("it is named flaky with its failed attempt", once.flaky && once.attempts.len() == 1, f);
        check(
            "the attempt keeps the failing step and its error",
            once.attempts.first().is_some_and(|a| {
                a.status == Status::Failed
                    && a.failed_step.as_deref().is_some_and(|st| st.contains("holds from attempt 2"))
                    && a.error.as_deref().is_some_and(|e| e.contains("attempt 1 fails on purpose"))
            }),
            f,
        );
        check("the last attempt's steps are the scenario's", once.steps.len() == 2 && once.steps.iter().all(|st| st.status == Status::Passed), f);
        let always = scenario(&s, "A dependency that always fails");
        check("the broken one failed after 3 attempts", always.status == Status::Failed && always.attempts.len() == 2 && !always.flaky, f);
        let steady = scenario(&s, "A steady dependency");
        check("the steady one ran once", steady.status == Status::Passed && steady.attempts.is_empty(), f);
        check("the verdict is FAIL (the broken one)", s.verdict == Verdict::Fail, f);
        check("the verdict says how many were flaky", s.reasons.iter().any(|r| r.starts_with("1 flaky")), f);

        let read = |file: &str| std::fs::read_to_string(run_dir.join(file)).unwrap_or_default();
        let junit = read("junit.xml");
        let case = |name: &str| {
            junit
                .split("<testcase ")
                .find(|c| c.contains(name))
                .map(|c| c.split("</testcase>").next().unwrap_or_default().to_owned())
                .unwrap_or_default()
        };
        let once_case = case("A dependency that fails once");
        check(
            "junit.xml: the flaky one passes with a <flakyFailure>",
            once_case.contains("<flakyFailure") && !once_case.contains("<failure"),
            f,
        );
        let always_case = case("A dependency that always fails");
        check(
            "junit.xml: the broken one fails with 2 <rerunFailure>s",
            always_case.contains("<failure") && always_case.matches("<rerunFailure").count() == 2,
            f,
        );
        let json: serde_json::Value = serde_json::from_str(&read("cucumber.json")).unwrap_or_default();
        let once_steps: Vec<String> = json[0]["elements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["name"] == "A dependency that fails once")
            .flat_map(|e| e["steps"].as_array().cloned().unwrap_or_default())
            .map(|st| st["result"]["status"].as_str().unwrap_or_default().to_owned())
            .collect();
        check("cucumber.json keeps the flaky one's passing attempt", once_steps == ["passed", "passed"], f);
        check("report.html names it flaky", read("report.html").contains("badge flaky") && read("report.html").contains("attempt 1 fails on purpose"), f);
        check("summary.md names it flaky", read("summary.md").contains("Flaky: A dependency that fails once"), f);
        common::assert_matches_committed_schema(&run_dir.join("summary.json"));

        // Without the broken one: PASS, and still named flaky.
        let only = dir.path().join("only");
        std::fs::create_dir(&only).unwrap();
        std::fs::write(
            only.join("retries.feature"),
            FEATURE.split("\n\n  Scenario: A dependency that always fails").next().unwrap().to_owned()
                + "\n\n  Scenario: A steady dependency\n    When the health endpoint is asked\n    Then the check \"steady\" holds from attempt 1 on\n",
        )
        .unwrap();
        let (s, _) = run(&stack.url, &only, &reports, 2).await;
        check("a flaky run's verdict is PASS", s.verdict == Verdict::Pass, f);
        check("and it says 1 flaky", s.reasons.iter().any(|r| r.starts_with("1 flaky")), f);
        failures
    });
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("{} check(s) failed: {failures:?}", failures.len());
        ExitCode::FAILURE
    }
}
