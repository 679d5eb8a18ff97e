//! Stack provisioning: building the reference image and running it with testcontainers.
//!
//! - [`image`]: the reference image, built without a registry (static binary, `FROM scratch`,
//!   classic builder, content-addressed tag), or a prebuilt image the user names.
//! - [`container`]: [`ManagedStack`], one stack container on its own network, with restart
//!   helpers that always look the host port up again.
//! - [`stack_env`]: [`StackEnv`], the stack's environment with the contract defaults.
//! - [`cleanup`]: removal on Ctrl-C/SIGTERM and sweeps of what crashed runs left.
//!
//! ```no_run
//! # async fn demo() -> Result<(), goldenpath::provision::ProvisionError> {
//! use goldenpath::provision::{ImageSource, ManagedStack, StackEnv, StackOptions, ensure_image};
//! let image = ensure_image(&ImageSource::Reference).await?;
//! let options = StackOptions { env: StackEnv::contract_defaults().faults(["ws_path_500"]), ..Default::default() };
//! let stack = ManagedStack::start(&image, options).await?;
//! let base = stack.base_url().await?;
//! # let _ = base;
//! let base = stack.restart_by_engine().await?; // the port may have changed
//! # let _ = base;
//! stack.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod cleanup;
pub mod container;
pub mod engine;
pub mod error;
pub mod image;
pub mod stack_env;

pub use cleanup::{
    InterruptHook, RunInventory, SweepReport, clear_interrupt_hook, install_signal_cleanup,
    on_interrupt, run_inventory, shutting_down, sweep_leftovers, sweep_orphans,
};
pub use container::{ManagedStack, StackHealth, StackOptions, new_run_id};
pub use engine::{HOST_LABEL, PID_LABEL, RUN_LABEL};
pub use error::ProvisionError;
pub use image::{
    CONTAINER_PORT, ImageSource, StackImage, ensure_image, ensure_prebuilt, ensure_reference_image,
};
pub use stack_env::{DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, StackEnv};
