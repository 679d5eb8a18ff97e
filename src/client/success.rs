//! The status each route of the contract answers when it succeeds (CONTRACT §2-§7).
//!
//! One place for the client, which checks every typed call's answer against these, and
//! for steps that report a typed call's success ("the registration is accepted with
//! status 201"): a step never writes a status of its own.

/// `POST paths.register`: 201 Created.
pub const REGISTER: u16 = 201;
/// `POST paths.login`: 200.
pub const LOGIN: u16 = 200;
/// `POST paths.execute` (and `execute_legacy`): 202 Accepted.
pub const EXECUTE: u16 = 202;
/// `GET paths.run_status`: 200.
pub const RUN_STATUS: u16 = 200;
/// `GET paths.agents_status`: 200.
pub const AGENTS_STATUS: u16 = 200;
/// `POST paths.threads`: 201 Created.
pub const CREATE_THREAD: u16 = 201;
/// `GET paths.threads`: 200.
pub const LIST_THREADS: u16 = 200;
/// `POST paths.thread_messages`: 201 Created.
pub const POST_MESSAGE: u16 = 201;
/// `GET paths.thread_messages`: 200.
pub const MESSAGES: u16 = 200;
/// `GET paths.health`: 200.
pub const HEALTH: u16 = 200;
/// `GET paths.health_detailed`: 200 (503 when a dependency is down).
pub const HEALTH_DETAILED: u16 = 200;
/// `GET paths.openapi`: 200.
pub const OPENAPI: u16 = 200;
/// `GET paths.docs`: 200.
pub const DOCS: u16 = 200;
/// `POST paths.restart`: 200, then the process exits and comes back.
pub const RESTART: u16 = 200;
