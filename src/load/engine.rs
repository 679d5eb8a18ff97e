//! The engine: worker threads, each a current-thread runtime with a `LocalSet` holding
//! its share of the virtual users (step futures are `!Send`), one iteration loop for
//! both load models, and the collector on the caller's runtime.
//!
//! ```text
//! run_users ── Plan::build ── spawn workers ──────────────── collector loop ── outcome
//!               │              │ worker i (thread)            ▲ WorkerMsg
//!               │              │   VU tasks ── run_iteration ─┤ (intervals, final)
//!               │              │   (closed: back to back;     │
//!               │              │    open: dispatcher hands    │
//!               │              │    arrivals to idle users)   │
//! ```
//!
//! Invariants: an iteration is only ever run by `run_iteration`; every loop is bounded
//! by the run's duration (a hard cap even when only `iterations` is given) and the
//! graceful stop; recording a sample does not allocate.
//!
//! Why one long file: about 900 lines of the engine and 450 of its unit tests. The
//! worker loop, the user's iteration and the abort relay share private types and are
//! read together; the pieces that stand alone already have files of their own
//! (`schedule`, `metrics`, `collector`, `outcome`, `restart`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures_channel::oneshot;
use futures_util::FutureExt as _;
use futures_util::StreamExt as _;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::summary::{Environment, RunSummary};

use super::collector::{Collector, SeriesNames};
use super::config::{LoadConfig, Profile, Rate};
use super::metrics::{ErrorClass, ErrorGroups, Recorder, WorkerReport};
use super::outcome::{self, RunFacts};
use super::panics::{self, QuietPanics};
use super::plan::Plan;
use super::progress::{Progress, ProgressMode};
use super::remote_write::RemoteWriter;
use super::restart::{RestartClock, RestartTally, RestartTarget, UserRestart};
use super::schedule::{self, IterationBudget, Model, Shape};
use super::shard::Shard;
use super::vu::{LedgerCheck, VirtualUser};

/// Everything `goldenpath load` is asked: flags override the profile's values.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Feature files or directories (default: the profile's, else `features/`).
    pub features: Vec<PathBuf>,
    /// Tag expression (default: the profile's, else `@load`).
    pub tags: Option<String>,
    /// A profile of `config.profiles`. Without it and without `users`/`rate`, the
    /// config's `default_profile`.
    pub profile: Option<String>,
    /// Closed model: concurrent virtual users (`--users`).
    pub users: Option<u64>,
    /// Closed model: start the users evenly over this long (`--ramp-up`).
    pub ramp_up: Option<Duration>,
    /// How long iterations are started for (`--duration`).
    pub duration: Option<Duration>,
    /// Stop after this many iterations in all (`--iterations`).
    pub iterations: Option<u64>,
    /// Open model: iterations started per time unit (`--rate`).
    pub rate: Option<Rate>,
    /// Open model: the most virtual users at once; an arrival with none free is dropped
    /// (`--max-users`).
    pub max_users: Option<u64>,
    /// Restart the backend this long after the start of the run (`--restart-at`).
    pub restart_at: Option<Duration>,
    /// Worker threads (`--workers`; default: available parallelism).
    pub workers: Option<usize>,
    /// `reports/<run>/`: summary.json, hlog/*.hlog.
    pub run_dir: PathBuf,
    /// The `[load]` section: profiles and thresholds.
    pub config: LoadConfig,
    /// What is tested, for the summary (filled by the CLI).
    pub environment: Environment,
    /// Whether a progress line is shown while the run goes.
    pub progress: ProgressMode,
    /// The part of the run this process holds (`--shard I/N`); the whole by default.
    pub shard: Shard,
    /// The run's id, shared by every shard of one run (`--run-id`); the run
    /// directory's name when not given.
    pub run_id: Option<String>,
    /// The instant every shard starts its schedule at (`--start-at`); a shard that
    /// gets there late starts at once and reports its lateness. Now when not given.
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl LoadOptions {
    /// Options writing to `run_dir` with the `[load]` section `config`; every flag unset.
    pub fn new(config: LoadConfig, run_dir: PathBuf) -> Self {
        Self {
            config,
            run_dir,
            ..Self::default()
        }
    }

    /// The profile the run uses (its name, if any) with the flags applied.
    pub fn effective_profile(&self) -> Result<(Option<String>, Profile), String> {
        let name = match (
            &self.profile,
            self.users.or(self.max_users).is_some() || self.rate.is_some(),
        ) {
            (Some(p), _) => Some(p.clone()),
            (None, false) => Some(self.config.default_profile.clone()),
            (None, true) => None,
        };
        let mut p = match &name {
            Some(n) => self.config.profile(n)?.clone(),
            None => Profile::default(),
        };
        macro_rules! flag {
            ($($f:ident),*) => { $( if self.$f.is_some() { p.$f = self.$f; } )* };
        }
        flag!(
            users, ramp_up, duration, iterations, rate, max_users, restart_at, workers
        );
        if self.rate.is_some() && self.users.is_none() && self.max_users.is_some() {
            p.users = None;
        }
        if self.rate.is_some() && p.ramp_up.is_some() && self.ramp_up.is_none() {
            p.ramp_up = None;
        }
        if self.tags.is_some() {
            p.tags = self.tags.clone();
        }
        if !self.features.is_empty() {
            p.features = self.features.clone();
        }
        Ok((name, p))
    }
}

/// The result of a load run.
#[derive(Debug)]
pub struct LoadOutcome {
    /// The run's record, also written as `summary.json`.
    pub summary: RunSummary,
    /// The directory the results were written to.
    pub run_dir: PathBuf,
    /// Every threshold held (including the implicit `lost_messages == 0` and
    /// `misdelivered_events == 0`).
    pub thresholds_passed: bool,
    /// Ctrl-C ended the run early.
    pub interrupted: bool,
    /// The text summary printed at the end.
    pub text: String,
}

