//! What every scenario of one run shares: the configuration, the shared stack, the
//! means to start a stack of its own, and the run's record and report directory.

use std::sync::Arc;

use cucumber::gherkin;

use super::recorder::Record;
use super::target::{StackTarget, TargetError};
use crate::config::Config;
use crate::provision::{ManagedStack, StackEnv, StackImage, StackOptions};

/// How many lines of the stack's log a failed scenario keeps.
const LOG_TAIL_LINES: usize = 200;

/// Shared, read-only context of one run. Every World of the run holds an `Arc` of it.
#[derive(Debug)]
pub struct RunContext {
    pub config: Arc<Config>,
    /// The stack that read-only scenarios share.
    pub shared: Arc<StackTarget>,
    /// Starts stacks for scenarios that need their own; `None` against a base URL.
    pub factory: Option<StackFactory>,
    pub record: Record,
    pub run_dir: std::path::PathBuf,
    /// A client for the run's stack (whole-run checks, restarts). Worlds take a pool of
    /// their thread's from it (`StackClient::fresh_pool`).
    pub client: crate::client::StackClient,
}

impl RunContext {
    /// The JWT secret of the stacks goldenpath starts (it sets one), or the one the
    /// configuration gives for a stack that is already running. Needed to mint
    /// expired tokens.
    pub fn jwt_secret(&self) -> Option<String> {
        self.factory
            .as_ref()
            .and_then(|f| f.env.get("JWT_SECRET").map(str::to_owned))
            .or_else(|| self.config.target.env.get("JWT_SECRET").cloned())
    }

    /// Save the stack's log tail beside the report and attach it to the scenario.
    pub async fn attach_log_tail(
        &self,
        stack: Option<&StackTarget>,
        feature: &gherkin::Feature,
        scenario: &gherkin::Scenario,
    ) {
        let Some(stack) = stack else { return };
        let Some(tail) = stack.logs_tail(LOG_TAIL_LINES).await else {
            return;
        };
        let stem = feature
            .path
            .as_ref()
            .and_then(|p| p.file_stem())
            .map_or_else(
                || "feature".to_owned(),
                |s| s.to_string_lossy().into_owned(),
            );
        let file = format!("logs/{stem}-line{}.log", scenario.position.line);
        if let Err(e) = std::fs::write(self.run_dir.join(&file), &tail) {
            tracing::warn!("saving the stack log of a failed scenario: {e}");
        }
        self.record.attach_log(feature, scenario, tail, file);
    }
}

/// Starts stacks from one image with one environment.
#[derive(Debug)]
pub struct StackFactory {
    image: StackImage,
    env: StackEnv,
    run_id: String,
    ready_timeout: std::time::Duration,
}

impl StackFactory {
    pub fn new(image: StackImage, config: &Config, faults: &[String], run_id: &str) -> Self {
        Self {
            env: stack_env(config, faults),
            image,
            run_id: run_id.to_owned(),
            ready_timeout: config.timeouts.restart_comeback,
        }
    }

    pub fn env(&self) -> &StackEnv {
        &self.env
    }

    pub async fn start(&self) -> Result<Arc<StackTarget>, TargetError> {
        let options = StackOptions {
            env: self.env.clone(),
            run_id: self.run_id.clone(),
            ready_timeout: self.ready_timeout,
            ..StackOptions::default()
        };
        let stack = ManagedStack::start(&self.image, options).await?;
        StackTarget::managed(stack).await
    }
}

/// The environment of the stacks goldenpath starts: the contract's defaults, the admin
/// account and statistics cadence the configuration expects, a per-run JWT secret
/// (so expired tokens can be minted), the faults, then `target.env` overrides. Paths
/// and names are never copied from the configuration into the stack: a stack that
/// spells them differently must fail until the configuration says so.
pub fn stack_env(config: &Config, faults: &[String]) -> StackEnv {
    let secret = format!("goldenpath-{}", uuid::Uuid::new_v4().simple());
    let mut env = StackEnv::contract_defaults()
        .admin(config.admin.email.clone(), config.admin.password.clone())
        .jwt_secret(secret)
        .stats_interval_ms(millis(config.timeouts.stats_interval))
        .faults(faults);
    for (key, value) in &config.target.env {
        env = env.var(key.clone(), value.clone());
    }
    env
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
