//! `GoldenWorld`: the state of one scenario (or one virtual user of a load run), and
//! the journey functions that step definitions share.
//!
//! Steps stay thin: they parse their Gherkin text and call a method here; every call
//! to the stack goes through [`StackClient`]. A failed expectation panics with a
//! message a person can act on (cucumber reports panics as step failures).
//!
//! Why one long file: the World's state and the journeys every step file calls (users,
//! sockets, runs, threads, the ledger, outcomes); it is the one place that logic shared
//! by steps lives, as the steps' module doc promises.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake::Fake as _;
use fake::faker::name::en::FirstName;
use tokio::sync::watch;

use crate::client::success;
use crate::client::{
    AgentEventSocket, ClientError, DashboardSocket, ExecuteRequest, RawResponse, Route, RunEvents,
    RunStarted, Session, SocketAuth, SocketPath, StackClient,
};
use crate::contract::Contract;
use crate::load::{EventSample, LedgerCheck};
use crate::session::{RunContext, StackTarget};

thread_local! {
    /// One HTTP connection pool per thread, shared by every World on it: a virtual user
    /// must not cost a pool of its own, and a pool's connections belong to the runtime
    /// that opened them (the load mode runs one runtime per worker thread). Kept with
    /// the run's configuration it was made from: a pool serves one run.
    static THREAD_POOL: std::cell::RefCell<Option<(Arc<Contract>, StackClient)>> = const { std::cell::RefCell::new(None) };
}

/// Who a scenario's name ("Alice") stands for on the stack.
#[derive(Debug, Clone)]
pub struct User {
    /// A unique address, made up for this scenario.
    pub email: String,
    /// Their password (at least the contract's 8 characters).
    pub password: String,
    /// A fake display name starting with the scenario's name.
    pub display_name: String,
    /// The id the stack gave them at registration.
    pub user_id: Option<String>,
    /// Their session once logged in.
    pub session: Option<Session>,
}

impl User {
    /// A fresh identity: a fake display name and a unique address. The address holds a
    /// whole random UUID (122 bits): a million users over any number of shards, with no
    /// coordination, collide with a chance below 10^-24.
    pub fn fresh(name: &str) -> Self {
        let first: String = FirstName().fake();
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let secret = uuid::Uuid::new_v4().simple().to_string();
        Self {
            email: format!(
                "{}-{unique}@example.com",
                name.to_lowercase().replace(' ', "-"),
            ),
            password: format!("pw-{}", &secret[..16]),
            display_name: format!("{name} {first}"),
            user_id: None,
            session: None,
        }
    }
}

/// A message the stack acknowledged: it must be there when the thread is read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledged {
    pub role: String,
    pub content: String,
}

/// An agent run a scenario started.
#[derive(Debug, Clone)]
pub struct RunTrack {
    /// The scenario's name of the user who started it.
    pub user: String,
    /// The execute answer: run id, thread id, status.
    pub started: RunStarted,
    /// When the execute request was sent (event latencies count from here).
    pub requested_at: Instant,
    /// Its events, once received.
    pub events: Option<RunEvents>,
}

/// The answer to the last request a scenario *tried* (steps worded "tries to").
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The stack answered.
    Answered {
        /// The endpoint as the contract names it (`POST register`).
        endpoint: String,
        /// The HTTP status: what the stack answered, or for a typed call that
        /// succeeded, the route's success status the client checked
        /// ([`crate::client::success`]).
        status: u16,
        /// `error.code` of the error envelope, when there is one.
        code: Option<String>,
        /// `error.message`, or the start of the body.
        message: Option<String>,
    },
    /// No answer: unreachable, timed out, connection broken.
    Failed(String),
}

/// Answers a scenario fetched to examine in later steps, each of its own type.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    pub(crate) agents_status: Option<crate::client::AgentsStatus>,
    pub(crate) health_detailed: Option<crate::client::HealthDetailed>,
    /// `GET paths.openapi`: an OpenAPI document is JSON by nature.
    pub(crate) openapi: Option<serde_json::Value>,
    pub(crate) docs_html: Option<String>,
}

/// Whether this World is a scenario of an acceptance run or a virtual user of a load
/// run. Steps that act on the whole stack (restarts) are left to the load profile for
/// virtual users: a thousand users must not restart the backend a thousand times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A scenario of an acceptance run: every step does what it says.
    #[default]
    Scenario,
    /// A virtual user of a load run: whole-stack steps (restarts) are the profile's job.
    VirtualUser,
}