/// Why a load run could not run (a run that ran but failed thresholds is an `Ok`).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The profile is unknown, its settings make no runnable model, or it has `restart_at`
    /// for a target that cannot be restarted.
    #[error("load profile: {0}")]
    Profile(String),
    /// A setting of `[load]` beyond the profile is wrong (e.g. `[load.prometheus]`).
    #[error("{0}")]
    Config(String),
    /// The features cannot be planned (preflight error, bad tag expression, no scenario).
    #[error(transparent)]
    Plan(#[from] super::plan::PlanError),
    /// The run directory, or a file in it, cannot be created or written.
    #[error("cannot write the run's results in {}: {source}", dir.display())]
    Output {
        /// The run directory.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The reports (`summary.json`, `report.html`, `summary.md`) cannot be written.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// The operating system refused to start a worker thread.
    #[error("cannot start load worker thread: {0}")]
    Thread(std::io::Error),
}

/// A message from a worker thread to the collector.
enum WorkerMsg {
    Report(WorkerReport),
    Done(Box<WorkerFinal>),
}

/// What a worker hands back when its users are done.
#[derive(Debug, Default)]
struct WorkerFinal {
    errors: ErrorGroups,
    restart: RestartTally,
    ledger: LedgerCheck,
    users_verified: u64,
    users_run: u64,
    misdelivered: u64,
}

/// Upper bound on reading back the users' messages at the end.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(120);
/// The same after Ctrl-C: the results so far matter more than completeness.
const VERIFY_TIMEOUT_INTERRUPTED: Duration = Duration::from_secs(10);
/// Ledger checks in flight per worker.
const VERIFY_CONCURRENCY: usize = 32;
/// Time given to worker threads to start before the first user or arrival.
const START_DELAY: Duration = Duration::from_millis(50);
/// A shared start further away than this is refused (a wrong date, not a wait).
const LONGEST_WAIT_FOR_START: Duration = Duration::from_secs(3600);
/// Lateness below this is not worth a line on the terminal.
const LATE: Duration = Duration::from_secs(1);

/// When the schedule starts: [`START_DELAY`] from now, or at the shared `--start-at`
/// instant (of every shard of a run), or, past it, at once with the lateness noted.
#[derive(Debug, Clone, Copy)]
struct ScheduleStart {
    instant: Instant,
    wall: SystemTime,
    /// Behind the shared instant (zero without one).
    lateness: Duration,
    wait: Duration,
}

impl ScheduleStart {
    fn at(shared: Option<chrono::DateTime<chrono::Utc>>) -> Result<ScheduleStart, LoadError> {
        let (now, now_wall) = (Instant::now(), SystemTime::now());
        let Some(shared) = shared else {
            return Ok(ScheduleStart {
                instant: now + START_DELAY,
                wall: now_wall + START_DELAY,
                lateness: Duration::ZERO,
                wait: START_DELAY,
            });
        };
        let shared_wall = SystemTime::from(shared);
        let (wait, lateness) = match shared_wall.duration_since(now_wall + START_DELAY) {
            Ok(ahead) => (START_DELAY + ahead, Duration::ZERO),
            Err(behind) => (START_DELAY, behind.duration()),
        };
        if wait > LONGEST_WAIT_FOR_START {
            return Err(LoadError::Profile(format!(
                "the shared start {} is {} away (at most {}): is the date right?",
                shared.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                humantime::format_duration(Duration::from_secs(wait.as_secs())),
                humantime::format_duration(LONGEST_WAIT_FOR_START)
            )));
        }
        Ok(ScheduleStart {
            instant: now + wait,
            wall: now_wall + wait,
            lateness,
            wait,
        })
    }
}

/// Runs the selected scenarios as load, writes `summary.json` and the `.hlog` files in
/// `opts.run_dir`, prints the text summary, and returns the outcome.
///
/// `context` is cloned into every worker thread and every virtual user is built from it.
/// `restart` is required when the profile has `restart_at`. Cancelling `shutdown`
/// (Ctrl-C) stops the run cleanly: no new iterations, in-flight ones are interrupted,
/// and the results so far are written.
pub async fn run_users<W: VirtualUser>(
    opts: LoadOptions,
    context: W::Context,
    restart: Option<Arc<dyn RestartTarget>>,
    shutdown: CancellationToken,
) -> Result<LoadOutcome, LoadError> {
    let (profile_name, profile) = opts.effective_profile().map_err(LoadError::Profile)?;
    let parallelism = std::thread::available_parallelism().map_or(1, usize::from);
    let shape = Shape::resolve(&profile, parallelism, opts.shard).map_err(LoadError::Profile)?;
    if let Some(prometheus) = &opts.config.prometheus {
        prometheus.check().map_err(LoadError::Config)?;
    }
    if shape.restart_at.is_some() && restart.is_none() {
        return Err(LoadError::Profile(
            "restart_at is set but this target cannot be restarted by the harness".into(),
        ));
    }
    let tags = profile.tags.clone().unwrap_or_else(|| "@load".to_owned());
    let features = if profile.features.is_empty() {
        vec![PathBuf::from("features")]
    } else {
        profile.features.clone()
    };
    let plan: Arc<Plan<W>> = Arc::new(Plan::build(&features, &tags)?);
    let output_err = |source| LoadError::Output {
        dir: opts.run_dir.clone(),
        source,
    };
    std::fs::create_dir_all(&opts.run_dir).map_err(output_err)?;

    let schedule_start = ScheduleStart::at(opts.start_at)?;
    if let Some(at) = opts.start_at {
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let secs = |d: Duration| humantime::format_duration(Duration::from_secs(d.as_secs()));
        if schedule_start.wait > LATE {
            eprintln!(
                "goldenpath: shard {} waits {} for the shared start at {at}",
                shape.shard,
                secs(schedule_start.wait)
            );
        } else if schedule_start.lateness > LATE {
            eprintln!(
                "goldenpath: shard {} starts {} late for the shared start at {at}",
                shape.shard,
                secs(schedule_start.lateness)
            );
        }
    }
    let run_id = opts.run_id.clone().unwrap_or_else(|| {
        opts.run_dir
            .file_name()
            .map_or_else(|| "load".to_owned(), |n| n.to_string_lossy().into_owned())
    });
    let _quiet = QuietPanics::install();
    let started_wall = chrono::Utc::now();
    let start = schedule_start.instant;
    let start_wall = schedule_start.wall;
    let names = SeriesNames {
        steps: plan.steps.iter().map(|s| s.name.clone()).collect(),
        scenarios: plan.scenarios.iter().map(|s| s.name.clone()).collect(),
    };
    let active_users = Arc::new(AtomicU64::new(0));
    let mut collector = Collector::new(
        shape.workers,
        names,
        &opts.run_dir,
        start_wall,
        Progress::new(opts.progress),
        active_users.clone(),
    )
    .map_err(output_err)?;
    if let Some(prometheus) = &opts.config.prometheus {
        collector.remote = Some(RemoteWriter::start(
            prometheus,
            &run_id,
            shape.shard.is_split().then(|| shape.shard.to_string()),
            collector.names().clone(),
            plan.steps
                .iter()
                .map(|s| {
                    plan.scenarios
                        .get(s.scenario)
                        .map_or_else(String::new, |sc| sc.name.clone())
                })
                .collect(),
            start_wall,
        ));
    }

    let stop_starting = shutdown.child_token();
    let abort = shutdown.child_token();
    let clock = Arc::new(RestartClock::default());
    let budget = Arc::new(IterationBudget::new(shape.iteration_budget()));
    let (tx, mut rx) = mpsc::unbounded_channel::<WorkerMsg>();
    let mut threads = Vec::new();
    for index in 0..shape.workers {
        let setup = WorkerSetup::<W> {
            index,
            context: context.clone(),
            plan: plan.clone(),
            shape: shape.clone(),
            start,
            budget: budget.clone(),
            stop_starting: stop_starting.clone(),
            abort: abort.clone(),
            shutdown: shutdown.clone(),
            clock: clock.clone(),
            active_users: active_users.clone(),
            tx: tx.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("goldenpath-load-{index}"))
            .spawn(move || worker_thread(setup))
            .map_err(LoadError::Thread)?;
        threads.push(handle);
    }
    drop(tx);

    // The collector loop: bounded by the workers' end, which the deadline, the graceful
    // stop and Ctrl-C all force.
    let deadline = start + shape.duration;
    let hard_stop = deadline + shape.graceful_stop;
    let restart_due = shape.restart_at.map(|d| start + d);
    let mut restart_future = None;
    let mut restart_result: Option<Result<super::restart::RestartReport, String>> = None;
    let mut finals: Vec<WorkerFinal> = Vec::new();
    let mut interrupted = false;
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(WorkerMsg::Report(r)) => collector.take(r),
                Some(WorkerMsg::Done(f)) => finals.push(*f),
                None => break,
            },
            () = tokio::time::sleep_until(deadline.into()), if !stop_starting.is_cancelled() => {
                stop_starting.cancel();
            }
            () = tokio::time::sleep_until(hard_stop.into()), if !abort.is_cancelled() => {
                collector.note("graceful stop over: interrupting iterations still running");
                abort.cancel();
            }
            () = shutdown.cancelled(), if !interrupted => {
                interrupted = true;
                collector.note("interrupted: stopping the users and writing the results so far");
            }
            () = async {
                match restart_due {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            }, if restart_future.is_none() && restart_result.is_none() && !stop_starting.is_cancelled() => {
                if let Some(target) = &restart {
                    collector.note("restarting the backend");
                    collector.restarting = true;
                    clock.mark_requested(Instant::now());
                    restart_future = Some(target.restart());
                }
            }
            r = async { restart_future.as_mut().expect("guarded").await }, if restart_future.is_some() => {
                restart_future = None;
                collector.restarting = false;
                match &r {
                    Ok(report) => {
                        clock.mark_back(report.healthy_at.max(clock.requested().unwrap_or(report.healthy_at)));
                        collector.note("backend is back");
                    }
                    Err(e) => collector.note(&format!("restart failed: {e:#}")),
                }
                restart_result = Some(r.map_err(|e| format!("{e:#}")));
            }
        }
    }
    for t in threads {
        let _ = t.join();
    }
    collector.finish();
    let remote_write = match collector.remote.take() {
        Some(remote) => Some(remote.finish(collector.restarting).await),
        None => None,
    };
    let finished_wall = chrono::Utc::now();
    let ended = Instant::now();

    let mut total = WorkerFinal::default();
    for f in finals {
        total.errors.merge(f.errors);
        total.restart.merge(f.restart);
        total.ledger.acknowledged += f.ledger.acknowledged;
        total.ledger.lost += f.ledger.lost;
        total.users_verified += f.users_verified;
        total.users_run += f.users_run;
        total.misdelivered += f.misdelivered;
    }
    let facts = RunFacts {
        profile: profile_name,
        shape: &shape,
        plan_steps: &plan.steps,
        plan_scenarios: plan.scenarios.iter().map(|s| s.name.clone()).collect(),
        thresholds: &opts.config.thresholds,
        started_at: started_wall,
        finished_at: finished_wall,
        measured: ended
            .saturating_duration_since(start)
            .min(shape.duration.max(Duration::from_millis(1))),
        elapsed: ended.saturating_duration_since(start),
        start,
        errors: &total.errors,
        restart_tally: &total.restart,
        clock: &clock,
        restart_result: restart_result.as_ref(),
        ledger: total.ledger,
        users_verified: total.users_verified,
        users_run: total.users_run,
        misdelivered: total.misdelivered,
        interrupted,
        environment: opts.environment.clone(),
        run_dir: &opts.run_dir,
        run_id,
        start_at: opts.start_at,
        schedule_start_wall: start_wall,
        lateness: schedule_start.lateness,
        remote_write,
    };
    let built = outcome::build(&facts, &collector);
    if let Some(e) = collector.write_error.take() {
        return Err(output_err(e));
    }
    outcome::write(&opts.run_dir, &built.summary)?;
    println!("{}", built.text);
    Ok(LoadOutcome {
        summary: built.summary,
        run_dir: opts.run_dir,
        thresholds_passed: built.passed,
        interrupted,
        text: built.text,
    })
}

