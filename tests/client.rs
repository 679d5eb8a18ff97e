//! The typed client against the reference stack, run in-process on a free port.
//! Real sockets, no mocks: every client method is exercised once, and the failures
//! the harness must name (404s, 401 upgrades, missing subprotocol, foreign origins,
//! a stack that is not running) read as the contract's words.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use goldenpath::client::{
    AgentFrame, ClientError, DashboardFrame, ExecuteRequest, Path, RawRequest, Route, RunEnd,
    SocketAuth, StackClient,
};
use goldenpath::contract::Contract;
use serde_json::json;
use tokio::net::TcpListener;

mod common;

const WAIT: Duration = Duration::from_secs(5);

/// The in-process reference stack and a client for it with the contract's defaults.
struct Stack {
    client: StackClient,
    addr: SocketAddr,
    _stack: common::InProcessStack,
}

async fn start_with(faults: &str, tweak: impl FnOnce(&mut agent_stack::Config)) -> Stack {
    let stack = common::stack_with(faults, tweak).await;
    let client = StackClient::new(&stack.url, Arc::new(Contract::default())).expect("client");
    Stack {
        client,
        addr: stack.addr,
        _stack: stack,
    }
}

async fn start(faults: &str) -> Stack {
    start_with(faults, |_| {}).await
}

