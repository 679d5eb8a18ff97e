//! `goldenpath history`: many run directories with real `summary.json` files in, one page
//! and one Markdown summary out. The runs change from one to the next as nights do: a
//! scenario failing one run in three, a flaky one, a scenario added later, p95 creeping up
//! to its threshold, a restart in some runs, two configurations and both kinds of run, and
//! beside them a broken `summary.json` and one of an older schema.
//!
//! The page is checked as text (self-contained, grouped, the grid's cells, the threshold
//! lines), through the binary (exit codes, the skipped lines on stderr), and in headless
//! Chromium (the cells' and lines' colours on a screenshot kept for a person to look at).
//!
//! Chromium is required: `apt-get install -y chromium` (or set `GOLDENPATH_CHROMIUM`).

use std::path::{Path, PathBuf};
use std::process::Command;

use goldenpath::report::{self, HistoryOptions, ReportError};
use goldenpath::summary::*;

mod common;
use common::browser::{Screenshot, assert_self_contained, run_chromium};

const MAX_HTML_BYTES: usize = 2 * 1024 * 1024;
const CONFIG_A: &str = "[target]\nimage = \"agent-stack:1.4.2\"\n";
const CONFIG_B: &str = "[target]\nbase_url = \"https://staging.example\"\n";
const CONFIG_LOAD: &str = "[load.profiles.nightly]\nusers = 200\n";
const LOGIN_ERROR: &str =
    "expected status 401 for a wrong password, got 200\n  response body: {\"token\":\"<x>\"}";
const ACCEPTANCE_RUNS: usize = 6;
const LOAD_RUNS: usize = 6;

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

fn environment(config_toml: &str) -> Environment {
    Environment {
        goldenpath_version: "0.1.0".into(),
        git_commit: None,
        target_kind: "image".into(),
        image: Some("agent-stack:1.4.2".into()),
        image_id: None,
        base_url: Some("http://127.0.0.1:41234".into()),
        faults: vec![],
        hostname: "ci-runner-7".into(),
        os: "linux x86_64".into(),
        cpus: 2,
        config_toml: config_toml.into(),
        command_line: "goldenpath run".into(),
    }
}

/// The n-th night (1-based) at 02:00 UTC.
fn night(n: usize) -> String {
    format!("2025-06-{n:02}T02:00:00.000Z")
}

fn step(text: &str, status: Status, error: Option<&str>) -> StepResult {
    StepResult {
        keyword: "Then".into(),
        text: text.into(),
        line: 9,
        status,
        duration_us: 12_000,
        error: error.map(Into::into),
    }
}

fn scenario(name: &str, status: Status) -> ScenarioResult {
    let steps = match status {
        Status::Failed => vec![step(
            "the login fails with 401",
            Status::Failed,
            Some(LOGIN_ERROR),
        )],
        Status::Skipped => vec![step("an unknown step", Status::Skipped, None)],
        _ => vec![step("it works", status, None)],
    };
    ScenarioResult {
        name: name.into(),
        line: 6,
        tags: vec![],
        status,
        duration_us: 12_000,
        steps,
        stack_log_tail: None,
        stack_log_file: None,
        not_run: (status == Status::NotRun).then(|| "needs the container engine".into()),
        attempts: Vec::new(),
        flaky: false,
    }
}

fn flaky(name: &str) -> ScenarioResult {
    ScenarioResult {
        attempts: vec![Attempt {
            status: Status::Failed,
            duration_us: 9_000,
            failed_step: Some("Then \"Alice\" receives the five agent events in order".into()),
            error: Some("agent_completed did not arrive within 5 s".into()),
        }],
        flaky: true,
        ..scenario(name, Status::Passed)
    }
}