/// What one worker thread needs.
struct WorkerSetup<W: VirtualUser> {
    index: usize,
    context: W::Context,
    plan: Arc<Plan<W>>,
    shape: Shape,
    start: Instant,
    budget: Arc<IterationBudget>,
    stop_starting: CancellationToken,
    abort: CancellationToken,
    shutdown: CancellationToken,
    clock: Arc<RestartClock>,
    active_users: Arc<AtomicU64>,
    tx: mpsc::UnboundedSender<WorkerMsg>,
}

fn worker_thread<W: VirtualUser>(setup: WorkerSetup<W>) {
    panics::mark_worker_thread();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("load worker {} cannot start its runtime: {e}", setup.index);
            return;
        }
    };
    let tx = setup.tx.clone();
    let local = tokio::task::LocalSet::new();
    let fin = local.block_on(&runtime, worker_main(setup));
    let _ = tx.send(WorkerMsg::Done(Box::new(fin)));
}

/// State shared by the users of one worker (one thread: `Rc`, `RefCell`).
struct Worker<W: VirtualUser> {
    plan: Arc<Plan<W>>,
    shape: Shape,
    start: Instant,
    deadline: Instant,
    budget: Arc<IterationBudget>,
    /// This worker's own child of the run's token. A token's state sits behind a mutex
    /// that every `is_cancelled()` takes (once per iteration); shared by all workers,
    /// that mutex moved between cores each time.
    stop_starting: CancellationToken,
    clock: Arc<RestartClock>,
    active_users: Arc<AtomicU64>,
    recorder: RefCell<Recorder>,
    restart: RefCell<RestartTally>,
}

