//! Typed requests and answers of the contract's HTTP routes.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde_json::Value;

/// A logged-in user: the bearer token, and the user id read from its `sub` claim.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// The bearer token (a JWT) sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// The user's id: the login answer's `user_id` when present, else the token's `sub`; None when
    /// neither is readable.
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
    /// Id of the new user.
    pub user_id: String,
    /// The email as the stack echoed it; None when the answer omits it.
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
    /// The user's message to the agent (`message` in the body, 1..=16384 characters).
    pub message: String,
    /// Agent name; omitted from the body when `None` (the stack uses `default`).
    pub agent: Option<String>,
    /// An existing thread; a new one is created when `None`.
    pub thread_id: Option<String>,
}

impl ExecuteRequest {
    /// A request for `message`, with the default agent in a new thread.
    pub fn new(message: impl Into<String>) -> Self {
        ExecuteRequest {
            message: message.into(),
            ..Default::default()
        }
    }

    /// Names the agent that runs (sent as `agent`).
    pub fn agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    /// Runs in an existing thread (sent as `thread_id`) instead of a new one.
    pub fn in_thread(mut self, thread_id: impl Into<String>) -> Self {
        self.thread_id = Some(thread_id.into());
        self
    }
}

/// Execute answer (202).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStarted {
    /// Id of the started run, for `GET run_status` and to match its agent events.
    pub run_id: String,
    /// The thread the run belongs to (the given one, or the one created for it).
    pub thread_id: String,
    /// Run status at acceptance; the contract says `started`.
    pub status: String,
}

/// `GET run_status` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStatus {
    /// Id of the run.
    pub run_id: String,
    /// The run's thread; None when the answer omits it.
    pub thread_id: Option<String>,
    /// `started`, `running`, `completed` or `failed`.
    pub status: String,
    /// The agent's answer once the run completed; None while running, or when null or absent.
    pub result: Option<Value>,
}

/// One agent in `GET agents_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentState {
    /// Agent name, e.g. `default`.
    pub name: String,
    /// `available`, `busy` or `unavailable`.
    pub status: String,
}

/// `GET agents_status` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentsStatus {
    /// Every agent the stack offers, in the order listed.
    pub agents: Vec<AgentState>,
    /// `closed` or `open`.
    pub circuit_breaker: Option<String>,
}

/// A thread (create answer, or an item of the list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// Id of the thread.
    pub thread_id: String,
    /// The thread's title; None when the answer omits it.
    pub title: Option<String>,
    /// Creation time (RFC 3339 UTC with milliseconds); None when the answer omits it.
    pub created_at: Option<String>,
}

/// A message (post answer, or an item of the list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Id of the message.
    pub message_id: String,
    /// Present in the post answer; items of a list may omit it.
    pub thread_id: Option<String>,
    /// `user` or `assistant`.
    pub role: String,
    /// The message text.
    pub content: String,
    /// Creation time (RFC 3339 UTC with milliseconds); None when the answer omits it.
    pub created_at: Option<String>,
}

/// `GET health` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// `healthy` when the stack is up.
    pub status: String,
    /// New at every process start: proves a restart happened.
    pub boot_id: String,
    /// The stack's version; None when absent or not a string.
    pub version: Option<String>,
    /// When the process started (RFC 3339); None when absent or not a string.
    pub started_at: Option<String>,
    /// Seconds since the process started; None when absent or not a number.
    pub uptime_s: Option<f64>,
}

/// `GET health_detailed` answer: 200 when all is well, 503 when a dependency is down.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthDetailed {
    /// HTTP status of the answer: 200, or 503 when a dependency is down.
    pub http_status: u16,
    /// Overall status (e.g. `healthy`); None when absent.
    pub status: Option<String>,
    /// e.g. `database` → `"connected"`.
    pub services: BTreeMap<String, Value>,
}

/// The body of a [`RawRequest`].
#[derive(Debug, Clone, PartialEq, Default)]
pub enum RawBody {
    /// No body and no `Content-Type`.
    #[default]
    Empty,
    /// Serialised with `Content-Type: application/json`.
    Json(Value),
    /// Sent as is, with the given content type (malformed JSON, oversized bodies).
    Text {
        /// Value of the `Content-Type` header.
        content_type: String,
        /// The body, byte for byte.
        text: String,
    },
}

/// An arbitrary request, for the status-code scenarios (malformed JSON, oversized
/// bodies, missing or forged tokens). Paths are usually taken from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRequest {
    /// HTTP method of the request.
    pub method: http::Method,
    /// Path (and query) appended to the base URL.
    pub path: String,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub bearer: Option<String>,
    /// Extra headers, sent as given (e.g. `Origin`, or a `Host` of its own).
    pub headers: Vec<(String, String)>,
    /// What the request carries.
    pub body: RawBody,
}

impl RawRequest {
    /// A `method` request to `path`, with no token, headers or body.
    pub fn new(method: http::Method, path: impl Into<String>) -> Self {
        RawRequest {
            method,
            path: path.into(),
            bearer: None,
            headers: Vec::new(),
            body: RawBody::Empty,
        }
    }

    /// A `GET` of `path`.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(http::Method::GET, path)
    }

    /// A `POST` to `path`.
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(http::Method::POST, path)
    }

    /// `Authorization: Bearer <token>` with any token (forged, expired, `alg: none`).
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }

    /// Sends the session's token as `Authorization: Bearer <token>`.
    pub fn session(self, session: &Session) -> Self {
        self.bearer(session.token.clone())
    }

    /// Adds a header (may be given more than once).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A JSON body, serialised with `Content-Type: application/json`.
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

    /// A body sent verbatim with the given `Content-Type` (e.g. oversized bodies).
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
    /// HTTP status code of the answer.
    pub status: u16,
    /// Response headers.
    pub headers: http::HeaderMap,
    /// The body as text (read lossily when it is not UTF-8).
    pub body: String,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
    /// `error.code` of the error envelope, when there is one.
    pub error_code: Option<String>,
    /// `error.message` of the error envelope, when there is one.
    pub error_message: Option<String>,
}

/// `POST login` answer (200), whole: the session and what the answer says of the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedIn {
    /// The token as a session, with the user id from its `sub` claim.
    pub session: Session,
    /// `fields.token_type` of the answer (the contract says `"bearer"`), when present.
    pub token_type: Option<String>,
    /// `fields.expires_in`: the token's lifetime in seconds, when present.
    pub expires_in: Option<i64>,
}
