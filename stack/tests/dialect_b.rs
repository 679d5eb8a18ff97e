//! Dialect B (`DIALECT=b`, see `agent_stack::dialect`) over real sockets: each
//! of its six differences from the contract, and faults applied to the
//! dialect's equivalent routes and events. The paths are spelled out literally
//! here, not taken from the stack's route table, so that a typo in the table
//! fails these tests.

mod common;

use agent_stack::{Dialect, ExitReason};
use common::*;
use futures_util::SinkExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

const SIX_EVENTS: [&str; 6] = [
    "agent_started",
    "agent_thinking",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
];

/// Every route of dialect B, as (method, path).
const B_ROUTES: &[(&str, &str)] = &[
    ("post", "/v2/auth/signup"),
    ("post", "/v2/auth/token"),
    ("post", "/v2/runs"),
    ("post", "/v2/agent/run"),
    ("get", "/v2/runs/{run_id}"),
    ("get", "/v2/agents"),
    ("post", "/v2/conversations"),
    ("get", "/v2/conversations"),
    ("post", "/v2/conversations/{thread_id}/messages"),
    ("get", "/v2/conversations/{thread_id}/messages"),
    ("get", "/v2/events"),
    ("get", "/v2/events/legacy"),
    ("get", "/v2/dashboard"),
    ("get", "/v2/status"),
    ("get", "/v2/status/full"),
    ("get", "/v2/openapi.json"),
    ("get", "/v2/docs"),
    ("post", "/v2/admin/restart"),
];

async fn start_b() -> TestServer {
    TestServer::start_with(|c| c.dialect = Dialect::B).await
}

async fn start_b_with_faults(faults: &str) -> TestServer {
    let faults = faults.parse().expect("valid faults");
    TestServer::start_with(|c| {
        c.dialect = Dialect::B;
        c.faults = faults;
    })
    .await
}

/// The `data` of an enveloped answer, asserting that it is the only key.
fn data(body: &Value) -> &Value {
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("an object: {body}"));
    assert_eq!(obj.len(), 1, "only `data` at the top: {body}");
    obj.get("data")
        .unwrap_or_else(|| panic!("enveloped in data: {body}"))
}

