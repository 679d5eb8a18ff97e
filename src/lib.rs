//! goldenpath: the path that agent-chat frontends keep breaking (sign in, run an agent,
//! receive its five WebSocket events, post to a thread, survive a backend restart), as
//! Gherkin features that drive a real stack; the same steps as a load generator.
//!
//! This crate is both the `goldenpath` binary and a library a team adds to its own
//! repository, to run goldenpath's features and its own, with its own steps, from its
//! own `cargo test`. `ARCHITECTURE.md` has the bird's-eye view and the code map.
//!
//! # Use from a team's repository
//!
//! `Cargo.toml` of the team's crate:
//!
//! ```toml
//! [dev-dependencies]
//! goldenpath = { git = "…", package = "goldenpath" }   # or { path = "…" }
//! cucumber = "0.23"                                     # for the step attributes
//!
//! [[test]]
//! name = "golden"
//! harness = false
//! ```
//!
//! `tests/golden.rs`: goldenpath's standard steps are already registered on
//! [`GoldenWorld`]; the team adds steps of its own for what its backend does beyond the
//! contract, through the one client ([`GoldenWorld::client`]), and calls
//! [`run_main`] once:
//!
//! ```no_run
//! use cucumber::then;
//! use goldenpath::{Config, GoldenWorld, RunOptions};
//! use goldenpath::client::RawRequest;
//!
//! #[then(expr = "{string} can download the run's transcript")]
//! async fn transcript(world: &mut GoldenWorld, user: String) {
//!     let session = world.session(&user);
//!     let run_id = world.current_run().started.run_id.clone();
//!     let answer = world
//!         .client()
//!         .send(RawRequest::get(&format!("/api/runs/{run_id}/transcript")).session(&session))
//!         .await
//!         .expect("the stack answers");
//!     assert_eq!(answer.status, 200, "GET transcript: {}", answer.body);
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let config = Config::load(Some("goldenpath.toml".as_ref())).expect("a valid goldenpath.toml");
//!     let mut options = RunOptions::new(config);
//!     options.features = vec!["features".into()];
//!     goldenpath::run_main(options)
//! }
//! ```
//!
//! The run checks every feature file against every step (goldenpath's and the team's)
//! before anything starts, starts or reaches the stack that `[target]` names (an image,
//! a base URL, or goldenpath's reference stack), and writes the same reports
//! (`reports/<run-id>/`) with the same exit codes as `goldenpath run`: 0 passed,
//! 1 a scenario failed, 2 the run could not start.
//!
//! # The public API
//! - Acceptance runs: [`RunOptions`] → [`run`] → [`RunOutcome`] (or [`run_main`] for
//!   a `main`), [`RunError`]; the World [`GoldenWorld`].
//! - Load runs: [`load::LoadRunOptions`] → [`load::run`] → [`load::LoadOutcome`]; the
//!   engine alone ([`load::run_users`]) for a World of one's own ([`load::VirtualUser`]);
//!   a run split across processes ([`load::Shard`]) and added back up ([`load::merge`]);
//!   its figures sent to Prometheus ([`load::PrometheusConfig`]).
//! - The stack's API as configuration: [`Config`] (the file), [`contract::Contract`]
//!   (what the client takes), [`Target`] / [`TargetChoice`] (which stack).
//! - The one client: [`client::StackClient`] and its sockets.
//! - What is below both modes: [`session`] (preflight, starting the stack, restarts)
//!   and [`provision`] (images and containers with no registry).
//! - Results: [`summary::RunSummary`] and the writers in [`report`] (one run's pages,
//!   [`report::compare`] of two, [`report::history`] of many).
//!
//! Nothing here touches the process unless asked: no signal handler unless
//! [`RunOptions::handle_interrupts`] (set by [`run_main`] and the binary), no reading of
//! the command line. A load run installs a panic hook for its duration only, to keep
//! thousands of step failures quiet, and restores the previous one after.

#![warn(missing_docs)]

mod acceptance;
pub mod client;
pub mod config;
pub mod contract;
pub mod load;
pub mod provision;
pub mod report;
mod rule;
pub mod session;
pub mod summary;

use std::process::ExitCode;

pub use acceptance::{
    GoldenWorld, Mode, Outcome, RunError, RunOptions, RunOutcome, RunTrack, User, run,
};
pub use config::{Config, ConfigError};
/// The cucumber crate goldenpath is built on (the World's derive, the step attributes).
pub use cucumber;
pub use session::{Target, TargetChoice};

/// Exit code of a run in which a scenario or a threshold failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of a run that could not start or finish (bad input, no Docker engine,
/// unreachable stack).
pub const EXIT_ERROR: u8 = 2;

/// Run the acceptance features as a program's `main` would: on a runtime of its own,
/// with Ctrl-C / SIGTERM cleaning up the run's stacks, printing the verdict and the
/// report paths, and returning the exit code (0 passed, 1 failed, 2 could not run).
///
/// This is the entry point of a team's `harness = false` test; the `goldenpath run`
/// command is the same call.
pub fn run_main(mut options: RunOptions) -> ExitCode {
    options.handle_interrupts = true;
    if options.command_line.is_empty() {
        options.command_line = std::env::args().collect::<Vec<_>>().join(" ");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return error_exit(format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        match run(options).await {
            Ok(outcome) => {
                print_outcome(&outcome);
                outcome.exit_code()
            }
            Err(e) => error_exit(e),
        }
    })
}

/// Print `goldenpath: error: <message>` on stderr and return exit code 2.
pub fn error_exit(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("goldenpath: error: {message}");
    ExitCode::from(EXIT_ERROR)
}

/// The verdict line and where the reports are, as `goldenpath run` prints them.
pub fn print_outcome(outcome: &RunOutcome) {
    let summary = &outcome.summary;
    println!();
    println!(
        "verdict: {:?} — {}",
        summary.verdict,
        summary.reasons.join("; ")
    );
    println!("reports: {}", outcome.run_dir.display());
    for name in [
        "report.html",
        "summary.md",
        "summary.json",
        "junit.xml",
        "cucumber.json",
    ] {
        println!("  {}", outcome.run_dir.join(name).display());
    }
}

impl RunOutcome {
    /// 0 when every scenario passed, else 1.
    pub fn exit_code(&self) -> ExitCode {
        if self.passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_FAILED)
        }
    }
}
