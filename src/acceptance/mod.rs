//! Acceptance runs: the cucumber World, its step definitions, and the runner that
//! writes reports.
//!
//! Pipeline: [`preflight`] parses and checks the features → [`runner`] provisions
//! stacks ([`context`], [`target`]) and runs cucumber → writers (terminal, JUnit,
//! Cucumber JSON, [`recorder`]) → `report::write_reports`.

pub mod context;
pub mod preflight;
pub mod recorder;
pub mod runner;
mod steps;
pub mod target;
pub mod tokens;
pub mod world;

pub use runner::{RunError, RunOptions, RunOutcome, TargetChoice, run};
pub use world::GoldenWorld;
