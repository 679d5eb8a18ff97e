//! Scenarios that share one stack: which of them run alone, and whether the stack is
//! still there after each.
//!
//! - **Alone.** Against a stack goldenpath did not start there is one stack for every
//!   scenario, so a scenario that restarts it or counts its connections (tagged
//!   `@restart` or `@own-stack`) must not run beside another. Every scenario on the
//!   shared stack holds a read lock from its `before` hook to its `after` hook; such a
//!   scenario holds the write lock. (cucumber's own `@serial` does not wait for the
//!   concurrent scenarios already running, so it is not enough.) Against stacks
//!   goldenpath starts, those scenarios get a stack of their own and run concurrently.
//! - **One fault, one story.** After each scenario on the shared stack, still holding
//!   its lock, its health is asked. If the boot id changed or the stack stopped
//!   answering, the run waits for it to come back (`timeouts.restart_comeback`) before
//!   the next scenario starts, and says so in the report's notes; if it never comes
//!   back, every later scenario fails at once with "the stack did not come back after
//!   &lt;scenario&gt;" instead of each failing its own way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use crate::session::RunContext;

/// Where a scenario is: its feature's path (or name) and its line (the example row's
/// line for an outline), as the recorder keys it.
pub(crate) type ScenarioKey = (String, usize);

enum Held {
    Beside(#[expect(dead_code, reason = "held until the scenario ends")] OwnedRwLockReadGuard<()>),
    Alone(#[expect(dead_code, reason = "held until the scenario ends")] OwnedRwLockWriteGuard<()>),
}

/// The run's view of its shared stack. One per run, shared by the hooks.
pub(crate) struct SharedStack {
    ctx: Arc<RunContext>,
    lock: Arc<RwLock<()>>,
    held: Mutex<HashMap<ScenarioKey, Held>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The boot id last seen; `None` until the stack first answered.
    boot_id: Option<String>,
    /// The scenario after which the stack did not come back.
    gone_after: Option<String>,
    /// What the report says about the stack's comings and goings.
    notes: Vec<String>,
}

impl SharedStack {
    /// Remember the shared stack's boot id as the run starts.
    pub(crate) async fn new(ctx: Arc<RunContext>) -> Self {
        let boot_id = ctx.client.health().await.ok().map(|h| h.boot_id);
        SharedStack {
            ctx,
            lock: Arc::new(RwLock::new(())),
            held: Mutex::new(HashMap::new()),
            state: Mutex::new(State {
                boot_id,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Before a scenario on the shared stack: wait for its turn (alone, or beside the
    /// others). `Err` with the reason when the stack is gone and the scenario must not
    /// run.
    pub(crate) async fn enter(&self, key: ScenarioKey, alone: bool) -> Result<(), String> {
        let held = if alone {
            Held::Alone(self.lock.clone().write_owned().await)
        } else {
            Held::Beside(self.lock.clone().read_owned().await)
        };
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, held);
        match &self.state().gone_after {
            Some(scenario) => Err(format!(
                "the stack did not come back after the scenario {scenario:?}: \
                 this scenario was not run against it"
            )),
            None => Ok(()),
        }
    }

    /// After a scenario on the shared stack: check that the stack is still there (and
    /// wait for it to come back if not), then let the next scenarios in.
    /// `restarted_to`: the boot id the scenario itself restarted the stack to and saw
    /// come back, if it did (that restart is no news).
    pub(crate) async fn leave(
        &self,
        key: &ScenarioKey,
        scenario: &str,
        restarted_to: Option<&str>,
    ) {
        if self.state().gone_after.is_none() {
            self.check_after(scenario, restarted_to).await;
        }
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    async fn check_after(&self, scenario: &str, restarted_to: Option<&str>) {
        let target = &self.ctx.shared;
        let before = self.state().boot_id.clone();
        let client = match self.ctx.client.with_base_url(&target.base_url()) {
            Ok(c) => c,
            Err(_) => return,
        };
        match client.health().await {
            Ok(health) if before.as_deref() == Some(health.boot_id.as_str()) => {}
            Ok(health) => {
                let mut state = self.state();
                if restarted_to != Some(health.boot_id.as_str())
                    && let Some(old) = &before
                {
                    state.notes.push(format!(
                        "the stack restarted during the scenario {scenario:?} (boot id {old} → {}) \
                         without the scenario restarting it and seeing it back",
                        health.boot_id
                    ));
                }
                state.boot_id = Some(health.boot_id);
            }
            Err(first) => {
                let timeout = self.ctx.contract.timeouts.restart_comeback;
                let old = before.unwrap_or_default();
                let started = std::time::Instant::now();
                match target.wait_for_new_boot(&client, &old, timeout).await {
                    Ok(url) => {
                        let boot_id = match client.with_base_url(&url) {
                            Ok(c) => c.health().await.ok().map(|h| h.boot_id),
                            Err(_) => None,
                        };
                        let mut state = self.state();
                        state.notes.push(format!(
                            "the stack stopped answering after the scenario {scenario:?} ({first}); \
                             it came back after {:.1} s and the run went on",
                            started.elapsed().as_secs_f64()
                        ));
                        state.boot_id = boot_id;
                    }
                    Err(e) => {
                        // The same boot id answering again (a slow moment, not a restart)
                        // is the stack being there.
                        if let Ok(health) = client.health().await
                            && health.boot_id == old
                        {
                            return;
                        }
                        let mut state = self.state();
                        state.notes.push(format!(
                            "the stack did not come back after the scenario {scenario:?}: {e}; \
                             every later scenario fails with that reason (a restart ends the \
                             stack's process: something must start it again, as a container's \
                             restart policy does)"
                        ));
                        state.gone_after = Some(scenario.to_owned());
                    }
                }
            }
        }
    }

    /// What the report says about the stack: restarts nobody asked for, outages, and
    /// whether it came back.
    pub(crate) fn notes(&self) -> Vec<String> {
        self.state().notes.clone()
    }
}
