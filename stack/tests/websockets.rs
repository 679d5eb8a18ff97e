//! WebSocket rows of the contract (§5, §6) over real sockets.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::SinkExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const EVENT_ORDER: [&str; 5] = [
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
];

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn five_events_in_order_with_their_fields() {
    let s = TestServer::start().await;
    let (user_id, token) = s.new_user().await;
    let (mut ws, res) = s.ws_subprotocol("/websocket", &token).await.unwrap();
    assert_eq!(
        res.headers()["sec-websocket-protocol"],
        "jwt-auth",
        "the server selects jwt-auth"
    );
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "connection_established");
    assert_eq!(hello["user_id"], user_id.as_str());
    assert!(hello["connection_id"].is_string());
    assert_timestamp(&hello["timestamp"]);

    let message = "count these   five\twords please";
    let run = s.execute(&token, message).await;
    let run_id = run["run_id"].as_str().unwrap();
    let events = run_events(&mut ws, run_id).await;
    assert_eq!(types(&events), EVENT_ORDER);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i + 1);
        assert_eq!(e["run_id"], run_id);
        assert_eq!(e["thread_id"], run["thread_id"]);
        assert_timestamp(&e["timestamp"]);
    }
    assert_eq!(events[0]["data"], json!({"agent": "default"}));
    assert!(events[1]["data"]["thought"].is_string());
    assert_eq!(
        events[2]["data"],
        json!({"tool": "word_count", "input": message})
    );
    assert_eq!(
        events[3]["data"],
        json!({"tool": "word_count", "output": 5})
    );
    assert!(events[3]["data"]["output"].is_number());
    let expected = format!(
        "5 words received: {}",
        &message[..message
            .char_indices()
            .nth(40)
            .map_or(message.len(), |(i, _)| i)]
    );
    assert_eq!(events[4]["data"]["result"], expected.as_str());
    assert!(events[4]["data"]["duration_ms"].is_u64());

    // The reply is already in the thread when agent_completed arrives.
    let tid = run["thread_id"].as_str().unwrap();
    let (_, msgs) = s
        .get(&format!("/api/threads/{tid}/messages"), Some(&token))
        .await;
    let last = msgs["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["role"], "assistant");
    assert_eq!(last["content"], expected.as_str());
    let (_, status) = s
        .get(&format!("/api/agent/runs/{run_id}"), Some(&token))
        .await;
    assert_eq!(status["status"], "completed");
}

#[tokio::test]
async fn events_reach_only_the_owner_on_every_socket() {
    let s = TestServer::start().await;
    let (_, alice) = s.new_user().await;
    let (_, bob) = s.new_user().await;
    let mut a1 = s.events_socket(&alice).await;
    let (mut a2, _) = s.ws_header("/ws", &alice).await.unwrap();
    assert_eq!(next_json(&mut a2).await["type"], "connection_established");
    let mut b = s.events_socket(&bob).await;

    let run = s.execute(&alice, "private").await;
    let run_id = run["run_id"].as_str().unwrap();
    assert_eq!(types(&run_events(&mut a1, run_id).await), EVENT_ORDER);
    assert_eq!(
        types(&run_events(&mut a2, run_id).await),
        EVENT_ORDER,
        "legacy path, header auth"
    );
    let leaked = drain_until_pong(&mut b).await;
    assert!(leaked.is_empty(), "bob received alice's events: {leaked:?}");
}

#[tokio::test]
async fn upgrades_are_authenticated_and_plain_gets_are_426() {
    let s = TestServer::start().await;
    let (_, token) = s.new_user().await;
    for path in ["/websocket", "/ws"] {
        let err = tokio_tungstenite::connect_async(s.ws_url(path))
            .await
            .unwrap_err();
        assert_eq!(refused_status(err), 401, "{path} without token");
        let err = s.ws_subprotocol(path, "not-a-token").await.unwrap_err();
        assert_eq!(refused_status(err), 401, "{path} bad subprotocol token");
        let err = s.ws_header(path, "not-a-token").await.unwrap_err();
        assert_eq!(refused_status(err), 401, "{path} bad header token");

        let (st, b) = s.get(path, Some(&token)).await;
        assert_eq!(st, StatusCode::UPGRADE_REQUIRED, "{path}");
        assert_error(&b, "upgrade_required");
        let (st, _) = s.get(path, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "401 comes first");
    }
    let (st, b) = s.get("/api/v1/ws/dashboard", None).await;
    assert_eq!(st, StatusCode::UPGRADE_REQUIRED);
    assert_error(&b, "upgrade_required");
}

