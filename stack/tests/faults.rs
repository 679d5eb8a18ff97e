//! One test per seeded fault (contract §9): the faulty stack shows the changed
//! behaviour and the clean stack, under the same check, does not.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message};

async fn clean_and(faults: &str) -> (TestServer, TestServer) {
    tokio::join!(TestServer::start(), TestServer::with_faults(faults))
}

async fn event_types(s: &TestServer) -> Vec<String> {
    let (_, token) = s.new_user().await;
    let mut ws = s.events_socket(&token).await;
    let run = s.execute(&token, "fault probe").await;
    run_events(&mut ws, run["run_id"].as_str().unwrap())
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn missing_v2_execute() {
    let (clean, faulty) = clean_and("missing_v2_execute").await;
    for (s, v2_status) in [
        (&clean, StatusCode::ACCEPTED),
        (&faulty, StatusCode::NOT_FOUND),
    ] {
        let (_, token) = s.new_user().await;
        let (st, _) = s
            .post(
                "/api/agent/v2/execute",
                Some(&token),
                json!({"message": "hi"}),
            )
            .await;
        assert_eq!(st, v2_status);
        let (st, _) = s
            .post(
                "/api/agent/run_agent_v2",
                Some(&token),
                json!({"message": "hi"}),
            )
            .await;
        assert_eq!(
            st,
            StatusCode::ACCEPTED,
            "the legacy alias works either way"
        );
    }
}

#[tokio::test]
async fn ws_path_500() {
    let (clean, faulty) = clean_and("ws_path_500").await;
    let (_, token) = clean.new_user().await;
    assert!(clean.ws_subprotocol("/websocket", &token).await.is_ok());
    let (_, token) = faulty.new_user().await;
    let err = faulty
        .ws_subprotocol("/websocket", &token)
        .await
        .unwrap_err();
    assert_eq!(refused_status(err), 500);
    let (mut ws, _) = faulty
        .ws_subprotocol("/ws", &token)
        .await
        .expect("/ws still works");
    assert_eq!(next_json(&mut ws).await["type"], "connection_established");
}

#[tokio::test]
async fn no_subprotocol_echo() {
    let (clean, faulty) = clean_and("no_subprotocol_echo").await;
    let (_, token) = clean.new_user().await;
    let (_, res) = clean.ws_subprotocol("/websocket", &token).await.unwrap();
    assert_eq!(res.headers()["sec-websocket-protocol"], "jwt-auth");
    let (_, token) = faulty.new_user().await;
    // A browser-like client that offered subprotocols fails the handshake.
    let err = faulty
        .ws_subprotocol("/websocket", &token)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(
                    tungstenite::error::SubProtocolError::NoSubProtocol
                )
            )
        ),
        "{err:?}"
    );
    let (_, res) = faulty
        .ws_header("/websocket", &token)
        .await
        .expect("header auth is unaffected");
    assert!(res.headers().get("sec-websocket-protocol").is_none());
}

#[tokio::test]
async fn drop_event() {
    let (clean, faulty) = clean_and("drop_event:agent_thinking").await;
    let (a, b) = tokio::join!(event_types(&clean), event_types(&faulty));
    assert_eq!(
        a,
        [
            "agent_started",
            "agent_thinking",
            "tool_executing",
            "tool_completed",
            "agent_completed"
        ]
    );
    assert_eq!(
        b,
        [
            "agent_started",
            "tool_executing",
            "tool_completed",
            "agent_completed"
        ]
    );
}

#[tokio::test]
async fn reorder_events() {
    let (clean, faulty) = clean_and("reorder_events").await;
    let (a, b) = tokio::join!(event_types(&clean), event_types(&faulty));
    assert_eq!(
        a,
        [
            "agent_started",
            "agent_thinking",
            "tool_executing",
            "tool_completed",
            "agent_completed"
        ]
    );
    assert_eq!(
        b,
        [
            "agent_started",
            "agent_thinking",
            "tool_completed",
            "tool_executing",
            "agent_completed"
        ]
    );
}

#[tokio::test]
async fn leak_events() {
    let (clean, faulty) = clean_and("leak_events").await;
    for (s, leaks) in [(&clean, false), (&faulty, true)] {
        let (_, alice) = s.new_user().await;
        let (_, bob) = s.new_user().await;
        let mut a = s.events_socket(&alice).await;
        let mut b = s.events_socket(&bob).await;
        let run = s.execute(&alice, "secret").await;
        run_events(&mut a, run["run_id"].as_str().unwrap()).await;
        let seen_by_bob = drain_until_pong(&mut b).await;
        assert_eq!(!seen_by_bob.is_empty(), leaks, "{seen_by_bob:?}");
        if leaks {
            assert_eq!(seen_by_bob.len(), 5);
            assert!(seen_by_bob.iter().all(|e| e["run_id"] == run["run_id"]));
        }
    }
}

