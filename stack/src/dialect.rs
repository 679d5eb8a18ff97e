//! API dialects: the same stack served in two shapes, chosen by `DIALECT`.
//!
//! * [`Dialect::Contract`] (`DIALECT=contract`, the default): the stack contract
//!   (`shared/CONTRACT.md`) exactly.
//! * [`Dialect::B`] (`DIALECT=b`): a backend of another shape, for proving that
//!   goldenpath retargets by configuration alone. Everything not listed here
//!   behaves as in the contract, every seeded fault included (applied to the
//!   dialect's equivalent route or event):
//!   1. **Paths** under `/v2` ([`PATHS`]): e.g. `POST /v2/runs` instead of
//!      `POST /api/agent/v2/execute`, WebSockets `/v2/events` (primary),
//!      `/v2/events/legacy` and `/v2/dashboard`, health `/v2/status`. The OpenAPI
//!      document and `/docs` list these paths. `WEBSOCKET_PATH` is ignored.
//!   2. **Envelope**: every successful (2xx) JSON answer of an HTTP route is
//!      `{"data": <the contract's body>}` ([`envelope`]); error answers keep the
//!      contract's `{"error": {"code", "message"}}`, unwrapped.
//!   3. **Login** answers `{"token": {"access", "type": "bearer", "expires_in"},
//!      "user_id"}` (inside the envelope) instead of the flat `access_token`,
//!      `token_type`, `expires_in` ([`Dialect::login_answer`]).
//!   4. **Flat agent-event frames**: the contract's `data` keys sit at the
//!      frame's top level and there is no `data` key ([`Dialect::agent_frame`]).
//!      `connection_established`, `pong` and dashboard frames are unchanged.
//!   5. **Six events** per run: the agent thinks twice
//!      (`agent_started, agent_thinking, agent_thinking, tool_executing,
//!      tool_completed, agent_completed`, `seq` 1..=6, see [`Dialect::events`]).
//!   6. **Subprotocol**: offered `jwt-auth` and `jwt.<token>`, the handshake
//!      selects (echoes) `jwt.<token>` instead of `jwt-auth`
//!      ([`Dialect::subprotocols`]).
//!
//! This module is the one place that knows how the dialects differ: the route
//! table, the envelope middleware, the login shape, frame building, the event
//! plan, the subprotocol choice and the rewrite of the OpenAPI document.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use axum::body::Body;
use axum::extract::Request;
use axum::extract::ws::Utf8Bytes;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::{PartialSchema, ToSchema};

use crate::Config;
use crate::events::{AgentEventKind, agent_event};
use crate::routes::json_response;
use crate::ws::agent_events::AUTH_SUBPROTOCOL;

/// The shape of the API, from `DIALECT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dialect {
    /// `contract`: the stack contract exactly.
    #[default]
    Contract,
    /// `b`: `/v2` paths, `{"data": …}` envelope, nested login token, flat event
    /// frames, six events per run, `jwt.<token>` subprotocol echo.
    B,
}

/// `DIALECT` names neither dialect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dialect {0:?}")]
pub struct UnknownDialect(pub String);

impl FromStr for Dialect {
    type Err = UnknownDialect;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "contract" => Ok(Self::Contract),
            "b" => Ok(Self::B),
            _ => Err(UnknownDialect(s.to_owned())),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Contract => "contract",
            Self::B => "b",
        })
    }
}

/// Every route of the API, whatever its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// POST: create an account.
    Register,
    /// POST: credentials for a token.
    Login,
    /// POST: start a run (removed by `missing_v2_execute`).
    Execute,
    /// POST: legacy alias of [`Route::Execute`].
    ExecuteLegacy,
    /// GET: a run's status.
    RunStatus,
    /// GET: agents and circuit breaker.
    AgentsStatus,
    /// POST/GET: threads.
    Threads,
    /// POST/GET: a thread's messages.
    ThreadMessages,
    /// WS: agent events, primary path (`ws_path_500` breaks it).
    AgentEvents,
    /// WS: agent events, legacy alias.
    AgentEventsLegacy,
    /// WS: dashboard.
    Dashboard,
    /// GET: liveness.
    Health,
    /// GET: readiness with dependencies.
    HealthDetailed,
    /// GET: OpenAPI document.
    OpenApi,
    /// GET: HTML documentation.
    Docs,
    /// POST: admin restart.
    Restart,
}

