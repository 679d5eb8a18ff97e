//! HTTP handlers, grouped by contract section, plus the JSON fallbacks and the
//! observer middleware (activity log of 4xx/5xx, dashboard `error` on 5xx).

pub mod agents;
pub mod auth;
pub mod ops;
pub mod threads;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorInfo};

/// The error body of every refusal (contract §1).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `not_found`, `invalid_token`, `unknown_agent`.
    #[schema(example = "not_found")]
    pub code: String,
    /// Human text.
    #[schema(example = "thread not found")]
    pub message: String,
}

/// 404 for any unknown route, as a JSON error.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// 405 for a known route with another method, as a JSON error.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
    )
}

/// Records 4xx/5xx responses in the activity log and broadcasts 5xx to the
/// dashboards, without delaying the response.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let res = next.run(req).await;
    let status = res.status();
    if status.is_client_error() || status.is_server_error() {
        let (code, message) = match res.extensions().get::<ErrorInfo>() {
            Some(info) => (info.code, info.message.clone()),
            None => (
                "http_error",
                status.canonical_reason().unwrap_or("error").to_owned(),
            ),
        };
        state.activity.record(
            "http_error",
            json!({
                "status": status.as_u16(),
                "method": method.as_str(),
                "path": uri.path(),
                "code": code,
            }),
        );
        if status.is_server_error() {
            state.dashboard.broadcast(
                "error",
                json!({"error_type": code, "message": message, "endpoint": uri.path()}),
            );
        }
    }
    res
}

/// Shorthand for handlers: a status with a JSON body.
pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: T) -> Response {
    (status, axum::Json(body)).into_response()
}