/// Night `n` of configuration A: "Wrong password is refused" fails every third night, the
/// agent scenario is flaky on night 2, the dashboard scenario is skipped on night 1 and not
/// run on night 4, and "Threads survive" exists from night 4 on.
fn acceptance_run(n: usize) -> RunSummary {
    let wrong_password = if n.is_multiple_of(3) {
        scenario("Wrong password is refused", Status::Failed)
    } else {
        scenario("Wrong password is refused", Status::Passed)
    };
    let agent = if n == 2 {
        flaky("Executing the agent streams five events")
    } else {
        scenario("Executing the agent streams five events", Status::Passed)
    };
    let dashboard = scenario(
        "Statistics arrive on cadence",
        match n {
            1 => Status::Skipped,
            4 => Status::NotRun,
            _ => Status::Passed,
        },
    );
    let mut threads = vec![scenario("A thread lists its messages", Status::Passed)];
    if n >= 4 {
        threads.push(scenario("Threads survive a restart", Status::Passed));
    }
    let feature = |name: &str, scenarios| FeatureResult {
        name: name.into(),
        path: format!("features/{}.feature", name.to_lowercase()),
        scenarios,
    };
    let failed = n.is_multiple_of(3);
    RunSummary {
        schema_version: SCHEMA_VERSION,
        // Directory names that do not sort by time: the page must order by started_at.
        run_id: format!("acc-{}", ["f", "b", "e", "a", "d", "c"][n - 1]),
        kind: RunKind::Acceptance,
        verdict: if failed { Verdict::Fail } else { Verdict::Pass },
        reasons: if failed {
            vec!["1 scenario failed".into()]
        } else {
            vec![]
        },
        started_at: night(n),
        finished_at: night(n).replace("02:00:00", "02:03:00"),
        environment: environment(CONFIG_A),
        features: vec![
            feature(
                "Authentication",
                vec![
                    scenario("Login with the seeded user", Status::Passed),
                    wrong_password,
                ],
            ),
            feature("Agents", vec![agent]),
            feature("Dashboard", vec![dashboard]),
            feature("Threads", threads),
        ],
        load: None,
        notes: vec![],
    }
}

/// The same features run with configuration B (another target): a group of its own.
fn other_config_run(n: usize) -> RunSummary {
    RunSummary {
        run_id: format!("staging-{n}"),
        verdict: Verdict::Pass,
        reasons: vec![],
        started_at: night(n),
        finished_at: night(n),
        environment: Environment {
            image: None,
            base_url: Some("https://staging.example".into()),
            target_kind: "base_url".into(),
            ..environment(CONFIG_B)
        },
        features: vec![FeatureResult {
            name: "Authentication".into(),
            path: "features/authentication.feature".into(),
            scenarios: vec![scenario("Login with the seeded user", Status::Passed)],
        }],
        ..acceptance_run(1)
    }
}

fn dist(name: &str, p50_ms: u64, p95_ms: u64, p99_ms: u64) -> Distribution {
    Distribution {
        name: name.into(),
        count: 1000,
        errors: 0,
        min_us: p50_ms * 400,
        p50_us: p50_ms * 1000,
        p90_us: (p50_ms + p95_ms) * 500,
        p95_us: p95_ms * 1000,
        p99_us: p99_ms * 1000,
        p999_us: p99_ms * 1200,
        max_us: p99_ms * 1500,
        mean_us: p50_ms as f64 * 1100.0,
        hlog: None,
        not_run: None,
        occurrences: None,
    }
}

fn threshold(rule: &str, scope: &str, measured: String, passed: bool) -> ThresholdResult {
    ThresholdResult {
        rule: rule.into(),
        scope: scope.into(),
        measured,
        passed,
    }
}

