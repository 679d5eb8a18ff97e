//! `goldenpath load` as a library call: start (or reach) the stack the target names,
//! run the engine with an administrator's restart available, remove the stack.
//!
//! [`run`] is to the load mode what `acceptance::run` is to acceptance runs. The engine
//! beneath it ([`super::run_users`]) takes a ready context, for callers that bring
//! their own World and stack.

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::engine::{LoadError, LoadOptions, LoadOutcome, run_users};
use super::vu::VirtualUser;
use crate::contract::Contract;
use crate::provision;
use crate::session::{self, AdminRestart, Provenance, RunContext, StartError, Target};

/// A whole load run: the engine's options plus the stack to run against.
#[derive(Debug, Clone)]
pub struct LoadRunOptions {
    /// Profile, users, duration, features, the run directory (see [`LoadOptions`]).
    /// Its `environment` is filled in by the run.
    pub load: LoadOptions,
    /// How the stack spells its API.
    pub contract: Contract,
    /// Which stack: a running one, an image, or the reference stack.
    pub target: Target,
    /// The command line, the repository and the configuration, for the report.
    pub provenance: Provenance,
    /// On Ctrl-C / SIGTERM: stop starting iterations, write the results so far, remove
    /// the stack and exit the process. Off by default (a library call installs no
    /// signal handler unless asked).
    pub handle_interrupts: bool,
}

/// Why a load run could not start or finish. Every variant is exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum LoadRunError {
    /// The stack could not be started or reached.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The engine could not run (bad profile, features, output directory).
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Run the load mode against `opts.target` with virtual users of type `W`.
///
/// The stack is started (or checked reachable), an administrator's restart is offered
/// to the engine for `restart_at`, and the stack is removed at the end, whatever the
/// outcome. A run that ran but missed a threshold is an `Ok` whose outcome says so.
pub async fn run<W>(opts: LoadRunOptions) -> Result<LoadOutcome, LoadRunError>
where
    W: VirtualUser<Context = Arc<RunContext>>,
{
    let LoadRunOptions {
        mut load,
        contract,
        target,
        provenance,
        handle_interrupts,
    } = opts;
    // A bad setting is said before any stack is started or reached.
    if let Some(prometheus) = &load.config.prometheus {
        prometheus.check().map_err(LoadError::Config)?;
    }
    let run_id = provision::new_run_id();
    let (context, environment) =
        session::start(&contract, &target, &provenance, &run_id, &load.run_dir).await?;
    load.environment = environment;
    let restart = AdminRestart {
        target: context.shared.clone(),
        client: context.client.clone(),
        timeout: contract.timeouts.restart_comeback,
    };

    // Ctrl-C: stop starting iterations, let the engine write the results so far, then
    // the signal handler removes the stacks and exits.
    let shutdown = CancellationToken::new();
    let (written_tx, written_rx) = tokio::sync::oneshot::channel::<()>();
    if handle_interrupts {
        let token = shutdown.clone();
        provision::on_interrupt(Box::new(move || {
            Box::pin(async move {
                token.cancel();
                let _ = written_rx.await;
            })
        }));
    }
    let result = run_users::<W>(load, context.clone(), Some(Arc::new(restart)), shutdown).await;
    let _ = written_tx.send(());
    if handle_interrupts {
        if provision::shutting_down() {
            std::future::pending::<()>().await;
        }
        provision::clear_interrupt_hook();
    }
    if let Err(e) = context.shared.clone().shutdown().await {
        tracing::warn!("removing the stack: {e}");
    }
    Ok(result?)
}

impl LoadRunOptions {
    /// Options for a load run writing to `run_dir`, everything else at its default:
    /// the `[load]` section's default profile, `features/`, scenarios tagged `@load`.
    pub fn new(
        contract: Contract,
        target: Target,
        config: super::LoadConfig,
        run_dir: PathBuf,
    ) -> Self {
        Self {
            load: LoadOptions::new(config, run_dir),
            contract,
            target,
            provenance: Provenance::default(),
            handle_interrupts: false,
        }
    }
}
