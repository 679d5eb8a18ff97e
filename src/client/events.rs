//! The agent-events WebSocket (`paths.agent_events`, contract section 5).
//!
//! Why one long file: 800 lines of the socket and 100 of tests. The handshake, the frame
//! parser, run collection and its problem reports are one protocol, read together.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use http::{HeaderName, HeaderValue};
use serde_json::{Value, json};
use tracing::Instrument as _;

use super::error::{ClientError, excerpt};
use super::read::{field, opt_str};
use super::ws::{self, Incoming, Ws, human};
use super::{Session, StackClient};
use crate::contract::{Contract, Selects};

/// How the socket authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketAuth {
    /// Offer `jwt-auth` and `jwt.<token>` as subprotocols (the browser way); the
    /// server must select `jwt-auth`.
    Subprotocol,
    /// `Authorization: Bearer <token>` (non-browser clients).
    Header,
}

/// Which agent-events path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketPath {
    /// `paths.agent_events` (`/websocket`).
    Primary,
    /// `paths.agent_events_legacy` (`/ws`).
    Legacy,
}

/// The first frame the server sends.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionEstablished {
    /// `user_id` of the frame: the user the token belongs to; None when absent.
    pub user_id: Option<String>,
    /// `connection_id` of the frame: the server's id for this socket; None when absent.
    pub connection_id: Option<String>,
    /// `timestamp` of the frame, as sent (RFC 3339); None when absent.
    pub timestamp: Option<String>,
}

/// An answer to `ping`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pong {
    /// `timestamp` of the pong frame, as sent; None when absent.
    pub timestamp: Option<String>,
    /// Round trip from sending the ping to reading the pong.
    pub rtt: Duration,
}

/// An agent event's type: its name, and its position (0..5) in the configured order
/// (`None` for a name that is not one of the five).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventKind {
    /// The frame's `type`, as sent.
    pub name: String,
    /// Index in `Events::agent_sequence` (0 = `agent_started`), or None.
    pub index: Option<usize>,
}

impl AgentEvent {
    /// A field of the event's data, named as the configuration names it (a key, or a
    /// JSON pointer such as `/detail/tool`).
    pub fn data_field(&self, name: &str) -> Option<&Value> {
        field(&self.data, name)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// One agent event frame.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentEvent {
    /// The event's type.
    pub kind: EventKind,
    /// Empty when the frame carried no run id.
    pub run_id: String,
    /// `thread_id` of the frame; None when absent.
    pub thread_id: Option<String>,
    /// `seq` of the frame (1..=5 within a run); None when absent or not a whole number.
    pub seq: Option<u64>,
    /// Parsed RFC 3339 timestamp; `None` when absent or unparseable (see `timestamp_raw`).
    pub timestamp: Option<DateTime<Utc>>,
    /// `timestamp` of the frame as sent; None when absent.
    pub timestamp_raw: Option<String>,
    /// `data` of the frame, the type-specific payload (`Value::Null` when absent).
    pub data: Value,
    /// When the frame was read off the socket (for per-event latency).
    pub received_at: Instant,
}

/// Any frame of the agent-events socket.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentFrame {
    /// The server's first frame, `connection_established`.
    Established(ConnectionEstablished),
    /// An answer to a `ping`.
    Pong {
        /// `timestamp` of the pong frame; None when absent.
        timestamp: Option<String>,
        /// When the frame was read off the socket.
        received_at: Instant,
    },
    /// An agent event: one of the five types, or any frame that carries a `run_id`.
    Event(AgentEvent),
    /// A frame of another type (kept whole).
    Other {
        /// The frame's `type`; None when it has none or it is not a string.
        kind: Option<String>,
        /// The whole frame, parsed as JSON.
        value: Value,
        /// When the frame was read off the socket.
        received_at: Instant,
    },
}

