//! The `goldenpath` binary as a person meets it: bad input gets one clear, specific
//! error and exit code 2 (never a panic trace), and `--base-url` runs the features
//! against a stack that is already running (here the reference stack in-process).

use std::path::Path;
use std::process::{Command, Output};

mod common;

fn goldenpath(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_goldenpath"));
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("goldenpath runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts the exit code, showing both streams if it differs; returns stdout and stderr.
fn assert_exit(out: &Output, code: i32) -> (String, String) {
    let (stdout, stderr) = text(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code; stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

/// Exit code 2, the expected words on stderr, and no panic.
fn assert_clear_error(out: &Output, words: &[&str]) {
    let (_, stderr) = assert_exit(out, 2);
    for w in words {
        assert!(stderr.contains(w), "stderr lacks {w:?}:\n{stderr}");
    }
    assert!(
        !stderr.contains("panicked"),
        "a panic reached the user:\n{stderr}"
    );
    assert!(
        !stderr.contains("RUST_BACKTRACE"),
        "a panic reached the user:\n{stderr}"
    );
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

/// `goldenpath run FEATURES --base-url URL` with its own reports directory and `env`;
/// returns the output and the one run directory it wrote.
async fn run_against(
    url: &str,
    features: &[&str],
    env: &[(&'static str, &'static str)],
) -> (Output, std::path::PathBuf, tempfile::TempDir) {
    let reports = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(features.iter().map(|f| (*f).to_owned()));
    args.extend([
        "--base-url".into(),
        url.to_owned(),
        "--reports".into(),
        reports.path().display().to_string(),
    ]);
    let env = env.to_vec();
    let out = tokio::task::spawn_blocking(move || {
        goldenpath(&args.iter().map(String::as_str).collect::<Vec<_>>(), &env)
    })
    .await
    .unwrap();
    let run_dir = std::fs::read_dir(reports.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) // not the `latest` link
        .map(|e| e.path())
        .find(|p| p.join("summary.json").exists())
        .expect("a run directory with summary.json");
    for file in [
        "junit.xml",
        "cucumber.json",
        "summary.json",
        "report.html",
        "summary.md",
    ] {
        assert!(run_dir.join(file).exists(), "{file} was written");
    }
    (out, run_dir, reports)
}

#[test]
fn unknown_step_names_file_line_and_closest_step() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(
        dir.path(),
        "typo.feature",
        "Feature: Typo\n\n  Scenario: A typo\n    Given a new user \"Ann\" has registered and logged in\n    Then \"Ann\" receive the five agent event in order\n",
    );
    let out = goldenpath(&["run", &feature, "--base-url", "http://127.0.0.1:9"], &[]);
    assert_clear_error(
        &out,
        &[
            "typo.feature:5",
            "no step definition matches",
            "\"Ann\" receive the five agent event in order",
            "closest known step: \"Alice\" receives the five agent events in order",
        ],
    );
}

#[test]
fn gherkin_syntax_error_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let feature = write(
        dir.path(),
        "broken.feature",
        "Feature: Broken\n\n  Scenario: x\n    Given ok\n  Scenaro: misspelled\n",
    );
    let out = goldenpath(&["run", &feature, "--base-url", "http://127.0.0.1:9"], &[]);
    assert_clear_error(&out, &["broken.feature:", "Gherkin syntax error"]);
}

#[test]
fn bad_config_value_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "bad.toml", "[timeouts]\nevents = \"soon\"\n");
    let out = goldenpath(
        &[
            "run",
            "--config",
            &config,
            "--base-url",
            "http://127.0.0.1:9",
        ],
        &[],
    );
    assert_clear_error(&out, &["timeouts.events"]);
}

#[test]
fn a_bad_shape_is_one_clear_line_before_anything_starts() {
    // An event sequence that names an event the contract does not have, an unbalanced
    // one, and a field path that is not a JSON pointer: each named by its key.
    for (toml, words) in [
        (
            "[events]\nsequence = \"agent_started agent_dreaming+ agent_completed\"\n",
            &["events.sequence", "agent_dreaming"][..],
        ),
        (
            "[events]\nsequence = \"agent_started (agent_thinking agent_completed\"\n",
            &["events.sequence", "well-formed"][..],
        ),
        (
            "[fields]\naccess_token = \"/token/~access\"\n",
            &["fields.access_token", "JSON pointer"][..],
        ),
        (
            "[websocket]\nselects = \"both\"\n",
            &["websocket.selects"][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = write(dir.path(), "shape.toml", toml);
        let out = goldenpath(
            &[
                "run",
                "--config",
                &config,
                "--base-url",
                "http://127.0.0.1:9",
            ],
            &[],
        );
        assert_clear_error(&out, words);
    }
}

#[test]
fn bad_shard_and_remote_write_settings_are_one_line_before_any_stack() {
    // Each is refused before the (unreachable) stack is even asked.
    let stack = [
        "--base-url",
        "http://127.0.0.1:9",
        "--users",
        "1",
        "--duration",
        "1s",
    ];
    for (flags, words) in [
        (
            vec!["--shard", "3/2"],
            vec!["shard index 3 is out of range for 2 shards"],
        ),
        (
            vec!["--shard", "1/2"],
            vec!["needs the run id every shard shares"],
        ),
        (
            vec!["--prometheus-remote-write", "notaurl"],
            vec!["load.prometheus.remote_write_url \"notaurl\" is not a URL"],
        ),
        (
            vec!["--shard", "0/2", "--run-id", "x", "--start-at", "tomorrow"],
            vec!["--start-at \"tomorrow\" is not an RFC 3339 instant"],
        ),
    ] {
        let mut args = vec!["load"];
        args.extend(flags);
        args.extend(stack);
        let out = goldenpath(&args, &[]);
        assert_clear_error(&out, &words);
        let (_, stderr) = text(&out);
        assert!(
            !stderr.contains("cannot reach the stack"),
            "{args:?}: {stderr}"
        );
    }
    let out = goldenpath(&["merge", "/nonexistent", "--run-dir", "/tmp/unused"], &[]);
    assert_clear_error(&out, &["no shard results"]);
}

#[test]
fn unreachable_base_url_is_named() {
    // Port 9 (discard) on loopback: nothing listens there.
    let out = goldenpath(
        &[
            "run",
            "features/health.feature",
            "--base-url",
            "http://127.0.0.1:9",
        ],
        &[],
    );
    assert_clear_error(&out, &["cannot reach the stack at http://127.0.0.1:9"]);
}

#[test]
fn missing_docker_engine_is_named() {
    let out = goldenpath(
        &["run", "features/health.feature"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_clear_error(&out, &["Docker engine"]);
}

#[test]
fn missing_feature_path_is_named() {
    let out = goldenpath(
        &["run", "no/such/dir", "--base-url", "http://127.0.0.1:9"],
        &[],
    );
    assert_clear_error(&out, &["no feature files found at no/such/dir"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_url_runs_the_features_against_a_running_stack() {
    let stack = common::stack("").await;
    let url = stack.url.clone();
    let (out, run_dir, _reports) = run_against(
        &url,
        &[
            "features/health.feature",
            "features/agent_execution.feature",
        ],
        &[],
    )
    .await;
    let (stdout, _) = assert_exit(&out, 0);
    assert!(stdout.contains("verdict: Pass"), "{stdout}");
    assert!(
        stdout.contains(&run_dir.display().to_string()),
        "the reports' place is printed: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_scenario_exits_1_and_still_writes_reports() {
    // The stack runs with a seeded fault the agent-execution scenarios catch.
    let stack = common::stack("drop_event:tool_completed").await;
    let url = stack.url.clone();
    let (out, run_dir, _reports) =
        run_against(&url, &["features/agent_execution.feature"], &[]).await;
    let (stdout, _) = assert_exit(&out, 1);
    assert!(stdout.contains("verdict: Fail"), "{stdout}");
    assert!(
        stdout.contains("missing tool_completed"),
        "the failure names the missing event: {stdout}"
    );
    let summary = std::fs::read_to_string(run_dir.join("summary.json")).unwrap();
    assert!(
        summary.contains("missing tool_completed"),
        "summary.json records the failure"
    );
}

/// The agent events' data keys are the configuration's: against the reference stack,
/// which sends `thought`, a configuration that expects `reasoning` fails the scenario
/// that checks them and names the key. (`base_url_runs_the_features_against_a_running_stack`
/// passes the same feature with the defaults.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_data_keys_come_from_the_configuration() {
    let stack = common::stack("").await;
    let url = stack.url.clone();
    let (out, _run_dir, _reports) = run_against(
        &url,
        &["features/agent_execution.feature"],
        &[("GOLDENPATH_FIELDS__THOUGHT", "reasoning")],
    )
    .await;
    let (stdout, _) = assert_exit(&out, 1);
    assert!(
        stdout.contains("agent_thinking has no string data.reasoning"),
        "{stdout}"
    );
}

fn docker_ids(kind: &str, label: &str) -> Vec<String> {
    let args: Vec<&str> = match kind {
        "container" => vec!["ps", "-aq", "--filter", label],
        _ => vec!["network", "ls", "-q", "--filter", label],
    };
    let out = Command::new("docker")
        .args(&args)
        .output()
        .expect("docker CLI");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Ctrl-C in the middle of a run: the stacks it started are removed and the results
/// recorded so far are still written.
#[test]
fn ctrl_c_removes_the_stacks_and_writes_partial_results() {
    // By name too: a network testcontainers re-creates under a start in flight has no label.
    let networks_before = docker_ids("network", "name=goldenpath-net");
    let reports = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_goldenpath"))
        .args(["run", "features/restart.feature", "--reports"])
        .arg(reports.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let label = format!("label=goldenpath.pid={}", child.id());
    // Wait until the run has its stacks (the image may need building first).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while docker_ids("container", &label).len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started its stacks"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was interrupted"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr:\n{stderr}");
    assert!(stderr.contains("partial results in"), "stderr:\n{stderr}");
    assert!(
        docker_ids("container", &label).is_empty(),
        "containers left behind"
    );
    assert!(
        docker_ids("network", &label).is_empty(),
        "networks left behind"
    );
    let new_networks: Vec<_> = docker_ids("network", "name=goldenpath-net")
        .into_iter()
        .filter(|n| !networks_before.contains(n))
        .collect();
    assert!(
        new_networks.is_empty(),
        "unlabelled networks left behind: {new_networks:?}"
    );
    let summary = std::fs::read_dir(reports.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path().join("summary.json"))
        .find(|p| p.exists())
        .expect("summary.json of the interrupted run");
    let text = std::fs::read_to_string(summary).unwrap();
    assert!(text.contains("interrupted"), "the verdict says why: {text}");
}