/// One virtual user: the World and what the engine tracks about it.
struct Vu<W> {
    world: W,
    index: u64,
    iterations: u64,
    misdelivered_seen: u64,
    restart: UserRestart,
    /// The step timeout, one timer for all of the user's steps: each step moves its
    /// deadline on. A later deadline is a single atomic update in Tokio's timer,
    /// while a timer made and dropped per step registered and removed itself in the
    /// timer wheel each time (about 3 % of the client's instructions per request).
    step_timer: Pin<Box<tokio::time::Sleep>>,
    /// Ready once the run is aborted (see [`AbortRelay`]); an iteration races it.
    aborted: Option<oneshot::Receiver<()>>,
}

/// Passes the run's abort on to each user of a worker through a one-shot channel of
/// its own, which resolves when the relay drops its sender. The iteration in flight
/// races it: polling a channel is a few atomic operations, where polling the run's
/// `CancellationToken` took two mutexes, several times per request. The relay is a
/// task of the user's own worker thread, so an iteration that ends in the moment
/// before it runs counts as finished, not interrupted.
#[derive(Default)]
struct AbortRelay {
    senders: RefCell<Vec<oneshot::Sender<()>>>,
}

impl AbortRelay {
    fn receiver(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.senders.borrow_mut().push(tx);
        rx
    }

    /// Drops every sender once `abort` is cancelled.
    async fn relay(self: Rc<Self>, abort: CancellationToken) {
        abort.cancelled().await;
        self.senders.borrow_mut().clear();
    }
}

async fn worker_main<W: VirtualUser>(setup: WorkerSetup<W>) -> WorkerFinal {
    let tx = setup.tx.clone();
    let recorder = Recorder::new(
        setup.index,
        setup.start,
        setup.plan.steps.len(),
        setup.plan.scenarios.len(),
        Box::new(move |r| {
            let _ = tx.send(WorkerMsg::Report(r));
        }),
    );
    let worker = Rc::new(Worker {
        deadline: setup.start + setup.shape.duration,
        plan: setup.plan,
        shape: setup.shape,
        start: setup.start,
        budget: setup.budget,
        stop_starting: setup.stop_starting.child_token(),
        clock: setup.clock,
        active_users: setup.active_users,
        recorder: RefCell::new(recorder),
        restart: RefCell::new(RestartTally::default()),
    });

    // Cut an interval every second even when nothing completes.
    let ticker = {
        let worker = worker.clone();
        tokio::task::spawn_local(async move {
            let mut tick = tokio::time::interval_at(
                (worker.start + super::metrics::INTERVAL).into(),
                super::metrics::INTERVAL,
            );
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                worker.recorder.borrow_mut().roll(Instant::now());
            }
        })
    };

    let abort_relay = Rc::new(AbortRelay::default());
    let relay = tokio::task::spawn_local(abort_relay.clone().relay(setup.abort.clone()));

    let new_vu = |index| {
        Vu::new(
            W::virtual_user(&setup.context, index),
            index,
            worker.shape.step_timeout,
            abort_relay.receiver(),
        )
    };

    let users: Vec<u64> = worker.shape.users_of_worker(setup.index).collect();
    let mut vus: Vec<Vu<W>> = match worker.shape.model {
        Model::Closed {
            users: total,
            ramp_up,
        } => {
            let tasks: Vec<_> = users
                .into_iter()
                .map(|index| {
                    let vu = new_vu(index);
                    let offset = schedule::ramp_offset(index, total, ramp_up);
                    tokio::task::spawn_local(closed_user(vu, worker.clone(), offset))
                })
                .collect();
            join_users(tasks).await
        }
        Model::Open { rate, .. } => {
            let pool = Rc::new(Pool::default());
            let tasks: Vec<_> = users
                .into_iter()
                .map(|index| {
                    tokio::task::spawn_local(open_user(new_vu(index), worker.clone(), pool.clone()))
                })
                .collect();
            dispatch(&worker, &pool, setup.index, rate).await;
            pool.close();
            join_users(tasks).await
        }
    };
    ticker.abort();
    relay.abort();

    // Read back every user's acknowledged messages.
    let mut fin = WorkerFinal::default();
    let verify_timeout = if setup.shutdown.is_cancelled() {
        VERIFY_TIMEOUT_INTERRUPTED
    } else {
        VERIFY_TIMEOUT
    };
    let verify_until = tokio::time::Instant::now() + verify_timeout;
    {
        let mut checks = futures_util::stream::iter(vus.iter_mut().filter(|vu| vu.iterations > 0))
            .map(|vu| vu.world.verify_ledger())
            .buffer_unordered(VERIFY_CONCURRENCY);
        loop {
            tokio::select! {
                next = checks.next() => match next {
                    Some(check) => {
                        fin.ledger.acknowledged += check.acknowledged;
                        fin.ledger.lost += check.lost;
                        fin.users_verified += 1;
                    }
                    None => break,
                },
                () = tokio::time::sleep_until(verify_until) => break,
            }
        }
    }
    for vu in &vus {
        fin.misdelivered += vu.world.misdelivered_events();
        if vu.iterations > 0 {
            fin.users_run += 1;
        }
    }
    {
        let mut tally = worker.restart.borrow_mut();
        tally.active_users = vus.iter().filter(|vu| vu.restart.was_active()).count() as u64;
    }
    drop(vus);
    let mut recorder = worker.recorder.borrow_mut();
    recorder.finish();
    fin.errors = std::mem::take(&mut recorder.errors);
    fin.restart = std::mem::take(&mut *worker.restart.borrow_mut());
    fin
}

