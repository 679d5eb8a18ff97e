//! Operations (contract §7): health, API description, admin restart.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{ErrorBody, json_response};
use crate::auth::bearer_token;
use crate::db::Role;
use crate::error::ApiError;
use crate::{AppState, ExitReason, NO_COMEBACK_MARKER};

/// `/health` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `healthy` (503 with `unhealthy` otherwise).
    #[schema(example = "healthy")]
    pub status: String,
    /// Stack version.
    pub version: String,
    /// New at every process start.
    pub boot_id: String,
    /// When this process started.
    pub started_at: String,
    /// Seconds since start (a number with millisecond precision).
    pub uptime_s: f64,
}

/// `/health/detailed` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthDetailed {
    /// `healthy` or `unhealthy`.
    pub status: String,
    /// Each dependency's state, e.g. `database`: `connected` or `error`.
    #[schema(value_type = Object, example = json!({"database": "connected", "event_hub": "running", "activity_log": "running"}))]
    pub services: serde_json::Value,
    /// Stack version.
    pub version: String,
    /// New at every process start.
    pub boot_id: String,
    /// Seconds since start.
    pub uptime_s: f64,
}

/// `/admin/restart` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestartResponse {
    /// Always `restarting`.
    #[schema(example = "restarting")]
    pub status: String,
}

fn uptime_s(state: &AppState) -> f64 {
    (state.boot.started.elapsed().as_millis() as f64) / 1000.0
}

/// Liveness: never touches the database.
#[utoipa::path(
    get, path = "/health", tag = "operations",
    responses(
        (status = 200, description = "Healthy", body = HealthResponse),
        (status = 503, description = "Not healthy", body = HealthResponse),
    )
)]
pub async fn health(State(state): State<AppState>) -> Response {
    let (status, word) = if state.boot.healthy {
        (StatusCode::OK, "healthy")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unhealthy")
    };
    json_response(
        status,
        HealthResponse {
            status: word.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            boot_id: state.boot.boot_id.clone(),
            started_at: state.boot.started_at.clone(),
            uptime_s: uptime_s(&state),
        },
    )
}

/// Readiness with dependency checks; 503 when one is down.
#[utoipa::path(
    get, path = "/health/detailed", tag = "operations",
    responses(
        (status = 200, description = "Every dependency is up", body = HealthDetailed),
        (status = 503, description = "A dependency is down", body = HealthDetailed),
    )
)]
pub async fn health_detailed(State(state): State<AppState>) -> Response {
    let db_ok = matches!(
        tokio::time::timeout(Duration::from_secs(2), state.db.check()).await,
        Ok(Ok(()))
    );
    let healthy = db_ok && state.boot.healthy;
    json_response(
        if healthy {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        HealthDetailed {
            status: if healthy { "healthy" } else { "unhealthy" }.into(),
            services: json!({
                "database": if db_ok { "connected" } else { "error" },
                "event_hub": "running",
                "activity_log": "running",
            }),
            version: env!("CARGO_PKG_VERSION").into(),
            boot_id: state.boot.boot_id.clone(),
            uptime_s: uptime_s(&state),
        },
    )
}

/// The OpenAPI 3 document of this API.
#[utoipa::path(
    get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json"))
)]
pub async fn openapi_json(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi_json.clone(),
    )
        .into_response()
}

/// Human-readable API documentation, rendered on the server, no external assets.
#[utoipa::path(
    get, path = "/docs", tag = "operations",
    responses((status = 200, description = "HTML page", content_type = "text/html"))
)]
pub async fn docs(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        state.docs_html.clone(),
    )
        .into_response()
}

/// Answers, then stops the process (exit 0) within 0.5 s; the container's
/// restart policy starts it again on the same data.
#[utoipa::path(
    post, path = "/admin/restart", tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Restarting", body = RestartResponse),
        (status = 401, description = "Missing or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
pub async fn restart(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut by = None;
    if !state.config.faults.open_restart {
        let token = bearer_token(&headers).ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "this route needs an Authorization: Bearer <token> header",
            )
        })?;
        let user = state.auth.verify(token)?;
        if user.role != Role::Admin {
            return Err(ApiError::forbidden("only an admin may restart the stack"));
        }
        by = Some(user.id);
    }
    if state.config.faults.no_comeback {
        let marker = state.config.data_dir.join(NO_COMEBACK_MARKER);
        if let Err(e) = std::fs::write(&marker, crate::now()) {
            tracing::warn!(error = %e, "cannot write the no_comeback marker");
        }
    }
    state
        .activity
        .record("restart", json!({"by": by, "boot_id": state.boot.boot_id}));
    tracing::info!("restart requested");
    state.shutdown.trigger(ExitReason::Restart);
    Ok(json_response(
        StatusCode::OK,
        RestartResponse {
            status: "restarting".into(),
        },
    ))
}
