//! Shared test helpers: start the real server in-process on 127.0.0.1:0 with a
//! temporary DATA_DIR, and talk to it over real sockets (HTTP and WebSocket).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use agent_stack::{Config, ExitReason, Shutdown};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Generous upper bound for anything the tests wait for.
pub const WAIT: Duration = Duration::from_secs(5);

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A server running in this test's runtime.
pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: Arc<tempfile::TempDir>,
    pub config: Config,
    pub shutdown: Shutdown,
    pub handle: JoinHandle<anyhow::Result<ExitReason>>,
    pub http: reqwest::Client,
}

impl TestServer {
    /// A clean stack with test defaults.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A stack whose test-default config `tweak` adjusts.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = Config::for_tests(dir.path());
        tweak(&mut config);
        Self::start_in(dir, config).await
    }

    /// A stack with these seeded faults.
    pub async fn with_faults(faults: &str) -> Self {
        let faults = faults.parse().expect("valid faults");
        Self::start_with(|c| c.faults = faults).await
    }

    /// Starts a server on `config` (whose DATA_DIR lives in `dir`) and waits until
    /// it answers its health path (with any status; `/health`, or `/v2/status`
    /// in dialect B).
    pub async fn start_in(dir: Arc<tempfile::TempDir>, config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let handle = tokio::spawn(agent_stack::serve_with_shutdown(
            listener,
            config.clone(),
            shutdown.clone(),
        ));
        let server = Self {
            addr,
            dir,
            config,
            shutdown,
            handle,
            http: reqwest::Client::new(),
        };
        // Connections queue in the backlog until serve is ready; one request
        // proves that it is.
        let health =
            agent_stack::dialect::route_path(&server.config, agent_stack::dialect::Route::Health);
        server
            .http
            .get(server.url(health))
            .timeout(WAIT)
            .send()
            .await
            .expect("server answers /health");
        server
    }

    /// A fresh server on the same DATA_DIR (after this one has stopped).
    pub async fn successor(&self) -> Self {
        Self::start_in(self.dir.clone(), self.config.clone()).await
    }

    /// Same DATA_DIR, other configuration.
    pub async fn successor_with(&self, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.config.clone();
        tweak(&mut config);
        Self::start_in(self.dir.clone(), config).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Stops the server as SIGTERM would and returns serve's result.
    pub async fn stop(self) -> ExitReason {
        self.shutdown.trigger(ExitReason::Signal);
        self.join().await
    }

    /// Waits for serve to return.
    pub async fn join(self) -> ExitReason {
        tokio::time::timeout(WAIT, self.handle)
            .await
            .expect("serve returns")
            .expect("serve task")
            .expect("serve ok")
    }

    // ---- HTTP ----

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path)).timeout(WAIT);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.request(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.request(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// POST with a raw body (for malformed JSON and size limits).
    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .timeout(WAIT);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Registers a new user with a unique email and logs in: (user_id, token).
    pub async fn new_user(&self) -> (String, String) {
        let email = format!("u-{}@example.com", uuid::Uuid::new_v4().simple());
        let (status, body) = self
            .post(
                "/api/auth/register",
                None,
                json!({"email": email, "password": "password-123", "display_name": "Tester"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let user_id = body["user_id"].as_str().unwrap().to_owned();
        (user_id, self.login(&email, "password-123").await)
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn admin_token(&self) -> String {
        let (email, password) = (
            self.config.admin_email.clone(),
            self.config.admin_password.clone(),
        );
        self.login(&email, &password).await
    }

    /// POST /api/agent/v2/execute, expecting 202; returns the body.
    pub async fn execute(&self, token: &str, message: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/agent/v2/execute",
                Some(token),
                json!({"message": message}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body
    }

    /// Polls a run until it has `status` (no event exists for every status).
    pub async fn wait_run_status(&self, token: &str, run_id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (code, body) = self
                .get(&format!("/api/agent/runs/{run_id}"), Some(token))
                .await;
            assert_eq!(code, StatusCode::OK, "{body}");
            if body["status"] == status {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run never reached {status}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // ---- WebSockets ----

    /// Agent-events socket authenticated by subprotocols.
    pub async fn ws_subprotocol(
        &self,
        path: &str,
        token: &str,
    ) -> Result<(Ws, tungstenite::http::Response<Option<Vec<u8>>>), tungstenite::Error> {
        let mut req = self.ws_url(path).into_client_request().unwrap();
        req.headers_mut().insert(
            "sec-websocket-protocol",
            format!("jwt-auth, jwt.{token}").parse().unwrap(),
        );
        tokio_tungstenite::connect_async(req).await
    }

    /// Agent-events socket authenticated by header.
    pub async fn ws_header(
        &self,
        path: &str,
        token: &str,
    ) -> Result<(Ws, tungstenite::http::Response<Option<Vec<u8>>>), tungstenite::Error> {
        let mut req = self.ws_url(path).into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        tokio_tungstenite::connect_async(req).await
    }

    /// An agent-events socket that has received its connection_established.
    pub async fn events_socket(&self, token: &str) -> Ws {
        let (mut ws, _) = self
            .ws_subprotocol("/websocket", token)
            .await
            .expect("connect");
        let hello = next_json(&mut ws).await;
        assert_eq!(hello["type"], "connection_established", "{hello}");
        ws
    }

    /// Dashboard socket with this Origin (None: no header).
    pub async fn dashboard(&self, origin: Option<&str>) -> Ws {
        let mut req = self
            .ws_url("/api/v1/ws/dashboard")
            .into_client_request()
            .unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse().unwrap());
        }
        tokio_tungstenite::connect_async(req)
            .await
            .expect("dashboard connect")
            .0
    }

    /// A dashboard socket with an allowed origin that has received connection_ack.
    pub async fn admitted_dashboard(&self) -> Ws {
        let mut ws = self.dashboard(Some("http://localhost:3000")).await;
        let ack = next_json(&mut ws).await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        ws
    }
}

/// The next text frame as JSON (control frames skipped).
pub async fn next_json(ws: &mut Ws) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("a frame within the wait")
            .expect("socket open")
            .expect("frame ok");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).expect("JSON frame"),
            Message::Close(f) => panic!("socket closed: {f:?}"),
            _ => continue,
        }
    }
}

/// The next text frame of this `type`, skipping others.
pub async fn next_of_type(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = next_json(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

/// Frames until (and including) `agent_completed` of `run_id`.
pub async fn run_events(ws: &mut Ws, run_id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let v = next_json(ws).await;
        if v["run_id"] == run_id {
            let done = v["type"] == "agent_completed";
            out.push(v);
            if done {
                return out;
            }
        }
    }
}

/// Sends a ping and collects every frame until the pong. Agent-event frames
/// queued for this socket before the ping are sent before the pong, so this
/// proves what has (and has not) been delivered.
pub async fn drain_until_pong(ws: &mut Ws) -> Vec<Value> {
    ws.send(Message::Text(r#"{"type":"ping"}"#.into()))
        .await
        .unwrap();
    let mut before = Vec::new();
    loop {
        let v = next_json(ws).await;
        if v["type"] == "pong" {
            return before;
        }
        before.push(v);
    }
}

/// Waits for the close frame; returns (code, reason).
pub async fn expect_close(ws: &mut Ws) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("close within the wait");
        match msg {
            Some(Ok(Message::Close(Some(CloseFrame { code, reason })))) => {
                return (u16::from(code), reason.to_string());
            }
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// The HTTP status of a refused WebSocket handshake.
pub fn refused_status(err: tungstenite::Error) -> u16 {
    match err {
        tungstenite::Error::Http(res) => res.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

/// Every JSON line of the activity log (after the server has flushed it).
pub fn activity_lines(server_dir: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(server_dir.join("activity.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// Asserts an error body of the contract's shape with this code.
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

/// RFC 3339 UTC with milliseconds: `2026-01-02T15:30:45.123Z`.
pub fn assert_timestamp(v: &Value) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is a string: {v}"));
    assert_eq!(s.len(), 24, "{s}");
    assert!(s.ends_with('Z') && s.as_bytes()[19] == b'.', "{s}");
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}"));
}
