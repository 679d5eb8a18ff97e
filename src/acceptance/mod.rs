//! Acceptance runs: the cucumber World, its step definitions, and the runner that
//! writes reports.
//!
//! Pipeline: `session::preflight` parses and checks the features → [`run`] starts the
//! stacks (`crate::session`) and runs cucumber → writers (terminal, Cucumber JSON,
//! `recorder`) → `report::write_reports` (summary.json, report.html, summary.md and
//! junit.xml, all from the recorded results). `retries` keeps a retried scenario's
//! last attempt in cucumber.json.

mod not_run;
mod recorder;
mod retries;
mod runner;
mod sharing;
mod steps;
mod tokens;
mod world;

pub use runner::{RunError, RunOptions, RunOutcome, run};
pub use world::{GoldenWorld, Mode, Outcome, RunTrack, User};
