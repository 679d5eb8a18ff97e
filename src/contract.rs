//! The stack's contract as goldenpath sees it: every path, event name, JSON field,
//! limit, timeout and the admin account that `shared/CONTRACT.md` defines, with the
//! contract's values as defaults.
//!
//! [`Contract`] is what [`crate::client::StackClient`] and the steps read; it holds no
//! harness settings (targets, load profiles, thresholds: those are
//! [`crate::config::Config`]'s). A team whose backend spells something differently
//! changes it in `goldenpath.toml`, never in code.
//!
//! Why one long file: one struct per section of `goldenpath.toml` that describes the
//! stack, each field documented with its contract default, and the checks across them;
//! split, a reader would look for a spelling in several files.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// Everything the harness must know of a stack's API to drive it. Every field defaults
/// to the contract's value; in `goldenpath.toml` each is a section of its own
/// (`[paths]`, `[events]`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Contract {
    /// HTTP and WebSocket paths of the stack.
    pub paths: Paths,
    /// Names of the WebSocket frame types (`type` field).
    pub events: Events,
    /// WebSocket handshake details: subprotocols, dashboard origin.
    pub websocket: WebSocket,
    /// JSON field names the client reads.
    pub fields: Fields,
    /// JSON field names of the dashboard socket's payloads.
    pub dashboard_fields: DashboardFields,
    /// Limits the contract promises.
    pub limits: Limits,
    /// How long the harness waits for things.
    pub timeouts: Timeouts,
    /// The admin account that exists from start-up.
    pub admin: Admin,
    /// Values of the stack's answers that the harness checks (`healthy`).
    pub values: Values,
}

/// `[values]`: values in the stack's answers that mean something to the harness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Values {
    /// The health answer's `fields.status` of a stack that is ready (`healthy`; some
    /// stacks say `ok` or `UP`).
    pub healthy: String,
}

impl Default for Values {
    fn default() -> Self {
        Values {
            healthy: "healthy".into(),
        }
    }
}

/// An absolute request path such as `/api/threads/{thread_id}/messages`.
///
/// Placeholders in braces are filled by [`ApiPath::fill`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ApiPath(String);

impl ApiPath {
    /// A path; it must start with `/`.
    pub fn new(path: impl Into<String>) -> Result<Self, String> {
        let path = path.into();
        if !path.starts_with('/') {
            return Err(format!("{path:?} does not start with '/'"));
        }
        if path.chars().any(char::is_whitespace) {
            return Err(format!("{path:?} contains whitespace"));
        }
        Ok(ApiPath(path))
    }

    fn lit(path: &str) -> Self {
        ApiPath(path.to_owned())
    }