/// The state of one scenario (or one virtual user of a load run): who is signed in,
/// their sockets, the thread and agent run the scenario talks about, the last answer
/// of a "tries to" step, and what the stack acknowledged.
///
/// Every one of goldenpath's steps is registered on this World; a team's own steps
/// take `&mut GoldenWorld` too, reach the stack through [`GoldenWorld::client`] and
/// keep their own state in [`GoldenWorld::extensions_mut`].
#[derive(cucumber::World)]
#[world(init = Self::unbound)]
pub struct GoldenWorld {
    pub(crate) mode: Mode,
    ctx: Option<Arc<RunContext>>,
    stack: Option<Arc<StackTarget>>,
    own_stack: bool,
    /// The client for the stack's base URL, with a watch on that URL (it changes when
    /// a restart maps another port). Asking the watch whether it changed is one atomic
    /// load; reading the URL would take a lock shared with every other user's thread.
    client: Option<(StackClient, watch::Receiver<String>)>,
    pub(crate) users: BTreeMap<String, User>,
    /// Each user's open agent-events socket.
    pub(crate) sockets: BTreeMap<String, AgentEventSocket>,
    /// A socket opened by a step that examines the socket itself.
    pub(crate) probe: Option<AgentEventSocket>,
    pub(crate) last: Option<Outcome>,
    pub(crate) last_socket_error: Option<ClientError>,
    /// "The thread": (owner, thread id).
    pub(crate) thread: Option<(String, String)>,
    pub(crate) run: Option<RunTrack>,
    /// Acknowledged messages by thread id, in the order they were acknowledged.
    pub(crate) ledger: BTreeMap<String, (String, Vec<Acknowledged>)>,
    pub(crate) dashboard: Option<DashboardSocket>,
    pub(crate) dashboards: Vec<DashboardSocket>,
    /// The stack's boot id before this scenario restarted it (or tried to).
    pub(crate) boot_before: Option<String>,
    /// The boot id this scenario saw the stack come back with after its own restart.
    pub(crate) boot_after_restart: Option<String>,
    /// The health answers of this scenario (iteration), in order.
    pub(crate) health_answers: Vec<crate::client::Health>,
    /// What the stack answered when asked (the "is asked" / "is fetched" steps).
    pub(crate) fetched: Fetched,
    pub(crate) samples: Vec<EventSample>,
    /// Runs each user started: an event of any other run on a user's socket is misdelivered.
    pub(crate) started_runs: BTreeMap<String, std::collections::HashSet<String>>,
    pub(crate) misdelivered: u64,
    /// When an agent-events socket was last opened (reconnect times under load).
    pub(crate) socket_opened_at: Option<Instant>,
    /// State a team's own steps keep, by type (see [`GoldenWorld::extensions_mut`]).
    extensions: http::Extensions,
}

