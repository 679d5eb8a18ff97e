//! A stack goldenpath did not start, as a team's staging would be: the reference stack
//! as a plain process on 127.0.0.1 (this test binary, run again as the stack; a small
//! supervisor starts it again when it exits 0, as a restart policy would), driven
//! through `goldenpath run --base-url` at the default concurrency.
//!
//! 1. The clean stack: every scenario that can run against it passes, the scenarios
//!    that restart it or count its connections run alone, the one that needs the
//!    container engine is reported as not run (in summary.json, junit.xml,
//!    cucumber.json, summary.md, report.html and the verdict line), and the result is
//!    the same at `--concurrency 1`.
//! 2. Every seeded fault of CONTRACT §9 is caught at the step that names it (the table
//!    `tests/common/faults.rs` shares with the container fault matrix). None of them
//!    needs the container engine; the restart faults need something that starts the
//!    process again, which the supervisor is.
//!
//! `harness = false`: one line per check, then `N passed, N failed`.
//! `GOLDENPATH_FAULTS=leak_events,open_restart` runs only those faults.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use goldenpath::summary::{RunSummary, Status};
use goldenpath::{Config, RunOptions};

mod common;

use common::faults::{AGENT_EVENTS, matrix, verdict};

/// Set in the environment of the child process that serves the stack.
const SERVE: &str = "GOLDENPATH_TEST_SERVE_STACK";
const JWT_SECRET: &str = "running-stack-test-secret";

