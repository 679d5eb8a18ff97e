//! The agent-events WebSocket: `$WEBSOCKET_PATH` (default `/websocket`) and the
//! legacy alias `/ws`, identical except that the `ws_path_500` fault breaks only
//! the primary path.
//!
//! Authentication happens before the upgrade (401 otherwise): either the
//! subprotocols `jwt-auth` + `jwt.<token>` (the server then selects `jwt-auth`),
//! or `Authorization: Bearer <token>`. A plain GET without upgrade is 426.
//! In dialect B the paths are `/v2/events` and `/v2/events/legacy`, the
//! handshake selects `jwt.<token>` instead, and event frames are flat
//! ([`crate::dialect`]).

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{CLOSE_SERVICE_RESTART, close_with, is_ping, pong};
use crate::AppState;
use crate::auth::{AuthUser, bearer_token};
use crate::error::ApiError;
use crate::events::Subscription;
use crate::routes::ErrorBody;

/// The subprotocol the server selects.
pub const AUTH_SUBPROTOCOL: &str = "jwt-auth";

/// Primary agent-events path.
#[utoipa::path(
    get, path = "/websocket", tag = "websockets",
    description = "Agent-events WebSocket. Authenticate with the subprotocols `jwt-auth` and `jwt.<token>` \
        (the server selects `jwt-auth`) or with `Authorization: Bearer <token>`. \
        First frame: `connection_established {user_id, connection_id, timestamp}`. \
        Send `{\"type\":\"ping\"}` to get `{\"type\":\"pong\",\"timestamp\"}`. \
        Each run of the caller emits five frames `{type, run_id, thread_id, seq, timestamp, data}`: \
        agent_started {agent}, agent_thinking {thought}, tool_executing {tool, input}, \
        tool_completed {tool, output}, agent_completed {result, duration_ms}. \
        Open sockets are closed with code 1012 before the process stops.",
    params(
        ("Sec-WebSocket-Protocol" = Option<String>, Header, description = "`jwt-auth, jwt.<token>`"),
        ("Authorization" = Option<String>, Header, description = "`Bearer <token>`"),
    ),
    responses(
        (status = 101, description = "Switching protocols; `Sec-WebSocket-Protocol: jwt-auth` when offered"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 426, description = "Plain request without upgrade", body = ErrorBody),
    )
)]
pub async fn primary(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if state.config.faults.ws_path_500 {
        return ApiError::internal("seeded fault ws_path_500").into_response();
    }
    upgrade(state, addr, &headers, ws)
}

/// Legacy alias of the agent-events path.
#[utoipa::path(
    get, path = "/ws", tag = "websockets",
    description = "Legacy alias of `/websocket`, identical behaviour.",
    responses(
        (status = 101, description = "Switching protocols"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 426, description = "Plain request without upgrade", body = ErrorBody),
    )
)]
pub async fn legacy(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    upgrade(state, addr, &headers, ws)
}

/// Subprotocols offered by the client, in order.
fn offered_protocols(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

fn upgrade(
    state: AppState,
    addr: SocketAddr,
    headers: &HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let token_protocol = offered_protocols(headers).find(|p| p.starts_with("jwt."));
    let token =
        bearer_token(headers).or_else(|| token_protocol.and_then(|p| p.strip_prefix("jwt.")));
    let Some(token) = token else {
        return ApiError::unauthorized(
            "missing_token",
            "authenticate with subprotocols `jwt-auth, jwt.<token>` or `Authorization: Bearer <token>`",
        )
        .into_response();
    };
    let user = match state.auth.verify(token) {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    let Ok(mut ws) = ws else {
        return ApiError::upgrade_required().into_response();
    };
    if !state.config.faults.no_subprotocol_echo {
        ws = ws.protocols(state.config.dialect.subprotocols(token_protocol));
    }
    // Registered before the 101 goes out, so no event of a run started right
    // after the handshake can be missed; frames wait in the channel.
    let subscription = state.hub.subscribe(&user.id);
    let task = state.shutdown.task_token();
    ws.on_upgrade(move |socket| async move {
        session(state, socket, user, subscription, addr).await;
        drop(task);
    })
}

async fn session(
    state: AppState,
    mut socket: WebSocket,
    user: AuthUser,
    mut sub: Subscription,
    addr: SocketAddr,
) {
    let connection_id = uuid::Uuid::new_v4().to_string();
    tracing::info!(
        client_ip = %addr.ip(), user_id = %user.id, %connection_id,
        open = state.hub.open_count(), "agent-events websocket connected"
    );
    let hello = json!({
        "type": "connection_established",
        "user_id": user.id,
        "connection_id": connection_id,
        "timestamp": crate::now(),
    });
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_ok()
    {
        loop {
            // Biased: queued event frames go out before the next client frame is
            // read, so a pong also proves that every earlier event was sent.
            tokio::select! {
                biased;
                () = state.shutdown.cancelled() => {
                    close_with(socket, CLOSE_SERVICE_RESTART, "service restart", Duration::from_millis(100)).await;
                    break;
                }
                frame = sub.rx.recv() => match frame {
                    Some(frame) => {
                        if socket.send(Message::Text(frame)).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                },
                msg = socket.recv() => match msg {
                    Some(Ok(Message::Text(text))) => {
                        if is_ping(&text) && socket.send(pong()).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
    drop(sub);
    tracing::info!(
        client_ip = %addr.ip(), user_id = %user.id, %connection_id,
        open = state.hub.open_count(), "agent-events websocket disconnected"
    );
}
