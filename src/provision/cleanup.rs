//! Leaving nothing behind: removal on Ctrl-C / SIGTERM, and a sweep of what a crashed run left.
//!
//! testcontainers removes a container (and its anonymous volumes) when its handle drops. Its
//! `watchdog` feature (not used) would remove containers on a signal, but not networks, and
//! then kill the process before a run could write its results. goldenpath therefore keeps its
//! own registry of live stacks and, on the first SIGINT/SIGTERM: runs the interrupt hook a run
//! registered ([`on_interrupt`]: stop cleanly and write the results so far), removes the
//! containers (with volumes) and networks, then exits with 128 + the signal number. Whatever
//! survives anyway (SIGKILL, power loss) carries the `goldenpath.run` label and is removed by
//! [`sweep_leftovers`] or [`sweep_orphans`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, Once};
use std::time::Duration;

use testcontainers::bollard::Docker;
use testcontainers::bollard::models::NetworkDisconnectRequest;
use testcontainers::bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, RemoveContainerOptions,
};
use tracing::{info, warn};

use super::engine::{self, HOST_LABEL, PID_LABEL, RUN_LABEL};
use super::error::{ProvisionError, Result};

/// What one stack created, for removal on a signal.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracked {
    pub(crate) container: Option<String>,
    pub(crate) network: Option<String>,
}

static LIVE: Mutex<BTreeMap<String, Tracked>> = Mutex::new(BTreeMap::new());
static INSTALL: Once = Once::new();
static SHUTTING_DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Set from the first SIGINT/SIGTERM on: no new stack may start, and the process ends
/// when the signal handler is done (a run that finishes meanwhile must wait for it).
pub fn shutting_down() -> bool {
    SHUTTING_DOWN.load(std::sync::atomic::Ordering::SeqCst)
}

/// What a run does on Ctrl-C before its stacks are removed: stop, write partial results.
pub type InterruptHook = Box<dyn FnOnce() -> futures_util::future::BoxFuture<'static, ()> + Send>;
static HOOK: Mutex<Option<InterruptHook>> = Mutex::new(None);
/// How long an interrupt hook may take before the stacks are removed anyway.
const HOOK_TIMEOUT: Duration = Duration::from_secs(20);

/// Register what to do on SIGINT/SIGTERM before the stacks are removed and the process
/// exits (replaces an earlier hook). Installs the signal handler if needed.
pub fn on_interrupt(hook: InterruptHook) {
    install_signal_cleanup();
    *HOOK.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
}

/// Forget the interrupt hook (the run it belonged to is over).
pub fn clear_interrupt_hook() {
    HOOK.lock().unwrap_or_else(|e| e.into_inner()).take();
}

pub(crate) fn track(key: &str, update: impl FnOnce(&mut Tracked)) {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    update(live.entry(key.to_owned()).or_default());
}

pub(crate) fn untrack(key: &str) {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
}

/// Installs (once per process) the SIGINT/SIGTERM handler that removes every live stack.
///
/// After this, those signals no longer kill the process by themselves: the handler exits
/// with 130 (SIGINT) or 143 (SIGTERM) once the removal is done (at most ~15 s).
pub fn install_signal_cleanup() {
    INSTALL.call_once(|| {
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("goldenpath-signal-cleanup".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        warn!("no signal cleanup: cannot build a runtime: {e}");
                        let _ = ready_tx.send(());
                        return;
                    }
                };
                runtime.block_on(async move {
                    use tokio::signal::unix::{SignalKind, signal};
                    let (Ok(mut int), Ok(mut term)) = (
                        signal(SignalKind::interrupt()),
                        signal(SignalKind::terminate()),
                    ) else {
                        warn!("no signal cleanup: cannot register signal handlers");
                        let _ = ready_tx.send(());
                        return;
                    };
                    let _ = ready_tx.send(());
                    // Connect before any signal, so that cleanup does not wait for it.
                    let docker = engine::connect().await.ok();
                    let code = tokio::select! {
                        _ = int.recv() => 130,
                        _ = term.recv() => 143,
                    };
                    SHUTTING_DOWN.store(true, std::sync::atomic::Ordering::SeqCst);
                    eprintln!("goldenpath: interrupted; stopping and writing the results so far");
                    let hook = HOOK.lock().unwrap_or_else(|e| e.into_inner()).take();
                    if let Some(hook) = hook {
                        let _ = tokio::time::timeout(HOOK_TIMEOUT, hook()).await;
                    }
                    eprintln!("goldenpath: removing the stack containers and networks…");
                    let _ = tokio::time::timeout(Duration::from_secs(15), async {
                        remove_live(docker.clone()).await;
                        // A stack being created when the signal came is not tracked yet:
                        // sweep everything this process labelled, once more after in-flight
                        // creations have landed (new ones are refused, see `shutting_down`).
                        // testcontainers creates a stack's network again, unlabelled, when
                        // it was removed under a start in flight: remove tracked names again.
                        if let Some(docker) = docker.or(engine::connect().await.ok()) {
                            let own = format!("{PID_LABEL}={}", std::process::id());
                            let _ = sweep(&docker, &own, |_| true).await;
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            remove_live(Some(docker.clone())).await;
                            let _ = sweep(&docker, &own, |_| true).await;
                        }
                    })
                    .await;
                    std::process::exit(code);
                });
            });
        if spawned.is_ok() {
            let _ = ready_rx.recv_timeout(Duration::from_secs(5));
        }
    });
}

