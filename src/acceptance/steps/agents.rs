//! Agent execution, its five events, run status and agent status (contract §3, §5).

use cucumber::{then, when};

use super::{Seen, expect_status, watch};
use crate::acceptance::world::{GoldenWorld, quiet_period};
use crate::client::success;
use crate::client::{AgentFrame, ExecuteRequest, Route};

#[when(expr = "{string} asks the agent {string}")]
async fn asks(w: &mut GoldenWorld, name: String, message: String) {
    w.execute(&name, ExecuteRequest::new(message), Route::V2)
        .await;
}

#[when(expr = "{string} asks the agent {string} through the legacy route")]
async fn asks_legacy(w: &mut GoldenWorld, name: String, message: String) {
    w.execute(&name, ExecuteRequest::new(message), Route::Legacy)
        .await;
}

#[when(expr = "{string} asks the agent {string} in that thread")]
async fn asks_in_thread(w: &mut GoldenWorld, name: String, message: String) {
    let (_, thread_id) = w.current_thread();
    w.execute(
        &name,
        ExecuteRequest::new(message).in_thread(thread_id),
        Route::V2,
    )
    .await;
}

#[when(expr = "{string} tries to ask the agent {string} in {string}'s thread")]
async fn tries_in_other_thread(w: &mut GoldenWorld, name: String, message: String, owner: String) {
    let thread_id = w.thread_of(&owner);
    w.try_execute(&name, ExecuteRequest::new(message).in_thread(thread_id))
        .await;
}

#[when(expr = "{string} tries to ask the agent named {string} {string}")]
async fn tries_named_agent(w: &mut GoldenWorld, name: String, agent: String, message: String) {
    w.try_execute(&name, ExecuteRequest::new(message).agent(agent))
        .await;
}

#[then(expr = "the execution is accepted with status 202 and status {string}")]
async fn execution_accepted(w: &mut GoldenWorld, status: String) {
    expect_status(w, success::EXECUTE, None);
    let got = &w.current_run().started.status;
    assert_eq!(
        got, &status,
        "the execute answer's status is {got:?}, expected {status:?}"
    );
}

#[then(expr = "{string} receives the five agent events in order")]
async fn receives_five(w: &mut GoldenWorld, name: String) {
    w.receive_run_events(&name).await;
}

#[then("every event carries the run id, the thread id, its sequence number and a timestamp")]
async fn events_carry_ids(w: &mut GoldenWorld) {
    let run = w.current_run().started.clone();
    for (i, event) in w.run_events().events.iter().enumerate() {
        let name = &event.kind.name;
        assert_eq!(
            event.run_id, run.run_id,
            "{name} carries run id {:?}, expected {:?}",
            event.run_id, run.run_id
        );
        assert_eq!(
            event.thread_id.as_deref(),
            Some(run.thread_id.as_str()),
            "{name} carries thread id {:?}, expected {:?}",
            event.thread_id,
            run.thread_id
        );
        assert_eq!(
            event.seq,
            Some(i as u64 + 1),
            "{name} carries seq {:?}, expected {}",
            event.seq,
            i + 1
        );
        let raw = event.timestamp_raw.as_deref().unwrap_or("");
        assert!(
            event.timestamp.is_some() && raw.ends_with('Z') && raw.contains('.'),
            "{name} carries timestamp {raw:?}, expected RFC 3339 UTC with milliseconds like 2026-01-02T15:30:45.123Z"
        );
    }
}

#[then("each event carries the data of its kind")]
async fn events_carry_data(w: &mut GoldenWorld) {
    let message = w
        .ledger
        .get(&w.current_run().started.thread_id)
        .and_then(|(_, acks)| acks.iter().rev().find(|a| a.role == "user"))
        .map(|a| a.content.clone())
        .unwrap_or_default();
    let words = message.split_whitespace().count() as u64;
    let f = &w.contract().fields;
    let names = w.contract().events.agent_sequence();
    let events = &w.run_events().events;
    // The first event of each kind (an agent may think, or call tools, more than once).
    let first = |i: usize| {
        events
            .iter()
            .find(|e| e.kind.index == Some(i))
            .unwrap_or_else(|| panic!("no {} event arrived", names[i]))
    };
    let data = |i: usize| &first(i).data;
    // The string fields each event carries, in the contract's order of events.
    let strings: [&[&str]; 5] = [
        &[&f.agent],
        &[&f.thought],
        &[&f.tool, &f.tool_input],
        &[&f.tool],
        &[&f.result],
    ];
    for (i, keys) in strings.iter().enumerate() {
        for key in *keys {
            assert!(
                first(i).data_field(key).and_then(|v| v.as_str()).is_some(),
                "{} has no string data.{key}: {}",
                first(i).kind,
                data(i)
            );
        }
    }
    let output = first(3)
        .data_field(&f.tool_output)
        .and_then(serde_json::Value::as_u64);
    assert_eq!(
        output,
        Some(words),
        "{} data.{} is {:?}, expected the word count {words} as a number",
        first(3).kind,
        f.tool_output,
        first(3).data_field(&f.tool_output)
    );
    assert!(
        first(4)
            .data_field(&f.duration_ms)
            .is_some_and(|d| d.is_number()),
        "{} has no numeric data.{}: {}",
        first(4).kind,
        f.duration_ms,
        data(4)
    );
}