/// An object's keys, sorted (whatever serde_json's map order is).
fn sorted_keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// A B login: the access token.
async fn token_b(s: &TestServer, email: &str, password: &str) -> String {
    let (st, body) = s
        .post(
            "/v2/auth/token",
            None,
            json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    data(&body)["token"]["access"]
        .as_str()
        .unwrap_or_else(|| panic!("data.token.access: {body}"))
        .to_owned()
}

/// Signs up a fresh user and logs in: (user_id, token).
async fn user_b(s: &TestServer) -> (String, String) {
    let email = format!("b-{}@example.com", uuid::Uuid::new_v4().simple());
    let (st, body) = s
        .post(
            "/v2/auth/signup",
            None,
            json!({"email": email, "password": "password-123", "display_name": "B"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let user_id = data(&body)["user_id"].as_str().unwrap().to_owned();
    (user_id, token_b(s, &email, "password-123").await)
}

/// POST /v2/runs, expecting 202: the answer's data.
async fn run_b(s: &TestServer, token: &str, message: &str) -> Value {
    let (st, body) = s
        .post("/v2/runs", Some(token), json!({"message": message}))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{body}");
    data(&body).clone()
}

/// A primary agent-events socket (subprotocol auth) past connection_established.
async fn events_b(s: &TestServer, token: &str) -> Ws {
    let (mut ws, _) = s
        .ws_subprotocol("/v2/events", token)
        .await
        .expect("connect");
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "connection_established", "{hello}");
    ws
}

async fn event_types_b(s: &TestServer) -> Vec<String> {
    let (_, token) = user_b(s).await;
    let mut ws = events_b(s, &token).await;
    let run = run_b(s, &token, "fault probe").await;
    run_events(&mut ws, run["run_id"].as_str().unwrap())
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

// ---- 1 and 2: paths and the envelope ----

#[tokio::test]
async fn every_route_answers_at_its_b_path_enveloped() {
    let s = start_b().await;
    let email = "ada-b@example.com";
    let (st, body) = s
        .post(
            "/v2/auth/signup",
            None,
            json!({"email": email, "password": "password-123", "display_name": "Ada"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let user_id = data(&body)["user_id"].as_str().unwrap().to_owned();
    assert_eq!(data(&body)["email"], email);
    let token = token_b(&s, email, "password-123").await;

    let (st, body) = s
        .post(
            "/v2/conversations",
            Some(&token),
            json!({"title": "B talk"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let thread_id = data(&body)["thread_id"].as_str().unwrap().to_owned();
    assert_eq!(data(&body)["title"], "B talk");
    let (st, body) = s.get("/v2/conversations", Some(&token)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(data(&body)["threads"][0]["thread_id"], thread_id.as_str());

    let messages = format!("/v2/conversations/{thread_id}/messages");
    let (st, body) = s
        .post(&messages, Some(&token), json!({"content": "hello b"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(data(&body)["role"], "user");
    assert_eq!(data(&body)["content"], "hello b");

    let run = run_b(&s, &token, "three words here").await;
    assert_eq!(run["status"], "started");
    let run_id = run["run_id"].as_str().unwrap();
    let (st, body) = s
        .post(
            "/v2/agent/run",
            Some(&token),
            json!({"message": "legacy", "thread_id": thread_id}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{body}");
    assert_eq!(data(&body)["thread_id"], thread_id.as_str());

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (st, body) = s.get(&format!("/v2/runs/{run_id}"), Some(&token)).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        if data(&body)["status"] == "completed" {
            assert_eq!(data(&body)["result"], "3 words received: three words here");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (st, body) = s.get(&messages, Some(&token)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(data(&body)["messages"][0]["content"], "hello b");

    let (st, body) = s.get("/v2/agents", Some(&token)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(data(&body)["agents"][0]["name"], "default");
    assert_eq!(data(&body)["circuit_breaker"], "closed");

    let (st, body) = s.get("/v2/status", None).await;
    assert_eq!(st, StatusCode::OK);
    let h = data(&body);
    assert_eq!(h["status"], "healthy");
    assert!(h["version"].is_string());
    assert!(uuid::Uuid::parse_str(h["boot_id"].as_str().unwrap()).is_ok());
    assert_timestamp(&h["started_at"]);
    assert!(h["uptime_s"].is_number());
    let (st, body) = s.get("/v2/status/full", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(data(&body)["services"]["database"], "connected");

    let (st, body) = s.get("/v2/openapi.json", None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(data(&body)["openapi"].as_str().unwrap().starts_with("3."));
    let res = s.http.get(s.url("/v2/docs")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().starts_with("<!DOCTYPE html>"));

    let (mut ws, _) = s.ws_header("/v2/events/legacy", &token).await.unwrap();
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "connection_established");
    assert_eq!(hello["user_id"], user_id.as_str());

    // The contract's paths are gone, with the JSON 404 body.
    for path in [
        "/api/auth/login",
        "/api/threads",
        "/api/agents/status",
        "/health",
        "/openapi.json",
        "/docs",
        "/no/such/route",
    ] {
        let (st, body) = s.get(path, Some(&token)).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{path}");
        assert_error(&body, "not_found");
    }
    for path in ["/websocket", "/ws", "/api/v1/ws/dashboard"] {
        let err = s.ws_header(path, &token).await.unwrap_err();
        assert_eq!(refused_status(err), 404, "{path}");
    }
}

#[tokio::test]
async fn errors_stay_unwrapped() {
    let s = start_b().await;
    let (_, alice) = user_b(&s).await;
    let (_, bob) = user_b(&s).await;

    let (st, body) = s.get("/v2/agents", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_error(&body, "missing_token");
    let (st, body) = s
        .post(
            "/v2/auth/signup",
            None,
            json!({"email": "nope", "password": "password-123", "display_name": "x"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "invalid_email");
    let (st, body) = s.post_raw("/v2/runs", Some(&alice), "{not json").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_error(&body, "malformed_json");
    let (st, body) = s
        .post(
            "/v2/auth/token",
            None,
            json!({"email": "ghost@example.com", "password": "password-123"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_error(&body, "invalid_credentials");

    let (_, body) = s.post("/v2/conversations", Some(&alice), json!({})).await;
    let thread_id = data(&body)["thread_id"].as_str().unwrap().to_owned();
    let (st, body) = s
        .get(
            &format!("/v2/conversations/{thread_id}/messages"),
            Some(&bob),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "someone else's thread");
    assert_error(&body, "not_found");
    let err = s.ws_header("/v2/events", "not-a-token").await.unwrap_err();
    assert_eq!(refused_status(err), 401);
    let (st, body) = s.get("/v2/events", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{body}");
    let (st, body) = s.get("/v2/events", Some(&alice)).await;
    assert_eq!(st, StatusCode::UPGRADE_REQUIRED);
    assert_error(&body, "upgrade_required");
    let (st, body) = s.post("/v2/admin/restart", Some(&alice), json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_error(&body, "forbidden");

    // A 503 of the detailed health is not enveloped.
    std::fs::remove_file(s.dir.path().join("agent-stack.db")).unwrap();
    let (st, body) = s.get("/v2/status/full", None).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["services"]["database"], "error", "{body}");
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
async fn openapi_and_docs_list_the_b_paths() {
    let s = start_b().await;
    let (st, body) = s.get("/v2/openapi.json", None).await;
    assert_eq!(st, StatusCode::OK);
    let doc = data(&body);
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in B_ROUTES {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} missing from /v2/openapi.json"
        );
    }
    assert_eq!(paths.len(), 16, "{:?}", paths.keys().collect::<Vec<_>>());
    assert!(paths.keys().all(|p| p.starts_with("/v2/")));
    // Success schemas are enveloped; the login answer has its B shape.
    let login = &paths["/v2/auth/token"]["post"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert_eq!(
        login["properties"]["data"]["$ref"],
        "#/components/schemas/LoginAnswer"
    );
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["LoginAnswer"]["properties"]["token"].is_object());
    assert!(schemas["LoginToken"]["properties"]["access"].is_object());
    assert!(schemas.get("TokenResponse").is_none());
    let text = doc.to_string();
    for contract_path in ["/api/agent/v2/execute", "/api/threads", "`/websocket`"] {
        assert!(
            !text.contains(contract_path),
            "{contract_path} in B's document"
        );
    }

    let html = s
        .http
        .get(s.url("/v2/docs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (method, path) in B_ROUTES {
        assert!(
            html.contains(&format!("<code>{path}</code>")),
            "{method} {path} missing from /v2/docs"
        );
    }
    assert!(html.contains("<code>/v2/runs</code>"));
    assert!(html.contains("href=\"/v2/openapi.json\""));
    assert!(!html.contains("/api/agent/v2/execute"));
}

#[tokio::test]
async fn websocket_path_is_ignored_in_dialect_b() {
    let s = TestServer::start_with(|c| {
        c.dialect = Dialect::B;
        c.websocket_path = "/agent-events".into();
    })
    .await;
    let (_, token) = user_b(&s).await;
    let _ws = events_b(&s, &token).await;
    let err = s.ws_header("/agent-events", &token).await.unwrap_err();
    assert_eq!(refused_status(err), 404);
}

// ---- 3: login ----

#[tokio::test]
async fn login_answer_nests_the_token() {
    let s = start_b().await;
    let (user_id, _) = user_b(&s).await;
    let (st, body) = s
        .post(
            "/v2/auth/token",
            None,
            json!({"email": s.config.admin_email, "password": s.config.admin_password}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    println!("dialect B login answer: {body}");
    let d = data(&body);
    assert_eq!(sorted_keys(d), ["token", "user_id"]);
    let token = &d["token"];
    assert_eq!(sorted_keys(token), ["access", "expires_in", "type"]);
    assert_eq!(token["type"], "bearer");
    assert_eq!(token["expires_in"], 3600);
    assert_eq!(token["access"].as_str().unwrap().split('.').count(), 3);
    let admin_id = d["user_id"].as_str().unwrap();
    assert_ne!(admin_id, user_id, "the admin's own id");
    // The token works, and is the admin's.
    let (st, body) = s
        .post(
            "/v2/admin/restart",
            Some(token["access"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, json!({"data": {"status": "restarting"}}));
    assert_eq!(s.join().await, ExitReason::Restart);
}

// ---- 4, 5 and 6: frames, six events, subprotocol ----

#[tokio::test]
async fn six_flat_events_and_the_token_subprotocol() {
    let s = start_b().await;
    let (user_id, token) = user_b(&s).await;
    let (mut ws, res) = s.ws_subprotocol("/v2/events", &token).await.unwrap();
    assert_eq!(
        res.headers()["sec-websocket-protocol"],
        format!("jwt.{token}").as_str(),
        "dialect B echoes the token protocol"
    );
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "connection_established");
    assert_eq!(hello["user_id"], user_id.as_str());
    assert!(hello["connection_id"].is_string());
    assert_timestamp(&hello["timestamp"]);
    let (mut legacy, res) = s.ws_header("/v2/events/legacy", &token).await.unwrap();
    assert!(res.headers().get("sec-websocket-protocol").is_none());
    assert_eq!(
        next_json(&mut legacy).await["type"],
        "connection_established"
    );
    let mut dash = {
        let mut req = s.ws_url("/v2/dashboard").into_client_request().unwrap();
        req.headers_mut()
            .insert("origin", "http://localhost:3000".parse().unwrap());
        tokio_tungstenite::connect_async(req).await.unwrap().0
    };
    assert_eq!(next_json(&mut dash).await["type"], "connection_ack");

    let message = "count these   five\twords please";
    let run = run_b(&s, &token, message).await;
    let run_id = run["run_id"].as_str().unwrap();
    let events = run_events(&mut ws, run_id).await;
    for e in &events {
        println!("dialect B frame: {e}");
    }
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, SIX_EVENTS);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i + 1, "{e}");
        assert_eq!(e["run_id"], run_id);
        assert_eq!(e["thread_id"], run["thread_id"]);
        assert_timestamp(&e["timestamp"]);
        assert!(e.get("data").is_none(), "flat frame: {e}");
    }
    let keys = |e: &Value| {
        let mut k: Vec<String> = e.as_object().unwrap().keys().cloned().collect();
        k.retain(|k| !["type", "run_id", "thread_id", "seq", "timestamp"].contains(&k.as_str()));
        k
    };
    assert_eq!(events[0]["agent"], "default");
    assert_eq!(keys(&events[0]), ["agent"]);
    for thinking in &events[1..3] {
        assert!(thinking["thought"].as_str().is_some_and(|t| !t.is_empty()));
        assert_eq!(keys(thinking), ["thought"]);
    }
    assert_eq!(events[3]["tool"], "word_count");
    assert_eq!(events[3]["input"], message);
    assert_eq!(events[4]["tool"], "word_count");
    assert_eq!(events[4]["output"], 5);
    assert_eq!(
        events[5]["result"],
        "5 words received: count these   five\twords please"
    );
    assert!(events[5]["duration_ms"].is_u64());
    assert_eq!(types_of(&run_events(&mut legacy, run_id).await), SIX_EVENTS);

    // Pong as in the contract; dashboard frames keep their `data`.
    ws.send(Message::Text(r#"{"type":"ping"}"#.into()))
        .await
        .unwrap();
    let pong = next_json(&mut ws).await;
    assert_eq!(pong.as_object().unwrap().len(), 2, "{pong}");
    assert_eq!(pong["type"], "pong");
    assert_timestamp(&pong["timestamp"]);
    let done = next_of_type(&mut dash, "query_complete").await;
    assert_eq!(done["data"]["run_id"], run_id, "{done}");
}

fn types_of(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn events_reach_only_their_owner() {
    let s = start_b().await;
    let (_, alice) = user_b(&s).await;
    let (_, bob) = user_b(&s).await;
    let mut a = events_b(&s, &alice).await;
    let mut b = events_b(&s, &bob).await;
    let run = run_b(&s, &alice, "private").await;
    assert_eq!(
        types_of(&run_events(&mut a, run["run_id"].as_str().unwrap()).await),
        SIX_EVENTS
    );
    let leaked = drain_until_pong(&mut b).await;
    assert!(leaked.is_empty(), "bob received alice's events: {leaked:?}");
}

// ---- faults in dialect B ----

#[tokio::test]
async fn drop_event_drops_that_event() {
    let (completed, thinking) = tokio::join!(
        start_b_with_faults("drop_event:tool_completed"),
        start_b_with_faults("drop_event:agent_thinking"),
    );
    let (a, b) = tokio::join!(event_types_b(&completed), event_types_b(&thinking));
    assert_eq!(
        a,
        [
            "agent_started",
            "agent_thinking",
            "agent_thinking",
            "tool_executing",
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
        ],
        "both thinking events dropped"
    );
}

#[tokio::test]
async fn reorder_events_swaps_the_tool_events_keeping_their_seq() {
    let s = start_b_with_faults("reorder_events").await;
    let (_, token) = user_b(&s).await;
    let mut ws = events_b(&s, &token).await;
    let run = run_b(&s, &token, "reorder").await;
    let events = run_events(&mut ws, run["run_id"].as_str().unwrap()).await;
    assert_eq!(
        types_of(&events),
        [
            "agent_started",
            "agent_thinking",
            "agent_thinking",
            "tool_completed",
            "tool_executing",
            "agent_completed"
        ]
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 5, 4, 6]);
}

#[tokio::test]
async fn missing_v2_execute_removes_v2_runs() {
    let s = start_b_with_faults("missing_v2_execute").await;
    let (_, token) = user_b(&s).await;
    let (st, body) = s
        .post("/v2/runs", Some(&token), json!({"message": "hi"}))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
    let (st, body) = s
        .post("/v2/agent/run", Some(&token), json!({"message": "hi"}))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "the legacy alias still works");
    let run_id = data(&body)["run_id"].as_str().unwrap();
    let (st, _) = s.get(&format!("/v2/runs/{run_id}"), Some(&token)).await;
    assert_eq!(st, StatusCode::OK, "run status is another route");
}

#[tokio::test]
async fn ws_path_500_breaks_only_the_primary() {
    let s = start_b_with_faults("ws_path_500").await;
    let (_, token) = user_b(&s).await;
    let err = s.ws_subprotocol("/v2/events", &token).await.unwrap_err();
    assert_eq!(refused_status(err), 500);
    let (mut ws, _) = s
        .ws_subprotocol("/v2/events/legacy", &token)
        .await
        .expect("the legacy alias still works");
    assert_eq!(next_json(&mut ws).await["type"], "connection_established");
}

#[tokio::test]
async fn no_subprotocol_echo_selects_none() {
    let s = start_b_with_faults("no_subprotocol_echo").await;
    let (_, token) = user_b(&s).await;
    let err = s.ws_subprotocol("/v2/events", &token).await.unwrap_err();
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
    let (_, res) = s
        .ws_header("/v2/events", &token)
        .await
        .expect("header auth is unaffected");
    assert!(res.headers().get("sec-websocket-protocol").is_none());
}

// ---- the contract stays the default ----

#[tokio::test]
async fn the_contract_dialect_is_the_default_and_unchanged() {
    let s = TestServer::start().await;
    assert_eq!(s.config.dialect, Dialect::Contract);
    assert_eq!(s.get("/v2/status", None).await.0, StatusCode::NOT_FOUND);
    let (st, h) = s.get("/health", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h["status"], "healthy", "not enveloped: {h}");
    let (st, body) = s
        .post(
            "/api/auth/login",
            None,
            json!({"email": s.config.admin_email, "password": s.config.admin_password}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        sorted_keys(&body),
        ["access_token", "expires_in", "token_type"]
    );
}
