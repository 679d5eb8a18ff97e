//! `agent-stack`: the reference agent-chat backend that goldenpath tests.
//!
//! It implements the stack contract (`shared/CONTRACT.md`): JWT authentication,
//! a deterministic agent whose runs emit five events over a WebSocket, threads
//! and messages stored durably in SQLite, a dashboard WebSocket, health, OpenAPI
//! and an admin restart; plus seeded faults ([`faults`]) that reproduce, on
//! purpose, the failures goldenpath must catch.
//!
//! ## Dialects
//!
//! `DIALECT` selects the shape of the API ([`dialect`]); everything else, every
//! seeded fault included, is the same in both:
//!
//! * `contract` (the default): the stack contract exactly.
//! * `b`: a backend of another shape, for proving that goldenpath retargets by
//!   configuration alone:
//!   1. paths under `/v2`: `POST /v2/auth/signup`, `POST /v2/auth/token`,
//!      `POST /v2/runs` (execute; removed by `missing_v2_execute`),
//!      `POST /v2/agent/run` (legacy alias), `GET /v2/runs/{run_id}`,
//!      `GET /v2/agents`, `POST/GET /v2/conversations`,
//!      `POST/GET /v2/conversations/{thread_id}/messages`, WebSockets
//!      `/v2/events` (primary; `ws_path_500` breaks it), `/v2/events/legacy` and
//!      `/v2/dashboard`, `GET /v2/status`, `GET /v2/status/full`,
//!      `GET /v2/openapi.json`, `GET /v2/docs`, `POST /v2/admin/restart`
//!      (`WEBSOCKET_PATH` is ignored); the OpenAPI document and the docs page
//!      list these paths;
//!   2. every successful (2xx) JSON answer of an HTTP route is
//!      `{"data": <the contract's body>}`; errors stay `{"error": {...}}`;
//!   3. login answers `{"data": {"token": {"access", "type": "bearer",
//!      "expires_in"}, "user_id"}}`;
//!   4. agent-event frames are flat: the contract's `data` keys at the top level,
//!      no `data` key (connection_established, pong and dashboard frames
//!      unchanged);
//!   5. six events per run, the agent thinking twice: agent_started,
//!      agent_thinking, agent_thinking, tool_executing, tool_completed,
//!      agent_completed, `seq` 1..=6;
//!   6. offered `jwt-auth, jwt.<token>`, the handshake selects `jwt.<token>`.
//!
//! The library is the whole server: [`app`] builds the router from an
//! [`AppState`], and [`serve`] runs it on a listener until `/admin/restart`,
//! SIGTERM or SIGINT asks it to stop, then closes WebSockets (code 1012),
//! finishes in-flight requests and writes, and returns the [`ExitReason`].
//! `main.rs` only reads the environment and calls [`serve`]; tests bind port 0
//! and call [`serve`] in-process.
//!
//! Code map: [`config`] (environment), [`faults`], [`dialect`] (the second API
//! shape: route table, envelope, frames), [`error`] (JSON errors and
//! body extraction), [`db`] (SQLite, one writer thread), [`auth`] (Argon2, JWT),
//! [`agent`] (the reference agent), [`events`] (per-user and dashboard fan-out),
//! [`activity`] (JSON-lines activity log), [`routes`] (HTTP handlers), [`ws`]
//! (WebSocket handlers), [`openapi`] and [`docs`] (API description),
//! [`shutdown`].

pub mod activity;
pub mod agent;
pub mod auth;
pub mod config;
pub mod db;
pub mod dialect;
pub mod docs;
pub mod error;
pub mod events;
pub mod faults;
pub mod openapi;
pub mod routes;
pub mod shutdown;
pub mod ws;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use config::Config;
pub use dialect::Dialect;
pub use shutdown::{ExitReason, Shutdown};

use activity::ActivityLog;
use auth::Auth;
use db::Db;
use events::{Dashboard, EventHub};

/// Largest request body accepted (contract §1: 413 above it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Time budget between a stop request and [`serve`] returning.
const STOP_BUDGET: Duration = Duration::from_millis(400);

/// Name of the marker that the `no_comeback` fault leaves in `DATA_DIR`.
pub const NO_COMEBACK_MARKER: &str = "no_comeback.marker";

/// Current time as RFC 3339 UTC with milliseconds: `2026-01-02T15:30:45.123Z`.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Facts about this process start, for `/health`.
#[derive(Debug)]
pub struct BootInfo {
    /// New at every start: proves that a restart happened.
    pub boot_id: String,
    /// When this process started.
    pub started_at: String,
    /// For `uptime_s`.
    pub started: Instant,
    /// False only under the `no_comeback` fault after a restart.
    pub healthy: bool,
}

