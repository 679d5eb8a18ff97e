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

use super::world::GoldenWorld;

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
