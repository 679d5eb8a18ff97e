//! goldenpath: workflow-as-tests harness and load generator for agent-chat backends.
//!
//! See `ARCHITECTURE.md` for the bird's-eye view and the code map.

pub mod acceptance;
pub mod cli;
pub mod client;
pub mod config;
pub mod load;
pub mod provision;
pub mod report;
pub mod summary;