impl<W> Vu<W> {
    /// Inside the worker's runtime (the step timer belongs to it).
    fn new(world: W, index: u64, step_timeout: Duration, aborted: oneshot::Receiver<()>) -> Vu<W> {
        Vu {
            world,
            index,
            iterations: 0,
            misdelivered_seen: 0,
            restart: UserRestart::default(),
            step_timer: Box::pin(tokio::time::sleep(step_timeout)),
            aborted: Some(aborted),
        }
    }
}

/// The users back once their tasks end. The waiting runs as a task of its own: the
/// worker's main future is polled at every turn of the `LocalSet` (many times per
/// request), and polling a user's `JoinHandle` there moved a whole `Vu` each time
/// (0.4 % of the engine benchmark's CPU in memmove alone).
async fn join_users<W: 'static>(tasks: Vec<tokio::task::JoinHandle<Vu<W>>>) -> Vec<Vu<W>> {
    let joined = tokio::task::spawn_local(async move {
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            // A user task only fails on a bug in the engine (steps' panics are caught).
            if let Ok(vu) = t.await {
                out.push(vu);
            }
        }
        out
    });
    joined.await.unwrap_or_default()
}

/// Closed model: start after the ramp-up offset, then iterations back to back, with a
/// growing pause after failed ones (a stack that is down is not hammered).
async fn closed_user<W: VirtualUser>(
    mut vu: Vu<W>,
    worker: Rc<Worker<W>>,
    offset: Duration,
) -> Vu<W> {
    tokio::select! {
        () = tokio::time::sleep_until((worker.start + offset).into()) => {}
        () = worker.stop_starting.cancelled() => return vu,
    }
    worker.active_users.fetch_add(1, Ordering::Relaxed);
    let mut failures_in_a_row = 0;
    loop {
        let now = Instant::now();
        if worker.stop_starting.is_cancelled()
            || now >= worker.deadline
            || !worker.budget.try_claim()
        {
            break;
        }
        if run_iteration(&mut vu, &worker, now).await {
            failures_in_a_row = 0;
            continue;
        }
        failures_in_a_row += 1;
        let pause = worker.shape.failure_pause_after(failures_in_a_row);
        if !pause.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = worker.stop_starting.cancelled() => {}
            }
        }
    }
    worker.active_users.fetch_sub(1, Ordering::Relaxed);
    vu
}

/// Open model: the idle users of a worker, each waiting for an arrival. First in,
/// first out: an arrival goes to the user idle the longest, so every user of the pool
/// takes turns (and keeps its session and socket warm).
#[derive(Default)]
struct Pool {
    idle: RefCell<VecDeque<Rc<Slot>>>,
    closed: Cell<bool>,
}

#[derive(Default)]
struct Slot {
    /// The arrival's scheduled instant, or `None` to stop.
    ticket: Cell<Option<Instant>>,
    wake: Notify,
}

impl Pool {
    fn close(&self) {
        self.closed.set(true);
        for slot in self.idle.borrow_mut().drain(..) {
            slot.ticket.set(None);
            slot.wake.notify_one();
        }
    }
}

async fn open_user<W: VirtualUser>(mut vu: Vu<W>, worker: Rc<Worker<W>>, pool: Rc<Pool>) -> Vu<W> {
    let slot = Rc::new(Slot::default());
    let mut active = false;
    loop {
        if pool.closed.get() {
            break;
        }
        pool.idle.borrow_mut().push_back(slot.clone());
        slot.wake.notified().await;
        let Some(scheduled) = slot.ticket.take() else {
            break;
        };
        if !active {
            active = true;
            worker.active_users.fetch_add(1, Ordering::Relaxed);
        }
        run_iteration(&mut vu, &worker, scheduled).await;
    }
    if active {
        worker.active_users.fetch_sub(1, Ordering::Relaxed);
    }
    vu
}

/// Open model: hands this worker's arrivals to idle users at their scheduled instants;
/// an arrival that finds no idle user is dropped (and counted).
async fn dispatch<W: VirtualUser>(worker: &Worker<W>, pool: &Pool, index: usize, rate: Rate) {
    let arrivals = worker.shape.arrivals_of_worker(index, rate);
    for (_, offset) in arrivals {
        let at = worker.start + offset;
        tokio::select! {
            () = tokio::time::sleep_until(at.into()) => {}
            () = worker.stop_starting.cancelled() => break,
        }
        let slot = pool.idle.borrow_mut().pop_front();
        match slot {
            Some(slot) => {
                slot.ticket.set(Some(at));
                slot.wake.notify_one();
            }
            None => worker.recorder.borrow_mut().dropped(),
        }
    }
}

/// One iteration of one user: the scenario's steps in order (background first), each
/// timed at its boundary; stops at the first failing step. Interrupted (not failed)
/// when the graceful stop ends or on Ctrl-C.
///
/// `scheduled` is when the iteration should have started: in the open model the
/// arrival's instant, so the wait for a late start counts in the first step, the
/// events and the whole iteration (coordinated omission); in the closed model, now.
///
/// True when every step passed.
async fn run_iteration<W: VirtualUser>(
    vu: &mut Vu<W>,
    worker: &Worker<W>,
    scheduled: Instant,
) -> bool {
    let mut aborted = vu
        .aborted
        .take()
        .expect("a user runs one iteration at a time");
    let passed = tokio::select! {
        biased;
        _ = &mut aborted => None,
        ok = steps_of(vu, worker, scheduled) => Some(ok),
    };
    vu.aborted = Some(aborted);
    if passed.is_none() {
        vu.world.drain_event_samples();
        vu.world.end_iteration();
        worker.recorder.borrow_mut().interrupted();
    }
    passed == Some(true)
}

