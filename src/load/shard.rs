//! Shards: one load run split across N processes (pods of a Kubernetes Indexed Job, or
//! plain processes), which together do exactly what one process would.
//!
//! Shard `I` of `N` holds every global index `g` with `g % N == I`: the closed model's
//! users (and so their ramp-up offsets, computed from the global index and the global
//! user count), the open model's arrivals and its pool of users, and an equal share of
//! `iterations` (remainders to the lowest indices). The split is arithmetic, the same
//! every time, and needs no coordinator: the shards share only a run id and a start
//! instant, and `goldenpath merge` adds their HdrHistogram logs afterwards.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The shard index as a Kubernetes Indexed Job gives it to each pod.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// The shard count, when the index comes from [`INDEX_ENV`].
pub const SHARDS_ENV: &str = "GOLDENPATH_SHARDS";
/// The run id every shard of one run shares.
pub const RUN_ID_ENV: &str = "GOLDENPATH_RUN_ID";
/// The instant (RFC 3339) at which every shard starts its schedule.
pub const START_AT_ENV: &str = "GOLDENPATH_START_AT";

/// Shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Shard {
    /// 0-based.
    pub index: u64,
    /// At least 1.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl Shard {
    /// The whole run in one process.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`, checked.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range for {count} shards (0 to {})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether the run is split at all.
    pub fn is_split(&self) -> bool {
        self.count > 1
    }

    /// How many of `total` things dealt round robin (by global index) this shard holds.
    pub fn share(&self, total: u64) -> u64 {
        total / self.count + u64::from(self.index < total % self.count)
    }

    /// The shard that restarts the backend when the profile has `restart_at`; the
    /// others see the restart as an outage.
    pub fn restarts_the_backend(&self) -> bool {
        self.index == 0
    }

    /// The shard from `--shard I/N`, else from the environment of a Kubernetes Indexed
    /// Job ([`INDEX_ENV`]) with the count from `--shards` or [`SHARDS_ENV`]; `WHOLE`
    /// when neither is given.
    pub fn from_flags_or_env(
        shard: Option<Shard>,
        shards: Option<u64>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Shard, String> {
        if let Some(s) = shard {
            return Ok(s);
        }
        let count = match shards {
            Some(n) => Some(n),
            None => env(SHARDS_ENV)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("{SHARDS_ENV}={v:?} is not a shard count"))
                })
                .transpose()?,
        };
        let index = env(INDEX_ENV)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("{INDEX_ENV}={v:?} is not a shard index"))
            })
            .transpose()?;
        match (index, count) {
            (Some(i), Some(n)) => Shard::new(i, n),
            (None, Some(n)) if n > 1 => Err(format!(
                "{n} shards but no shard index: give --shard I/{n}, or run as a Kubernetes Indexed Job ({INDEX_ENV})"
            )),
            (Some(i), None) => Err(format!(
                "{INDEX_ENV}={i} is set but not the shard count: give --shards N or {SHARDS_ENV}"
            )),
            _ => Ok(Shard::WHOLE),
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `I/N`, e.g. `0/4`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a shard: write INDEX/COUNT, e.g. 0/4"))?;
        let parse = |v: &str, what: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("{s:?}: {what} {v:?} is not a number"))
        };
        Shard::new(parse(i, "index")?, parse(n, "count")?)
    }
}

/// The start instant a run id names: a run id that begins with a UTC stamp
/// `YYYYMMDDTHHMMSSZ` (as goldenpath's own run ids do, e.g. `20261204T020000Z-nightly`)
/// starts at that instant, so that a job giving every shard the same run id needs
/// nothing else to line the shards up.
pub fn start_named_by(run_id: &str) -> Option<DateTime<Utc>> {
    let stamp = run_id.get(..16)?;
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// Parses `--start-at`: RFC 3339, e.g. `2026-12-04T02:00:00Z`.
pub fn parse_start_at(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("--start-at {s:?} is not an RFC 3339 instant ({e}), e.g. 2026-12-04T02:00:00Z")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_remainders_go_to_the_lowest_indices() {
        for total in [0u64, 1, 3, 4, 10, 1001] {
            for count in 1..=5u64 {
                let shares: Vec<u64> = (0..count)
                    .map(|i| Shard::new(i, count).unwrap().share(total))
                    .collect();
                assert_eq!(shares.iter().sum::<u64>(), total, "{total} over {count}");
                assert!(shares.windows(2).all(|w| w[0] >= w[1] && w[0] - w[1] <= 1));
            }
        }
        assert_eq!(Shard::new(0, 4).unwrap().share(10), 3);
        assert_eq!(Shard::new(3, 4).unwrap().share(10), 2);
    }

    #[test]
    fn parses_and_rejects_shards() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        for (bad, why) in [
            ("4/4", "out of range"),
            ("1/0", "at least 1"),
            ("x/2", "not a number"),
            ("3", "INDEX/COUNT"),
        ] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn an_indexed_job_gives_the_index_and_the_count_comes_from_flag_or_env() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let job = env(&[(INDEX_ENV, "2"), (SHARDS_ENV, "3")]);
        assert_eq!(
            Shard::from_flags_or_env(None, None, job).unwrap(),
            Shard { index: 2, count: 3 }
        );
        assert_eq!(
            Shard::from_flags_or_env(None, Some(5), job).unwrap(),
            Shard { index: 2, count: 5 },
            "--shards wins over the environment"
        );
        let flag = "1/2".parse().unwrap();
        assert_eq!(
            Shard::from_flags_or_env(Some(flag), None, job).unwrap(),
            flag
        );
        assert_eq!(
            Shard::from_flags_or_env(None, None, env(&[])).unwrap(),
            Shard::WHOLE
        );
        let e = Shard::from_flags_or_env(None, None, env(&[(INDEX_ENV, "1")])).unwrap_err();
        assert!(e.contains("shard count"), "{e}");
        let e = Shard::from_flags_or_env(None, Some(4), env(&[])).unwrap_err();
        assert!(e.contains("no shard index"), "{e}");
        let e = Shard::from_flags_or_env(None, None, env(&[(INDEX_ENV, "7"), (SHARDS_ENV, "4")]))
            .unwrap_err();
        assert!(e.contains("out of range"), "{e}");
    }

    #[test]
    fn a_run_id_with_a_stamp_names_the_start() {
        assert_eq!(
            start_named_by("20261204T020000Z-nightly")
                .unwrap()
                .to_rfc3339(),
            "2026-12-04T02:00:00+00:00"
        );
        assert_eq!(start_named_by("nightly"), None);
        assert_eq!(start_named_by("20261304T020000Z"), None, "no 13th month");
        assert!(parse_start_at("2026-12-04T03:00:00+01:00").is_ok());
        assert!(parse_start_at("tomorrow").unwrap_err().contains("RFC 3339"));
    }
}