    /// The path as written in the configuration (placeholders unfilled).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path with `{name}` placeholders replaced, e.g.
    /// `fill(&[("run_id", "abc")])` on `/api/agent/runs/{run_id}`.
    pub fn fill(&self, values: &[(&str, &str)]) -> String {
        let mut out = self.0.clone();
        for (name, value) in values {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// Whether the path contains the `{name}` placeholder.
    pub fn has_placeholder(&self, name: &str) -> bool {
        self.0.contains(&format!("{{{name}}}"))
    }
}

impl fmt::Display for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ApiPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ApiPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ApiPath;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a path starting with '/' (e.g. \"/api/threads\")")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ApiPath, E> {
                ApiPath::new(v).map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(V)
    }
}

/// `[paths]`: every route the harness calls. Contract sections 2 to 7.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Paths {
    /// `POST`: create an account `{email, password, display_name}` → 201 (`/api/auth/register`).
    pub register: ApiPath,
    /// `POST`: exchange email and password for a bearer token → 200 (`/api/auth/login`).
    pub login: ApiPath,
    /// `POST`: start an agent run → 202 `{run_id, thread_id, status}` (`/api/agent/v2/execute`).
    pub execute: ApiPath,
    /// `POST`: legacy alias of `execute` kept for old frontends (`/api/agent/run_agent_v2`).
    pub execute_legacy: ApiPath,
    /// Must contain `{run_id}`.
    pub run_status: ApiPath,
    /// `GET`: the agents and the circuit breaker's state (`/api/agents/status`).
    pub agents_status: ApiPath,
    /// `POST` creates a thread, `GET` lists the caller's threads (`/api/threads`).
    pub threads: ApiPath,
    /// Must contain `{thread_id}`.
    pub thread_messages: ApiPath,
    /// WebSocket of the caller's agent events (`/websocket`).
    pub agent_events: ApiPath,
    /// Legacy alias of `agent_events` with identical behaviour (`/ws`).
    pub agent_events_legacy: ApiPath,
    /// Dashboard WebSocket: no token, `Origin` checked (`/api/v1/ws/dashboard`).
    pub dashboard: ApiPath,
    /// `GET`: liveness with `status`, `version` and `boot_id` (`/health`).
    pub health: ApiPath,
    /// `GET`: per-dependency status, 503 when one is down (`/health/detailed`).
    pub health_detailed: ApiPath,
    /// `GET`: the OpenAPI 3 document of every route (`/openapi.json`).
    pub openapi: ApiPath,
    /// `GET`: HTML rendering of the API description (`/docs`).
    pub docs: ApiPath,
    /// `POST`, admin only: 200, then the process exits and is restarted (`/admin/restart`).
    pub restart: ApiPath,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            register: ApiPath::lit("/api/auth/register"),
            login: ApiPath::lit("/api/auth/login"),
            execute: ApiPath::lit("/api/agent/v2/execute"),
            execute_legacy: ApiPath::lit("/api/agent/run_agent_v2"),
            run_status: ApiPath::lit("/api/agent/runs/{run_id}"),
            agents_status: ApiPath::lit("/api/agents/status"),
            threads: ApiPath::lit("/api/threads"),
            thread_messages: ApiPath::lit("/api/threads/{thread_id}/messages"),
            agent_events: ApiPath::lit("/websocket"),
            agent_events_legacy: ApiPath::lit("/ws"),
            dashboard: ApiPath::lit("/api/v1/ws/dashboard"),
            health: ApiPath::lit("/health"),
            health_detailed: ApiPath::lit("/health/detailed"),
            openapi: ApiPath::lit("/openapi.json"),
            docs: ApiPath::lit("/docs"),
            restart: ApiPath::lit("/admin/restart"),
        }
    }
}

/// `[events]`: the `type` of each WebSocket frame. Contract sections 3, 5, 6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Events {
    /// First of the five agent events of a run.
    pub agent_started: String,
    /// Second agent event: the agent is thinking.
    pub agent_thinking: String,
    /// Third agent event: the tool starts.
    pub tool_executing: String,
    /// Fourth agent event: the tool has returned.
    pub tool_completed: String,
    /// Last of the five agent events of a run.
    pub agent_completed: String,
    /// First frame the agent-events socket sends after the handshake.
    pub connection_established: String,
    /// Client frame asking the server for a `pong`.
    pub ping: String,
    /// Server answer to a `ping`.
    pub pong: String,
    /// First frame the dashboard socket sends on connect.
    pub connection_ack: String,
    /// Dashboard frame sent every stats interval with the stack's counts.
    pub stats_update: String,
    /// Dashboard broadcast after each agent run.
    pub query_complete: String,
    /// Dashboard broadcast after each 5xx answer of the stack.
    pub error: String,
    /// The agent events of one run, as a pattern over their keys above: the contract's
    /// five in order by default; e.g. `"agent_started agent_thinking+ (tool_executing
    /// tool_completed)+ agent_completed"` for an agent that thinks and calls tools more
    /// than once. `+` one or more, `*` any number, `?` optional, `|` either, `( )`
    /// groups. `seq` must count 1, 2, 3, … whatever the number of events.
    pub sequence: String,
}

/// The agent events of a run, as the contract defines them: `events.sequence`'s default.
pub const CONTRACT_SEQUENCE: &str =
    "agent_started agent_thinking tool_executing tool_completed agent_completed";

/// The keys of the five agent events, as `events.sequence` names them.
const AGENT_EVENT_KEYS: [&str; 5] = [
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
];

impl Events {
    /// Whether `sequence` is the contract's: exactly the five events, in order.
    pub fn is_contract_sequence(&self) -> bool {
        self.sequence
            .split_whitespace()
            .eq(CONTRACT_SEQUENCE.split_whitespace())
    }