impl std::fmt::Debug for GoldenWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoldenWorld")
            .field("stack", &self.stack.as_ref().map(|s| s.base_url()))
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("thread", &self.thread)
            .field("run", &self.run.as_ref().map(|r| &r.started))
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl GoldenWorld {
    fn unbound() -> Self {
        Self {
            mode: Mode::Scenario,
            ctx: None,
            stack: None,
            own_stack: false,
            client: None,
            users: BTreeMap::new(),
            sockets: BTreeMap::new(),
            probe: None,
            last: None,
            last_socket_error: None,
            thread: None,
            run: None,
            ledger: BTreeMap::new(),
            dashboard: None,
            dashboards: Vec::new(),
            boot_before: None,
            boot_after_restart: None,
            health_answers: Vec::new(),
            fetched: Fetched::default(),
            samples: Vec::new(),
            started_runs: BTreeMap::new(),
            misdelivered: 0,
            socket_opened_at: None,
            extensions: http::Extensions::new(),
        }
    }

    /// Bind a fresh World to the run: the shared stack, or a stack of its own.
    pub(crate) async fn bind(&mut self, ctx: Arc<RunContext>, own_stack: bool) {
        let stack = if own_stack {
            match &ctx.factory {
                Some(factory) => match factory.start().await {
                    Ok(stack) => stack,
                    Err(e) => panic!("starting a stack for this scenario failed: {e}"),
                },
                // Against a running stack there is only that one.
                None => ctx.shared.clone(),
            }
        } else {
            ctx.shared.clone()
        };
        self.own_stack = own_stack && ctx.factory.is_some();
        self.stack = Some(stack);
        self.client = None;
        self.ctx = Some(ctx);
    }

    /// A virtual user of a load run, bound to the run's stack.
    pub(crate) fn virtual_user(ctx: Arc<RunContext>) -> Self {
        let mut world = Self::unbound();
        world.mode = Mode::VirtualUser;
        world.stack = Some(ctx.shared.clone());
        world.ctx = Some(ctx);
        world
    }

    /// Close sockets and remove the scenario's own stack.
    pub(crate) async fn release(&mut self) {
        for (_, socket) in std::mem::take(&mut self.sockets) {
            socket.close().await;
        }
        if let Some(probe) = self.probe.take() {
            probe.close().await;
        }
        if let Some(dashboard) = self.dashboard.take() {
            dashboard.close().await;
        }
        for dashboard in std::mem::take(&mut self.dashboards) {
            dashboard.close().await;
        }
        if self.own_stack {
            self.own_stack = false;
            if let Some(stack) = self.stack.take()
                && let Err(e) = stack.shutdown().await
            {
                tracing::warn!("removing a scenario's stack: {e}");
            }
        }
    }

    /// The stack this scenario talks to (`None` before the World is bound).
    pub fn stack(&self) -> Option<&StackTarget> {
        self.stack.as_deref()
    }

    fn ctx(&self) -> &RunContext {
        self.ctx
            .as_deref()
            .expect("the World is bound to a run before any step runs")
    }

    /// How the stack spells its API (`goldenpath.toml`'s contract sections).
    pub fn contract(&self) -> &Contract {
        &self.ctx().contract
    }

    /// How long steps wait for things (`[timeouts]`).
    pub fn timeouts(&self) -> &crate::contract::Timeouts {
        &self.contract().timeouts
    }

    /// The stack's JWT secret, when goldenpath knows it (it started the stack, or
    /// `target.env.JWT_SECRET` gives it): needed to mint expired or forged tokens.
    pub fn jwt_secret(&self) -> Option<String> {
        self.ctx().jwt_secret()
    }

    fn target(&self) -> &StackTarget {
        self.stack
            .as_deref()
            .expect("the World is bound to a stack before any step runs")
    }

    /// The client for the stack's current base URL (it changes after a restart).
    pub fn client(&mut self) -> StackClient {
        if let Some((client, url)) = &self.client
            && matches!(url.has_changed(), Ok(false))
        {
            return client.clone();
        }
        let mut watch = self.target().subscribe();
        let url = watch.borrow_and_update().clone();
        let run_client = &self.ctx().client;
        let client = THREAD_POOL
            .with(|pool| {
                let mut pool = pool.borrow_mut();
                // A pool serves one run: another run has another contract.
                let stale = pool
                    .as_ref()
                    .is_none_or(|(run, _)| !Arc::ptr_eq(run, run_client.contract_arc()));
                if stale {
                    *pool = Some((run_client.contract_arc().clone(), run_client.fresh_pool()));
                }
                pool.as_ref().expect("filled above").1.with_base_url(&url)
            })
            .unwrap_or_else(|e| panic!("cannot build a client for {url}: {e}"));
        self.client = Some((client.clone(), watch));
        client
    }

    // ---- users ----------------------------------------------------------------------

    /// The user a scenario calls `name` ("Alice"); panics when no step registered them.
    pub fn user(&self, name: &str) -> &User {
        self.users.get(name).unwrap_or_else(|| {
            panic!("no user called {name:?} in this scenario: register them in a Given step first")
        })
    }

    /// `name`'s session (bearer token); panics when they have not logged in.
    pub fn session(&self, name: &str) -> Session {
        self.user(name)
            .session
            .clone()
            .unwrap_or_else(|| panic!("{name:?} has not logged in"))
    }

    /// Register and log in `name`, once: a virtual user keeps its session across
    /// iterations.
    pub async fn ensure_logged_in(&mut self, name: &str) {
        if self.users.get(name).is_some_and(|u| u.session.is_some()) {
            return;
        }
        let mut user = self.users.remove(name).unwrap_or_else(|| User::fresh(name));
        let client = self.client();
        let registered = client
            .register(&user.email, &user.password, &user.display_name)
            .await
            .unwrap_or_else(|e| panic!("registering {name:?} failed: {e}"));
        let session = client
            .login(&user.email, &user.password)
            .await
            .unwrap_or_else(|e| panic!("logging {name:?} in failed: {e}"));
        user.user_id = Some(registered.user_id);
        user.session = Some(session);
        self.users.insert(name.to_owned(), user);
    }

    // ---- the agent-events socket -------------------------------------------------------

    /// Open `name`'s agent-events socket unless it is open already (a virtual user keeps
    /// it across iterations; a failed socket is dropped and opened again).
    pub async fn ensure_socket(&mut self, name: &str, path: SocketPath) {
        if self.sockets.contains_key(name) {
            return;
        }
        let socket = self
            .open_socket(name, SocketAuth::Subprotocol, path)
            .await
            .unwrap_or_else(|e| panic!("opening {name:?}'s agent-events socket failed: {e}"));
        self.sockets.insert(name.to_owned(), socket);
        self.socket_opened_at = Some(Instant::now());
    }

    /// Open an agent-events socket as `name` with this authentication on this path,
    /// without keeping it (for steps that examine the socket itself).
    pub async fn open_socket(
        &mut self,
        name: &str,
        auth: SocketAuth,
        path: SocketPath,
    ) -> Result<AgentEventSocket, ClientError> {
        let session = self.session(name);
        self.client().agent_events(&session, auth, path).await
    }

    /// Drop `name`'s socket and open a new one (after a restart). A virtual user keeps a
    /// socket that still works: restarts under load come from the profile, and a socket
    /// the restart broke was already dropped when it failed.
    pub async fn reconnect(&mut self, name: &str) {
        if self.mode == Mode::Scenario
            && let Some(old) = self.sockets.remove(name)
        {
            old.close().await;
        }
        self.ensure_socket(name, SocketPath::Primary).await;
    }

    // ---- agent runs ------------------------------------------------------------------

    /// Execute the agent as `name`; panics when the stack does not accept the run.
    pub async fn execute(&mut self, name: &str, request: ExecuteRequest, route: Route) {
        let session = self.session(name);
        let requested_at = Instant::now();
        let started = self
            .client()
            .execute_agent(&session, &request, route)
            .await
            .unwrap_or_else(|e| panic!("{name:?} could not start the agent: {e}"));
        self.acknowledge(name, &started.thread_id, "user", &request.message);
        self.started_runs
            .entry(name.to_owned())
            .or_default()
            .insert(started.run_id.clone());
        self.thread = Some((name.to_owned(), started.thread_id.clone()));
        self.last = Some(Outcome::Answered {
            endpoint: "execute".to_owned(),
            status: success::EXECUTE,
            code: None,
            message: Some(started.status.clone()),
        });
        self.run = Some(RunTrack {
            user: name.to_owned(),
            started,
            requested_at,
            events: None,
        });
    }

    /// Execute the agent as `name`, recording the answer whatever it is.
    pub async fn try_execute(&mut self, name: &str, request: ExecuteRequest) {
        let session = self.session(name);
        let outcome = self
            .client()
            .execute_agent(&session, &request, Route::V2)
            .await;
        self.last = Some(match outcome {
            Ok(started) => Outcome::Answered {
                endpoint: "execute".to_owned(),
                status: success::EXECUTE,
                code: None,
                message: Some(started.status),
            },
            Err(e) => outcome_of_error(e),
        });
    }

    /// The agent run this scenario started last; panics when it started none.
    pub fn current_run(&self) -> &RunTrack {
        self.run
            .as_ref()
            .expect("no agent run was started in this scenario")
    }

    /// Wait for the current run's five events on its owner's socket.
    pub async fn receive_run_events(&mut self, name: &str) {
        let run_id = self.current_run().started.run_id.clone();
        let requested_at = self.current_run().requested_at;
        let timeout = self.timeouts().events;
        let Some(socket) = self.sockets.get_mut(name) else {
            panic!("{name:?} has no agent-events socket open");
        };
        let collected = socket.collect_run(&run_id, timeout).await;
        let other_runs = match &collected {
            Ok(events) => &events.other_runs,
            Err(incomplete) => &incomplete.other_runs,
        };
        let own = self.started_runs.get(name);
        for foreign in other_runs
            .iter()
            .filter(|r| own.is_none_or(|own| !own.contains(*r)))
        {
            tracing::warn!(user = name, run_id = %foreign, "an agent event of a run this user did not start");
            self.misdelivered += 1;
        }
        match collected {
            Ok(events) => {
                // The first event of each kind, and how many of that kind: an agent that
                // thinks twice is timed to its first thought, as a user sees it.
                let first = self.samples.len();
                for event in &events.events {
                    let kind = event.kind.name.as_str();
                    match self.samples[first..].iter_mut().find(|s| s.event == kind) {
                        Some(sample) => sample.count += 1,
                        None => self.samples.push(EventSample {
                            event: kind.to_owned(),
                            requested_at,
                            received_at: event.received_at,
                            count: 1,
                        }),
                    }
                }
                if let Some(run) = &mut self.run {
                    run.events = Some(events);
                }
            }
            Err(incomplete) => {
                // The socket may be dead: a virtual user opens a new one next time.
                self.sockets.remove(name);
                panic!("{incomplete}");
            }
        }
    }

    /// The events received for the current run; panics before they were received.
    pub fn run_events(&self) -> &RunEvents {
        self.current_run()
            .events
            .as_ref()
            .expect("the run's events have not been received in this scenario")
    }

    // ---- threads and the ledger ------------------------------------------------------------

    /// Note a message the stack acknowledged in `owner`'s thread: it must still be
    /// there when the thread is read back (after a restart, at the end of a load run).
    pub fn acknowledge(&mut self, owner: &str, thread_id: &str, role: &str, content: &str) {
        self.ledger
            .entry(thread_id.to_owned())
            .or_insert_with(|| (owner.to_owned(), Vec::new()))
            .1
            .push(Acknowledged {
                role: role.to_owned(),
                content: content.to_owned(),
            });
    }

    /// The scenario's current thread: (its owner's name, its id).
    pub fn current_thread(&self) -> (String, String) {
        self.thread
            .clone()
            .expect("no thread was started or used in this scenario")
    }

    /// The id of the current thread, which the scenario says belongs to `owner`; panics
    /// when it belongs to someone else (the feature is then wrong, not the stack).
    pub fn thread_of(&self, owner: &str) -> String {
        let (thread_owner, thread_id) = self.current_thread();
        assert_eq!(
            thread_owner, owner,
            "the current thread belongs to {thread_owner:?}, not {owner:?}"
        );
        thread_id
    }

    /// Read threads back (one, or every thread acknowledged to this World): how many
    /// acknowledged messages are missing or out of order, and what each problem is.
    pub async fn check_ledger(&mut self, only_thread: Option<&str>) -> (LedgerCheck, Vec<String>) {
        let mut check = LedgerCheck::default();
        let mut problems = Vec::new();
        let client = self.client();
        let threads: Vec<_> = self
            .ledger
            .iter()
            .filter(|(id, _)| only_thread.is_none_or(|t| t == id.as_str()))
            .map(|(id, (owner, acks))| (id.clone(), owner.clone(), acks.clone()))
            .collect();
        for (thread_id, owner, acks) in threads {
            check.acknowledged += acks.len() as u64;
            let session = self.session(&owner);
            let messages = match client.messages(&session, &thread_id).await {
                Ok(m) => m,
                Err(e) => {
                    check.lost += acks.len() as u64;
                    problems.push(format!("reading thread {thread_id} back failed: {e}"));
                    continue;
                }
            };
            // Every acknowledged message, in the order acknowledged (a subsequence).
            let mut next = 0;
            for ack in &acks {
                match messages[next..]
                    .iter()
                    .position(|m| m.role == ack.role && m.content == ack.content)
                {
                    Some(i) => next += i + 1,
                    None => {
                        check.lost += 1;
                        let shown: String = ack.content.chars().take(60).collect();
                        let anywhere = messages.iter().any(|m| m.content == ack.content);
                        problems.push(if anywhere {
                            format!("the {} message {shown:?} is out of order", ack.role)
                        } else {
                            format!("the {} message {shown:?} is missing", ack.role)
                        });
                    }
                }
            }
        }
        (check, problems)
    }

    // ---- outcomes ---------------------------------------------------------------------

    /// Record a raw answer (or the failure to get one) for a later "the request is
    /// refused with status …" step.
    pub fn record(&mut self, result: Result<RawResponse, ClientError>, endpoint: &str) {
        self.last = Some(match result {
            Ok(r) => Outcome::Answered {
                endpoint: endpoint.to_owned(),
                status: r.status,
                code: r.error_code,
                message: r.error_message.or(Some(r.body.chars().take(200).collect())),
            },
            Err(e) => outcome_of_error(e),
        });
    }

    /// Record the outcome of a typed call: on success, the status the client checked
    /// (`success` is one of [`crate::client::success`]); else what the stack answered.
    pub fn record_result<T>(
        &mut self,
        result: Result<T, ClientError>,
        endpoint: &str,
        success: u16,
    ) {
        self.last = Some(match result {
            Ok(_) => Outcome::Answered {
                endpoint: endpoint.to_owned(),
                status: success,
                code: None,
                message: None,
            },
            Err(e) => outcome_of_error(e),
        });
    }

    /// Status and error code of the last attempt; panics when nothing was answered.
    pub fn last_answer(&self) -> (u16, Option<String>, String) {
        match &self.last {
            Some(Outcome::Answered {
                endpoint,
                status,
                code,
                message,
            }) => (
                *status,
                code.clone(),
                format!(
                    "{endpoint} answered {status}{}{}",
                    code.as_ref().map(|c| format!(" {c}")).unwrap_or_default(),
                    message
                        .as_ref()
                        .map(|m| format!(": {m:?}"))
                        .unwrap_or_default()
                ),
            ),
            Some(Outcome::Failed(e)) => panic!("the request got no answer: {e}"),
            None => panic!("no request was made in this scenario"),
        }
    }

    // ---- health ----------------------------------------------------------------------------

    /// State of a team's own steps, one value per type, fresh for every scenario:
    /// `world.extensions_mut().insert(Upload { .. })`, later
    /// `world.extensions().get::<Upload>()`.
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    /// Mutable access to [`GoldenWorld::extensions`].
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.extensions
    }

    /// Remember the stack's boot id before a restart (or an attempt at one), for
    /// [`GoldenWorld::boot_id_before`].
    pub async fn remember_boot_id(&mut self) {
        let boot = self.boot_id().await;
        self.boot_before = Some(boot);
    }

    /// The boot id remembered before this scenario's restart.
    pub fn boot_id_before(&self) -> String {
        self.boot_before
            .clone()
            .expect("the boot id was read before the restart (or the attempt)")
    }

    /// The stack's current boot id (`GET paths.health`).
    pub async fn boot_id(&mut self) -> String {
        self.client()
            .health()
            .await
            .unwrap_or_else(|e| panic!("asking the backend's health failed: {e}"))
            .boot_id
    }

    /// Time the per-event samples since the last call (load mode).
    pub fn take_samples(&mut self) -> Vec<EventSample> {
        std::mem::take(&mut self.samples)
    }

    /// Forget per-iteration state, keeping identity, session and sockets.
    pub fn end_iteration(&mut self) {
        self.last = None;
        self.run = None;
        self.thread = None;
        self.last_socket_error = None;
        self.boot_before = None;
        self.boot_after_restart = None;
        self.health_answers.clear();
        self.fetched = Fetched::default();
    }
}