/// The route table: (route, contract path, dialect B path).
pub const PATHS: [(Route, &str, &str); 16] = [
    (Route::Register, "/api/auth/register", "/v2/auth/signup"),
    (Route::Login, "/api/auth/login", "/v2/auth/token"),
    (Route::Execute, "/api/agent/v2/execute", "/v2/runs"),
    (
        Route::ExecuteLegacy,
        "/api/agent/run_agent_v2",
        "/v2/agent/run",
    ),
    (
        Route::RunStatus,
        "/api/agent/runs/{run_id}",
        "/v2/runs/{run_id}",
    ),
    (Route::AgentsStatus, "/api/agents/status", "/v2/agents"),
    (Route::Threads, "/api/threads", "/v2/conversations"),
    (
        Route::ThreadMessages,
        "/api/threads/{thread_id}/messages",
        "/v2/conversations/{thread_id}/messages",
    ),
    (Route::AgentEvents, "/websocket", "/v2/events"),
    (Route::AgentEventsLegacy, "/ws", "/v2/events/legacy"),
    (Route::Dashboard, "/api/v1/ws/dashboard", "/v2/dashboard"),
    (Route::Health, "/health", "/v2/status"),
    (Route::HealthDetailed, "/health/detailed", "/v2/status/full"),
    (Route::OpenApi, "/openapi.json", "/v2/openapi.json"),
    (Route::Docs, "/docs", "/v2/docs"),
    (Route::Restart, "/admin/restart", "/v2/admin/restart"),
];

/// The path of `route` in this configuration: the dialect's path, except that
/// the contract dialect's primary agent-events path follows `WEBSOCKET_PATH`.
pub fn route_path(config: &Config, route: Route) -> &str {
    match (config.dialect, route) {
        (Dialect::Contract, Route::AgentEvents) => &config.websocket_path,
        (dialect, route) => dialect.path(route),
    }
}

/// The contract's agent events, each once.
const CONTRACT_EVENTS: [AgentEventKind; 5] = AgentEventKind::ALL;

/// Dialect B's agent events: the agent thinks twice.
const B_EVENTS: [AgentEventKind; 6] = [
    AgentEventKind::AgentStarted,
    AgentEventKind::AgentThinking,
    AgentEventKind::AgentThinking,
    AgentEventKind::ToolExecuting,
    AgentEventKind::ToolCompleted,
    AgentEventKind::AgentCompleted,
];

