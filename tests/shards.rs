//! A split load run: the reference stack (in-process, a stack goldenpath did not start)
//! and N `goldenpath load --shard I/N` processes, merged by `goldenpath merge`.
//!
//! Checks that the shards together do what one process would (users and iterations add
//! up), that the merged percentiles are those of one histogram holding every shard's
//! samples, that thresholds are judged on the merged result (failing when a shard alone
//! passes), and that a missing, foreign or duplicated shard stops the merge unless
//! `--allow-missing`, which marks the verdict INCOMPLETE and keeps what was measured.
//! Last, the same with the shards as containers of goldenpath's own image, each its own
//! host on one Docker network.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use goldenpath::load::hlog;
use goldenpath::summary::{LoadResult, RunSummary, Verdict};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_goldenpath");

fn feature() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("features/golden_path.feature")
}

/// A run id that starts `lead` from now (goldenpath derives the shared start from it).
fn run_id(name: &str, lead: Duration) -> String {
    let at = chrono::Utc::now() + chrono::Duration::from_std(lead).unwrap();
    format!("{}-{name}", at.format("%Y%m%dT%H%M%SZ"))
}

/// `goldenpath load` for shard `index` of `count`, started, not waited for; with a
/// configuration of its own (no thresholds beyond the implicit ones) in `reports`.
fn shard(url: &str, reports: &Path, run: &str, index: u64, count: u64, extra: &[&str]) -> Child {
    let config = reports.join("no-thresholds.toml");
    if !config.exists() {
        std::fs::write(&config, "# the defaults, and no latency thresholds\n").unwrap();
    }
    Command::new(BIN)
        .args([
            "load",
            "--base-url",
            url,
            "--workers",
            "1",
            "--tags",
            "@load",
        ])
        .arg("--shard")
        .arg(format!("{index}/{count}"))
        .args(["--run-id", run, "--config"])
        .arg(&config)
        .arg("--reports")
        .arg(reports)
        .args(extra)
        .arg(feature())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("goldenpath load starts")
}

fn finish(child: Child) -> Output {
    child.wait_with_output().expect("the shard ends")
}

