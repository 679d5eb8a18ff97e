//! Restarting the backend under load, and measuring what it cost: the downtime, each
//! user's reconnect time, and the requests that failed meanwhile.
//!
//! The engine only measures. Restarting (the admin endpoint, the container engine,
//! looking up the new port) is the provisioning code's, behind [`RestartTarget`]; the
//! virtual users learn the new base URL through their own context.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

/// Something that can restart the target and tell when it is back.
pub trait RestartTarget: Send + Sync {
    /// Restarts the backend and resolves once it is healthy again with a new boot id
    /// (or fails: never came back within its timeout). Virtual users must see the new
    /// base URL by the time this resolves.
    fn restart(&self) -> BoxFuture<'_, anyhow::Result<RestartReport>>;
}

/// What [`RestartTarget::restart`] observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartReport {
    /// When `/health` first answered healthy with the new boot id.
    pub healthy_at: Instant,
    /// `boot_id` of `/health` before the restart; None when the target does not report it.
    pub old_boot_id: Option<String>,
    /// `boot_id` of `/health` once the stack was back; None when the target does not report it.
    pub new_boot_id: Option<String>,
    /// The base URL after the restart (ports can change).
    pub base_url: Option<String>,
}

/// The restart's instants, shared by the collector (which sets them) and the workers
/// (which read them to measure reconnects and failures in the window).
#[derive(Debug, Default)]
pub struct RestartClock {
    requested: OnceLock<Instant>,
    back: OnceLock<Instant>,
}

impl RestartClock {
    pub fn mark_requested(&self, at: Instant) {
        let _ = self.requested.set(at);
    }

    pub fn mark_back(&self, at: Instant) {
        let _ = self.back.set(at);
    }

    pub fn requested(&self) -> Option<Instant> {
        self.requested.get().copied()
    }

    pub fn back(&self) -> Option<Instant> {
        self.back.get().copied()
    }
}

/// Upper bound on failure instants a worker keeps after a restart request.
const MAX_FAILURES_KEPT: usize = 1_000_000;

/// One user's view of the restart.
#[derive(Debug, Default, Clone, Copy)]
pub struct UserRestart {
    /// The user had completed an iteration before the restart (so it had a session
    /// and a socket to lose).
    was_active: bool,
    /// Measured already.
    reconnected: bool,
}

impl UserRestart {
    /// Called after each iteration: remembers whether the user was active before the
    /// restart request.
    pub fn iteration_done(&mut self, clock: &RestartClock) {
        if clock.requested().is_none() {
            self.was_active = true;
        }
    }

    /// The reconnect time of this user, once: from the restart request until its socket
    /// is open again (`connected_at`, when the World reports it) or, without that, until
    /// the end of its first successful iteration that started after the backend was back.
    pub fn reconnect_time(
        &mut self,
        clock: &RestartClock,
        connected_at: Option<Instant>,
        iteration: Option<(Instant, Instant)>,
    ) -> Option<Duration> {
        if !self.was_active || self.reconnected {
            return None;
        }
        let requested = clock.requested()?;
        let back = clock.back()?;
        let at = match connected_at {
            Some(t) if t > requested => t,
            Some(_) => return None,
            None => match iteration {
                Some((began, ended)) if began >= back => ended,
                _ => return None,
            },
        };
        self.reconnected = true;
        Some(at - requested)
    }

    pub fn was_active(&self) -> bool {
        self.was_active
    }
}

/// A worker's record of the restart: failures after the request, reconnects.
#[derive(Debug, Default)]
pub struct RestartTally {
    pub failures: Vec<Instant>,
    pub active_users: u64,
    pub reconnected_users: u64,
    pub last_reconnect: Option<Instant>,
}

impl RestartTally {
    pub fn failure(&mut self, clock: &RestartClock, at: Instant) {
        if clock.requested().is_some_and(|r| at >= r) && self.failures.len() < MAX_FAILURES_KEPT {
            self.failures.push(at);
        }
    }

    pub fn reconnected(&mut self, at: Instant) {
        self.reconnected_users += 1;
        self.last_reconnect = Some(self.last_reconnect.map_or(at, |l| l.max(at)));
    }

