//! WebSocket endpoints: agent events (contract §5) and the dashboard (§6).

pub mod agent_events;
pub mod dashboard;

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};

/// Close code sent to every open socket before the process stops.
pub const CLOSE_SERVICE_RESTART: u16 = 1012;
/// Close code for policy refusals (origin, connection limit).
pub const CLOSE_POLICY: u16 = 1008;

/// Sends a close frame, then waits up to `linger` for the client's close reply
/// so the frame is not lost to a TCP reset.
pub async fn close_with(mut socket: WebSocket, code: u16, reason: &'static str, linger: Duration) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(linger, async {
        while let Some(Ok(msg)) = socket.recv().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// True for a text frame `{"type": "ping", ...}`.
pub fn is_ping(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .is_some_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("ping"))
}

/// `{"type": "pong", "timestamp"}`.
pub fn pong() -> Message {
    Message::Text(
        serde_json::json!({"type": "pong", "timestamp": crate::now()})
            .to_string()
            .into(),
    )
}