impl Dialect {
    /// The path of `route` in this dialect (the contract's default
    /// `/websocket` for [`Route::AgentEvents`]; see [`route_path`]).
    pub fn path(self, route: Route) -> &'static str {
        let (_, contract, b) = PATHS
            .iter()
            .find(|(r, _, _)| *r == route)
            .expect("every route is in the table");
        match self {
            Self::Contract => contract,
            Self::B => b,
        }
    }

    /// Whether successful JSON answers are wrapped in `{"data": …}`.
    pub fn envelopes(self) -> bool {
        self == Self::B
    }

    /// The events of one run, in order; an event's `seq` is its position here
    /// (1-based). A fault that drops or reorders events does not renumber the
    /// others.
    pub fn events(self) -> &'static [AgentEventKind] {
        match self {
            Self::Contract => &CONTRACT_EVENTS,
            Self::B => &B_EVENTS,
        }
    }

    /// How many `kind` events a run emits.
    pub fn count(self, kind: AgentEventKind) -> usize {
        self.events().iter().filter(|k| **k == kind).count()
    }

    /// The `seq` of the `nth` (0-based) `kind` event of a run.
    pub fn seq(self, kind: AgentEventKind, nth: usize) -> u8 {
        let pos = self
            .events()
            .iter()
            .enumerate()
            .filter(|(_, k)| **k == kind)
            .nth(nth)
            .map(|(i, _)| i + 1)
            .expect("the agent emits only the events of its dialect");
        pos as u8
    }

    /// An agent-event frame. Contract: `{type, run_id, thread_id, seq,
    /// timestamp, data}`; B: the same with `data`'s keys at the top level.
    pub fn agent_frame(
        self,
        kind: AgentEventKind,
        seq: u8,
        run_id: &str,
        thread_id: &str,
        data: Value,
    ) -> Utf8Bytes {
        match self {
            Self::Contract => agent_event(kind, seq, run_id, thread_id, data),
            Self::B => {
                let mut frame = match data {
                    Value::Object(map) => map,
                    Value::Null => Map::new(),
                    other => Map::from_iter([("value".to_owned(), other)]),
                };
                // The frame's own keys win over a payload key of the same name.
                frame.insert("type".into(), kind.as_str().into());
                frame.insert("run_id".into(), run_id.into());
                frame.insert("thread_id".into(), thread_id.into());
                frame.insert("seq".into(), seq.into());
                frame.insert("timestamp".into(), crate::now().into());
                Value::Object(frame).to_string().into()
            }
        }
    }

    /// The subprotocols the server is willing to select, in preference order
    /// (the handshake selects the first one the client offered). `offered_token`
    /// is the `jwt.<token>` protocol the client offered, if any.
    pub fn subprotocols(self, offered_token: Option<&str>) -> Vec<Cow<'static, str>> {
        match (self, offered_token) {
            (Self::B, Some(token_protocol)) => vec![
                Cow::Owned(token_protocol.to_owned()),
                Cow::Borrowed(AUTH_SUBPROTOCOL),
            ],
            _ => vec![Cow::Borrowed(AUTH_SUBPROTOCOL)],
        }
    }

    /// The 200 answer of a successful login.
    pub fn login_answer(self, access_token: String, expires_in: u64, user_id: String) -> Response {
        match self {
            Self::Contract => json_response(
                StatusCode::OK,
                crate::routes::auth::TokenResponse {
                    access_token,
                    token_type: "bearer".into(),
                    expires_in,
                },
            ),
            Self::B => json_response(
                StatusCode::OK,
                LoginAnswer {
                    token: LoginToken {
                        access: access_token,
                        token_type: "bearer".into(),
                        expires_in,
                    },
                    user_id,
                },
            ),
        }
    }

    /// Adapts the contract's OpenAPI document (as JSON) to this dialect.
    pub fn describe(self, doc: &mut Value) {
        if self == Self::B {
            describe_b(doc);
        }
    }
}

/// Dialect B's login answer (inside the envelope).
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginAnswer {
    /// The token.
    pub token: LoginToken,
    /// The user the token is for.
    pub user_id: String,
}

/// Inside [`LoginAnswer`].
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginToken {
    /// HS256 JWT with `sub`, `role`, `iat`, `exp`.
    pub access: String,
    /// Always `bearer`.
    #[serde(rename = "type")]
    #[schema(example = "bearer")]
    pub token_type: String,
    /// Seconds until the token expires.
    #[schema(example = 3600)]
    pub expires_in: u64,
}

/// Middleware of dialect B: wraps every 2xx JSON answer as `{"data": <body>}`.
/// Errors, non-JSON answers (`/docs`) and upgrades (101) pass unchanged.
pub async fn envelope(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !res.status().is_success() || !is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            return crate::error::ApiError::internal(format!("cannot read an answer: {e}"))
                .into_response();
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    // The body is JSON that this stack wrote: wrapping needs no parsing.
    let mut wrapped = Vec::with_capacity(bytes.len() + 9);
    wrapped.extend_from_slice(b"{\"data\":");
    wrapped.extend_from_slice(&bytes);
    wrapped.push(b'}');
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(wrapped))
}

