//! The dashboard WebSocket (`/api/v1/ws/dashboard`, no token).
//!
//! The upgrade is always accepted; a foreign (or missing) `Origin` is then
//! closed with 1008 `Origin not allowed`, and a client IP that already has
//! `WEBSOCKET_MAX_CONNECTIONS_PER_IP` open connections with 1008
//! `Connection limit exceeded`. Admitted clients get `connection_ack`, a
//! `stats_update` every `STATS_INTERVAL_MS`, and the `query_complete` / `error`
//! broadcasts.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::{CLOSE_POLICY, CLOSE_SERVICE_RESTART, close_with, is_ping, pong};
use crate::AppState;
use crate::error::ApiError;
use crate::events::DashboardSlot;
use crate::routes::ErrorBody;

/// Dashboard WebSocket.
#[utoipa::path(
    get, path = "/api/v1/ws/dashboard", tag = "websockets",
    description = "Dashboard WebSocket, no token. `Origin` must be one of `ALLOWED_ORIGINS`, else the \
        connection is accepted then closed with 1008 `Origin not allowed`; more than \
        `WEBSOCKET_MAX_CONNECTIONS_PER_IP` open connections from one IP are closed with 1008 \
        `Connection limit exceeded`. Frames: `connection_ack {timestamp}`, then every \
        `STATS_INTERVAL_MS` `stats_update {timestamp, data: {users, threads, messages, runs, \
        active_connections}}`; broadcasts `query_complete {run_id, response_length, model, latency_ms}` \
        after each agent run and `error {error_type, message, endpoint}` after each 5xx.",
    params(("Origin" = String, Header, description = "An allowed origin, e.g. http://localhost:3000")),
    responses(
        (status = 101, description = "Switching protocols"),
        (status = 426, description = "Plain request without upgrade", body = ErrorBody),
    )
)]
pub async fn dashboard(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return ApiError::upgrade_required().into_response();
    };
    let faults = &state.config.faults;
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(|o| o.trim().trim_end_matches('/'));
    let origin_ok = faults.no_origin_check
        || origin.is_some_and(|o| {
            state
                .config
                .allowed_origins
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(o))
        });
    let admission: Result<DashboardSlot, &'static str> = if !origin_ok {
        Err("Origin not allowed")
    } else {
        let limit = (!faults.no_connection_limit).then_some(state.config.ws_max_connections_per_ip);
        state
            .dashboard
            .admit(addr.ip(), limit)
            .ok_or("Connection limit exceeded")
    };
    let task = state.shutdown.task_token();
    let origin = origin.map(str::to_owned);
    ws.on_upgrade(move |socket| async move {
        match admission {
            Ok(slot) => session(state, socket, slot, addr).await,
            Err(reason) => {
                tracing::info!(
                    client_ip = %addr.ip(), origin = ?origin, reason,
                    open = state.dashboard.active(), "dashboard websocket refused"
                );
                close_with(socket, CLOSE_POLICY, reason, Duration::from_secs(1)).await;
            }
        }
        drop(task);
    })
}

async fn session(state: AppState, mut socket: WebSocket, slot: DashboardSlot, addr: SocketAddr) {
    tracing::info!(
        client_ip = %addr.ip(), open = state.dashboard.active(),
        "dashboard websocket connected"
    );
    let mut broadcasts = state.dashboard.subscribe();
    let ack = json!({"type": "connection_ack", "timestamp": crate::now()});
    if socket
        .send(Message::Text(ack.to_string().into()))
        .await
        .is_ok()
    {
        let every = state.config.stats_interval;
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stall = state.config.faults.stats_stall;
        let mut stats_sent = 0u64;
        loop {
            tokio::select! {
                () = state.shutdown.cancelled() => {
                    close_with(socket, CLOSE_SERVICE_RESTART, "service restart", Duration::from_millis(100)).await;
                    break;
                }
                _ = ticker.tick(), if !(stall && stats_sent >= 1) => {
                    let frame = json!({
                        "type": "stats_update",
                        "timestamp": crate::now(),
                        "data": state.stats.snapshot(state.dashboard.active()),
                    });
                    if socket.send(Message::Text(frame.to_string().into())).await.is_err() {
                        break;
                    }
                    stats_sent += 1;
                }
                frame = broadcasts.recv() => match frame {
                    Ok(frame) => {
                        if socket.send(Message::Text(frame)).await.is_err() {
                            break;
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(client_ip = %addr.ip(), skipped = n, "slow dashboard client skipped broadcasts");
                    }
                    Err(RecvError::Closed) => break,
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
    drop(slot);
    tracing::info!(
        client_ip = %addr.ip(), open = state.dashboard.active(),
        "dashboard websocket disconnected"
    );
}
