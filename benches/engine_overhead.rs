//! What the load engine itself costs per iteration: a one-step scenario whose step
//! does nothing, run by N users for 3 seconds on the engine's worker threads.
//!
//!     cargo bench -p goldenpath --bench engine_overhead -- 1 50 1000
//!
//! Prints iterations per second for each user count. Not a timed assertion.

use std::time::{Duration, Instant};

use futures_util::future::LocalBoxFuture;
use goldenpath::load::{
    EventSample, LedgerCheck, LoadOptions, ProgressMode, VirtualUser, run_users,
};
use tokio_util::sync::CancellationToken;

#[derive(cucumber::World, Debug, Default)]
struct Noop {
    steps: u64,
}

#[cucumber::when("nothing happens")]
async fn nothing(w: &mut Noop) {
    w.steps += 1;
}

impl VirtualUser for Noop {
    type Context = ();
    fn virtual_user(_: &(), _: u64) -> Self {
        Noop::default()
    }
    fn drain_event_samples(&mut self) -> Vec<EventSample> {
        Vec::new()
    }
    fn misdelivered_events(&self) -> u64 {
        0
    }
    fn verify_ledger(&mut self) -> LocalBoxFuture<'_, LedgerCheck> {
        Box::pin(async { LedgerCheck::default() })
    }
    fn end_iteration(&mut self) {}
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let feature = dir.path().join("noop.feature");
    std::fs::write(
        &feature,
        "@load\nFeature: Noop\n  Scenario: nothing\n    When nothing happens\n",
    )
    .expect("writing the feature");
    let counts: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    for users in if counts.is_empty() {
        vec![1, 50, 1000]
    } else {
        counts
    } {
        let opts = LoadOptions {
            features: vec![feature.clone()],
            users: Some(users),
            duration: Some(Duration::from_secs(3)),
            run_dir: dir.path().join(format!("run-{users}")),
            progress: ProgressMode::Off,
            ..LoadOptions::default()
        };
        let began = Instant::now();
        let out = run_users::<Noop>(opts, (), None, CancellationToken::new())
            .await
            .expect("the run");
        let l = out.summary.load.expect("a load result");
        eprintln!(
            "engine overhead: {users} users, {} iterations in {:.1}s: {:.0} iterations/s ({:.2} µs each per core)",
            l.iterations,
            began.elapsed().as_secs_f64(),
            l.throughput_per_s,
            1e6 / l.throughput_per_s
                * std::thread::available_parallelism().map_or(1, usize::from) as f64
        );
    }
}