async fn steps_of<W: VirtualUser>(vu: &mut Vu<W>, worker: &Worker<W>, scheduled: Instant) -> bool {
    let plan = &worker.plan;
    let scenario_index = ((vu.index + vu.iterations) % plan.scenarios.len() as u64) as usize;
    let scenario = &plan.scenarios[scenario_index];
    let began = Instant::now();
    let lag = began.saturating_duration_since(scheduled);
    let mut ok = true;
    // One clock reading per step: a step starts when the one before it ended.
    let mut t0 = began;
    for (pos, step) in scenario.steps.iter().enumerate() {
        if step.not_run {
            continue;
        }
        vu.step_timer
            .as_mut()
            .reset((t0 + worker.shape.step_timeout).into());
        let fut = AssertUnwindSafe((step.func)(&mut vu.world, step.context.clone())).catch_unwind();
        let result = tokio::select! {
            biased;
            done = fut => Ok(done),
            () = vu.step_timer.as_mut() => Err(()),
        };
        let t1 = Instant::now();
        let carried = if pos == 0 { lag } else { Duration::ZERO };
        let samples = vu.world.drain_event_samples();
        let mut rec = worker.recorder.borrow_mut();
        for s in &samples {
            rec.event(&s.event, s.latency() + lag, s.count, t1);
        }
        match result {
            Ok(Ok(())) => rec.step_ok(step.id, t1 - t0 + carried, t1),
            Ok(Err(payload)) => {
                let class = match (vu.world.failure_kind(), panics::take_location()) {
                    (Some(kind), _) => ErrorClass::Kind(kind),
                    (None, Some((file, line))) => ErrorClass::Panic { file, line },
                    (None, None) => ErrorClass::Panic {
                        file: "unknown".into(),
                        line: 0,
                    },
                };
                rec.step_failed(step.id, class, || panics::message(payload.as_ref()));
                ok = false;
            }
            Err(_) => {
                let limit = worker.shape.step_timeout;
                rec.step_failed(step.id, ErrorClass::Timeout, || {
                    format!(
                        "step did not finish within {}",
                        humantime_serde::re::humantime::format_duration(limit)
                    )
                });
                ok = false;
            }
        }
        drop(rec);
        if !ok {
            worker.restart.borrow_mut().failure(&worker.clock, t1);
        }
        note_reconnect(vu, worker, None);
        t0 = t1;
        if !ok {
            break;
        }
    }
    let misdelivered = vu.world.misdelivered_events();
    if misdelivered > vu.misdelivered_seen {
        let new = misdelivered - vu.misdelivered_seen;
        vu.misdelivered_seen = misdelivered;
        worker
            .recorder
            .borrow_mut()
            .iteration_error(ErrorClass::Misdelivered, || {
                format!(
                    "user {} received {new} agent event(s) of runs it did not start",
                    vu.index
                )
            });
        ok = false;
    }
    vu.world.end_iteration();
    let ended = t0;
    worker.recorder.borrow_mut().iteration(
        scenario_index,
        ended.saturating_duration_since(scheduled),
        ok,
        ended,
    );
    vu.iterations += 1;
    vu.restart.iteration_done(&worker.clock);
    if ok {
        note_reconnect(vu, worker, Some((began, ended)));
    }
    ok
}

/// Measures the user's reconnect time after a restart, once.
fn note_reconnect<W: VirtualUser>(
    vu: &mut Vu<W>,
    worker: &Worker<W>,
    iteration: Option<(Instant, Instant)>,
) {
    if worker.clock.back().is_none() {
        return;
    }
    let connected_at = vu.world.events_connected_at();
    if connected_at.is_none() && iteration.is_none() {
        return;
    }
    if let Some(took) = vu
        .restart
        .reconnect_time(&worker.clock, connected_at, iteration)
    {
        worker.recorder.borrow_mut().reconnect(took);
        let at = worker
            .clock
            .requested()
            .map_or_else(Instant::now, |r| r + took);
        worker.restart.borrow_mut().reconnected(at);
    }
}

#[cfg(test)]
mod tests {
    //! The engine against an in-process World (no network): counts, failures, the open
    //! model's drops and Ctrl-C. Runs against the real stack are in `tests/load.rs`.

    use std::path::Path;

    use futures_util::future::LocalBoxFuture;

    use super::*;
    use crate::load::config::Threshold;
    use crate::load::vu::EventSample;
    use crate::summary::{Distribution, Verdict};

    #[derive(cucumber::World, Debug, Default)]
    struct Counter {
        index: u64,
        bumps: u64,
        iteration: u64,
        events: Vec<EventSample>,
    }

    #[cucumber::given("a counter")]
    fn a_counter(_w: &mut Counter) {}

    #[cucumber::when(expr = "it is bumped after {int} ms")]
    async fn bumped(w: &mut Counter, ms: u64) {
        let sent = Instant::now();
        tokio::time::sleep(Duration::from_millis(ms)).await;
        w.bumps += 1;
        w.events.push(EventSample {
            event: "bumped".into(),
            requested_at: sent,
            received_at: Instant::now(),
            count: 1,
        });
    }

    #[cucumber::when(expr = "every {int}th iteration stalls for {int} ms")]
    async fn stalls_sometimes(w: &mut Counter, every: u64, ms: u64) {
        if (w.iteration + 1).is_multiple_of(every) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }

    #[cucumber::then(expr = "user {int} fails every {int}th iteration")]
    fn fails_sometimes(w: &mut Counter, user: u64, every: u64) {
        if w.index == user {
            assert!(
                !(w.iteration + 1).is_multiple_of(every),
                "iteration {} of user {user} failed on purpose",
                w.iteration
            );
        }
    }