/// Night `n` of the load profile: the iteration's p95 creeps up 20 ms a night from 200 ms
/// and breaks `p95 < 300ms` on night 6; the login step creeps towards its 100 ms rule;
/// nights 2 and 5 restart the backend.
fn load_run(n: usize) -> RunSummary {
    let p95 = 180 + 20 * n as u64;
    let login_p95 = 40 + 8 * n as u64;
    let restart = matches!(n, 2 | 5).then(|| RestartWindow {
        requested_at_s: 20.0,
        back_at_s: Some(26.4),
        downtime_ms: Some(5_000 + 700 * n as u64),
        failed_requests: 180,
        reconnect: None,
        lost_messages: 0,
    });
    let mut restart_step = dist("the backend restarts", 0, 0, 0);
    restart_step.not_run = Some("a whole-stack step is the profile's under load".into());
    restart_step.count = 0;
    RunSummary {
        schema_version: SCHEMA_VERSION,
        run_id: format!("load-{n}"),
        kind: RunKind::Load,
        verdict: if p95 < 300 {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        reasons: if p95 < 300 {
            vec!["all thresholds held".into()]
        } else {
            vec![format!("p95 is {p95}ms, rule p95 < 300ms (global)")]
        },
        started_at: night(n).replace("02:00", "03:00"),
        finished_at: night(n).replace("02:00", "03:10"),
        environment: environment(CONFIG_LOAD),
        features: vec![],
        load: Some(LoadResult {
            model: "closed".into(),
            profile: Some("nightly".into()),
            users: 200,
            rate_per_s: None,
            duration_s: 600.0,
            iterations: 12_000,
            iterations_failed: 12 * n as u64,
            iterations_interrupted: 0,
            dropped: 0,
            throughput_per_s: 20.0 - n as f64 * 0.5,
            scenario: dist("scenario", p95 / 2, p95, p95 + 90),
            scenarios: vec![],
            steps: vec![
                dist("login", login_p95 / 2, login_p95, login_p95 + 30),
                dist("open thread", 12, 30, 55),
                dist("execute agent", 60, 140, 210),
                restart_step,
            ],
            events: vec![
                dist("agent_started", 30, 70, 120),
                dist("agent_completed", 90, 160, 260),
            ],
            errors: vec![],
            misdelivered_events: 0,
            lost_messages: 0,
            acknowledged_messages: 24_000,
            thresholds: vec![
                threshold("p95 < 300ms", "global", format!("{p95}ms"), p95 < 300),
                threshold(
                    "p95 < 100ms",
                    "login",
                    format!("{login_p95}ms"),
                    login_p95 < 100,
                ),
                threshold(
                    "error_rate < 1%",
                    "global",
                    format!("{}%", n as f64 * 0.1),
                    true,
                ),
                threshold("errors < 1000", "global", format!("{}", 12 * n), true),
            ],
            timeline: vec![],
            restart,
            shard: None,
            shards: vec![],
            missing_shards: vec![],
            remote_write: None,
        }),
        notes: vec![],
    }
}

fn write_run(reports: &Path, dir: &str, summary: &RunSummary) -> PathBuf {
    let path = reports.join(dir);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(
        path.join("summary.json"),
        serde_json::to_string_pretty(summary).unwrap(),
    )
    .unwrap();
    path
}

/// `reports/` as nights leave it: 6 acceptance runs, 2 of another configuration, 6 load
/// runs, `latest` pointing at the newest, a copied baseline, a broken summary, one of an
/// old schema, and a run that died before writing its results.
fn nightly_reports(root: &Path) -> PathBuf {
    let reports = root.join("reports");
    for n in 1..=ACCEPTANCE_RUNS {
        let s = acceptance_run(n);
        write_run(&reports, &s.run_id, &s);
    }
    for n in [3, 5] {
        let s = other_config_run(n);
        write_run(&reports, &s.run_id, &s);
    }
    for n in 1..=LOAD_RUNS {
        let s = load_run(n);
        write_run(&reports, &s.run_id, &s);
    }
    std::os::unix::fs::symlink("load-6", reports.join("latest")).unwrap();
    let baseline = load_run(5);
    write_run(&reports, "baseline", &baseline);

    let broken = reports.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("summary.json"),
        "{ \"schema_version\": 1, \"run_id\": ",
    )
    .unwrap();
    let mut old = acceptance_run(1);
    old.schema_version = 0;
    old.run_id = "old".into();
    write_run(&reports, "old", &old);
    std::fs::create_dir_all(reports.join("crashed/hlog")).unwrap();
    reports
}

// ---------------------------------------------------------------------------------------
// Page checks
// ---------------------------------------------------------------------------------------

/// The HTML of the section with this id.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}"));
    let end = html[start..]
        .find("</section>")
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

/// The HTML of the chart whose caption is `caption`.
fn figure<'a>(html: &'a str, caption: &str) -> &'a str {
    let at = html
        .find(&format!("<figcaption>{caption}</figcaption>"))
        .unwrap_or_else(|| panic!("no chart {caption:?}"));
    let end = html[at..].find("</figure>").map_or(html.len(), |e| at + e);
    &html[at..end]
}

fn group_ids(html: &str) -> Vec<(String, String)> {
    html.match_indices("<section class=\"group\" id=\"")
        .map(|(at, m)| {
            let rest = &html[at + m.len()..];
            let id = rest[..rest.find('"').unwrap()].to_owned();
            let kind_at = rest.find("data-kind=\"").unwrap() + "data-kind=\"".len();
            let kind = rest[kind_at..kind_at + rest[kind_at..].find('"').unwrap()].to_owned();
            (id, kind)
        })
        .collect()
}

fn heading(section: &str) -> &str {
    let at = section.find("<h2>").unwrap() + 4;
    &section[at..at + section[at..].find("</h2>").unwrap()]
}

