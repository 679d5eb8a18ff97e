//! What the load engine needs from the acceptance World to drive it as a virtual user.
//!
//! The load mode has no steps or client code of its own: it runs the very step
//! definitions of `features/` on a World that implements this trait.

use std::time::{Duration, Instant};

use futures_util::future::LocalBoxFuture;

/// One agent event as measured by a virtual user: from the moment the execute request
/// was sent (or, in the open model, the moment the iteration was scheduled, which the
/// engine accounts for) to the event's arrival on the socket.
#[derive(Debug, Clone)]
pub struct EventSample {
    /// Event name as configured (`agent_started`, ...).
    pub event: String,
    /// When the execute request was sent.
    pub requested_at: Instant,
    /// When the frame was read off the socket.
    pub received_at: Instant,
    /// How many events of this kind the run delivered (an agent that thinks twice: 2).
    /// Only the first is timed, as a user sees it; the count goes into the report.
    pub count: u32,
}

impl EventSample {
    /// Time from the execute request to the event's arrival (zero if the clock went backwards).
    pub fn latency(&self) -> Duration {
        self.received_at
            .saturating_duration_since(self.requested_at)
    }
}

/// Outcome of reading back every message a virtual user had acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerCheck {
    /// Messages the stack acknowledged to this user (posted messages, execute prompts, agent
    /// answers).
    pub acknowledged: u64,
    /// Of those, the ones missing or out of order when read back at the end (a whole thread's when
    /// it could not be read).
    pub lost: u64,
}

/// A cucumber World usable as a virtual user.
///
/// `WorldInventory + Debug` is what `#[derive(cucumber::World)]` provides and what
/// `World::collection()` needs to find the step definitions.
pub trait VirtualUser:
    cucumber::World + cucumber::codegen::WorldInventory + std::fmt::Debug + Sized + 'static
{
    /// Shared, read-only context every virtual user of a run is built from
    /// (configuration, the target's current base URL, ...).
    type Context: Clone + Send + Sync + 'static;

    /// A fresh virtual user with its own identity (from `fake`), bound to the run's
    /// target. It registers and logs in once, on its first iteration, through the
    /// ordinary steps.
    fn virtual_user(context: &Self::Context, index: u64) -> Self;

    /// Per-event samples recorded since the last call.
    fn drain_event_samples(&mut self) -> Vec<EventSample>;

    /// Agent events this user received for runs it did not start (must stay 0).
    fn misdelivered_events(&self) -> u64;

    /// Read back every message acknowledged to this user so far.
    fn verify_ledger(&mut self) -> LocalBoxFuture<'_, LedgerCheck>;

    /// Forget per-iteration state (last run, last response) between iterations while
    /// keeping the identity, the session and the open agent-events socket.
    fn end_iteration(&mut self);

    /// When this user's agent-events socket was last (re)connected, if it keeps one.
    /// After a restart the engine measures each user's reconnect time up to this
    /// instant; without it (`None`), up to the end of the user's first successful
    /// iteration that started after the backend came back.
    fn events_connected_at(&self) -> Option<Instant> {
        None
    }

    /// Why virtual users do not run `step`, when they must not: a step that acts on the
    /// whole stack (a restart: the profile's `restart_at` does that once, not each
    /// user). The engine then never executes it, and every report shows it as not run
    /// under load, with this reason and no latency figures. `None` (the default): the
    /// step runs.
    fn not_run_under_load(step: &cucumber::gherkin::Step) -> Option<&'static str> {
        let _ = step;
        None
    }

    /// A typed kind for the last step failure (`"http_5xx"`, `"socket_closed"`,
    /// `"event_timeout"`), if the World tracks one. Errors are grouped by the failing
    /// step and this kind; without it, by the step and the panic's source location.
    fn failure_kind(&self) -> Option<&'static str> {
        None
    }
}