    /// `sequence` as a regular expression over one letter per event of a run: `a` to `e`
    /// for the five agent events by their position in [`Events::agent_sequence`]. `Err`
    /// names what is wrong with the pattern.
    pub fn sequence_regex(&self) -> Result<regex::Regex, String> {
        let mut expr = String::from("^(?:");
        let mut word = String::new();
        let flush = |word: &mut String, expr: &mut String| -> Result<(), String> {
            if word.is_empty() {
                return Ok(());
            }
            match AGENT_EVENT_KEYS.iter().position(|k| k == word) {
                Some(i) => expr.push(char::from(b'a' + i as u8)),
                None => {
                    return Err(format!(
                        "{word:?} is not an agent event: the pattern names events by their keys, {}",
                        AGENT_EVENT_KEYS.join(", ")
                    ));
                }
            }
            word.clear();
            Ok(())
        };
        for c in self.sequence.chars() {
            match c {
                'a'..='z' | '_' => word.push(c),
                '(' => {
                    flush(&mut word, &mut expr)?;
                    expr.push_str("(?:");
                }
                ')' | '+' | '*' | '?' | '|' => {
                    flush(&mut word, &mut expr)?;
                    expr.push(c);
                }
                c if c.is_whitespace() => flush(&mut word, &mut expr)?,
                other => {
                    return Err(format!(
                        "{other:?} cannot appear in the pattern: use event keys, spaces, + * ? | ( )"
                    ));
                }
            }
        }
        flush(&mut word, &mut expr)?;
        expr.push_str(")$");
        if expr == "^(?:)$" {
            return Err("the pattern names no event".into());
        }
        regex::Regex::new(&expr).map_err(|e| {
            format!(
                "is not a well-formed pattern ({})",
                e.to_string().lines().last().unwrap_or("unbalanced")
            )
        })
    }

    /// The five agent events, in the order the contract requires.
    pub fn agent_sequence(&self) -> [&str; 5] {
        [
            &self.agent_started,
            &self.agent_thinking,
            &self.tool_executing,
            &self.tool_completed,
            &self.agent_completed,
        ]
    }

    /// Position of an agent event name in [`Events::agent_sequence`].
    pub fn agent_index(&self, name: &str) -> Option<usize> {
        self.agent_sequence().iter().position(|n| *n == name)
    }
}

impl Default for Events {
    fn default() -> Self {
        Events {
            agent_started: "agent_started".into(),
            agent_thinking: "agent_thinking".into(),
            tool_executing: "tool_executing".into(),
            tool_completed: "tool_completed".into(),
            agent_completed: "agent_completed".into(),
            connection_established: "connection_established".into(),
            ping: "ping".into(),
            pong: "pong".into(),
            connection_ack: "connection_ack".into(),
            stats_update: "stats_update".into(),
            query_complete: "query_complete".into(),
            error: "error".into(),
            sequence: CONTRACT_SEQUENCE.into(),
        }
    }
}

/// `[websocket]`: handshake details. Contract sections 5 and 6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSocket {
    /// The first subprotocol offered, and the one the server must select unless
    /// `selects` says otherwise (`jwt-auth`).
    pub subprotocol: String,
    /// Prefix of the second offered subprotocol, which carries the token (`jwt.<token>`).
    pub token_prefix: String,
    /// Which offered subprotocol the server must select in its handshake answer: the
    /// fixed `subprotocol` (the contract's way), or the token protocol itself
    /// (`jwt.<token>`, as some servers echo).
    pub selects: Selects,
    /// The `Origin` header sent to the dashboard socket (an allowed origin).
    pub dashboard_origin: String,
}

impl Default for WebSocket {
    fn default() -> Self {
        WebSocket {
            subprotocol: "jwt-auth".into(),
            token_prefix: "jwt.".into(),
            selects: Selects::Subprotocol,
            dashboard_origin: "http://localhost:3000".into(),
        }
    }
}

/// `websocket.selects`: which of the two offered subprotocols the server must select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Selects {
    /// `websocket.subprotocol` (`jwt-auth`): what CONTRACT §5 requires.
    #[default]
    Subprotocol,
    /// The token protocol the client offered (`websocket.token_prefix` + the token).
    Token,
}

