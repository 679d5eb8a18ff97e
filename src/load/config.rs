//! `[load]` in `goldenpath.toml`: named profiles and thresholds.
//!
//! ```toml
//! [load.profiles.smoke]            # built in; redefine to change it
//! users = 5
//! duration = "10s"
//!
//! [load.profiles.spike]
//! rate = "50/s"                    # open model: arrivals per second
//! max_users = 200
//! duration = "2m"
//!
//! [[load.thresholds]]
//! rule = "p95 < 300ms"             # global: whole scenario
//!
//! [[load.thresholds]]
//! step = "\"Alice\" receives the five agent events in order"
//! rule = "p95 < 300ms"
//! ```
//!
//! Built-in profiles (`smoke`, `nightly`) are always available; a profile of the same
//! name in the file replaces the built-in one.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::thresholds::Rule;

/// The load section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadConfig {
    /// The profile used when `--profile` is not given and no model flag is either.
    pub default_profile: String,
    /// Named profiles; the built-in ones are merged under the file's.
    #[serde(deserialize_with = "profiles_with_builtins")]
    pub profiles: BTreeMap<String, Profile>,
    /// Rules evaluated at the end of every load run.
    pub thresholds: Vec<Threshold>,
    /// Send the run's figures to Prometheus while it runs (`[load.prometheus]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<super::remote_write::PrometheusConfig>,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            default_profile: "smoke".to_owned(),
            profiles: builtin_profiles(),
            thresholds: Vec::new(),
            prometheus: None,
        }
    }
}

impl LoadConfig {
    /// The named profile, or an error that lists the known ones.
    pub fn profile(&self, name: &str) -> Result<&Profile, String> {
        self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            format!(
                "unknown load profile {name:?}; known profiles: {}",
                known.join(", ")
            )
        })
    }
}

/// The built-in `smoke` and `nightly` profiles.
pub fn builtin_profiles() -> BTreeMap<String, Profile> {
    BTreeMap::from([
        (
            "smoke".to_owned(),
            Profile {
                users: Some(5),
                duration: Some(Duration::from_secs(10)),
                ..Profile::default()
            },
        ),
        (
            "nightly".to_owned(),
            Profile {
                users: Some(1000),
                ramp_up: Some(Duration::from_secs(60)),
                duration: Some(Duration::from_secs(600)),
                restart_at: Some(Duration::from_secs(300)),
                ..Profile::default()
            },
        ),
    ])
}

fn profiles_with_builtins<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Profile>, D::Error> {
    let mut all = builtin_profiles();
    all.extend(BTreeMap::<String, Profile>::deserialize(d)?);
    Ok(all)
}

/// One named way to load the stack. Every field is optional: command-line flags fill
/// or override them, and the load schedule (`Shape::resolve`) checks the combination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Closed model: concurrent virtual users, each running iterations back to back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    /// Closed model: users start evenly spread over this time (part of `duration`).
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub ramp_up: Option<Duration>,
    /// How long iterations are started for.
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    /// Total iterations to run (across all users), instead of or besides `duration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,
    /// Open model: iterations started per second (`"50/s"`, `"300/m"`, `"12.5"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// Open model: the pool of virtual users iterations are handed to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_users: Option<u64>,
    /// Restart the backend this long after the start of the run.
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub restart_at: Option<Duration>,
    /// Worker threads (default: available parallelism).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// Tag expression selecting scenarios (default `@load`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    /// Feature files or directories (default `features/`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<PathBuf>,
    /// A step that takes longer fails with a timeout (default 60s).
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub step_timeout: Option<Duration>,
    /// After `duration`, in-flight iterations may finish for this long (default 30s).
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub graceful_stop: Option<Duration>,
    /// Closed model: after a failed iteration a user waits this long before its next
    /// one, doubling with each further failure in a row up to 16 times (default
    /// 100ms; `0s` retries at once). Keeps users from hammering a stack that is down.
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub failure_pause: Option<Duration>,
    /// Hard cap on the run's time when only `iterations` bounds it (default 1h).
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<Duration>,
}

/// A `[[load.thresholds]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// A step's text (with or without its keyword); absent: the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The rule, e.g. `p95 < 300ms` or `error_rate < 1%`.
    pub rule: Rule,
}

impl Threshold {
    /// A rule for the whole run (no `step`), parsed from its text, e.g. `p95 < 300ms`.
    pub fn global(rule: &str) -> Result<Threshold, super::thresholds::RuleError> {
        Ok(Threshold {
            step: None,
            rule: rule.parse()?,
        })
    }
}

/// An arrival rate, kept exact as `count` per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Thousandths of an arrival (`12.5/s` is 12500 per second).
    pub milli_count: u64,
    /// The time `milli_count` arrivals are spread over.
    pub per: Duration,
}

impl Rate {
    /// `n` arrivals per second.
    pub fn per_second(n: u64) -> Rate {
        Rate {
            milli_count: n * 1000,
            per: Duration::from_secs(1),
        }
    }

    /// Arrivals per second, as a float.
    pub fn as_per_second(&self) -> f64 {
        self.milli_count as f64 / 1000.0 / self.per.as_secs_f64()
    }