    pub fn merge(&mut self, other: RestartTally) {
        self.failures.extend(other.failures);
        self.active_users += other.active_users;
        self.reconnected_users += other.reconnected_users;
        self.last_reconnect = match (self.last_reconnect, other.last_reconnect) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// Failures from the request until `window_end`.
    pub fn failed_in(&self, requested: Instant, window_end: Instant) -> u64 {
        self.failures
            .iter()
            .filter(|t| **t >= requested && **t <= window_end)
            .count() as u64
    }
}

/// An administrator's `/admin/restart`, then the wait for a new boot (which also
/// publishes the new base URL to every virtual user).
impl RestartTarget for crate::session::AdminRestart {
    fn restart(&self) -> futures_util::future::BoxFuture<'_, anyhow::Result<RestartReport>> {
        Box::pin(async move {
            let client = self.client.with_base_url(&self.target.base_url())?;
            let old = client.health().await?.boot_id;
            let admin = client.login_admin().await?;
            client.restart(Some(&admin)).await?;
            let url = self
                .target
                .wait_for_new_boot(&client, &old, self.timeout)
                .await?;
            let healthy_at = std::time::Instant::now();
            let new = client.with_base_url(&url)?.health().await?.boot_id;
            Ok(RestartReport {
                healthy_at,
                old_boot_id: Some(old),
                new_boot_id: Some(new),
                base_url: Some(url),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_is_measured_once_from_the_request() {
        let clock = RestartClock::default();
        let t0 = Instant::now();
        let mut u = UserRestart::default();
        u.iteration_done(&clock);
        assert!(u.was_active());
        assert_eq!(
            u.reconnect_time(&clock, Some(t0), None),
            None,
            "no restart yet"
        );
        clock.mark_requested(t0);
        clock.mark_back(t0 + Duration::from_millis(800));
        assert_eq!(
            u.reconnect_time(&clock, Some(t0 - Duration::from_millis(1)), None),
            None,
            "old socket"
        );
        let d = u.reconnect_time(&clock, Some(t0 + Duration::from_millis(900)), None);
        assert_eq!(d, Some(Duration::from_millis(900)));
        assert_eq!(
            u.reconnect_time(&clock, Some(t0 + Duration::from_secs(2)), None),
            None,
            "only once"
        );
    }

    #[test]
    fn without_a_socket_hook_the_first_good_iteration_after_comeback_counts() {
        let clock = RestartClock::default();
        let t0 = Instant::now();
        let mut u = UserRestart::default();
        u.iteration_done(&clock);
        clock.mark_requested(t0);
        clock.mark_back(t0 + Duration::from_secs(1));
        let early = (
            t0 + Duration::from_millis(500),
            t0 + Duration::from_millis(1500),
        );
        assert_eq!(
            u.reconnect_time(&clock, None, Some(early)),
            None,
            "started before the comeback"
        );
        let later = (
            t0 + Duration::from_secs(1),
            t0 + Duration::from_millis(1200),
        );
        assert_eq!(
            u.reconnect_time(&clock, None, Some(later)),
            Some(Duration::from_millis(1200))
        );
    }

    #[test]
    fn users_that_started_after_the_restart_are_not_measured() {
        let clock = RestartClock::default();
        let t0 = Instant::now();
        clock.mark_requested(t0);
        clock.mark_back(t0);
        let mut u = UserRestart::default();
        u.iteration_done(&clock);
        assert_eq!(
            u.reconnect_time(&clock, Some(t0 + Duration::from_secs(1)), None),
            None
        );
    }

    #[test]
    fn failures_are_counted_in_the_window() {
        let clock = RestartClock::default();
        let t0 = Instant::now();
        let mut tally = RestartTally::default();
        tally.failure(&clock, t0);
        assert!(tally.failures.is_empty(), "before the request");
        clock.mark_requested(t0);
        for ms in [0, 100, 900, 5000] {
            tally.failure(&clock, t0 + Duration::from_millis(ms));
        }
        assert_eq!(tally.failed_in(t0, t0 + Duration::from_secs(1)), 3);
    }
}