/// `[fields]`: JSON field names the client reads (and the few it writes that a team
/// might spell differently).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fields {
    /// Login answer: the bearer token (a JWT).
    pub access_token: String,
    /// Login answer: `bearer`.
    pub token_type: String,
    /// Login answer: the token's lifetime in seconds.
    pub expires_in: String,
    /// Register and login answers, `connection_established`: the user's id.
    pub user_id: String,
    /// Register and login requests, register answer: the email address.
    pub email: String,
    /// Execute and run-status answers, agent event frames: the run's id.
    pub run_id: String,
    /// Execute request and answers, thread and message bodies, agent event frames: the thread's id.
    pub thread_id: String,
    /// Status of a run, an agent, or the whole service (`/health`, `/health/detailed`).
    pub status: String,
    /// Run-status answer and `agent_completed`'s data: the agent's answer.
    pub result: String,
    /// The frame type field (`type`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Agent event frames: position of the event within its run (1, 2, 3, …).
    pub seq: String,
    /// Agent event frames: the type-specific payload object; empty when the payload's
    /// fields are at the frame's top level (dashboard frames: `dashboard_fields.data`).
    pub data: String,
    /// Where every successful HTTP answer keeps its fields: empty for the answer itself
    /// (the contract's way), or a JSON pointer into an envelope such as `/data`. The
    /// other field names are read from there (error envelopes are read at the top).
    pub answer: String,
    /// Frames and `/health`: an RFC 3339 UTC time with milliseconds.
    pub timestamp: String,
    /// `connection_established`: the server's id for this socket.
    pub connection_id: String,
    /// `/health`: id that changes at every process start (proves a restart happened).
    pub boot_id: String,
    /// `/health`: the stack's version.
    pub version: String,
    /// `/health`: when the process started (RFC 3339).
    pub started_at: String,
    /// `/health`: seconds since the process started (a number).
    pub uptime_s: String,
    /// `/health/detailed`: object of dependency name → status (`connected` or `error`).
    pub services: String,
    /// Agents-status answer: the list of agents.
    pub agents: String,
    /// Agents-status answer: an agent's name (`name`).
    pub agent_name: String,
    /// Agents-status answer: `closed` or `open`.
    pub circuit_breaker: String,
    /// Thread-list answer: the list of threads.
    pub threads: String,
    /// Thread create request and thread bodies: the thread's title.
    pub title: String,
    /// Thread and message bodies: creation time (RFC 3339).
    pub created_at: String,
    /// Message-list answer: the list of messages.
    pub messages: String,
    /// Message bodies: the message's id.
    pub message_id: String,
    /// Message request and bodies: the text (1..=16384 characters).
    pub content: String,
    /// Message bodies: `user` or `assistant`.
    pub role: String,
    /// Register and login requests: the password.
    pub password: String,
    /// Register request: the name shown for the user.
    pub display_name: String,
    /// Execute request: the user's message to the agent.
    pub prompt: String,
    /// Execute request: which agent runs (optional); `agent_started`'s data names it.
    pub agent: String,
    /// `agent_thinking`'s data: what the agent is thinking.
    pub thought: String,
    /// `tool_executing`'s and `tool_completed`'s data: the tool's name.
    pub tool: String,
    /// `tool_executing`'s data: what the tool is given.
    pub tool_input: String,
    /// `tool_completed`'s data: what the tool returned (the message's word count).
    pub tool_output: String,
    /// `agent_completed`'s data: how long the run took, in milliseconds. Its answer is
    /// under [`Fields::result`].
    pub duration_ms: String,
    /// The error envelope: `{"error": {"code", "message"}}`.
    pub error: String,
    /// Inside the error envelope: the snake_case error code (`code`).
    pub error_code: String,
    /// Inside the error envelope: the human-readable text (`message`).
    pub error_message: String,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            access_token: "access_token".into(),
            token_type: "token_type".into(),
            expires_in: "expires_in".into(),
            user_id: "user_id".into(),
            email: "email".into(),
            run_id: "run_id".into(),
            thread_id: "thread_id".into(),
            status: "status".into(),
            result: "result".into(),
            kind: "type".into(),
            seq: "seq".into(),
            data: "data".into(),
            answer: String::new(),
            timestamp: "timestamp".into(),
            connection_id: "connection_id".into(),
            boot_id: "boot_id".into(),
            version: "version".into(),
            started_at: "started_at".into(),
            uptime_s: "uptime_s".into(),
            services: "services".into(),
            agents: "agents".into(),
            agent_name: "name".into(),
            circuit_breaker: "circuit_breaker".into(),
            threads: "threads".into(),
            title: "title".into(),
            created_at: "created_at".into(),
            messages: "messages".into(),
            message_id: "message_id".into(),
            content: "content".into(),
            role: "role".into(),
            password: "password".into(),
            display_name: "display_name".into(),
            prompt: "message".into(),
            agent: "agent".into(),
            thought: "thought".into(),
            tool: "tool".into(),
            tool_input: "input".into(),
            tool_output: "output".into(),
            duration_ms: "duration_ms".into(),
            error: "error".into(),
            error_code: "code".into(),
            error_message: "message".into(),
        }
    }
}

