//! HTTP rows of the contract (§1-§4, §7, §10) against a real in-process server.

mod common;

use base64::Engine;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn b64(v: Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn hs256(secret: &str, claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn now_s() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

#[tokio::test]
async fn register_and_login() {
    let s = TestServer::start().await;
    let body =
        json!({"email": "Ada@Example.com", "password": "password-123", "display_name": "Ada"});
    let (st, b) = s.post("/api/auth/register", None, body.clone()).await;
    assert_eq!(st, StatusCode::CREATED);
    assert!(b["user_id"].is_string());
    assert_eq!(b["email"], "ada@example.com");

    let (st, b) = s.post("/api/auth/register", None, body).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_error(&b, "email_taken");

    for (body, code) in [
        (
            json!({"email": "not-an-email", "password": "password-123", "display_name": "A"}),
            "invalid_email",
        ),
        (
            json!({"email": "b@example.com", "password": "short", "display_name": "A"}),
            "password_too_short",
        ),
        (
            json!({"email": "b@example.com", "password": "password-123"}),
            "validation_error",
        ),
        (
            json!({"email": "b@example.com", "password": "password-123", "display_name": "  "}),
            "invalid_display_name",
        ),
        (
            json!({"email": 5, "password": "password-123", "display_name": "A"}),
            "validation_error",
        ),
        (json!([1, 2]), "validation_error"),
    ] {
        let (st, b) = s.post("/api/auth/register", None, body.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {b}");
        assert_error(&b, code);
    }
    let (st, b) = s.post_raw("/api/auth/register", None, "{not json").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_error(&b, "malformed_json");

    let (st, b) = s
        .post(
            "/api/auth/login",
            None,
            json!({"email": "ada@example.com", "password": "password-123"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(b["token_type"], "bearer");
    assert_eq!(b["expires_in"], 3600);
    let token = b["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["role"], "user");
    assert!(payload["sub"].is_string() && payload["iat"].is_u64());
    assert_eq!(
        payload["exp"].as_u64().unwrap() - payload["iat"].as_u64().unwrap(),
        3600
    );

    for body in [
        json!({"email": "ada@example.com", "password": "wrong-password"}),
        json!({"email": "nobody@example.com", "password": "password-123"}),
    ] {
        let (st, b) = s.post("/api/auth/login", None, body).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        assert_error(&b, "invalid_credentials");
    }
    let (st, _) = s
        .post("/api/auth/login", None, json!({"email": "x@y.io"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

    // The admin exists from start-up, with the admin role.
    let admin = s.admin_token().await;
    let (st, _) = s.get("/api/threads", Some(&admin)).await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401() {
    let s =
        TestServer::start_with(|c| c.jwt_secret = Some("test-secret-0123456789abcdef0123".into()))
            .await;
    let (user_id, good) = s.new_user().await;
    let claims = |exp: u64| json!({"sub": user_id, "role": "user", "iat": now_s(), "exp": exp});
    let expired = hs256(
        "test-secret-0123456789abcdef0123",
        json!({"sub": user_id, "role": "user", "iat": now_s() - 7200, "exp": now_s() - 3600}),
    );
    let forged = hs256("some-other-secret-0123456789abcdef", claims(now_s() + 600));
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(claims(now_s() + 600))
    );
    let ghost = hs256(
        "test-secret-0123456789abcdef0123",
        json!({"sub": uuid::Uuid::new_v4().to_string(), "role": "user", "iat": now_s(), "exp": now_s() + 600}),
    );
    let hs384 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &claims(now_s() + 600),
        &jsonwebtoken::EncodingKey::from_secret(b"test-secret-0123456789abcdef0123"),
    )
    .unwrap();
    let cases = [
        ("expired", Some(expired.as_str()), "token_expired"),
        ("forged", Some(forged.as_str()), "invalid_token"),
        ("alg none", Some(unsigned.as_str()), "invalid_token"),
        ("malformed", Some("not-a-jwt"), "invalid_token"),
        ("other algorithm", Some(hs384.as_str()), "invalid_token"),
        (
            "user no longer exists",
            Some(ghost.as_str()),
            "unknown_user",
        ),
        ("missing", None, "missing_token"),
    ];
    for (what, token, code) in cases {
        for path in ["/api/threads", "/api/agents/status", "/api/agent/runs/x"] {
            let (st, b) = s.get(path, token).await;
            assert_eq!(st, StatusCode::UNAUTHORIZED, "{what} on {path}: {b}");
            assert_error(&b, code);
        }
    }
    // A wrong scheme is a missing token.
    let res = s
        .http
        .get(s.url("/api/threads"))
        .header("authorization", format!("Basic {good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let (st, _) = s.get("/api/threads", Some(&good)).await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn token_of_a_user_that_no_longer_exists() {
    // Same secret, new DATA_DIR: the token is correctly signed but its user is gone.
    let secret = Some("shared-secret-0123456789abcdef0123".to_string());
    let a = TestServer::start_with(|c| c.jwt_secret = secret.clone()).await;
    let (_, token) = a.new_user().await;
    let b = TestServer::start_with(|c| c.jwt_secret = secret.clone()).await;
    let (st, body) = b.get("/api/threads", Some(&token)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unknown_user");
    assert_eq!(a.get("/api/threads", Some(&token)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn threads_and_messages_belong_to_their_owner() {
    let s = TestServer::start().await;
    let (_, alice) = s.new_user().await;
    let (_, bob) = s.new_user().await;

    let (st, t1) = s
        .post("/api/threads", Some(&alice), json!({"title": "First"}))
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(t1["title"], "First");
    assert_timestamp(&t1["created_at"]);
    let (st, t2) = s
        .request(Method::POST, "/api/threads", Some(&alice), None)
        .await;
    assert_eq!(st, StatusCode::CREATED, "body may be omitted: {t2}");
    assert_eq!(t2["title"], "New thread");
    let (st, b) = s
        .post(
            "/api/threads",
            Some(&alice),
            json!({"title": "x".repeat(201)}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&b, "invalid_title");

    let (_, list) = s.get("/api/threads", Some(&alice)).await;
    let ids: Vec<&Value> = list["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["thread_id"])
        .collect();
    assert_eq!(
        ids,
        vec![&t1["thread_id"], &t2["thread_id"]],
        "oldest first"
    );
    let (_, list) = s.get("/api/threads", Some(&bob)).await;
    assert_eq!(list["threads"], json!([]), "bob sees only his threads");

    let tid = t1["thread_id"].as_str().unwrap();
    let path = format!("/api/threads/{tid}/messages");
    let (st, m1) = s
        .post(&path, Some(&alice), json!({"content": "hello"}))
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(m1["role"], "user");
    assert_eq!(m1["thread_id"], tid);
    assert_eq!(m1["content"], "hello");
    assert_timestamp(&m1["created_at"]);
    let max = "é".repeat(16384);
    let (st, _) = s.post(&path, Some(&alice), json!({"content": max})).await;
    assert_eq!(st, StatusCode::CREATED, "16384 characters are allowed");
    for content in [json!(""), json!("a".repeat(16385)), json!(42)] {
        let (st, b) = s
            .post(&path, Some(&alice), json!({"content": content}))
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    }
    let (_, msgs) = s.get(&path, Some(&alice)).await;
    let msgs = msgs["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["message_id"], m1["message_id"], "oldest first");
    for key in ["message_id", "role", "content", "created_at"] {
        assert!(msgs[0].get(key).is_some(), "{key}");
    }

    // Someone else's thread is 404, exactly like an unknown one.
    for token in [&bob] {
        let (st, b) = s.get(&path, Some(token)).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert_error(&b, "not_found");
        let (st, _) = s
            .post(&path, Some(token), json!({"content": "intrusion"}))
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    }
    let (st, _) = s
        .get("/api/threads/no-such-thread/messages", Some(&alice))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn order_of_refusals_and_body_limit() {
    let s = TestServer::start().await;
    let (_, alice) = s.new_user().await;
    let (_, bob) = s.new_user().await;
    let (_, t) = s.post("/api/threads", Some(&bob), json!({})).await;
    let foreign = format!("/api/threads/{}/messages", t["thread_id"].as_str().unwrap());

    // 401 before anything else: malformed JSON, invalid fields, foreign thread.
    let (st, _) = s.post_raw(&foreign, None, "{oops").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = s.post_raw(&foreign, Some("bad"), "{oops").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // Then 400 malformed JSON, even on someone else's thread.
    let (st, b) = s.post_raw(&foreign, Some(&alice), "{oops").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_error(&b, "malformed_json");
    // Then 422, even on someone else's thread.
    let (st, _) = s.post(&foreign, Some(&alice), json!({"content": ""})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    // Then 404.
    let (st, _) = s
        .post(&foreign, Some(&alice), json!({"content": "hi"}))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Same order on execute.
    let exec = "/api/agent/v2/execute";
    assert_eq!(
        s.post_raw(exec, None, "[").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.post_raw(exec, Some(&alice), "[").await.0,
        StatusCode::BAD_REQUEST
    );
    let (st, b) = s
        .post(
            exec,
            Some(&alice),
            json!({"message": "hi", "agent": "nope", "thread_id": t["thread_id"]}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&b, "unknown_agent");
    let (st, _) = s.post(exec, Some(&alice), json!({"message": ""})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, _) = s
        .post(exec, Some(&alice), json!({"message": "a".repeat(16385)}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, _) = s
        .post(
            exec,
            Some(&alice),
            json!({"message": "hi", "thread_id": t["thread_id"]}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Over 64 KiB: 413 as a JSON error (401 still first).
    let big = json!({"content": "a".repeat(70 * 1024)}).to_string();
    let (st, _) = s.post_raw(&foreign, None, big.clone()).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, b) = s.post_raw(&foreign, Some(&alice), big).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&b, "payload_too_large");

    // Unknown routes and methods are JSON errors too.
    let (st, b) = s.get("/api/nope", Some(&alice)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_error(&b, "not_found");
    let (st, b) = s
        .request(Method::DELETE, "/api/threads", Some(&alice), None)
        .await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&b, "method_not_allowed");
}

#[tokio::test]
async fn agent_runs_over_http() {
    let s = TestServer::start().await;
    let (_, alice) = s.new_user().await;
    let (_, bob) = s.new_user().await;
    let message = "The quick brown fox jumps over the lazy dog, twice over and again";
    let run = s.execute(&alice, message).await;
    assert_eq!(run["status"], "started");
    let run_id = run["run_id"].as_str().unwrap();
    let thread_id = run["thread_id"].as_str().unwrap();

    let done = s.wait_run_status(&alice, run_id, "completed").await;
    let expected = format!("13 words received: {}", &message[..40]);
    assert_eq!(done["result"], expected.as_str());
    assert_eq!(done["thread_id"], thread_id);

    // The new thread is the caller's, titled by the message's first 40 chars.
    let (_, threads) = s.get("/api/threads", Some(&alice)).await;
    assert_eq!(threads["threads"][0]["thread_id"], thread_id);
    assert_eq!(threads["threads"][0]["title"], &message[..40]);
    let (_, msgs) = s
        .get(&format!("/api/threads/{thread_id}/messages"), Some(&alice))
        .await;
    let roles: Vec<&str> = msgs["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant"]);
    assert_eq!(msgs["messages"][1]["content"], expected.as_str());

    // Legacy alias, into an existing thread.
    let (st, legacy) = s
        .post(
            "/api/agent/run_agent_v2",
            Some(&alice),
            json!({"message": "again", "agent": "default", "thread_id": thread_id}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    assert_eq!(legacy["thread_id"], thread_id);
    s.wait_run_status(&alice, legacy["run_id"].as_str().unwrap(), "completed")
        .await;

    // Someone else's run is 404.
    let (st, b) = s
        .get(&format!("/api/agent/runs/{run_id}"), Some(&bob))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_error(&b, "not_found");
    let (st, _) = s.get("/api/agent/runs/unknown", Some(&alice)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let (st, b) = s.get("/api/agents/status", Some(&alice)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        b,
        json!({"agents": [{"name": "default", "status": "available"}], "circuit_breaker": "closed"})
    );
}

#[tokio::test]
async fn run_status_passes_through_started_and_running() {
    let s = TestServer::start_with(|c| c.agent_think = std::time::Duration::from_millis(400)).await;
    let (_, alice) = s.new_user().await;
    let run = s.execute(&alice, "slow one").await;
    let run_id = run["run_id"].as_str().unwrap();
    let (_, first) = s
        .get(&format!("/api/agent/runs/{run_id}"), Some(&alice))
        .await;
    assert!(
        first["status"] == "started" || first["status"] == "running",
        "{first}"
    );
    assert!(first.get("result").is_none());
    s.wait_run_status(&alice, run_id, "running").await;
    s.wait_run_status(&alice, run_id, "completed").await;
}

#[tokio::test]
async fn health_and_detailed_health() {
    let s = TestServer::start().await;
    let (st, h) = s.get("/health", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h["status"], "healthy");
    assert!(h["version"].is_string());
    assert!(uuid::Uuid::parse_str(h["boot_id"].as_str().unwrap()).is_ok());
    assert_timestamp(&h["started_at"]);
    assert!(h["uptime_s"].is_number());

    let (st, d) = s.get("/health/detailed", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(d["services"]["database"], "connected");
    assert_eq!(d["status"], "healthy");

    // The database goes away: detailed health says so with 503; /health stays up.
    std::fs::remove_file(s.dir.path().join("agent-stack.db")).unwrap();
    let (st, d) = s.get("/health/detailed", None).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(d["services"]["database"], "error");
    assert_eq!(s.get("/health", None).await.0, StatusCode::OK);
}

/// Every route of the contract, as (method, path).
const CONTRACT_ROUTES: &[(&str, &str)] = &[
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/agent/v2/execute"),
    ("post", "/api/agent/run_agent_v2"),
    ("get", "/api/agent/runs/{run_id}"),
    ("get", "/api/agents/status"),
    ("post", "/api/threads"),
    ("get", "/api/threads"),
    ("post", "/api/threads/{thread_id}/messages"),
    ("get", "/api/threads/{thread_id}/messages"),
    ("get", "/websocket"),
    ("get", "/ws"),
    ("get", "/api/v1/ws/dashboard"),
    ("get", "/health"),
    ("get", "/health/detailed"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("post", "/admin/restart"),
];

#[tokio::test]
async fn openapi_lists_every_route_and_docs_are_self_contained() {
    let s = TestServer::start().await;
    let (st, doc) = s.get("/openapi.json", None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (method, path) in CONTRACT_ROUTES {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from /openapi.json"
        );
    }
    assert_eq!(doc["paths"].as_object().unwrap().len(), 16);

    let res = s.http.get(s.url("/docs")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for (method, path) in CONTRACT_ROUTES {
        assert!(
            html.contains(&format!("<code>{path}</code>")),
            "{method} {path} missing from /docs"
        );
    }
    assert!(html.contains("RegisterRequest") && html.contains("display_name"));
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "no script at all");
    for attr in ["src=", "href="] {
        for (i, _) in lower.match_indices(attr) {
            let value = &lower[i + attr.len()..];
            let value = value.trim_start_matches(['"', '\'']);
            assert!(
                !value.starts_with("http:")
                    && !value.starts_with("https:")
                    && !value.starts_with("//"),
                "external reference in /docs: {}",
                &value[..value.len().min(60)]
            );
        }
    }
    assert!(
        !lower.contains("@import") && !lower.contains("url("),
        "no external CSS"
    );
}

#[tokio::test]
async fn websocket_path_is_configurable_and_documented() {
    let s = TestServer::start_with(|c| c.websocket_path = "/agent-events".into()).await;
    let (_, doc) = s.get("/openapi.json", None).await;
    assert!(doc["paths"]["/agent-events"]["get"].is_object());
    assert!(doc["paths"].get("/websocket").is_none());
    assert_eq!(s.get("/websocket", None).await.0, StatusCode::NOT_FOUND);
    let (_, token) = s.new_user().await;
    let (mut ws, _) = s
        .ws_subprotocol("/agent-events", &token)
        .await
        .expect("connect on the configured path");
    assert_eq!(next_json(&mut ws).await["type"], "connection_established");
    let (mut legacy, _) = s
        .ws_subprotocol("/ws", &token)
        .await
        .expect("legacy alias stays");
    assert_eq!(
        next_json(&mut legacy).await["type"],
        "connection_established"
    );
}

#[tokio::test]
async fn restart_needs_an_admin() {
    let s = TestServer::start().await;
    let (_, user) = s.new_user().await;
    let (st, b) = s.post("/admin/restart", None, json!({})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_error(&b, "missing_token");
    let (st, b) = s.post("/admin/restart", Some("garbage"), json!({})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_error(&b, "invalid_token");
    let (st, b) = s.post("/admin/restart", Some(&user), json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_error(&b, "forbidden");
    assert_eq!(
        s.get("/health", None).await.0,
        StatusCode::OK,
        "still running"
    );
    let admin = s.admin_token().await;
    let (st, b) = s.post("/admin/restart", Some(&admin), json!({})).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(b, json!({"status": "restarting"}));
    assert_eq!(s.join().await, agent_stack::ExitReason::Restart);
}

#[tokio::test]
async fn activity_log_records_runs_messages_errors_and_restarts() {
    let s = TestServer::start().await;
    let (_, alice) = s.new_user().await;
    let run = s.execute(&alice, "log me").await;
    s.wait_run_status(&alice, run["run_id"].as_str().unwrap(), "completed")
        .await;
    let tid = run["thread_id"].as_str().unwrap();
    s.post(
        &format!("/api/threads/{tid}/messages"),
        Some(&alice),
        json!({"content": "hi"}),
    )
    .await;
    s.get("/api/threads", None).await; // 401
    s.get("/nope", None).await; // 404
    let admin = s.admin_token().await;
    s.post("/admin/restart", Some(&admin), json!({})).await;
    let dir = s.dir.clone();
    s.join().await; // serve flushes the log before it returns
    let lines = activity_lines(dir.path());
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    for l in &lines {
        assert_timestamp(&l["ts"]);
    }
    assert!(
        lines.iter().any(|l| l["event"] == "agent_run"
            && l["status"] == "completed"
            && l["run_id"] == run["run_id"]),
        "{events:?}"
    );
    assert!(
        lines.iter().filter(|l| l["event"] == "message").count() >= 3,
        "{events:?}"
    );
    assert!(
        lines.iter().any(|l| l["event"] == "http_error"
            && l["status"] == 401
            && l["path"] == "/api/threads")
    );
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "http_error" && l["status"] == 404 && l["path"] == "/nope")
    );
    assert!(events.contains(&"restart"));
}