/// The events of one run, complete and in order.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvents {
    /// The run the events belong to.
    pub run_id: String,
    /// The run's events, in arrival order (the configured five, in order, with `seq` 1..=n).
    pub events: Vec<AgentEvent>,
    /// When `collect_run` started waiting.
    pub waited_from: Instant,
    /// Run ids of the agent events of other runs seen (and skipped) meanwhile.
    pub other_runs: Vec<String>,
}

impl RunEvents {
    /// The events' type names, in arrival order.
    pub fn names(&self) -> Vec<&str> {
        self.events.iter().map(|e| e.kind.name.as_str()).collect()
    }

    /// The agent's answer: `data.<result_field>` of the last event (`agent_completed`);
    /// the field's name is `fields.result` of the configuration.
    pub fn result(&self, result_field: &str) -> Option<&Value> {
        self.events.last().and_then(|e| e.data_field(result_field))
    }

    /// Time from the start of waiting to the last event.
    pub fn elapsed(&self) -> Option<Duration> {
        self.events
            .last()
            .map(|e| e.received_at.saturating_duration_since(self.waited_from))
    }
}

/// How collecting a run stopped early.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    /// Nothing more arrived before the deadline; `silence` since the last event.
    Silence {
        /// Time since the last event of the run (or since waiting started, when none came).
        silence: Duration,
    },
    /// The server closed the socket.
    Closed {
        /// The close code the server sent (e.g. 1012 on a restart).
        code: u16,
        /// The close reason the server sent; empty when none.
        reason: String,
    },
    /// The socket died or broke the protocol.
    Failed {
        /// What went wrong, in words.
        detail: String,
    },
}

/// The run's events did not arrive as the contract requires: some missing, out of
/// order, duplicated, or with wrong `seq`. Carries what did arrive.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsIncomplete {
    /// The run whose events were awaited.
    pub run_id: String,
    /// The configured event names, in order; or, when `events.sequence` is a pattern,
    /// that pattern alone.
    pub expected: Vec<String>,
    /// The time allowed for all of them to arrive.
    pub within: Duration,
    /// The run's events that did arrive, in arrival order.
    pub got: Vec<AgentEvent>,
    /// `None` when every event arrived but the sequence is wrong.
    pub ended: Option<RunEnd>,
    /// Sequence problems: missing, duplicate, out of order, bad seq.
    pub problems: Vec<String>,
    /// Agent events of other runs seen (and ignored) meanwhile.
    pub other_runs_ignored: usize,
    /// Their run ids.
    pub other_runs: Vec<String>,
}

impl fmt::Display for EventsIncomplete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = number_word(self.expected.len());
        let in_order = if self.ended.is_none() {
            " in order"
        } else {
            ""
        };
        if let [pattern] = self.expected.as_slice()
            && pattern.contains(char::is_whitespace)
        {
            write!(
                f,
                "expected the agent events {pattern:?} within {}; ",
                human(self.within)
            )?;
        } else {
            write!(
                f,
                "expected the {n} agent events{in_order} within {}; ",
                human(self.within)
            )?;
        }
        let names: Vec<&str> = self.got.iter().map(|e| e.kind.name.as_str()).collect();
        match (&self.ended, names.is_empty()) {
            (Some(RunEnd::Silence { silence }), true) => {
                write!(f, "got nothing for {}", human(*silence))?
            }
            (Some(RunEnd::Silence { silence }), false) => write!(
                f,
                "got {}, then nothing for {}",
                names.join(", "),
                human(*silence)
            )?,
            (Some(RunEnd::Closed { code, reason }), _) => {
                let got = if names.is_empty() {
                    "nothing".into()
                } else {
                    names.join(", ")
                };
                write!(
                    f,
                    "got {got}, then the server closed the socket with {code}"
                )?;
                if !reason.is_empty() {
                    write!(f, " {reason:?}")?;
                }
            }
            (Some(RunEnd::Failed { detail }), _) => {
                let got = if names.is_empty() {
                    "nothing".into()
                } else {
                    names.join(", ")
                };
                write!(f, "got {got}, then {detail}")?;
            }
            (None, _) => write!(f, "got {}", names.join(", "))?,
        }
        if !self.problems.is_empty() {
            write!(f, " ({})", self.problems.join("; "))?;
        }
        if self.other_runs_ignored > 0 {
            write!(
                f,
                "; {} events of other runs were ignored",
                self.other_runs_ignored
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for EventsIncomplete {}

fn number_word(n: usize) -> String {
    const WORDS: [&str; 11] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    WORDS
        .get(n)
        .map(|w| w.to_string())
        .unwrap_or_else(|| n.to_string())
}

/// The agent-events socket of one user. Owned by one task; no background task.
pub struct AgentEventSocket {
    ws: Ws,
    contract: Arc<Contract>,
    path: String,
    subprotocol: Option<String>,
    /// What the configuration says the server must select (`websocket.selects`), when
    /// the socket offered subprotocols.
    expected_subprotocol: Option<String>,
    established: ConnectionEstablished,
    pending: VecDeque<AgentFrame>,
    closed: Option<(u16, String)>,
}

impl fmt::Debug for AgentEventSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentEventSocket")
            .field("path", &self.path)
            .field("subprotocol", &self.subprotocol)
            .field("established", &self.established)
            .finish_non_exhaustive()
    }
}

