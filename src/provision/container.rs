//! One running stack: its container on its own network, started with testcontainers' API.
//!
//! Invariants:
//! - Every container and network carries `goldenpath.run=<run id>` (and `goldenpath.pid`,
//!   `goldenpath.host`: who made it, for [`sweep_orphans`](super::sweep_orphans)).
//! - The host port is looked up again on every [`ManagedStack::base_url`] call: the engine may
//!   publish a different host port after each restart.
//! - Readiness is always our own poll of the health route through the one client, with the
//!   contract's path, fields and healthy value (testcontainers' `start()` after `stop()`
//!   does not re-run ready conditions).
//! - The data lives in the image's anonymous `/data` volume, which belongs to the container: it
//!   survives restarts of the container and is removed with it (`docker rm -v`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use std::sync::Arc;

use futures_util::StreamExt;
use testcontainers::bollard::Docker;
use testcontainers::bollard::models::{NetworkCreateRequest, RestartPolicy, RestartPolicyNameEnum};
use testcontainers::bollard::query_parameters::LogsOptions;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tracing::{debug, info, instrument};

use super::cleanup;
use super::engine::{self, HOST_LABEL, PID_LABEL, RUN_LABEL};
use super::error::{ProvisionError, Result};
use super::image::{CONTAINER_PORT, StackImage};
use super::stack_env::StackEnv;
use crate::client::{Health, StackClient};
use crate::contract::Contract;

/// How to start a stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The stack's environment.
    pub env: StackEnv,
    /// How the stack spells its API: readiness is its health route, fields and
    /// healthy value (`values.healthy`), asked through the one client.
    pub contract: Arc<Contract>,
    /// Value of the `goldenpath.run` label; one per goldenpath run.
    pub run_id: String,
    /// How long the stack may take to answer `GET /health` with 200, at start and after a restart.
    pub ready_timeout: Duration,
    /// Seconds `docker stop` waits before SIGKILL in [`ManagedStack::restart_by_engine`].
    pub stop_timeout_s: i32,
    /// Install the SIGINT/SIGTERM handler that removes live stacks and then exits the
    /// process (see `install_signal_cleanup`). Off by default: a library call changes
    /// no signal handling unless asked. Without it, the stack is removed when its handle
    /// drops, and what a killed process left is swept by `sweep_leftovers`.
    pub cleanup_on_signal: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            env: StackEnv::contract_defaults(),
            contract: Arc::new(Contract::default()),
            run_id: new_run_id(),
            ready_timeout: Duration::from_secs(60),
            stop_timeout_s: 10,
            cleanup_on_signal: false,
        }
    }
}

/// A fresh run id: `<utc time>-<8 hex>`.
pub fn new_run_id() -> String {
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// A running stack container with its own network. Removed on [`ManagedStack::shutdown`], on
/// drop, and on SIGINT/SIGTERM.
pub struct ManagedStack {
    docker: Docker,
    container: Option<ContainerAsync<GenericImage>>,
    container_id: String,
    name: String,
    network: String,
    run_id: String,
    volume: Option<String>,
    image: String,
    options: StackOptions,
    host: String,
}

impl std::fmt::Debug for ManagedStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedStack")
            .field("name", &self.name)
            .field("container_id", &self.container_id)
            .field("network", &self.network)
            .field("run_id", &self.run_id)
            .field("image", &self.image)
            .finish_non_exhaustive()
    }
}