fn merge(inputs: &[&Path], out: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("merge")
        .args(inputs)
        .arg("--run-dir")
        .arg(out)
        .args(extra)
        .output()
        .expect("goldenpath merge runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn summary(dir: &Path) -> RunSummary {
    goldenpath::report::read_summary(&dir.join("summary.json")).expect("a summary.json")
}

fn load(s: &RunSummary) -> &LoadResult {
    s.load.as_ref().expect("a load result")
}

/// Every sample of `pick` over the shards, in one histogram read from their logs.
fn all_samples(
    shards: &[PathBuf],
    pick: impl Fn(&LoadResult) -> Option<&goldenpath::summary::Distribution>,
) -> hdrhistogram::Histogram<u64> {
    let files: Vec<PathBuf> = shards
        .iter()
        .filter_map(|dir| {
            let s = summary(dir);
            pick(load(&s))
                .and_then(|d| d.hlog.clone())
                .map(|f| dir.join(f))
        })
        .collect();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    hlog::merge(&refs).expect("the shards' logs read")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_add_up_to_one_run_and_merge_exactly() {
    let stack = common::stack("").await;
    let reports = tempfile::tempdir().unwrap();
    let run = run_id("exact", Duration::from_secs(3));
    let url = stack.url.clone();
    let dir = reports.path().to_owned();
    let run2 = run.clone();
    let (outputs, waited) = tokio::task::spawn_blocking(move || {
        let children: Vec<Child> = (0..3)
            .map(|i| {
                shard(
                    &url,
                    &dir,
                    &run2,
                    i,
                    3,
                    &["--users", "5", "--iterations", "11"],
                )
            })
            .collect();
        // A merge started beside the shards (as the Kubernetes merge Job is) waits for
        // every shard's results.
        let run_dir = dir.join(&run2);
        let waiting = Command::new(BIN)
            .arg("merge")
            .arg(&run_dir)
            .arg("--run-dir")
            .arg(run_dir.join("waited"))
            .args(["--wait", "2m"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let outputs = children.into_iter().map(finish).collect::<Vec<_>>();
        (outputs, finish(waiting))
    })
    .await
    .unwrap();
    for (i, o) in outputs.iter().enumerate() {
        assert!(o.status.success(), "shard {i}: {}", text(o));
    }
    assert_eq!(
        waited.status.code(),
        Some(0),
        "the waiting merge: {}",
        text(&waited)
    );
    let run_dir = reports.path().join(&run);
    assert_eq!(load(&summary(&run_dir.join("waited"))).iterations, 11);
    let shard_dirs: Vec<PathBuf> = (0..3).map(|i| run_dir.join(format!("shard-{i}"))).collect();
    let shards: Vec<RunSummary> = shard_dirs.iter().map(|d| summary(d)).collect();
    let users: Vec<u64> = shards.iter().map(|s| load(s).users).collect();
    let iterations: Vec<u64> = shards.iter().map(|s| load(s).iterations).collect();
    assert_eq!(
        users,
        [2, 2, 1],
        "5 users dealt to 3 shards, remainders to the lowest"
    );
    assert_eq!(iterations, [4, 4, 3], "11 iterations split the same way");
    for s in &shards {
        let info = load(s).shard.as_ref().expect("a shard says which it is");
        assert_eq!((info.count, info.run_id.as_str()), (3, run.as_str()));
        assert_eq!(
            info.start_at.as_deref(),
            shards[0]
                .load
                .as_ref()
                .unwrap()
                .shard
                .as_ref()
                .unwrap()
                .start_at
                .as_deref()
        );
        assert!(info.lateness_ms < 1000, "started on time: {info:?}");
    }

    let out = run_dir.join("merged");
    let merged = merge(&[&run_dir], &out, &[]);
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged));
    common::assert_matches_committed_schema(&out.join("summary.json"));
    common::assert_matches_committed_schema(&shard_dirs[0].join("summary.json"));
    let m = summary(&out);
    let l = load(&m);
    assert_eq!(m.verdict, Verdict::Pass, "{:?}", m.reasons);
    assert_eq!((l.users, l.iterations), (5, 11));
    assert_eq!(
        l.iterations_failed, 0,
        "no identity collided between shards: {:?}",
        l.errors
    );
    assert_eq!(l.shards.len(), 3);
    assert_eq!(
        l.acknowledged_messages,
        shards
            .iter()
            .map(|s| load(s).acknowledged_messages)
            .sum::<u64>()
    );
    // Every distribution is the sum of the shards': percentiles of one histogram.
    let whole = all_samples(&shard_dirs, |l| Some(&l.scenario));
    assert_eq!(l.scenario.count, 11);
    assert_eq!(whole.len(), 11);
    for (q, got) in [
        (0.5, l.scenario.p50_us),
        (0.95, l.scenario.p95_us),
        (0.99, l.scenario.p99_us),
    ] {
        assert_eq!(got, whole.value_at_quantile(q), "scenario p{q}");
    }
    assert_eq!(l.scenario.max_us, whole.max());
    for (i, step) in l
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.not_run.is_none())
    {
        let h = all_samples(&shard_dirs, |l| l.steps.get(i));
        assert_eq!(step.count, h.len(), "{}", step.name);
        assert_eq!(step.p99_us, h.value_at_quantile(0.99), "{}", step.name);
        let own: u64 = shards.iter().map(|s| load(s).steps[i].count).sum();
        assert_eq!(step.count, own, "{}: samples add up", step.name);
    }
    for event in &l.events {
        let h = all_samples(&shard_dirs, |l| {
            l.events.iter().find(|e| e.name == event.name)
        });
        assert_eq!(event.p95_us, h.value_at_quantile(0.95), "{}", event.name);
    }
    let merged_log = hlog::merge(&[&out.join(l.scenario.hlog.as_ref().unwrap())]).unwrap();
    assert_eq!(
        merged_log.len(),
        11,
        "the merged run's own interval log holds every sample"
    );
    assert_eq!(
        l.timeline.iter().map(|p| p.iterations).sum::<u64>(),
        11,
        "the timeline adds up per second"
    );

    // compare works on merged runs: the two merges of the same shards agree.
    let compared = Command::new(BIN)
        .arg("compare")
        .arg(run_dir.join("waited"))
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(compared.status.code(), Some(0), "{}", text(&compared));
    assert!(text(&compared).contains("scenario"), "{}", text(&compared));

    // A shard of another run, or the same shard twice: refused, exit 2.
    let foreign = reports.path().join("foreign");
    copy_dir(&shard_dirs[1], &foreign);
    let mut s = summary(&foreign);
    s.load.as_mut().unwrap().shard.as_mut().unwrap().run_id = "another-run".into();
    std::fs::write(
        foreign.join("summary.json"),
        serde_json::to_vec(&s).unwrap(),
    )
    .unwrap();
    let o = merge(
        &[&shard_dirs[0], &foreign, &shard_dirs[2]],
        &reports.path().join("m2"),
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("another-run"), "{}", text(&o));
    let o = merge(
        &[&shard_dirs[0], &shard_dirs[0]],
        &reports.path().join("m3"),
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("shard 0 twice"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_are_judged_on_the_merged_run() {
    // Shard 0 loads a clean stack, shard 1 one whose agent is slow: shard 0 alone passes
    // its p95 rule, the whole run does not.
    let clean = common::stack("").await;
    let slow = common::stack("slow_agent:1500").await;
    let reports = tempfile::tempdir().unwrap();
    let config = reports.path().join("goldenpath.toml");
    std::fs::write(
        &config,
        "[[load.thresholds]]\nstep = '\"Alice\" receives the five agent events in order'\nrule = \"p95 < 1s\"\n",
    )
    .unwrap();
    let run = run_id("judged", Duration::from_secs(3));
    let (dir, run2, cfg) = (reports.path().to_owned(), run.clone(), config.clone());
    let urls = [clean.url.clone(), slow.url.clone()];
    let outputs = tokio::task::spawn_blocking(move || {
        let children: Vec<Child> = (0..2)
            .map(|i| {
                let mut c = Command::new(BIN);
                c.args(["load", "--base-url", &urls[i as usize], "--workers", "1"])
                    .arg("--shard")
                    .arg(format!("{i}/2"))
                    .args(["--run-id", &run2, "--users", "2", "--iterations", "4"])
                    .arg("--config")
                    .arg(&cfg)
                    .arg("--reports")
                    .arg(&dir)
                    .arg(feature())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                c.spawn().unwrap()
            })
            .collect();
        children.into_iter().map(finish).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (i, o) in outputs.iter().enumerate() {
        assert_eq!(
            o.status.code(),
            Some(0),
            "shard {i} wrote its results: {}",
            text(o)
        );
    }
    let run_dir = reports.path().join(&run);
    let alone = summary(&run_dir.join("shard-0"));
    let own = load(&alone)
        .thresholds
        .iter()
        .find(|t| t.rule == "p95 < 1s")
        .unwrap();
    assert!(own.passed, "the clean shard alone passes its rule: {own:?}");
    let out = run_dir.join("merged");
    let merged = merge(&[&run_dir], &out, &[]);
    assert_eq!(merged.status.code(), Some(1), "{}", text(&merged));
    let m = summary(&out);
    let rule = load(&m)
        .thresholds
        .iter()
        .find(|t| t.rule == "p95 < 1s")
        .expect("the step rule is judged again");
    assert!(!rule.passed, "{rule:?}");
    assert!(
        rule.scope.contains("receives the five agent events"),
        "{rule:?}"
    );
    assert_eq!(m.verdict, Verdict::Fail);
    drop((clean, slow));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_shard_stops_the_merge_unless_allowed_missing_then_incomplete() {
    let stack = common::stack("").await;
    let reports = tempfile::tempdir().unwrap();
    let run = run_id("killed", Duration::from_secs(2));
    let (url, dir, run2) = (stack.url.clone(), reports.path().to_owned(), run.clone());
    let (kept, killed) = tokio::task::spawn_blocking(move || {
        let keep = shard(
            &url,
            &dir,
            &run2,
            0,
            2,
            &["--users", "2", "--duration", "4s"],
        );
        let mut kill = shard(
            &url,
            &dir,
            &run2,
            1,
            2,
            &["--users", "2", "--duration", "4s"],
        );
        std::thread::sleep(Duration::from_secs(4));
        kill.kill().expect("the shard is killed mid-run");
        (finish(keep), finish(kill))
    })
    .await
    .unwrap();
    assert!(kept.status.success(), "{}", text(&kept));
    assert!(!killed.status.success());
    let run_dir = reports.path().join(&run);
    assert!(
        !run_dir.join("shard-1/summary.json").exists(),
        "the killed shard wrote no summary"
    );

    let out = run_dir.join("merged");
    let waited = merge(&[&run_dir], &out, &["--wait", "2s"]);
    assert_eq!(
        waited.status.code(),
        Some(2),
        "a wait ends: {}",
        text(&waited)
    );
    let refused = merge(&[&run_dir], &out, &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("shard(s) 1 of 2 missing"),
        "{}",
        text(&refused)
    );

    let partial = merge(&[&run_dir], &out, &["--allow-missing"]);
    assert_eq!(partial.status.code(), Some(1), "{}", text(&partial));
    common::assert_matches_committed_schema(&out.join("summary.json"));
    let m = summary(&out);
    assert_eq!(m.verdict, Verdict::Incomplete);
    assert!(m.reasons[0].starts_with("incomplete"), "{:?}", m.reasons);
    let l = load(&m);
    assert_eq!(l.missing_shards, [1]);
    let alone = summary(&run_dir.join("shard-0"));
    assert_eq!(
        l.iterations,
        load(&alone).iterations,
        "nothing shard 0 measured is lost"
    );
    assert!(l.iterations > 0);
    assert_eq!(l.scenario.p99_us, load(&alone).scenario.p99_us);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("INCOMPLETE") && html.contains("Missing: shard(s) 1"));
}

/// The shards as containers of goldenpath's own image (`goldenpath image`: no registry),
/// each its own host on the reference stack's Docker network, merged on this machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_as_containers_each_its_own_host_merge_exactly() {
    use goldenpath::provision::{self, HarnessImage, ImageSource, ManagedStack, StackOptions};
    use testcontainers::core::wait::ExitWaitStrategy;
    use testcontainers::core::{Mount, WaitFor};
    use testcontainers::runners::AsyncRunner as _;
    use testcontainers::{GenericImage, ImageExt as _};

    let image = provision::ensure_image(&ImageSource::Reference)
        .await
        .expect("the reference image");
    let stack = ManagedStack::start(&image, StackOptions::default())
        .await
        .expect("the reference stack starts");
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("goldenpath.toml");
    std::fs::write(&config, "# the defaults, and no latency thresholds\n").unwrap();
    let tag = "goldenpath:test-shards";
    provision::build_harness_image(&HarnessImage {
        tag: tag.into(),
        binary: BIN.into(),
        features: vec![feature()],
        config: Some(config),
    })
    .await
    .expect("goldenpath's image builds with no registry");
    let results = work.path().join("results");
    std::fs::create_dir(&results).unwrap();
    // The image's user (uid 10001) writes the shards' results here.
    std::fs::set_permissions(
        &results,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    // Containers take a few seconds to start: the shared start is further out.
    let run = run_id("containers", Duration::from_secs(8));
    let (name, version) = tag.split_once(':').unwrap();
    let start = |index: u64| {
        GenericImage::new(name, version)
            .with_wait_for(WaitFor::exit(ExitWaitStrategy::new()))
            .with_network(stack.network_name())
            .with_hostname(format!("shard-{index}"))
            .with_mount(Mount::bind_mount(results.to_string_lossy(), "/results"))
            .with_env_var("GOLDENPATH_TARGET__BASE_URL", stack.internal_url())
            .with_env_var(goldenpath::load::shard::INDEX_ENV, index.to_string())
            .with_env_var(goldenpath::load::shard::SHARDS_ENV, "2")
            .with_env_var(goldenpath::load::shard::RUN_ID_ENV, &run)
            .with_cmd([
                "load",
                "--users",
                "4",
                "--iterations",
                "8",
                "--workers",
                "1",
                "--reports",
                "/results",
                "/etc/goldenpath/features",
            ])
            .with_startup_timeout(Duration::from_secs(120))
            .start()
    };
    let (a, b) = tokio::join!(start(0), start(1));
    let shards = [a.expect("shard 0 runs"), b.expect("shard 1 runs")];
    for (i, c) in shards.iter().enumerate() {
        let code = c.exit_code().await.unwrap();
        let logs =
            String::from_utf8_lossy(&c.stdout_to_vec().await.unwrap_or_default()).into_owned();
        assert_eq!(code, Some(0), "shard {i} in its container: {logs}");
    }

    let run_dir = results.join(&run);
    let out = work.path().join("merged");
    let merged = merge(&[&run_dir], &out, &[]);
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged));
    let m = summary(&out);
    let l = load(&m);
    assert_eq!((l.users, l.iterations, l.iterations_failed), (4, 8, 0));
    let hosts: Vec<&str> = l.shards.iter().map(|s| s.host.as_str()).collect();
    assert_eq!(hosts, ["shard-0", "shard-1"], "each shard its own host");
    let dirs: Vec<PathBuf> = (0..2).map(|i| run_dir.join(format!("shard-{i}"))).collect();
    let whole = all_samples(&dirs, |l| Some(&l.scenario));
    assert_eq!(l.scenario.p95_us, whole.value_at_quantile(0.95));
    assert_eq!(l.scenario.count, 8);
    drop(shards);
    stack
        .shutdown()
        .await
        .expect("the stack and its network are removed");
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}