pub(super) async fn connect(
    client: &StackClient,
    session: Option<&Session>,
    auth: SocketAuth,
    which: SocketPath,
) -> Result<AgentEventSocket, ClientError> {
    let contract = client.contract_arc().clone();
    let path = match which {
        SocketPath::Primary => contract.paths.agent_events.as_str(),
        SocketPath::Legacy => contract.paths.agent_events_legacy.as_str(),
    }
    .to_owned();
    let wsc = &contract.websocket;
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    let mut subprotocols = Vec::new();
    match (auth, session) {
        (SocketAuth::Subprotocol, Some(s)) => {
            subprotocols.push(wsc.subprotocol.clone());
            subprotocols.push(format!("{}{}", wsc.token_prefix, s.token));
        }
        (SocketAuth::Header, Some(s)) => {
            let value = HeaderValue::from_str(&s.bearer()).map_err(|_| ClientError::Handshake {
                path: path.clone(),
                status: None,
                detail: "the token has characters that cannot go in a header".into(),
            })?;
            headers.push((http::header::AUTHORIZATION, value));
        }
        (_, None) => {}
    }
    let timeout = contract.timeouts.socket_connect;
    let token_prefix = wsc.token_prefix.clone();
    let wanted = match (wsc.selects, session) {
        (Selects::Token, Some(s)) => format!("{token_prefix}{}", s.token),
        _ => wsc.subprotocol.clone(),
    };
    let wanted_name = match wsc.selects {
        Selects::Token => format!("the token protocol {token_prefix}<token>"),
        Selects::Subprotocol => wanted.clone(),
    };
    let span =
        tracing::info_span!("ws_connect", path = %path, ?auth, status = tracing::field::Empty);
    async move {
        let (mut ws, response) = ws::connect(ws::Upgrade {
            url: client.ws_url(&path),
            path: &path,
            headers,
            subprotocols: subprotocols.clone(),
            timeout,
            fields: &contract.fields,
        })
        .await?;
        tracing::Span::current().record("status", response.status().as_u16());
        let subprotocol = response
            .headers()
            .get(http::header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let (SocketAuth::Subprotocol, Some(selected)) = (auth, &subprotocol)
            && selected != &wanted
        {
            let what = if selected.starts_with(&token_prefix) {
                "the token"
            } else {
                selected
            };
            return Err(ClientError::Handshake {
                path,
                status: Some(101),
                detail: format!("the server selected {what:?} instead of {wanted_name}"),
            });
        }
        // The first frame must be connection_established.
        let deadline = tokio::time::Instant::now() + timeout;
        let first = match ws::read(&mut ws, &path, deadline, "connection_established").await? {
            Incoming::Closed(code, reason) => {
                return Err(ClientError::SocketClosed { path, code, reason });
            }
            Incoming::Text(text, at) => parse_frame(&contract, &path, &text, at)?,
        };
        let established = match first {
            AgentFrame::Established(e) => e,
            other => {
                return Err(ClientError::Protocol {
                    path,
                    detail: format!(
                        "the first frame should be {}, got {}",
                        contract.events.connection_established,
                        describe(&other)
                    ),
                });
            }
        };
        tracing::debug!(?subprotocol, "agent-events socket open");
        Ok(AgentEventSocket {
            ws,
            contract: contract.clone(),
            path,
            subprotocol,
            expected_subprotocol: matches!(auth, SocketAuth::Subprotocol).then_some(wanted),
            established,
            pending: VecDeque::new(),
            closed: None,
        })
    }
    .instrument(span)
    .await
}

impl AgentEventSocket {
    /// The subprotocol the server selected, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The subprotocol the server had to select by the configuration (`websocket.subprotocol`,
    /// or the offered token protocol when `websocket.selects = "token"`); `None` when the
    /// socket authenticated by header.
    pub fn expected_subprotocol(&self) -> Option<&str> {
        self.expected_subprotocol.as_deref()
    }

    /// The `connection_established` frame.
    pub fn established(&self) -> &ConnectionEstablished {
        &self.established
    }

    /// The path this socket is on (`/websocket`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Sends `{"type": "ping"}` and waits for the pong; other frames that arrive
    /// meanwhile are kept for `next_frame`.
    pub async fn ping(&mut self) -> Result<Pong, ClientError> {
        let sent = Instant::now();
        let ping = json!({ self.contract.fields.kind.as_str(): self.contract.events.ping });
        self.send_text(ping.to_string()).await?;
        let deadline = tokio::time::Instant::now() + self.contract.timeouts.socket_connect;
        loop {
            let frame = self
                .read_frame(deadline, &self.contract.events.pong.clone())
                .await?;
            match frame {
                AgentFrame::Pong {
                    timestamp,
                    received_at,
                } => {
                    return Ok(Pong {
                        timestamp,
                        rtt: received_at.saturating_duration_since(sent),
                    });
                }
                other => self.pending.push_back(other),
            }
        }
    }

    /// The next frame of any kind, within `timeout`. A close frame is
    /// [`ClientError::SocketClosed`]; a dead connection [`ClientError::SocketDied`].
    pub async fn next_frame(&mut self, timeout: Duration) -> Result<AgentFrame, ClientError> {
        if let Some(f) = self.pending.pop_front() {
            return Ok(f);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        self.read_frame(deadline, "a frame").await
    }

    /// The next agent event of any run, within `timeout` (other frames are skipped).
    pub async fn next_event(&mut self, timeout: Duration) -> Result<AgentEvent, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = match self.pending.pop_front() {
                Some(f) => f,
                None => self.read_frame(deadline, "an agent event").await?,
            };
            if let AgentFrame::Event(e) = frame {
                return Ok(e);
            }
        }
    }

    /// Gathers the events of `run_id` (ignoring other runs' events and other frames)
    /// until all `limits.events_per_run` arrived or the last configured event came,
    /// within `timeout` in total. Returns them if they are exactly the configured
    /// events in order with `seq` 1..=n; otherwise says what arrived and what is wrong.
    pub async fn collect_run(
        &mut self,
        run_id: &str,
        timeout: Duration,
    ) -> Result<RunEvents, EventsIncomplete> {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let expected: Vec<String> = self
            .contract
            .events
            .agent_sequence()
            .iter()
            .map(|s| s.to_string())
            .collect();
        // The contract's five, checked one by one; or a pattern, checked as a whole
        // once the run's last event (agent_completed) has come.
        let pattern = if self.contract.events.is_contract_sequence() {
            None
        } else {
            self.contract.events.sequence_regex().ok()
        };
        let want = match pattern {
            None => self.contract.limits.events_per_run,
            Some(_) => MAX_EVENTS_PER_RUN,
        };
        let last_index = expected.len() - 1;
        let mut got: Vec<AgentEvent> = Vec::new();
        let mut others: Vec<String> = Vec::new();
        let mut ended = None;
        let span = tracing::debug_span!("collect_run", run_id, path = %self.path);
        async {
            while got.len() < want && got.last().is_none_or(|e| e.kind.index != Some(last_index)) {
                let frame = match self.pending.pop_front() {
                    Some(f) => Ok(f),
                    None => self.read_frame(deadline, "agent events").await,
                };
                match frame {
                    Ok(AgentFrame::Event(e)) if e.run_id == run_id => got.push(e),
                    Ok(AgentFrame::Event(e)) => others.push(e.run_id),
                    Ok(_) => {}
                    Err(ClientError::SocketTimeout { .. }) => {
                        let since = got.last().map(|e| e.received_at).unwrap_or(started);
                        ended = Some(RunEnd::Silence {
                            silence: since.elapsed(),
                        });
                        break;
                    }
                    Err(ClientError::SocketClosed { code, reason, .. }) => {
                        ended = Some(RunEnd::Closed { code, reason });
                        break;
                    }
                    Err(other) => {
                        ended = Some(RunEnd::Failed {
                            detail: other.to_string(),
                        });
                        break;
                    }
                }
            }
        }
        .instrument(span)
        .await;
        let problems = match &pattern {
            None => sequence_problems(&expected, want, &got),
            Some(re) => pattern_problems(re, &self.contract.events.sequence, &got),
        };
        tracing::debug!(events = got.len(), problems = problems.len(), "collected");
        if ended.is_none() && problems.is_empty() {
            Ok(RunEvents {
                run_id: run_id.to_owned(),
                events: got,
                waited_from: started,
                other_runs: others,
            })
        } else {
            Err(EventsIncomplete {
                run_id: run_id.to_owned(),
                expected: match &pattern {
                    None => expected,
                    Some(_) => vec![self.contract.events.sequence.clone()],
                },
                within: timeout,
                got,
                ended,
                problems,
                other_runs_ignored: others.len(),
                other_runs: others,
            })
        }
    }

    /// Sends a text frame as is (for protocol-abuse scenarios).
    pub async fn send_text(&mut self, text: String) -> Result<(), ClientError> {
        ws::send_text(&mut self.ws, &self.path, text).await
    }

    /// Closes the socket normally (1000) and waits up to a second for the server.
    pub async fn close(mut self) {
        ws::close(&mut self.ws, 1000, "", Duration::from_secs(1)).await;
    }

    async fn read_frame(
        &mut self,
        deadline: tokio::time::Instant,
        waiting_for: &str,
    ) -> Result<AgentFrame, ClientError> {
        if let Some((code, reason)) = &self.closed {
            return Err(ClientError::SocketClosed {
                path: self.path.clone(),
                code: *code,
                reason: reason.clone(),
            });
        }
        match ws::read(&mut self.ws, &self.path, deadline, waiting_for).await? {
            Incoming::Text(text, at) => parse_frame(&self.contract, &self.path, &text, at),
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
}

fn describe(frame: &AgentFrame) -> String {
    match frame {
        AgentFrame::Established(_) => "connection_established".into(),
        AgentFrame::Pong { .. } => "pong".into(),
        AgentFrame::Event(e) => format!("the agent event {}", e.kind.name),
        AgentFrame::Other { value, .. } => excerpt(&value.to_string(), 120),
    }
}

fn parse_frame(
    contract: &Contract,
    path: &str,
    text: &str,
    received_at: Instant,
) -> Result<AgentFrame, ClientError> {
    let value: Value = serde_json::from_str(text).map_err(|_| ClientError::Protocol {
        path: path.to_owned(),
        detail: format!("a frame that is not JSON: {}", excerpt(text, 120)),
    })?;
    let f = &contract.fields;
    let ev = &contract.events;
    let kind = opt_str(&value, &f.kind);
    let Some(name) = kind.clone() else {
        return Ok(AgentFrame::Other {
            kind,
            value,
            received_at,
        });
    };
    if name == ev.connection_established {
        return Ok(AgentFrame::Established(ConnectionEstablished {
            user_id: opt_str(&value, &f.user_id),
            connection_id: opt_str(&value, &f.connection_id),
            timestamp: opt_str(&value, &f.timestamp),
        }));
    }
    if name == ev.pong {
        return Ok(AgentFrame::Pong {
            timestamp: opt_str(&value, &f.timestamp),
            received_at,
        });
    }
    let index = ev.agent_index(&name);
    if index.is_none() && field(&value, &f.run_id).is_none() {
        return Ok(AgentFrame::Other {
            kind,
            value,
            received_at,
        });
    }
    let timestamp_raw = opt_str(&value, &f.timestamp);
    let timestamp = timestamp_raw
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    Ok(AgentFrame::Event(AgentEvent {
        kind: EventKind { name, index },
        run_id: opt_str(&value, &f.run_id).unwrap_or_default(),
        thread_id: opt_str(&value, &f.thread_id),
        seq: field(&value, &f.seq).and_then(Value::as_u64),
        timestamp,
        timestamp_raw,
        data: field(&value, &f.data).cloned().unwrap_or(Value::Null),
        received_at,
    }))
}

/// What is wrong with a run's events: unknown types, duplicates, order, missing
/// events, and `seq` numbers that are absent, repeated, out of order or missing.
/// How many events one run may send when `events.sequence` is a pattern: a bound on
/// the wait for its last event, not a rule of the contract.
const MAX_EVENTS_PER_RUN: usize = 1024;

/// What is wrong with a run's events against `events.sequence` as a pattern: events of
/// other types, a sequence the pattern does not match, `seq` not counting 1, 2, 3, ….
fn pattern_problems(re: &regex::Regex, pattern: &str, got: &[AgentEvent]) -> Vec<String> {
    let mut problems = Vec::new();
    let letters: String = got
        .iter()
        .map(|e| match e.kind.index {
            Some(i) => char::from(b'a' + i as u8),
            None => {
                problems.push(format!("unexpected event type {:?}", e.kind.name));
                '-'
            }
        })
        .collect();
    if problems.is_empty() && !re.is_match(&letters) {
        problems.push(format!("they do not follow events.sequence {pattern:?}"));
    }
    if let Some((i, e)) = got
        .iter()
        .enumerate()
        .find(|(i, e)| e.seq != Some(*i as u64 + 1))
    {
        problems.push(format!(
            "event {} ({}) has seq {}, expected {}",
            i + 1,
            e.kind.name,
            e.seq.map_or("none".into(), |s| s.to_string()),
            i + 1
        ));
    }
    problems
}

fn sequence_problems(expected: &[String], want: usize, got: &[AgentEvent]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = vec![0usize; expected.len()];
    let mut highest: Option<usize> = None;
    for e in got {
        match e.kind.index {
            None => problems.push(format!("unexpected event type {:?}", e.kind.name)),
            Some(i) => {
                seen[i] += 1;
                if seen[i] == 2 {
                    problems.push(format!("{} arrived twice", e.kind.name));
                }
                if let Some(h) = highest
                    && i < h
                {
                    problems.push(format!("{} arrived after {}", e.kind.name, expected[h]));
                }
                highest = Some(highest.map_or(i, |h| h.max(i)));
            }
        }
    }
    let missing: Vec<&str> = expected
        .iter()
        .zip(&seen)
        .filter(|(_, n)| **n == 0)
        .map(|(name, _)| name.as_str())
        .collect();
    if !missing.is_empty() && !got.is_empty() {
        problems.push(format!("missing {}", missing.join(", ")));
    }
    // seq: 1..=want, one each, increasing in arrival order.
    let mut seqs_seen = vec![false; want + 1];
    let mut last_seq: Option<u64> = None;
    let mut seq_bad = false;
    for e in got {
        match e.seq {
            None => {
                problems.push(format!("{} has no seq", e.kind.name));
                seq_bad = true;
            }
            Some(s) => {
                if s == 0 || s as usize > want {
                    problems.push(format!("{} has seq {s}, outside 1..={want}", e.kind.name));
                    seq_bad = true;
                } else if seqs_seen[s as usize] {
                    problems.push(format!("duplicate seq {s}"));
                    seq_bad = true;
                } else {
                    seqs_seen[s as usize] = true;
                }
                if let Some(l) = last_seq
                    && s <= l
                {
                    problems.push(format!("seq {s} arrived after seq {l}"));
                    seq_bad = true;
                }
                last_seq = Some(last_seq.map_or(s, |l| l.max(s)));
                if let Some(i) = e.kind.index
                    && s != i as u64 + 1
                    && want == expected.len()
                    && !seq_bad
                {
                    problems.push(format!("{} has seq {s}, expected {}", e.kind.name, i + 1));
                    seq_bad = true;
                }
            }
        }
    }
    if !got.is_empty() {
        let highest_seen = seqs_seen.iter().rposition(|s| *s).unwrap_or(0);
        let gaps: Vec<String> = (1..highest_seen)
            .filter(|s| !seqs_seen[*s])
            .map(|s| s.to_string())
            .collect();
        if !gaps.is_empty() {
            problems.push(format!("missing seq {}", gaps.join(", ")));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, index: Option<usize>, seq: Option<u64>) -> AgentEvent {
        AgentEvent {
            kind: EventKind {
                name: name.into(),
                index,
            },
            run_id: "r".into(),
            thread_id: None,
            seq,
            timestamp: None,
            timestamp_raw: None,
            data: Value::Null,
            received_at: Instant::now(),
        }
    }

    fn expected() -> Vec<String> {
        crate::contract::Events::default()
            .agent_sequence()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn in_order_has_no_problems() {
        let names = expected();
        let got: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, n)| ev(n, Some(i), Some(i as u64 + 1)))
            .collect();
        assert!(sequence_problems(&names, 5, &got).is_empty());
    }

    #[test]
    fn reordered_is_reported() {
        let n = expected();
        let got = vec![
            ev(&n[0], Some(0), Some(1)),
            ev(&n[1], Some(1), Some(2)),
            ev(&n[3], Some(3), Some(4)),
            ev(&n[2], Some(2), Some(3)),
            ev(&n[4], Some(4), Some(5)),
        ];
        let p = sequence_problems(&n, 5, &got);
        assert!(
            p.contains(&"tool_executing arrived after tool_completed".to_string()),
            "{p:?}"
        );
        assert!(
            p.contains(&"seq 3 arrived after seq 4".to_string()),
            "{p:?}"
        );
    }

    #[test]
    fn dropped_and_duplicate_are_reported() {
        let n = expected();
        let got = vec![
            ev(&n[0], Some(0), Some(1)),
            ev(&n[1], Some(1), Some(2)),
            ev(&n[1], Some(1), Some(2)),
            ev(&n[4], Some(4), Some(5)),
        ];
        let p = sequence_problems(&n, 5, &got);
        assert!(
            p.contains(&"agent_thinking arrived twice".to_string()),
            "{p:?}"
        );
        assert!(
            p.contains(&"missing tool_executing, tool_completed".to_string()),
            "{p:?}"
        );
        assert!(p.contains(&"duplicate seq 2".to_string()), "{p:?}");
        assert!(p.contains(&"missing seq 3, 4".to_string()), "{p:?}");
    }

    #[test]
    fn timeout_message_reads_well() {
        let n = expected();
        let e = EventsIncomplete {
            run_id: "r".into(),
            expected: n.clone(),
            within: Duration::from_secs(5),
            got: vec![ev(&n[0], Some(0), Some(1)), ev(&n[1], Some(1), Some(2))],
            ended: Some(RunEnd::Silence {
                silence: Duration::from_secs(5),
            }),
            problems: vec![],
            other_runs_ignored: 0,
            other_runs: Vec::new(),
        };
        assert_eq!(
            e.to_string(),
            "expected the five agent events within 5s; got agent_started, agent_thinking, then nothing for 5s"
        );
    }
}
