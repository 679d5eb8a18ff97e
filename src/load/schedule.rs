//! When iterations start: the closed model (N users back to back, ramped up) and the
//! open model (arrivals at a fixed rate, handed to a pool of users), and the bounds
//! that end every run (duration, iteration count, hard caps).
//!
//! Pure arithmetic over `Duration`s: the engine asks it when user `i` starts, when
//! arrival `k` is due, and whether another iteration may start. Users and arrivals have
//! global indices; a shard ([`Shard`]) holds those congruent to its index, so N shards
//! together run the very schedule of one process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::config::{Profile, Rate};
use super::shard::Shard;

/// How iterations are started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// `users` virtual users, each running iterations back to back; user `i` starts
    /// at `ramp_up * i / users`.
    Closed { users: u64, ramp_up: Duration },
    /// Iterations arrive at `rate` whatever the system does; each is handed to a free
    /// user of a pool of `max_users`, or counted as dropped when none is free.
    Open { rate: Rate, max_users: u64 },
}

impl Model {
    pub fn name(&self) -> &'static str {
        match self {
            Model::Closed { .. } => "closed",
            Model::Open { .. } => "open",
        }
    }

    /// Virtual users the run may hold at once.
    pub fn users(&self) -> u64 {
        match *self {
            Model::Closed { users, .. } => users,
            Model::Open { max_users, .. } => max_users,
        }
    }
}

/// The resolved shape of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub model: Model,
    /// No iteration starts after this (measured from the start of the run).
    pub duration: Duration,
    /// No more than this many iterations start (open model: arrivals, dropped or not).
    pub iterations: Option<u64>,
    /// In-flight iterations may finish for this long after `duration`.
    pub graceful_stop: Duration,
    pub step_timeout: Duration,
    /// Closed model: the pause after a failed iteration (see [`Shape::failure_pause_after`]).
    pub failure_pause: Duration,
    /// Only on the shard that restarts the backend ([`Shard::restarts_the_backend`]).
    pub restart_at: Option<Duration>,
    pub workers: usize,
    /// Which part of the run this process holds ([`Shard::WHOLE`] unless split).
    pub shard: Shard,
}

/// Default hard cap on a run bounded only by `iterations`.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(3600);
pub const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(30);
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_FAILURE_PAUSE: Duration = Duration::from_millis(100);
/// The failure pause doubles up to this multiple of itself.
const FAILURE_PAUSE_MAX_FACTOR: u32 = 16;

impl Shape {
    /// Checks a (profile merged with command-line flags) and fills defaults, for the
    /// part of the run that `shard` holds.
    pub fn resolve(
        p: &Profile,
        available_parallelism: usize,
        shard: Shard,
    ) -> Result<Shape, String> {
        let model = match (p.rate, p.users, p.max_users) {
            (Some(rate), users, max_users) => {
                if p.ramp_up.is_some() {
                    return Err("ramp_up applies to the closed model (users), not to rate".into());
                }
                let max_users = max_users
                    .or(users)
                    .ok_or("the open model (rate) needs max_users: the pool of virtual users arrivals are handed to")?;
                Model::Open { rate, max_users }
            }
            (None, Some(users), None) => Model::Closed {
                users,
                ramp_up: p.ramp_up.unwrap_or_default(),
            },
            (None, _, Some(_)) => {
                return Err("max_users applies to the open model: give a rate too".into());
            }
            (None, None, None) => {
                return Err(
                    "no load model: give users (closed model) or rate and max_users (open model)"
                        .into(),
                );
            }
        };
        if model.users() == 0 {
            return Err("the number of users must be at least 1".into());
        }
        if p.iterations == Some(0) {
            return Err("iterations must be at least 1".into());
        }
        let duration = match (p.duration, p.iterations) {
            (Some(d), _) if d.is_zero() => return Err("duration must be above zero".into()),
            (Some(d), _) => d,
            (None, Some(_)) => p.max_duration.unwrap_or(DEFAULT_MAX_DURATION),
            (None, None) => return Err("a run needs a duration or a number of iterations".into()),
        };
        if let Some(r) = p.restart_at
            && r >= duration
        {
            return Err(format!(
                "restart_at ({}) must be before the end of the run ({})",
                humantime_serde::re::humantime::format_duration(r),
                humantime_serde::re::humantime::format_duration(duration)
            ));
        }
        let users_here = shard.share(model.users());
        if users_here == 0 {
            return Err(format!(
                "shard {shard} has no users: {} users cannot be split across {} shards",
                model.users(),
                shard.count
            ));
        }
        let users = usize::try_from(users_here).unwrap_or(usize::MAX);
        let workers = p
            .workers
            .unwrap_or(available_parallelism)
            .clamp(1, users.max(1));
        Ok(Shape {
            model,
            duration,
            iterations: p.iterations,
            graceful_stop: p.graceful_stop.unwrap_or(DEFAULT_GRACEFUL_STOP),
            step_timeout: p.step_timeout.unwrap_or(DEFAULT_STEP_TIMEOUT),
            failure_pause: p.failure_pause.unwrap_or(DEFAULT_FAILURE_PAUSE),
            restart_at: p.restart_at.filter(|_| shard.restarts_the_backend()),
            workers,
            shard,
        })
    }

