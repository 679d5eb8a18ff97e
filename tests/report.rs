//! The sign-off reports, from a RunSummary to files a person opens: `report.html` (checked for
//! self-containment and escaping, then rendered in headless Chromium and looked at),
//! `summary.md` (golden files), `summary.json` (against the committed schema), and
//! `compare` (regressions within a tolerance).
//!
//! The summaries are built here (this tests the renderer; the runners' end-to-end tests feed
//! it real runs), but the `.hlog` files are real HdrHistogram interval logs.
//!
//! - `GOLDENPATH_BLESS=1 cargo test --test report` rewrites the golden files and the schema.
//! - Chromium is required: `apt-get install -y chromium` (or set `GOLDENPATH_CHROMIUM`).
//! - Benchmark: `cargo test --release --test report -- --ignored --nocapture bench`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use goldenpath::report::{self, Change, Tolerance, compare};
use goldenpath::summary::*;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;

mod common;
use common::browser::{Screenshot, assert_self_contained, run_chromium};

const MAX_HTML_BYTES: usize = 2 * 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

fn environment() -> Environment {
    Environment {
        goldenpath_version: "0.1.0".into(),
        git_commit: Some("3f2a9c1d0e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49".into()),
        target_kind: "image".into(),
        image: Some("agent-stack:1.4.2".into()),
        image_id: Some("sha256:9b1c0d7e5a3f2b8c4d6e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c".into()),
        base_url: Some("http://127.0.0.1:41234".into()),
        faults: vec![],
        hostname: "ci-runner-7".into(),
        os: "linux x86_64".into(),
        cpus: 2,
        config_toml: "[target]\nimage = \"agent-stack:1.4.2\"\n\n[load]\nusers = 1000\n# <not a tag> & friends\n".into(),
        command_line: "goldenpath test --image agent-stack:1.4.2".into(),
    }
}

fn step(
    keyword: &str,
    text: &str,
    line: usize,
    status: Status,
    us: u64,
    error: Option<&str>,
) -> StepResult {
    StepResult {
        keyword: keyword.into(),
        text: text.into(),
        line,
        status,
        duration_us: us,
        error: error.map(Into::into),
    }
}

fn scenario(name: &str, line: usize, steps: Vec<StepResult>, log: Option<&str>) -> ScenarioResult {
    let status = if steps.iter().any(|s| s.status == Status::Failed) {
        Status::Failed
    } else if steps.iter().all(|s| s.status == Status::Skipped) {
        Status::Skipped
    } else {
        Status::Passed
    };
    ScenarioResult {
        name: name.into(),
        line,
        tags: vec!["@smoke".into()],
        status,
        duration_us: steps.iter().map(|s| s.duration_us).sum(),
        steps,
        stack_log_tail: log.map(Into::into),
        stack_log_file: log.map(|_| format!("logs/{}.log", name.replace(' ', "_"))),
        not_run: None,
        attempts: Vec::new(),
        flaky: false,
    }
}

const LOGIN_ERROR: &str = "expected status 401 for a wrong password, got 200\n  response body: {\"token\":\"<script>alert('x')</script>\"}\n  contract row: auth.login.wrong_password";
const DRIFT_ERROR: &str = "contract drift: event `run.completed` has field `usage.tokens` of type string, contract says integer & >= 0";