#[tokio::test]
async fn volatile_messages() {
    let (clean, faulty) = clean_and("volatile_messages").await;
    for (s, survives) in [(clean, true), (faulty, false)] {
        let (_, token) = s.new_user().await;
        let (_, t) = s.post("/api/threads", Some(&token), json!({})).await;
        let path = format!("/api/threads/{}/messages", t["thread_id"].as_str().unwrap());
        let (st, _) = s
            .post(&path, Some(&token), json!({"content": "keep me"}))
            .await;
        assert_eq!(st, StatusCode::CREATED);
        assert_eq!(
            s.get(&path, Some(&token)).await.1["messages"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let admin = s.admin_token().await;
        s.post("/admin/restart", Some(&admin), json!({})).await;
        let (dir, config) = (s.dir.clone(), s.config.clone());
        assert_eq!(s.join().await, agent_stack::ExitReason::Restart);
        let s2 = TestServer::start_in(dir, config).await;
        let (st, msgs) = s2.get(&path, Some(&token)).await;
        assert_eq!(st, StatusCode::OK, "the thread itself survives");
        assert_eq!(
            msgs["messages"].as_array().unwrap().len(),
            usize::from(survives)
        );
    }
}

#[tokio::test]
async fn no_comeback() {
    let (clean, faulty) = clean_and("no_comeback").await;
    for (s, comes_back) in [(clean, true), (faulty, false)] {
        assert_eq!(
            s.get("/health", None).await.0,
            StatusCode::OK,
            "healthy before the restart"
        );
        let admin = s.admin_token().await;
        let (st, _) = s.post("/admin/restart", Some(&admin), json!({})).await;
        assert_eq!(st, StatusCode::OK);
        let (dir, config) = (s.dir.clone(), s.config.clone());
        assert_eq!(s.join().await, agent_stack::ExitReason::Restart);
        let s2 = TestServer::start_in(dir, config).await;
        for _ in 0..3 {
            let (st, h) = s2.get("/health", None).await;
            assert_eq!(st == StatusCode::OK, comes_back, "{h}");
            assert_eq!(h["status"] == "healthy", comes_back, "{h}");
        }
    }
}

#[tokio::test]
async fn open_restart() {
    let (clean, faulty) = clean_and("open_restart").await;
    let (st, _) = clean.post("/admin/restart", None, json!({})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (_, user) = clean.new_user().await;
    assert_eq!(
        clean.post("/admin/restart", Some(&user), json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    let (st, body) = faulty.post("/admin/restart", None, json!({})).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["status"], "restarting");
    assert_eq!(faulty.join().await, agent_stack::ExitReason::Restart);
}

#[tokio::test]
async fn accept_unsigned_jwt() {
    let (clean, faulty) = clean_and("accept_unsigned_jwt").await;
    for (s, accepted) in [(&clean, false), (&faulty, true)] {
        let (user_id, _) = s.new_user().await;
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let now = jsonwebtoken::get_current_timestamp();
        let token = format!(
            "{}.{}.",
            b64(json!({"alg": "none", "typ": "JWT"})),
            b64(json!({"sub": user_id, "role": "user", "iat": now, "exp": now + 600}))
        );
        let (st, _) = s.get("/api/threads", Some(&token)).await;
        assert_eq!(st == StatusCode::OK, accepted, "{st}");
        assert_eq!(st == StatusCode::UNAUTHORIZED, !accepted);
    }
}

#[tokio::test]
async fn no_origin_check() {
    let (clean, faulty) = clean_and("no_origin_check").await;
    let mut ws = clean.dashboard(Some("http://evil.example")).await;
    assert_eq!(
        expect_close(&mut ws).await,
        (1008, "Origin not allowed".into())
    );
    let mut ws = faulty.dashboard(Some("http://evil.example")).await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
}

#[tokio::test]
async fn no_connection_limit() {
    let (clean, faulty) = clean_and("no_connection_limit").await;
    for (s, limited) in [(&clean, true), (&faulty, false)] {
        let mut open = Vec::new();
        for _ in 0..10 {
            open.push(s.admitted_dashboard().await);
        }
        let mut eleventh = s.dashboard(Some("http://localhost:3000")).await;
        if limited {
            assert_eq!(
                expect_close(&mut eleventh).await,
                (1008, "Connection limit exceeded".into())
            );
        } else {
            assert_eq!(next_json(&mut eleventh).await["type"], "connection_ack");
        }
    }
}

#[tokio::test]
async fn stats_stall() {
    let interval = Duration::from_millis(50);
    let (clean, faulty) = tokio::join!(
        TestServer::start_with(|c| c.stats_interval = interval),
        TestServer::start_with(|c| {
            c.stats_interval = interval;
            c.faults = "stats_stall".parse().unwrap();
        }),
    );
    for (s, stalls) in [(&clean, false), (&faulty, true)] {
        let mut ws = s.admitted_dashboard().await;
        next_of_type(&mut ws, "stats_update").await;
        // Absence can only be shown by waiting: six intervals without a second one.
        let second = tokio::time::timeout(interval * 6, async {
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(t) = msg
                    && t.contains("stats_update")
                {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        assert_eq!(second, !stalls);
    }
}

#[tokio::test]
async fn slow_agent() {
    let (clean, faulty) = clean_and("slow_agent:400").await;
    for (s, slow) in [(&clean, false), (&faulty, true)] {
        let (_, token) = s.new_user().await;
        let mut ws = s.events_socket(&token).await;
        let started = Instant::now();
        let run = s.execute(&token, "take your time").await;
        let events = run_events(&mut ws, run["run_id"].as_str().unwrap()).await;
        let took = started.elapsed();
        assert_eq!(events.len(), 5, "only the timing changes");
        assert_eq!(took >= Duration::from_millis(400), slow, "{took:?}");
        assert_eq!(
            events[4]["data"]["duration_ms"].as_u64().unwrap() >= 400,
            slow
        );
    }
}
