//! The dashboard WebSocket (`paths.dashboard`, contract section 6).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use serde_json::Value;
use tracing::Instrument as _;

use super::StackClient;
use super::error::{ClientError, excerpt};
use super::read::{field, opt_str};
use super::ws::{self, Incoming, Ws};
use crate::contract::Contract;

/// `stats_update.data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Registered users; None when absent or not a whole number.
    pub users: Option<u64>,
    /// Threads stored; None when absent or not a whole number.
    pub threads: Option<u64>,
    /// Messages stored; None when absent or not a whole number.
    pub messages: Option<u64>,
    /// Agent runs so far; None when absent or not a whole number.
    pub runs: Option<u64>,
    /// Open dashboard connections; None when absent or not a whole number.
    pub active_connections: Option<u64>,
    /// The whole `data` object.
    pub raw: Value,
}

/// A dashboard frame, typed by its `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum DashboardFrame {
    /// `connection_ack`, the first frame after connecting.
    ConnectionAck {
        /// `timestamp` of the frame; None when absent.
        timestamp: Option<String>,
    },
    /// `stats_update`, sent every stats interval.
    StatsUpdate {
        /// `timestamp` of the frame; None when absent.
        timestamp: Option<String>,
        /// The counts in `data`.
        stats: Stats,
    },
    /// `query_complete`, broadcast after each agent run.
    QueryComplete {
        /// The run that completed; None when absent.
        run_id: Option<String>,
        /// Length of the agent's answer, in characters; None when absent.
        response_length: Option<u64>,
        /// The model that answered; None when absent.
        model: Option<String>,
        /// How long the run took, in ms; None when absent or not a number.
        latency_ms: Option<f64>,
    },
    /// `error`, broadcast after each 5xx answer of the stack.
    Error {
        /// What kind of error it was; None when absent.
        error_type: Option<String>,
        /// The error's message; None when absent.
        message: Option<String>,
        /// The endpoint that answered 5xx; None when absent.
        endpoint: Option<String>,
    },
    /// Any other frame, kept whole.
    Other {
        /// The frame's `type`; None when it has none or it is not a string.
        kind: Option<String>,
        /// The whole frame, parsed as JSON.
        value: Value,
    },
}

/// A dashboard connection. Owned by one task; no background task.
pub struct DashboardSocket {
    ws: Ws,
    contract: Arc<Contract>,
    path: String,
    closed: Option<(u16, String)>,
}

impl fmt::Debug for DashboardSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DashboardSocket")
            .field("path", &self.path)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

pub(super) async fn connect(
    client: &StackClient,
    origin: Option<String>,
) -> Result<DashboardSocket, ClientError> {
    let contract = client.contract_arc().clone();
    let path = contract.paths.dashboard.as_str().to_owned();
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    if let Some(o) = &origin {
        let value = HeaderValue::from_str(o).map_err(|_| ClientError::Handshake {
            path: path.clone(),
            status: None,
            detail: format!("{o:?} cannot be sent as an Origin header"),
        })?;
        headers.push((http::header::ORIGIN, value));
    }
    let span = tracing::info_span!("ws_connect", path = %path, origin = ?origin);
    async {
        let (ws, _response) = ws::connect(ws::Upgrade {
            url: client.ws_url(&path),
            path: &path,
            headers,
            subprotocols: Vec::new(),
            timeout: contract.timeouts.socket_connect,
            fields: &contract.fields,
        })
        .await?;
        tracing::debug!("dashboard socket open");
        Ok(DashboardSocket {
            ws,
            contract: contract.clone(),
            path: path.clone(),
            closed: None,
        })
    }
    .instrument(span)
    .await
}

impl DashboardSocket {
    /// The next frame within `timeout`. A close frame is [`ClientError::SocketClosed`].
    pub async fn next_frame(&mut self, timeout: Duration) -> Result<DashboardFrame, ClientError> {
        if let Some((code, reason)) = &self.closed {
            return Err(ClientError::SocketClosed {
                path: self.path.clone(),
                code: *code,
                reason: reason.clone(),
            });
        }
        let deadline = tokio::time::Instant::now() + timeout;
        match ws::read(&mut self.ws, &self.path, deadline, "a dashboard frame").await? {
            Incoming::Text(text, _) => self.parse(&text),
            Incoming::Closed(code, reason) => {
                self.closed = Some((code, reason.clone()));
                Err(ClientError::SocketClosed {
                    path: self.path.clone(),
                    code,
                    reason,
                })
            }
        }
    }

    /// Waits for the server to close the socket, skipping data frames; returns the
    /// close code and reason (e.g. `1008`, `Origin not allowed`).
    pub async fn expect_close(&mut self, timeout: Duration) -> Result<(u16, String), ClientError> {
        if let Some(closed) = &self.closed {
            return Ok(closed.clone());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match ws::read(&mut self.ws, &self.path, deadline, "a close frame").await? {
                Incoming::Text(..) => continue,
                Incoming::Closed(code, reason) => {
                    self.closed = Some((code, reason.clone()));
                    return Ok((code, reason));
                }
            }
        }
    }

    /// Closes the socket normally (1000) and waits up to a second for the server.
    pub async fn close(mut self) {
        ws::close(&mut self.ws, 1000, "", Duration::from_secs(1)).await;
    }

    fn parse(&self, text: &str) -> Result<DashboardFrame, ClientError> {
        let value: Value = serde_json::from_str(text).map_err(|_| ClientError::Protocol {
            path: self.path.clone(),
            detail: format!("a frame that is not JSON: {}", excerpt(text, 120)),
        })?;
        let f = &self.contract.fields;
        let d = &self.contract.dashboard_fields;
        let ev = &self.contract.events;
        let kind = opt_str(&value, &f.kind);
        let timestamp = opt_str(&value, &f.timestamp);
        // Payloads are in `data`; fall back to the top level for stacks that flatten.
        let data = field(&value, &d.data)
            .filter(|d| d.is_object())
            .unwrap_or(&value);
        let u = |k: &str| field(data, k).and_then(Value::as_u64);
        let s = |k: &str| opt_str(data, k);
        Ok(match kind.as_deref() {
            Some(k) if k == ev.connection_ack => DashboardFrame::ConnectionAck { timestamp },
            Some(k) if k == ev.stats_update => DashboardFrame::StatsUpdate {
                timestamp,
                stats: Stats {
                    users: u(&d.users),
                    threads: u(&d.threads),
                    messages: u(&d.messages),
                    runs: u(&d.runs),
                    active_connections: u(&d.active_connections),
                    raw: data.clone(),
                },
            },
            Some(k) if k == ev.query_complete => DashboardFrame::QueryComplete {
                run_id: s(&f.run_id),
                response_length: u(&d.response_length),
                model: s(&d.model),
                latency_ms: field(data, &d.latency_ms).and_then(Value::as_f64),
            },
            Some(k) if k == ev.error => DashboardFrame::Error {
                error_type: s(&d.error_type),
                message: s(&d.message),
                endpoint: s(&d.endpoint),
            },
            _ => DashboardFrame::Other { kind, value },
        })
    }
}