/// `[dashboard_fields]`: the keys of the dashboard socket's payloads (`data` of
/// `stats_update`, `query_complete` and `error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardFields {
    /// Every dashboard frame: the payload object (the frame's top level when absent).
    pub data: String,
    /// `stats_update`: registered users.
    pub users: String,
    /// `stats_update`: threads.
    pub threads: String,
    /// `stats_update`: messages.
    pub messages: String,
    /// `stats_update`: agent runs.
    pub runs: String,
    /// `stats_update`: open WebSocket connections.
    pub active_connections: String,
    /// `query_complete`: length of the agent's answer.
    pub response_length: String,
    /// `query_complete`: the model that answered.
    pub model: String,
    /// `query_complete`: how long the run took, in milliseconds.
    pub latency_ms: String,
    /// `error`: what kind of error the backend had.
    pub error_type: String,
    /// `error`: its message.
    pub message: String,
    /// `error`: the endpoint that failed.
    pub endpoint: String,
}

impl Default for DashboardFields {
    fn default() -> Self {
        DashboardFields {
            data: "data".into(),
            users: "users".into(),
            threads: "threads".into(),
            messages: "messages".into(),
            runs: "runs".into(),
            active_connections: "active_connections".into(),
            response_length: "response_length".into(),
            model: "model".into(),
            latency_ms: "latency_ms".into(),
            error_type: "error_type".into(),
            message: "message".into(),
            endpoint: "endpoint".into(),
        }
    }
}

/// `[limits]`: numbers the contract promises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest message / execute `message` accepted, in characters.
    pub message_max_chars: usize,
    /// Largest request body accepted, in bytes (413 above).
    pub body_max_bytes: usize,
    /// Open dashboard connections allowed per client IP.
    pub dashboard_connections_per_ip: usize,
    /// Agent events emitted per run.
    pub events_per_run: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            message_max_chars: 16384,
            body_max_bytes: 65536,
            dashboard_connections_per_ip: 10,
            events_per_run: 5,
        }
    }
}

/// `[timeouts]`: human-readable durations (`"2s"`, `"500ms"`, `"1m 30s"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// One HTTP request, from send to the end of the body.
    #[serde(with = "duration")]
    pub http_request: Duration,
    /// Time for all of a run's agent events to arrive.
    #[serde(with = "duration")]
    pub events: Duration,
    /// TCP connect plus WebSocket handshake plus the first frame.
    #[serde(with = "duration")]
    pub socket_connect: Duration,
    /// From `/admin/restart` until `/health` is healthy with a new `boot_id`.
    #[serde(with = "duration")]
    pub restart_comeback: Duration,
    /// The expected interval between dashboard `stats_update` frames.
    #[serde(with = "duration")]
    pub stats_interval: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            http_request: Duration::from_secs(10),
            events: Duration::from_secs(5),
            socket_connect: Duration::from_secs(5),
            restart_comeback: Duration::from_secs(60),
            stats_interval: Duration::from_secs(5),
        }
    }
}

/// `[admin]`: the account that exists from start-up (contract section 10 defaults).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Admin {
    /// Login email of the admin account (`$ADMIN_EMAIL` of the stack).
    pub email: String,
    /// Password of the admin account (`$ADMIN_PASSWORD` of the stack); never printed by `Debug`.
    pub password: String,
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            email: "admin@example.com".into(),
            password: "admin-password".into(),
        }
    }
}

/// Durations as humantime strings; the error names the expected form.
mod duration {
    use std::fmt;
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        humantime_serde::serialize(d, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"2s\", \"500ms\" or \"1m 30s\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                humantime_serde::re::humantime::parse_duration(v.trim())
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(V)
    }
}