    /// Closed model: how long a user waits after its `failures_in_a_row`-th failed
    /// iteration in a row (1 for the first): the pause, doubled each time, capped.
    pub fn failure_pause_after(&self, failures_in_a_row: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures_in_a_row.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(FAILURE_PAUSE_MAX_FACTOR);
        self.failure_pause * factor
    }

    /// Virtual users (global indices) that worker `w` of this shard holds: the shard's
    /// users dealt round robin to its workers.
    pub fn users_of_worker(&self, w: usize) -> impl Iterator<Item = u64> + use<> {
        let first = self.shard.index + self.shard.count * w as u64;
        let step = self.shard.count * self.workers as u64;
        (first..self.model.users()).step_by(usize::try_from(step).unwrap_or(usize::MAX))
    }

    /// Closed model: the iterations this shard may start (its share of `iterations`).
    /// The open model needs none: arrivals are numbered globally and stop at the limit.
    pub fn iteration_budget(&self) -> Option<u64> {
        self.iterations.map(|n| self.shard.share(n))
    }

    /// Open model: the global arrival numbers worker `w` of this shard schedules.
    pub fn arrivals_of_worker(
        &self,
        w: usize,
        rate: Rate,
    ) -> impl Iterator<Item = (u64, Duration)> + use<> {
        let first = self.shard.index + self.shard.count * w as u64;
        let step = self.shard.count * self.workers as u64;
        arrivals_from(first, step, rate, self.duration, self.iterations)
    }
}