/// Row counters for `stats_update`, kept in memory so the dashboard never
/// queries the database.
#[derive(Debug, Default)]
pub struct Stats {
    users: AtomicU64,
    threads: AtomicU64,
    messages: AtomicU64,
    runs: AtomicU64,
}

impl Stats {
    /// One more user.
    pub fn user_added(&self) {
        self.users.fetch_add(1, Ordering::Relaxed);
    }
    /// One more thread.
    pub fn thread_added(&self) {
        self.threads.fetch_add(1, Ordering::Relaxed);
    }
    /// One more message.
    pub fn message_added(&self) {
        self.messages.fetch_add(1, Ordering::Relaxed);
    }
    /// One more run.
    pub fn run_added(&self) {
        self.runs.fetch_add(1, Ordering::Relaxed);
    }
    /// `stats_update.data`.
    pub fn snapshot(&self, active_connections: usize) -> serde_json::Value {
        serde_json::json!({
            "users": self.users.load(Ordering::Relaxed),
            "threads": self.threads.load(Ordering::Relaxed),
            "messages": self.messages.load(Ordering::Relaxed),
            "runs": self.runs.load(Ordering::Relaxed),
            "active_connections": active_connections,
        })
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct State {
    /// Configuration.
    pub config: Config,
    /// Storage.
    pub db: Db,
    /// Tokens and passwords.
    pub auth: Auth,
    /// Agent-event fan-out.
    pub hub: Arc<EventHub>,
    /// Dashboard fan-out.
    pub dashboard: Arc<Dashboard>,
    /// Activity log.
    pub activity: ActivityLog,
    /// Counters.
    pub stats: Stats,
    /// This server's shutdown handle.
    pub shutdown: Shutdown,
    /// This process start.
    pub boot: BootInfo,
    /// `/openapi.json`, rendered once.
    pub openapi_json: String,
    /// `/docs`, rendered once.
    pub docs_html: String,
}

/// Cheap-to-clone handle on [`State`].
#[derive(Clone, Debug)]
pub struct AppState(Arc<State>);

impl Deref for AppState {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

impl AppState {
    /// Opens storage and logs, applies start-up duties (admin account, failing
    /// unfinished runs, the `no_comeback` marker) and returns the state.
    pub async fn start(config: Config, shutdown: Shutdown) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create DATA_DIR {}", config.data_dir.display()))?;
        let marker = config.data_dir.join(NO_COMEBACK_MARKER);
        let healthy = if config.faults.no_comeback {
            !marker.exists()
        } else {
            let _ = std::fs::remove_file(&marker);
            true
        };
        let (db, failed_runs) = Db::open(
            &config.data_dir.join("agent-stack.db"),
            config.faults.volatile_messages,
        )
        .context("cannot open the database")?;
        if failed_runs > 0 {
            tracing::info!(
                failed_runs,
                "marked runs left unfinished by a previous process as failed"
            );
        }
        let activity = ActivityLog::open(&config.activity_log).with_context(|| {
            format!("cannot open ACTIVITY_LOG {}", config.activity_log.display())
        })?;
        let auth =
            Auth::new(&config, db.user_roles().await?).context("cannot set up the JWT secret")?;
        auth::ensure_admin(&db, &auth, &config)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the admin account: {}", e.message))?;
        let counts = db.counts().await?;
        let stats = Stats::default();
        stats.users.store(counts.users, Ordering::Relaxed);
        stats.threads.store(counts.threads, Ordering::Relaxed);
        stats.messages.store(counts.messages, Ordering::Relaxed);
        stats.runs.store(counts.runs, Ordering::Relaxed);
        let doc = openapi::document(&config);
        let openapi_json = serde_json::to_string_pretty(&doc)?;
        let docs_html = docs::render(&doc, dialect::route_path(&config, dialect::Route::OpenApi));
        Ok(Self(Arc::new(State {
            hub: Arc::new(EventHub::new(config.faults.leak_events)),
            dashboard: Arc::new(Dashboard::default()),
            db,
            auth,
            activity,
            stats,
            shutdown,
            boot: BootInfo {
                boot_id: uuid::Uuid::new_v4().to_string(),
                started_at: now(),
                started: Instant::now(),
                healthy,
            },
            openapi_json,
            docs_html,
            config,
        })))
    }

    /// Flushes the activity log and closes the database writer.
    pub async fn stop(&self) {
        self.db.close().await;
        self.activity.close().await;
    }
}

/// The router: every route of the contract at the paths of the configured
/// [`Dialect`], with JSON errors for unknown routes and methods, the 64 KiB body
/// limit, request tracing, the activity/error observer and, in dialect B, the
/// `{"data": …}` envelope.
pub fn app(state: AppState) -> Router {
    use dialect::Route;
    use routes::{agents, auth as auth_routes, ops, threads};
    let config = &state.config;
    let path = |route| dialect::route_path(config, route);
    let mut router = Router::new()
        .route(path(Route::Register), post(auth_routes::register))
        .route(path(Route::Login), post(auth_routes::login))
        .route(path(Route::ExecuteLegacy), post(agents::execute_legacy))
        .route(path(Route::RunStatus), get(agents::run_status))
        .route(path(Route::AgentsStatus), get(agents::agents_status))
        .route(
            path(Route::Threads),
            post(threads::create_thread).get(threads::list_threads),
        )
        .route(
            path(Route::ThreadMessages),
            post(threads::post_message).get(threads::list_messages),
        )
        .route(path(Route::AgentEvents), get(ws::agent_events::primary))
        .route(
            path(Route::AgentEventsLegacy),
            get(ws::agent_events::legacy),
        )
        .route(path(Route::Dashboard), get(ws::dashboard::dashboard))
        .route(path(Route::Health), get(ops::health))
        .route(path(Route::HealthDetailed), get(ops::health_detailed))
        .route(path(Route::OpenApi), get(ops::openapi_json))
        .route(path(Route::Docs), get(ops::docs))
        .route(path(Route::Restart), post(ops::restart));
    if !config.faults.missing_v2_execute {
        router = router.route(path(Route::Execute), post(agents::execute));
    }
    router = router
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed);
    if config.dialect.envelopes() {
        router = router.layer(axum::middleware::from_fn(dialect::envelope));
    }
    router
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            routes::observe,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Connections the kernel completes and queues for the stack while it is not accepting
/// them (busy, or paused by `docker pause` or SIGSTOP). The 128 of `TcpListener::bind`
/// (the standard library's figure) overflowed when a load run's open model kept
/// arriving during a 1 s pause: each connection past the queue had its SYN dropped and
/// resent by the client a second later, so requests that arrived late in the pause
/// waited a whole second instead of what was left of it. The kernel caps the queue at
/// `net.core.somaxconn` (4,096 by default since Linux 5.4).
pub const LISTEN_BACKLOG: u32 = 1024;

/// A listener on `addr` with a queue of [`LISTEN_BACKLOG`] connections.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves the stack on `listener` until it is asked to stop, then closes open
/// WebSockets with code 1012, lets in-flight requests and writes finish (within
/// about 0.4 s) and returns why it stopped. Never exits the process.
pub async fn serve(listener: TcpListener, config: Config) -> anyhow::Result<ExitReason> {
    let shutdown = Shutdown::new();
    serve_with_shutdown(listener, config, shutdown).await
}

/// [`serve`] with a shutdown handle supplied by the caller, so that an embedding
/// program (or a test) can stop the server with [`Shutdown::trigger`].
/// SIGTERM and SIGINT trigger it too.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    config: Config,
    shutdown: Shutdown,
) -> anyhow::Result<ExitReason> {
    let addr = listener.local_addr()?;
    if !config.faults.is_empty() {
        tracing::warn!(faults = %config.faults, "seeded faults are ON: this stack misbehaves on purpose");
    }
    if config.dialect != Dialect::Contract {
        tracing::info!(dialect = %config.dialect, "serving API dialect {}", config.dialect);
    }
    let state = AppState::start(config, shutdown.clone()).await?;
    let router = app(state.clone());
    let signals = tokio::spawn(watch_signals(shutdown.clone()));
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned());
    let mut server = tokio::spawn(std::future::IntoFuture::into_future(server));
    tracing::info!(%addr, boot_id = %state.boot.boot_id, "agent-stack listening on {addr}");

