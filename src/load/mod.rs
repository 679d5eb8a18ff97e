//! Load mode: the acceptance scenarios run as many concurrent virtual users, measured with HdrHistogram.
//!
//! The load mode has no step or client code of its own: it resolves the very steps of
//! `features/` against a World implementing [`VirtualUser`] and runs them in a loop.
//!
//! Code map: [`config`] (`[load]` profiles and thresholds) → [`schedule`] (the closed
//! and open models) → [`plan`] (feature files to resolved steps) → [`engine`] (workers,
//! users, the iteration) → [`metrics`] (histograms per second) → [`collector`] (merge,
//! `.hlog`, timeline, [`progress`]) → [`outcome`] (summary.json, [`thresholds`], text).
//! [`restart`] measures a restart under load; [`panics`] keeps step failures quiet.

pub mod collector;
pub mod config;
pub mod engine;
pub mod hlog;
pub mod metrics;
pub mod outcome;
pub mod panics;
pub mod plan;
pub mod progress;
pub mod restart;
pub mod schedule;
pub mod thresholds;
pub mod vu;

pub use config::{LoadConfig, Profile, Rate, Threshold};
pub use engine::{LoadError, LoadOptions, LoadOutcome, run_load};
pub use progress::ProgressMode;
pub use restart::{RestartReport, RestartTarget};
pub use vu::{EventSample, LedgerCheck, VirtualUser};
