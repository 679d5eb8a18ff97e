//! `goldenpath merge` of 4 shards of a 10-minute, 1,000-user golden-path run: its time
//! and peak memory, against the floor of only decoding the same interval logs, measured
//! in the same run (BENCHMARKS.md, section 6).
//!
//!     cargo bench --bench merge            # SHARDS=4 SECONDS=600 RATE=120 ROUNDS=3
//!
//! The shards are synthetic but shaped as real ones: per shard one scenario series, ten
//! measured steps (and two not run, as the restart steps under load), five events and a
//! reconnect series, one interval per second, RATE journeys per second per shard
//! (BENCHMARKS.md section 3 measured ~490 journeys/s at 1,000 users on one machine; a
//! quarter of that per shard), latencies drawn from a skewed distribution.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use goldenpath::load::hlog::{self, HlogWriter};
use goldenpath::load::{MergeOptions, merge};
use goldenpath::summary::{
    Distribution, Environment, LoadResult, RunKind, RunSummary, SCHEMA_VERSION, ShardInfo,
    ThresholdResult, TimelinePoint, Verdict,
};

mod common;
use common::{Rng, env_number as env_u64};

struct Series {
    name: String,
    file: String,
    median_us: u64,
    per_journey: u64,
    not_run: bool,
}

fn series() -> Vec<Series> {
    let mut out = vec![Series {
        name: "scenario".into(),
        file: "hlog/scenario.hlog".into(),
        median_us: 900_000,
        per_journey: 1,
        not_run: false,
    }];
    for i in 0..12 {
        out.push(Series {
            name: format!("step {i}"),
            file: format!("hlog/step-{i:02}.hlog"),
            median_us: 60_000 + 20_000 * i,
            per_journey: 1,
            not_run: i == 6 || i == 7,
        });
    }
    for e in [
        "agent_started",
        "agent_thinking",
        "tool_executing",
        "tool_completed",
        "agent_completed",
    ] {
        out.push(Series {
            name: e.into(),
            file: format!("hlog/event-{e}.hlog"),
            median_us: 200_000,
            per_journey: 2,
            not_run: false,
        });
    }
    out
}

/// Writes one synthetic shard; returns its number of samples.
fn write_shard(
    dir: &Path,
    index: u64,
    count: u64,
    seconds: u64,
    rate: u64,
    start: SystemTime,
) -> u64 {
    std::fs::create_dir_all(dir.join("hlog")).unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (index + 1));
    let mut samples = 0;
    let mut dists: Vec<Distribution> = Vec::new();
    for s in series() {
        let mut total =
            hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        let hlog = (!s.not_run).then(|| {
            let mut w = HlogWriter::create(&dir.join(&s.file), &s.name, start).unwrap();
            for second in 0..seconds {
                let mut h =
                    hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
                for _ in 0..rate * s.per_journey {
                    h.record(rng.latency(s.median_us)).unwrap();
                }
                total.add(&h).unwrap();
                w.write(&h, Duration::from_secs(second), Duration::from_secs(1))
                    .unwrap();
            }
            w.flush().unwrap();
            s.file.clone()
        });
        samples += total.len();
        let q = |q: f64| {
            if total.is_empty() {
                0
            } else {
                total.value_at_quantile(q)
            }
        };
        dists.push(Distribution {
            name: s.name.clone(),
            count: total.len(),
            errors: 0,
            min_us: if total.is_empty() { 0 } else { total.min() },
            p50_us: q(0.5),
            p90_us: q(0.9),
            p95_us: q(0.95),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: if total.is_empty() { 0 } else { total.max() },
            mean_us: total.mean(),
            hlog,
            not_run: s
                .not_run
                .then(|| "restart steps are not run under load".into()),
            occurrences: (s.per_journey == 2).then(|| total.len()),
        });
    }
    let scenario = dists.remove(0);
    let events = dists.split_off(12);
    let started = chrono::DateTime::<chrono::Utc>::from(start)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let load = LoadResult {
        model: "closed".into(),
        profile: Some("nightly".into()),
        users: 1000 / count,
        rate_per_s: None,
        duration_s: seconds as f64,
        iterations: rate * seconds,
        iterations_failed: 0,
        iterations_interrupted: 0,
        dropped: 0,
        throughput_per_s: rate as f64,
        scenario,
        scenarios: Vec::new(),
        steps: dists,
        events,
        errors: Vec::new(),
        misdelivered_events: 0,
        lost_messages: 0,
        acknowledged_messages: 2 * rate * seconds,
        thresholds: vec![
            ThresholdResult {
                rule: "p95 < 3s".into(),
                scope: "global".into(),
                measured: String::new(),
                passed: true,
            },
            ThresholdResult {
                rule: "p99 < 2s".into(),
                scope: "step 3".into(),
                measured: String::new(),
                passed: true,
            },
        ],
        timeline: (0..seconds)
            .map(|s| TimelinePoint {
                t_s: (s + 1) as f64,
                iterations: rate,
                errors: 0,
                p50_us: 0,
                p95_us: 0,
                p99_us: 0,
            })
            .collect(),
        restart: None,
        shard: Some(ShardInfo {
            index,
            count,
            run_id: "bench-merge".into(),
            start_at: Some(started.clone()),
            started_schedule_at: started.clone(),
            lateness_ms: 0,
            host: format!("shard-{index}"),
            users: 1000 / count,
            iterations: rate * seconds,
            iterations_failed: 0,
        }),
        shards: Vec::new(),
        missing_shards: Vec::new(),
        remote_write: None,
    };
    let summary = RunSummary {
        schema_version: SCHEMA_VERSION,
        run_id: "bench-merge".into(),
        kind: RunKind::Load,
        verdict: Verdict::Pass,
        reasons: Vec::new(),
        started_at: started.clone(),
        finished_at: started,
        environment: Environment::default(),
        features: Vec::new(),
        load: Some(load),
        notes: Vec::new(),
    };
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_vec_pretty(&summary).unwrap(),
    )
    .unwrap();
    samples
}

