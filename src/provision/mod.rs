//! Stack provisioning: building the reference image and running it with testcontainers.
//!
//! - `image`: the reference image, built without a registry (static binary, `FROM scratch`,
//!   classic builder, content-addressed tag), or a prebuilt image the user names.
//! - `container`: [`ManagedStack`], one stack container on its own network, with restart
//!   helpers that always look the host port up again.
//! - `harness_image`: goldenpath's own image the same way (`goldenpath image`), for
//!   shards run as containers or pods.
//! - `stack_env`: [`StackEnv`], the stack's environment with the contract defaults.
//! - `cleanup`: removal on Ctrl-C/SIGTERM and sweeps of what crashed runs left.
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

mod cleanup;
mod container;
mod engine;
mod error;
mod harness_image;
mod image;
mod stack_env;

pub use cleanup::{
    RunInventory, SweepReport, install_signal_cleanup, run_inventory, sweep_leftovers,
    sweep_orphans,
};
pub(crate) use cleanup::{clear_interrupt_hook, on_interrupt, shutting_down};
pub use container::{ManagedStack, StackOptions, new_run_id};
pub use engine::{HOST_LABEL, PID_LABEL, RUN_LABEL, connect as connect_engine, host_name};
pub use error::ProvisionError;
pub use harness_image::{HARNESS_IMAGE, HARNESS_UID, HarnessImage, build_harness_image};
pub use image::{
    CONTAINER_PORT, ImageSource, SCRATCH_DOCKERFILE, StackImage, ensure_image, ensure_prebuilt,
    ensure_reference_image, image_id,
};
pub use stack_env::{DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD, StackEnv};
