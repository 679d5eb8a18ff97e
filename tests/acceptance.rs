//! The acceptance suite as `cargo test` runs it: every feature of `features/` against
//! the reference stack, built into an image and started with testcontainers.
//!
//! `harness = false`: the output is cucumber's, and the closing line counts scenarios.

use std::process::ExitCode;

use goldenpath::RunOptions;
use goldenpath::config::Config;
use goldenpath::summary::Status;

#[tokio::main]
async fn main() -> ExitCode {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = match Config::load(Some(&std::path::Path::new(root).join("goldenpath.toml"))) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("acceptance: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut opts = RunOptions::new(config);
    opts.features = vec![std::path::Path::new(root).join("features")];
    opts.reports_dir = std::path::Path::new(root).join("target/goldenpath-reports");
    opts.tags = std::env::var("GOLDENPATH_TAGS").ok();
    let outcome = match goldenpath::run(opts).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("acceptance: {e}");
            return ExitCode::FAILURE;
        }
    };
    let scenarios: Vec<_> = outcome.summary.scenarios().collect();
    let failed = scenarios
        .iter()
        .filter(|s| s.status != Status::Passed)
        .count();
    println!("reports: {}", outcome.run_dir.display());
    println!(
        "acceptance: {} passed, {failed} failed",
        scenarios.len() - failed
    );
    if outcome.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
