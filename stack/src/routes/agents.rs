//! Agent runs (contract §3).

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::threads::{DEFAULT_TITLE, check_content, owned_thread};
use super::{ErrorBody, json_response};
use crate::AppState;
use crate::agent::{self, AGENTS, RunSpec};
use crate::auth::AuthUser;
use crate::db::{MessageRow, RunRow, ThreadRow};
use crate::error::{ApiError, ApiJson, Validate};

/// Execute body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ExecuteRequest {
    /// The prompt, 1..=16384 characters.
    #[schema(example = "How many words is this?")]
    pub message: String,
    /// Agent name; only `default` exists (else 422 `unknown_agent`).
    #[schema(example = "default")]
    pub agent: Option<String>,
    /// A thread of the caller's; a new one is created without it.
    pub thread_id: Option<String>,
}

/// Execute answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecuteResponse {
    /// Run id.
    pub run_id: String,
    /// Thread the run answers in.
    pub thread_id: String,
    /// Always `started`.
    #[schema(example = "started")]
    pub status: String,
}

/// A run's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunResponse {
    /// Run id.
    pub run_id: String,
    /// Thread id.
    pub thread_id: String,
    /// `started`, `running`, `completed` or `failed`.
    #[schema(example = "completed")]
    pub status: String,
    /// The answer, once completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

/// One agent's availability.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentInfo {
    /// Agent name.
    pub name: String,
    /// `available`, `busy` or `unavailable`.
    pub status: String,
}

/// Agents and the circuit breaker.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentsStatus {
    /// Agents.
    pub agents: Vec<AgentInfo>,
    /// `closed` or `open`.
    #[schema(example = "closed")]
    pub circuit_breaker: String,
}

impl Validate for ExecuteRequest {
    fn validate(&self) -> Result<(), ApiError> {
        check_content("message", "invalid_message", &self.message)?;
        if let Some(agent) = &self.agent
            && !AGENTS.contains(&agent.as_str())
        {
            return Err(ApiError::invalid(
                "unknown_agent",
                format!(
                    "unknown agent {agent:?}; known agents: {}",
                    AGENTS.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// Starts a run of the agent.
#[utoipa::path(
    post, path = "/api/agent/v2/execute", tag = "agents",
    request_body = ExecuteRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Run started; its five events follow on the agent-events WebSocket", body = ExecuteResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or bad token", body = ErrorBody),
        (status = 404, description = "thread_id unknown or someone else's", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 422, description = "message not 1..=16384 characters, or unknown agent", body = ErrorBody),
    )
)]
pub async fn execute(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<ExecuteRequest>,
) -> Result<Response, ApiError> {
    start_run(state, user, req).await
}

/// Legacy alias of `/api/agent/v2/execute`, kept for old frontends.
#[utoipa::path(
    post, path = "/api/agent/run_agent_v2", tag = "agents",
    request_body = ExecuteRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Run started (legacy alias of /api/agent/v2/execute)", body = ExecuteResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or bad token", body = ErrorBody),
        (status = 404, description = "thread_id unknown or someone else's", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
pub async fn execute_legacy(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<ExecuteRequest>,
) -> Result<Response, ApiError> {
    start_run(state, user, req).await
}

async fn start_run(
    state: AppState,
    user: AuthUser,
    req: ExecuteRequest,
) -> Result<Response, ApiError> {
    let accepted_at = Instant::now();
    let now = crate::now();
    let (thread_id, new_thread) = match &req.thread_id {
        Some(id) => (owned_thread(&state, &user, id).await?.id, None),
        None => {
            let first = agent::first_chars(&req.message, 40);
            let title = if first.trim().is_empty() {
                DEFAULT_TITLE.to_owned()
            } else {
                first.to_owned()
            };
            let t = ThreadRow {
                id: uuid::Uuid::new_v4().to_string(),
                user_id: user.id.clone(),
                title,
                created_at: now.clone(),
            };
            (t.id.clone(), Some(t))
        }
    };
    let created_thread = new_thread.is_some();
    let message = MessageRow {
        id: uuid::Uuid::new_v4().to_string(),
        thread_id: thread_id.clone(),
        role: "user".into(),
        content: req.message.clone(),
        created_at: now.clone(),
    };
    let message_id = message.id.clone();
    let run = RunRow {
        id: uuid::Uuid::new_v4().to_string(),
        thread_id: thread_id.clone(),
        user_id: user.id.clone(),
        status: "started".into(),
        result: None,
    };
    let run_id = run.id.clone();
    state.db.start_run(new_thread, message, run, now).await?;
    if created_thread {
        state.stats.thread_added();
    }
    state.stats.message_added();
    state.stats.run_added();
    state.activity.record(
        "message",
        json!({"thread_id": thread_id, "message_id": message_id, "user_id": user.id, "role": "user", "run_id": run_id}),
    );
    agent::spawn(
        state.clone(),
        RunSpec {
            run_id: run_id.clone(),
            thread_id: thread_id.clone(),
            user_id: user.id,
            agent: req.agent.unwrap_or_else(|| "default".into()),
            message: req.message,
            accepted_at,
        },
    );
    Ok(json_response(
        StatusCode::ACCEPTED,
        ExecuteResponse {
            run_id,
            thread_id,
            status: "started".into(),
        },
    ))
}

/// A run's status (and result once completed).
#[utoipa::path(
    get, path = "/api/agent/runs/{run_id}", tag = "agents",
    params(("run_id" = String, Path, description = "Run id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The run", body = RunResponse),
        (status = 401, description = "Missing or bad token", body = ErrorBody),
        (status = 404, description = "Unknown run, or someone else's", body = ErrorBody),
    )
)]
pub async fn run_status(
    State(state): State<AppState>,
    user: AuthUser,
    Path(run_id): Path<String>,
) -> Result<Response, ApiError> {
    match state.db.run(run_id).await? {
        Some(run) if run.user_id == user.id => Ok(json_response(
            StatusCode::OK,
            RunResponse {
                run_id: run.id,
                thread_id: run.thread_id,
                result: run.result.filter(|_| run.status == "completed"),
                status: run.status,
            },
        )),
        _ => Err(ApiError::not_found("run")),
    }
}

/// Which agents can run, and the circuit breaker's state.
#[utoipa::path(
    get, path = "/api/agents/status", tag = "agents",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Agents", body = AgentsStatus),
        (status = 401, description = "Missing or bad token", body = ErrorBody),
    )
)]
pub async fn agents_status(State(state): State<AppState>, _user: AuthUser) -> Response {
    let status = if state.shutdown.is_triggered() {
        "unavailable"
    } else {
        "available"
    };
    json_response(
        StatusCode::OK,
        AgentsStatus {
            agents: AGENTS
                .iter()
                .map(|name| AgentInfo {
                    name: (*name).into(),
                    status: status.into(),
                })
                .collect(),
            circuit_breaker: "closed".into(),
        },
    )
}