#[test]
fn history_keeps_unlike_runs_apart_and_names_what_fails_now_and_then() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = nightly_reports(tmp.path());
    let out = reports.join("history");
    let opts = HistoryOptions {
        inputs: vec![reports.clone()],
        out_dir: out.clone(),
    };
    let h = report::history(&opts).unwrap();
    assert_eq!(h.html, out.join("history.html"));
    assert_eq!(h.markdown, out.join("history.md"));
    assert_eq!(
        h.runs,
        ACCEPTANCE_RUNS + 2 + LOAD_RUNS,
        "latest and the copied baseline count once"
    );
    assert_eq!(h.groups, 3);

    // Skipped, each with its reason: broken JSON, an old schema, a run with no results.
    let skipped: Vec<String> = h.skipped.iter().map(ToString::to_string).collect();
    assert_eq!(skipped.len(), 3, "{skipped:#?}");
    let line = |dir: &str| {
        let prefix = format!("skipped {}: ", reports.join(dir).display());
        skipped
            .iter()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no skipped line for {dir}: {skipped:#?}"))
            .clone()
    };
    assert!(line("broken").contains("summary.json is not a goldenpath summary: EOF"));
    assert!(line("old").contains("schema_version 0; this goldenpath reads version 1"));
    assert!(line("crashed").ends_with(": no summary.json"));
    assert!(skipped.iter().all(|l| !l.contains('\n')), "one line each");

    let html = std::fs::read_to_string(&h.html).unwrap();
    assert_self_contained(&html);
    assert!(html.len() < MAX_HTML_BYTES, "{} bytes", html.len());
    for l in &skipped {
        assert!(html.contains(&l.replace('"', "&quot;")), "notes name {l}");
    }
    assert!(
        html.contains("holds the same run as"),
        "the copied baseline is named"
    );

    // Three groups: two acceptance configurations and the load profile, each its own.
    let groups = group_ids(&html);
    let kinds: Vec<&str> = groups.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(kinds, ["acceptance", "acceptance", "load"]);
    let sections: Vec<&str> = groups.iter().map(|(id, _)| section(&html, id)).collect();
    let (main, staging, load) = (
        sections
            .iter()
            .find(|s| heading(s).contains("image agent-stack"))
            .unwrap(),
        sections
            .iter()
            .find(|s| heading(s).contains("stack at https://staging.example"))
            .unwrap(),
        sections[2],
    );
    assert!(heading(main).contains("— 6 runs"), "{}", heading(main));
    assert!(
        heading(staging).contains("— 2 runs"),
        "{}",
        heading(staging)
    );
    assert_ne!(
        heading(main).split("config ").nth(1),
        heading(staging).split("config ").nth(1),
        "the configurations' fingerprints differ"
    );
    assert!(
        heading(load).starts_with(
            "Load · closed model · 200 users · profile nightly · image agent-stack:1.4.2 · config "
        ),
        "{}",
        heading(load)
    );
    assert!(
        !staging.contains("Wrong password"),
        "no scenario of the other configuration"
    );

    // Acceptance: pass rate, the runs in the order they started, the grid's cells.
    assert!(main.contains("Pass rate <strong>66.67 % (4 of 6 runs)</strong>"));
    assert!(main.contains("title=\"#1 acc-f, started 2025-06-01T02:00:00.000Z, PASS\""));
    assert!(main.contains("title=\"#6 acc-c, started 2025-06-06T02:00:00.000Z, FAIL\""));
    let cells = |class: &str| main.matches(&format!("<td class=\"c {class}\"")).count();
    let scenarios = 6;
    assert_eq!(
        cells("fail"),
        2 + 2,
        "two failed scenario cells and two FAIL verdicts"
    );
    assert_eq!(cells("flaky"), 1);
    assert_eq!(cells("skip"), 1);
    assert_eq!(cells("notrun"), 1);
    assert_eq!(
        cells("absent"),
        3,
        "Threads survive a restart, before night 4"
    );
    assert_eq!(
        cells("pass"),
        (scenarios + 1) * ACCEPTANCE_RUNS - 4 - 1 - 1 - 1 - 3,
        "every other cell, the verdict row included"
    );
    assert!(main.contains(
        "title=\"#3 failed: step &quot;Then the login fails with 401&quot;: expected status 401 for a wrong password, got 200\""
    ));
    assert!(
        !main.contains("response body"),
        "only a message's first line"
    );
    assert!(main.contains(
        "title=\"#2 flaky (failed, then passed on a retry): 1 failed attempt before the pass; first at step"
    ));
    assert!(main.contains("title=\"#4 not run: needs the container engine\""));
    assert!(main.contains(
        "<strong>Authentication: Wrong password is refused</strong> — fails one run in 3 (failed 2 of 6 runs, last in #6)"
    ));
    assert!(main.contains(
        "<strong>Agents: Executing the agent streams five events</strong> — flaky in 1 of 6 runs"
    ));

    // Load: the thresholds per run, and their lines on the matching charts.
    assert!(load.contains("Pass rate <strong>83.33 % (5 of 6 runs)</strong>"));
    let iteration = figure(load, "Whole iteration: latency per run");
    assert!(iteration.contains("<g class=\"reference\" data-label=\"p95 &lt; 300ms\">"));
    let login = figure(load, "Step login: latency per run");
    assert!(login.contains("<g class=\"reference\" data-label=\"p95 &lt; 100ms\">"));
    assert!(
        !login.contains("300ms"),
        "the global rule is not on a step's chart"
    );
    let errors = figure(load, "Error rate per run: failed / finished iterations");
    assert!(errors.contains("data-label=\"error_rate &lt; 1%\""));
    assert!(
        load.contains("Not drawn on a chart"),
        "errors < 1000 has no chart"
    );
    assert!(load.contains("<code>errors &lt; 1000 (global)</code>"));
    let downtime = figure(load, "Restart downtime per run");
    assert_eq!(
        downtime.matches("<circle").count(),
        2,
        "a point for the two nights with a restart"
    );
    assert!(
        load.contains("Never measured under load in these runs: Step the backend restarts"),
        "a step never run under load has no chart"
    );
    for caption in [
        "Throughput per run",
        "Lost messages and misdelivered events per run (must be 0)",
        "Agent event agent_completed: latency per run",
    ] {
        figure(load, caption);
    }
    let load_fail = load.matches("<td class=\"c fail\"").count();
    assert_eq!(load_fail, 2, "night 6: the FAIL verdict and its p95 rule");

    // history.md: the lines a CI summary shows.
    let md = std::fs::read_to_string(&h.markdown).unwrap();
    for expected in [
        "# goldenpath history: 14 runs in 3 groups\n",
        "Pass rate: 66.67 % (4 of 6 runs); newest: FAIL `acc-c` (2025-06-06T02:00:00.000Z)\n",
        "Runs, oldest to newest: ✅✅❌✅✅❌\n",
        "- **Authentication: Wrong password is refused**: fails one run in 3 (failed 2 of 6 runs, last in #6)\n",
        "- **Agents: Executing the agent streams five events**: flaky in 1 of 6 runs (failed, then passed on a retry)\n",
        "- `p95 < 300ms (global)`: failed in 1 of 6 runs, last in #6\n",
        "| whole iteration p95 | 200 ms | 300 ms | 200 ms | 300 ms |\n",
        "| restart downtime | – | – | 6.40 s | 8.50 s |\n",
    ] {
        assert!(
            md.contains(expected),
            "history.md lacks {expected:?}:\n{md}"
        );
    }
    assert!(md.contains(&format!(
        "- skipped {}: summary.json is not a goldenpath summary",
        reports.join("broken").display()
    )));

    // Again, with the page of the first pass now inside reports/: not taken for a run.
    let again = report::history(&opts).unwrap();
    assert_eq!(again.runs, h.runs);
    assert_eq!(again.skipped, h.skipped);
}