const B_DESCRIPTION: &str = "Reference agent-chat backend for goldenpath, dialect B (`DIALECT=b`): \
    the stack contract's API under /v2 paths. Every successful JSON answer is wrapped as \
    `{\"data\": <answer>}`; errors are `{\"error\": {\"code\", \"message\"}}`, unwrapped. \
    Timestamps are RFC 3339 UTC with milliseconds. Every route except /v2/auth/signup, \
    /v2/auth/token, /v2/status, /v2/status/full, /v2/openapi.json, /v2/docs and /v2/dashboard \
    needs `Authorization: Bearer <JWT>`.";

const B_EVENTS_DESCRIPTION: &str = "Agent-events WebSocket. Authenticate with the subprotocols \
    `jwt-auth` and `jwt.<token>` (the server selects `jwt.<token>`) or with \
    `Authorization: Bearer <token>`. First frame: `connection_established {user_id, \
    connection_id, timestamp}`. Send `{\"type\":\"ping\"}` to get `{\"type\":\"pong\",\"timestamp\"}`. \
    Each run of the caller emits six flat frames `{type, run_id, thread_id, seq, timestamp, \
    ...payload}` (no `data` key), seq 1..=6: agent_started {agent}, agent_thinking {thought}, \
    agent_thinking {thought}, tool_executing {tool, input}, tool_completed {tool, output}, \
    agent_completed {result, duration_ms}. Open sockets are closed with code 1012 before the \
    process stops.";

/// Rewrites the contract's document for dialect B: paths renamed, success
/// schemas wrapped in the envelope, the login answer's schema, descriptions.
fn describe_b(doc: &mut Value) {
    doc["info"]["description"] = B_DESCRIPTION.into();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        let old = std::mem::take(paths);
        for (path, item) in old {
            let renamed = PATHS
                .iter()
                .find(|(_, contract, _)| *contract == path)
                .map_or(path, |(_, _, b)| (*b).to_owned());
            paths.insert(renamed, item);
        }
    }
    rewrite_texts(doc);
    let ops = [
        (Route::AgentEvents, "get"),
        (Route::Execute, "post"),
        (Route::ExecuteLegacy, "post"),
    ];
    for (route, method) in ops {
        let Some(op) = doc["paths"].get_mut(Dialect::B.path(route)) else {
            continue;
        };
        let op = &mut op[method];
        match route {
            Route::AgentEvents => {
                op["description"] = B_EVENTS_DESCRIPTION.into();
                if let Some(r) = op.pointer_mut("/responses/101/description") {
                    *r = "Switching protocols; `Sec-WebSocket-Protocol: jwt.<token>` when \
                          `jwt-auth, jwt.<token>` is offered"
                        .into();
                }
            }
            _ => {
                if let Some(r) = op.pointer_mut("/responses/202/description") {
                    *r = "Run started; its six events follow on the agent-events WebSocket".into();
                }
            }
        }
    }
    let login = format!(
        "/paths/{}/post/responses/200/content/application~1json/schema",
        Dialect::B.path(Route::Login).replace('/', "~1")
    );
    if let Some(schema) = doc.pointer_mut(&login) {
        *schema = json!({"$ref": "#/components/schemas/LoginAnswer"});
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.remove("TokenResponse");
        let mut extra = vec![(LoginAnswer::name().into_owned(), LoginAnswer::schema())];
        <LoginAnswer as ToSchema>::schemas(&mut extra);
        for (name, schema) in extra {
            schemas.insert(name, serde_json::to_value(schema).unwrap_or_default());
        }
    }
    wrap_success_schemas(doc);
}

/// Replaces the contract's paths in every summary and description.
fn rewrite_texts(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(text) if key == "description" || key == "summary" => {
                        *text = rename_paths(text);
                    }
                    other => rewrite_texts(other),
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(rewrite_texts),
        _ => {}
    }
}

