//! Typed client for the stack contract (HTTP, agent-events socket, dashboard socket).
//!
//! [`StackClient`] is the one place where requests to the stack are built: the
//! cucumber steps and the load mode's virtual users both call it. It is cheap to
//! clone (an `Arc` and a pooled HTTP/1.1 transport) and `Send`. Every path, field and
//! event name comes from [`crate::contract::Contract`], so a team's spellings are
//! configuration, not code.
//!
//! - HTTP routes: methods named after the protocol (`login`, `execute_agent`, …), plus
//!   [`StackClient::send`] for requests that are wrong on purpose.
//! - [`AgentEventSocket`] (`/websocket`): `collect_run` gathers a run's five events.
//! - [`DashboardSocket`] (`/api/v1/ws/dashboard`): typed dashboard frames and closes.

mod dashboard;
mod error;
mod events;
mod pick;
mod read;
mod stack_client;
pub mod success;
mod transport;
pub(crate) use transport::connector as transport_connector;
mod types;
mod ws;

pub use dashboard::{DashboardFrame, DashboardSocket, Stats};
pub use error::ClientError;
pub use events::{
    AgentEvent, AgentEventSocket, AgentFrame, ConnectionEstablished, EventKind, EventsIncomplete,
    Pong, RunEnd, RunEvents, SocketAuth, SocketPath,
};
pub use stack_client::StackClient;
pub use types::{
    AgentState, AgentsStatus, ExecuteRequest, Health, HealthDetailed, LoggedIn, Message, RawBody,
    RawRequest, RawResponse, Registered, Route, RunStarted, RunStatus, Session, Thread,
};
pub use ws::socket_config;

/// Alias so that callers can write `Path::Primary` / `Path::Legacy`.
pub type Path = SocketPath;
