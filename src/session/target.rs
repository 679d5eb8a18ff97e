//! The stack a scenario talks to: one that goldenpath started (a container it can
//! restart and read logs from) or one that was already running at a base URL.
//!
//! The current base URL is cached in a `watch` channel: only a restart looks the mapped
//! port up again, and a World's receiver tells it, with one atomic load, whether the
//! URL changed (the load mode asks on every step).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::client::StackClient;
use crate::provision::{ManagedStack, ProvisionError};

/// Why a step could not use or control the stack under test.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Starting, inspecting or restarting the container failed.
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    /// The step needs a container goldenpath controls, but the run targets a running stack: what
    /// the step does, and the base URL.
    #[error(
        "this step needs a stack that goldenpath started itself (it {0}); the run targets {1}, \
         which goldenpath cannot control: leave out --base-url, or exclude the scenario with --tags"
    )]
    NotManaged(&'static str, String),
    /// After a restart, the running stack at the base URL did not turn healthy with a new `boot_id`
    /// in time.
    #[error(
        "the stack at {url} did not come back healthy with a new boot id within {timeout:?}: {last}"
    )]
    NoComeback {
        /// The base URL that was polled.
        url: String,
        /// How long goldenpath polled.
        timeout: Duration,
        /// What the last health check saw, in words.
        last: String,
    },
}

enum Kind {
    Managed(Box<ManagedStack>),
    External,
}

/// A stack under test. Cheap to share (`Arc<StackTarget>`).
pub struct StackTarget {
    kind: Kind,
    url: watch::Sender<String>,
}

impl std::fmt::Debug for StackTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackTarget")
            .field("url", &*self.url.borrow())
            .field("managed", &matches!(self.kind, Kind::Managed(_)))
            .finish()
    }
}

impl StackTarget {
    /// A stack goldenpath started; its base URL is looked up from the engine's port mapping.
    pub async fn managed(stack: ManagedStack) -> Result<Arc<Self>, TargetError> {
        let url = stack.base_url().await?;
        Ok(Arc::new(Self {
            kind: Kind::Managed(Box::new(stack)),
            url: watch::Sender::new(url),
        }))
    }

    /// A stack already running at `base_url` (a trailing `/` is dropped).
    pub fn external(base_url: &str) -> Arc<Self> {
        Arc::new(Self {
            kind: Kind::External,
            url: watch::Sender::new(base_url.trim_end_matches('/').to_owned()),
        })
    }

    /// The base URL as last looked up.
    pub fn base_url(&self) -> String {
        self.url.borrow().clone()
    }

    /// Follow base-URL changes (after a restart the mapped port can change).
    pub fn subscribe(&self) -> watch::Receiver<String> {
        self.url.subscribe()
    }

    /// Whether goldenpath started this stack (and so can restart it and read its logs).
    pub fn is_managed(&self) -> bool {
        matches!(self.kind, Kind::Managed(_))
    }

    /// The container behind this stack; None for an external one.
    pub fn managed_stack(&self) -> Option<&ManagedStack> {
        match &self.kind {
            Kind::Managed(stack) => Some(stack.as_ref()),
            Kind::External => None,
        }
    }

    /// Wait until the stack answers its health check healthy with a boot id other than
    /// `old_boot_id`, looking the mapped port up again while it does. `client` speaks
    /// the configured contract (a running stack may spell `/health` differently).
    pub async fn wait_for_new_boot(
        &self,
        client: &StackClient,
        old_boot_id: &str,
        timeout: Duration,
    ) -> Result<String, TargetError> {
        let url = match &self.kind {
            Kind::Managed(stack) => stack.wait_for_new_boot(old_boot_id, timeout).await?,
            Kind::External => self.poll_external(client, old_boot_id, timeout).await?,
        };
        self.url.send_replace(url.clone());
        Ok(url)
    }

    async fn poll_external(
        &self,
        client: &StackClient,
        old_boot_id: &str,
        timeout: Duration,
    ) -> Result<String, TargetError> {
        let url = self.base_url();
        let client = client
            .with_base_url(&url)
            .map_err(|e| TargetError::NoComeback {
                url: url.clone(),
                timeout,
                last: e.to_string(),
            })?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = "no answer yet".to_owned();
        while tokio::time::Instant::now() < deadline {
            match client.health().await {
                Ok(h) if h.boot_id != old_boot_id && !h.boot_id.is_empty() => return Ok(url),
                Ok(h) => {
                    last = format!(
                        "health answered {:?} with boot id {:?}",
                        h.status, h.boot_id
                    )
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(TargetError::NoComeback { url, timeout, last })
    }

    /// Stop and start the container through the engine, then wait for a new boot.
    pub async fn restart_by_engine(&self) -> Result<String, TargetError> {
        match &self.kind {
            Kind::Managed(stack) => {
                let url = stack.restart_by_engine().await?;
                self.url.send_replace(url.clone());
                Ok(url)
            }
            Kind::External => Err(TargetError::NotManaged(
                "stops and starts the container through the engine",
                self.base_url(),
            )),
        }
    }

    /// The tail of the stack's log, when goldenpath can read it.
    pub async fn logs_tail(&self, lines: usize) -> Option<String> {
        match &self.kind {
            Kind::Managed(stack) => stack.logs_tail(lines).await.ok(),
            Kind::External => None,
        }
    }

    /// Remove the container, its volume and network. A no-op for an external stack.
    pub async fn shutdown(self: Arc<Self>) -> Result<(), TargetError> {
        match Arc::try_unwrap(self) {
            Ok(StackTarget {
                kind: Kind::Managed(stack),
                ..
            }) => Ok(stack.shutdown().await?),
            // Still shared (or external): dropping the last reference removes it.
            _ => Ok(()),
        }
    }
}

/// Restarts under load: an administrator's `/admin/restart`, then the wait for a new boot
/// (which also publishes the new base URL to every virtual user).
#[derive(Debug)]
pub struct AdminRestart {
    /// The stack to restart; its base URL is updated once it is back.
    pub target: Arc<StackTarget>,
    /// Client used to log in as the admin and call `/admin/restart` and the health check.
    pub client: StackClient,
    /// How long the stack may take to come back with a new `boot_id`.
    pub timeout: Duration,
}
