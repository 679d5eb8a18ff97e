//! Load mode: the acceptance scenarios run as many concurrent virtual users, measured with HdrHistogram.
//!
//! The load mode has no step or client code of its own: it resolves the very steps of
//! `features/` against a World implementing [`VirtualUser`] and runs them in a loop.
//!
//! Code map: `config` (`[load]` profiles and thresholds) → `schedule` (the closed
//! and open models) → `plan` (feature files to resolved steps) → `engine` (workers,
//! users, the iteration) → `metrics` (histograms per second) → `collector` (merge,
//! `.hlog`, timeline, `progress`) → `outcome` (summary.json, `thresholds`, text).
//! `restart` measures a restart under load; `panics` keeps step failures quiet;
//! `shard` splits one run across processes, `merge` adds the shards' results back up;
//! `remote_write` sends the figures to Prometheus while the run goes. [`run`]
//! is the whole load run (stack, engine, cleanup); [`run_users`] the engine alone.

mod collector;
mod config;
mod engine;
pub mod hlog;
mod merge;
mod metrics;
mod outcome;
mod panics;
mod plan;
mod progress;
mod remote_write;
mod restart;
mod run;
mod schedule;
pub mod shard;
mod thresholds;
mod vu;

pub use config::{LoadConfig, Profile, Rate, Threshold, builtin_profiles};
pub use engine::{LoadError, LoadOptions, LoadOutcome, run_users};
pub use merge::{MergeError, MergeOptions, MergeOutcome, merge};
pub use plan::PlanError;
pub use progress::ProgressMode;
pub use remote_write::PrometheusConfig;
pub use restart::{RestartReport, RestartTarget};
pub use run::{LoadRunError, LoadRunOptions, run};
pub use shard::Shard;
pub use vu::{EventSample, LedgerCheck, VirtualUser};
