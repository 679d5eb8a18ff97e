//! What several test files share: the reference stack served in-process on
//! 127.0.0.1:0, as a stack goldenpath did not start (no container).
//!
//! Each test file that uses it declares `mod common;`; not every file uses every item.
#![allow(dead_code)]

pub mod browser;
pub mod faults;

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// The reference stack in-process, with its own data directory. It serves again on the
/// same port after `/admin/restart` (as a container's restart policy would), with the
/// same data, up to ten times. Dropping it stops it.
pub struct InProcessStack {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    _data: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for InProcessStack {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start the reference stack with these seeded faults (CONTRACT §9, comma-separated).
pub async fn stack(faults: &str) -> InProcessStack {
    stack_with(faults, |_| {}).await
}

/// As [`stack`], with the stack's configuration adjusted by `tweak` first.
pub async fn stack_with(
    faults: &str,
    tweak: impl FnOnce(&mut agent_stack::Config),
) -> InProcessStack {
    let data = tempfile::tempdir().expect("a temporary data directory");
    let mut config = agent_stack::Config::for_tests(data.path());
    config.faults = faults.parse().expect("known faults");
    tweak(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let addr = listener.local_addr().expect("a local address");
    let task = tokio::spawn(async move {
        let mut listener = Some(listener);
        // Bounded: a test restarts the stack at most a few times.
        for _ in 0..10 {
            let l = match listener.take() {
                Some(l) => l,
                None => match TcpListener::bind(addr).await {
                    Ok(l) => l,
                    Err(_) => return,
                },
            };
            if agent_stack::serve(l, config.clone()).await.is_err() {
                return;
            }
        }
    });
    InProcessStack {
        url: format!("http://{addr}"),
        addr,
        _data: data,
        task,
    }
}

/// A real load run's summary.json against `schemas/summary.schema.json`.
pub fn assert_matches_committed_schema(summary: &std::path::Path) {
    let schema_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/summary.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the committed schema is valid");
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "summary.json does not match the committed schema: {errors:?}"
    );
}

/// A load run through the library's entry point against the stack at `url`, a stack
/// goldenpath did not start: the golden path as two workers' users, quietly.
pub fn load_options(url: &str, run_dir: std::path::PathBuf) -> goldenpath::load::LoadRunOptions {
    let config = goldenpath::Config::default();
    let target = goldenpath::Target {
        base_url: Some(url.to_owned()),
        ..goldenpath::Target::default()
    };
    let mut opts =
        goldenpath::load::LoadRunOptions::new(config.contract, target, config.load, run_dir);
    opts.load.features = vec![
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("features/golden_path.feature"),
    ];
    opts.load.tags = Some("@load".into());
    opts.load.progress = goldenpath::load::ProgressMode::Off;
    opts.load.workers = Some(2);
    opts
}