fn main() -> ExitCode {
    if std::env::var_os(SERVE).is_some() {
        return serve_stack();
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let only: Option<Vec<String>> = std::env::var("GOLDENPATH_FAULTS")
        .ok()
        .map(|v| v.split(',').map(str::to_owned).collect());
    let mut results: Vec<Result<String, String>> = Vec::new();
    if only.is_none() {
        results.push(clean_stack_at_default_concurrency(&root));
        results.push(dialect_b(&root));
        results.push(one_fault_one_story(&root));
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    for (fault, expected) in matrix() {
        if only.as_ref().is_some_and(|o| !o.iter().any(|f| f == fault)) {
            continue;
        }
        let stack = PlainStack::start(fault);
        let mut config = config(&stack.url);
        config.contract.timeouts.restart_comeback = Duration::from_secs(15);
        let mut opts = RunOptions::new(config);
        opts.features = vec![root.join("features")];
        opts.reports_dir = root.join("target/goldenpath-reports/running-stack");
        opts.scenario_names = expected.iter().map(|(n, _)| (*n).to_owned()).collect();
        opts.progress = false;
        results.push(match runtime.block_on(goldenpath::run(opts)) {
            Ok(outcome) => {
                let scenarios: Vec<_> = outcome.summary.scenarios().collect();
                verdict(&scenarios, &expected, fault).map(|c| format!("caught {fault}: {c}"))
            }
            Err(e) => Err(format!("{fault}: the run did not complete: {e}")),
        });
    }
    let (mut passed, mut failed) = (0, 0);
    for result in results {
        match result {
            Ok(line) => {
                passed += 1;
                println!("{line}");
            }
            Err(why) => {
                failed += 1;
                println!("FAIL {why}");
            }
        }
    }
    println!("running stack: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A fault that restarts the stack, or one that never lets it come back, is one story in
/// the report, not one failure per scenario after it.
fn one_fault_one_story(root: &Path) -> Result<String, String> {
    let features = ["features/restart.feature", "features/health.feature"];
    let failed = |s: &RunSummary| -> Vec<(String, String)> {
        s.scenarios()
            .filter(|sc| sc.status == Status::Failed)
            .map(|sc| {
                let step = sc.steps.iter().find(|st| st.status == Status::Failed);
                (
                    sc.name.clone(),
                    step.map(|st| format!("{}: {}", st.text, st.error.clone().unwrap_or_default()))
                        .unwrap_or_default(),
                )
            })
            .collect()
    };

    // open_restart: a restart anybody may ask for. The two scenarios that check the
    // refusal fail, at the refusal, and nothing else: the run waits for the stack after
    // each restart that happens anyway, and the notes say what happened.
    let stack = PlainStack::start("open_restart");
    let (_, _, (summary, _)) = goldenpath_run_in(root, &stack.url, &features, &[])?;
    let fails = failed(&summary);
    let nobody = "Nobody can restart the backend without a token";
    let not_admin = "A user who is not an administrator cannot restart the backend";
    let mut names: Vec<&str> = fails.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    if names != [not_admin, nobody]
        || fails
            .iter()
            .any(|(_, why)| !why.starts_with("the request is refused with status"))
    {
        return Err(format!(
            "open_restart: expected {not_admin:?} and {nobody:?} to fail at the refusal, got {fails:?}"
        ));
    }
    if !summary.notes.iter().any(|n| n.contains(nobody)) {
        return Err(format!(
            "open_restart: the notes do not say the stack restarted during {nobody:?}: {:?}",
            summary.notes
        ));
    }
    drop(stack);

    // no_comeback: after the administrator's restart the stack never turns healthy;
    // every scenario after it fails with that one reason.
    let stack = PlainStack::start("no_comeback");
    let (_, _, (summary, _)) = goldenpath_run_in(
        root,
        &stack.url,
        &features,
        &[("GOLDENPATH_TIMEOUTS__RESTART_COMEBACK", "5s")],
    )?;
    let fails = failed(&summary);
    let admin = "An administrator restarts the backend and nothing is lost";
    let (first, rest): (Vec<_>, Vec<_>) = fails.iter().partition(|(name, _)| name == admin);
    let one_reason = format!("the stack did not come back after the scenario {admin:?}");
    if first.len() != 1
        || !first[0]
            .1
            .starts_with("the backend comes back with a new boot id")
        || rest.is_empty()
        || rest.iter().any(|(_, why)| !why.contains(&one_reason))
    {
        return Err(format!(
            "no_comeback: expected {admin:?} to fail at the comeback and every later scenario \
             with {one_reason:?}; got {fails:#?}"
        ));
    }
    if !summary
        .notes
        .iter()
        .any(|n| n.contains("did not come back"))
    {
        return Err(format!("no_comeback: no note says so: {:?}", summary.notes));
    }
    Ok(format!(
        "one fault, one story: open_restart fails its 2 refusal scenarios and is noted; no_comeback fails \
         its scenario and {} later ones with one reason",
        rest.len()
    ))
}

/// A backend of another shape: the reference stack's dialect B, with only
/// `dialects/b.toml` (and the base URL) to point goldenpath at it. The clean stack
/// passes every scenario that can run; seeded faults fail at the steps that name them.
fn dialect_b(root: &Path) -> Result<String, String> {
    let file = root.join("dialects/b.toml");
    let stack = PlainStack::start_dialect("", "b");
    let (out, took, summary) = goldenpath_run(
        root,
        &stack.url,
        &["--config", file.to_str().unwrap_or_default()],
    )?;
    if out.status.code() != Some(0) {
        return Err(format!(
            "dialect B with dialects/b.toml: exit {:?}: {}\n--- stdout\n{}",
            out.status.code(),
            summary.0.reasons.join("; "),
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    let passed = summary
        .0
        .scenarios()
        .filter(|s| s.status == Status::Passed)
        .count();
    let per_run = dialect_b_under_load(root, &file, &stack.url)?;
    drop(stack);

    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let mut caught = Vec::new();
    for (fault, expected) in matrix().into_iter().filter(|(f, _)| {
        [
            "drop_event:tool_completed",
            "no_subprotocol_echo",
            "missing_v2_execute",
        ]
        .contains(f)
    }) {
        let stack = PlainStack::start_dialect(fault, "b");
        let mut config = Config::load(Some(&file)).map_err(|e| e.to_string())?;
        config.target.base_url = Some(stack.url.clone());
        let mut opts = RunOptions::new(config);
        opts.features = vec![root.join("features")];
        opts.reports_dir = root.join("target/goldenpath-reports/running-stack");
        opts.scenario_names = expected.iter().map(|(n, _)| (*n).to_owned()).collect();
        opts.progress = false;
        let outcome = runtime
            .block_on(goldenpath::run(opts))
            .map_err(|e| format!("dialect B, {fault}: {e}"))?;
        let scenarios: Vec<_> = outcome.summary.scenarios().collect();
        verdict(&scenarios, &expected, fault).map_err(|e| format!("dialect B, {e}"))?;
        caught.push(fault);
    }
    Ok(format!(
        "dialect B with dialects/b.toml: {passed} scenarios passed in {:.1} s; under load {per_run}; caught {}",
        took.as_secs_f64(),
        caught.join(", ")
    ))
}

/// The load mode against dialect B, whose agent thinks twice: every event type its
/// sequence names is timed (the first of each kind per run) and counted, so
/// `agent_thinking` arrives twice per run and every other type once.
fn dialect_b_under_load(root: &Path, file: &Path, url: &str) -> Result<String, String> {
    let run_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = Command::new(env!("CARGO_BIN_EXE_goldenpath"))
        .current_dir(root)
        .args(["load", "features", "--base-url", url, "--config"])
        .arg(file)
        .args(["--users", "2", "--iterations", "6", "--duration", "60s"])
        .arg("--run-dir")
        .arg(run_dir.path())
        .env("GOLDENPATH_TARGET__ENV__JWT_SECRET", JWT_SECRET)
        .output()
        .map_err(|e| format!("goldenpath load runs: {e}"))?;
    let summary: RunSummary = std::fs::read_to_string(run_dir.path().join("summary.json"))
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
        .map_err(|e| {
            format!(
                "dialect B under load wrote no summary.json ({e}): exit {:?}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let load = summary
        .load
        .as_ref()
        .ok_or("dialect B under load: the summary has no load section")?;
    if out.status.code() != Some(0) || load.iterations_failed > 0 {
        return Err(format!(
            "dialect B under load: exit {:?}, {} of {} iterations failed: {}",
            out.status.code(),
            load.iterations_failed,
            load.iterations,
            summary.reasons.join("; ")
        ));
    }
    let mut seen = Vec::new();
    for event in AGENT_EVENTS {
        let d = load
            .events
            .iter()
            .find(|d| d.name == event)
            .ok_or_else(|| format!("dialect B under load: no figures for {event}"))?;
        let runs = d.count;
        let repeats = if event == "agent_thinking" { 2 } else { 1 };
        if runs == 0 || d.occurrences != Some(runs * repeats) || d.p50_us == 0 {
            return Err(format!(
                "dialect B under load: {event} arrived in {runs} runs, {:?} in all (expected {repeats} per run, timed)",
                d.occurrences
            ));
        }
        seen.push(format!("{event} {repeats}/run"));
    }
    Ok(seen.join(", "))
}

/// The configuration a team would write for this stack: its URL, its secret (to mint
/// expired tokens), its statistics cadence.
fn config(url: &str) -> Config {
    let mut config = Config::default();
    config.target.base_url = Some(url.to_owned());
    config
        .target
        .env
        .insert("JWT_SECRET".into(), JWT_SECRET.into());
    config.contract.timeouts.stats_interval = Duration::from_secs(1);
    config
}

fn clean_stack_at_default_concurrency(root: &Path) -> Result<String, String> {
    let stack = PlainStack::start("");
    let (default, default_took, summary) = goldenpath_run(root, &stack.url, &[])?;
    let stdout = String::from_utf8_lossy(&default.stdout);
    let streams = || {
        format!(
            "--- stdout\n{stdout}\n--- stderr\n{}",
            String::from_utf8_lossy(&default.stderr)
        )
    };
    if default.status.code() != Some(0) {
        return Err(format!(
            "clean stack at the default concurrency: exit {:?}\n{}",
            default.status.code(),
            streams()
        ));
    }
    let by_scenario = statuses(&summary.0);
    let not_run: Vec<_> = by_scenario
        .iter()
        .filter(|(_, s)| **s == Status::NotRun)
        .collect();
    if not_run.len() != 1 || !not_run[0].0.0.contains("container engine") {
        return Err(format!(
            "exactly the engine scenario is not run, got {not_run:?}"
        ));
    }
    if !stdout.contains("1 not run") {
        return Err(format!(
            "the verdict line says how many were not run\n{}",
            streams()
        ));
    }
    let dir = &summary.1;
    for (file, mark) in [
        (
            "junit.xml",
            "<skipped message=\"not run: it needs the container engine",
        ),
        ("cucumber.json", "not run: it needs the container engine"),
        (
            "summary.md",
            "Not run: The container engine stops and starts",
        ),
        ("report.html", "Not run: it needs the container engine"),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if !text.contains(mark) {
            return Err(format!(
                "{file} does not show the scenario not run ({mark:?})"
            ));
        }
    }
    let ran = by_scenario.len() - not_run.len();

    let (serial, serial_took, serial_summary) =
        goldenpath_run(root, &stack.url, &["--concurrency", "1"])?;
    if serial.status.code() != Some(0) || statuses(&serial_summary.0) != by_scenario {
        return Err(format!(
            "--concurrency 1 gives another result: exit {:?}, {:?}",
            serial.status.code(),
            statuses(&serial_summary.0)
        ));
    }
    Ok(format!(
        "clean stack: {ran} scenarios passed, 1 not run, 0 failed at the default concurrency \
         in {:.1} s; the same at --concurrency 1 in {:.1} s",
        default_took.as_secs_f64(),
        serial_took.as_secs_f64()
    ))
}

/// A scenario: its name (with the reason when it was not run), feature path and line.
type ScenarioId = (String, String, usize);

/// Each scenario's status.
fn statuses(summary: &RunSummary) -> BTreeMap<ScenarioId, Status> {
    summary
        .features
        .iter()
        .flat_map(|f| {
            f.scenarios.iter().map(|s| {
                let name = s
                    .not_run
                    .clone()
                    .map_or(s.name.clone(), |r| format!("{}: {r}", s.name));
                ((name, f.path.clone(), s.line), s.status)
            })
        })
        .collect()
}

/// `goldenpath run features --base-url URL ARGS` with its own reports directory.
fn goldenpath_run(
    root: &Path,
    url: &str,
    args: &[&str],
) -> Result<(Output, Duration, (RunSummary, PathBuf)), String> {
    goldenpath_run_with(root, url, &["features"], args, &[])
}

/// `goldenpath run FEATURES --base-url URL` with extra environment.
fn goldenpath_run_in(
    root: &Path,
    url: &str,
    features: &[&str],
    env: &[(&str, &str)],
) -> Result<(Output, Duration, (RunSummary, PathBuf)), String> {
    goldenpath_run_with(root, url, features, &[], env)
}

fn goldenpath_run_with(
    root: &Path,
    url: &str,
    features: &[&str],
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<(Output, Duration, (RunSummary, PathBuf)), String> {
    let reports = tempfile::tempdir().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_goldenpath"))
        .current_dir(root)
        .arg("run")
        .args(features)
        .args(["--base-url", url, "--reports"])
        .arg(reports.path())
        .args(args)
        .env("GOLDENPATH_TARGET__ENV__JWT_SECRET", JWT_SECRET)
        .env("GOLDENPATH_TIMEOUTS__STATS_INTERVAL", "1s")
        .envs(env.iter().copied())
        .output()
        .map_err(|e| format!("goldenpath runs: {e}"))?;
    let took = started.elapsed();
    let run_dir = std::fs::read_dir(reports.path())
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| !p.is_symlink() && p.join("summary.json").is_file())
        .ok_or_else(|| {
            format!(
                "no run directory was written: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let summary: RunSummary = serde_json::from_str(
        &std::fs::read_to_string(run_dir.join("summary.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    // Keep the reports for a person to look at after a failure.
    let kept = root
        .join("target/goldenpath-reports/running-stack")
        .join(run_dir.file_name().unwrap_or_default());
    let _ = std::fs::create_dir_all(kept.parent().unwrap_or(root));
    let _ = Command::new("cp")
        .arg("-r")
        .arg(&run_dir)
        .arg(&kept)
        .status();
    Ok((out, took, (summary, kept)))
}

/// The reference stack as a plain process, started again whenever it exits 0 (after
/// `/admin/restart` or SIGTERM), at most ten times. Dropping it stops it.
struct PlainStack {
    url: String,
    pid: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    supervisor: Option<std::thread::JoinHandle<()>>,
    _data: tempfile::TempDir,
}

impl PlainStack {
    fn start(faults: &str) -> PlainStack {
        PlainStack::start_dialect(faults, "contract")
    }

    /// As [`PlainStack::start`], speaking `dialect` (`contract` or `b`).
    fn start_dialect(faults: &str, dialect: &str) -> PlainStack {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let data = tempfile::tempdir().expect("a data directory");
        let pid = Arc::new(AtomicU32::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut command = Command::new(std::env::current_exe().expect("this test's binary"));
        command
            .env(SERVE, "1")
            .env("PORT", port.to_string())
            .env("DATA_DIR", data.path())
            .env("FAULTS", faults)
            .env("DIALECT", dialect)
            .env("JWT_SECRET", JWT_SECRET)
            .env("STATS_INTERVAL_MS", "1000")
            .env("PASSWORD_HASHING", "fast-insecure")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null());
        let supervisor = {
            let (pid, stop) = (pid.clone(), stop.clone());
            std::thread::spawn(move || {
                for _ in 0..10 {
                    let Ok(mut child) = command.spawn() else {
                        return;
                    };
                    pid.store(child.id(), Ordering::SeqCst);
                    let status = child.wait();
                    if stop.load(Ordering::SeqCst) || !status.is_ok_and(|s| s.success()) {
                        return;
                    }
                }
            })
        };
        let stack = PlainStack {
            url: format!("http://127.0.0.1:{port}"),
            pid,
            stop,
            supervisor: Some(supervisor),
            _data: data,
        };
        let health = if dialect == "b" {
            "/v2/status"
        } else {
            "/health"
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while health_status(port, health) != Some(200) {
            assert!(Instant::now() < deadline, "the plain stack did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        stack
    }
}

impl Drop for PlainStack {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let pid = self.pid.load(Ordering::SeqCst);
        if pid != 0 {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        if let Some(s) = self.supervisor.take() {
            let _ = s.join();
        }
    }
}

/// `GET path` on 127.0.0.1:port: its status, or `None` without an answer.
fn health_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .ok()?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).ok()?;
    String::from_utf8_lossy(&head[..n])
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// This binary as the stack: the reference stack's own main, in short.
fn serve_stack() -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let config = match agent_stack::Config::from_env() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("agent-stack: {e}");
                return ExitCode::from(2);
            }
        };
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], config.port));
        let listener = match agent_stack::listen(addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("agent-stack: cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        match agent_stack::serve(listener, config).await {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("agent-stack: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}
