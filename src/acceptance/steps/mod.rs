//! Step definitions: thin glue from Gherkin text to [`GoldenWorld`](super::world::GoldenWorld)
//! journeys and the typed client. One file per feature area.
//!
//! Conventions of the wording: a plain step ("Alice asks the agent …") must succeed
//! and fails the scenario when the stack refuses; a step worded "tries to" records the
//! answer whatever it is, for a following "the request is refused with status …".

mod agents;
mod contract;
mod dashboard;
mod health;
mod restart;
mod sockets;
mod threads;
mod users;

use std::future::Future;
use std::time::Duration;

use super::world::GoldenWorld;
use crate::client::{AgentEventSocket, AgentFrame, ClientError, DashboardFrame, DashboardSocket};

/// `the request is refused with status N` and friends, shared by every feature.
pub(crate) fn expect_status(world: &GoldenWorld, expected: u16, code: Option<&str>) {
    let (status, got_code, said) = world.last_answer();
    if status != expected {
        panic!("expected status {expected}; {said}");
    }
    if let Some(code) = code
        && got_code.as_deref() != Some(code)
    {
        panic!("expected error code {code:?}; {said}");
    }
}

/// What a step makes of one frame (or of the error that ended a wait) in [`watch`].
pub(crate) enum Seen<T> {
    /// Not what the step waits for: read on.
    Continue,
    /// What the step waited for.
    Done(T),
}

/// A socket read frame by frame: the agent-events socket or the dashboard.
pub(crate) trait Frames {
    type Frame;
    fn next_frame(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Self::Frame, ClientError>>;
}

impl Frames for AgentEventSocket {
    type Frame = AgentFrame;
    fn next_frame(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<AgentFrame, ClientError>> {
        AgentEventSocket::next_frame(self, timeout)
    }
}

impl Frames for DashboardSocket {
    type Frame = DashboardFrame;
    fn next_frame(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<DashboardFrame, ClientError>> {
        DashboardSocket::next_frame(self, timeout)
    }
}

/// Read `socket`'s frames for at most `within`, handing each (or the error that ended
/// a read) to `seen` until it says [`Seen::Done`]. `None` when `within` ran out first.
/// The one frame-reading loop of the steps.
pub(crate) async fn watch<S: Frames, T>(
    socket: &mut S,
    within: Duration,
    mut seen: impl FnMut(Result<S::Frame, ClientError>) -> Seen<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        if let Seen::Done(value) = seen(socket.next_frame(left).await) {
            return Some(value);
        }
    }
}
