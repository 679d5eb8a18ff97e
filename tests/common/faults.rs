//! The seeded faults of CONTRACT §9 and the scenarios that must catch each, at the step
//! that names it: one table for every test that proves it (the stack in containers,
//! and a stack goldenpath did not start). ARCHITECTURE.md keeps this table in words.

use goldenpath::summary::{ScenarioResult, Status};

pub const EXECUTE: &str = "Executing the agent is accepted and reports five events in order";
pub const FIVE_EVENTS: &str = "\"Alice\" receives the five agent events in order";
/// The contract's five agent event types of one run, in order.
pub const AGENT_EVENTS: [&str; 5] = [
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
];

/// (fault, [(scenario name, text of the step that must fail)]).
pub fn matrix() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let mut rows = vec![
        (
            "missing_v2_execute",
            vec![
                (
                    EXECUTE,
                    "\"Alice\" asks the agent \"How many words are in this sentence\"",
                ),
                (
                    "Every endpoint the frontend relies on answers something other than 404",
                    "every endpoint the scenarios rely on answers something other than 404 for \"Alice\"",
                ),
            ],
        ),
        (
            "ws_path_500",
            vec![
                (
                    "The socket accepts a valid token on both paths and both ways",
                    "\"Alice\" opens the agent-events socket on the primary path with",
                ),
                (EXECUTE, "\"Alice\" has the agent-events socket open"),
            ],
        ),
        (
            "no_subprotocol_echo",
            vec![(
                "The server selects the jwt-auth subprotocol that browsers need",
                "\"Alice\" opens the agent-events socket on the primary path with subprotocol auth",
            )],
        ),
        ("reorder_events", vec![(EXECUTE, FIVE_EVENTS)]),
        (
            "leak_events",
            vec![(
                "Only the owner receives a run's events",
                "\"Bob\" receives no agent events",
            )],
        ),
        (
            "volatile_messages",
            vec![(
                "An administrator restarts the backend and nothing is lost",
                "\"Alice\"'s thread still holds every message",
            )],
        ),
        (
            "no_comeback",
            vec![(
                "An administrator restarts the backend and nothing is lost",
                "the backend comes back with a new boot id",
            )],
        ),
        (
            "open_restart",
            vec![(
                "Nobody can restart the backend without a token",
                "the request is refused with status 401",
            )],
        ),
        (
            "accept_unsigned_jwt",
            vec![(
                "Bad tokens are refused before anything else",
                "the request is refused with status 401",
            )],
        ),
        (
            "no_origin_check",
            vec![(
                "A dashboard from a foreign origin is turned away",
                "the dashboard is closed with code 1008 and reason \"Origin not allowed\"",
            )],
        ),
        (
            "no_connection_limit",
            vec![(
                "The eleventh dashboard from one address is turned away",
                "the dashboard is closed with code 1008 and reason \"Connection limit exceeded\"",
            )],
        ),
        (
            "stats_stall",
            vec![(
                "The dashboard is acknowledged and receives statistics on cadence",
                "the dashboard receives 2 statistics updates about one interval apart",
            )],
        ),
        ("slow_agent:6000", vec![(EXECUTE, FIVE_EVENTS)]),
    ];
    for event in AGENT_EVENTS {
        let fault: &'static str = Box::leak(format!("drop_event:{event}").into_boxed_str());
        rows.push((fault, vec![(EXECUTE, FIVE_EVENTS)]));
    }
    rows
}

/// Check one run against its row; returns a line saying what happened, or why not.
pub fn verdict(
    scenarios: &[&ScenarioResult],
    expected: &[(&str, &str)],
    fault: &str,
) -> Result<String, String> {
    let mut caught = Vec::new();
    for (name, step) in expected {
        let runs: Vec<_> = scenarios.iter().filter(|s| s.name == *name).collect();
        if runs.is_empty() {
            return Err(format!("scenario {name:?} did not run"));
        }
        let failed: Vec<_> = runs.iter().filter(|s| s.status == Status::Failed).collect();
        if failed.is_empty() {
            return Err(format!(
                "{fault}: scenario {name:?} passed: the fault went unnoticed"
            ));
        }
        for run in failed {
            let step_failed = run.steps.iter().find(|s| s.status == Status::Failed);
            match step_failed {
                Some(s) if s.text.starts_with(step) => caught.push(format!(
                    "{name:?} at `{}`: {}",
                    s.text,
                    s.error
                        .as_deref()
                        .unwrap_or("")
                        .lines()
                        .next()
                        .unwrap_or("")
                )),
                Some(s) => {
                    return Err(format!(
                        "{fault}: {name:?} failed at the wrong step `{}` (expected `{step}`): {}",
                        s.text,
                        s.error.as_deref().unwrap_or("")
                    ));
                }
                None => return Err(format!("{fault}: {name:?} failed without a failed step")),
            }
        }
    }
    Ok(caught.join("\n      "))
}
