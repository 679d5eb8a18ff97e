//! The load mode against the real reference stack, served in-process on 127.0.0.1:0:
//! the acceptance World's own steps run as a few virtual users for a few seconds.
//!
//! Checks that the counts agree (iterations × steps = recorded samples, 0 lost, 0
//! misdelivered), that a threshold fails against the `slow_agent` fault and passes
//! against the clean stack, that a restart mid-run is survived with 0 loss, and that the
//! `.hlog` files read back to the same percentiles.

use std::path::Path;
use std::time::Duration;

use goldenpath::GoldenWorld;
use goldenpath::load::{self, LoadRunOptions, Threshold};
use goldenpath::summary::{LoadResult, Verdict};

mod common;

async fn run(opts: LoadRunOptions) -> load::LoadOutcome {
    load::run::<GoldenWorld>(opts)
        .await
        .expect("the load run runs")
}

fn load_result(out: &load::LoadOutcome) -> &LoadResult {
    out.summary
        .load
        .as_ref()
        .expect("a load run has a load result")
}

/// Every interval log of the run reads back to the distribution in summary.json.
fn assert_hlogs_read_back(run_dir: &Path, l: &LoadResult) {
    let restart = l.restart.as_ref().and_then(|r| r.reconnect.as_ref());
    for d in l
        .steps
        .iter()
        .filter(|d| d.not_run.is_none())
        .chain([&l.scenario])
        .chain(&l.events)
        .chain(restart)
    {
        let file = run_dir.join(
            d.hlog
                .as_ref()
                .unwrap_or_else(|| panic!("{} has an hlog", d.name)),
        );
        let h = load::hlog::merge(&[&file]).unwrap();
        assert_eq!(h.len(), d.count, "{}", d.name);
        if d.count > 0 {
            assert_eq!(h.value_at_quantile(0.5), d.p50_us, "{}", d.name);
            assert_eq!(h.value_at_quantile(0.95), d.p95_us, "{}", d.name);
            assert_eq!(h.value_at_quantile(0.99), d.p99_us, "{}", d.name);
            assert_eq!(h.max(), d.max_us, "{}", d.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_golden_path_under_load_counts_agree() {
    let stack = common::stack("").await;
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("load-counts");
    let mut opts = common::load_options(&stack.url, run_dir.clone());
    opts.load.users = Some(3);
    opts.load.iterations = Some(9);
    let out = run(opts).await;
    let l = load_result(&out);
    assert_eq!(l.errors, vec![], "{}", out.text);
    assert_eq!((l.iterations, l.iterations_failed), (9, 0));
    // iterations × steps = recorded samples, for every step.
    assert!(!l.steps.is_empty());
    for s in &l.steps {
        if s.not_run.is_some() {
            // Whole-stack steps (the restart) are the profile's, not each user's.
            assert_eq!((s.count, s.hlog.as_deref()), (0, None), "{}", s.name);
            continue;
        }
        assert_eq!((s.count, s.errors), (9, 0), "{}", s.name);
    }
    let not_run: Vec<_> = l.steps.iter().filter(|s| s.not_run.is_some()).collect();
    assert_eq!(
        not_run.len(),
        2,
        "the restart and the comeback are not run under load: {:?}",
        not_run.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let markdown = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
    assert!(markdown.contains("not run under load"), "{markdown}");
    assert_eq!(l.scenario.count, 9);
    // Two agent runs per iteration, five events each.
    assert_eq!(
        l.events.len(),
        5,
        "{:?}",
        l.events.iter().map(|e| &e.name).collect::<Vec<_>>()
    );
    for e in &l.events {
        assert_eq!(e.count, 18, "{}", e.name);
    }
    assert_eq!(l.misdelivered_events, 0);
    assert_eq!(l.lost_messages, 0);
    assert!(l.acknowledged_messages >= 27, "{}", l.acknowledged_messages);
    assert_eq!(out.summary.verdict, Verdict::Pass, "{}", out.text);
    assert!(run_dir.join("summary.json").is_file());
    common::assert_matches_committed_schema(&run_dir.join("summary.json"));
    assert_hlogs_read_back(&run_dir, l);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_latency_threshold_fails_against_a_slow_agent_and_passes_against_the_clean_stack() {
    let thresholds = vec![
        Threshold::global("p95 < 1s").unwrap(),
        Threshold {
            step: Some("\"Alice\" receives the five agent events in order".into()),
            rule: "p95 < 600ms".parse().unwrap(),
        },
        Threshold::global("error_rate < 0.1%").unwrap(),
    ];
    for (faults, should_pass) in [("", true), ("slow_agent:1000", false)] {
        let stack = common::stack(faults).await;
        let dir = tempfile::tempdir().unwrap();
        let mut opts = common::load_options(&stack.url, dir.path().join("run"));
        opts.load.users = Some(2);
        opts.load.iterations = Some(4);
        opts.load.config.thresholds = thresholds.clone();
        let out = run(opts).await;
        assert_eq!(
            out.thresholds_passed, should_pass,
            "faults {faults:?}:\n{}",
            out.text
        );
        let l = load_result(&out);
        assert_eq!(
            l.iterations_failed, 0,
            "a slow agent is slow, not broken:\n{}",
            out.text
        );
        if !should_pass {
            let failed: Vec<_> = l.thresholds.iter().filter(|t| !t.passed).collect();
            assert!(
                failed
                    .iter()
                    .any(|t| t.rule == "p95 < 1s" && t.scope == "global"),
                "{failed:?}"
            );
            assert!(
                failed.iter().any(|t| t.rule == "p95 < 600ms"
                    && t.scope.contains("receives the five agent events"))
            );
            assert!(out.text.contains("FAIL p95 < 1s"), "{}", out.text);
            assert!(out.summary.reasons.iter().any(|r| r.contains("p95 < 1s")));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_run_is_survived_without_loss() {
    let stack = common::stack("").await;
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("load-restart");
    // The entry point restarts as `goldenpath load --restart-at` does: an administrator.
    let mut opts = common::load_options(&stack.url, run_dir.clone());
    opts.contract.timeouts.restart_comeback = Duration::from_secs(20);
    opts.load.users = Some(3);
    opts.load.duration = Some(Duration::from_secs(6));
    opts.load.restart_at = Some(Duration::from_secs(2));
    let out = run(opts).await;
    let l = load_result(&out);
    let r = l
        .restart
        .as_ref()
        .expect("the summary has the restart window");
    assert!(r.back_at_s.is_some(), "{}", out.text);
    assert!(r.downtime_ms.is_some());
    assert_eq!(r.lost_messages, 0, "{}", out.text);
    assert_eq!(l.lost_messages, 0);
    assert_eq!(l.misdelivered_events, 0);
    let reconnect = r.reconnect.as_ref().expect("users reconnected");
    assert!(reconnect.count >= 1, "{}", out.text);
    // Work went on after the restart.
    let after: u64 = l
        .timeline
        .iter()
        .filter(|p| p.t_s > r.back_at_s.unwrap() + 1.0)
        .map(|p| p.iterations)
        .sum();
    assert!(after > 0, "{}", out.text);
    assert_hlogs_read_back(&run_dir, l);
}

/// `goldenpath compare` on real load runs: two clean runs agree, and a run against the
/// `slow_agent` fault is flagged as a regression of the clean baseline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_flags_a_slow_agent_and_passes_two_clean_runs() {
    use goldenpath::report::{Tolerance, compare};

    async fn summary(faults: &str, name: &str, dir: &Path) -> goldenpath::summary::RunSummary {
        let stack = common::stack(faults).await;
        let mut opts = common::load_options(&stack.url, dir.join(name));
        opts.load.users = Some(2);
        opts.load.iterations = Some(6);
        run(opts).await.summary
    }
    let dir = tempfile::tempdir().unwrap();
    let base = summary("", "base", dir.path()).await;
    let clean = summary("", "clean", dir.path()).await;
    let slow = summary("slow_agent:400", "slow", dir.path()).await;

    // Generous bounds so two clean runs on a busy 2-core machine never flap; a 400 ms
    // slower agent is far outside them.
    let tolerance = Tolerance {
        latency_relative: 0.5,
        latency_floor: Duration::from_millis(100),
        ..Tolerance::default()
    };
    let same = compare(&base, &clean, &tolerance);
    assert!(!same.has_regression(), "two clean runs:\n{same}");
    let worse = compare(&base, &slow, &tolerance);
    assert!(
        worse.has_regression(),
        "the slow agent went unnoticed:\n{worse}"
    );
    assert_eq!(worse.exit_code(), 1);
    let text = worse.to_string();
    assert!(
        text.contains("receives the five agent events"),
        "the regressed step is named:\n{text}"
    );
}
