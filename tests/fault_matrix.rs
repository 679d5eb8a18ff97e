//! Proof that every scenario can fail for the right reason: the reference stack is
//! started once per seeded fault of CONTRACT §9, and the scenarios meant to catch
//! that fault must fail, at the step that names it, while the same scenarios pass
//! against the clean stack (the first row). ARCHITECTURE.md keeps this table in words.
//!
//! `harness = false`: one line per fault, then `N passed, N failed`.
//! `GOLDENPATH_FAULTS=stats_stall,leak_events` runs only those rows.

use std::process::ExitCode;
use std::time::Duration;

use goldenpath::RunOptions;
use goldenpath::config::Config;

mod common;

use common::faults::{matrix, verdict};

fn config(root: &std::path::Path) -> Config {
    let mut config =
        Config::load(Some(&root.join("goldenpath.toml"))).expect("goldenpath.toml loads");
    // A stack that never comes back is detected after this long.
    config.contract.timeouts.restart_comeback = Duration::from_secs(15);
    config
}

#[tokio::main]
async fn main() -> ExitCode {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let only: Option<Vec<String>> = std::env::var("GOLDENPATH_FAULTS")
        .ok()
        .map(|v| v.split(',').map(str::to_owned).collect());
    let rows: Vec<_> = matrix()
        .into_iter()
        .filter(|(fault, _)| only.as_ref().is_none_or(|o| o.iter().any(|f| f == fault)))
        .collect();
    let mut all_names: Vec<String> = rows
        .iter()
        .flat_map(|(_, r)| r.iter().map(|(n, _)| (*n).to_owned()))
        .collect();
    all_names.sort();
    all_names.dedup();

    let (mut passed, mut failed) = (0, 0);
    // The clean stack first: every catching scenario passes.
    let mut opts = RunOptions::new(config(root));
    opts.features = vec![root.join("features")];
    opts.reports_dir = root.join("target/goldenpath-reports/fault-matrix");
    opts.scenario_names = all_names;
    opts.progress = false;
    match goldenpath::run(opts.clone()).await {
        Ok(outcome) if outcome.passed() => {
            passed += 1;
            println!("clean stack: every catching scenario passes");
        }
        Ok(outcome) => {
            failed += 1;
            println!(
                "FAIL clean stack: {} ({})",
                outcome.summary.reasons.join("; "),
                outcome.run_dir.display()
            );
        }
        Err(e) => {
            failed += 1;
            println!("FAIL clean stack: {e}");
        }
    }

    for (fault, expected) in rows {
        let mut opts = opts.clone();
        opts.config.target.faults = vec![fault.to_owned()];
        opts.scenario_names = expected.iter().map(|(n, _)| (*n).to_owned()).collect();
        let result = match goldenpath::run(opts).await {
            Ok(outcome) => {
                let scenarios: Vec<_> = outcome.summary.scenarios().collect();
                verdict(&scenarios, &expected, fault)
            }
            Err(e) => Err(format!("{fault}: the run did not complete: {e}")),
        };
        match result {
            Ok(caught) => {
                passed += 1;
                println!("caught {fault}:\n      {caught}");
            }
            Err(why) => {
                failed += 1;
                println!("FAIL {why}");
            }
        }
    }
    println!("fault matrix: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