#[then(expr = "the agent's reply is in {string}'s thread")]
async fn reply_in_thread(w: &mut GoldenWorld, name: String) {
    let result = w
        .run_events()
        .result(&w.contract().fields.result)
        .and_then(|r| r.as_str())
        .unwrap_or_else(|| panic!("the last agent event carries no result"))
        .to_owned();
    let thread_id = w.current_run().started.thread_id.clone();
    let session = w.session(&name);
    let messages = w
        .client()
        .messages(&session, &thread_id)
        .await
        .unwrap_or_else(|e| panic!("reading {name:?}'s thread failed: {e}"));
    assert!(
        messages
            .iter()
            .any(|m| m.role == "assistant" && m.content == result),
        "when the last agent event arrived, the thread held no assistant message {result:?}; it held: {:?}",
        messages
            .iter()
            .map(|m| (&m.role, &m.content))
            .collect::<Vec<_>>()
    );
    w.acknowledge(&name, &thread_id, "assistant", &result);
}

#[then(expr = "the run's status is {string}")]
async fn run_status(w: &mut GoldenWorld, expected: String) {
    let run = w.current_run().clone();
    let session = w.session(&run.user);
    let status = w
        .client()
        .run_status(&session, &run.started.run_id)
        .await
        .unwrap_or_else(|e| panic!("asking the run's status failed: {e}"));
    assert_eq!(
        status.status, expected,
        "the run's status is {:?}, expected {expected:?}",
        status.status
    );
}

#[then(expr = "{string} receives no agent events")]
async fn receives_nothing(w: &mut GoldenWorld, name: String) {
    let quiet = quiet_period(w.timeouts());
    let Some(socket) = w.sockets.get_mut(&name) else {
        panic!("{name:?} has no agent-events socket open");
    };
    watch(socket, quiet, |frame| match frame {
        Ok(AgentFrame::Event(event)) => panic!(
            "{name:?} received {} of run {} that another user started: agent events leak to other users",
            event.kind, event.run_id
        ),
        Ok(_) => Seen::Continue,
        Err(_) => Seen::Done(()), // nothing more within the quiet period
    })
    .await;
}

#[when(expr = "{string} asks for the agents' status")]
async fn asks_agents_status(w: &mut GoldenWorld, name: String) {
    let session = w.session(&name);
    let status = w
        .client()
        .agents_status(&session)
        .await
        .unwrap_or_else(|e| panic!("asking the agents' status failed: {e}"));
    w.fetched.agents_status = Some(status);
}

#[then("the default agent is listed as available or busy")]
async fn default_agent_available(w: &mut GoldenWorld) {
    let status = w
        .fetched
        .agents_status
        .as_ref()
        .expect("the agents' status was asked");
    let default = status
        .agents
        .iter()
        .find(|a| a.name == "default")
        .unwrap_or_else(|| panic!("no agent named \"default\" is listed: {status:?}"));
    let status = default.status.as_str();
    assert!(
        matches!(status, "available" | "busy"),
        "the default agent is {status:?}, expected available or busy"
    );
}

#[then(expr = "the circuit breaker is {string}")]
async fn circuit_breaker(w: &mut GoldenWorld, expected: String) {
    let status = w
        .fetched
        .agents_status
        .as_ref()
        .expect("the agents' status was asked");
    assert_eq!(
        status.circuit_breaker.as_deref(),
        Some(expected.as_str()),
        "circuit_breaker is {:?}",
        status.circuit_breaker
    );
}