/// Closed model: when user `index` of `users` starts, relative to the run start.
pub fn ramp_offset(index: u64, users: u64, ramp_up: Duration) -> Duration {
    if users == 0 {
        return Duration::ZERO;
    }
    let nanos = ramp_up.as_nanos() * u128::from(index) / u128::from(users);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Open model: when arrival `k` (0-based, global) is due, relative to the run start.
pub fn arrival_offset(k: u64, rate: Rate) -> Duration {
    let nanos = rate.per.as_nanos() * 1000 * u128::from(k) / u128::from(rate.milli_count.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Open model: the global arrival numbers `first`, `first + step`, ..., in order, that
/// fall before `duration` and below the iteration limit.
fn arrivals_from(
    first: u64,
    step: u64,
    rate: Rate,
    duration: Duration,
    iterations: Option<u64>,
) -> impl Iterator<Item = (u64, Duration)> {
    (first..)
        .step_by(usize::try_from(step.max(1)).unwrap_or(usize::MAX))
        .take_while(move |k| iterations.is_none_or(|n| *k < n))
        .map(move |k| (k, arrival_offset(k, rate)))
        .take_while(move |(_, at)| *at < duration)
}

/// Closed model: the shared count of iterations that may still start.
#[derive(Debug)]
pub struct IterationBudget {
    limit: Option<u64>,
    claimed: AtomicU64,
}

impl IterationBudget {
    pub fn new(limit: Option<u64>) -> IterationBudget {
        IterationBudget {
            limit,
            claimed: AtomicU64::new(0),
        }
    }

    /// Claims one iteration; false once the limit is reached.
    pub fn try_claim(&self) -> bool {
        match self.limit {
            None => true,
            Some(limit) => self
                .claimed
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                    (c < limit).then_some(c + 1)
                })
                .is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile::default()
    }

    #[test]
    fn the_failure_pause_doubles_up_to_sixteen_times() {
        let mut p = profile();
        p.users = Some(1);
        p.duration = Some(Duration::from_secs(1));
        let shape = Shape::resolve(&p, 2, Shard::WHOLE).unwrap();
        let ms = |n| shape.failure_pause_after(n).as_millis();
        assert_eq!(
            [ms(1), ms(2), ms(3), ms(5), ms(6), ms(40)],
            [100, 200, 400, 1600, 1600, 1600]
        );
        p.failure_pause = Some(Duration::ZERO);
        let shape = Shape::resolve(&p, 2, Shard::WHOLE).unwrap();
        assert_eq!(shape.failure_pause_after(7), Duration::ZERO);
    }

    #[test]
    fn closed_model_ramps_users_evenly() {
        let ramp = Duration::from_secs(10);
        assert_eq!(ramp_offset(0, 5, ramp), Duration::ZERO);
        assert_eq!(ramp_offset(1, 5, ramp), Duration::from_secs(2));
        assert_eq!(ramp_offset(4, 5, ramp), Duration::from_secs(8));
        assert_eq!(ramp_offset(3, 5, Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn open_model_arrivals_are_exact_and_split_across_workers() {
        let rate: Rate = "3/s".parse().unwrap();
        assert_eq!(arrival_offset(0, rate), Duration::ZERO);
        assert_eq!(arrival_offset(3, rate), Duration::from_secs(1));
        assert_eq!(
            arrival_offset(300, rate),
            Duration::from_secs(100),
            "no drift over many arrivals"
        );
        let d = Duration::from_secs(2);
        let open = |iterations| Profile {
            rate: Some(rate),
            max_users: Some(4),
            duration: Some(d),
            iterations,
            workers: Some(2),
            ..profile()
        };
        let shape = Shape::resolve(&open(None), 2, Shard::WHOLE).unwrap();
        let of = |shape: &Shape, w| -> Vec<u64> {
            shape.arrivals_of_worker(w, rate).map(|(k, _)| k).collect()
        };
        assert_eq!(of(&shape, 0), [0, 2, 4]);
        assert_eq!(of(&shape, 1), [1, 3, 5]);
        let capped = Shape::resolve(&open(Some(4)), 2, Shard::WHOLE).unwrap();
        assert_eq!(of(&capped, 1), [1, 3]);
    }

    #[test]
    fn resolves_models_and_rejects_incomplete_ones() {
        let closed = Shape::resolve(
            &Profile {
                users: Some(10),
                duration: Some(Duration::from_secs(5)),
                ..profile()
            },
            4,
            Shard::WHOLE,
        )
        .unwrap();
        assert_eq!(
            closed.model,
            Model::Closed {
                users: 10,
                ramp_up: Duration::ZERO
            }
        );
        assert_eq!(closed.workers, 4);
        assert_eq!(closed.graceful_stop, DEFAULT_GRACEFUL_STOP);

        let iterations_only = Shape::resolve(
            &Profile {
                users: Some(2),
                iterations: Some(7),
                ..profile()
            },
            4,
            Shard::WHOLE,
        )
        .unwrap();
        assert_eq!(
            iterations_only.duration, DEFAULT_MAX_DURATION,
            "a hard cap on time"
        );
        assert_eq!(iterations_only.workers, 2, "never more workers than users");

        let open = Shape::resolve(
            &Profile {
                rate: Some(Rate::per_second(20)),
                max_users: Some(50),
                duration: Some(Duration::from_secs(3)),
                ..profile()
            },
            2,
            Shard::WHOLE,
        )
        .unwrap();
        assert_eq!(
            open.model,
            Model::Open {
                rate: Rate::per_second(20),
                max_users: 50
            }
        );

        for (bad, why) in [
            (
                Profile {
                    duration: Some(Duration::from_secs(1)),
                    ..profile()
                },
                "no load model",
            ),
            (
                Profile {
                    users: Some(3),
                    ..profile()
                },
                "duration or a number of iterations",
            ),
            (
                Profile {
                    rate: Some(Rate::per_second(1)),
                    duration: Some(Duration::from_secs(1)),
                    ..profile()
                },
                "max_users",
            ),
            (
                Profile {
                    users: Some(0),
                    duration: Some(Duration::from_secs(1)),
                    ..profile()
                },
                "at least 1",
            ),
            (
                Profile {
                    users: Some(1),
                    duration: Some(Duration::from_secs(10)),
                    restart_at: Some(Duration::from_secs(10)),
                    ..profile()
                },
                "restart_at",
            ),
        ] {
            let e = Shape::resolve(&bad, 2, Shard::WHOLE).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn users_are_dealt_round_robin_to_workers() {
        let s = Shape::resolve(
            &Profile {
                users: Some(5),
                duration: Some(Duration::from_secs(1)),
                ..profile()
            },
            2,
            Shard::WHOLE,
        )
        .unwrap();
        assert_eq!(s.users_of_worker(0).collect::<Vec<_>>(), [0, 2, 4]);
        assert_eq!(s.users_of_worker(1).collect::<Vec<_>>(), [1, 3]);
    }

    #[test]
    fn budget_stops_at_the_limit() {
        let b = IterationBudget::new(Some(3));
        assert_eq!((0..5).filter(|_| b.try_claim()).count(), 3);
        let unlimited = IterationBudget::new(None);
        assert!((0..100).all(|_| unlimited.try_claim()));
    }

    fn split(p: &Profile, workers: usize, count: u64) -> Vec<Shape> {
        (0..count)
            .map(|i| Shape::resolve(p, workers, Shard::new(i, count).unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn shards_together_hold_every_user_once_with_the_ramp_of_one_process() {
        let p = Profile {
            users: Some(10),
            ramp_up: Some(Duration::from_secs(10)),
            duration: Some(Duration::from_secs(20)),
            iterations: Some(7),
            ..profile()
        };
        let whole = Shape::resolve(&p, 2, Shard::WHOLE).unwrap();
        let mut alone: Vec<u64> = (0..whole.workers)
            .flat_map(|w| whole.users_of_worker(w))
            .collect();
        alone.sort_unstable();
        for count in [2u64, 3, 4] {
            let shards = split(&p, 2, count);
            let mut together: Vec<u64> = shards
                .iter()
                .flat_map(|s| (0..s.workers).flat_map(|w| s.users_of_worker(w)))
                .collect();
            together.sort_unstable();
            assert_eq!(
                together, alone,
                "{count} shards hold every user exactly once"
            );
            assert_eq!(
                shards
                    .iter()
                    .map(|s| s.iteration_budget().unwrap())
                    .sum::<u64>(),
                7,
                "iterations add up over {count} shards"
            );
            assert_eq!(split(&p, 2, count), shards, "the same split every time");
        }
        let [a, b] = <[Shape; 2]>::try_from(split(&p, 2, 2)).unwrap();
        assert_eq!(a.users_of_worker(0).collect::<Vec<_>>(), [0, 4, 8]);
        assert_eq!(b.users_of_worker(1).collect::<Vec<_>>(), [3, 7]);
        assert_eq!(
            ramp_offset(7, 10, Duration::from_secs(10)),
            Duration::from_secs(7),
            "a user's start comes from its global index"
        );
    }

    #[test]
    fn shards_split_arrivals_and_only_shard_zero_restarts() {
        let rate: Rate = "10/s".parse().unwrap();
        let p = Profile {
            rate: Some(rate),
            max_users: Some(5),
            duration: Some(Duration::from_secs(2)),
            iterations: Some(13),
            restart_at: Some(Duration::from_secs(1)),
            ..profile()
        };
        let whole = Shape::resolve(&p, 2, Shard::WHOLE).unwrap();
        let arrivals = |s: &Shape| -> Vec<(u64, Duration)> {
            (0..s.workers)
                .flat_map(|w| s.arrivals_of_worker(w, rate))
                .collect()
        };
        let mut alone = arrivals(&whole);
        alone.sort_unstable();
        assert_eq!(alone.len(), 13);
        let shards = split(&p, 2, 3);
        let mut together: Vec<_> = shards.iter().flat_map(arrivals).collect();
        together.sort_unstable();
        assert_eq!(together, alone, "same arrivals at the same offsets");
        let pools: Vec<usize> = shards
            .iter()
            .map(|s| (0..s.workers).flat_map(|w| s.users_of_worker(w)).count())
            .collect();
        assert_eq!(pools, [2, 2, 1], "max_users split, remainder to the lowest");
        assert_eq!(
            shards
                .iter()
                .map(|s| s.restart_at.is_some())
                .collect::<Vec<_>>(),
            [true, false, false]
        );
        let e = Shape::resolve(&p, 2, Shard::new(5, 6).unwrap()).unwrap_err();
        assert!(e.contains("has no users"), "{e}");
    }
}
