//! What can go wrong talking to the stack, in the contract's words.

use std::fmt;
use std::time::Duration;

/// A failed call to the stack. Every variant names the endpoint or socket path as the
/// contract spells it (`POST /api/agent/v2/execute`, `/websocket`), so a failing scenario
/// says which contract row broke.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The stack answered, but not with the status the contract promises.
    #[error("{}", StatusText { endpoint, status: *status, expected: *expected, code, message })]
    Status {
        /// `METHOD /path/{template}` as in the contract.
        endpoint: String,
        /// The HTTP status the stack answered.
        status: u16,
        /// The status the contract promises for this call.
        expected: u16,
        /// `error.code` from the error envelope, when there was one.
        code: Option<String>,
        /// `error.message`, or an excerpt of the body when it was not an error envelope.
        message: Option<String>,
    },

    /// Nothing listens at the address (connection refused, DNS failure, …).
    #[error("cannot connect to {url}: {reason} — is the stack running?")]
    Unreachable {
        /// The origin (`scheme://host:port`) that could not be reached.
        url: String,
        /// The innermost cause, in words (e.g. `Connection refused`).
        reason: String,
        /// The underlying I/O or connect error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The request was sent but no complete answer came in time.
    #[error("{endpoint} gave no answer within {}", fmt_duration(*after))]
    Timeout {
        /// `METHOD /path` of the call, or `WebSocket upgrade on <path>`.
        endpoint: String,
        /// The time limit that ran out.
        after: Duration,
    },

    /// The connection broke mid-request.
    #[error("{endpoint} failed: {detail}")]
    Transport {
        /// `METHOD /path/{template}` of the call.
        endpoint: String,
        /// Why the connection broke, in words (the innermost cause).
        detail: String,
    },

    /// The answer had the right status but not the shape the contract describes.
    #[error("{endpoint} answered with an unexpected body: {detail}; body: {body_excerpt}")]
    Decode {
        /// `METHOD /path/{template}` of the call.
        endpoint: String,
        /// What is wrong with the body (missing field, wrong type, not JSON).
        detail: String,
        /// The first 200 characters of the body.
        body_excerpt: String,
    },

    /// A WebSocket upgrade was refused or failed.
    #[error("{}", HandshakeText { path, status: *status, detail })]
    Handshake {
        /// The socket path of the upgrade (`/websocket`).
        path: String,
        /// The HTTP status the server answered instead of 101, when it answered.
        status: Option<u16>,
        /// Why the upgrade failed, e.g. the error envelope's code and message.
        detail: String,
    },

    /// The server completed the upgrade without selecting the offered subprotocol:
    /// browsers then drop the connection ("no subprotocols supported").
    #[error(
        "the server selected no subprotocol although {offered} was offered (WebSocket upgrade on {path})"
    )]
    NoSubprotocol {
        /// The socket path of the upgrade.
        path: String,
        /// The first subprotocol offered (`jwt-auth`).
        offered: String,
    },

    /// The server closed the socket with a close frame.
    #[error("the server closed {path} with {code}{}", fmt_reason(reason))]
    SocketClosed {
        /// The socket path.
        path: String,
        /// The close code (e.g. 1008 policy violation, 1012 service restart).
        code: u16,
        /// The close reason; empty when the server sent none.
        reason: String,
    },

    /// The socket died without a closing handshake (reset, I/O error, end of stream).
    #[error("the socket on {path} died without a close frame: {detail}")]
    SocketDied {
        /// The socket path.
        path: String,
        /// What happened, in words.
        detail: String,
    },

    /// Nothing arrived on the socket in time.
    #[error("nothing arrived on {path} within {} (waiting for {waiting_for})", fmt_duration(*waited))]
    SocketTimeout {
        /// The socket path.
        path: String,
        /// How long the client waited.
        waited: Duration,
        /// What the client was waiting for (e.g. `connection_established`, `agent events`).
        waiting_for: String,
    },

    /// A frame that breaks the protocol (not JSON, wrong first frame, …).
    #[error("protocol error on {path}: {detail}")]
    Protocol {
        /// The socket path.
        path: String,
        /// What was wrong with the frame.
        detail: String,
    },

    /// A base URL that cannot be used.
    #[error("invalid base URL {url:?}: {detail}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it cannot be used.
        detail: String,
    },
}

impl ClientError {
    /// The HTTP status for [`ClientError::Status`] and [`ClientError::Handshake`].
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            ClientError::Handshake { status, .. } => *status,
            _ => None,
        }
    }

    /// The error envelope's `code` for [`ClientError::Status`].
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Whether the stack could not be reached at all (useful while waiting for a restart).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Unreachable { .. })
    }
}

struct StatusText<'a> {
    endpoint: &'a str,
    status: u16,
    expected: u16,
    code: &'a Option<String>,
    message: &'a Option<String>,
}

impl fmt::Display for StatusText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered {}", self.endpoint, self.status)?;
        if let Some(code) = self.code {
            write!(f, " {code}")?;
        }
        if let Some(message) = self.message {
            write!(f, ": {message:?}")?;
        }
        write!(f, " (expected {})", self.expected)
    }
}

struct HandshakeText<'a> {
    path: &'a str,
    status: Option<u16>,
    detail: &'a str,
}

impl fmt::Display for HandshakeText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(
                f,
                "WebSocket upgrade on {} refused with HTTP {s} (expected 101): {}",
                self.path, self.detail
            ),
            None => write!(
                f,
                "WebSocket upgrade on {} failed: {}",
                self.path, self.detail
            ),
        }
    }
}

fn fmt_reason(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" {reason:?}")
    }
}

/// `1.5s`, `250ms`, `5s`: durations rounded to the millisecond for messages.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        format!("{}µs", d.as_micros())
    } else if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The first `max` characters of a body, for messages.
pub(crate) fn excerpt(body: &str, max: usize) -> String {
    let body = body.trim();
    if body.chars().count() <= max {
        body.to_owned()
    } else {
        let cut: String = body.chars().take(max).collect();
        format!("{cut}…")
    }
}