    let early = tokio::select! {
        biased;
        () = shutdown.cancelled() => None,
        res = &mut server => Some(res),
    };
    let server_done = early.is_some();
    if let Some(res) = early
        && !shutdown.is_triggered()
    {
        signals.abort();
        state.stop().await;
        return match res {
            Ok(Ok(())) => Err(anyhow::anyhow!("the server stopped unexpectedly")),
            Ok(Err(e)) => Err(e).context("the server failed"),
            Err(e) => Err(e).context("the server task failed"),
        };
    }

    let reason = shutdown.reason();
    tracing::info!(
        ?reason,
        "stopping: closing WebSockets and finishing in-flight work"
    );
    let deadline = tokio::time::Instant::now() + STOP_BUDGET;
    if tokio::time::timeout_at(deadline, shutdown.wait_tracked())
        .await
        .is_err()
    {
        tracing::warn!("some WebSockets did not close in time");
    }
    if !server_done
        && tokio::time::timeout_at(deadline, &mut server)
            .await
            .is_err()
    {
        tracing::warn!("in-flight requests did not finish in time; dropping them");
        server.abort();
    }
    signals.abort();
    state.stop().await;
    tracing::info!(?reason, "stopped");
    Ok(reason)
}

async fn watch_signals(shutdown: Shutdown) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot listen for SIGTERM/SIGINT");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    shutdown.trigger(ExitReason::Signal);
}
