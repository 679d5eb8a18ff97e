//! Typed requests and answers of the contract's HTTP routes.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde_json::Value;

/// A logged-in user: the bearer token, and the user id read from its `sub` claim.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub token: String,
    pub user_id: Option<String>,
}

impl Session {
    /// A session from a raw token; `user_id` is taken from the JWT's `sub` claim when
    /// the token is a readable JWT (the signature is not checked here).
    pub fn from_token(token: impl Into<String>) -> Self {
        let token = token.into();
        let user_id = jwt_subject(&token);
        Session { token, user_id }
    }

    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.token.chars().take(12).collect();
        f.debug_struct("Session")
            .field("token", &format!("{shown}…"))
            .field("user_id", &self.user_id)
            .finish()
    }
}

fn jwt_subject(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// `POST register` answer (201).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub user_id: String,
    pub email: Option<String>,
}

/// Which execute route to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `paths.execute` (`/api/agent/v2/execute`).
    V2,
    /// `paths.execute_legacy` (`/api/agent/run_agent_v2`).
    Legacy,
}

/// The body of an execute call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecuteRequest {
    pub message: String,
    /// Agent name; omitted from the body when `None` (the stack uses `default`).
    pub agent: Option<String>,
    /// An existing thread; a new one is created when `None`.
    pub thread_id: Option<String>,
}

impl ExecuteRequest {
    pub fn new(message: impl Into<String>) -> Self {
        ExecuteRequest {
            message: message.into(),
            ..Default::default()
        }
    }

    pub fn agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    pub fn in_thread(mut self, thread_id: impl Into<String>) -> Self {
        self.thread_id = Some(thread_id.into());
        self
    }
}

/// Execute answer (202).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStarted {
    pub run_id: String,
    pub thread_id: String,
    pub status: String,
}

/// `GET run_status` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStatus {
    pub run_id: String,
    pub thread_id: Option<String>,
    /// `started`, `running`, `completed` or `failed`.
    pub status: String,
    pub result: Option<Value>,
}

/// One agent in `GET agents_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentState {
    pub name: String,
    /// `available`, `busy` or `unavailable`.
    pub status: String,
}

/// `GET agents_status` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentsStatus {
    pub agents: Vec<AgentState>,
    /// `closed` or `open`.
    pub circuit_breaker: Option<String>,
}

/// A thread (create answer, or an item of the list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub thread_id: String,
    pub title: Option<String>,
    pub created_at: Option<String>,
}

/// A message (post answer, or an item of the list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub message_id: String,
    /// Present in the post answer; items of a list may omit it.
    pub thread_id: Option<String>,
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    pub created_at: Option<String>,
}

/// `GET health` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub status: String,
    /// New at every process start: proves a restart happened.
    pub boot_id: String,
    pub version: Option<String>,
    pub started_at: Option<String>,
    pub uptime_s: Option<f64>,
}

/// `GET health_detailed` answer: 200 when all is well, 503 when a dependency is down.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthDetailed {
    pub http_status: u16,
    pub status: Option<String>,
    /// e.g. `database` → `"connected"`.
    pub services: BTreeMap<String, Value>,
}

/// The body of a [`RawRequest`].
#[derive(Debug, Clone, PartialEq, Default)]
pub enum RawBody {
    #[default]
    Empty,
    /// Serialised with `Content-Type: application/json`.
    Json(Value),
    /// Sent as is, with the given content type (malformed JSON, oversized bodies).
    Text { content_type: String, text: String },
}

/// An arbitrary request, for the status-code scenarios (malformed JSON, oversized
/// bodies, missing or forged tokens). Paths are usually taken from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRequest {
    pub method: http::Method,
    /// Path (and query) appended to the base URL.
    pub path: String,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub bearer: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: RawBody,
}

impl RawRequest {
    pub fn new(method: http::Method, path: impl Into<String>) -> Self {
        RawRequest {
            method,
            path: path.into(),
            bearer: None,
            headers: Vec::new(),
            body: RawBody::Empty,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(http::Method::GET, path)
    }

    pub fn post(path: impl Into<String>) -> Self {
        Self::new(http::Method::POST, path)
    }

    /// `Authorization: Bearer <token>` with any token (forged, expired, `alg: none`).
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }

    pub fn session(self, session: &Session) -> Self {
        self.bearer(session.token.clone())
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = RawBody::Json(body);
        self
    }

    /// A body sent verbatim as `application/json` (e.g. malformed JSON).
    pub fn json_text(mut self, text: impl Into<String>) -> Self {
        self.body = RawBody::Text {
            content_type: "application/json".into(),
            text: text.into(),
        };
        self
    }

    pub fn text(mut self, content_type: impl Into<String>, text: impl Into<String>) -> Self {
        self.body = RawBody::Text {
            content_type: content_type.into(),
            text: text.into(),
        };
        self
    }
}

/// What the stack answered to a [`RawRequest`].
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
    /// `error.code` of the error envelope, when there is one.
    pub error_code: Option<String>,
    /// `error.message` of the error envelope, when there is one.
    pub error_message: Option<String>,
}