fn outcome_of_error(e: ClientError) -> Outcome {
    match e {
        ClientError::Status {
            endpoint,
            status,
            code,
            message,
            ..
        } => Outcome::Answered {
            endpoint,
            status,
            code,
            message,
        },
        other => Outcome::Failed(other.to_string()),
    }
}

/// How long to listen for something that must *not* arrive.
pub fn quiet_period(timeouts: &crate::contract::Timeouts) -> Duration {
    (timeouts.events / 4).clamp(Duration::from_millis(200), Duration::from_secs(1))
}

impl crate::load::VirtualUser for GoldenWorld {
    type Context = Arc<RunContext>;

    fn not_run_under_load(step: &cucumber::gherkin::Step) -> Option<&'static str> {
        super::steps::WHOLE_STACK_STEPS
            .contains(&step.value.as_str())
            .then_some("it restarts the whole stack; the profile's restart_at does that once")
    }

    fn virtual_user(context: &Self::Context, _index: u64) -> Self {
        GoldenWorld::virtual_user(context.clone())
    }

    fn drain_event_samples(&mut self) -> Vec<EventSample> {
        self.take_samples()
    }

    fn misdelivered_events(&self) -> u64 {
        self.misdelivered
    }

    fn verify_ledger(&mut self) -> futures_util::future::LocalBoxFuture<'_, LedgerCheck> {
        Box::pin(async move {
            let (check, problems) = self.check_ledger(None).await;
            for problem in problems {
                tracing::warn!("{problem}");
            }
            check
        })
    }

    fn end_iteration(&mut self) {
        GoldenWorld::end_iteration(self);
    }

    fn events_connected_at(&self) -> Option<Instant> {
        self.socket_opened_at
    }
}