impl Contract {
    /// Checks that deserialisation cannot express: placeholders, distinct event
    /// names, non-zero limits and timeouts. Returns `(key, message)`, the key
    /// spelled as in `goldenpath.toml` (`paths.run_status`).
    pub(crate) fn check(&self) -> Vec<(String, String)> {
        let mut bad = Vec::new();
        for (key, path, placeholder) in [
            ("paths.run_status", &self.paths.run_status, "run_id"),
            (
                "paths.thread_messages",
                &self.paths.thread_messages,
                "thread_id",
            ),
        ] {
            if !path.has_placeholder(placeholder) {
                bad.push((
                    key.to_owned(),
                    format!(
                        "{path:?} must contain the placeholder {{{placeholder}}}",
                        path = path.as_str()
                    ),
                ));
            }
        }
        let e = &self.events;
        let named = [
            ("agent_started", &e.agent_started),
            ("agent_thinking", &e.agent_thinking),
            ("tool_executing", &e.tool_executing),
            ("tool_completed", &e.tool_completed),
            ("agent_completed", &e.agent_completed),
            ("connection_established", &e.connection_established),
            ("ping", &e.ping),
            ("pong", &e.pong),
            ("connection_ack", &e.connection_ack),
            ("stats_update", &e.stats_update),
            ("query_complete", &e.query_complete),
            ("error", &e.error),
        ];
        for (i, (key, name)) in named.iter().enumerate() {
            if name.trim().is_empty() {
                bad.push((
                    format!("events.{key}"),
                    "an event name must not be empty".into(),
                ));
            } else if i < 5
                && let Some((other, _)) = named[..i].iter().find(|(_, n)| n == name)
            {
                bad.push((
                    format!("events.{key}"),
                    format!("{name:?} is also the name of events.{other}: the five agent events must be distinct"),
                ));
            }
        }
        for (section, names) in [
            ("fields", serde_json::to_value(&self.fields)),
            (
                "dashboard_fields",
                serde_json::to_value(&self.dashboard_fields),
            ),
        ] {
            let Ok(serde_json::Value::Object(names)) = names else {
                continue;
            };
            for (key, name) in names {
                if let Some(problem) = name.as_str().and_then(json_pointer_problem) {
                    bad.push((format!("{section}.{key}"), problem));
                }
            }
        }
        if let Err(problem) = self.events.sequence_regex() {
            bad.push(("events.sequence".into(), problem));
        }
        if self.values.healthy.trim().is_empty() {
            bad.push(("values.healthy".into(), "must not be empty".into()));
        }
        if self.websocket.subprotocol.trim().is_empty() {
            bad.push(("websocket.subprotocol".into(), "must not be empty".into()));
        }
        for (key, v) in [
            ("limits.message_max_chars", self.limits.message_max_chars),
            ("limits.body_max_bytes", self.limits.body_max_bytes),
            (
                "limits.dashboard_connections_per_ip",
                self.limits.dashboard_connections_per_ip,
            ),
            ("limits.events_per_run", self.limits.events_per_run),
        ] {
            if v == 0 {
                bad.push((key.into(), "must be a positive whole number".into()));
            }
        }
        let t = &self.timeouts;
        for (key, v) in [
            ("timeouts.http_request", t.http_request),
            ("timeouts.events", t.events),
            ("timeouts.socket_connect", t.socket_connect),
            ("timeouts.restart_comeback", t.restart_comeback),
            ("timeouts.stats_interval", t.stats_interval),
        ] {
            if v.is_zero() {
                bad.push((
                    key.into(),
                    "must be a duration above zero such as \"2s\" or \"500ms\"".into(),
                ));
            }
        }
        bad
    }
}

/// What is wrong with a field name that is a JSON pointer (`/data/access_token`), if
/// anything: RFC 6901 allows `~` only as `~0` (a `~`) or `~1` (a `/`).
fn json_pointer_problem(name: &str) -> Option<String> {
    if !name.starts_with('/') {
        return None;
    }
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Some(format!(
                "{name:?} is not a JSON pointer: `~` must be written `~0`, and `/` inside a key `~1`"
            ));
        }
    }
    None
}
