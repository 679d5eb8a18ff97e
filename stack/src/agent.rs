//! The deterministic reference agent (contract §3).
//!
//! It needs no model: it "thinks" for `AGENT_THINK_MS` (in dialect B it thinks
//! twice, one `agent_thinking` event each, within the same total), runs one tool
//! (`word_count`, splitting on Unicode whitespace) for `AGENT_TOOL_MS`, and
//! answers `"<n> words received: <first 40 chars>"`. The answer is stored in the
//! thread as an `assistant` message before `agent_completed` is sent.
//!
//! A run's status goes `started` (stored with the user's message, before the 202)
//! → `running` (when it begins) → `completed` or `failed`. A run that a stopping
//! process interrupts stays `running` in the database and is marked `failed` at
//! the next start-up.

use std::time::Instant;

use serde_json::json;

use crate::AppState;
use crate::db::{DbError, MessageRow};
use crate::events::AgentEventKind;

/// Agents this stack knows.
pub const AGENTS: &[&str] = &["default"];

/// The tool the reference agent runs.
pub const TOOL: &str = "word_count";

/// The thoughts of the `agent_thinking` events, in order; a run uses as many as
/// its dialect has thinking events ([`crate::dialect::Dialect::events`]).
pub const THOUGHTS: [&str; 2] = [
    "I will count the words of the message with word_count.",
    "Words are split on Unicode whitespace; I will answer with the count and the first 40 characters.",
];

/// What `query_complete` reports as the model.
pub const MODEL: &str = "reference-word-count";

/// A run that has been accepted (202) and must now be carried out.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Run id.
    pub run_id: String,
    /// Thread the answer goes to.
    pub thread_id: String,
    /// Owner; events go to this user's sockets.
    pub user_id: String,
    /// Agent name.
    pub agent: String,
    /// The user's message.
    pub message: String,
    /// When the request was accepted.
    pub accepted_at: Instant,
}

/// Number of words, split on Unicode whitespace.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// The first `n` characters of `text` (characters, not bytes).
pub fn first_chars(text: &str, n: usize) -> &str {
    match text.char_indices().nth(n) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// The agent's answer to `message`.
pub fn answer(message: &str) -> String {
    format!(
        "{} words received: {}",
        word_count(message),
        first_chars(message, 40)
    )
}

/// Runs the agent in the background; it stops early if the server shuts down.
pub fn spawn(state: AppState, spec: RunSpec) {
    tokio::spawn(async move {
        let shutdown = state.shutdown.clone();
        tokio::select! {
            () = shutdown.cancelled() => {
                tracing::debug!(run_id = %spec.run_id, "run interrupted by shutdown");
            }
            res = run(&state, &spec) => {
                if let Err(e) = res {
                    fail(&state, &spec, e).await;
                }
            }
        }
    });
}

async fn run(state: &AppState, spec: &RunSpec) -> Result<(), DbError> {
    let faults = &state.config.faults;
    let dialect = state.config.dialect;
    // `nth`: which of the run's events of that kind (0 for the first).
    let emit_nth = |kind: AgentEventKind, nth: usize, data: serde_json::Value| {
        if faults.drop_event == Some(kind) {
            return;
        }
        let seq = dialect.seq(kind, nth);
        let frame = dialect.agent_frame(kind, seq, &spec.run_id, &spec.thread_id, data);
        state.hub.publish(&spec.user_id, &frame);
    };
    let emit = |kind, data| emit_nth(kind, 0, data);

    state
        .db
        .set_run_status(spec.run_id.clone(), "running", None)
        .await?;
    emit(AgentEventKind::AgentStarted, json!({"agent": spec.agent}));
    let mut think = state.config.agent_think;
    if let Some(extra) = faults.slow_agent {
        think += extra;
    }
    let thoughts = dialect.count(AgentEventKind::AgentThinking);
    for (nth, thought) in THOUGHTS.iter().take(thoughts).enumerate() {
        emit_nth(
            AgentEventKind::AgentThinking,
            nth,
            json!({"thought": thought}),
        );
        tokio::time::sleep(think / thoughts as u32).await;
    }

    let executing = json!({"tool": TOOL, "input": spec.message});
    if !faults.reorder_events {
        emit(AgentEventKind::ToolExecuting, executing.clone());
    }
    tokio::time::sleep(state.config.agent_tool).await;
    let words = word_count(&spec.message);
    emit(
        AgentEventKind::ToolCompleted,
        json!({"tool": TOOL, "output": words}),
    );
    if faults.reorder_events {
        emit(AgentEventKind::ToolExecuting, executing);
    }

    let result = answer(&spec.message);
    let reply = MessageRow {
        id: uuid::Uuid::new_v4().to_string(),
        thread_id: spec.thread_id.clone(),
        role: "assistant".into(),
        content: result.clone(),
        created_at: crate::now(),
    };
    state.db.complete_run(spec.run_id.clone(), reply).await?;
    state.stats.message_added();
    let latency_ms = spec.accepted_at.elapsed().as_millis() as u64;
    emit(
        AgentEventKind::AgentCompleted,
        json!({"result": result, "duration_ms": latency_ms}),
    );

    state.dashboard.broadcast(
        "query_complete",
        json!({
            "run_id": spec.run_id,
            "response_length": result.chars().count(),
            "model": MODEL,
            "latency_ms": latency_ms,
        }),
    );
    state.activity.record(
        "agent_run",
        json!({
            "run_id": spec.run_id,
            "thread_id": spec.thread_id,
            "user_id": spec.user_id,
            "agent": spec.agent,
            "status": "completed",
            "latency_ms": latency_ms,
        }),
    );
    state.activity.record(
        "message",
        json!({"thread_id": spec.thread_id, "user_id": spec.user_id, "role": "assistant"}),
    );
    Ok(())
}

async fn fail(state: &AppState, spec: &RunSpec, error: DbError) {
    tracing::warn!(run_id = %spec.run_id, %error, "run failed");
    let _ = state
        .db
        .set_run_status(spec.run_id.clone(), "failed", Some(error.to_string()))
        .await;
    state.activity.record(
        "agent_run",
        json!({
            "run_id": spec.run_id,
            "thread_id": spec.thread_id,
            "user_id": spec.user_id,
            "agent": spec.agent,
            "status": "failed",
            "error": error.to_string(),
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_deterministic() {
        assert_eq!(word_count("  hello \u{2003} wide\tworld\n"), 3);
        assert_eq!(answer("hello world"), "2 words received: hello world");
        let long = "é".repeat(50);
        assert_eq!(first_chars(&long, 40).chars().count(), 40);
        assert_eq!(answer(""), "0 words received: ");
    }

    #[test]
    fn every_thinking_event_has_a_thought() {
        use crate::Dialect;
        for dialect in [Dialect::Contract, Dialect::B] {
            assert!(THOUGHTS.len() >= dialect.count(AgentEventKind::AgentThinking));
        }
    }
}