async fn remove_live(docker: Option<Docker>) {
    let live: Vec<Tracked> = LIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .collect();
    if live.is_empty() {
        return;
    }
    let docker = match docker {
        Some(d) => d,
        None => match engine::connect().await {
            Ok(d) => d,
            Err(e) => {
                eprintln!("goldenpath: cannot clean up: {e}");
                return;
            }
        },
    };
    // Networks first (a running container is disconnected by force), then containers.
    for t in &live {
        if let Some(net) = &t.network {
            if let Some(id) = &t.container {
                let _ = docker
                    .disconnect_network(
                        net,
                        NetworkDisconnectRequest {
                            container: id.clone(),
                            force: Some(true),
                        },
                    )
                    .await;
            }
            let _ = remove_network(&docker, net).await;
        }
    }
    for t in &live {
        if let Some(id) = &t.container {
            let _ = remove_container(&docker, id).await;
        }
    }
}

/// Force-removes a container with its anonymous volumes; a container already gone is fine.
pub(crate) async fn remove_container(docker: &Docker, id: &str) -> Result<()> {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => Ok(()),
        Err(testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }) => Ok(()),
        // 409: removal already in progress (e.g. testcontainers' own drop).
        Err(testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            ..
        }) => Ok(()),
        Err(e) => Err(ProvisionError::engine(format!("remove container {id}"))(e)),
    }
}

/// Removes a network; a network already gone is fine.
pub(crate) async fn remove_network(docker: &Docker, name: &str) -> Result<()> {
    match docker.remove_network(name).await {
        Ok(()) => Ok(()),
        Err(testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }) => Ok(()),
        Err(e) => Err(ProvisionError::engine(format!("remove network {name}"))(e)),
    }
}

/// What a sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Containers removed (with their volumes).
    pub containers: usize,
    /// Networks removed.
    pub networks: usize,
}

/// Counts of the resources carrying `goldenpath.run=<run_id>` (containers in any state).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunInventory {
    /// Containers with the label, running or not.
    pub containers: usize,
    /// Networks with the label.
    pub networks: usize,
}

/// Lists what is labelled with this run id.
pub async fn run_inventory(run_id: &str) -> Result<RunInventory> {
    let docker = engine::connect().await?;
    let filter = format!("{RUN_LABEL}={run_id}");
    Ok(RunInventory {
        containers: labelled_containers(&docker, &filter).await?.len(),
        networks: labelled_networks(&docker, &filter).await?.len(),
    })
}

/// Removes every container (with its volumes) and network labelled `goldenpath.run=<run_id>`.
pub async fn sweep_leftovers(run_id: &str) -> Result<SweepReport> {
    let docker = engine::connect().await?;
    let filter = format!("{RUN_LABEL}={run_id}");
    sweep(&docker, &filter, |_| true).await
}

/// Removes goldenpath resources whose creating process (labels `goldenpath.host` and
/// `goldenpath.pid`) ran on this machine and is no longer alive: what a crashed or killed run
/// left behind. Resources of live processes, and of other machines, are left alone.
pub async fn sweep_orphans() -> Result<SweepReport> {
    let docker = engine::connect().await?;
    let here = engine::host_name();
    sweep(&docker, RUN_LABEL, |labels| {
        match (labels.get(HOST_LABEL), labels.get(PID_LABEL)) {
            (Some(host), Some(pid)) if *host == here => {
                !pid.is_empty()
                    && pid.chars().all(|c| c.is_ascii_digit())
                    && !std::path::Path::new("/proc").join(pid).exists()
            }
            _ => false,
        }
    })
    .await
}

async fn sweep(
    docker: &Docker,
    filter: &str,
    select: impl Fn(&HashMap<String, String>) -> bool,
) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    for (id, labels) in labelled_containers(docker, filter).await? {
        if select(&labels) {
            remove_container(docker, &id).await?;
            report.containers += 1;
        }
    }
    for (name, labels) in labelled_networks(docker, filter).await? {
        if select(&labels) {
            remove_network(docker, &name).await?;
            report.networks += 1;
        }
    }
    if report != SweepReport::default() {
        info!(?report, filter, "removed leftovers");
    }
    Ok(report)
}

async fn labelled_containers(
    docker: &Docker,
    filter: &str,
) -> Result<Vec<(String, HashMap<String, String>)>> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_owned(),
            vec![filter.to_owned()],
        )])),
        ..Default::default()
    };
    let list = docker
        .list_containers(Some(options))
        .await
        .map_err(ProvisionError::engine("list containers"))?;
    Ok(list
        .into_iter()
        .filter_map(|c| Some((c.id?, c.labels.unwrap_or_default())))
        .collect())
}

async fn labelled_networks(
    docker: &Docker,
    filter: &str,
) -> Result<Vec<(String, HashMap<String, String>)>> {
    let options = ListNetworksOptions {
        filters: Some(HashMap::from([(
            "label".to_owned(),
            vec![filter.to_owned()],
        )])),
    };
    let list = docker
        .list_networks(Some(options))
        .await
        .map_err(ProvisionError::engine("list networks"))?;
    Ok(list
        .into_iter()
        .filter_map(|n| Some((n.name?, n.labels.unwrap_or_default())))
        .collect())
}