    /// Time between two arrivals.
    pub fn interval(&self) -> Duration {
        if self.milli_count == 0 {
            return Duration::MAX;
        }
        let nanos = self.per.as_nanos() * 1000 / u128::from(self.milli_count);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Rate, String> {
        let bad = || {
            format!(
                "invalid rate {s:?}: expected e.g. \"50/s\", \"300/m\", \"2/100ms\" or \"12.5\""
            )
        };
        let (n, per) = match s.trim().split_once('/') {
            Some((n, unit)) => {
                let unit = unit.trim();
                let per = match unit {
                    "s" | "sec" => Duration::from_secs(1),
                    "m" | "min" => Duration::from_secs(60),
                    "h" => Duration::from_secs(3600),
                    other => {
                        humantime_serde::re::humantime::parse_duration(other).map_err(|_| bad())?
                    }
                };
                (n.trim(), per)
            }
            None => (s.trim(), Duration::from_secs(1)),
        };
        let (int, frac) = n.split_once('.').unwrap_or((n, ""));
        if int.is_empty()
            || frac.len() > 3
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let milli = int.parse::<u64>().map_err(|_| bad())? * 1000
            + if frac.is_empty() {
                0
            } else {
                frac.parse::<u64>().map_err(|_| bad())? * 10u64.pow(3 - frac.len() as u32)
            };
        if milli == 0 || per.is_zero() {
            return Err(format!("invalid rate {s:?}: must be above zero"));
        }
        Ok(Rate {
            milli_count: milli,
            per,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = if self.milli_count.is_multiple_of(1000) {
            (self.milli_count / 1000).to_string()
        } else {
            format!("{}", self.milli_count as f64 / 1000.0)
        };
        match self.per.as_secs() {
            1 if self.per.subsec_nanos() == 0 => write!(f, "{n}/s"),
            60 if self.per.subsec_nanos() == 0 => write!(f, "{n}/m"),
            3600 if self.per.subsec_nanos() == 0 => write!(f, "{n}/h"),
            _ => write!(
                f,
                "{n}/{}",
                humantime_serde::re::humantime::format_duration(self.per)
            ),
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Float(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Rate::per_second(n)),
            Raw::Float(x) => format!("{x}").parse().map_err(serde::de::Error::custom),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(&humantime_serde::re::humantime::format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = String::deserialize(d)?;
        humantime_serde::re::humantime::parse_duration(s.trim())
            .map(Some)
            .map_err(|_| {
                serde::de::Error::invalid_value(
                    serde::de::Unexpected::Str(&s),
                    &"a duration such as \"30s\", \"500ms\" or \"10m\"",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Root {
        load: LoadConfig,
    }

    fn parse(toml_text: &str) -> Result<LoadConfig, toml::de::Error> {
        toml::from_str::<Root>(toml_text).map(|r| r.load)
    }

    #[test]
    fn defaults_have_smoke_and_nightly() {
        let c = LoadConfig::default();
        let smoke = c.profile("smoke").unwrap();
        assert_eq!(
            (smoke.users, smoke.duration),
            (Some(5), Some(Duration::from_secs(10)))
        );
        let nightly = c.profile("nightly").unwrap();
        assert_eq!(nightly.users, Some(1000));
        assert_eq!(nightly.duration, Some(Duration::from_secs(600)));
        assert_eq!(nightly.restart_at, Some(Duration::from_secs(300)));
        assert!(c.profile("nope").unwrap_err().contains("nightly, smoke"));
    }

    #[test]
    fn parses_profiles_and_thresholds_keeping_builtins() {
        let c = parse(
            r#"
            [load.profiles.spike]
            rate = "50/s"
            max_users = 200
            duration = "2m"
            restart_at = "30s"
            tags = "@load and not @slow"

            [load.profiles.smoke]
            users = 2
            iterations = 10

            [[load.thresholds]]
            rule = "p95 < 300ms"

            [[load.thresholds]]
            step = "the health endpoint is asked"
            rule = "error_rate < 0.1%"
            "#,
        )
        .unwrap();
        let spike = c.profile("spike").unwrap();
        assert_eq!(spike.rate, Some(Rate::per_second(50)));
        assert_eq!(spike.max_users, Some(200));
        assert_eq!(spike.restart_at, Some(Duration::from_secs(30)));
        assert_eq!(c.profile("smoke").unwrap().iterations, Some(10));
        assert_eq!(
            c.profile("smoke").unwrap().duration,
            None,
            "a file profile replaces the built-in one"
        );
        assert!(c.profile("nightly").is_ok());
        assert_eq!(c.thresholds.len(), 2);
        assert_eq!(
            c.thresholds[1].step.as_deref(),
            Some("the health endpoint is asked")
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(parse("[load.profiles.x]\nuserz = 3").is_err());
        assert!(parse("[load]\nprofile = 3").is_err());
        assert!(parse("[[load.thresholds]]\nrule = \"p95 < fast\"").is_err());
        assert!(parse("[load.profiles.x]\nduration = \"soon\"").is_err());
        assert!(parse("[load.profiles.x]\nrate = \"0/s\"").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!("50/s".parse::<Rate>().unwrap().as_per_second(), 50.0);
        assert_eq!("300/m".parse::<Rate>().unwrap().as_per_second(), 5.0);
        assert_eq!(
            "12.5".parse::<Rate>().unwrap().interval(),
            Duration::from_millis(80)
        );
        assert_eq!("2/100ms".parse::<Rate>().unwrap().as_per_second(), 20.0);
        assert_eq!("12.5/s".parse::<Rate>().unwrap().to_string(), "12.5/s");
        assert!("fast".parse::<Rate>().is_err());
    }

    #[test]
    fn serializes_back_to_the_same_config() {
        let c = LoadConfig::default();
        let text = toml::to_string(&c).unwrap();
        let back: LoadConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
    }
}