/// `text` with each whole contract path (not part of a longer path) replaced by
/// dialect B's.
fn rename_paths(text: &str) -> String {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "/_-.{}~".contains(c);
    let mut candidates: Vec<_> = PATHS.iter().collect();
    candidates.sort_by_key(|(_, contract, _)| std::cmp::Reverse(contract.len()));
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find('/') {
        let i = from + found;
        from = i + 1;
        if i < copied || text[..i].ends_with(is_path_char) {
            continue;
        }
        let tail = &text[i..];
        // A path goes on after the prefix unless the next character ends it; a
        // '.' ends it when it ends a sentence ("… /docs.").
        let goes_on = |after: &str| {
            let mut chars = after.chars();
            match chars.next() {
                Some('.') => chars.next().is_some_and(|c| c.is_ascii_alphanumeric()),
                Some(c) => is_path_char(c),
                None => false,
            }
        };
        let hit = candidates.iter().find(|(_, contract, _)| {
            tail.strip_prefix(contract)
                .is_some_and(|after| !goes_on(after))
        });
        if let Some((_, contract, b)) = hit {
            out.push_str(&text[copied..i]);
            out.push_str(b);
            copied = i + contract.len();
            from = copied;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Wraps the schema of every 2xx JSON response as `{data: <schema>}`.
fn wrap_success_schemas(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                if !status.starts_with('2') {
                    continue;
                }
                if let Some(content) = response
                    .pointer_mut("/content/application~1json")
                    .and_then(Value::as_object_mut)
                {
                    let inner = content.remove("schema").unwrap_or_else(|| json!({}));
                    content.insert(
                        "schema".into(),
                        json!({
                            "type": "object",
                            "required": ["data"],
                            "properties": {"data": inner},
                        }),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_dialects() {
        assert_eq!("contract".parse(), Ok(Dialect::Contract));
        assert_eq!(" B ".parse(), Ok(Dialect::B));
        assert!("c".parse::<Dialect>().is_err());
        assert_eq!(Dialect::default(), Dialect::Contract);
    }

    #[test]
    fn seq_is_the_position_in_the_dialect() {
        use AgentEventKind::*;
        assert_eq!(Dialect::Contract.seq(ToolExecuting, 0), 3);
        assert_eq!(Dialect::B.seq(AgentThinking, 0), 2);
        assert_eq!(Dialect::B.seq(AgentThinking, 1), 3);
        assert_eq!(Dialect::B.seq(AgentCompleted, 0), 6);
        assert_eq!(Dialect::B.count(AgentThinking), 2);
        assert_eq!(Dialect::Contract.count(AgentThinking), 1);
    }

    #[test]
    fn every_route_has_distinct_paths() {
        for d in [Dialect::Contract, Dialect::B] {
            let mut seen: Vec<_> = PATHS.iter().map(|(r, _, _)| d.path(*r)).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), PATHS.len(), "{d}");
        }
    }

    #[test]
    fn renames_whole_paths_only() {
        assert_eq!(
            rename_paths("Legacy alias of `/websocket`, and /ws; not /api/v1/ws/dashboard."),
            "Legacy alias of `/v2/events`, and /v2/events/legacy; not /v2/dashboard."
        );
        assert_eq!(
            rename_paths("(legacy alias of /api/agent/v2/execute) a/b /wsx"),
            "(legacy alias of /v2/runs) a/b /wsx"
        );
        assert_eq!(
            rename_paths("/docs.html and /health/detailedx stay; /health/detailed goes"),
            "/docs.html and /health/detailedx stay; /v2/status/full goes"
        );
    }

    #[test]
    fn flat_frames_have_no_data_key() {
        let frame = Dialect::B.agent_frame(
            AgentEventKind::ToolExecuting,
            4,
            "r",
            "t",
            json!({"tool": "word_count", "input": "hi"}),
        );
        let v: Value = serde_json::from_str(frame.as_str()).unwrap();
        assert_eq!(v["tool"], "word_count");
        assert_eq!(v["seq"], 4);
        assert!(v.get("data").is_none());
        let contract = Dialect::Contract.agent_frame(
            AgentEventKind::ToolExecuting,
            3,
            "r",
            "t",
            json!({"tool": "word_count"}),
        );
        let v: Value = serde_json::from_str(contract.as_str()).unwrap();
        assert_eq!(v["data"]["tool"], "word_count");
    }
}
