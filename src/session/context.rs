//! What every scenario and virtual user of one run shares: the contract, the shared
//! stack, the means to start a stack of its own, and the run's report directory.

use std::sync::Arc;

use super::Target;
use super::target::{StackTarget, TargetError};
use crate::contract::Contract;
use crate::provision::{ManagedStack, StackEnv, StackImage, StackOptions};

/// Shared, read-only context of one run. Every World of the run holds an `Arc` of it.
#[derive(Debug)]
pub struct RunContext {
    /// How the stack spells its API.
    pub contract: Arc<Contract>,
    /// The stack that read-only scenarios share.
    pub shared: Arc<StackTarget>,
    /// Starts stacks for scenarios that need their own; `None` against a base URL.
    pub factory: Option<StackFactory>,
    /// Where this run's results are written.
    pub run_dir: std::path::PathBuf,
    /// A client for the run's stack (whole-run checks, restarts). Worlds take a pool of
    /// their thread's from it (`StackClient::fresh_pool`).
    pub client: crate::client::StackClient,
    /// `target.env.JWT_SECRET`: the secret of a running stack, when the configuration
    /// gives it.
    pub(crate) jwt_secret_of_target: Option<String>,
}

impl RunContext {
    /// The JWT secret of the stacks goldenpath starts (it sets one), or the one the
    /// configuration gives for a stack that is already running. Needed to mint
    /// expired tokens.
    pub fn jwt_secret(&self) -> Option<String> {
        self.factory
            .as_ref()
            .and_then(|f| f.env.get("JWT_SECRET").map(str::to_owned))
            .or_else(|| self.jwt_secret_of_target.clone())
    }
}

/// Starts stacks from one image with one environment.
#[derive(Debug)]
pub struct StackFactory {
    image: StackImage,
    env: StackEnv,
    run_id: String,
    ready_timeout: std::time::Duration,
    contract: Arc<Contract>,
}

impl StackFactory {
    /// A factory for stacks of `image`, with the environment [`stack_env`] gives.
    pub fn new(image: StackImage, contract: &Contract, target: &Target, run_id: &str) -> Self {
        Self {
            env: stack_env(contract, target),
            image,
            run_id: run_id.to_owned(),
            ready_timeout: contract.timeouts.restart_comeback,
            contract: Arc::new(contract.clone()),
        }
    }

    /// The environment every stack of this factory gets.
    pub fn env(&self) -> &StackEnv {
        &self.env
    }

    /// Start one stack and wait until it is healthy.
    pub async fn start(&self) -> Result<Arc<StackTarget>, TargetError> {
        let options = StackOptions {
            env: self.env.clone(),
            contract: self.contract.clone(),
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
pub fn stack_env(contract: &Contract, target: &Target) -> StackEnv {
    let secret = format!("goldenpath-{}", uuid::Uuid::new_v4().simple());
    let mut env = StackEnv::contract_defaults()
        .admin(
            contract.admin.email.clone(),
            contract.admin.password.clone(),
        )
        .jwt_secret(secret)
        .stats_interval_ms(millis(contract.timeouts.stats_interval))
        .faults(&target.faults);
    for (key, value) in &target.env {
        env = env.var(key.clone(), value.clone());
    }
    env
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