#[tokio::test]
async fn ping_pong_on_both_paths() {
    let s = TestServer::start().await;
    let (_, token) = s.new_user().await;
    for path in ["/websocket", "/ws"] {
        let (mut ws, res) = s.ws_subprotocol(path, &token).await.unwrap();
        assert_eq!(res.headers()["sec-websocket-protocol"], "jwt-auth");
        next_of_type(&mut ws, "connection_established").await;
        ws.send(Message::Text(r#"{"type":"ping"}"#.into()))
            .await
            .unwrap();
        let pong = next_json(&mut ws).await;
        assert_eq!(pong["type"], "pong");
        assert_timestamp(&pong["timestamp"]);
    }
}

#[tokio::test]
async fn dashboard_refuses_foreign_or_missing_origin() {
    let s = TestServer::start().await;
    for origin in [Some("http://evil.example"), None] {
        let mut ws = s.dashboard(origin).await;
        assert_eq!(
            expect_close(&mut ws).await,
            (1008, "Origin not allowed".to_string()),
            "{origin:?}"
        );
    }
    let mut ok = s.admitted_dashboard().await;
    drop(drain_until_pong(&mut ok).await);
}

#[tokio::test]
async fn dashboard_limits_connections_per_ip() {
    let s = TestServer::start().await;
    let mut open = Vec::new();
    for _ in 0..10 {
        open.push(s.admitted_dashboard().await);
    }
    let mut eleventh = s.dashboard(Some("http://localhost:3000")).await;
    assert_eq!(
        expect_close(&mut eleventh).await,
        (1008, "Connection limit exceeded".to_string())
    );
    // Closing one frees a slot.
    let mut first = open.remove(0);
    first.close(None).await.unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let mut ws = s.dashboard(Some("http://localhost:3000")).await;
        let v = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut ws))
            .await
            .unwrap();
        if matches!(&v, Some(Ok(Message::Text(t))) if t.contains("connection_ack")) {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed");
    }
}

#[tokio::test]
async fn dashboard_stats_cadence_and_counts() {
    let s = TestServer::start_with(|c| c.stats_interval = Duration::from_millis(100)).await;
    let (_, token) = s.new_user().await;
    let run = s.execute(&token, "stats please").await;
    s.wait_run_status(&token, run["run_id"].as_str().unwrap(), "completed")
        .await;
    let mut ws = s.admitted_dashboard().await;
    let start = Instant::now();
    let mut stamps = Vec::new();
    let mut last = Value::Null;
    for _ in 0..4 {
        last = next_of_type(&mut ws, "stats_update").await;
        stamps.push(start.elapsed());
        assert_timestamp(&last["timestamp"]);
    }
    // Four updates, about 100 ms apart.
    assert!(stamps[0] >= Duration::from_millis(80), "{stamps:?}");
    for w in stamps.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= Duration::from_millis(50) && gap <= Duration::from_millis(600),
            "{stamps:?}"
        );
    }
    let d = &last["data"];
    assert_eq!(d["users"], 2, "admin + one user: {d}");
    assert_eq!(d["threads"], 1);
    assert_eq!(d["messages"], 2);
    assert_eq!(d["runs"], 1);
    assert_eq!(d["active_connections"], 1);
}

#[tokio::test]
async fn dashboard_gets_query_complete_and_errors() {
    let s = TestServer::start().await;
    let mut dash = s.admitted_dashboard().await;
    let (_, token) = s.new_user().await;
    let run = s.execute(&token, "two words").await;
    let qc = next_of_type(&mut dash, "query_complete").await;
    assert_timestamp(&qc["timestamp"]);
    assert_eq!(qc["data"]["run_id"], run["run_id"]);
    assert_eq!(
        qc["data"]["response_length"],
        "2 words received: two words".len()
    );
    assert!(qc["data"]["model"].is_string());
    assert!(qc["data"]["latency_ms"].is_u64());

    // A 5xx (the database vanished) is broadcast as an error.
    std::fs::remove_file(s.dir.path().join("agent-stack.db")).unwrap();
    assert_eq!(
        s.get("/health/detailed", None).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let err = next_of_type(&mut dash, "error").await;
    assert_eq!(err["data"]["endpoint"], "/health/detailed");
    assert!(err["data"]["error_type"].is_string() && err["data"]["message"].is_string());
}

#[tokio::test]
async fn restart_closes_every_socket_with_1012() {
    let s = TestServer::start().await;
    let (_, token) = s.new_user().await;
    let mut events = s.events_socket(&token).await;
    let mut dash = s.admitted_dashboard().await;
    let admin = s.admin_token().await;
    let (st, _) = s.post("/admin/restart", Some(&admin), json!({})).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(expect_close(&mut events).await.0, 1012);
    assert_eq!(expect_close(&mut dash).await.0, 1012);
    assert_eq!(s.join().await, agent_stack::ExitReason::Restart);
}