    impl VirtualUser for Counter {
        type Context = ();
        fn virtual_user(_: &(), index: u64) -> Self {
            Counter {
                index,
                ..Counter::default()
            }
        }
        fn drain_event_samples(&mut self) -> Vec<EventSample> {
            std::mem::take(&mut self.events)
        }
        fn misdelivered_events(&self) -> u64 {
            0
        }
        fn verify_ledger(&mut self) -> LocalBoxFuture<'_, LedgerCheck> {
            let acknowledged = self.bumps;
            Box::pin(async move {
                LedgerCheck {
                    acknowledged,
                    lost: 0,
                }
            })
        }
        fn end_iteration(&mut self) {
            self.iteration += 1;
        }
    }

    fn write_feature(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn feature(dir: &Path, sleep_ms: u64) -> PathBuf {
        write_feature(
            dir,
            "counter.feature",
            &format!(
                "@load\nFeature: Counter\n  Background:\n    Given a counter\n\n  Scenario: bump\n    When it is bumped after {sleep_ms} ms\n    Then user 1 fails every 4th iteration\n\n  @slow\n  Scenario: not selected\n    Given a counter\n"
            ),
        )
    }

    fn options(dir: &Path, sleep_ms: u64) -> LoadOptions {
        LoadOptions {
            features: vec![feature(dir, sleep_ms)],
            tags: Some("@load and not @slow".into()),
            run_dir: dir.join("run-1"),
            progress: ProgressMode::Off,
            ..LoadOptions::default()
        }
    }

    /// A run of `feature` under `profile`, the run's only profile, into `run_dir`.
    fn profiled(feature: &Path, profile: Profile, run_dir: PathBuf) -> LoadOptions {
        let mut config = LoadConfig::default();
        config.profiles.insert("test".into(), profile);
        LoadOptions {
            features: vec![feature.to_path_buf()],
            profile: Some("test".into()),
            run_dir,
            progress: ProgressMode::Off,
            config,
            ..LoadOptions::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closed_model_counts_agree() {
        let dir = tempfile::tempdir().unwrap();
        let opts = LoadOptions {
            users: Some(3),
            iterations: Some(40),
            workers: Some(2),
            ..options(dir.path(), 1)
        };
        let out = run_users::<Counter>(opts, (), None, CancellationToken::new())
            .await
            .unwrap();
        let l = out.summary.load.as_ref().unwrap();
        assert_eq!(l.model, "closed");
        assert_eq!(l.iterations, 40);
        assert!(
            l.scenarios.is_empty(),
            "one scenario: `scenario` says it all"
        );
        assert_eq!(l.steps.len(), 3, "background + 2 steps");
        // Every iteration runs the background and the bump; user 1 fails every 4th at step 3.
        assert_eq!(l.steps[0].count, 40);
        assert_eq!(l.steps[1].count, 40);
        assert_eq!(l.steps[2].count + l.steps[2].errors, 40);
        assert_eq!(l.iterations_failed, l.steps[2].errors);
        assert!(l.iterations_failed > 0);
        assert_eq!(l.scenario.count + l.scenario.errors, 40);
        assert_eq!(l.events.len(), 1);
        assert_eq!(l.events[0].count, 40);
        assert_eq!(l.acknowledged_messages, 40);
        assert_eq!(l.timeline.iter().map(|p| p.iterations).sum::<u64>(), 40);
        // One error group: the failing step and the assertion's location.
        assert_eq!(l.errors.len(), 1, "{:?}", l.errors);
        assert!(
            l.errors[0]
                .kind
                .contains("Then user 1 fails every 4th iteration: panic at"),
            "{}",
            l.errors[0].kind
        );
        assert!(l.errors[0].example.contains("failed on purpose"));
        assert_eq!(l.errors[0].count, l.iterations_failed);
        // Files: summary.json and one hlog per step, the scenario and the event.
        assert!(out.run_dir.join("summary.json").is_file());
        for d in l.steps.iter().chain([&l.scenario]).chain(&l.events) {
            let hlog = out.run_dir.join(d.hlog.as_ref().unwrap());
            let back = crate::load::hlog::merge(&[&hlog]).unwrap();
            assert_eq!(back.len(), d.count, "{}", d.name);
            if d.count > 0 {
                assert_eq!(back.value_at_quantile(0.95), d.p95_us, "{}", d.name);
            }
        }
        // The default error-rate threshold is not configured, so only the implicit ones.
        assert!(out.thresholds_passed);
        assert_eq!(out.summary.verdict, Verdict::Pass);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_step_over_its_timeout_fails_and_the_next_steps_get_a_fresh_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_feature(
            dir.path(),
            "stall.feature",
            "@load\nFeature: Stall\n  Scenario: stalls now and then\n    Given a counter\n    When every 3th iteration stalls for 400 ms\n    When it is bumped after 20 ms\n",
        );
        let profile = Profile {
            users: Some(1),
            iterations: Some(9),
            step_timeout: Some(Duration::from_millis(150)),
            failure_pause: Some(Duration::ZERO),
            ..Profile::default()
        };
        let opts = profiled(&path, profile, dir.path().join("run"));
        let out = run_users::<Counter>(opts, (), None, CancellationToken::new())
            .await
            .unwrap();
        let l = out.summary.load.as_ref().unwrap();
        // Iterations 3, 6 and 9 stall past the 150 ms timeout; the others pass, each
        // step of theirs within a timeout that started with the step.
        assert_eq!(l.iterations, 9);
        assert_eq!(l.iterations_failed, 3);
        assert_eq!((l.steps[1].count, l.steps[1].errors), (6, 3));
        assert_eq!(
            l.steps[2].count, 6,
            "the bump after a timed-out step is not run"
        );
        assert_eq!(l.errors.len(), 1, "{:?}", l.errors);
        assert!(l.errors[0].kind.contains("timeout"), "{}", l.errors[0].kind);
        assert!(
            l.errors[0].example.contains("did not finish within 150ms"),
            "{}",
            l.errors[0].example
        );
        assert!(
            l.steps[1].max_us < 150_000,
            "a passing step took {} µs",
            l.steps[1].max_us
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_user_pauses_before_retrying_and_the_pause_can_be_turned_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_feature(
            dir.path(),
            "down.feature",
            "@load\nFeature: Down\n  Scenario: always fails\n    Given a counter\n    Then user 0 fails every 1th iteration\n",
        );
        let run = |failure_pause: Option<Duration>, name: &str| {
            let profile = Profile {
                users: Some(1),
                duration: Some(Duration::from_secs(1)),
                failure_pause,
                ..Profile::default()
            };
            profiled(&path, profile, dir.path().join(name))
        };
        // Default pause: 100, 200, 400, 800 ms after failures 1-4: at most 5 in 1 s.
        let out = run_users::<Counter>(run(None, "paused"), (), None, CancellationToken::new())
            .await
            .unwrap();
        let paused = out.summary.load.as_ref().unwrap();
        assert!(
            (2..=5).contains(&paused.iterations_failed),
            "{} failed iterations",
            paused.iterations_failed
        );
        assert_eq!(paused.iterations, paused.iterations_failed);
        // No pause: back to back, hundreds in the same second.
        let out = run_users::<Counter>(
            run(Some(Duration::ZERO), "unpaused"),
            (),
            None,
            CancellationToken::new(),
        )
        .await
        .unwrap();
        let unpaused = out.summary.load.as_ref().unwrap();
        assert!(
            unpaused.iterations_failed > 100,
            "{} failed iterations",
            unpaused.iterations_failed
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn several_scenarios_get_a_distribution_each() {
        let dir = tempfile::tempdir().unwrap();
        let opts = LoadOptions {
            users: Some(3),
            iterations: Some(30),
            tags: Some("@load".into()),
            ..options(dir.path(), 1)
        };
        let out = run_users::<Counter>(opts, (), None, CancellationToken::new())
            .await
            .unwrap();
        let l = out.summary.load.as_ref().unwrap();
        let names: Vec<&str> = l.scenarios.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["scenario: bump", "scenario: not selected"]);
        let total = |d: &Distribution| d.count + d.errors;
        assert_eq!(l.scenarios.iter().map(total).sum::<u64>(), l.iterations);
        assert_eq!(total(&l.scenario), l.iterations);
        // Users take the scenarios in turn.
        assert!(
            l.scenarios.iter().all(|d| total(d) >= 10),
            "{:?}",
            l.scenarios
        );
        assert_eq!(l.scenarios[1].errors, 0, "the other scenario never fails");
        for d in &l.scenarios {
            let hlog = out.run_dir.join(d.hlog.as_ref().unwrap());
            assert_eq!(crate::load::hlog::merge(&[&hlog]).unwrap().len(), d.count);
        }
        assert!(out.text.contains("scenario: not selected"), "{}", out.text);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn thresholds_fail_with_rule_and_measured_value() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = LoadOptions {
            users: Some(2),
            iterations: Some(8),
            ..options(dir.path(), 20)
        };
        opts.config.thresholds = vec![
            Threshold::global("p95 < 5ms").unwrap(),
            Threshold {
                step: Some("it is bumped after 20 ms".into()),
                rule: "p50 >= 15ms".parse().unwrap(),
            },
            Threshold::global("error_rate < 0.1%").unwrap(),
        ];
        let out = run_users::<Counter>(opts, (), None, CancellationToken::new())
            .await
            .unwrap();
        assert!(!out.thresholds_passed);
        let t = &out.summary.load.as_ref().unwrap().thresholds;
        assert!(
            !t[0].passed && t[0].rule == "p95 < 5ms" && t[0].measured.ends_with("ms"),
            "{t:?}"
        );
        assert!(t[1].passed, "{t:?}");
        assert_eq!(t[1].scope, "When it is bumped after 20 ms");
        assert!(!t[2].passed, "user 1 fails: {t:?}");
        assert!(out.text.contains("FAIL p95 < 5ms"), "{}", out.text);
        assert!(out.summary.reasons.iter().any(|r| r.contains("p95 < 5ms")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_model_counts_drops_and_measures_from_the_schedule() {
        let dir = tempfile::tempdir().unwrap();
        // 100 arrivals/s for 1s, 2 users busy 50ms each: at most ~40 can run.
        let opts = LoadOptions {
            rate: Some(Rate::per_second(100)),
            max_users: Some(2),
            duration: Some(Duration::from_secs(1)),
            ..options(dir.path(), 50)
        };
        let out = run_users::<Counter>(opts, (), None, CancellationToken::new())
            .await
            .unwrap();
        let l = out.summary.load.as_ref().unwrap();
        assert_eq!(l.model, "open");
        assert_eq!(
            l.iterations + l.dropped,
            100,
            "every arrival is run or dropped"
        );
        assert!(l.dropped >= 50, "{}", l.dropped);
        assert!(l.scenario.min_us >= 50_000);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ctrl_c_stops_cleanly_and_still_writes_results() {
        let dir = tempfile::tempdir().unwrap();
        // Each user's 10th iteration stalls for a minute, so at Ctrl-C both users are
        // inside an iteration that only the abort can end.
        let path = write_feature(
            dir.path(),
            "stuck.feature",
            "@load\nFeature: Stuck\n  Scenario: bumps, then stalls\n    Given a counter\n    When it is bumped after 5 ms\n    When every 10th iteration stalls for 60000 ms\n",
        );
        let opts = LoadOptions {
            features: vec![path],
            users: Some(2),
            duration: Some(Duration::from_secs(60)),
            ..options(dir.path(), 5)
        };
        let shutdown = CancellationToken::new();
        let cancel = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1200)).await;
            cancel.cancel();
        });
        let began = Instant::now();
        let out = run_users::<Counter>(opts, (), None, shutdown)
            .await
            .unwrap();
        assert!(began.elapsed() < Duration::from_secs(10));
        assert!(out.interrupted);
        let l = out.summary.load.as_ref().unwrap();
        assert_eq!((l.iterations, l.iterations_failed), (18, 0));
        assert_eq!(l.iterations_interrupted, 2);
        assert!(
            out.text
                .contains(&format!("{} interrupted", l.iterations_interrupted))
        );
        assert!(out.run_dir.join("summary.json").is_file());
        assert_eq!(
            out.summary.verdict,
            Verdict::Fail,
            "an interrupted run is not a pass"
        );
    }

    #[test]
    fn undefined_steps_stop_the_run_before_any_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_feature(
            dir.path(),
            "x.feature",
            "@load\nFeature: X\n  Scenario: y\n    Given nothing like this exists\n",
        );
        let e = Plan::<Counter>::build(&[path], "@load").unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.contains("x.feature:4") && shown.contains("no step definition matches"),
            "{shown}"
        );
    }

    #[test]
    fn flags_override_the_profile() {
        let o = LoadOptions {
            profile: Some("nightly".into()),
            users: Some(7),
            ..LoadOptions::default()
        };
        let (name, p) = o.effective_profile().unwrap();
        assert_eq!(name.as_deref(), Some("nightly"));
        assert_eq!(
            (p.users, p.duration),
            (Some(7), Some(Duration::from_secs(600)))
        );
        let o = LoadOptions {
            users: Some(3),
            iterations: Some(5),
            ..LoadOptions::default()
        };
        let (name, p) = o.effective_profile().unwrap();
        assert_eq!(
            name, None,
            "model flags without --profile do not inherit smoke's duration"
        );
        assert_eq!(p.duration, None);
        let (name, _) = LoadOptions::default().effective_profile().unwrap();
        assert_eq!(name.as_deref(), Some("smoke"));
    }
}