async fn user(client: &StackClient, email: &str) -> goldenpath::client::Session {
    client
        .register(email, "password-123", "Test User")
        .await
        .expect("register");
    client.login(email, "password-123").await.expect("login")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_and_operations() {
    let stack = start("").await;
    let c = &stack.client;

    let registered = c
        .register("ada@example.com", "password-123", "Ada")
        .await
        .unwrap();
    assert!(!registered.user_id.is_empty());
    assert_eq!(registered.email.as_deref(), Some("ada@example.com"));

    let session = c.login("ada@example.com", "password-123").await.unwrap();
    assert_eq!(
        session.user_id.as_deref(),
        Some(registered.user_id.as_str())
    );

    // 409 on a taken email, in contract words.
    let taken = c
        .register("ada@example.com", "password-123", "Ada")
        .await
        .unwrap_err();
    assert_eq!(taken.status(), Some(409));
    let text = taken.to_string();
    assert!(
        text.starts_with("POST /api/auth/register answered 409"),
        "{text}"
    );
    assert!(text.ends_with("(expected 201)"), "{text}");

    // 401 on wrong credentials.
    let wrong = c
        .login("ada@example.com", "nope-nope-nope")
        .await
        .unwrap_err();
    assert_eq!(wrong.status(), Some(401), "{wrong}");

    let health = c.health().await.unwrap();
    assert_eq!(health.status, "healthy");
    assert!(!health.boot_id.is_empty());
    assert!(health.version.is_some() && health.started_at.is_some() && health.uptime_s.is_some());

    let detailed = c.health_detailed().await.unwrap();
    assert_eq!(detailed.http_status, 200);
    assert_eq!(detailed.services.get("database"), Some(&json!("connected")));

    let openapi = c.openapi().await.unwrap();
    assert!(openapi.get("openapi").is_some(), "{openapi}");
    let docs = c.docs().await.unwrap();
    assert!(docs.to_lowercase().contains("<html"), "docs is HTML");

    let agents = c.agents_status(&session).await.unwrap();
    assert!(!agents.agents.is_empty());
    assert!(agents.circuit_breaker.is_some());

    // Restart: no token 401, a user 403, the admin 200.
    let anonymous = c.restart(None).await.unwrap_err();
    assert_eq!(anonymous.status(), Some(401), "{anonymous}");
    let forbidden = c.restart(Some(&session)).await.unwrap_err();
    assert_eq!(forbidden.status(), Some(403), "{forbidden}");
    assert!(
        forbidden
            .to_string()
            .starts_with("POST /admin/restart answered 403"),
        "{forbidden}"
    );
    let admin = c.login_admin().await.unwrap();
    c.restart(Some(&admin)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_and_collect_the_five_events_over_subprotocol_auth() {
    let stack = start("").await;
    let c = &stack.client;
    let session = user(c, "bob@example.com").await;

    let mut socket = c
        .agent_events(&session, SocketAuth::Subprotocol, Path::Primary)
        .await
        .unwrap();
    assert_eq!(socket.subprotocol(), Some("jwt-auth"));
    assert_eq!(socket.established().user_id, session.user_id);
    assert!(socket.established().connection_id.is_some());
    let pong = socket.ping().await.unwrap();
    assert!(pong.timestamp.is_some());

    let run = c
        .execute_agent(
            &session,
            &ExecuteRequest::new("hello there agent"),
            Route::V2,
        )
        .await
        .unwrap();
    assert_eq!(run.status, "started");

    let events = socket.collect_run(&run.run_id, WAIT).await.unwrap();
    assert_eq!(
        events.names(),
        [
            "agent_started",
            "agent_thinking",
            "tool_executing",
            "tool_completed",
            "agent_completed"
        ]
    );
    for (i, e) in events.events.iter().enumerate() {
        assert_eq!(e.seq, Some(i as u64 + 1));
        assert_eq!(e.kind.index, Some(i));
        assert_eq!(e.thread_id.as_deref(), Some(run.thread_id.as_str()));
        assert!(
            e.timestamp.is_some(),
            "timestamp parses: {:?}",
            e.timestamp_raw
        );
    }
    assert!(
        events
            .events
            .windows(2)
            .all(|w| w[0].received_at <= w[1].received_at)
    );
    assert_eq!(events.events[3].data["output"], json!(3));
    assert_eq!(
        events.result("result"),
        Some(&json!("3 words received: hello there agent"))
    );

    let status = c.run_status(&session, &run.run_id).await.unwrap();
    assert_eq!(status.run_id, run.run_id);
    assert_eq!(status.status, "completed");

    // The user's message and the answer are in the thread, oldest first.
    let messages = c.messages(&session, &run.thread_id).await.unwrap();
    let roles: Vec<&str> = messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["user", "assistant"]);
    assert_eq!(messages[0].content, "hello there agent");
    socket.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_route_legacy_path_and_header_auth() {
    let stack = start("").await;
    let c = &stack.client;
    let session = user(c, "cy@example.com").await;
    let mut socket = c
        .agent_events(&session, SocketAuth::Header, Path::Legacy)
        .await
        .unwrap();
    assert_eq!(socket.subprotocol(), None);
    assert_eq!(socket.path(), "/ws");

    let thread = c.create_thread(&session, Some("legacy")).await.unwrap();
    let run = c
        .execute_agent(
            &session,
            &ExecuteRequest::new("one two")
                .agent("default")
                .in_thread(&thread.thread_id),
            Route::Legacy,
        )
        .await
        .unwrap();
    assert_eq!(run.thread_id, thread.thread_id);
    let events = socket.collect_run(&run.run_id, WAIT).await.unwrap();
    assert_eq!(events.events.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_and_messages_round_trip() {
    let stack = start("").await;
    let c = &stack.client;
    let session = user(c, "dee@example.com").await;
    let other = user(c, "eve@example.com").await;

    let first = c.create_thread(&session, Some("first")).await.unwrap();
    assert_eq!(first.title.as_deref(), Some("first"));
    assert!(first.created_at.is_some());
    let untitled = c.create_thread(&session, None).await.unwrap();
    assert!(untitled.title.is_some(), "an untitled thread gets a title");

    let posted = c
        .post_message(&session, &first.thread_id, "héllo wörld")
        .await
        .unwrap();
    assert_eq!(posted.role, "user");
    assert_eq!(posted.content, "héllo wörld");
    assert_eq!(posted.thread_id.as_deref(), Some(first.thread_id.as_str()));

    let listed = c.messages(&session, &first.thread_id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].message_id, posted.message_id);

    let threads = c.list_threads(&session).await.unwrap();
    let ids: Vec<&str> = threads.iter().map(|t| t.thread_id.as_str()).collect();
    assert_eq!(ids, [first.thread_id.as_str(), untitled.thread_id.as_str()]);

    // Someone else's thread is 404, said in contract words.
    let foreign = c.messages(&other, &first.thread_id).await.unwrap_err();
    assert_eq!(foreign.status(), Some(404));
    assert!(
        foreign
            .to_string()
            .starts_with("GET /api/threads/{thread_id}/messages answered 404 not_found: "),
        "{foreign}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_errors_name_the_contract_row() {
    let stack = start("missing_v2_execute").await;
    let c = &stack.client;
    let session = user(c, "fay@example.com").await;

    let err = c
        .execute_agent(&session, &ExecuteRequest::new("hi"), Route::V2)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            ClientError::Status {
                status: 404,
                expected: 202,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        text.starts_with("POST /api/agent/v2/execute answered 404"),
        "{text}"
    );
    assert!(text.ends_with("(expected 202)"), "{text}");
    // The legacy alias still works.
    c.execute_agent(&session, &ExecuteRequest::new("hi"), Route::Legacy)
        .await
        .unwrap();

    let unknown = c.run_status(&session, "no-such-run").await.unwrap_err();
    assert_eq!(unknown.code(), Some("not_found"));
    assert!(
        unknown
            .to_string()
            .starts_with("GET /api/agent/runs/{run_id} answered 404 not_found: \""),
        "{unknown}"
    );
}

/// The request bodies' keys are the configuration's. Renamed, the reference stack (which
/// reads the contract's names) refuses each request as invalid; with the defaults the
/// same client calls succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_use_the_configured_keys() {
    let stack = start("").await;
    let c = &stack.client;
    let session = user(c, "ivy@example.com").await;
    c.execute_agent(&session, &ExecuteRequest::new("hi"), Route::V2)
        .await
        .unwrap();

    let renamed = |rename: fn(&mut goldenpath::contract::Fields)| {
        let mut config = Contract::default();
        rename(&mut config.fields);
        StackClient::new(&format!("http://{}", stack.addr), Arc::new(config)).unwrap()
    };
    let status = |e: ClientError| (e.status(), e.code().map(str::to_owned));
    let invalid = (Some(422), Some("validation_error".to_owned()));
    let err = renamed(|f| f.display_name = "name".into())
        .register("jon@example.com", "password-123", "Jon")
        .await
        .unwrap_err();
    assert_eq!(status(err), invalid, "register without display_name");
    let err = renamed(|f| f.password = "passphrase".into())
        .register("jon@example.com", "password-123", "Jon")
        .await
        .unwrap_err();
    assert_eq!(status(err), invalid, "register without password");
    let err = renamed(|f| f.prompt = "question".into())
        .execute_agent(&session, &ExecuteRequest::new("hi"), Route::V2)
        .await
        .unwrap_err();
    assert_eq!(status(err), invalid, "execute without message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_requests_for_status_code_scenarios() {
    let stack = start("").await;
    let c = &stack.client;
    let session = user(c, "gus@example.com").await;
    let paths = &c.contract().paths;

    let malformed = c
        .send(
            RawRequest::post(paths.threads.as_str())
                .session(&session)
                .json_text("{not json"),
        )
        .await
        .unwrap();
    assert_eq!(malformed.status, 400);
    assert!(malformed.error_code.is_some(), "{}", malformed.body);

    let missing = c
        .send(RawRequest::get(paths.threads.as_str()))
        .await
        .unwrap();
    assert_eq!(missing.status, 401);
    let forged = c
        .send(RawRequest::get(paths.threads.as_str()).bearer("a.b.c"))
        .await
        .unwrap();
    assert_eq!(forged.status, 401);

    let huge = "x".repeat(c.contract().limits.body_max_bytes + 1);
    let oversized = c
        .send(
            RawRequest::post(paths.threads.as_str())
                .session(&session)
                .json(json!({ "title": huge })),
        )
        .await
        .unwrap();
    assert_eq!(oversized.status, 413);

    let ok = c
        .send(RawRequest::get(paths.health.as_str()).header("X-Test", "1"))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    assert!(ok.json.as_ref().is_some_and(|j| j.get("boot_id").is_some()));
    assert!(ok.headers.contains_key("content-type"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_refusals_are_named() {
    let stack = start("").await;
    let c = &stack.client;

    let anonymous = c.agent_events_anonymous(Path::Primary).await.unwrap_err();
    assert!(
        matches!(
            anonymous,
            ClientError::Handshake {
                status: Some(401),
                ..
            }
        ),
        "{anonymous:?}"
    );
    assert!(
        anonymous
            .to_string()
            .starts_with("WebSocket upgrade on /websocket refused with HTTP 401 (expected 101)"),
        "{anonymous}"
    );

    let forged = goldenpath::client::Session::from_token("not.a.jwt");
    let err = c
        .agent_events(&forged, SocketAuth::Subprotocol, Path::Primary)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_subprotocol_echo_is_named_plainly() {
    let stack = start("no_subprotocol_echo").await;
    let c = &stack.client;
    let session = user(c, "hal@example.com").await;
    let err = c
        .agent_events(&session, SocketAuth::Subprotocol, Path::Primary)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NoSubprotocol { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the server selected no subprotocol although jwt-auth was offered (WebSocket upgrade on /websocket)"
    );
    // Header auth does not depend on the echo.
    c.agent_events(&session, SocketAuth::Header, Path::Primary)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_and_disordered_runs_say_what_arrived() {
    let stack = start("drop_event:tool_executing").await;
    let c = &stack.client;
    let session = user(c, "ida@example.com").await;
    let mut socket = c
        .agent_events(&session, SocketAuth::Header, Path::Primary)
        .await
        .unwrap();
    let run = c
        .execute_agent(&session, &ExecuteRequest::new("x"), Route::V2)
        .await
        .unwrap();
    let err = socket.collect_run(&run.run_id, WAIT).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.got.len(), 4, "{text}");
    assert!(text.starts_with("expected the five agent events"), "{text}");
    assert!(text.contains("missing tool_executing"), "{text}");

    let stack = start("reorder_events").await;
    let c = &stack.client;
    let session = user(c, "jon@example.com").await;
    let mut socket = c
        .agent_events(&session, SocketAuth::Header, Path::Primary)
        .await
        .unwrap();
    let run = c
        .execute_agent(&session, &ExecuteRequest::new("x"), Route::V2)
        .await
        .unwrap();
    let err = socket.collect_run(&run.run_id, WAIT).await.unwrap_err();
    let text = err.to_string();
    assert!(err.ended.is_none(), "{text}");
    assert!(text.contains("in order"), "{text}");
    assert!(text.contains("arrived after"), "{text}");

    // A timeout reads like the brief: what came, then silence.
    let stack = start("drop_event:agent_completed").await;
    let c = &stack.client;
    let session = user(c, "kim@example.com").await;
    let mut socket = c
        .agent_events(&session, SocketAuth::Header, Path::Primary)
        .await
        .unwrap();
    let run = c
        .execute_agent(&session, &ExecuteRequest::new("x"), Route::V2)
        .await
        .unwrap();
    let err = socket
        .collect_run(&run.run_id, Duration::from_millis(700))
        .await
        .unwrap_err();
    assert!(matches!(err.ended, Some(RunEnd::Silence { .. })), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "expected the five agent events within 700ms; got agent_started, agent_thinking, \
             tool_executing, tool_completed, then nothing for"
        ),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_users_runs_are_ignored_and_closes_are_surfaced() {
    let stack = start("").await;
    let c = &stack.client;
    let alice = user(c, "al@example.com").await;
    let bob = user(c, "bo@example.com").await;
    let mut bobs = c
        .agent_events(&bob, SocketAuth::Header, Path::Primary)
        .await
        .unwrap();
    let run = c
        .execute_agent(&alice, &ExecuteRequest::new("secret"), Route::V2)
        .await
        .unwrap();
    // Bob sees nothing of Alice's run.
    let nothing = bobs
        .next_event(Duration::from_millis(400))
        .await
        .unwrap_err();
    assert!(
        matches!(nothing, ClientError::SocketTimeout { .. }),
        "{nothing:?}"
    );
    let _ = run;

    // A restart closes open sockets with 1012.
    let admin = c.login_admin().await.unwrap();
    c.restart(Some(&admin)).await.unwrap();
    let closed = loop {
        match bobs.next_frame(WAIT).await {
            Ok(AgentFrame::Event(e)) => panic!("unexpected event {e:?}"),
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(closed, ClientError::SocketClosed { code: 1012, .. }),
        "{closed:?}"
    );
    assert!(
        closed
            .to_string()
            .starts_with("the server closed /websocket with 1012"),
        "{closed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_ack_stats_broadcasts_and_origin_check() {
    let stack = start_with("", |c| c.stats_interval = Duration::from_millis(100)).await;
    let c = &stack.client;

    let mut dash = c.dashboard(None).await.unwrap();
    assert!(matches!(
        dash.next_frame(WAIT).await.unwrap(),
        DashboardFrame::ConnectionAck { .. }
    ));
    let stats = loop {
        if let DashboardFrame::StatsUpdate { stats, .. } = dash.next_frame(WAIT).await.unwrap() {
            break stats;
        }
    };
    assert_eq!(stats.active_connections, Some(1));

    let session = user(c, "lu@example.com").await;
    let run = c
        .execute_agent(&session, &ExecuteRequest::new("hi"), Route::V2)
        .await
        .unwrap();
    let done = loop {
        if let DashboardFrame::QueryComplete { run_id, .. } = dash.next_frame(WAIT).await.unwrap() {
            break run_id;
        }
    };
    assert_eq!(done.as_deref(), Some(run.run_id.as_str()));

    let mut foreign = c.dashboard(Some("http://evil.example")).await.unwrap();
    assert_eq!(
        foreign.expect_close(WAIT).await.unwrap(),
        (1008, "Origin not allowed".to_owned())
    );
    let err = foreign.next_frame(WAIT).await.unwrap_err();
    assert!(
        matches!(err, ClientError::SocketClosed { code: 1008, .. }),
        "{err:?}"
    );

    let mut no_origin = c.dashboard_without_origin().await.unwrap();
    assert_eq!(no_origin.expect_close(WAIT).await.unwrap().0, 1008);
    dash.close().await;

    // The payloads' keys are the configuration's: spelled otherwise, the same stack's
    // statistics are not found.
    let mut config = Contract::default();
    config.dashboard_fields.active_connections = "open_sockets".into();
    let renamed = StackClient::new(&format!("http://{}", stack.addr), Arc::new(config)).unwrap();
    let mut dash = renamed.dashboard(None).await.unwrap();
    let stats = loop {
        if let DashboardFrame::StatsUpdate { stats, .. } = dash.next_frame(WAIT).await.unwrap() {
            break stats;
        }
    };
    assert_eq!(
        (stats.active_connections, stats.users.is_some()),
        (None, true)
    );
    dash.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_stack_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = StackClient::new(&format!("http://{addr}/"), Arc::new(Contract::default())).unwrap();
    assert_eq!(c.base_url(), format!("http://{addr}"));

    let err = c.health().await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("cannot connect to http://{addr}: connection refused — is the stack running?")
    );
    let session = goldenpath::client::Session::from_token("t");
    let ws = c
        .agent_events(&session, SocketAuth::Header, Path::Primary)
        .await
        .unwrap_err();
    assert!(ws.is_unreachable(), "{ws:?}");

    // After a restart the port changes: point the client elsewhere.
    let stack = start("").await;
    let moved = c.with_base_url(&format!("http://{}", stack.addr)).unwrap();
    assert_eq!(moved.health().await.unwrap().status, "healthy");
    assert!(StackClient::new("ftp://x", Arc::new(Contract::default())).is_err());
}

/// What a [`counting_server`] saw: connections accepted and each request's head.
type Seen = (Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>);

/// A bare HTTP/1.1 server that counts the connections it accepts and keeps each
/// request's head. With `keep_alive` it answers every request of a connection;
/// without, it answers one and closes the connection without saying so (no
/// `Connection: close`), like a backend whose keep-alive timer fired or that
/// restarted: the pooled connection is then stale.
async fn counting_server(keep_alive: bool) -> (SocketAddr, Arc<AtomicUsize>) {
    let (addr, (accepted, _)) = recording_server(keep_alive).await;
    (addr, accepted)
}

async fn recording_server(keep_alive: bool) -> (SocketAddr, Seen) {
    let body = r#"{"status":"healthy","boot_id":"b-1"}"#;
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    answering_server(keep_alive, vec![answer], Duration::ZERO).await
}

/// The server behind [`recording_server`], answering each request by writing `pieces`
/// one after the other, `pause` apart.
async fn answering_server(
    keep_alive: bool,
    pieces: Vec<String>,
    pause: Duration,
) -> (SocketAddr, Seen) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Default::default();
    let (count, heads) = seen.clone();
    let pieces = Arc::new(pieces);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let heads = heads.clone();
            let pieces = pieces.clone();
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buf = [0u8; 1024];
                loop {
                    while !pending.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => pending.extend_from_slice(&buf[..n]),
                        }
                    }
                    heads
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&pending).into_owned());
                    pending.clear();
                    for piece in pieces.iter() {
                        if socket.write_all(piece.as_bytes()).await.is_err() {
                            return;
                        }
                        if !pause.is_zero() {
                            tokio::time::sleep(pause).await;
                        }
                    }
                    if !keep_alive {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_path_prefixes_every_request_in_origin_form() {
    let (addr, (_, heads)) = recording_server(true).await;
    let c = StackClient::new(
        &format!("http://{addr}/edge/"),
        Arc::new(Contract::default()),
    )
    .unwrap();
    assert_eq!(c.base_url(), format!("http://{addr}/edge"));
    c.health().await.unwrap();
    c.send(RawRequest::get("/api/a b?q=ü")).await.unwrap();
    let heads = heads.lock().unwrap().clone();
    let lines: Vec<_> = heads
        .iter()
        .map(|h| h.lines().next().unwrap().to_owned())
        .collect();
    assert_eq!(
        lines,
        [
            "GET /edge/health HTTP/1.1",
            "GET /edge/api/a%20b?q=%C3%BC HTTP/1.1"
        ]
    );
    for head in &heads {
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("\r\nhost: {addr}\r\n")),
            "no Host header for {addr}: {head:?}"
        );
    }
}

/// A body that arrives in several pieces (chunked, with pauses between the chunks, so
/// that the client reads them as separate frames) is read whole, and the connection is
/// kept for the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_in_several_chunks_is_read_whole() {
    let mut pieces = vec![
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_owned(),
    ];
    for chunk in [
        r#"{"status":"hea"#,
        r#"lthy","boot_id":"#,
        r#""b-2","uptime_s":7}"#,
    ] {
        pieces.push(format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    pieces.push("0\r\n\r\n".to_owned());
    let (addr, (accepted, _)) = answering_server(true, pieces, Duration::from_millis(20)).await;
    let c = StackClient::new(&format!("http://{addr}"), Arc::new(Contract::default())).unwrap();
    for _ in 0..2 {
        let health = c.health().await.unwrap();
        assert_eq!(
            (
                health.status.as_str(),
                health.boot_id.as_str(),
                health.uptime_s
            ),
            ("healthy", "b-2", Some(7.0))
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_share_one_kept_alive_connection() {
    let (addr, accepted) = counting_server(true).await;
    let c = StackClient::new(&format!("http://{addr}"), Arc::new(Contract::default())).unwrap();
    for _ in 0..20 {
        assert_eq!(c.health().await.unwrap().boot_id, "b-1");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_closed_while_idle_are_not_reused() {
    let (addr, accepted) = counting_server(false).await;
    let c = StackClient::new(&format!("http://{addr}"), Arc::new(Contract::default())).unwrap();
    for i in 0..20 {
        let health = c
            .health()
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(health.boot_id, "b-1");
        // Without a pause the close may still be in flight when the next request
        // takes the connection: the request must then go out on a new one.
        if i % 2 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        20,
        "one connection per request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_goes_through_tls_and_a_failed_handshake_is_named() {
    // The plain-HTTP stack behind an https:// URL answers the TLS hello with an HTTP
    // 400, so the handshake fails: proof that https goes through TLS, and its words.
    let stack = start("").await;
    let url = format!("https://{}", stack.addr);
    let c = StackClient::new(&url, Arc::new(Contract::default())).unwrap();
    let err = c.health().await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!(
            "cannot connect to {url}: the TLS handshake failed (does it serve https?): "
        )),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_that_never_answers_times_out() {
    let mut config = Contract::default();
    config.timeouts.http_request = Duration::from_millis(200);
    // The kernel completes the connect, but nothing ever reads or answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let c = StackClient::new(&url, Arc::new(config)).unwrap();
    let err = c.health().await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    assert_eq!(err.to_string(), "GET /health gave no answer within 200ms");
}

/// Opens many agent-event sockets from a child process (so the in-process stack's own
/// memory is not counted) and checks the client's resident memory per socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_socket_memory_per_user() {
    let stack = start("").await;
    let c = &stack.client;
    let session = user(c, "mem@example.com").await;
    let exe = std::env::current_exe().unwrap();
    let out = tokio::process::Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "memory_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GP_MEM_URL", c.base_url())
        .env("GP_MEM_TOKEN", &session.token)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let per: u64 = stdout
        .split("bytes_per_socket=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no measurement in: {stdout}"));
    println!("client memory per agent-events socket: {per} bytes");
    assert!(per < 64 * 1024, "{per} bytes per agent-events socket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by agent_socket_memory_per_user in a child process"]
async fn memory_child() {
    let (Ok(url), Ok(token)) = (std::env::var("GP_MEM_URL"), std::env::var("GP_MEM_TOKEN")) else {
        return;
    };
    fn rss() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        let pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        pages * 4096
    }
    const N: usize = 400;
    let c = StackClient::new(&url, Arc::new(Contract::default())).unwrap();
    let session = goldenpath::client::Session::from_token(token);
    // Warm up allocator and TLS-free code paths.
    let mut sockets = Vec::with_capacity(N + 20);
    for _ in 0..20 {
        sockets.push(
            c.agent_events(&session, SocketAuth::Header, Path::Primary)
                .await
                .unwrap(),
        );
    }
    let before = rss();
    for _ in 0..N {
        sockets.push(
            c.agent_events(&session, SocketAuth::Header, Path::Primary)
                .await
                .unwrap(),
        );
    }
    for s in sockets.iter_mut() {
        s.ping().await.unwrap();
    }
    let after = rss();
    println!(
        "\nbytes_per_socket={}",
        after.saturating_sub(before) / N as u64
    );
}