#[test]
fn no_readable_run_is_an_error_that_names_what_was_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    std::fs::create_dir_all(reports.join("broken")).unwrap();
    std::fs::write(reports.join("broken/summary.json"), "not json").unwrap();
    let err = report::history(&HistoryOptions {
        inputs: vec![reports.clone(), tmp.path().join("nowhere")],
        out_dir: tmp.path().join("out"),
    })
    .unwrap_err();
    let ReportError::NoRuns { skipped, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(skipped[0].path, tmp.path().join("nowhere"));
    assert_eq!(skipped[0].reason, "does not exist");
    assert!(
        err.to_string()
            .starts_with("no readable run to make a history of in ")
    );
    assert!(!tmp.path().join("out").exists(), "nothing written");
}

// ---------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------

fn goldenpath(args: &[&std::ffi::OsStr], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_goldenpath"))
        .arg("history")
        .args(args)
        .current_dir(cwd)
        .env("GOLDENPATH_LOG", "off")
        .output()
        .expect("run goldenpath")
}

#[test]
fn the_command_writes_the_page_and_exits_2_without_a_readable_run() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = nightly_reports(tmp.path());

    // Default --out: reports/history under the current directory.
    let out = goldenpath(&["reports".as_ref()], tmp.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        stdout,
        "wrote reports/history/history.html (14 runs in 3 groups)\n      reports/history/history.md\n"
    );
    assert!(tmp.path().join("reports/history/history.html").is_file());
    let skipped: Vec<&str> = stderr.lines().collect();
    assert_eq!(skipped.len(), 3, "one line per skipped directory: {stderr}");
    assert!(skipped.contains(&"skipped reports/crashed: no summary.json"));
    assert!(
        skipped
            .iter()
            .any(|l| l.starts_with("skipped reports/old: summary.json has schema_version 0"))
    );

    // Run directories named one by one, and --out elsewhere.
    let elsewhere = tmp.path().join("pages");
    let out = goldenpath(
        &[
            reports.join("load-1").as_os_str(),
            reports.join("load-2/summary.json").as_os_str(),
            "--out".as_ref(),
            elsewhere.as_os_str(),
        ],
        tmp.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("(2 runs in 1 group)"));
    assert!(elsewhere.join("history.md").is_file());
    assert!(out.stderr.is_empty());

    // Nothing readable: exit 2, the skipped line, then the error.
    let only_broken = tmp.path().join("only-broken");
    std::fs::create_dir_all(&only_broken).unwrap();
    std::fs::copy(
        reports.join("broken/summary.json"),
        only_broken.join("summary.json"),
    )
    .unwrap();
    let out = goldenpath(&["only-broken".as_ref()], tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("skipped only-broken: summary.json is not a goldenpath summary"));
    assert_eq!(
        lines[1],
        "goldenpath: error: no readable run to make a history of in only-broken (1 directory skipped)"
    );
    assert!(out.stdout.is_empty());

    // An empty directory of runs: exit 2 as well.
    std::fs::create_dir_all(tmp.path().join("empty")).unwrap();
    let out = goldenpath(&["empty".as_ref()], tmp.path());
    assert_eq!(out.status.code(), Some(2));
}