/// A `/proc/self/status` figure in KiB (`VmHWM:` the peak, `VmRSS:` the current RSS).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

fn current_rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// Resets VmHWM to the current RSS (Linux 4.0+).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    let shards = env_u64("SHARDS", 4);
    let seconds = env_u64("SECONDS", 600);
    let rate = env_u64("RATE", 120);
    let rounds = env_u64("ROUNDS", 3);
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("bench-merge");
    let start = SystemTime::now();
    let began = Instant::now();
    let mut samples = 0;
    let mut dirs = Vec::new();
    for i in 0..shards {
        let dir = run.join(format!("shard-{i}"));
        samples += write_shard(&dir, i, shards, seconds, rate, start);
        dirs.push(dir);
    }
    let bytes: u64 = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d.join("hlog")).unwrap())
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!(
        "{shards} shards x {seconds} s at {rate} journeys/s each: {samples} samples, {:.1} MiB of interval logs (written in {:.1} s)",
        bytes as f64 / 1048576.0,
        began.elapsed().as_secs_f64()
    );
    let files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d.join("hlog")).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    for round in 1..=rounds {
        // The floor: decode every interval of every log, nothing else.
        reset_peak();
        let base = current_rss_kib();
        let t = Instant::now();
        let mut decoded = 0;
        for f in &files {
            decoded += hlog::read(f).unwrap().len();
        }
        let read_s = t.elapsed().as_secs_f64();
        let read_peak = peak_rss_kib().saturating_sub(base);

        // The other floor: decode and write back every interval (what a merge does at
        // the least, with one output log per input log).
        let t = Instant::now();
        let mut serializer = hdrhistogram::serialization::V2DeflateSerializer::new();
        let mut written = 0usize;
        for f in &files {
            for i in hlog::read(f).unwrap() {
                let mut buf = Vec::new();
                hdrhistogram::serialization::Serializer::serialize(
                    &mut serializer,
                    &i.histogram,
                    &mut buf,
                )
                .unwrap();
                written += buf.len();
            }
        }
        let rewrite_s = t.elapsed().as_secs_f64();
        let _ = written;

        reset_peak();
        let base = current_rss_kib();
        let out = work.path().join(format!("merged-{round}"));
        let t = Instant::now();
        let merged = merge(&MergeOptions {
            inputs: vec![run.clone()],
            run_dir: out,
            allow_missing: false,
            wait: None,
        })
        .expect("the shards merge");
        let merge_s = t.elapsed().as_secs_f64();
        let merge_peak = peak_rss_kib().saturating_sub(base);
        let l = merged.summary.load.as_ref().unwrap();
        assert_eq!(l.iterations, rate * seconds * shards);
        println!(
            "round {round}: merge {merge_s:.2} s, +{merge_peak} KiB peak; decoding the {decoded} intervals alone {read_s:.2} s, +{read_peak} KiB (merge/decode {:.2}x); decoding and re-encoding them {rewrite_s:.2} s (merge/that {:.2}x)",
            merge_s / read_s.max(1e-9),
            merge_s / rewrite_s.max(1e-9)
        );
    }
}