fn log_tail(lines: usize, marker: &str) -> String {
    (0..lines)
        .map(|i| {
            format!(
                "2025-06-01T10:00:{:02}.{i:03}Z INFO agent_stack::http: request id={i} path=/v1/threads <ok> & done",
                i % 60
            )
        })
        .chain(std::iter::once(format!("2025-06-01T10:01:00.000Z ERROR agent_stack::auth: {marker}")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn acceptance_summary() -> RunSummary {
    let auth = FeatureResult {
        name: "Authentication".into(),
        path: "features/authentication.feature".into(),
        scenarios: vec![
            scenario(
                "Login with the seeded user",
                6,
                vec![
                    step(
                        "Given ",
                        "the stack is healthy",
                        7,
                        Status::Passed,
                        1_200,
                        None,
                    ),
                    step(
                        "When ",
                        "I log in as \"alice\"",
                        8,
                        Status::Passed,
                        48_000,
                        None,
                    ),
                    step(
                        "Then ",
                        "I get a token that expires in 15 minutes",
                        9,
                        Status::Passed,
                        350,
                        None,
                    ),
                ],
                None,
            ),
            scenario(
                "Wrong password is refused",
                12,
                vec![
                    step(
                        "Given ",
                        "the stack is healthy",
                        13,
                        Status::Passed,
                        1_100,
                        None,
                    ),
                    step(
                        "When ",
                        "I log in as \"alice\" with password \"<wrong>\"",
                        14,
                        Status::Passed,
                        51_000,
                        None,
                    ),
                    step(
                        "Then ",
                        "the login fails with 401",
                        15,
                        Status::Failed,
                        900,
                        Some(LOGIN_ERROR),
                    ),
                    step("And ", "no token is issued", 16, Status::Skipped, 0, None),
                ],
                Some(&log_tail(400, "password check bypassed for <alice> & co")),
            ),
        ],
    };
    let agent = FeatureResult {
        name: "Agent execution".into(),
        path: "features/agent_execution.feature".into(),
        scenarios: vec![
            scenario(
                "Run an agent and stream its events",
                5,
                vec![
                    step(
                        "Given ",
                        "I am logged in as \"alice\"",
                        6,
                        Status::Passed,
                        50_000,
                        None,
                    ),
                    step(
                        "When ",
                        "I execute the agent \"echo\" with \"hello\"",
                        7,
                        Status::Passed,
                        120_000,
                        None,
                    ),
                    step(
                        "Then ",
                        "I receive the events in order: run.started, message.delta, run.completed",
                        8,
                        Status::Failed,
                        2_100_000,
                        Some(DRIFT_ERROR),
                    ),
                ],
                Some("short tail\nERROR serialising usage | tokens=\"12\""),
            ),
            scenario(
                "Agent that does not exist",
                14,
                vec![
                    step(
                        "Given ",
                        "I am logged in as \"alice\"",
                        15,
                        Status::Passed,
                        49_000,
                        None,
                    ),
                    step(
                        "When ",
                        "I execute the agent \"nope\"",
                        16,
                        Status::Passed,
                        8_000,
                        None,
                    ),
                    step(
                        "Then ",
                        "I get a 404 naming the agent",
                        17,
                        Status::Passed,
                        200,
                        None,
                    ),
                ],
                None,
            ),
        ],
    };
    let dashboard = FeatureResult {
        name: "Dashboard".into(),
        path: "features/dashboard.feature".into(),
        scenarios: vec![scenario(
            "Dashboard lists my threads",
            4,
            vec![step(
                "Given ",
                "the dashboard is enabled",
                5,
                Status::Skipped,
                0,
                None,
            )],
            None,
        )],
    };
    RunSummary {
        schema_version: SCHEMA_VERSION,
        run_id: "20250601T100000Z-acc".into(),
        kind: RunKind::Acceptance,
        verdict: Verdict::Fail,
        reasons: vec![
            "2 of 5 scenarios failed".into(),
            "contract drift in event run.completed".into(),
        ],
        started_at: "2025-06-01T10:00:00Z".into(),
        finished_at: "2025-06-01T10:01:03Z".into(),
        environment: environment(),
        features: vec![auth, agent, dashboard],
        load: None,
        notes: Vec::new(),
    }
}

/// A small deterministic generator (xorshift) so the synthetic latencies are the same on
/// every machine.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Log-normal latency in µs around `median_us`, with a long right tail.
    fn latency(&mut self, median_us: f64, sigma: f64) -> u64 {
        let (u1, u2) = (self.next_f64().max(1e-12), self.next_f64());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        (median_us * (sigma * z).exp()).max(50.0) as u64
    }
}

/// Shape of a synthetic load run.
struct LoadShape {
    users: u64,
    seconds: usize,
    steps: usize,
    events: usize,
    /// Samples per second per step.
    per_second: usize,
    restart: Option<(usize, usize)>,
}

/// Writes one `.hlog` with one interval per second and returns its distribution.
fn write_hlog(
    run_dir: &Path,
    name: &str,
    shape: &LoadShape,
    rng: &mut Rng,
    median_us: f64,
    error_every: usize,
) -> (Distribution, Vec<Histogram<u64>>) {
    let rel = format!("hlog/{}.hlog", name.replace([' ', '/'], "_"));
    let path = run_dir.join(&rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut per_second = Vec::with_capacity(shape.seconds);
    let mut buf = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_748_772_000);
    let mut errors = 0;
    {
        let mut log = IntervalLogWriterBuilder::new()
            .add_comment(&format!("goldenpath latency of {name}, µs"))
            .with_start_time(start)
            .with_base_time(start)
            .begin_log_with(&mut buf, &mut serializer)
            .unwrap();
        for sec in 0..shape.seconds {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let down = shape.restart.is_some_and(|(a, b)| sec >= a && sec < b);
            if !down {
                // A slow start (warm-up), then steady.
                let warm = if sec < 5 { 2.5 } else { 1.0 };
                for i in 0..shape.per_second {
                    h.record(rng.latency(median_us * warm, 0.45)).unwrap();
                    if error_every > 0 && (sec * shape.per_second + i).is_multiple_of(error_every) {
                        errors += 1;
                    }
                }
            }
            log.write_histogram(
                &h,
                Duration::from_secs(sec as u64),
                Duration::from_secs(1),
                None,
            )
            .unwrap();
            total.add(&h).unwrap();
            per_second.push(h);
        }
    }
    std::fs::write(&path, &buf).unwrap();
    let d = Distribution {
        name: name.into(),
        count: total.len(),
        errors,
        min_us: total.min(),
        p50_us: total.value_at_quantile(0.5),
        p90_us: total.value_at_quantile(0.9),
        p95_us: total.value_at_quantile(0.95),
        p99_us: total.value_at_quantile(0.99),
        p999_us: total.value_at_quantile(0.999),
        max_us: total.max(),
        mean_us: total.mean(),
        hlog: Some(rel),
        not_run: None,
        occurrences: None,
    };
    (d, per_second)
}

const STEP_NAMES: [&str; 12] = [
    "login",
    "list agents",
    "open thread",
    "post message",
    "execute agent",
    "await run.completed",
    "read thread back",
    "list threads",
    "dashboard",
    "rename thread",
    "delete thread",
    "logout",
];
const EVENT_NAMES: [&str; 5] = [
    "run.started",
    "message.delta (first)",
    "tool.call",
    "message.completed",
    "run.completed",
];

/// A load run's summary with real `.hlog` files in `run_dir`.
fn load_summary(run_dir: &Path, shape: &LoadShape) -> RunSummary {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut steps = Vec::new();
    let mut step_seconds = Vec::new();
    for (i, name) in STEP_NAMES.iter().take(shape.steps).enumerate() {
        let median = [18_000.0, 9_000.0, 14_000.0, 22_000.0, 160_000.0, 900_000.0][i % 6];
        let (d, secs) = write_hlog(
            run_dir,
            name,
            shape,
            &mut rng,
            median,
            if i == 3 { 997 } else { 0 },
        );
        steps.push(d);
        step_seconds.push(secs);
    }
    let mut events = Vec::new();
    for (i, name) in EVENT_NAMES.iter().take(shape.events).enumerate() {
        let median = [40_000.0, 120_000.0, 300_000.0, 700_000.0, 850_000.0][i % 5];
        events.push(write_hlog(run_dir, name, shape, &mut rng, median, 0).0);
    }
    let (scenario, scenario_seconds) =
        write_hlog(run_dir, "iteration", shape, &mut rng, 1_400_000.0, 1499);
    let timeline: Vec<TimelinePoint> = scenario_seconds
        .iter()
        .enumerate()
        .map(|(sec, h)| TimelinePoint {
            t_s: sec as f64,
            iterations: h.len(),
            errors: if shape.restart.is_some_and(|(a, b)| sec >= a && sec < b + 2) {
                37
            } else {
                u64::from(sec % 97 == 0)
            },
            p50_us: if h.is_empty() {
                0
            } else {
                h.value_at_quantile(0.5)
            },
            p95_us: if h.is_empty() {
                0
            } else {
                h.value_at_quantile(0.95)
            },
            p99_us: if h.is_empty() {
                0
            } else {
                h.value_at_quantile(0.99)
            },
        })
        .collect();
    let iterations = scenario.count;
    let p95 = steps[0].p95_us;
    RunSummary {
        schema_version: SCHEMA_VERSION,
        run_id: "20250601T110000Z-load".into(),
        kind: RunKind::Load,
        verdict: Verdict::Pass,
        reasons: vec!["all 3 thresholds held; no misdelivered events, no lost messages".into()],
        started_at: "2025-06-01T11:00:00Z".into(),
        finished_at: "2025-06-01T11:01:05Z".into(),
        environment: Environment {
            faults: vec!["restart@20s".into()],
            ..environment()
        },
        notes: Vec::new(),
        features: vec![],
        load: Some(LoadResult {
            model: "closed".into(),
            profile: Some("steady".into()),
            users: shape.users,
            rate_per_s: None,
            duration_s: shape.seconds as f64,
            iterations,
            iterations_failed: scenario.errors,
            iterations_interrupted: 0,
            dropped: 0,
            throughput_per_s: iterations as f64 / shape.seconds as f64,
            scenario,
            scenarios: Vec::new(),
            steps,
            events,
            errors: vec![
                ErrorGroup {
                    kind: "http_503".into(),
                    count: 180,
                    example: "POST /v1/threads/42/messages → 503 Service Unavailable <html>restarting</html>".into(),
                },
                ErrorGroup {
                    kind: "ws_closed".into(),
                    count: 12,
                    example: "websocket closed by peer (1012 service restart)".into(),
                },
            ],
            misdelivered_events: 0,
            lost_messages: 0,
            acknowledged_messages: iterations * 2,
            thresholds: vec![
                ThresholdResult {
                    rule: "p95 < 300ms".into(),
                    scope: "global".into(),
                    measured: "212 ms".into(),
                    passed: true,
                },
                ThresholdResult {
                    rule: "p95 < 100ms".into(),
                    scope: "login".into(),
                    measured: format!("{} ms", p95 / 1000),
                    passed: true,
                },
                ThresholdResult {
                    rule: "error_rate < 1%".into(),
                    scope: "global".into(),
                    measured: "0.07 %".into(),
                    passed: true,
                },
            ],
            timeline,
            restart: shape.restart.map(|(a, b)| RestartWindow {
                requested_at_s: a as f64,
                back_at_s: Some(b as f64 + 0.4),
                downtime_ms: Some(((b - a) as u64) * 1000 + 400),
                failed_requests: 180,
                reconnect: None,
                lost_messages: 0,
            }),
            shard: None,
            shards: Vec::new(),
            missing_shards: Vec::new(),
            remote_write: None,
        }),
    }
}

fn small_load() -> LoadShape {
    LoadShape {
        users: 50,
        seconds: 60,
        steps: 5,
        events: 3,
        per_second: 40,
        restart: Some((20, 26)),
    }
}

// ---------------------------------------------------------------------------------------
// HTML checks
// ---------------------------------------------------------------------------------------

fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn reports_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn acceptance_report_is_self_contained_and_shows_every_failure() {
    let tmp = reports_dir();
    let summary = acceptance_summary();
    let run_dir = tmp.path().join("reports").join(&summary.run_id);
    let paths = report::write_reports(&run_dir, &summary).unwrap();

    let html = std::fs::read_to_string(&paths.html).unwrap();
    assert_self_contained(&html);
    assert!(html.len() < MAX_HTML_BYTES, "{} bytes", html.len());
    assert!(html.contains(">FAIL<"), "the verdict word");
    for r in &summary.reasons {
        assert!(html.contains(&escaped(r)), "reason {r}");
    }
    // Every failing step's message, escaped, and its scenario's log tail.
    for f in &summary.features {
        for sc in &f.scenarios {
            for st in &sc.steps {
                if let Some(e) = &st.error {
                    assert!(
                        html.contains(&escaped(e)),
                        "message of `{}` missing or unescaped",
                        st.text
                    );
                }
                assert!(html.contains(&escaped(&st.text)), "step `{}`", st.text);
            }
            if let Some(tail) = &sc.stack_log_tail {
                let last = tail.lines().last().unwrap();
                assert!(html.contains(&escaped(last)), "log tail of `{}`", sc.name);
            }
        }
    }
    assert!(
        !html.contains("<script>alert"),
        "raw markup from a message got through"
    );
    assert!(
        html.contains("earlier lines not shown"),
        "the 400-line tail is cut to its end"
    );
    assert!(html.contains("image_id") || html.contains("sha256:9b1c0d7e"));
    assert!(
        html.contains("&lt;not a tag&gt; &amp; friends"),
        "configuration, escaped"
    );

    // summary.json round-trips, summary.md names the failures.
    let back = report::read_summary(&paths.summary_json).unwrap();
    assert_eq!(back, summary);
    let md = std::fs::read_to_string(&paths.markdown).unwrap();
    assert!(md.contains("Wrong password is refused"));
    assert!(md.contains("expected status 401 for a wrong password, got 200"));
    assert!(
        !md.contains("response body"),
        "only the first line of a message"
    );

    // reports/latest points at the run.
    let latest = paths.latest.expect("latest updated");
    assert_eq!(latest, tmp.path().join("reports/latest"));
    assert_eq!(
        std::fs::read_link(&latest).unwrap(),
        Path::new(&summary.run_id)
    );
    assert!(latest.join("report.html").is_file());
}

#[test]
fn latest_moves_to_the_newest_run() {
    let tmp = reports_dir();
    let mut s = acceptance_summary();
    let reports = tmp.path().join("reports");
    report::write_reports(&reports.join("run-a"), &s).unwrap();
    s.run_id = "run-b".into();
    report::write_reports(&reports.join("run-b"), &s).unwrap();
    assert_eq!(
        std::fs::read_link(reports.join("latest")).unwrap(),
        Path::new("run-b")
    );
    let leftovers: Vec<_> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Where `latest` cannot be a symlink (here: a real directory is in the way), latest.txt.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(other.join("latest/keep")).unwrap();
    let paths = report::write_reports(&other.join("run-c"), &s).unwrap();
    assert_eq!(paths.latest, Some(other.join("latest.txt")));
    assert_eq!(
        std::fs::read_to_string(other.join("latest.txt")).unwrap(),
        "run-b\n"
    );
}

#[test]
fn load_report_draws_charts_from_the_hlog_files() {
    let tmp = reports_dir();
    let run_dir = tmp.path().join("reports/load-1");
    let summary = load_summary(&run_dir, &small_load());
    let paths = report::write_reports(&run_dir, &summary).unwrap();
    let html = std::fs::read_to_string(&paths.html).unwrap();
    assert_self_contained(&html);
    assert!(html.contains(">PASS<"));
    // 3 timeline charts + iteration, steps and events distributions.
    assert_eq!(html.matches("<figure class=\"chart\"").count(), 6);
    assert_eq!(
        html.matches("From the full histograms (.hlog).").count(),
        3,
        "every distribution read from its .hlog"
    );
    assert!(html.contains("class=\"band\""), "restart window shaded");
    assert!(html.contains(">99.9%<"), "percentile axis");
    for d in summary.load.as_ref().unwrap().steps.iter() {
        assert!(
            html.contains(&format!("data-name=\"{}\"", escaped(&d.name))),
            "{} plotted",
            d.name
        );
    }
    assert!(
        html.contains("&lt;html&gt;restarting&lt;/html&gt;"),
        "error example escaped"
    );
    assert!(
        html.contains("p95 &lt; 100ms"),
        "step threshold shown on its row"
    );
    let md = std::fs::read_to_string(&paths.markdown).unwrap();
    assert!(md.contains("| login |"));
    assert!(md.contains("`p95 < 300ms`"));
}

#[test]
fn a_broken_hlog_falls_back_to_the_summary_percentiles() {
    let tmp = reports_dir();
    let run_dir = tmp.path().join("reports/load-2");
    let mut summary = load_summary(&run_dir, &small_load());
    let load = summary.load.as_mut().unwrap();
    std::fs::write(
        run_dir.join(load.steps[0].hlog.as_ref().unwrap()),
        "not a log\n",
    )
    .unwrap();
    load.steps[1].hlog = Some("../../etc/passwd".into());
    load.events[0].hlog = None;
    let paths = report::write_reports(&run_dir, &summary).unwrap();
    let html = std::fs::read_to_string(&paths.html).unwrap();
    assert!(
        html.contains("series from summary percentiles only"),
        "steps chart says so"
    );
    assert!(html.contains("not a path inside the run directory"));
    assert!(
        html.contains("1 of 3 series from summary percentiles only"),
        "events chart"
    );
}

#[test]
fn rebuild_regenerates_the_same_pages_from_summary_json() {
    let tmp = reports_dir();
    let run_dir = tmp.path().join("reports/load-3");
    let summary = load_summary(&run_dir, &small_load());
    let first = report::write_reports(&run_dir, &summary).unwrap();
    let html = std::fs::read_to_string(&first.html).unwrap();
    let md = std::fs::read_to_string(&first.markdown).unwrap();
    std::fs::remove_file(&first.html).unwrap();
    std::fs::remove_file(&first.markdown).unwrap();
    let again = report::rebuild(&run_dir).unwrap();
    assert_eq!(again.latest, None);
    assert_eq!(std::fs::read_to_string(&again.html).unwrap(), html);
    assert_eq!(std::fs::read_to_string(&again.markdown).unwrap(), md);

    let err = report::rebuild(&tmp.path().join("nowhere")).unwrap_err();
    assert!(err.to_string().contains("summary.json"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Chromium: what a person sees
// ---------------------------------------------------------------------------------------

/// Where screenshots are kept for a person to look at after the run.
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn chromium_shows_the_verdict_the_steps_and_the_charts() {
    let tmp = reports_dir();
    let shots = screenshot_dir();

    // Acceptance run: a red FAIL banner on top, the failing scenario's step table open.
    let acc = acceptance_summary();
    let acc_paths =
        report::write_reports(&tmp.path().join("reports").join(&acc.run_id), &acc).unwrap();
    let shot = Screenshot::take(&acc_paths.html, &shots.join("acceptance.png"), 1280, 2400);
    eprintln!("screenshot: {}", shots.join("acceptance.png").display());
    std::fs::copy(&acc_paths.html, shots.join("acceptance.html")).unwrap();
    assert_eq!((shot.width, shot.height), (1280, 2400));
    let banner = shot.count("#cf222e", 12, 0..100);
    assert!(
        banner > 1280 * 100 / 2,
        "red FAIL banner fills the top ({banner} px)"
    );
    assert_eq!(
        shot.count("#1a7f37", 12, 0..100),
        0,
        "no green in a FAIL banner"
    );
    let passed_badges = shot.count("#dafbe1", 6, 100..2400);
    let failed_badges = shot.count("#ffebe9", 6, 100..2400);
    assert!(
        passed_badges > 500,
        "passed step badges visible ({passed_badges} px)"
    );
    assert!(
        failed_badges > 300,
        "failed step badges visible ({failed_badges} px)"
    );
    let dom = run_chromium(&["--dump-dom".into()], &acc_paths.html);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("the login fails with 401"),
        "the browser's DOM has the step table"
    );
    assert_eq!(
        dom.matches("<table class=\"steps\">").count(),
        5,
        "a step table per scenario"
    );

    // Load run: a green PASS banner and six charts with their lines drawn.
    let run_dir = tmp.path().join("reports/load-shot");
    let load = load_summary(&run_dir, &small_load());
    let load_paths = report::write_reports(&run_dir, &load).unwrap();
    let shot = Screenshot::take(&load_paths.html, &shots.join("load.png"), 1280, 4800);
    eprintln!("screenshot: {}", shots.join("load.png").display());
    std::fs::copy(&load_paths.html, shots.join("load.html")).unwrap();
    let banner = shot.count("#1a7f37", 12, 0..100);
    assert!(
        banner > 1280 * 100 / 2,
        "green PASS banner fills the top ({banner} px)"
    );
    // Series colours: p50/first series blue, throughput green, p99/errors red, p95 orange.
    for (colour, what) in [
        ("#1f77b4", "p50 line"),
        ("#2ca02c", "throughput line"),
        ("#d62728", "p99 and errors lines"),
        ("#ff7f0e", "p95 line"),
    ] {
        let n = shot.count(colour, 40, 100..shot.height);
        assert!(n > 1500, "{what} drawn: {n} px of {colour}");
    }
    let band = shot.count("#fcefc6", 12, 100..shot.height);
    assert!(band > 2000, "restart band shaded ({band} px)");
    let dom = run_chromium(&["--dump-dom".into()], &load_paths.html);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(
        dom.matches("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox")
            .count(),
        6
    );
}

// ---------------------------------------------------------------------------------------
// summary.md golden files
// ---------------------------------------------------------------------------------------

/// Replaces durations (`850 µs`, `12.3 ms`, `1.23 s`, `2 m 03 s`) with `<t>`.
fn normalize_durations(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let number_at = |i: usize| -> Option<usize> {
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_digit() || ((b[j] == b'.' || b[j] == b',') && j > i)) {
            j += 1;
        }
        (j > i && b[i].is_ascii_digit()).then_some(j)
    };
    let unit_at = |j: usize| -> Option<(usize, bool)> {
        for (unit, more) in [
            (" µs", false),
            (" ms", false),
            (" s", false),
            (" m", true),
            (" h", true),
        ] {
            let end = j + unit.len();
            if s.get(j..end) == Some(unit) && !b.get(end).is_some_and(|c| c.is_ascii_alphanumeric())
            {
                return Some((end, more));
            }
        }
        None
    };
    while i < b.len() {
        let boundary =
            i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.' || b[i - 1] == b'_');
        if boundary
            && let Some(j) = number_at(i)
            && let Some((mut end, mut more)) = unit_at(j)
        {
            while more {
                match number_at(end + 1).and_then(&unit_at) {
                    Some((e, m)) if b[end] == b' ' => {
                        end = e;
                        more = m;
                    }
                    _ => break,
                }
            }
            out.push_str("<t>");
            i = end;
            continue;
        }
        let ch = s[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("GOLDENPATH_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with GOLDENPATH_BLESS=1 cargo test --test report",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output at line {}:\n  golden: {:?}\n  actual: {:?}\n\
             --- actual output ---\n{actual}\n---\nIf the change is intended: GOLDENPATH_BLESS=1 cargo test --test report",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

#[test]
fn durations_are_normalized() {
    assert_eq!(
        normalize_durations(
            "took 850 µs, 12.3 ms, 1.23 s and 2 m 03 s; 12 steps, 4 m, 205.8 iterations/s"
        ),
        "took <t>, <t>, <t> and <t>; 12 steps, <t>, 205.8 iterations/s"
    );
}

#[test]
fn summary_md_matches_golden_files() {
    golden(
        "acceptance.summary.md",
        &normalize_durations(&report::render_markdown(&acceptance_summary())),
    );
    let tmp = reports_dir();
    let load = load_summary(tmp.path(), &small_load());
    golden(
        "load.summary.md",
        &normalize_durations(&report::render_markdown(&load)),
    );
}

// ---------------------------------------------------------------------------------------
// summary.json against the committed schema
// ---------------------------------------------------------------------------------------

fn committed_schema() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/summary.schema.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The committed schema lets readers accept fields added later; this test is stricter, so
/// a field added to `summary.rs` without the schema fails here.
fn strict(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), false.into());
            }
            map.values_mut().for_each(strict);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

fn validate(validator: &jsonschema::Validator, json: &serde_json::Value) -> Vec<String> {
    validator
        .iter_errors(json)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn summary_json_validates_against_the_committed_schema() {
    let mut schema = committed_schema();
    strict(&mut schema);
    let validator = jsonschema::validator_for(&schema).expect("the committed schema is valid");
    let tmp = reports_dir();

    let mut every_field = load_summary(&tmp.path().join("l"), &small_load());
    every_field.features = acceptance_summary().features;
    let load = every_field.load.as_mut().unwrap();
    load.rate_per_s = Some(200.0);
    load.restart.as_mut().unwrap().reconnect = Some(load.steps[0].clone());
    for (name, summary) in [
        ("acceptance", acceptance_summary()),
        ("load", load_summary(&tmp.path().join("m"), &small_load())),
        ("every field set", every_field),
    ] {
        let dir = tmp.path().join(name);
        let paths = report::write_reports(&dir, &summary).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&paths.summary_json).unwrap()).unwrap();
        let errors = validate(&validator, &json);
        assert!(
            errors.is_empty(),
            "{name} summary.json does not match schemas/summary.schema.json:\n{}",
            errors.join("\n")
        );
    }

    // And the schema does reject what it should.
    let mut bad = serde_json::to_value(acceptance_summary()).unwrap();
    bad["verdict"] = "MAYBE".into();
    bad["features"][0]["scenarios"][0]["surprise"] = 1.into();
    assert_eq!(validate(&validator, &bad).len(), 2);
}

#[test]
fn committed_schema_is_what_the_types_generate() {
    let generated = serde_json::to_value(schemars::schema_for!(RunSummary)).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/summary.schema.json");
    if std::env::var_os("GOLDENPATH_BLESS").is_some() {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&generated).unwrap() + "\n",
        )
        .unwrap();
        return;
    }
    assert!(
        committed_schema() == generated,
        "schemas/summary.schema.json is not what src/summary.rs generates.\n\
         Update it with: GOLDENPATH_BLESS=1 cargo test --test report committed_schema"
    );
}

// ---------------------------------------------------------------------------------------
// compare
// ---------------------------------------------------------------------------------------

fn compare_pair() -> (RunSummary, RunSummary) {
    let tmp = reports_dir();
    let base = load_summary(tmp.path(), &small_load());
    (base.clone(), base)
}

#[test]
fn identical_runs_have_no_regression() {
    let (base, current) = compare_pair();
    let c = compare(&base, &current, &Tolerance::default());
    assert!(!c.has_regression(), "{c}");
    assert_eq!(c.exit_code(), 0);
    assert!(c.latencies.iter().all(|l| l.change == Change::Ok));
    assert_eq!(c.latencies.len(), 1 + 5 + 3);
}

#[test]
fn a_doubled_p95_is_a_regression() {
    let (base, mut current) = compare_pair();
    let step = &mut current.load.as_mut().unwrap().steps[2];
    step.p95_us *= 2;
    step.p99_us = step.p99_us.max(step.p95_us);
    let name = step.name.clone();
    let c = compare(&base, &current, &Tolerance::default());
    assert!(c.has_regression());
    assert_eq!(c.exit_code(), 1);
    let row = c.latencies.iter().find(|l| l.name == name).unwrap();
    assert_eq!(row.change, Change::Regressed);
    assert!(
        row.why
            .iter()
            .any(|w| w.starts_with("p95") && w.contains("+100%")),
        "{:?}",
        row.why
    );
    let others = c
        .latencies
        .iter()
        .filter(|l| l.name != name && l.change != Change::Ok)
        .count();
    assert_eq!(others, 0, "{c}");
    let text = c.to_string();
    assert!(text.starts_with("REGRESSION"), "{text}");
    assert!(text.contains("regressed  step"), "{text}");
    assert!(c.to_markdown().contains("**regressed**"));
}

#[test]
fn changes_within_tolerance_are_ok() {
    let (base, mut current) = compare_pair();
    let load = current.load.as_mut().unwrap();
    // +8 %: under the 10 % relative tolerance.
    load.steps[4].p95_us = load.steps[4].p95_us * 108 / 100;
    // +60 % but only +3 ms: under the 5 ms floor.
    load.steps[1].p50_us = 5_000;
    let mut base = base;
    base.load.as_mut().unwrap().steps[1].p50_us = 2_000;
    // +0.05 percentage points of errors: under 0.1 pp.
    let d = &mut load.steps[0];
    d.errors += d.count / 2000;
    let c = compare(&base, &current, &Tolerance::default());
    assert!(!c.has_regression(), "{c}");

    // A tighter tolerance turns the same change into a regression.
    let strict: Tolerance =
        toml::from_str("latency_relative = 0.05\nlatency_floor = \"1ms\"").unwrap();
    assert_eq!(strict.error_rate_pp, Tolerance::default().error_rate_pp);
    assert!(compare(&base, &current, &strict).has_regression());
    // And a faster step is an improvement, not a regression.
    let c = compare(&current, &base, &strict);
    assert!(
        c.latencies.iter().any(|l| l.change == Change::Improved),
        "{c}"
    );
}

#[test]
fn acceptance_runs_compare_scenario_status() {
    let mut base = acceptance_summary();
    base.verdict = Verdict::Pass;
    let current = acceptance_summary();
    // In the baseline the agent scenario passed and an old scenario existed.
    let agent = &mut base.features[1].scenarios[0];
    agent.status = Status::Passed;
    let removed = ScenarioResult {
        name: "Removed scenario".into(),
        ..base.features[1].scenarios[1].clone()
    };
    base.features[1].scenarios.push(removed);
    let c = compare(&base, &current, &Tolerance::default());
    assert!(c.has_regression());
    assert_eq!(c.verdict_change, Change::Regressed);
    let changes: Vec<(String, Change)> = c
        .scenarios
        .iter()
        .filter(|s| s.change != Change::Ok)
        .map(|s| (s.scenario.clone(), s.change))
        .collect();
    assert_eq!(
        changes,
        vec![
            (
                "Run an agent and stream its events".to_owned(),
                Change::Regressed
            ),
            ("Removed scenario".to_owned(), Change::Missing),
        ]
    );
    golden("compare.acceptance.txt", &c.to_string());
    golden("compare.acceptance.md", &c.to_markdown());
    let same = compare(&current, &current, &Tolerance::default());
    assert!(!same.has_regression(), "{same}");
}

#[test]
fn compare_output_matches_golden_files() {
    let (base, mut current) = compare_pair();
    let load = current.load.as_mut().unwrap();
    load.steps[2].p95_us *= 2;
    load.steps[2].p99_us *= 2;
    load.events.remove(1);
    load.steps.push(Distribution {
        name: "new step".into(),
        ..load.steps[0].clone()
    });
    let c = compare(&base, &current, &Tolerance::default());
    golden("compare.load.txt", &c.to_string());
    golden("compare.load.md", &c.to_markdown());
}

// ---------------------------------------------------------------------------------------
// Benchmark (not an assertion on time): `cargo test --release --test report -- --ignored --nocapture bench`
// ---------------------------------------------------------------------------------------

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture bench"]
fn bench_report_of_a_ten_minute_thousand_user_run() {
    let tmp = reports_dir();
    let run_dir = tmp.path().join("reports/bench");
    let shape = LoadShape {
        users: 1000,
        seconds: 600,
        steps: 12,
        events: 5,
        per_second: 200,
        restart: Some((300, 308)),
    };
    let t = Instant::now();
    let summary = load_summary(&run_dir, &shape);
    let setup = t.elapsed();
    let hlog_bytes: u64 = std::fs::read_dir(run_dir.join("hlog"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let t = Instant::now();
    let paths = report::write_reports(&run_dir, &summary).unwrap();
    let build = t.elapsed();
    let t = Instant::now();
    report::rebuild(&run_dir).unwrap();
    let rebuild = t.elapsed();
    let html = std::fs::metadata(&paths.html).unwrap().len();
    let md = std::fs::metadata(&paths.markdown).unwrap().len();
    println!(
        "bench: 600 s × 1000 users, {} steps + {} events + iteration histograms ({} intervals each, {:.1} MB of .hlog), {} timeline points",
        shape.steps,
        shape.events,
        shape.seconds,
        hlog_bytes as f64 / 1e6,
        summary.load.as_ref().unwrap().timeline.len()
    );
    println!(
        "bench: write_reports {:.0} ms, rebuild {:.0} ms (setup {:.1} s)",
        build.as_secs_f64() * 1e3,
        rebuild.as_secs_f64() * 1e3,
        setup.as_secs_f64()
    );
    println!(
        "bench: report.html {:.0} KB, summary.md {:.1} KB (targets: < 2 s, < 2 MB)",
        html as f64 / 1024.0,
        md as f64 / 1024.0
    );
    assert!(html < MAX_HTML_BYTES as u64, "report.html is {html} bytes");
}
