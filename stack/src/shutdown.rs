//! The shutdown handle: one per [`serve`](crate::serve) call, passed to whatever
//! must stop with the server (WebSocket tasks, agent runs). No globals.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Why [`serve`](crate::serve) returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// `POST /admin/restart` asked for it.
    Restart,
    /// SIGTERM or SIGINT (or [`Shutdown::trigger`] from an embedding program).
    Signal,
}

/// Cloneable handle: ask for shutdown, wait for it, and track tasks that must
/// finish before the server returns.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
    reason: Arc<Mutex<Option<ExitReason>>>,
    tracker: TaskTracker,
}

impl Shutdown {
    /// A handle that has not been triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the server to stop. The first reason given wins.
    pub fn trigger(&self, reason: ExitReason) {
        {
            let mut r = self.reason.lock().expect("shutdown lock");
            if r.is_none() {
                *r = Some(reason);
            }
        }
        self.token.cancel();
    }

    /// True once [`trigger`](Self::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once shutdown was asked for.
    pub async fn cancelled(&self) {
        self.token.cancelled().await
    }

    /// An owned future that resolves once shutdown was asked for.
    pub fn cancelled_owned(&self) -> impl Future<Output = ()> + Send + 'static {
        self.token.clone().cancelled_owned()
    }

    /// The reason given to the first trigger (`Signal` if none was).
    pub fn reason(&self) -> ExitReason {
        self.reason
            .lock()
            .expect("shutdown lock")
            .unwrap_or(ExitReason::Signal)
    }

    /// Wraps a future so that [`wait_tracked`](Self::wait_tracked) waits for it.
    pub fn track<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> {
        self.tracker.track_future(fut)
    }

    /// A token that counts as one tracked task until dropped (for work, like a
    /// WebSocket session, that starts after the handler has returned).
    pub fn task_token(&self) -> tokio_util::task::task_tracker::TaskTrackerToken {
        self.tracker.token()
    }

    /// Waits until every tracked future has finished.
    pub async fn wait_tracked(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}
