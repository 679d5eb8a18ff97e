//! Threads and messages (contract §4). A thread belongs to its creator; anyone
//! else gets 404 on it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{ErrorBody, json_response};
use crate::AppState;
use crate::auth::AuthUser;
use crate::db::{MessageRow, ThreadRow};
use crate::error::{ApiError, ApiJson, Validate};

/// Longest message or agent prompt, in characters.
pub const MAX_CONTENT_CHARS: usize = 16384;
/// Longest thread title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Title of a thread created without one.
pub const DEFAULT_TITLE: &str = "New thread";

/// Create-thread body (may be omitted).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateThreadRequest {
    /// Optional title (at most 200 characters); a default is given without one.
    pub title: Option<String>,
}

/// A thread.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadResponse {
    /// Thread id.
    pub thread_id: String,
    /// Title.
    pub title: String,
    /// Creation time, RFC 3339 UTC with milliseconds.
    #[schema(example = "2026-01-02T15:30:45.123Z")]
    pub created_at: String,
}

/// The caller's threads, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadList {
    /// Threads.
    pub threads: Vec<ThreadResponse>,
}

/// Post-message body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PostMessageRequest {
    /// 1..=16384 characters.
    pub content: String,
}

/// A message as created.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageResponse {
    /// Message id.
    pub message_id: String,
    /// Thread id.
    pub thread_id: String,
    /// Always `user` here.
    #[schema(example = "user")]
    pub role: String,
    /// Text.
    pub content: String,
    /// Creation time.
    pub created_at: String,
}

/// A message in a thread listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageItem {
    /// Message id.
    pub message_id: String,
    /// `user` or `assistant`.
    pub role: String,
    /// Text.
    pub content: String,
    /// Creation time.
    pub created_at: String,
}

/// A thread's messages, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    /// Messages.
    pub messages: Vec<MessageItem>,
}

impl Validate for CreateThreadRequest {
    fn validate(&self) -> Result<(), ApiError> {
        match &self.title {
            Some(t) if t.chars().count() > MAX_TITLE_CHARS => Err(ApiError::invalid(
                "invalid_title",
                "title must be at most 200 characters",
            )),
            _ => Ok(()),
        }
    }
}

/// Checks the shared content rule (1..=16384 characters).
pub fn check_content(field: &str, code: &'static str, text: &str) -> Result<(), ApiError> {
    let n = text.chars().count();
    if n == 0 || n > MAX_CONTENT_CHARS {
        return Err(ApiError::invalid(
            code,
            format!("{field} must be 1 to {MAX_CONTENT_CHARS} characters"),
        ));
    }
    Ok(())
}

impl Validate for PostMessageRequest {
    fn validate(&self) -> Result<(), ApiError> {
        check_content("content", "invalid_content", &self.content)
    }
}

/// The thread if `user` owns it, else 404 (unknown and foreign look the same).
pub async fn owned_thread(
    state: &AppState,
    user: &AuthUser,
    thread_id: &str,
) -> Result<ThreadRow, ApiError> {
    match state.db.thread(thread_id.to_owned()).await? {
        Some(t) if t.user_id == user.id => Ok(t),
        _ => Err(ApiError::not_found("thread")),
    }
}

/// Creates a thread owned by the caller.
#[utoipa::path(
    post, path = "/api/threads", tag = "threads",
    request_body(content = CreateThreadRequest, description = "May be omitted"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Thread created", body = ThreadResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or bad token", body = ErrorBody),
        (status = 422, description = "Invalid title", body = ErrorBody),
    )
)]
pub async fn create_thread(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<CreateThreadRequest>,
) -> Result<Response, ApiError> {
    let title = req
        .title
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| DEFAULT_TITLE.to_owned());
    let thread = ThreadRow {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user.id,
        title,
        created_at: crate::now(),
    };
    state.db.insert_thread(thread.clone()).await?;
    state.stats.thread_added();
    Ok(json_response(
        StatusCode::CREATED,
        ThreadResponse {
            thread_id: thread.id,
            title: thread.title,
            created_at: thread.created_at,
        },
    ))
}

/// Lists the caller's threads, oldest first.
#[utoipa::path(
    get, path = "/api/threads", tag = "threads",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's threads only", body = ThreadList),
        (status = 401, description = "Missing or bad token", body = ErrorBody),
    )
)]
pub async fn list_threads(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Response, ApiError> {
    let threads = state
        .db
        .threads_of(user.id)
        .await?
        .into_iter()
        .map(|t| ThreadResponse {
            thread_id: t.id,
            title: t.title,
            created_at: t.created_at,
        })
        .collect();
    Ok(json_response(StatusCode::OK, ThreadList { threads }))
}

/// Adds a user message to one of the caller's threads; durable once answered.
#[utoipa::path(
    post, path = "/api/threads/{thread_id}/messages", tag = "threads",
    params(("thread_id" = String, Path, description = "Thread id")),
    request_body = PostMessageRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Message stored durably", body = MessageResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or bad token", body = ErrorBody),
        (status = 404, description = "Unknown thread, or someone else's", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 422, description = "content not 1..=16384 characters", body = ErrorBody),
    )
)]
pub async fn post_message(
    State(state): State<AppState>,
    user: AuthUser,
    Path(thread_id): Path<String>,
    ApiJson(req): ApiJson<PostMessageRequest>,
) -> Result<Response, ApiError> {
    let thread = owned_thread(&state, &user, &thread_id).await?;
    let msg = MessageRow {
        id: uuid::Uuid::new_v4().to_string(),
        thread_id: thread.id,
        role: "user".into(),
        content: req.content,
        created_at: crate::now(),
    };
    state.db.insert_message(msg.clone()).await?;
    state.stats.message_added();
    state.activity.record(
        "message",
        json!({"thread_id": msg.thread_id, "message_id": msg.id, "user_id": user.id, "role": "user"}),
    );
    Ok(json_response(
        StatusCode::CREATED,
        MessageResponse {
            message_id: msg.id,
            thread_id: msg.thread_id,
            role: msg.role,
            content: msg.content,
            created_at: msg.created_at,
        },
    ))
}

/// Lists a thread's messages, oldest first.
#[utoipa::path(
    get, path = "/api/threads/{thread_id}/messages", tag = "threads",
    params(("thread_id" = String, Path, description = "Thread id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Messages, oldest first", body = MessageList),
        (status = 401, description = "Missing or bad token", body = ErrorBody),
        (status = 404, description = "Unknown thread, or someone else's", body = ErrorBody),
    )
)]
pub async fn list_messages(
    State(state): State<AppState>,
    user: AuthUser,
    Path(thread_id): Path<String>,
) -> Result<Response, ApiError> {
    let thread = owned_thread(&state, &user, &thread_id).await?;
    let messages = state
        .db
        .messages_of(thread.id)
        .await?
        .into_iter()
        .map(|m| MessageItem {
            message_id: m.id,
            role: m.role,
            content: m.content,
            created_at: m.created_at,
        })
        .collect();
    Ok(json_response(StatusCode::OK, MessageList { messages }))
}
