//! Prometheus remote write during a load run, against a real Prometheus server (Debian's
//! `prometheus`, started here with its remote-write receiver on) and the reference
//! stack in-process: the series are queried back through Prometheus's HTTP API and held
//! against the run's own summary. An unreachable receiver is a warning and counts in
//! summary.json, and the run still passes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use goldenpath::GoldenWorld;
use goldenpath::load::{self, LoadRunOptions, PrometheusConfig};
use goldenpath::summary::{LoadResult, Verdict};

mod common;

/// A Prometheus server of its own: a free port, a temporary storage directory.
struct Prometheus {
    url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start() -> Prometheus {
        let binary = std::env::var_os("GOLDENPATH_PROMETHEUS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus"));
        assert!(
            binary.exists(),
            "{} is missing: install Debian's Prometheus with `apt-get update && apt-get install -y --no-install-recommends prometheus` (.ci/run does), or set GOLDENPATH_PROMETHEUS",
            binary.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("prometheus.yml"),
            "global:\n  scrape_interval: 15s\n",
        )
        .unwrap();
        let child = Command::new(binary)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let prometheus = Prometheus {
            url: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while prometheus.get("/-/ready").is_none() {
            assert!(
                Instant::now() < deadline,
                "Prometheus did not become ready in 30 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        prometheus
    }

    fn get(&self, path_and_query: &str) -> Option<String> {
        let out = Command::new("curl")
            .args(["-fsS", "--max-time", "5", "-G"])
            .arg(format!(
                "{}{}",
                self.url,
                path_and_query.split('?').next().unwrap_or_default()
            ))
            .args(
                path_and_query
                    .split_once('?')
                    .map(|(_, q)| vec!["--data-urlencode".to_owned(), q.to_owned()])
                    .unwrap_or_default(),
            )
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The latest value of every series `query` selects, by the given label.
    fn values(&self, query: &str, by: &str) -> Vec<(String, f64)> {
        let body = self
            .get(&format!("/api/v1/query?query={query}"))
            .unwrap_or_else(|| panic!("query {query} answered"));
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        json["data"]["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["metric"][by].as_str().unwrap_or_default().to_owned(),
                    r["value"][1]
                        .as_str()
                        .unwrap_or("nan")
                        .parse()
                        .unwrap_or(f64::NAN),
                )
            })
            .collect()
    }
}

fn options(url: &str, run_dir: PathBuf, remote_write_url: &str) -> LoadRunOptions {
    let mut opts = common::load_options(url, run_dir);
    opts.load.config.prometheus = Some(PrometheusConfig {
        remote_write_url: remote_write_url.to_owned(),
        push_interval: Duration::from_secs(1),
        labels: [("env".to_owned(), "test".to_owned())].into(),
    });
    opts.load.workers = Some(1);
    opts.load.users = Some(3);
    opts.load.duration = Some(Duration::from_secs(4));
    opts
}

fn result(outcome: &load::LoadOutcome) -> &LoadResult {
    outcome.summary.load.as_ref().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_figures_reach_prometheus_and_match_the_summary() {
    let prometheus = Prometheus::start();
    let stack = common::stack("").await;
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("rw-run");
    let write_url = format!("{}/api/v1/write", prometheus.url);
    let outcome = load::run::<GoldenWorld>(options(&stack.url, run_dir, &write_url))
        .await
        .expect("the run runs");
    let l = result(&outcome);
    let rw = l
        .remote_write
        .as_ref()
        .expect("remote write is in the summary");
    assert!(
        rw.pushes_sent >= 3 && rw.pushes_failed == 0 && rw.pushes_dropped == 0,
        "{rw:?}"
    );
    assert_eq!(
        outcome.summary.verdict,
        Verdict::Pass,
        "{:?}",
        outcome.summary.reasons
    );

    let run = &outcome.summary.run_id;
    let iterations = prometheus.values(
        &format!("goldenpath_iterations_total{{run_id=\"{run}\",env=\"test\"}}"),
        "result",
    );
    let value = |name: &str| iterations.iter().find(|(r, _)| r == name).map(|(_, v)| *v);
    assert_eq!(
        value("passed"),
        Some((l.iterations - l.iterations_failed) as f64),
        "{iterations:?}"
    );
    assert_eq!(
        value("failed"),
        Some(l.iterations_failed as f64),
        "{iterations:?}"
    );

    let p95 = prometheus.values(
        &format!("goldenpath_step_duration_seconds{{run_id=\"{run}\",quantile=\"0.95\"}}"),
        "step",
    );
    let measured: Vec<&str> = l
        .steps
        .iter()
        .filter(|s| s.not_run.is_none())
        .map(|s| s.name.as_str())
        .collect();
    for step in &measured {
        assert!(
            p95.iter().any(|(s, v)| s == step && *v > 0.0),
            "{step} has a p95 series: {p95:?}"
        );
    }
    let counts = prometheus.values(
        &format!("goldenpath_step_duration_seconds_count{{run_id=\"{run}\"}}"),
        "step",
    );
    for d in l.steps.iter().filter(|s| s.not_run.is_none()) {
        let got = counts.iter().find(|(s, _)| *s == d.name).map(|(_, v)| *v);
        assert_eq!(
            got,
            Some(d.count as f64),
            "{}: the count is the summary's",
            d.name
        );
    }
    let events = prometheus.values(
        &format!("goldenpath_event_latency_seconds_count{{run_id=\"{run}\"}}"),
        "event",
    );
    for e in &l.events {
        assert!(
            events
                .iter()
                .any(|(n, v)| *n == e.name && *v == e.count as f64),
            "{}: {events:?}",
            e.name
        );
    }
    let users = prometheus.values(
        &format!("goldenpath_active_users{{run_id=\"{run}\"}}"),
        "run_id",
    );
    assert_eq!(users.len(), 1, "an active-users gauge: {users:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_prometheus_is_a_warning_not_a_failed_run() {
    let stack = common::stack("").await;
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let outcome = load::run::<GoldenWorld>(options(
        &stack.url,
        dir.path().join("rw-down"),
        &format!("http://127.0.0.1:{port}/api/v1/write"),
    ))
    .await
    .expect("the run runs");
    let l = result(&outcome);
    assert_eq!(
        outcome.summary.verdict,
        Verdict::Pass,
        "{:?}",
        outcome.summary.reasons
    );
    assert!(l.iterations > 0 && l.iterations_failed == 0);
    let rw = l.remote_write.as_ref().unwrap();
    assert!(
        rw.pushes_sent == 0 && rw.pushes_failed + rw.pushes_dropped >= 3,
        "{rw:?}"
    );
    assert!(rw.last_error.is_some(), "{rw:?}");
    assert!(
        outcome
            .summary
            .notes
            .iter()
            .any(|n| n.starts_with("warning: Prometheus remote write")),
        "{:?}",
        outcome.summary.notes
    );
    common::assert_matches_committed_schema(&outcome.run_dir.join("summary.json"));
}
