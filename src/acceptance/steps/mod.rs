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

/// Steps that act on the whole stack (restarts): virtual users of a load run do not run
/// them (`restart_at` restarts the stack once), and every report says so. Each text is
/// exactly one step definition's (a test holds them against the definitions).
pub(crate) const WHOLE_STACK_STEPS: [&str; 3] = [
    "the backend is restarted by an administrator",
    "the container engine stops and starts the backend",
    "the backend comes back with a new boot id",
];

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

#[cfg(test)]
mod tests {
    use cucumber::World as _;
    use cucumber::gherkin::{Step, StepType};

    use super::*;

    /// Every whole-stack step text is a step definition's: a reworded step would
    /// otherwise silently run under load again.
    #[test]
    fn whole_stack_steps_name_real_definitions() {
        let collection = GoldenWorld::collection();
        for text in WHOLE_STACK_STEPS {
            let found = [StepType::Given, StepType::When, StepType::Then]
                .into_iter()
                .any(|ty| {
                    let step = Step {
                        keyword: String::new(),
                        ty,
                        value: text.into(),
                        docstring: None,
                        table: None,
                        span: Default::default(),
                        position: Default::default(),
                    };
                    matches!(collection.find(&step), Ok(Some(_)))
                });
            assert!(found, "no step definition is {text:?}");
        }
    }
}
