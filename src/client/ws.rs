//! Shared WebSocket plumbing: a lean socket configuration, the upgrade with error
//! mapping, and reading one text frame with a deadline.
//!
//! No task is spawned per socket: a socket is a `WebSocketStream` polled by its owner.
//! The read buffer is 4 KiB instead of tungstenite's 128 KiB default, because the load
//! mode holds thousands of sockets open.

use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use http::{HeaderName, HeaderValue};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::error::{ProtocolError, SubProtocolError};
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::error::{ClientError, excerpt, fmt_duration};
use super::read::root_reason;
use crate::contract::Fields;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The socket configuration used for every WebSocket of the client: a 4 KiB read
/// buffer, unbuffered writes, frames and messages capped at 1 MiB.
pub fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// What the upgrade needs.
pub(crate) struct Upgrade<'a> {
    pub url: String,
    /// The configured path, for messages (`/websocket`).
    pub path: &'a str,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Subprotocols offered, in order.
    pub subprotocols: Vec<String>,
    pub timeout: Duration,
    /// For reading the error envelope of a refused upgrade.
    pub fields: &'a Fields,
}

/// Performs the upgrade and maps every failure to a [`ClientError`] in contract words.
pub(crate) async fn connect(up: Upgrade<'_>) -> Result<(Ws, Response), ClientError> {
    let mut request =
        up.url
            .as_str()
            .into_client_request()
            .map_err(|e| ClientError::InvalidUrl {
                url: up.url.clone(),
                detail: e.to_string(),
            })?;
    for (name, value) in &up.headers {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    if !up.subprotocols.is_empty() {
        let joined = up.subprotocols.join(", ");
        let value = HeaderValue::from_str(&joined).map_err(|_| ClientError::Handshake {
            path: up.path.to_owned(),
            status: None,
            detail: "the token cannot be sent as a subprotocol (invalid header characters)".into(),
        })?;
        request
            .headers_mut()
            .insert(http::header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    let attempt =
        tokio_tungstenite::connect_async_with_config(request, Some(socket_config()), true);
    match tokio::time::timeout(up.timeout, attempt).await {
        Err(_) => Err(ClientError::Timeout {
            endpoint: format!("WebSocket upgrade on {}", up.path),
            after: up.timeout,
        }),
        Ok(Ok(pair)) => Ok(pair),
        Ok(Err(e)) => Err(handshake_error(e, &up)),
    }
}

fn handshake_error(e: tungstenite::Error, up: &Upgrade<'_>) -> ClientError {
    use tungstenite::Error as E;
    let (url, path, offered) = (&up.url, up.path, &up.subprotocols);
    match e {
        E::Http(response) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let detail = match serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|j| super::read::error_envelope(up.fields, &j))
            {
                Some((code, message)) => format!(
                    "{}: {:?}",
                    code.unwrap_or_default(),
                    message.unwrap_or_default()
                ),
                None if body.trim().is_empty() => "(empty body)".into(),
                None => excerpt(&body, 200),
            };
            ClientError::Handshake {
                path: path.to_owned(),
                status: Some(status),
                detail,
            }
        }
        E::Protocol(ProtocolError::SecWebSocketSubProtocolError(sub)) => match sub {
            SubProtocolError::NoSubProtocol => ClientError::NoSubprotocol {
                path: path.to_owned(),
                offered: offered.first().cloned().unwrap_or_default(),
            },
            SubProtocolError::InvalidSubProtocol => ClientError::Handshake {
                path: path.to_owned(),
                status: Some(101),
                detail: format!(
                    "the server selected a subprotocol that was not offered (offered {})",
                    offered.first().map(String::as_str).unwrap_or("none")
                ),
            },
            other => ClientError::Handshake {
                path: path.to_owned(),
                status: Some(101),
                detail: other.to_string(),
            },
        },
        E::Io(io) => ClientError::Unreachable {
            url: http_origin(url),
            reason: root_reason(&io),
            source: Some(Box::new(io)),
        },
        E::Url(u) => ClientError::InvalidUrl {
            url: url.to_owned(),
            detail: u.to_string(),
        },
        other => ClientError::Handshake {
            path: path.to_owned(),
            status: None,
            detail: other.to_string(),
        },
    }
}

fn http_origin(ws_url: &str) -> String {
    let http = if let Some(rest) = ws_url.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = ws_url.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        ws_url.to_owned()
    };
    match url::Url::parse(&http) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => http,
    }
}

/// What one read produced.
pub(crate) enum Incoming {
    Text(String, Instant),
    /// A close frame: code (1005 when the frame had none) and reason.
    Closed(u16, String),
}

/// Reads until a text frame or a close frame arrives, or `deadline` passes.
/// Control frames are handled by tungstenite and skipped here.
pub(crate) async fn read(
    ws: &mut Ws,
    path: &str,
    deadline: tokio::time::Instant,
    waiting_for: &str,
) -> Result<Incoming, ClientError> {
    let started = tokio::time::Instant::now();
    loop {
        let next = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => {
                return Err(ClientError::SocketTimeout {
                    path: path.to_owned(),
                    waited: started.elapsed(),
                    waiting_for: waiting_for.to_owned(),
                });
            }
            Ok(next) => next,
        };
        let received_at = Instant::now();
        match next {
            None => {
                return Err(ClientError::SocketDied {
                    path: path.to_owned(),
                    detail: "the stream ended".into(),
                });
            }
            Some(Err(e)) => return Err(read_error(e, path)),
            Some(Ok(Message::Text(t))) => {
                return Ok(Incoming::Text(t.as_str().to_owned(), received_at));
            }
            Some(Ok(Message::Binary(b))) => match String::from_utf8(b.to_vec()) {
                Ok(t) => return Ok(Incoming::Text(t, received_at)),
                Err(_) => {
                    return Err(ClientError::Protocol {
                        path: path.to_owned(),
                        detail: format!(
                            "a binary frame of {} bytes that is not UTF-8 JSON",
                            b.len()
                        ),
                    });
                }
            },
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = match frame {
                    Some(f) => (u16::from(f.code), f.reason.as_str().to_owned()),
                    None => (1005, String::new()),
                };
                return Ok(Incoming::Closed(code, reason));
            }
            Some(Ok(_)) => continue, // ping, pong, raw frame
        }
    }
}

fn read_error(e: tungstenite::Error, path: &str) -> ClientError {
    use tungstenite::Error as E;
    let detail = match &e {
        E::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            "the connection was reset without a closing handshake".to_owned()
        }
        E::ConnectionClosed | E::AlreadyClosed => "the connection is already closed".to_owned(),
        E::Io(io) => format!("I/O error: {}", root_reason(io)),
        other => other.to_string(),
    };
    ClientError::SocketDied {
        path: path.to_owned(),
        detail,
    }
}

/// Sends one text frame.
pub(crate) async fn send_text(ws: &mut Ws, path: &str, text: String) -> Result<(), ClientError> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| read_error(e, path))
}

/// Sends a close frame and waits (briefly) for the server's answer.
pub(crate) async fn close(ws: &mut Ws, code: u16, reason: &str, wait: Duration) {
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    let frame = CloseFrame {
        code: code.into(),
        reason: reason.to_owned().into(),
    };
    if ws.close(Some(frame)).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(wait, async { while let Some(Ok(_)) = ws.next().await {} }).await;
}

/// `5s` for messages.
pub(crate) fn human(d: Duration) -> String {
    fmt_duration(d)
}