// ---------------------------------------------------------------------------------------
// Chromium: what a person sees
// ---------------------------------------------------------------------------------------

#[test]
fn chromium_shows_the_cells_and_the_trend_lines_with_their_thresholds() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = nightly_reports(tmp.path());
    let h = report::history(&HistoryOptions {
        inputs: vec![reports],
        out_dir: tmp.path().join("out"),
    })
    .unwrap();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("history-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("history.png");
    let shot = Screenshot::take(&h.html, &png, 1280, 7000);
    std::fs::copy(&h.html, shots.join("history.html")).unwrap();
    eprintln!("screenshot: {}", png.display());
    assert_eq!((shot.width, shot.height), (1280, 7000));

    // A cell is 14 × 16 px: the counts below are a few cells' worth at least.
    let cell = 14 * 16;
    for (colour, what, at_least) in [
        ("#2da44e", "passed cells", 40 * cell),
        ("#cf222e", "failed cells", 4 * cell),
        ("#8250df", "the flaky cell (and its legend)", cell),
        ("#8c959f", "the not-run cell", cell / 2),
        ("#24292f", "the header", 1280 * 60),
    ] {
        let n = shot.count_all(colour, 12);
        assert!(
            n >= at_least,
            "{what}: {n} px of {colour}, expected {at_least}"
        );
    }
    // The lines of the trend charts, and the dashed threshold lines across them.
    for (colour, what) in [
        ("#1f77b4", "p50 lines"),
        ("#ff7f0e", "p95 lines"),
        ("#d62728", "p99 lines"),
        ("#2ca02c", "the throughput line"),
        ("#bf3989", "threshold lines"),
    ] {
        let n = shot.count_all(colour, 40);
        assert!(n > 1500, "{what} drawn: {n} px of {colour}");
    }

    // The browser parsed the grid and the charts as they were written.
    let dom = run_chromium(&["--dump-dom".into()], &h.html);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(dom.matches("<table class=\"grid\">").count(), 3);
    assert_eq!(dom.matches("<g class=\"reference\"").count(), 3);
    assert_eq!(
        dom.matches("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox")
            .count(),
        5 + 3 + 2,
        "5 charts of the whole run, 3 measured steps, 2 events"
    );
}