impl ManagedStack {
    /// Starts `image` on a fresh network and waits until `GET /health` answers 200.
    #[instrument(skip(options), fields(image = %image.reference(), run = %options.run_id))]
    pub async fn start(image: &StackImage, options: StackOptions) -> Result<Self> {
        if options.cleanup_on_signal {
            cleanup::install_signal_cleanup();
        }
        if cleanup::shutting_down() {
            return Err(ProvisionError::Interrupted);
        }
        let docker = engine::connect().await?;
        let short = &uuid::Uuid::new_v4().simple().to_string()[..10];
        let name = format!("goldenpath-stack-{short}");
        let network = format!("goldenpath-net-{short}");
        let labels = HashMap::from([
            (RUN_LABEL.to_owned(), options.run_id.clone()),
            (PID_LABEL.to_owned(), std::process::id().to_string()),
            (HOST_LABEL.to_owned(), engine::host_name()),
        ]);

        cleanup::track(&name, |t| t.network = Some(network.clone()));
        let created = docker
            .create_network(NetworkCreateRequest {
                name: network.clone(),
                driver: Some("bridge".into()),
                labels: Some(labels.clone()),
                ..Default::default()
            })
            .await;
        if let Err(e) = created {
            cleanup::untrack(&name);
            return Err(ProvisionError::engine(format!("create network {network}"))(
                e,
            ));
        }

        let mut request = GenericImage::new(image.name.clone(), image.tag.clone())
            .with_exposed_port(CONTAINER_PORT.tcp())
            .with_wait_for(WaitFor::Nothing)
            .with_container_name(name.clone())
            .with_network(network.clone())
            .with_labels(labels)
            .with_startup_timeout(options.ready_timeout)
            .with_host_config_modifier(|hc| {
                hc.restart_policy = Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                });
                // A tiny init as PID 1 forwards SIGTERM, so `docker stop` is prompt even if
                // the stack installs no signal handler.
                hc.init = Some(true);
            });
        for (key, value) in options.env.iter() {
            request = request.with_env_var(key, value);
        }
        let started = Instant::now();
        let container = match request.start().await {
            Ok(c) => c,
            Err(e) => {
                // The container may exist without a handle (e.g. start failed after create).
                let _ = cleanup::remove_container(&docker, &name).await;
                let _ = cleanup::remove_network(&docker, &network).await;
                cleanup::untrack(&name);
                return Err(ProvisionError::container(format!(
                    "start {} on network {network}",
                    image.reference()
                ))(e));
            }
        };
        let container_id = container.id().to_owned();
        cleanup::track(&name, |t| t.container = Some(container_id.clone()));
        if cleanup::shutting_down() {
            drop(container);
            let _ = cleanup::remove_container(&docker, &container_id).await;
            let _ = cleanup::remove_network(&docker, &network).await;
            cleanup::untrack(&name);
            return Err(ProvisionError::Interrupted);
        }

        let volume = docker
            .inspect_container(&container_id, None)
            .await
            .ok()
            .and_then(|c| c.mounts)
            .and_then(|mounts| {
                mounts
                    .into_iter()
                    .find(|m| m.destination.as_deref() == Some("/data"))
                    .and_then(|m| m.name)
            });

        let stack = Self {
            docker,
            container: Some(container),
            container_id,
            name,
            network,
            run_id: options.run_id.clone(),
            volume,
            image: image.reference(),
            host: engine::published_host(),
            options,
        };
        stack.wait_healthy(stack.options.ready_timeout).await?;
        info!(
            container = %stack.name,
            elapsed = ?started.elapsed(),
            "stack healthy"
        );
        Ok(stack)
    }

    /// The container's name; other containers on [`network_name`](Self::network_name) reach
    /// the stack at `http://<name>:8000`.
    pub fn container_name(&self) -> &str {
        &self.name
    }

    /// The container id.
    pub fn container_id(&self) -> &str {
        &self.container_id
    }

    /// The stack's own user-defined network.
    pub fn network_name(&self) -> &str {
        &self.network
    }

    /// The value of this stack's `goldenpath.run` label.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The image reference the container runs.
    pub fn image(&self) -> &str {
        &self.image
    }

    /// The name of the anonymous volume on `/data`, if the image declares one.
    pub fn data_volume(&self) -> Option<&str> {
        self.volume.as_deref()
    }

    /// The environment the stack was started with.
    pub fn env(&self) -> &StackEnv {
        &self.options.env
    }

    /// The base URL for containers on the stack's network: `http://<container name>:8000`.
    pub fn internal_url(&self) -> String {
        format!("http://{}:{CONTAINER_PORT}", self.name)
    }

    /// The base URL on this host, `http://127.0.0.1:<port>`, with the published port looked up
    /// again on every call (it can change across restarts). Fails while the container is down.
    pub async fn base_url(&self) -> Result<String> {
        let port = self
            .handle()
            .get_host_port_ipv4(CONTAINER_PORT)
            .await
            .map_err(ProvisionError::container(format!(
                "look up the host port of {}:{CONTAINER_PORT}",
                self.name
            )))?;
        Ok(format!("http://{}:{port}", self.host))
    }

    /// One health check through the one client; `Err` with a short description unless
    /// the stack answers healthy (`values.healthy`).
    pub async fn health(&self) -> std::result::Result<(String, Health), String> {
        let base = self.base_url().await.map_err(|e| e.to_string())?;
        let client =
            StackClient::new(&base, self.options.contract.clone()).map_err(|e| e.to_string())?;
        let health = client.health().await.map_err(|e| e.to_string())?;
        let healthy = &self.options.contract.values.healthy;
        if &health.status != healthy {
            return Err(format!(
                "{base}{}: status {:?}, expected {healthy:?}",
                self.options.contract.paths.health, health.status
            ));
        }
        Ok((base, health))
    }

    /// The current `boot_id` (one `GET /health`).
    pub async fn boot_id(&self) -> Result<String> {
        match self.health().await {
            Ok((_, h)) => Ok(h.boot_id),
            Err(last) => Err(ProvisionError::NotHealthy {
                container: self.name.clone(),
                waited: Duration::ZERO,
                last,
                logs_tail: self.logs_tail(30).await.unwrap_or_default(),
            }),
        }
    }

    /// Polls the health route until it answers healthy, or `timeout` passes.
    pub async fn wait_healthy(&self, timeout: Duration) -> Result<Health> {
        let started = Instant::now();
        let mut last = String::from("not polled yet");
        while started.elapsed() < timeout {
            match self.health().await {
                Ok((_, health)) => return Ok(health),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(ProvisionError::NotHealthy {
            container: self.name.clone(),
            waited: timeout,
            last,
            logs_tail: self.logs_tail(30).await.unwrap_or_default(),
        })
    }

    /// Polls until `/health` is healthy with a `boot_id` other than `old_boot_id`, tolerating the
    /// container being down, refusing or resetting connections meanwhile; returns the (possibly
    /// new) base URL.
    #[instrument(skip(self), fields(container = %self.name))]
    pub async fn wait_for_new_boot(&self, old_boot_id: &str, timeout: Duration) -> Result<String> {
        let started = Instant::now();
        let mut last = String::from("not polled yet");
        while started.elapsed() < timeout {
            match self.health().await {
                Ok((base, health)) if health.boot_id != old_boot_id => {
                    debug!(elapsed = ?started.elapsed(), %base, boot_id = %health.boot_id, "new boot");
                    return Ok(base);
                }
                Ok((base, _)) => last = format!("{base}/health is healthy with the old boot_id"),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(ProvisionError::NoNewBoot {
            container: self.name.clone(),
            old_boot_id: old_boot_id.to_owned(),
            waited: timeout,
            last,
            logs_tail: self.logs_tail(30).await.unwrap_or_default(),
        })
    }

    /// What `docker stop` then `docker start` do, followed by waiting for a new boot.
    /// Returns the new base URL (the host port may have changed).
    #[instrument(skip(self), fields(container = %self.name))]
    pub async fn restart_by_engine(&self) -> Result<String> {
        let old = self.boot_id().await?;
        let container = self.handle();
        container
            .stop_with_timeout(Some(self.options.stop_timeout_s))
            .await
            .map_err(ProvisionError::container(format!("stop {}", self.name)))?;
        container
            .start()
            .await
            .map_err(ProvisionError::container(format!("start {}", self.name)))?;
        self.wait_for_new_boot(&old, self.options.ready_timeout)
            .await
    }

    /// Whether the engine reports the container running.
    pub async fn is_running(&self) -> Result<bool> {
        self.handle()
            .is_running()
            .await
            .map_err(ProvisionError::container(format!("inspect {}", self.name)))
    }

    /// The last `n_lines` of the container's stdout and stderr, interleaved as written.
    pub async fn logs_tail(&self, n_lines: usize) -> Result<String> {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: n_lines.to_string(),
            ..Default::default()
        };
        let mut stream = self.docker.logs(&self.container_id, Some(options));
        let mut out = String::new();
        while let Some(item) = stream.next().await {
            let item = item.map_err(ProvisionError::engine(format!(
                "read the logs of {}",
                self.name
            )))?;
            out.push_str(&String::from_utf8_lossy(&item.into_bytes()));
        }
        Ok(out)
    }

    /// Removes the container (with its `/data` volume) and the network, and waits for both.
    pub async fn shutdown(mut self) -> Result<()> {
        let container = self
            .container
            .take()
            .expect("the handle is present until shutdown");
        // testcontainers removes with force and `v` (anonymous volumes go too); if that
        // fails, try once more ourselves. The network goes in any case.
        let removed = match container.rm().await {
            Ok(()) => Ok(()),
            Err(_) => cleanup::remove_container(&self.docker, &self.container_id).await,
        };
        let network = cleanup::remove_network(&self.docker, &self.network).await;
        cleanup::untrack(&self.name);
        removed.and(network)
    }

    fn handle(&self) -> &ContainerAsync<GenericImage> {
        self.container
            .as_ref()
            .expect("the handle is present until shutdown")
    }
}

impl Drop for ManagedStack {
    fn drop(&mut self) {
        let Some(container) = self.container.take() else {
            return;
        };
        // testcontainers' drop removes the container (force, with volumes); it needs a runtime.
        match tokio::runtime::Handle::try_current() {
            Ok(_) => drop(container),
            Err(_) => {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    let _guard = rt.enter();
                    drop(container);
                }
            }
        }
        // The network is ours: remove it from a thread of its own, so this works from any
        // runtime flavour (and from none).
        let network = self.network.clone();
        let container_id = self.container_id.clone();
        let joined = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let docker = engine::connect().await.ok()?;
                let _ = cleanup::remove_container(&docker, &container_id).await;
                cleanup::remove_network(&docker, &network).await.ok()
            })
        })
        .join();
        if !matches!(joined, Ok(Some(()))) {
            tracing::warn!(network = %self.network, "could not remove the stack's network on drop");
        }
        cleanup::untrack(&self.name);
    }
}
